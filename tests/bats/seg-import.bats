#!/usr/bin/env bats
# seg-import: PyTorch, safetensors and NumPy weights files to dacs
# checkpoints.  The fixtures (tests/fixtures/import) are deeplab-mini of
# width 1 and 3 classes, made by tests/ref/make_import_fixtures.py.

load helpers

FIX="$DACS_TOP/tests/fixtures/import"

# refuse PATTERN CMD...: see assert_refused (helpers.bash)
refuse() { assert_refused seg-import out.tns "$@"; }

@test "seg-import: --help" {
    run seg-import --help
    assert_success
    assert_output --partial "usage: seg-import [OPTIONS] FILE [-o CKPT]"
    assert_output --partial "--teacher-out CKPT"
}

@test "seg-import: --list prints every entry of a DACS checkpoint" {
    run_split seg-import --list "$FIX/mini-dacs.pth"
    [ "$status" -eq 0 ]
    [ "$stderr_lines" -eq 0 ]
    [[ $stdout == "# $FIX/mini-dacs.pth: PyTorch zip, "*" entries"* ]]
    grep -qx $'iteration\tint\t41' <<<"$stdout"
    grep -qx $'model.stem.0.conv.weight\tf32\t1x3x3x3' <<<"$stdout"
    grep -qx $'ema_model.head.3.bias\tf32\t3' <<<"$stdout"
    grep -qx $'model.s3.res1.bn2.num_batches_tracked\ti64\tscalar' <<<"$stdout"
    grep -qx $'config.training.unlabeled.pixel_weight\tstr\tthreshold_uniform' <<<"$stdout"
    grep -qx $'config.training.learning_rate\tfloat\t0.00025' <<<"$stdout"
    grep -qx $'config.training.unlabeled.blur\tbool\tTrue' <<<"$stdout"
    grep -q $'^optimizer.state.0.momentum_buffer\tf32\t1x3x3x3$' <<<"$stdout"
    grep -qx $'optimizer.param_groups.0.params.0\tint\t0' <<<"$stdout"
}

@test "seg-import: --list shows the element types of the file" {
    run seg-import --list "$FIX/mini-bf16.pth"
    assert_line $'head.0.weight\tbf16\t3x4x3x3'
    run seg-import --list "$FIX/mini.npz"
    assert_line --index 0 "# $FIX/mini.npz: NumPy .npz, 68 entries"
    assert_line $'stem.0.bn.num_batches_tracked\ti64\tscalar'
    run seg-import --list "$FIX/mini.safetensors"
    assert_line $'__metadata__.format\tstr\tpt'
}

@test "seg-import: every format and layout of one network gives the same checkpoint" {
    seg-import -q "$FIX/mini-zip.pth" -o ref.tns
    for f in mini-legacy.pth mini.safetensors mini.npz mini-strided.pth \
        mini-module.pth mini-scale-legacy.pth; do
        seg-import -q "$FIX/$f" -o out.tns
        cmp ref.tns out.tns || fail "$f differs"
    done
    # the wrapped dicts carry iteration 41: meta.iter 42 (the steps taken)
    seg-import -q "$FIX/mini-wrapped.pth" --iter 0 -o out.tns
    cmp ref.tns out.tns
    seg-import -q "$FIX/mini-f16.pth" -o out.tns
    if cmp -s ref.tns out.tns; then fail "the f16 file gives the f32 bytes"; fi
}

@test "seg-import: says what it recognised on stderr" {
    run_split seg-import "$FIX/mini-module.pth" -o out.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"PyTorch zip; state_dict 'state_dict.module.' is deeplab-mini width=1 classes=3 by map dacs: 58 of 58 tensors from the file, 0 left to initialise, 0 dropped, 10 batch counters ignored"* ]]
    run tns get meta.arch <out.tns
    assert_output --partial "width=1"
    assert_output --partial "classes=3"
}

