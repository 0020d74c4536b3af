#!/usr/bin/env bats
# The batch contract (lib/data/batch.h): every tool that reads an image,
# label, weight or probability frame checks it the same way, and the same
# bad frame gets the same message from each of them.

load helpers
load stages

setup_file() {
    export C19="$BATS_FILE_TMPDIR/m19.tns"
    PATH="$DACS_BIN:$PATH" seg-init --width 4 --classes 19 --seed 5 -o "$C19"
}

# A 1x16x16 batch: src.image, src.label (labels p % 19 at pixel p, u8
# unless LDTYPE is set, of shape LSHAPE if set; the pixel at index BADAT
# holds BAD instead), and the target frames classmix reads under the
# prefix t: t.image, t.plabel and t.weight (1, or W at pixel 3).
batch() {
    local img="" lab=() wt=() n=256 p shape=${LSHAPE:-1,16,16}
    [ "$shape" = 1,16,16 ] || n=$((16 * 15))
    for ((p = 0; p < 256; p++)); do img+="$((p % 256)) 7 $((p / 16)) "; done
    for ((p = 0; p < n; p++)); do lab+=($((p % 19))); wt+=(1); done
    [ -n "${BAD:-}" ] && lab[${BADAT:-18}]=$BAD
    [ -n "${W:-}" ] && wt[3]=$W
    # shellcheck disable=SC2086
    {
        frame src.image u8 1,16,16,3 $img >si.tns
        frame src.label "${LDTYPE:-u8}" "$shape" "${lab[@]}" >sl.tns
        frame t.image u8 1,16,16,3 $img >ti.tns
        frame t.plabel u8 1,16,16 $(repeat 256 2) >tl.tns
        frame t.weight f32 1,16,16 "${wt[@]:0:256}" $(repeat $((256 - n)) 1) >tw.tns
    } && tns cat si.tns sl.tns ti.tns tl.tns tw.tns >"$1"
}

# msg TOOL CMD...: run CMD, which must fail cleanly as TOOL; print its
# message without the "TOOL: " in front.
msg() {
    local tool=$1
    shift
    run_split "$@"
    assert_clean_failure "$tool"
    echo "${stderr#"$tool: "}"
}

step() { seg-step -m "$C19" -o out.tns "$@"; }
mix() { classmix --tgt t "$@"; }

@test "a label out of range: one message from seg-step, classmix and miou" {
    BAD=40 batch b.tns
    want="frame 'src.label' has 40 at image 0 row 1 column 2, expected a label in 0..18 or 255 (ignore)"
    [ "$(msg seg-step step -i b.tns)" = "$want" ]
    [ "$(msg classmix mix b.tns)" = "$want" ]
    [ "$(msg miou miou --pred-frame t.plabel --gt-frame src.label b.tns)" = "b.tns: segment 0: $want" ]
    # a u16 label above 255 is out of range the same way
    LDTYPE=u16 BAD=300 batch c.tns
    want="frame 'src.label' has 300 at image 0 row 1 column 2, expected a label in 0..18 or 255 (ignore)"
    [ "$(msg seg-step step -i c.tns)" = "$want" ]
    [ "$(msg classmix mix c.tns)" = "$want" ]
    [ "$(msg miou miou --pred-frame t.plabel --gt-frame src.label c.tns)" = "c.tns: segment 0: $want" ]
}

@test "u16 labels: seg-step, classmix and miou give what u8 labels give" {
    batch u8.tns
    LDTYPE=u16 batch u16.tns
    seg-step -m "$C19" -o a.tns -i u8.tns 2>/dev/null
    seg-step -m "$C19" -o b.tns -i u16.tns 2>/dev/null
    cmp a.tns b.tns
    mix --seed 3 u8.tns | tns select 'mix.*' >m8.tns
    mix --seed 3 u16.tns | tns select 'mix.*' >m16.tns
    cmp m8.tns m16.tns
    [ "$(miou --pred-frame t.plabel --gt-frame src.label u8.tns)" = \
      "$(miou --pred-frame t.plabel --gt-frame src.label u16.tns)" ]
}

@test "a label of the wrong dtype: one message from seg-step, classmix and miou" {
    LDTYPE=f32 batch b.tns
    want="frame 'src.label' has dtype f32, expected u8 or u16"
    [ "$(msg seg-step step -i b.tns)" = "$want" ]
    [ "$(msg classmix mix b.tns)" = "$want" ]
    [ "$(msg miou miou --pred-frame t.plabel --gt-frame src.label b.tns)" = "b.tns: segment 0: $want" ]
}

@test "an image that is not NxHxWx3: one message from seg-step, seg-infer and classmix" {
    batch b.tns
    frame src.image u8 1,16,16,1 $(repeat 256 9) >grey.tns
    tns cat --replace b.tns grey.tns >g.tns
    want="frame 'src.image' has shape 1x16x16x1, expected NxHxWx3 (RGB images)"
    [ "$(msg seg-step step -i g.tns)" = "$want" ]
    [ "$(msg seg-infer seg-infer -m "$C19" --in src.image -i g.tns)" = "$want" ]
    [ "$(msg classmix mix g.tns)" = "$want" ]
}

@test "a label of another size than its image: one message from seg-step, classmix and tns tile" {
    LSHAPE=1,16,15 batch b.tns
    want="frame 'src.label' has shape 1x16x15, 'src.image' has 1x16x16x3: a batch's frames must agree in N, H and W"
    [ "$(msg seg-step step -i b.tns)" = "$want" ]
    [ "$(msg classmix mix b.tns)" = "$want" ]
    [ "$(msg tns tns tile -i b.tns out.png src.image src.label)" = "tile: $want" ]
    [ ! -e out.png ]
}

@test "a negative or NaN weight: one message from seg-step and classmix" {
    for w in -0.5 NaN; do
        W=$w batch b.tns
        want="frame 't.weight' has $w at image 0 row 0 column 3, expected a finite weight >= 0"
        [ "$(msg seg-step step -i b.tns --mix-image t.image --mix-label t.plabel --mix-weight t.weight)" = "$want" ]
        [ "$(msg classmix mix b.tns)" = "$want" ]
    done
}

@test "a missing frame: one message from seg-step, seg-infer, pseudolabel, classmix and miou" {
    batch b.tns
    want="missing frame 'nope' in the input stream"
    [ "$(msg seg-step step -i b.tns --src-image nope)" = "$want" ]
    [ "$(msg seg-infer seg-infer -m "$C19" --in nope -i b.tns)" = "$want" ]
    [ "$(msg pseudolabel pseudolabel --prob nope b.tns)" = "$want" ]
    [ "$(msg classmix mix --src nope b.tns)" = "missing frame 'nope.image' in the input stream" ]
    [ "$(msg miou miou --pred-frame nope --gt-frame src.label b.tns)" = "b.tns: segment 0: $want" ]
}
