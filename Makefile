# SPDX-License-Identifier: GPL-2.0
#
# Top-level entry points. Heavy artifacts (QEMU build, kernels, chroots) go
# to $(NE_CACHE), outside the repository; small build products to build/.

NE_CACHE ?= /var/cache/nitro-enclaves-dev
export NE_CACHE

KERNEL ?= 6.12
DRIVER ?= project

.PHONY: all module emulator demo check check-unit check-emulator check-enclave \
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

check: check-unit check-emulator check-module check-arm64-build check-tools \
	check-enclave check-packages bench-short check-fuzz-short

check-unit:
	$(MAKE) -C tests/unit check

check-emulator:
	$(MAKE) -C emulator check
	emulator/qemu/build-qemu.sh >/dev/null
	emulator/qemu/test-device.sh --no-boot
	tests/vm/fidelity

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
	$(MAKE) -C tools check

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
