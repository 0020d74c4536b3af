#!/usr/bin/env bats
# seg-step: one step (SGD or AdamW) of the student.

load helpers
load segdata

setup_file() {
    export C8="$BATS_FILE_TMPDIR/m8.tns"
    PATH="$DACS_BIN:$PATH" seg-init --width 4 --classes 7 --seed 5 -o "$C8"
}

@test "seg-step: one step: meta.iter 1, momentum set, one line of losses" {
    mkbatch b.tns 2 16 24 7 1 src mix
    run_split seg-step -m "$C8" -o new.tns <b.tns
    [ "$status" -eq 0 ]
    [ "$stdout_bytes" -eq 0 ]
    [ "$stderr_lines" -eq 1 ]
    [[ $stderr =~ ^seg-step:\ iter\ 0\ loss\ [0-9.]+\ src\ [0-9.]+\ mix\ [0-9.]+\ lr\ 0.01$ ]]
    run tns info new.tns
    assert_line --index 1 --regexp $'meta.iter\ti32\tscalar\tmin 1\tmax 1'
    refute_output --regexp $'opt.head.0.weight\tf32\t7x16x3x3\tmin 0\tmax 0'
    if cmp -s "$C8" new.tns; then fail "the step left the checkpoint as it was"; fi
}

@test "seg-step: -o may equal -m; the checkpoint advances" {
    mkbatch b.tns 2 16 24 7 1 src mix
    cp "$C8" m.tns
    seg-step -m m.tns -o m.tns <b.tns 2>/dev/null
    seg-step -m m.tns -o m.tns <b.tns 2>/dev/null
    run tns info m.tns
    assert_line --index 1 --regexp $'meta.iter\ti32\tscalar\tmin 2\tmax 2'
    if ls -A | grep -v -e '^m.tns$' -e '^b.tns$'; then fail "files left beside the checkpoint"; fi
}

@test "seg-step: --log appends a TSV row under a header" {
    mkbatch b.tns 2 16 24 7 1 src mix
    seg-step -m "$C8" -o a.tns --log log.tsv --lr 0.02 --iters 100 <b.tns 2>/dev/null
    seg-step -m a.tns -o a.tns --log log.tsv --lr 0.02 --iters 100 <b.tns 2>/dev/null
    run cat log.tsv
    assert_line --index 0 $'iter\tloss\tloss_src\tloss_mix\tlr\tlr_head\tloss_mic'
    assert_line --index 1 --regexp $'^0\t[0-9.]+\t[0-9.]+\t[0-9.]+\t0.02\t0.2\t0.000000$'
    # poly: 0.02 * (1 - 1/100)^0.9
    assert_line --index 2 --regexp $'^1\t[0-9.]+\t[0-9.]+\t[0-9.]+\t0.0198199\t0.198199\t0.000000$'
    [ "${#lines[@]}" -eq 3 ]
}

@test "seg-step: same checkpoint and batch give the same bytes" {
    mkbatch b.tns 2 16 24 7 1 src mix
    seg-step -m "$C8" -o a.tns <b.tns 2>/dev/null
    seg-step -m "$C8" -o b2.tns <b.tns 2>/dev/null
    cmp a.tns b2.tns
}

@test "seg-step: without mixed frames only the source term; --no-mix ignores them" {
    mkbatch s.tns 2 16 24 7 1 src
    mkbatch b.tns 2 16 24 7 1 src mix
    run_split seg-step -m "$C8" -o a.tns <s.tns
    [ "$status" -eq 0 ]
    [[ $stderr == *" mix 0.0000 "* ]]
    seg-step -m "$C8" -o b1.tns --no-mix <b.tns 2>/dev/null
    cmp a.tns b1.tns
    seg-step -m "$C8" -o b2.tns <b.tns 2>/dev/null
    if cmp -s a.tns b2.tns; then fail "the mixed term did not move the model"; fi
}

