#!/usr/bin/env bats
# dacs-train finds problems before iteration 0 (issue 12): every pair of
# every dataset, the label values against the class count and the label
# map, every setting against every other, the run directory; every
# problem reported at once, and nothing trained.  Every option works end
# to end or is refused with a reason: the dataset types as source, target
# and val, the label maps, exclusions.

load helpers

setup_file() {
    tiny_data
    export ODD="$BATS_FILE_TMPDIR/odd"
    # the same scenes two rows shorter: labels of another size
    PATH="$DACS_BIN:$PATH" synth-city --quiet --size 96x46 --source 2 \
        --train 1 --val 1 --seed 3 "$ODD"
}

train() { # RUN [more options]: a tiny run on DATA
    local run=$1
    shift
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" --iters 2 \
        --crop 48x32 --width 4 --lr 0.005 --threads 1 "$@" "$run"
}

# a copy of the source tree whose pair 00002 has a label two rows
# shorter than its image, whose pair 00004 has no label, and whose image
# 00003 is cut short (its header whole: a download that stopped)
bad_source() {
    cp -r "$DATA/source" src
    cp "$ODD/source/labels/00001.png" src/labels/00002.png
    rm src/labels/00004.png
    head -c 300 "$DATA/source/images/00003.png" >src/images/00003.png
}

@test "every problem at once, before iteration 0: bad pairs, bad settings; nothing trained" {
    bad_source
    run_split train run --source src --batch 0 --flip 2
    [ "$status" -eq 1 ]
    [[ $stderr == *"--batch: expected an integer >= 1, got '0'"* ]]
    [[ $stderr == *"--flip: expected 0 or 1, got '2'"* ]]
    [[ $stderr == *"label src/labels/00002.png is 96x46, but its image src/images/00002.png is 96x48"* ]]
    [[ $stderr == *"missing label src/labels/00004.png for image src/images/00004.png"* ]]
    [[ $stderr == *"src/images/00003.png: corrupt or truncated PNG"* ]]
    [[ $stderr == *"5 problem(s) found before iteration 0; nothing was trained"* ]]
    [ ! -e run ]
}

@test "a pair that goes bad between a run and its resume stops the resume before its first iteration" {
    cp -r "$DATA/source" src
    train run --source src --iters 4 --ring 0 2>/dev/null
    cp run/student.tns before.tns
    cp "$ODD/source/labels/00001.png" src/labels/00002.png
    run_split train run --source src --iters 4 --ring 0
    [ "$status" -eq 1 ]
    [[ $stderr == *"label src/labels/00002.png is 96x46"* ]]
    [[ $stderr != *"iteration"*"failed"* ]]
    cmp before.tns run/student.tns
}

@test "the check is cached in the run directory, keyed by the data" {
    cp -r "$DATA/source" src
    train run --source src 2>err
    grep -q "datasets checked in" err
    grep -q "done: 2 iterations" err
    [ -s run/checked ]
    train run --source src 2>err
    grep -q "datasets unchanged since they were checked" err
    # a label rewritten (same bytes, a new time): checked again
    touch -d '2001-01-01' src/labels/00003.png
    train run --source src 2>err
    grep -q "datasets checked in" err
    # another setting that shapes the check: checked again
    : >none
    train run2 --source src --exclude none 2>/dev/null
    [ "$(cat run/checked)" != "$(cat run2/checked)" ]
}

