#!/usr/bin/env bats
# The bad-input catalogue of dacs(7), one test per row.  Every case asserts
# the same four things: a non-zero exit; one line on stderr naming the tool
# and the problem; nothing on stdout; and no output file created or
# modified (out.tns holds "old" before and after, and no temporary file is
# left beside it).

load helpers

setup_file() {
    export FIX="$BATS_FILE_TMPDIR/fix"
    mkdir -p "$FIX"
    cd "$FIX"
    export PATH="$DACS_BIN:$PATH" OPENBLAS_NUM_THREADS=1
    synth-city --quiet --size 64x32 --source 2 --train 2 --val 2 --seed 9 data
    seg-init --width 2 --seed 1 -o student.tns
    seg-init --width 4 --seed 1 -o wide.tns
    ema-merge --quiet missing.tns student.tns -o teacher.tns
    seg-batch --dataset gta5 --root data/source --prefix src -q >src.tns
    seg-batch --dataset cityscapes --root data/target --prefix tgt \
        --no-labels -q >tgt.tns
    tns cat src.tns tgt.tns | seg-infer -m teacher.tns | pseudolabel -q >pl.tns
    classmix <pl.tns >mix.tns
}

# refuse TOOL PATTERN CMD...: the four promises, and the message names
# PATTERN.  Commands write to out.tns (or stdout).
refuse() {
    local tool=$1 pattern=$2
    shift 2
    echo old >out.tns
    run_split "$@"
    assert_clean_failure "$tool"
    [[ $stderr == *"$pattern"* ]] || fail "stderr lacks '$pattern': $stderr"
    echo "#   $stderr" >&3
    [ "$(cat out.tns)" = old ] || fail "out.tns was modified"
    [ -z "$(ls -A | grep '^\.')" ] || fail "a temporary file was left: $(ls -A)"
}

