#!/usr/bin/env bats
# dacs-train with the rest of the DACS family's recipe (DAFormer, MIC;
# dacs-method(7), "Later work"): AdamW with warmup, rare-class sampling,
# masked image consistency, pseudo-label margins, CutMix and CowMix,
# full-resolution evaluation.  Each inside a short run, checked where it
# lands (the config, the log, the checkpoint, the stream's effect on a
# loss); the ring and --ring 0 the same bytes; bad values refused before
# iteration 0; dacs.mk's variables, its variants and several seeds.

load helpers
load mpi

setup_file() {
    tiny_data
}

# a tiny run: a width-4 net on 48x32 crops of DATA's 96x48 images
train() { # RUN [more options]
    local run=$1
    shift
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" --iters 3 \
        --crop 48x32 --width 4 --threads 1 "$@" "$run"
}

col() { # RUN COLUMN ROW: a cell of RUN/log.tsv, by the column's name (row 1: iteration 0)
    awk -F'\t' -v c="$2" -v r="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i }
        NR == r + 1 { print $k }' "$1/log.tsv"
}
near() { # A B: |A - B| <= 1e-5 |B| (the log writes 6 significant digits)
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; if (b < 0) b = -b
        if (d > 1e-5 * b) { print "not near: " a " " b; exit 1 } }'
}

@test "--help: the recipe's options, with the defaults that follow the optimizer" {
    run_split "$TRAIN" --help
    [ "$status" -eq 0 ]
    for o in "--optimizer KIND" "--warmup N" "--power P" "--rcs T" \
        "--rcs-min-pixels N" "--rcs-min-crop-ratio R" "--mic 0/1" \
        "--mic-block B" "--mic-ratio R" "--mic-lambda L" "--ignore-top N" \
        "--ignore-bottom N" "--ignore-left N" "--ignore-right N" \
        "--eval-mode MODE"; do
        grep -qE -- "^  $o( |\$)" <<<"$stdout" || fail "no $o in --help"
    done
    [[ $stdout == *"(default 0.01 with sgd, from"*"6e-5 with adamw"* ]]
    [[ $stdout == *"(class naive none cut cow)"* ]]
    [[ $stdout == *"(downscaled full) (default downscaled)"* ]]
}

@test "--optimizer adamw: DAFormer's rate, warmup and power in the config and the log, AdamW's state in the student" {
    train run --optimizer adamw 2>/dev/null
    for kv in optimizer=adamw lr=6e-5 warmup=1500 power=1.0; do
        grep -qx "$kv" run/config || fail "no $kv in the config"
    done
    # mmcv's linear warmup from 1e-6 times poly 1.0 over 3 iterations
    near "$(col run lr 1)" 6e-11
    near "$(col run lr 2)" "$(awk 'BEGIN { print 6e-5 * (2 / 3) * (1 - (1 - 1 / 1500) * (1 - 1e-6)) }')"
    near "$(col run lr 3)" "$(awk 'BEGIN { print 6e-5 * (1 / 3) * (1 - (1 - 2 / 1500) * (1 - 1e-6)) }')"
    [ "$(tns get -i run/student.tns opt.optimizer)" = adamw ]
    [ "$(tns get -i run/student.tns opt.step | od -An -t d4 | tr -d ' ')" -eq 3 ]
    tns info run/student.tns | grep -q $'\topt.exp_avg_sq.head.0.weight\t'
    if tns info run/teacher.tns | grep -q $'\topt\.'; then fail "the teacher holds optimiser state"; fi
}

