#!/usr/bin/env bats
# The stages composed: a tiny source and target batch through
# seg-infer | pseudolabel | classmix | seg-step, then ema-merge, with the
# frames and shapes checked at every stage.

load helpers

setup_file() {
    export DATA="$BATS_FILE_TMPDIR/data"
    PATH="$DACS_BIN:$PATH" synth-city --quiet --size 96x48 --source 4 \
        --train 4 --val 2 --seed 5 "$DATA"
}

# shape NAME STREAM: "dtype shape" of one frame, from tns info
shape() {
    tns info "$2" | awk -F'\t' -v n="$1" '$2 == n { print $3, $4 }'
}

iter_of() { tns get -i "$1" meta.iter | od -An -t d4 | tr -d ' '; }

@test "each stage passes every frame through and appends its own" {
    export OPENBLAS_NUM_THREADS=1
    seg-init --width 4 --seed 1 -o student.tns
    ema-merge --quiet missing.tns student.tns -o teacher.tns
    seg-batch --dataset gta5 --root "$DATA/source" --prefix src --crop 48x32 \
        --seed 1 --iter 0 -q >src.tns
    seg-batch --dataset cityscapes --root "$DATA/target" --prefix tgt \
        --crop 48x32 --no-labels --seed 1 --iter 0 -q >tgt.tns
    tns cat src.tns tgt.tns >0.tns
    [ "$(shape src.image 0.tns)" = "u8 2x32x48x3" ]
    [ "$(shape src.label 0.tns)" = "u8 2x32x48" ]
    [ "$(shape tgt.image 0.tns)" = "u8 2x32x48x3" ]
    [ "$(tns info 0.tns | wc -l)" -eq 3 ]

    seg-infer -m teacher.tns --bn batch <0.tns >1.tns
    [ "$(shape tgt.prob 1.tns)" = "f32 2x19x32x48" ]
    tns drop tgt.prob -i 1.tns | cmp - 0.tns

    pseudolabel --quiet <1.tns >2.tns
    [ "$(shape tgt.plabel 2.tns)" = "u8 2x32x48" ]
    [ "$(shape tgt.weight 2.tns)" = "f32 2x32x48" ]
    [ "$(shape tgt.lambda 2.tns)" = "f32 scalar" ]
    tns drop 'tgt.plabel' 'tgt.weight' 'tgt.lambda' -i 2.tns | cmp - 1.tns

    classmix --seed 1 --iter 0 <2.tns >3.tns
    for f in mix.image; do [ "$(shape $f 3.tns)" = "u8 2x32x48x3" ]; done
    for f in mix.label mix.mask; do [ "$(shape $f 3.tns)" = "u8 2x32x48" ]; done
    [ "$(shape mix.weight 3.tns)" = "f32 2x32x48" ]
    tns drop 'mix.*' -i 3.tns | cmp - 2.tns
    # seg-step, at the end, still sees what seg-batch emitted first
    tns select src.image src.label -i 3.tns | cmp - src.tns

    seg-step -m student.tns -o student.tns --iters 10 <3.tns 2>step.err
    [ "$(iter_of student.tns)" -eq 1 ]
    grep -q 'loss' step.err
    ema-merge --quiet teacher.tns student.tns -o teacher.tns
    [ "$(iter_of teacher.tns)" -eq 1 ]
    [ "$(tns info teacher.tns | grep -c $'\topt\\.')" -eq 0 ]
    # the teacher holds every frame of the student but its momentum
    diff <(tns info teacher.tns | cut -f2-4) \
        <(tns drop 'opt.*' -i student.tns | tns info | cut -f2-4)
}

@test "one pipe gives the same student as the stages one at a time" {
    export OPENBLAS_NUM_THREADS=1
    seg-init --width 4 --seed 1 -o a.tns
    cp a.tns b.tns
    ema-merge --quiet missing.tns a.tns -o teacher.tns
    batch() {
        tns cat <(seg-batch --dataset gta5 --root "$DATA/source" --prefix src \
            --crop 48x32 --seed 2 --iter 3 -q) \
            <(seg-batch --dataset cityscapes --root "$DATA/target" \
                --prefix tgt --crop 48x32 --no-labels --seed 2 --iter 3 -q)
    }
    batch | seg-infer -m teacher.tns | pseudolabel --quiet |
        classmix --seed 2 --iter 3 | seg-step -m a.tns -o a.tns --iters 10 2>/dev/null
    batch >0.tns
    seg-infer -m teacher.tns -i 0.tns -o 1.tns
    pseudolabel --quiet -i 1.tns -o 2.tns
    classmix --seed 2 --iter 3 -i 2.tns -o 3.tns
    seg-step -m b.tns -o b.tns --iters 10 -i 3.tns 2>/dev/null
    cmp a.tns b.tns
}
