# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the VM harness scripts (tests/vm/*): where QEMU, the
# emulator and the guest programs are, and how to build what is missing.
# Source after tests/lib/common.sh and tests/lib/kernels.sh.

NE_VM_DIR=$NE_ROOT/tests/vm
NE_BUILD=$NE_ROOT/build

# ne_vm_qemu [ARCH]: the QEMU binary with the nitro-enclaves device (NE_QEMU
# wins for amd64, NE_QEMU_AARCH64 for arm64).
ne_vm_qemu() {
	if [ "${1:-amd64}" = arm64 ]; then
		echo "${NE_QEMU_AARCH64:-$NE_CACHE/qemu-aarch64/current/qemu-system-aarch64}"
	else
		echo "${NE_QEMU:-$NE_CACHE/qemu/current/qemu-system-x86_64}"
	fi
}

# ne_vm_build_qemu [ARCH]: build (or reuse) the project's QEMU; quiet when
# cached. arm64: qemu-system-aarch64 (build-qemu.sh --target aarch64).
ne_vm_build_qemu() {
	local arch=${1:-amd64} log=$NE_BUILD/logs/build-qemu.log args=()
	if [ "$arch" = arm64 ]; then
		[ -n "${NE_QEMU_AARCH64:-}" ] && return 0
		log=$NE_BUILD/logs/build-qemu-aarch64.log args=(--target aarch64)
	else
		[ -n "${NE_QEMU:-}" ] && return 0
	fi
	mkdir -p "$(dirname "$log")"
	if ! "$NE_ROOT/emulator/qemu/build-qemu.sh" "${args[@]}" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		ne_die "emulator/qemu/build-qemu.sh ${args[*]} failed (log: $log)"
	fi
	[ -x "$(ne_vm_qemu "$arch")" ] || ne_die "no QEMU binary at $(ne_vm_qemu "$arch")"
}

