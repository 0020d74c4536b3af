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
    if cmp -s a.tns c.tns; then fail "iteration 5 gives the bytes of iteration 4"; fi
    if cmp -s a.tns d.tns; then fail "seed 2 gives the bytes of seed 1"; fi
    # three iterations at once = three runs one after the other
    src --crop 32x32 --flip --seed 1 --iter 2 --iters 3 >all.tns
    # (tns select writes the concatenation in its one encoding: tns(5))
    for t in 2 3 4; do src --crop 32x32 --flip --seed 1 --iter $t; done | tns select '*' >each.tns
    cmp all.tns each.tns
    # the prefix keys the draws: source and target never share them
    src --crop 32x32 --flip --seed 1 --iter 4 --prefix tgt | tns rename tgt.image=src.image tgt.label=src.label >e.tns
    if cmp -s a.tns e.tns; then fail "prefix tgt draws as prefix src"; fi
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
    # and by hand: each stored Cityscapes id through the table of dacs-method(7)
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
    # the built-in SYNTHIA table on GTA5 labels: Cityscapes ids above
    # SYNTHIA's 0..22 are refused, naming the file, pixel and id
    run_split seg-batch --dataset gta5 --root "$DATA/source" --map synthia --sequential -q --batch 6
    assert_clean_failure seg-batch
    [[ $stderr == *"source/labels/"*": label id "*" is no SYNTHIA label id (0..22)"* ]]
}

@test "seg-batch: rare-class sampling needs statistics, then follows them" {
    fails src --rcs --rcs-stats stats.tns
    assert_clean_failure seg-batch
    [[ $stderr == *"--make-rcs-stats stats.tns"* ]]
    run_split src --make-rcs-stats stats.tns
    [ "$status" -eq 0 ]
    [ "$stdout_bytes" -eq 0 ]
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

# copy DIR: a copy of the source dataset, to spoil one file of.
copy() { cp -r "$DATA/source" "$1"; }

# rgb_label PNG OUT: PNG (a palette label) re-saved as 8-bit RGB in its
# palette's colours, as an image editor or OpenCV saves it.
rgb_label() { tns png-in --as raw "$1" | tns png-out image "$2"; }

@test "seg-batch: a GTA5 label re-saved as RGB is refused, naming the file and its colour type" {
    copy s
    rgb_label s/labels/00002.png s/labels/00002.png
    for how in --sequential "--iters 4" ""; do
        # shellcheck disable=SC2086
        fails seg-batch --dataset gta5 --root s $how --batch 6
        assert_clean_failure seg-batch
        [[ $stderr == *"s/labels/00002.png: a gta5 label must be a palette or grey PNG, found 8-bit RGB"* ]] ||
            fail "$how: $stderr"
    done
    # the same for a Cityscapes labelIds file (8-bit grey)
    cp -r "$DATA/target" t
    f=$(find t/gtFine/val -name '*labelIds.png' | sort | head -1)
    tns png-in --as rgb "$f" | tns png-out image "$f"
    fails seg-batch --dataset cityscapes --root t --split val --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"labelIds.png: a cityscapes label must be a palette or grey PNG, found 8-bit RGB"* ]]
}