@test "--warmup and --power reach seg-step with SGD; SGD's defaults are today's" {
    train run --warmup 2 --power 1.0 --lr 0.01 2>/dev/null
    grep -qx 'optimizer=sgd' run/config
    near "$(col run lr 1)" 1e-8
    near "$(col run lr 2)" "$(awk 'BEGIN { print 0.01 * (2 / 3) * (1 - 0.5 * (1 - 1e-6)) }')"
    near "$(col run lr 3)" "$(awk 'BEGIN { print 0.01 * (1 / 3) }')"
    train def 2>/dev/null
    for kv in optimizer=sgd lr=0.01 warmup=0 power=0.9; do
        grep -qx "$kv" def/config || fail "no $kv in the config"
    done
    near "$(col def lr 2)" "$(awk 'BEGIN { print 0.01 * (2 / 3) ^ 0.9 }')"
    if tns info def/student.tns | grep -q 'opt.optimizer'; then fail "an SGD student names an optimizer"; fi
}

@test "the optimizer is the run's: a resume cannot change it, nor a setting its config predates" {
    train run --iters 1 2>/dev/null
    run_split train run --iters 1 --optimizer adamw
    [ "$status" -eq 1 ]
    [[ $stderr == *"has optimizer=sgd but this command has optimizer=adamw"* ]]
    [[ $stderr == *"has lr=0.01 but this command has lr=6e-5"* ]]
    # a run made before --mic existed ran without it
    grep -v '^mic=' run/config >c && mv c run/config
    run_split train run --iters 1 --mic 1
    [ "$status" -eq 1 ]
    [[ $stderr == *"run/config predates mic (so the run has mic=0) but this command has mic=1"* ]]
    train run --iters 1 2>/dev/null
    grep -qx 'mic=0' run/config
    # AdamW may start from the weights of an SGD run
    train adamw --optimizer adamw --init run/student.tns --iters 1 2>/dev/null
    [ "$(tns get -i adamw/student.tns opt.optimizer)" = adamw ]
}

@test "--rcs: the class statistics counted once into the run, reused on resume, counted again when the data change" {
    cp -r "$DATA/source" src
    rcs() { # RUN [more options]
        local run=$1
        shift
        train "$run" --source src --rcs 0.01 --rcs-min-pixels 50 --iters 4 "$@"
    }
    rcs run --snapshot-every 2 2>err
    grep -q "class statistics of rare-class sampling counted into" err
    run tns info run/rcs.tns
    assert_line --regexp $'\trcs.counts\ti32\t6x19\t'
    grep -qx 'rcs=0.01' run/config
    grep -qx 'rcs_min_pixels=50' run/config
    # the sampler is the statistics': other source draws than uniform ones
    train plain --source src --iters 4 2>/dev/null
    [ ! -e plain/rcs.tns ]
    if cmp -s run/student.tns plain/student.tns; then fail "--rcs draws as uniform sampling"; fi
    # back to iteration 2 (its snapshot) and resumed: the statistics are
    # read, not counted, and the run ends with the same bytes
    cp run/student.tns end.tns
    before=$(stat -c '%i %Y' run/rcs.tns)
    rm -r run/ckpt
    cp run/snapshots/student-000002.tns run/student.tns
    cp run/snapshots/teacher-000002.tns run/teacher.tns
    sleep 1
    rcs run --snapshot-every 2 2>err
    grep -q "rcs.tns, as made before" err
    [ "$(stat -c '%i %Y' run/rcs.tns)" = "$before" ]
    cmp end.tns run/student.tns
    # a label replaced: counted again
    cp src/labels/00001.png src/labels/00002.png
    rcs run --snapshot-every 2 2>err
    grep -q "the labelled training set changed since .*rcs.tns was made: counting its classes again" err
    [ "$(stat -c '%i %Y' run/rcs.tns)" != "$before" ]
}

