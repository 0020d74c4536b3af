# npy.bash - npy_raw, for the Bats suites (through helpers.bash) and for
# scripts that source segdata.bash outside Bats (tests/bench/run).

# npy_raw FILE DESCR SHAPE: write FILE, a NumPy .npy file (format 1.0, as
# NumPy and tns npy-out write it) of dtype DESCR ('|u1', '<u2', '<i4' or
# '<f4') and SHAPE (comma-separated, "2,4,4"; "" for a scalar), whose data
# are the bytes read from stdin.  The one place the tests write a .npy
# header.
npy_raw() {
    local file=$1 descr=$2 shape=$3 tuple
    case $shape in
    "") tuple="()" ;;
    *,*) tuple="(${shape//,/, })" ;;
    *) tuple="($shape,)" ;;
    esac
    local dict="{'descr': '$descr', 'fortran_order': False, 'shape': $tuple, }"
    local pad=$(((64 - (10 + ${#dict} + 1) % 64) % 64))
    local hlen=$((${#dict} + 1 + pad))
    {
        printf '\223NUMPY\001\000'
        printf "\\$(printf %03o $((hlen & 255)))\\$(printf %03o $((hlen >> 8)))"
        printf '%s%*s\n' "$dict" "$pad" ''
        cat
    } >"$file"
}