@test "seg-import: a DACS checkpoint gives the student, the teacher and the iteration" {
    run_split seg-import "$FIX/mini-dacs.pth" -o s.tns --teacher-out t.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"state_dict 'model.' is deeplab-mini"* ]]
    [[ $stderr == *"teacher 'ema_model.' is deeplab-mini"* ]]
    [[ $stderr == *"iteration 41 (the last step taken), so meta.iter 42"* ]]
    run tns info s.tns
    assert_line --index 1 --partial $'meta.iter\ti32\tscalar\tmin 42'
    assert_output --partial "opt.head.0.weight"
    run tns info t.tns
    assert_line --index 1 --partial $'meta.iter\ti32\tscalar\tmin 42'
    refute_output --partial "opt."
    # the teacher is the EMA model, not the student
    tns select 'head.*' <s.tns >a
    tns select 'head.*' <t.tns >b
    if cmp -s a b; then fail "the teacher's head is the student's"; fi
    seg-import -q "$FIX/mini-dacs.pth" --key ema_model -o e.tns
    tns select 'head.*' <e.tns >c
    cmp b c
    # both run
    seg-infer -m t.tns -i "$FIX/ref.tns" -o out.tns
    run tns info out.tns
    assert_output --partial $'tgt.prob\tf32\t1x3x12x16'
}

@test "seg-import: without --teacher-out, says that a teacher is there" {
    run_split seg-import "$FIX/mini-dacs.pth" -o s.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"also holds a teacher under 'ema_model.' (write it with --teacher-out)"* ]]
}

@test "seg-import: the checkpoint goes to stdout by default, the report to stderr" {
    run_split seg-import "$FIX/mini-zip.pth"
    [ "$status" -eq 0 ]
    seg-import -q "$FIX/mini-zip.pth" -o a.tns
    seg-import -q "$FIX/mini-zip.pth" >b.tns
    cmp a.tns b.tns
}

@test "seg-import: refuses a pickle that would run os.system" {
    refuse "global 'os.system' is refused" \
        seg-import "$FIX/evil-os-system.pth" -o out.tns
}

@test "seg-import: refuses builtins.eval named by STACK_GLOBAL" {
    refuse "global 'builtins.eval' is refused" \
        seg-import "$FIX/evil-eval.pth" -o out.tns
}

@test "seg-import: refuses a legacy file that would run posix.system" {
    refuse "global 'posix.system' is refused" \
        seg-import "$FIX/evil-posix.pth" -o out.tns
}

@test "seg-import: refuses a pickled module (an unknown global)" {
    refuse "global 'torch.nn.modules.linear.Linear' is refused" \
        seg-import "$FIX/module-pickled.pth" -o out.tns
}

@test "seg-import: refuses truncated zip and legacy files" {
    refuse "not a readable zip archive" \
        seg-import "$FIX/truncated-zip.pth" -o out.tns
    refuse "(truncated)" seg-import "$FIX/truncated-legacy.pth" -o out.tns
    head -c 300 "$FIX/mini-legacy.pth" >cut.pth
    refuse "(truncated pickle)" seg-import cut.pth -o out.tns
}

@test "seg-import: refuses a storage shorter than its tensors" {
    refuse "storage mini-zip/data/0 holds 100 bytes, its tensors' id says 27 f32 elements (108 bytes)" \
        seg-import "$FIX/short-storage.pth" -o out.tns
    refuse "tensor 'x' (offset 2) reaches past the end of its storage '0' of 10 elements" \
        seg-import "$FIX/view-past-end.pth" -o out.tns
}

@test "seg-import: refuses a missing, an unexpected and a mis-shaped tensor" {
    refuse "missing tensor 'head.3.bias' (3)" \
        seg-import "$FIX/mini-missing.safetensors" -o out.tns
    refuse "unexpected tensor 'aux.weight' (3): the network has no such tensor" \
        seg-import "$FIX/mini-extra.safetensors" -o out.tns
    # a network of width 2: all but one head weight left to initialise
    refuse "tensor 'head.3.weight' is 3x4x3x3 in the file, the network's is 3x8x3x3" \
        seg-import --width 2 --init 'stem.*' --init 's*' --init 'head.0.*' \
        --init 'head.1.*' --init 'head.2.*' "$FIX/mini-zip.pth" -o out.tns
}

@test "seg-import: other --classes than the file's head leave the head to initialise" {
    run_split seg-import --classes 5 --seed 3 "$FIX/mini-zip.pth" -o out.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"50 of 58 tensors from the file, 8 left to initialise"* ]]
    [[ $stderr == *"'head.3.bias' left to initialise: the file's 'head.3.bias' is 3, the network's 5 (--classes: init head.*)"* ]]
    seg-init --width 1 --classes 5 --seed 3 -o init.tns
    cmp <(tns get -i out.tns head.2.weight) <(tns get -i init.tns head.2.weight)
    if cmp -s <(tns get -i out.tns s3.res0.conv1.weight) <(tns get -i init.tns s3.res0.conv1.weight); then fail "s3.res0.conv1.weight was initialised, not imported"; fi
}

