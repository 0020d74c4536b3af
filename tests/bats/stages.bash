# stages.bash - fixtures for the DACS stage suites (pseudolabel, classmix,
# ema-merge, miou): small tensors written from the command line, and frames
# read back as text.  Uses perl's pack/unpack, so no Python is needed.

# npy FILE DTYPE SHAPE VALUE...: write a .npy file.  DTYPE is u8, u16, i32
# or f32; SHAPE is comma-separated ("2,4,4"; "" for a scalar).
npy() {
    local file=$1 dtype=$2 shape=$3
    shift 3
    perl -e '
        my ($file, $dtype, $shape, @v) = @ARGV;
        my %d = (u8 => ["|u1", "C"], u16 => ["<u2", "v"],
                 i32 => ["<i4", "l<"], f32 => ["<f4", "f<"]);
        my ($descr, $fmt) = @{$d{$dtype} or die "bad dtype $dtype\n"};
        my @dims = length $shape ? split(/,/, $shape) : ();
        my $n = 1; $n *= $_ for @dims;
        die "npy: shape ($shape) holds $n values, got " . scalar(@v) . "\n"
            if $n != @v;
        my $tuple = @dims == 1 ? "($dims[0],)" : "(" . join(", ", @dims) . ")";
        my $h = "{\x27descr\x27: \x27$descr\x27, \x27fortran_order\x27: False, "
              . "\x27shape\x27: $tuple, }";
        $h .= " " x (63 - (10 + length($h)) % 64) . "\n";
        open(my $o, ">:raw", $file) or die "$file: $!\n";
        print $o "\x93NUMPY\x01\x00", pack("v", length $h), $h,
                 pack("$fmt*", @v);
        close $o or die "$file: $!\n";
    ' "$file" "$dtype" "$shape" "$@"
}

# frame NAME DTYPE SHAPE VALUE...: one frame as a tns stream on stdout.
frame() {
    local name=$1 tmp
    tmp=$(mktemp --suffix=.npy)
    npy "$tmp" "$2" "$3" "${@:4}" && tns npy-in --name "$name" "$tmp"
    local rc=$?
    rm -f "$tmp"
    return $rc
}

# values FILE NAME: the elements of one frame, space-separated (floats with
# %.9g, so an f32 prints exactly).
values() {
    tns get -i "$1" "$2" >"$1.$2.raw" || return 1
    local dtype
    dtype=$(tns info "$1" | awk -F'\t' -v n="$2" '$2 == n { print $3 }')
    perl -e '
        my ($dtype, $file) = @ARGV;
        my %f = (u8 => "C", u16 => "v", i32 => "l<", f32 => "f<");
        open(my $i, "<:raw", $file) or die "$file: $!\n";
        local $/; my $b = <$i>;
        my @v = unpack("$f{$dtype}*", $b);
        @v = map { sprintf("%.9g", $_) } @v if $dtype eq "f32";
        print join(" ", @v), "\n";
    ' "$dtype" "$1.$2.raw"
    rm -f "$1.$2.raw"
}

# repeat N VALUE: VALUE N times, space-separated.
repeat() {
    local i out=()
    for ((i = 0; i < $1; i++)); do out+=("$2"); done
    echo "${out[@]}"
}

# text NAME TEXT: a u8 rank-1 frame holding the bytes of TEXT (ASCII).
text() {
    local bytes
    bytes=$(printf '%b' "$2" | od -An -tu1 -v)
    # shellcheck disable=SC2086
    frame "$1" u8 "$(printf '%b' "$2" | wc -c)" $bytes
}

# model FILE ITER V [opt]: a tiny checkpoint after the common convention:
# meta.arch, meta.iter = ITER, then conv.weight (2x1x1x1), conv.bias, bn.*
# (weight, bias, running_mean, running_var: 2 each) and
# bn.num_batches_tracked (i32), every f32 parameter element equal to V.
# With "opt", opt.* momentum buffers (zeros) follow, as in a student.
model() {
    local file=$1 iter=$2 v=$3 parts=() p
    text meta.arch 'net=tiny\nclasses=2\n' >"$file.arch"
    frame meta.iter i32 "" "$iter" >"$file.iter"
    frame conv.weight f32 2,1,1,1 "$v" "$v" >"$file.cw"
    frame conv.bias f32 2 "$v" "$v" >"$file.cb"
    frame bn.weight f32 2 "$v" "$v" >"$file.bw"
    frame bn.bias f32 2 "$v" "$v" >"$file.bb"
    frame bn.running_mean f32 2 "$v" "$v" >"$file.rm"
    frame bn.running_var f32 2 "$v" "$v" >"$file.rv"
    frame bn.num_batches_tracked i32 "" "$iter" >"$file.nb"
    parts=("$file".{arch,iter,cw,cb,bw,bb,rm,rv,nb})
    if [ "${4:-}" = opt ]; then
        for p in conv.weight:2,1,1,1 conv.bias:2 bn.weight:2 bn.bias:2; do
            frame "opt.${p%%:*}" f32 "${p#*:}" 0 0 >"$file.opt.${p%%:*}"
            parts+=("$file.opt.${p%%:*}")
        done
    fi
    tns cat "${parts[@]}" >"$file" || return 1
    rm -f "${parts[@]}"
}
