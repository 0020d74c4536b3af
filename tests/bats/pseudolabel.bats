#!/usr/bin/env bats
# pseudolabel: argmax pseudo-labels, weights and lambda.

load helpers
load stages

# A 1x3x2x2 probability map (class-major):
#   pixel 0 (0.98, 0.01, 0.01) -> 0, confident at 0.968
#   pixel 1 (0.2, 0.7, 0.1)    -> 1
#   pixel 2 (0, 0, 1)          -> 2, confident
#   pixel 3 (0.3, 0.3, 0.4)    -> 2
prob() {
    frame tgt.prob f32 1,3,2,2 0.98 0.2 0 0.3 0.01 0.7 0 0.3 0.01 0.1 1 0.4
}

@test "pseudolabel --help shows usage and defaults" {
    run pseudolabel --help
    assert_success
    assert_output --partial "usage: pseudolabel"
    assert_output --partial "default 0.968"
    assert_output --partial "(default threshold_uniform)"
    assert_output --partial "  -q, --quiet "
    assert_output --partial "  --drop GLOB "
}

@test "pseudolabel: lambda on a known probability map" {
    prob >p.tns
    run_split pseudolabel p.tns -o out.tns
    [ "$status" -eq 0 ]
    [ "$stderr" = "pseudolabel: segment=0 lambda=0.500000 confident=2 pixels=4 hist=1,1,2" ]
    [ "$(values out.tns tgt.plabel)" = "0 1 2 2" ]
    [ "$(values out.tns tgt.weight)" = "0.5 0.5 0.5 0.5" ]
    [ "$(values out.tns tgt.lambda)" = "0.5" ]
    run tns info out.tns
    assert_line --index 1 --regexp $'^1\ttgt.plabel\tu8\t1x2x2\t'
    assert_line --index 2 --regexp $'^2\ttgt.weight\tf32\t1x2x2\t'
    assert_line --index 3 --regexp $'^3\ttgt.lambda\tf32\tscalar\t'
}

@test "pseudolabel passes every input frame through, unchanged and first" {
    { prob; frame src.label u8 1,2,2 1 2 3 4; } >in1.tns
    tns cat in1.tns >in.tns
    pseudolabel -q <in.tns >out.tns
    tns select 'tgt.prob' 'src.label' <out.tns >kept.tns
    cmp kept.tns in.tns
    run tns info out.tns
    assert_line --index 0 --regexp $'^0\ttgt.prob\t'
    assert_line --index 1 --regexp $'^1\tsrc.label\t'
}

@test "pseudolabel --weight threshold and none" {
    prob >p.tns
    pseudolabel -q --weight threshold p.tns >t.tns
    [ "$(values t.tns tgt.weight)" = "1 0 1 0" ]
    pseudolabel -q --weight none p.tns >n.tns
    [ "$(values n.tns tgt.weight)" = "1 1 1 1" ]
    [ "$(values n.tns tgt.lambda)" = "0.5" ]
}

@test "pseudolabel --threshold moves lambda" {
    prob >p.tns
    run_split pseudolabel --threshold 0.5 p.tns -o out.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"lambda=0.750000 confident=3 pixels=4"* ]]
    [ "$(values out.tns tgt.weight)" = "0.75 0.75 0.75 0.75" ]
    pseudolabel -q --threshold 0 p.tns >z.tns
    [ "$(values z.tns tgt.lambda)" = "1" ]
}

@test "pseudolabel --logits applies a softmax" {
    # pixel 0: logits (ln 98, ln 1, ln 1) -> softmax (0.98, 0.01, 0.01)
    # pixel 1: logits (0, 1, 0) -> class 1 at e/(e+2) = 0.576
    frame tgt.logits f32 1,3,1,2 4.58496747867 0 0 1 0 0 >l.tns
    run_split pseudolabel --logits --prob tgt.logits l.tns -o out.tns
    [ "$status" -eq 0 ]
    [ "$(values out.tns tgt.plabel)" = "0 1" ]
    [[ $stderr == *"lambda=0.500000 confident=1 pixels=2 hist=1,1,0" ]]
}

@test "pseudolabel: one output segment per input segment, lambda each" {
    prob >a.tns
    frame tgt.prob f32 1,2,1,2 1 1 0 0 >b.tns
    cat a.tns b.tns >ab.tns
    run_split pseudolabel ab.tns -o out.tns
    [ "$status" -eq 0 ]
    [ "${#stderr}" -gt 0 ]
    run tns info out.tns
    assert_line "# segment 1"
    [ "$(tns info out.tns | grep -c tgt.lambda)" -eq 2 ]
    [[ $stderr == *"segment=0 lambda=0.500000"* ]]
    [[ $stderr == *"segment=1 lambda=1.000000 confident=2 pixels=2 hist=2,0"* ]]
}

