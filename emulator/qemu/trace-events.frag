# nitro-enclaves.c (appended to hw/misc/trace-events by emulator/qemu/build-qemu.sh)
nitro_enclaves_mmio_read(uint64_t addr, unsigned int size, uint64_t val) "addr 0x%" PRIx64 " size %u val 0x%" PRIx64
nitro_enclaves_mmio_write(uint64_t addr, unsigned int size, uint64_t val) "addr 0x%" PRIx64 " size %u val 0x%" PRIx64
nitro_enclaves_cmd(uint32_t id, uint32_t type) "id %u type %u"
nitro_enclaves_reply(uint32_t id, uint32_t len) "id %u len %u"
nitro_enclaves_local_reply(uint32_t id, int32_t rc) "id %u rc %d"
nitro_enclaves_stale_reply(uint32_t id, uint32_t pending) "id %u pending %u"
nitro_enclaves_event(unsigned int count) "event count %u"
nitro_enclaves_irq(unsigned int vector) "vector %u"
nitro_enclaves_irq_dropped(unsigned int vector) "vector %u: MSI-X disabled"
nitro_enclaves_link(int up) "up %d"
nitro_enclaves_memmap(unsigned int ranges, unsigned int fds) "%u shared RAM ranges in %u fds"
