#!/usr/bin/env bats
# classmix: cross-domain ClassMix and strong augmentation.

load helpers
load stages

# A 1x4x4 batch: source pixel p has colour p, target pixel p has 100+p;
# pseudo-labels all 5, weights all 0.25.  SRC_LABEL may be overridden.
SRC_LABEL="0 0 1 1  0 0 1 1  2 2 255 255  2 2 255 255"
batch4() {
    # shellcheck disable=SC2086
    {
        frame src.image u8 1,4,4,3 $(grey 0 16) >a.tns
        frame src.label u8 1,4,4 $SRC_LABEL >b.tns
        frame tgt.image u8 1,4,4,3 $(grey 100 16) >c.tns
        frame tgt.plabel u8 1,4,4 $(repeat 16 5) >d.tns
        frame tgt.weight f32 1,4,4 $(repeat 16 0.25) >e.tns
    }
    tns cat a.tns b.tns c.tns d.tns e.tns >"$1"
    rm -f a.tns b.tns c.tns d.tns e.tns
}

# A 2x2x3 batch of 2 with a colourful source, for augmentation tests.
batch2() {
    frame src.image u8 2,2,3,3 $(seq 0 7 245) >a.tns
    frame src.label u8 2,2,3 0 1 2 3 4 5  6 7 8 0 1 255 >b.tns
    frame tgt.image u8 2,2,3,3 $(seq 50 5 225) >c.tns
    frame tgt.plabel u8 2,2,3 1 1 1 2 2 2  3 3 3 4 4 4 >d.tns
    frame tgt.weight f32 2,2,3 $(repeat 6 0.5) $(repeat 6 0.75) >e.tns
    tns cat a.tns b.tns c.tns d.tns e.tns >"$1"
    rm -f a.tns b.tns c.tns d.tns e.tns
}

@test "classmix --help shows usage and defaults" {
    run classmix --help
    assert_success
    assert_output --partial "usage: classmix"
    assert_output --partial "default 0.8"
    assert_output --partial "default 0.15,1.15"
    assert_output --partial "(default class)"
    assert_output --partial "(default image)"
}

@test "classmix: a 4x4 class mix, golden" {
    batch4 in.tns
    run_split classmix --no-augment -v --seed 0 in.tns -o out.tns
    [ "$status" -eq 0 ]
    # seed 0 pastes classes 1 and 2 of {0, 1, 2} (255 is never drawn)
    [ "$stderr" = "classmix: segment=0 picked0=1,2 jitter=0 blur=0 kernel=1x1 flip=0" ]
    [ "$(values out.tns mix.mask)" = "0 0 1 1 0 0 1 1 1 1 0 0 1 1 0 0" ]
    [ "$(values out.tns mix.label)" = "5 5 1 1 5 5 1 1 2 2 5 5 2 2 5 5" ]
    [ "$(values out.tns mix.weight)" = "0.25 0.25 1 1 0.25 0.25 1 1 1 1 0.25 0.25 1 1 0.25 0.25" ]
    want="100 100 100 101 101 101 2 2 2 3 3 3 104 104 104 105 105 105 6 6 6 7 7 7 8 8 8 9 9 9 110 110 110 111 111 111 12 12 12 13 13 13 114 114 114 115 115 115"
    [ "$(values out.tns mix.image)" = "$want" ]
    run tns info out.tns
    assert_line --index 5 --regexp $'^5\tmix.image\tu8\t1x4x4x3\t'
    assert_line --index 6 --regexp $'^6\tmix.label\tu8\t1x4x4\t'
    assert_line --index 7 --regexp $'^7\tmix.weight\tf32\t1x4x4\t'
    assert_line --index 8 --regexp $'^8\tmix.mask\tu8\t1x4x4\t'
}

@test "classmix: input frames pass through unchanged, first" {
    batch4 in.tns
    classmix in.tns >out.tns
    tns drop 'mix.*' <out.tns >kept.tns
    cmp kept.tns in.tns
}

