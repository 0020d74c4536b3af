#!/usr/bin/env bats
# mpi-hub and its clients: sums over the ranks in rank order, the same
# bits on every rank; a rank that fails stops the job.

load helpers
load mpi

setup_file() {
    [ -x "$DACS_BIN/mpi-hub" ] || return 0
}

@test "mpi-hub --help" {
    mpi_skip_unless_built
    run mpi-hub --help
    [ "$status" -eq 0 ]
    [[ $output == *"--socket PATH"* ]]
}

@test "sums over 1, 2 and 3 ranks are rank 0 + rank 1 + ..., bit for bit" {
    mpi_skip_unless_built
    for k in 1 2 3; do
        run ranks "$k" "$DACS_UNIT/test_coll"
        echo "$output"
        [ "$status" -eq 0 ]
        [ "$(grep -c '^ok .*bit for bit' <<<"$output")" -eq $((4 * k)) ]
        ! grep -q '^not ok' <<<"$output"
    done
}
