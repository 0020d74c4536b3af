#!/usr/bin/env bats
# tns: inspect and convert tensor streams.

load helpers

# npy FILE DESCR SHAPE NBYTES: write a .npy file whose data bytes are
# (7*i) mod 256.
npy() {
    local esc="" i
    for ((i = 0; i < $4; i++)); do esc+=$(printf '\\%03o' $((i * 7 % 256))); done
    printf '%b' "$esc" | npy_raw "$1" "$2" "$3"
}

# a stream with an image batch, a label batch and an f32 frame
make_stream() {
    npy img.npy '|u1' 2,4,6,3 144
    npy lab.npy '|u1' 2,4,6 48
    npy w.npy '<f4' 2,3 24
    tns npy-in --name src.image img.npy >a.tns
    tns npy-in -i a.tns --name src.label lab.npy >b.tns
    tns npy-in -i b.tns --name x.w w.npy >s.tns
    rm a.tns b.tns
}

@test "tns --help prints usage to stdout and exits 0" {
    run_split tns --help
    [ "$status" -eq 0 ]
    [[ $stdout == usage:* ]]
    [ "$stderr_lines" -eq 0 ]
}

@test "npy-in builds a stream and info lists every frame with stats" {
    make_stream
    run_split tns info s.tns
    [ "$status" -eq 0 ]
    [ "$(echo "$stdout" | wc -l)" -eq 3 ]
    [[ $stdout == *$'0\tsrc.image\tu8\t2x4x6x3'* ]]
    [[ $stdout == *$'1\tsrc.label\tu8\t2x4x6\tmin 0\tmax 252'* ]]
    [[ $stdout == *$'2\tx.w\tf32\t2x3'* ]]
}

@test "info reads stdin with - and marks later segments" {
    make_stream
    cat s.tns s.tns | tns info - >out
    grep -q '^# segment 1$' out
    [ "$(grep -c 'src.image' out)" -eq 2 ]
}

@test "npy-out gives back the bytes npy-in read" {
    make_stream
    tns npy-out -i s.tns src.label back.npy
    cmp lab.npy back.npy
    mkdir d
    tns npy-out -i s.tns --dir d
    cmp d/src.image.npy img.npy
    cmp d/x.w.npy w.npy
}

@test "select keeps and drop removes frames by glob, batch by batch" {
    make_stream
    cat s.tns s.tns >two.tns
    tns select -i two.tns 'src.*' | tns info >out
    [ "$(grep -c src. out)" -eq 4 ]
    if grep -q x.w out; then fail "select kept x.w"; fi
    tns drop -i two.tns 'src.*' | tns info >out
    [ "$(grep -vc '^#' out)" -eq 2 ]
    grep -q '^# segment 1$' out
}

@test "rename renames and refuses a clash unless --replace" {
    make_stream
    tns rename -i s.tns src.label=tgt.label | tns info >out
    grep -q 'tgt.label' out
    run_split tns rename -i s.tns src.label=x.w
    assert_clean_failure tns
    [[ $stderr == *"already in the stream"* ]]
    tns rename --replace -i s.tns src.label=x.w | tns info >out
    [ "$(wc -l <out)" -eq 2 ]
    grep -q $'x.w\tu8\t2x4x6' out
}

@test "cat merges streams into one batch; a repeated name needs --replace" {
    make_stream
    tns select -i s.tns src.image >i.tns
    tns select -i s.tns x.w >w.tns
    tns cat i.tns w.tns | tns info >out
    [ "$(wc -l <out)" -eq 2 ]
    run_split tns cat s.tns i.tns
    assert_clean_failure tns
    [[ $stderr == *"'src.image' is already in the stream"* ]]
    tns cat --replace s.tns i.tns | tns info >out
    [ "$(wc -l <out)" -eq 3 ]
}

@test "png-out and png-in round-trip an image batch exactly" {
    make_stream
    tns png-out -i s.tns src.image 'im-%02d.png'
    [ -f im-00.png ]
    [ -f im-01.png ]
    tns png-in --name src.image im-00.png im-01.png | tns npy-out src.image back.npy
    cmp img.npy back.npy
}

@test "png-in --as label reads label maps as NxHxW" {
    make_stream
    tns png-out -i s.tns src.label 'l%d.png'
    tns png-in --as label --name y l0.png l1.png | tns npy-out y back.npy
    cmp lab.npy back.npy
}