@test "classmix: an all-ones mask returns the source" {
    SRC_LABEL=$(repeat 16 3)
    batch4 in.tns
    classmix --no-augment in.tns >out.tns
    [ "$(values out.tns mix.mask)" = "$(repeat 16 1)" ]
    [ "$(values out.tns mix.image)" = "$(values out.tns src.image)" ]
    [ "$(values out.tns mix.label)" = "$(values out.tns src.label)" ]
    [ "$(values out.tns mix.weight)" = "$(repeat 16 1)" ]
}

@test "classmix: the mixed weight is 1 on every pasted pixel" {
    batch2 in.tns
    for s in 1 2 3; do
        classmix --seed "$s" --flip in.tns >out.tns
        read -ra m <<<"$(values out.tns mix.mask)"
        read -ra w <<<"$(values out.tns mix.weight)"
        for i in "${!m[@]}"; do
            if [ "${m[$i]}" = 1 ]; then
                [ "${w[$i]}" = 1 ]
            else
                [ "${w[$i]}" = 0.5 ] || [ "${w[$i]}" = 0.75 ]
            fi
        done
    done
}

@test "classmix: augmentation never touches labels, weights or the mask" {
    batch2 in.tns
    classmix --seed 4 --no-augment in.tns >plain.tns
    classmix --seed 4 --jitter-p 1 --blur-p 1 --blur-frac 1 -v in.tns \
        >aug.tns 2>aug.err
    grep -q "jitter=1 blur=1 kernel=1x3" aug.err
    for f in mix.label mix.weight mix.mask; do
        [ "$(values plain.tns $f)" = "$(values aug.tns $f)" ]
    done
    [ "$(values plain.tns mix.image)" != "$(values aug.tns mix.image)" ]
}

@test "classmix: same seed, same bytes; another seed, another draw" {
    batch2 in.tns
    classmix --seed 7 --iter 3 in.tns >a.tns
    classmix --seed 7 --iter 3 in.tns >b.tns
    cmp a.tns b.tns
    differ=0
    for s in 8 9 10 11; do
        classmix --seed "$s" --iter 3 in.tns >c.tns
        cmp -s a.tns c.tns || differ=1
    done
    [ "$differ" = 1 ]
    classmix --seed 7 --iter 4 in.tns >d.tns
    if cmp -s a.tns d.tns; then fail "iteration 4 draws as iteration 3 does"; fi
}

@test "classmix: segment k of a stream is iteration T+k" {
    batch2 one.tns
    cat one.tns one.tns >two.tns
    classmix --seed 3 --iter 10 two.tns >both.tns
    classmix --seed 3 --iter 10 one.tns >s0.tns
    classmix --seed 3 --iter 11 one.tns >s1.tns
    # tns select rewrites the concatenation in canonical form: one final marker
    cat s0.tns s1.tns | tns select '*' | cmp - both.tns
}

@test "classmix --mode naive pastes target i onto target (i+1) mod N" {
    batch2 in.tns
    run_split classmix --mode naive --no-augment -v --seed 2 in.tns -o out.tns
    [ "$status" -eq 0 ]
    # item 0's pseudo-labels {1, 2}: one pasted onto item 1's {3, 4}
    [[ $stderr =~ picked0=([12]) ]]
    p=${BASH_REMATCH[1]}
    if [ "$p" = 1 ]; then want0="1 1 1 4 4 4"; mask0="1 1 1 0 0 0"; else
        want0="3 3 3 2 2 2"; mask0="0 0 0 1 1 1"; fi
    read -ra l <<<"$(values out.tns mix.label)"
    read -ra m <<<"$(values out.tns mix.mask)"
    [ "${l[*]:0:6}" = "$want0" ]
    [ "${m[*]:0:6}" = "$mask0" ]
    # the weights come from the two targets
    read -ra w <<<"$(values out.tns mix.weight)"
    for i in 0 1 2 3 4 5; do
        if [ "${m[$i]}" = 1 ]; then [ "${w[$i]}" = 0.5 ]; else [ "${w[$i]}" = 0.75 ]; fi
    done
    # naive needs no source frames
    tns drop 'src.*' <in.tns >tgt.tns
    classmix --mode naive tgt.tns >/dev/null
}

