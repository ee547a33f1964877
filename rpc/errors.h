/* errors.h: the JSON-RPC error codes of uiscsid (API.md "Errors") and
 * builders for error objects {"code", "message", "data"}.
 *
 * One table (RPC_ERROR_TABLE) lists every code with its stable name, its
 * message and the data fields it carries. Every error object built here has
 * error.data.name set to the stable name (standard errors too, so a client
 * can always switch on data.name). Messages are fixed strings: they never
 * carry caller data or secrets. Every builder returns a new reference, or
 * NULL when out of memory. */
#ifndef UISCSI_RPC_ERRORS_H
#define UISCSI_RPC_ERRORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X (NAME, code, message, data fields) */
#define RPC_ERROR_TABLE(X)                                                               \
    X (PARSE_ERROR, -32700, "Parse error", "reason, line, column, position")             \
    X (INVALID_REQUEST, -32600, "Invalid Request", "reason")                             \
    X (METHOD_NOT_FOUND, -32601, "Method not found", "")                                 \
    X (INVALID_PARAMS, -32602, "Invalid params", "param, reason")                        \
    X (INTERNAL_ERROR, -32603, "Internal error", "reason")                               \
    X (SESSION_NOT_FOUND, -32001, "Session not found", "session")                        \
    X (TRANSPORT_ERROR, -32002, "Transport error", "op, errno, message")                 \
    X (LOGIN_FAILED, -32003, "Login failed", "status_class, status_detail, status_name") \
    X (AUTH_FAILED, -32004, "Authentication failed",                                     \
       "status_class, status_detail, side")                                              \
    X (SCSI_CHECK_CONDITION, -32005, "SCSI check condition",                             \
       "status, sense_key, sense_key_name, asc, ascq, description, information, sense")  \
    X (SCSI_STATUS, -32006, "SCSI status", "status, status_name")                        \
    X (TIMEOUT, -32007, "Timeout", "timeout_ms, aborted")                                \
    X (TMF_FAILED, -32008, "Task management function failed", "response, response_name") \
    X (SESSION_RECOVERING, -32009, "Session recovering", "state, retry_after_ms")        \
    X (SESSION_FAILED, -32010, "Session failed", "reason")                               \
    X (LIMIT_EXCEEDED, -32011, "Limit exceeded", "limit, value")                         \
    X (CANCELLED, -32012, "Cancelled", "")                                               \
    X (NOT_RETRIABLE, -32013, "Not retriable", "reason")                                 \
    X (PROTOCOL_ERROR, -32014, "Protocol error", "detail")

typedef enum rpc_error_code {
#define X(name, code, msg, fields) RPC_E_##name = code,
    RPC_ERROR_TABLE (X)
#undef X
} rpc_error_code_t;

/* Number of rows in the table. */
size_t rpc_error_count (void);

/* Code of row i (0 <= i < rpc_error_count ()), in table order. */
int rpc_error_code_at (size_t i);

/* Stable name of a code ("SESSION_NOT_FOUND"), or NULL for an unknown code. */
const char *rpc_error_name (int code);

/* Fixed message of a code, or NULL for an unknown code. */
const char *rpc_error_message (int code);

/* Data fields of a code as documented ("limit, value"), or NULL. */
const char *rpc_error_fields (int code);

/* Code of a stable name, or 0 when the name is unknown. */
int rpc_error_code_of (const char *name);

/* Builds {"code", "message", "data"}; takes ownership of data (NULL: an
 * empty object) and sets data.name. An unknown code gets the message
 * "Server error" and no name. */
json_t *rpc_error_new (int code, json_t *data);

/* Code of an error object, or 0 when it has none. */
int rpc_error_code (const json_t *error);

/* Standard errors. reason/param are fixed strings or parameter paths from
 * the validator; NULL omits the field. */
json_t *rpc_error_parse (const char *reason, int line, int column, int position);
json_t *rpc_error_invalid_request (const char *reason);
json_t *rpc_error_method_not_found (void);
json_t *rpc_error_invalid_params (const char *param, const char *reason);
json_t *rpc_error_internal (const char *reason);

/* Application errors (API.md). Strings are borrowed and copied; NULL
 * becomes JSON null. */
json_t *rpc_error_session_not_found (const char *session);
json_t *rpc_error_transport (const char *op, int errno_value, const char *message);
json_t *rpc_error_login_failed (int status_class, int status_detail,
                                const char *status_name);
json_t *rpc_error_auth_failed (int status_class, int status_detail, const char *side);

/* Fields of a CHECK CONDITION; sense is copied as hex. information is
 * reported only when information_valid (as an integer, or as a "0x..." hex
 * string above INT64_MAX). */
typedef struct rpc_sense_fields {
    int status;
    int sense_key;
    const char *sense_key_name;
    int asc;
    int ascq;
    const char *description;
    bool information_valid;
    uint64_t information;
    const uint8_t *sense;
    size_t sense_len;
} rpc_sense_fields_t;

json_t *rpc_error_check_condition (const rpc_sense_fields_t *fields);
json_t *rpc_error_scsi_status (int status, const char *status_name);
json_t *rpc_error_timeout (int64_t timeout_ms, bool aborted);
json_t *rpc_error_tmf_failed (int response, const char *response_name);

/* retry_after_ms < 0 leaves the field out (API.md: only when the caller
 * asked not to wait). */
json_t *rpc_error_session_recovering (const char *state, int64_t retry_after_ms);
json_t *rpc_error_session_failed (const char *reason);
json_t *rpc_error_limit_exceeded (const char *limit, uint64_t value);
json_t *rpc_error_cancelled (void);
json_t *rpc_error_not_retriable (const char *reason);
json_t *rpc_error_protocol (const char *detail);

/* Maps a proto/ UIS_ERR_* code to an RPC error: protocol and framing faults
 * become PROTOCOL_ERROR with detail = the code's short name, anything else
 * INTERNAL_ERROR with reason = the short name. */
json_t *rpc_error_from_uis (int uis_code);

/* JSON builder step shared by the rpc/ modules: sets key = value in obj,
 * both stolen. Returns obj, or NULL (both freed) when obj or value is NULL
 * (an earlier step failed) or the set fails, so calls can be chained:
 * o = rpc_json_add (o, "k", json_integer (1)). */
json_t *rpc_json_add (json_t *obj, const char *key, json_t *value);

#endif
