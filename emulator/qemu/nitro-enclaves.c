/*
 * Nitro Enclaves PCI device: a thin transport between the guest's register
 * window (BAR 3) and the out-of-process hypervisor emulator on a chardev.
 *
 * The guest writes a request into SEND_DATA and a command type into COMMAND;
 * the device forwards both as one NE_WIRE_CMD frame and, when the matching
 * NE_WIRE_REPLY arrives, fills RECV_DATA and raises MSI-X vector 0. Events
 * from the emulator raise vector 1. All command semantics live in the
 * emulator; this file only moves bytes and never blocks a vCPU.
 *
 * Before the first command it also tells the emulator where the guest's
 * RAM is (NE_WIRE_MEMMAP, with the RAM backend's fds): the emulator reads
 * an enclave's image out of the pages the driver donated, at the
 * guest-physical addresses the driver gives, so it must see the same
 * memory map the guest does rather than guess the machine's layout. The
 * map is sent once per link: memory hotplugged later is not in it.
 *
 * Register map and wire framing come from the project's shared headers
 * (module/ne_proto.h, emulator/ne_wire.h), copied beside this file by
 * emulator/qemu/build-qemu.sh.
 *
 * Copyright (c) 2026 The nitro-enclaves-dev authors
 * SPDX-License-Identifier: GPL-2.0-only
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "hw/resettable.h"
#include "chardev/char-fe.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "exec/address-spaces.h"
#include "migration/blocker.h"
#include "qom/object.h"
#include "trace.h"

#include "ne_proto.h"
#include "ne_wire.h"

#define TYPE_NITRO_ENCLAVES "nitro-enclaves"
OBJECT_DECLARE_SIMPLE_TYPE(NitroEnclavesState, NITRO_ENCLAVES)

/* MSI-X table and PBA get a BAR of their own, apart from the registers. */
#define NE_MSIX_BAR             0

#define NE_WIRE_HDR_SIZE        sizeof(struct ne_wire_hdr)
#define NE_WIRE_FRAME_MAX       (NE_WIRE_HDR_SIZE + NE_WIRE_MAX_PAYLOAD)
/* Room for a HELLO and many CMD frames if the emulator stops reading. */
#define NE_TX_BUF_SIZE          4096

struct NitroEnclavesState {
    PCIDevice parent_obj;

    /* User properties. */
    CharBackend chr;

    /* Internal state below; nothing here is user-settable. */
    MemoryRegion regs;
    Error *migration_blocker;

    /* Registers (BAR 3). */
    uint8_t enable;                 /* NE_REG_ENABLE, reads back as written */
    uint16_t version;               /* NE_REG_VERSION, reads back as written */
    uint16_t reply_count;           /* NE_REG_EVTCNT bits 15:0 */
    uint16_t event_count;           /* NE_REG_EVTCNT bits 31:16 */
    uint8_t send_data[NE_SEND_DATA_SIZE];
    uint8_t recv_data[NE_RECV_DATA_SIZE];

    /*
     * The command in flight. At most one: a new COMMAND write supersedes
     * the previous one, whose reply then arrives with a stale id and is
     * dropped. Everything here runs under the BQL (MMIO dispatch and the
     * chardev handlers both hold it), so no further locking is needed.
     */
    bool pending;
    uint32_t pending_id;
    uint32_t next_id;

    /* Chardev link to the emulator. */
    bool connected;                 /* OPENED seen, not CLOSED or dropped */
    bool hello_done;                /* the emulator's HELLO was accepted */
    bool want_memmap;               /* the emulator's HELLO asked for it */
    bool memmap_sent;               /* NE_WIRE_MEMMAP went on this link */
    uint8_t rxbuf[NE_WIRE_FRAME_MAX];
    size_t rxlen;
    uint8_t txbuf[NE_TX_BUF_SIZE];
    size_t txlen;
    guint tx_watch;                 /* pending G_IO_OUT watch, or 0 */
};

/* ------------------------------------------------------------------ */
/* Interrupts and completion                                          */

static void ne_notify(NitroEnclavesState *s, unsigned int vector)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    /* The driver only works with MSI-X; without it there is no INTx. */
    if (!msix_enabled(pdev)) {
        trace_nitro_enclaves_irq_dropped(vector);
        return;
    }
    trace_nitro_enclaves_irq(vector);
    msix_notify(pdev, vector);
}

