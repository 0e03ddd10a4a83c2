/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Command trace and statistics: what the device asked and what it got.
 *
 * One entry per command received from the device: sequence number, type,
 * the request bytes, the reply, rc, the fault applied and the latency
 * (filled in when the reply is actually sent). Formatting follows the
 * control protocol's `trace` and `stats` lines.
 */

#ifndef NE_EMU_TRACE_H
#define NE_EMU_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../module/ne_proto.h"

#define NE_TRACE_MAX_ENTRIES	262144	/* later commands are counted only */
#define NE_TRACE_REQ_BYTES	24	/* the largest request struct */

enum ne_fault_kind {
	NE_FAULT_NONE = 0,
	NE_FAULT_RC,
	NE_FAULT_DROP,
	NE_FAULT_MALFORMED,
	NE_FAULT_LOST,		/* carried out, but no reply */
};

struct ne_trace_ent {
	uint64_t seq;
	uint32_t type;
	enum ne_fault_kind fault;
	int32_t rc;
	int replied;			/* lat_us is valid */
	uint64_t t_recv_us;
	uint64_t lat_us;
	uint8_t req[NE_TRACE_REQ_BYTES];
	struct ne_cmd_reply reply;
	const char *boot;		/* START: " boot=<this>", or NULL */
};

struct ne_trace {
	struct ne_trace_ent *ents;
	size_t nr, cap;
	uint64_t not_recorded;		/* beyond NE_TRACE_MAX_ENTRIES */
	uint64_t count[NE_CMD_MAX];	/* stats, [0] = unknown types */
	uint64_t total;
};

void ne_trace_init(struct ne_trace *t);
void ne_trace_fini(struct ne_trace *t);
void ne_trace_clear(struct ne_trace *t);	/* entries only */
void ne_trace_reset(struct ne_trace *t);	/* entries and stats */

/* Count the command and record it; returns the entry or NULL if full. */
struct ne_trace_ent *ne_trace_add(struct ne_trace *t, uint64_t seq,
				  uint32_t type, const void *req, size_t len,
				  uint64_t now_us);
/* Reply sent: set the latency of the entry with this seq, if kept. */
void ne_trace_replied(struct ne_trace *t, uint64_t seq, uint64_t now_us);

/* One `T ...` line (no newline) into buf; returns its length. */
int ne_trace_format(const struct ne_trace_ent *ent, char *buf, size_t size);
/* Command description for log lines: "SLOT_ADD_MEM slot=1 paddr=..". */
int ne_trace_describe(uint32_t type, const void *req, size_t len,
		      char *buf, size_t size);

#endif /* NE_EMU_TRACE_H */
