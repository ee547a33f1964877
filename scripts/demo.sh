#!/bin/bash
# demo.sh BUILD: the guided tour of uiscsid. Starts a loopback iSCSI target
# (tgtd, from tests/targets) and the daemon in a private runtime dir, then
# walks through discovery, login, inspection, a verified write/read and the
# metrics, all through the public API (the Python client in clients/python,
# on Debian's python3-zmq). Every step is bounded in time; the target and
# the daemon are stopped on any exit.
set -euo pipefail
build=${1:-build}
daemon=$build/uiscsid
[ -x "$daemon" ] || { echo "demo: $daemon is not built (run make)" >&2; exit 1; }
port=${DEMO_PORT:-3264}
lab=tests/targets/tgt-lab

dir=$(mktemp -d -t uiscsid-demo.XXXXXX)
pid=
lab_up=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    [ -n "$lab_up" ] && timeout -k 5 60 "$lab" stop "$port" >/dev/null 2>&1
    rm -rf "$dir"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The protocol core checks itself (CRC32C, serial numbers, PDUs, login, CHAP, SCSI, session engine)"
for t in "$build"/tests/unit/proto/test_*; do
    printf '  %-22s %s\n' "$(basename "$t")" "$("$t" 2>&1 | grep -E 'PASSED|FAILED' | tr -s ' ' | head -n 1)"
done

step "2. A real iSCSI target on loopback: tgtd on 127.0.0.1:$port (tests/targets/tgt-lab)"
if [ "$(id -u)" != 0 ]; then
    echo "  tgtd needs root: run 'sudo make demo' for the iSCSI part of the tour."
    target=
else
    timeout -k 5 60 "$lab" start "$port" >/dev/null
    lab_up=1
    eval "$("$lab" env "$port")"
    target=$TGT_IQN_DISK
    echo "  targets: disk, null, multi, chap, mutual, digest, r2t, acl, nop (see tests/targets/README.md)"
fi

step "3. Start uiscsid in a private runtime dir ($dir, mode 0700)"
"$daemon" --foreground --runtime-dir "$dir" --log-level info 2>"$dir/daemon.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && break; sleep 0.05; done
[ -S "$dir/rpc.sock" ] || { echo "demo: the daemon did not start:"; cat "$dir/daemon.log"; exit 1; }
ls -ld "$dir" | awk '{print "  " $1 "  " $NF}'

step "4. Use it through the public API (JSON-RPC over ZeroMQ)"
PYTHONPATH=clients/python timeout -k 5 120 /usr/bin/python3 - "$dir" "${target:-}" "$port" <<'PY'
import hashlib, json, os, sys, time
import uiscsi

d, target, port = sys.argv[1], sys.argv[2], sys.argv[3]
portal = "127.0.0.1:%s" % port

def show(title, value):
    text = json.dumps(value, default=lambda b: "<%d bytes>" % len(b))
    print("  %-26s %s%s" % (title, text[:150], " ..." if len(text) > 150 else ""))

with uiscsi.Client("ipc://%s/rpc.sock" % d) as c:
    info = c.daemon_info()
    show("daemon.info", {k: info[k] for k in ("version", "api_version", "pid", "limits")})
    methods = [m["name"] for m in c.rpc_discover()["methods"]]
    print("  rpc.discover               %d methods: %s ..." % (len(methods), ", ".join(methods[:8])))
    sub = uiscsi.EventSubscriber("ipc://%s/events.sock" % d, topics=("session.",), timeout=5)
    try:
        c.call("daemon.info", {"no_such_param": 1})
    except uiscsi.InvalidParams as e:
        print("  a typo is caught           %s: %s" % (e.name, e.data.get("param")))
    if not target:
        raise SystemExit(0)

    print()
    found = c.discovery_send_targets(portal=portal)
    show("discovery.send_targets", [t["name"] for t in found["targets"]])
    with c.session(portal, target) as s:
        show("session.open", {k: s.info[k] for k in ("session", "isid", "tsih", "state")})
        neg = s.info["negotiated"]
        show("  negotiated", {k: neg[k] for k in ("MaxRecvDataSegmentLength", "MaxBurstLength",
                                                 "FirstBurstLength", "ImmediateData", "InitialR2T")})
        show("scsi.report_luns", s.report_luns())
        inq = s.inquiry(lun=1)
        show("scsi.inquiry lun 1", {k: inq[k] for k in ("vendor", "product", "revision",
                                                        "device_type_name")})
        cap = s.read_capacity(lun=1)
        show("scsi.read_capacity lun 1", cap)

        data = os.urandom(1 << 20)
        t0 = time.monotonic()
        s.write(lun=1, lba=2048, blocks=len(data) // cap["block_size"], data=data)
        back = s.read(lun=1, lba=2048, blocks=len(data) // cap["block_size"])
        ms = (time.monotonic() - t0) * 1000
        print("  scsi.write + scsi.read     1 MiB in %.1f ms, sha256 %s, identical: %s"
              % (ms, hashlib.sha256(back).hexdigest()[:16], back == data))
        try:
            s.write(lun=1, lba=cap["blocks"], blocks=1, data=bytes(cap["block_size"]))
        except uiscsi.ScsiCheckCondition as e:
            print("  a write past the end       %s %s (%s)" % (e.name, e.sense_key_name, e.description))
        show("protocol.nop", s.nop())
        time.sleep(1.2)
        got = s.get()
        show("session.get counters", got["counters"])
    show("daemon.stats", {k: v for k, v in c.daemon_stats().items() if k in
                          ("commands", "bytes_in", "bytes_out", "sessions", "errors")})
    print("\n  events seen on the PUB socket:")
    seen = 0
    for topic, ev in sub:
        line = {k: v for k, v in ev.items() if k not in ("epoch", "ts")}
        print("   %-16s %s" % (topic, json.dumps(line)[:110]))
        seen += 1
        if seen >= 6:
            break
    sub.close()
PY

step "5. Stop it (SIGTERM: graceful, bounded)"
kill -TERM "$pid"
wait "$pid" && echo "  uiscsid exited 0"
pid=
tail -n 4 "$dir/daemon.log" | sed 's/^/  log: /'
echo
echo "More: docs/api.md (every method), docs/operations.md (running it), clients/python/README.md."