@test "--exclude: known-bad pairs are never read, and the run trains" {
    bad_source
    # a line that names no item is a mistake, not an exclusion
    printf '# known bad\nlabels/00002.png\nimages/0004.png\n' >ex
    run_split train run --source src --exclude ex
    [ "$status" -eq 1 ]
    [[ $stderr == *"exclude file ex: line 3: 'images/0004.png' is no image or label of the gta5 dataset src"* ]]
    printf 'labels/00002.png\n%s\nimages/00003.png\n' "$PWD/src/images/00004.png" >ex
    train run --source src --exclude ex --iters 6 2>/dev/null
    [ "$(wc -l <run/log.tsv)" -eq 7 ]
    grep -qx "exclude=ex" run/config
    # the target's and the val set's own
    ls "$DATA/target/leftImg8bit/val"/*/* | head -n 1 >vx
    : >none
    train run3 --target-exclude none --val-exclude vx 2>/dev/null
    [ -s run3/eval.tsv ]
}

@test "label values against the class count and the label maps" {
    # the Cityscapes ids of GTA5 map to 19 classes: a 7-class model cannot
    # take them
    run_split train run --classes 7
    [ "$status" -eq 1 ]
    [[ $stderr == *"label map gta5: gives train ids up to 18, but the model has 7 classes"* ]]
    # a map of 5 classes makes a 5-class run work end to end
    printf '7 0\n8 1\n11 2\n21 3\n23 4\n' >five.map
    train run5 --classes 5 --source-map five.map --target-map five.map \
        2>/dev/null
    grep -qx "classes=5" run5/config
    [ "$(tns get -i run5/student.tns meta.arch | grep classes)" = classes=5 ]
    [ -s run5/eval.tsv ]
    # a map whose train ids exceed the class count
    printf '7 0\n8 9\n' >ten.map
    run_split train run --classes 5 --source-map ten.map --target-map five.map
    [ "$status" -eq 1 ]
    [[ $stderr == *"label map ten.map: gives train ids up to 9, but the model has 5 classes"* ]]
    # an id that is no GTA5 id, in the pixels: found by the check
    cp -r "$DATA/source" src
    perl -e 'print chr(200) x (96 * 48)' | npy_raw lab.npy '|u1' 1,48,96
    tns npy-in --name l lab.npy | tns png-out l p%d.png
    mv p0.png src/labels/00003.png
    run_split train run --source src
    [ "$status" -eq 1 ]
    [[ $stderr == *"src/labels/00003.png"*"200"* ]]
}

@test "a gta5 or synthia target: trains on the whole tree, evaluates on --val, or is refused without it" {
    run_split train run --target "$DATA/source" --target-type gta5
    [ "$status" -eq 1 ]
    [[ $stderr == *"--target-type gta5: a gta5 tree has no val split"*"give --val DIR"* ]]
    run_split train run --target "$DATA/source" --target-type gta5 --target-split train
    [[ $stderr == *"--target-split train: a gta5 tree has no split folders"* ]]
    train run --target "$DATA/source" --target-type gta5 --val "$DATA/target" \
        --val-type cityscapes --eval-every 1 2>/dev/null
    [ "$(awk -F'\t' 'NR > 1' run/eval.tsv | wc -l)" -eq 4 ]
    grep -qx "val_split=val" run/config
    # a SYNTHIA tree as the target: RGB/ alone is read
    mkdir -p syn/RGB
    cp "$DATA"/source/images/*.png syn/RGB/
    train runs --target syn --target-type synthia --val "$DATA/target" \
        --val-type cityscapes 2>/dev/null
    [ -s runs/eval.tsv ]
    # and the oracle on it: it needs the target's labels
    run_split train runo --mode oracle --target syn --target-type synthia \
        --val "$DATA/target" --val-type cityscapes
    [ "$status" -eq 1 ]
    [[ $stderr == *"missing label"*"syn/GT/LABELS/"* ]]
}

@test "a synthia or cityscapes source, the oracle on a cityscapes target" {
    # SYNTHIA: RGB/ and 16-bit GT/LABELS/ with the class in channel 0
    mkdir -p syn/RGB syn/GT/LABELS
    cp "$DATA"/source/images/0000[0-3].png syn/RGB/
    perl -e 'print pack("v*", map { $_ % 3 == 0 ? ($_ / 3 % 96 < 48 ? 3 : 8) : 0 } 0 .. 96 * 48 * 3 - 1)' |
        npy_raw l.npy '<u2' 1,48,96,3
    tns npy-in --name l l.npy | tns png-out l p%d.png
    for i in 0 1 2 3; do cp p0.png "syn/GT/LABELS/0000$i.png"; done
    train run --source syn --source-type synthia 2>/dev/null
    [ -s run/eval.tsv ]
    grep -qx "source_map=synthia" run/config
    # a cityscapes source: its split (default train)
    train runc --source "$DATA/target" --source-type cityscapes 2>/dev/null
    grep -qx "source_split=train" runc/config
    run_split train runx --source "$DATA/target" --source-type cityscapes \
        --source-split nosuch
    [ "$status" -eq 1 ]
    [[ $stderr == *"leftImg8bit/nosuch"* ]]
    train runo --mode oracle 2>/dev/null
    [ -s runo/eval.tsv ]
}

@test "settings against each other, refused with a reason" {
    refused_before_training "--mode naive --mix class|--mix class: --mode naive mixes the target with itself" \
        "--val-split train|--val-split train: the val set is the training split itself" \
        "--source-split a|--source-split a: a gta5 tree has no split folders" \
        "--val-type gta5|--val-type gta5: needs --val DIR" \
        "--tau 2|--tau 2: expected a value in [0, 1]" \
        "--threads 65|--threads: expected an integer in [1, 64], got '65'" \
        "--source-map nosuch|--source-map: expected cityscapes, gta5, synthia or a readable map file, got 'nosuch'" \
        "--exclude nosuch|--exclude: nosuch: no such readable file" \
        "--target-type foo|--target-type: expected cityscapes, gta5 or synthia, got 'foo'" \
        "--crop 0x4|--crop: expected WIDTHxHEIGHT, got '0x4'" \
        "--warmup-ratio 0.5|unknown option '--warmup-ratio'"
    # an unknown option is named before it can take the RUN_DIR as its
    # value
    run_split train run --bogus
    [ "$status" -eq 1 ]
    [ "$stderr" = "dacs-train: unknown option '--bogus' (see --help)" ]
    # a scale without a crop
    run_split "$TRAIN" --source "$DATA/source" --target "$DATA/target" \
        --scale 0.5,1.5 run
    [ "$status" -eq 1 ]
    [[ $stderr == *"--scale: needs --crop (rescaled images differ in size)"* ]]
}

@test "--init: the checkpoint's width and classes are the run's; a conflicting one is refused" {
    seg-init --width 4 --classes 19 --seed 9 -o init.tns
    run_split train run --init init.tns --width 8
    [ "$status" -eq 1 ]
    [[ $stderr == *"--width 8: the --init checkpoint has width=4"* ]]
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" --iters 1 \
        --crop 48x32 --init init.tns --threads 1 run 2>/dev/null
    grep -qx "width=4" run/config
    echo junk >junk.tns
    run_split train run2 --init junk.tns
    [[ $stderr == *"--init junk.tns: not a dacs checkpoint"* ]]
    # a checkpoint cut short is said to be cut short
    head -c 3000 init.tns >cut.tns
    run_split train run2 --init cut.tns
    [ "$status" -eq 1 ]
    [[ $stderr == *"--init cut.tns: not a dacs checkpoint: frame "*"payload truncated"* ]]
    [ ! -e run2 ]
}

@test "--init: a DeepLabv2 checkpoint sets the run's network; another --net or --depth is refused" {
    seg-init --net deeplabv2 --depth 18 --style pytorch --width 2 -o v2.tns
    run_split train run --init v2.tns --net deeplab-mini --width 3
    [ "$status" -eq 1 ]
    [[ $stderr == *"--net deeplab-mini: the --init checkpoint has net=deeplabv2"* ]]
    [[ $stderr == *"--width 3: the --init checkpoint has width=2"* ]]
    run_split train run --init v2.tns --net deeplabv2 --depth 50
    [ "$status" -eq 1 ]
    [[ $stderr == *"--depth 50: the --init checkpoint has depth=18"* ]]
    [ ! -e run ]
    "$TRAIN" --source "$DATA/source" --target "$DATA/target" --iters 1 \
        --crop 48x32 --init v2.tns --threads 1 run 2>/dev/null
    grep -qx "net=deeplabv2" run/config
    grep -qx "depth=18" run/config
    grep -qx "style=pytorch" run/config
}

@test "the run directory: a file is refused, another driver in it is refused" {
    echo x >afile
    run_split train afile
    [ "$status" -eq 1 ]
    [[ $stderr == *"afile: exists and is not a directory"* ]]
    mkdir busy
    exec 8>>busy/lock
    flock -n 8
    run_split train busy
    [ "$status" -eq 1 ]
    [[ $stderr == *"another dacs-train is running in this directory"* ]]
    exec 8>&-
}