@test "--mic 1: the masked term in every step (loss_mic, weighted by --mic-lambda), its mask from --mic-block, its image in the samples" {
    # tau 0: every pseudo-label weighs 1, so the masked term is not 0
    train mic --mic 1 --mic-block 8 --tau 0 --sample-every 2 2>/dev/null
    train plain --tau 0 --sample-every 2 2>/dev/null
    if cmp -s mic/student.tns plain/student.tns; then fail "--mic 1 trains as without it"; fi
    grep -qx 'mic_block=8' mic/config
    [ "$(head -n 1 mic/log.tsv | cut -f7)" = loss_mic ]
    [ "$(head -n 1 plain/log.tsv | cut -f7)" = "" ]
    awk -F'\t' 'NR > 1 && !($7 > 0) { exit 1 }' mic/log.tsv
    # iteration 0: the same model and batch, the term times --mic-lambda
    train mic2 --mic 1 --mic-block 8 --tau 0 --mic-lambda 2 --iters 1 2>/dev/null
    near "$(col mic2 loss_mic 1)" "$(awk -v l="$(col mic loss_mic 1)" 'BEGIN { print 2 * l }')"
    near "$(col mic2 loss_src 1)" "$(col mic loss_src 1)"
    # another block, another mask, another term
    train mic16 --mic 1 --mic-block 16 --tau 0 --iters 1 2>/dev/null
    [ "$(col mic16 loss_mic 1)" != "$(col mic loss_mic 1)" ]
    # one more tile per row in the samples: the masked image
    w() { file "$1" | sed -E 's/.*, ([0-9]+) x [0-9]+,.*/\1/'; }
    # (a 48-pixel tile and a 4-pixel gap)
    [ "$(w mic/samples/000002.png)" -eq $(($(w plain/samples/000002.png) + 52)) ]
}

@test "--ignore-*: the margins reach pseudolabel: margins that cover the image leave no target loss" {
    # --mix none: the mixed batch is the target and its pseudo-labels
    train none --mix none --tau 0 --iters 2 2>/dev/null
    awk -F'\t' 'NR > 1 && !($3 > 0) { exit 1 }' none/log.tsv
    # DATA's target images are 96x48 (stored); the crops 48x32
    for m in "--ignore-top 48" "--ignore-bottom 48" "--ignore-left 96" "--ignore-right 96"; do
        # shellcheck disable=SC2086
        train "m${m#--ignore-}" --mix none --tau 0 --iters 2 $m 2>/dev/null
        awk -F'\t' 'NR > 1 && $3 != "0.000000" { exit 1 }' "m${m#--ignore-}/log.tsv" ||
            fail "$m: a mixed loss other than 0"
    done
    # a margin of part of the image: a part of the loss
    train part --mix none --tau 0 --iters 2 --ignore-bottom 20 --ignore-top 4 2>/dev/null
    grep -qx 'ignore_bottom=20' part/config
    a=$(col part loss_mix 1) b=$(col none loss_mix 1)
    awk -v a="$a" -v b="$b" 'BEGIN { exit !(a > 0 && a < b) }'
}

@test "--mix cut and --mix cow: CutMix and CowMix in the loop" {
    train class --tau 0 --iters 2 2>/dev/null
    for m in cut cow; do
        train "$m" --mix "$m" --tau 0 --iters 2 2>/dev/null
        grep -qx "mix=$m" "$m/config"
        ! cmp -s "$m/student.tns" class/student.tns || fail "--mix $m trains as class"
    done
    if cmp -s cut/student.tns cow/student.tns; then fail "cut and cow train alike"; fi
}

@test "--eval-mode full: the logits scored against the labels at their stored size" {
    train down --target-resize 48x24 --crop 32x16 --iters 1 2>/dev/null
    train full --target-resize 48x24 --crop 32x16 --iters 1 --eval-mode full 2>/dev/null
    cmp down/student.tns full/student.tns
    grep -qx 'eval_mode=full' full/config
    # the val labels are 96x48, the evaluated images 48x24
    px() { awk -F'\t' '$1 == "pixels" || $1 == "ignored" { n += $2 } END { print n }' "$1"; }
    [ "$(px down/eval/000001-student-running.tsv)" -eq $((2 * 48 * 24)) ]
    [ "$(px full/eval/000001-student-running.tsv)" -eq $((2 * 96 * 48)) ]
    # the same as seg-infer --size-of by hand
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt \
        --sequential --quiet --resize 48x24 --full-labels |
        seg-infer -m full/student.tns --argmax --size-of tgt.label |
        miou --format tsv >hand.tsv
    cmp hand.tsv full/eval/000001-student-running.tsv
    # an evaluation setting: free to change on resume
    train down --target-resize 48x24 --crop 32x16 --iters 1 --eval-mode full 2>/dev/null
}

