#!/usr/bin/env bats
# seg-infer: the network's prediction, batch by batch.

load helpers
load segdata

setup_file() {
    export C8="$BATS_FILE_TMPDIR/m8.tns"
    PATH="$DACS_BIN:$PATH" seg-init --width 4 --classes 7 --seed 5 -o "$C8"
}

# the batch of one test: 2 images of 16x24 as tgt.*
tgt_batch() {
    mkbatch src.tns 2 16 24 7 3 src
    tns rename src.image=tgt.image src.label=tgt.label <src.tns >tgt.tns
}

@test "seg-infer: probabilities NxCxHxW that sum to one, frames passed through" {
    tgt_batch
    seg-infer -m "$C8" <tgt.tns >out.tns
    run tns info out.tns
    assert_line --index 0 --partial $'tgt.image\tu8\t2x16x24x3'
    assert_line --index 1 --partial $'tgt.label\tu8\t2x16x24'
    assert_line --index 2 --partial $'tgt.prob\tf32\t2x7x16x24'
    # the mean of probabilities over 7 classes is 1/7
    assert_line --index 2 --partial $'mean 0.142857'
    tns select 'tgt.image' <out.tns >a
    tns select 'tgt.image' <tgt.tns >b
    cmp a b
}

@test "seg-infer: --argmax writes pred u8 and conf f32 under chosen names" {
    tgt_batch
    seg-infer -m "$C8" --argmax --pred p --conf q -i tgt.tns -o out.tns
    run tns info out.tns
    assert_line --index 2 --regexp $'\tp\tu8\t2x16x24\tmin [0-6]\tmax [0-6]'
    assert_line --index 3 --partial $'\tq\tf32\t2x16x24\tmin 0.'
    refute_output --partial "tgt.prob"
    # conf is the largest probability: at least 1/7
    min=$(tns info out.tns | awk -F'\t' '$2 == "q" { sub("min ", "", $5); print $5 }')
    awk -v m="$min" 'BEGIN { exit !(m >= 1/7) }'
}

@test "seg-infer: --in and --out name the frames" {
    mkbatch src.tns 1 8 8 7 1 src
    seg-infer -m "$C8" --in src.image --out src.prob <src.tns >out.tns
    run tns info out.tns
    assert_output --partial $'src.prob\tf32\t1x7x8x8'
}

@test "seg-infer: --bn batch differs from --bn running and leaves the model alone" {
    tgt_batch
    cp "$C8" m.tns
    # a trained step moves the running statistics away from 0/1
    mkbatch s.tns 2 16 24 7 9 src
    seg-step -m m.tns -o m.tns <s.tns 2>/dev/null
    cp m.tns before.tns
    seg-infer -m m.tns --bn running <tgt.tns >r.tns
    seg-infer -m m.tns --bn batch <tgt.tns >b.tns
    if cmp -s r.tns b.tns; then fail "--bn batch gives the bytes of --bn running"; fi
    cmp m.tns before.tns
}

@test "seg-infer: --bn running treats images one at a time" {
    # image 0 of this batch of two is the image of the batch of one
    mkbatch one.tns 1 16 24 7 3 src
    mkbatch two.tns 2 16 24 7 3 src
    for b in one two; do
        seg-infer -m "$C8" --in src.image --argmax <$b.tns >$b.out
        seg-infer -m "$C8" --in src.image --argmax --bn batch <$b.tns >$b.bat
        for f in out bat; do
            tns get tgt.pred <$b.$f >$b.$f.pred
            tns get tgt.conf <$b.$f >$b.$f.conf
        done
    done
    # running statistics: image 0 gets the same bytes alone or batched
    cmp -n 384 one.out.pred two.out.pred
    cmp -n 1536 one.out.conf two.out.conf
    # batch statistics: the batch changes the answer
    if cmp -s -n 1536 one.bat.conf two.bat.conf; then fail "with batch statistics, image 0 alone is as batched"; fi
}

@test "seg-infer: one output batch per input batch" {
    tgt_batch
    cat tgt.tns tgt.tns tgt.tns | seg-infer -m "$C8" --argmax >out.tns
    run tns info out.tns
    assert_output --partial "# segment 1"
    assert_output --partial "# segment 2"
    refute_output --partial "# segment 3"
}

