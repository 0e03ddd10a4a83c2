# Nitro Enclaves PCI device (appended to hw/misc/meson.build by emulator/qemu/build-qemu.sh)
system_ss.add(when: 'CONFIG_NITRO_ENCLAVES_PCI', if_true: files('nitro-enclaves.c'))
