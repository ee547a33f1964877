#!/usr/bin/python3
"""End-to-end test of client death on a shared session (uiscsid against tgt).

Issue requirement: "A test with 8 processes (mixed C and Python) sharing one
session, each writing and verifying its own region concurrently, one of them
killed mid-run: the others finish with correct data, and the killed client's
pending commands are cleaned up."

It starts its own tgt lab (tests/targets/tgt-lab start PORT) and its own
uiscsid (lib_daemon.Daemon) in a private runtime dir, builds the C worker
(clients/c/tests/shared_worker.c on the C client library) with gcc, and runs
4 C and 4 Python workers (the Python client, clients/python/uiscsi) that
share ONE session: the first opens it, the others attach (share=true). Each
worker writes random data to its own LBA region in pipelined rounds (depth
writes in flight, then depth reads) and checks every byte. After about 1 s
one worker (C) is told (SIGUSR1) to submit a burst of 128 writes and a
session.open to a portal that never answers (so that a call is surely in
flight), and to stop reading replies; once daemon.stats counts that login,
it is killed with SIGKILL.

Checked: the 7 others finish with zero mismatches and zero errors; the
session's refs drop to 7 (session.get) within a bound; its in_flight returns
to 0; daemon.stats "rpc" shows nothing left in flight and counts the gone
client (clients_gone, jobs_reaped); its pending login ends without
giving it a handle; the daemon answers daemon.info. Second
test: a client that opened a session alone and is killed: the session is
logged out and removed (session.list) within a bound.

usage: test_shared_clients.py UISCSID [--port 3275]   (as root)
Prints one "ok NAME" / "FAIL NAME" line per test and ends with
"N passed, N failed" (exit status 1 when something failed). Every wait is
bounded; the whole file stays under 5 minutes.
"""
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib_daemon import ROOT, Daemon, Lab, Runner, close_all_sessions, run_tool  # noqa: E402

D = None      # the Daemon
LAB = None    # the tgt Lab
E = {}        # the lab's env
CWORKER = None  # path of the built C worker

LUN = 1         # the disk target's data LUN (512 B blocks, 256 MiB)
BLOCKS = 16     # blocks per command
DEPTH = 8       # commands in flight per phase
RUN_MS = 4000   # how long each worker does I/O
PYPATH = os.path.join(ROOT, "clients", "python")
VICTIM = 3      # the worker killed (a C worker)
BURST_LBA = 262144   # where the victim's last burst goes (away from every region)
BURST_BLOCKS = 256   # blocks per burst write (128 of them)

PY_WORKER = r"""
import json, random, sys, time
sys.path.insert(0, sys.argv[1])
import uiscsi
rpc, portal, target = sys.argv[2:5]
lun, lba, blocks, depth, duration, seed = map(int, sys.argv[5:11])
rnd = random.Random(seed)


def out(o):
    print(json.dumps(o), flush=True)


with uiscsi.Client(rpc, timeout=60) as c:
    r = c.session_open(portal, target, share=True, timeout_ms=15000)
    sid = r["session"]
    out({"open": {"session": sid, "attached": r["attached"]}})
    for _ in range(0 if r["attached"] else 5):  # the new nexus's UNIT ATTENTION
        try:
            c.scsi_test_unit_ready(sid, lun, timeout_ms=5000)
            break
        except uiscsi.UiscsiError:
            pass
    out({"ready": True})
    sys.stdin.readline()  # go
    rounds = mism = errs = 0
    end = time.monotonic() + duration / 1000.0
    n = blocks * 512
    while time.monotonic() < end and not errs:
        want = [rnd.randbytes(n) for _ in range(depth)]
        try:
            p = c.pipeline()
            for k in range(depth):
                p.scsi_write(sid, lun, lba + k * blocks, blocks, want[k])
            p.results(timeout=60)
            p = c.pipeline()
            for k in range(depth):
                p.scsi_read(sid, lun, lba + k * blocks, blocks)
            got = p.results(timeout=60)
        except Exception as e:  # counted, reported on stderr
            errs += 1
            print(repr(e), file=sys.stderr, flush=True)
            break
        mism += sum(1 for k in range(depth) if bytes(got[k]) != want[k])
        rounds += 1
        out({"round": rounds})
    out({"done": rounds, "mismatches": mism, "errors": errs})
    sys.stdin.readline()  # close
    cl = c.session_close(sid)
    out({"close": {"ok": True, "refs": cl.get("refs")}})
"""


