#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of tests/vm/check-arm64's topology checks: the CPUs the guest
# sees are the topology QEMU was given, the device's MSI-X vectors arrive
# (through the GIC's ITS on arm64), and the driver's CPU pool follows the
# topology: CPU 0's core is refused, half a core is refused, a full core is
# taken (offline, read back), the spec §7 flow runs on it, and clearing the
# pool brings the core back. Works with any driver named nitro_enclaves.
# Usage (in the guest): ne-topology THREADS CORE
#   THREADS  threads per core QEMU was given (-smp ...,threads=THREADS)
#   CORE     the full core to pool (e.g. 2-3 with threads=2, 2 with 1)

threads=${1:?threads per core}
core=${2:?a full core}
first=${core%%[-,]*}
params=/sys/module/nitro_enclaves/parameters
n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
pool() { echo "$1" >$params/ne_cpus 2>/dev/null; }
# irqs NAME: interrupts taken so far on the vector NAME, all CPUs.
irqs() {
	awk -v name="$1" '$NF == name {
		s = 0
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i
		print s
	}' /proc/interrupts
}

echo "TAP version 13"
echo "# $(uname -m), kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"

# Each CPU's siblings: consecutive groups of THREADS (QEMU numbers the
# threads of a core next to each other; Linux reads them from the DT's
# cpu-map on arm64, from CPUID on x86).
bad=
for d in /sys/devices/system/cpu/cpu[0-9]*; do
	c=${d##*cpu}
	lo=$((c / threads * threads))
	want=$lo
	[ "$threads" -gt 1 ] && want="$lo-$((lo + threads - 1))"
	got=$(cat "$d/topology/thread_siblings_list")
	echo "# cpu$c: thread_siblings_list $got, core_id $(cat "$d/topology/core_id")"
	[ "$got" = "$want" ] || bad="$bad cpu$c=$got(want $want)"
done
[ -z "$bad" ]
ok $? "thread_siblings_list matches threads=$threads${bad:+:$bad}"

irq=$(grep -E 'enclave_(cmd|evt)' /proc/interrupts)
echo "$irq" | sed 's/^/# /'
[ "$(echo "$irq" | grep -c enclave_)" = 2 ]
ok $? "MSI-X vectors enclave_cmd and enclave_evt requested"
if [ "$(uname -m)" = aarch64 ]; then
	[ "$(echo "$irq" | grep -c 'ITS')" = 2 ]
	ok $? "both vectors are ITS MSI-X (GICv3 ITS)"
fi

[ -c /dev/nitro_enclaves ]
ok $? "/dev/nitro_enclaves exists"

sib0=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list)
! pool "$sib0"
ok $? "ne_cpus refuses CPU 0's core ($sib0)"

if [ "$threads" -gt 1 ]; then
	! pool "$first"
	ok $? "ne_cpus refuses half a core ($first of $core)"
fi

pool "$core"
rc=$?
back=$(cat $params/ne_cpus)
online=$(cat /sys/devices/system/cpu/cpu$first/online)
[ $rc = 0 ] && [ "$back" = "$core" ] && [ "$online" = 0 ]
ok $? "ne_cpus takes the full core $core (reads '$back', CPU $first online=$online)"

echo "# Subtest: spec 7 flow on $core"
ne-flow -n -s -E >/tmp/flow.out 2>&1
rc=$?
sed 's/^/    /' /tmp/flow.out
ok $rc "spec 7 flow on the pool $core: create, memory, CPUs, start, end, close, trace"
cmd=$(irqs enclave_cmd) evt=$(irqs enclave_evt)
[ "${cmd:-0}" -gt 0 ] && [ "${evt:-0}" -gt 0 ]
ok $? "replies and the end event arrived as MSI-X interrupts (cmd $cmd, evt $evt)"

# Upstream refuses "" with EINVAL but still clears the pool.
pool ""
online=$(cat /sys/devices/system/cpu/cpu$first/online)
[ "$online" = 1 ]
ok $? "clearing ne_cpus brings CPU $first back online"

echo "1..$n"
[ $failed = 0 ]
