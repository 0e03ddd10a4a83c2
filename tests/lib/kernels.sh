# SPDX-License-Identifier: GPL-2.0
# Debian kernels for tests: images and modules to boot (unpacked from a
# private apt index), and per-suite build chroots holding the headers and the
# compiler each kernel was built with. Source after common.sh.
#
#   VER   suite               headers/compiler        boots
#   5.10  bullseye            chroot bullseye, gcc-10  yes
#   6.1   bookworm            chroot bookworm, gcc-12  yes
#   6.12  bookworm-backports  chroot bookworm, gcc-12  yes (in-tree NE driver)
#   7.2   sid                 chroot sid, gcc-16       yes (in-tree NE driver)
#   debug-6.12  built here from bookworm-backports' linux-source-6.12 with
#         tests/vm/debug-kernel.config (KASAN, lockdep, kmemleak, UBSAN) by
#         tests/vm/build-debug-kernel; host gcc-12, no chroot; boots yes
#
# NE_KERNELS is what check-module covers; debug-6.12 is booted on demand only.

NE_KERNELS="5.10 6.1 6.12 7.2"

# ne_is_debug_kernel VER: VER names the locally built debug kernel.
ne_is_debug_kernel() { [ "$1" = debug-6.12 ]; }

# ne_debug_kernel_dir: where the debug kernel for the current config fragment
# and the current 6.12 release lives (keyed by both; see build-debug-kernel).
ne_debug_kernel_dir() {
	local rel key
	rel=$(ne_kernel_release 6.12)
	key=$( { echo "$rel"; cat "$NE_ROOT/tests/vm/debug-kernel.config"; } |
		sha256sum | cut -c1-12)
	echo "$NE_CACHE/kernels/debug-6.12-$key"
}

# _ne_debug_kernel_ready: the debug kernel's directory, built if missing
# (about an hour on 2 cores: say so before starting).
_ne_debug_kernel_ready() {
	local dir
	dir=$(ne_debug_kernel_dir)
	if [ ! -f "$dir/.ready" ]; then
		ne_log "no debug kernel in $dir: building it (about an hour, see tests/vm/README.md)"
		"$NE_ROOT/tests/vm/build-debug-kernel" >/dev/null ||
			ne_die "tests/vm/build-debug-kernel failed"
	fi
	echo "$dir"
}

# _ne_kernel_suite VER: where the kernel comes from; the chroot it builds in.
_ne_kernel_suite() {
	case $1 in
	5.10) echo bullseye ;;
	6.1) echo bookworm ;;
	6.12) echo bookworm-backports ;;
	7.2) echo sid ;;
	debug-6.12) echo bookworm-backports ;;
	*) ne_die "unknown kernel '$1' (known: $NE_KERNELS debug-6.12)" ;;
	esac
}
_ne_kernel_chroot_suite() {
	case $1 in
	5.10) echo bullseye ;;
	6.1|6.12) echo bookworm ;;
	7.2) echo sid ;;
	esac
}

# ne_kernel_release VER: the uname -r of the newest kernel of that series.
ne_kernel_release() {
	local ver=$1 suite f
	if ne_is_debug_kernel "$ver"; then
		f=$(_ne_debug_kernel_ready) || exit 1
		cat "$f/release"
		return
	fi
	f=$NE_CACHE/kernels/$ver/release
	if [ ! -s "$f" ]; then
		suite=$(_ne_kernel_suite "$ver")
		mkdir -p "$(dirname "$f")"
		ne_suite_update "$suite"
		ne_suite_cache "$suite" show linux-image-amd64 2>/dev/null |
			sed -n 's/^Depends: .*linux-image-\([0-9][^ ,]*-amd64\).*/\1/p' |
			head -n1 >"$f.tmp"
		[ -s "$f.tmp" ] || ne_die "no amd64 kernel found in $suite"
		mv "$f.tmp" "$f"
	fi
	cat "$f"
}

