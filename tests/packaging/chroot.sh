# SPDX-License-Identifier: GPL-2.0
# Cached Debian chroots for the package install tests (source it).
#
# A chroot is debootstrapped once (minbase) with dkms, compilers and kernel
# headers installed, and kept as a tarball under $NE_CACHE/chroots, keyed by
# suite, a hash of the recipe (NE_CHROOT_RECIPE plus the package lists) and
# the day it was made. A tarball
# younger than NE_CHROOT_MAX_AGE days (default 14) is reused; older ones are
# rebuilt so security updates are picked up. Every test run unpacks a fresh
# copy, so runs never see each other's state.

NE_CHROOT_MAX_AGE=${NE_CHROOT_MAX_AGE:-14}
# Bump when _ne_chroot_build changes what ends up in the chroot.
NE_CHROOT_RECIPE=1
NE_CHROOT_BASE_PKGS="dkms libc6-dev pkg-config openssl kmod systemd-standalone-sysusers"
# A chroot is named by its suite, or SUITE-arm64 for the cross-build one:
# amd64 with arm64 added as a dpkg foreign architecture, the cross compiler,
# dkms and debian/control's build dependencies for arm64 (dpkg-buildpackage
# -aarm64); no headers (the arm64 ones are bind-mounted from
# $NE_CACHE/kernels-arm64, see tests/packaging/arm64).
# ne_chroot_suite NAME, ne_chroot_foreign NAME: its suite; its foreign arch.
ne_chroot_suite() { echo "${1%-arm64}"; }
ne_chroot_foreign() { case $1 in *-arm64) echo arm64 ;; esac; }

# ne_chroot_base_pkgs NAME: NE_CHROOT_BASE_PKGS, less what SUITE lacks.
# bullseye (systemd 247) has no systemd-standalone-sysusers; it is only there
# for nitro-enclaves-utils, which bullseye does not get (built on bookworm).
ne_chroot_base_pkgs() {
	case $1 in
	bullseye) echo "${NE_CHROOT_BASE_PKGS/ systemd-standalone-sysusers/}" ;;
	*-arm64) echo "dkms kmod openssl fakeroot dpkg-dev debhelper dh-dkms \
crossbuild-essential-arm64 dwarves xz-utils" ;;
	*) echo "$NE_CHROOT_BASE_PKGS" ;;
	esac
}

# Headers each suite's chroot gets up front ("first"), and headers whose
# debs are only downloaded so a test can install them later ("later").
ne_chroot_first_headers() {
	case $1 in
	bullseye) echo linux-headers-amd64 ;;
	bookworm) echo linux-headers-amd64 BPO:linux-headers-amd64 ;;
	trixie) echo linux-headers-amd64 ;;
	esac
}
ne_chroot_later_headers() {
	case $1 in
	bullseye) echo linux-headers-cloud-amd64 ;;
	bookworm) echo linux-headers-cloud-amd64 ;;
	trixie) echo linux-headers-cloud-amd64 ;;
	esac
}

# (A cross chroot installs debian/control's build dependencies: its
# Build-Depends field is part of the key.)
_ne_chroot_key() {
	{
		printf '%s\n' "$NE_CHROOT_RECIPE" "$(ne_chroot_base_pkgs "$1")" \
			"$(ne_chroot_first_headers "$1")" "$(ne_chroot_later_headers "$1")"
		[ -z "$(ne_chroot_foreign "$1")" ] || _ne_chroot_build_deps
	} | sha256sum | cut -c1-10
}
# _ne_chroot_build_deps: debian/control's Build-Depends field.
_ne_chroot_build_deps() {
	sed -n '/^Build-Depends:/,/^[^ ]/p' "$NE_ROOT/debian/control" | sed '$d'
}

