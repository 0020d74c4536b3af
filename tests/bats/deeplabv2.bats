#!/usr/bin/env bats
# DeepLabv2-ResNet: seg-init's options, the full R101, and a reduced net
# through seg-infer and seg-step.

load helpers
load segdata

setup_file() {
    # the DACS R101 without optimizer state (176 MB), shared by the tests
    export R101="$BATS_FILE_TMPDIR/r101.tns"
    PATH="$DACS_BIN:$PATH" seg-init --net deeplabv2 | \
        PATH="$DACS_BIN:$PATH" tns drop 'opt.*' >"$R101"
}

# sum of the element counts of the frames whose names match $1 (awk regex)
count() {
    tns info "$2" | awk -F'\t' -v re="$1" '$2 ~ re {
        k = 1; m = split($4, d, "x"); for (i = 1; i <= m; i++) k *= d[i]; s += k }
        END { print s + 0 }'
}

@test "deeplabv2: seg-init's default is the DACS R101, 43,901,068 parameters" {
    run tns get -i "$R101" meta.arch
    assert_output "$(printf 'net=deeplabv2\nversion=2\ndepth=101\nblocks=3,4,23,3\nwidth=64\nstyle=caffe\nheads=2\nbn=frozen\nclasses=19\norder=bgr\nmean=0.40787053,0.45752457,0.4810938\nstd=0.003921569,0.003921569,0.003921569')"
    run tns info "$R101"
    # meta.arch, meta.iter and 528 tensors
    [ "$(grep -c . <<<"$output")" -eq 530 ]
    assert_output --partial $'\tconv1.weight\tf32\t64x3x7x7'
    assert_output --partial $'\tbn1.running_var\tf32\t64\tmin 1\tmax 1'
    assert_output --partial $'\tlayer1.0.downsample.0.weight\tf32\t256x64x1x1'
    assert_output --partial $'\tlayer3.22.conv2.weight\tf32\t256x256x3x3'
    assert_output --partial $'\tlayer4.2.conv3.weight\tf32\t2048x512x1x1'
    assert_output --partial $'\tlayer5.conv2d_list.3.weight\tf32\t19x2048x3x3'
    assert_output --partial $'\tlayer5.conv2d_list.3.bias\tf32\t19\tmin 0\tmax 0'
    refute_output --partial "num_batches_tracked"
    # every parameter, frozen or not, all four head branches
    [ "$(( $(count '^(conv|bn|layer)' "$R101") - $(count 'running' "$R101") ))" -eq 43901068 ]
}

@test "deeplabv2: seg-infer runs the R101 on one small image, with either BN" {
    mkbatch one.tns 1 33 47 19 3 src
    tns rename src.image=tgt.image <one.tns >tgt.tns
    seg-infer -m "$R101" -i tgt.tns -o out.tns
    run tns info out.tns
    assert_output --partial $'tgt.prob\tf32\t1x19x33x47'
    assert_output --partial $'mean 0.0526316'
    seg-infer -m "$R101" --bn batch --argmax -i tgt.tns -o out2.tns
    run tns info out2.tns
    assert_output --partial $'tgt.pred\tu8\t1x33x47'
    assert_output --partial $'tgt.conf\tf32\t1x33x47'
}

@test "deeplabv2: a reduced net from every option, and its optimizer frames" {
    seg-init --net deeplabv2 --depth 50 --blocks 1,1,1,1 --width 4 \
        --style pytorch --heads 4 --bn train --order rgb --classes 5 \
        --seed 3 -o m.tns
    run tns get -i m.tns meta.arch
    assert_output "$(printf 'net=deeplabv2\nversion=2\ndepth=50\nblocks=1,1,1,1\nwidth=4\nstyle=pytorch\nheads=4\nbn=train\nclasses=5\norder=rgb\nmean=0.485,0.456,0.406\nstd=0.229,0.224,0.225')"
    run tns info m.tns
    assert_output --partial $'\tlayer4.0.conv3.weight\tf32\t128x32x1x1'
    assert_output --partial $'\tlayer5.conv2d_list.0.weight\tf32\t5x128x3x3'
    # BN trained, four heads: every parameter has its momentum buffer
    assert_output --partial $'\topt.bn1.weight\tf32\t4'
    assert_output --partial $'\topt.layer5.conv2d_list.3.bias\tf32\t5'
    refute_output --partial "opt.bn1.running_mean"
    # normal(0, 0.01) weights: well inside +-0.1
    line=$(grep -P '\tlayer3.0.conv2.weight\t' <<<"$output")
    min=$(awk -F'\t' '{ sub("min ", "", $5); print $5 }' <<<"$line")
    max=$(awk -F'\t' '{ sub("max ", "", $6); print $6 }' <<<"$line")
    awk -v a="$min" -v b="$max" 'BEGIN { exit !(a > -0.1 && b < 0.1 && a < -0.005 && b > 0.005) }'
    # the DACS defaults: frozen BN and two heads have no momentum buffers
    seg-init --net deeplabv2 --depth 18 --blocks 1,1,1,1 --width 4 -o f.tns
    run tns info f.tns
    refute_output --partial "opt.bn1.weight"
    refute_output --partial "opt.layer1.0.bn2.bias"
    refute_output --partial "opt.layer5.conv2d_list.2."
    assert_output --partial $'\topt.layer5.conv2d_list.1.weight'
    assert_output --partial $'\topt.layer1.0.conv2.weight\tf32\t4x4x3x3'
    # depth 18 has basic blocks: no conv3, no projection in layer1
    refute_output --partial "layer1.0.conv3"
    refute_output --partial "layer1.0.downsample"
    assert_output --partial $'\tlayer2.0.downsample.0.weight\tf32\t8x4x1x1'
    # the same seed gives the same bytes
    seg-init --net deeplabv2 --depth 18 --blocks 1,1,1,1 --width 4 -o g.tns
    cmp f.tns g.tns
}