@test "seg-step: frame names are options" {
    mkbatch b.tns 2 16 24 7 1 src mix
    tns rename src.image=si src.label=sl mix.image=mi mix.label=ml \
        mix.weight=mw <b.tns >r.tns
    seg-step -m "$C8" -o a.tns <b.tns 2>/dev/null
    seg-step -m "$C8" -o b2.tns --src-image si --src-label sl \
        --mix-image mi --mix-label ml --mix-weight mw <r.tns 2>/dev/null
    cmp a.tns b2.tns
}

@test "seg-step: repeated steps on one batch drive the loss down sharply" {
    mkbatch b.tns 2 32 64 7 2 src mix
    cp "$C8" m.tns
    for i in $(seq 30); do
        seg-step -m m.tns -o m.tns --log log.tsv <b.tns 2>/dev/null
    done
    first=$(awk -F'\t' 'NR == 2 { print $2 }' log.tsv)
    last=$(awk -F'\t' 'END { print $2 }' log.tsv)
    echo "loss $first -> $last"
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.05 * a) }'
}

@test "seg-step: labels out of range fail cleanly, naming the pixel" {
    mkbatch b.tns 2 16 24 7 1 src
    run_split seg-step -m "$C8" -o a.tns <b.tns
    [ "$status" -eq 0 ]
    # these labels go up to 18: too many for a 7-class checkpoint
    mkbatch c.tns 2 16 24 19 1 src
    run_split seg-step -m "$C8" -o a.tns <c.tns
    assert_clean_failure seg-step
    [[ $stderr == *"frame 'src.label' has "*" at image "*" row "*" column "*", expected a label in 0..6 or 255 (ignore)"* ]]
}

@test "seg-step: shape mismatches fail cleanly, with both shapes" {
    mkbatch a.tns 2 16 24 7 1 src
    mkbatch b.tns 2 16 20 7 1 src
    tns select src.image <a.tns >img.tns
    tns select src.label <b.tns >lab.tns
    tns cat img.tns lab.tns >x.tns
    run_split seg-step -m "$C8" -o o.tns <x.tns
    assert_clean_failure seg-step
    [[ $stderr == *"frame 'src.label' has shape 2x16x20, 'src.image' has 2x16x24x3"* ]]
    mkbatch m.tns 2 16 24 7 1 src mix
    mkbatch m2.tns 1 16 24 7 1 mix
    tns select mix.weight <m2.tns >w.tns
    tns cat --replace m.tns w.tns >y.tns
    run_split seg-step -m "$C8" -o o.tns <y.tns
    assert_clean_failure seg-step
    [[ $stderr == *"frame 'mix.weight' has shape 1x16x24, 'mix.image' has 2x16x24x3"* ]]
}

@test "seg-step: a partial mixed batch and bad weights fail cleanly" {
    mkbatch b.tns 2 16 24 7 1 src mix
    tns drop mix.weight <b.tns >p.tns
    run_split seg-step -m "$C8" -o o.tns <p.tns
    assert_clean_failure seg-step
    [[ $stderr == *"missing frame 'mix.weight'"* ]]
    frame_f32 w.tns mix.weight -1 3
    tns cat --replace p.tns w.tns >q.tns
    run_split seg-step -m "$C8" -o o.tns <q.tns
    assert_clean_failure seg-step
    [[ $stderr == *"'mix.weight' has shape 3"* ]]
}

@test "seg-step: a checkpoint of another architecture fails cleanly" {
    mkbatch b.tns 2 16 24 7 1 src
    frame_text arch.tns meta.arch $'net=deeplab-mini\nversion=1\nwidth=4\nclasses=7\nmean=0,0,0\nstd=1,1,1\ndepth=50\n'
    tns cat --replace "$C8" arch.tns >other.tns
    cp other.tns keep.tns
    run_split seg-step -m other.tns -o other.tns <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"unknown key 'depth'"* ]]
    cmp other.tns keep.tns
    seg-init --width 8 --classes 7 -o w8.tns
    tns drop 'opt.*' <w8.tns >teacher.tns
    run_split seg-step -m "$C8" -o o.tns -i teacher.tns
    assert_clean_failure seg-step
    [[ $stderr == *"missing frame 'src.image'"* ]]
}

