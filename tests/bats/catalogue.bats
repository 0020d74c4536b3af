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
    refuse pseudolabel "is Inf" pseudolabel -i bad.tns -o out.tns
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
