"""Synchronous client of the uiscsid RPC API (API.md, version 1).

One `Client` owns one ZeroMQ DEALER socket: requests carry integer ids and
replies are matched by id, so many requests can be in flight at once
(`submit`, `pipeline`), up to the daemon's `in_flight_per_client` limit.

Thread safety: a Client serialises its socket use with an internal lock, so
several threads may share one, but they then take turns on the socket; for
parallel work prefer one Client per thread (they may share a zmq.Context).
A `ReadStream` and the futures of a Client belong to that Client.
"""

import base64
import functools
import itertools
import json
import os
import threading
import time

import zmq

from .errors import ClientError, ClientTimeout, LimitExceeded, error_from_reply

__all__ = ["Client", "Future", "Pipeline", "ReadStream", "Session", "default_endpoint",
           "API_VERSION", "encode_request", "decode_attachments"]

API_VERSION = 1
DEFAULT_TIMEOUT = 35.0            # seconds: the daemon's default timeout_ms plus a margin
TIMEOUT_SLACK = 5.0               # added to an explicit timeout_ms for the client-side wait
DEFAULT_IN_FLIGHT = 256           # API.md's default in_flight_per_client
DEFAULT_FRAME0_MAX = 1 << 20      # API.md's default frame 0 limit
COPY_THRESHOLD = 64 * 1024        # frames at least this big are sent without copying
POLL_SLICE = 0.05                 # longest single poll while holding the lock (s)
_BUFFERS = (bytes, bytearray, memoryview)


def default_endpoint(env=None, euid=None):
    """The RPC endpoint as API.md says: $UISCSI_RPC, else the daemon's default
    for this user: ipc:///run/uiscsi/rpc.sock for root, otherwise
    ipc://$XDG_RUNTIME_DIR/uiscsi/rpc.sock (falling back to the system
    daemon's socket when XDG_RUNTIME_DIR is unset or has no daemon socket
    while the system one exists)."""
    env = os.environ if env is None else env
    euid = os.geteuid() if euid is None else euid
    if env.get("UISCSI_RPC"):
        return env["UISCSI_RPC"]
    system = "/run/uiscsi/rpc.sock"
    if euid == 0:
        return "ipc://" + system
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and xdg.startswith("/"):
        user = os.path.join(xdg, "uiscsi", "rpc.sock")
        if os.path.exists(user) or not os.path.exists(system):
            return "ipc://" + user
    return "ipc://" + system


def encode_request(method, params, req_id):
    """Frames of one request: every bytes-like value in params (at any depth)
    becomes {"$attachment": k} and frame k. Returns the list of frames; frame
    0 is bytes, the others are the caller's buffers (not copied)."""
    frames = [None]

    def walk(v):
        if isinstance(v, _BUFFERS):
            frames.append(v)
            return {"$attachment": len(frames) - 1}
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    req = {"jsonrpc": "2.0", "method": method}
    if params:
        req["params"] = walk(params)
    if req_id is not None:
        req["id"] = req_id
    frames[0] = json.dumps(req, separators=(",", ":"), ensure_ascii=False).encode()
    return frames


def _frame_bytes(f, zero_copy):
    if isinstance(f, zmq.Frame):
        return f.buffer if zero_copy else f.bytes
    return f


def decode_attachments(value, frames, zero_copy=False):
    """Replaces every {"$attachment": k} in a decoded result by frame k
    (bytes, or a memoryview of the received frame when zero_copy)."""
    if isinstance(value, dict):
        if len(value) == 1 and "$attachment" in value:
            k = value["$attachment"]
            if type(k) is int and 1 <= k < len(frames):
                return _frame_bytes(frames[k], zero_copy)
            raise ClientError("reply names attachment %r but has %d frame(s)" %
                              (k, len(frames) - 1))
        return {k: decode_attachments(v, frames, zero_copy) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_attachments(v, frames, zero_copy) for v in value]
    return value


