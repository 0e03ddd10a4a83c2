#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build qemu-system-x86_64 from Debian trixie's QEMU 10.0 source with the
# project's nitro-enclaves device model, cached under $NE_CACHE/qemu/.
# vhost-user, libcbor and gnutls are enabled for QEMU's own `nitro-enclave`
# machine (the enclave side: ne-emulator boots enclave images with it).
#
# Usage: emulator/qemu/build-qemu.sh [--force] [--target x86_64|aarch64]
#   Prints the path of the built binary as the last line on stdout; progress
#   goes to stderr. Cached by QEMU version + hash of the device sources:
#     $NE_CACHE/qemu/<debian-version>-<hash12>/qemu-system-x86_64
#     $NE_CACHE/qemu/current -> <debian-version>-<hash12>
#   --target aarch64 (the arm64 parent VM) builds qemu-system-aarch64 in its
#   own $NE_CACHE/qemu-aarch64/ (builds, current, work tree, lock), sharing
#   only the unpacked source and meson, so the x86 build tree is never
#   reconfigured. Only the virt machine, pci-serial and the device
#   (aarch64-devices.mak), no vhost-user: the enclave side stays x86.
#   A cached run only hashes a few files (well under 2 s); it does not ask
#   apt for a newer QEMU (set NE_QEMU_VERSION=<debian version> to pin one,
#   or pass --force to rebuild against the current trixie version).
#
# Firmware: the +ds source ships no blobs. Each build dir holds a symlink
# farm of Debian's qemu-system-data and seabios files in share/, which the
# binary finds by itself (through qemu-bundle/), so no -L is needed. The
# equivalent explicit flags are
#   -L $NE_CACHE/qemu/current/share      or
#   -L /usr/share/qemu -L /usr/share/seabios
#
# Environment: NE_CACHE, NE_QEMU_VERSION (pin), NE_JOBS (ninja -j, default 2).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/lib/common.sh
. "$HERE/../../tests/lib/common.sh"

QDIR=$NE_CACHE/qemu
SHARED=$NE_CACHE/qemu	# source, dl, meson: one copy for every target
JOBS=${NE_JOBS:-2}
FORCE=0
TARGET=x86_64
while [ $# -gt 0 ]; do
	case "$1" in
	--force) FORCE=1 ;;
	--target) TARGET=${2:-}; shift ;;
	*) ne_die "usage: $0 [--force] [--target x86_64|aarch64]" ;;
	esac
	shift
done

RUNTIME_PKGS=(qemu-system-data seabios)
BUILD_PKGS=(build-essential ninja-build libglib2.0-dev libpixman-1-dev
	    libfdt-dev zlib1g-dev flex bison python3-venv pkg-config dpkg-dev
	    libcbor-dev libgnutls28-dev)
CONFIGURE_FLAGS=(--prefix=/usr --target-list=x86_64-softmmu
		 --without-default-features --enable-tcg --enable-fdt=system
		 --enable-vhost-user --enable-libcbor --enable-gnutls
		 --disable-docs --disable-download --disable-install-blobs)

# The files that go into the build. The smoke test is not one of them, so
# editing it does not trigger a rebuild.
INPUTS=("$HERE/nitro-enclaves.c" "$HERE/Kconfig.frag" "$HERE/meson.build.frag"
	"$HERE/trace-events.frag" "$HERE/build-qemu.sh"
	"$NE_ROOT/module/ne_proto.h" "$NE_ROOT/emulator/ne_wire.h")

case $TARGET in
x86_64) ;;
aarch64)
	QDIR=$NE_CACHE/qemu-aarch64
	# Devices: configs/devices/aarch64-softmmu/ne.mak in the work tree.
	CONFIGURE_FLAGS=(--prefix=/usr --target-list=aarch64-softmmu
			 --without-default-features --without-default-devices
			 --with-devices-aarch64=ne --enable-tcg --enable-fdt=system
			 --disable-docs --disable-download --disable-install-blobs)
	INPUTS+=("$HERE/aarch64-devices.mak") ;;
*) ne_die "unknown --target $TARGET (x86_64 or aarch64)" ;;
esac
BIN=qemu-system-$TARGET

src_hash() {
	local f
	for f in "${INPUTS[@]}"; do
		[ -f "$f" ] || ne_die "missing build input $f"
		printf '%s\0' "${f##*/}"
		cat "$f"
		printf '\0'
	done | sha256sum | cut -c1-12
}