/* Fill the receive window with len bytes of data, zero past len. */
static void ne_set_reply(NitroEnclavesState *s, const void *data, size_t len)
{
    memset(s->recv_data, 0, sizeof(s->recv_data));
    memcpy(s->recv_data, data, len);
    s->pending = false;
    s->reply_count++;
    ne_notify(s, NE_VEC_REPLY);
}

/* Answer the pending command ourselves, so the guest never waits forever. */
static void ne_complete_local(NitroEnclavesState *s, int32_t rc)
{
    struct ne_cmd_reply reply = { 0 };

    if (!s->pending) {
        return;
    }
    trace_nitro_enclaves_local_reply(s->pending_id, rc);
    reply.rc = cpu_to_le32(rc);
    ne_set_reply(s, &reply, sizeof(reply));
}

/* ------------------------------------------------------------------ */
/* Transmit: a small buffer, drained without ever blocking             */

static void ne_tx_flush(NitroEnclavesState *s);

static gboolean ne_tx_ready(void *do_not_use, GIOCondition cond, void *opaque)
{
    NitroEnclavesState *s = opaque;

    s->tx_watch = 0;
    ne_tx_flush(s);
    return G_SOURCE_REMOVE;
}

static void ne_tx_stop(NitroEnclavesState *s)
{
    if (s->tx_watch) {
        g_source_remove(s->tx_watch);
        s->tx_watch = 0;
    }
    s->txlen = 0;
}

static void ne_tx_flush(NitroEnclavesState *s)
{
    int n;

    if (!s->connected || !s->txlen) {
        return;
    }
    /*
     * Non-blocking: the socket chardev returns what fit, or -1/EAGAIN.
     * A hard error may disconnect the chardev from inside this call and
     * run ne_chr_event(CLOSED), which empties the buffer; check again.
     */
    n = qemu_chr_fe_write(&s->chr, s->txbuf, s->txlen);
    if (!s->connected) {
        return;
    }
    if (n > 0) {
        memmove(s->txbuf, s->txbuf + n, s->txlen - n);
        s->txlen -= n;
    }
    if (s->txlen && !s->tx_watch) {
        s->tx_watch = qemu_chr_fe_add_watch(&s->chr, G_IO_OUT | G_IO_HUP,
                                            ne_tx_ready, s);
    }
}

/* Queue one frame; false if not connected or the buffer is full. */
static bool ne_send_frame(NitroEnclavesState *s, uint16_t type, uint32_t id,
                          const void *payload, uint32_t len)
{
    uint8_t *p;

    if (!s->connected) {
        return false;
    }
    if (s->txlen + NE_WIRE_HDR_SIZE + len > sizeof(s->txbuf)) {
        warn_report_once("nitro-enclaves: emulator is not reading its "
                         "socket; failing commands with -EIO");
        return false;
    }
    p = s->txbuf + s->txlen;
    stl_le_p(p + offsetof(struct ne_wire_hdr, magic), NE_WIRE_MAGIC);
    stw_le_p(p + offsetof(struct ne_wire_hdr, type), type);
    stw_le_p(p + offsetof(struct ne_wire_hdr, reserved), 0);
    stl_le_p(p + offsetof(struct ne_wire_hdr, id), id);
    stl_le_p(p + offsetof(struct ne_wire_hdr, len), len);
    memcpy(p + NE_WIRE_HDR_SIZE, payload, len);
    s->txlen += NE_WIRE_HDR_SIZE + len;

    ne_tx_flush(s);
    return s->connected;
}

/* ------------------------------------------------------------------ */
/* Connection state                                                   */

/* Forget the link: fail the pending command and drop buffered bytes. */
static void ne_link_down(NitroEnclavesState *s)
{
    s->connected = false;
    s->hello_done = false;
    s->rxlen = 0;
    ne_tx_stop(s);
    ne_complete_local(s, -EIO);
}

/* The emulator broke the protocol: report it and hang up. */
static void G_GNUC_PRINTF(2, 3)
ne_protocol_error(NitroEnclavesState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("nitro-enclaves: emulator protocol error: %s; "
                 "disconnecting", msg);
    ne_link_down(s);
    qemu_chr_fe_disconnect(&s->chr);
}

