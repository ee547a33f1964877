#!/bin/bash
# with-lab.sh PORT COMMAND...: start the tgt lab on PORT, export its
# environment (TGT_PORTAL, TGT_IQN_*, ...), run COMMAND, stop the lab.
# Exits with COMMAND's status. Needs root (tgtd).
set -u
port=$1
shift
T=tests/targets
timeout -k 5 60 "$T/tgt-lab" start "$port" >/dev/null || exit 1
trap 'timeout -k 5 60 "$T/tgt-lab" stop "$port" >/dev/null' EXIT
eval "$("$T/tgt-lab" env "$port")"
"$@"
