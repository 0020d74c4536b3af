#!/usr/bin/env bats
# ema-merge: the mean-teacher update, streamed.

load helpers
load stages

PARAMS="conv.weight conv.bias bn.weight bn.bias bn.running_mean bn.running_var"

# every f32 parameter of FILE equals V (2 elements each)
all_params() {
    local file=$1 v=$2 f
    for f in $PARAMS; do
        [ "$(values "$file" "$f")" = "$v $v" ] || {
            echo "$f: $(values "$file" "$f"), expected $v $v" >&2
            return 1
        }
    done
}

@test "ema-merge --help shows usage and defaults" {
    run ema-merge --help
    assert_success
    assert_output --partial "usage: ema-merge [OPTIONS] TEACHER STUDENT"
    assert_output --partial "default 0.99"
    assert_output --partial "alpha = min(1 - 1/(t+1), alpha_max)"
}

@test "ema-merge at t = 0 with no teacher: a copy of the student without opt.*" {
    model s.tns 1 2 opt
    run_split ema-merge teacher.tns s.tns -o teacher.tns
    [ "$status" -eq 0 ]
    [ "$stderr" = "ema-merge: t=0 alpha=0 iter=1 frames=9 averaged=0 copied=9 skipped=4" ]
    tns drop 'opt.*' <s.tns | cmp - teacher.tns
    # meta.iter 0 is t = 0 as well
    model s0.tns 0 3 opt
    ema-merge -q none.tns s0.tns >t0.tns
    all_params t0.tns 3
}

@test "ema-merge at t = 0 with a teacher copies the student" {
    model t.tns 0 1
    model s.tns 1 2 opt
    ema-merge -q t.tns s.tns >n.tns
    tns drop 'opt.*' <s.tns | cmp - n.tns
}

@test "ema-merge at t = 1: alpha 1/2" {
    model t.tns 1 1
    model s.tns 2 2 opt
    run_split ema-merge t.tns s.tns -o n.tns
    [ "$stderr" = "ema-merge: t=1 alpha=0.5 iter=2 frames=9 averaged=6 copied=3 skipped=4" ]
    all_params n.tns 1.5
    [ "$(values n.tns meta.iter)" = 2 ]
    [ "$(values n.tns bn.num_batches_tracked)" = 2 ]
    [ "$(tns get -i n.tns meta.arch)" = "$(tns get -i s.tns meta.arch)" ]
    run tns info n.tns
    refute_output --partial "opt."
}

@test "ema-merge at t = 100: alpha 0.99" {
    model t.tns 100 1
    model s.tns 101 2 opt
    run_split ema-merge t.tns s.tns -o n.tns
    [[ $stderr == *"t=100 alpha=0.99 iter=101"* ]]
    # (float)(0.99 * 1 + 0.01 * 2) = 1.00999999
    all_params n.tns 1.00999999
}

@test "ema-merge: output frames in the teacher's order, same names and shapes" {
    model t.tns 5 1
    model s.tns 6 2 opt
    ema-merge -q t.tns s.tns >n.tns
    diff <(tns info t.tns | cut -f1-4) <(tns info n.tns | cut -f1-4)
}

@test "ema-merge --alpha 0 returns the student; --alpha 1 the teacher" {
    model t.tns 50 1
    model s.tns 51 2 opt
    ema-merge -q --alpha 0 t.tns s.tns >a0.tns
    tns drop 'opt.*' <s.tns | cmp - a0.tns
    ema-merge -q --alpha 1 t.tns s.tns >a1.tns
    all_params a1.tns 1
    [ "$(values a1.tns meta.iter)" = 51 ]
}

@test "ema-merge --iter and --alpha-max override the schedule" {
    model t.tns 100 1
    model s.tns 101 2 opt
    run_split ema-merge --iter 1 t.tns s.tns -o n.tns
    [[ $stderr == *"t=1 alpha=0.5 iter=101"* ]]
    all_params n.tns 1.5
    ema-merge -q --alpha-max 0.5 t.tns s.tns >m.tns
    all_params m.tns 1.5
}

@test "ema-merge --bn-stats copy takes running statistics from the student" {
    model t.tns 1 1
    model s.tns 2 3 opt
    ema-merge -q --bn-stats copy t.tns s.tns >n.tns
    [ "$(values n.tns bn.running_mean)" = "3 3" ]
    [ "$(values n.tns bn.running_var)" = "3 3" ]
    [ "$(values n.tns bn.weight)" = "2 2" ]
    [ "$(values n.tns conv.weight)" = "2 2" ]
    ema-merge -q --bn-stats average t.tns s.tns >a.tns
    [ "$(values a.tns bn.running_mean)" = "2 2" ]
}