@test "deeplabv2: seg-step trains it; frozen BN and the unused heads stay" {
    seg-init --net deeplabv2 --depth 50 --blocks 1,1,2,1 --width 4 \
        --classes 5 -o m.tns
    mkbatch b.tns 2 40 56 5 1 src mix
    seg-step -m m.tns -o s.tns --iters 10 --lr 0.01 -i b.tns 2>err
    grep -q "iter 0 loss" err
    [ "$(tns get -i s.tns meta.iter | od -An -t d4 | tr -d ' ')" -eq 1 ]
    for f in bn1.weight layer3.1.bn2.bias layer1.0.downsample.1.weight \
        layer5.conv2d_list.2.weight layer5.conv2d_list.3.bias; do
        cmp <(tns get -i m.tns "$f") <(tns get -i s.tns "$f")
    done
    for f in conv1.weight layer3.1.conv2.weight bn1.running_mean \
        layer5.conv2d_list.1.weight opt.layer5.conv2d_list.0.bias; do
        if cmp -s <(tns get -i m.tns "$f") <(tns get -i s.tns "$f"); then fail "$f did not change in the step"; fi
    done
    # and the step goes on from its own checkpoint
    seg-step -m s.tns -o s.tns --iters 10 -i b.tns 2>/dev/null
    [ "$(tns get -i s.tns meta.iter | od -An -t d4 | tr -d ' ')" -eq 2 ]
}

@test "deeplabv2: options of one network are refused for the other" {
    for args in "--depth 50" "--style caffe" "--heads 4" "--bn train" \
        "--order bgr" "--blocks 1,1,1,1"; do
        run_split seg-init $args
        assert_clean_failure seg-init
        [[ $stderr == *"is an option of deeplabv2"* ]]
    done
    for args in "--net deeplabv3" "--net deeplabv2 --depth 42" \
        "--net deeplabv2 --blocks 1,2,3" "--net deeplabv2 --blocks 1,0,1,1" \
        "--net deeplabv2 --heads 5" "--net deeplabv2 --style tf" \
        "--net deeplabv2 --bn off" "--net deeplabv2 --order gbr" \
        "--net deeplabv2 --width 0"; do
        run_split seg-init $args
        assert_clean_failure seg-init
    done
    run_split seg-init --net deeplabv2 --depth 42
    [[ $stderr == *"--depth: expected 18, 34, 50, 101 or 152, got '42'"* ]]
    run_split seg-init --net deeplabv2 --style tf
    [[ $stderr == *"--style: expected one of caffe, pytorch, got 'tf'"* ]]
}

@test "deeplabv2: --help describes the networks and every option" {
    run seg-init --help
    assert_success
    for o in --net --depth --blocks --width --style --heads --bn --order \
        --classes --seed --mean --std --from; do
        assert_output --partial -- "$o"
    done
    assert_output --partial "deeplabv2"
    assert_output --partial "default 101"
    assert_output --partial "default caffe"
    assert_output --partial "default 2"
    assert_output --partial "default frozen"
    assert_output --partial "default bgr"
}

@test "deeplabv2: bad checkpoints fail cleanly, before allocating" {
    seg-init --net deeplabv2 --depth 50 --blocks 1,1,1,1 --width 4 \
        --classes 5 -o m.tns
    mkbatch one.tns 1 24 32 5 3 src
    tns rename src.image=tgt.image <one.tns >tgt.tns
    # seg-infer on m.tns with its meta.arch edited by the sed script $1
    infer_with_arch() {
        tns get -i m.tns meta.arch | sed "$1" >arch.txt
        frame_text arch.tns meta.arch "$(cat arch.txt)"
        tns cat --replace m.tns arch.tns >bad.tns
        run_split seg-infer -m bad.tns -i tgt.tns
        assert_clean_failure seg-infer
    }
    infer_with_arch 's/^depth=50$/depth=42/'
    [[ $stderr == *"bad value '42' for 'depth'"* ]]
    infer_with_arch 's/^style=caffe$/style=keras/'
    [[ $stderr == *"bad value 'keras' for 'style'"* ]]
    # tensors of another architecture: the record says 64 blocks in
    # layer3, the file holds one
    infer_with_arch 's/^blocks=.*/blocks=1,1,64,1/'
    [[ $stderr == *"no frame 'layer3.1.conv1.weight' (expected for deeplabv2 depth=50 blocks=1,1,64,1"* ]]
    # a tensor of the wrong shape
    frame_f32 w.tns layer1.0.conv1.weight 0 4
    tns cat --replace m.tns w.tns >bad.tns
    run_split seg-infer -m bad.tns -i tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"'layer1.0.conv1.weight' is f32 4, expected f32 4x4x1x1"* ]]
    # a frame the network does not have
    frame_f32 x.tns layer6.conv.weight 0 3
    tns cat m.tns x.tns >bad.tns
    run_split seg-infer -m bad.tns -i tgt.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"'layer6.conv.weight'"*"another architecture"* ]]
}