@test "the whole recipe at once: the ring and --ring 0 give the same bytes" {
    opts=(--optimizer adamw --warmup 1 --rcs 0.01 --rcs-min-pixels 50
        --mic 1 --mic-block 8 --ignore-bottom 6 --mix cow --tau 0
        --checkpoint-every 2 --sample-every 2 --eval-mode full --iters 4)
    train ring "${opts[@]}" 2>/dev/null
    train once "${opts[@]}" --ring 0 2>/dev/null
    cmp ring/student.tns once/student.tns
    cmp ring/teacher.tns once/teacher.tns
    cmp ring/rcs.tns once/rcs.tns
    cmp <(cut -f1-5,7 ring/log.tsv) <(cut -f1-5,7 once/log.tsv)
    cmp ring/eval.tsv once/eval.tsv
    cmp ring/samples/000002.png once/samples/000002.png
}

@test "--mic 1 and --rcs under --mpi 1 on 2 ranks: one process's run, to summation order" {
    mpi_skip_unless_built
    opts=(--batch 4 --seed 5 --rcs 0.01 --rcs-min-pixels 50 --mic 1
        --mic-block 8 --tau 0 --ignore-bottom 6 --iters 6)
    train one "${opts[@]}" 2>/dev/null
    timeout -k 5 300 mpirun -n 2 "$TRAIN" --source "$DATA/source" \
        --target "$DATA/target" --crop 48x32 --width 4 --threads 1 \
        "${opts[@]}" --mpi 1 two 2>err || { cat err; false; }
    grep -q "done: 6 iterations in .* on 2 ranks" err
    tns_close two/student.tns one/student.tns 1e-4
    tns_close two/teacher.tns one/teacher.tns 1e-4
    cmp two/rcs.tns one/rcs.tns
    [ "$(head -n 1 two/log.tsv | cut -f7)" = loss_mic ]
    [ -z "$(ls -A two/ranks 2>/dev/null)" ]
}

@test "bad recipe settings: one line each, before iteration 0, nothing trained" {
    refused_before_training "--optimizer adam|--optimizer: expected sgd or adamw, got 'adam'" \
        "--warmup -1|--warmup: expected a non-negative integer, got '-1'" \
        "--power x|--power: expected a non-negative number, got 'x'" \
        "--power 200|--power 200: expected a value in [0, 100]" \
        "--mic 2|--mic: expected 0 or 1, got '2'" \
        "--mic 1 --mic-block 0|--mic-block: expected an integer >= 1, got '0'" \
        "--mic 1 --mic-ratio 2|--mic-ratio 2: expected a value in [0, 1]" \
        "--mic 1 --mic-lambda 2000|--mic-lambda 2000: expected a value in [0, 1000]" \
        "--mic-block 8|--mic-block: a setting of MIC, which is off (--mic 1 turns it on)" \
        "--rcs 0|--rcs 0: expected a value in [1e-6, 1e6]" \
        "--rcs x|--rcs: expected a non-negative number, got 'x'" \
        "--rcs-min-pixels 50|--rcs-min-pixels: a setting of rare-class sampling, which is off (--rcs T turns it on)" \
        "--rcs 0.01 --rcs-min-crop-ratio -1|--rcs-min-crop-ratio: expected a non-negative number, got '-1'" \
        "--ignore-top x|--ignore-top: expected a non-negative integer, got 'x'" \
        "--mode source --mic 1|--mic 1: MIC learns the teacher's pseudo-labels, and --mode source has no teacher" \
        "--mode oracle --ignore-bottom 5|--ignore-top/bottom/left/right: margins of the pseudo-labels, and --mode oracle has none" \
        "--mix bogus|--mix: expected class, naive, none, cut or cow, got 'bogus'" \
        "--mode naive --mix cow|--mix cow: --mode naive mixes the target with itself" \
        "--eval-mode half|--eval-mode: expected downscaled or full, got 'half'"
}

