#!/usr/bin/python3
"""Tests of the uiscsi Python client.

usage: test_client.py [UISCSID]

(a) Always: against a fake daemon in this process (a thread with a ZeroMQ
    ROUTER, and an XPUB for events): request framing, attachments both ways,
    the typed exception of every error code in API.md, pipelining with
    out-of-order replies and the in-flight limit, client timeouts, sessions,
    raw.stream windows and acks, event gap filling, endpoint discovery, the
    asyncio client.
(b) With a daemon binary: starts it in a private runtime dir and checks
    daemon.info, rpc.discover, rpc.echo with 1 MiB both ways, pipelining,
    events with gap filling, typed errors.

Prints one line per test and ends with "N passed, N failed". Every wait is
bounded; a watchdog ends the run after 120 s.
"""
import asyncio
import base64
import faulthandler
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import zmq  # noqa: E402

import uiscsi  # noqa: E402
from uiscsi import aio, errors  # noqa: E402

TMP = tempfile.mkdtemp(prefix="uiscsi-py-test-")
_ep_count = [0]


def new_endpoint(name="rpc"):
    _ep_count[0] += 1
    return "ipc://%s/%s-%d.sock" % (TMP, name, _ep_count[0])


def check(cond, what="check failed"):
    if not cond:
        raise AssertionError(what)


def check_eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what or "values differ", a, b))