static void ne_link_up(NitroEnclavesState *s)
{
    struct ne_wire_hello hello = {
        .version = cpu_to_le32(NE_WIRE_VERSION),
    };

    s->connected = true;
    s->hello_done = false;
    s->want_memmap = false;
    s->memmap_sent = false;
    s->rxlen = 0;
    ne_tx_stop(s);
    if (!ne_send_frame(s, NE_WIRE_HELLO, 0, &hello, sizeof(hello))) {
        ne_link_down(s);
    }
}

static void ne_chr_event(void *opaque, QEMUChrEvent event)
{
    NitroEnclavesState *s = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        trace_nitro_enclaves_link(1);
        ne_link_up(s);
        break;
    case CHR_EVENT_CLOSED:
        trace_nitro_enclaves_link(0);
        ne_link_down(s);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Receive: reassemble frames from the byte stream                     */

static void ne_rx_hello(NitroEnclavesState *s, const uint8_t *payload,
                        uint32_t len)
{
    uint32_t version;

    if (len != sizeof(struct ne_wire_hello)) {
        ne_protocol_error(s, "HELLO payload of %u bytes", len);
        return;
    }
    version = ldl_le_p(payload + offsetof(struct ne_wire_hello, version));
    if (version != NE_WIRE_VERSION) {
        error_report("nitro-enclaves: emulator speaks wire version %u, "
                     "this device needs %u", version, NE_WIRE_VERSION);
        ne_link_down(s);
        qemu_chr_fe_disconnect(&s->chr);
        return;
    }
    s->want_memmap = ldl_le_p(payload + offsetof(struct ne_wire_hello,
                                                 flags)) & NE_WIRE_HELLO_MEMMAP;
    s->hello_done = true;
}

static void ne_rx_reply(NitroEnclavesState *s, uint32_t id,
                        const uint8_t *payload, uint32_t len)
{
    size_t head = offsetof(struct ne_wire_reply, data);
    uint32_t rlen;

    if (len < head) {
        ne_protocol_error(s, "REPLY id %u payload of %u bytes", id, len);
        return;
    }
    rlen = ldl_le_p(payload + offsetof(struct ne_wire_reply, len));
    if (rlen > NE_RECV_DATA_SIZE || rlen > len - head) {
        ne_protocol_error(s, "REPLY id %u claims %u bytes in %u",
                          id, rlen, len);
        return;
    }
    if (!s->pending || id != s->pending_id) {
        /* After a reset or a resubmit; the guest no longer waits. */
        trace_nitro_enclaves_stale_reply(id, s->pending ? s->pending_id : 0);
        qemu_log_mask(LOG_GUEST_ERROR, "nitro-enclaves: dropping reply "
                      "id %u: no command with that id is pending\n", id);
        return;
    }
    trace_nitro_enclaves_reply(id, rlen);
    ne_set_reply(s, payload + head, rlen);
}

static void ne_rx_frame(NitroEnclavesState *s, uint16_t type, uint32_t id,
                        const uint8_t *payload, uint32_t len)
{
    if (type == NE_WIRE_HELLO) {
        ne_rx_hello(s, payload, len);
        return;
    }
    if (!s->hello_done) {
        ne_protocol_error(s, "frame type %u before HELLO", type);
        return;
    }
    switch (type) {
    case NE_WIRE_REPLY:
        ne_rx_reply(s, id, payload, len);
        break;
    case NE_WIRE_EVENT:
        trace_nitro_enclaves_event(s->event_count + 1);
        s->event_count++;
        ne_notify(s, NE_VEC_EVENT);
        break;
    default:
        ne_protocol_error(s, "unexpected frame type %u", type);
        break;
    }
}

static int ne_chr_can_read(void *opaque)
{
    NitroEnclavesState *s = opaque;

    return sizeof(s->rxbuf) - s->rxlen;
}

static void ne_chr_read(void *opaque, const uint8_t *buf, int size)
{
    NitroEnclavesState *s = opaque;
    uint32_t magic, id, len, frame;
    uint16_t type;
    size_t off = 0;

    if (!s->connected) {
        return;         /* dropped link: discard until the next OPENED */
    }
    assert(size <= (int)(sizeof(s->rxbuf) - s->rxlen));
    memcpy(s->rxbuf + s->rxlen, buf, size);
    s->rxlen += size;

    /* Validate each header before waiting for its body. */
    while (s->connected && s->rxlen - off >= NE_WIRE_HDR_SIZE) {
        const uint8_t *h = s->rxbuf + off;

        magic = ldl_le_p(h + offsetof(struct ne_wire_hdr, magic));
        type = lduw_le_p(h + offsetof(struct ne_wire_hdr, type));
        id = ldl_le_p(h + offsetof(struct ne_wire_hdr, id));
        len = ldl_le_p(h + offsetof(struct ne_wire_hdr, len));
        if (magic != NE_WIRE_MAGIC) {
            ne_protocol_error(s, "bad magic 0x%08x", magic);
            return;
        }
        if (type < NE_WIRE_HELLO || type > NE_WIRE_EVENT) {
            ne_protocol_error(s, "unknown frame type %u", type);
            return;
        }
        if (len > NE_WIRE_MAX_PAYLOAD) {
            ne_protocol_error(s, "payload of %u bytes", len);
            return;
        }
        frame = NE_WIRE_HDR_SIZE + len;
        if (s->rxlen - off < frame) {
            break;
        }
        ne_rx_frame(s, type, id, h + NE_WIRE_HDR_SIZE, len);
        off += frame;
    }
    if (!s->connected) {
        return;         /* ne_link_down() already emptied rxbuf */
    }
    memmove(s->rxbuf, s->rxbuf + off, s->rxlen - off);
    s->rxlen -= off;
}

/* ------------------------------------------------------------------ */
/* Memory map for the emulator                                        */

struct ne_memmap_build {
    struct ne_wire_memmap map;
    int fds[NE_WIRE_MEMMAP_FDS];
    unsigned int nr_fds;
    bool truncated;
};

static bool ne_memmap_range(Int128 start, Int128 len, const MemoryRegion *cmr,
                            hwaddr offset_in_region, void *opaque)
{
    struct ne_memmap_build *b = opaque;
    MemoryRegion *mr = (MemoryRegion *)cmr;
    struct ne_wire_memmap_ent *e;
    uint64_t gpa = int128_get64(start), size = int128_get64(len), off;
    unsigned int i;
    int fd;

    /* Only RAM another process can map and see the guest's writes in. */
    if (!memory_region_is_ram(mr) || memory_region_is_rom(mr) ||
        !mr->ram_block || !qemu_ram_is_shared(mr->ram_block)) {
        return false;
    }
    fd = memory_region_get_fd(mr);
    if (fd < 0) {
        return false;
    }
    off = mr->ram_block->fd_offset + offset_in_region;
    for (i = 0; i < b->nr_fds && b->fds[i] != fd; i++) {
        /* look the fd up */
    }
    if (i == b->nr_fds) {
        if (b->nr_fds == NE_WIRE_MEMMAP_FDS) {
            b->truncated = true;
            return false;
        }
        b->fds[b->nr_fds++] = fd;
    }
    /* Merge with the previous range when both are contiguous. */
    if (b->map.count) {
        e = &b->map.ent[b->map.count - 1];
        if (e->fd == i && e->gpa + e->size == gpa &&
            e->offset + e->size == off) {
            e->size += size;
            return false;
        }
    }
    if (b->map.count == NE_WIRE_MEMMAP_ENTS) {
        b->truncated = true;
        return false;
    }
    e = &b->map.ent[b->map.count++];
    e->gpa = gpa;
    e->size = size;
    e->offset = off;
    e->fd = i;
    return false;
}

/* Describe the guest's shared RAM; the fds go with the frame's bytes. */
static void ne_send_memmap(NitroEnclavesState *s)
{
    struct ne_memmap_build b = { 0 };
    struct ne_wire_memmap wire = { 0 };
    unsigned int i;

    WITH_RCU_READ_LOCK_GUARD() {
        flatview_for_each_range(address_space_to_flatview(&address_space_memory),
                                ne_memmap_range, &b);
    }
    if (b.truncated) {
        warn_report_once("nitro-enclaves: guest RAM has more ranges or "
                         "backends than the emulator is told about");
    }
    s->memmap_sent = true;
    if (b.nr_fds && qemu_chr_fe_set_msgfds(&s->chr, b.fds, b.nr_fds) < 0) {
        warn_report_once("nitro-enclaves: the chardev cannot pass file "
                         "descriptors (use a unix socket); the emulator "
                         "will not see guest RAM");
        b.map.count = 0;
        b.nr_fds = 0;
    }
    wire.count = cpu_to_le32(b.map.count);
    wire.nr_fds = cpu_to_le32(b.nr_fds);
    for (i = 0; i < b.map.count; i++) {
        wire.ent[i].gpa = cpu_to_le64(b.map.ent[i].gpa);
        wire.ent[i].size = cpu_to_le64(b.map.ent[i].size);
        wire.ent[i].offset = cpu_to_le64(b.map.ent[i].offset);
        wire.ent[i].fd = cpu_to_le32(b.map.ent[i].fd);
    }
    trace_nitro_enclaves_memmap(b.map.count, b.nr_fds);
    ne_send_frame(s, NE_WIRE_MEMMAP, 0, &wire,
                  offsetof(struct ne_wire_memmap, ent) +
                  b.map.count * sizeof(wire.ent[0]));
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */

static void ne_submit(NitroEnclavesState *s, uint32_t type)
{
    struct ne_wire_cmd cmd = {
        .cmd_type = cpu_to_le32(type),
    };

    if (s->pending) {
        qemu_log_mask(LOG_GUEST_ERROR, "nitro-enclaves: command %u "
                      "written while id %u is pending; the old reply "
                      "will be dropped\n", type, s->pending_id);
    }
    s->next_id++;
    if (!s->next_id) {
        s->next_id = 1; /* id 0 is reserved for EVENT frames */
    }
    s->pending = true;
    s->pending_id = s->next_id;
    trace_nitro_enclaves_cmd(s->pending_id, type);

    /* By the first command the machine's memory map is final. */
    if (s->hello_done && s->want_memmap && !s->memmap_sent) {
        ne_send_memmap(s);
    }

    /* The whole window goes out: the device does not know request sizes. */
    memcpy(cmd.data, s->send_data, sizeof(cmd.data));
    if (!ne_send_frame(s, NE_WIRE_CMD, s->pending_id, &cmd, sizeof(cmd))) {
        ne_complete_local(s, -EIO);
    }
}

/* ------------------------------------------------------------------ */
/* MMIO (BAR 3)                                                       */

static bool ne_in_window(hwaddr addr, unsigned int size, hwaddr base,
                         size_t window)
{
    return addr >= base && addr + size <= base + window;
}

static uint64_t ne_mmio_read(void *opaque, hwaddr addr, unsigned int size)
{
    NitroEnclavesState *s = opaque;
    uint64_t val = 0;

    if (ne_in_window(addr, size, NE_REG_SEND_DATA, NE_SEND_DATA_SIZE)) {
        val = ldn_le_p(s->send_data + addr - NE_REG_SEND_DATA, size);
    } else if (ne_in_window(addr, size, NE_REG_RECV_DATA,
                            NE_RECV_DATA_SIZE)) {
        val = ldn_le_p(s->recv_data + addr - NE_REG_RECV_DATA, size);
    } else if (addr == NE_REG_ENABLE && size == 1) {
        val = s->enable;
    } else if (addr == NE_REG_VERSION && size == 2) {
        val = s->version;
    } else if (addr == NE_REG_EVTCNT && size == 4) {
        val = ((uint32_t)s->event_count << NE_EVTCNT_EVENT_SHIFT) |
           s->reply_count;
    } else if (addr == NE_REG_COMMAND && size == 4) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "nitro-enclaves: read of write-only COMMAND\n");
    } else {
        qemu_log_mask(LOG_GUEST_ERROR, "nitro-enclaves: bad read of "
                      "%u bytes at 0x%" HWADDR_PRIx "\n", size, addr);
    }
    trace_nitro_enclaves_mmio_read(addr, size, val);
    return val;
}