@test "png-out --color paints labels with the Cityscapes palette" {
    npy lab.npy '|u1' 1,1,3 3 # values 0, 7, 14: road, traffic sign, truck
    tns npy-in --name l lab.npy | tns png-out --color l c.png
    tns png-in c.png | tns npy-out image rgb.npy
    # road 128,64,128; traffic sign 220,220,0; truck 0,0,70
    [ "$(tail -c 9 rgb.npy | od -An -tu1 | tr -s ' ')" = " 128 64 128 220 220 0 0 0 70" ]
}

@test "png-out maps f32 through --range to grey" {
    npy w.npy '<f4' 1,1,2 8
    tns npy-in --name w w.npy | tns png-out --range 0,1 w g.png
    [ -s g.png ]
}

@test "png-in refuses files of different sizes in one batch" {
    npy a.npy '|u1' 1,4,6,3 72
    npy b.npy '|u1' 1,5,6,3 90
    tns npy-in --name a a.npy | tns png-out a a.png
    tns npy-in --name b b.npy | tns png-out b b.png
    run_split tns png-in a.png b.png
    assert_clean_failure tns
    [[ $stderr == *"a batch needs one size"* ]]
}

@test "png-out needs %d for more than one item" {
    make_stream
    run_split tns png-out -i s.tns src.image one.png
    assert_clean_failure tns
    [[ $stderr == *"needs %d for more than one item"* ]]
    [ ! -e one.png ]
}

@test "get writes the raw payload of a text frame" {
    printf 'net=test\nwidth=4\n' >arch.txt
    npy t.npy '|u1' '3,' 3
    tns npy-in --name meta.arch t.npy | tns get meta.arch | od -An -tu1 >out
    [ "$(tr -s ' ' <out)" = " 0 7 14" ]
}

@test "-o writes atomically and leaves no temporary file" {
    make_stream
    tns select -i s.tns x.w -o out.tns
    [ "$(tns info out.tns | wc -l)" -eq 1 ]
    [ "$(ls -A | grep -c '^\.')" -eq 0 ]
}

@test "bad input: a missing file" {
    run_split tns info nope.tns
    assert_clean_failure tns
    [[ $stderr == *"nope.tns: cannot open"* ]]
}

@test "bad input: a directory given as a file" {
    run_split tns info .
    assert_clean_failure tns
    [[ $stderr == *"Is a directory"* ]]
}

@test "bad input: empty input" {
    run_split tns select x </dev/null
    assert_clean_failure tns
    [[ $stderr == *"empty input"* ]]
}

@test "bad input: a truncated stream, at every frame boundary and inside" {
    make_stream
    size=$(stat -c %s s.tns)
    for cut in 1 8 11 20 60 100 200 $((size - 21)) $((size - 20)) $((size - 1)); do
        head -c "$cut" s.tns >cut.tns
        run_split tns select -i cut.tns '*'
        assert_clean_failure tns
    done
    head -c $((size - 20)) s.tns >cut.tns
    run_split tns select -i cut.tns '*'
    [[ $stderr == *"without an end marker"* ]]
}

@test "bad input: a flipped payload byte names the frame" {
    make_stream
    size=$(stat -c %s s.tns)
    # the last frame's payload ends 4 bytes before the 20-byte end marker
    printf '\377' | dd of=s.tns bs=1 seek=$((size - 30)) conv=notrunc 2>/dev/null
    run_split tns drop nothing -i s.tns -o out.tns
    assert_clean_failure tns
    [[ $stderr == *"frame 2 'x.w': payload checksum mismatch"* ]]
    [ ! -e out.tns ]
}

@test "bad input: a failure leaves an existing -o file untouched" {
    make_stream
    echo old >out.tns
    head -c 100 s.tns >cut.tns
    run_split tns select -i cut.tns '*' -o out.tns
    assert_clean_failure tns
    [ "$(cat out.tns)" = old ]
}

@test "bad input: not a stream" {
    echo "hello world, this is text" >t.tns
    run_split tns info t.tns
    assert_clean_failure tns
    [[ $stderr == *"not a tns stream (bad magic"* ]]
}

@test "bad input: a non-PNG file named .png, and a missing PNG" {
    echo "not a png" >x.png
    run_split tns png-in x.png
    assert_clean_failure tns
    [[ $stderr == *"x.png: not a PNG file"* ]]
    run_split tns png-in missing.png
    assert_clean_failure tns
}