# publish KEYDIR: point current at a finished build and print its binary.
publish() {
	ln -sfn "$(basename "$1")" "$QDIR/.current.tmp.$$"
	mv -T "$QDIR/.current.tmp.$$" "$QDIR/current"
	echo "$1/$BIN"
}

# find_cached HASH: newest finished build for this hash (and pinned version).
find_cached() {
	local d best=
	for d in "$QDIR"/*-"$1"; do
		[ -f "$d/.complete" ] || continue
		if [ -n "${NE_QEMU_VERSION:-}" ] &&
		   [ "$(basename "$d")" != "${NE_QEMU_VERSION#*:}-$1" ]; then
			continue
		fi
		best=$d
	done
	[ -n "$best" ] && echo "$best"
}

# sync_file SRC DST: copy only on change, so ninja rebuilds only what changed.
sync_file() {
	cmp -s "$1" "$2" || cp "$1" "$2"
}

# glue PRISTINE FRAG DST: DST = the pristine tree's file + our fragment.
glue() {
	local tmp
	tmp=$(mktemp)
	cat "$1" "$2" >"$tmp"
	if cmp -s "$tmp" "$3"; then
		rm -f "$tmp"
	else
		mv "$tmp" "$3"
	fi
}

# firmware_farm DIR: DIR/<file> -> Debian's qemu-system-data, then seabios.
firmware_farm() {
	local f
	mkdir -p "$1"
	for f in /usr/share/qemu/* /usr/share/seabios/*; do
		[ -e "$1/${f##*/}" ] || ln -s "$f" "$1/${f##*/}"
	done
}

