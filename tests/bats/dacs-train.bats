#!/usr/bin/env bats
# dacs-train: the DACS loop end to end on a tiny synth-city, in its ring of
# long-lived stages and per iteration (--ring 0), the same bytes both
# ways; resume after SIGKILL; refused config changes; dacs.mk.  Faults in
# the middle of a run are ring.bats, problems found before iteration 0
# dacs-train-check.bats.

load helpers

setup_file() {
    tiny_data
}

# a tiny DACS run: a width-4 net on 48x32 crops
train() { # RUN [more options]
    local run=$1
    shift
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" --iters 4 \
        --crop 48x32 --width 4 --lr 0.005 --threads 1 "$@" "$run"
}

iter_of() { tns get -i "$1" meta.iter | od -An -t d4 | tr -d ' '; }

@test "dacs-train --help lists every setting with its default" {
    run_split "$TRAIN" --help
    [ "$status" -eq 0 ]
    [[ $stdout == *"--teacher-bn MODE"* ]]
    [[ $stdout == *"DACS_<NAME>"* ]]
    [[ $stdout == *"--checkpoint-every K"*"(default 100)"* ]]
    [[ $stdout == *"--ring 0/1"* ]]
    [[ $stdout == *"--source-map TABLE"* ]]
    [[ $stdout == *"--exclude FILE"* ]]
}

@test "a tiny DACS run in the ring leaves every artefact, with finite losses" {
    train run --eval-every 2 --sample-every 2 --snapshot-every 2 \
        --checkpoint-every 3 2>err
    for f in config student.tns teacher.tns log.tsv eval.tsv best.tns \
        samples/000000.png samples/000002.png snapshots/student-000002.tns \
        snapshots/teacher-000004.tns eval/000002-student-running.tsv \
        eval/000004-teacher-running.tsv ckpt/000004/student.tns \
        ckpt/000004/teacher.tns checked; do
        [ -s "run/$f" ] || { echo "missing run/$f"; false; }
    done
    # the current checkpoints are the newest set, and only it is kept
    [ "$(ls run/ckpt)" = 000004 ]
    cmp run/student.tns run/ckpt/000004/student.tns
    cmp run/teacher.tns run/ckpt/000004/teacher.tns
    [ "$(iter_of run/student.tns)" -eq 4 ]
    [ "$(iter_of run/teacher.tns)" -eq 4 ]
    # the student keeps its optimiser state, the teacher has none
    tns info run/student.tns | grep -q $'\topt\.'
    if tns info run/teacher.tns | grep -q $'\topt\.'; then fail "the teacher holds optimiser state"; fi
    # 4 rows of finite losses and a lambda in [0, 1]
    [ "$(wc -l <run/log.tsv)" -eq 5 ]
    awk -F'\t' 'NR > 1 && !($2 + 0 == $2 && $3 + 0 == $3 && $4 >= 0 && $4 <= 1) { bad = 1 }
        END { exit bad }' run/log.tsv
    if grep -qiE 'nan|inf' run/log.tsv; then fail "a non-finite value in the log"; fi
    # evaluations at 2 and 4, of the student and the teacher
    [ "$(awk -F'\t' 'NR > 1' run/eval.tsv | wc -l)" -eq 4 ]
    grep -q "mIoU" err
    # nothing is left behind
    [ ! -e run/tmp ]
    [ -z "$(ls -A run | grep '^\.')" ]
    [ -z "$(ls -A run/ckpt | grep '^\.')" ]
}

@test "every baseline runs through the same driver" {
    for mode in source naive oracle; do
        train "run-$mode" --mode "$mode" --iters 2 2>/dev/null
        [ -s "run-$mode/eval.tsv" ]
        [ -s "run-$mode/ckpt/000002/student.tns" ]
    done
    [ ! -e run-source/teacher.tns ]
    [ ! -e run-source/ckpt/000002/teacher.tns ]
    [ -s run-naive/teacher.tns ]
}

@test "the ring and --ring 0 give the same bytes: checkpoints, log, evaluations, samples" {
    for mode in dacs source; do
        train "ring-$mode" --mode "$mode" --iters 5 --checkpoint-every 2 \
            --eval-every 3 --sample-every 2 2>/dev/null
        train "per-$mode" --mode "$mode" --iters 5 --ring 0 --eval-every 3 \
            --sample-every 2 2>/dev/null
        cmp "ring-$mode/student.tns" "per-$mode/student.tns"
        diff <(cut -f1-5 "ring-$mode/log.tsv") <(cut -f1-5 "per-$mode/log.tsv")
        diff "ring-$mode/eval.tsv" "per-$mode/eval.tsv"
        for s in 000000 000002 000004; do
            cmp "ring-$mode/samples/$s.png" "per-$mode/samples/$s.png"
        done
    done
    cmp ring-dacs/teacher.tns per-dacs/teacher.tns
}

