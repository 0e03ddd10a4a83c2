#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nectl test driver for `make -C tools check`: unit tests, CLI tests, the
# enclave-init helper tests, the unit tests under valgrind, then the VM test
# (skipped when its pieces are not built).
# Last line: "N passed, N failed, N skipped"; non-zero exit on any failure.
set -u
B=$(cd "${1:?usage: run-tests.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/summary.sh"

# nectl's messages for the refused cases go to stderr: not shown.
unit() { "$B/test_nectl" 2>/dev/null; }
# Every test's process is checked: valgrind follows the harness's forks.
unit_valgrind() {
	local log rc
	log=$(mktemp)
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		"$B/test_nectl" >"$log" 2>&1
	rc=$?
	[ $rc = 0 ] || grep -E '==|^not ok' "$log" | head -n 40
	rm -f "$log"
	return $rc
}

echo "== unit tests (fake sysfs trees)"
ne_sum_step summary unit unit

echo "== CLI tests (fake sysfs trees)"
ne_sum_step summary cli "$HERE/cli.sh" "$B"

echo "== enclave-init (helpers on the host, static build)"
ne_sum_step summary enclave-init "$B/test_init" "$B/enclave-init"

if command -v valgrind >/dev/null; then
	echo "== unit tests under valgrind"
	ne_sum_step status valgrind unit_valgrind
fi

echo "== VM test (nectl on the emulated device)"
ne_sum_step summary vm "$HERE/vm-check.sh" "$B"

ne_sum_end