# ne_vm_vhost_vsock: the vhost-device-vsock binary (Debian sid's package,
# unpacked into the cache: bookworm has none; the sid build needs only
# glibc). NE_VHOST_VSOCK wins. Prints its path.
ne_vm_vhost_vsock() {
	if [ -n "${NE_VHOST_VSOCK:-}" ]; then
		echo "$NE_VHOST_VSOCK"
		return 0
	fi
	local ver dir bin
	for dir in "$NE_CACHE"/vhost-device-vsock/*/; do
		bin=${dir}usr/bin/vhost-device-vsock
		if [ -f "${dir}.complete" ] && [ -x "$bin" ]; then
			echo "$bin"
			return 0
		fi
	done
	ver=$(ne_suite_version sid vhost-device-vsock)
	[ -n "$ver" ] || ne_die "no vhost-device-vsock package in sid"
	dir=$NE_CACHE/vhost-device-vsock/$ver
	ne_log "fetching vhost-device-vsock $ver from sid"
	rm -rf "$dir"
	ne_suite_fetch sid "$dir" vhost-device-vsock
	bin=$dir/usr/bin/vhost-device-vsock
	"$bin" --help >/dev/null 2>&1 ||
		ne_die "$bin does not run here (glibc too old?)"
	touch "$dir/.complete"
	echo "$bin"
}

# ne_vm_build_emulator: make -C emulator (the daemon and ne-emu-ctl).
ne_vm_build_emulator() {
	local log=$NE_BUILD/logs/build-emulator.log
	mkdir -p "$(dirname "$log")"
	if ! make -C "$NE_ROOT/emulator" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		ne_die "make -C emulator failed (log: $log)"
	fi
}

# ne_vm_build_guest [ARCH]: the static guest programs of tests/vm/guest, in
# build/vm/ (amd64) or cross-built into $(ne_vm_guest_dir arm64).
ne_vm_build_guest() {
	local log=$NE_BUILD/logs/build-vm-guest.log args=()
	if [ "${1:-amd64}" = arm64 ]; then
		ne_need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross
		log=$NE_BUILD/logs/build-vm-guest-arm64.log
		args=(CC=aarch64-linux-gnu-gcc OUT="$(ne_vm_guest_dir arm64)")
	fi
	mkdir -p "$(dirname "$log")"
	if ! make -C "$NE_VM_DIR/guest" "${args[@]}" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		ne_die "make -C tests/vm/guest ${args[*]} failed (log: $log)"
	fi
}

# ne_vm_guest_dir [ARCH]: where ne_vm_build_guest puts ARCH's programs.
ne_vm_guest_dir() {
	if [ "${1:-amd64}" = arm64 ]; then
		echo "$NE_BUILD/arm64/vm"
	else
		echo "$NE_BUILD/vm"
	fi
}

# ne_vm_arm64_libs OUTDIR ELF...: the shared libraries the aarch64 ELF files
# need (NEEDED, recursively, from ne_arm64_sysroot and the cross glibc) into
# OUTDIR/lib/aarch64-linux-gnu, and the loader into OUTDIR/lib: pass
# `run --arch arm64 --add OUTDIR/lib:/lib` (mkinitramfs cannot ldd an
# aarch64 program, so it copies no libraries for one).
ne_vm_arm64_libs() {
	local out=$1 sr f lib d found todo
	shift
	ne_need_pkgs binutils-aarch64-linux-gnu libc6-dev-arm64-cross
	sr=$(ne_arm64_sysroot)
	local dirs=("$sr/usr/lib/aarch64-linux-gnu" "$sr/lib/aarch64-linux-gnu"
		/usr/aarch64-linux-gnu/lib)
	rm -rf "$out"
	mkdir -p "$out/lib/aarch64-linux-gnu"
	cp -L /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 "$out/lib/"
	todo=("$@")
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		for lib in $(aarch64-linux-gnu-readelf -d "$f" |
			     sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[ -e "$out/lib/aarch64-linux-gnu/$lib" ] && continue
			found=
			for d in "${dirs[@]}"; do
				[ -e "$d/$lib" ] && { found=$d/$lib; break; }
			done
			[ -n "$found" ] || ne_die "$f needs $lib, which the arm64 sysroot lacks"
			cp -L "$found" "$out/lib/aarch64-linux-gnu/$lib"
			todo+=("$out/lib/aarch64-linux-gnu/$lib")
		done
	done
}

# ne_vm_make_tools_arm64 [VAR=VALUE]... TARGET...: make -C tools, cross-built
# against the arm64 sysroot into build/arm64/tools/ (B=).
ne_vm_make_tools_arm64() {
	local sr log=$NE_BUILD/logs/build-tools-arm64.log
	ne_need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	sr=$(ne_arm64_sysroot)
	mkdir -p "$(dirname "$log")"
	if ! make -C "$NE_ROOT/tools" CC=aarch64-linux-gnu-gcc B="$NE_BUILD/arm64/tools" \
		CFLAGS="-O2 -g -I$sr/usr/include -I$sr/usr/include/aarch64-linux-gnu" \
		LDFLAGS="-L$sr/usr/lib/aarch64-linux-gnu -L$sr/lib/aarch64-linux-gnu -Wl,-rpath-link,$sr/usr/lib/aarch64-linux-gnu:$sr/lib/aarch64-linux-gnu" \
		"$@" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		ne_die "cross-building tools/ ($*) failed (log: $log)"
	fi
}

# ne_vm_build_nectl_arm64: nectl (tools/) cross-built against the arm64
# sysroot into build/arm64/tools/, its libraries into build/arm64/nectl-libs.
ne_vm_build_nectl_arm64() {
	ne_vm_make_tools_arm64 "$NE_BUILD/arm64/tools/nectl"
	ne_vm_arm64_libs "$NE_BUILD/arm64/nectl-libs" "$NE_BUILD/arm64/tools/nectl"
}

# ne_vm_build_tests_arm64: the unit tests cross-built for the arm64 VM into
# build/arm64/tests/: tests/unit's (static), enclave-init and its test_init
# (static), and nectl's test_nectl (dynamic: Debian ships no static
# libkmod; ne_vm_arm64_libs gives its libraries).
ne_vm_build_tests_arm64() {
	local out=$NE_BUILD/arm64/tests t=$NE_BUILD/arm64/tools log=$NE_BUILD/logs/build-unit-arm64.log
	ne_need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	mkdir -p "$out" "$(dirname "$log")"
	# (CFLAGS from the environment: tests/unit's Makefile appends to it)
	if ! CFLAGS="-O2 -g -static" make -C "$NE_ROOT/tests/unit" CC=aarch64-linux-gnu-gcc \
		OUT="$NE_BUILD/arm64/unit" all >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		ne_die "cross-building tests/unit failed (log: $log)"
	fi
	ne_vm_make_tools_arm64 LDFLAGS=-static "$t/enclave-init" "$t/test_init"
	ne_vm_make_tools_arm64 "$t/test_nectl"
	cp "$NE_BUILD"/arm64/unit/test_* "$t/enclave-init" "$t/test_init" "$t/test_nectl" "$out/"
}

# ne_vm_need_host_pkgs: what booting a guest needs on the host.
ne_vm_need_host_pkgs() {
	ne_need_pkgs busybox-static cpio xz-utils zstd qemu-system-data seabios
}

# ne_vm_decompress SRC DST: a kernel module, whatever its compression.
ne_vm_decompress() {
	case $1 in
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -q -dc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) cp "$1" "$2" ;;
	esac
}

# ne_vm_find_mod MODDIR NAME: path of the in-tree module NAME (any suffix).
ne_vm_find_mod() {
	find "$1/kernel" \( -name "$2.ko" -o -name "$2.ko.xz" -o -name "$2.ko.zst" \
		-o -name "$2.ko.gz" \) -print -quit 2>/dev/null
}

# ne_vm_module_fresh VER: build/module/VER/nitro_enclaves.ko is newer than
# every source it is built from (so a rebuild can be skipped).
ne_vm_module_fresh() {
	local ko=$NE_BUILD/module/$1/nitro_enclaves.ko f
	[ -f "$ko" ] || return 1
	while IFS= read -r f; do
		[ "$NE_ROOT/$f" -nt "$ko" ] && return 1
	done < <(git -C "$NE_ROOT" ls-files module uapi 2>/dev/null || true)
	return 0
}

# ne_vm_ldd_libs FILE: the shared libraries and the loader FILE needs, one
# path a line, read from ldd's resolved lines only ("name => /path (0x..)"
# and "/path (0x..)"). A library ldd cannot find fails it, by name. A
# version a library lacks ("version `GLIBC_2.43' not found") is only noted:
# what ldd resolved is still copied, and the file may never run.
ne_vm_ldd_libs() {
	local out
	out=$(ldd "$1" 2>&1) || true
	awk -v file="$1" '
		$2 == "=>" && $3 == "not" && $4 == "found" {
			missing = missing " " $1
			next
		}
		$2 == "=>" && $3 ~ /^\// { print $3; next }
		NF == 2 && $1 ~ /^\// && $2 ~ /^\(0x/ { print $1; next }
		/version `.*'"'"' not found/ {
			print "note: " $0 >"/dev/stderr"
		}
		END {
			if (missing != "") {
				print "error: " file " needs" missing \
				      ", which ldd does not find" >"/dev/stderr"
				exit 1
			}
		}' <<<"$out"
}