@test "deeplabv2: training on too few values for batch statistics fails cleanly" {
    seg-init --net deeplabv2 --depth 18 --blocks 1,1,1,1 --width 4 \
        --classes 5 -o m.tns
    # 4x4: 2x2 after the stem and the pool, 1x1 in layer2
    mkbatch b.tns 1 4 4 5 1 src
    cp m.tns keep.tns
    run_split seg-step -m m.tns -o m.tns --iters 10 -i b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"more than one value per channel"*"1 image(s) of 4x4 give 1"* ]]
    cmp m.tns keep.tns
}

@test "deeplabv2: dacs-train starts and resumes a run of it" {
    synth-city --quiet --size 96x48 --source 4 --train 4 --val 2 --seed 3 data
    train=$DACS_TOP/pipelines/dacs-train
    "$train" --source data/source --target data/target --iters 2 \
        --crop 48x32 --net deeplabv2 --depth 18 --style pytorch --width 2 \
        --classes 19 --lr 0.005 --threads 1 run 2>err
    run tns get -i run/student.tns meta.arch
    assert_output --partial "depth=18"
    assert_output --partial "style=pytorch"
    assert_output --partial "width=2"
    [ "$(tns get -i run/teacher.tns meta.iter | od -An -t d4 | tr -d ' ')" -eq 2 ]
    grep -q '^net=deeplabv2$' run/config
    # the same settings resume; another network is refused
    "$train" --source data/source --target data/target --iters 3 \
        --crop 48x32 --net deeplabv2 --depth 18 --style pytorch --width 2 \
        --lr 0.005 --threads 1 run 2>err && false
    grep -q "iters=2 but this command has iters=3" err
    run_split "$train" --source data/source --target data/target \
        --depth 50 run2
    [ "$status" -ne 0 ]
    [[ $stderr == *"--depth and --style are options of --net deeplabv2"* ]]
    run_split "$train" --source data/source --target data/target \
        --net deeplabv2 --depth 42 run2
    [ "$status" -ne 0 ]
    [[ $stderr == *"--depth: expected 18, 34, 50, 101 or 152, got '42'"* ]]
}

@test "deeplabv2: seg-export and seg-import carry it through PyTorch's format" {
    seg-init --net deeplabv2 --depth 50 --blocks 1,2,1,1 --width 2 \
        --classes 3 --seed 4 -o s.tns
    seg-init --net deeplabv2 --depth 50 --blocks 1,2,1,1 --width 2 \
        --classes 3 --seed 5 | tns drop 'opt.*' >t.tns
    seg-export s.tns -o plain.pth
    seg-export s.tns --teacher t.tns -o dacs.pth
    # the names are the state_dict's own: the dacs map, no prefix
    run seg-import --list plain.pth
    assert_line --partial $'layer2.1.conv2.weight\tf32\t4x4x3x3'
    assert_line --partial $'layer5.conv2d_list.3.bias\tf32\t3'
    seg-import plain.pth -o back.tns 2>err
    grep -q "deeplabv2" err
    # every tensor comes back; the record is recognised from the shapes
    for f in conv1.weight layer2.1.bn2.running_var layer4.0.downsample.0.weight \
        layer5.conv2d_list.2.weight meta.arch; do
        cmp <(tns get -i s.tns "$f") <(tns get -i back.tns "$f")
    done
    # a DACS training checkpoint: the student and its EMA teacher
    seg-import dacs.pth -o st.tns --teacher-out te.tns 2>/dev/null
    cmp <(tns get -i st.tns layer3.0.conv2.weight) <(tns get -i s.tns layer3.0.conv2.weight)
    cmp <(tns get -i te.tns layer3.0.conv2.weight) <(tns get -i t.tns layer3.0.conv2.weight)
    # what the tensors cannot say comes from seg-init's options; an order
    # brings its mean and std
    seg-import plain.pth --style pytorch --order rgb -o rgb.tns 2>/dev/null
    run tns get -i rgb.tns meta.arch
    assert_output --partial "style=pytorch"
    assert_output --partial "order=rgb"
    assert_output --partial "mean=0.485,0.456,0.406"
    assert_output --partial "std=0.229,0.224,0.225"
    mkbatch one.tns 1 24 32 3 2 src
    tns rename src.image=tgt.image <one.tns >tgt.tns
    seg-infer -m rgb.tns -i tgt.tns -o out.tns
    run tns info out.tns
    assert_output --partial $'tgt.prob\tf32\t1x3x24x32'
}
