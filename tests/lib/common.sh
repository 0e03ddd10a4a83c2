# SPDX-License-Identifier: GPL-2.0
# Shared shell helpers for the project's build and test scripts.
# Source it; it sets NE_CACHE and defines small helpers. Sourcing creates
# nothing: each directory is made where something is first written to it.

NE_ROOT=${NE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# Heavy artifacts (QEMU build, kernels, chroots) live outside the repo.
NE_CACHE=${NE_CACHE:-/var/cache/nitro-enclaves-dev}
NE_MIRROR=${NE_MIRROR:-http://deb.debian.org/debian}
export NE_ROOT NE_CACHE NE_MIRROR

ne_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ne_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ne_need_pkgs PKG...: apt-get install what is missing (idempotent, root).
ne_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || ne_die "need root to install: ${missing[*]}"
	ne_log "installing ${missing[*]}"
	# Prerequisites may be fetched in parallel: wait for apt's locks.
	local wait=(-o DPkg::Lock::Timeout=900)
	if [ ! -f "$NE_CACHE/.apt-updated" ] ||
	   [ -n "$(find "$NE_CACHE/.apt-updated" -mmin +720 2>/dev/null)" ]; then
		apt-get "${wait[@]}" update -q >/dev/null &&
			mkdir -p "$NE_CACHE" && touch "$NE_CACHE/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -q \
		--no-install-recommends "${missing[@]}" >/dev/null ||
		ne_die "apt-get install ${missing[*]} failed"
}

# ne_suite_apt SUITE APT-GET-ARGS...: run apt-get against a private index of
# another Debian suite (bullseye, trixie, sid, bookworm-backports...). The
# system's sources and pinning are never touched, so nothing is upgraded.
# ne_suite_cache SUITE APT-CACHE-ARGS...: the same for apt-cache.
# SUITE:ARCH (e.g. sid:arm64) is a separate index of another architecture
# (for cross builds); the host's dpkg architectures are never touched either.
ne_suite_apt() { _ne_suite_tool apt-get "$@"; }
ne_suite_cache() { _ne_suite_tool apt-cache "$@"; }
# _ne_suite_dir SUITE[:ARCH]: the private index's directory.
_ne_suite_dir() {
	case $1 in
	*:amd64) echo "$NE_CACHE/apt/${1%%:*}" ;;
	*:*) echo "$NE_CACHE/apt/${1%%:*}-${1#*:}" ;;
	*) echo "$NE_CACHE/apt/$1" ;;
	esac
}
_ne_suite_tool() {
	local tool=$1 suite=${2%%:*} arch=amd64 d
	case $2 in *:*) arch=${2#*:} ;; esac
	d=$(_ne_suite_dir "$2")
	shift 2
	if [ ! -f "$d/sources.list" ]; then
		mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/etc/preferences.d"
		echo "deb $NE_MIRROR $suite main" >"$d/sources.list"
		# Source packages only where a build needs them (QEMU from trixie).
		[ "$suite" = trixie ] &&
			echo "deb-src $NE_MIRROR $suite main" >>"$d/sources.list"
		touch "$d/status"
	fi
	"$tool" -q \
		-o Dir::Etc::SourceList="$d/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::Etc::Preferences="$d/etc/preferences" \
		-o Dir::Etc::PreferencesParts="$d/etc/preferences.d" \
		-o Dir::State::Lists="$d/lists" \
		-o Dir::State::Status="$d/status" \
		-o Dir::Cache="$d" \
		-o Dir::Cache::Archives="$d/archives" \
		-o APT::Architecture="$arch" -o APT::Architectures="$arch" \
		-o Acquire::Check-Valid-Until=false \
		-o APT::Sandbox::User=root \
		-o Debug::NoLocking=true \
		"$@"
}

# ne_suite_update SUITE: refresh the private index at most twice a day
# (under a lock: prerequisites may be fetched in parallel).
ne_suite_update() {
	local d
	d=$(_ne_suite_dir "$1")
	mkdir -p "$d"
	(
		flock 8
		if [ ! -f "$d/.updated" ] ||
		   [ -n "$(find "$d/.updated" -mmin +720 2>/dev/null)" ]; then
			ne_suite_apt "$1" update >/dev/null || exit 1
			touch "$d/.updated"
		fi
	) 8>"$d/.lock" || ne_die "apt update for $1 failed"
}

# ne_suite_fetch SUITE DEST PKG...: download packages (no dependencies) into
# the suite's archive cache and unpack each into DEST with dpkg -x.
ne_suite_fetch() {
	local suite=$1 dest=$2; shift 2
	local d p f
	d=$(_ne_suite_dir "$suite")
	ne_suite_update "$suite"
	mkdir -p "$dest"
	for p in "$@"; do
		f=$(ls "$d"/archives/"${p}"_*.deb 2>/dev/null | head -n1 || true)
		if [ -z "$f" ]; then
			(cd "$d/archives" && ne_suite_apt "$suite" download "$p" >/dev/null) ||
				ne_die "cannot download $p from $suite"
			f=$(ls "$d"/archives/"${p}"_*.deb | head -n1)
		fi
		dpkg -x "$f" "$dest"
	done
}

# ne_suite_version SUITE PKG: candidate version of PKG in SUITE.
ne_suite_version() {
	ne_suite_update "$1"
	ne_suite_cache "$1" show "$2" 2>/dev/null | sed -n 's/^Version: //p' | head -n1
}
