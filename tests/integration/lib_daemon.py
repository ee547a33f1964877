"""Shared helpers of the black-box iSCSI integration suites.

Written only against ../shared/API.md (the RPC contract), docs/api.md (the
method reference) and tests/targets/README.md (the labs). It starts uiscsid
in a private runtime dir (like test_daemon_rpc.py), starts and stops the tgt
and istgt labs through their scripts, runs tests with a per-test time bound,
and has small SCSI helpers (sense parsing, UNIT ATTENTION absorption, random
data integrity). The daemon is reached through the project's Python client
(clients/python/uiscsi), nothing else from the project is imported.

Run `/usr/bin/python3 tests/integration/lib_daemon.py` for the self-check of
the pure helpers.
"""
import base64
import errno
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import zmq  # noqa: E402

import uiscsi  # noqa: E402,F401
from uiscsi import (AuthFailed, ClientTimeout, LoginFailed, ScsiCheckCondition,  # noqa: E402,F401
                    SessionNotFound, TmfFailed, TransportError, UiscsiError)

TGT_LAB = os.path.join(ROOT, "tests", "targets", "tgt-lab")
ISTGT_LAB = os.path.join(ROOT, "tests", "targets", "istgt-lab")

# SCSI sense keys (SPC-4 table 48).
SK_NO_SENSE = 0x0
SK_NOT_READY = 0x2
SK_ILLEGAL_REQUEST = 0x5
SK_UNIT_ATTENTION = 0x6
SK_DATA_PROTECT = 0x7
SK_MISCOMPARE = 0xE
SK_NAMES = {0x0: "NO SENSE", 0x1: "RECOVERED ERROR", 0x2: "NOT READY", 0x3: "MEDIUM ERROR",
            0x4: "HARDWARE ERROR", 0x5: "ILLEGAL REQUEST", 0x6: "UNIT ATTENTION",
            0x7: "DATA PROTECT", 0x8: "BLANK CHECK", 0x9: "VENDOR SPECIFIC",
            0xA: "COPY ABORTED", 0xB: "ABORTED COMMAND", 0xD: "VOLUME OVERFLOW",
            0xE: "MISCOMPARE", 0xF: "COMPLETED"}

KiB = 1024
MiB = 1024 * 1024


# ------------------------------------------------------------------ daemon

class Daemon:
    """A uiscsid started in the foreground in a private runtime dir, with its
    log in a temp file (env: variables added to the daemon's environment).
    stop() sends SIGTERM and waits (bounded)."""

    def __init__(self, binary, extra=(), rundir=None, ready_s=10, env=None):
        self.binary = binary
        self.dir = rundir or tempfile.mkdtemp(prefix="uiscsid-it-")
        self.rpc = "ipc://%s/rpc.sock" % self.dir
        self.events = "ipc://%s/events.sock" % self.dir
        fd, self.logpath = tempfile.mkstemp(prefix="uiscsid-it-log-", suffix=".txt")
        os.close(fd)
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [binary, "--foreground", "--runtime-dir", self.dir, "--rpc", self.rpc,
             "--events", self.events, "--log-level", "debug", *extra],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=dict(os.environ, **env) if env else None)
        self._wait_ready(ready_s)

    def _wait_ready(self, bound):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited early with %s: %s" %
                                     (self.proc.returncode, self.logtext()))
            if os.path.exists(os.path.join(self.dir, "rpc.sock")):
                c = self.client(timeout=1)
                try:
                    c.daemon_info()
                    return
                except UiscsiError:
                    pass
                finally:
                    c.close()
            time.sleep(0.02)
        raise AssertionError("daemon not ready within %d s: %s" % (bound, self.logtext()))

    def client(self, timeout=30.0, **kw):
        """A new uiscsi.Client on this daemon (client-side wait `timeout` s)."""
        return uiscsi.Client(self.rpc, timeout=timeout, **kw)

    def alive(self):
        return self.proc.poll() is None

    def logtext(self, tail=3000):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            data = f.read()
        return data[-tail:].decode(errors="replace") if tail else data.decode(errors="replace")

    def stop(self, bound=10):
        """SIGTERM, wait at most `bound` s (then SIGKILL); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(bound)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.log.close()
                raise AssertionError("daemon did not stop within %d s" % bound)
        self.log.close()
        return self.proc.returncode


def close_all_sessions(d):
    """Force-closes every session the daemon lists (test isolation). Bounded;
    errors are ignored (the methods may not exist yet)."""
    c = d.client(timeout=10)
    try:
        for s in c.session_list(timeout=5).get("sessions", [])[:64]:
            try:
                c.session_close(s["session"], force=True, timeout=10)
            except UiscsiError:
                pass
    except UiscsiError:
        pass
    finally:
        c.close()


# ------------------------------------------------------------------ labs

def run_tool(argv, bound=30, env=None, check=True):
    """Runs an external tool under `timeout -k 5 bound`; returns the
    CompletedProcess (stdout/stderr as text)."""
    p = subprocess.run(["timeout", "-k", "5", str(bound), *argv], capture_output=True,
                       text=True, env=env, timeout=bound + 15)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s %s" % (" ".join(argv), p.returncode,
                                                        p.stdout[-1500:], p.stderr[-1500:]))
    return p


def parse_env(text):
    """Parses `export K=V` lines (shell quoting) into a dict."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        words = shlex.split(line[len("export "):])
        for w in words:
            if "=" in w:
                k, v = w.split("=", 1)
                env[k] = v
    return env


