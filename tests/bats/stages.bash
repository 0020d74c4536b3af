# stages.bash - fixtures for the DACS stage suites (pseudolabel, classmix,
# ema-merge, miou): small tensors written from the command line, and frames
# read back as text.  Uses perl's pack/unpack, so no Python is needed; the
# .npy header comes from npy_raw (helpers.bash).

# npy FILE DTYPE SHAPE VALUE...: write a .npy file.  DTYPE is u8, u16, i32
# or f32; SHAPE is comma-separated ("2,4,4"; "" for a scalar).
npy() {
    local file=$1 dtype=$2 shape=$3 descr fmt n=1 d
    shift 3
    case $dtype in
    u8) descr='|u1' fmt=C ;;
    u16) descr='<u2' fmt=v ;;
    i32) descr='<i4' fmt='l<' ;;
    f32) descr='<f4' fmt='f<' ;;
    *) echo "npy: bad dtype $dtype" >&2 && return 1 ;;
    esac
    for d in ${shape//,/ }; do n=$((n * d)); done
    if [ "$n" -ne $# ]; then
        echo "npy: shape ($shape) holds $n values, got $#" >&2
        return 1
    fi
    perl -e 'my $f = shift; print pack("$f*", @ARGV)' -- "$fmt" "$@" |
        npy_raw "$file" "$descr" "$shape"
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

# RGB values of n pixels, grey, base+0 .. base+n-1.
grey() {
    local base=$1 n=$2 p
    for ((p = 0; p < n; p++)); do
        echo -n "$((base + p)) $((base + p)) $((base + p)) "
    done
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
