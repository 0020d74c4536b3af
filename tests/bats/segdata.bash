# segdata.bash - small synthetic batches for the seg-* suites (no Python).
#
# mkbatch OUT N H W [CLASSES] [SEED] [PREFIX...]
#   Writes the stream OUT with PREFIX.image (u8 NxHxWx3) and PREFIX.label
#   (u8 NxHxW) for each PREFIX (default: src), and for a prefix "mix" also
#   mix.weight (f32 NxHxW).  Labels are blocks of classes 0..CLASSES-1 with
#   some 255; colours follow the labels plus noise, so a net can learn them.
# shellcheck source=npy.bash
. "$(dirname "${BASH_SOURCE[0]}")/npy.bash"

mkbatch() {
    local out=$1 n=$2 h=$3 w=$4 classes=${5:-19} seed=${6:-1}
    shift 6 2>/dev/null || shift $#
    local prefixes=${*:-src}
    local dir
    dir=$(mktemp -d "$T/npy.XXXXXX")
    perl - "$dir" "$n" "$h" "$w" "$classes" "$seed" $prefixes <<'PERL' || return 1
use strict; use warnings;
my ($dir, $n, $h, $w, $classes, $seed, @prefixes) = @ARGV;
my $state = $seed * 7919 + 17;
sub rnd { $state = ($state * 1103515245 + 12345) % 2147483648; return $state / 2147483648; }
sub raw {
    my ($path, $data) = @_;
    open(my $f, '>:raw', $path) or die "$path: $!";
    print $f $data;
    close $f;
}
for my $p (@prefixes) {
    my ($img, $lab, $wt) = ('', '', '');
    for my $i (0 .. $n - 1) {
        my $off = int(rnd() * $classes);
        for my $y (0 .. $h - 1) {
            for my $x (0 .. $w - 1) {
                my $l = (int($x * 4 / $w) + 4 * int($y * 2 / $h) + $off) % $classes;
                my $ign = rnd() < 0.05;
                $lab .= pack('C', $ign ? 255 : $l);
                for my $c (0 .. 2) {
                    my $v = ($l * (53, 97, 151)[$c] + 40 * $c) % 256;
                    $v += int(rnd() * 31) - 15;
                    $v = $v < 0 ? 0 : $v > 255 ? 255 : $v;
                    $img .= pack('C', $v);
                }
                $wt .= pack('f<', 0.25 + 0.75 * rnd());
            }
        }
    }
    raw("$dir/$p.image", $img);
    raw("$dir/$p.label", $lab);
    raw("$dir/$p.weight", $wt) if $p eq 'mix';
}
PERL
    local files=() p
    for p in $prefixes; do
        npy_raw "$dir/$p.image.npy" '|u1' "$n,$h,$w,3" <"$dir/$p.image"
        npy_raw "$dir/$p.label.npy" '|u1' "$n,$h,$w" <"$dir/$p.label"
        files+=("$dir/$p.image.npy" "$dir/$p.label.npy")
        if [ "$p" = mix ]; then
            npy_raw "$dir/mix.weight.npy" '<f4' "$n,$h,$w" <"$dir/mix.weight"
            files+=("$dir/mix.weight.npy")
        fi
    done
    tns npy-in -o "$out" "${files[@]}"
    rm -rf "$dir"
}

# frame_text OUT NAME TEXT: a one-frame stream holding TEXT as u8 (rank 1).
frame_text() {
    local out=$1 name=$2 text=$3
    printf '%s' "$text" |
        npy_raw "$T/text.npy" '|u1' "$(printf '%s' "$text" | wc -c)"
    tns npy-in --name "$name" -o "$out" "$T/text.npy"
}

# frame_f32 OUT NAME VALUE COUNT: a one-frame stream, f32 of COUNT values.
frame_f32() {
    local out=$1 name=$2 value=$3 count=$4
    perl -e 'print pack("f<*", ($ARGV[0]) x $ARGV[1])' -- "$value" "$count" |
        npy_raw "$T/f32.npy" '<f4' "$count"
    tns npy-in --name "$name" -o "$out" "$T/f32.npy"
}
