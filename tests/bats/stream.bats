#!/usr/bin/env bats
# The stages' streaming modes, each on its own, on files and pipes: live
# streams, tns zip, seg-batch --iters/--no-check/--check/--exclude,
# seg-infer --teacher-from, pseudolabel --from-argmax, seg-step --stream,
# ema-merge --stream.  Each gives the bytes its one-shot form gives.

load helpers
load segdata

setup_file() {
    export C7="$BATS_FILE_TMPDIR/m7.tns" DATA="$BATS_FILE_TMPDIR/data"
    PATH="$DACS_BIN:$PATH" seg-init --width 4 --classes 7 --seed 5 -o "$C7"
    PATH="$DACS_BIN:$PATH" synth-city --quiet --size 96x48 --source 6 \
        --train 4 --val 2 --seed 3 "$DATA"
}

segments() { tns info "$@" | grep -c '^# segment' || true; }

# three batches of src.* and mix.* (7 classes), as one stream
three() {
    local k
    for k in 1 2 3; do mkbatch "b$k.tns" 2 16 24 7 "$k" src mix; done
    cat b1.tns b2.tns b3.tns >b.tns
}

@test "tns zip: batch k of the output holds batch k of every input" {
    seg-batch --dataset gta5 --root "$DATA/source" --iters 3 -q >s.tns
    seg-batch --dataset cityscapes --root "$DATA/target" --prefix tgt \
        --no-labels --iters 3 -q >t.tns
    tns zip s.tns t.tns >z.tns
    [ "$(segments z.tns)" -eq 2 ] # segments after the first
    [ "$(tns info z.tns | grep -c $'\tsrc.image\t')" -eq 3 ]
    [ "$(tns info z.tns | grep -c $'\ttgt.image\t')" -eq 3 ]
    # batch 1 of the zip is batch 1 of each, in order
    seg-batch --dataset gta5 --root "$DATA/source" --iter 1 -q >s1.tns
    seg-batch --dataset cityscapes --root "$DATA/target" --prefix tgt \
        --no-labels --iter 1 -q >t1.tns
    tns cat s1.tns t1.tns >z1.tns
    diff <(tns info z.tns | sed -n '/# segment 1/,/# segment 2/p' | sed '1d;$d' | cut -f2-) \
        <(tns info z1.tns | cut -f2-)
    # FIFOs, as the ring uses them
    mkfifo f1 f2
    cat s.tns >f1 &
    cat t.tns >f2 &
    tns zip f1 f2 | cmp - z.tns
}

@test "tns zip: inputs of different lengths, and a name in two inputs, are refused" {
    seg-batch --dataset gta5 --root "$DATA/source" --iters 3 -q >s.tns
    seg-batch --dataset gta5 --root "$DATA/source" --iters 2 -q --prefix x >x.tns
    # (the batches before go out: downstream sees a stream cut short)
    tns zip s.tns x.tns >out.tns 2>err && false
    [ "$(cat err)" = "tns: zip: x.tns ends after 2 batches, but s.tns goes on" ]
    if tns info out.tns >/dev/null 2>&1; then fail "a stream cut short reads as whole"; fi
    run_split tns zip x.tns s.tns
    [[ $stderr == *"zip: x.tns ends after 2 batches, but s.tns goes on"* ]]
    run_split tns zip s.tns s.tns
    assert_clean_failure tns
    [[ $stderr == *"zip: batch 0 of s.tns: frame 'src.image' is already in the stream"*"(use --replace to keep the later one)"* ]]
    tns zip --replace s.tns s.tns | cmp - s.tns
    run_split tns zip --as rgb s.tns
    [[ $stderr == *"zip: option '--as' is not one of this command's"* ]]
}

@test "--live: every batch closed at once; the same frames, one closing marker more" {
    seg-batch --dataset gta5 --root "$DATA/source" --iters 3 -q >s.tns
    seg-batch --dataset gta5 --root "$DATA/source" --iters 3 -q --live >l.tns
    [ "$(stat -c %s l.tns)" -eq $(($(stat -c %s s.tns) + 20)) ]
    tns select '*' -i l.tns | cmp - s.tns
    tns select --live '*' -i s.tns | cmp - l.tns
    # a live stream cut between two batches is still caught
    size=$(stat -c %s l.tns)
    head -c $((size - 20)) l.tns >cut.tns
    run_split tns info cut.tns
    [ "$status" -ne 0 ]
    [[ $stderr == *"without its final end marker"* ]]
    # a batch reaches the reader while the writer waits for its input
    one=$(($(seg-batch --dataset gta5 --root "$DATA/source" -q --live | wc -c) - 20))
    mkfifo in
    { seg-batch --dataset gta5 --root "$DATA/source" -q; sleep 5; } >in &
    feeder=$!
    timeout 3 tns select --live '*' -i in | timeout 3 head -c "$one" >first.tns
    [ "$(stat -c %s first.tns)" -eq "$one" ]
    kill "$feeder" 2>/dev/null || true
}

