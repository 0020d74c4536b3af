#!/usr/bin/env bats
# seg-export: dacs checkpoints to PyTorch state_dicts, safetensors and .npz.
# (That torch.load and load_state_dict(strict=True) accept the files is
# checked by make check-torch; here the files are read back by seg-import.)

load helpers

setup_file() {
    export M="$BATS_FILE_TMPDIR/m.tns"
    PATH="$DACS_BIN:$PATH" seg-init --width 2 --classes 4 --seed 3 -o "$M"
}

# refuse PATTERN CMD...: see assert_refused (helpers.bash)
refuse() { assert_refused seg-export out.pth "$@"; }

@test "seg-export: --help shows the formats" {
    run seg-export --help
    assert_success
    assert_output --partial "usage: seg-export [OPTIONS] CKPT -o FILE"
    assert_output --partial "torch (zip format, as torch.save), safetensors"
}

@test "seg-export: a state_dict of dacs's names with num_batches_tracked" {
    run_split seg-export "$M" -o m.pth
    [ "$status" -eq 0 ]
    [ "$stdout_bytes" -eq 0 ]
    [ "$stderr" = "seg-export: m.pth: PyTorch zip, deeplab-mini width=2 classes=4: 68 tensors, 10 of them num_batches_tracked" ]
    run_split seg-export -q "$M" -o q.pth
    [ "$status" -eq 0 ]
    [ "$stderr_lines" -eq 0 ]
    cmp m.pth q.pth
    run seg-import --list m.pth
    assert_line --index 0 "# m.pth: PyTorch zip, 68 entries"
    assert_line --index 1 $'stem.0.conv.weight\tf32\t2x3x3x3'
    assert_line --index 5 $'stem.0.bn.running_var\tf32\t2'
    assert_line --index 6 $'stem.0.bn.num_batches_tracked\ti64\tscalar'
    assert_line --index 68 $'head.3.bias\tf32\t4'
    refute_output --partial "opt."
    refute_output --partial "meta."
}

@test "seg-export: the format follows the extension, or --format" {
    seg-export "$M" -o m.safetensors
    seg-export "$M" -o m.npz
    seg-export "$M" --format npz -o m.weights
    run seg-import --list m.safetensors
    assert_line --index 0 "# m.safetensors: safetensors, 69 entries"
    assert_line $'__metadata__.format\tstr\tpt'
    run seg-import --list m.npz
    assert_line --index 0 "# m.npz: NumPy .npz, 68 entries"
    cmp m.npz m.weights
    # a zip of members NAME.npy, as numpy.savez writes
    grep -aq 'stem.0.conv.weight.npy' m.npz
}

@test "seg-export: the same checkpoint gives the same bytes" {
    seg-export "$M" -o a.pth
    seg-export "$M" -o b.pth
    cmp a.pth b.pth
    seg-export "$M" -o a.safetensors
    seg-export "$M" -o b.safetensors
    cmp a.safetensors b.safetensors
}

@test "seg-export: --prefix puts a prefix before every key" {
    seg-export --prefix module. "$M" -o m.pth
    run seg-import --list m.pth
    assert_line --index 1 $'module.stem.0.conv.weight\tf32\t2x3x3x3'
    refuse "--prefix: 'a b' holds a blank" seg-export --prefix 'a b' "$M" -o out.pth
}

@test "seg-export: --teacher writes a DACS training checkpoint" {
    seg-import -q --iter 12 "$(seg-export "$M" -o s.pth && echo s.pth)" -o s.tns
    seg-init --width 2 --classes 4 --seed 4 -o t.tns
    seg-export s.tns --teacher t.tns -o d.pth
    run seg-import --list d.pth
    assert_line --index 1 $'iteration\tint\t11'
    assert_line --index 2 $'model.stem.0.conv.weight\tf32\t2x3x3x3'
    assert_line $'ema_model.head.3.bias\tf32\t4'
    seg-export s.tns --teacher t.tns -o d.npz
    run seg-import --list d.npz
    assert_line --index 1 $'iteration\ti64\tscalar'
}

@test "seg-export: refusals" {
    seg-init --width 4 --classes 4 -o wide.tns
    refuse "the teacher's architecture differs from the student's" \
        seg-export "$M" --teacher wide.tns -o out.pth
    refuse "cannot tell the format from the extension" \
        seg-export "$M" -o out.weights
    refuse "no output file" seg-export "$M"
    refuse "a zip or safetensors file is not written to a pipe" \
        seg-export "$M" -o -
    refuse "no checkpoint" seg-export -o out.pth
    refuse "--format" seg-export --format onnx "$M" -o out.pth
    echo junk >junk.tns
    refuse "junk.tns" seg-export junk.tns -o out.pth
    refuse "missing.tns" seg-export "$M" --teacher missing.tns -o out.pth
}