@test "dacs.mk: the recipe's variables reach dacs-train" {
    make -s -f "$DACS_TOP/pipelines/dacs.mk" train RUN=mk \
        SOURCE="$DATA/source" TARGET="$DATA/target" ITERS=1 CROP=48x32 \
        WIDTH=4 THREADS=1 OPTIMIZER=adamw WARMUP=5 POWER=0.5 MIC=1 \
        MIC_BLOCK=8 MIC_RATIO=0.5 MIC_LAMBDA=0.5 RCS=0.01 RCS_MIN_PIXELS=50 \
        RCS_MIN_CROP_RATIO=0.25 IGNORE_TOP=1 IGNORE_BOTTOM=2 IGNORE_LEFT=3 \
        IGNORE_RIGHT=4 MIX=cut EVAL_MODE=full 2>/dev/null
    for kv in optimizer=adamw warmup=5 power=0.5 mic=1 mic_block=8 \
        mic_ratio=0.5 mic_lambda=0.5 rcs=0.01 rcs_min_pixels=50 \
        rcs_min_crop_ratio=0.25 ignore_top=1 ignore_bottom=2 ignore_left=3 \
        ignore_right=4 mix=cut eval_mode=full; do
        grep -qx "$kv" mk/config || fail "no $kv in the config"
    done
    [ -s mk/rcs.tns ]
}

@test "dacs.mk: demo-mic and demo-rcs beside DACS; SEEDS runs every method once per seed and reports mean ± std" {
    local mk="$DACS_TOP/pipelines/dacs.mk"
    local tiny=(DEMO_DATA=d DEMO_SRC_ITERS=3 DEMO_ITERS=2
        "DEMO_GEN=--size 96x48 --source 6 --train 6 --val 2"
        "DEMO_OPTS=--crop 48x32 --width 4 --eval-every 0"
        "DEMO_MIC_OPTS=--mic 1 --mic-block 8" "DEMO_RCS_OPTS=--rcs 0.01 --rcs-min-pixels 50")
    make -s -f "$mk" "${tiny[@]}" DEMO_RUNS=r demo-dacs demo-mic demo-rcs >/dev/null 2>&1
    grep -qx "mic=1" r/dacs-mic/config
    grep -qx "mic_block=8" r/dacs-mic/config
    grep -qx "rcs=0.01" r/dacs-rcs/config
    [ -s r/dacs-rcs/rcs.tns ]
    grep -qx "init=r/source/student.tns" r/dacs-mic/config
    make -s -f "$mk" "${tiny[@]}" DEMO_RUNS=r report >out 2>/dev/null
    head -n 1 r/report.tsv | grep -qx $'class\tsource\tadabn\tdacs\tdacs-mic\tdacs-rcs'
    grep -q "dacs-mic" out
    # two seeds: each method once per seed, the same data, one report
    make -s -f "$mk" "${tiny[@]}" DEMO_RUNS=s SEEDS="0 1" demo >out 2>err ||
        { cat err; false; }
    for s in 0 1; do
        for m in source naive dacs oracle; do
            grep -qx "seed=$s" "s/seed-$s/$m/config" || fail "no seed-$s/$m of seed $s"
        done
    done
    if cmp -s s/seed-0/dacs/student.tns s/seed-1/dacs/student.tns; then fail "seeds 0 and 1 give the same DACS run"; fi
    grep -q "mean ± sample standard deviation over 2 runs, seeds 0 1" out
    grep -q "mean ± sample standard deviation over 2 runs" s/seeds/report.txt
    head -n 1 s/seeds/report.tsv | grep -q $'\tdacs\tdacs_sd\t'
    # one seed, the default: the runs in DEMO_RUNS itself, as before
    [ ! -e r/seed-0 ]
}
