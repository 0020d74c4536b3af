# helpers.bash - shared setup for the Bats suites.
#
# Tools are run from $DACS_BIN (set by tests/run; bin/ by default).  Each
# test gets a fresh $T directory.

load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

: "${DACS_TOP:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${DACS_BIN:=$DACS_TOP/bin}"
PATH="$DACS_BIN:$PATH"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}

setup() {
    T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/dacs.XXXXXX")
    cd "$T" || return 1
}

teardown() {
    cd / && rm -rf "$T"
}

# npy_raw (npy.bash): the one place the tests write a .npy header
. "$DACS_TOP/tests/bats/npy.bash"

# run_split CMD...: run with stdout and stderr apart.  Sets $status,
# $stdout (the bytes of stdout, as text) and $stderr.
run_split() {
    local out err
    out=$(mktemp) err=$(mktemp)
    status=0
    "$@" >"$out" 2>"$err" || status=$?
    stdout=$(cat "$out")
    stdout_bytes=$(stat -c %s "$out")
    stderr=$(cat "$err")
    stderr_lines=$(wc -l <"$err")
    rm -f "$out" "$err"
}

# assert_clean_failure TOOL: after run_split, the tool failed the way
# dacs promises: non-zero exit, nothing on stdout, exactly one line on
# stderr that starts with "TOOL: ".
assert_clean_failure() {
    local tool=$1
    if [ "$status" -eq 0 ]; then
        fail "expected failure, got exit 0 (stderr: $stderr)"
    fi
    if [ "$stdout_bytes" -ne 0 ]; then
        fail "expected nothing on stdout, got $stdout_bytes bytes"
    fi
    if [ "$stderr_lines" -ne 1 ]; then
        fail "expected one line on stderr, got $stderr_lines: $stderr"
    fi
    case "$stderr" in
    "$tool: "*) ;;
    *) fail "stderr should start with '$tool: ', got: $stderr" ;;
    esac
}

# assert_refused TOOL OUT PATTERN CMD...: run CMD, which must fail the way
# dacs promises (assert_clean_failure) with PATTERN in its message, leave
# the file OUT (which holds "old" before) as it was, and leave no
# temporary file in the current folder.
assert_refused() {
    local tool=$1 out=$2 pattern=$3
    shift 3
    echo old >"$out"
    run_split "$@"
    assert_clean_failure "$tool"
    [[ $stderr == *"$pattern"* ]] || fail "stderr lacks '$pattern': $stderr"
    [ "$(cat "$out")" = old ] || fail "$out was modified"
    [ -z "$(ls -A | grep '^\.')" ] || fail "a temporary file was left: $(ls -A)"
}

# The driver's suites: dacs-train as TRAIN, and (in setup_file) a tiny
# synth-city in DATA, 6 + 6 + 2 images of 96x48.
TRAIN="$DACS_TOP/pipelines/dacs-train"
tiny_data() {
    export DATA="$BATS_FILE_TMPDIR/data"
    PATH="$DACS_BIN:$PATH" synth-city --quiet --size 96x48 --source 6 \
        --train 6 --val 2 --seed 3 "$DATA"
}

# refused_before_training "ARGS|MESSAGE"...: for each, the suite's own
# `train run ARGS` fails before iteration 0 with the line "dacs-train:
# MESSAGE" as its one problem, and leaves no run directory.
refused_before_training() {
    local c
    for c in "$@"; do
        # shellcheck disable=SC2086
        run_split train run ${c%%|*}
        [ "$status" -eq 1 ] || fail "accepted: ${c%%|*}"
        [[ $stderr == *"dacs-train: ${c#*|}"* ]] || fail "for ${c%%|*}: $stderr"
        [[ $stderr != *"problem(s) found"* ||
            $stderr == *"dacs-train: 1 problem(s) found before iteration 0; nothing was trained"* ]] ||
            fail "for ${c%%|*}, more than one problem: $stderr"
        [ ! -e run ] || fail "for ${c%%|*}: a run directory"
    done
}

# A DACS_BIN whose seg-batch passes its stream on at most 4 KiB per 20 ms
# (about 3 iterations a second of ring.bats's tiny runs here), so that a
# run started in the background is still running when a test stops it
# mid-run, however fast the machine: without it, 40 iterations may end
# before the test's first look at the log.  The throttle closes every
# other descriptor (the run's lock) and ends when seg-batch does;
# seg-batch keeps its own pid.
slow_bin() {
    local dir=$BATS_FILE_TMPDIR/slow
    [ -d "$dir" ] && { echo "$dir"; return; }
    mkdir "$dir"
    for tool in "$DACS_BIN"/*; do ln -s "$tool" "$dir/"; done
    rm "$dir/seg-batch"
    cat >"$dir/seg-batch" <<SH
#!/bin/bash
exec "$DACS_BIN/seg-batch" "\$@" > >(exec perl -MPOSIX -e '
    POSIX::close(\$_) for 3 .. 1023;
    while (sysread(STDIN, my \$b, 4096)) {
        syswrite(STDOUT, \$b) or exit 1;
        select(undef, undef, undef, 0.02);
    }')
SH
    chmod +x "$dir/seg-batch"
    echo "$dir"
}

# Wait up to 10 s for a line matching ERE in FILE, then print FILE and fail
# if there is none.  A message written by a process that outlives the one
# a test waited for (an orphaned stage, say) may reach the file a moment
# later.
eventually_in() { # FILE ERE
    local i
    for ((i = 0; i < 100; i++)); do
        grep -qE "$2" "$1" && return 0
        sleep 0.1
    done
    cat "$1"
    fail "no line matching '$2' in $1"
}
