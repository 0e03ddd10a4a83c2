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
# ne_chroot_base_pkgs SUITE: NE_CHROOT_BASE_PKGS, less what SUITE lacks.
# bullseye (systemd 247) has no systemd-standalone-sysusers; it is only there
# for nitro-enclaves-utils, which bullseye does not get (built on bookworm).
ne_chroot_base_pkgs() {
	case $1 in
	bullseye) echo "${NE_CHROOT_BASE_PKGS/ systemd-standalone-sysusers/}" ;;
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

_ne_chroot_key() {
	printf '%s\n' "$NE_CHROOT_RECIPE" "$(ne_chroot_base_pkgs "$1")" \
		"$(ne_chroot_first_headers "$1")" "$(ne_chroot_later_headers "$1")" |
		sha256sum | cut -c1-10
}

# ne_chroot_tarball SUITE: print the path of a usable cached tarball,
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
	# Older tarballs of this suite are now stale.
	find "$dir" -maxdepth 1 -name "pkg-$suite-*.tar.zst" ! -path "$t" -delete
	echo "$t"
}

_ne_chroot_build() {
	local suite=$1 out=$2 root p bpo_pkgs=() pkgs=()
	root=$(mktemp -d "$NE_CACHE/chroots/build-$suite.XXXXXX")
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
	for p in $(ne_chroot_first_headers "$suite"); do
		case $p in
		BPO:*) bpo_pkgs+=("${p#BPO:}") ;;
		*) pkgs+=("$p") ;;
		esac
	done
	ne_chroot_enter "$root"
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
	for p in $(ne_chroot_later_headers "$suite"); do
		l=$(ne_chroot_sh "$root" "apt-cache depends $p" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-headers-[^ ]*\)$/\1/p' | head -n1)
		later+=("${l:-$p}")
	done
	ne_log "installing dkms, toolchain and ${pkgs[*]} in the $suite chroot (later: ${later[*]})"
	if ! ne_chroot_sh "$root" "DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $(ne_chroot_base_pkgs "$suite") ${pkgs[*]}" >"$root.log" 2>&1 ||
	   ! ne_chroot_sh "$root" "apt-get install -y -q --no-install-recommends \
		--download-only ${later[*]}" >>"$root.log" 2>&1; then
		tail -n 30 "$root.log" >&2
		ne_chroot_leave "$root"
		rm -rf "$root" "$root.log"
		ne_die "package installation in the $suite chroot failed"
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
