#!/usr/bin/env bats
# dacs-plot: a run's curves as a PNG, written whole; --help; refusals.

load helpers

PLOT="$DACS_TOP/pipelines/dacs-plot"

# a run directory's log and evaluation, as dacs-train writes them
fake_run() {
    mkdir -p run
    {
        printf 'iter\tloss_src\tloss_mix\tlambda\tlr\tseconds\n'
        for i in $(seq 0 99); do
            printf '%d\t%s\t%s\t%s\t0.01\t0.1\n' "$i" "$((300 - i))e-2" "$((200 - i))e-2" 0.5
        done
    } >run/log.tsv
    printf 'iter\tmodel\tbn\tmiou19\tmiou16\tmiou13\tpixel_acc\n50\tstudent\trunning\t10.0\t11\t12\t40\n99\tteacher\trunning\t12.5\t13\t14\t42\n' >run/eval.tsv
}

@test "dacs-plot: --help, an unknown option, a missing log" {
    run "$PLOT" --help
    assert_success
    assert_line --index 0 "usage: dacs-plot RUN_DIR [OUT.png]"
    run_split "$PLOT" --width 3 run
    [ "$status" -eq 1 ]
    [ "$stderr" = "dacs-plot: unknown option '--width' (usage: dacs-plot RUN_DIR [OUT.png])" ]
    mkdir empty
    run_split "$PLOT" empty
    [ "$status" -eq 1 ]
    [[ $stderr == "dacs-plot: empty/log.tsv: no such file"* ]]
}

@test "dacs-plot: the picture is a PNG, written whole; a failure keeps the old one" {
    command -v gnuplot >/dev/null || skip "gnuplot is not installed"
    fake_run
    run "$PLOT" run
    assert_success
    [ "$(head -c 8 run/curves.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
    cp run/curves.png before.png
    # a gnuplot that fails (a stand-in on PATH): the old picture stays, and
    # no temporary file is left beside it
    mkdir bin
    printf '#!/bin/sh\necho "gnuplot: simulated failure" >&2\nexit 1\n' >bin/gnuplot
    chmod +x bin/gnuplot
    PATH="$PWD/bin:$PATH" run_split "$PLOT" run
    [ "$status" -eq 1 ]
    [ "$stderr" = "dacs-plot: gnuplot failed: gnuplot: simulated failure" ]
    cmp before.png run/curves.png
    [ -z "$(ls -A run | grep -v -e '^log.tsv$' -e '^eval.tsv$' -e '^curves.png$')" ]
}
