/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device link: the QEMU device model's connection (emulator/ne_wire.h).
 *
 * Framing, the HELLO exchange, partial reads, header validation before
 * the body is read, replies (immediate or delayed by a timer) and events.
 * A protocol violation drops that connection only. The connection that
 * most recently completed HELLO is the active one; events go there. Each
 * connection keeps the memory map its device sent (parentmem.h).
 */

#ifndef NE_EMU_DEVLINK_H
#define NE_EMU_DEVLINK_H

#include <stdint.h>

#include "../module/ne_proto.h"
#include "ne_wire.h"
#include "iobuf.h"
#include "parentmem.h"

#define NE_DEV_MAX_CONNS	8
#define NE_DEV_MAX_OUT		(16u << 20)	/* device not reading: drop */
#define NE_DEV_MAX_EVENTS	100000		/* per `event` request */
#define NE_DEV_BATCH		256		/* messages per loop turn */

struct ne_emu;

struct ne_devconn {
	int fd;
	unsigned int id;		/* connection number, for the log */
	int ready;			/* HELLO done */
	uint8_t in[sizeof(struct ne_wire_hdr) + NE_WIRE_MAX_PAYLOAD];
	size_t in_len;
	struct ne_buf out;
	int fds[NE_WIRE_MEMMAP_FDS];	/* received, not yet used by MEMMAP */
	unsigned int nr_fds;
	struct ne_parentmem mem;	/* the VM's RAM, from its MEMMAP */
	struct ne_devconn *next;
};

/* A reply waiting for its latency to expire. */
struct ne_pending {
	uint64_t deadline_us;
	struct ne_devconn *conn;
	uint32_t wire_id;
	uint64_t seq;
	struct ne_wire_reply rep;
	struct ne_pending *next;
};

struct ne_devlink {
	int lfd;
	struct ne_devconn *conns;
	struct ne_devconn *active;
	unsigned int next_id;
	unsigned int nr_conns;
	struct ne_pending *pending;	/* ascending deadline */
};

void ne_devlink_init(struct ne_devlink *d);
void ne_devlink_fini(struct ne_devlink *d);
void ne_devlink_accept(struct ne_emu *emu);
void ne_devlink_io(struct ne_emu *emu, struct ne_devconn *c, short revents);
struct ne_devconn *ne_devlink_find(struct ne_devlink *d, int fd);

/* Send what is due; returns ms until the next deadline or -1. */
void ne_devlink_run_timers(struct ne_emu *emu, uint64_t now_us);
int ne_devlink_timeout_ms(const struct ne_devlink *d, uint64_t now_us);
/* When the reply to command @seq is due, if it is held back; else 0. */
uint64_t ne_devlink_due_us(const struct ne_devlink *d, uint64_t seq);

/* Queue a reply now or at now + delay. */
void ne_devlink_reply(struct ne_emu *emu, struct ne_devconn *c,
		      uint32_t wire_id, uint64_t seq,
		      const struct ne_wire_reply *rep, uint64_t delay_us);
/* n EVENT messages to the active device; -ENOTCONN without one. */
int ne_devlink_events(struct ne_emu *emu, unsigned int n);

#endif /* NE_EMU_DEVLINK_H */
