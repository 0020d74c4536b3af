#!/usr/bin/env bats
# The project stands alone: nothing in it cites a document outside it, and
# every manual page it names is in it.

load helpers

# the tracked sources and documents (not build outputs), as absolute paths:
# the function runs in a pipeline's subshell, so its cd does not reach the
# command that reads the names
files() {
    cd "$DACS_TOP" &&
        find lib tools tests man pipelines README.md Makefile .gitignore \
            -type f ! -name '*.tns' ! -name '*.npy' ! -name '*.png' \
            ! -path '*/corpus/*' \
            ! -path '*/regress/*' -printf "$DACS_TOP/%p\n"
}

@test "no file cites the method notes or a shared folder outside the project" {
    local hits
    # the patterns are bracketed so that this file does not cite them itself
    hits=$(files | xargs grep -l -e 'METHO[D]\.md' -e '\.\./share[d]' \
        -e '/work/share[d]' 2>/dev/null || true)
    [ -z "$hits" ] || fail "cited in: $hits"
}

@test "every section-5 and section-7 page a page or a help text names exists" {
    local missing="" page
    for page in $(files | xargs grep -ohE '(tns|dacs(-[a-z]+)?)\((5|7)\)' |
        sort -u); do
        local name=${page%%(*} sec=${page#*(}
        sec=${sec%)}
        [ -f "$DACS_TOP/man/man$sec/$name.$sec" ] || missing+=" $page"
    done
    [ -z "$missing" ] || fail "no page for:$missing"
    [ -f "$DACS_TOP/man/man7/dacs-method.7" ]
}

@test "no stray shell output at the top of the tree" {
    [ -z "$(cd "$DACS_TOP" && git ls-files '*.res' 2>/dev/null)" ]
    grep -qx '\*\.res' "$DACS_TOP/.gitignore"
}
