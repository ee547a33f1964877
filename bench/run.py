#!/usr/bin/python3
"""bench/run.py - uiscsid against libiscsi on a private tgt lab (issue 7).

Starts its own tgt lab (tests/targets/tgt-lab, 127.0.0.1:PORT, root) and its
own uiscsid (--foreground, private runtime dir), then runs the same workloads
through uiscsid (bench/uiscsi_load.c on the C client library: pipelined
submit/poll, zero-copy attachments) and through libiscsi (bench/libiscsi_load.c;
plus Debian's iscsi-perf for reads), INTERLEAVED: for each configuration,
rep 1 of every tool, then rep 2 of every tool, ... Reports medians.

Parameter sets:
  default  tgt's default login parameters; each initiator proposes its own
           defaults (the target caps them: 8 KiB Data-Out PDUs, InitialR2T=Yes).
  tuned    MaxRecvDataSegmentLength 262144, FirstBurstLength 262144,
           MaxBurstLength 1 MiB, ImmediateData=Yes, InitialR2T=No, set on the
           target (tgtadm --op update, new sessions only) and proposed by both
           initiators.
Targets: null (tid 2, protocol cost), disk (tid 1, rdwr file on /dev/shm) and,
in the tuned set, digest (tid 6: uiscsid with HeaderDigest CRC32C, and with
HeaderDigest+DataDigest, against itself without; libiscsi with HeaderDigest
CRC32C, its only digest, against itself without).

Also: CRC32C throughput (ISA-L via proto/crc32c.c), the RPC floor (rpc.echo
QD1 and pipelined) and, in the full set, the loopback TCP ceiling (iperf3).

Output: a Markdown report bench/results/<date>-<set>.md (printed too) and the
raw runs beside it (<date>-<set>-raw.tsv).

Usage (root):  bench/run.py [--set quick|full] [--reps N] [--secs S]
                            [--port P] [--build DIR] [--only REGEX]
  quick: 1 rep x 2 s on a subset (< 2 min); full: 3 reps x 3 s (~15 min).
Every child runs under timeout -k; the lab and the daemon are stopped on any
exit (normal, error, SIGINT/SIGTERM/SIGHUP). Loopback only.
"""

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAB = os.path.join(ROOT, "tests", "targets", "tgt-lab")

TUNED = {
    "MaxRecvDataSegmentLength": 262144,
    "FirstBurstLength": 262144,
    "MaxBurstLength": 1048576,
    "ImmediateData": "Yes",
    "InitialR2T": "No",
}
# tgt's defaults, to document what "default" means (NOTES.md section 5)
TGT_DEFAULTS = "MaxRecvDataSegmentLength 8192, FirstBurstLength 65536, " \
    "MaxBurstLength 262144, ImmediateData=Yes, InitialR2T=Yes, MaxOutstandingR2T=1"
DIGESTS = {"HeaderDigest": "CRC32C", "DataDigest": "CRC32C"}
HDIGEST = {"HeaderDigest": "CRC32C"}

# name: (op, bytes, qd, random)
WORKLOADS = {
    "r4k-qd1": ("read", 4096, 1, False),
    "r4k-qd32": ("read", 4096, 32, False),
    "r64k-qd16": ("read", 65536, 16, False),
    "r1m-qd8": ("read", 1048576, 8, False),
    "w4k-qd1": ("write", 4096, 1, False),
    "w4k-qd32": ("write", 4096, 32, False),
    "w64k-qd16": ("write", 65536, 16, False),
    "w1m-qd8": ("write", 1048576, 8, False),
    "mix4k-qd32": ("mix", 4096, 32, True),  # random 70 % reads / 30 % writes
}
ALL = list(WORKLOADS)
LARGE = ["r64k-qd16", "r1m-qd8", "w64k-qd16", "w1m-qd8"]

