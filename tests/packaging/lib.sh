# SPDX-License-Identifier: GPL-2.0
# Helpers shared by build-deb, build-rpm and run (source after common.sh).

NE_PKG_OUT=${NE_PKG_OUT:-$NE_ROOT/build/packages}
NE_PKG_WORK=${NE_PKG_WORK:-$NE_ROOT/build/packaging}

# ne_pkg_version: the project version (top-level VERSION, the one place it
# is written); fails if debian/changelog or the RPM spec disagree.
ne_pkg_version() {
	local v d r
	v=$(tr -d ' \n' <"$NE_ROOT/VERSION")
	[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || ne_die "VERSION is '$v', want X.Y.Z"
	d=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$NE_ROOT/debian/changelog")
	[ "$d" = "$v" ] ||
		ne_die "debian/changelog is at $d but VERSION says $v (add a changelog entry)"
	r=$(sed -n 's/^Version:[[:space:]]*//p' "$NE_ROOT/rpm/nitro-enclaves.spec")
	[ "$r" = "$v" ] ||
		ne_die "rpm/nitro-enclaves.spec Version is $r but VERSION says $v"
	echo "$v"
}

# ne_pkg_export DEST: copy the source tree (tracked and new files, without
# what .gitignore excludes, so no build products) to DEST. NE_PKG_FROM=HEAD
# exports the last commit instead of the working tree.
ne_pkg_export() {
	local dest=$1
	rm -rf "$dest"
	mkdir -p "$dest"
	if git -C "$NE_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		if [ "${NE_PKG_FROM:-}" = HEAD ]; then
			git -C "$NE_ROOT" archive HEAD | tar -C "$dest" -xf -
		else
			(cd "$NE_ROOT" && git ls-files -z -c -o --exclude-standard |
				xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
				tar --null -T - -cf -) | tar -C "$dest" -xf -
		fi
	else
		tar -C "$NE_ROOT" --exclude=./build --exclude=./.git -cf - . |
			tar -C "$dest" -xf -
	fi
	# Development aid: package another module tree (e.g. a work in progress).
	if [ -n "${NE_PKG_MODULE_DIR:-}" ]; then
		ne_log "packaging module sources from $NE_PKG_MODULE_DIR"
		rm -rf "$dest/module"
		cp -a "$NE_PKG_MODULE_DIR" "$dest/module"
	fi
}

# ne_pkg_time LABEL CMD...: run CMD, log and record how long it took.
NE_PKG_TIMES=${NE_PKG_TIMES:-}
ne_pkg_time() {
	local label=$1 t0 rc=0; shift
	t0=$(date +%s)
	"$@" || rc=$?
	local dt=$(( $(date +%s) - t0 ))
	ne_log "step '$label': ${dt}s (rc=$rc)"
	[ -n "$NE_PKG_TIMES" ] && printf '%-44s %5ss  rc=%s\n' "$label" "$dt" "$rc" >>"$NE_PKG_TIMES"
	return $rc
}
