#!/usr/bin/env bats
# The ring of long-lived stages under faults: a stage killed or failing
# mid-run, a non-finite loss, SIGTERM and Ctrl-C to the driver, a full
# disk while a checkpoint set is written.  Each time: a message naming the
# stage and the iteration, every stage stopped (the run's lock, which
# every stage holds, is free at once), no temporary file left, the
# previous checkpoint set kept, and a rerun that ends with the bytes of a
# run never stopped.

load helpers

setup_file() {
    tiny_data
    # the reference: 40 iterations never stopped
    "$DACS_TOP/pipelines/dacs-train" --source "$DATA/source" \
        --target "$DATA/target" --iters 40 --crop 48x32 --width 4 \
        --lr 0.005 --threads 1 --checkpoint-every 4 \
        "$BATS_FILE_TMPDIR/ref" 2>/dev/null
}

OPTS=()
train() { # RUN [more options]
    local run=$1
    shift
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" \
        --iters 40 --crop 48x32 --width 4 --lr 0.005 --threads 1 \
        --checkpoint-every 4 "$@" "$run"
}

# the same, as the process itself (for signals): call it in the background
train_bg() { # RUN [more options]
    local run=$1
    shift
    DACS_BIN=$(slow_bin)
    export DACS_BIN
    exec "$TRAIN" --source "$DATA/source" --target "$DATA/target" \
        --iters 40 --crop 48x32 --width 4 --lr 0.005 --threads 1 \
        --checkpoint-every 4 "$@" "$run"
}

iter_of() { tns get -i "$1" meta.iter | od -An -t d4 | tr -d ' '; }