@test "bad input: unknown options, commands and missing values" {
    run_split tns info --frobnicate
    assert_clean_failure tns
    [[ $stderr == *"unknown option '--frobnicate'"* ]]
    run_split tns frobnicate
    assert_clean_failure tns
    [[ $stderr == *"unknown command 'frobnicate'"* ]]
    run_split tns select -i
    assert_clean_failure tns
    run_split tns png-in --as banana x.png
    assert_clean_failure tns
    [[ $stderr == *"expected one of rgb, label, raw"* ]]
}

# refuses CMD OPTION ARGS...: tns CMD fails on OPTION, another command's,
# naming both, and writes nothing.
refuses() {
    local cmd=$1 option=$2
    shift 2
    run_split tns "$cmd" "$@"
    assert_clean_failure tns
    [[ $stderr == "tns: $cmd: option '$option' is not one of this command's (see --help)" ]] ||
        fail "tns $cmd $*: $stderr"
    [ ! -e out.tns ] && [ ! -e out.png ] && [ ! -e d ]
}

@test "each command refuses the options of the others" {
    make_stream
    refuses info -o -o out.tns s.tns
    refuses info --replace --replace s.tns
    refuses select --name --name x -i s.tns 'src.*'
    refuses drop --dir --dir d -i s.tns 'src.*'
    refuses rename --as --as rgb -i s.tns x.w=y.w
    refuses cat -i -i s.tns s.tns
    refuses cat --color --color s.tns
    refuses get -o -o out.tns -i s.tns x.w
    refuses get --range --range 0,2 -i s.tns x.w
    refuses png-in --dir --dir d x.png
    refuses png-in --start --start 3 x.png
    refuses png-out --replace --replace -i s.tns src.image out%d.png
    refuses png-out -o -o out.tns -i s.tns src.image out%d.png
    refuses npy-in --as --as label w.npy
    refuses npy-in --color --color w.npy
    refuses npy-out --name --name y -i s.tns x.w out.npy
    refuses npy-out --output --output=out.tns -i s.tns x.w out.npy
    refuses tile --color --color -i s.tns out.png src.image
    refuses tile --start --start 1 -i s.tns out.png src.image
    refuses tile -o -o out.tns -i s.tns out.png src.image
    # and each still takes its own
    tns select -i s.tns -o out.tns 'src.*'
    tns png-out -i s.tns --start 3 --color src.label l%d.png
    [ -e l3.png ] && [ -e l4.png ]
}

@test "png-in --as label refuses 8-bit RGB and grey+alpha, which no label format uses" {
    make_stream
    tns png-out -i s.tns src.image 'rgb%d.png'
    run_split tns png-in --as label rgb0.png
    assert_clean_failure tns
    [[ $stderr == *"rgb0.png: a label PNG is palette, grey or 16-bit RGB (the class in the first channel), found 8-bit RGB"* ]]
    # --as raw keeps what is stored
    tns png-in --as raw rgb0.png | tns info | grep -q $'image\tu8\t1x4x6x3'
}

@test "png-out --color needs a label map, not f32 values" {
    make_stream
    run_split tns png-out -i s.tns --color x.w 'w%d.png'
    assert_clean_failure tns
    [[ $stderr == *"--color needs a label map (u8 or u16 NxHxW), frame 'x.w' is f32 2x3"* ]]
    [ ! -e w0.png ] && [ ! -e w.png ]
}

@test "bad input: a .npy of an unsupported dtype" {
    npy d.npy '<f8' 2 16
    run_split tns npy-in d.npy
    assert_clean_failure tns
    [[ $stderr == *"dtype '<f8' is not supported"* ]]
}

@test "tile draws frames side by side, a row per batch item" {
    make_stream
    tns tile -i s.tns sheet.png src.image src.label:color src.label:mask
    tns png-in sheet.png | tns info >out
    # 3 columns of 6 px and 2 gaps of 4; 2 rows of 4 px and 1 gap
    grep -q $'image\tu8\t1x12x26x3' out
}

@test "tile refuses frames of different sizes and unknown styles" {
    make_stream
    run_split tns tile -i s.tns sheet.png src.image x.w
    assert_clean_failure tns
    [[ $stderr == *"expected u8 NxHxWx3 images or NxHxW maps"* ]]
    run_split tns tile -i s.tns sheet.png src.label:sparkle
    assert_clean_failure tns
    [[ $stderr == *"expected NAME, NAME:color or NAME:mask"* ]]
    [ ! -e sheet.png ]
}

# bytes BYTE...: a u8 frame's payload from decimal bytes, to a .npy
bytes_npy() {
    local file=$1 shape=$2
    shift 2
    perl -e 'print pack("C*", @ARGV)' -- "$@" | npy_raw "$file" '|u1' "$shape"
}

