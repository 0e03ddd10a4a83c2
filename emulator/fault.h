/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection and reply latency, per command type.
 *
 * Each command type has a FIFO of armed faults (rc, drop, malformed), each
 * with a remaining count; the head is consumed by the next command of that
 * type. A faulted command is not executed, so the slot state never changes.
 */

#ifndef NE_EMU_FAULT_H
#define NE_EMU_FAULT_H

#include <stdint.h>

#include "../module/ne_proto.h"
#include "trace.h"

#define NE_FAULT_MAX_ARMED	1024	/* per type, to bound memory */

struct ne_fault {
	enum ne_fault_kind kind;
	int32_t rc;
	uint32_t count;
	struct ne_fault *next;
};

struct ne_faults {
	struct ne_fault *head[NE_CMD_MAX];
	unsigned int nr[NE_CMD_MAX];
	uint64_t default_lat_us;	/* --latency-us, restored by reset */
	uint64_t lat_us[NE_CMD_MAX];	/* [0]: unknown command types */
};

void ne_faults_init(struct ne_faults *f, uint64_t default_lat_us);
void ne_faults_clear(struct ne_faults *f);		/* armed faults */
void ne_faults_reset(struct ne_faults *f);		/* and latencies */

/* 0, or -EINVAL (bad type/kind/count) / -ENOSPC (too many armed). */
int ne_faults_arm(struct ne_faults *f, uint32_t type, enum ne_fault_kind kind,
		  int32_t rc, uint32_t count);
/* Consume one fault for this command; NE_FAULT_NONE if none is armed. */
enum ne_fault_kind ne_faults_take(struct ne_faults *f, uint32_t type,
				  int32_t *rc);

uint64_t ne_faults_latency(const struct ne_faults *f, uint32_t type);

#endif /* NE_EMU_FAULT_H */