class Worker:
    """One worker process (kind "c" or "py") with a reader thread that
    queues its JSON lines."""

    def __init__(self, kind, index, lba, seed, burst=()):
        self.kind = kind
        self.index = index
        args = [E["TGT_PORTAL"], E["TGT_IQN_DISK"], str(LUN), str(lba), str(BLOCKS),
                str(DEPTH), str(RUN_MS), str(seed), *[str(x) for x in burst]]
        if kind == "c":
            argv = [CWORKER, D.rpc, *args]
        else:
            argv = ["/usr/bin/python3", "-c", PY_WORKER, PYPATH, D.rpc, *args]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.last = {}
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"garbage": line[:200]})
        self.lines.put(None)

    def _read_err(self):
        for line in self.p.stderr:
            if len(self.err) < 50:
                self.err.append(line.rstrip())

    def name(self):
        return "%s worker %d (pid %d)" % (self.kind, self.index, self.p.pid)

    def expect(self, key, bound=30):
        """The next line with key (rounds are skipped), within bound s."""
        deadline = time.monotonic() + bound
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "%s: no %r within %d s; stderr: %s" % (self.name(), key, bound,
                                                                     self.err[-5:])
            try:
                o = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            assert o is not None, "%s exited (%s) before %r; stderr: %s" % (
                self.name(), self.p.poll(), key, self.err[-5:])
            self.last = o
            if key in o:
                return o

    def wait_rounds(self, n, bound=30):
        """Until the worker reported round n (it is doing I/O)."""
        while True:
            o = self.expect("round", bound)
            if o["round"] >= n:
                return

    def say(self, word):
        self.p.stdin.write(word + "\n")
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)


def _stop_all(workers):
    for w in workers:
        try:
            w.kill()
        except Exception:
            pass


def _wait_until(what, fn, bound):
    """Polls fn() (truthy: done) every 50 ms for bound s; returns its value."""
    deadline = time.monotonic() + bound
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("%s not within %s s (last: %r)" % (what, bound, last))


def _rpc_stats(c):
    return c.daemon_stats(timeout_ms=5000).get("rpc", {})


# The test: 8 workers (4 C, 4 Python) on one session, one killed
# with SIGKILL mid-run; the others finish byte-exact; the daemon cleans up.
def t_eight_shared_one_killed():
    c = D.client()
    workers = []
    hang = None
    try:
        before = _rpc_stats(c)
        # A portal that accepts TCP and never answers a login (no accept()).
        hang = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)
        hang_portal = "127.0.0.1:%d" % hang.getsockname()[1]
        kinds = ["py", "c"] * 4
        region = 1024 + 4096  # blocks apart (DEPTH * BLOCKS = 128 used each)
        first = Worker(kinds[0], 0, 1024, 1000)
        workers.append(first)
        o = first.expect("open")["open"]
        assert o["attached"] is False, o
        sid = o["session"]
        first.expect("ready")
        for i in range(1, 8):
            burst = (BURST_LBA, BURST_BLOCKS, hang_portal) if i == VICTIM else ()
            workers.append(Worker(kinds[i], i, 1024 + i * region, 1000 + i, burst))
        for w in workers[1:]:
            o = w.expect("open")["open"]
            assert o == {"session": sid, "attached": True}, (w.name(), o)
            w.expect("ready")
        assert c.session_get(sid)["refs"] == 8, c.session_get(sid)
        for w in workers:
            w.say("go")
        victim = workers[VICTIM]
        assert victim.kind == "c"
        t0 = time.monotonic()
        victim.wait_rounds(1)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        # SIGUSR1: it submits 128 writes of 128 KiB, then a session.open to
        # the silent portal, and stops reading replies. Once the daemon
        # counts that login (sessions 2: it waits for the portal, 3 s login
        # timeout), the victim has a call in flight for sure: SIGKILL.
        victim.p.send_signal(signal.SIGUSR1)
        burst = victim.expect("burst", bound=10)["burst"]
        assert burst > 0, burst
        _wait_until("the victim's login in flight at the daemon",
                    lambda: c.daemon_stats(timeout_ms=5000)["sessions"] == 2, 10)
        victim.kill()
        assert victim.p.returncode == -signal.SIGKILL, victim.p.returncode
        others = [w for w in workers if w is not victim]
        for w in others:
            d = w.expect("done", bound=RUN_MS / 1000.0 + 60)
            assert d["mismatches"] == 0 and d["errors"] == 0 and d["done"] > 0, (w.name(), d,
                                                                                   w.err[-5:])
        # The killed client's handle goes: refs 7; nothing of it stays in flight.
        _wait_until("refs 7", lambda: c.session_get(sid)["refs"] == 7, 10)
        _wait_until("session in_flight 0", lambda: c.session_get(sid)["in_flight"] == 0, 10)
        st = _wait_until("rpc in_flight 0",
                         lambda: (lambda s: s if s.get("in_flight") == 0 else None)(
                             _rpc_stats(c)), 10)
        assert st["clients_gone"] >= before.get("clients_gone", 0) + 1, (before, st)
        assert st["jobs_reaped"] >= before.get("jobs_reaped", 0) + 1, (before, st)
        print("  rpc after the kill: clients_gone %d, jobs_reaped %d, stale_dropped %d"
              % (st["clients_gone"], st["jobs_reaped"], st["stale_dropped"]), flush=True)
        # Its login ends (timeout) with nobody holding it: removed, no handle.
        _wait_until("the victim's login gone",
                    lambda: c.daemon_stats(timeout_ms=5000)["sessions"] == 1, 15)
        assert c.session_get(sid)["refs"] == 7
        info = c.daemon_info(timeout_ms=5000)
        assert info["pid"] and D.alive()
        # The 7 release their handles; the last one logs the session out.
        for w in others:
            w.say("close")
        for w in others:
            assert w.expect("close")["close"]["ok"] is True, w.name()
        for w in others:
            assert w.p.wait(20) == 0, (w.name(), w.p.returncode, w.err[-5:])
        _wait_until("session gone", lambda: all(
            s["session"] != sid for s in c.session_list(timeout_ms=5000)["sessions"]), 15)
    finally:
        _stop_all(workers)
        if hang is not None:
            hang.close()
        c.close()


