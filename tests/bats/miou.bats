#!/usr/bin/env bats
# miou: confusion matrix and mean IoU, by the Cityscapes rules.

load helpers
load stages

FIX="$DACS_TOP/tests/fixtures/miou"

# The known pair of 10 pixels (rows of 5), 4 classes:
#   gt   0 0 0 1 1 | 2 2 255 255 0
#   pred 0 0 1 1 3 | 2 255 0 3 3
# class 0: TP 2, FN 2 -> 50; class 1: TP 1, FP 1, FN 1 -> 33.33;
# class 2: TP 1, FN 1 (void prediction) -> 50; class 3: FP 2, no gt -> 0
pair() {
    frame tgt.pred u8 1,2,5 0 0 1 1 3 2 255 0 3 3 >p.tns
    frame tgt.label u8 1,2,5 0 0 0 1 1 2 2 255 255 0 >g.tns
    tns cat p.tns g.tns >pair.tns
}

@test "miou --help shows usage and defaults" {
    run miou --help
    assert_success
    assert_output --partial "usage: miou [OPTIONS] [FILE]"
    assert_output --partial "default tgt.pred"
    assert_output --partial "default 19"
}

@test "miou: a confusion matrix on a known pair, text" {
    pair
    run_split miou --classes 4 pair.tns
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    want="class              IoU     acc
class0           50.00   50.00
class1           33.33   50.00
class2           50.00   50.00
class3            0.00     n/a
mIoU (4 classes): 33.33 (4 with data)
pixel accuracy: 50.00
pixels: 8 counted, 2 ignored"
    [ "$stdout" = "$want" ]
}

@test "miou: tsv; a class absent from ground truth and prediction is left out" {
    pair
    run_split miou --classes 5 --format tsv pair.tns
    [ "$status" -eq 0 ]
    want="id	class	iou	acc	tp	fp	fn
0	class0	50.0000	50.0000	2	0	2
1	class1	33.3333	50.0000	1	1	1
2	class2	50.0000	50.0000	1	0	1
3	class3	0.0000	nan	0	2	0
4	class4	nan	nan	0	0	0
miou	33.3333
pixel_acc	50.0000
pixels	8
ignored	2"
    [ "$stdout" = "$want" ]
}

@test "miou: json" {
    pair
    miou --classes 4 --format json pair.tns >out.json
    grep -q '"miou": 33.3333, "miou_classes": 4' out.json
    grep -q '{"id": 3, "name": "class3", "iou": 0.0000, "acc": null, "tp": 0, "fp": 2, "fn": 0}' out.json
    if command -v python3 >/dev/null; then
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["per_class"]) == 4' out.json
    fi
}

@test "miou --confusion saves the matrix as text" {
    pair
    miou --classes 4 --confusion cm.txt pair.tns >/dev/null
    want="# dacs confusion matrix: rows ground truth 0..3, columns prediction
# 0..3 then 255 (void); pixels with ground truth 255 not counted
classes 4
ignored 2
2 1 0 1 0
0 1 0 1 0
0 0 1 0 1
0 0 0 0 0"
    [ "$(cat cm.txt)" = "$want" ]
}

@test "miou agrees with the Cityscapes script's rules (tests/ref/miou_ref.py)" {
    tns npy-in --name tgt.pred "$FIX/pred.npy" >p.tns
    tns npy-in -i p.tns --name tgt.label "$FIX/gt.npy" >in.tns
    miou --format tsv in.tns >out.tsv
    awk -F'\t' 'NR > 1 && NF == 7 { print $1 "\t" $3 } NF == 2 && $1 ~ /^miou/' \
        out.tsv >got.tsv
    diff got.tsv "$FIX/expected.tsv"
    # train (16) is in neither: left out; terrain (9) predicted only: 0
    grep -q $'^16\ttrain\tnan\t' out.tsv
    grep -q $'^9\tterrain\t0.0000\t' out.tsv
    run miou in.tns
    assert_line --regexp '^mIoU \(19 classes\): 35\.83 \(18 with data\)$'
    assert_line --regexp '^mIoU \(16 SYNTHIA classes\): 40\.31 \(16 with data\)$'
    assert_line --regexp '^mIoU \(13 classes\): 40\.43 \(13 with data\)$'
    assert_line --partial "traffic light"
}