# rows of the run's log, once it has at least N
wait_rows() { # RUN N
    for _ in $(seq 600); do
        [ -f "$1/log.tsv" ] && [ "$(wc -l <"$1/log.tsv")" -gt "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# no stage left: the lock every stage holds is free, no temporary file
assert_all_stopped() { # RUN
    flock -n "$1/lock" true || fail "a stage still holds $1/lock"
    [ -z "$(ls -A "$1" | grep '^\.')" ] || fail "temporary files: $(ls -A "$1")"
    [ ! -d "$1/ckpt" ] || [ -z "$(ls -A "$1/ckpt" | grep '^\.')" ] ||
        fail "a set half written: $(ls -A "$1/ckpt")"
    [ ! -e "$1/student.next" ]
}

# the current checkpoints are a complete set of one iteration (at 0: the
# first model and its copy)
assert_consistent() { # RUN
    local s
    s=$(iter_of "$1/student.tns")
    [ "$s" -eq "$(iter_of "$1/teacher.tns")" ]
    [ "$s" -gt 0 ] || return 0
    [ -d "$1/ckpt/$(printf '%06d' "$s")" ]
    cmp "$1/student.tns" "$1/ckpt/$(printf '%06d' "$s")/student.tns"
}

# the driver PID, sent a signal, ends with STATUS and says so (PATTERN,
# in err), every stage stopped, the run consistent and resumable
assert_stopped_by() { # PID STATUS PATTERN
    status=0
    wait "$1" || status=$?
    [ "$status" -eq "$2" ]
    grep -q "stopped by $3" err
    assert_all_stopped run
    [ -z "$(pgrep -f "$T/run")" ]
    assert_consistent run
    assert_resumes_to_ref run
}

assert_resumes_to_ref() { # RUN
    train "$1" 2>/dev/null
    cmp "$BATS_FILE_TMPDIR/ref/student.tns" "$1/student.tns"
    cmp "$BATS_FILE_TMPDIR/ref/teacher.tns" "$1/teacher.tns"
    diff <(cut -f1-5 "$BATS_FILE_TMPDIR/ref/log.tsv") <(cut -f1-5 "$1/log.tsv")
}

@test "a stage killed mid-run: the driver names it and the iteration, stops the others, and a rerun resumes" {
    train_bg run 2>err &
    pid=$!
    wait_rows run 8
    victim=$(pgrep -f -- "--teacher-from $T/run/")
    [ -n "$victim" ]
    kill -9 "$victim"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 1 ]
    grep -E "dacs-train: seg-infer failed in iteration [0-9]+ \(iterations 0\.\.39\): killed by signal 9" err
    grep -q "the checkpoints in .* are those of iteration" err
    assert_all_stopped run
    assert_consistent run
    assert_resumes_to_ref run
}

@test "a stage that fails with a message is named with its message, not the stages it took down" {
    mkdir shim
    # the slow seg-batch: the run is still going when classmix fails
    for tool in "$(slow_bin)"/*; do ln -s "$tool" shim/; done
    rm shim/classmix
    # a classmix that passes some segments on, then fails
    cat >shim/classmix <<SH
#!/bin/bash
exec 3<&0 # (a command in the background would read /dev/null)
"$DACS_BIN/classmix" "\$@" <&3 &
sleep 1
kill -9 \$!
echo "classmix: injected failure" >&2
exit 1
SH
    chmod +x shim/classmix
    DACS_BIN="$T/shim" train run 2>err && false
    # mid-run: some iterations went through, not all
    [ "$(wc -l <run/log.tsv)" -gt 3 ]
    [ "$(wc -l <run/log.tsv)" -lt 41 ]
    grep -E "dacs-train: classmix failed in iteration [0-9]+ \(iterations 0\.\.39\): classmix: injected failure" err
    assert_all_stopped run
    assert_consistent run
    assert_resumes_to_ref run
}

@test "a non-finite loss stops the run naming the iteration; the checkpoint set before it is kept" {
    run_split train run --lr 1000 --head-lr-mult 1000 --checkpoint-every 1
    [ "$status" -ne 0 ]
    [[ $stderr =~ seg-step\ failed\ in\ iteration\ ([0-9]+) ]]
    it=${BASH_REMATCH[1]}
    [[ $stderr == *"seg-step: iteration $it: "*"finite"* ]]
    # the set of the last good iteration, untouched
    [ "$(iter_of run/student.tns)" -eq "$it" ]
    assert_all_stopped run
    assert_consistent run
}

@test "SIGTERM to the driver stops every stage, leaves no orphan and no half-written file" {
    train_bg run 2>err &
    pid=$!
    wait_rows run 6
    kill -TERM "$pid"
    assert_stopped_by "$pid" 143 "SIGTERM; the checkpoints in .* are those of iteration"
}

@test "Ctrl-C (SIGINT to the process group) stops the run the same way" {
    # as from a terminal: the driver with SIGINT at its default (a
    # command started in the background by a script ignores it)
    setsid perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' "$TRAIN" --source "$DATA/source" \
        --target "$DATA/target" --iters 40 --crop 48x32 --width 4 \
        --lr 0.005 --threads 1 --checkpoint-every 4 run 2>err &
    pid=$!
    wait_rows run 6
    kill -INT -- "-$pid"
    assert_stopped_by "$pid" 130 SIGINT
}

@test "a full disk while a checkpoint set is written keeps the previous set" {
    train_bg run 2>/dev/null &
    pid=$!
    wait_rows run 6
    kill -TERM "$pid"
    wait "$pid" || true
    cp run/student.tns before-student.tns
    cp run/teacher.tns before-teacher.tns
    sets=$(ls run/ckpt)
    # files may grow to 100 KiB, less than a student checkpoint: the next
    # set fails with EFBIG (SIGXFSZ ignored)
    run_split bash -c 'trap "" XFSZ; ulimit -f 100; exec "$@"' _ "$TRAIN" \
        --source "$DATA/source" --target "$DATA/target" --iters 40 \
        --crop 48x32 --width 4 --lr 0.005 --threads 1 --checkpoint-every 4 run
    [ "$status" -eq 1 ]
    [[ $stderr == *"ema-merge failed in iteration "*"checkpoint set "*" abandoned, the previous set is kept: "*"File too large"* ]]
    cmp before-student.tns run/student.tns
    cmp before-teacher.tns run/teacher.tns
    [ "$(ls run/ckpt)" = "$sets" ]
    assert_all_stopped run
    assert_resumes_to_ref run
}

@test "a full disk in a source-only run: seg-step writes the sets, and keeps the previous one" {
    train_bg src --mode source 2>/dev/null &
    pid=$!
    wait_rows src 6
    kill -TERM "$pid"
    wait "$pid" || true
    cp src/student.tns before.tns
    sets=$(ls src/ckpt)
    run_split bash -c 'trap "" XFSZ; ulimit -f 100; exec "$@"' _ "$TRAIN" \
        --source "$DATA/source" --target "$DATA/target" --iters 40 \
        --crop 48x32 --width 4 --lr 0.005 --threads 1 --checkpoint-every 4 \
        --mode source src
    [ "$status" -eq 1 ]
    [[ $stderr == *"seg-step failed in iteration "*"checkpoint set "*" abandoned, the previous set is kept: "*"File too large"* ]]
    cmp before.tns src/student.tns
    [ "$(ls src/ckpt)" = "$sets" ]
    assert_all_stopped src
}

@test "no stage waits forever on a pipe whose other end is gone: a stage that dies at once" {
    mkdir shim
    for tool in "$DACS_BIN"/*; do ln -s "$tool" shim/; done
    rm shim/ema-merge
    # the ring's ema-merge dies before it opens a pipe
    cat >shim/ema-merge <<SH
#!/bin/sh
case "\$*" in *--stream*) echo "ema-merge: injected failure" >&2; exit 3 ;; esac
exec "$DACS_BIN/ema-merge" "\$@"
SH
    chmod +x shim/ema-merge
    DACS_BIN="$T/shim" train run 2>err && false
    grep -q "ema-merge failed in iteration 0 (iterations 0..39): ema-merge: injected failure" err
    assert_all_stopped run
    [ "$(iter_of run/student.tns)" -eq 0 ]
}