def raises(exc_type, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised" % exc_type.__name__)


# --------------------------------------------------------------- fake daemon

class FakeError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def pattern(n, start=0):
    """Deterministic test bytes: (offset % 251) for each offset."""
    base = bytes(range(251)) * (n // 251 + 2)
    s = start % 251
    return base[s:s + n]


class FakeDaemon(threading.Thread):
    """A ROUTER in a thread that plays uiscsid. Methods are `m_<name with
    dots as underscores>(ident, req, params, attachments)` returning
    (result, [attachments]) or None (no reply now); FakeError becomes an
    error reply. Every request is recorded as (frames, request)."""

    def __init__(self, **opts):
        super().__init__(daemon=True)
        self.endpoint = new_endpoint()
        self.events_endpoint = new_endpoint("events")
        self.opts = opts
        self.requests = []
        self.notifications = []
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.held = []           # requests held for later replies
        self.max_held = 0
        self.streams = {}
        self.errors = []         # protocol violations seen by the fake
        self.ring = []           # events for events.get
        self.in_flight_limit = opts.get("in_flight", 256)
        self.start()
        check(self.ready.wait(5), "fake daemon did not start")

    def run(self):
        ctx = zmq.Context.instance()
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.endpoint)
        self.ready.set()
        try:
            while not self.stopping.is_set():
                if not self.sock.poll(20):
                    self.on_idle()
                    continue
                frames = self.sock.recv_multipart()
                try:
                    self.on_message(frames[0], frames[1:])
                except Exception:
                    self.errors.append(traceback.format_exc())
        finally:
            self.sock.close(linger=0)

    def stop(self):
        self.stopping.set()
        self.join(5)

    def send(self, ident, obj, attachments=()):
        self.sock.send_multipart([ident, json.dumps(obj).encode(), *attachments])

    def reply(self, ident, req, result=None, attachments=(), error=None):
        msg = {"jsonrpc": "2.0", "id": req.get("id")}
        if error is not None:
            msg["error"] = error
        else:
            msg["result"] = result
        self.send(ident, msg, attachments)

    def on_message(self, ident, frames):
        req = json.loads(frames[0])
        with self.lock:
            self.requests.append((frames, req))
        if "id" not in req:
            with self.lock:
                self.notifications.append(req)
        fn = getattr(self, "m_" + req["method"].replace(".", "_"), None)
        params = req.get("params", {})
        if fn is None:
            if "id" in req:
                self.reply(ident, req, error={"code": -32601, "message": "Method not found",
                                              "data": {"name": "METHOD_NOT_FOUND"}})
            return
        try:
            out = fn(ident, req, params, frames[1:])
        except FakeError as e:
            if "id" in req:
                err = {"code": e.code, "message": e.message}
                if e.data is not None:
                    err["data"] = e.data
                self.reply(ident, req, error=err)
            return
        if out is not None and "id" in req:
            result, att = out
            self.reply(ident, req, result, att)

    def on_idle(self):
        if self.opts.get("hold") and self.held:
            self.flush_held()

    def flush_held(self):
        held, self.held = self.held, []
        if self.opts.get("shuffle"):
            random.Random(7).shuffle(held)
        for ident, req, out in held:
            if isinstance(out, tuple):
                self.reply(ident, req, out[0], out[1])
            else:
                self.reply(ident, req, out)

    def attachment(self, value, attachments):
        if isinstance(value, dict):
            return attachments[value["$attachment"] - 1]
        return base64.b64decode(value)

    def data_result(self, params, data):
        if params.get("data_encoding") == "attachment":
            return {"data": {"$attachment": 1}, "bytes": len(data)}, [data]
        return {"data": base64.b64encode(data).decode(), "bytes": len(data)}, []

    # --- methods
    def m_daemon_info(self, ident, req, params, att):
        return {"version": "fake", "api_version": 1, "pid": os.getpid(), "uptime_ms": 1,
                "endpoints": {"rpc": self.endpoint, "events": self.events_endpoint},
                "limits": {"frame0_bytes": 1 << 20, "data_bytes": 64 << 20,
                           "in_flight_per_client": self.in_flight_limit, "sessions": 1024},
                "features": []}, []

    def m_rpc_echo(self, ident, req, params, att):
        data = self.attachment(params["data"], att)
        out = self.data_result(params, data)
        if self.opts.get("hold"):
            self.held.append((ident, req, out))
            self.max_held = max(self.max_held, len(self.held))
            if len(self.held) >= self.opts["hold"]:
                self.flush_held()
            return None
        return out

    def m_fail(self, ident, req, params, att):
        raise FakeError(params["code"], params.get("message", "fail"), params.get("data"))

    def m_hang(self, ident, req, params, att):
        self.held.append((ident, req, {"late": True}))
        return None

    def m_release(self, ident, req, params, att):
        self.flush_held()
        return {}, []

    def m_session_open(self, ident, req, params, att):
        return {"session": "sess-1", "attached": False, "target": params["target"],
                "portal": params["portal"], "isid": "400000000001", "tsih": 1,
                "state": "LOGGED_IN", "negotiated": {}}, []

    def m_session_close(self, ident, req, params, att):
        if params["session"] != "sess-1":
            raise FakeError(-32001, "Session not found",
                            {"name": "SESSION_NOT_FOUND", "session": params["session"]})
        return {"closed": True, "refs": 0}, []

    def m_scsi_read(self, ident, req, params, att):
        bs = params.get("block_size", 512)
        return self.data_result(params, pattern(params["blocks"] * bs, params["lba"] * bs))

    def m_scsi_write(self, ident, req, params, att):
        data = self.attachment(params["data"], att)
        self.last_write = data
        return {"bytes": len(data)}, []

    def m_raw_execute(self, ident, req, params, att):
        data = pattern(params.get("data_in_length", 0))
        res, a = self.data_result(params, data)
        res.update({"status": 0, "status_name": "GOOD", "sense": "", "residual": 0,
                    "overflow": False, "underflow": False, "cdb": params["cdb"]})
        return res, a

    def m_events_get(self, ident, req, params, att):
        since, mx = params["since_seq"], params.get("max", 1000)
        evs = [dict(e) for e in self.ring if e["seq"] > since][:mx]
        return {"events": evs, "last_seq": self.ring[-1]["seq"] if self.ring else 0}, []

    # raw.stream, exactly as API.md says: notifications raw.stream.data
    # {"id", "offset", "bytes"} with one attachment each, never more than
    # window_bytes unacknowledged, then the final reply without data.
    def m_raw_stream(self, ident, req, params, att):
        st = {"ident": ident, "req": req, "total": params["data_in_length"],
              "window": params.get("window_bytes", 4 << 20), "sent": 0, "acked": 0,
              "max_unacked": 0, "tag": params.get("tag"), "done": False, "acks": 0}
        st["chunk"] = min(self.opts.get("chunk", 16384), st["window"])
        self.streams[req["id"]] = st
        self.stream_push(st)
        return None

    def stream_push(self, st):
        while not st["done"] and st["sent"] < st["total"]:
            n = min(st["chunk"], st["total"] - st["sent"])
            if st["sent"] + n - st["acked"] > st["window"]:
                return
            self.send(st["ident"], {"jsonrpc": "2.0", "method": "raw.stream.data",
                                    "params": {"id": st["req"]["id"], "offset": st["sent"],
                                               "bytes": n}},
                      [pattern(n, st["sent"])])
            st["sent"] += n
            st["max_unacked"] = max(st["max_unacked"], st["sent"] - st["acked"])
        if not st["done"] and st["sent"] >= st["total"]:
            st["done"] = True
            self.reply(st["ident"], st["req"], {"status": 0, "status_name": "GOOD", "sense": "",
                                                "bytes": st["total"], "residual": 0,
                                                "overflow": False, "underflow": False})

    def m_raw_stream_ack(self, ident, req, params, att):
        st = self.streams.get(params["id"])
        if st is None:
            self.errors.append("ack for unknown stream %r" % params)
            return None
        st["acked"] += params["bytes"]
        st["acks"] += 1
        if st["acked"] > st["sent"]:
            self.errors.append("acked %d > sent %d" % (st["acked"], st["sent"]))
        self.stream_push(st)
        return None

    def m_tmf_abort_task(self, ident, req, params, att):
        for st in self.streams.values():
            if st["tag"] == params["tag"] and not st["done"]:
                st["done"] = True
                st["aborted"] = True
                self.reply(st["ident"], st["req"],
                           error={"code": -32012, "message": "Cancelled",
                                  "data": {"name": "CANCELLED"}})
                return {"response": 0, "response_name": "FUNCTION_COMPLETE"}, []
        return {"response": 1, "response_name": "TASK_DOES_NOT_EXIST"}, []


# ------------------------------------------------------------ (a) fake tests

def t_endpoint_discovery():
    d = uiscsi.default_endpoint
    check_eq(d({"UISCSI_RPC": "ipc:///x/y.sock", "XDG_RUNTIME_DIR": "/r"}, 1000),
             "ipc:///x/y.sock", "UISCSI_RPC wins")
    check_eq(d({"XDG_RUNTIME_DIR": TMP}, 1000), "ipc://%s/uiscsi/rpc.sock" % TMP, "xdg")
    check_eq(d({"XDG_RUNTIME_DIR": TMP}, 0), "ipc:///run/uiscsi/rpc.sock", "root")
    check_eq(d({}, 1000), "ipc:///run/uiscsi/rpc.sock", "no xdg")
    old = os.environ.get("UISCSI_RPC")
    os.environ["UISCSI_RPC"] = "ipc:///tmp/from-env.sock"
    try:
        with uiscsi.Client() as c:
            check_eq(c.endpoint, "ipc:///tmp/from-env.sock")
        with uiscsi.Client("ipc:///tmp/explicit.sock") as c:
            check_eq(c.endpoint, "ipc:///tmp/explicit.sock")
    finally:
        if old is None:
            del os.environ["UISCSI_RPC"]
        else:
            os.environ["UISCSI_RPC"] = old


def t_framing_and_attachments():
    f = FakeDaemon()
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            # write: data as attachment frame 1, JSON names it, no empty delimiter
            data = bytes(range(256)) * 4
            res = c.scsi_write("s1", 0, 10, 2, data, block_size=512)
            check_eq(res, {"bytes": 1024})
            frames, req = f.requests[-1]
            check_eq(len(frames), 2, "frames of a write")
            check_eq(frames[1], data, "attachment bytes")
            check_eq(req, {"jsonrpc": "2.0", "method": "scsi.write", "id": req["id"],
                           "params": {"session": "s1", "lun": 0, "lba": 10, "blocks": 2,
                                      "data": {"$attachment": 1}, "block_size": 512}}, "frame 0")
            check(isinstance(req["id"], int), "integer id")
            # a large bytearray goes zero-copy and arrives intact
            big = bytearray(pattern(3 << 20))
            check_eq(c.scsi_write("s1", 0, 0, 6144, big, block_size=512)["bytes"], 3 << 20)
            check(f.last_write == bytes(big), "big write intact")
            # read: asks for an attachment, returns bytes
            got = c.scsi_read("s1", 0, 3, 4)
            check(isinstance(got, bytes) and got == pattern(2048, 3 * 512), "read bytes")
            frames, req = f.requests[-1]
            check_eq(req["params"]["data_encoding"], "attachment", "default data_encoding")
            check_eq(len(frames), 1)
            # base64 result decoded too
            check_eq(c.scsi_read("s1", 0, 0, 1, data_encoding="base64"), pattern(512), "b64")
            # several attachments in one request keep their numbering
            r = c.call("rpc.echo", data=b"first", extra={"blobs": [b"b2", b"b3"]})
            frames, req = f.requests[-1]
            check_eq(req["params"]["data"], {"$attachment": 1})
            check_eq(req["params"]["extra"], {"blobs": [{"$attachment": 2}, {"$attachment": 3}]})
            check_eq(frames[1:], [b"first", b"b2", b"b3"])
            check_eq(r["data"], "Zmlyc3Q=", "generic call keeps base64 strings")
            check_eq(c.rpc_echo(b"x" * 100000), b"x" * 100000, "echo attachment")
            check_eq(c.rpc_echo(b"yz", data_encoding="base64"), b"yz", "echo base64")
            # raw.execute: cdb bytes become hex, result data as bytes
            r = c.raw_execute("s1", 0, bytes([0x12, 0, 0, 0, 36, 0]), data_in_length=36)
            check_eq(r["cdb"], "120000002400")
            check_eq(r["data"], pattern(36))
            # zero_copy results are memoryviews
        with uiscsi.Client(f.endpoint, timeout=5, zero_copy=True) as c:
            mv = c.scsi_read("s1", 0, 0, 2)
            check(isinstance(mv, memoryview) and bytes(mv) == pattern(1024), "zero copy")
            # unknown params are passed through as named (the daemon rejects them)
            c.call("rpc.echo", {"data": b"q"}, timeout=2)
            # frame 0 limit is checked before sending
            c.frame0_max = 200
            n = len(f.requests)
            e = raises(errors.LimitExceeded, c.call, "rpc.echo", data="A" * 400)
            check_eq(e.limit, "frame0_bytes")
            check_eq(len(f.requests), n, "nothing sent")
        check(not f.errors, f.errors)
    finally:
        f.stop()


ERROR_TABLE = [
    (-32700, "PARSE_ERROR", errors.ParseError),
    (-32600, "INVALID_REQUEST", errors.InvalidRequest),
    (-32601, "METHOD_NOT_FOUND", errors.MethodNotFound),
    (-32602, "INVALID_PARAMS", errors.InvalidParams),
    (-32603, "INTERNAL_ERROR", errors.InternalError),
    (-32001, "SESSION_NOT_FOUND", errors.SessionNotFound),
    (-32002, "TRANSPORT_ERROR", errors.TransportError),
    (-32003, "LOGIN_FAILED", errors.LoginFailed),
    (-32004, "AUTH_FAILED", errors.AuthFailed),
    (-32005, "SCSI_CHECK_CONDITION", errors.ScsiCheckCondition),
    (-32006, "SCSI_STATUS", errors.ScsiStatus),
    (-32007, "TIMEOUT", errors.Timeout),
    (-32008, "TMF_FAILED", errors.TmfFailed),
    (-32009, "SESSION_RECOVERING", errors.SessionRecovering),
    (-32010, "SESSION_FAILED", errors.SessionFailed),
    (-32011, "LIMIT_EXCEEDED", errors.LimitExceeded),
    (-32012, "CANCELLED", errors.Cancelled),
    (-32013, "NOT_RETRIABLE", errors.NotRetriable),
    (-32014, "PROTOCOL_ERROR", errors.ProtocolError),
]


def t_error_mapping():
    f = FakeDaemon()
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            for code, name, cls in ERROR_TABLE:
                data = {"name": name, "detail": "d%d" % code}
                e = raises(errors.UiscsiError, c.call, "fail", code=code, message="m " + name,
                           data=data)
                check(type(e) is cls, "%d -> %s, got %s" % (code, cls.__name__, type(e).__name__))
                check_eq((e.code, e.message, e.name, e.data), (code, "m " + name, name, data))
                check_eq(e.detail, "d%d" % code, "data keys as attributes")
                check(e.no_such_key is None, "absent data key is None")
            check_eq(len(ERROR_TABLE), 19)
            check_eq(len(errors.ERRORS_BY_CODE), 19)
            sense = {"name": "SCSI_CHECK_CONDITION", "status": 2, "sense_key": 5,
                     "sense_key_name": "ILLEGAL_REQUEST", "asc": 0x24, "ascq": 0,
                     "description": "INVALID FIELD IN CDB", "information": None,
                     "sense": "700005000000000a00000000240000000000"}
            e = raises(errors.ScsiCheckCondition, c.call, "fail", code=-32005,
                       message="SCSI check condition", data=sense)
            check_eq((e.sense_key, e.sense_key_name, e.asc, e.ascq, e.description),
                     (5, "ILLEGAL_REQUEST", 0x24, 0, "INVALID FIELD IN CDB"))
            check_eq(e.sense_bytes, bytes.fromhex(sense["sense"]))
            check("ILLEGAL_REQUEST" in str(e), str(e))
            # unknown code: plain UiscsiError, whatever the name says
            e = raises(errors.UiscsiError, c.call, "fail", code=-32099, message="new",
                       data={"name": "TIMEOUT"})
            check(type(e) is errors.UiscsiError, type(e))
            check_eq((e.code, e.message), (-32099, "new"))
            # no data at all
            e = raises(errors.Cancelled, c.call, "fail", code=-32012, message="Cancelled")
            check_eq(e.data, {})
            # standard error from the fake itself
            raises(errors.MethodNotFound, c.call, "no.such")
            # ClientTimeout is a Timeout
            check(issubclass(errors.ClientTimeout, errors.Timeout))
    finally:
        f.stop()


def t_pipelining_out_of_order():
    f = FakeDaemon(hold=100, shuffle=True)
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            futs = [c.submit("rpc.echo", data=b"%d" % i, data_encoding="attachment")
                    for i in range(100)]
            res = c.results(futs, timeout=5)
            check_eq([r["data"] for r in res], [b"%d" % i for i in range(100)], "matched by id")
            order = [req["id"] for _, req in f.requests]
            check_eq(order, sorted(order), "sent in order")
            check_eq(c.in_flight, 0)
            # Pipeline: typed methods return futures
            with c.pipeline() as p:
                fs = [p.rpc_echo(bytes([i]) * 10) for i in range(100)]
            check(all(x.done() for x in fs), "pipeline waits on exit")
            check_eq([x.result() for x in fs], [bytes([i]) * 10 for i in range(100)])
            # as_completed yields each once
            futs = [c.submit("rpc.echo", data=b"z%d" % i) for i in range(100)]
            seen = [x.id for x in c.as_completed(futs, timeout=5)]
            check_eq(sorted(seen), sorted(x.id for x in futs))
        check(not f.errors, f.errors)
    finally:
        f.stop()


def t_in_flight_limit():
    f = FakeDaemon(hold=1000, in_flight=8)
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            f.opts["hold"] = 0
            c.daemon_info()
            check_eq(c.max_in_flight, 8, "limit from daemon.info")
            f.opts["hold"] = 1000   # replies only when the client stops sending
            futs = [c.submit("rpc.echo", data=b"%d" % i) for i in range(40)]
            res = c.results(futs, timeout=10)
            check_eq([r["data"] for r in res], [base64.b64encode(b"%d" % i).decode()
                                                for i in range(40)])
            check(f.max_held <= 8, "daemon saw %d in flight" % f.max_held)
            check_eq(f.max_held, 8, "the window was used")
        with uiscsi.Client(f.endpoint, timeout=5, max_in_flight=3) as c:
            f.max_held = 0
            c.results([c.submit("rpc.echo", data=b"x") for _ in range(10)], timeout=10)
            check_eq(f.max_held, 3, "user limit")
    finally:
        f.stop()


def t_client_timeout():
    f = FakeDaemon()
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            t0 = time.monotonic()
            e = raises(errors.ClientTimeout, c.call, "hang", timeout=0.2)
            dt = time.monotonic() - t0
            check(0.15 < dt < 2, "timed out after %.2f s" % dt)
            check(isinstance(e, errors.Timeout))
            check_eq(c.in_flight, 1, "abandoned request keeps its slot")
            fut = c.submit("hang", timeout=0.2)
            raises(errors.ClientTimeout, fut.result, 0.05)
            check(not fut.done(), "short wait does not fail the future")
            check_eq(c.call("release"), {})
            check_eq(fut.result(2), {"late": True}, "late reply still delivered")
            check_eq(c.in_flight, 0, "late reply freed the slot")
            # timeout_ms sets the client wait (timeout_ms + slack)
            fut = c.submit("hang", timeout_ms=1000)
            check(4 < fut.deadline - time.monotonic() < 7, "deadline from timeout_ms")
            c.call("release")
            fut.result(2)
        # a closed client fails cleanly
        c2 = uiscsi.Client(f.endpoint)
        fut = c2.submit("hang")
        c2.close()
        check(isinstance(fut.exception(0), errors.ClientError))
        raises(errors.ClientError, c2.daemon_info)
        # no daemon at all: bounded wait
        with uiscsi.Client(new_endpoint("nobody")) as c3:
            raises(errors.ClientTimeout, c3.daemon_info, timeout=0.2)
    finally:
        f.stop()


def t_session_context():
    f = FakeDaemon()
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            with c.session("192.0.2.1", "iqn.2003-01.org.example:t1",
                           auth={"method": "none"}, negotiate={"HeaderDigest": "CRC32C"}) as s:
                check_eq(s.id, "sess-1")
                check_eq(s.read(0, 1, 1), pattern(512, 512))
                check_eq(s.scsi_read(0, 1, 1), pattern(512, 512))
            _, req = [r for r in f.requests if r[1]["method"] == "session.open"][0]
            check_eq(req["params"], {"portal": "192.0.2.1", "target": "iqn.2003-01.org.example:t1",
                                     "auth": {"method": "none"},
                                     "negotiate": {"HeaderDigest": "CRC32C"}})
            closes = [r for _, r in f.requests if r["method"] == "session.close"]
            check_eq([r["params"] for r in closes], [{"session": "sess-1"}])
            # closed even when the block raises
            try:
                with c.session("192.0.2.1", "iqn.x") as s:
                    raise KeyError("boom")
            except KeyError:
                pass
            closes = [r for _, r in f.requests if r["method"] == "session.close"]
            check_eq(len(closes), 2, "closed on exception")
    finally:
        f.stop()


def t_read_stream_window():
    f = FakeDaemon(chunk=16384)
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            total, window = 1 << 20, 65536
            st = c.read_stream("s1", 0, "88000000000000000000000008000000", total,
                               window_bytes=window)
            got = bytearray()
            n = 0
            for chunk in st:
                check(isinstance(chunk, bytes))
                got += chunk
                n += 1
                if n % 7 == 0:   # other calls in between: the stream keeps its data
                    check_eq(c.rpc_echo(b"mid"), b"mid")
            check_eq(len(got), total)
            check(bytes(got) == pattern(total), "stream content")
            res = st.result
            check_eq((res["status"], res["bytes"]), (0, total))
            s = f.streams[st.id]
            check(s["max_unacked"] <= window, "window overrun %d" % s["max_unacked"])
            check(s["acks"] >= total // window, "acks: %d" % s["acks"])
            check(s["acked"] >= total - window, "acked %d" % s["acked"])
            _, req = [r for r in f.requests if r[1]["method"] == "raw.stream"][0]
            check_eq(req["params"]["window_bytes"], window)
            check(req["params"]["tag"].startswith("py-stream-"), "automatic tag")
            check_eq(c.in_flight, 0)
            # window smaller than the fake's chunk, memoryviews, read_all
            st = c.read_stream("s1", 0, bytes(16), 100000, window_bytes=1000, copy=False)
            first = next(st)
            check(isinstance(first, memoryview) and len(first) == 1000)
            rest = st.read_all()
            check(bytes(first) + rest == pattern(100000), "small window content")
            check(f.streams[st.id]["max_unacked"] <= 1000)
            # zero-length stream: just the reply
            st = c.read_stream("s1", 0, bytes(6), 0)
            check_eq(list(st), [])
            check_eq(st.result["bytes"], 0)
            # early close: abort by tag, the rest drained, the client stays usable
            st = c.read_stream("s1", 0, bytes(16), 64 << 20, window_bytes=65536)
            next(st)
            next(st)
            st.close()
            check_eq(c.rpc_echo(b"after"), b"after")
            deadline = time.monotonic() + 5
            while c.in_flight and time.monotonic() < deadline:
                c._poll_until(time.monotonic() + 0.05)
            check_eq(c.in_flight, 0, "abandoned stream finished")
            s = f.streams[st.id]
            check(s.get("aborted"), "tmf.abort_task named the stream's tag")
            check(s["sent"] < 1 << 20, "stopped early: %d" % s["sent"])
            raises(errors.ClientError, next, st)
        check(not f.errors, f.errors)
    finally:
        f.stop()


def t_read_stream_error():
    f = FakeDaemon()

    def m_raw_stream(ident, req, params, att):
        f.send(ident, {"jsonrpc": "2.0", "method": "raw.stream.data",
                       "params": {"id": req["id"], "offset": 0, "bytes": 4}}, [b"abcd"])
        raise FakeError(-32010, "Session failed", {"name": "SESSION_FAILED", "reason": "x"})
    f.m_raw_stream = m_raw_stream
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            st = c.read_stream("s1", 0, bytes(10), 100)
            check_eq(next(st), b"abcd", "data before the error")
            raises(errors.SessionFailed, next, st)
            raises(errors.SessionFailed, lambda: st.result)
            check_eq(c.in_flight, 0)
    finally:
        f.stop()


class FakePub:
    """An XPUB that waits for a subscription before publishing."""

    def __init__(self, endpoint):
        self.sock = zmq.Context.instance().socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)   # pass every subscription up
        self.sock.bind(endpoint)

    def wait_subscribers(self, n=1):
        got = 0
        deadline = time.monotonic() + 5
        while got < n:
            check(time.monotonic() < deadline, "no subscription")
            if self.sock.poll(100):
                msg = self.sock.recv()
                if msg[:1] == b"\x01":
                    got += 1

    def publish(self, ev):
        body = {k: v for k, v in ev.items() if k != "topic"}
        self.sock.send_multipart([ev["topic"].encode(), json.dumps(body).encode()])

    def close(self):
        self.sock.close(linger=0)


def make_ring(n, epoch="e1", first=1):
    topics = ["session.state", "daemon.metrics", "session.async"]
    return [{"topic": topics[s % 3], "seq": s, "epoch": epoch, "ts": "2026-01-01T00:00:00Z",
             "n": s} for s in range(first, first + n)]


def drain(sub, want, timeout=5):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        item = sub.get(0.1)
        if item is not None:
            out.append(item)
    return out


def t_events_gap_fill():
    f = FakeDaemon()
    pub = FakePub(f.events_endpoint)
    try:
        f.ring = make_ring(15)
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            all_sub = uiscsi.EventSubscriber(client=c, timeout=2)   # endpoint from daemon.info
            check_eq(all_sub.endpoint, f.events_endpoint)
            st_sub = uiscsi.EventSubscriber(f.events_endpoint, topics=["session.state"], client=c,
                                            since_seq=0)
            pub.wait_subscribers(2)
            dropped = {3, 4, 7, 12}
            for ev in f.ring:
                if ev["seq"] not in dropped:
                    pub.publish(ev)
                if ev["seq"] == 5:
                    pub.publish(ev)   # a duplicate
            got = drain(all_sub, 15)
            check_eq([e["seq"] for _, e in got], list(range(1, 16)), "all, in order, once")
            check_eq([t for t, _ in got], [e["topic"] for e in f.ring], "topics")
            check_eq(got[2][1], {k: v for k, v in f.ring[2].items() if k != "topic"},
                     "filled events look like published ones")
            check_eq((all_sub.filled, all_sub.duplicates, all_sub.lost), (4, 1, 0))
            check(all_sub.get(0.05) is None, "nothing more")
            got = drain(st_sub, 5)
            check_eq([e["seq"] for _, e in got], [3, 6, 9, 12, 15], "topic filter with fills")
            check(all(t == "session.state" for t, _ in got))
            check(st_sub.get(0.05) is None)
            st_sub.close()
            # since_seq: the ring first; events gone from the ring count as lost
            f.ring = make_ring(6, first=3)     # seqs 3..8; 1 and 2 are gone
            sub = uiscsi.EventSubscriber(f.events_endpoint, client=c, since_seq=0)
            pub.wait_subscribers(1)
            pub.publish(make_ring(1, first=9)[0])
            got = drain(sub, 7)
            check_eq([e["seq"] for _, e in got], [3, 4, 5, 6, 7, 8, 9])
            check_eq(sub.lost, 2)
            # a new epoch (daemon restarted) starts over
            f.ring = make_ring(3, epoch="e2")
            pub.publish(f.ring[2])
            got = drain(sub, 3)
            check_eq([(e["epoch"], e["seq"]) for _, e in got], [("e2", 1), ("e2", 2), ("e2", 3)])
            # iteration ends after the idle timeout
            t0 = time.monotonic()
            with uiscsi.EventSubscriber(f.events_endpoint, client=c, timeout=0.2) as idle:
                check_eq(list(idle), [])
            check(time.monotonic() - t0 < 2)
            sub.close()
            all_sub.close()
        check(not f.errors, f.errors)
    finally:
        pub.close()
        f.stop()


def t_asyncio_client():
    f = FakeDaemon(hold=20, shuffle=True)

    async def main():
        async with aio.AsyncClient(f.endpoint, timeout=5, max_in_flight=20) as c:
            outs = await asyncio.gather(*(c.rpc_echo(b"a%d" % i) for i in range(100)))
            check_eq(outs, [b"a%d" % i for i in range(100)])
            f.opts["hold"] = 0
            info = await c.daemon_info()
            check_eq(info["api_version"], 1)
            try:
                await c.call("fail", code=-32005, message="cc", data={"sense_key": 6})
                raise AssertionError("no error")
            except errors.ScsiCheckCondition as e:
                check_eq(e.sense_key, 6)
            try:
                await c.call("hang", timeout=0.2)
                raise AssertionError("no timeout")
            except errors.ClientTimeout:
                pass
        check(f.max_held <= 20, "in flight %d" % f.max_held)
    try:
        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        f.stop()


def t_thread_shared_client():
    f = FakeDaemon()
    try:
        with uiscsi.Client(f.endpoint, timeout=5) as c:
            bad = []

            def worker(k):
                for i in range(50):
                    v = b"%d-%d" % (k, i)
                    if c.rpc_echo(v) != v:
                        bad.append(v)
            ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(20)
            check(not any(t.is_alive() for t in ts), "threads stuck")
            check_eq(bad, [])
    finally:
        f.stop()


FAKE_TESTS = [t_endpoint_discovery, t_framing_and_attachments, t_error_mapping,
              t_pipelining_out_of_order, t_in_flight_limit, t_client_timeout, t_session_context,
              t_read_stream_window, t_read_stream_error, t_events_gap_fill, t_asyncio_client,
              t_thread_shared_client]


# ---------------------------------------------------------- (b) real daemon

class Daemon:
    def __init__(self, binary):
        self.parent = tempfile.mkdtemp(prefix="uiscsid-py-")
        self.dir = os.path.join(self.parent, "uiscsi")
        os.mkdir(self.dir, 0o700)
        self.log = open(os.path.join(self.parent, "daemon.log"), "ab")
        self.proc = subprocess.Popen([binary, "--foreground", "--runtime-dir", self.dir],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.rpc = "ipc://%s/rpc.sock" % self.dir
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.dir, "rpc.sock")):
            check(self.proc.poll() is None, "daemon exited: " + self.logtext())
            check(time.monotonic() < deadline, "daemon not ready: " + self.logtext())
            time.sleep(0.02)

    def logtext(self):
        self.log.flush()
        with open(os.path.join(self.parent, "daemon.log"), "rb") as fh:
            return fh.read()[-2000:].decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.parent, ignore_errors=True)
        return self.proc.returncode


