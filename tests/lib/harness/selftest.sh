#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Harness self-test: every known outcome of selftest.c, and seqtest.c's
# sequential points, must be reported as such.
# Usage: selftest.sh PATH-TO-th-selftest PATH-TO-th-seqtest
# Last line "N passed, N failed, N skipped"; non-zero exit on any failure.
set -u
bin=$1
seq=$2
. "$(dirname "$0")/../summary.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export TH_SELFTEST_DIR=$dir
check() { ne_check "$@"; }
has() { grep -q -- "$1" "$out"; }	# has TEXT: TEXT somewhere in the output
line() { grep -qx -- "$1" "$out"; }	# line LINE: one whole line of the output
last() { [ "$(tail -n1 "$out")" = "$1" ]; }

echo "TAP version 13"
out=$dir/out
"$bin" > "$out" 2>&1; rc=$?
check "non-zero exit when a test fails" test "$rc" -ne 0
check "TAP header" line 'TAP version 13'
check "plan 1..13" line '1..13'
check "pass reported ok" line 'ok 1 self.pass_plain'
check "ASSERT fails and stops" line 'not ok 2 self.fail_assert_stops'
check "ASSERT message printed" has 'one is not two'
check "code after ASSERT not run" sh -c "! grep -q 'NOT REACHED' $out"
check "EXPECT fails and continues" has 'REACHED after EXPECT'
check "EXPECT failure reported" line 'not ok 3 self.fail_expect_continues'
check "errno names printed" has 'got -EINVAL(22), want -ENOENT(2)'
check "EXPECT_OK names the error" has 'got -EBADF(9), want 0 (success)'
check "NE_ERR names printed" has 'got -NE_ERR_INVALID_FLAG_VALUE(274), want -NE_ERR_NOT_IN_INIT_STATE(270)'
check "skip with reason" line 'ok 5 self.skip_with_reason # SKIP no 1 GiB pages here'
check "timeout fails" line 'not ok 6 self.fail_timeout'
check "timeout reported" has 'timed out after 1 s'
check "crash fails" line 'not ok 7 self.fail_crash'
check "crash signal reported" has 'killed by signal 11'
check "FAIL fails" line 'not ok 8 self.fail_unconditional'
check "variant one passes" line 'ok 9 var.one.value_is_one'
check "variant two fails" line 'not ok 10 var.two.value_is_one'
check "teardown ran after failed ASSERT" test -e "$dir/teardown-ran"
check "STREQ fails" line 'not ok 11 self.fail_streq'
check "STREQ prints both strings" has '"2-3", "2-5"'
check "SUBSTR fails" line 'not ok 12 self.fail_substr'
check "SUBSTR prints both strings" has '"no NUMA node has 4 free full cores", "memory"'
check "fixture without variants" line 'ok 13 plainfx.setup_ran'
check "PASSED line" line '# PASSED: 4 / 13 tests passed.'
check "last line is the summary" last '3 passed, 9 failed, 1 skipped'
"$bin" -l > "$dir/list"
check "-l lists 13" test "$(wc -l < "$dir/list")" -eq 13
out=$dir/one
"$bin" -t self.pass_plain > "$out"; rc=$?
check "-t runs one and exits 0" test "$rc" -eq 0
check "-t plan" line '1..1'
check "-t last line" last '1 passed, 0 failed, 0 skipped'
out=$dir/glob
"$bin" -t 'var.*' -T '*.two.*' > "$out"
check "-t/-T globs" line '1..1'
"$bin" -t nosuchtest > /dev/null 2>&1; rc=$?
check "unknown -t is an error" test "$rc" -eq 2
out=$dir/seq
"$seq" > "$out"; rc=$?
check "points: non-zero exit when one fails" test "$rc" -eq 1
check "points: TAP header first" test "$(head -n1 "$out")" = 'TAP version 13'
check "points: a pass" line 'ok 1 - first step'
check "points: a failure" line 'not ok 2 - second step, 2'
check "points: diagnostics" line '# why the second step failed'
check "points: failures counted" line 'ok 3 - 32 regions'
check "points: plan" line '1..3'
check "points: last line is the summary" last '2 passed, 1 failed, 0 skipped'
ne_sum_end
