// SPDX-License-Identifier: GPL-2.0
/*
 * Hypervisor slot engine: validation and execution of the device commands.
 *
 * Every handler checks first and changes state last, so a refused command
 * leaves the engine exactly as it was (the driver may retry).
 */

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

const char *ne_state_name(uint16_t state)
{
	switch (state) {
	case NE_SLOT_STATE_INIT:
		return "INIT";
	case NE_SLOT_STATE_RUNNING:
		return "RUNNING";
	case NE_SLOT_STATE_STOPPED:
		return "STOPPED";
	}
	return "UNKNOWN";
}

int ne_engine_init(struct ne_engine *e, const struct ne_engine_cfg *cfg)
{
	memset(e, 0, sizeof(*e));
	e->cfg = *cfg;
	if (!e->cfg.max_slots)
		e->cfg.max_slots = NE_ENGINE_DEF_MAX_SLOTS;
	if (!e->cfg.mem_regions)
		e->cfg.mem_regions = NE_ENGINE_DEF_MEM_REGIONS;
	return 0;
}

static void slot_destroy(struct ne_slot *s)
{
	free(s->regions);
	free(s->vcpus);
	free(s);
}

unsigned int ne_engine_free_all(struct ne_engine *e)
{
	unsigned int i, n = e->nr_slots;

	for (i = 0; i < e->nr_slots; i++)
		slot_destroy(e->slots[i]);
	e->nr_slots = 0;
	return n;
}

void ne_engine_fini(struct ne_engine *e)
{
	ne_engine_free_all(e);
	free(e->slots);
	e->slots = NULL;
	e->cap_slots = 0;
}

void ne_engine_set_mem_regions(struct ne_engine *e, unsigned int n)
{
	e->cfg.mem_regions = n;
}

struct ne_slot *ne_engine_find(struct ne_engine *e, uint64_t uid)
{
	unsigned int lo = 0, hi = e->nr_slots;

