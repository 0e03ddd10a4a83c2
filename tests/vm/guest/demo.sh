#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo`: tell what happens while the project module
# runs a real enclave image, from the memory it hands over, on the emulated
# device. Needs tests/vm/run --vsock, nectl, ne-emu-ctl and the image at
# /opt/enclave.eif (tests/vm/mkeif).

pool=${1:-2-3}
first=${pool%%[-,]*}
p=/sys/module/nitro_enclaves
eif=/opt/enclave.eif

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

echo "3. A real enclave: nectl run $eif --memory 128 --cpus 2 --console"
echo "   ($(($(wc -c <$eif) >> 20)) MiB EIF: Debian's kernel and the project's enclave-init;" \
	"nectl writes it into the"
echo "   hugepages it gives the enclave, listens on vsock (CID 3, port 9000), starts the enclave"
echo "   and waits for its heartbeat; the emulator boots the image it reads from those pages."
echo "   --console starts it in debug mode and reads its console as nitro-cli does.)"
nectl run "$eif" --memory 128 --cpus 2 --console >/tmp/console.out 2>/tmp/run.out &
run=$!
t=0
while [ $t -lt 300 ] && kill -0 $run 2>/dev/null &&
      ! grep -q 'enclave running' /tmp/run.out; do
	sleep 1
	t=$((t + 1))
done
sed 's/^/   nectl| /' /tmp/run.out
if ! grep -q 'enclave running' /tmp/run.out; then
	echo "== FAILED: no heartbeat from the enclave =="
	kill $run 2>/dev/null
	ne-emu-ctl vms
	exit 1
fi

cid=$(sed -n 's/.*enclave started: CID \([0-9]*\).*/\1/p' /tmp/run.out)
echo "4. The enclave's serial console, as nectl read it from vsock (CID 0, port $((cid + 10000))):"
sed 's/\r$//; s/^/   enclave| /' /tmp/console.out
echo "   The emulator runs it as: $(ne-emu-ctl vms | sed -n 's/^V \(slot=.*\) up_ms.*/\1/p')"

echo "5. A vsock exchange with the enclave's init (CID $cid, port 5001):"
echo "   parent> ping      enclave> $(ne-vsock "$cid" 5001 ping)"
echo "6. The enclave powers itself off:"
echo "   parent> poweroff  enclave> $(ne-vsock "$cid" 5001 poweroff)"
t=0
while [ $t -lt 60 ] && kill -0 $run 2>/dev/null; do
	sleep 1
	t=$((t + 1))
done
if kill -0 $run 2>/dev/null; then
	echo "   nectl saw no EPOLLHUP within 60 s: stopping it (SIGTERM)"
	kill -TERM $run
fi
wait $run
rc=$?
echo "   the console's last lines, up to the stream's end:"
tail -n 2 /tmp/console.out | sed 's/\r$//; s/^/   enclave| /'
echo "   nectl got EPOLLHUP on the enclave fd, closed it, and the driver freed the slot:"
tail -n 2 /tmp/run.out | sed 's/^/   nectl| /'
left=$(ne-emu-ctl vms | grep -c '^V slot=')
slots=$(ne-emu-ctl slots | grep -c '^SLOT')
echo "   enclave VMs left: $left; device slots left: $slots"
echo "" >$p/parameters/ne_cpus 2>/dev/null
state=offline
[ "$(cat /sys/devices/system/cpu/cpu$first/online)" = 1 ] && state=online
echo "7. Pool released: CPU $first is $state again."
if [ $rc = 0 ] && [ "$left" = 0 ] && [ "$slots" = 0 ] &&
   grep -q 'the enclave exited' /tmp/run.out; then
	echo "== the enclave booted, sent its heartbeat, talked, powered off and was torn down =="
	exit 0
fi
echo "== FAILED (nectl exit $rc) =="
exit 1