static void ne_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned int size)
{
    NitroEnclavesState *s = opaque;

    trace_nitro_enclaves_mmio_write(addr, size, val);
    if (ne_in_window(addr, size, NE_REG_SEND_DATA, NE_SEND_DATA_SIZE)) {
        stn_le_p(s->send_data + addr - NE_REG_SEND_DATA, size, val);
    } else if (addr == NE_REG_ENABLE && size == 1) {
        s->enable = val;
    } else if (addr == NE_REG_VERSION && size == 2) {
        s->version = val;
    } else if (addr == NE_REG_COMMAND && size == 4) {
        ne_submit(s, val);
    } else if ((addr == NE_REG_EVTCNT && size == 4) ||
               ne_in_window(addr, size, NE_REG_RECV_DATA,
                            NE_RECV_DATA_SIZE)) {
        qemu_log_mask(LOG_GUEST_ERROR, "nitro-enclaves: write to "
                      "read-only register at 0x%" HWADDR_PRIx "\n", addr);
    } else {
        qemu_log_mask(LOG_GUEST_ERROR, "nitro-enclaves: bad write of "
                      "%u bytes at 0x%" HWADDR_PRIx "\n", size, addr);
    }
}

static const MemoryRegionOps ne_mmio_ops = {
    .read = ne_mmio_read,
    .write = ne_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /*
     * memcpy_{to,from}io may use any width up to 8 on the windows; the
     * handlers check width and alignment per register themselves.
     */
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

/* ------------------------------------------------------------------ */
/* Lifecycle                                                          */

static void ne_reset_hold(Object *obj, ResetType type)
{
    NitroEnclavesState *s = NITRO_ENCLAVES(obj);

    /*
     * The link stays up; a reply still in flight for the old pending id
     * will arrive stale and be dropped.
     */
    s->enable = NE_ENABLE_OFF;
    s->version = 0;
    s->reply_count = 0;
    s->event_count = 0;
    memset(s->send_data, 0, sizeof(s->send_data));
    memset(s->recv_data, 0, sizeof(s->recv_data));
    s->pending = false;
    s->pending_id = 0;
}

static void ne_realize(PCIDevice *pdev, Error **errp)
{
    NitroEnclavesState *s = NITRO_ENCLAVES(pdev);
    unsigned int v;

    if (!qemu_chr_fe_backend_connected(&s->chr)) {
        error_setg(errp, "nitro-enclaves: property 'chardev' is required "
                   "(the emulator's device socket, e.g. -chardev "
                   "socket,id=ne0,path=PATH -device "
                   "nitro-enclaves,chardev=ne0)");
        return;
    }

    memory_region_init_io(&s->regs, OBJECT(s), &ne_mmio_ops, s,
                          "nitro-enclaves-regs", NE_PCI_BAR_SIZE);
    pci_register_bar(pdev, NE_PCI_BAR, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->regs);

    if (msix_init_exclusive_bar(pdev, NE_VEC_COUNT, NE_MSIX_BAR, errp)) {
        return;
    }
    /* Static vector mapping: all vectors are always in use. */
    for (v = 0; v < NE_VEC_COUNT; v++) {
        msix_vector_use(pdev, v);
    }

    error_setg(&s->migration_blocker, "nitro-enclaves: enclave state lives "
               "in the external emulator and cannot be migrated");
    if (migrate_add_blocker(&s->migration_blocker, errp) < 0) {
        msix_unuse_all_vectors(pdev);
        msix_uninit_exclusive_bar(pdev);
        return;
    }

    /* Sends HELLO right away if the socket is already connected. */
    qemu_chr_fe_set_handlers(&s->chr, ne_chr_can_read, ne_chr_read,
                             ne_chr_event, NULL, s, NULL, true);
}

static void ne_exit(PCIDevice *pdev)
{
    NitroEnclavesState *s = NITRO_ENCLAVES(pdev);

    qemu_chr_fe_set_handlers(&s->chr, NULL, NULL, NULL, NULL, NULL, NULL,
                             true);
    ne_tx_stop(s);
    s->connected = false;
    s->pending = false;

    migrate_del_blocker(&s->migration_blocker);

    msix_unuse_all_vectors(pdev);
    msix_uninit_exclusive_bar(pdev);
    /* The BAR 3 region is unregistered by the PCI core after exit. */
}

static const Property ne_properties[] = {
    DEFINE_PROP_CHR("chardev", NitroEnclavesState, chr),
};

static void ne_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = ne_realize;
    k->exit = ne_exit;
    k->vendor_id = NE_PCI_VENDOR_ID;
    k->device_id = NE_PCI_DEVICE_ID;
    k->revision = 1;
    k->class_id = PCI_CLASS_SYSTEM_OTHER;
    rc->phases.hold = ne_reset_hold;
    dc->desc = "Nitro Enclaves device (transport to an external emulator)";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, ne_properties);
}

static const TypeInfo ne_types[] = {
    {
        .name = TYPE_NITRO_ENCLAVES,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(NitroEnclavesState),
        .class_init = ne_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { },
        },
    },
};

DEFINE_TYPES(ne_types)