# ne_chroot_tarball NAME: print the path of a usable cached tarball,
# building it first if needed.
ne_chroot_tarball() {
	local suite=$1 key dir t stamp
	key=$(_ne_chroot_key "$suite")
	dir=$NE_CACHE/chroots
	mkdir -p "$dir"
	t=$(find "$dir" -maxdepth 1 -name "pkg-$suite-$key-*.tar.zst" \
		-mtime -"$NE_CHROOT_MAX_AGE" 2>/dev/null | sort | tail -n1)
	if [ -n "$t" ]; then
		echo "$t"
		return 0
	fi
	stamp=$(date -u +%Y%m%d)
	t=$dir/pkg-$suite-$key-$stamp.tar.zst
	_ne_chroot_build "$suite" "$t" >&2 || return 1
	# Older tarballs of this chroot are now stale (KEY-DATE: not SUITE-arm64's).
	find "$dir" -maxdepth 1 -name "pkg-$suite-??????????-????????.tar.zst" ! -path "$t" -delete
	echo "$t"
}

_ne_chroot_build() {
	local name=$1 out=$2 root p bpo_pkgs=() pkgs=() suite foreign
	suite=$(ne_chroot_suite "$name")
	foreign=$(ne_chroot_foreign "$name")
	root=$(mktemp -d "$NE_CACHE/chroots/build-$name.XXXXXX")
	chmod 755 "$root"
	ne_log "debootstrap $suite (minbase) into $root"
	nice debootstrap --variant=minbase "$suite" "$root" "$NE_MIRROR" \
		>"$root.log" 2>&1 || {
		tail -n 20 "$root.log" >&2
		rm -rf "$root" "$root.log"
		ne_die "debootstrap $suite failed"
	}
	rm -f "$root.log"
	# The archive is a snapshot: accept expired Release files.
	echo 'Acquire::Check-Valid-Until "false";' \
		>"$root/etc/apt/apt.conf.d/10no-check-valid-until"
	# Nothing in the chroot may start services.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	{
		echo "deb $NE_MIRROR $suite main"
		echo "deb $NE_MIRROR $suite-updates main"
		echo "deb ${NE_MIRROR%/debian}/debian-security $suite-security main"
		[ "$suite" = bookworm ] && echo "deb $NE_MIRROR bookworm-backports main"
	} >"$root/etc/apt/sources.list"
	# Backports only when asked for by name: pin it low.
	if [ "$suite" = bookworm ]; then
		printf 'Package: *\nPin: release n=bookworm-backports\nPin-Priority: 100\n' \
			>"$root/etc/apt/preferences.d/50backports"
	fi
	for p in $(ne_chroot_first_headers "$name"); do
		case $p in
		BPO:*) bpo_pkgs+=("${p#BPO:}") ;;
		*) pkgs+=("$p") ;;
		esac
	done
	ne_chroot_enter "$root"
	[ -z "$foreign" ] || ne_chroot_sh "$root" "dpkg --add-architecture $foreign"
	ne_chroot_sh "$root" 'apt-get update -q' >/dev/null ||
		{ ne_chroot_leave "$root"; rm -rf "$root"; ne_die "apt update in $suite chroot failed"; }
	# A backports metapackage cannot be installed beside the suite's own,
	# so install what it points to (linux-headers-<release>) by name.
	for p in "${bpo_pkgs[@]}"; do
		p=$(ne_chroot_sh "$root" "apt-cache show $p/bookworm-backports" |
			sed -n 's/^Depends: \(linux-headers-[^ ,]*\).*/\1/p' | head -n1)
		[ -n "$p" ] || { ne_chroot_leave "$root"; rm -rf "$root"; ne_die "no backports headers"; }
		pkgs+=("$p")
	done
	# Headers for later are cached as the package their metapackage points
	# to (the one a test installs): the metapackage itself may be missing
	# from the mirror (bullseye-security's linux-headers-cloud-amd64 was).
	local later=() l
	for p in $(ne_chroot_later_headers "$name"); do
		l=$(ne_chroot_sh "$root" "apt-cache depends $p" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-headers-[^ ]*\)$/\1/p' | head -n1)
		later+=("${l:-$p}")
	done
	ne_log "installing dkms, toolchain and ${pkgs[*]} in the $name chroot (later: ${later[*]})"
	# A cross chroot gets debian/control's build dependencies for $foreign.
	local bdeps=:
	if [ -n "$foreign" ]; then
		mkdir -p "$root/tmp/ne-build-deps/debian"
		cp "$NE_ROOT/debian/control" "$root/tmp/ne-build-deps/debian/"
		bdeps="DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q \
			--no-install-recommends -a $foreign /tmp/ne-build-deps &&
			rm -rf /tmp/ne-build-deps && apt-get clean"
	fi
	if ! ne_chroot_sh "$root" "DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $(ne_chroot_base_pkgs "$name") ${pkgs[*]}" >"$root.log" 2>&1 ||
	   ! ne_chroot_sh "$root" "$bdeps" >>"$root.log" 2>&1 ||
	   ! ne_chroot_sh "$root" "apt-get install -y -q --no-install-recommends \
		--download-only ${later[*]}" >>"$root.log" 2>&1; then
		tail -n 30 "$root.log" >&2
		ne_chroot_leave "$root"
		rm -rf "$root" "$root.log"
		ne_die "package installation in the $name chroot failed"
	fi
	rm -f "$root.log"
	ne_chroot_leave "$root"
	ne_log "packing $out"
	tar -C "$root" --numeric-owner -cf - . | zstd -q -T2 -3 -o "$out.tmp" &&
		mv "$out.tmp" "$out"
	rm -rf "$root"
	[ -f "$out" ] || ne_die "cannot write $out"
}

