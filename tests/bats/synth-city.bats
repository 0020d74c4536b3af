#!/usr/bin/env bats
# synth-city: the built-in two-domain benchmark as dataset trees.

load helpers

# run_split stops at the tool's non-zero exit under bats' errexit; calling
# it on the left of || keeps errexit off inside it.
fails() { run_split "$@" || true; }

# Every Cityscapes label id a scene may hold.
SYNTH_IDS="1 7 8 11 12 13 17 19 20 21 22 23 24 26 27 28"

small() { # small OUT [options]: a tiny benchmark
    local out=$1
    shift
    synth-city -q --size 96x48 --source 5 --train 4 --val 3 "$@" "$out"
}

# distinct byte values of the frame NAME of a stream on stdin
values() {
    tns get "$1" | od -An -tu1 -v | tr -s ' ' '\n' | sed '/^$/d' | sort -un |
        tr '\n' ' '
}

@test "synth-city --help shows the defaults" {
    run synth-city --help
    assert_success
    assert_output --partial "usage: synth-city"
    assert_output --partial "default 512x256"
    assert_output --partial "default 400"
    assert_output --partial "default 300"
    assert_output --partial "default 100"
}

@test "synth-city writes a GTA5-like source and a Cityscapes-like target" {
    small out
    [ -f out/source/images/00000.png ]
    [ -f out/source/labels/00004.png ]
    [ ! -e out/source/images/00005.png ]
    [ -f out/target/leftImg8bit/train/arden/arden_000000_000000_leftImg8bit.png ]
    [ -f out/target/leftImg8bit/train/brill/brill_000000_000001_leftImg8bit.png ]
    [ -f out/target/gtFine/train/brill/brill_000000_000001_gtFine_labelIds.png ]
    [ -f out/target/gtFine/val/corvo/corvo_000000_000001_gtFine_labelIds.png ]
    [ -f out/target/gtFine/val/dunmore/dunmore_000000_000000_gtFine_labelIds.png ]
    [ "$(find out/target/leftImg8bit/val -name '*.png' | wc -l)" -eq 3 ]
    grep -q '^seed=0$' out/synth-city.txt
    # the source labels are 8-bit palette PNGs whose indices are the ids
    [ "$(od -An -tu1 -j25 -N1 out/source/labels/00000.png | tr -d ' ')" = 3 ]
    if ls -d out.partial.* 2>/dev/null; then fail "a partial output directory is left"; fi
}

@test "synth-city: same seed, same bytes; another seed, other bytes" {
    small a --seed 7
    small b --seed 7
    small c --seed 8
    diff -r a b
    if diff -rq a/source/images c/source/images >/dev/null; then fail "seed 8 gives the images of seed 7"; fi
    # image k does not depend on how many are made
    synth-city -q --size 96x48 --source 2 --train 0 --val 0 --seed 7 d
    cmp a/source/images/00001.png d/source/images/00001.png
}

@test "synth-city: label ids only from the used set, train ids only mapped" {
    small out
    ids=$(tns png-in --as label out/source/labels/*.png \
        out/target/gtFine/*/*/*.png 2>/dev/null | values image) || true
    [ -n "$ids" ]
    for v in $ids; do
        [[ " $SYNTH_IDS " == *" $v "* ]] || fail "label id $v not in $SYNTH_IDS"
    done
    run_split seg-batch --dataset gta5 --root out/source --sequential -q
    [ "$status" -eq 0 ]
    seg-batch --dataset gta5 --root out/source --sequential -q --batch 5 >s.tns
    for v in $(values src.label <s.tns); do
        [[ " 0 1 2 3 4 5 6 7 8 9 10 11 13 14 15 255 " == *" $v "* ]] ||
            fail "train id $v"
    done
}

@test "synth-city: seg-batch reads both trees (gta5 and cityscapes)" {
    small out
    run seg-batch --dataset gta5 --root out/source --batch 5 --crop 64x32
    assert_success
    run bash -c 'seg-batch --dataset gta5 --root out/source --batch 5 --crop 64x32 | tns info'
    assert_output --partial "src.image	u8	5x32x64x3"
    assert_output --partial "src.label	u8	5x32x64"
    run bash -c 'seg-batch --dataset cityscapes --root out/target --split val --sequential -q --batch 3 --prefix tgt | tns info'
    assert_success
    assert_output --partial "tgt.image	u8	3x48x96x3"
    assert_output --partial "tgt.label	u8	3x48x96"
    # the target's hood is ego vehicle, id 1: ignored
    seg-batch --dataset cityscapes --root out/target --split train --sequential -q --batch 4 --prefix tgt >t.tns
    [[ " $(values tgt.label <t.tns) " == *" 255 "* ]]
}

@test "synth-city --source-layout synthia writes 16-bit SYNTHIA labels" {
    small out --source-layout synthia
    [ -f out/source/RGB/0000000.png ]
    [ -f out/source/GT/LABELS/0000004.png ]
    # PNG header: bit depth 16, colour type 2 (RGB)
    [ "$(od -An -tu1 -j24 -N2 out/source/GT/LABELS/0000000.png | tr -s ' ')" = " 16 2" ]
    run bash -c 'seg-batch --dataset synthia --root out/source --batch 2 | tns info'
    assert_success
    assert_output --partial "src.label	u8	2x48x96"
    # the same scene through both layouts: the same train ids
    small g
    seg-batch --dataset gta5 --root g/source --sequential -q --batch 5 | tns select src.label >a.tns
    seg-batch --dataset synthia --root out/source --sequential -q --batch 5 | tns select src.label >b.tns
    cmp a.tns b.tns
}

@test "synth-city --sheet writes a contact sheet" {
    synth-city -q --size 96x48 --sheet sheet.png
    run bash -c 'tns png-in sheet.png | tns info'
    assert_success
    # 4 tiles of 48x24 across, 4 rows, 4 px apart
    assert_output --partial "image	u8	1x116x212x3"
    [ ! -e out ]
}

@test "synth-city --gap none and global change the target" {
    small full
    small none --gap none
    small glob --gap global
    if cmp -s full/target/leftImg8bit/train/arden/arden_000000_000000_leftImg8bit.png \
        none/target/leftImg8bit/train/arden/arden_000000_000000_leftImg8bit.png; then
        fail "--gap none gives the target of the full gap"
    fi
    if cmp -s none/target/leftImg8bit/train/arden/arden_000000_000000_leftImg8bit.png \
        glob/target/leftImg8bit/train/arden/arden_000000_000000_leftImg8bit.png; then
        fail "--gap global gives the target of --gap none"
    fi
    # the global gap keeps the source's layout: same labels as --gap none
    cmp none/target/gtFine/train/arden/arden_000000_000000_gtFine_labelIds.png \
        glob/target/gtFine/train/arden/arden_000000_000000_gtFine_labelIds.png
    cmp full/source/images/00000.png none/source/images/00000.png
}

@test "synth-city refuses an existing OUT" {
    mkdir out
    fails synth-city -q --source 1 --train 0 --val 0 out
    assert_clean_failure synth-city
    [[ $stderr == *"out already exists"* ]]
}

@test "synth-city: bad options fail cleanly" {
    fails synth-city --size 8x8 out
    assert_clean_failure synth-city
    [[ $stderr == *"at least 16"* ]]
    fails synth-city --class-shift 2 out
    assert_clean_failure synth-city
    [[ $stderr == *"--class-shift"* ]]
    fails synth-city --gap huge out
    assert_clean_failure synth-city
    [[ $stderr == *"full, global, none"* ]]
    fails synth-city
    assert_clean_failure synth-city
    [ ! -e out ]
}
