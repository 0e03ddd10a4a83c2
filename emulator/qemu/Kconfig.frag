# Nitro Enclaves PCI device (appended to hw/misc/Kconfig by emulator/qemu/build-qemu.sh)
config NITRO_ENCLAVES_PCI
    bool
    default y if PCI_DEVICES
    depends on PCI && MSI_NONBROKEN