@test "png-out --labelids: train ids back to Cityscapes label ids" {
    bytes_npy p.npy 1,2,4 0 1 2 18 255 10 13 5
    tns npy-in --name tgt.pred p.npy | tns png-out --labelids tgt.pred ids.png
    tns png-in --as label --name x ids.png | tns get x | od -An -tu1 -v | tr -s ' \n' ' ' >got
    [ "$(cat got)" = " 7 8 11 33 0 23 26 17 " ]
    # 8-bit grey, as the Cityscapes scripts read it (a 2-D array)
    [ "$(od -An -tu1 -j24 -N2 ids.png | tr -s ' ')" = " 8 0" ]
    # u16 train ids too
    perl -e 'print pack("v*", 0, 1, 18, 255)' | npy_raw q.npy '<u2' 1,2,2
    tns npy-in --name q q.npy | tns png-out --labelids q q.png
    [ "$(tns png-in --as label --name x q.png | tns get x | od -An -tu1 -v | tr -s ' \n' ' ')" = " 7 8 33 0 " ]
    # not a train id: refused, nothing written
    bytes_npy b.npy 1,1,2 0 19
    run_split bash -c "tns npy-in --name tgt.pred b.npy | tns png-out --labelids tgt.pred bad.png"
    assert_clean_failure tns
    [[ $stderr == *"--labelids maps the 19 Cityscapes train ids"*"has 19 at image 0 row 0 column 1"* ]]
    [ ! -e bad.png ]
    run_split tns png-out --labelids --color -i s.tns x y.png
    assert_clean_failure tns
}

@test "png-out --labelids --names: the test-server layout, every batch of a split" {
    synth-city -q --size 48x24 --source 1 --train 1 --val 3 data
    # the labels stand in for predictions: seg-batch maps them to train
    # ids, png-out maps them back; one batch of 2 and one of 1
    seg-batch --dataset cityscapes --root data/target --split val --prefix tgt \
        --sequential --batch 2 --emit-names -q >v.tns
    tns png-out --labelids --names tgt.names -i v.tns tgt.label out
    n=0
    for gt in data/target/gtFine/val/*/*_gtFine_labelIds.png; do
        city=$(basename "$(dirname "$gt")")
        stem=$(basename "$gt" _gtFine_labelIds.png)
        f=out/$city/${stem}_labelIds.png
        [ -f "$f" ] || fail "no $f"
        # ids with a train id come back as they were, the others as 0
        tns png-in --as label --name x "$gt" | tns get x | od -An -tu1 -v | tr -s ' \n' '\n' | sed '/^$/d' |
            awk 'BEGIN { split("7 8 11 12 13 17 19 20 21 22 23 24 25 26 27 28 31 32 33", a, " "); for (i in a) keep[a[i]] = 1 }
                 { print(($1 in keep) ? $1 : 0) }' >want
        tns png-in --as label --name x "$f" | tns get x | od -An -tu1 -v | tr -s ' \n' '\n' | sed '/^$/d' >got
        cmp want got
        n=$((n + 1))
    done
    [ "$n" -eq 3 ]
    [ "$(find out -type f | wc -l)" -eq 3 ]
    # PATTERN numbering runs on over the batches
    tns png-out -i v.tns tgt.label 'l%d.png'
    [ -f l0.png ] && [ -f l1.png ] && [ -f l2.png ] && [ ! -e l3.png ]
}

@test "png-out --names: a missing or short names frame is refused" {
    make_stream
    run_split tns png-out --names src.names -i s.tns src.label out
    assert_clean_failure tns
    [[ $stderr == *"missing frame 'src.names'"*"--emit-names"* ]]
    printf 'a/b.png\n' >n.txt
    bytes_npy n.npy 8 $(od -An -tu1 -v n.txt)
    tns npy-in -i s.tns --name src.names n.npy >t.tns
    run_split tns png-out --names src.names -i t.tns src.label out
    assert_clean_failure tns
    [[ $stderr == *"frame 'src.names' holds 1 name lines, expected one per item: 2"* ]]
    printf '../x.png\n..\n' >m.txt
    bytes_npy m.npy 12 $(od -An -tu1 -v m.txt)
    tns npy-in -i s.tns --name src.names m.npy >u.tns
    run_split tns png-out --names src.names -i u.tns src.label out
    assert_clean_failure tns
    [[ $stderr == *"gives no file name"* ]]
}
