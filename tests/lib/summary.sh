# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The project's one test summary. Every check target, and every script that
# runs several test steps, ends its standard output with the line
#
#	N passed, N failed, N skipped
#
# and exits non-zero when anything failed. Source this file (bash): it only
# defines functions and the running totals. Used by tests/lib/steps (steps
# of one make target), tests/lib/check-all (the targets of make check) and
# the shell tests that check one thing a line (ne_check).

ne_sum_passed=0 ne_sum_failed=0 ne_sum_skipped=0 ne_check_n=0
ne_sum_recap=()

# ne_check DESCRIPTION COMMAND...: one TAP line, ok when COMMAND succeeds.
ne_check() {
	local desc=$1
	shift
	ne_check_n=$((ne_check_n + 1))
	if "$@"; then
		echo "ok $ne_check_n - $desc"
		ne_sum_passed=$((ne_sum_passed + 1))
	else
		echo "not ok $ne_check_n - $desc"
		ne_sum_failed=$((ne_sum_failed + 1))
	fi
}

# ne_sum_counts FILE [strict]: "P F S" of the last summary line in FILE;
# nothing when there is none. Lenient by default: "N passed, N failed"
# alone (S is 0) and one "word: " before it are accepted, as older runners
# print; strict takes only the exact line above.
ne_sum_counts() {
	local re='^([a-z-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'
	[ "${2:-}" = strict ] &&
		re='^()([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)$'
	sed -nE "s/$re/\\2 \\3 \\5/p" "$1" | tail -n1 | awk '{ print $1, $2, $3 + 0 }'
}

# ne_sum_step KIND NAME COMMAND...: run COMMAND (its stdout and stderr shown,
# and kept in $NE_SUM_LOGDIR/NAME.log when NE_SUM_LOGDIR is set), then add
# what it reports to the totals. KIND says how it reports:
#   summary  its last summary line (lenient)    strict  the same, exact form
#   tap      its "ok N" / "not ok N" lines, "# SKIP" ones skipped
#   status   one test: exit 0 passed, 77 skipped, else failed
#   need     a prerequisite: counts only when it fails (one failure)
# Exit status 77 with no summary is one skip; any other non-zero exit
# that reports no failure counts one.
ne_sum_step() {
	local kind=$1 name=$2 log tmp="" rc p=0 f=0 s=0 counts t0=$SECONDS
	shift 2
	if [ -n "${NE_SUM_LOGDIR:-}" ]; then
		mkdir -p "$NE_SUM_LOGDIR"
		log=$NE_SUM_LOGDIR/$name.log
	else
		tmp=$(mktemp) log=$tmp
	fi
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	case $kind in
	summary|strict)
		counts=$(ne_sum_counts "$log" "$kind")
		if [ -n "$counts" ]; then
			read -r p f s <<<"$counts"
		elif [ "$rc" = 77 ]; then
			s=1
		else
			f=1
			echo "# $name: printed no summary line ('N passed, N failed, N skipped')"
		fi ;;
	tap)
		s=$(grep -cE '^ok [0-9]+.*# *SKIP' "$log")
		p=$(( $(grep -cE '^ok [0-9]+' "$log") - s ))
		f=$(grep -cE '^not ok [0-9]+' "$log")
		[ $((p + f + s)) -gt 0 ] || { f=1; echo "# $name: no TAP result"; } ;;
	status)
		case $rc in 0) p=1 ;; 77) s=1 ;; *) f=1 ;; esac ;;
	need)
		;;
	*)
		echo "ne_sum_step: unknown kind '$kind'" >&2
		f=1 ;;
	esac
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ "$f" = 0 ]; then
		f=1
		echo "# $name: exit status $rc"
	fi
	[ -z "$tmp" ] || rm -f "$tmp"
	ne_sum_passed=$((ne_sum_passed + p))
	ne_sum_failed=$((ne_sum_failed + f))
	ne_sum_skipped=$((ne_sum_skipped + s))
	[ "$rc" = 0 ] && rc= || rc=", exit $rc"
	ne_sum_recap+=("$(printf '%-20s %s passed, %s failed, %s skipped (%ss%s)' \
		"$name" "$p" "$f" "$s" $((SECONDS - t0)) "$rc")")
	[ "$f" = 0 ]
}

# ne_sum_end: the TAP plan of the ne_check lines, or one recap line per
# step; then the total as the last line. Fails when anything failed.
ne_sum_end() {
	local line
	[ "$ne_check_n" = 0 ] || echo "1..$ne_check_n"
	[ ${#ne_sum_recap[@]} = 0 ] || echo "# ---- summary"
	for line in "${ne_sum_recap[@]}"; do
		echo "# $line"
	done
	echo "$ne_sum_passed passed, $ne_sum_failed failed, $ne_sum_skipped skipped"
	[ "$ne_sum_failed" = 0 ]
}