@test "classmix --mode none: the target as it is" {
    batch2 in.tns
    tns drop 'src.*' <in.tns >tgt.tns
    classmix --mode none --no-augment tgt.tns >out.tns
    [ "$(values out.tns mix.image)" = "$(values out.tns tgt.image)" ]
    [ "$(values out.tns mix.label)" = "$(values out.tns tgt.plabel)" ]
    [ "$(values out.tns mix.weight)" = "$(values out.tns tgt.weight)" ]
    [ "$(values out.tns mix.mask)" = "$(repeat 12 0)" ]
}

@test "classmix --keep-ignore may draw 255, the default never does" {
    SRC_LABEL="0 0 0 0 0 0 0 0 255 255 255 255 255 255 255 255"
    batch4 in.tns
    for s in 0 1 2 3 4 5 6 7; do
        classmix --seed "$s" -v --no-augment in.tns 2>>default.err >/dev/null
        classmix --seed "$s" -v --no-augment --keep-ignore in.tns \
            2>>keep.err >/dev/null
    done
    [ "$(grep -c 'picked0=0 ' default.err)" -eq 8 ]
    grep -q 'picked0=255 ' keep.err
    grep -q 'picked0=0 ' keep.err
    # when 255 is pasted, the mixed label keeps it
    classmix --seed 0 --no-augment --keep-ignore -v in.tns >k.tns 2>k.err
    if grep -q 'picked0=255 ' k.err; then
        [ "$(values k.tns mix.label)" = "$(repeat 8 5) $(repeat 8 255)" ]
    fi
}

@test "classmix --pool batch draws from the classes of the whole batch" {
    batch2 in.tns
    for s in 0 1 2 3 4 5; do
        classmix --seed "$s" -v --no-augment in.tns 2>>image.err >/dev/null
        classmix --seed "$s" -v --no-augment --pool batch in.tns \
            2>>batch.err >/dev/null
    done
    # item 1 has classes {6, 7, 8, 0, 1}: 3 picked; per batch (9 classes),
    # 5 picked and item 0's classes appear in item 1's draw
    if grep -Eq 'picked1=([0-9]+,){3}' image.err; then fail "item 1 picked more than its 3 classes without --pool batch"; fi
    grep -Eq 'picked1=([0-9]+,){4}[0-9]+ ' batch.err
    grep -Eq 'picked1=[0-9,]*\b[2-5]\b' batch.err
}

