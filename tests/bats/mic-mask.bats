#!/usr/bin/env bats
# mic-mask: MIC's masked target image, and its pair for seg-step.

load helpers
load stages

# A 1x4x4 target: pixel p has colour 100+p, pseudo-label p mod 7, weight
# 0.25.
target4() {
    # shellcheck disable=SC2046
    {
        frame tgt.image u8 1,4,4,3 $(grey 100 16) >a.tns
        frame tgt.plabel u8 1,4,4 $(seq 0 15 | awk '{ print $1 % 7 }') >b.tns
        frame tgt.weight f32 1,4,4 $(repeat 16 0.25) >c.tns
    }
    tns cat a.tns b.tns c.tns >"$1"
    rm -f a.tns b.tns c.tns
}

# A batch of N target images of HxW (pseudo-labels 1, weights 0.5).
target_big() {
    local n=$1 h=$2 w=$3
    perl -e 'print pack("C*", map { $_ % 251 } 0 .. $ARGV[0] - 1)' $((n * h * w * 3)) | npy_raw i.npy '|u1' "$n,$h,$w,3"
    perl -e 'print pack("C*", (1) x $ARGV[0])' $((n * h * w)) | npy_raw l.npy '|u1' "$n,$h,$w"
    perl -e 'print pack("f<*", (0.5) x $ARGV[0])' $((n * h * w)) | npy_raw w.npy '<f4' "$n,$h,$w"
    tns npy-in --name tgt.image i.npy >a.tns
    tns npy-in --name tgt.plabel l.npy >b.tns
    tns npy-in --name tgt.weight w.npy >c.tns
    tns cat a.tns b.tns c.tns >"$4"
    rm -f a.tns b.tns c.tns i.npy l.npy w.npy
}

@test "mic-mask --help shows usage and MIC's defaults" {
    run mic-mask --help
    assert_success
    assert_output --partial "usage: mic-mask"
    assert_output --partial "(default 64, MIC's"
    assert_output --partial "(default 0.7)"
    assert_output --partial "(default 124,116,104"
    assert_output --partial "(default 0.2)"
    assert_output --partial "(default 0.8)"
    assert_output --partial "  --drop GLOB "
}

@test "mic-mask: a 4x4 target with 2x2 blocks, golden" {
    target4 in.tns
    run_split mic-mask --block 2 --ratio 0.5 --no-augment -v in.tns -o out.tns
    [ "$status" -eq 0 ]
    [ "$stderr" = "mic-mask: segment=0 dropped=0.2500 jitter=0 blur=0 kernel=1x1" ]
    # seed 0: the top-left block of four is dropped
    [ "$(values out.tns mic.mask)" = "0 0 1 1 0 0 1 1 1 1 1 1 1 1 1 1" ]
    [ "$(values out.tns mic.image)" = "124 116 104 124 116 104 102 102 102 103 103 103 124 116 104 124 116 104 106 106 106 107 107 107 108 108 108 109 109 109 110 110 110 111 111 111 112 112 112 113 113 113 114 114 114 115 115 115" ]
    # the pseudo-labels and weights of the unmasked image, unchanged
    [ "$(values out.tns mic.label)" = "$(values in.tns tgt.plabel)" ]
    [ "$(values out.tns mic.weight)" = "$(values in.tns tgt.weight)" ]
    # the input frames pass through first
    tns select 'tgt.*' -i out.tns >kept.tns
    cmp kept.tns in.tns
    # --fill, another colour; the same seed, the same bytes
    mic-mask --block 2 --ratio 0.5 --no-augment --fill 0,0,0 in.tns >black.tns
    [ "$(values black.tns mic.image | cut -d' ' -f1-6)" = "0 0 0 0 0 0" ]
    mic-mask --block 2 --ratio 0.5 --seed 3 in.tns >a.tns
    mic-mask --block 2 --ratio 0.5 --seed 3 in.tns >b.tns
    cmp a.tns b.tns
}

@test "mic-mask: the share of blocks dropped over many seeds is the ratio" {
    target_big 4 64 96 big.tns
    total=0
    for s in $(seq 0 24); do
        d=$(mic-mask -v --block 16 --no-augment --seed "$s" big.tns 2>&1 >/dev/null | sed 's/.*dropped=\([0-9.]*\).*/\1/')
        total=$(awk -v a="$total" -v b="$d" 'BEGIN { print a + b }')
    done
    # 25 x 4 masks of 24 blocks: 2400 blocks, standard error 0.009
    awk -v t="$total" 'BEGIN { f = t / 25; exit !(f > 0.66 && f < 0.74) }' || fail "mean share $total / 25"
    # the augmentation runs before the mask: kept pixels change, dropped
    # ones are exactly the fill
    mic-mask --block 16 --seed 1 --jitter-p 1 big.tns >aug.tns
    tns npy-out -i aug.tns mic.image img.npy
    tns npy-out -i aug.tns mic.mask mask.npy
    tns npy-out -i big.tns tgt.image src.npy
    perl -e '
        sub rd { open(my $f, "<:raw", $_[0]) or die; local $/; my $b = <$f>; substr($b, 128) }
        my @i = unpack("C*", rd("img.npy")); my @m = unpack("C*", rd("mask.npy")); my @s = unpack("C*", rd("src.npy"));
        my ($fill, $changed, $kept) = (0, 0, 0);
        for my $p (0 .. $#m) {
            if ($m[$p]) { $kept++; $changed++ if $i[3*$p] != $s[3*$p] }
            else { $fill++ if $i[3*$p] == 124 && $i[3*$p+1] == 116 && $i[3*$p+2] == 104 }
        }
        my $dropped = @m - $kept;
        exit(!($fill == $dropped && $changed > $kept / 2))'
}

