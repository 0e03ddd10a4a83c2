#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The suite's test names, on the host: listed, unique, and every test named
# in upstream-hazards.txt exists. Usage: check-names.sh PATH-TO-ne-conformance
# Last line "N passed, N failed, N skipped"; non-zero exit on any failure.
set -u
conf=$1
here=$(dirname "$0")
. "$here/../lib/summary.sh"
hazards=$here/upstream-hazards.txt
list=$(mktemp)
trap 'rm -f "$list"' EXIT
missing_hazards() {
	grep -v '^#' "$hazards" | cut -f1 | grep . | while read -r name; do
		grep -qx "$name" "$list" || { echo "# missing: $name"; exit 1; }
	done
}

"$conf" -l > "$list"
ne_check "suite lists tests" test "$(wc -l < "$list")" -gt 100
ne_check "suite names unique" test "$(sort "$list" | uniq -d | wc -l)" -eq 0
ne_check "hazard list matches suite" missing_hazards
ne_sum_end
