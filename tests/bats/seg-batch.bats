#!/usr/bin/env bats
# seg-batch: batches and whole splits from dataset trees.

load helpers

# run_split stops at the tool's non-zero exit under bats' errexit; calling
# it on the left of || keeps errexit off inside it.
fails() { run_split "$@" || true; }

setup_file() {
    # one small benchmark for every test of this file
    export DATA="$BATS_FILE_TMPDIR/data"
    PATH="$DACS_BIN:$PATH" synth-city -q --size 96x48 --source 6 --train 4 \
        --val 3 "$DATA"
}

src() { seg-batch --dataset gta5 --root "$DATA/source" "$@"; }

# distinct byte values of frame NAME of the stream on stdin
values() {
    tns get "$1" | od -An -tu1 -v | tr -s ' ' '\n' | sed '/^$/d' | sort -un |
        tr '\n' ' '
}

@test "seg-batch --help shows every default" {
    run seg-batch --help
    assert_success
    assert_output --partial "usage: seg-batch"
    assert_output --partial "default 2; 1 with --sequential"
    assert_output --partial "default 0.01"
    assert_output --partial "default 3000"
    assert_output --partial "default src"
}

@test "seg-batch: a random batch with crop, scale and flip" {
    src --batch 3 --crop 40x24 --scale 0.5,1.5 --flip --seed 3 --iter 5 >b.tns
    run tns info b.tns
    assert_success
    assert_line --partial "src.image	u8	3x24x40x3"
    assert_line --partial "src.label	u8	3x24x40"
    for v in $(values src.label <b.tns); do
        [[ " 0 1 2 3 4 5 6 7 8 9 10 11 13 14 15 255 " == *" $v "* ]] ||
            fail "train id $v"
    done
}

@test "seg-batch: same seed and iteration, same bytes; --iters = a resumed run" {
    src --crop 32x32 --flip --scale 0.7,1.3 --seed 1 --iter 4 >a.tns
    src --crop 32x32 --flip --scale 0.7,1.3 --seed 1 --iter 4 >b.tns
    src --crop 32x32 --flip --scale 0.7,1.3 --seed 1 --iter 5 >c.tns
    src --crop 32x32 --flip --scale 0.7,1.3 --seed 2 --iter 4 >d.tns
    cmp a.tns b.tns
    ! cmp -s a.tns c.tns
    ! cmp -s a.tns d.tns
    # three iterations at once = three runs one after the other
    src --crop 32x32 --flip --seed 1 --iter 2 --iters 3 >all.tns
    # (tns select writes the concatenation in its one encoding: tns(5))
    for t in 2 3 4; do src --crop 32x32 --flip --seed 1 --iter $t; done | tns select '*' >each.tns
    cmp all.tns each.tns
    # the prefix keys the draws: source and target never share them
    src --crop 32x32 --flip --seed 1 --iter 4 --prefix tgt | tns rename tgt.image=src.image tgt.label=src.label >e.tns
    ! cmp -s a.tns e.tns
}

@test "seg-batch: epochs visit every image once (--emit-index)" {
    for t in 0 1 2 3; do
        src --batch 3 --iter $t --emit-index --seed 9 --crop 8x8 | tns get src.index
    done >idx.bin
    # 12 draws over 6 images: each image exactly twice
    run bash -c "od -An -td4 -v idx.bin | tr -s ' ' '\n' | sed '/^\$/d' | sort -n | uniq -c | awk '{print \$1}' | sort -u"
    assert_success
    assert_output "2"
}

@test "seg-batch --no-labels writes only the image" {
    seg-batch --dataset cityscapes --root "$DATA/target" --no-labels --prefix tgt --crop 48x48 >t.tns
    run tns info t.tns
    assert_success
    assert_line --partial "tgt.image	u8	2x48x48x3"
    refute_output --partial "tgt.label"
}

