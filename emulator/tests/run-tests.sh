#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the emulator's test programs, sum their TAP results, and run the
# real-daemon test once more under valgrind when it is installed.
# Last line: "N passed, M failed"; exit status non-zero on any failure.

B=${NE_BUILD:-../build/emulator}
pass=0 fail=0

run() {
	name=$1
	shift
	echo "# ---- $name"
	out=$("$@" 2>&1)
	st=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $name exited with status $st"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

for t in "$@"; do
	run "$t" "$B/tests/$t"
done

if command -v valgrind >/dev/null 2>&1 && [ -z "$NE_NO_VALGRIND" ]; then
	run "test_daemon (daemon under valgrind)" env \
	    NE_EMU_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
	    NE_EMU_SLOW=1 "$B/tests/test_daemon"
	for t in test_engine test_control test_devlink test_ctlclient; do
		run "$t (under valgrind)" valgrind -q --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect \
		    --error-exitcode=99 "$B/tests/$t"
	done
else
	echo "# valgrind not installed or NE_NO_VALGRIND set: skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
