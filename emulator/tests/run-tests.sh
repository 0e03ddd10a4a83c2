#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run the emulator's test programs (tests/lib/harness: one process per
# test), then again under valgrind when it is installed: the in-process
# programs themselves, and test_daemon with the daemon under valgrind.
# Usage: run-tests.sh TEST...   (NE_BUILD: the build directory)
# Last line: "N passed, N failed, N skipped"; non-zero exit on any failure.
set -u
B=${NE_BUILD:-../build/emulator}
. "$(dirname "$0")/../../tests/lib/summary.sh"

# A leak or a memory error makes valgrind exit 99. valgrind follows the
# harness's forks (each test's process reports its own errors, and its
# exit status 99 fails that test); execs are not traced, so the daemon
# and the fake QEMU that a test starts run natively.
VG="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect"
VG+=" --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
VG+=" --child-silent-after-fork=no"

for t in "$@"; do
	echo "# ---- $t"
	ne_sum_step summary "$t" "$B/tests/$t"
done

if command -v valgrind >/dev/null 2>&1 && [ -z "${NE_NO_VALGRIND:-}" ]; then
	echo "# ---- test_daemon, the daemon under valgrind"
	ne_sum_step summary test_daemon-vg env NE_EMU_WRAP="$VG" NE_EMU_SLOW=1 \
		"$B/tests/test_daemon"
	for t in "$@"; do
		[ "$t" = test_daemon ] && continue
		echo "# ---- $t under valgrind"
		# shellcheck disable=SC2086	# VG is a word list
		ne_sum_step summary "$t-vg" $VG "$B/tests/$t"
	done
else
	echo "# valgrind not installed or NE_NO_VALGRIND set: skipped"
fi

ne_sum_end
