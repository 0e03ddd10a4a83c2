#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench`: one `ne-bench run` per workload, each with all
# drivers on the same memory (`-D`): ne-bench maps and touches the memory
# once, then per size lets each driver in turn do its reps, loading it with
# ne-bench-switch (insmod, pool; see switch.sh). Each run starts with the
# driver the previous one ended with (-C), so the driver order keeps
# alternating (ABBA) across workloads with one switch per size. RES lines and '#' notes
# go to stdout. Exit 1 if any step of the harness broke (a driver refusing a
# workload is a result, not a break).
#
# Usage (in the guest): ne-bench-guest [-r REPS] [-L USEC] [-s "256 1024 max"]
#        [-g "1024 max"] [-6 MIB] [-n CYCLES] [-p POOL] LABEL=MODULE.ko[:P=V,...]...

reps=5 lat=100 sizes="256 1024 max" gsizes="1024 max" s6=256 cycles=100 pool=2-5
while getopts r:L:s:g:6:n:p: o; do
	case $o in
	r) reps=$OPTARG ;;
	L) lat=$OPTARG ;;
	s) sizes=$OPTARG ;;
	g) gsizes=$OPTARG ;;
	6) s6=$OPTARG ;;
	n) cycles=$OPTARG ;;
	p) pool=$OPTARG ;;
	*) echo "usage: ne-bench-guest [options] LABEL=MODULE.ko..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "ne-bench-guest: no LABEL=MODULE.ko" >&2; exit 2; }

SWITCH=/bin/ne-bench-switch
H2=/sys/kernel/mm/hugepages/hugepages-2048kB
H1=/sys/kernel/mm/hugepages/hugepages-1048576kB
LOG=/tmp/ne-bench.out
# For ne-bench-switch, through ne-bench.
NE_BENCH_DRIVERS="$*" NE_BENCH_POOL=$pool NE_BENCH_STATE=/run/ne-bench-driver
export NE_BENCH_DRIVERS NE_BENCH_POOL NE_BENCH_STATE
broken=0
up() { cut -d' ' -f1 /proc/uptime; }
note() { echo "# $*"; }
broke() { note "HARNESS: $*"; echo "ne-bench-guest: $*" >&2; broken=$((broken + 1)); }

labels=
for spec in "$@"; do labels="$labels${labels:+,}${spec%%=*}"; done
free2=$(cat $H2/free_hugepages 2>/dev/null || echo 0)
free1=$(cat $H1/free_hugepages 2>/dev/null || echo 0)
# "max": every free 2 MiB page, all 1 GiB pages (mapped once, for all drivers).
max2=$((free2 * 2))
max1=$((free1 * 1024))
note "hugepages: 2 MiB free $free2 (max S $max2 MiB), 1 GiB free $free1"
note "emulator reply latency: $lat us per command; pool $pool; $reps repetitions"
note "drivers $labels on the same pages per workload: $*"
list() { # SIZES MAX: the sizes with max resolved, ascending, no repeats
	for s in $1; do [ "$s" = max ] && s=$2; [ "$s" -le "$2" ] && echo "$s"; done |
		sort -n | uniq
}
s2=$(list "$sizes" "$max2")
s1=$(list "$gsizes" "$max1")
[ -n "$s2" ] || broke "no 2 MiB hugepages for W1/W2"
[ -n "$s1" ] || broke "no 1 GiB hugepages for W3"
[ -x $SWITCH ] || broke "no $SWITCH"

check_free() { # WHEN: warn when hugepages are missing (a leak)
	f2=$(cat $H2/free_hugepages 2>/dev/null || echo 0)
	f1=$(cat $H1/free_hugepages 2>/dev/null || echo 0)
	[ "$f2" = "$free2" ] && [ "$f1" = "$free1" ] ||
		note "warning: $1 free hugepages 2 MiB $f2 (was $free2), 1 GiB $f1 (was $free1)"
}

bench() { # ARGS...: one ne-bench run over all drivers; its failure breaks the harness
	t=$(up)
	# -C: the driver loaded now goes first (ABBA across runs).
	cur=$(cat "$NE_BENCH_STATE" 2>/dev/null)
	{ ne-bench run -D "$labels" -C "$cur" -X $SWITCH -r "$reps" -L "$lat" "$@"
	  echo $? >/tmp/ne-bench.rc; } |
		tee -a $LOG
	rc=$(cat /tmp/ne-bench.rc)
	[ "$rc" = 0 ] || broke "ne-bench run $* exited $rc"
	note "$*: $(awk -v a="$t" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')s"
	check_free "after $*"
}

: >$LOG
# Each maps its largest size once; the smaller sizes use its start.
bench -w W1 -s "$(echo $s2 | tr ' ' ,)"
bench -w W2 -s "$(echo $s2 | tr ' ' ,)"
bench -w W3 -s "$(echo $s1 | tr ' ' ,)"
bench -w W4
bench -w W5 -n "$cycles"
bench -w W6 -s "$s6"
$SWITCH none || broke "unloading the last driver"
check_free "at the end"
awk '/^# W[0-9] total: / {
	for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
} END {
	printf "# untimed: %d driver switches in %.1f s, mapping and touching memory %.1f s\n",
		v["switches"], v["switch_s"], v["map_s"]
}' $LOG
note "guest done after $(up)s, harness breaks: $broken"
[ $broken = 0 ]