# ne_kernel_fetch VER: image and modules unpacked under $NE_CACHE/kernels/VER.
ne_kernel_fetch() {
	local ver=$1 suite rel root
	if ne_is_debug_kernel "$ver"; then
		_ne_debug_kernel_ready >/dev/null
		return 0
	fi
	root=$NE_CACHE/kernels/$ver/root
	[ -f "$NE_CACHE/kernels/$ver/.fetched" ] && return 0
	suite=$(_ne_kernel_suite "$ver")
	rel=$(ne_kernel_release "$ver")
	ne_log "fetching kernel $rel ($suite)"
	rm -rf "$root"
	if ne_suite_cache "$suite" show "linux-modules-$rel" >/dev/null 2>&1; then
		# sid splits the image: linux-binary has vmlinuz, linux-modules the rest
		ne_suite_fetch "$suite" "$root" "linux-binary-$rel" "linux-modules-$rel"
	else
		ne_suite_fetch "$suite" "$root" "linux-image-$rel"
	fi
	[ -f "$root/boot/vmlinuz-$rel" ] || [ -f "$root/usr/lib/modules/$rel/vmlinuz" ] ||
		ne_die "no vmlinuz in linux-image-$rel"
	[ -d "$root/lib/modules/$rel" ] || [ -d "$root/usr/lib/modules/$rel" ] ||
		ne_die "no modules in linux-image-$rel"
	touch "$NE_CACHE/kernels/$ver/.fetched"
}

ne_kernel_image() {
	local root rel
	if ne_is_debug_kernel "$1"; then
		root=$(_ne_debug_kernel_ready) || exit 1
		echo "$root/vmlinuz"
		return
	fi
	ne_kernel_fetch "$1"
	root=$NE_CACHE/kernels/$1/root
	rel=$(ne_kernel_release "$1")
	if [ -f "$root/boot/vmlinuz-$rel" ]; then
		echo "$root/boot/vmlinuz-$rel"
	else
		echo "$root/usr/lib/modules/$rel/vmlinuz"	# sid's split packages
	fi
}

# (Debian image packages ship no modules.dep: run depmod -b on a copy.)
ne_kernel_moddir() {
	local root rel
	if ne_is_debug_kernel "$1"; then
		root=$(_ne_debug_kernel_ready) || exit 1
		echo "$root/root/lib/modules/$(cat "$root/release")"
		return
	fi
	ne_kernel_fetch "$1"
	root=$NE_CACHE/kernels/$1/root
	rel=$(ne_kernel_release "$1")
	if [ -d "$root/lib/modules/$rel" ]; then
		echo "$root/lib/modules/$rel"
	else
		echo "$root/usr/lib/modules/$rel"
	fi
}

# ne_build_chroot SUITE: a minbase chroot with make and a C toolchain.
# Kept as a directory (it is used, not tested); rebuilt when missing.
ne_build_chroot() {
	local suite=$1 dir
	dir=$NE_CACHE/chroots/build-$suite
	if [ ! -f "$dir/.ready" ]; then
		mkdir -p "$(dirname "$dir")"
		# one creator at a time: check-module and check-arm64-build may
		# both want it
		(
			flock 9
			[ -f "$dir/.ready" ] && exit 0
			ne_need_pkgs debootstrap
			rm -rf "$dir"
			ne_log "creating $suite build chroot (a few minutes, once)"
			debootstrap --variant=minbase --include=make,ca-certificates,perl,python3 \
				"$suite" "$dir" "$NE_MIRROR" >"$dir.log" 2>&1 ||
				{ tail -n 20 "$dir.log" >&2; ne_die "debootstrap $suite failed"; }
			echo 'Acquire::Check-Valid-Until "false";' \
				>"$dir/etc/apt/apt.conf.d/99no-valid-until"
			# Headers may pull a kernel image; nothing here boots from the
			# chroot, so never spend minutes generating an initramfs.
			chroot "$dir" dpkg-divert --local --rename \
				--add /usr/sbin/update-initramfs >/dev/null
			ln -sf /bin/true "$dir/usr/sbin/update-initramfs"
			if [ "$suite" = bookworm ]; then
				# backports for the 6.12 headers, never preferred over bookworm
				echo "deb $NE_MIRROR bookworm-backports main" \
					>"$dir/etc/apt/sources.list.d/backports.list"
				printf 'Package: *\nPin: release a=bookworm-backports\nPin-Priority: 100\n' \
					>"$dir/etc/apt/preferences.d/backports"
			fi
			chroot "$dir" apt-get -q update >>"$dir.log" 2>&1 ||
				ne_die "apt-get update in $suite chroot failed"
			touch "$dir/.ready"
		) 9>"$dir.lock" || exit 1
	fi
	echo "$dir"
}

