#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Harness self-test: every known outcome must be reported as such.
set -u
bin=$1
conf=${2:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export TH_SELFTEST_DIR=$dir
fails=0
check() {	# check DESCRIPTION COMMAND...
	if "$@"; then echo "ok - $desc"; else echo "FAILED - $desc"; fails=$((fails + 1)); fi
}
out=$dir/out
"$bin" > "$out" 2>&1; rc=$?
desc="non-zero exit when a test fails"; check test "$rc" -ne 0
desc="TAP header"; check grep -qx 'TAP version 13' "$out"
desc="plan 1..10"; check grep -qx '1..10' "$out"
desc="pass reported ok"; check grep -qx 'ok 1 self.pass_plain' "$out"
desc="ASSERT fails and stops"; check grep -qx 'not ok 2 self.fail_assert_stops' "$out"
desc="ASSERT message printed"; check grep -q 'one is not two' "$out"
desc="code after ASSERT not run"; check sh -c "! grep -q 'NOT REACHED' $out"
desc="EXPECT fails and continues"; check grep -q 'REACHED after EXPECT' "$out"
desc="EXPECT failure reported"; check grep -qx 'not ok 3 self.fail_expect_continues' "$out"
desc="errno names printed"; check grep -q 'got -EINVAL(22), want -ENOENT(2)' "$out"
desc="NE_ERR names printed"; check grep -q 'got -NE_ERR_INVALID_FLAG_VALUE(274), want -NE_ERR_NOT_IN_INIT_STATE(270)' "$out"
desc="skip with reason"; check grep -qx 'ok 5 self.skip_with_reason # SKIP no 1 GiB pages here' "$out"
desc="timeout fails"; check grep -qx 'not ok 6 self.fail_timeout' "$out"
desc="timeout reported"; check grep -q 'timed out after 1 s' "$out"
desc="crash fails"; check grep -qx 'not ok 7 self.fail_crash' "$out"
desc="crash signal reported"; check grep -q 'killed by signal 11' "$out"
desc="FAIL fails"; check grep -qx 'not ok 8 self.fail_unconditional' "$out"
desc="variant one passes"; check grep -qx 'ok 9 var.one.value_is_one' "$out"
desc="variant two fails"; check grep -qx 'not ok 10 var.two.value_is_one' "$out"
desc="teardown ran after failed ASSERT"; check test -e "$dir/teardown-ran"
desc="PASSED line"; check grep -qx '# PASSED: 3 / 10 tests passed.' "$out"
desc="final line"; check sh -c "tail -n1 $out | grep -qx '2 passed, 7 failed, 1 skipped'"
"$bin" -l > "$dir/list"
desc="-l lists 10"; check test "$(wc -l < "$dir/list")" -eq 10
"$bin" -t self.pass_plain > "$dir/one"; rc=$?
desc="-t runs one and exits 0"; check test "$rc" -eq 0
desc="-t plan"; check grep -qx '1..1' "$dir/one"
desc="-t final line"; check sh -c "tail -n1 $dir/one | grep -qx '1 passed, 0 failed'"
"$bin" -t 'var.*' -T '*.two.*' > "$dir/glob"
desc="-t/-T globs"; check grep -qx '1..1' "$dir/glob"
"$bin" -t nosuchtest > /dev/null 2>&1; rc=$?
desc="unknown -t is an error"; check test "$rc" -eq 2
if [ -n "$conf" ]; then
	"$conf" -l > "$dir/clist"
	desc="suite lists tests"; check test "$(wc -l < "$dir/clist")" -gt 100
	desc="suite names unique"; check test "$(sort "$dir/clist" | uniq -d | wc -l)" -eq 0
	desc="hazard list matches suite"; check sh -c "grep -v '^#' $(dirname "$0")/../upstream-hazards.txt | cut -f1 | grep . | while read -r n; do grep -qx \"\$n\" $dir/clist || { echo missing \$n; exit 1; }; done"
fi
echo "$fails self-test check(s) failed"
[ "$fails" -eq 0 ]
