# mpi.bash - running the tests' commands as ranks of an Open MPI job.
#
# Loaded by the MPI suites; each test file skips itself when bin/mpi-hub was
# not built (no Open MPI found: make MPI=0, or ompi-c missing).

# Open MPI refuses root unless told; CI runs as root.  More ranks than
# cores need --oversubscribe.
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
# no probing for network devices the tests do not use
export OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1

mpi_skip_unless_built() {
    [ -x "$DACS_BIN/mpi-hub" ] || skip "built without MPI (no bin/mpi-hub)"
}

# ranks K CMD...: run CMD on K ranks of one job, each rank with its own
# mpi-hub (DACS_COLL_SOCKET names its socket, DACS_RANK its rank); the job
# is stopped after 120 s, so a hang fails instead of waiting.
ranks() {
    local k=$1
    shift
    timeout -k 5 120 mpirun -n "$k" bash -c '
        dir=$(mktemp -d)
        coproc HUB { exec mpi-hub --socket "$dir/hub.sock"; }
        read -r rank size <&"${HUB[0]}" || exit 1
        DACS_COLL_SOCKET=$dir/hub.sock DACS_RANK=$rank "$@"
        rc=$?
        [ "$rc" -eq 0 ] && echo done >&"${HUB[1]}"
        exec {HUB[1]}>&-
        wait "$HUB_PID"
        rm -rf "$dir"
        exit "$rc"' ranks "$@"
}
