#!/usr/bin/python3
"""Black-box test of uiscsid's RPC front end and event stream.

Written only against ../shared/API.md with Debian's python3-zmq: no project
code is imported, so this is what any outside client sees. Covers REQ and
DEALER clients, pipelining, every standard JSON-RPC error, batches,
notifications, id types, limits, attachments, events with gap filling, and the
daemon's lifecycle (private runtime dir, stale socket, lock, restart loop).

usage: test_daemon_rpc.py UISCSID [--cycles N]
Prints one line per test and a final "N passed, N failed".
"""
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback

import zmq

DAEMON = None
CYCLES = 100
TIMEOUT_MS = 5000
CTX = zmq.Context.instance()


class Daemon:
    """A uiscsid started in the foreground in a private runtime dir."""

    def __init__(self, extra=(), rundir=None):
        self.dir = rundir or tempfile.mkdtemp(prefix="uiscsid-test-")
        self.rpc = "ipc://%s/rpc.sock" % self.dir
        self.events = "ipc://%s/events.sock" % self.dir
        # The log lives beside the runtime dir, which the daemon creates.
        self.logpath = tempfile.mktemp(prefix="uiscsid-log-", suffix=".txt")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [DAEMON, "--foreground", "--runtime-dir", self.dir, "--rpc", self.rpc,
             "--events", self.events, "--log-level", "info", *extra],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited early with %s: %s" %
                                     (self.proc.returncode, self.logtext()))
            if os.path.exists(os.path.join(self.dir, "rpc.sock")):
                try:
                    r = call(self, "daemon.info", timeout_ms=1000)
                    if "result" in r:
                        return
                except TimeoutError:
                    pass
            time.sleep(0.02)
        raise AssertionError("daemon not ready within 10 s: " + self.logtext())

    def logtext(self):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, bound=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(bound)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("daemon did not stop within %d s" % bound)
        self.log.close()
        return self.proc.returncode


def sock(kind, endpoint):
    s = CTX.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def recv_frames(s, timeout_ms=TIMEOUT_MS):
    if not s.poll(timeout_ms):
        raise TimeoutError("no reply within %d ms" % timeout_ms)
    return s.recv_multipart()


def call(d, method, params=None, id=1, timeout_ms=TIMEOUT_MS, frames=()):
    """One request over a fresh REQ socket; returns the decoded reply."""
    s = sock(zmq.REQ, d.rpc)
    try:
        req = {"jsonrpc": "2.0", "method": method, "id": id}
        if params is not None:
            req["params"] = params
        s.send_multipart([json.dumps(req).encode(), *frames])
        reply = recv_frames(s, timeout_ms)
        return json.loads(reply[0])
    finally:
        s.close()


def raw(d, payload, frames=(), timeout_ms=TIMEOUT_MS):
    """Sends raw bytes as frame 0 over REQ; returns all reply frames."""
    s = sock(zmq.REQ, d.rpc)
    try:
        s.send_multipart([payload, *frames])
        return recv_frames(s, timeout_ms)
    finally:
        s.close()


def err(reply):
    assert "error" in reply, "expected an error, got %r" % reply
    return reply["error"]


# ------------------------------------------------------------------ tests

def t_info_req(d):
    r = call(d, "daemon.info")
    res = r["result"]
    for k in ("version", "api_version", "pid", "uptime_ms", "endpoints", "limits", "features"):
        assert k in res, "daemon.info lacks %s" % k
    assert res["api_version"] == 1
    assert res["pid"] == d.proc.pid
    assert res["endpoints"]["rpc"] == d.rpc and res["endpoints"]["events"] == d.events
    lim = res["limits"]
    assert lim["frame0_bytes"] == 1 << 20, lim
    assert lim["data_bytes"] == 64 << 20, lim
    assert lim["in_flight_per_client"] == 256, lim
    assert lim["sessions"] == 1024, lim
    assert r["id"] == 1 and r["jsonrpc"] == "2.0"