@test "seg-import: several problems are each listed, then one closing line" {
    echo old >out.tns
    run_split seg-import --width 2 --init 'stem.*' --init 's*' \
        "$FIX/mini-extra.safetensors" -o out.tns
    [ "$status" -ne 0 ]
    [ "$stdout_bytes" -eq 0 ]
    # 4 head weights mis-shaped, 1 unexpected, then the summary
    [ "$stderr_lines" -eq 6 ]
    [[ $stderr == *"unexpected tensor 'aux.weight'"* ]]
    [[ $stderr == *"tensor 'head.3.weight' is 3x4x3x3 in the file, the network's is 3x8x3x3"* ]]
    [[ $(tail -n 1 <<<"$stderr") == "seg-import: $FIX/mini-extra.safetensors: 5 tensors under '' not accounted for by map 'dacs' "* ]]
    [ "$(cat out.tns)" = old ]
}

@test "seg-import: --init leaves tensors to initialise with seg-init's values" {
    run_split seg-import --classes 5 --init 'head.*' --seed 3 \
        "$FIX/mini-zip.pth" -o out.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"50 of 58 tensors from the file, 8 left to initialise"* ]]
    [[ $stderr == *"'head.0.weight' left to initialise: the file's 'head.0.weight' is 3x4x3x3, the network's 5x4x3x3 (--init: init head.*)"* ]]
    seg-init --width 1 --classes 5 --seed 3 -o init.tns
    tns select 'head.*' <init.tns >a
    tns select 'head.*' <out.tns >b
    cmp a b
    tns select 's3.*' <out.tns >c
    seg-import -q "$FIX/mini-zip.pth" -o ref.tns
    tns select 's3.*' <ref.tns >d
    cmp c d
}

@test "seg-import: --drop and --rules account for unexpected keys" {
    run_split seg-import --drop 'aux.*' "$FIX/mini-extra.safetensors" -o a.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *"'aux.weight' dropped (--drop: drop aux.*)"* ]]
    printf '# the auxiliary head is not ours\ndrop aux.*\n' >rules.txt
    seg-import -q --rules rules.txt "$FIX/mini-extra.safetensors" -o b.tns
    cmp a.tns b.tns
    printf 'rename aux.* head.3.bias\n' >twice.txt
    refuse "tensor 'aux.weight' (mapped to 'head.3.bias') and 'head.3.bias' both map to 'head.3.bias'" \
        seg-import --rules twice.txt "$FIX/mini-extra.safetensors" -o out.tns
}

@test "seg-import: a bad rules file is refused naming its line" {
    printf 'drop aux.*\nkeep head.*\n' >bad.txt
    refuse "bad.txt:2: unknown rule 'keep'" \
        seg-import --rules bad.txt "$FIX/mini-zip.pth" -o out.tns
    refuse "nope.txt: cannot open" \
        seg-import --rules nope.txt "$FIX/mini-zip.pth" -o out.tns
}

@test "seg-import: --map and --key errors" {
    refuse "--map: unknown map 'caffe'" \
        seg-import --map caffe "$FIX/mini-zip.pth" -o out.tns
    refuse "no state_dict of a network this dacs builds under 'optimizer.'" \
        seg-import --key optimizer "$FIX/mini-dacs.pth" -o out.tns
    seg-import -q --map torchvision "$FIX/mini-zip.pth" -o a.tns
    seg-import -q --key '' "$FIX/mini-zip.pth" -o b.tns
    cmp a.tns b.tns
}

# st FILE HEADER DATABYTES: a safetensors file
st() {
    perl -e 'print pack("Q<", length $ARGV[0]), $ARGV[0], "\0" x $ARGV[1]' \
        "$2" "$3" >"$1"
}

@test "seg-import: a file without a known network, a malformed header" {
    st x.safetensors '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 4
    refuse "no state_dict in the file fits the networks of this dacs: deeplab-mini or deeplabv2 under maps dacs, torchvision, mmseg" \
        seg-import x.safetensors -o out.tns
    run seg-import --list x.safetensors
    assert_line $'a\tf32\t1'
    st y.safetensors '{"a":{} }' 0
    refuse "tensor 'a' lacks a dtype string" seg-import y.safetensors -o out.tns
}

