#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the fidelity proof (issue 2): the driver that is loaded (the
# kernel's in-tree nitro_enclaves.ko) accepts the emulated device quietly,
# and the spec §7 flow runs against it. ne-flow's TAP is nested as subtests.
# Usage (in the guest): ne-fidelity [POOL]   (default 2-3, one full core)

pool=${1:-2-3}
first=${pool%%[-,]*}
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
# driver_lines MARK: dmesg lines after the kmsg line MARK that mention the
# driver or its device (the harness's own "ne-vm:" markers excluded, and the
# PCI core's "enabling device (0000 -> 0002)": on arm64's virt machine no
# firmware turns memory decoding on before the driver's pci_enable_device).
driver_lines() {
	dmesg | sed -n "/$1/,\$p" | grep -v 'ne-vm:' |
		grep -v 'enabling device (0000 -> 0002)$' |
		grep -iE "nitro|${bdf:-none}" || true
}
mark() { echo "ne-vm: $1" >/dev/kmsg; }
# subtest NAME ARGS...: run ne-flow, indent its TAP, report one result.
subtest() {
	name=$1
	shift
	echo "# Subtest: $name"
	ne-flow "$@" >/tmp/sub.out 2>&1
	rc=$?
	sed 's/^/    /' /tmp/sub.out
	ok $rc "$name"
}

echo "TAP version 13"

bdf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1d0f ] && [ "$(cat "$d/device")" = 0xe4c1 ]; then
		bdf=${d##*/}
	fi
done
[ -n "$bdf" ]
ok $? "PCI device 1d0f:e4c1 present (${bdf:-none})"

drv=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver" 2>/dev/null)" 2>/dev/null)
[ "$drv" = nitro_enclaves ]
ok $? "bound to driver nitro_enclaves (${drv:-none})"

mode=$(stat -c '%F %a' /dev/nitro_enclaves 2>/dev/null)
[ "$mode" = "character special file 660" ]
ok $? "/dev/nitro_enclaves is a character device, mode 0660 (${mode:-missing})"

grep -q enclave_cmd /proc/interrupts && grep -q enclave_evt /proc/interrupts
ok $? "MSI-X vectors enclave_cmd and enclave_evt requested"

lines=$(driver_lines 'ne-vm: insmod driver')
[ -z "$lines" ]
ok $? "probe logged nothing"
[ -n "$lines" ] && echo "$lines" | sed 's/^/# dmesg: /'

# A half core is refused (the pool must hold whole cores).
sib=$(cat /sys/devices/system/cpu/cpu$first/topology/thread_siblings_list)
echo "$first" >/sys/module/nitro_enclaves/parameters/ne_cpus 2>/dev/null
rc=$?
[ "$sib" = "$first" ] || [ $rc -ne 0 ]
ok $? "ne_cpus refuses a half core ($first of siblings $sib)"

mark "fidelity: success path"
echo "$pool" >/sys/module/nitro_enclaves/parameters/ne_cpus
rc=$?
back=$(cat /sys/module/nitro_enclaves/parameters/ne_cpus)
online=$(cat /sys/devices/system/cpu/cpu$first/online)
[ $rc = 0 ] && [ "$back" = "$pool" ] && [ "$online" = 0 ]
ok $? "ne_cpus takes the full core $pool (reads '$back', CPU $first offline)"

subtest "spec 7 flow: create, 64 MiB, full core, start, end, POLLHUP, close, trace" -n -s -E
lines=$(driver_lines 'ne-vm: fidelity: success path')
[ -z "$lines" ]
ok $? "the pool setup and the flow logged nothing"
[ -n "$lines" ] && echo "$lines" | sed 's/^/# dmesg: /'

subtest "injected SLOT_ALLOC rc -22 is the errno of NE_CREATE_VM" -n -F

echo "" >/sys/module/nitro_enclaves/parameters/ne_cpus 2>/dev/null
rc=$?
online=$(cat /sys/devices/system/cpu/cpu$first/online)
[ $rc -ne 0 ] && [ "$online" = 1 ]
ok $? "writing '' to ne_cpus fails and brings CPU $first back online"

echo "1..$n"
[ $failed = 0 ]