def d_info_and_discovery(d):
    env = dict(os.environ)
    env.pop("UISCSI_RPC", None)
    env["XDG_RUNTIME_DIR"] = d.parent
    ep = uiscsi.default_endpoint(env, euid=1000)
    check_eq(ep, d.rpc, "default endpoint from XDG_RUNTIME_DIR")
    with uiscsi.Client(ep, timeout=5) as c:
        info = c.daemon_info()
        check_eq(info["pid"], d.proc.pid)
        check_eq(info["api_version"], uiscsi.API_VERSION)
        check_eq(c.max_in_flight, info["limits"]["in_flight_per_client"])
        check_eq(c.events_endpoint(), info["endpoints"]["events"])
        disc = c.rpc_discover()
        names = {m["name"] for m in disc["methods"]}
        for m in names - {"raw.stream", "raw.stream.ack"}:
            check(hasattr(uiscsi.Client, m.replace(".", "_")), "no client method for " + m)
        check("raw.stream" in names and hasattr(uiscsi.Client, "read_stream"))
        stats = c.daemon_stats()
        for k in ("commands", "bytes_in", "bytes_out", "reconnects", "errors"):
            check(k in stats, "daemon.stats lacks " + k)


def d_echo_1mib(d):
    blob = os.urandom(1 << 20)
    with uiscsi.Client(d.rpc, timeout=10) as c:
        check(c.rpc_echo(blob) == blob, "attachment both ways")
        check(c.rpc_echo(blob, data_encoding="base64") == blob, "attachment in, base64 out")
        # 1 MiB as base64 does not fit frame 0 (1 MiB): refused before sending
        e = raises(errors.LimitExceeded, c.call, "rpc.echo", data=base64.b64encode(blob).decode())
        check_eq(e.limit, "frame0_bytes")
        part = blob[:700 * 1024]
        r = c.call("rpc.echo", data=base64.b64encode(part).decode(), data_encoding="attachment")
        check(r["data"] == part and r["bytes"] == len(part), "base64 in, attachment out")
        r = c.call("rpc.echo", data=base64.b64encode(blob[:1000]).decode())
        check_eq(base64.b64decode(r["data"]), blob[:1000], "base64 both ways")
        futs = [c.submit("rpc.echo", data=b"%d" % i, data_encoding="attachment")
                for i in range(1000)]
        check_eq([r["data"] for r in c.results(futs, timeout=20)], [b"%d" % i for i in range(1000)])


