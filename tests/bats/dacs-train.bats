#!/usr/bin/env bats
# dacs-train: the DACS loop end to end on a tiny synth-city, resume after
# SIGKILL, refused config changes, and faults in the middle of a pipeline.

load helpers

TRAIN="$DACS_TOP/pipelines/dacs-train"

setup_file() {
    export DATA="$BATS_FILE_TMPDIR/data"
    PATH="$DACS_BIN:$PATH" synth-city --quiet --size 96x48 --source 6 \
        --train 6 --val 2 --seed 3 "$DATA"
}

# a tiny DACS run: 4 iterations of a width-4 net on 48x32 crops
train() { # RUN [more options]
    local run=$1
    shift
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" --iters 4 \
        --crop 48x32 --width 4 --lr 0.005 --threads 1 "$@" "$run"
}

@test "dacs-train --help lists the settings" {
    run_split "$TRAIN" --help
    [ "$status" -eq 0 ]
    [[ $stdout == *"--teacher-bn MODE"* ]]
    [[ $stdout == *"DACS_<NAME>"* ]]
}

@test "a tiny DACS run leaves every artefact, with finite losses" {
    train run --eval-every 2 --sample-every 2 --snapshot-every 2 2>err
    for f in config student.tns teacher.tns log.tsv eval.tsv best.tns \
        samples/000000.png samples/000002.png snapshots/student-000002.tns \
        snapshots/teacher-000004.tns eval/000002-student-running.tsv \
        eval/000004-teacher-running.tsv; do
        [ -s "run/$f" ] || { echo "missing run/$f"; false; }
    done
    [ "$(tns get -i run/student.tns meta.iter | od -An -t d4 | tr -d ' ')" -eq 4 ]
    [ "$(tns get -i run/teacher.tns meta.iter | od -An -t d4 | tr -d ' ')" -eq 4 ]
    # 4 rows of finite losses and a lambda in [0, 1]
    [ "$(wc -l <run/log.tsv)" -eq 5 ]
    awk -F'\t' 'NR > 1 && !($2 + 0 == $2 && $3 + 0 == $3 && $4 >= 0 && $4 <= 1) { bad = 1 }
        END { exit bad }' run/log.tsv
    ! grep -qiE 'nan|inf' run/log.tsv
    # evaluations at 2 and 4, of the student and the teacher
    [ "$(awk -F'\t' 'NR > 1' run/eval.tsv | wc -l)" -eq 4 ]
    grep -q "mIoU" err
}

@test "every baseline runs through the same driver" {
    for mode in source naive oracle; do
        train "run-$mode" --mode "$mode" --iters 2 2>/dev/null
        [ -s "run-$mode/eval.tsv" ]
    done
    [ ! -e run-source/teacher.tns ]
    [ -s run-naive/teacher.tns ]
}

@test "a run killed with SIGKILL at any moment resumes to the same bytes" {
    train ref --iters 10 2>/dev/null
    # kill the whole process group at a spread of moments (a run takes
    # about a second here), resume each time
    for delay in 0.05 0.3 0.12 0.2 0.07 0.25 0.15 0.1 0.4 0.18 0.6 0.09; do
        setsid "$TRAIN" --source "$DATA/source" --target "$DATA/target" \
            --iters 10 --crop 48x32 --width 4 --lr 0.005 --threads 1 \
            killed 2>/dev/null &
        pid=$!
        sleep "$delay"
        kill -9 -- "-$pid" 2>/dev/null || true
        wait "$pid" || true
        [ -f killed/student.tns ] && tns get -i killed/student.tns meta.iter | od -An -t d4
    done
    train killed --iters 10 2>/dev/null
    cmp ref/student.tns killed/student.tns
    cmp ref/teacher.tns killed/teacher.tns
    # the log holds each iteration once
    [ "$(cut -f1 killed/log.tsv | sort | uniq -d | wc -l)" -eq 0 ]
    [ "$(wc -l <killed/log.tsv)" -eq 11 ]
}

@test "a run directory refuses a command line that conflicts with its config" {
    train run --iters 1 2>/dev/null
    cp run/student.tns before.tns
    run_split train run --iters 1 --lr 0.02
    assert_clean_failure dacs-train
    [[ $stderr == *"lr=0.005 but this command has lr=0.02"* ]]
    cmp before.tns run/student.tns
}

@test "a stage dying mid-stream stops the driver; the checkpoints are untouched and a rerun resumes" {
    train ref --iters 3 --snapshot-every 1 2>/dev/null
    # a classmix that, from its second call on, writes part of its stream
    # and dies
    mkdir shim
    for tool in "$DACS_BIN"/*; do ln -s "$tool" shim/; done
    rm shim/classmix
    cat >shim/classmix <<SH
#!/bin/sh
if [ -e "$T/called" ]; then
    "$DACS_BIN/classmix" "\$@" | head -c 3000
    exit 1
fi
touch "$T/called"
exec "$DACS_BIN/classmix" "\$@"
SH
    chmod +x shim/classmix
    DACS_BIN="$T/shim" run_split train run --iters 3
    [ "$status" -ne 0 ]
    [[ $stderr == *"iteration 1 failed; the checkpoints in"* ]]
    cmp ref/snapshots/student-000001.tns run/student.tns
    cmp ref/snapshots/teacher-000001.tns run/teacher.tns
    train run --iters 3 2>/dev/null
    cmp ref/student.tns run/student.tns
    cmp ref/teacher.tns run/teacher.tns
}

@test "a non-finite loss is refused and the driver names the iteration" {
    run_split train run --iters 4 --lr 1000 --head-lr-mult 1000
    [ "$status" -ne 0 ]
    [[ $stderr == *"iteration "*" failed; the checkpoints in"*"are unchanged"* ]]
    echo "$stderr"
    [[ $stderr == *"seg-step: "*"finite"* ]]
}

@test "dacs.mk: the demo's runs, report and make-driven training, tiny" {
    local mk="$DACS_TOP/pipelines/dacs.mk"
    make -s -f "$mk" demo DEMO_DATA=d DEMO_RUNS=r DEMO_SRC_ITERS=3 \
        DEMO_ITERS=2 DEMO_GEN="--size 96x48 --source 6 --train 6 --val 2" \
        DEMO_OPTS="--crop 48x32 --width 4 --eval-every 0" >out 2>err
    for m in source naive dacs oracle; do
        [ -f "r/$m/.done" ] || { echo "no run $m"; false; }
    done
    # naive and dacs continue the source-only model
    grep -qx "init=r/source/student.tns" r/dacs/config
    grep -qx "init=r/source/student.tns" r/naive/config
    grep -qx "iters=3" r/oracle/config
    grep -qx "iters=2" r/dacs/config
    [ -s r/report.tsv ] && [ -s r/report-predictions.png ]
    grep -q "DACS - best of source-only and AdaBN" out
    grep -q "demo finished in" out
    # done runs are not redone; a single method has its own target
    make -s -f "$mk" demo-dacs DEMO_DATA=d DEMO_RUNS=r >out2 2>&1
    [ ! -s out2 ]
    make -s -f "$mk" train RUN=t SOURCE=d/source TARGET=d/target ITERS=2 \
        CROP=48x32 WIDTH=4 THREADS=1 2>/dev/null
    grep -qx "crop=48x32" t/config
    [ -s t/student.tns ] && [ -s t/teacher.tns ]
}