@test "mic-mask in the loop: seg-batch | seg-infer | pseudolabel | mic-mask | classmix | seg-step" {
    synth-city -q --size 64x32 --source 2 --train 2 --val 1 data
    seg-init --width 4 -o m.tns
    seg-batch --dataset gta5 --root data/source --crop 32x32 -q >s.tns
    seg-batch --dataset cityscapes --root data/target --no-labels --prefix tgt \
        --crop 32x32 -q --emit-box | seg-infer -m m.tns --bn batch |
        pseudolabel -q --ignore-bottom 4 --drop tgt.prob >t.tns
    tns cat s.tns t.tns | mic-mask --block 8 | classmix >b.tns
    run_split seg-step -m m.tns -o n.tns -i b.tns
    [ "$status" -eq 0 ]
    [[ $stderr =~ \ mic\ [0-9.]+\ lr ]]
    # the masked pair carries the margins' zero weights
    [ "$(values b.tns mic.weight)" = "$(values b.tns tgt.weight)" ]
}

@test "mic-mask: bad input and options are refused" {
    target4 in.tns
    assert_refused mic-mask out.tns "no mask block of 64" mic-mask in.tns -o out.tns
    tns drop tgt.weight -i in.tns >nw.tns
    assert_refused mic-mask out.tns "missing frame 'tgt.weight'" mic-mask --block 2 nw.tns -o out.tns
    run_split mic-mask --block 2 --tgt mic in.tns
    assert_clean_failure mic-mask
    [[ $stderr == *"--tgt and --prefix are both 'mic'"* ]]
    run_split mic-mask --fill 1,2 in.tns
    assert_clean_failure mic-mask
    [[ $stderr == *"--fill: expected R,G,B"* ]]
    run_split mic-mask --fill 1,2,256 in.tns
    assert_clean_failure mic-mask
    run_split mic-mask --ratio 1.5 in.tns
    assert_clean_failure mic-mask
    run_split mic-mask --block 0 in.tns
    assert_clean_failure mic-mask
    frame tgt.plabel u8 1,4,4 $(repeat 16 40) >bad1.tns
    tns cat --replace in.tns bad1.tns >bad.tns
    assert_refused mic-mask out.tns "has 40 at image 0 row 0 column 0" mic-mask --block 2 bad.tns -o out.tns
    # the masked frames already there: --replace, or an error
    mic-mask --block 2 in.tns >once.tns
    assert_refused mic-mask out.tns "mic.image" mic-mask --block 2 once.tns -o out.tns
    mic-mask --block 2 --replace once.tns >/dev/null
}

@test "mic-mask and classmix share one set of augmentation options" {
    target4 in.tns
    # every option classmix takes for the colour augmentation, mic-mask takes
    for o in --no-augment --no-jitter --no-blur; do
        mic-mask --block 2 $o in.tns >/dev/null || fail "mic-mask $o"
    done
    for o in "--jitter 0.3" "--jitter-p 0.5" "--brightness 0.1" "--contrast 0.1" \
        "--saturation 0.1" "--hue 0.1" "--blur-p 1" "--sigma 0.5,0.6" "--blur-frac 0.2"; do
        # shellcheck disable=SC2086
        mic-mask --block 2 $o in.tns >/dev/null || fail "mic-mask $o"
        classmix --help | grep -q -- "${o%% *} " || fail "classmix has no ${o%% *}"
    done
    # the same checks, the same messages
    for t in mic-mask classmix; do
        run_split $t --sigma 2,1 in.tns
        assert_clean_failure $t
        [[ $stderr == "$t: --sigma: HI must not be below LO, got '2,1'" ]]
        run_split $t --sigma 2 in.tns
        assert_clean_failure $t
        [[ $stderr == "$t: --sigma: expected LO,HI, got '2'" ]]
        run_split $t --hue 0.6 in.tns
        assert_clean_failure $t
        [[ $stderr == "$t: --hue: expected a number in [0, 0.5], got '0.6'" ]]
    done
    # --jitter S is the four strengths at once
    mic-mask --block 2 --jitter-p 1 --no-blur --jitter 0.3 --seed 5 in.tns >a.tns
    mic-mask --block 2 --jitter-p 1 --no-blur --brightness 0.3 --contrast 0.3 \
        --saturation 0.3 --hue 0.3 --seed 5 in.tns >b.tns
    cmp a.tns b.tns
    mic-mask --block 2 --jitter-p 1 --no-blur --jitter 0.1 --seed 5 in.tns >c.tns
    if cmp -s a.tns c.tns; then fail "--jitter 0.1 gives the bytes of --jitter 0.3"; fi
}

@test "mic-mask --live: each batch closed and flushed at once, for the ring" {
    target4 one.tns
    cat one.tns one.tns | tns select '*' >two.tns
    mic-mask --block 2 two.tns >plain.tns
    mic-mask --block 2 --live two.tns >live.tns
    # the same frames, one closing marker more
    [ "$(stat -c %s live.tns)" -eq $(($(stat -c %s plain.tns) + 20)) ]
    tns select '*' -i live.tns | cmp - plain.tns
    # the first batch's output comes out while the input is still open
    one=$(($(mic-mask --block 2 --live one.tns | wc -c) - 20))
    mkfifo in
    { tns select --live '*' -i one.tns | head -c -20; sleep 5; } >in &
    feeder=$!
    timeout 3 mic-mask --block 2 --live in | timeout 3 head -c "$one" >first.tns
    [ "$(stat -c %s first.tns)" -eq "$one" ]
    kill "$feeder" 2>/dev/null || true
}
