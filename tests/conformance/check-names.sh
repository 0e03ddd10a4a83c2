#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The suite's test names, on the host: listed, unique, and every test named
# in upstream-hazards.txt exists. Usage: check-names.sh PATH-TO-ne-conformance
# Last line "N passed, N failed, N skipped"; non-zero exit on any failure.
set -u
conf=$1
hazards=$(dirname "$0")/upstream-hazards.txt
list=$(mktemp)
trap 'rm -f "$list"' EXIT
n=0 fails=0
check() {	# check DESCRIPTION COMMAND...
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		fails=$((fails + 1))
	fi
}
missing_hazards() {
	grep -v '^#' "$hazards" | cut -f1 | grep . | while read -r name; do
		grep -qx "$name" "$list" || { echo "# missing: $name"; exit 1; }
	done
}

"$conf" -l > "$list"
check "suite lists tests" test "$(wc -l < "$list")" -gt 100
check "suite names unique" test "$(sort "$list" | uniq -d | wc -l)" -eq 0
check "hazard list matches suite" missing_hazards
echo "1..$n"
echo "$((n - fails)) passed, $fails failed, 0 skipped"
[ "$fails" -eq 0 ]
