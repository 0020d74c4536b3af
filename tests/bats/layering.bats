#!/usr/bin/env bats
# The wings of lib/ (lib/README): a wing includes only itself and the wings
# listed before it, and every wing of the Makefile is in lib/README.

load helpers

# the wings, in order, from lib/README's table
wings() {
    awk '/^  wing +holds/ { on = 1; next }
         on && /^  [a-z]+ / { print $1 }
         on && /^$/ { exit }' "$DACS_TOP/lib/README"
}

# check_layering DIR: print every include that breaks the order
check_layering() {
    local dir=$1
    local -a order
    mapfile -t order < <(wings)
    declare -A rank=()
    local i
    for i in "${!order[@]}"; do rank[${order[$i]}]=$i; done
    local f w inc to
    for f in "$dir"/*/*.[ch]; do
        w=$(basename "$(dirname "$f")")
        [ -n "${rank[$w]+set}" ] || { echo "$f: wing '$w' is not in lib/README"; continue; }
        while read -r inc; do
            case $inc in
            */*) to=${inc%%/*} ;;
            *) echo "$f: includes \"$inc\" without its wing"; continue ;;
            esac
            if [ -z "${rank[$to]+set}" ]; then
                echo "$f: includes \"$inc\" of unknown wing '$to'"
            elif [ "${rank[$to]}" -gt "${rank[$w]}" ]; then
                echo "$f: wing $w includes \"$inc\" of wing $to, which comes after it"
            fi
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done
}

@test "lib/README lists the wings in the Makefile's order" {
    local mk
    mk=$(sed -n 's/^WINGS := //p' "$DACS_TOP/Makefile")
    [ -n "$mk" ]
    [ "$(wings | tr '\n' ' ')" = "$mk " ]
}

@test "every #include of lib/ respects the wing order" {
    run check_layering "$DACS_TOP/lib"
    assert_success
    assert_output ""
}

@test "every source file of lib/ is in a wing" {
    run find "$DACS_TOP/lib" -maxdepth 1 -name '*.[ch]'
    assert_output ""
}

@test "the layering check catches an include that reaches down" {
    mkdir -p lib/base lib/nn
    cp "$DACS_TOP/lib/README" lib/
    printf '#include "nn/model.h"\n' >lib/base/bad.c
    printf '#include "base/err.h"\n#include "nn/conv.h"\n' >lib/nn/good.c
    printf '#include "err.h"\n' >lib/nn/flat.c
    run check_layering lib
    assert_line "lib/base/bad.c: wing base includes \"nn/model.h\" of wing nn, which comes after it"
    assert_line "lib/nn/flat.c: includes \"err.h\" without its wing"
    refute_line --partial good.c
}