class Lab:
    """A tgt or istgt lab on one port, started and stopped through its script.
    A lab that was already running is reused and left running."""

    def __init__(self, kind, port):
        assert kind in ("tgt", "istgt")
        self.kind = kind
        self.port = port
        self.script = TGT_LAB if kind == "tgt" else ISTGT_LAB
        self.env = {}
        self.ours = False

    def status(self):
        return run_tool([self.script, "status", str(self.port)], 20, check=False).returncode

    def start(self):
        if self.status() == 0:
            print("  note: %s lab on port %d already running: reusing it, not stopping it"
                  % (self.kind, self.port), flush=True)
        else:
            run_tool([self.script, "start", str(self.port)], 60)
            self.ours = True
        self.env = parse_env(run_tool([self.script, "env", str(self.port)], 20).stdout)
        return self.env

    def stop(self):
        if self.ours:
            self.ours = False
            run_tool([self.script, "stop", str(self.port)], 60)

    def tgtadm(self, *args, bound=15):
        """Runs tgtadm on this lab's private control socket."""
        assert self.kind == "tgt"
        env = dict(os.environ, TGT_IPC_SOCKET=self.env["TGT_IPC_SOCKET"])
        return run_tool(["tgtadm", "-C", "0", "--lld", "iscsi", *args], bound, env=env).stdout

    def target_params(self, tid):
        """The target's current login parameters (tgtadm --op show)."""
        out = self.tgtadm("--mode", "target", "--op", "show", "--tid", str(tid))
        return dict(line.strip().split("=", 1) for line in out.splitlines() if "=" in line)

    def target_update(self, tid, key, value):
        """Changes one login parameter of a target (new sessions only)."""
        self.tgtadm("--mode", "target", "--op", "update", "--tid", str(tid), "--name", key,
                    "--value", str(value))


# ------------------------------------------------------------------ runner

class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test time bound exceeded")


class Runner:
    """Runs tests one by one, each bounded by SIGALRM, the whole run bounded
    by `total_s`; prints "ok name" / "FAIL name" and the final tally."""

    def __init__(self, total_s=285, per_test_s=60, between=None):
        self.passed = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.total_s = total_s
        self.per_test_s = per_test_s
        self.between = between
        signal.signal(signal.SIGALRM, _alarm)

    def run(self, name, fn, *args, bound=None):
        left = self.total_s - (time.monotonic() - self.t0)
        if left < 5:
            self.failed += 1
            print("FAIL %s (not run: the file's time budget is spent)" % name, flush=True)
            return False
        t0 = time.monotonic()
        ok = False
        signal.alarm(max(1, int(min(bound or self.per_test_s, left))))
        try:
            fn(*args)
            ok = True
        except BaseException as e:  # noqa: B902 (a test failure, including our alarm)
            if isinstance(e, KeyboardInterrupt):
                raise
            tb = traceback.format_exc()
        finally:
            signal.alarm(0)
        dt = time.monotonic() - t0
        if ok:
            self.passed += 1
            print("ok   %s (%.2f s)" % (name, dt), flush=True)
        else:
            self.failed += 1
            print("FAIL %s (%.2f s)\n%s" % (name, dt, _indent(tb)), flush=True)
        if self.between:
            try:
                self.between()
            except Exception:
                pass
        return ok

    def fail(self, name, why):
        self.failed += 1
        print("FAIL %s\n%s" % (name, _indent(why)), flush=True)

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


def _indent(text, limit=4000):
    text = text if len(text) <= limit else "...\n" + text[-limit:]
    return "\n".join("    " + line for line in text.rstrip().splitlines())


# ------------------------------------------------------------------ events

