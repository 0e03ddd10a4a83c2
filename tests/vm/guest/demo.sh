#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo`: tell what happens while the project module
# runs one enclave through its life on the emulated device.

pool=${1:-2-3}
first=${pool%%[-,]*}
p=/sys/module/nitro_enclaves

echo "== Nitro Enclaves on an emulated parent instance =="
echo "kernel $(uname -r); driver nitro_enclaves version $(cat $p/version 2>/dev/null || echo '?')" \
	"srcversion $(cat $p/srcversion 2>/dev/null || echo '?')"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1d0f ] && [ "$(cat "$d/device")" = 0xe4c1 ] || continue
	echo "1. The emulated Nitro Enclaves PCI device ${d##*/} [1d0f:e4c1] is bound to" \
		"'$(basename "$(readlink "$d/driver")")'; $(ls -l /dev/nitro_enclaves | cut -c1-10) /dev/nitro_enclaves."
done
[ -c /dev/nitro_enclaves ] || { echo "no /dev/nitro_enclaves: the driver did not probe"; exit 1; }

echo "2. CPU pool: echo $pool > $p/parameters/ne_cpus"
echo "$pool" >$p/parameters/ne_cpus || exit 1
state=online
[ "$(cat /sys/devices/system/cpu/cpu$first/online)" = 0 ] && state=offline
echo "   CPU $first and its sibling are now $state to Linux, set aside for enclaves;" \
	"ne_cpus reads '$(cat $p/parameters/ne_cpus)'."
echo "3. An enclave's life (ne-flow): create, 64 MiB of 2 MiB hugepages, a full core"
echo "   of vCPUs, start (the device picks the CID), the emulator ends it, POLLHUP, close."
ne-flow -n -s >/tmp/flow.out 2>&1
rc=$?
sed -n 's/^ok [0-9]* - /   [ok] /p; s/^not ok [0-9]* - /   [FAILED] /p; s/^# enclave CID/   enclave CID/p' /tmp/flow.out
echo "4. Release the pool: the CPUs go back to Linux."
echo "" >$p/parameters/ne_cpus 2>/dev/null
state=offline
[ "$(cat /sys/devices/system/cpu/cpu$first/online)" = 1 ] && state=online
echo "   CPU $first is $state again."
if [ $rc = 0 ]; then
	echo "== the enclave was created, started, ended and torn down =="
else
	echo "== FAILED; ne-flow said: =="
	cat /tmp/flow.out
fi
exit $rc