def _clean(params):
    """Drops None values and the client-only keys from a locals() snapshot."""
    return {k: v for k, v in params.items()
            if v is not None and k not in ("self", "timeout", "__class__")}


def _data_bytes(result):
    """Result post-processing: "data" as bytes, whether it came base64 or attached."""
    if isinstance(result, dict) and isinstance(result.get("data"), str):
        result = dict(result)
        result["data"] = base64.b64decode(result["data"], validate=True)
    return result


def _only_data(result):
    return _data_bytes(result)["data"]


class Future:
    """The pending reply of one request. `result(timeout)` returns the result
    (or raises its typed error); `done()` says whether it arrived."""

    __slots__ = ("_client", "id", "method", "deadline", "_done", "_result", "_exc",
                 "_post", "__weakref__")

    def __init__(self, client, req_id, method, deadline, post=None):
        self._client = client
        self.id = req_id
        self.method = method
        self.deadline = deadline
        self._done = False
        self._result = None
        self._exc = None
        self._post = post

    def done(self):
        return self._done

    def _set(self, result=None, exc=None):
        if self._done:
            return
        if exc is None and self._post is not None:
            try:
                result = self._post(result)
            except Exception as e:  # a malformed result: surface it to the caller
                exc = ClientError("cannot decode the result of %s: %s" % (self.method, e))
        self._result, self._exc, self._done = result, exc, True

    def exception(self, timeout=None):
        """Waits like result() and returns the error, or None."""
        self._client._wait_for(self, timeout)
        return self._exc

    def result(self, timeout=None):
        """Waits at most `timeout` seconds (default: until the request's own
        deadline, after which it fails with ClientTimeout) and returns the
        result or raises the typed error."""
        self._client._wait_for(self, timeout)
        if self._exc is not None:
            raise self._exc
        return self._result

    def __repr__(self):
        state = "done" if self._done else "pending"
        return "<Future %s id=%r %s>" % (self.method, self.id, state)