def d_events(d):
    with uiscsi.Client(d.rpc, timeout=5) as c:
        with uiscsi.EventSubscriber(client=c, since_seq=0, timeout=5) as sub:
            got = drain(sub, 2, timeout=5)
            check(len(got) == 2, "events: %r" % got)
            (t1, e1), (t2, e2) = got
            check_eq((t1, e1["seq"], e1["state"]), ("daemon.state", 1, "running"),
                     "start event from the ring")
            check_eq(e2["seq"], 2)
            check(sub.filled >= 1, "gap filled from events.get")
            check_eq(e1["epoch"], e2["epoch"])
            check(e2["ts"].endswith("Z"))
            # and live events continue in order without duplicates
            more = drain(sub, 1, timeout=3)
            check(more and more[0][1]["seq"] == 3, more)
            check_eq(sub.lost, 0)


def d_typed_errors(d):
    with uiscsi.Client(d.rpc, timeout=5) as c:
        e = raises(errors.InvalidParams, c.call, "daemon.info", bogus=1)
        check(e.code == -32602 and e.param.endswith("bogus"), e)
        e = raises(errors.InvalidParams, c.events_get, "zero")
        check(e.param.endswith("since_seq"), e)
        raises(errors.MethodNotFound, c.call, "no.such_method")
        e = raises(errors.SessionNotFound, c.session_get, "nope")
        check_eq(e.session, "nope")
        raises(errors.SessionNotFound, c.scsi_read, "nope", 0, 0, 1)
        e = raises(errors.InvalidParams, c.scsi_read, "nope", 0, -1, 1)
        check(e.param.endswith("lba"), e)
        st = c.read_stream("nope", 0, bytes(16), 4096, window_bytes=4096)
        raises(errors.SessionNotFound, list, st)
        check_eq(c.in_flight, 0)
        check_eq(c.daemon_info()["api_version"], 1, "client fine after errors")