@test "a run killed with SIGKILL at any moment resumes to the same bytes" {
    train ref --iters 10 --checkpoint-every 3 --eval-every 5 2>/dev/null
    # kill the whole process group at a spread of moments (a run takes
    # about a second here), resume each time
    for delay in 0.05 0.3 0.12 0.2 0.07 0.25 0.15 0.1 0.4 0.18 0.6 0.09 \
        0.5 0.8 0.35; do
        setsid "$TRAIN" --source "$DATA/source" --target "$DATA/target" \
            --iters 10 --crop 48x32 --width 4 --lr 0.005 --threads 1 \
            --checkpoint-every 3 --eval-every 5 killed 2>/dev/null &
        pid=$!
        sleep "$delay"
        kill -9 -- "-$pid" 2>/dev/null || true
        wait "$pid" || true
    done
    train killed --iters 10 --checkpoint-every 3 --eval-every 5 2>/dev/null
    cmp ref/student.tns killed/student.tns
    cmp ref/teacher.tns killed/teacher.tns
    # the log holds each iteration once, the evaluations each once
    [ "$(cut -f1 killed/log.tsv | sort | uniq -d | wc -l)" -eq 0 ]
    [ "$(wc -l <killed/log.tsv)" -eq 11 ]
    diff <(cut -f1-5 ref/log.tsv) <(cut -f1-5 killed/log.tsv)
    diff ref/eval.tsv killed/eval.tsv
}

@test "a run directory refuses a command line that conflicts with its config" {
    train run --iters 1 2>/dev/null
    cp run/student.tns before.tns
    run_split train run --iters 1 --lr 0.02
    [ "$status" -ne 0 ]
    [[ $stderr == *"lr=0.005 but this command has lr=0.02"* ]]
    [[ $stderr == *"1 problem(s) found before iteration 0; nothing was trained"* ]]
    cmp before.tns run/student.tns
    # evaluation, sample, checkpoint, ring and thread settings may change
    train run --iters 1 --eval-every 1 --checkpoint-every 7 --ring 0 \
        --threads 2 2>/dev/null
    grep -qx "checkpoint_every=7" run/config
    grep -qx "ring=0" run/config
}

@test "dacs.mk: every variable of its list is an option of dacs-train, and every option a variable" {
    local mk="$DACS_TOP/pipelines/dacs.mk"
    vars=$(sed -n '/^TRAIN_VARS :=/,/[^\\]$/p' "$mk" | sed 's/TRAIN_VARS :=//; s/\\//' |
        tr ' ' '\n' | grep . | tr 'A-Z_' 'a-z-' | sort)
    opts=$("$TRAIN" --help | sed -n 's/^  --\([a-z-]*\) .*/\1/p' |
        grep -vx 'mode\|source\|target\|help' | sort)
    [ -n "$vars" ]
    [ -n "$opts" ]
    diff <(echo "$vars") <(echo "$opts")
    # the three passed by name
    grep -q -- '--mode $(MODE)' "$mk"
    "$TRAIN" --help | grep -q -- '^  --mode M'
}

@test "dacs.mk: a variable of its list reaches dacs-train (WARMUP), one it does not know is not passed on" {
    local mk="$DACS_TOP/pipelines/dacs.mk"
    make -s -f "$mk" train RUN=t SOURCE="$DATA/source" TARGET="$DATA/target" \
        ITERS=1 CROP=48x32 WIDTH=4 THREADS=1 WARMUP=5 WARMUP_RATIO=0.5 2>err
    [ -s t/student.tns ]
    grep -qx "warmup=5" t/config
    if grep -q "unknown option" err; then fail "dacs-train refused a variable of dacs.mk"; fi
    # TARGET is required: without it, a bare --target took the next option
    run_split make -s -f "$mk" train RUN=t2 SOURCE="$DATA/source" ITERS=1 CROP=48x32
    [ "$status" -ne 0 ]
    [[ $stderr == "dacs.mk: set TARGET=DIR (the target dataset root)"* ]]
    [ ! -e t2 ]
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
    [ -s r/report.tsv ]
    [ -s r/report-predictions.png ]
    grep -q "DACS - best of source-only and AdaBN" out
    grep -q "demo finished in" out
    # done runs are not redone; a single method has its own target
    make -s -f "$mk" demo-dacs DEMO_DATA=d DEMO_RUNS=r >out2 2>&1
    [ ! -s out2 ]
    make -s -f "$mk" train RUN=t SOURCE=d/source TARGET=d/target ITERS=2 \
        CROP=48x32 WIDTH=4 THREADS=1 RING=0 CHECKPOINT_EVERY=5 2>/dev/null
    grep -qx "crop=48x32" t/config
    grep -qx "ring=0" t/config
    grep -qx "checkpoint_every=5" t/config
    [ -s t/student.tns ] && [ -s t/teacher.tns ]
}
