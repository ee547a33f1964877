#!/bin/bash
# run-fuzz.sh BUILD SECONDS NAME...: run each libFuzzer target for SECONDS on
# a working copy of its checked-in corpus. New inputs and crash artifacts stay
# under BUILD/fuzz; the repository corpus is only read. Prints one line per
# fuzzer (runs, coverage, result) and fails when any fuzzer found something.
set -u
build=$1
secs=$2
shift 2
rc=0
for name in "$@"; do
    work=$build/fuzz/corpus/$name
    art=$build/fuzz/artifacts/$name/
    mkdir -p "$work" "$art"
    log=$build/fuzz/$name.log
    timeout -k 10 $((secs + 120)) "$build/fuzz/fuzz_$name" -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$art" \
        "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
    st=$?
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
    if [ $st = 0 ]; then
        echo "fuzz $name: ${secs}s, ${runs:-?} runs, ${cov:-cov: ?}, no finding"
    else
        echo "fuzz $name: FINDING (exit $st), see $log and $art"
        tail -n 30 "$log"
        rc=1
    fi
done
exit $rc