@test "seg-batch --label-colors reads an RGB label in the Cityscapes colours back to the same train ids" {
    copy s
    for f in s/labels/*.png; do rgb_label "$f" "$f"; done
    src --sequential --batch 6 -q >palette.tns
    seg-batch --dataset gta5 --root s --label-colors --sequential --batch 6 -q >colors.tns
    cmp palette.tns colors.tns
    # a colour off the table is an error naming the pixel
    tns png-in --as raw s/labels/00001.png | tns npy-out image px.npy
    printf '\001' | dd of=px.npy bs=1 seek=$(($(stat -c %s px.npy) - 1)) conv=notrunc 2>/dev/null
    tns npy-in --name image px.npy | tns png-out image s/labels/00001.png
    fails seg-batch --dataset gta5 --root s --label-colors --sequential --batch 6
    assert_clean_failure seg-batch
    [[ $stderr == *"s/labels/00001.png: colour ("*") at row 47 column 95 is no Cityscapes label colour"* ]]
    fails seg-batch --dataset synthia --root s --label-colors
    assert_clean_failure seg-batch
    [[ $stderr == *"SYNTHIA labels are 16-bit class ids, not colours"* ]]
}

@test "seg-batch: images outside the format are refused: grey, palette, 16-bit, transparent" {
    copy s
    tns png-in --as raw s/images/00003.png | tns npy-out image i.npy
    # grey: the first channel alone
    perl -e 'local $/; my $b = <STDIN>; my @p = unpack("C*", substr($b, 128));
        print pack("C*", @p[map { 3 * $_ } 0 .. @p / 3 - 1]);' <i.npy |
        npy_raw g.npy '|u1' 1,48,96
    tns npy-in --name image g.npy | tns png-out image s/images/00003.png
    fails src --root s --batch 6 --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"s/images/00003.png: a gta5 image must be an 8-bit RGB PNG, found 8-bit grey"* ]]
    # a palette PNG: a label where an image belongs
    cp s/labels/00003.png s/images/00003.png
    fails src --root s --batch 2 --iters 3
    assert_clean_failure seg-batch
    [[ $stderr == *"s/images/00003.png: a gta5 image must be an 8-bit RGB PNG, found 8-bit palette"* ]]
    # 16-bit RGB: the samples of 8-bit, scaled by 257
    perl -e 'local $/; my $b = <STDIN>; my $h = substr($b, 0, 128);
        my $d = substr($b, 128); print pack("v*", map { $_ * 257 } unpack("C*", $d));' \
        <i.npy | npy_raw i16.npy '<u2' 1,48,96,3
    tns npy-in --name image i16.npy | tns png-out image s/images/00003.png
    fails src --root s --batch 6 --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"s/images/00003.png: a gta5 image must be an 8-bit RGB PNG, found 16-bit RGB"* ]]
    # RGBA with one transparent pixel: its colour is not defined
    perl -e 'local $/; my $b = <STDIN>; my @p = unpack("C*", substr($b, 128));
        my @o; for my $i (0 .. @p / 3 - 1) { push @o, @p[3*$i .. 3*$i+2], $i == 100 ? 0 : 255 }
        print pack("C*", @o);' <i.npy | npy_raw a.npy '|u1' 1,48,96,4
    tns npy-in --name image a.npy | tns png-out image s/images/00003.png
    fails src --root s --batch 6 --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"s/images/00003.png: the image has alpha 0 at row 1 column 4, expected every pixel opaque (255)"* ]]
    # opaque RGBA is an RGB image
    perl -e 'local $/; my $b = <STDIN>; my @p = unpack("C*", substr($b, 128));
        my @o; for my $i (0 .. @p / 3 - 1) { push @o, @p[3*$i .. 3*$i+2], 255 }
        print pack("C*", @o);' <i.npy | npy_raw o.npy '|u1' 1,48,96,4
    tns npy-in --name image o.npy | tns png-out image s/images/00003.png
    src --root s --batch 6 --sequential -q >opaque.tns
    src --batch 6 --sequential -q >plain.tns
    cmp opaque.tns plain.tns
}

@test "seg-batch: a list with its columns swapped is refused at the first file" {
    (cd "$DATA/source" && for f in images/*.png; do echo "labels/${f#images/} $f"; done) >"$DATA/source/swapped.txt"
    fails seg-batch --dataset list --list "$DATA/source/swapped.txt" --map gta5 --sequential
    assert_clean_failure seg-batch
    [[ $stderr == *"labels/00000.png: a list image must be an 8-bit RGB PNG, found 8-bit palette"* ]]
    rm "$DATA/source/swapped.txt"
}

@test "seg-batch: a batch whose labels are all ignore is warned about, naming the files" {
    printf '# no id of these labels\n200 0\n' >none.map
    run_split src --map none.map --sequential --batch 3
    [ "$status" -eq 0 ]
    [[ $stderr == *"seg-batch: warning: every label pixel of the batch is ignore (255): "*"labels/00000.png, "*"labels/00001.png, "*"labels/00002.png; is the label map (--map) the one of these labels?"* ]]
    [ "$(grep -c 'warning: every label pixel' <<<"$stderr")" -eq 2 ]
    # labelled batches give none
    run_split src --sequential --batch 3
    [[ $stderr != *warning* ]]
}

# the i32 values of frame NAME of the stream on stdin, space-separated
ints() { tns get "$1" | od -An -td4 -v | tr -s ' \n' ' '; }

@test "seg-batch --emit-box: the box of each crop, and of a whole resized image" {
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt --sequential -q --batch 3 --resize 48x20 --emit-box >v.tns
    run tns info v.tns
    assert_line --partial "tgt.box	i32	3x7"
    # x y sw sh fw fh flip, per item
    [ "$(ints tgt.box <v.tns)" = " 0 0 48 20 96 48 0 0 0 48 20 96 48 0 0 0 48 20 96 48 0 " ]
    # random crops: the window lies in the scaled image, which is the
    # resized one times s in [0.5, 1.5]; flips are recorded
    src --batch 24 --crop 40x24 --scale 0.5,1.5 --flip --resize 80x40 --emit-box -q >c.tns
    tns get src.box <c.tns | od -An -td4 -v | tr -s ' \n' ' ' |
        awk '{ for (i = 1; i <= NF; i += 7) {
                   x = $i; y = $(i+1); sw = $(i+2); sh = $(i+3)
                   if (sw < 40 || sw > 120 || sh < 20 || sh > 60) exit 1
                   if ($(i+4) != 96 || $(i+5) != 48) exit 2
                   if (sw >= 40 && (x < 0 || x + 40 > sw)) exit 3
                   if (sw < 40 && (x > 0 || x + 40 < sw)) exit 4
                   f += $(i+6); n++ }
               if (n != 24 || f == 0 || f == 24) exit 5 }'
    # the box does not change the other frames' bytes
    src --batch 4 --crop 40x24 --scale 0.5,1.5 --flip --seed 3 -q | tns select src.image src.label >a.tns
    src --batch 4 --crop 40x24 --scale 0.5,1.5 --flip --seed 3 -q --emit-box | tns select src.image src.label >b.tns
    cmp a.tns b.tns
}

@test "seg-batch --emit-names: each image's path under the root" {
    seg-batch --dataset cityscapes --root "$DATA/target/" --split val --prefix tgt --sequential -q --batch 3 --emit-names --no-labels >n.tns
    tns info n.tns | grep -q "tgt.names	u8"
    run bash -c "tns get tgt.names <n.tns"
    assert_success
    [ "${#lines[@]}" -eq 3 ]
    for l in "${lines[@]}"; do
        [[ $l == leftImg8bit/val/*/*_leftImg8bit.png ]] || fail "name $l"
        [ -f "$DATA/target/$l" ] || fail "no file $l"
    done
}

