#!/bin/bash
# lab-check.sh [PORT]: start the project's tgt lab on loopback, prove it with
# libiscsi's tools (an initiator nobody here wrote), and stop it again. Run
# by `make test` before the integration suites blame our initiator.
set -u
port=${1:-3261}
T=tests/targets
if [ "$(id -u)" != 0 ]; then
    echo "lab-check: needs root to run tgtd; skipped"
    echo "0 passed, 0 failed"
    exit 0
fi
timeout -k 5 60 "$T/tgt-lab" start "$port" || exit 1
trap 'timeout -k 5 60 "$T/tgt-lab" stop "$port" >/dev/null' EXIT
timeout -k 5 120 "$T/tgt-lab-check" "$port"