class _Api:
    """One method per API call. Subclasses define _invoke(method, params,
    post, timeout), which runs the call (Client), queues it (Pipeline) or
    returns a coroutine (AsyncClient). Optional params default to None, which
    means "not sent" so the daemon's defaults apply; `timeout` is the
    client-side wait in seconds (default: timeout_ms plus a margin, or 35 s).
    Calls that return bulk data ask for it as an attachment and give bytes."""

    def _invoke(self, method, params, post=None, timeout=None):
        raise NotImplementedError

    # rpc and daemon
    def rpc_discover(self, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("rpc.discover", _clean(locals()), None, timeout)

    def rpc_echo(self, data, *, data_encoding="attachment", timeout_ms=None, tag=None,
                 timeout=None):
        """Sends data (bytes go as an attachment) and returns what came back, as bytes."""
        return self._invoke("rpc.echo", _clean(locals()), _only_data, timeout)

    def daemon_info(self, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("daemon.info", _clean(locals()), self._note_info, timeout)

    def daemon_stats(self, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("daemon.stats", _clean(locals()), None, timeout)

    def events_get(self, since_seq, *, max=None, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("events.get", _clean(locals()), None, timeout)

    def _note_info(self, info):
        return info

    # discovery and sessions
    def discovery_send_targets(self, portal, *, initiator_name=None, auth=None,
                               timeout_ms=None, tag=None, timeout=None):
        return self._invoke("discovery.send_targets", _clean(locals()), None, timeout)

    def session_open(self, portal, target, *, initiator_name=None, auth=None, negotiate=None,
                     keepalive=None, recovery=None, digest_byte_order=None, share=None,
                     timeout_ms=None, tag=None, timeout=None):
        return self._invoke("session.open", _clean(locals()), None, timeout)

    def session_close(self, session, *, force=None, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("session.close", _clean(locals()), None, timeout)

    def session_list(self, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("session.list", _clean(locals()), None, timeout)

    def session_get(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("session.get", _clean(locals()), None, timeout)

    def session_reconnect(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("session.reconnect", _clean(locals()), None, timeout)

    # SCSI
    def scsi_test_unit_ready(self, session, lun, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.test_unit_ready", _clean(locals()), None, timeout)

    def scsi_inquiry(self, session, lun, *, evpd=None, page=None, data_encoding="attachment",
                     timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.inquiry", _clean(locals()), _data_bytes, timeout)

    def scsi_read_capacity(self, session, lun, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.read_capacity", _clean(locals()), None, timeout)

    def scsi_report_luns(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.report_luns", _clean(locals()), None, timeout)

    def scsi_request_sense(self, session, lun, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.request_sense", _clean(locals()), None, timeout)

    def scsi_read(self, session, lun, lba, blocks, *, block_size=None, fua=None,
                  data_encoding="attachment", timeout_ms=None, tag=None, timeout=None):
        """Reads blocks; returns the data as bytes."""
        return self._invoke("scsi.read", _clean(locals()), _only_data, timeout)

    def scsi_write(self, session, lun, lba, blocks, data, *, block_size=None, fua=None,
                   timeout_ms=None, tag=None, timeout=None):
        """Writes blocks; data (bytes-like) travels as an attachment, not copied
        when large: do not modify it until the call returns."""
        return self._invoke("scsi.write", _clean(locals()), None, timeout)

    def scsi_verify(self, session, lun, lba, blocks, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.verify", _clean(locals()), None, timeout)

    def scsi_synchronize_cache(self, session, lun, *, lba=None, blocks=None, timeout_ms=None,
                               tag=None, timeout=None):
        return self._invoke("scsi.synchronize_cache", _clean(locals()), None, timeout)

    def scsi_write_same(self, session, lun, lba, blocks, data, *, unmap=None, timeout_ms=None,
                        tag=None, timeout=None):
        return self._invoke("scsi.write_same", _clean(locals()), None, timeout)

    def scsi_unmap(self, session, lun, ranges, *, timeout_ms=None, tag=None, timeout=None):
        """ranges: [{"lba": .., "blocks": ..}] or [(lba, blocks)]."""
        ranges = [r if isinstance(r, dict) else {"lba": r[0], "blocks": r[1]} for r in ranges]
        return self._invoke("scsi.unmap", _clean(locals()), None, timeout)

    def scsi_compare_and_write(self, session, lun, lba, blocks, data, *, timeout_ms=None,
                               tag=None, timeout=None):
        return self._invoke("scsi.compare_and_write", _clean(locals()), None, timeout)

    def scsi_mode_sense(self, session, lun, page, *, subpage=None, cdb_size=None, dbd=None,
                        data_encoding="attachment", timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.mode_sense", _clean(locals()), _data_bytes, timeout)

    def scsi_mode_select(self, session, lun, data, *, cdb_size=None, save=None, timeout_ms=None,
                         tag=None, timeout=None):
        return self._invoke("scsi.mode_select", _clean(locals()), None, timeout)

    def scsi_persistent_reserve_in(self, session, lun, service_action, *,
                                   data_encoding="attachment", timeout_ms=None, tag=None,
                                   timeout=None):
        return self._invoke("scsi.persistent_reserve_in", _clean(locals()), _data_bytes, timeout)

    def scsi_persistent_reserve_out(self, session, lun, service_action, scope_type, key, sa_key,
                                    *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.persistent_reserve_out", _clean(locals()), None, timeout)

    def scsi_start_stop_unit(self, session, lun, start, *, load_eject=None, power_condition=None,
                             timeout_ms=None, tag=None, timeout=None):
        return self._invoke("scsi.start_stop_unit", _clean(locals()), None, timeout)

    # raw
    def raw_execute(self, session, lun, cdb, *, data_in_length=None, data=None,
                    task_attribute=None, data_encoding="attachment", timeout_ms=None, tag=None,
                    timeout=None):
        """Runs any CDB (bytes or a hex string); returns the result dict with
        "data" as bytes. The SCSI status is returned, not raised."""
        if isinstance(cdb, _BUFFERS):
            cdb = bytes(cdb).hex()
        return self._invoke("raw.execute", _clean(locals()), _data_bytes, timeout)

    # task management
    def tmf_abort_task(self, session, tag, *, timeout_ms=None, timeout=None):
        return self._invoke("tmf.abort_task", _clean(locals()), None, timeout)

    def tmf_abort_task_set(self, session, lun, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("tmf.abort_task_set", _clean(locals()), None, timeout)

    def tmf_clear_task_set(self, session, lun, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("tmf.clear_task_set", _clean(locals()), None, timeout)

    def tmf_lun_reset(self, session, lun, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("tmf.lun_reset", _clean(locals()), None, timeout)

    def tmf_target_warm_reset(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("tmf.target_warm_reset", _clean(locals()), None, timeout)

    def tmf_target_cold_reset(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("tmf.target_cold_reset", _clean(locals()), None, timeout)

    # protocol
    def protocol_nop(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("protocol.nop", _clean(locals()), None, timeout)

    def protocol_logout(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("protocol.logout", _clean(locals()), None, timeout)

    def protocol_confirm_exp_stat_sn(self, session, *, timeout_ms=None, tag=None, timeout=None):
        return self._invoke("protocol.confirm_exp_stat_sn", _clean(locals()), None, timeout)


# Methods whose first parameter is the session: bound by Session.
SESSION_METHODS = [n for n in dir(_Api)
                   if n.split("_")[0] in ("scsi", "raw", "tmf", "protocol")
                   or n in ("session_get", "session_reconnect")] + ["read_stream"]


class Client(_Api):
    """A connection to uiscsid.

    Client(endpoint=None, *, timeout=35.0, max_in_flight=None, context=None,
           zero_copy=False)

    endpoint: the RPC endpoint (default: default_endpoint()). timeout: the
    default client-side wait per call in seconds. max_in_flight: most
    requests outstanding at once (default and ceiling: the daemon's limit,
    256 until daemon_info() has reported it). zero_copy: attachments in
    results become memoryviews of the received frames instead of bytes.
    """

    def __init__(self, endpoint=None, *, timeout=DEFAULT_TIMEOUT, max_in_flight=None,
                 context=None, zero_copy=False):
        self.endpoint = endpoint or default_endpoint()
        self.timeout = timeout
        self.zero_copy = zero_copy
        self._user_in_flight = max_in_flight
        self._daemon_in_flight = DEFAULT_IN_FLIGHT
        self.frame0_max = DEFAULT_FRAME0_MAX
        self.info = None
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._pending = {}       # id -> Future
        self._abandoned = set()  # ids whose reply nobody waits for (still in flight)
        self._streams = {}       # id -> ReadStream
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.endpoint)
        self.closed = False

    # -- lifecycle
    def close(self):
        """Closes the socket at once (linger 0); pending futures fail."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._sock.close(linger=0)
            for fut in self._pending.values():
                fut._set(exc=ClientError("client closed"))
            self._pending.clear()
            self._abandoned.clear()
            self._streams.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if not self.closed:
                self._sock.close(linger=0)
        except Exception:
            pass

    @property
    def max_in_flight(self):
        n = self._daemon_in_flight
        return min(n, self._user_in_flight) if self._user_in_flight else n

    @property
    def in_flight(self):
        """Requests sent and not yet answered (abandoned ones included)."""
        return len(self._pending) + len(self._abandoned)

    # -- generic calls
    def call(self, method, params=None, *, timeout=None, **kw):
        """Runs one call and returns its result (attachments as bytes) or
        raises its typed error. params: a dict, or keyword arguments."""
        return self._invoke(method, _merge(params, kw), None, timeout)

    def submit(self, method, params=None, *, timeout=None, **kw):
        """Sends one request without waiting; returns a Future. Blocks (within
        the timeout) while max_in_flight requests are outstanding."""
        return self._submit(method, _merge(params, kw), None, timeout)

    def notify(self, method, params=None, **kw):
        """Sends a notification (no id, no reply)."""
        with self._lock:
            self._check_open()
            self._send(encode_request(method, _merge(params, kw), None), time.monotonic() + 5)

    def pipeline(self):
        """A Pipeline: the same methods as the Client, each returning a Future."""
        return Pipeline(self)

    def _invoke(self, method, params, post=None, timeout=None):
        fut = self._submit(method, params, post, timeout)
        try:
            return fut.result()
        except ClientTimeout:
            self._abandon(fut)
            raise

    def _deadline(self, params, timeout):
        if timeout is None:
            tm = params.get("timeout_ms") if isinstance(params, dict) else None
            timeout = tm / 1000.0 + TIMEOUT_SLACK if isinstance(tm, int) else self.timeout
        return time.monotonic() + timeout

    def _submit(self, method, params, post, timeout, stream=None):
        deadline = self._deadline(params, timeout)
        with self._lock:
            self._check_open()
            req_id = next(self._ids)
            frames = encode_request(method, params, req_id)
            if len(frames[0]) > self.frame0_max:
                raise LimitExceeded("frame 0 over the daemon's limit (client check)",
                                    code=LimitExceeded.code,
                                    data={"name": "LIMIT_EXCEEDED", "limit": "frame0_bytes",
                                          "value": len(frames[0])})
            while self.in_flight >= self.max_in_flight:
                now = time.monotonic()
                if now >= deadline:
                    raise ClientTimeout("no free in-flight slot for %s" % method)
                self._pump(min(POLL_SLICE, deadline - now))
                self._check_open()
            self._send(frames, deadline)
            fut = Future(self, req_id, method, deadline, post)
            self._pending[req_id] = fut
            if stream is not None:
                self._streams[req_id] = stream
            return fut

    def _abandon(self, fut):
        with self._lock:
            if self._pending.pop(fut.id, None) is not None:
                self._abandoned.add(fut.id)

    # -- waiting
    def wait(self, futures, timeout=None, return_when="all"):
        """Waits until all (or, with return_when="first", any) of the futures
        are done, at most `timeout` seconds. Returns (done, not_done) lists."""
        futures = list(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done = [f for f in futures if f.done()]
            if len(done) == len(futures) or (return_when == "first" and done):
                break
            limit = min(f.deadline for f in futures if not f.done())
            if deadline is not None:
                limit = min(limit, deadline)
            if time.monotonic() >= limit:
                if deadline is not None and limit == deadline:
                    break
                self._expire()
                continue
            self._poll_until(limit, lambda: any(f._done for f in futures
                                                 if f not in done))
        return done, [f for f in futures if not f.done()]

    def as_completed(self, futures, timeout=None):
        """Yields the futures as they complete (each within its own deadline,
        and all within `timeout` seconds when given)."""
        left = list(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        for _ in range(len(left)):
            t = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, left = self.wait(left, t, return_when="first")
            if not done:
                raise ClientTimeout("%d request(s) not done in time" % len(left))
            left = [f for f in left if f not in done]
            for f in done:
                yield f
            if not left:
                return

    def results(self, futures, timeout=None, return_exceptions=False):
        """The results of the futures, in their order; the first error is
        raised unless return_exceptions (then errors take their place)."""
        futures = list(futures)
        self.wait(futures, timeout)
        out = []
        for f in futures:
            if not f.done():
                raise ClientTimeout("request %r (%s) not done in time" % (f.id, f.method))
            if f._exc is not None and not return_exceptions:
                raise f._exc
            out.append(f._exc if f._exc is not None else f._result)
        return out

    def _wait_for(self, fut, timeout):
        own = timeout is None
        deadline = fut.deadline if own else time.monotonic() + timeout
        while not fut._done:
            if time.monotonic() >= deadline:
                if own:
                    self._expire()
                    if fut._done:
                        break
                raise ClientTimeout("no reply to %s (id %r) in time" % (fut.method, fut.id))
            self._poll_until(deadline, lambda: fut._done)

    def _expire(self):
        # Futures past their deadline fail with ClientTimeout; their replies,
        # when they come, are dropped (the slot stays taken until then).
        now = time.monotonic()
        with self._lock:
            for fid, f in list(self._pending.items()):
                if f.deadline <= now and fid not in self._streams:
                    f._set(exc=ClientTimeout("no reply to %s (id %r) in time" % (f.method, fid)))
                    self._abandon(f)

    def _poll_until(self, deadline, ready=None):
        # One bounded poll under the lock; skipped when another thread's pump
        # already delivered what we wait for (ready() is then true).
        with self._lock:
            self._check_open()
            if ready is not None and ready():
                return
            self._pump(max(0.0, min(POLL_SLICE, deadline - time.monotonic())))

    # -- the socket
    def _check_open(self):
        if self.closed:
            raise ClientError("client closed")

    def _send(self, frames, deadline):
        # Bounded: waits for the socket to accept the message (HWM) at most
        # until the deadline.
        while not self._sock.poll(max(0, int((deadline - time.monotonic()) * 1000)),
                                  zmq.POLLOUT):
            if time.monotonic() >= deadline:
                raise ClientTimeout("cannot send to %s" % self.endpoint)
        last = len(frames) - 1
        for i, f in enumerate(frames):
            flags = zmq.SNDMORE if i < last else 0
            big = isinstance(f, _BUFFERS) and memoryview(f).nbytes >= COPY_THRESHOLD
            self._sock.send(f, flags, copy=not big)

    def _pump(self, timeout_s):
        """Receives what is there (waiting up to timeout_s for the first
        message) and dispatches it. Caller holds the lock."""
        if not self._sock.poll(int(timeout_s * 1000)):
            return False
        for _ in range(1024):
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            self._dispatch(frames)
        return True

    def _dispatch(self, frames):
        if frames and len(frames[0]) == 0:   # an empty delimiter (never sent, but harmless)
            frames = frames[1:]
        if not frames:
            return
        try:
            msg = json.loads(frames[0].bytes)
        except ValueError:
            return
        if isinstance(msg, list):
            for m in msg:
                if isinstance(m, dict):
                    self._reply(m, frames)
        elif isinstance(msg, dict):
            if "method" in msg:
                self._notification(msg, frames)
            else:
                self._reply(msg, frames)

    def _reply(self, msg, frames):
        rid = msg.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            return  # not one of ours (we only send integer ids)
        stream = self._streams.pop(rid, None)
        if rid in self._abandoned:
            self._abandoned.discard(rid)
            return
        fut = self._pending.pop(rid, None)
        if fut is None:
            return
        if "error" in msg:
            fut._set(exc=error_from_reply(msg["error"]))
        else:
            try:
                res = decode_attachments(msg.get("result"), frames, self.zero_copy)
            except ClientError as e:
                fut._set(exc=e)
            else:
                fut._set(res)
        if stream is not None:
            stream._finished = True

    def _notification(self, msg, frames):
        if msg.get("method") != "raw.stream.data":
            return
        params = msg.get("params")
        if not isinstance(params, dict):
            return
        rid = params.get("id")
        stream = self._streams.get(rid) if isinstance(rid, int) else None
        ref = params.get("data")
        k = ref.get("$attachment") if isinstance(ref, dict) else 1
        if type(k) is not int or not 1 <= k < len(frames):
            if stream is not None:
                stream._error = ClientError("raw.stream.data without its attachment")
            return
        chunk = frames[k]
        if stream is None:
            return
        if stream._abandoned:
            self._ack(rid, len(chunk))
            return
        stream._queue.append((params.get("offset"), chunk))

    def _ack(self, rid, nbytes):
        if nbytes > 0 and not self.closed:
            try:
                self._send(encode_request("raw.stream.ack", {"id": rid, "bytes": nbytes}, None),
                           time.monotonic() + 5)
            except ClientTimeout:
                pass

    # -- daemon info
    def _note_info(self, info):
        lim = info.get("limits", {}) if isinstance(info, dict) else {}
        n = lim.get("in_flight_per_client")
        if type(n) is int and n > 0:
            self._daemon_in_flight = n
        f0 = lim.get("frame0_bytes", lim.get("frame0_max_bytes"))
        if type(f0) is int and f0 > 0:
            self.frame0_max = f0
        self.info = info
        return info

    def events_endpoint(self):
        """The daemon's PUB endpoint, from daemon.info."""
        info = self.info or self.daemon_info()
        return info["endpoints"]["events"]

    # -- higher level
    def session(self, portal, target, **kw):
        """Opens (or attaches to) a session; returns a Session, a context
        manager that closes its handle on exit."""
        return Session(self, self.session_open(portal, target, **kw))

    def read_stream(self, session, lun, cdb, data_in_length, *, window_bytes=None, data=None,
                    task_attribute=None, timeout_ms=None, tag=None, timeout=None, copy=True,
                    abort_on_close=True):
        """Runs raw.stream and returns a ReadStream: iterate it for the Data-In
        chunks (bytes, or memoryviews with copy=False), then read .result.
        Chunks are acknowledged as they are consumed, so the daemon's window
        never stalls and at most window_bytes are buffered here. Closing the
        stream early sends tmf.abort_task (with an automatic tag) unless
        abort_on_close is False, and drains what is still in flight."""
        if isinstance(cdb, _BUFFERS):
            cdb = bytes(cdb).hex()
        if tag is None and abort_on_close:
            tag = "py-stream-%x-%d" % (os.getpid(), next(_stream_tags))
        params = _clean({"session": session, "lun": lun, "cdb": cdb,
                         "data_in_length": data_in_length, "window_bytes": window_bytes,
                         "data": data, "task_attribute": task_attribute,
                         "timeout_ms": timeout_ms, "tag": tag})
        return ReadStream(self, params, timeout, copy, abort_on_close)


_stream_tags = itertools.count(1)


def _merge(params, kw):
    if params is None:
        return kw
    if kw:
        merged = dict(params)
        merged.update(kw)
        return merged
    return params


class ReadStream:
    """The Data-In of one raw.stream, as an iterator of chunks.

    After iteration, `result` is the final reply (as raw.execute's, without
    data) or raises its typed error; `received` counts the bytes. The wait for
    each next chunk is bounded by the call's timeout."""

    def __init__(self, client, params, timeout, copy, abort_on_close):
        self._client = client
        self._params = params
        self._copy = copy
        self._abort_on_close = abort_on_close
        self.window = params.get("window_bytes", 4 << 20)
        self._queue = []
        self._qhead = 0
        self._given = 0         # size of the chunk last handed out (consumed on next())
        self._unacked = 0       # consumed and not yet acknowledged
        self._finished = False  # the final reply arrived
        self._abandoned = False
        self._error = None
        self.received = 0
        self._wait = client._deadline(params, timeout) - time.monotonic()
        self._fut = client._submit("raw.stream", params, None, timeout, stream=self)
        self._fut.deadline = float("inf")   # bounded per chunk instead, in __next__
        self.id = self._fut.id

    def __iter__(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __next__(self):
        c = self._client
        self._unacked += self._given
        self._given = 0
        deadline = time.monotonic() + self._wait
        while True:
            with c._lock:
                if self._error is not None:
                    raise self._error
                if self._abandoned:
                    raise ClientError("raw.stream %r was closed" % self.id)
                if self._qhead < len(self._queue):
                    if self._unacked >= max(1, self.window // 2):
                        self._flush_ack()
                    offset, frame = self._queue[self._qhead]
                    self._queue[self._qhead] = None
                    self._qhead += 1
                    if self._qhead > 64 and self._qhead * 2 > len(self._queue):
                        del self._queue[:self._qhead]
                        self._qhead = 0
                    n = len(frame)
                    if offset is not None and offset != self.received:
                        self._error = ClientError("raw.stream.data at offset %r, expected %d" %
                                                  (offset, self.received))
                        raise self._error
                    self.received += n
                    self._given = n
                    return frame.bytes if self._copy else frame.buffer
                if self._finished:
                    self._unacked = 0
                    if self._fut._exc is not None:
                        raise self._fut._exc
                    raise StopIteration
                # Nothing buffered: acknowledge what was consumed before blocking.
                self._flush_ack()
                now = time.monotonic()
                if now >= deadline:
                    raise ClientTimeout("raw.stream %r: no data in time" % self.id)
                c._check_open()
                if c._pump(min(POLL_SLICE, deadline - now)):
                    deadline = time.monotonic() + self._wait

    def _flush_ack(self):
        if self._unacked and not self._finished:
            self._client._ack(self.id, self._unacked)
        self._unacked = 0

    @property
    def result(self):
        """The final reply; waits for it (and drains the data) if needed."""
        if self._abandoned and not self._finished:
            raise ClientError("raw.stream %r was closed before its reply" % self.id)
        if not self._finished:
            for _ in self:
                pass
        return self._fut.result(0)

    def read_all(self):
        """Every chunk joined (for transfers that fit in memory)."""
        return b"".join(bytes(x) for x in self)

    def close(self):
        """Stops consuming: the rest of the data is acknowledged and dropped,
        and the command is aborted when abort_on_close."""
        c = self._client
        with c._lock:
            if self._finished or self._abandoned or c.closed:
                return
            self._abandoned = True
            self._unacked += self._given + sum(len(f) for _, f in self._queue[self._qhead:] if f)
            self._given = 0
            self._queue = []
            self._qhead = 0
            self._flush_ack()
            c._abandon(self._fut)
            if self._abort_on_close and "tag" in self._params:
                try:
                    f = c._submit("tmf.abort_task", {"session": self._params["session"],
                                                     "tag": self._params["tag"]}, None, None)
                    c._abandon(f)
                except Exception:
                    pass


class Pipeline(_Api):
    """The Client's methods, each returning a Future at once. Use as a context
    manager to wait for all on exit, or call wait() / results()."""

    def __init__(self, client):
        self.client = client
        self.futures = []

    def _invoke(self, method, params, post=None, timeout=None):
        f = self.client._submit(method, params, post, timeout)
        self.futures.append(f)
        return f

    def call(self, method, params=None, *, timeout=None, **kw):
        return self._invoke(method, _merge(params, kw), None, timeout)

    def _note_info(self, info):
        return self.client._note_info(info)

    def wait(self, timeout=None):
        return self.client.wait(self.futures, timeout)

    def results(self, timeout=None, return_exceptions=False):
        return self.client.results(self.futures, timeout, return_exceptions)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.wait()


class Session:
    """An open session handle: the scsi_*, raw_*, tmf_*, protocol_* methods of
    the Client with the session bound (also as short names: read, write,
    inquiry, ...). Closes its handle on close() or at the end of a with."""

    def __init__(self, client, info):
        self.client = client
        self.info = info
        self.id = info["session"]
        self.closed = False

    def close(self, force=None):
        if self.closed:
            return None
        self.closed = True
        return self.client.session_close(self.id, force=force)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.client.closed:
            self.close()

    def __repr__(self):
        return "<Session %s %s>" % (self.id, self.info.get("target"))


def _bind(name):
    fn = getattr(Client, name)

    @functools.wraps(fn)
    def bound(self, *a, **kw):
        return getattr(self.client, name)(self.id, *a, **kw)
    return bound


for _n in SESSION_METHODS:
    setattr(Session, _n, _bind(_n))
    _short = _n.split("_", 1)[1] if _n.split("_")[0] in ("scsi", "tmf", "protocol", "raw") \
        else None
    if _short and not hasattr(Session, _short):
        setattr(Session, _short, getattr(Session, _n))
Session.get = Session.session_get
Session.reconnect = Session.session_reconnect
del _n, _short