class EventRecorder:
    """Subscribes to every topic of the daemon's PUB socket in a thread and
    keeps every (topic, body) frame pair, for later greps and checks."""

    def __init__(self, endpoint, topics=("",)):
        self.frames = []
        self._stop = threading.Event()
        self._sock = zmq.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        for t in topics:
            self._sock.setsockopt(zmq.SUBSCRIBE, t.encode())
        self._sock.connect(endpoint)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            if self._sock.poll(100):
                for _ in range(1000):
                    try:
                        f = self._sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.frames.append(f)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self._sock.close(0)

    def blob(self):
        return b"\n".join(b"\t".join(f) for f in self.frames)


def events_since(client, since_seq, topic=None, max_rounds=20):
    """Every event in the daemon's ring after since_seq (events.get, paged),
    optionally only one topic."""
    out = []
    for _ in range(max_rounds):
        r = client.events_get(since_seq, max=1000, timeout=10)
        evs = r.get("events") or []
        if not evs:
            break
        out.extend(evs)
        since_seq = evs[-1]["seq"]
        if since_seq >= r.get("last_seq", since_seq):
            break
    return [e for e in out if topic is None or e.get("topic") == topic]


def last_seq(client):
    return client.events_get(0, max=1, timeout=10).get("last_seq", 0)


# ------------------------------------------------------------------ errors

def expect_error(cls, fn, *args, **kw):
    """Calls fn and returns the exception, which must be an instance of cls
    (a uiscsi error class) whose data.name matches the class's name."""
    try:
        r = fn(*args, **kw)
    except cls as e:
        if getattr(cls, "code", None) is not None and e.code is not None:
            assert e.code == cls.code, "code %r, expected %r: %r" % (e.code, cls.code, e)
            assert e.data.get("name") == cls.name, "data.name %r, expected %r" % (
                e.data.get("name"), cls.name)
        return e
    except UiscsiError as e:
        raise AssertionError("expected %s, got %r" % (cls.__name__, e)) from None
    raise AssertionError("expected %s, got the result %r" % (cls.__name__, _short(r)))


def _short(v, n=300):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


def sk_name_ok(name, key):
    """The contract does not fix the spelling of sense_key_name: accept the
    SPC name with spaces or underscores, in any case."""
    return isinstance(name, str) and \
        name.upper().replace("_", " ").strip() == SK_NAMES.get(key, "?")


def check_cc(e, key, asc=None, ascq=None):
    """e is a SCSI_CHECK_CONDITION error with this sense key (and asc/ascq);
    also checks the sense bytes agree with the parsed fields."""
    assert isinstance(e, ScsiCheckCondition), repr(e)
    d = e.data
    for k in ("status", "sense_key", "sense_key_name", "asc", "ascq", "description",
              "information", "sense"):
        assert k in d, "SCSI_CHECK_CONDITION data lacks %r: %r" % (k, d)
    assert d["status"] == 0x02, d
    assert d["sense_key"] == key, "sense key %r, expected %#x: %r" % (d["sense_key"], key, d)
    assert sk_name_ok(d["sense_key_name"], key), d
    if asc is not None:
        assert d["asc"] == asc, "asc %r, expected %#x: %r" % (d["asc"], asc, d)
    if ascq is not None:
        assert d["ascq"] == ascq, "ascq %r, expected %#x: %r" % (d["ascq"], ascq, d)
    ps = parse_sense(bytes.fromhex(d["sense"]))
    assert ps is not None and ps[:3] == (d["sense_key"], d["asc"], d["ascq"]), (ps, d)


def parse_sense(b):
    """(sense_key, asc, ascq) of fixed (0x70/0x71) or descriptor (0x72/0x73)
    sense data, or None when too short or unknown."""
    if len(b) < 1:
        return None
    code = b[0] & 0x7F
    if code in (0x70, 0x71):
        if len(b) < 14:
            return None if len(b) < 3 else (b[2] & 0x0F, 0, 0)
        return (b[2] & 0x0F, b[12], b[13])
    if code in (0x72, 0x73):
        if len(b) < 4:
            return None
        return (b[1] & 0x0F, b[2], b[3])
    return None


def absorb_ua(s, lun):
    """The first command of a new I_T nexus to a LUN gets UNIT ATTENTION
    29/00 from tgt. Typed methods may retry it once: the first
    test_unit_ready may succeed or fail with exactly that; the second must
    succeed."""
    try:
        s.test_unit_ready(lun)
    except ScsiCheckCondition as e:
        check_cc(e, SK_UNIT_ATTENTION, 0x29)
    s.test_unit_ready(lun)