def t_info_dealer(d):
    # DEALER without an empty delimiter: the reply has none either.
    s = sock(zmq.DEALER, d.rpc)
    s.send_multipart([b'{"jsonrpc":"2.0","method":"daemon.info","id":"a"}'])
    f = recv_frames(s)
    assert len(f) == 1, f
    assert json.loads(f[0])["id"] == "a"
    # DEALER with an empty delimiter: it is echoed.
    s.send_multipart([b"", b'{"jsonrpc":"2.0","method":"daemon.info","id":"b"}'])
    f = recv_frames(s)
    assert len(f) == 2 and f[0] == b"", f
    assert json.loads(f[1])["id"] == "b"
    s.close()


def t_discover(d):
    res = call(d, "rpc.discover")["result"]
    assert res["api_version"] == 1
    names = {m["name"]: m for m in res["methods"]}
    for n in ("rpc.discover", "daemon.info", "daemon.stats", "events.get"):
        assert n in names, "rpc.discover lacks " + n
        assert isinstance(names[n]["summary"], str) and names[n]["summary"]
        assert isinstance(names[n]["params"], dict)


def t_stats(d):
    before = call(d, "daemon.stats")["result"]
    call(d, "daemon.info")
    after = call(d, "daemon.stats")["result"]
    assert isinstance(after, dict)
    for k in ("commands", "bytes_in", "bytes_out", "reconnects", "errors"):
        assert k in after, "daemon.stats lacks " + k
    assert after["rpc"]["requests"] >= before["rpc"]["requests"] + 2, (before, after)


def t_pipeline_10000(d):
    s = sock(zmq.DEALER, d.rpc)
    n = 10000
    sent = 0
    got = set()
    deadline = time.monotonic() + 60
    # Keep at most 200 in flight (the per-client limit is 256).
    while len(got) < n:
        assert time.monotonic() < deadline, "pipeline stalled at %d" % len(got)
        while sent < n and sent - len(got) < 200:
            method = ("daemon.info", "rpc.discover", "daemon.stats")[sent % 3]
            s.send(json.dumps({"jsonrpc": "2.0", "method": method, "id": sent}).encode())
            sent += 1
        f = recv_frames(s)
        r = json.loads(f[-1])
        assert "result" in r, r
        assert r["id"] not in got
        got.add(r["id"])
    assert got == set(range(n))
    s.close()


def t_in_flight_limit(d):
    # 300 requests sent at once by one DEALER: each gets an answer, a result
    # or LIMIT_EXCEEDED, and the client keeps working afterwards.
    s = sock(zmq.DEALER, d.rpc)
    for i in range(300):
        s.send(json.dumps({"jsonrpc": "2.0", "method": "rpc.discover", "id": i}).encode())
    ids = set()
    for _ in range(300):
        r = json.loads(recv_frames(s)[-1])
        ids.add(r["id"])
        if "error" in r:
            assert r["error"]["code"] == -32011, r
            assert r["error"]["data"]["name"] == "LIMIT_EXCEEDED"
    assert ids == set(range(300))
    s.send(b'{"jsonrpc":"2.0","method":"daemon.info","id":"after"}')
    assert "result" in json.loads(recv_frames(s)[-1])
    s.close()


