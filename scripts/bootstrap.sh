#!/bin/sh
# bootstrap.sh [build|test|demo|bench]: make sure the Debian packages that
# this stage needs are installed. As root it installs what is missing with
# apt-get; otherwise it prints the exact command and fails.
set -eu
stage=${1:-build}

pkgs="gcc make pkg-config libzmq3-dev libjansson-dev libcmocka-dev libisal-dev libssl-dev"
case "$stage" in
test) pkgs="$pkgs clang clang-format libclang-rt-14-dev python3-zmq tgt istgt libiscsi-bin qemu-utils qemu-block-extra" ;;
demo) pkgs="$pkgs python3-zmq tgt libiscsi-bin" ;;
bench) pkgs="$pkgs python3-zmq tgt libiscsi-bin libiscsi-dev iperf3" ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages:$missing" >&2
    echo "bootstrap: run as root:  apt-get update && $cmd" >&2
    exit 1
fi
echo "bootstrap: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# An apt list older than a day (or none, on a fresh machine) is refreshed first.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