@test "seg-step: a non-finite loss writes nothing and keeps the old checkpoint" {
    mkbatch b.tns 2 16 24 7 1 src
    frame_f32 big.tns stem.0.bn.weight 3e38 4
    frame_f32 big2.tns stem.1.bn.weight 3e38 4
    tns cat --replace "$C8" big.tns big2.tns >m.tns
    cp m.tns keep.tns
    run_split seg-step -m m.tns -o m.tns --log log.tsv <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"iteration 0: "*"not finite"*"not written"* ]]
    cmp m.tns keep.tns
    [ ! -e log.tsv ]
}

@test "seg-step: a teacher checkpoint (no opt.*) trains from zero momentum" {
    mkbatch b.tns 2 16 24 7 1 src
    tns drop 'opt.*' <"$C8" >teacher.tns
    seg-step -m teacher.tns -o a.tns <b.tns 2>/dev/null
    seg-step -m "$C8" -o b2.tns <b.tns 2>/dev/null
    cmp a.tns b2.tns
    tns drop 'opt.head.0.bias' <"$C8" >partial.tns
    run_split seg-step -m partial.tns -o c.tns <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"'opt.head.0.bias' is missing"* ]]
}

@test "seg-step: the schedule must not be over" {
    mkbatch b.tns 2 16 24 7 1 src
    seg-step -m "$C8" -o a.tns --iters 1 <b.tns 2>/dev/null
    run_split seg-step -m a.tns -o a.tns --iters 1 <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"has done 1 steps"*"--iters 1"* ]]
}

@test "seg-step: missing options and bad values fail cleanly" {
    mkbatch b.tns 2 16 24 7 1 src
    run_split seg-step -m "$C8" <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"-o CKPT"* ]]
    run_split seg-step -o x.tns <b.tns
    assert_clean_failure seg-step
    for args in "--lr -1" "--lr x" "--iters 0" "--momentum 2" \
        "--weight-decay -1" "--head-lr-mult -1" "--src-image a*b" "--bogus"; do
        run_split seg-step -m "$C8" -o x.tns $args <b.tns
        assert_clean_failure seg-step
    done
    [ ! -e x.tns ]
}

@test "seg-step --optimizer adamw: both moments and the step count in the checkpoint" {
    mkbatch b.tns 2 16 24 7 1 src mix
    # seg-init's zero momentum is no state: AdamW starts from it
    seg-step --optimizer adamw --iters 100 --warmup 10 -m "$C8" -o a1.tns <b.tns 2>/dev/null
    seg-step --optimizer adamw --iters 100 --warmup 10 -m a1.tns -o a2.tns --log log.tsv <b.tns 2>/dev/null
    run tns info a2.tns
    assert_line --regexp $'opt.optimizer\tu8\t5'
    assert_line --regexp $'opt.step\ti32\tscalar\tmin 2\tmax 2'
    assert_line --regexp $'^[0-9]+\topt.head.0.weight\tf32\t7x16x3x3'
    assert_line --regexp $'opt.exp_avg_sq.head.0.weight\tf32\t7x16x3x3\tmin [0-9]'
    refute_output --partial "opt.exp_avg_sq.stem.0.bn.running_mean"
    # DAFormer's lr 6e-5, warmup: 6e-5 * (1 - 1/100) * (1 - (1 - 1/10)(1 - 1e-6))
    run cat log.tsv
    assert_line --index 1 --regexp $'^1\t[0-9.]+\t[0-9.]+\t[0-9.]+\t5.94005e-06\t5.94005e-05\t'
    # ema-merge leaves all of the optimiser out
    tns drop 'opt.*' <"$C8" >t.tns
    ema-merge t.tns a2.tns -o t.tns 2>/dev/null
    run tns info t.tns
    refute_output --partial "opt."
}