@test "seg-batch --iters K --no-check: K batches, the bytes of K runs of --iter t" {
    seg-batch --dataset gta5 --root "$DATA/source" --crop 48x32 --flip \
        --iter 5 --iters 3 --no-check -q >k.tns
    for t in 5 6 7; do
        seg-batch --dataset gta5 --root "$DATA/source" --crop 48x32 --flip \
            --iter "$t" -q
    done >each.tns
    tns select '*' -i each.tns | cmp - k.tns
}

@test "seg-batch --check: every problem of a tree, one a line, and the exit status" {
    cp -r "$DATA/source" s
    seg-batch --dataset gta5 --root s --check 2>err
    grep -q "6 items of s checked (0 excluded), labels decoded" err
    rm s/labels/00001.png
    echo x >s/images/00003.png
    run_split seg-batch --dataset gta5 --root s --check
    [ "$status" -eq 1 ]
    [ "$stderr_lines" -eq 3 ]
    [[ $stderr == *"seg-batch: missing label s/labels/00001.png for image s/images/00001.png"* ]]
    [[ $stderr == *"seg-batch: s/images/00003.png: not a PNG file"* ]]
    [[ $stderr == *"seg-batch: 2 of 6 items of s have problems"* ]]
    # the same on 1 or 3 threads
    seg-batch --dataset gta5 --root s --check --threads 3 2>err3 || true
    [ "$(cat err3)" = "$stderr" ]
    # train ids above the class count
    run_split seg-batch --dataset gta5 --root "$DATA/source" --check --classes 3
    [ "$status" -eq 1 ]
    [[ $stderr == *"has train id "*", but the model has 3 classes (0..2)"* ]]
    run_split seg-batch --dataset gta5 --root "$DATA/source" --classes 3
    assert_clean_failure seg-batch
    [[ $stderr == *"--classes is for --check"* ]]
}

@test "seg-batch --exclude: excluded items are never read, and every other draw stays as it was" {
    cp -r "$DATA/source" s
    for t in $(seq 0 11); do
        seg-batch --dataset gta5 --root s --iter "$t" --emit-index -q |
            tns get src.index | od -An -td4 -w8
    done >all
    rm s/labels/00002.png # excluded: need not exist
    printf 'labels/00002.png\n' >ex
    for t in $(seq 0 11); do
        seg-batch --dataset gta5 --root s --exclude ex --iter "$t" \
            --emit-index -q | tns get src.index | od -An -td4 -w8
    done >some
    # every slot that drew another item draws it still; item 2 never comes
    paste all some | awk '{ for (i = 1; i <= 2; i++) {
        if ($i == 2 && $(i + 2) == 2) bad = 1
        if ($i != 2 && $i != $(i + 2)) bad = 1 } } END { exit bad }'
    if awk '{ print $1; print $2 }' some | grep -qx 2; then fail "excluded item 2 was drawn"; fi
    grep -qx ' *2 .*\| .* 2' all # item 2 was drawn somewhere before
    # a whole split read in order leaves it out
    seg-batch --dataset gta5 --root s --exclude ex --sequential --emit-index \
        --batch 6 -q | tns get src.index | od -An -td4 -w64 | tr -s ' ' | grep -qx ' 0 1 3 4 5'
    printf 'labels/00009.png\n' >bad
    run_split seg-batch --dataset gta5 --root "$DATA/source" --exclude bad
    assert_clean_failure seg-batch
    [[ $stderr == *"exclude file bad: line 1: 'labels/00009.png' is no image or label of the gta5 dataset $DATA/source"* ]]
}

@test "seg-infer --teacher-from: a model per batch, the output of -m with each" {
    three
    seg-init --width 4 --classes 7 --seed 6 -o m1.tns
    seg-init --width 4 --classes 7 --seed 7 -o m2.tns
    seg-init --width 4 --classes 7 --seed 8 -o m3.tns
    cat "$C7" m1.tns m2.tns m3.tns >models.tns
    seg-infer --teacher-from models.tns --bn batch --argmax --in src.image \
        --pred p --conf c <b.tns >got.tns
    for k in 1 2 3; do
        m=$C7
        [ "$k" -gt 1 ] && m=m$((k - 1)).tns
        seg-infer -m "$m" --bn batch --argmax --in src.image --pred p \
            --conf c <"b$k.tns"
    done >want.tns
    tns select '*' -i want.tns | cmp - got.tns
    # one model short, one too many
    cat "$C7" m1.tns m2.tns >short.tns
    run_split seg-infer --teacher-from short.tns --in src.image <b.tns
    [ "$status" -ne 0 ]
    [[ $stderr == *"short.tns ended with the last batch; expected one more model"* ]]
    cat models.tns m1.tns >long.tns
    run_split seg-infer --teacher-from long.tns --in src.image <b.tns
    [[ $stderr == *"long.tns has more models than batches + 1"* ]]
    run_split seg-infer -m "$C7" --teacher-from models.tns <b.tns
    assert_clean_failure seg-infer
    [[ $stderr == *"-m and --teacher-from both give the model"* ]]
}