# (params, target, [workloads], [tools]); tools of reads get iscsi-perf added
FULL = [
    ("default", "null", ALL, ["uiscsid", "libiscsi"]),
    ("default", "disk", ALL, ["uiscsid", "libiscsi"]),
    ("tuned", "null", ALL, ["uiscsid", "libiscsi"]),
    ("tuned", "disk", LARGE + ["mix4k-qd32"], ["uiscsid", "libiscsi"]),
    ("tuned", "digest", LARGE,
     ["uiscsid", "uiscsid-hd", "uiscsid-crc", "libiscsi", "libiscsi-hd"]),
]
QUICK = [
    ("default", "null", ["r4k-qd1", "r4k-qd32", "r1m-qd8", "w4k-qd32", "w1m-qd8"],
     ["uiscsid", "libiscsi"]),
    ("default", "disk", ["mix4k-qd32"], ["uiscsid", "libiscsi"]),
    ("tuned", "null", ["r1m-qd8", "w64k-qd16", "w1m-qd8"], ["uiscsid", "libiscsi"]),
    ("tuned", "digest", ["r1m-qd8", "w1m-qd8"], ["uiscsid", "uiscsid-hd", "uiscsid-crc"]),
]
TIDS = {"disk": 1, "null": 2, "digest": 6}

