#!/usr/bin/env bats
# --share R/K (data parallelism): the K shares of a batch together hold
# exactly the items of the whole batch, drawn and mixed as in it; item i of
# share R is item R + i*K.

load helpers

setup_file() {
    tiny_data
}

# interleaved A K FRAME FILES...: frame FRAME of the K share streams,
# item by item in the order of the whole batch, equals that of stream A
interleaved() {
    local whole=$1 k=$2 frame=$3 r
    shift 3
    tns npy-out "$frame" whole.npy -i "$whole"
    for ((r = 0; r < k; r++)); do tns npy-out "$frame" "s$r.npy" -i "$1"; shift; done
    perl -e '
        my ($k, $n) = @ARGV;
        sub body { open(my $f, "<:raw", $_[0]) or die; local $/; my $s = <$f>;
            my $hl = unpack("v", substr($s, 8, 2)); return substr($s, 10 + $hl) }
        my $w = body("whole.npy"); my $item = length($w) / $n;
        my @s = map { body("s$_.npy") } 0 .. $k - 1;
        for my $i (0 .. $n - 1) {
            my $r = $i % $k; my $j = int($i / $k);
            substr($w, $i * $item, $item) eq substr($s[$r], $j * $item, $item)
                or die "item $i differs from item $j of share $r\n";
        }' "$k" 4
}

batch() { # ARGS: a source batch of 4 with crops, scales and flips
    seg-batch --prefix src --root "$DATA/source" --dataset gta5 --batch 4 \
        --crop 48x32 --scale 0.8,1.5 --flip --seed 2 --iter 3 --quiet "$@"
}

@test "seg-batch --share: shares 0/2, 1/2 and 0..3/4 are the whole batch, interleaved" {
    batch >whole.tns
    batch --share 0/2 >a0.tns
    batch --share 1/2 >a1.tns
    interleaved whole.tns 2 src.image a0.tns a1.tns
    interleaved whole.tns 2 src.label a0.tns a1.tns
    for r in 0 1 2 3; do batch --share "$r/4" >"b$r.tns"; done
    interleaved whole.tns 4 src.image b0.tns b1.tns b2.tns b3.tns
    # a share of another layout is not the whole batch
    if interleaved whole.tns 2 src.image a1.tns a0.tns 2>/dev/null; then fail "shares 1/2, 0/2 interleave as 0/2, 1/2"; fi
}

@test "classmix --share: each share mixes its items as the whole batch does" {
    seg-init --width 4 --seed 1 -o m.tns
    mixed() { # STREAM: the teacher, pseudo-labels and the mix of a target batch
        tns cat "$1" <(seg-batch --prefix tgt --root "$DATA/target" \
            --dataset cityscapes --no-labels --batch 4 --crop 48x32 --seed 2 \
            --iter 3 --quiet "${@:3}") |
            seg-infer -m m.tns --bn running | pseudolabel --quiet |
            classmix --seed 4 --iter 3 "${@:3}" >"$2"
    }
    batch >whole.tns
    mixed whole.tns whole.mix
    for r in 0 1; do
        batch --share "$r/2" >"a$r.tns"
        mixed "a$r.tns" "a$r.mix" --share "$r/2"
    done
    interleaved whole.mix 2 mix.image a0.mix a1.mix
    interleaved whole.mix 2 mix.label a0.mix a1.mix
    interleaved whole.mix 2 mix.mask a0.mix a1.mix
}

@test "--share: bad values and combinations are refused" {
    run batch --share 2/2
    [[ $output == *"expected R/K"* ]]
    run batch --share 0/5
    [[ $output == *"no item for every share"* ]]
    run seg-batch --prefix tgt --root "$DATA/target" --dataset cityscapes \
        --sequential --share 0/2
    [[ $output == *"--sequential"* ]]
    run classmix --share 1
    [[ $output == *"expected R/K"* ]]
}