@test "seg-batch --full-labels: resized images, labels at their stored size" {
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt --sequential -q --batch 3 --resize 48x24 --full-labels >f.tns
    run tns info f.tns
    assert_line --partial "tgt.image	u8	3x24x48x3"
    assert_line --partial "tgt.label	u8	3x48x96"
    seg-batch --dataset cityscapes --root "$DATA/target" --split val --prefix tgt --sequential -q --batch 3 | tns select tgt.label >a.tns
    tns select tgt.label -i f.tns >b.tns
    cmp a.tns b.tns
    fails src --full-labels --batch 2
    assert_clean_failure seg-batch
    [[ $stderr == *"--full-labels"*"needs --sequential"* ]]
    fails seg-batch --dataset cityscapes --root "$DATA/target" --split val --sequential --no-labels --full-labels
    assert_clean_failure seg-batch
}

@test "seg-batch: crops redrawn by their labels (--cat-max-ratio, --rcs-min-crop-ratio), seeded" {
    # one class over 60% of a 12x8 crop: rarer with the redraw
    dominated() {
        tns get src.label | od -An -tu1 -v | tr -s ' \n' ' ' |
            awk '{ for (i = 1; i <= NF; i += 96) {
                       delete c; m = 0; n = 0
                       for (j = i; j < i + 96; j++) if ($j != 255) { c[$j]++; n++ }
                       for (k in c) if (c[k] > m) m = c[k]
                       d += n > 0 && m >= 0.6 * n }
                   print d }'
    }
    src --batch 64 --crop 12x8 --scale 2,3 -q >a.tns
    src --batch 64 --crop 12x8 --scale 2,3 --cat-max-ratio 0.6 -q >b.tns
    src --batch 64 --crop 12x8 --scale 2,3 --cat-max-ratio 0.6 -q >c.tns
    cmp b.tns c.tns
    a=$(dominated <a.tns)
    b=$(dominated <b.tns)
    [ "$b" -lt "$a" ] || fail "dominated crops: $a without, $b with the redraw"
    fails src --cat-max-ratio 0.5
    assert_clean_failure seg-batch
    [[ $stderr == *"--cat-max-ratio"*"needs --crop"* ]]
    fails src --crop 8x8 --cat-max-ratio 1.5
    assert_clean_failure seg-batch
    # rare-class crops: the same seed, the same redrawn crops
    src --make-rcs-stats stats.tns -q
    src --rcs --rcs-stats stats.tns --rcs-min-pixels 50 --crop 16x16 --batch 4 --iters 3 -q >r1.tns
    src --rcs --rcs-stats stats.tns --rcs-min-pixels 50 --crop 16x16 --batch 4 --iters 3 -q >r2.tns
    src --rcs --rcs-stats stats.tns --rcs-min-pixels 50 --rcs-min-crop-ratio 0 --crop 16x16 --batch 4 --iters 3 -q >r3.tns
    cmp r1.tns r2.tns
    fails src --rcs --rcs-stats stats.tns --rcs-min-crop-ratio -1
    assert_clean_failure seg-batch
}
