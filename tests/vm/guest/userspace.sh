#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of tests/vm/check-arm64's userspace checks, in one boot: the
# unit tests cross-built for the guest's architecture, then `nectl status
# --json` beside what the guest's sysfs says, before and after a CPU pool
# is set. Prints sections for tests/vm/userspace-check to judge on the
# host; always exits 0 (a test's exit status is in its section).
# Usage (in the guest): ne-userspace [--tests DIR] POOL
#   --tests DIR  run DIR's test_ne_merge, test_ne_cpu_pool, test_abi,
#                test_nectl and test_init (with DIR/enclave-init)
#   POOL         the cpulist written to the driver's ne_cpus

tests=
if [ "$1" = --tests ]; then
	tests=$2
	shift 2
fi
pool=${1:?the CPU pool to set}

# section NAME CMD...: CMD's output and exit status under "== NAME".
section() {
	name=$1
	shift
	echo "== $name"
	"$@" 2>&1
	echo "== rc $?"
}

if [ -n "$tests" ]; then
	for t in test_ne_merge test_ne_cpu_pool test_abi test_nectl; do
		section "test $t" "$tests/$t"
	done
	section "test test_init" "$tests/test_init" "$tests/enclave-init"
fi

# Each CPU's thread_siblings_list, or "offline" (no topology directory).
siblings() {
	for d in /sys/devices/system/cpu/cpu[0-9]*; do
		if [ -r "$d/topology/thread_siblings_list" ]; then
			echo "${d##*/} $(cat "$d/topology/thread_siblings_list")"
		else
			echo "${d##*/} offline"
		fi
	done
}
section "siblings before" siblings
section "status before" nectl status --json
section "pool" sh -c "echo $pool >/sys/module/nitro_enclaves/parameters/ne_cpus"
section "siblings after" siblings
section "status after" nectl status --json
exit 0