@test "seg-step: one optimizer per run; AdamW and SGD options do not mix" {
    mkbatch b.tns 2 16 24 7 1 src mix
    seg-step -m "$C8" -o s.tns <b.tns 2>/dev/null
    run_split seg-step --optimizer adamw -m s.tns -o x.tns <b.tns
    assert_clean_failure seg-step
    [[ $stderr == "seg-step: s.tns: the checkpoint holds sgd optimizer state (momentum buffers), expected adamw"*"seg-init --from"* ]]
    seg-step --optimizer adamw -m "$C8" -o a.tns <b.tns 2>/dev/null
    run_split seg-step -m a.tns -o x.tns <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"holds adamw optimizer state"* ]]
    # weights alone start afresh with either
    seg-init --from a.tns -o w.tns
    seg-step -m w.tns -o x.tns <b.tns 2>/dev/null
    rm x.tns
    for args in "--betas 0.9,0.999" "--eps 1e-8" "--optimizer adamw --momentum 0.9" \
        "--optimizer adam" "--optimizer adamw --betas 0.9" "--optimizer adamw --betas 1,0.9" \
        "--optimizer adamw --betas 0.9,0.999x" "--warmup -1" "--warmup-ratio 2"; do
        run_split seg-step -m "$C8" -o x.tns $args <b.tns
        assert_clean_failure seg-step
    done
    [ ! -e x.tns ]
    # a checkpoint missing part of AdamW's state is refused
    tns drop 'opt.exp_avg_sq.head.0.bias' <a.tns >p.tns
    run_split seg-step --optimizer adamw -m p.tns -o x.tns <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"'opt.exp_avg_sq.head.0.bias' is missing"* ]]
    tns drop 'opt.step' <a.tns >p.tns
    run_split seg-step --optimizer adamw -m p.tns -o x.tns <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"opt.step"* ]]
}

@test "seg-step --optimizer adamw: resuming gives the bytes of one run" {
    mkbatch b.tns 2 16 24 7 1 src mix
    o="--optimizer adamw --iters 10 --warmup 2"
    seg-step $o -m "$C8" -o a.tns <b.tns 2>/dev/null
    seg-step $o -m a.tns -o a.tns <b.tns 2>/dev/null
    seg-step $o -m a.tns -o a.tns <b.tns 2>/dev/null
    seg-step $o -m "$C8" -o r.tns <b.tns 2>/dev/null
    tns cat r.tns >r2.tns
    seg-step $o -m r2.tns -o r2.tns <b.tns 2>/dev/null
    seg-step $o -m r2.tns -o r2.tns <b.tns 2>/dev/null
    cmp a.tns r2.tns
}

@test "seg-step: --help matches the options" {
    run seg-step --help
    assert_success
    for o in --model --output --input --src-image --src-label --mix-image \
        --mix-label --mix-weight --no-mix --lr --iters --power --momentum \
        --weight-decay --head-lr-mult --log --optimizer --warmup \
        --warmup-ratio --betas --eps; do
        assert_output --partial -- "$o"
    done
    assert_output --partial "default sgd 0.01"
    assert_output --partial "adamw 6e-05"
    assert_output --partial "default 250000"
}

@test "seg-step and seg-infer: the same bytes with 1, 2, 3, 5 or 8 threads" {
    mkbatch b.tns 2 40 72 7 4 src mix
    # --threads, and DACS_THREADS for seg-infer: both are dacs's own count,
    # not capped at this machine's cores as OpenBLAS's is
    for t in 1 2 3 5 8; do
        seg-step --threads $t -m "$C8" -o s$t.tns <b.tns 2>/dev/null
        DACS_THREADS=$t seg-infer -m s1.tns --in src.image <b.tns >r$t.tns
        seg-infer --threads $t -m s1.tns --in mix.image --bn batch <b.tns >b$t.tns
    done
    for t in 2 3 5 8; do
        cmp s1.tns s$t.tns
        cmp r1.tns r$t.tns
        cmp b1.tns b$t.tns
    done
}

@test "seg-step and seg-infer: a bad thread count is refused" {
    mkbatch b.tns 2 16 24 7 1 src
    run_split seg-step --threads 0 -m "$C8" -o o.tns -i b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"--threads: expected an integer in [1, 64], got '0'"* ]]
    run_split seg-infer --threads 65 -m "$C8" --in src.image -i b.tns
    assert_clean_failure seg-infer
    run_split env DACS_THREADS=many seg-infer -m "$C8" --in src.image -i b.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"DACS_THREADS: expected an integer in [1, 64], got 'many'"* ]]
    [ ! -e o.tns ]
}

