# Devices of the aarch64 build (emulator/qemu/build-qemu.sh --target aarch64,
# copied to configs/devices/aarch64-softmmu/ne.mak). QEMU is configured with
# --without-default-devices: only what is listed here and what it selects.
# The virt machine (GICv3 + ITS for MSI-X, generic PCIe host, PL011).
CONFIG_ARM_VIRT=y
# ttyS0-2 of the harness: 16550s on PCI (virt has a single PL011).
CONFIG_SERIAL_PCI=y
# The project's device.
CONFIG_NITRO_ENCLAVES_PCI=y
