#!/bin/sh
# dev-unit.sh TEST.c SRC.c...: build and run one unit test against just the
# sources named, with the project's flags (and ASan+UBSan when SAN=1). For
# quick iteration on one module while other modules are mid-edit; `make test`
# remains the real gate.
set -eu
test_src=$1
shift
name=$(basename "$test_src" .c)
out=${TMPDIR:-/tmp}/uiscsi-dev-$(id -u)-$$-$name
flags="-std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -Wundef -I."
[ "${SAN:-0}" = 1 ] && flags="$flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# shellcheck disable=SC2086
${CC:-gcc} $flags $(pkg-config --cflags libzmq jansson cmocka libisal libcrypto) \
    -o "$out" "$test_src" "$@" \
    $(pkg-config --libs libzmq jansson cmocka libisal libcrypto) -lpthread
set +e
"$out"
rc=$?
rm -f "$out"
exit $rc
