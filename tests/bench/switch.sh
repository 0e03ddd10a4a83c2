#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench`: load one driver for `ne-bench run -X`, which
# runs this as `ne-bench-switch LABEL` before that driver's turn (ne-bench
# holds no fd of the device then). Clears the CPU pool of the loaded
# driver (its CPUs come back online) and unloads it, inserts LABEL's module
# with its parameters, waits for /dev/nitro_enclaves and sets the pool.
# Nothing is done when LABEL is already loaded by a previous switch.
# `ne-bench-switch none` only unloads.
#
# Usage (in the guest): ne-bench-switch LABEL|none
# Environment (set by ne-bench-guest):
#   NE_BENCH_DRIVERS  "LABEL=MODULE.ko[:P=V,...] ..." (the guest's arguments)
#   NE_BENCH_POOL     the CPU pool (cpulist) written to ne_cpus
#   NE_BENCH_STATE    file holding the loaded LABEL (default /run/ne-bench-driver)
# One '#' note on stdout per real switch, errors on stderr. Exit status: 0
# when LABEL is loaded with its pool, 1 when a step failed (then no driver
# is recorded as loaded), 2 on bad usage (nothing touched).

label=$1
state=${NE_BENCH_STATE:-/run/ne-bench-driver}
pool=${NE_BENCH_POOL:-}
NE_CPUS=/sys/module/nitro_enclaves/parameters/ne_cpus
die() { echo "ne-bench-switch $label: $*" >&2; exit 1; }
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }

# Everything is checked before the system is touched.
[ $# = 1 ] && [ -n "$label" ] || { echo "usage: ne-bench-switch LABEL|none" >&2; exit 2; }
ko='' params=''
if [ "$label" != none ]; then
	for spec in $NE_BENCH_DRIVERS; do
		[ "${spec%%=*}" = "$label" ] || continue
		ko=${spec#*=}
		case $ko in *:*) params=$(echo "${ko#*:}" | tr , ' '); ko=${ko%%:*} ;; esac
	done
	[ -n "$ko" ] || { echo "ne-bench-switch: no driver '$label' in NE_BENCH_DRIVERS" >&2; exit 2; }
	[ -n "$pool" ] || { echo "ne-bench-switch: NE_BENCH_POOL is empty" >&2; exit 2; }
fi

loaded() { grep -q '^nitro_enclaves ' /proc/modules; }
if [ "$label" != none ] && [ "$(cat "$state" 2>/dev/null)" = "$label" ] &&
   loaded && [ -c /dev/nitro_enclaves ]; then
	echo "# ne-bench-switch $label: already loaded"
	exit 0
fi

rm -f "$state"
t=$(up)
if loaded; then
	# An empty pool string returns EINVAL by design and onlines the CPUs.
	echo >$NE_CPUS 2>/dev/null
	for c in /sys/devices/system/cpu/cpu[0-9]*/online; do
		[ "$(cat "$c")" = 1 ] || echo 1 >"$c" 2>/dev/null
	done
	# The last fput of ne-bench's fds may still be on its way: retry a little.
	i=0
	until rmmod nitro_enclaves 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 20 ] || { rmmod nitro_enclaves; die "rmmod failed"; }
		sleep 0.1
	done
fi
t_unload=$(since "$t")
[ "$label" != none ] || { echo "# ne-bench-switch none: unload ${t_unload} s"; exit 0; }

t=$(up)
# shellcheck disable=SC2086
insmod "$ko" $params || die "insmod $ko $params failed"
i=0
while [ ! -c /dev/nitro_enclaves ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -c /dev/nitro_enclaves ] || die "no /dev/nitro_enclaves after insmod"
t_load=$(since "$t")
t=$(up)
echo "$pool" >$NE_CPUS || die "ne_cpus=$pool refused"
echo "$label" >"$state"
echo "# ne-bench-switch $label: unload $t_unload s, insmod $ko${params:+ $params} $t_load s, pool $pool $(since "$t") s"