# ne_kernel_kdir VER: prints "CHROOT KDIR" (KDIR as seen inside the chroot),
# installing the headers (and through them the right compiler) once.
ne_kernel_kdir() {
	local ver=$1 rel dir suite
	rel=$(ne_kernel_release "$ver")
	suite=$(_ne_kernel_chroot_suite "$ver")
	dir=$(ne_build_chroot "$suite")
	if [ ! -f "$dir/usr/src/linux-headers-$rel/Makefile" ]; then
		ne_log "installing linux-headers-$rel in the $suite chroot"
		local t=()
		[ "$ver" = 6.12 ] && t=(-t bookworm-backports)
		chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
			--no-install-recommends install "${t[@]}" \
			"linux-headers-$rel" >>"$dir.log" 2>&1 ||
			{ tail -n 20 "$dir.log" >&2; ne_die "cannot install linux-headers-$rel"; }
	fi
	echo "$dir /usr/src/linux-headers-$rel"
}

# ne_module_build VER SRCDIR OUTDIR [make args...]: build an out-of-tree
# module against VER inside its chroot; *.ko, ne_config.h (the probes'
# results) and build.log land in OUTDIR.
ne_module_build() {
	local ver=$1 src=$2 out=$3; shift 3
	local chr kdir scratch rc=0
	if ne_is_debug_kernel "$ver"; then
		_ne_debug_module_build "$src" "$out" "$@"
		return
	fi
	read -r chr kdir < <(ne_kernel_kdir "$ver")
	[ -n "$kdir" ] || return 1
	scratch=/build/ne-$ver-$$
	rm -rf "${chr:?}$scratch"
	mkdir -p "$chr$scratch" "$out"
	# Same layout as the repo and the DKMS tree: module/ next to uapi/.
	cp -a "$src" "$chr$scratch/module"
	[ -d "$src/../uapi" ] && cp -a "$src/../uapi" "$chr$scratch/uapi"
	[ -f "$src/../VERSION" ] && cp "$src/../VERSION" "$chr$scratch/"
	# objtool (7.x) reads /proc: mount it in a private mount namespace so
	# nothing is left mounted, whatever happens to the build.
	unshare --mount --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' \
		"$chr" make -C "$kdir" M="$scratch/module" "$@" \
		>"$out/build.log" 2>&1 || rc=$?
	rm -f "$out"/*.ko "$out/ne_config.h"
	cp "$chr$scratch/module/ne_config.h" "$out/" 2>/dev/null || true
	if [ $rc -eq 0 ]; then
		cp "$chr$scratch"/module/*.ko "$out/" || rc=1
	fi
	rm -rf "${chr:?}$scratch"
	return $rc
}

# ---- arm64: cross builds, and the arm64 parent VM (tests/vm/run --arch arm64) ----
#
# Debian's arm64 headers (linux-headers-REL, -common) are unpacked from the
# private SUITE:arm64 index into $NE_CACHE/kernels-arm64/VER/root, with the
# *amd64* build of the same linux-kbuild package: the headers' scripts/ and
# tools/ are symlinks into linux-kbuild, whose fixdep/modpost/recordmcount
# are host programs, and the amd64 ones run here. The headers' Makefile
# includes the -common tree by absolute path (/usr/src/...): it is rewritten
# to point into the unpacked tree.
#
#   VER   kernel built with        cross build runs              with
#   5.10  gcc-10                   on the host (bookworm)        aarch64-linux-gnu-gcc-12 (no gcc-10 cross in bookworm)
#   6.1   gcc-12                   on the host                   aarch64-linux-gnu-gcc-12
#   6.12  aarch64-linux-gnu-gcc-12 on the host                   aarch64-linux-gnu-gcc-12, pahole 1.24 (BTF)
#   7.2   aarch64-linux-gnu-gcc-16 in the sid build chroot       aarch64-linux-gnu-gcc-16, sid's pahole
#                                  (sid's kbuild needs glibc 2.38)

# _ne_arm64_chroot VER: the build chroot's suite, or nothing for the host.
_ne_arm64_chroot() {
	case $1 in
	7.2) echo sid ;;
	esac
}

# ne_arm64_release VER: the uname -r of the newest arm64 kernel of that series.
ne_arm64_release() {
	local ver=$1 suite f
	f=$NE_CACHE/kernels-arm64/$ver/release
	if [ ! -s "$f" ]; then
		suite=$(_ne_kernel_suite "$ver")
		mkdir -p "$(dirname "$f")"
		ne_suite_update "$suite:arm64"
		ne_suite_cache "$suite:arm64" show linux-image-arm64 2>/dev/null |
			sed -n 's/^Depends: .*linux-image-\([0-9][^ ,]*-arm64\).*/\1/p' |
			head -n1 >"$f.tmp"
		[ -s "$f.tmp" ] || ne_die "no arm64 kernel found in $suite"
		mv "$f.tmp" "$f"
	fi
	cat "$f"
}

