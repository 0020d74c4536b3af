#!/usr/bin/env bats
# Fault injection and limits: a full disk while writing a checkpoint,
# SIGKILL in the middle of a write, and the documented resource limits.

load helpers

setup_file() {
    export FIX="$BATS_FILE_TMPDIR/fix"
    mkdir -p "$FIX"
    cd "$FIX"
    export PATH="$DACS_BIN:$PATH" OPENBLAS_NUM_THREADS=1
    synth-city --quiet --size 64x32 --source 2 --train 2 --val 2 --seed 4 data
    seg-init --width 8 --seed 1 -o student.tns
    seg-batch --dataset gta5 --root data/source --prefix src -q >src.tns
}

@test "disk full while writing a checkpoint: the old one survives, and the tool says so" {
    cp "$FIX/student.tns" ckpt.tns
    cp ckpt.tns before.tns
    # files may grow to 64 KiB, a fraction of the checkpoint; a write past
    # that fails with EFBIG instead of killing the process (SIGXFSZ ignored)
    run_split bash -c 'trap "" XFSZ; ulimit -f 64; exec seg-step -m ckpt.tns -o ckpt.tns --iters 10 -i "$FIX/src.tns"'
    assert_clean_failure seg-step
    [[ $stderr == *"ckpt.tns: write failed: File too large; the old file is kept unchanged"* ]]
    cmp before.tns ckpt.tns
    [ -z "$(ls -A | grep '^\.')" ]
}

@test "disk full: a stream written with -o keeps the old file too" {
    echo old >out.tns
    run_split bash -c 'trap "" XFSZ; ulimit -f 16; exec tns select "*" -i "$FIX/student.tns" -o out.tns'
    assert_clean_failure tns
    [[ $stderr == *"the old file is kept unchanged"* ]]
    [ "$(cat out.tns)" = old ]
}

@test "SIGKILL in the middle of a write leaves nothing under the final name" {
    echo old >out.tns
    mkfifo in
    # one batch, then the writer upstream stalls: tns has written part of
    # its output to its temporary file and waits for more
    { cat "$FIX/src.tns"; sleep 30; } >in &
    feeder=$!
    tns select '*' -i in -o out.tns &
    pid=$!
    for _ in $(seq 50); do
        [ -n "$(ls -A | grep '^\.out\.tns\.')" ] && break
        sleep 0.1
    done
    tmp=$(ls -A | grep '^\.out\.tns\.')
    [ -n "$tmp" ]
    [ -s "$tmp" ]
    kill -9 "$pid"
    wait "$pid" || true
    kill "$feeder" 2>/dev/null || true
    [ "$(cat out.tns)" = old ]
    # without an old file, no file at all appears
    rm out.tns
    { cat "$FIX/src.tns"; sleep 30; } >in &
    feeder=$!
    tns select '*' -i in -o out.tns &
    pid=$!
    sleep 0.5
    kill -9 "$pid"
    wait "$pid" || true
    kill "$feeder" 2>/dev/null || true
    [ ! -e out.tns ]
}

@test "limits: a frame larger than 4 GiB is refused before allocating" {
    perl -MCompress::Zlib -e '
        my $h = "\x89TNS\x01F\0\0" . pack("CCv", 1, 2, 1) . pack("Q<Q<", 65537, 65536) . "x";
        open(my $o, ">:raw", "big.tns") or die; print $o $h, pack("V", crc32($h));'
    run_split tns info big.tns
    assert_clean_failure tns
    [[ $stderr == *"shape 65537x65536 of u8 is larger than the 4294967296-byte limit"* ]]
}

@test "limits: an image side above 16384 pixels is refused" {
    perl -MCompress::Zlib -e '
        my $ihdr = "IHDR" . pack("NNCCCCC", 20000, 2, 8, 2, 0, 0, 0);
        open(my $o, ">:raw", "wide.png") or die;
        print $o "\x89PNG\r\n\x1a\n", pack("N", 13), $ihdr, pack("N", crc32($ihdr));'
    run_split tns png-in wide.png
    assert_clean_failure tns
    [[ $stderr == *"width exceeds user limit"* ]]
}

@test "limits: at most 255 classes" {
    run_split seg-init --classes 256
    assert_clean_failure seg-init
    [[ $stderr == *"--classes: expected an integer in [1, 255], got '256'"* ]]
    run_split miou --classes 256
    assert_clean_failure miou
    run_split seg-init --classes 255 -o c255.tns
    [ "$status" -eq 0 ]
}