@test "seg-batch --sequential streams a split in order, with progress" {
    run_split seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt --sequential --emit-index --resize 64x32
    [ "$status" -eq 0 ]
    [[ $stderr == *"read 3/3 images"* ]]
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt --sequential -q --emit-index --resize 64x32 >v.tns
    run tns info v.tns
    assert_line --partial "tgt.image	u8	1x32x64x3"
    [ "$(grep -c '^# segment' <<<"$output")" -eq 2 ]
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt --sequential -q --emit-index --batch 3 >v3.tns
    [ "$(tns get tgt.index <v3.tns | od -An -td4 -v | tr -s ' \n' ' ')" = " 0 1 2 " ]
    # --batch 2: segments of 2 and 1; --limit 2 keeps items 0 and 1
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --sequential -q --batch 2 >w.tns
    run tns info w.tns
    assert_line --partial "src.image	u8	2x48x96x3"
    assert_line --partial "src.image	u8	1x48x96x3"
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --sequential -q --limit 2 >x.tns
    [ "$(tns info x.tns | grep -c src.image)" -eq 2 ]
}

@test "seg-batch: uncropped sequential labels equal the PNG ids mapped" {
    seg-batch --dataset gta5 --root "$DATA/source" --sequential -q --batch 6 | tns select src.label >a.tns
    # the same through a list file and the shipped table
    for i in 0 1 2 3 4 5; do
        echo "images/0000$i.png labels/0000$i.png"
    done >"$DATA/source/all.txt"
    seg-batch --dataset list --list "$DATA/source/all.txt" --map "$DACS_TOP/pipelines/maps/gta5.map" --sequential -q --batch 6 | tns select src.label >b.tns
    cmp a.tns b.tns
    # and by hand: each stored Cityscapes id through the METHOD.md table
    tns png-in --as label --name raw "$DATA"/source/labels/*.png | tns get raw |
        od -An -tu1 -v | tr -s ' ' '\n' | sed '/^$/d' |
        awk 'BEGIN { n = split("7 8 11 12 13 17 19 20 21 22 23 24 25 26 27 28 31 32 33", a, " ")
                     for (i = 1; i <= n; i++) m[a[i]] = i - 1 }
             { print(($1 in m) ? m[$1] : 255) }' >want.txt
    tns get src.label <a.tns | od -An -tu1 -v | tr -s ' ' '\n' | sed '/^$/d' >got.txt
    [ "$(wc -l <got.txt)" -eq $((6 * 96 * 48)) ]
    cmp want.txt got.txt
}

@test "seg-batch --map: a custom table; unlisted ids become 255" {
    printf '# only road\n7 0\n' >road.map
    seg-batch --dataset gta5 --root "$DATA/source" --map road.map --sequential -q --batch 6 >r.tns
    [ "$(values src.label <r.tns)" = "0 255 " ]
    seg-batch --dataset gta5 --root "$DATA/source" --map synthia --sequential -q --batch 6 >s.tns
    # SYNTHIA ids read as Cityscapes ids: 8 is car, 11 is bicycle ...
    [[ " $(values src.label <s.tns) " == *" 13 "* ]]
}

@test "seg-batch: rare-class sampling needs statistics, then follows them" {
    fails src --rcs --rcs-stats stats.tns
    assert_clean_failure seg-batch
    [[ $stderr == *"--make-rcs-stats stats.tns"* ]]
    run_split src --make-rcs-stats stats.tns
    [ "$status" -eq 0 ] && [ "$stdout_bytes" -eq 0 ]
    run tns info stats.tns
    assert_line --partial "rcs.counts	i32	6x19"
    src --rcs --rcs-stats stats.tns --rcs-min-pixels 50 --crop 16x16 --batch 4 --iters 3 --emit-index -q >a.tns
    src --rcs --rcs-stats stats.tns --rcs-min-pixels 50 --crop 16x16 --batch 4 --iters 3 --emit-index -q >b.tns
    cmp a.tns b.tns
    run tns info a.tns
    assert_line --partial "src.index	i32	4"
    # statistics of another dataset are refused
    fails seg-batch --dataset cityscapes --root "$DATA/target" --rcs=0.05 --rcs-stats stats.tns
    assert_clean_failure seg-batch
    [[ $stderr == *"were made for a gta5 dataset"* ]]
    fails src --rcs 0.5 --rcs-stats stats.tns
    assert_clean_failure seg-batch
    [[ $stderr == *"--rcs=T"* ]]
}

@test "seg-batch: a missing label is an error naming it" {
    cp -r "$DATA/source" s
    rm s/labels/00003.png
    fails seg-batch --dataset gta5 --root s
    assert_clean_failure seg-batch
    [[ $stderr == *"missing label"*"s/labels/00003.png"* ]]
    fails seg-batch --dataset gta5 --root nowhere
    assert_clean_failure seg-batch
    [[ $stderr == *"nowhere/images"* ]]
}

@test "seg-batch: an image and label of different sizes is an error naming the file" {
    cp -r "$DATA/source" s
    synth-city -q --size 64x32 --source 4 --train 0 --val 0 small
    cp small/source/labels/00002.png s/labels/00002.png
    fails seg-batch --dataset gta5 --root s --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"label s/labels/00002.png is 64x32, but its image s/images/00002.png is 96x48"* ]]
    # random batches: all files of the draw are checked before output
    fails seg-batch --dataset gta5 --root s --batch 6 --crop 16x16
    assert_clean_failure seg-batch
    [[ $stderr == *"s/labels/00002.png is 64x32"* ]]
    fails seg-batch --dataset gta5 --root s --batch 2 --iters 3 --crop 16x16
    assert_clean_failure seg-batch
    [[ $stderr == *"s/labels/00002.png is 64x32"* ]]
    # images of different sizes in one batch need --resize or --crop
    cp small/source/images/00002.png s/images/00002.png
    fails seg-batch --dataset gta5 --root s --batch 6 --no-labels
    assert_clean_failure seg-batch
    [[ $stderr == *"use --resize or --crop"* ]]
    run bash -c 'seg-batch --dataset gta5 --root s --batch 6 --resize 80x40 | tns info'
    assert_success
    assert_line --partial "src.label	u8	6x40x80"
}

@test "seg-batch: a corrupt PNG is an error naming it, before any output" {
    cp -r "$DATA/source" s
    head -c 2000 "$DATA/source/images/00004.png" >s/images/00004.png
    fails seg-batch --dataset gta5 --root s --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"s/images/00004.png: corrupt or truncated PNG"* ]]
    cp "$DATA/source/images/00004.png" s/images/00004.png
    echo "hello" >s/labels/00001.png
    fails seg-batch --dataset gta5 --root s --batch 6 --crop 8x8
    assert_clean_failure seg-batch
    [[ $stderr == *"s/labels/00001.png: not a PNG"* ]]
}

@test "seg-batch: a bad map table is an error with its line" {
    printf '7 0\n8 1\n7 2\n' >dup.map
    fails seg-batch --dataset gta5 --root "$DATA/source" --map dup.map
    assert_clean_failure seg-batch
    [[ $stderr == *"dup.map: line 3: id 7 is mapped twice (first on line 1)"* ]]
    printf '7 0\n8 one\n' >bad.map
    fails seg-batch --dataset gta5 --root "$DATA/source" --map bad.map
    assert_clean_failure seg-batch
    [[ $stderr == *"bad.map: line 2: expected a train id"* ]]
    printf '70000 0\n' >big.map
    fails seg-batch --dataset gta5 --root "$DATA/source" --map big.map
    assert_clean_failure seg-batch
    [[ $stderr == *"line 1: id out of range"* ]]
    fails seg-batch --dataset gta5 --root "$DATA/source" --map nothere.map
    assert_clean_failure seg-batch
    [[ $stderr == *"nothere.map: cannot open"* ]]
}

@test "seg-batch: bad options fail cleanly" {
    fails seg-batch --root "$DATA/source"
    assert_clean_failure seg-batch
    [[ $stderr == *"--dataset is required"* ]]
    fails src --scale 0.5,2
    assert_clean_failure seg-batch
    [[ $stderr == *"--scale needs --crop"* ]]
    fails src --sequential --crop 8x8
    assert_clean_failure seg-batch
    fails src --split val
    assert_clean_failure seg-batch
    [[ $stderr == *"--split is for cityscapes only"* ]]
    fails seg-batch --dataset list --list x.txt
    assert_clean_failure seg-batch
    [[ $stderr == *"needs --map"* ]]
    fails src --prefix 'a b'
    assert_clean_failure seg-batch
    fails src --crop 0x8
    assert_clean_failure seg-batch
}