@test "seg-infer: same checkpoint and stream give the same bytes" {
    tgt_batch
    seg-infer -m "$C8" <tgt.tns >a.tns
    seg-infer -m "$C8" <tgt.tns >b.tns
    cmp a.tns b.tns
    seg-infer -m "$C8" --bn batch --argmax <tgt.tns >c.tns
    seg-infer -m "$C8" --bn batch --argmax <tgt.tns >d.tns
    cmp c.tns d.tns
}

@test "seg-infer: an existing output frame needs --replace" {
    tgt_batch
    seg-infer -m "$C8" <tgt.tns >once.tns
    run_split seg-infer -m "$C8" -i once.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"'tgt.prob' is already in the input"*"--replace"* ]]
    seg-infer -m "$C8" --replace -i once.tns -o twice.tns
    [ "$(tns info twice.tns | grep -c tgt.prob)" -eq 1 ]
}

@test "seg-infer: bad image frames fail cleanly, naming the frame" {
    tgt_batch
    run_split seg-infer -m "$C8" --in nope <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"missing frame 'nope'"* ]]
    run_split seg-infer -m "$C8" --in tgt.label <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"frame 'tgt.label' has shape 2x16x24, expected NxHxWx3 (RGB images)"* ]]
    frame_f32 f.tns tgt.image 0.5 12
    run_split seg-infer -m "$C8" <f.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"dtype f32, expected u8"* ]]
}

@test "seg-infer: bad checkpoints fail cleanly" {
    tgt_batch
    run_split seg-infer <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"-m CKPT"* ]]
    run_split seg-infer -m tgt.tns <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"not a network checkpoint"* ]]
    # another architecture
    frame_text arch.tns meta.arch $'net=resnet101\nversion=1\n'
    tns cat --replace "$C8" arch.tns >other.tns
    run_split seg-infer -m other.tns <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"network 'resnet101'"* ]]
    # a tensor of the wrong shape
    seg-init --width 8 --classes 7 -o w8.tns
    tns select s2.down.conv.weight <w8.tns >bad.tns
    tns cat --replace "$C8" bad.tns >mixed.tns
    run_split seg-infer -m mixed.tns <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"'s2.down.conv.weight' is f32 16x8x3x3, expected f32 8x4x3x3"* ]]
    # a frame the architecture does not have
    frame_f32 extra.tns s4.down.conv.weight 0 3
    tns cat "$C8" extra.tns >extra-ck.tns
    run_split seg-infer -m extra-ck.tns <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"'s4.down.conv.weight'"*"another architecture"* ]]
    # truncated
    head -c 5000 "$C8" >cut.tns
    run_split seg-infer -m cut.tns <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"cut.tns"* ]]
}

@test "seg-infer: a hostile meta.arch does not make it allocate a big net" {
    tgt_batch
    frame_text arch.tns meta.arch $'net=deeplab-mini\nversion=1\nwidth=512\nclasses=255\nmean=0,0,0\nstd=1,1,1\n'
    tns cat --replace "$C8" arch.tns >big.tns
    /usr/bin/time -f %M -o rss seg-infer -m big.tns <tgt.tns >out 2>err && false
    [[ $(cat err) == *"'stem.0.conv.weight' is f32 4x3x3x3, expected f32 512x3x3x3 for deeplab-mini width=512 classes=255"* ]]
    [ ! -s out ]
    # far below the 7 GiB that the parameters of that net would take
    [ "$(tail -n 1 rss)" -lt 65536 ]
}

@test "seg-infer: a non-finite parameter is refused" {
    tgt_batch
    frame_f32 nan.tns stem.0.bn.weight nan 4
    tns cat --replace "$C8" nan.tns >bad.tns
    run_split seg-infer -m bad.tns <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"stem.0.bn.weight"*"NaN"* ]]
}

@test "seg-infer: --help matches the options" {
    run seg-infer --help
    assert_success
    for o in --model --input --output --in --out --argmax --pred --conf --bn --size-of --replace; do
        assert_output --partial -- "$o"
    done
    assert_output --partial "default tgt.image"
    assert_output --partial "default running"
    run_split seg-infer -m x --bn eval
    assert_clean_failure seg-infer
    [[ $stderr == *"running, batch"* ]]
}