	/* Slots are kept in ascending uid order: uids only grow. */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (e->slots[mid]->uid == uid)
			return e->slots[mid];
		if (e->slots[mid]->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t ne_engine_vcpu_count(const struct ne_slot *s)
{
	return s->nr_vcpus + s->bulk_vcpus;
}

static struct ne_slot *find_by_cid(struct ne_engine *e, uint64_t cid)
{
	unsigned int i;

	/* Only running enclaves own their CID. */
	for (i = 0; i < e->nr_slots; i++)
		if (e->slots[i]->state == NE_SLOT_STATE_RUNNING &&
		    e->slots[i]->cid == cid)
			return e->slots[i];
	return NULL;
}

static int grow(void **arr, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, (size_t)ncap * elem);

	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/*
 * The handlers: (engine, aligned request copy, reply) as in the table.
 * The reply is zeroed and carries the request's slot_uid already.
 */

static int cmd_slot_alloc(struct ne_engine *e, const void *req,
			  struct ne_cmd_reply *r)
{
	struct ne_slot *s;

	(void)req;
	if (e->nr_slots >= e->cfg.max_slots)
		return -ENOSPC;
	if (e->nr_slots == e->cap_slots) {
		uint32_t cap = e->cap_slots;

		if (grow((void **)&e->slots, &cap, sizeof(*e->slots)))
			return -ENOMEM;
		e->cap_slots = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->uid = ++e->last_uid;
	s->state = NE_SLOT_STATE_INIT;
	s->max_regions = e->cfg.mem_regions;
	e->slots[e->nr_slots++] = s;
	r->slot_uid = htole64(s->uid);
	r->mem_regions = htole64(s->max_regions);
	return 0;
}

static int cmd_slot_free(struct ne_engine *e, const void *req,
			 struct ne_cmd_reply *r)
{
	const struct ne_slot_free_req *q = req;
	struct ne_slot *s = ne_engine_find(e, le64toh(q->slot_uid));
	unsigned int i;

	(void)r;
	if (!s)
		return -ENOENT;
	if (s->state == NE_SLOT_STATE_RUNNING)
		return -EBUSY;
	for (i = 0; e->slots[i] != s; i++)
		;
	memmove(&e->slots[i], &e->slots[i + 1],
		(e->nr_slots - i - 1) * sizeof(*e->slots));
	e->nr_slots--;
	slot_destroy(s);
	return 0;
}

/* Configuration commands need a slot that has not been started yet. */
static int slot_for_config(struct ne_engine *e, uint64_t uid,
			   struct ne_slot **out)
{
	struct ne_slot *s = ne_engine_find(e, uid);

	if (!s)
		return -ENOENT;
	if (s->state != NE_SLOT_STATE_INIT)
		return -EBUSY;
	*out = s;
	return 0;
}

static int cmd_add_mem(struct ne_engine *e, const void *req,
		       struct ne_cmd_reply *r)
{
	const struct ne_slot_add_mem_req *q = req;
	uint64_t paddr = le64toh(q->paddr), size = le64toh(q->size);
	struct ne_slot *s;
	unsigned int i, j;
	int rc;

	(void)r;
	rc = slot_for_config(e, le64toh(q->slot_uid), &s);
	if (rc)
		return rc;
	if (!size || size % NE_ENGINE_MEM_ALIGN || paddr % NE_ENGINE_MEM_ALIGN)
		return -EINVAL;
	if (paddr + size < paddr)
		return -EINVAL;
	if (s->nr_regions >= s->max_regions)
		return -ENOSPC;
	/* A physical range can back only one enclave, once. */
	for (i = 0; i < e->nr_slots; i++) {
		const struct ne_slot *o = e->slots[i];

		for (j = 0; j < o->nr_regions; j++) {
			const struct ne_region *g = &o->regions[j];

			if (paddr < g->paddr + g->size && g->paddr < paddr + size)
				return -EEXIST;
		}
	}
	if (s->nr_regions == s->cap_regions &&
	    grow((void **)&s->regions, &s->cap_regions, sizeof(*s->regions)))
		return -ENOMEM;
	s->regions[s->nr_regions].paddr = paddr;
	s->regions[s->nr_regions].size = size;
	s->nr_regions++;
	s->mem_size += size;
	return 0;
}

static int cmd_add_vcpu(struct ne_engine *e, const void *req,
			struct ne_cmd_reply *r)
{
	const struct ne_slot_add_vcpu_req *q = req;
	uint32_t id = le32toh(q->vcpu_id);
	struct ne_slot *s;
	unsigned int i, j;
	int rc;

	(void)r;
	rc = slot_for_config(e, le64toh(q->slot_uid), &s);
	if (rc)
		return rc;
	/* One parent CPU runs one enclave vCPU. */
	for (i = 0; i < e->nr_slots; i++)
		for (j = 0; j < e->slots[i]->nr_vcpus; j++)
			if (e->slots[i]->vcpus[j] == id)
				return -EEXIST;
	if (ne_engine_vcpu_count(s) >= NE_ENGINE_MAX_VCPUS)
		return -ENOSPC;
	if (s->nr_vcpus == s->cap_vcpus &&
	    grow((void **)&s->vcpus, &s->cap_vcpus, sizeof(*s->vcpus)))
		return -ENOMEM;
	s->vcpus[s->nr_vcpus++] = id;
	return 0;
}

static int cmd_add_bulk(struct ne_engine *e, const void *req,
			struct ne_cmd_reply *r)
{
	const struct ne_slot_add_bulk_vcpus_req *q = req;
	uint64_t n = le64toh(q->nr_vcpus);
	struct ne_slot *s;
	int rc;

	(void)r;
	rc = slot_for_config(e, le64toh(q->slot_uid), &s);
	if (rc)
		return rc;
	if (!n)
		return -EINVAL;
	if (n > NE_ENGINE_MAX_VCPUS - ne_engine_vcpu_count(s))
		return -ENOSPC;
	s->bulk_vcpus += n;
	return 0;
}

static int cid_reserved(uint64_t cid)
{
	/* 0 hypervisor, 1 local, 2 host, 3 parent, 0xFFFFFFFF any. */
	return cid <= 3 || cid >= 0xffffffffULL;
}

static int cmd_start(struct ne_engine *e, const void *req,
		     struct ne_cmd_reply *r)
{
	const struct ne_enclave_start_req *q = req;
	uint64_t cid = le64toh(q->enclave_cid), flags = le64toh(q->flags);
	struct ne_slot *s;
	int rc;

	rc = slot_for_config(e, le64toh(q->slot_uid), &s);
	if (rc)
		return rc;
	if (flags >= 2)
		return -EINVAL;
	if (!s->nr_regions || !ne_engine_vcpu_count(s))
		return -EINVAL;
	if (cid) {
		if (cid_reserved(cid))
			return -EINVAL;
		if (find_by_cid(e, cid))
			return -EADDRINUSE;
	} else {
		for (cid = NE_ENGINE_FIRST_AUTO_CID; find_by_cid(e, cid); cid++)
			;
	}
	s->cid = cid;
	s->flags = flags;
	s->state = NE_SLOT_STATE_RUNNING;
	r->enclave_cid = htole64(cid);
	return 0;
}

static int cmd_stop(struct ne_engine *e, const void *req,
		    struct ne_cmd_reply *r)
{
	const struct ne_enclave_stop_req *q = req;
	struct ne_slot *s = ne_engine_find(e, le64toh(q->slot_uid));

	(void)r;
	if (!s)
		return -ENOENT;
	/*
	 * Stopping a stopped enclave succeeds: the driver may still think it
	 * runs (its event worker has not run yet), and a refusal here would
	 * make its release path leak the enclave.
	 */
	if (s->state == NE_SLOT_STATE_INIT)
		return -EINVAL;
	s->state = NE_SLOT_STATE_STOPPED;
	return 0;
}

static int cmd_get_slot(struct ne_engine *e, const void *req,
			struct ne_cmd_reply *r)
{
	const struct ne_enclave_get_slot_req *q = req;
	uint64_t cid = le64toh(q->enclave_cid);
	struct ne_slot *s = find_by_cid(e, cid);

	if (!s)
		return -ENOENT;
	r->slot_uid = htole64(s->uid);
	r->enclave_cid = htole64(cid);
	return 0;
}

static int cmd_slot_count(struct ne_engine *e, const void *req,
			  struct ne_cmd_reply *r)
{
	(void)req;
	r->slot_count = htole64(e->nr_slots);
	return 0;
}

static int cmd_next_slot(struct ne_engine *e, const void *req,
			 struct ne_cmd_reply *r)
{
	const struct ne_next_slot_req *q = req;
	uint64_t uid = le64toh(q->slot_uid);
	unsigned int i;

	/* The next uid above the given one, so a freed cursor still works. */
	for (i = 0; i < e->nr_slots; i++) {
		if (e->slots[i]->uid > uid) {
			r->slot_uid = htole64(e->slots[i]->uid);
			return 0;
		}
	}
	return -ENOENT;
}

static int cmd_slot_info(struct ne_engine *e, const void *req,
			 struct ne_cmd_reply *r)
{
	const struct ne_slot_info_req *q = req;
	struct ne_slot *s = ne_engine_find(e, le64toh(q->slot_uid));

	if (!s)
		return -ENOENT;
	r->enclave_cid = htole64(s->state == NE_SLOT_STATE_INIT ? 0 : s->cid);
	r->mem_regions = htole64(s->nr_regions);
	r->mem_size = htole64(s->mem_size);
	r->nr_vcpus = htole64(ne_engine_vcpu_count(s));
	r->flags = htole64(s->flags);
	r->state = htole16(s->state);
	return 0;
}

/*
 * The command table. REQ() is the request size, refused at build time if
 * it does not fit the copy in ne_engine_cmd(); QF() and RF() are traced
 * fields of a request struct and of the reply.
 */
#define REQ(T)							\
	(sizeof(T) + 0 * sizeof(char[sizeof(T) <= NE_CMD_REQ_MAX ? 1 : -1]))
#define QF(name, T, m, fmt)						\
	{ name, offsetof(T, m), sizeof(((T *)0)->m), NE_CMD_FMT_##fmt }
#define RF(name, m, fmt)	QF(name, struct ne_cmd_reply, m, fmt)
#define SLOT_IN(T)	.slot = NE_CMD_SLOT_REQ, .slot_off = offsetof(T, slot_uid)

static const struct ne_cmd_desc cmds[NE_CMD_MAX] = {
	[NE_CMD_ENCLAVE_START] = {
		.name = "ENCLAVE_START",
		.req_size = REQ(struct ne_enclave_start_req),
		SLOT_IN(struct ne_enclave_start_req),
		.run = cmd_start,
		.req_fields = {
			QF("cid", struct ne_enclave_start_req, enclave_cid, DEC),
			QF("flags", struct ne_enclave_start_req, flags, DEC),
		},
		.reply_fields = { RF("enclave_cid", enclave_cid, DEC) },
	},
	[NE_CMD_ENCLAVE_GET_SLOT] = {
		.name = "ENCLAVE_GET_SLOT",
		.req_size = REQ(struct ne_enclave_get_slot_req),
		.slot = NE_CMD_SLOT_REPLY,
		.run = cmd_get_slot,
		.req_fields = {
			QF("cid", struct ne_enclave_get_slot_req, enclave_cid,
			   DEC),
		},
	},
	[NE_CMD_ENCLAVE_STOP] = {
		.name = "ENCLAVE_STOP",
		.req_size = REQ(struct ne_enclave_stop_req),
		SLOT_IN(struct ne_enclave_stop_req),
		.run = cmd_stop,
	},
	[NE_CMD_SLOT_ALLOC] = {
		.name = "SLOT_ALLOC",
		.req_size = REQ(struct ne_slot_alloc_req),
		.slot = NE_CMD_SLOT_REPLY,
		.run = cmd_slot_alloc,
		.reply_fields = { RF("mem_regions", mem_regions, DEC) },
	},
	[NE_CMD_SLOT_FREE] = {
		.name = "SLOT_FREE",
		.req_size = REQ(struct ne_slot_free_req),
		SLOT_IN(struct ne_slot_free_req),
		.run = cmd_slot_free,
	},
	[NE_CMD_SLOT_ADD_MEM] = {
		.name = "SLOT_ADD_MEM",
		.req_size = REQ(struct ne_slot_add_mem_req),
		SLOT_IN(struct ne_slot_add_mem_req),
		.run = cmd_add_mem,
		.req_fields = {
			QF("paddr", struct ne_slot_add_mem_req, paddr, HEX),
			QF("size", struct ne_slot_add_mem_req, size, HEX),
		},
	},
	[NE_CMD_SLOT_ADD_VCPU] = {
		.name = "SLOT_ADD_VCPU",
		.req_size = REQ(struct ne_slot_add_vcpu_req),
		SLOT_IN(struct ne_slot_add_vcpu_req),
		.run = cmd_add_vcpu,
		.req_fields = {
			QF("vcpu", struct ne_slot_add_vcpu_req, vcpu_id, DEC),
		},
	},
	[NE_CMD_SLOT_COUNT] = {
		.name = "SLOT_COUNT",
		.req_size = REQ(struct ne_slot_count_req),
		.slot = NE_CMD_SLOT_NONE,
		.run = cmd_slot_count,
		.reply_fields = { RF("count", slot_count, DEC) },
	},
	[NE_CMD_NEXT_SLOT] = {
		.name = "NEXT_SLOT",
		.req_size = REQ(struct ne_next_slot_req),
		SLOT_IN(struct ne_next_slot_req),
		.run = cmd_next_slot,
		.reply_fields = { RF("next", slot_uid, DEC) },
	},
	[NE_CMD_SLOT_INFO] = {
		.name = "SLOT_INFO",
		.req_size = REQ(struct ne_slot_info_req),
		SLOT_IN(struct ne_slot_info_req),
		.run = cmd_slot_info,
		.reply_fields = {
			RF("state", state, STATE),
			RF("enclave_cid", enclave_cid, DEC),
			RF("mem_size", mem_size, HEX),
			RF("nr_vcpus", nr_vcpus, DEC),
			RF("flags", flags, DEC),
			RF("mem_regions", mem_regions, DEC),
		},
	},
	[NE_CMD_SLOT_ADD_BULK_VCPUS] = {
		.name = "SLOT_ADD_BULK_VCPUS",
		.req_size = REQ(struct ne_slot_add_bulk_vcpus_req),
		SLOT_IN(struct ne_slot_add_bulk_vcpus_req),
		.run = cmd_add_bulk,
		.req_fields = {
			QF("nr_vcpus", struct ne_slot_add_bulk_vcpus_req,
			   nr_vcpus, DEC),
		},
	},
};

const struct ne_cmd_desc *ne_cmd_desc(uint32_t type)
{
	return type < NE_CMD_MAX && cmds[type].name ? &cmds[type] : NULL;
}

const char *ne_cmd_name(uint32_t type)
{
	const struct ne_cmd_desc *d = ne_cmd_desc(type);

	return d ? d->name : NULL;
}

int ne_cmd_from_name(const char *name)
{
	int i;

	for (i = 1; i < NE_CMD_MAX; i++)
		if (cmds[i].name && !strcmp(cmds[i].name, name))
			return i;
	return -1;
}

uint64_t ne_req_slot_uid(uint32_t type, const void *req, size_t len)
{
	const struct ne_cmd_desc *d = ne_cmd_desc(type);
	uint64_t uid;

	if (!d || d->slot != NE_CMD_SLOT_REQ ||
	    len < d->slot_off + sizeof(uid))
		return 0;
	memcpy(&uid, (const uint8_t *)req + d->slot_off, sizeof(uid));
	return le64toh(uid);
}

int ne_engine_cmd(struct ne_engine *e, uint32_t type, const void *req,
		  size_t len, struct ne_cmd_reply *reply)
{
	const struct ne_cmd_desc *d = ne_cmd_desc(type);
	union {
		uint8_t bytes[NE_CMD_REQ_MAX];
		uint64_t align;
	} q;
	int rc;

	memset(reply, 0, sizeof(*reply));
	if (!d) {
		rc = -EOPNOTSUPP;
	} else if (!req || len < d->req_size) {
		rc = -EINVAL;
	} else {
		/* Aligned private copy: the window may be any byte buffer. */
		memset(&q, 0, sizeof(q));
		memcpy(&q, req, d->req_size);
		reply->slot_uid = htole64(ne_req_slot_uid(type, &q,
							  d->req_size));
		rc = d->run(e, &q, reply);
	}
	reply->rc = (int32_t)htole32((uint32_t)rc);
	return rc;
}

int ne_engine_end(struct ne_engine *e, uint64_t uid)
{
	unsigned int i;
	int n = 0;

	if (uid) {
		struct ne_slot *s = ne_engine_find(e, uid);

		if (!s)
			return -ENOENT;
		if (s->state != NE_SLOT_STATE_RUNNING)
			return -EINVAL;
		s->state = NE_SLOT_STATE_STOPPED;
		return 1;
	}
	for (i = 0; i < e->nr_slots; i++) {
		if (e->slots[i]->state == NE_SLOT_STATE_RUNNING) {
			e->slots[i]->state = NE_SLOT_STATE_STOPPED;
			n++;
		}
	}
	return n;
}
