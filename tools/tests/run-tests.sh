#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nectl test driver for `make -C tools check`: unit tests, CLI tests, the
# enclave-init helper tests, the unit tests under valgrind, then the VM test
# when its pieces exist.
# Last line: "N passed, M failed"; non-zero exit on any failure.
set -u
B=$(cd "${1:?usage: run-tests.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
total_p=0 total_f=0

# count LOG: add the "N passed, M failed" line of a suite to the totals.
count() {
	local line p f
	line=$(grep -E '^[a-z: -]*[0-9]+ passed, [0-9]+ failed' "$1" | tail -n1)
	if [ -z "$line" ]; then
		total_f=$((total_f + 1))
		echo "not ok - $2 printed no summary"
		return
	fi
	line=${line##*: }
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed*}
	total_p=$((total_p + p))
	total_f=$((total_f + f))
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== unit tests (fake sysfs trees)"
"$B/test_nectl" 2>/dev/null | tee "$log" | grep -v '^ok' || true
count "$log" unit

echo "== CLI tests (fake sysfs trees)"
"$HERE/cli.sh" "$B" 2>&1 | tee "$log" | grep -v '^ok' || true
count "$log" cli

echo "== enclave-init (helpers on the host, static build)"
"$B/test_init" "$B/enclave-init" 2>&1 | tee "$log" | grep -v '^ok' || true
count "$log" enclave-init

if command -v valgrind >/dev/null; then
	echo "== unit tests under valgrind"
	if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		"$B/test_nectl" >/dev/null 2>"$log"; then
		total_p=$((total_p + 1))
		echo "ok - valgrind: no memory errors or leaks"
	else
		total_f=$((total_f + 1))
		echo "not ok - valgrind found problems:"
		grep '==' "$log" | head -n 30
	fi
fi

echo "== VM test (nectl on the emulated device)"
"$HERE/vm-check.sh" "$B" >"$log" 2>&1
rc=$?
if [ $rc = 77 ]; then
	grep SKIPPED "$log"
else
	grep -Ev '^ok|^# ' "$log" | tail -n 40
	count "$log" vm
	[ $rc = 0 ] || [ "$total_f" -gt 0 ] || total_f=$((total_f + 1))
fi

echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
