#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nectl on the emulated device in a VM (kernel 6.12, project module).
#
# The module is not inserted by the harness (--driver none): it is put under
# /lib/modules/<release>/updates/ with indexes made by the host's depmod, plus
# a modprobe.d file, so `nectl load` goes through libkmod exactly as on a
# real host (name lookup, DKMS updates/ path, options from modprobe.d).
#
# Usage: vm-check.sh BUILD_DIR     exit 0 pass, 1 fail, 77 skipped
set -euo pipefail
B=$(cd "${1:?usage: vm-check.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/common.sh"
VER=${NECTL_VM_KERNEL:-6.12}
KO=$NE_ROOT/build/module/$VER/nitro_enclaves.ko
QEMU=${NE_QEMU:-$NE_CACHE/qemu/current/qemu-system-x86_64}

skip() { echo "vm-check: SKIPPED: $*"; exit 77; }
[ -x "$NE_ROOT/tests/vm/run" ] || skip "no tests/vm/run (VM harness)"
[ -f "$KO" ] || skip "no $KO (build it with tests/vm/build-module $VER)"
[ -x "$QEMU" ] || skip "no QEMU with the device at $QEMU (emulator/qemu/build-qemu.sh)"
[ -x "$NE_ROOT/build/emulator/ne-emulator" ] || skip "no build/emulator/ne-emulator (make -C emulator)"

. "$NE_ROOT/tests/lib/kernels.sh"
ne_need_pkgs kmod	# depmod, to index the staged module tree
rel=$(ne_kernel_release "$VER")
moddir=$(ne_kernel_moddir "$VER")

stage=$(mktemp -d /tmp/nectl-vm-XXXXXX)
trap 'rm -rf "$stage"' EXIT
mods=$stage/root/lib/modules/$rel
mkdir -p "$mods/updates" "$stage/etc"
cp "$KO" "$mods/updates/nitro_enclaves.ko"
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ -f "$moddir/$f" ] && cp "$moddir/$f" "$mods/"
done
/sbin/depmod -b "$stage/root" "$rel" || depmod -b "$stage/root" "$rel"
# Options from modprobe.d must reach the module (checked in the guest).
echo "options nitro_enclaves ne_cpus=4-5" >"$stage/etc/nitro_enclaves.conf"

out=$stage/out.txt
set +e
"$NE_ROOT/tests/vm/run" --kernel "$VER" --driver none --quiet --timeout 900 \
	--hugepages 128 \
	--add "$B/nectl:/bin/nectl" \
	--add "$HERE/vm-guest.sh:/bin/nectl-vm-guest.sh" \
	--add "$B/vsock-hello:/bin/vsock-hello" \
	--add "$mods:/lib/modules/$rel" \
	--add "$stage/etc/nitro_enclaves.conf:/etc/modprobe.d/nitro_enclaves.conf" \
	--emu-trace "$stage/trace.txt" \
	-- sh /bin/nectl-vm-guest.sh | tee "$out"
rc=${PIPESTATUS[0]}
set -e

# Host-side checks: the JSON parses, and the device saw the enclaves.
pass=0 fail=0
hc() { if eval "$2"; then pass=$((pass + 1)); echo "ok host - $1"; else fail=$((fail + 1)); echo "not ok host - $1"; fi; }
hc "status --json output is valid JSON with pool and hugepages" \
	'sed -n "s/^JSON: //p" "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"cpu_pool\"][\"cpus\"]==[2,3]; assert d[\"module\"][\"loaded\"]; assert d[\"device\"][\"driver\"]==\"nitro_enclaves\"; assert any(s[\"size_kb\"]==2048 and s[\"total\"]==64 for s in d[\"hugepages\"][0][\"sizes\"])"'
hc "the device started four enclaves (one in debug mode)" \
	'[ "$(grep -c "cmd=ENCLAVE_START" "$stage/trace.txt")" -ge 4 ] && grep "cmd=ENCLAVE_START" "$stage/trace.txt" | grep -q "flags=1"'
hc "every slot was freed" \
	'[ "$(grep -c "cmd=SLOT_ALLOC" "$stage/trace.txt")" = "$(grep -c "cmd=SLOT_FREE" "$stage/trace.txt")" ]'
guest=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n1)
gp=${guest%% passed*}
gf=${guest#*, }
gf=${gf%% failed*}
[ -n "$guest" ] || { gp=0 gf=1; echo "not ok - no summary from the guest (VM run exit $rc)"; }
[ "$rc" = 0 ] || { [ "$gf" != 0 ] || gf=1; echo "# tests/vm/run exited $rc"; }
echo "vm-check: $((gp + pass)) passed, $((gf + fail)) failed"
[ $((gf + fail)) = 0 ]