CURRENT = {"child": None}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg, code=2):
    log("bench: " + msg)
    sys.exit(code)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def run_bounded(cmd, limit, env=None):
    """Runs cmd under timeout -k 2 LIMIT; returns (rc, stdout, stderr, cpu_s)
    where cpu_s is the CPU time of the child and what it waited for."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(["timeout", "-k", "2", str(int(limit))] + cmd,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, text=True, errors="replace")
    CURRENT["child"] = p
    try:
        out, err = p.communicate()
    finally:
        CURRENT["child"] = None
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p.returncode, out, err, cpu


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def sh(cmd, limit=30, check=True):
    rc, out, err, _ = run_bounded(cmd, limit)
    if check and rc != 0:
        die("%s failed (rc %d): %s" % (" ".join(cmd), rc, (err or out).strip()[-300:]))
    return out


def build_tools(build, outdir):
    """Compiles the three bench tools into outdir (gcc, -O2, -Werror)."""
    os.makedirs(outdir, exist_ok=True)
    cc = os.environ.get("CC", "gcc")
    flags = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
             "-Wshadow", "-Wpointer-arith", "-Wformat=2", "-Wundef", "-I", ROOT]
    zmq = sh(["pkg-config", "--cflags", "--libs", "libzmq", "jansson"]).split()
    util = os.path.join(HERE, "bench_util.c")
    jobs = [
        ("uiscsi_load", [os.path.join(HERE, "uiscsi_load.c"), util,
                         os.path.join(build, "libuiscsi.a")] + zmq),
        ("libiscsi_load", [os.path.join(HERE, "libiscsi_load.c"), util, "-liscsi"]),
        ("crc_bench", [os.path.join(HERE, "crc_bench.c"), util,
                       os.path.join(ROOT, "proto", "crc32c.c"), "-lisal"]),
    ]
    for name, srcs in jobs:
        sh([cc] + flags + ["-o", os.path.join(outdir, name)] + srcs, limit=120)


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.tools = os.path.join(self.build, "bench")
        self.port = args.port
        self.lab_started = False
        self.daemon = None
        self.rundir = None
        self.env = {}
        self.runs = []        # raw rows
        self.negotiated = {}  # (params, target, tool) -> json text
        self.micro = []       # (what, value)
        self.notes = []
        self.deadline = time.time() + args.max_minutes * 60

    # --- lab and daemon -------------------------------------------------
    def start_lab(self):
        rc, _, _, _ = run_bounded([LAB, "status", str(self.port)], 20)
        if rc != 3:
            die("a tgt lab already runs on port %d (status %d): pick --port" % (self.port, rc))
        self.lab_started = True
        sh([LAB, "start", str(self.port)], limit=60)
        for line in sh([LAB, "env", str(self.port)]).splitlines():
            m = re.match(r"export (\w+)=(.*)$", line)
            if m:
                self.env[m.group(1)] = m.group(2).strip("'")
        sock = self.env["TGT_IPC_SOCKET"]
        with open(os.path.join(os.path.dirname(sock), "tgtd.pid")) as f:
            self.tgtd_pid = int(f.read().split()[0])

    def adm_update(self, tid, name, value):
        env = dict(os.environ, TGT_IPC_SOCKET=self.env["TGT_IPC_SOCKET"])
        rc, out, err, _ = run_bounded(
            ["tgtadm", "-C", "0", "--lld", "iscsi", "--mode", "target", "--op", "update",
             "--tid", str(tid), "--name", name, "--value", str(value)], 15, env=env)
        if rc != 0:
            die("tgtadm update tid %d %s=%s failed: %s" % (tid, name, value, err.strip()))

    def start_daemon(self):
        self.rundir = tempfile.mkdtemp(prefix="uisb.", dir="/tmp")
        self.daemon_log = os.path.join(self.rundir, "uiscsid.log")
        limit = int(self.args.max_minutes * 60 + 120)
        self.daemon = subprocess.Popen(
            ["timeout", "-k", "5", str(limit), os.path.join(self.build, "uiscsid"),
             "--foreground", "--runtime-dir", self.rundir, "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=open(self.daemon_log, "w"))
        sock = os.path.join(self.rundir, "rpc.sock")
        for _ in range(100):
            if os.path.exists(sock):
                break
            if self.daemon.poll() is not None:
                die("uiscsid exited at start: " + open(self.daemon_log).read()[-500:])
            time.sleep(0.1)
        else:
            die("uiscsid: no rpc.sock after 10 s")
        self.endpoint = "ipc://" + sock

    def cleanup(self):
        p = CURRENT["child"]
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()  # timeout(1) forwards SIGTERM to uiscsid
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(5)
        if self.lab_started:
            subprocess.run(["timeout", "-k", "2", "60", LAB, "stop", str(self.port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.lab_started = False
        if self.rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)
            self.rundir = None

    # --- one run --------------------------------------------------------
    def run_one(self, params, target, wl, tool, rep):
        op, bs, qd, rnd = WORKLOADS[wl]
        secs = self.args.secs
        iqn = self.env["TGT_IQN_" + target.upper()]
        portal = self.env["TGT_PORTAL"]
        url = "iscsi://%s/%s/1" % (portal, iqn)
        if tool.startswith("uiscsid"):
            neg = dict(TUNED) if params == "tuned" else {}
            if tool == "uiscsid-crc":
                neg.update(DIGESTS)
            elif tool == "uiscsid-hd":
                neg.update(HDIGEST)
            cmd = [os.path.join(self.tools, "uiscsi_load"), "-e", self.endpoint, "-P", portal,
                   "-T", iqn, "-L", "1", "-o", op, "-b", str(bs), "-q", str(qd),
                   "-t", str(secs), "-s", str(1000 + rep)]
            if neg:
                cmd += ["-n", json.dumps(neg)]
        elif tool.startswith("libiscsi"):
            cmd = [os.path.join(self.tools, "libiscsi_load"), "-o", op, "-b", str(bs),
                   "-q", str(qd), "-t", str(secs), "-s", str(1000 + rep)]
            if params == "tuned":
                cmd.append("-R")
            if tool == "libiscsi-hd":
                cmd.append("-H")
            cmd.append(url)
        else:  # iscsi-perf: READ16, libiscsi's default proposals
            cmd = ["iscsi-perf", "-t", str(max(1, int(round(secs)))), "-m", str(qd),
                   "-b", str(bs // 512), url]
        if rnd and op != "mix":  # mix is always random in both load generators
            if tool.startswith("uiscsid"):
                cmd.append("-r")
            else:
                cmd.insert(-1, "-r")
        t0 = time.time()
        k0 = cpu_ticks(self.tgtd_pid)
        rc, out, err, cpu = run_bounded(cmd, secs * 3 + 30)
        k1 = cpu_ticks(self.tgtd_pid)
        wall = time.time() - t0
        row = {"params": params, "target": target, "workload": wl, "tool": tool, "rep": rep,
               "op": op, "bytes": bs, "qd": qd, "rc": rc,
               "tgtd_pct": 100.0 * (k1 - k0) / os.sysconf("SC_CLK_TCK") / wall}
        if tool == "iscsi-perf":
            m = re.findall(r"iops average (\d+)", out.replace("\r", "\n"))
            if not m:
                row["fail"] = (out + err).replace("\r", "\n").strip()[-200:]
            else:
                iops = float(m[-1])
                t = max(1, int(round(secs)))
                row.update(iops=iops, mibs=iops * bs / 1048576, secs=t, ios=iops * t,
                           p50=None, p99=None, cpu_client=cpu, cpu_daemon=0.0, errors=0)
        else:
            lines = [ln for ln in out.splitlines() if ln.startswith("tool=")]
            for ln in out.splitlines():
                if ln.startswith("# negotiated "):
                    self.negotiated.setdefault((params, target, tool), ln[13:])
            if not lines:
                row["fail"] = (err or out).strip()[-300:]
            else:
                kv = parse_kv(lines[-1])
                row.update(iops=float(kv["iops"]), mibs=float(kv["mibs"]),
                           secs=float(kv["secs"]), ios=float(kv["ios"]),
                           p50=float(kv["p50_us"]), p99=float(kv["p99_us"]),
                           cpu_client=float(kv["cpu_client_s"]),
                           cpu_daemon=float(kv["cpu_daemon_s"]), errors=int(kv["errors"]))
                if row["errors"]:
                    row["fail"] = "%d errors: %s" % (row["errors"], err.strip()[-200:])
        if "ios" in row and row["ios"] > 0:
            c = row["cpu_client"] + row["cpu_daemon"]
            row["cpu_gib"] = c / (row["ios"] * bs / 2 ** 30)
            row["cpu_100k"] = c / (row["ios"] / 1e5)
            row["gen_pct"] = 100 * row["cpu_client"] / row["secs"]
            row["daemon_pct"] = 100 * row["cpu_daemon"] / row["secs"]
        self.runs.append(row)
        if "fail" in row:
            log("  %s %s %s %s rep %d: FAILED rc=%d: %s" % (params, target, wl, tool, rep, rc,
                                                          row["fail"]))
        else:
            log("  %-7s %-6s %-10s %-11s rep %d: %8.0f IOPS %7.1f MiB/s p50 %s us" % (
                params, target, wl, tool, rep, row["iops"], row["mibs"],
                "%.1f" % row["p50"] if row["p50"] is not None else "-"))

    # --- micro-benchmarks -------------------------------------------------
    def micro_benchmarks(self):
        for size in (1048576, 8192):
            rc, out, err, _ = run_bounded([os.path.join(self.tools, "crc_bench"), str(size),
                                           "1"], 30)
            m = re.search(r"gbps=([\d.]+)", out)
            self.micro.append(("CRC32C (ISA-L crc32_iscsi) over %s buffers" % (
                "1 MiB" if size == 1048576 else "8 KiB"),
                "%s GB/s" % m.group(1) if m else "failed: " + err.strip()[-100:]))
        secs = self.args.secs
        for label, b, qd in (("rpc.echo 64 B, QD1", 64, 1),
                             ("rpc.echo 64 B, pipelined QD128", 64, 128),
                             ("rpc.echo 1 MiB, pipelined QD8", 1048576, 8)):
            rc, out, err, _ = run_bounded([os.path.join(self.tools, "uiscsi_load"), "-e",
                                           self.endpoint, "-o", "echo", "-b", str(b), "-q",
                                           str(qd), "-t", str(secs)], secs * 3 + 30)
            lines = [ln for ln in out.splitlines() if ln.startswith("tool=")]
            if not lines:
                self.micro.append((label, "failed: " + err.strip()[-100:]))
                continue
            kv = parse_kv(lines[-1])
            cpu = float(kv["cpu_client_s"]) + float(kv["cpu_daemon_s"])
            self.micro.append((label, "%s req/s, %s MiB/s, p50 %s us, p99 %s us, CPU %.0f %% "
                               "(client+daemon)" % (kv["iops"], kv["mibs"], kv["p50_us"],
                                                    kv["p99_us"],
                                                    100 * cpu / float(kv["secs"]))))
        if self.args.set == "full" and shutil.which("iperf3"):
            iport = (self.port + 2000) % 65536
            srv = subprocess.Popen(["timeout", "-k", "2", str(secs + 20), "iperf3", "-s", "-B",
                                    "127.0.0.1", "-p", str(iport), "-1"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            rc, out, err, _ = run_bounded(["iperf3", "-c", "127.0.0.1", "-p", str(iport), "-t",
                                           str(secs), "-f", "m"], secs + 15)
            srv.wait(secs + 25)
            m = re.search(r"([\d.]+) Mbits/sec.*receiver", out)
            self.micro.append(("loopback TCP, iperf3 one stream", "%.0f MiB/s" % (
                float(m.group(1)) * 1e6 / 8 / 1048576) if m else "failed"))

    # --- the matrix -------------------------------------------------------
    def matrix(self):
        plan = QUICK if self.args.set == "quick" else FULL
        only = re.compile(self.args.only) if self.args.only else None
        tuned_done = False
        for params, target, wls, tools in plan:
            if params == "tuned" and not tuned_done:
                for tid in TIDS.values():
                    for k, v in TUNED.items():
                        self.adm_update(tid, k, v)
                tuned_done = True
            for wl in wls:
                name = "%s %s %s" % (params, target, wl)
                if only and not only.search(name):
                    continue
                tl = list(tools)
                if WORKLOADS[wl][0] == "read" and params == "default" and target != "digest":
                    tl.append("iscsi-perf")
                for rep in range(1, self.args.reps + 1):
                    if time.time() > self.deadline:
                        self.notes.append("stopped early: --max-minutes reached before %s" % name)
                        return
                    for tool in tl:
                        self.run_one(params, target, wl, tool, rep)

    # --- report -------------------------------------------------------------
    def medians(self):
        groups = {}
        for r in self.runs:
            key = (r["params"], r["target"], r["workload"], r["tool"])
            groups.setdefault(key, []).append(r)
        med = {}
        for key, rows in groups.items():
            ok = [r for r in rows if "fail" not in r]
            m = {"n": len(ok), "failed": len(rows) - len(ok)}
            for f in ("iops", "mibs", "p50", "p99", "cpu_gib", "cpu_100k", "gen_pct",
                      "daemon_pct", "tgtd_pct"):
                m[f] = median([r.get(f) for r in ok])
            med[key] = m
        return med

    def report(self, started, elapsed):
        med = self.medians()
        a = self.args
        L = []
        fmt = lambda v, p=0: "–" if v is None else ("%.*f" % (p, v))
        ratio = lambda x, y: None if x is None or y is None or y == 0 else x / y
        L.append("# uiscsid vs libiscsi: %s set, %s UTC" % (a.set, started))
        L.append("")
        git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
        vers = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}, ",
                               "tgt", "libiscsi-bin", "libiscsi-dev"],
                              capture_output=True, text=True).stdout.strip(", ")
        L.append("- Tree `%s`, %d CPUs, kernel %s; %s." % (git, os.cpu_count(),
                                                           os.uname().release, vers))
        L.append("- %d rep(s) × %s s per tool and configuration, tools interleaved "
                 "(rep 1 of each tool, then rep 2, ...); medians. Wall time %.0f s." % (
                     a.reps, a.secs, elapsed))
        L.append("- tgt lab on 127.0.0.1:%d (null: tid 2, 1 TiB null backing store; disk: "
                 "tid 1, 256 MiB rdwr file on /dev/shm; digest: tid 6, 64 MiB rdwr)." % a.port)
        L.append("- `default`: tgt's defaults (%s); each initiator proposes its own "
                 "defaults. `tuned`: %s on the target (tgtadm --op update) and proposed by "
                 "both initiators." % (TGT_DEFAULTS, ", ".join(
                     "%s %s" % kv for kv in TUNED.items())))
        L.append("- uiscsid = bench/uiscsi_load (C client, pipelined submit/poll, zero-copy "
                 "attachments) + the daemon; libiscsi = bench/libiscsi_load (async "
                 "READ16/WRITE16); iscsi-perf = Debian's libiscsi-bin tool (reads, default "
                 "set, IOPS only; its CPU includes login).")
        L.append("- CPU: user+system seconds over the timed window, uiscsid row = load "
                 "generator + daemon; `gen%`/`daemon%` are per wall second (100 = one core). "
                 "tgtd% = the target's CPU.")
        L.append("- `uiscsid-hd`: HeaderDigest CRC32C; `uiscsid-crc`: HeaderDigest+DataDigest "
                 "CRC32C; `libiscsi-hd`: HeaderDigest CRC32C (libiscsi never offers "
                 "DataDigest). With DataDigest, tgtd computes the CRC of every data byte "
                 "too: compare tgtd% before blaming the initiator.")
        for n in self.notes:
            L.append("- NOTE: " + n)
        L.append("")
        L.append("## Micro-benchmarks")
        L.append("")
        L.append("| what | result |")
        L.append("|---|---|")
        for what, val in self.micro:
            L.append("| %s | %s |" % (what, val))
        L.append("")
        L.append("## Results (medians)")
        L.append("")
        L.append("| params | target | workload | tool | IOPS | MiB/s | p50 µs | p99 µs | "
                 "CPU s/GiB | CPU s/100k IO | gen % | daemon % | tgtd % | runs |")
        L.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, m in med.items():
            runs = "%d" % m["n"] + (" (%d failed)" % m["failed"] if m["failed"] else "")
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (key + (fmt(m["iops"]), fmt(m["mibs"], 1), fmt(m["p50"], 1),
                               fmt(m["p99"], 1), fmt(m["cpu_gib"], 3), fmt(m["cpu_100k"], 3),
                               fmt(m["gen_pct"]), fmt(m["daemon_pct"]), fmt(m["tgtd_pct"]),
                               runs)))
        L.append("")
        L.append("## Ratios uiscsid / libiscsi (medians)")
        L.append("")
        L.append("Throughput reference for reads: the better of libiscsi_load and iscsi-perf. "
                 "Latency and CPU reference: libiscsi_load. >1 is better for MiB/s and IOPS, "
                 "<1 is better for latency and CPU.")
        L.append("")
        L.append("| params | target | workload | pair | MiB/s | IOPS | p50 | p99 | CPU/GiB | "
                 "CPU/100k IO |")
        L.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
        confs = []
        for (p, t, w, tool) in med:
            if (p, t, w) not in confs:
                confs.append((p, t, w))
        self.ratios = {}
        for (p, t, w) in confs:
            pairs = [("uiscsid", "libiscsi")]
            if t == "digest":
                pairs.append(("uiscsid-hd", "libiscsi-hd"))
            for u, l in pairs:
                mu, ml = med.get((p, t, w, u)), med.get((p, t, w, l))
                if not mu or not ml:
                    continue
                mp = med.get((p, t, w, "iscsi-perf"))
                ref_mibs, ref_iops = ml["mibs"], ml["iops"]
                if mp and mp["mibs"] is not None and (ref_mibs is None or mp["mibs"] > ref_mibs):
                    ref_mibs, ref_iops = mp["mibs"], mp["iops"]
                rr = {"mibs": ratio(mu["mibs"], ref_mibs), "iops": ratio(mu["iops"], ref_iops),
                      "p50": ratio(mu["p50"], ml["p50"]), "p99": ratio(mu["p99"], ml["p99"]),
                      "cpu_gib": ratio(mu["cpu_gib"], ml["cpu_gib"]),
                      "cpu_100k": ratio(mu["cpu_100k"], ml["cpu_100k"])}
                self.ratios[(p, t, w, u)] = rr
                L.append("| %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |" % (
                    p, t, w, u, l, fmt(rr["mibs"], 2), fmt(rr["iops"], 2), fmt(rr["p50"], 2),
                    fmt(rr["p99"], 2), fmt(rr["cpu_gib"], 2), fmt(rr["cpu_100k"], 2)))
        L.append("")
        L.append("## Issue 7 targets")
        L.append("")
        L.append("| goal | config | measured | verdict |")
        L.append("|---|---|---:|---|")
        verdicts = []

        def check(goal, conf, val, ok):
            if val is None:
                return
            verdicts.append(ok)
            L.append("| %s | %s | %.2f | %s |" % (goal, conf, val, "met" if ok else "**MISSED**"))
        for (p, t, w, u), rr in self.ratios.items():
            if u != "uiscsid":
                continue
            conf = "%s %s %s" % (p, t, w)
            if w in LARGE:
                check("large I/O throughput ratio ≥ 1.0", conf, rr["mibs"], rr["mibs"] >= 1.0)
            if w in ("r4k-qd32", "w4k-qd32", "mix4k-qd32"):
                check("4 KiB QD32 IOPS ratio ≥ 0.9", conf, rr["iops"], rr["iops"] >= 0.9)
            if w in ("r4k-qd1", "w4k-qd1"):
                check("4 KiB QD1 p50 latency ratio ≤ 1.5", conf, rr["p50"], rr["p50"] <= 1.5)
            if w in ("r1m-qd8", "w1m-qd8") and rr["cpu_gib"] is not None:
                check("1 MiB initiator CPU/GiB ratio ≤ 1.5", conf, rr["cpu_gib"],
                      rr["cpu_gib"] <= 1.5)
        for (p, t, w, tool), m in med.items():
            if tool not in ("uiscsid-hd", "uiscsid-crc"):
                continue
            off = med.get((p, t, w, "uiscsid"))
            if off and off["mibs"] and m["mibs"] is not None:
                v = m["mibs"] / off["mibs"]
                check("digests on / off MiB/s ≥ 0.9 (uiscsid, %s)" % (
                    "HeaderDigest" if tool == "uiscsid-hd" else "Header+DataDigest"),
                    "%s %s %s" % (p, t, w), v, v >= 0.9)
        L.append("")
        L.append("%d of %d checks met." % (sum(verdicts), len(verdicts)))
        L.append("")
        if self.negotiated:
            L.append("## Negotiated by uiscsid (first session of each kind)")
            L.append("")
            for (p, t, tool), n in sorted(self.negotiated.items()):
                try:
                    d = json.loads(n)
                    keys = ("MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
                            "FirstBurstLength", "MaxBurstLength", "ImmediateData",
                            "InitialR2T", "HeaderDigest", "DataDigest")
                    n = ", ".join("%s=%s" % (k, d.get(k)) for k in keys)
                except ValueError:
                    pass
                L.append("- %s %s %s: %s" % (p, t, tool, n))
            L.append("")
        return "\n".join(L) + "\n"

    def write_raw(self, path):
        cols = ["params", "target", "workload", "tool", "rep", "op", "bytes", "qd", "rc",
                "iops", "mibs", "p50", "p99", "secs", "ios", "cpu_client", "cpu_daemon",
                "cpu_gib", "cpu_100k", "tgtd_pct", "errors", "fail"]
        with open(path, "w") as f:
            f.write("\t".join(cols) + "\n")
            for r in self.runs:
                f.write("\t".join(str(r.get(c, "")).replace("\t", " ").replace("\n", " ")
                                  for c in cols) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=["quick", "full"], default=os.environ.get("BENCH_SET", "full"))
    ap.add_argument("--reps", type=int)
    ap.add_argument("--secs", type=int)
    ap.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "3295")))
    ap.add_argument("--build", default=os.environ.get("BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--only", help="regex on 'params target workload'")
    ap.add_argument("--max-minutes", type=float)
    a = ap.parse_args()
    if a.reps is None:
        a.reps = int(os.environ.get("BENCH_REPS", 1 if a.set == "quick" else 3))
    if a.secs is None:
        a.secs = int(os.environ.get("BENCH_SECS", 2 if a.set == "quick" else 3))
    if a.max_minutes is None:
        a.max_minutes = 5 if a.set == "quick" else 30
    if not (1 <= a.reps <= 20 and 1 <= a.secs <= 60 and 1024 <= a.port <= 65000):
        die("--reps 1..20, --secs 1..60, --port 1024..65000")
    if os.geteuid() != 0:
        die("run as root (the tgt lab needs it)")
    for f in ("uiscsid", "libuiscsi.a"):
        if not os.path.exists(os.path.join(a.build, f)):
            die("%s/%s missing: build first (make)" % (a.build, f))
    for t in ("iscsi-perf", "tgtadm", "tgtd", "timeout", "pkg-config"):
        if not shutil.which(t):
            die("%s missing: apt-get install -y tgt libiscsi-bin libiscsi-dev" % t)
    if not os.path.exists("/usr/include/iscsi/iscsi.h"):
        die("libiscsi headers missing: apt-get install -y libiscsi-dev")

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    b = Bench(a)
    started = datetime.datetime.utcnow()
    t0 = time.time()
    try:
        build_tools(b.build, b.tools)
        b.start_lab()
        b.start_daemon()
        log("bench: %s set, %d rep(s) x %d s, lab 127.0.0.1:%d, %s" % (
            a.set, a.reps, a.secs, a.port, b.endpoint))
        b.micro_benchmarks()
        b.matrix()
    finally:
        b.cleanup()
    if not b.runs:
        die("no runs", 1)
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, "%s-%s" % (started.strftime("%Y-%m-%d-%H%M"), a.set))
    text = b.report(started.strftime("%Y-%m-%d %H:%M"), time.time() - t0)
    with open(stem + ".md", "w") as f:
        f.write(text)
    b.write_raw(stem + "-raw.tsv")
    print(text)
    log("bench: wrote %s.md and %s-raw.tsv" % (stem, stem))
    failed = sum(1 for r in b.runs if "fail" in r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