# A client that opened a session alone and is killed: the session is logged
# out and removed within a bound; the daemon stays healthy.
def t_lone_client_killed():
    c = D.client()
    w = None
    try:
        w = Worker("py", 0, 200000, 77)
        o = w.expect("open")["open"]
        assert o["attached"] is False, o
        sid = o["session"]
        w.expect("ready")
        assert c.session_get(sid)["refs"] == 1
        w.say("go")
        w.wait_rounds(2)
        w.kill()
        _wait_until("session removed", lambda: all(
            s["session"] != sid for s in c.session_list(timeout_ms=5000)["sessions"]), 15)
        _wait_until("rpc in_flight 0", lambda: _rpc_stats(c).get("in_flight") == 0, 10)
        assert c.daemon_info(timeout_ms=5000)["pid"] and D.alive()
    finally:
        if w:
            w.kill()
        c.close()


TESTS = [t_eight_shared_one_killed, t_lone_client_killed]


def build_worker(outdir):
    """Builds clients/c/tests/shared_worker.c with the C client library."""
    exe = os.path.join(outdir, "shared_worker")
    cdir = os.path.join(ROOT, "clients", "c")
    run_tool(["gcc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-o", exe,
              os.path.join(cdir, "tests", "shared_worker.c"), os.path.join(cdir, "uiscsi.c"),
              os.path.join(cdir, "uiscsi_api.c"), "-lzmq", "-ljansson"], 120)
    return exe


def main():
    global D, LAB, E, CWORKER
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    binary = os.path.abspath(args[0])
    port = int(args[args.index("--port") + 1]) if "--port" in args else 3275
    runner = Runner(total_s=285, per_test_s=120, between=lambda: close_all_sessions(D))
    LAB = Lab("tgt", port)
    tmp = tempfile.mkdtemp(prefix="uiscsi-shared-")
    try:
        try:
            CWORKER = build_worker(tmp)
            E = LAB.start()
            D = Daemon(binary)
        except Exception as e:
            runner.fail("setup (C worker, tgt lab on port %d, daemon)" % port, repr(e))
            return runner.summary()
        for t in TESTS:
            runner.run(t.__name__, t)
        ok = D.alive()
        rc = D.stop()
        if not ok or rc != 0:
            runner.fail("daemon clean stop", "exit status %s\n%s" % (rc, D.logtext()))
    finally:
        if D and D.alive():
            D.stop()
        try:
            LAB.stop()
        except Exception as e:
            runner.fail("tgt lab stop", repr(e))
        if CWORKER and os.path.exists(CWORKER):
            os.unlink(CWORKER)
        try:
            os.rmdir(tmp)
        except OSError:
            pass
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