# ne_arm64_kdir VER: unpack the arm64 headers once; print their directory.
ne_arm64_kdir() {
	local ver=$1 suite rel root kbuild common
	rel=$(ne_arm64_release "$ver")
	root=$NE_CACHE/kernels-arm64/$ver/root
	if [ ! -f "$NE_CACHE/kernels-arm64/$ver/.fetched" ]; then
		suite=$(_ne_kernel_suite "$ver")
		ne_log "fetching arm64 headers $rel ($suite)"
		ne_suite_update "$suite:arm64"
		# -common and linux-kbuild-X as the -arm64 package depends on them
		read -r common kbuild < <(ne_suite_cache "$suite:arm64" show \
			"linux-headers-$rel" 2>/dev/null | sed -n 's/^Depends: //p' |
			head -n1 | tr ',' '\n' | sed 's/^ *//; s/ .*//' |
			awk '/^linux-headers-.*-common$/ { c = $0 }
			     /^linux-kbuild-/ { k = $0 }
			     END { print c, k }')
		[ -n "$common" ] && [ -n "$kbuild" ] ||
			ne_die "cannot tell linux-headers-$rel's dependencies"
		rm -rf "$root"
		ne_suite_fetch "$suite:arm64" "$root" "linux-headers-$rel" "$common"
		ne_suite_fetch "$suite" "$root" "$kbuild"
		sed -i "s|/usr/src/|$root/usr/src/|g" \
			"$root/usr/src/linux-headers-$rel/Makefile"
		[ -x "$root/usr/src/linux-headers-$rel/scripts/basic/fixdep" ] ||
			ne_die "no host fixdep for $rel ($kbuild)"
		touch "$NE_CACHE/kernels-arm64/$ver/.fetched"
	fi
	echo "$root/usr/src/linux-headers-$rel"
}

# ne_arm64_kernel_fetch VER: Debian's arm64 image and modules of VER (the
# release ne_arm64_release names), unpacked once into
# $NE_CACHE/kernels-arm64/VER/image, beside the headers' root/.
ne_arm64_kernel_fetch() {
	local ver=$1 suite rel root
	root=$NE_CACHE/kernels-arm64/$ver/image
	[ -f "$root/.fetched" ] && return 0
	suite=$(_ne_kernel_suite "$ver")
	rel=$(ne_arm64_release "$ver")
	ne_log "fetching arm64 kernel $rel ($suite)"
	rm -rf "$root"
	if ne_suite_cache "$suite:arm64" show "linux-modules-$rel" >/dev/null 2>&1; then
		# sid splits the image: linux-binary has vmlinuz, linux-modules the rest
		ne_suite_fetch "$suite:arm64" "$root" "linux-binary-$rel" "linux-modules-$rel"
	else
		ne_suite_fetch "$suite:arm64" "$root" "linux-image-$rel"
	fi
	[ -f "$root/boot/vmlinuz-$rel" ] || [ -f "$root/usr/lib/modules/$rel/vmlinuz" ] ||
		ne_die "no vmlinuz in the arm64 linux-image-$rel"
	touch "$root/.fetched"
}

# ne_arm64_image VER, ne_arm64_moddir VER: what the arm64 VM boots.
ne_arm64_image() {
	local root=$NE_CACHE/kernels-arm64/$1/image rel
	ne_arm64_kernel_fetch "$1"
	rel=$(ne_arm64_release "$1")
	if [ -f "$root/boot/vmlinuz-$rel" ]; then
		echo "$root/boot/vmlinuz-$rel"
	else
		echo "$root/usr/lib/modules/$rel/vmlinuz"
	fi
}
ne_arm64_moddir() {
	local root=$NE_CACHE/kernels-arm64/$1/image rel
	ne_arm64_kernel_fetch "$1"
	rel=$(ne_arm64_release "$1")
	if [ -d "$root/lib/modules/$rel" ]; then
		echo "$root/lib/modules/$rel"
	else
		echo "$root/usr/lib/modules/$rel"
	fi
}

# ne_arm64_busybox: Debian bookworm's static arm64 busybox (busybox-static),
# unpacked once into $NE_CACHE/kernels-arm64/busybox; prints its path.
ne_arm64_busybox() {
	local dir=$NE_CACHE/kernels-arm64/busybox
	if [ ! -f "$dir/.fetched" ]; then
		rm -rf "$dir"
		ne_suite_fetch bookworm:arm64 "$dir" busybox-static
		touch "$dir/.fetched"
	fi
	echo "$dir/bin/busybox"
}

# ne_arm64_sysroot: bookworm's arm64 libraries nectl links against (libkmod
# and what it needs, libyaml, zlib, libcrypto), runtime and -dev packages
# unpacked once into $NE_CACHE/kernels-arm64/sysroot (glibc is the cross
# toolchain's, libc6-dev-arm64-cross: the same 2.36). Prints its directory.
NE_ARM64_SYSROOT_PKGS="libkmod2 libkmod-dev liblzma5 libzstd1 libssl3 libssl-dev
	libyaml-0-2 libyaml-dev zlib1g zlib1g-dev"
ne_arm64_sysroot() {
	local dir=$NE_CACHE/kernels-arm64/sysroot
	if [ ! -f "$dir/.fetched" ]; then
		rm -rf "$dir"
		# shellcheck disable=SC2086
		ne_suite_fetch bookworm:arm64 "$dir" $NE_ARM64_SYSROOT_PKGS
		touch "$dir/.fetched"
	fi
	echo "$dir"
}

# _ne_arm64_toolchain VER: the cross compiler (and pahole) where VER builds;
# prints the CC to use.
_ne_arm64_toolchain() {
	local ver=$1 suite kdir n chr
	kdir=$(ne_arm64_kdir "$ver")
	# the kernel's compiler, from Debian's .kernelvariables: "...gcc-N"
	n=$(sed -n 's/^CC *=.*gcc-\([0-9][0-9]*\) *$/\1/p' "$kdir/.kernelvariables")
	[ -n "$n" ] || ne_die "no compiler version in $kdir/.kernelvariables"
	suite=$(_ne_arm64_chroot "$ver")
	if [ -z "$suite" ]; then
		ne_need_pkgs gcc-aarch64-linux-gnu dwarves
		if ! command -v "aarch64-linux-gnu-gcc-$n" >/dev/null; then
			ne_log "arm64 $ver was built with gcc-$n; building with gcc-12"
			n=12
		fi
	else
		chr=$(ne_build_chroot "$suite")
		if [ ! -x "$chr/usr/bin/aarch64-linux-gnu-gcc-$n" ] ||
		   [ ! -x "$chr/usr/bin/pahole" ]; then
			ne_log "installing gcc-$n-aarch64-linux-gnu in the $suite chroot"
			chroot "$chr" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
				-o DPkg::Lock::Timeout=900 --no-install-recommends \
				install "gcc-$n-aarch64-linux-gnu" dwarves \
				>>"$chr.log" 2>&1 ||
				{ tail -n 20 "$chr.log" >&2
				  ne_die "cannot install gcc-$n-aarch64-linux-gnu in $suite"; }
		fi
	fi
	echo "aarch64-linux-gnu-gcc-$n"
}

# ne_module_build_arm64 VER SRCDIR OUTDIR [make args...]: cross-build an
# out-of-tree module for VER's arm64 kernel; *.ko, ne_config.h (the probes'
# results) and build.log land in OUTDIR.
ne_module_build_arm64() {
	local ver=$1 src=$2 out=$3; shift 3
	local kdir cc suite chr root scratch rc=0
	kdir=$(ne_arm64_kdir "$ver")
	cc=$(_ne_arm64_toolchain "$ver")
	suite=$(_ne_arm64_chroot "$ver")
	root=$NE_CACHE/kernels-arm64/$ver/root
	mkdir -p "$out" "$NE_CACHE/tmp"
	scratch=$(mktemp -d "$NE_CACHE/tmp/ne-arm64-$ver.XXXXXX")
	# Same layout as the repo and the DKMS tree: module/ next to uapi/.
	cp -a "$src" "$scratch/module"
	[ -d "$src/../uapi" ] && cp -a "$src/../uapi" "$scratch/uapi"
	[ -f "$src/../VERSION" ] && cp "$src/../VERSION" "$scratch/"
	local mk=(make -C "$kdir" M="$scratch/module" ARCH=arm64
		CROSS_COMPILE=aarch64-linux-gnu- CC="$cc" "$@")
	if [ -z "$suite" ]; then
		"${mk[@]}" >"$out/build.log" 2>&1 || rc=$?
	else
		# The headers and the scratch dir appear at the same paths in the
		# chroot, bind-mounted in a private mount namespace (with /proc).
		chr=$(ne_build_chroot "$suite")
		mkdir -p "$chr$root" "$chr$scratch"
		unshare --mount --propagation private sh -c '
			c=$1 r=$2 s=$3; shift 3
			mount -t proc proc "$c/proc" &&
			mount --bind "$r" "$c$r" && mount --bind "$s" "$c$s" &&
			exec chroot "$c" "$@"' sh "$chr" "$root" "$scratch" "${mk[@]}" \
			>"$out/build.log" 2>&1 || rc=$?
	fi
	rm -f "$out"/*.ko "$out/ne_config.h"
	cp "$scratch/module/ne_config.h" "$out/" 2>/dev/null || true
	if [ $rc -eq 0 ]; then
		cp "$scratch"/module/*.ko "$out/" || rc=1
	fi
	rm -rf "${scratch:?}"
	[ -z "$suite" ] || rmdir "$chr$scratch" 2>/dev/null || true
	return $rc
}

# _ne_debug_module_build SRCDIR OUTDIR [make args...]: the debug kernel was
# built on this host with the host's gcc: build against its tree directly,
# after checking that the compiler is still the one the kernel was built with.
_ne_debug_module_build() {
	local src=$1 out=$2; shift 2
	local dir kcc hcc scratch rc=0
	dir=$(_ne_debug_kernel_ready) || return 1
	kcc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\(.*\)"$/\1/p' "$dir/build/.config")
	hcc=$(gcc --version | head -n1)
	[ "$kcc" = "$hcc" ] ||
		ne_die "debug kernel built with '$kcc', host has '$hcc': rebuild it (rm -rf $dir)"
	scratch=$(mktemp -d /tmp/ne-debug-module.XXXXXX)
	mkdir -p "$out"
	cp -a "$src" "$scratch/module"
	[ -d "$src/../uapi" ] && cp -a "$src/../uapi" "$scratch/uapi"
	[ -f "$src/../VERSION" ] && cp "$src/../VERSION" "$scratch/"
	nice -n 19 ionice -c3 make -j2 -C "$dir/build" M="$scratch/module" "$@" \
		>"$out/build.log" 2>&1 || rc=$?
	rm -f "$out"/*.ko
	if [ $rc -eq 0 ]; then
		cp "$scratch"/module/*.ko "$out/" || rc=1
	fi
	rm -rf "$scratch"
	return $rc
}