@test "miou accumulates across segments; two files read in step" {
    pair
    frame tgt.pred u8 1,1,5 0 0 1 1 3 >p1.tns
    frame tgt.label u8 1,1,5 0 0 0 1 1 >g1.tns
    frame tgt.pred u8 1,1,5 2 255 0 3 3 >p2.tns
    frame tgt.label u8 1,1,5 2 2 255 255 0 >g2.tns
    tns cat p1.tns g1.tns >s1.tns
    tns cat p2.tns g2.tns >s2.tns
    cat s1.tns s2.tns >two.tns
    miou --classes 4 --format tsv pair.tns >whole.tsv
    miou --classes 4 --format tsv two.tns >split.tsv
    diff whole.tsv split.tsv
    cat p1.tns p2.tns >preds.tns
    cat g1.tns g2.tns >gts.tns
    miou --classes 4 --format tsv --pred preds.tns --gt gts.tns >files.tsv
    diff whole.tsv files.tsv
    miou --classes 4 --format tsv <two.tns >stdin.tsv
    diff whole.tsv stdin.tsv
}

@test "miou: u16 ground truth, other frame names, --names, -o" {
    frame pred u8 1,1,4 0 1 2 255 >p.tns
    frame gt u16 1,1,4 0 1 1 255 >g.tns
    tns cat p.tns g.tns >in.tns
    printf 'sky\nroad\ncar\n' >names.txt
    miou --pred-frame pred --gt-frame gt --names names.txt --format tsv \
        -o report.tsv in.tns
    grep -q $'^0\tsky\t100.0000\t' report.tsv
    grep -q $'^1\troad\t50.0000\t' report.tsv
    grep -q $'^2\tcar\t0.0000\t' report.tsv
    if grep -q miou16 report.tsv; then fail "miou16 reported for 3 classes"; fi
}

@test "miou: missing frame" {
    frame tgt.pred u8 1,1,2 0 1 >p.tns
    run_split miou p.tns
    assert_clean_failure miou
    [[ $stderr == *"segment 0: missing frame 'tgt.label'"* ]]
}

@test "miou: shape mismatch and wrong dtype" {
    frame tgt.pred u8 1,1,3 0 1 1 >p.tns
    frame tgt.label u8 1,1,2 0 1 >g.tns
    tns cat p.tns g.tns >in.tns
    run_split miou in.tns
    assert_clean_failure miou
    [[ $stderr == *"frame 'tgt.pred' has shape 1x1x3, 'tgt.label' has 1x1x2: a batch's frames must agree in N, H and W"* ]]
    frame tgt.pred f32 1,1,2 0 1 >pf.tns
    tns cat pf.tns g.tns >in2.tns
    run_split miou in2.tns
    assert_clean_failure miou
    [[ $stderr == *"frame 'tgt.pred' has dtype f32, expected u8 or u16"* ]]
}

@test "miou: labels out of range, said which" {
    frame tgt.pred u8 1,1,3 0 19 255 >p.tns
    frame tgt.label u8 1,1,3 0 1 2 >g.tns
    tns cat p.tns g.tns >in.tns
    run_split miou in.tns
    assert_clean_failure miou
    [[ $stderr == *"frame 'tgt.pred' has 19 at image 0 row 0 column 1, expected a label in 0..18 or 255 (ignore)"* ]]
    frame tgt.pred u8 1,1,3 0 1 2 >p.tns
    frame tgt.label u16 1,1,3 0 300 2 >g.tns
    tns cat p.tns g.tns >in.tns
    run_split miou in.tns
    assert_clean_failure miou
    [[ $stderr == *"frame 'tgt.label' has 300 at image 0 row 0 column 1"* ]]
}

@test "miou: two files that do not match" {
    frame tgt.pred u8 1,1,2 0 1 >p.tns
    frame tgt.label u8 1,1,2 0 1 >g.tns
    cat g.tns g.tns >gg.tns
    run_split miou --pred p.tns --gt gg.tns
    assert_clean_failure miou
    [[ $stderr == *"p.tns has 1 segments, gg.tns has more"* ]]
    run_split miou --pred p.tns
    assert_clean_failure miou
    [[ $stderr == *"--pred and --gt go together"* ]]
}

@test "miou: bad options" {
    pair
    run_split miou --bogus pair.tns
    assert_clean_failure miou
    [[ $stderr == *"unknown option '--bogus'"* ]]
    run_split miou --format xml pair.tns
    assert_clean_failure miou
    [[ $stderr == *"expected one of text, tsv, json"* ]]
    printf 'a\nb\n' >n.txt
    run_split miou --classes 3 --names n.txt pair.tns
    assert_clean_failure miou
    [[ $stderr == *"holds 2 names, but --classes is 3"* ]]
    run_split miou --classes 0 pair.tns
    assert_clean_failure miou
}
