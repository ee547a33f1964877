#!/usr/bin/python3
"""Black-box tests of uiscsictl (clients/cli) against uiscsid and the tgt lab.

Usage (as root, for the lab):
    /usr/bin/python3 clients/cli/tests/test_uiscsictl.py UISCSID [UISCSICTL]

UISCSICTL defaults to $UISCSICTL, else `uiscsictl` next to UISCSID. The test
starts its own daemon (--foreground, private runtime dir) and a tgt lab on
port 3268 (`tests/targets/tgt-lab start 3268`, stopped at the end), then runs
every subcommand through the program, checks --json fields, exit statuses,
the man page against --help, and the terminal behaviour (progress bar and
top under a pseudo-terminal, none without one). Every wait is bounded.
Prints one line per test and ends with "N passed, N failed".
"""
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
TGT_LAB = os.path.join(ROOT, "tests", "targets", "tgt-lab")
MANPAGE = os.path.join(ROOT, "docs", "uiscsictl.1")
PORT = 3268
MiB = 1024 * 1024

if len(sys.argv) < 2:
    sys.stderr.write("usage: test_uiscsictl.py UISCSID [UISCSICTL]\n")
    sys.exit(2)
UISCSID = os.path.abspath(sys.argv[1])
CTL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                      os.environ.get("UISCSICTL",
                                     os.path.join(os.path.dirname(UISCSID), "uiscsictl")))

TMP = tempfile.mkdtemp(prefix="uiscsictl-test-")
RUNDIR = os.path.join(TMP, "run")
ENDPOINT = "ipc://%s/rpc.sock" % RUNDIR
LAB = {}          # tgt-lab env
STATE = {}        # session ids shared between tests
RESULTS = {"passed": 0, "failed": 0, "skipped": 0}


# ------------------------------------------------------------------ helpers

