# SPDX-License-Identifier: GPL-2.0
#
# Top-level entry points. Heavy artifacts (QEMU build, kernels, chroots) go
# to $(NE_CACHE), outside the repository; small build products to build/.

NE_CACHE ?= /var/cache/nitro-enclaves-dev
export NE_CACHE

KERNEL ?= 6.12
DRIVER ?= project

.PHONY: all module emulator demo check check-unit check-harness check-emulator check-enclave \
	check-module check-arm64-build check-conformance check-debug check-packages \
	check-tools check-fuzz check-fuzz-short bench bench-short deb rpm tools clean

all: module tools

# The kernel module, for the running kernel or KDIR=/path/to/build.
module:
	$(MAKE) -C module

emulator:
	$(MAKE) -C emulator
	emulator/qemu/build-qemu.sh

tools:
	$(MAKE) -C tools

# The main job: a VM with the emulated device, the module loaded, a real
# enclave image booted from the memory the driver handed over, its
# heartbeat, teardown.
demo:
	tests/vm/demo

# The targets of `make check`, run in this order by tests/lib/check-all
# (all of them, even after a failure; logs in build/check/TARGET.log). The
# contract of each: its last line of output is "N passed, N failed, N
# skipped" and it exits non-zero when anything failed (README, "Testing").
# Adding a target to `make check` is adding a line here.
CHECK_TARGETS += check-unit
CHECK_TARGETS += check-harness
CHECK_TARGETS += check-emulator
CHECK_TARGETS += check-module
CHECK_TARGETS += check-arm64-build
CHECK_TARGETS += check-tools
CHECK_TARGETS += check-enclave
CHECK_TARGETS += check-packages
CHECK_TARGETS += bench-short
CHECK_TARGETS += check-fuzz-short

# One closing line for the whole: the sums of the targets' lines.
check:
	@MAKE="$(MAKE)" tests/lib/check-all $(CHECK_TARGETS)

check-unit:
	@$(MAKE) --no-print-directory -C tests/unit check

# The test harnesses' own tests: the C harness, the conformance suite's
# test names, make check's summing, and the VM harness (exit codes,
# WARNINGs, crashes, timeouts, QEMU aborting, --keep-if; seven short VM
# boots).
check-harness:
	@tests/lib/steps \
		'summary c-harness $(MAKE) --no-print-directory -C tests/lib/harness check' \
		'summary conformance-names $(MAKE) --no-print-directory -C tests/conformance check-names' \
		'summary check-all tests/lib/check-all-selftest' \
		'summary vm-harness tests/vm/selftest'

# Steps that print no summary line of their own are counted by their TAP
# lines, or (QEMU's build) only when they fail.
check-emulator:
	@tests/lib/steps \
		'summary emulator $(MAKE) --no-print-directory -C emulator check' \
		'need qemu-build emulator/qemu/build-qemu.sh >/dev/null' \
		'tap qemu-device emulator/qemu/test-device.sh --no-boot' \
		'tap fidelity tests/vm/fidelity'

check-module:
	tests/vm/check-module

# Real enclave images booted by the emulator from the memory the driver
# handed over (the e2e group), with this module and Debian 6.12's own.
check-enclave:
	tests/vm/check-enclave

# Cross builds for Debian's arm64 kernels (W=1, -Werror); nothing booted.
check-arm64-build:
	tests/vm/check-arm64-build

# Not part of `check`: the arm64 parent VM (qemu-system-aarch64, TCG on the
# x86 host; costs in tests/vm/README.md). 6.12: topology, pool, conformance
# suite, fidelity with Debian's arm64 in-tree driver, threads=1.
.PHONY: check-arm64
check-arm64:
	tests/vm/check-arm64

check-conformance:
	tests/vm/check-conformance --kernel $(KERNEL) --driver $(DRIVER)

# Not part of `check`: the debug kernel costs about an hour to build cold and
# the suite under KASAN/lockdep runs several times slower (tests/vm/README.md).
check-debug:
	tests/vm/check-debug --driver $(DRIVER)

check-tools:
	@$(MAKE) --no-print-directory -C tools check

# The ioctl fuzzer with emulator chaos, then the invariant check, in one
# 6.12 VM: ~50k calls for `make check`, >= 10^6 for check-fuzz.
check-fuzz-short:
	tests/fuzz/run --short

check-fuzz:
	tests/fuzz/run

check-packages:
	tests/packaging/run

bench:
	tests/bench/run

bench-short:
	tests/bench/run --short

deb:
	tests/packaging/build-deb

rpm:
	tests/packaging/build-rpm

clean:
	$(MAKE) -C module clean || true
	rm -rf build
