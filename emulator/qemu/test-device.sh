#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Smoke test of the nitro-enclaves QEMU device model (TAP on stdout).
#
# Usage: emulator/qemu/test-device.sh [--qemu BIN] [--kernel VMLINUZ | --no-boot]
#                                     [--no-emulator] [--keep]
#   --qemu BIN     test this binary instead of building/using the cached one
#   --kernel F     kernel for the direct-boot check (default: a kernel
#                  already in $NE_CACHE/kernels/ or /boot, if any);
#                  --no-boot skips that check
#   --no-emulator  skip the group that uses build/emulator/ne-emulator
#                  (it is skipped anyway when that is not built)
#   --keep         keep QEMU/emulator logs (they are kept on failure)
# Exit status: 0 if every test passed.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/lib/common.sh
. "$HERE/../../tests/lib/common.sh"

qemu='' kernel='' boot=1 emu=1 keep=()
while [ $# -gt 0 ]; do
	case "$1" in
	--qemu) qemu=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--no-boot) boot=0 ;;
	--no-emulator) emu=0 ;;
	--keep) keep=(--keep) ;;
	*) ne_die "usage: $0 [--qemu BIN] [--kernel F|--no-boot] [--no-emulator] [--keep]" ;;
	esac
	shift
done

if [ -z "$qemu" ]; then
	qemu=$("$HERE/build-qemu.sh" | tail -n1)
fi
[ -x "$qemu" ] || ne_die "no QEMU binary at $qemu"

args=(--qemu "$qemu")
if [ "$emu" = 1 ] && [ -x "$NE_ROOT/build/emulator/ne-emulator" ] &&
   [ -x "$NE_ROOT/build/emulator/ne-emu-ctl" ]; then
	args+=(--emulator "$NE_ROOT/build/emulator/ne-emulator"
	       --emu-ctl "$NE_ROOT/build/emulator/ne-emu-ctl")
else
	ne_log "ne-emulator not built (make -C emulator): skipping that group"
fi
if [ "$boot" = 1 ]; then
	if [ -z "$kernel" ]; then
		# An already fetched project kernel (tests/lib/kernels.sh), else
		# the host's; never downloads one.
		kernel=$(find "$NE_CACHE"/kernels/*/root/boot /boot \
			 -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V |
			 tail -n1 || true)
	fi
	if [ -n "$kernel" ] && [ -r "$kernel" ]; then
		args+=(--kernel "$kernel")
	else
		ne_log "no kernel to boot: skipping the direct-boot check"
	fi
fi

exec python3 "$HERE/test-device.py" "${args[@]}" "${keep[@]}"
