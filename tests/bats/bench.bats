#!/usr/bin/env bats
# make bench's scripts at their smallest sizes, without PyTorch: each runs
# to the end and prints its figures as positive numbers.  No time is
# checked here (the figures are make bench's); this catches a bench that
# no longer runs, as when bench_loop's settings fell behind the optimiser.

load helpers

setup_file() {
    # the scripts link this tree's build/libdacs.a and run the tools of
    # bin/, the plain build (not SAN=1's)
    if [ "$DACS_BIN" != "$DACS_TOP/bin" ] || [ ! -f "$DACS_TOP/build/libdacs.a" ]; then
        export BENCH_SKIP="the benches use the plain build (bin/, build/libdacs.a)"
    fi
}

# figure LABEL: the first number after LABEL on its line of $output, which
# must be there and positive
figure() {
    local v
    v=$(printf '%s\n' "$output" | grep -F -- "$1" | head -n 1 |
        sed "s/.*$(printf '%s' "$1" | sed 's/[][\.*^$/]/\\&/g')[^0-9]*\([0-9][0-9.]*\).*/\1/")
    [ -n "$v" ] || { echo "no figure after '$1' in:"; echo "$output"; return 1; }
    awk -v v="$v" 'BEGIN { exit !(v > 0) }' ||
        { echo "'$1' is $v, not a positive number"; return 1; }
}

@test "bench: tests/bench/loop runs the ring, --ring 0 and in process" {
    [ -z "${BENCH_SKIP:-}" ] || skip "$BENCH_SKIP"
    BENCH_PYTHON=false BENCH_ITERS=4 BENCH_ROUNDS=1 BENCH_BIG=0 \
        run "$DACS_TOP/tests/bench/loop"
    assert_success
    figure "ring (dacs-train)"
    figure "per-iteration (dacs-train --ring 0)"
    figure "in process, data included"
    figure "ring / in process"
    figure "seg-step --stream"
    figure "ema-merge --stream"
    assert_output --partial "PyTorch: not available"
}

@test "bench: tests/bench/run times deeplab-mini's tools and the step" {
    [ -z "${BENCH_SKIP:-}" ] || skip "$BENCH_SKIP"
    BENCH_PYTHON=false BENCH_REPS=1 BENCH_H=64 BENCH_W=64 BENCH_R101=0 \
        run "$DACS_TOP/tests/bench/run"
    assert_success
    figure "seg-step process"
    figure "training step in process"
    figure "forward in process"
    figure "OpenBLAS sgemm 1024^3"
}

@test "bench: tests/bench/allreduce sums over 1 and 2 ranks" {
    [ -z "${BENCH_SKIP:-}" ] || skip "$BENCH_SKIP"
    [ -x "$DACS_BIN/mpi-hub" ] || skip "built without MPI"
    BENCH_REPS=1 run "$DACS_TOP/tests/bench/allreduce"
    assert_success
    assert_output --partial "one gradient sum"
}