def ctl(*args, stdin=None, input_bytes=None, timeout=60, env=None, endpoint=True):
    """Runs uiscsictl with args; returns (status, stdout bytes, stderr text)."""
    argv = [CTL] + (["--endpoint", ENDPOINT] if endpoint else []) + [str(a) for a in args]
    p = subprocess.run(argv, stdin=stdin if stdin is not None else
                       (None if input_bytes is not None else subprocess.DEVNULL),
                       input=input_bytes, capture_output=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def ok(*args, **kw):
    """Runs uiscsictl; asserts exit status 0; returns stdout as text."""
    st, out, err = ctl(*args, **kw)
    assert st == 0, "uiscsictl %s: status %d, stderr %r" % (" ".join(map(str, args)), st, err)
    return out.decode(errors="replace")


def ok_json(*args, **kw):
    """Runs uiscsictl --json ...; returns the parsed result."""
    return json.loads(ok("--json", *args, **kw))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run_pty(argv, bound, feed=None, feed_after=None, cols=120, rows=30):
    """Runs argv with stdin/stdout/stderr on a pseudo-terminal; returns
    (status, output text). feed: bytes written once feed_after (a substring)
    appeared in the output. Kills the process past `bound` seconds."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                         start_new_session=True)
    os.close(slave)
    buf = b""
    fed = False
    deadline = time.monotonic() + bound
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk and p.poll() is not None:
                    break
                buf += chunk
            elif p.poll() is not None:
                break
            if feed and not fed and feed_after.encode() in buf:
                os.write(master, feed)
                fed = True
        if p.poll() is None:
            p.kill()
            p.wait(5)
            raise AssertionError("%s did not end within %d s; output %r" %
                                 (" ".join(argv), bound, buf[-500:]))
    finally:
        os.close(master)
    return p.returncode, buf.decode(errors="replace")


def test(fn):
    """Runs one test function; prints ok/FAIL/skip."""
    name = fn.__name__
    t0 = time.monotonic()
    try:
        fn()
        RESULTS["passed"] += 1
        print("ok   %-32s %.2f s" % (name, time.monotonic() - t0), flush=True)
    except SkipTest as e:
        RESULTS["skipped"] += 1
        print("skip %-32s %s" % (name, e), flush=True)
    except Exception:
        RESULTS["failed"] += 1
        print("FAIL %-32s\n%s" % (name, traceback.format_exc()), flush=True)


class SkipTest(Exception):
    pass


def need_lab():
    if not LAB:
        raise SkipTest("no tgt lab (needs root and tgtd)")


def help_commands():
    """The subcommands listed by `uiscsictl --help`."""
    text = ok("--help", endpoint=False)
    cmds = []
    section = False
    for line in text.splitlines():
        if line.startswith("Commands:"):
            section = True
            continue
        if section:
            if not line.strip():
                break
            cmds.append(line.split()[0])
    return cmds


# ------------------------------------------------------------------ daemon and lab

class Daemon:
    def __init__(self):
        os.makedirs(RUNDIR, mode=0o700)
        self.log = open(os.path.join(TMP, "uiscsid.log"), "wb")
        self.proc = subprocess.Popen([UISCSID, "--foreground", "--runtime-dir", RUNDIR,
                                      "--log-level", "info"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        for _ in range(200):
            if self.proc.poll() is not None:
                raise AssertionError("uiscsid exited with %d" % self.proc.returncode)
            if os.path.exists(os.path.join(RUNDIR, "rpc.sock")):
                st, _, _ = ctl("info", timeout=10)
                if st == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("uiscsid not ready within 10 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


def lab_start():
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/tgtd"):
        print("# no tgt lab: needs root and /usr/sbin/tgtd; lab tests are skipped")
        return
    subprocess.run(["timeout", "-k", "5", "60", TGT_LAB, "start", str(PORT)], check=True,
                   capture_output=True, timeout=80)
    out = subprocess.run(["timeout", "-k", "5", "30", TGT_LAB, "env", str(PORT)], check=True,
                         capture_output=True, text=True, timeout=40).stdout
    for line in out.splitlines():
        m = re.match(r"export (\w+)=(.*)$", line)
        if m:
            v = m.group(2)
            if len(v) >= 2 and v[0] == v[-1] == "'":
                v = v[1:-1]
            LAB[m.group(1)] = v


def lab_stop():
    if LAB:
        subprocess.run(["timeout", "-k", "5", "60", TGT_LAB, "stop", str(PORT)],
                       capture_output=True, timeout=80)


def secret_file(name, text, mode=0o600):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


# ------------------------------------------------------------------ tests: no daemon needed

def test_version_and_help():
    out = ok("--version", endpoint=False)
    check(re.match(r"uiscsictl \d+\.\d+\.\d+ ", out), "version line: %r" % out)
    cmds = help_commands()
    for c in ["discover", "login", "logout", "sessions", "session", "luns", "inquiry",
              "capacity", "read", "write", "verify", "unmap", "sync", "tmf", "raw", "ping",
              "events", "top", "methods"]:
        check(c in cmds, "%s missing from --help" % c)
    for c in cmds:
        out = ok(c, "--help", endpoint=False)
        check(out.startswith("Usage: uiscsictl %s" % c), "%s --help: %r" % (c, out[:80]))
        out2 = ok("help", c, endpoint=False)
        check(out2 == out, "help %s differs from %s --help" % (c, c))


def test_manpage_in_sync():
    with open(MANPAGE) as f:
        man = f.read()
    # subcommands: the .TP entries of the COMMANDS section start with .B NAME
    sec = man.split('.SH COMMANDS', 1)[1].split('.SH ', 1)[0]
    man_cmds = re.findall(r'^\.TP\n\.B (\S+)', sec, re.M)
    cmds = help_commands()
    check(sorted(set(man_cmds)) == sorted(set(cmds)),
          "man page commands %s != --help commands %s" % (sorted(man_cmds), sorted(cmds)))
    # every option of every command's --help is in the man page
    for c in cmds:
        for opt in re.findall(r"--([a-z][a-z-]+)", ok(c, "--help", endpoint=False)):
            check(("\\-\\-" + opt.replace("-", "\\-")) in man,
                  "option --%s of %s missing from the man page" % (opt, c))
    # exit statuses: the same numbers and names
    helptext = ok("--help", endpoint=False)
    rows = re.findall(r"^\s+(\d+)\s+([A-Z_ ]+): ", helptext.split("Exit status:", 1)[1], re.M)
    check(len(rows) >= 12, "exit table in --help: %r" % rows)
    exsec = man.split('.SH "EXIT STATUS"', 1)[1].split('.SH ', 1)[0]
    man_rows = dict(re.findall(r'^\.TP\n\.B (\d+)\n(.*)$', exsec, re.M))
    check(sorted(man_rows, key=int) == [r[0] for r in rows],
          "exit statuses: man %s, help %s" % (sorted(man_rows), [r[0] for r in rows]))
    for status, names in rows:
        for name in names.split():
            check(name.replace("_", "_") in man_rows[status].replace("\\", ""),
                  "exit %s: %s missing from the man page" % (status, name))


def test_usage_errors():
    st, _, err = ctl("frobnicate", endpoint=False)
    check(st == 2 and "unknown command" in err, "unknown command: %d %r" % (st, err))
    st, _, err = ctl("read", "s1", "1", endpoint=False)
    check(st == 2 and "usage" in err, "missing args: %d %r" % (st, err))
    st, _, err = ctl("login", "127.0.0.1", "iqn.x", "--chap-user", "u", "--chap-secret",
                     "hunter2", endpoint=False)
    check(st == 2 and "command line" in err and "--chap-secret-file" in err
          and "hunter2" not in err, "--chap-secret: %d %r" % (st, err))
    st, _, err = ctl("login", "127.0.0.1", "iqn.x", "--target-secret=xx", endpoint=False)
    check(st == 2 and "command line" in err, "--target-secret: %d %r" % (st, err))
    st, _, err = ctl("--timeout-ms", "abc", "sessions", endpoint=False)
    check(st == 2, "bad --timeout-ms: %d" % st)
    st, _, err = ctl("login", "127.0.0.1", "iqn.x", "--chap-user", "u", endpoint=False,
                     env={k: v for k, v in os.environ.items() if k != "UISCSI_CHAP_SECRET"})
    check(st == 2 and "--chap-secret-file" in err, "chap-user without secret: %d %r" % (st, err))


def test_no_daemon_exit_3():
    st, out, err = ctl("--endpoint", "ipc://%s/none/rpc.sock" % TMP, "sessions", endpoint=False,
                       timeout=30)
    check(st == 3 and "CLIENT_NO_DAEMON" in err, "no daemon: %d %r" % (st, err))


# ------------------------------------------------------------------ tests: daemon

def test_methods():
    r = ok_json("methods")
    names = [m["name"] for m in r["methods"]]
    check("session.open" in names and "scsi.read" in names, "methods: %r" % names[:5])
    out = ok("methods")
    check(re.search(r"^scsi\.read\s+Reads blocks", out, re.M), "methods table: %r" % out[:300])


def test_sessions_empty_and_bad_session():
    r = ok_json("sessions")
    check(isinstance(r.get("sessions"), list), "sessions: %r" % r)
    for args in (["session", "nosuch"], ["luns", "nosuch"], ["ping", "nosuch", "-c", "1"],
                 ["read", "nosuch", "1", "0", "1", "-o", os.path.join(TMP, "x")]):
        st, out, err = ctl(*args)
        check(st == 4 and "SESSION_NOT_FOUND" in err and "nosuch" in err,
              "%s: %d %r" % (args, st, err))
    st, out, err = ctl("--json", "session", "nosuch")
    check(st == 4 and json.loads(out)["error"]["name"] == "SESSION_NOT_FOUND",
          "--json error: %r" % out)


# ------------------------------------------------------------------ tests: lab

def test_discover():
    need_lab()
    out = ok("discover", LAB["TGT_PORTAL"])
    check("%s,1 %s" % (LAB["TGT_PORTAL"], LAB["TGT_IQN_DISK"]) in out, "discover: %r" % out)
    r = ok_json("discover", LAB["TGT_PORTAL"])
    names = [t["name"] for t in r["targets"]]
    check(LAB["TGT_IQN_MULTI"] in names, "discover --json: %r" % names)


def test_login_and_session_fields():
    need_lab()
    sid = ok("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_DISK"]).strip()
    check(re.match(r"^\S+$", sid), "login printed %r" % sid)
    STATE["disk"] = sid
    s = ok_json("session", sid)
    for k in ("session", "target", "portal", "state", "refs", "isid", "tsih", "negotiated",
              "counters", "in_flight", "cmdsn_window", "reconnects", "last_error"):
        check(k in s, "session --json lacks %s: %r" % (k, s))
    check(s["session"] == sid and s["target"] == LAB["TGT_IQN_DISK"]
          and s["state"] == "full_feature", "session: %r" % s)
    lst = ok_json("sessions")["sessions"]
    check(any(x["session"] == sid for x in lst), "sessions --json: %r" % lst)
    out = ok("sessions")
    check(re.search(r"^%s\s+full_feature\s" % re.escape(sid), out, re.M), "sessions: %r" % out)
    # a second login shares the session unless --no-share
    r = ok_json("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_DISK"])
    check(r["session"] == sid and r["attached"] is True, "shared login: %r" % r)
    # each login's handle outlives its process (persist): a plain logout
    # releases one of the two and says the session is still open
    out = ok("logout", sid)
    check("still open, 1 handle" in out and "--force" in out, "logout: %r" % out)
    check(ok_json("session", sid)["refs"] == 1, "refs after one logout")
    r = ok_json("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_DISK"], "--no-share",
                "--set", "MaxRecvDataSegmentLength=131072", "--set", "HeaderDigest=None")
    check(r["session"] != sid and r["attached"] is False, "--no-share: %r" % r)
    check(r["negotiated"]["MaxRecvDataSegmentLength"] == 131072, "--set: %r" % r["negotiated"])
    STATE["disk2"] = r["session"]


def test_login_chap():
    need_lab()
    good = secret_file("chap.secret", LAB["TGT_CHAP_SECRET"])
    bad = secret_file("bad.secret", "not-the-secret")
    st, out, err = ctl("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_CHAP"], "--chap-user",
                       LAB["TGT_CHAP_USER"], "--chap-secret-file", bad)
    check(st == 5 and "AUTH_FAILED" in err and "0x0201" in err, "wrong secret: %d %r" % (st, err))
    check("not-the-secret" not in err, "the secret leaked into the message")
    sid = ok("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_CHAP"], "--chap-user",
             LAB["TGT_CHAP_USER"], "--chap-secret-file", good, "--no-share").strip()
    check(ok_json("session", sid)["state"] == "full_feature", "chap session")
    ok("logout", sid)
    env = dict(os.environ, UISCSI_CHAP_SECRET=LAB["TGT_CHAP_SECRET"])
    sid = ok("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_CHAP"], "--chap-user",
             LAB["TGT_CHAP_USER"], "--no-share", env=env).strip()
    ok("logout", sid)
    # mutual CHAP from files
    f1 = secret_file("m.secret", LAB["TGT_MUTUAL_SECRET"])
    f2 = secret_file("t.secret", LAB["TGT_MUTUAL_TARGET_SECRET"])
    sid = ok("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_MUTUAL"], "--chap-user",
             LAB["TGT_MUTUAL_USER"], "--chap-secret-file", f1, "--target-user",
             LAB["TGT_MUTUAL_TARGET_USER"], "--target-secret-file", f2).strip()
    ok("logout", sid, "--force")
    # no such target
    st, out, err = ctl("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_DISK"] + "-nosuch")
    check(st == 5 and "LOGIN_FAILED" in err and "TARGET_NOT_FOUND" in err,
          "unknown target: %d %r" % (st, err))


def test_luns_inquiry_capacity():
    need_lab()
    sid = STATE["disk"]
    check(ok_json("luns", sid)["luns"] == [0, 1], "luns --json")
    out = ok("luns", sid)
    check(re.search(r"^1\s+direct-access.*VIRTUAL-DISK\s+512\s+256\.0 MiB", out, re.M),
          "luns table: %r" % out)
    inq = ok_json("inquiry", sid, 1)
    check(inq["vendor"] == "IET" and inq["device_type"] == 0, "inquiry: %r" % inq)
    check("vendor: IET" in ok("inquiry", sid, 1), "inquiry text")
    vpd = ok_json("inquiry", sid, 1, "--page", "0x83")
    check(vpd["page"] == 0x83 and vpd["designators"], "VPD 0x83: %r" % vpd)
    out = ok("inquiry", sid, 1, "--page", "0x80")
    check("data:" in out and "00000000" in out, "VPD 0x80 hexdump: %r" % out)
    cap = ok_json("capacity", sid, 1)
    check(cap["blocks"] * cap["block_size"] == int(LAB["TGT_DISK_BYTES"])
          and cap["block_size"] == 512, "capacity: %r" % cap)
    check("block_size: 512" in ok("capacity", sid, 1), "capacity text")
    st, _, err = ctl("inquiry", sid, "99999")
    check(st == 2 and "bad LUN" in err, "bad LUN: %d %r" % (st, err))


def test_write_read_files():
    need_lab()
    sid = STATE["disk"]
    data = os.urandom(3 * MiB + 1000)
    src = os.path.join(TMP, "src.bin")
    dst = os.path.join(TMP, "dst.bin")
    with open(src, "wb") as f:
        f.write(data)
    st, out, err = ctl("write", sid, 1, 2048, "-i", src, "--chunk", "256K", "--depth", "4")
    check(st == 0, "write: %d %r" % (st, err))
    check("zero bytes were added" in err and "\r" not in err,
          "write stderr (padding note, no progress bar): %r" % err)
    blocks = (len(data) + 511) // 512
    st, out, err = ctl("read", sid, 1, 2048, blocks, "-o", dst, "--chunk", "256K", "-d", "4")
    check(st == 0 and err == "" and out == b"", "read -o: %d %r" % (st, err))
    with open(dst, "rb") as f:
        back = f.read()
    check(back[:len(data)] == data and back[len(data):] == b"\0" * (blocks * 512 - len(data)),
          "read back differs from what was written")
    r = ok_json("read", sid, 1, 2048, blocks, "-o", dst)
    check(r["bytes"] == blocks * 512 and r["block_size"] == 512, "read --json: %r" % r)
    # write from stdin (a pipe), --json summary
    data2 = os.urandom(2 * MiB)
    r = json.loads(ok("--json", "write", sid, 1, 100000, input_bytes=data2))
    check(r["bytes"] == len(data2) and r["chunks"] == 2, "write stdin --json: %r" % r)


def test_read_stdout_pipe():
    need_lab()
    sid = STATE["disk"]
    with open(os.path.join(TMP, "src.bin"), "rb") as f:
        data = f.read()
    p1 = subprocess.Popen([CTL, "--endpoint", ENDPOINT, "read", sid, "1", "2048", "6144",
                           "--chunk", "1M"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p2 = subprocess.Popen(["sha256sum"], stdin=p1.stdout, stdout=subprocess.PIPE)
    p1.stdout.close()
    digest = p2.communicate(timeout=60)[0].split()[0].decode()
    p1.wait(30)
    err = p1.stderr.read().decode()
    p1.stderr.close()
    import hashlib
    check(p1.returncode == 0 and err == "", "read | sha256sum: %d %r" % (p1.returncode, err))
    check(digest == hashlib.sha256(data[:3 * MiB]).hexdigest(), "piped read differs")


def test_verify_sync_scsi_error():
    need_lab()
    sid = STATE["disk"]
    check("verified 64 blocks" in ok("verify", sid, 1, 0, 64), "verify text")
    check(ok_json("verify", sid, 1, 0, 64) == {}, "verify --json")
    check(ok_json("sync", sid, 1) == {}, "sync --json")
    check("synchronized" in ok("sync", sid, 1), "sync text")
    end = int(LAB["TGT_DISK_BYTES"]) // 512
    st, out, err = ctl("read", sid, 1, end - 1, 2, "-o", os.path.join(TMP, "x"))
    check(st == 2 and "beyond the end" in err, "read beyond the end: %d %r" % (st, err))


def test_unmap_thin_lun():
    need_lab()
    sid = ok("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_MULTI"]).strip()
    STATE["multi"] = sid
    cap = ok_json("capacity", sid, 4)
    check(cap["lbpme"] is True, "thin LUN 4 has lbpme: %r" % cap)
    ok("write", sid, 4, 0, "-i", "-", input_bytes=b"\xab" * 65536)
    out = ok("unmap", sid, 4, "0:64", "1024:8")
    check("unmapped 2 ranges, 72 blocks" in out, "unmap: %r" % out)
    # a write to the read-only LUN 3: SCSI_CHECK_CONDITION, exit 6, sense details
    st, out, err = ctl("write", sid, 3, 0, "-i", "-", input_bytes=b"x" * 512)
    check(st == 6 and "SCSI_CHECK_CONDITION" in err and "DATA PROTECT" in err
          and "ASC/ASCQ 0x27/0x00" in err and "write protected" in err,
          "write to a read-only LUN: %d %r" % (st, err))
    st, out, err = ctl("unmap", sid, 4, "0-64")
    check(st == 2 and "LBA:BLOCKS" in err, "bad range: %d %r" % (st, err))


def test_tmf_raw_ping():
    need_lab()
    sid = STATE["disk"]
    r = ok_json("tmf", sid, "lun-reset", 1)
    check(r["response"] == 0 and r["response_name"] == "FUNCTION_COMPLETE", "tmf: %r" % r)
    check("FUNCTION_COMPLETE" in ok("tmf", sid, "lun-reset", 1), "tmf text")
    st, _, err = ctl("tmf", sid, "lun-rest", 1)
    check(st == 2 and "unknown function" in err, "bad tmf: %d" % st)
    # raw INQUIRY: JSON result and the data to a file
    r = ok_json("raw", sid, 1, "120000002400", "--in", 36)
    check(r["status"] == 0 and r["bytes"] == 36, "raw --json: %r" % r)
    out = ok("raw", sid, 1, "120000002400", "--in", 36)
    check("status: 0x00 GOOD" in out and "|....=...IET     |" in out, "raw text: %r" % out)
    f = os.path.join(TMP, "inq.bin")
    ok("raw", sid, 1, "120000002400", "--in", 36, "--out", f)
    with open(f, "rb") as fh:
        inq = fh.read()
    check(len(inq) == 36 and inq[8:11] == b"IET", "raw --out: %r" % inq)
    # an opcode the target rejects: exit 6, the sense is shown
    for _ in range(3):   # the LUN RESET above leaves a UNIT ATTENTION
        st, out, err = ctl("raw", sid, 1, "ff0000000000")
        if "UNIT ATTENTION" not in out.decode():
            break
    check(st == 6 and "CHECK_CONDITION" in err and "ILLEGAL REQUEST" in out.decode(),
          "raw bad opcode: %d %r %r" % (st, out, err))
    st, _, err = ctl("raw", sid, 1, "12zz")
    check(st == 2 and "bad CDB" in err, "raw bad hex: %d" % st)
    r = ok_json("ping", sid, "-c", 3, "--interval-ms", 50)
    check(r["sent"] == 3 and r["ok"] == 3 and len(r["rtt_us"]) == 3, "ping --json: %r" % r)
    out = ok("ping", sid, "-c", 2, "--interval-ms", 50)
    check("2 sent, 2 answered" in out and "rtt min/avg/max" in out, "ping text: %r" % out)


def test_events():
    need_lab()
    st, out, err = ctl("--json", "events", "--seconds", 2, timeout=20)
    check(st == 0, "events: %d %r" % (st, err))
    evs = [json.loads(line) for line in out.decode().splitlines()]
    topics = set(e["topic"] for e in evs)
    check("session.metrics" in topics and "daemon.metrics" in topics, "topics: %r" % topics)
    check(all("seq" in e and "ts" in e for e in evs), "event fields")
    check("pdu" not in topics, "pdu events without asking")
    # a topic filter, text lines, and Ctrl-C ends it with status 0
    p = subprocess.Popen([CTL, "--endpoint", ENDPOINT, "events", "session.state"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    sid = ok("login", LAB["TGT_PORTAL"], LAB["TGT_IQN_NULL"], "--no-share").strip()
    ok("logout", sid)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    lines = out.decode().splitlines()
    check(p.returncode == 0, "events after SIGINT: %d %r" % (p.returncode, err))
    check(any(" session.state " in line and "session=%s" % sid in line
              and "to=full_feature" in line for line in lines), "state lines: %r" % lines)
    check(all(" session.state " in line for line in lines), "filter: %r" % lines)
    st, out, _ = ctl("events", "-n", 1, "daemon.metrics", timeout=20)
    check(st == 0 and len(out.decode().splitlines()) == 1, "events -n 1: %r" % out)


def test_top_plain_and_json():
    need_lab()
    st, out, err = ctl("top", "-n", 2, "--interval-ms", 500, timeout=20)
    text = out.decode()
    check(st == 0 and text.count("SESSION") == 2 and "\033" not in text,
          "top without a terminal: %d %r" % (st, text))
    check(re.search(r"^%s\s+full_feature\s" % re.escape(STATE["disk"]), text, re.M),
          "top row: %r" % text)
    st, out, err = ctl("--json", "top", "-n", 2, "--interval-ms", 1200, timeout=20)
    rows = [json.loads(x) for x in out.decode().splitlines()]
    check(len(rows) == 2 and any(s["session"] == STATE["disk"] for s in rows[1]["sessions"]),
          "top --json: %r" % rows)
    check(all(k in rows[1]["sessions"][0] for k in ("iops", "read_mib_s", "write_mib_s",
                                                    "in_flight", "state")), "top --json keys")


def test_terminal_progress_and_top():
    need_lab()
    sid = STATE["disk"]
    dst = os.path.join(TMP, "pty.bin")
    st, text = run_pty([CTL, "--endpoint", ENDPOINT, "read", sid, "1", "0", "65536", "-o", dst,
                        "--chunk", "256K", "--depth", "2"], 60)
    check(st == 0, "read on a pty: %d %r" % (st, text[-300:]))
    check(re.search(r"read [\d.]+ \S+ / 32\.0 MiB\s+\d+%", text) and "/s" in text
          and "\r" in text and "100%" in text, "progress bar: %r" % text[-400:])
    check(os.path.getsize(dst) == 32 * MiB, "pty read size")
    # top: header and in-place redraw, q quits
    st, text = run_pty([CTL, "--endpoint", ENDPOINT, "top"], 20, feed=b"q",
                       feed_after="WRITE MiB/s")
    check(st == 0, "top on a pty: %d %r" % (st, text[-300:]))
    check("uiscsictl top" in text and "q quits" in text and "IOPS" in text
          and "READ MiB/s" in text and "\033[H" in text, "top header: %r" % text[:400])
    check(sid in text, "top shows the session")
    # top on a pty with -n ends by itself
    st, text = run_pty([CTL, "--endpoint", ENDPOINT, "top", "-n", "2", "--interval-ms", "300"],
                       20)
    check(st == 0 and text.count("INFLIGHT") >= 2, "top -n on a pty: %d" % st)


def test_no_progress_without_tty():
    need_lab()
    sid = STATE["disk"]
    st, out, err = ctl("read", sid, 1, 0, 8192, "-o", os.path.join(TMP, "np.bin"))
    check(st == 0 and err == "" and out == b"", "read without a tty: %r" % err)
    st, out, err = ctl("write", sid, 1, 0, "-i", os.path.join(TMP, "np.bin"))
    check(st == 0 and err == "", "write without a tty: %r" % err)
    # --progress forces it
    st, out, err = ctl("read", sid, 1, 0, 8192, "-o", os.path.join(TMP, "np.bin"),
                       "--progress")
    check(st == 0 and "100%" in err, "--progress: %r" % err)


def test_logout():
    need_lab()
    for key in ("disk2", "multi"):
        out = ok("logout", STATE[key], "--force")
        check(out == "%s: logged out\n" % STATE[key], "logout: %r" % out)
    r = ok_json("logout", STATE["disk"], "--force")
    check(r["closed"] is True, "logout --force: %r" % r)
    st, _, err = ctl("session", STATE["disk"])
    check(st == 4, "session after logout: %d" % st)
    st, _, err = ctl("logout", STATE["disk"])
    check(st == 4 and "SESSION_NOT_FOUND" in err, "logout twice: %d" % st)


def main():
    if not os.access(CTL, os.X_OK):
        print("no uiscsictl at %s" % CTL)
        print("0 passed, 1 failed")
        return 1
    test(test_version_and_help)
    test(test_manpage_in_sync)
    test(test_usage_errors)
    test(test_no_daemon_exit_3)
    daemon = None
    try:
        lab_start()
        daemon = Daemon()
        for t in (test_methods, test_sessions_empty_and_bad_session, test_discover,
                  test_login_and_session_fields, test_login_chap, test_luns_inquiry_capacity,
                  test_write_read_files, test_read_stdout_pipe, test_verify_sync_scsi_error,
                  test_unmap_thin_lun, test_tmf_raw_ping, test_events, test_top_plain_and_json,
                  test_terminal_progress_and_top, test_no_progress_without_tty, test_logout):
            test(t)
    except Exception:
        RESULTS["failed"] += 1
        print("FAIL setup\n%s" % traceback.format_exc())
    finally:
        if daemon:
            rc = daemon.stop()
            if rc != 0:
                RESULTS["failed"] += 1
                print("FAIL daemon exit status %s" % rc)
        lab_stop()
        if RESULTS["failed"] == 0:
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            print("# kept %s (daemon log: uiscsid.log)" % TMP)
    if RESULTS["skipped"]:
        print("# %d skipped" % RESULTS["skipped"])
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
