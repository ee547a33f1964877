#!/bin/bash
# demo.sh BUILD: the guided tour of uiscsid. Starts the daemon in a private
# runtime dir, talks to it through the public API (JSON-RPC over ZeroMQ, with
# Debian's python3-zmq), follows the event stream, then stops it cleanly.
# Every step is bounded in time; the daemon is stopped on any exit.
set -euo pipefail
build=${1:-build}
daemon=$build/uiscsid
[ -x "$daemon" ] || { echo "demo: $daemon is not built (run make)" >&2; exit 1; }

dir=$(mktemp -d -t uiscsid-demo.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The protocol core checks itself (CRC32C vectors, serial numbers, PDUs, login, SCSI)"
for t in "$build"/tests/unit/proto/test_*; do
    printf '  %-28s %s\n' "$(basename "$t")" "$("$t" 2>&1 | grep -E 'PASSED|FAILED' | tr -s ' ' | head -n 1)"
done

step "2. Start uiscsid in a private runtime dir ($dir, mode 0700)"
"$daemon" --foreground --runtime-dir "$dir" --log-level info 2>"$dir/daemon.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && break; sleep 0.05; done
[ -S "$dir/rpc.sock" ] || { echo "demo: the daemon did not start:"; cat "$dir/daemon.log"; exit 1; }
ls -ld "$dir" | awk '{print "  " $1 "  " $NF}'

step "3. Talk to it through the public API"
/usr/bin/python3 - "$dir" <<'PY'
import json, sys, time, zmq
d = sys.argv[1]
ctx = zmq.Context.instance()
def call(method, params=None, frames=()):
    s = ctx.socket(zmq.REQ); s.setsockopt(zmq.LINGER, 0); s.connect("ipc://%s/rpc.sock" % d)
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None: req["params"] = params
    print("  -> %s" % json.dumps(req))
    s.send_multipart([json.dumps(req).encode(), *frames])
    if not s.poll(5000): raise SystemExit("no reply")
    f = s.recv_multipart(); s.close()
    r = json.loads(f[0])
    text = json.dumps(r)
    print("  <- %s%s" % (text[:300], " ..." if len(text) > 300 else ""))
    return r, f[1:]
sub = ctx.socket(zmq.SUB); sub.connect("ipc://%s/events.sock" % d); sub.setsockopt(zmq.SUBSCRIBE, b"")
info, _ = call("daemon.info")
disc, _ = call("rpc.discover")
print("  the daemon serves %d methods: %s" % (len(disc["result"]["methods"]),
      ", ".join(m["name"] for m in disc["result"]["methods"])))
r, att = call("rpc.echo", {"data": {"$attachment": 1}, "data_encoding": "attachment"}, [b"\x00\x01 zero-copy bytes"])
print("  attachment came back unchanged: %s" % (att[0] == b"\x00\x01 zero-copy bytes"))
call("daemon.info", {"no_such_param": 1})
print("\n  waiting for a live event on the PUB socket ...")
if sub.poll(3000):
    topic, body = sub.recv_multipart()
    print("  event %s %s" % (topic.decode(), body.decode()[:200]))
ev, _ = call("events.get", {"since_seq": 0, "max": 3})
stats, _ = call("daemon.stats")
PY

step "4. Stop it (SIGTERM: graceful, bounded)"
kill -TERM "$pid"
wait "$pid" && echo "  uiscsid exited 0"
pid=
tail -n 5 "$dir/daemon.log" | sed 's/^/  log: /'
echo
echo "Next: iSCSI sessions against a loopback target (make test runs them)."
