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
# mpi-hub (DACS_COLL_SOCKET names its socket, DACS_RANK its rank,
# DACS_RANKS the number of ranks); the job
# is stopped after 120 s, so a hang fails instead of waiting.
ranks() {
    local k=$1
    shift
    timeout -k 5 120 mpirun -n "$k" bash -c '
        dir=$(mktemp -d)
        coproc HUB { exec mpi-hub --quiet --socket "$dir/hub.sock"; }
        read -r rank size <&"${HUB[0]}" || exit 1
        DACS_COLL_SOCKET=$dir/hub.sock DACS_RANK=$rank DACS_RANKS=$size "$@"
        rc=$?
        [ "$rc" -eq 0 ] && echo done >&"${HUB[1]}"
        exec {HUB[1]}>&-
        wait "$HUB_PID"
        rm -rf "$dir"
        exit "$rc"' ranks "$@"
}

# stopped JOB: the background job JOB (a killed job's ranks(), or
# mpirun, with their output in ./out) ends non-zero, and well before
# its timeout (124): no rank waited for ever
stopped() {
    SECONDS=0
    run wait "$1"
    cat out
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$SECONDS" -lt 60 ]
}

# tns_close A B TOL: the frames of the streams A and B (checkpoints) have
# the same names, types and shapes, integer and text frames are equal, and
# every float differs by at most TOL * (1 + |b|); prints the largest such
# difference, relative to (1 + |b|), as "maxdiff X".
tns_close() {
    local a=$1 b=$2 tol=$3 d
    d=$(mktemp -d)
    tns npy-out --dir "$d/a" -i "$a" && tns npy-out --dir "$d/b" -i "$b" ||
        return 1
    perl -e '
        my ($da, $db, $tol) = @ARGV;
        sub npy { # descr, shape, payload
            open(my $f, "<:raw", $_[0]) or die "$_[0]: $!\n";
            local $/; my $s = <$f>;
            my $hl = unpack("v", substr($s, 8, 2));
            my $h = substr($s, 10, $hl);
            my ($descr) = $h =~ /.descr.: .([^\x27]*)./;
            my ($shape) = $h =~ /.shape.: \(([^)]*)\)/;
            return ($descr, $shape, substr($s, 10 + $hl));
        }
        opendir(my $dh, $da) or die; my @f = sort grep { /\.npy$/ } readdir($dh);
        opendir(my $dh2, $db) or die; my @g = sort grep { /\.npy$/ } readdir($dh2);
        "@f" eq "@g" or die "frames differ: @f / @g\n";
        my $worst = 0; my $where = "";
        for my $n (@f) {
            my ($ta, $sa, $pa) = npy("$da/$n"); my ($tb, $sb, $pb) = npy("$db/$n");
            "$ta $sa" eq "$tb $sb" or die "$n: $ta ($sa) vs $tb ($sb)\n";
            if ($ta ne "<f4") { $pa eq $pb or die "$n: $ta frames differ\n"; next }
            my @x = unpack("f<*", $pa); my @y = unpack("f<*", $pb);
            for my $i (0 .. $#x) {
                my $e = abs($x[$i] - $y[$i]) / (1 + abs($y[$i]));
                ($worst, $where) = ($e, "$n\[$i\]: $x[$i] vs $y[$i]") if $e > $worst;
            }
        }
        printf "maxdiff %.3g %s\n", $worst, $where;
        exit($worst <= $tol ? 0 : 1);
    ' "$d/a" "$d/b" "$tol"
    local rc=$?
    rm -rf "$d"
    return $rc
}

# dacs_loop DIR ITERS: DACS's per-iteration pipeline, run ITERS times in DIR
# (student.tns there to start from; teacher.tns and val.tsv are made) on
# the synth-city $DATA, global batch 4.  As a rank ($DACS_COLL_SOCKET set)
# it draws its share of every batch and sums over the ranks; rank 0 alone
# evaluates at the end.
dacs_loop() {
    local dir=$1 iters=$2 t share=() mpi=()
    if [ -n "${DACS_COLL_SOCKET:-}" ]; then
        share=(--share "$DACS_RANK/$DACS_RANKS")
        mpi=(--mpi "$DACS_COLL_SOCKET")
    fi
    local geo=(--batch 4 --crop 48x32 --seed 5 --quiet "${share[@]}")
    ema-merge --quiet "$dir/teacher.tns" "$dir/student.tns" -o "$dir/teacher.tns"
    for ((t = 0; t < iters; t++)); do
        tns cat <(seg-batch --prefix src --root "$DATA/source" \
                    --dataset gta5 --iter "$t" "${geo[@]}") \
                <(seg-batch --prefix tgt --root "$DATA/target" \
                    --dataset cityscapes --no-labels --iter "$t" "${geo[@]}") |
            seg-infer -m "$dir/teacher.tns" --bn batch "${mpi[@]}" |
            pseudolabel --quiet "${mpi[@]}" |
            classmix --seed 5 --iter "$t" "${share[@]}" |
            seg-step --quiet -m "$dir/student.tns" -o "$dir/student.tns" \
                --lr 0.005 --iters "$iters" "${mpi[@]}" || return 1
        ema-merge --quiet "$dir/teacher.tns" "$dir/student.tns" \
            -o "$dir/teacher.tns" || return 1
    done
    [ "${DACS_RANK:-0}" -eq 0 ] || return 0
    seg-batch --dataset cityscapes --root "$DATA/target" --split val \
        --prefix tgt --sequential --quiet |
        seg-infer -m "$dir/teacher.tns" --argmax |
        miou --classes 19 --format tsv -o "$dir/val.tsv"
}