fetch_source() {
	local ver=$1 src tmp
	src=$SHARED/src/qemu-${ver#*:}
	[ -f "$src/.ne-extracted" ] && return 0
	mkdir -p "$SHARED/dl" "$SHARED/src"
	ne_log "fetching qemu $ver source from trixie"
	(cd "$SHARED/dl" &&
	 ne_suite_apt trixie source --download-only "qemu=$ver" >&2) ||
		ne_die "apt-get source qemu=$ver failed"
	# dpkg-source drops a copy of the orig tarball beside its target:
	# extract inside a scratch dir so that copy goes away with it.
	tmp=$SHARED/src/.extract.$$
	rm -rf "$tmp"
	mkdir -p "$tmp"
	# It applies Debian's patch series; the signature cannot be checked
	# without debian-keyring, the apt index already vouched for the files.
	dpkg-source --no-check -x "$SHARED/dl/qemu_${ver#*:}.dsc" "$tmp/qemu" >&2 ||
		ne_die "dpkg-source -x failed"
	touch "$tmp/qemu/.ne-extracted"
	rm -rf "$src"
	mv "$tmp/qemu" "$src"
	rm -rf "$tmp"
}

fetch_meson() {
	local ver dir
	ver=$(ne_suite_version bookworm-backports meson)
	[ -n "$ver" ] || ne_die "no meson in bookworm-backports"
	dir=$SHARED/meson-$ver
	if [ ! -f "$dir/.ne-extracted" ]; then
		ne_log "fetching meson $ver from bookworm-backports"
		rm -rf "$dir"
		ne_suite_fetch bookworm-backports "$dir" meson
		touch "$dir/.ne-extracted"
	fi
	# Used from its unpacked dir; the system's apt sources stay untouched.
	MESON_PY=$dir/usr/lib/python3/dist-packages
	PYTHONPATH=$MESON_PY python3 -c 'import mesonbuild' ||
		ne_die "unpacked meson in $dir is unusable"
}

build() {
	local ver=$1 hash=$2 key src work bld log t0 t1 out
	key=${ver#*:}-$hash
	src=$SHARED/src/qemu-${ver#*:}
	work=$QDIR/work-${ver#*:}
	bld=$work/build
	log=$work/build.log

	fetch_source "$ver"
	fetch_meson
	export PYTHONPATH=$MESON_PY${PYTHONPATH:+:$PYTHONPATH}

	# One patched working copy per QEMU version, reused across device
	# changes so a rebuild only recompiles the device.
	if [ ! -f "$work/.ne-copied" ]; then
		ne_log "preparing working tree $work"
		rm -rf "$work"
		mkdir -p "$work"
		cp -a "$src" "$work/src"
		touch "$work/.ne-copied"
	fi
	sync_file "$HERE/nitro-enclaves.c" "$work/src/hw/misc/nitro-enclaves.c"
	sync_file "$NE_ROOT/module/ne_proto.h" "$work/src/hw/misc/ne_proto.h"
	sync_file "$NE_ROOT/emulator/ne_wire.h" "$work/src/hw/misc/ne_wire.h"
	glue "$src/hw/misc/Kconfig" "$HERE/Kconfig.frag" "$work/src/hw/misc/Kconfig"
	glue "$src/hw/misc/meson.build" "$HERE/meson.build.frag" \
		"$work/src/hw/misc/meson.build"
	glue "$src/hw/misc/trace-events" "$HERE/trace-events.frag" \
		"$work/src/hw/misc/trace-events"
	[ "$TARGET" = aarch64 ] && sync_file "$HERE/aarch64-devices.mak" \
		"$work/src/configs/devices/aarch64-softmmu/ne.mak"

	t0=$(date +%s)
	: >"$log"
	if [ "$(cat "$work/.ne-configured" 2>/dev/null)" != "${CONFIGURE_FLAGS[*]}" ]; then
		ne_log "configuring (log: $log)"
		rm -rf "$bld"
		mkdir -p "$bld"
		(cd "$bld" && nice -n 10 ../src/configure "${CONFIGURE_FLAGS[@]}") \
			>>"$log" 2>&1 || { tail -n 30 "$log" >&2; ne_die "configure failed"; }
		echo "${CONFIGURE_FLAGS[*]}" >"$work/.ne-configured"
	fi
	ne_log "building $BIN with ninja -j$JOBS (log: $log)"
	nice -n 10 ninja -C "$bld" -j "$JOBS" "$BIN" >>"$log" 2>&1 ||
		{ grep -E 'error|Error' "$log" | tail -n 20 >&2; tail -n 5 "$log" >&2
		  ne_die "ninja failed (full log: $log)"; }
	t1=$(date +%s)

	out=$QDIR/.tmp-$key.$$
	rm -rf "$out"
	mkdir -p "$out/qemu-bundle/usr/share"
	cp "$bld/$BIN" "$out/"
	firmware_farm "$out/share"
	# Relocation: a binary beside qemu-bundle/ looks for its datadir there.
	ln -s ../../../share "$out/qemu-bundle/usr/share/qemu"
	cat >"$out/build-info" <<-EOF
		qemu_version=$ver
		source_hash=$hash
		configure=${CONFIGURE_FLAGS[*]}
		build_seconds=$((t1 - t0))
		built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	EOF
	touch "$out/.complete"
	rm -rf "${QDIR:?}/$key"
	mv -T "$out" "$QDIR/$key"
	ne_log "built $key in $((t1 - t0)) s"
	prune "$key"
	publish "$QDIR/$key"
}

# prune KEEP: drop finished builds beyond the newest three (never KEEP).
prune() {
	local d n=0
	stat -c '%Y %n' "$QDIR"/*-*/.complete 2>/dev/null | sort -rn |
	while read -r _ d; do
		d=${d%/.complete}
		[ -L "$d" ] && continue		# never follow current
		n=$((n + 1))
		if [ "$n" -gt 3 ] && [ "${d##*/}" != "$1" ]; then
			ne_log "pruning old build $d"
			rm -rf "$d"
		fi
	done
}

main() {
	local hash cached ver
	mkdir -p "$QDIR"
	hash=$(src_hash)

	if [ "$FORCE" = 0 ] && cached=$(find_cached "$hash"); then
		ne_need_pkgs "${RUNTIME_PKGS[@]}"
		publish "$cached"
		return 0
	fi

	# Serialise builds between engineers; re-check once we hold the lock.
	exec 9>"$QDIR/.lock"
	flock 9
	if [ "$FORCE" = 0 ] && cached=$(find_cached "$hash"); then
		publish "$cached"
		return 0
	fi

	ne_need_pkgs "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}"
	if [ -n "${NE_QEMU_VERSION:-}" ]; then
		ver=$NE_QEMU_VERSION
	else
		ne_suite_update trixie
		ver=$(ne_suite_cache trixie showsrc qemu |
		      sed -n 's/^Version: //p' | sort -V | tail -n1)
		[ -n "$ver" ] || ne_die "no qemu source package in trixie"
	fi
	build "$ver" "$hash"
}

main "$@"