def yes(v):
    """A negotiated boolean key as given by the daemon ("Yes"/"No" or a bool)."""
    if isinstance(v, bool):
        return v
    assert isinstance(v, str) and v in ("Yes", "No"), "not a boolean key value: %r" % (v,)
    return v == "Yes"


def num(v):
    """A negotiated numerical key (an integer, or its decimal string)."""
    if isinstance(v, bool):
        raise AssertionError("not a number: %r" % (v,))
    if isinstance(v, int):
        return v
    assert isinstance(v, str) and v.isdigit(), "not a number: %r" % (v,)
    return int(v)


# ------------------------------------------------------------------ data

def boundary_sizes(block, bounds, lo=512, hi=16 * MiB, extra=()):
    """Transfer sizes in bytes: lo, hi, and one block below, at and above
    each bound, plus extra; only multiples of block within [lo, hi]."""
    out = {lo, hi, *extra}
    for b in bounds:
        out.update((b - block, b, b + block))
    return sorted(x for x in out if lo <= x <= hi and x % block == 0 and x > 0)


def first_diff(a, b):
    """Offset of the first differing byte (or of the length mismatch), None if equal."""
    if a == b:
        return None
    n = min(len(a), len(b))
    lo, hi = 0, n
    # a binary search over memoryview slices keeps this O(log n) compares
    ma, mb = memoryview(a), memoryview(b)
    if ma[:n] == mb[:n]:
        return n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ma[lo:mid] != mb[lo:mid]:
            hi = mid
        else:
            lo = mid
    return lo


def read_b64(c, sid, lun, lba, blocks):
    """scsi.read with base64 results (the daemon's default encoding)."""
    r = c.call("scsi.read", session=sid, lun=lun, lba=lba, blocks=blocks)
    assert isinstance(r.get("data"), str), "base64 read: data is %r" % type(r.get("data"))
    data = base64.b64decode(r["data"], validate=True)
    assert r["bytes"] == len(data), (r["bytes"], len(data))
    return data


def read_att(c, sid, lun, lba, blocks):
    """scsi.read with the data as an attachment; checks "bytes"."""
    r = c.call("scsi.read", session=sid, lun=lun, lba=lba, blocks=blocks,
               data_encoding="attachment")
    data = r["data"]
    assert isinstance(data, (bytes, bytearray, memoryview)), type(data)
    assert r["bytes"] == len(data), (r["bytes"], len(data))
    return bytes(data)


def write_b64(c, sid, lun, lba, blocks, data):
    r = c.call("scsi.write", session=sid, lun=lun, lba=lba, blocks=blocks,
               data=base64.b64encode(data).decode())
    assert r == {"bytes": len(data)} or r.get("bytes") == len(data), r
    return r


def write_att(c, sid, lun, lba, blocks, data, **kw):
    r = c.call("scsi.write", session=sid, lun=lun, lba=lba, blocks=blocks, data=data, **kw)
    assert r.get("bytes") == len(data), r
    return r


def integrity(c, sid, lun, block, sizes, base_lba=0, gap_blocks=8, b64_max=256 * KiB):
    """Writes fresh random data of each size at its own region (after
    base_lba), reads it back and compares byte for byte. Small sizes also go
    through base64 both ways. Returns the list of (size, offset) mismatches
    (empty is success) and the next free lba."""
    bad = []
    lba = base_lba
    for i, n in enumerate(sizes):
        blocks = n // block
        data = os.urandom(n)
        if n <= b64_max and i % 2 == 0:
            write_b64(c, sid, lun, lba, blocks, data)
        else:
            write_att(c, sid, lun, lba, blocks, data)
        back = read_att(c, sid, lun, lba, blocks)
        off = first_diff(data, back)
        if off is not None:
            bad.append((n, off))
        if n <= b64_max:
            off = first_diff(data, read_b64(c, sid, lun, lba, blocks))
            if off is not None:
                bad.append((n, "base64", off))
        lba += blocks + gap_blocks
    return bad, lba


# ------------------------------------------------------------------ self-check

