#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nectl on the emulated device in a VM (kernel 6.12): once with the project's
# module, once with the kernel's own (upstream) nitro_enclaves.ko.
#
# The module is not inserted by the harness (--driver none): it is staged in
# /lib/modules/<release>/ (project: updates/ like a DKMS copy, plus a
# modprobe.d options file; in-kernel: kernel/drivers/virt/...) with indexes
# made by the host's depmod, so `nectl load` goes through libkmod exactly as
# on a real host.
#
# Usage: vm-check.sh BUILD_DIR     exit 0 pass, 1 fail, 77 skipped; last line
#   "N passed, N failed, N skipped"
#   NECTL_VM_DRIVERS="project inkernel" (default), NECTL_VM_KERNEL=6.12
set -euo pipefail
B=$(cd "${1:?usage: vm-check.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/common.sh"
VER=${NECTL_VM_KERNEL:-6.12}
KO=$NE_ROOT/build/module/$VER/nitro_enclaves.ko
QEMU=${NE_QEMU:-$NE_CACHE/qemu/current/qemu-system-x86_64}

skip() { echo "vm-check: SKIPPED: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 77; }
[ -x "$NE_ROOT/tests/vm/run" ] || skip "no tests/vm/run (VM harness)"
[ -f "$KO" ] || skip "no $KO (build it with tests/vm/build-module $VER)"
[ -x "$QEMU" ] || skip "no QEMU with the device at $QEMU (emulator/qemu/build-qemu.sh)"
[ -x "$NE_ROOT/build/emulator/ne-emulator" ] || skip "no build/emulator/ne-emulator (make -C emulator)"

. "$NE_ROOT/tests/lib/kernels.sh"
. "$NE_ROOT/tests/vm/lib.sh"
ne_need_pkgs kmod	# depmod, to index the staged module tree
rel=$(ne_kernel_release "$VER")
moddir=$(ne_kernel_moddir "$VER")

stage=$(mktemp -d /tmp/nectl-vm-XXXXXX)
trap 'rm -rf "$stage"' EXIT
pass=0 fail=0 gp=0 gf=0 skipped=0
hc() { if eval "$2"; then pass=$((pass + 1)); echo "ok host - $1"; else fail=$((fail + 1)); echo "not ok host - $1"; fi; }

# run_variant project|inkernel: stage a module tree, boot, check.
run_variant() {
	local variant=$1 mods=$stage/$1/root/lib/modules/$rel out=$stage/$1/out.txt
	local trace=$stage/$1/trace.txt rc guest p f ko extra=()

	mkdir -p "$mods"
	if [ "$variant" = project ]; then
		mkdir -p "$mods/updates"
		cp "$KO" "$mods/updates/nitro_enclaves.ko"
		# Options from modprobe.d must reach the module (checked in the guest).
		echo "options nitro_enclaves ne_cpus=4-5" >"$stage/$1/nitro_enclaves.conf"
		extra=(--add "$stage/$1/nitro_enclaves.conf:/etc/modprobe.d/nitro_enclaves.conf")
	else
		ko=$(ne_vm_find_mod "$moddir" nitro_enclaves)
		[ -n "$ko" ] || { echo "# kernel $VER has no in-tree nitro_enclaves: skipped"
				  skipped=$((skipped + 1)); return 0; }
		mkdir -p "$mods/$(dirname "${ko#"$moddir"/}")"
		cp "$ko" "$mods/${ko#"$moddir"/}"
	fi
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ -f "$moddir/$f" ] && cp "$moddir/$f" "$mods/"
	done
	/sbin/depmod -b "$stage/$1/root" "$rel"

	echo "== VM: nectl with the $variant driver (kernel $VER)"
	set +e
	"$NE_ROOT/tests/vm/run" --kernel "$VER" --driver none --quiet --timeout 900 \
		--hugepages 128 \
		--add "$B/nectl:/bin/nectl" \
		--add "$HERE/vm-guest.sh:/bin/nectl-vm-guest.sh" \
		--add "$B/vsock-hello:/bin/vsock-hello" \
		--add "$mods:/lib/modules/$rel" "${extra[@]}" \
		--emu-trace "$trace" \
		-- sh /bin/nectl-vm-guest.sh "$variant" | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e

	# Host-side checks: the JSON parses, and the device saw the enclaves.
	hc "$variant: status --json output is valid JSON with pool and hugepages" \
		'sed -n "s/^JSON: //p" "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"cpu_pool\"][\"cpus\"]==[2,3]; assert d[\"module\"][\"loaded\"]; assert d[\"device\"][\"driver\"]==\"nitro_enclaves\"; assert any(s[\"size_kb\"]==2048 and s[\"total\"]==64 for s in d[\"hugepages\"][0][\"sizes\"])"'
	hc "$variant: the device started four enclaves (one in debug mode)" \
		'[ "$(grep -c "cmd=ENCLAVE_START" "$trace")" -ge 4 ] && grep "cmd=ENCLAVE_START" "$trace" | grep -q "flags=1"'
	hc "$variant: every slot was freed" \
		'[ "$(grep -c "cmd=SLOT_ALLOC" "$trace")" = "$(grep -c "cmd=SLOT_FREE" "$trace")" ]'
	guest=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n1)
	if [ -z "$guest" ]; then
		echo "not ok - $variant: no summary from the guest (VM run exit $rc)"
		gf=$((gf + 1))
		return 0
	fi
	p=${guest%% passed*}
	f=${guest#*, }
	f=${f%% failed*}
	gp=$((gp + p))
	gf=$((gf + f))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $variant: tests/vm/run exited $rc"
		gf=$((gf + 1))
	fi
}

for v in ${NECTL_VM_DRIVERS:-project inkernel}; do
	run_variant "$v"
done
echo "$((gp + pass)) passed, $((gf + fail)) failed, $skipped skipped"
[ $((gf + fail)) = 0 ]