def d_asyncio(d):
    async def main():
        async with aio.AsyncClient(d.rpc, timeout=5) as c:
            outs = await asyncio.gather(*(c.rpc_echo(b"%d" % i) for i in range(300)))
            check_eq(outs, [b"%d" % i for i in range(300)])
            try:
                await c.session_get("nope")
                raise AssertionError("no error")
            except errors.SessionNotFound:
                pass
    asyncio.run(asyncio.wait_for(main(), 20))


DAEMON_TESTS = [d_info_and_discovery, d_echo_1mib, d_events, d_typed_errors, d_asyncio]


def main():
    faulthandler.dump_traceback_later(120, exit=True)
    binary = sys.argv[1] if len(sys.argv) > 1 else None
    passed = failed = 0

    def run(name, fn, *a):
        nonlocal passed, failed
        t0 = time.monotonic()
        try:
            fn(*a)
            passed += 1
            print("ok   %s (%.2f s)" % (name, time.monotonic() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s\n%s" % (name, traceback.format_exc()), flush=True)

    for t in FAKE_TESTS:
        run(t.__name__, t)
    if binary:
        d = None
        try:
            d = Daemon(os.path.abspath(binary))
            for t in DAEMON_TESTS:
                run(t.__name__, t, d)
        except Exception:
            failed += 1
            print("FAIL daemon start\n" + traceback.format_exc(), flush=True)
        finally:
            if d is not None:
                rc = d.stop()
                if rc != 0:
                    failed += 1
                    print("FAIL daemon exit status %s" % rc, flush=True)
    else:
        print("skip daemon tests (no UISCSID path given)")
    shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