@test "ema-merge -o TEACHER updates in place; the student may come on stdin" {
    model s1.tns 1 4 opt
    model s2.tns 2 2 opt
    ema-merge -q teacher.tns s1.tns -o teacher.tns
    all_params teacher.tns 4
    ema-merge -q teacher.tns - -o teacher.tns <s2.tns
    all_params teacher.tns 3
    left=$(ls -A | grep -v -x -e teacher.tns -e s1.tns -e s2.tns || true)
    [ -z "$left" ]
}

@test "ema-merge: a missing teacher at t > 0 is an error" {
    model s.tns 5 2 opt
    run_split ema-merge none.tns s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"none.tns does not exist, but t = 4 > 0"* ]]
    run_split ema-merge --iter 3 none.tns s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"t = 3 > 0"* ]]
}

@test "ema-merge: frames that differ in name, order, shape or dtype" {
    model t.tns 1 1
    model s.tns 2 2 opt
    tns rename -i s.tns conv.bias=conv.b >renamed.tns
    run_split ema-merge t.tns renamed.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"teacher has 'conv.bias', student has 'bn.weight'"* ]]
    frame conv.bias f32 3 2 2 2 >cb.tns
    tns cat --replace s.tns cb.tns >shape.tns
    run_split ema-merge t.tns shape.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"frame 'conv.bias': teacher has shape 2, student has 3"* ]]
    frame bn.num_batches_tracked f32 "" 2 >nb.tns
    tns cat --replace s.tns nb.tns >dtype.tns
    run_split ema-merge t.tns dtype.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"frame 'bn.num_batches_tracked': teacher has dtype i32, student has f32"* ]]
}

@test "ema-merge: different architectures" {
    model t.tns 1 1
    model s.tns 2 2 opt
    text meta.arch 'net=tiny\nclasses=3\n' >arch.tns
    tns cat --replace s.tns arch.tns >other.tns
    run_split ema-merge t.tns other.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"meta.arch"*"teacher has 'classes=2', student has 'classes=3'"* ]]
    # texts of other lengths are other architectures too, not a shape
    text meta.arch 'net=tiny\nclasses=19\n' >arch.tns
    tns cat --replace s.tns arch.tns >other.tns
    run_split ema-merge t.tns other.tns
    assert_clean_failure ema-merge
    [ "$stderr" = "ema-merge: frame 'meta.arch': the architectures differ: teacher has 'classes=2', student has 'classes=19'" ]
}

@test "ema-merge: one model longer than the other" {
    model t.tns 1 1
    model s.tns 2 2 opt
    frame extra.weight f32 2 1 1 >x.tns
    tns cat t.tns x.tns >tlong.tns
    run_split ema-merge tlong.tns s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"teacher has a frame 'extra.weight' after the student's last"* ]]
    tns cat s.tns x.tns >slong.tns
    run_split ema-merge t.tns slong.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"teacher ends before frame 9 'extra.weight' of the student"* ]]
}

@test "ema-merge: NaN in either model" {
    model t.tns 1 1
    model s.tns 2 2 opt
    frame bn.bias f32 2 1 NaN >nan.tns
    tns cat --replace s.tns nan.tns >sn.tns
    run_split ema-merge t.tns sn.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"student: frame 'bn.bias': element 1 is NaN"* ]]
    tns cat --replace t.tns nan.tns >tn.tns
    run_split ema-merge tn.tns s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"teacher: frame 'bn.bias'"* ]]
}

@test "ema-merge: not a checkpoint, bad meta.iter" {
    model s.tns 2 2 opt
    tns drop meta.arch <s.tns >noarch.tns
    run_split ema-merge none.tns noarch.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"first frame is 'meta.iter', expected 'meta.arch'"* ]]
    frame meta.iter f32 "" 2 >it.tns
    tns cat --replace s.tns it.tns >badit.tns
    run_split ema-merge none.tns badit.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"'meta.iter' is f32 scalar, expected a non-negative i32 scalar"* ]]
}

@test "ema-merge: a failed merge leaves -o untouched" {
    model t.tns 1 1
    cp t.tns keep.tns
    model s.tns 2 2 opt
    frame bn.bias f32 2 1 NaN >nan.tns
    tns cat --replace s.tns nan.tns >sn.tns
    run_split ema-merge t.tns sn.tns -o t.tns
    [ "$status" -ne 0 ]
    cmp t.tns keep.tns
    # no temporary file is left behind (they are hidden: .NAME.XXXXXX)
    [ -z "$(ls -A | grep '^\.')" ]
}

@test "ema-merge: bad arguments" {
    model s.tns 2 2 opt
    run_split ema-merge s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"expected TEACHER and STUDENT, got 1 argument"* ]]
    run_split ema-merge --bogus s.tns s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"unknown option '--bogus'"* ]]
    run_split ema-merge --alpha 2 s.tns s.tns
    assert_clean_failure ema-merge
    [[ $stderr == *"--alpha: expected a number in [0, 1]"* ]]
    run_split ema-merge - -
    assert_clean_failure ema-merge
    run_split ema-merge --bn-stats keep s.tns s.tns
    assert_clean_failure ema-merge
}
