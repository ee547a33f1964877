#!/bin/bash
# run-tests.sh: run test binaries and keep one tally for `make test`.
#   run-tests.sh unit BIN...     run cmocka binaries, count their tests
#   run-tests.sh replay BIN...   run corpus replayers over tests/fuzz/corpus/NAME
#   run-tests.sh record NAME PASSED FAILED   add an external suite's counts
#   run-tests.sh py SCRIPT ARGS...   run a /usr/bin/python3 suite
#   run-tests.sh sh SCRIPT ARGS...   run an executable suite
#   run-tests.sh reset | summary
# Every binary runs under a time bound. The tally file is $TEST_TALLY
# (default build/test-tally); `summary` prints "N passed, N failed" and exits
# non-zero when anything failed.
set -u
tally=${TEST_TALLY:-build/test-tally}
mkdir -p "$(dirname "$tally")"
limit=${TEST_TIMEOUT:-300}

add() { # name passed failed
    echo "$1 $2 $3" >>"$tally"
}

mode=$1
shift
case "$mode" in
reset)
    rm -f "$tally"
    ;;
record)
    add "$1" "$2" "$3"
    ;;
unit)
    rc=0
    for bin in "$@"; do
        out=$(mktemp)
        timeout -k 5 "$limit" "$bin" 2>&1 | tee "$out"
        st=${PIPESTATUS[0]}
        p=$(grep -Eo '\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$NF} END {print s+0}')
        f=$(grep -Eo '\[  FAILED  \] [0-9]+' "$out" | awk '{s+=$NF} END {print s+0}')
        if [ "$st" != 0 ] && [ "$f" = 0 ]; then
            echo "run-tests: $bin exited with status $st" >&2
            f=1
        fi
        [ "$f" != 0 ] && rc=1
        add "$bin" "$p" "$f"
        rm -f "$out"
    done
    exit $rc
    ;;
replay)
    rc=0
    for bin in "$@"; do
        name=${bin##*/replay_}
        dir=tests/fuzz/corpus/$name
        if timeout -k 5 "$limit" "$bin" "$dir"; then
            add "$bin" 1 0
        else
            echo "run-tests: replay of $dir failed" >&2
            add "$bin" 0 1
            rc=1
        fi
    done
    exit $rc
    ;;
sh)
    # A shell suite that ends with "N passed, N failed" (like py, any binary).
    ;&
py)
    # A Python suite that ends with "N passed, N failed": its counts go in
    # the tally; a missing summary line counts as one failure.
    script=$1
    shift
    out=$(mktemp)
    if [ "$mode" = sh ]; then
        timeout -k 10 "${PY_TIMEOUT:-900}" "$script" "$@" 2>&1 | tee "$out"
    else
        timeout -k 10 "${PY_TIMEOUT:-900}" /usr/bin/python3 "$script" "$@" 2>&1 | tee "$out"
    fi
    st=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        echo "run-tests: $script printed no summary (exit $st)" >&2
        add "$script" 0 1
        exit 1
    fi
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    [ "$st" != 0 ] && [ "$f" = 0 ] && f=1
    add "$script" "$p" "$f"
    [ "$f" = 0 ]
    exit $?
    ;;
summary)
    [ -f "$tally" ] || { echo "0 passed, 0 failed"; exit 1; }
    awk '{p+=$2; f+=$3; if ($3>0) print "failed: " $1} END {printf "%d passed, %d failed\n", p, f; exit (f>0)}' "$tally"
    ;;
*)
    echo "usage: run-tests.sh unit|replay|record|reset|summary ..." >&2
    exit 2
    ;;
esac
