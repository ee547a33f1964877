"""Typed exceptions for uiscsid's JSON-RPC errors (API.md, "Errors").

Every error the daemon returns becomes an instance of a subclass of
`UiscsiError` chosen by its code (or, for a code this module does not know,
by `error.data.name`); anything else is a plain `UiscsiError`. Each carries
`code`, `message` and `data` (a dict, possibly empty); the keys of `data` can
also be read as attributes (`e.sense_key`, `e.limit`, ...), giving None when
absent.

Errors raised by the client itself (no reply in time, a broken reply, a
closed client) are `ClientTimeout` (a `Timeout`) and `ClientError`; their
code is None.
"""

__all__ = [
    "UiscsiError", "ClientError", "ClientTimeout",
    "ParseError", "InvalidRequest", "MethodNotFound", "InvalidParams", "InternalError",
    "SessionNotFound", "TransportError", "LoginFailed", "AuthFailed", "ScsiCheckCondition",
    "ScsiStatus", "Timeout", "TmfFailed", "SessionRecovering", "SessionFailed",
    "LimitExceeded", "Cancelled", "NotRetriable", "ProtocolError",
    "ERRORS_BY_CODE", "ERRORS_BY_NAME", "error_from_reply",
]


class UiscsiError(Exception):
    """An error of the uiscsid API: `code`, `message`, `data` (dict), `name`."""

    code = None
    name = None

    def __init__(self, message="", code=None, data=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.data = dict(data) if isinstance(data, dict) else {}
        if isinstance(self.data.get("name"), str):
            self.name = self.data["name"]

    def __getattr__(self, key):
        # Only called for attributes not found normally: the data fields.
        if key.startswith("__"):
            raise AttributeError(key)
        data = self.__dict__.get("data") or {}
        return data.get(key)

    def __str__(self):
        s = "%s (%s)" % (self.message, self.code) if self.code is not None else self.message
        detail = {k: v for k, v in self.data.items() if k != "name"}
        return "%s: %s" % (s, detail) if detail else s

    def __repr__(self):
        return "%s(%r, code=%r, data=%r)" % (type(self).__name__, self.message, self.code,
                                             self.data)


class ClientError(UiscsiError):
    """The client failed on its own: closed client, malformed reply, ..."""


# Standard JSON-RPC 2.0 errors.
class ParseError(UiscsiError):
    code, name = -32700, "PARSE_ERROR"


class InvalidRequest(UiscsiError):
    code, name = -32600, "INVALID_REQUEST"


class MethodNotFound(UiscsiError):
    code, name = -32601, "METHOD_NOT_FOUND"


class InvalidParams(UiscsiError):
    """`data.param` names the offending param, `data.reason` says why."""
    code, name = -32602, "INVALID_PARAMS"


class InternalError(UiscsiError):
    code, name = -32603, "INTERNAL_ERROR"


# Application errors.
class SessionNotFound(UiscsiError):
    code, name = -32001, "SESSION_NOT_FOUND"


class TransportError(UiscsiError):
    """`op` (connect, read, write, ...), `errno`, `message` in data."""
    code, name = -32002, "TRANSPORT_ERROR"


class LoginFailed(UiscsiError):
    """`status_class`, `status_detail`, `status_name` (e.g. TARGET_NOT_FOUND)."""
    code, name = -32003, "LOGIN_FAILED"


class AuthFailed(UiscsiError):
    """`status_class`, `status_detail`, `side` ("target" or "initiator")."""
    code, name = -32004, "AUTH_FAILED"


class ScsiCheckCondition(UiscsiError):
    """CHECK CONDITION: `status`, `sense_key`, `sense_key_name`, `asc`, `ascq`,
    `description`, `information`, `sense` (hex; `sense_bytes` decodes it)."""
    code, name = -32005, "SCSI_CHECK_CONDITION"

    @property
    def sense_bytes(self):
        s = self.data.get("sense")
        try:
            return bytes.fromhex(s) if isinstance(s, str) else b""
        except ValueError:
            return b""


class ScsiStatus(UiscsiError):
    """Another SCSI status: `status`, `status_name` (BUSY, RESERVATION_CONFLICT, ...)."""
    code, name = -32006, "SCSI_STATUS"


class Timeout(UiscsiError):
    """The daemon's deadline passed: `timeout_ms`, `aborted`."""
    code, name = -32007, "TIMEOUT"


class ClientTimeout(Timeout):
    """No reply within the client-side timeout; the request may still run."""
    code, name = None, "CLIENT_TIMEOUT"


class TmfFailed(UiscsiError):
    code, name = -32008, "TMF_FAILED"


class SessionRecovering(UiscsiError):
    """`state`, `retry_after_ms`."""
    code, name = -32009, "SESSION_RECOVERING"


class SessionFailed(UiscsiError):
    code, name = -32010, "SESSION_FAILED"


class LimitExceeded(UiscsiError):
    """`limit` (its name), `value`."""
    code, name = -32011, "LIMIT_EXCEEDED"


class Cancelled(UiscsiError):
    code, name = -32012, "CANCELLED"


class NotRetriable(UiscsiError):
    """The connection dropped while a non-idempotent command was in flight."""
    code, name = -32013, "NOT_RETRIABLE"


class ProtocolError(UiscsiError):
    """The target broke the protocol: `detail`."""
    code, name = -32014, "PROTOCOL_ERROR"


_ALL = (ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError,
        SessionNotFound, TransportError, LoginFailed, AuthFailed, ScsiCheckCondition,
        ScsiStatus, Timeout, TmfFailed, SessionRecovering, SessionFailed, LimitExceeded,
        Cancelled, NotRetriable, ProtocolError)
ERRORS_BY_CODE = {c.code: c for c in _ALL}
ERRORS_BY_NAME = {c.name: c for c in _ALL}


def error_from_reply(err):
    """Builds the exception for a JSON-RPC `error` object (a dict)."""
    if not isinstance(err, dict):
        return ClientError("malformed error object: %r" % (err,))
    code = err.get("code")
    message = err.get("message")
    if not isinstance(message, str):
        message = str(message)
    data = err.get("data")
    # An unknown code stays a plain UiscsiError (bool is not a code).
    cls = ERRORS_BY_CODE.get(code) if type(code) is int else None
    return (cls or UiscsiError)(message, code=code, data=data)
