// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection and reply latency: the armed-fault queues.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

void ne_faults_init(struct ne_faults *f, uint64_t default_lat_us)
{
	memset(f, 0, sizeof(*f));
	f->default_lat_us = default_lat_us;
	ne_faults_reset(f);
}

void ne_faults_clear(struct ne_faults *f)
{
	unsigned int t;

	for (t = 0; t < NE_CMD_MAX; t++) {
		while (f->head[t]) {
			struct ne_fault *n = f->head[t]->next;

			free(f->head[t]);
			f->head[t] = n;
		}
		f->nr[t] = 0;
	}
}

void ne_faults_reset(struct ne_faults *f)
{
	unsigned int t;

	ne_faults_clear(f);
	for (t = 0; t < NE_CMD_MAX; t++)
		f->lat_us[t] = f->default_lat_us;
}

int ne_faults_arm(struct ne_faults *f, uint32_t type, enum ne_fault_kind kind,
		  int32_t rc, uint32_t count)
{
	struct ne_fault *nf, **pp;

	if (type == NE_CMD_INVALID || type >= NE_CMD_MAX || !count)
		return -EINVAL;
	if (kind != NE_FAULT_RC && kind != NE_FAULT_DROP &&
	    kind != NE_FAULT_MALFORMED && kind != NE_FAULT_LOST)
		return -EINVAL;
	if (kind == NE_FAULT_RC && rc >= 0)
		return -EINVAL;
	if (f->nr[type] >= NE_FAULT_MAX_ARMED)
		return -ENOSPC;
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->kind = kind;
	nf->rc = rc;
	nf->count = count;
	for (pp = &f->head[type]; *pp; pp = &(*pp)->next)
		;
	*pp = nf;
	f->nr[type]++;
	return 0;
}

enum ne_fault_kind ne_faults_take(struct ne_faults *f, uint32_t type,
				  int32_t *rc)
{
	struct ne_fault *h;
	enum ne_fault_kind kind;

	if (type >= NE_CMD_MAX || !f->head[type])
		return NE_FAULT_NONE;
	h = f->head[type];
	kind = h->kind;
	*rc = h->rc;
	if (--h->count == 0) {
		f->head[type] = h->next;
		f->nr[type]--;
		free(h);
	}
	return kind;
}

uint64_t ne_faults_latency(const struct ne_faults *f, uint32_t type)
{
	return f->lat_us[type < NE_CMD_MAX ? type : 0];
}