@test "classmix --flip moves image, label, weight and mask alike" {
    batch2 in.tns
    classmix --seed 1 --no-augment in.tns >plain.tns
    run_split classmix --seed 1 --no-augment --flip --flip-p 1 -v in.tns -o flip.tns
    [[ $stderr == *"flip=1"* ]]
    # reverse each row of 3 pixels
    rev_rows() { # VALUES... with W=3 and K values a pixel
        local k=$1
        shift
        local v=("$@") out=() r x c
        for ((r = 0; r < ${#v[@]} / (3 * k); r++)); do
            for ((x = 2; x >= 0; x--)); do
                for ((c = 0; c < k; c++)); do
                    out+=("${v[r * 3 * k + x * k + c]}")
                done
            done
        done
        echo "${out[@]}"
    }
    for f in mix.label mix.weight mix.mask; do
        read -ra a <<<"$(values plain.tns $f)"
        [ "$(rev_rows 1 "${a[@]}")" = "$(values flip.tns $f)" ]
    done
    read -ra a <<<"$(values plain.tns mix.image)"
    [ "$(rev_rows 3 "${a[@]}")" = "$(values flip.tns mix.image)" ]
}

@test "classmix: missing frame" {
    batch4 in.tns
    tns drop tgt.weight <in.tns >no.tns
    run_split classmix no.tns
    assert_clean_failure classmix
    [[ $stderr == *"missing frame 'tgt.weight'"* ]]
    tns drop src.label <in.tns >no.tns
    run_split classmix no.tns
    assert_clean_failure classmix
    [[ $stderr == *"missing frame 'src.label'"* ]]
}

@test "classmix: source and target must agree in N, H and W" {
    batch4 in.tns
    frame tgt.image u8 1,4,5,3 $(grey 0 20) >t.tns
    frame tgt.plabel u8 1,4,5 $(repeat 20 1) >p.tns
    frame tgt.weight f32 1,4,5 $(repeat 20 1) >w.tns
    tns drop 'tgt.*' <in.tns >s.tns
    tns cat s.tns t.tns p.tns w.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"frame 'tgt.image' has shape 1x4x5x3, 'src.image' has 1x4x4x3: a batch's frames must agree in N, H and W"* ]]
    frame src.label u8 1,4,3 $(repeat 12 1) >l.tns
    tns cat --replace in.tns l.tns >bad2.tns
    run_split classmix bad2.tns
    assert_clean_failure classmix
    [[ $stderr == *"'src.label' has shape 1x4x3, 'src.image' has 1x4x4x3"* ]]
}

@test "classmix: wrong dtypes and shapes" {
    batch4 in.tns
    frame tgt.weight u8 1,4,4 $(repeat 16 1) >w.tns
    tns cat --replace in.tns w.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"'tgt.weight' has dtype u8, expected f32"* ]]
    frame src.label i32 1,4,4 $(repeat 16 1) >l.tns
    tns cat --replace in.tns l.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"'src.label' has dtype i32, expected u8 or u16"* ]]
    frame src.image u8 1,4,4,1 $(repeat 16 1) >i.tns
    tns cat --replace in.tns i.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"'src.image' has shape 1x4x4x1, expected NxHxWx3"* ]]
}

@test "classmix: NaN weight and labels out of range" {
    batch4 in.tns
    frame tgt.weight f32 1,4,4 $(repeat 15 1) NaN >w.tns
    tns cat --replace in.tns w.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"frame 'tgt.weight' has NaN at image 0 row 3 column 3, expected a finite weight >= 0"* ]]
    frame src.label u8 1,4,4 $(repeat 15 1) 19 >l.tns
    tns cat --replace in.tns l.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"frame 'src.label' has 19 at image 0 row 3 column 3, expected a label in 0..18 or 255 (ignore)"* ]]
    frame tgt.plabel u8 1,4,4 40 $(repeat 15 1) >p.tns
    tns cat --replace in.tns p.tns >bad.tns
    run_split classmix bad.tns
    assert_clean_failure classmix
    [[ $stderr == *"frame 'tgt.plabel' has 40 at image 0 row 0 column 0"* ]]
    classmix --classes 41 bad.tns >/dev/null
}

@test "classmix: bad options" {
    batch4 in.tns
    run_split classmix --bogus in.tns
    assert_clean_failure classmix
    [[ $stderr == *"unknown option '--bogus'"* ]]
    run_split classmix --mode cutmix in.tns
    assert_clean_failure classmix
    [[ $stderr == *"expected one of class, naive, none, cut, cow"* ]]
    run_split classmix --hue 0.6 in.tns
    assert_clean_failure classmix
    [[ $stderr == *"--hue: expected a number in [0, 0.5]"* ]]
    run_split classmix --sigma 2,1 in.tns
    assert_clean_failure classmix
    run_split classmix --seed -3 in.tns
    assert_clean_failure classmix
}

