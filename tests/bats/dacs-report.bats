#!/usr/bin/env bats
# dacs-report: the per-class table of finished runs, over one seed or
# several.

load helpers

PATH="$DACS_TOP/pipelines:$PATH"

setup_file() {
    export DATA="$BATS_FILE_TMPDIR/data" CK="$BATS_FILE_TMPDIR/m.tns"
    PATH="$DACS_BIN:$PATH"
    synth-city -q --size 48x24 --source 1 --train 1 --val 2 "$DATA"
    seg-init --width 4 -o "$CK"
}

# mkrun DIR METHOD SEED MIOU ROAD [KEY=VALUE]: a finished run of METHOD
# in DIR/METHOD: a checkpoint, a config as dacs-train writes it (with
# KEY=VALUE changed), and a last evaluation whose road IoU is ROAD and
# whose mIoU is MIOU.
mkrun() {
    local d=$1/$2 seed=$3 miou=$4 road=$5 extra=${6:-}
    mkdir -p "$d/eval"
    cp "$CK" "$d/student.tns"
    {
        echo "mode=$2"
        echo "target=$DATA/target"
        echo "target_type=cityscapes"
        echo "target_resize="
        echo "val_split=val"
        echo "batch=2"
        echo "classes=19"
        echo "lr=0.01"
        echo "init="
        echo "seed=$seed"
        echo "eval_resize="
        echo "eval_limit="
        echo "threads=2"
    } >"$d/config"
    if [ -n "$extra" ]; then
        sed -i "s|^${extra%%=*}=.*|$extra|" "$d/config"
    fi
    {
        printf 'id\tclass\tiou\tacc\ttp\tfp\tfn\n'
        printf '0\troad\t%s\t1\t1\t1\t1\n' "$road"
        printf '1\tsidewalk\t20.0000\t1\t1\t1\t1\n'
        printf '2\tbuilding\tnan\tnan\t0\t0\t0\n'
        printf 'miou\t%s\nmiou16\t%s\nmiou13\t%s\npixel_acc\t90.0000\n' "$miou" "$miou" "$miou"
    } >"$d/eval/000010-student-running.tsv"
}

@test "dacs-report --help says what it does and every option" {
    run "$DACS_TOP/pipelines/dacs-report" --help
    assert_success
    assert_line --index 0 "usage: dacs-report [--data DIR] [--pictures N] [-o DIR] RUNS_DIR..."
    assert_output --partial "--data DIR"
    assert_output --partial "--pictures N"
    assert_output --partial "-o, --out DIR"
    assert_output --partial "AdaBN"
}

@test "dacs-report: one runs directory, the table of every method" {
    mkrun r source 0 10.0000 30.0000
    mkrun r dacs 0 25.0000 60.0000
    run_split dacs-report r
    [ "$status" -eq 0 ]
    [[ $stdout == *"DACS - best of source-only and AdaBN"* ]]
    run cat r/report.tsv
    assert_line --index 0 $'class\tsource\tadabn\tdacs'
    assert_line --index 1 --regexp $'^road\t30.0000\t[0-9.]+\t60.0000$'
    assert_line --regexp $'^miou\t10.0000\t[0-9.]+\t25.0000$'
    # a class a run does not score: "-"
    assert_line --regexp $'^building\t-\t[0-9.]+\t-$'
    [ -s r/report-predictions.png ] && [ -s r/source/adabn.tsv ]
}

@test "dacs-report over seeds: mean and standard deviation of every method, and each run" {
    mkrun s0 source 0 10.0000 30.0000
    mkrun s1 source 1 12.0000 30.0000
    mkrun s2 source 2 14.0000 36.0000
    mkrun s0 dacs 0 30.0000 40.0000
    mkrun s1 dacs 1 32.0000 50.0000
    mkrun s2 dacs 2 34.0000 60.0000
    # a variant of DACS is a column of its own, after the known methods
    mkrun s0 dacs-mic 0 40.0000 70.0000
    mkrun s1 dacs-mic 1 40.0000 70.0000
    mkrun s2 dacs-mic 2 40.0000 70.0000
    run_split dacs-report -o rep s0 s1 s2
    [ "$status" -eq 0 ]
    run cat rep/report.tsv
    assert_line --index 0 $'class\tsource\tsource_sd\tadabn\tadabn_sd\tdacs\tdacs_sd\tdacs-mic\tdacs-mic_sd'
    assert_line --index 1 --regexp $'^road\t32.0000\t3.4641\t[0-9.]+\t[0-9.]+\t50.0000\t10.0000\t70.0000\t0.0000$'
    assert_line --regexp $'^miou\t12.0000\t2.0000\t[0-9.]+\t[0-9.]+\t32.0000\t2.0000\t40.0000\t0.0000$'
    run cat rep/report.txt
    assert_line --index 0 "mean ± sample standard deviation over 3 runs, seeds 0 1 2"
    assert_line --regexp '^road +32.0 ± 3.5 +[0-9.]+ ± [0-9.]+ +50.0 ± 10.0 +70.0 ± 0.0$'
    assert_line --regexp '^DACS +30.0 +32.0 +34.0$'
    assert_line --partial "(32.0 vs "
    [ -s rep/report-predictions.png ]
    # AdaBN is evaluated in each runs directory
    [ -s s0/source/adabn.tsv ] && [ -s s2/source/adabn.tsv ]
}

@test "dacs-report over seeds: runs that differ in more than the seed are refused" {
    mkrun s0 dacs 0 30.0000 40.0000
    mkrun s1 dacs 1 32.0000 50.0000 lr=0.02
    run_split dacs-report -o rep s0 s1
    assert_clean_failure dacs-report
    [[ $stderr == *"s1/dacs differs from s0/dacs in more than the seed: lr=0.01 lr=0.02"* ]]
    # the same seed twice
    mkrun t0 dacs 0 30.0000 40.0000
    mkrun t1 dacs 0 30.0000 40.0000
    run_split dacs-report -o rep t0 t1
    assert_clean_failure dacs-report
    [[ $stderr == *"t1 has seed 0, as another RUNS_DIR"* ]]
    # other methods
    mkrun u0 dacs 0 30.0000 40.0000
    mkrun u1 dacs 1 30.0000 40.0000
    mkrun u1 oracle 1 30.0000 40.0000
    run_split dacs-report -o rep u0 u1
    assert_clean_failure dacs-report
    [[ $stderr == *"must hold the same methods"* ]]
    # a report of several needs -o; the init path and threads may differ
    run_split dacs-report u0 s0
    assert_clean_failure dacs-report
    [[ $stderr == *"need -o DIR"* ]]
    mkrun v0 dacs 0 30.0000 40.0000 init=v0/source/student.tns
    mkrun v1 dacs 1 32.0000 40.0000 init=v1/source/student.tns
    sed -i 's/^threads=.*/threads=1/' v1/dacs/config
    run_split dacs-report -o rep v0 v1
    [ "$status" -eq 0 ]
    run_split dacs-report -o rep v0 nowhere
    assert_clean_failure dacs-report
    run_split dacs-report --pictures 0 v0
    assert_clean_failure dacs-report
}