@test "pseudolabel --drop, --prefix, --no-lambda, --replace" {
    prob >p.tns
    pseudolabel -q --drop tgt.prob --no-lambda p.tns >d.tns
    run tns info d.tns
    refute_output --partial tgt.prob
    refute_output --partial tgt.lambda
    assert_output --partial tgt.plabel
    tns rename -i p.tns tgt.prob=u.prob >u.tns
    pseudolabel -q --prefix u u.tns >o.tns
    run tns info o.tns
    assert_output --partial u.plabel
    assert_output --partial u.weight
    assert_output --partial u.lambda
    # running twice needs --replace
    run_split pseudolabel -q o.tns --prefix u
    assert_clean_failure pseudolabel
    [[ $stderr == *"'u.plabel' is already in the stream"* ]]
    pseudolabel -q --prefix u --replace --weight none o.tns >r.tns
    [ "$(values r.tns u.weight)" = "1 1 1 1" ]
}

@test "pseudolabel: same input from stdin and from a file, same bytes" {
    prob >p.tns
    pseudolabel -q p.tns >a.tns
    pseudolabel -q <p.tns >b.tns
    pseudolabel -q -i p.tns -o c.tns
    cmp a.tns b.tns
    cmp a.tns c.tns
}

@test "pseudolabel: missing frame" {
    frame tgt.other f32 1,3,2,2 $(repeat 12 0.1) >in.tns
    run_split pseudolabel in.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"missing frame 'tgt.prob'"* ]]
}

@test "pseudolabel: wrong dtype and wrong rank" {
    frame tgt.prob u8 1,3,2,2 $(repeat 12 1) >u8.tns
    run_split pseudolabel u8.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"'tgt.prob' has dtype u8, expected f32"* ]]
    frame tgt.prob f32 3,2,2 $(repeat 12 0.1) >r3.tns
    run_split pseudolabel r3.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"frame 'tgt.prob' has shape 3x2x2, expected NxCxHxW"* ]]
}

@test "pseudolabel: NaN, negative and too many classes" {
    frame tgt.prob f32 1,2,1,2 0.5 NaN 0.5 0.5 >nan.tns
    run_split pseudolabel nan.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"frame 'tgt.prob' has NaN at image 0 class 0 row 0 column 1, expected a probability in [0, 1]"* ]]
    frame tgt.prob f32 1,2,1,2 0.5 -0.25 0.5 1.25 >neg.tns
    run_split pseudolabel neg.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"frame 'tgt.prob' has -0.25 at image 0 class 0 row 0 column 1, expected a probability in [0, 1] (logits? see --logits)"* ]]
    # the same scores as logits are fine; NaN is not
    pseudolabel -q --logits neg.tns >/dev/null
    run_split pseudolabel --logits nan.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"frame 'tgt.prob' has NaN at image 0 class 0 row 0 column 1, expected a finite logit"* ]]
    frame tgt.prob f32 1,256,1,1 $(repeat 256 0.001) >big.tns
    run_split pseudolabel big.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"256 classes, expected 1..255"* ]]
}

@test "pseudolabel: probabilities that do not sum to 1 are refused, naming the pixel" {
    # sigmoid-like scores: each in [0, 1], but pixel 1 sums to 0.4
    frame tgt.prob f32 1,2,1,2 0.5 0.2 0.5 0.2 >s.tns
    run_split pseudolabel s.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"frame 'tgt.prob' sums to 0.4 over its 2 classes at image 0 row 0 column 1, expected 1"* ]]
    # within rounding is fine
    frame tgt.prob f32 1,2,1,1 0.3000001 0.7 >r.tns
    pseudolabel -q r.tns >/dev/null
}

@test "pseudolabel: bad options" {
    prob >p.tns
    run_split pseudolabel --bogus p.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"unknown option '--bogus'"* ]]
    run_split pseudolabel --weight soft p.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"expected one of threshold_uniform, threshold, none"* ]]
    run_split pseudolabel --threshold 1.5 p.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"--threshold: expected a number in [0, 1]"* ]]
    run_split pseudolabel p.tns p.tns
    assert_clean_failure pseudolabel
}