@test "classmix --mode cut: ClassMix's box of half the area, golden" {
    batch4 in.tns
    run_split classmix --mode cut --no-augment -v in.tns -o out.tns
    [ "$status" -eq 0 ]
    [ "$stderr" = "classmix: segment=0 picked0=- jitter=0 blur=0 kernel=1x1 flip=0" ]
    # seed 0: a 3x3 box (width 3 of [2, 4], height round(8/3)) shows the
    # target; the source fills the rest, labels and weight 1 included
    [ "$(values out.tns mix.mask)" = "0 0 0 1 0 0 0 1 0 0 0 1 1 1 1 1" ]
    [ "$(values out.tns mix.label)" = "5 5 5 1 5 5 5 1 5 5 5 255 2 2 255 255" ]
    [ "$(values out.tns mix.weight)" = "0.25 0.25 0.25 1 0.25 0.25 0.25 1 0.25 0.25 0.25 1 1 1 1 1" ]
    [ "$(values out.tns mix.image)" = "100 100 100 101 101 101 102 102 102 3 3 3 104 104 104 105 105 105 106 106 106 7 7 7 108 108 108 109 109 109 110 110 110 11 11 11 12 12 12 13 13 13 14 14 14 15 15 15" ]
    # another seed, another box; the same seed, the same bytes
    classmix --mode cut --no-augment --seed 1 in.tns >a.tns
    classmix --mode cut --no-augment --seed 1 in.tns >b.tns
    cmp a.tns b.tns
    if cmp -s a.tns out.tns; then fail "seed 1 cuts the box of seed 0"; fi
}

@test "classmix --mode cow: a smooth thresholded noise, golden, and half the pixels over seeds" {
    batch4 in.tns
    classmix --mode cow --cow-sigma 1,1 --no-augment in.tns -o out.tns
    [ "$(values out.tns mix.mask)" = "1 0 0 0 1 0 0 0 1 1 1 0 1 1 1 1" ]
    [ "$(values out.tns mix.label)" = "0 5 5 5 0 5 5 5 2 2 255 5 2 2 255 255" ]
    # 64x64 images, ClassMix's sigma range: about half pasted on average
    perl -e 'print pack("C*", map { $_ % 256 } 0 .. 64*64*3*4-1)' | npy_raw i.npy '|u1' 4,64,64,3
    perl -e 'print pack("C*", map { $_ % 19 } 0 .. 64*64*4-1)' | npy_raw l.npy '|u1' 4,64,64
    perl -e 'print pack("f<*", (0.5) x (64*64*4))' | npy_raw w.npy '<f4' 4,64,64
    for n in src.image:i src.label:l tgt.image:i tgt.plabel:l tgt.weight:w; do
        tns npy-in --name "${n%%:*}" "${n#*:}.npy" >"${n%%:*}.tns"
    done
    tns cat src.image.tns src.label.tns tgt.image.tns tgt.plabel.tns tgt.weight.tns >big.tns
    total=0
    for s in 0 1 2 3 4 5 6 7 8 9; do
        classmix --mode cow --no-augment --seed $s big.tns >c.tns
        ones=$(tns get mix.mask <c.tns | od -An -tu1 -v | tr -s ' \n' '\n' | grep -c '^1$')
        total=$((total + ones))
    done
    # 40 masks of 4096 pixels: 0.5 within 0.1
    awk -v t=$total 'BEGIN { f = t / (40 * 4096); exit !(f > 0.4 && f < 0.6) }' || fail "share $total"
    classmix --mode cow --cow-p 0.8 --no-augment --seed 0 big.tns >p.tns
    few=$(tns get mix.mask <p.tns | od -An -tu1 -v | tr -s ' \n' '\n' | grep -c '^1$')
    [ "$few" -lt $((4 * 4096 * 35 / 100)) ] || fail "--cow-p 0.8 pasted $few"
}

@test "classmix --mode cut and cow: bad settings and a missing source" {
    batch4 in.tns
    run_split classmix --mode cow --cow-sigma 8 in.tns
    assert_clean_failure classmix
    [[ $stderr == *"--cow-sigma: expected LO,HI"* ]]
    run_split classmix --mode cow --cow-sigma 9,8 in.tns
    assert_clean_failure classmix
    run_split classmix --mode cow --cow-p 1 in.tns
    assert_clean_failure classmix
    [[ $stderr == *"--cow-p: expected a number in"* ]]
    tns drop src.image -i in.tns >nosrc.tns
    run_split classmix --mode cut nosrc.tns
    assert_clean_failure classmix
    [[ $stderr == *"missing frame 'src.image'"* ]]
}
