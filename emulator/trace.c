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

static uint64_t get64(const uint8_t *p, size_t off, size_t len)
{
	uint64_t v = 0;

	if (off + sizeof(v) <= len)
		memcpy(&v, p + off, sizeof(v));
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p, size_t off, size_t len)
{
	uint32_t v = 0;

	if (off + sizeof(v) <= len)
		memcpy(&v, p + off, sizeof(v));
	return le32toh(v);
}

#define APPEND(...) do {						\
	int _n = snprintf(buf + pos, pos < size ? size - pos : 0,	\
			  __VA_ARGS__);					\
	if (_n > 0)							\
		pos += (size_t)_n;					\
} while (0)

/* Request fields; the slot comes from the reply where the device picks it. */
static size_t fmt_request(uint32_t type, const uint8_t *q, size_t len,
			  const struct ne_cmd_reply *r, char *buf, size_t size)
{
	const char *name = ne_cmd_name(type);
	uint64_t rslot = r ? le64toh(r->slot_uid) : 0;
	size_t pos = 0;

	if (name)
		APPEND("cmd=%s", name);
	else
		APPEND("cmd=UNKNOWN(%" PRIu32 ")", type);

	switch (type) {
	case NE_CMD_ENCLAVE_START:
		APPEND(" slot=%" PRIu64 " cid=%" PRIu64 " flags=%" PRIu64,
		       get64(q, 0, len), get64(q, 8, len), get64(q, 16, len));
		break;
	case NE_CMD_ENCLAVE_GET_SLOT:
		APPEND(" slot=%" PRIu64 " cid=%" PRIu64, rslot,
		       get64(q, 0, len));
		break;
	case NE_CMD_SLOT_ALLOC:
		APPEND(" slot=%" PRIu64, rslot);
		break;
	case NE_CMD_SLOT_ADD_MEM:
		APPEND(" slot=%" PRIu64 " paddr=0x%" PRIx64 " size=0x%" PRIx64,
		       get64(q, 0, len), get64(q, 8, len), get64(q, 16, len));
		break;
	case NE_CMD_SLOT_ADD_VCPU:
		APPEND(" slot=%" PRIu64 " vcpu=%" PRIu32, get64(q, 0, len),
		       get32(q, 8, len));
		break;
	case NE_CMD_SLOT_ADD_BULK_VCPUS:
		APPEND(" slot=%" PRIu64 " nr_vcpus=%" PRIu64,
		       get64(q, 0, len), get64(q, 8, len));
		break;
	case NE_CMD_ENCLAVE_STOP:
	case NE_CMD_SLOT_FREE:
	case NE_CMD_NEXT_SLOT:
	case NE_CMD_SLOT_INFO:
		APPEND(" slot=%" PRIu64, get64(q, 0, len));
		break;
	default:
		APPEND(" slot=0");
		break;
	}
	return pos;
}

/* Reply fields worth seeing, only for a successful, well-formed reply. */
static size_t fmt_reply(uint32_t type, const struct ne_cmd_reply *r,
			char *buf, size_t size)
{
	size_t pos = 0;

	switch (type) {
	case NE_CMD_ENCLAVE_START:
		APPEND(" enclave_cid=%" PRIu64, le64toh(r->enclave_cid));
		break;
	case NE_CMD_SLOT_ALLOC:
		APPEND(" mem_regions=%" PRIu64, le64toh(r->mem_regions));
		break;
	case NE_CMD_SLOT_COUNT:
		APPEND(" count=%" PRIu64, le64toh(r->slot_count));
		break;
	case NE_CMD_NEXT_SLOT:
		APPEND(" next=%" PRIu64, le64toh(r->slot_uid));
		break;
	case NE_CMD_SLOT_INFO:
		APPEND(" state=%s enclave_cid=%" PRIu64 " mem_size=0x%" PRIx64
		       " nr_vcpus=%" PRIu64 " flags=%" PRIu64
		       " mem_regions=%" PRIu64,
		       ne_state_name(le16toh(r->state)),
		       le64toh(r->enclave_cid), le64toh(r->mem_size),
		       le64toh(r->nr_vcpus), le64toh(r->flags),
		       le64toh(r->mem_regions));
		break;
	}
	return pos;
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
	pos += fmt_request(ent->type, ent->req, sizeof(ent->req),
			   ok_reply ? &ent->reply : NULL,
			   buf + (pos < size ? pos : size),
			   pos < size ? size - pos : 0);
	if (ent->fault == NE_FAULT_NONE && ent->rc == 0)
		pos += fmt_reply(ent->type, &ent->reply,
				 buf + (pos < size ? pos : size),
				 pos < size ? size - pos : 0);
	if (ent->fault == NE_FAULT_DROP || ent->fault == NE_FAULT_LOST)
		APPEND(" rc=none");
	else
		APPEND(" rc=%" PRId32, ent->rc);
	APPEND(" lat_us=%" PRIu64 "%s", ent->replied ? ent->lat_us : 0,
	       fault_names[ent->fault]);
	return (int)pos;
}

int ne_trace_describe(uint32_t type, const void *req, size_t len,
		      char *buf, size_t size)
{
	return (int)fmt_request(type, req, len, NULL, buf, size);
}