# ne_chroot_unpack TARBALL DIR: a fresh private copy of a cached chroot.
ne_chroot_unpack() {
	mkdir -p "$2"
	chmod 755 "$2"
	zstd -q -dc "$1" | tar -C "$2" --numeric-owner -xf - ||
		ne_die "cannot unpack $1"
}

# ne_chroot_fresh TARBALL DIR [KEEP]: a fresh copy of a cached chroot in
# DIR, mounted and entered. It (2-3 GB) lives in RAM, on a tmpfs, unless
# KEEP is 1. ne_chroot_drop DIR [KEEP]: leave it and, unless KEEP is 1,
# take it away (a tmpfs goes in one umount; deleting 2-3 GB from disk
# takes minutes).
ne_chroot_fresh() {
	local tarball=$1 root=$2 keep=${3:-0}
	ne_chroot_drop "$root"
	mkdir -p "$root"
	[ "$keep" = 1 ] || mount -t tmpfs -o size=8G,mode=0755 ne-pkg-chroot "$root"
	ne_chroot_unpack "$tarball" "$root" || return 1
	ne_chroot_enter "$root"
}
ne_chroot_drop() {
	local root=$1 keep=${2:-0}
	ne_chroot_leave "$root"
	[ "$keep" = 1 ] && return 0
	if mountpoint -q "$root"; then
		umount "$root" || umount -l "$root"
	fi
	rm -rf "$root"
}

# ne_chroot_enter DIR / ne_chroot_leave DIR: the mounts a chroot needs.
ne_chroot_enter() {
	local r=$1
	mount -t proc proc "$r/proc"
	mount -t sysfs sysfs "$r/sys"
	mount --bind /dev "$r/dev"
	mount --bind /dev/pts "$r/dev/pts"
	cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
}
ne_chroot_leave() {
	local r=$1 m
	for m in dev/pts dev sys proc; do
		mountpoint -q "$r/$m" && umount -l "$r/$m"
	done
	return 0
}

# ne_chroot_sh DIR SCRIPT: run a shell script inside the chroot.
ne_chroot_sh() {
	local r=$1; shift
	LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$r" /bin/bash -ec "$*"
}
