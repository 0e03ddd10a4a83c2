// SPDX-License-Identifier: GPL-2.0
/*
 * Command trace and statistics: recording and the `T`/`S` line formats.
 */

#include <endian.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "trace.h"

void ne_trace_init(struct ne_trace *t)
{
	memset(t, 0, sizeof(*t));
}

void ne_trace_fini(struct ne_trace *t)
{
	free(t->ents);
	memset(t, 0, sizeof(*t));
}

void ne_trace_clear(struct ne_trace *t)
{
	t->nr = 0;
	t->not_recorded = 0;
}

void ne_trace_reset(struct ne_trace *t)
{
	ne_trace_clear(t);
	memset(t->count, 0, sizeof(t->count));
	t->total = 0;
}

struct ne_trace_ent *ne_trace_add(struct ne_trace *t, uint64_t seq,
				  uint32_t type, const void *req, size_t len,
				  uint64_t now_us)
{
	struct ne_trace_ent *ent;

	t->count[type < NE_CMD_MAX ? type : 0]++;
	t->total++;
	if (t->nr == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 256;
		void *p;

		if (ncap > NE_TRACE_MAX_ENTRIES)
			ncap = NE_TRACE_MAX_ENTRIES;
		if (t->nr >= ncap) {
			t->not_recorded++;
			return NULL;
		}
		p = realloc(t->ents, ncap * sizeof(*t->ents));
		if (!p) {
			t->not_recorded++;
			return NULL;
		}
		t->ents = p;
		t->cap = ncap;
	}
	ent = &t->ents[t->nr++];
	memset(ent, 0, sizeof(*ent));
	ent->seq = seq;
	ent->type = type;
	ent->t_recv_us = now_us;
	memcpy(ent->req, req, len < sizeof(ent->req) ? len : sizeof(ent->req));
	return ent;
}

void ne_trace_replied(struct ne_trace *t, uint64_t seq, uint64_t now_us)
{
	size_t lo = 0, hi = t->nr;

	/* Entries are appended in seq order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct ne_trace_ent *ent = &t->ents[mid];

		if (ent->seq == seq) {
			ent->lat_us = now_us - ent->t_recv_us;
			ent->replied = 1;
			return;
		}
		if (ent->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
}

/* The trace keeps the first NE_TRACE_REQ_BYTES of a request. */
_Static_assert(NE_TRACE_REQ_BYTES >= NE_CMD_REQ_MAX, "trace: request bytes");

/* A little-endian field of @width bytes at @off of @p; 0 beyond @len. */
static uint64_t get_le(const uint8_t *p, size_t off, size_t width, size_t len)
{
	uint64_t v = 0;
	size_t i;

	if (off + width > len)
		return 0;
	for (i = width; i-- > 0;)
		v = v << 8 | p[off + i];
	return v;
}

/* Append at @pos in @buf; the result is the length that would be written. */
#define APPEND(...) do {						\
	int _n = snprintf(buf + pos, pos < size ? size - pos : 0,	\
			  __VA_ARGS__);					\
	if (_n > 0)							\
		pos += (size_t)_n;					\
} while (0)

/* The fields of one command-table list, each as " name=value". */
static size_t fmt_fields(char *buf, size_t size, size_t pos,
			 const struct ne_cmd_field *f, size_t n,
			 const void *src, size_t len)
{
	size_t i;

	for (i = 0; i < n && f[i].name; i++) {
		uint64_t v = get_le(src, f[i].off, f[i].width, len);

		if (f[i].fmt == NE_CMD_FMT_HEX)
			APPEND(" %s=0x%" PRIx64, f[i].name, v);
		else if (f[i].fmt == NE_CMD_FMT_STATE)
			APPEND(" %s=%s", f[i].name, ne_state_name((uint16_t)v));
		else
			APPEND(" %s=%" PRIu64, f[i].name, v);
	}
	return pos;
}

/* Request fields; the slot comes from the reply where the device picks it. */
static size_t fmt_request(char *buf, size_t size, size_t pos, uint32_t type,
			  const uint8_t *q, size_t len,
			  const struct ne_cmd_reply *r)
{
	const struct ne_cmd_desc *d = ne_cmd_desc(type);
	uint64_t slot = 0;

	if (!d) {
		APPEND("cmd=UNKNOWN(%" PRIu32 ") slot=0", type);
		return pos;
	}
	if (d->slot == NE_CMD_SLOT_REQ)
		slot = ne_req_slot_uid(type, q, len);
	else if (d->slot == NE_CMD_SLOT_REPLY && r)
		slot = le64toh(r->slot_uid);
	APPEND("cmd=%s slot=%" PRIu64, d->name, slot);
	return fmt_fields(buf, size, pos, d->req_fields, NE_CMD_REQ_FIELDS,
			  q, len);
}

/* Reply fields worth seeing, only for a successful, well-formed reply. */
static size_t fmt_reply(char *buf, size_t size, size_t pos, uint32_t type,
			const struct ne_cmd_reply *r)
{
	const struct ne_cmd_desc *d = ne_cmd_desc(type);

	if (!d)
		return pos;
	return fmt_fields(buf, size, pos, d->reply_fields,
			  NE_CMD_REPLY_FIELDS, r, sizeof(*r));
}

int ne_trace_format(const struct ne_trace_ent *ent, char *buf, size_t size)
{
	static const char *const fault_names[] = {
		[NE_FAULT_NONE] = "", [NE_FAULT_RC] = " fault=rc",
		[NE_FAULT_DROP] = " fault=drop",
		[NE_FAULT_MALFORMED] = " fault=malformed",
		[NE_FAULT_LOST] = " fault=lost",
	};
	size_t pos = 0;
	int ok_reply;

	APPEND("T seq=%" PRIu64 " ", ent->seq);
	/* A garbage or missing reply has no slot worth showing. */
	ok_reply = ent->fault == NE_FAULT_NONE || ent->fault == NE_FAULT_RC;
	pos = fmt_request(buf, size, pos, ent->type, ent->req,
			  sizeof(ent->req), ok_reply ? &ent->reply : NULL);
	if (ent->fault == NE_FAULT_NONE && ent->rc == 0)
		pos = fmt_reply(buf, size, pos, ent->type, &ent->reply);
	if (ent->fault == NE_FAULT_DROP || ent->fault == NE_FAULT_LOST)
		APPEND(" rc=none");
	else
		APPEND(" rc=%" PRId32, ent->rc);
	APPEND(" lat_us=%" PRIu64 "%s", ent->replied ? ent->lat_us : 0,
	       fault_names[ent->fault]);
	if (ent->boot)
		APPEND(" boot=%s", ent->boot);
	return (int)pos;
}

int ne_trace_describe(uint32_t type, const void *req, size_t len,
		      char *buf, size_t size)
{
	return (int)fmt_request(buf, size, 0, type, req, len, NULL);
}