@test "pseudolabel: a truncated stream fails cleanly" {
    prob >p.tns
    head -c 40 p.tns >cut.tns
    run_split pseudolabel cut.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"truncated"* ]]
}

@test "pseudolabel --ignore-*: margins of the full-size image, through the crop box" {
    # the 2x2 crop is the top-left quadrant of a 4x4 image at half scale:
    # its rows show full rows 1 and 3, its columns full columns 1 and 3
    { prob; frame tgt.box i32 1,7 0 0 2 2 4 4 0; } >in1.tns
    tns cat in1.tns >in.tns
    run_split pseudolabel --ignore-top 2 in.tns -o t.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"lambda=0.500000 confident=2 pixels=4 hist=1,1,2 margins=2" ]]
    [ "$(values t.tns tgt.weight)" = "0 0 0.5 0.5" ]
    [ "$(values t.tns tgt.lambda)" = "0.5" ]
    pseudolabel -q --ignore-bottom 1 in.tns >b.tns
    [ "$(values b.tns tgt.weight)" = "0.5 0.5 0 0" ]
    pseudolabel -q --ignore-right 1 --weight none in.tns >r.tns
    [ "$(values r.tns tgt.weight)" = "1 0 1 0" ]
    # flipped: crop column 0 shows full column 3
    { prob; frame tgt.box i32 1,7 0 0 2 2 4 4 1; } >f1.tns
    tns cat f1.tns >f.tns
    pseudolabel -q --ignore-left 2 --weight none f.tns >l.tns
    [ "$(values l.tns tgt.weight)" = "1 0 1 0" ]
    # past the border (padding) keeps its weight
    { prob; frame tgt.box i32 1,7 -1 0 2 2 4 4 0; } >p1.tns
    tns cat p1.tns >p.tns
    pseudolabel -q --ignore-left 4 --weight none p.tns >q.tns
    [ "$(values q.tns tgt.weight)" = "1 0 1 0" ]
}

@test "pseudolabel --ignore-*: a crop of seg-batch keeps DAFormer's rows out" {
    # 96x48 images resized to 48x24 and cropped to 32x24: the full height,
    # so 6 and 12 full rows are the top 3 and bottom 6 rows of the crop
    synth-city -q --size 96x48 --source 1 --train 2 --val 1 data
    seg-init --width 4 -o m.tns
    seg-batch --dataset cityscapes --root data/target --no-labels --prefix tgt \
        --resize 48x24 --crop 32x24 --batch 2 --emit-box --seed 4 -q |
        seg-infer -m m.tns |
        pseudolabel -q --weight none --ignore-top 6 --ignore-bottom 12 >o.tns
    want=$( (for i in 1 2; do
        for r in $(seq 0 23); do
            v=1; { [ $r -lt 3 ] || [ $r -ge 18 ]; } && v=0
            repeat 32 $v
        done
    done) | tr '\n' ' ' | sed 's/ $//')
    [ "$(values o.tns tgt.weight)" = "$want" ]
}

@test "pseudolabel --ignore-* needs the crop boxes, well formed" {
    prob >p.tns
    assert_refused pseudolabel out.tns "missing frame 'tgt.box'" pseudolabel --ignore-top 1 p.tns -o out.tns
    [[ $stderr == *"seg-batch --emit-box"* ]]
    { prob; frame tgt.box i32 1,4 0 0 2 2; } >a1.tns
    tns cat a1.tns >a.tns
    assert_refused pseudolabel out.tns "expected Nx7" pseudolabel --ignore-top 1 a.tns -o out.tns
    { prob; frame tgt.box i32 1,7 0 0 2 2 4 4 2; } >b1.tns
    tns cat b1.tns >b.tns
    assert_refused pseudolabel out.tns "has flip 2 at image 0, expected 0 or 1" pseudolabel --ignore-top 1 b.tns -o out.tns
    { prob; frame tgt.box i32 2,7 0 0 2 2 4 4 0 0 0 2 2 4 4 0; } >c1.tns
    tns cat c1.tns >c.tns
    assert_refused pseudolabel out.tns "one box per image" pseudolabel --ignore-top 1 c.tns -o out.tns
    { prob; frame tgt.box i32 1,7 0 0 2 0 4 4 0; } >d1.tns
    tns cat d1.tns >d.tns
    assert_refused pseudolabel out.tns "has sh 0 at image 0" pseudolabel --ignore-top 1 d.tns -o out.tns
    assert_refused pseudolabel out.tns "--ignore-top" pseudolabel --ignore-top -1 p.tns -o out.tns
}