# poke FILE OFFSET BYTE: overwrite one byte (BYTE in octal)
poke() { printf "\\$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

# tnsframe OUT NAME DTYPE DIM...: a stream of one frame whose header is
# valid (with its checksum) but whose payload is absent
tnsframe() {
    perl -MCompress::Zlib -e '
        my ($out, $name, $dtype, @dims) = @ARGV;
        my $h = "\x89TNS\x01F\0\0" . pack("CCv", $dtype, scalar @dims, length $name)
              . join("", map { pack("Q<", $_) } @dims) . $name;
        open(my $o, ">:raw", $out) or die; print $o $h, pack("V", crc32($h)); close $o;
    ' "$@"
}

# dupframe IN OUT: the first frame of IN twice, in one batch
dupframe() {
    perl -MCompress::Zlib -e '
        my ($in, $out) = @ARGV;
        open(my $i, "<:raw", $in) or die; local $/; my $s = <$i>;
        my $frame = substr($s, 0, length($s) - 20);
        my $m = "\x89TNS\x01E\x01\0" . pack("Q<", 2);
        open(my $o, ">:raw", $out) or die;
        print $o $frame, $frame, $m, pack("V", crc32($m)); close $o;
    ' "$@"
}

@test "truncated streams at every record boundary and inside records" {
    cd "$FIX"
    size=$(stat -c %s pl.tns)
    # record boundaries: after each frame (from tns info's sizes) and inside
    for cut in 0 4 8 12 40 200 1000 $((size / 3)) $((size / 2)) \
        $((size - 21)) $((size - 20)) $((size - 4)) $((size - 1)); do
        head -c "$cut" pl.tns >"$T/cut.tns"
        cd "$T"
        refuse classmix "stdin" classmix -o out.tns <cut.tns
        cd "$FIX"
    done
}

@test "a flipped payload byte" {
    cp "$FIX/src.tns" .
    poke src.tns 200 377
    refuse seg-step "payload checksum mismatch" \
        seg-step -m "$FIX/student.tns" -o out.tns -i src.tns
}

@test "a bad magic" {
    cp "$FIX/tgt.tns" .
    poke tgt.tns 1 130
    refuse seg-infer "not a tns stream (bad magic" \
        seg-infer -m "$FIX/teacher.tns" -i tgt.tns -o out.tns
}

@test "a bad format version" {
    cp "$FIX/mix.tns" .
    poke mix.tns 4 2
    refuse pseudolabel "format version 2" pseudolabel -i mix.tns -o out.tns
}

@test "absurd dims" {
    tnsframe big.tns tgt.prob 4 65536 65536 65536 65536
    refuse pseudolabel "larger than the 4294967296-byte limit" \
        pseudolabel -i big.tns -o out.tns
}

@test "a wrong dtype" {
    tns drop tgt.prob -i "$FIX/pl.tns" >a.tns
    tns rename -i a.tns tgt.plabel=tgt.prob >b.tns
    refuse pseudolabel "frame 'tgt.prob' has dtype u8, expected f32" \
        pseudolabel -i b.tns -o out.tns
}

@test "a missing required frame" {
    tns drop tgt.weight -i "$FIX/pl.tns" >bad.tns
    refuse classmix "missing frame 'tgt.weight'" classmix -i bad.tns -o out.tns
}

@test "the same frame name twice in one batch" {
    tns select src.image -i "$FIX/src.tns" >one.tns
    dupframe one.tns two.tns
    refuse seg-step "a second frame of this name" \
        seg-step -m "$FIX/student.tns" -o out.tns -i two.tns
}

@test "shape mismatches between frames" {
    seg-batch --dataset cityscapes --root "$FIX/data/target" --prefix tgt \
        --no-labels --crop 40x32 -q >narrow.tns
    tns select 'tgt.plabel' 'tgt.weight' -i "$FIX/pl.tns" >pw.tns
    tns cat "$FIX/src.tns" narrow.tns pw.tns >bad.tns
    refuse classmix "'tgt.image' has 2x32x40x3: a batch's frames must agree in N, H and W" \
        classmix -i bad.tns -o out.tns
}

@test "label values out of range" {
    tns npy-out -i "$FIX/src.tns" src.label l.npy
    # the last byte of the labels becomes 40, with 19 classes
    printf '\050' | dd of=l.npy bs=1 seek=$(($(stat -c %s l.npy) - 1)) conv=notrunc 2>/dev/null
    tns npy-in --replace -i "$FIX/src.tns" --name src.label l.npy >bad.tns
    refuse seg-step "has 40 at image 1 row 31 column 63, expected a label in 0..18 or 255 (ignore)" \
        seg-step -m "$FIX/student.tns" -o out.tns -i bad.tns
}

@test "NaN in a weight map" {
    tns npy-out -i "$FIX/pl.tns" tgt.weight w.npy
    printf '\000\000\300\177' | dd of=w.npy bs=1 seek=200 conv=notrunc 2>/dev/null
    tns npy-in --replace -i "$FIX/pl.tns" --name tgt.weight w.npy >bad.tns
    refuse classmix "frame 'tgt.weight' has NaN at image 0 row 0 column 18, expected a finite weight >= 0" \
        classmix -i bad.tns -o out.tns
}

@test "Inf in probabilities" {
    tns npy-out -i "$FIX/pl.tns" tgt.prob p.npy
    printf '\000\000\200\177' | dd of=p.npy bs=1 seek=300 conv=notrunc 2>/dev/null
    tns npy-in --replace -i "$FIX/pl.tns" --name tgt.prob p.npy >bad.tns
    refuse pseudolabel "frame 'tgt.prob' has Inf at image 0 class 0 row 0 column 43, expected a probability in [0, 1]" \
        pseudolabel -i bad.tns -o out.tns
}

@test "NaN in a mixed weight reaching seg-step" {
    tns npy-out -i "$FIX/mix.tns" mix.weight w.npy
    printf '\000\000\300\177' | dd of=w.npy bs=1 seek=128 conv=notrunc 2>/dev/null
    tns npy-in --replace -i "$FIX/mix.tns" --name mix.weight w.npy >bad.tns
    refuse seg-step "NaN" seg-step -m "$FIX/student.tns" -o out.tns -i bad.tns
}

@test "NaN in a checkpoint" {
    tns npy-out -i "$FIX/teacher.tns" head.0.bias b.npy
    printf '\000\000\300\177' | dd of=b.npy bs=1 seek=128 conv=notrunc 2>/dev/null
    tns npy-in --replace -i "$FIX/teacher.tns" --name head.0.bias b.npy >bad.tns
    refuse seg-infer "NaN" seg-infer -m bad.tns -i "$FIX/tgt.tns" -o out.tns
    refuse ema-merge "NaN" ema-merge bad.tns "$FIX/student.tns" -o out.tns
}

@test "empty input" {
    refuse pseudolabel "empty input" pseudolabel -o out.tns </dev/null
    refuse classmix "empty input" classmix -o out.tns </dev/null
    refuse seg-infer "empty input" seg-infer -m "$FIX/teacher.tns" -o out.tns </dev/null
    refuse seg-step "empty input" seg-step -m "$FIX/student.tns" -o out.tns </dev/null
    refuse miou "empty input" miou -o out.tns </dev/null
    : >empty.tns
    refuse seg-infer "empty input" seg-infer -m empty.tns -i "$FIX/tgt.tns" -o out.tns
}

@test "a directory given as a file" {
    mkdir d
    refuse seg-infer "d" seg-infer -m d -i "$FIX/tgt.tns" -o out.tns
    refuse pseudolabel "Is a directory" pseudolabel -i d -o out.tns
    refuse tns "directory" tns select '*' -i "$FIX/src.tns" -o d
}

@test "a non-PNG file named .png" {
    cp "$FIX/data/source/labels/00000.png" lab.png
    echo "this is text" >img.png
    echo "img.png lab.png" >list.txt
    refuse seg-batch "img.png: not a PNG file" \
        seg-batch --dataset list --list list.txt --root . --map gta5 -o out.tns
}

@test "a 0x0 PNG" {
    perl -MCompress::Zlib -e '
        my $ihdr = "IHDR" . pack("NNCCCCC", 0, 0, 8, 2, 0, 0, 0);
        open(my $o, ">:raw", "zero.png") or die;
        print $o "\x89PNG\r\n\x1a\n", pack("N", 13), $ihdr, pack("N", crc32($ihdr));
        close $o;'
    refuse tns "zero in IHDR" tns png-in zero.png -o out.tns
    cp zero.png img.png
    cp "$FIX/data/source/labels/00000.png" lab.png
    echo "img.png lab.png" >list.txt
    refuse seg-batch "img.png" \
        seg-batch --dataset list --list list.txt --root . --map gta5 -o out.tns
}

@test "mismatched teacher and student" {
    refuse ema-merge "" ema-merge "$FIX/teacher.tns" "$FIX/wide.tns" -o out.tns
    [[ $stderr == *"width"* || $stderr == *"arch"* || $stderr == *"shape"* ]]
}

@test "a checkpoint of another architecture" {
    tns get -i "$FIX/student.tns" meta.arch | sed 's/net=deeplab-mini/net=resnet101/' >arch.txt
    # rebuild meta.arch with another net name through npy-in
    npy_raw arch.npy '|u1' "$(wc -c <arch.txt)" <arch.txt
    tns npy-in --replace -i "$FIX/student.tns" --name meta.arch arch.npy >other.tns
    refuse seg-infer "resnet101" seg-infer -m other.tns -i "$FIX/tgt.tns" -o out.tns
}

@test "unknown options, for every tool" {
    for tool in tns seg-batch seg-init seg-infer seg-step pseudolabel \
        classmix ema-merge miou synth-city; do
        if [ "$tool" = tns ]; then
            refuse tns "unknown option '--frobnicate'" tns info --frobnicate
        else
            refuse "$tool" "unknown option '--frobnicate'" "$tool" --frobnicate
        fi
    done
}

# one_item IMAGE LABEL: list.txt naming the pair, for seg-batch --dataset list
one_item() { echo "$1 $2" >list.txt; }
# flat NAME DTYPE SHAPE VALUE PNG: a PNG of one value everywhere
flat() {
    local n=1 d
    for d in ${3//,/ }; do n=$((n * d)); done
    perl -e 'print pack("$ARGV[0]*", ($ARGV[1]) x $ARGV[2])' -- \
        "$([ "$2" = '<u2' ] && echo v || echo C)" "$4" "$n" |
        npy_raw "$1.npy" "$2" "$3"
    tns npy-in --name x "$1.npy" | tns png-out x "$5"
}
LBL="$BATS_FILE_TMPDIR/fix/data/source/labels/00000.png"
IMG="$BATS_FILE_TMPDIR/fix/data/source/images/00000.png"

@test "a label re-saved as 8-bit RGB" {
    tns png-in --as raw "$LBL" | tns png-out image lab.png
    one_item "$IMG" lab.png
    refuse seg-batch "lab.png: a list label must be a palette or grey PNG, or a 16-bit RGB one, found 8-bit RGB" \
        seg-batch --dataset list --list list.txt --map gta5 -o out.tns
}

@test "a SYNTHIA label that is not 16-bit" {
    synth-city --quiet --size 64x32 --source 1 --train 0 --val 0 --source-layout synthia syn
    f=$(ls syn/source/GT/LABELS/*.png)
    tns png-in --as rgb "$f" | tns png-out image "$f"
    refuse seg-batch "a synthia label must be a 16-bit RGB PNG, the class in the first channel, found 8-bit RGB" \
        seg-batch --dataset synthia --root syn/source -o out.tns
}

@test "a grey, palette or 16-bit image" {
    flat g '|u1' 1,32,64 90 grey.png
    one_item grey.png "$LBL"
    refuse seg-batch "grey.png: a list image must be an 8-bit RGB PNG, found 8-bit grey" \
        seg-batch --dataset list --list list.txt --map gta5 -o out.tns
    flat s '<u2' 1,32,64,3 9000 deep.png
    one_item deep.png "$LBL"
    refuse seg-batch "deep.png: a list image must be an 8-bit RGB PNG, found 16-bit RGB" \
        seg-batch --dataset list --list list.txt --map gta5 -o out.tns
}

@test "a transparent pixel in an image" {
    flat a '|u1' 1,32,64,4 0 clear.png
    one_item clear.png "$LBL"
    refuse seg-batch "clear.png: the image has alpha 0 at row 0 column 0, expected every pixel opaque (255)" \
        seg-batch --dataset list --list list.txt --map gta5 -o out.tns
}

@test "a list with its columns swapped" {
    one_item "$LBL" "$IMG"
    refuse seg-batch "labels/00000.png: a list image must be an 8-bit RGB PNG, found 8-bit palette" \
        seg-batch --dataset list --list list.txt --map gta5 -o out.tns
}

@test "a label id outside the dataset's" {
    flat l '|u1' 1,32,64 40 lab.png
    one_item "$IMG" lab.png
    refuse seg-batch "lab.png: label id 40 at row 0 column 0 is no GTA5 label id (0..33)" \
        seg-batch --dataset list --list list.txt --map gta5 -o out.tns
}

@test "a colour off the table, with --label-colors" {
    flat c '|u1' 1,32,64,3 1 lab.png
    one_item "$IMG" lab.png
    refuse seg-batch "lab.png: colour (1,1,1) at row 0 column 0 is no Cityscapes label colour" \
        seg-batch --dataset list --list list.txt --map gta5 --label-colors -o out.tns
}

@test "labels all ignore: a warning, and the batch" {
    flat l '|u1' 1,32,64 0 lab.png
    one_item "$IMG" lab.png
    run_split seg-batch --dataset list --list list.txt --map gta5 --batch 1 -o out.tns
    [ "$status" -eq 0 ]
    [ -s out.tns ]
    [[ $stderr == "seg-batch: warning: every label pixel of the batch is ignore (255): "*"lab.png; "* ]]
}

@test "an 8-bit RGB PNG read as a label" {
    refuse tns "found 8-bit RGB" tns png-in --as label "$IMG" -o out.tns
}

@test "probabilities that do not sum to 1" {
    tns npy-out -i "$FIX/pl.tns" tgt.prob p.npy
    # the first probability of the first pixel becomes 0.5 more
    perl -e 'local $/; my $b = <STDIN>; my $h = substr($b, 0, 128);
        my @v = unpack("f<*", substr($b, 128)); $v[0] += 0.5;
        print $h, pack("f<*", @v);' <p.npy >q.npy
    tns npy-in --replace -i "$FIX/pl.tns" --name tgt.prob q.npy >bad.tns
    refuse pseudolabel "over its 19 classes at image 0 row 0 column 0, expected 1" \
        pseudolabel --replace -i bad.tns -o out.tns
}

@test "an f32 frame painted with --color" {
    refuse tns "--color needs a label map (u8 or u16 NxHxW), frame 'tgt.weight' is f32" \
        tns png-out -i "$FIX/pl.tns" --color tgt.weight 'w%d.png'
}

@test "another command's option" {
    refuse tns "info: option '-o' is not one of this command's" \
        tns info -o out.tns "$FIX/src.tns"
}