def _selfcheck():
    assert parse_sense(bytes.fromhex("700006000000000a0000000029000000000000")) == (6, 0x29, 0)
    assert parse_sense(bytes.fromhex("72062900000000")) == (6, 0x29, 0)
    assert parse_sense(b"\x70\x00\x05") == (5, 0, 0)
    assert parse_sense(b"") is None and parse_sense(b"\x00" * 20) is None
    assert sk_name_ok("UNIT ATTENTION", 6) and sk_name_ok("unit_attention", 6)
    assert not sk_name_ok("ILLEGAL REQUEST", 6) and not sk_name_ok(None, 6)
    assert yes("Yes") and not yes("No") and yes(True) and not yes(False)
    for bad in ("yes", 1, None):
        try:
            yes(bad)
            raise RuntimeError("yes(%r) accepted" % (bad,))
        except AssertionError:
            pass
    assert num(8192) == 8192 and num("65536") == 65536
    s = boundary_sizes(512, [8192, 65536, 262144])
    for x in (512, 7680, 8192, 8704, 65024, 65536, 66048, 261632, 262144, 262656, 16 * MiB):
        assert x in s, x
    assert s == sorted(set(s)) and all(x % 512 == 0 for x in s)
    assert boundary_sizes(4096, [4096]) == [4096, 8192, 16 * MiB]
    assert first_diff(b"abc", b"abc") is None
    assert first_diff(b"abcdef", b"abcxef") == 3
    assert first_diff(b"abc", b"ab") == 2
    big = bytearray(os.urandom(1 << 20))
    other = bytearray(big)
    other[777777] ^= 1
    assert first_diff(bytes(big), bytes(other)) == 777777
    env = parse_env("export A=1\nexport B='x y'\nexport C=a%b@c\nnoise\n")
    assert env == {"A": "1", "B": "x y", "C": "a%b@c"}, env
    e = ScsiCheckCondition("x", code=-32005, data={
        "name": "SCSI_CHECK_CONDITION", "status": 2, "sense_key": 5, "sense_key_name":
        "ILLEGAL REQUEST", "asc": 0x20, "ascq": 0, "description": "d", "information": 0,
        "sense": "70000500000000000000000020000000"})
    check_cc(e, SK_ILLEGAL_REQUEST, 0x20, 0)
    try:
        check_cc(e, SK_ILLEGAL_REQUEST, 0x24, 0)
        raise RuntimeError("check_cc accepted a wrong asc")
    except AssertionError:
        pass
    err = expect_error(TransportError, _raise, TransportError(
        "t", code=-32002, data={"name": "TRANSPORT_ERROR", "op": "connect",
                                "errno": errno.ECONNREFUSED}))
    assert err.op == "connect"
    try:
        expect_error(LoginFailed, _raise, TransportError("t", code=-32002, data={}))
        raise RuntimeError("expect_error accepted the wrong class")
    except AssertionError:
        pass
    try:
        expect_error(LoginFailed, lambda: {"ok": 1})
        raise RuntimeError("expect_error accepted a result")
    except AssertionError:
        pass
    # The runner's time bound interrupts a blocked test.
    r = Runner(total_s=30, per_test_s=1)
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        r.run("sleepy", time.sleep, 5)
        r.run("fine", lambda: None)
        rc = r.summary()
    out = buf.getvalue()
    assert "FAIL sleepy" in out and "TestTimeout" in out and "ok   fine" in out, out
    assert out.rstrip().endswith("1 passed, 1 failed") and rc == 1, out
    print("lib_daemon self-check: ok")


def _raise(e):
    raise e


if __name__ == "__main__":
    _selfcheck()


def run_lab_suite(g, tests, kind, default_port, total_s, per_test_s):
    """The main() of a suite against one lab: starts the lab of `kind`
    ("tgt" or "istgt") on --port (default_port) and a daemon (argv[1]),
    publishes them as D, LAB and E in the suite's globals `g`, runs `tests`
    (--only SUBSTR picks some), stops both, and returns the exit status."""
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(g.get("__doc__"))
        return 2
    binary = os.path.abspath(args[0])
    port = int(args[args.index("--port") + 1]) if "--port" in args else default_port
    only = args[args.index("--only") + 1] if "--only" in args else None
    runner = Runner(total_s=total_s, per_test_s=per_test_s,
                    between=lambda: close_all_sessions(g["D"]))
    lab = g["LAB"] = Lab(kind, port)
    g["D"] = None
    try:
        try:
            g["E"] = lab.start()
            g["D"] = Daemon(binary)
        except Exception as e:
            runner.fail("setup (%s lab on port %d, daemon)" % (kind, port), repr(e))
            return runner.summary()
        for t in tests:
            if only and only not in t.__name__:
                continue
            runner.run(t.__name__, t)
        d = g["D"]
        ok = d.alive()
        rc = d.stop()
        if not ok or rc != 0:
            runner.fail("daemon clean stop", "exit status %s\n%s" % (rc, d.logtext()))
    finally:
        d = g.get("D")
        if d and d.alive():
            d.stop()
        try:
            lab.stop()
        except Exception as e:
            runner.fail("%s lab stop" % kind, repr(e))
    return runner.summary()
