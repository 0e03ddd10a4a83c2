#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench`: for each driver in turn (insmod, pool, all
# workloads, pool cleared, rmmod) run ne-bench and pass its RES lines on.
# Lines starting with '#' are notes for the reader. Exit 1 if any step of
# the harness broke (a driver refusing a workload is a result, not a break).
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

NE_CPUS=/sys/module/nitro_enclaves/parameters/ne_cpus
H2=/sys/kernel/mm/hugepages/hugepages-2048kB
H1=/sys/kernel/mm/hugepages/hugepages-1048576kB
broken=0
up() { cut -d' ' -f1 /proc/uptime; }
note() { echo "# $*"; }
broke() { note "HARNESS: $*"; echo "ne-bench-guest: $*" >&2; broken=$((broken + 1)); }

free2=$(cat $H2/free_hugepages 2>/dev/null || echo 0)
free1=$(cat $H1/free_hugepages 2>/dev/null || echo 0)
# "max": every free 2 MiB page (same S for both drivers), all 1 GiB pages.
max2=$((free2 * 2))
max1=$((free1 * 1024))
note "hugepages: 2 MiB free $free2 (max S $max2 MiB), 1 GiB free $free1"
note "emulator reply latency: $lat us per command; pool $pool; $reps repetitions"
list() { # SIZES MAX: the sizes with max resolved, ascending, no repeats
	for s in $1; do [ "$s" = max ] && s=$2; [ "$s" -le "$2" ] && echo "$s"; done |
		sort -n | uniq
}
s2=$(list "$sizes" "$max2")
s1=$(list "$gsizes" "$max1")
[ -n "$s2" ] || broke "no 2 MiB hugepages for W1/W2"
[ -n "$s1" ] || broke "no 1 GiB hugepages for W3"

bench() { # LABEL ARGS...: one ne-bench run; its failure breaks the harness
	label=$1
	shift
	t=$(up)
	ne-bench run -d "$label" -r "$reps" -L "$lat" "$@" || broke "ne-bench run $* ($label) exited $?"
	note "$label $*: $(awk -v a="$t" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')s"
}

online_all() {
	for c in /sys/devices/system/cpu/cpu[0-9]*/online; do
		[ "$(cat "$c")" = 1 ] || echo 1 >"$c" 2>/dev/null
	done
}

for spec in "$@"; do
	label=${spec%%=*}
	ko=${spec#*=}
	params=
	case $ko in *:*) params=$(echo "${ko#*:}" | tr , ' '); ko=${ko%%:*} ;; esac
	if grep -q '^nitro_enclaves ' /proc/modules; then
		rmmod nitro_enclaves || { broke "rmmod before $label"; break; }
	fi
	note "driver $label: insmod $ko $params"
	# shellcheck disable=SC2086
	insmod "$ko" $params || { broke "insmod $ko $params"; continue; }
	i=0
	while [ ! -c /dev/nitro_enclaves ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -c /dev/nitro_enclaves ] || { broke "no /dev/nitro_enclaves with $label"; continue; }
	if ! echo "$pool" >$NE_CPUS; then
		broke "ne_cpus=$pool refused by $label"
		rmmod nitro_enclaves
		continue
	fi
	# Each maps its largest size once; the smaller sizes use its start.
	bench "$label" -w W1 -s "$(echo $s2 | tr ' ' ,)"
	bench "$label" -w W2 -s "$(echo $s2 | tr ' ' ,)"
	bench "$label" -w W3 -s "$(echo $s1 | tr ' ' ,)"
	bench "$label" -w W4
	bench "$label" -w W5 -n "$cycles"
	bench "$label" -w W6 -s "$s6"
	# An empty pool string returns EINVAL by design and onlines the CPUs.
	echo >$NE_CPUS 2>/dev/null
	online_all
	rmmod nitro_enclaves || broke "rmmod $label"
	f2=$(cat $H2/free_hugepages 2>/dev/null || echo 0)
	f1=$(cat $H1/free_hugepages 2>/dev/null || echo 0)
	[ "$f2" = "$free2" ] && [ "$f1" = "$free1" ] ||
		note "warning: after $label free hugepages 2 MiB $f2 (was $free2), 1 GiB $f1 (was $free1)"
done
note "guest done after $(up)s, harness breaks: $broken"
[ $broken = 0 ]
