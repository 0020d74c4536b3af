#!/usr/bin/env bats
# seg-init: a new checkpoint.

load helpers
load segdata

@test "seg-init: default checkpoint has the documented frames" {
    seg-init -o m.tns
    run tns info m.tns
    assert_success
    # meta.arch, meta.iter, 50 body + 8 head tensors, 38 opt.* buffers
    [ "$(grep -c . <<<"$output")" -eq 98 ]
    assert_line --index 0 --partial $'meta.arch\tu8'
    assert_line --index 1 --regexp $'meta.iter\ti32\tscalar\tmin 0\tmax 0'
    assert_output --partial $'stem.0.conv.weight\tf32\t32x3x3x3'
    assert_output --partial $'s3.res1.bn2.running_var\tf32\t128\tmin 1\tmax 1'
    assert_output --partial $'head.3.weight\tf32\t19x128x3x3'
    assert_output --partial $'head.3.bias\tf32\t19\tmin 0\tmax 0'
    assert_output --partial $'opt.head.3.weight\tf32\t19x128x3x3\tmin 0\tmax 0'
    refute_output --partial "opt.stem.0.bn.running_mean"
    run tns get meta.arch <m.tns
    assert_output "$(printf 'net=deeplab-mini\nversion=1\nwidth=32\nclasses=19\nmean=0.485,0.456,0.406\nstd=0.229,0.224,0.225')"
}

@test "seg-init: 0.86 M parameters at width 32" {
    seg-init -o m.tns
    # sum the element counts of the trainable frames (not opt.*, meta.*
    # or running statistics)
    n=$(tns info m.tns | awk -F'\t' '$2 !~ /^(opt|meta)\./ && $2 !~ /running/ {
        k = 1; m = split($4, d, "x"); for (i = 1; i <= m; i++) k *= d[i]; s += k }
        END { print s }')
    [ "$n" -eq 855212 ]
}

@test "seg-init: width, classes, mean and std options" {
    seg-init --width 8 --classes 5 --mean 0.5,0.5,0.5 --std 0.25,0.5,1 >m.tns
    run tns info m.tns
    assert_output --partial $'s3.res0.conv1.weight\tf32\t32x32x3x3'
    assert_output --partial $'head.0.weight\tf32\t5x32x3x3'
    run tns get meta.arch <m.tns
    assert_output --partial "width=8"
    assert_output --partial "classes=5"
    assert_output --partial "mean=0.5,0.5,0.5"
    assert_output --partial "std=0.25,0.5,1"
}

@test "seg-init: same seed same bytes, other seed other weights" {
    seg-init --seed 3 -o a.tns
    seg-init --seed 3 >b.tns
    cmp a.tns b.tns
    seg-init --seed 4 -o c.tns
    if cmp -s a.tns c.tns; then fail "seed 4 gives the weights of seed 3"; fi
}

@test "seg-init: He-uniform weights within their bound" {
    seg-init -o m.tns
    # stem.0: fan_in 27, bound sqrt(6/27) = 0.4714
    run tns info m.tns
    line=$(grep -P '\tstem.0.conv.weight\t' <<<"$output")
    min=$(awk -F'\t' '{ sub("min ", "", $5); print $5 }' <<<"$line")
    max=$(awk -F'\t' '{ sub("max ", "", $6); print $6 }' <<<"$line")
    awk -v a="$min" -v b="$max" 'BEGIN { exit !(a >= -0.4715 && a < -0.4 && b <= 0.4715 && b > 0.4) }'
}

@test "seg-init: --help lists every option with its default" {
    run seg-init --help
    assert_success
    for o in --output --width --classes --seed --mean --std; do
        assert_output --partial -- "$o"
    done
    assert_output --partial "default 32"
    assert_output --partial "default 19"
}

@test "seg-init: bad options fail cleanly" {
    for args in "--width 0" "--width 513" "--classes 256" "--classes x" \
        "--mean 1,2" "--mean 1,2,3,4" "--std 0,1,1" "--std 1,-1,1" \
        "--seed -1" "--bogus" "extra"; do
        run_split seg-init $args
        assert_clean_failure seg-init
    done
    run_split seg-init --width 0
    [[ $stderr == *"--width"*"[1, 512]"* ]]
}

@test "seg-init: -o into a missing directory fails cleanly" {
    run_split seg-init -o no/such/dir/m.tns
    assert_clean_failure seg-init
    [[ $stderr == *"no/such/dir"* ]]
}

@test "seg-init --from: the weights of a checkpoint, iteration 0, no momentum" {
    seg-init --width 2 --seed 3 -o a.tns
    mkbatch b.tns 2 16 24 19 1 src
    seg-step -m a.tns -o trained.tns --iters 10 -i b.tns 2>/dev/null
    seg-init --from trained.tns -o fresh.tns
    [ "$(tns get -i fresh.tns meta.iter | od -An -t d4 | tr -d ' ')" -eq 0 ]
    cmp <(tns get -i trained.tns stem.0.conv.weight) <(tns get -i fresh.tns stem.0.conv.weight)
    cmp <(tns get -i trained.tns stem.0.bn.running_var) <(tns get -i fresh.tns stem.0.bn.running_var)
    if cmp -s <(tns get -i trained.tns opt.stem.0.conv.weight) <(tns get -i fresh.tns opt.stem.0.conv.weight); then fail "the momentum was kept, not zeroed"; fi
    tns info fresh.tns | awk -F'\t' '$2 ~ /^opt\./ && ($5 != "min 0" || $6 != "max 0") { bad = 1 } END { exit bad }'
    run_split seg-init --from trained.tns --width 4
    assert_clean_failure seg-init
    [[ $stderr == *"--from"*"excludes"* ]]
    run_split seg-init --from missing.tns
    assert_clean_failure seg-init
}