# rename_to_mic IN OUT [SCALE]: the mix.* frames of IN as mic.* (weights
# times SCALE, default 1), beside the src.* frames.
rename_to_mic() {
    local scale=${3:-1}
    tns rename mix.image=mic.image mix.label=mic.label mix.weight=mic.weight <"$1" >"$2.tmp"
    tns get mic.weight <"$2.tmp" | perl -e 'local $/; my $b = <STDIN>; print pack("f<*", map { $_ * $ARGV[0] } unpack("f<*", $b))' "$scale" >w.raw
    npy_raw w.npy '<f4' 2,16,24 <w.raw
    tns npy-in --replace --name mic.weight -i "$2.tmp" w.npy >"$2"
    rm -f "$2.tmp" w.raw w.npy
}

@test "seg-step: MIC's masked pair is a third weighted term, times --mic-lambda" {
    mkbatch b.tns 2 16 24 7 1 src mix
    # the masked pair at lambda 0.5 = the same pair as the mixed term with
    # its weights halved: the same bytes, the same loss
    rename_to_mic b.tns k.tns 1
    rename_to_mic b.tns h.tns 0.5
    tns rename mic.image=mix.image mic.label=mix.label mic.weight=mix.weight <h.tns >hm.tns
    run_split seg-step -m "$C8" -o a.tns --mic-lambda 0.5 --log la.tsv <k.tns
    [ "$status" -eq 0 ]
    [[ $stderr =~ ^seg-step:\ iter\ 0\ loss\ [0-9.]+\ src\ [0-9.]+\ mix\ 0.0000\ mic\ [0-9.]+\ lr\ 0.01$ ]]
    seg-step -m "$C8" -o b2.tns --log lb.tsv <hm.tns 2>/dev/null
    cmp a.tns b2.tns
    mic=$(awk -F'\t' 'NR == 2 { print $7 }' la.tsv)
    mix=$(awk -F'\t' 'NR == 2 { print $4 }' lb.tsv)
    [ "$mic" = "$mix" ]
    [ "$mic" != 0.000000 ]
    # all three terms: the masked one adds to the loss and moves the model
    tns rename mix.image=mic.image mix.label=mic.label mix.weight=mic.weight <b.tns | tns select 'mic.*' >k2.tns
    tns cat b.tns k2.tns >all.tns
    seg-step -m "$C8" -o c.tns --log lc.tsv <all.tns 2>/dev/null
    seg-step -m "$C8" -o d.tns --log ld.tsv <b.tns 2>/dev/null
    if cmp -s c.tns d.tns; then fail "the masked term did not move the model"; fi
    awk -F'\t' 'NR == 2 { if ($2 - ($3 + $4 + $7) > 1e-5 || $7 <= 0) exit 1 }' lc.tsv
    # --no-mic leaves the other terms alone
    seg-step -m "$C8" -o e.tns --no-mic <all.tns 2>/dev/null
    cmp d.tns e.tns
}

@test "seg-step: a masked pair must be whole and well formed" {
    mkbatch b.tns 2 16 24 7 1 src mix
    tns rename mix.image=mic.image mix.label=mic.label mix.weight=mic.weight <b.tns >k.tns
    tns drop mic.weight -i k.tns >nw.tns
    assert_refused seg-step out.tns "missing frame 'mic.weight'" seg-step -m "$C8" -o out.tns -i nw.tns
    run_split seg-step -m "$C8" -o out.tns --mic-lambda -1 -i k.tns
    assert_clean_failure seg-step
    [[ $stderr == *"--mic-lambda"* ]]
    mkbatch s.tns 1 16 24 7 1 src
    tns rename src.image=mic.image src.label=mic.label <s.tns | tns select 'mic.*' >one.tns
    tns select 'src.*' -i b.tns >src.tns
    tns select mic.weight -i k.tns >w.tns
    tns cat src.tns one.tns w.tns >bad.tns
    assert_refused seg-step out.tns "must agree in N, H and W" seg-step -m "$C8" -o out.tns -i bad.tns
}
