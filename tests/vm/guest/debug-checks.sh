#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of tests/vm/check-debug (debug kernel: kmemleak without auto
# scan). Prints only TAP comments ("# ...") on stdout, so it can follow the
# conformance suite's TAP; findings go to the kernel log, which the host
# scans (tests/vm/run fails on "unreferenced object"), and to the exit status.
#
#   debug-checks.sh start   scan once and set aside what is already
#                           unreferenced (boot, vsock and driver load): those
#                           are printed as "kmemleak-baseline:" lines and only
#                           fail when a backtrace names nitro_enclaves
#   debug-checks.sh end     unload the driver, scan twice, print every leak
#                           found since "start"; exit 1 on a leak or when the
#                           driver does not unload
KML=/sys/kernel/debug/kmemleak

# kmemleak_scan: two scans (an object must be unreferenced and older than
# 5 s to be reported), then the report.
kmemleak_scan() {
	sleep 6
	echo scan >"$KML" || return 1
	echo scan >"$KML" || return 1
	cat "$KML"
}

# to_kmsg PREFIX: each stdin line into the kernel log (which the host scans).
to_kmsg() {
	while IFS= read -r l; do
		echo "$1 $l" >/dev/kmsg
	done
}

[ -w "$KML" ] || { echo "# debug-checks: no $KML (not the debug kernel?)"; exit 1; }
case ${1:-} in
start)
	report=$(kmemleak_scan) || { echo "# debug-checks: kmemleak scan failed"; exit 1; }
	n=$(echo "$report" | grep -c '^unreferenced object')
	echo "# debug-checks: kmemleak baseline (boot, modules, driver load): $n object(s)"
	echo "$report" | grep -q nitro_enclaves && {
		echo "# debug-checks: the baseline has objects allocated by nitro_enclaves"
		echo "$report" | to_kmsg "kmemleak-report: at driver load:"
		exit 1
	}
	# Kernel-own suspects (not the driver's) are noted, not failed.
	[ "$n" -gt 0 ] && echo "$report" | sed 's/unreferenced object/unref. object/' |
		to_kmsg "kmemleak-baseline:"
	echo clear >"$KML"
	;;
end)
	rc=0
	if grep -q '^nitro_enclaves ' /proc/modules; then
		if rmmod nitro_enclaves; then
			echo "# debug-checks: rmmod nitro_enclaves: ok"
		else
			echo "# debug-checks: rmmod nitro_enclaves FAILED"
			echo "debug-checks: rmmod nitro_enclaves failed" >/dev/kmsg
			rc=1
		fi
	fi
	report=$(kmemleak_scan) || { echo "# debug-checks: kmemleak scan failed"; exit 1; }
	n=$(echo "$report" | grep -c '^unreferenced object')
	echo "# debug-checks: kmemleak after the suite and rmmod: $n object(s)"
	if [ "$n" -gt 0 ]; then
		echo "$report" | to_kmsg "kmemleak-report:"
		echo "$report" | sed 's/^/# /'
		rc=1
	fi
	exit $rc
	;;
*)
	echo "usage: debug-checks.sh start|end" >&2
	exit 2
	;;
esac