def t_parse_error(d):
    r = json.loads(raw(d, b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')[0])
    e = err(r)
    assert e["code"] == -32700 and r["id"] is None, r
    r = json.loads(raw(d, b'\xff\xfe not utf-8')[0])
    assert err(r)["code"] == -32700


def t_invalid_request(d):
    for bad in (b'{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
                b'{"jsonrpc": "1.0", "method": "daemon.info", "id": 3}',
                b'{"method": "daemon.info", "id": 3}',
                b'"just a string"', b'42', b'[]'):
        r = json.loads(raw(d, bad)[0])
        assert err(r)["code"] == -32600, (bad, r)


def t_method_not_found(d):
    r = call(d, "no.such_method", id="x")
    assert err(r)["code"] == -32601 and r["id"] == "x"


def t_invalid_params(d):
    e = err(call(d, "daemon.info", {"bogus": 1}))
    assert e["code"] == -32602
    assert "bogus" in json.dumps(e.get("data", {})), e
    e = err(call(d, "events.get", {"since_seq": "zero"}))
    assert e["code"] == -32602
    assert "since_seq" in json.dumps(e.get("data", {})), e
    e = err(call(d, "events.get", {}))
    assert e["code"] == -32602 and "since_seq" in json.dumps(e.get("data", {})), e
    e = err(call(d, "events.get", {"since_seq": 0, "max": -5}))
    assert e["code"] == -32602 and "max" in json.dumps(e.get("data", {})), e
    r = json.loads(raw(d, b'{"jsonrpc":"2.0","method":"daemon.info","params":[1,2],"id":9}')[0])
    assert err(r)["code"] == -32602


def t_id_types(d):
    for i in ("str-id", 42, 3.5, None, -7):
        r = call(d, "daemon.info", id=i)
        assert r["id"] == i and "result" in r, (i, r)


def t_notification(d):
    s = sock(zmq.DEALER, d.rpc)
    s.send(b'{"jsonrpc":"2.0","method":"daemon.info"}')
    s.send(b'{"jsonrpc":"2.0","method":"no.such_method"}')
    s.send(b'{"jsonrpc":"2.0","method":"daemon.info","id":"only"}')
    r = json.loads(recv_frames(s)[-1])
    assert r["id"] == "only", r
    assert not s.poll(300), "a notification was answered"
    s.close()


def t_batch(d):
    batch = [
        {"jsonrpc": "2.0", "method": "daemon.info", "id": "1"},
        {"jsonrpc": "2.0", "method": "daemon.info"},
        {"jsonrpc": "2.0", "method": "events.get", "params": {"bad": 1}, "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "nope", "id": "5"},
        {"jsonrpc": "2.0", "method": "rpc.discover", "id": "9"},
    ]
    f = raw(d, json.dumps(batch).encode())
    r = json.loads(f[0])
    assert isinstance(r, list) and len(r) == 5, r
    by = {x["id"]: x for x in r if x["id"] is not None}
    assert "result" in by["1"] and "result" in by["9"]
    assert by["2"]["error"]["code"] == -32602
    assert by["5"]["error"]["code"] == -32601
    assert [x for x in r if x["id"] is None][0]["error"]["code"] == -32600
    r = json.loads(raw(d, b'[1,2,3]')[0])
    assert isinstance(r, list) and len(r) == 3 and all(x["error"]["code"] == -32600 for x in r)
    # A batch of notifications gets no reply at all.
    s = sock(zmq.DEALER, d.rpc)
    s.send(b'[{"jsonrpc":"2.0","method":"daemon.info"},{"jsonrpc":"2.0","method":"daemon.stats"}]')
    s.send(b'{"jsonrpc":"2.0","method":"daemon.info","id":"x"}')
    assert json.loads(recv_frames(s)[-1])["id"] == "x"
    assert not s.poll(300)
    s.close()


def t_frame_limit(d):
    big = b'{"jsonrpc":"2.0","method":"daemon.info","id":1,"params":{"x":"' + b"a" * (1 << 20) + b'"}}'
    r = json.loads(raw(d, big)[0])
    e = err(r)
    assert e["code"] == -32011 and e["data"]["name"] == "LIMIT_EXCEEDED", e
    assert e["data"]["limit"] in ("frame0_bytes",), e
    assert "result" in call(d, "daemon.info")


def t_echo_attachments(d):
    blob = os.urandom(100000)
    # base64 in, attachment out
    import base64
    r = call(d, "rpc.echo", {"data": base64.b64encode(blob).decode(), "data_encoding": "attachment"})
    s = sock(zmq.REQ, d.rpc)
    s.send_multipart([json.dumps({"jsonrpc": "2.0", "method": "rpc.echo", "id": 1,
                                  "params": {"data": {"$attachment": 1},
                                             "data_encoding": "attachment"}}).encode(), blob])
    f = recv_frames(s)
    s.close()
    res = json.loads(f[0])["result"]
    assert res["bytes"] == len(blob) and res["data"] == {"$attachment": 1}, res
    assert f[1] == blob
    assert r["result"]["bytes"] == len(blob)
    # attachment in, base64 out (the default)
    s = sock(zmq.REQ, d.rpc)
    s.send_multipart([json.dumps({"jsonrpc": "2.0", "method": "rpc.echo", "id": 2,
                                  "params": {"data": {"$attachment": 1}}}).encode(), blob[:999]])
    f = recv_frames(s)
    s.close()
    assert len(f) == 1
    assert base64.b64decode(json.loads(f[0])["result"]["data"]) == blob[:999]
    # an attachment index beyond the frames, and bad base64
    e = err(call(d, "rpc.echo", {"data": {"$attachment": 2}}, frames=[b"x"]))
    assert e["code"] == -32602 and "data" in json.dumps(e.get("data")), e
    e = err(call(d, "rpc.echo", {"data": "***not base64***"}))
    assert e["code"] == -32602, e


def t_hostile_client(d):
    # Garbage, truncated JSON, deep nesting and huge numbers from one client
    # while another pipelines: the other sees only its own correct answers.
    good = sock(zmq.DEALER, d.rpc)
    bad = sock(zmq.DEALER, d.rpc)
    junk = [b"", b"\x00" * 100, b"[" * 100000, b'{"jsonrpc":"2.0","method":"daemon.info","id":1e999}',
            b'{"jsonrpc":"2.0","method":"' + b"m" * 5000 + b'","id":1}', os.urandom(3000)]
    for i in range(200):
        bad.send(junk[i % len(junk)])
        good.send(json.dumps({"jsonrpc": "2.0", "method": "daemon.info", "id": i}).encode())
    ids = set()
    for _ in range(200):
        r = json.loads(recv_frames(good)[-1])
        assert "result" in r, r
        ids.add(r["id"])
    assert ids == set(range(200))
    good.close()
    bad.close()
    assert d.proc.poll() is None, "daemon died"


def t_events_and_gap(d):
    sub = sock(zmq.SUB, d.events)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    # The daemon.state "start" event was published before we subscribed: it
    # is the gap. Wait for a live event (daemon.metrics), then fill the gap.
    deadline = time.monotonic() + 10
    live = None
    while time.monotonic() < deadline:
        if sub.poll(500):
            topic, body = sub.recv_multipart()
            ev = json.loads(body)
            for k in ("seq", "epoch", "ts"):
                assert k in ev, (topic, ev)
            assert ev["ts"].endswith("Z") and "T" in ev["ts"], ev["ts"]
            live = (topic.decode(), ev)
            break
    assert live, "no event within 10 s"
    res = call(d, "events.get", {"since_seq": 0})["result"]
    evs = res["events"]
    seqs = [e["seq"] for e in evs]
    assert seqs == sorted(seqs) and seqs[0] == 1, seqs[:5]
    assert seqs == list(range(1, len(seqs) + 1)), "ring has a hole"
    assert evs[0]["topic"] == "daemon.state" and evs[0]["state"] == "running", evs[0]
    assert res["last_seq"] >= live[1]["seq"]
    assert live[1]["seq"] in seqs
    assert all(e["epoch"] == live[1]["epoch"] for e in evs)
    # since_seq is exclusive and max bounds the answer.
    r2 = call(d, "events.get", {"since_seq": 1, "max": 1})["result"]
    assert [e["seq"] for e in r2["events"]] == [2] or r2["events"] == [], r2
    sub.close()


def t_topic_subscribers(d):
    # Per-command and per-PDU events are produced only while someone
    # subscribes: the daemon tracks XPUB subscriptions per topic.
    sub = sock(zmq.SUB, d.events)
    sub.setsockopt(zmq.SUBSCRIBE, b"pdu")
    deadline = time.monotonic() + 5
    n = 0
    while time.monotonic() < deadline:
        n = call(d, "daemon.stats")["result"]["events"]["subscribers"].get("pdu", 0)
        if n >= 1:
            break
        time.sleep(0.05)
    assert n >= 1, "pdu subscription not seen"
    sub.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        n = call(d, "daemon.stats")["result"]["events"]["subscribers"].get("pdu", 0)
        if n == 0:
            break
        time.sleep(0.05)
    assert n == 0, "pdu subscription not released"


TESTS_ONE_DAEMON = [t_info_req, t_info_dealer, t_discover, t_stats, t_pipeline_10000,
                    t_in_flight_limit, t_parse_error, t_invalid_request, t_method_not_found,
                    t_invalid_params, t_id_types, t_notification, t_batch, t_frame_limit,
                    t_echo_attachments, t_hostile_client, t_events_and_gap, t_topic_subscribers]


def t_runtime_dir_private():
    parent = tempfile.mkdtemp(prefix="uiscsid-rd-")
    rd = os.path.join(parent, "uiscsi")
    d = Daemon(rundir=rd)
    try:
        mode = stat.S_IMODE(os.stat(rd).st_mode)
        assert mode == 0o700, oct(mode)
    finally:
        assert d.stop() == 0


def t_stale_socket_and_lock():
    d = Daemon()
    rundir = d.dir
    # A second daemon on the same runtime dir must not steal the live one.
    p = subprocess.run([DAEMON, "--foreground", "--runtime-dir", rundir,
                        "--rpc", d.rpc, "--events", d.events],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    assert p.returncode != 0, "second daemon started"
    assert b"running" in p.stderr or b"lock" in p.stderr, p.stderr
    assert "result" in call(d, "daemon.info")
    # Killed hard: the socket stays behind; a new daemon cleans it up.
    d.stop(signal.SIGKILL)
    assert os.path.exists(os.path.join(rundir, "rpc.sock"))
    d2 = Daemon(rundir=rundir)
    assert "result" in call(d2, "daemon.info")
    assert d2.stop() == 0
    assert not os.path.exists(os.path.join(rundir, "rpc.sock")), "socket left after clean stop"


def t_version_help():
    p = subprocess.run([DAEMON, "--version"], capture_output=True, timeout=10)
    assert p.returncode == 0 and p.stdout.strip(), p
    p = subprocess.run([DAEMON, "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"--rpc" in p.stdout and b"--events" in p.stdout, p
    p = subprocess.run([DAEMON, "--no-such-flag"], capture_output=True, timeout=10)
    assert p.returncode != 0 and p.stderr, p


def t_config_file():
    rd = tempfile.mkdtemp(prefix="uiscsid-cfg-")
    cfg = os.path.join(rd, "conf.json")
    with open(cfg, "w") as f:
        json.dump({"log_level": "debug", "limits": {"sessions": 7}}, f)
    d = Daemon(extra=["--config", cfg], rundir=rd)
    try:
        assert call(d, "daemon.info")["result"]["limits"]["sessions"] == 7
    finally:
        assert d.stop() == 0
    with open(cfg, "w") as f:
        f.write('{"log_level": "loud"}')
    p = subprocess.run([DAEMON, "--foreground", "--config", cfg, "--runtime-dir", rd],
                       capture_output=True, timeout=10)
    assert p.returncode != 0 and b"log_level" in p.stderr, p.stderr


def t_restart_cycles():
    rd = tempfile.mkdtemp(prefix="uiscsid-cyc-")
    t0 = time.monotonic()
    for i in range(CYCLES):
        d = Daemon(rundir=rd)
        r = call(d, "daemon.info")
        assert "result" in r
        # Ask for its fds and threads while it runs: bounded, not growing.
        rc = d.stop()
        assert rc == 0, "cycle %d: exit status %s\n%s" % (i, rc, d.logtext())
        assert not os.path.exists(os.path.join(rd, "rpc.sock"))
        assert not os.path.exists(os.path.join(rd, "events.sock"))
    print("  %d start/stop cycles in %.1f s" % (CYCLES, time.monotonic() - t0))


def main():
    global DAEMON, CYCLES
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    DAEMON = os.path.abspath(args[0])
    if "--cycles" in args:
        CYCLES = int(args[args.index("--cycles") + 1])
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

    d = None
    try:
        d = Daemon()
        for t in TESTS_ONE_DAEMON:
            run(t.__name__, t, d)
    except Exception:
        failed += 1
        print("FAIL daemon start\n" + traceback.format_exc())
    finally:
        if d:
            rc = d.stop()
            if rc != 0:
                failed += 1
                print("FAIL clean stop: exit status %s\n%s" % (rc, d.logtext()))
    for t in (t_version_help, t_runtime_dir_private, t_stale_socket_and_lock, t_config_file,
              t_restart_cycles):
        run(t.__name__, t)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