@test "pseudolabel --from-argmax: the bytes of pseudolabel on the probabilities" {
    three
    seg-infer -m "$C7" --bn batch --in src.image --out tgt.prob <b.tns |
        pseudolabel -q --threshold 0.3 --drop tgt.prob >want.tns
    seg-infer -m "$C7" --bn batch --in src.image --argmax --pred tgt.pred \
        --conf tgt.conf <b.tns |
        pseudolabel -q --threshold 0.3 --from-argmax --drop tgt.pred \
            --drop tgt.conf >got.tns
    cmp want.tns got.tns
    run_split pseudolabel --from-argmax --logits <got.tns
    assert_clean_failure pseudolabel
    [[ $stderr == *"--from-argmax reads PREFIX.pred and PREFIX.conf"* ]]
}

@test "seg-step --stream: a step per batch, the bytes of one process per step" {
    three
    for k in 1 2 3; do
        m=$C7
        [ "$k" -gt 1 ] && m=s$((k - 1)).tns
        seg-step -q -m "$m" -o "s$k.tns" --iters 10 --log want.tsv <"b$k.tns"
    done
    mkdir run
    seg-step --stream -q -m "$C7" --iters 10 --until 3 --checkpoint-every 2 \
        --checkpoint-dir run --log got.tsv <b.tns >students.tns
    cmp s3.tns run/student.tns
    [ "$(ls run/ckpt)" = 000003 ]
    diff want.tsv got.tsv
    # three students; whole (with opt.*) at 2 and at --until
    [ "$(segments students.tns)" -eq 2 ]
    [ "$(tns info students.tns | grep -c $'\topt.head.0.weight\t')" -eq 2 ]
    tns info students.tns | sed -n '/# segment 1/,/# segment 2/p' | grep -q $'\topt\\.'
    # the input must end at --until, and reach it
    run_split seg-step --stream -q -m "$C7" --iters 10 --until 2 <b.tns
    [ "$status" -ne 0 ]
    [[ $stderr == *"the input has a batch past iteration 2 (--until)"* ]]
    run_split seg-step --stream -q -m "$C7" --iters 10 --until 4 <b.tns
    [[ $stderr == *"the input ended at iteration 3, before --until 4"* ]]
    run_split seg-step -q -m "$C7" -o x.tns --until 4 <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"--checkpoint-every, --until and --checkpoint-dir are for --stream"* ]]
    run_split seg-step --stream -q -m "$C7" --iters 10 --until 11 <b.tns
    assert_clean_failure seg-step
    [[ $stderr == *"--until 11 is past the schedule's end, --iters 10"* ]]
}

@test "seg-step --stream answers a batch before the next one comes" {
    mkbatch b1.tns 2 16 24 7 1 src mix
    seg-step --stream -q -m "$C7" --iters 10 --until 1 <b1.tns >one.tns
    size=$(($(stat -c %s one.tns) - 20))
    mkfifo in
    { cat b1.tns; sleep 5; } >in &
    feeder=$!
    seg-step --stream -q -m "$C7" --iters 10 --checkpoint-every 1 <in |
        timeout 4 head -c "$size" >got.tns
    [ "$(stat -c %s got.tns)" -eq "$size" ]
    kill "$feeder" 2>/dev/null || true
}

@test "ema-merge --stream: the first teacher, then one per student, the bytes of merging file by file" {
    three
    ema-merge -q t0.tns "$C7" -o t0.tns
    for k in 1 2 3; do
        m=$C7
        [ "$k" -gt 1 ] && m=s$((k - 1)).tns
        seg-step -q -m "$m" -o "s$k.tns" --iters 10 <"b$k.tns"
        ema-merge -q "t$((k - 1)).tns" "s$k.tns" -o "t$k.tns"
    done
    mkdir run
    seg-step --stream -q -m "$C7" --iters 10 --until 3 <b.tns |
        ema-merge --stream -q --checkpoint-dir run t0.tns >teachers.tns
    cmp t3.tns run/teacher.tns
    cmp s3.tns run/student.tns
    cat t0.tns t1.tns t2.tns t3.tns | tns select '*' | cmp - <(tns select '*' -i teachers.tns)
    # a student that is not one step past the teacher
    run_split ema-merge --stream -q t1.tns s1.tns
    [ "$status" -ne 0 ]
    [[ $stderr == *"student segment 0 has meta.iter 1, expected 2 (one step past the teacher's)"* ]]
    run_split ema-merge --stream --iter 3 t0.tns s1.tns
    assert_clean_failure ema-merge
    run_split ema-merge --checkpoint-dir run t0.tns s1.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"--checkpoint-dir is for --stream"* ]]
    run_split ema-merge --stream nosuch.tns s1.tns
    [[ $stderr == *"nosuch.tns: cannot open"*"(--stream starts from an existing teacher)"* ]]
}