@test "seg-import: --teacher-out needs a teacher in the file, and a file of its own" {
    refuse "no teacher (an EMA state_dict such as 'ema_model') beside the student ''" \
        seg-import "$FIX/mini-zip.pth" -o out.tns --teacher-out t.tns
    [ ! -e t.tns ]
    refuse "--teacher-out must name a file of its own" \
        seg-import "$FIX/mini-dacs.pth" -o out.tns --teacher-out out.tns
}

@test "seg-import: option errors" {
    refuse "expected one input FILE" seg-import -o out.tns
    refuse "expected one input FILE" seg-import a.pth b.pth -o out.tns
    refuse "--list writes no checkpoint" seg-import --list -o out.tns "$FIX/mini-zip.pth"
    refuse "--classes" seg-import --classes 0 "$FIX/mini-zip.pth" -o out.tns
    refuse "--width: expected an integer in [1, 512], got 'x'" \
        seg-import --width x "$FIX/mini-zip.pth" -o out.tns
    refuse "--depth is an option of deeplabv2 (--net deeplabv2)" \
        seg-import --depth 50 "$FIX/mini-zip.pth" -o out.tns
    refuse "--net: expected one of deeplab-mini, deeplabv2, got 'resnet'" \
        seg-import --net resnet "$FIX/mini-zip.pth" -o out.tns
    refuse "no state_dict in the file fits deeplabv2 under maps" \
        seg-import --net deeplabv2 "$FIX/mini-zip.pth" -o out.tns
    refuse "cannot open" seg-import missing.pth -o out.tns
    refuse "not a PyTorch (.pth, zip or legacy), safetensors or NumPy .npz file" \
        seg-import "$FIX/ref.tns" -o out.tns
}

@test "seg-import: export then import gives the same bytes, in every format" {
    seg-init --width 2 --classes 4 --seed 9 -o m.tns
    for f in m.pth m.safetensors m.npz; do
        seg-export m.tns -o "$f"
        seg-import -q "$f" -o back.tns
        cmp m.tns back.tns || fail "$f"
    done
    seg-export --prefix module. m.tns -o p.pth
    seg-import -q p.pth -o back.tns
    cmp m.tns back.tns
}

@test "seg-import: a DACS-style export comes back as student, teacher and meta.iter" {
    seg-init --width 2 --classes 4 --seed 9 -o s0.tns
    seg-import -q --iter 7 "$(seg-export s0.tns -o s0.pth && echo s0.pth)" -o s.tns
    seg-init --width 2 --classes 4 --seed 10 -o t0.tns
    seg-import -q --iter 7 "$(seg-export t0.tns -o t0.pth && echo t0.pth)" -o t1.tns
    tns drop 'opt.*' <t1.tns >t.tns
    for f in d.pth d.safetensors d.npz; do
        seg-export s.tns --teacher t.tns -o "$f"
        seg-import -q "$f" -o s2.tns --teacher-out t2.tns
        cmp s.tns s2.tns || fail "$f: student"
        cmp t.tns t2.tns || fail "$f: teacher"
    done
}

@test "seg-import: DeepLabv2 export then import gives the same bytes, student and teacher" {
    # the DACS network (caffe, BGR): nothing to say but the file
    seg-init --net deeplabv2 --depth 50 --blocks 1,2,1,1 --width 2 \
        --classes 4 --seed 9 -o m.tns
    for f in m.pth m.safetensors m.npz; do
        seg-export -q m.tns -o "$f"
        seg-import -q "$f" -o back.tns
        cmp m.tns back.tns || fail "$f"
    done
    # what names and shapes cannot say (style, order, heads, bn) is given
    # again, as to seg-init
    set -- --net deeplabv2 --depth 18 --blocks 1,1,2,1 --width 2 \
        --style pytorch --order rgb --heads 3 --bn train --classes 5
    seg-init "$@" --seed 3 -o r.tns
    seg-export -q r.tns -o r.pth
    seg-import -q "${@:3}" r.pth -o back.tns
    cmp r.tns back.tns
    seg-import -q r.pth -o caffe.tns
    if cmp -s r.tns caffe.tns; then fail "the defaults (caffe) give the bytes of --style pytorch"; fi
    # a DACS training checkpoint
    seg-init --net deeplabv2 --depth 50 --blocks 1,2,1,1 --width 2 \
        --classes 4 --seed 10 | tns drop 'opt.*' >t.tns
    seg-export -q m.tns --teacher t.tns -o d.pth
    seg-import -q d.pth -o s2.tns --teacher-out t2.tns
    cmp m.tns s2.tns
    cmp t.tns t2.tns
}