@test "seg-infer --size-of: the prediction at the label's size (full-resolution evaluation)" {
    tgt_batch
    # a label 2.5 times the image: the prediction follows it
    perl -e 'print pack("C*", map { $_ % 7 } 0 .. 2*40*60-1)' | npy_raw big.npy '|u1' 2,40,60
    tns npy-in -i tgt.tns --name tgt.full big.npy >in.tns
    seg-infer -m "$C8" --size-of tgt.full <in.tns >p.tns
    run tns info p.tns
    assert_line --partial $'tgt.prob\tf32\t2x7x40x60'
    assert_line --partial $'mean 0.142857'
    seg-infer -m "$C8" --size-of tgt.full --argmax <in.tns >a.tns
    run tns info a.tns
    assert_line --partial $'tgt.pred\tu8\t2x40x60'
    assert_line --partial $'tgt.conf\tf32\t2x40x60'
    # the arg-max is that of the resized probabilities
    tns npy-out -i p.tns tgt.prob prob.npy
    tns npy-out -i a.tns tgt.pred pred.npy
    tns npy-out -i a.tns tgt.conf conf.npy
    perl -e '
        sub rd { open(my $f, "<:raw", $_[0]) or die; local $/; my $b = <$f>; substr($b, 128) }
        my @p = unpack("f<*", rd("prob.npy")); my @y = unpack("C*", rd("pred.npy"));
        my @c = unpack("f<*", rd("conf.npy"));
        my ($hw, $bad) = (40 * 60, 0);
        for my $i (0 .. 1) { for my $q (0 .. $hw - 1) {
            my ($best, $bv) = (0, -1);
            for my $k (0 .. 6) { my $v = $p[($i * 7 + $k) * $hw + $q]; ($best, $bv) = ($k, $v) if $v > $bv }
            $bad++ if $best != $y[$i * $hw + $q] || abs($bv - $c[$i * $hw + $q]) > 1e-6 } }
        exit($bad ? 1 : 0)'
    # the same size: the plain prediction, to rounding
    seg-infer -m "$C8" --size-of tgt.label --argmax <tgt.tns >s.tns
    seg-infer -m "$C8" --argmax <tgt.tns >t.tns
    cmp <(tns get tgt.pred <s.tns) <(tns get tgt.pred <t.tns)
    # the same bytes at any thread count
    seg-infer -m "$C8" --size-of tgt.full --threads 1 <in.tns >t1.tns
    seg-infer -m "$C8" --size-of tgt.full --threads 3 <in.tns >t3.tns
    cmp t1.tns t3.tns
    # --size WxH: the same without a frame of that size
    seg-infer -m "$C8" --size 60x40 --argmax <in.tns >w.tns
    cmp <(tns get tgt.pred <w.tns) <(tns get tgt.pred <a.tns)
    # --bn batch as well
    seg-infer -m "$C8" --bn batch --size-of tgt.full --argmax <in.tns >b.tns
    if cmp -s <(tns get tgt.pred <b.tns) <(tns get tgt.pred <a.tns); then fail "--bn batch predicts as --bn running"; fi
}

@test "seg-infer --size-of: a missing or misshapen frame is refused" {
    tgt_batch
    run_split seg-infer -m "$C8" --size-of tgt.full <tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"missing frame 'tgt.full'"*"--size-of"* ]]
    perl -e 'print pack("C*", (0) x (3*40*60))' | npy_raw big.npy '|u1' 3,40,60
    tns npy-in -i tgt.tns --name tgt.full big.npy >in.tns
    run_split seg-infer -m "$C8" --size-of tgt.full <in.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"frame 'tgt.full' has shape 3x40x60, 'tgt.image' has 2x16x24x3"* ]]
    run_split seg-infer -m "$C8" --size-of 'a b' <in.tns
    assert_clean_failure seg-infer
    run_split seg-infer -m "$C8" --size-of tgt.full --size 8x8 <in.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"give one"* ]]
    run_split seg-infer -m "$C8" --size 0x8 <in.tns
    assert_clean_failure seg-infer
}
