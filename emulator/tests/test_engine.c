// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for engine.c: every device command, happy path and refusals.
 */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "tap.h"
#include "trace.h"

#define MiB(x)	((uint64_t)(x) << 20)

static struct ne_engine eng;
static struct ne_cmd_reply rep;

static void setup(unsigned int max_slots, unsigned int regions)
{
	struct ne_engine_cfg cfg = { .max_slots = max_slots,
				     .mem_regions = regions };

	ne_engine_fini(&eng);
	ne_engine_init(&eng, &cfg);
}

/* Send window with up to three u64 fields, like the driver writes it. */
static int cmd3(uint32_t type, uint64_t a, uint64_t b, uint64_t c)
{
	uint8_t win[NE_SEND_DATA_SIZE];
	uint64_t v[3] = { htole64(a), htole64(b), htole64(c) };
	int rc;

	/* Stale bytes beyond the request: the device must not care. */
	memset(win, 0x5a, sizeof(win));
	memcpy(win, v, sizeof(v));
	rc = ne_engine_cmd(&eng, type, win, sizeof(win), &rep);
	if ((int32_t)le32toh((uint32_t)rep.rc) != rc)
		printf("# reply rc %d != returned rc %d\n", rep.rc, rc);
	return rc;
}

static uint64_t alloc(void)
{
	return cmd3(NE_CMD_SLOT_ALLOC, 0, 0, 0) ? 0 : le64toh(rep.slot_uid);
}

static int add_mem(uint64_t uid, uint64_t paddr, uint64_t size)
{
	return cmd3(NE_CMD_SLOT_ADD_MEM, uid, paddr, size);
}

static int add_vcpu(uint64_t uid, uint32_t id)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };
	struct ne_slot_add_vcpu_req q = { .slot_uid = htole64(uid),
					  .vcpu_id = htole32(id) };

	memcpy(win, &q, sizeof(q));
	return ne_engine_cmd(&eng, NE_CMD_SLOT_ADD_VCPU, win, sizeof(win),
			     &rep);
}

static int start(uint64_t uid, uint64_t cid, uint64_t flags)
{
	return cmd3(NE_CMD_ENCLAVE_START, uid, cid, flags);
}

/* A slot with memory and a vCPU, ready to start. */
static uint64_t ready_slot(uint64_t paddr, uint32_t vcpu)
{
	uint64_t uid = alloc();

	if (!uid || add_mem(uid, paddr, MiB(64)) || add_vcpu(uid, vcpu))
		return 0;
	return uid;
}

static int info(uint64_t uid)
{
	return cmd3(NE_CMD_SLOT_INFO, uid, 0, 0);
}

static void test_slot_alloc(void)
{
	uint64_t a, b, c;

	setup(3, 0);
	a = alloc();
	ok(a != 0, "SLOT_ALLOC: uid is not 0");
	is(le64toh(rep.mem_regions), NE_ENGINE_DEF_MEM_REGIONS,
	   "SLOT_ALLOC: reply reports the default region limit 256");
	is(rep.rc, 0, "SLOT_ALLOC: rc 0");
	b = alloc();
	c = alloc();
	ok(b && c && a != b && b != c && a != c, "SLOT_ALLOC: uids unique");
	is(cmd3(NE_CMD_SLOT_ALLOC, 0, 0, 0), -ENOSPC,
	   "SLOT_ALLOC: beyond max slots -> -ENOSPC");
	is(eng.nr_slots, 3, "SLOT_ALLOC: refusal allocates nothing");
	is(cmd3(NE_CMD_SLOT_FREE, b, 0, 0), 0, "SLOT_FREE frees a slot");
	ok(alloc() > c, "SLOT_ALLOC: a freed uid is never reused");

	setup(0, 17);
	alloc();
	is(le64toh(rep.mem_regions), 17, "SLOT_ALLOC: configured limit");
	ne_engine_set_mem_regions(&eng, 5);
	alloc();
	is(le64toh(rep.mem_regions), 5,
	   "SLOT_ALLOC: set mem-regions applies to new slots");
	is(eng.slots[0]->max_regions, 17, "... but not to existing ones");
}

static void test_slot_free(void)
{
	uint64_t a, b;

	setup(0, 0);
	a = ready_slot(MiB(0), 1);
	b = alloc();
	is(cmd3(NE_CMD_SLOT_FREE, 0, 0, 0), -ENOENT, "SLOT_FREE: uid 0");
	is(cmd3(NE_CMD_SLOT_FREE, 999, 0, 0), -ENOENT, "SLOT_FREE: unknown");
	is(start(a, 0, 0), 0, "start slot a");
	is(cmd3(NE_CMD_SLOT_FREE, a, 0, 0), -EBUSY, "SLOT_FREE: RUNNING");
	is(le64toh(rep.slot_uid), a, "SLOT_FREE: reply carries the uid");
	is(cmd3(NE_CMD_ENCLAVE_STOP, a, 0, 0), 0, "stop slot a");
	is(cmd3(NE_CMD_SLOT_FREE, a, 0, 0), 0, "SLOT_FREE: STOPPED ok");
	is(cmd3(NE_CMD_SLOT_FREE, b, 0, 0), 0, "SLOT_FREE: INIT ok");
	is(cmd3(NE_CMD_SLOT_FREE, b, 0, 0), -ENOENT, "SLOT_FREE: twice");
	is(eng.nr_slots, 0, "SLOT_FREE: no slot left");
	b = alloc();
	is(add_mem(b, MiB(0), MiB(64)), 0,
	   "SLOT_FREE released the memory of the freed slot");
	is(add_vcpu(b, 1), 0, "SLOT_FREE released the vCPUs of the slot");
}

static void test_add_mem(void)
{
	uint64_t a, b;

	setup(0, 3);
	a = alloc();
	b = alloc();
	is(add_mem(a, MiB(4), MiB(2)), 0, "ADD_MEM: 2 MiB at 4 MiB");
	is(add_mem(a, MiB(2), MiB(2)), 0, "ADD_MEM: adjacent below");
	is(add_mem(a, MiB(1), MiB(2)), -EINVAL, "ADD_MEM: paddr unaligned");
	is(add_mem(a, MiB(64), MiB(3)), -EINVAL, "ADD_MEM: size unaligned");
	is(add_mem(a, MiB(64), 0x1000), -EINVAL, "ADD_MEM: size 4 KiB");
	is(add_mem(a, MiB(64), 0), -EINVAL, "ADD_MEM: size 0");
	is(add_mem(a, 0xffffffffffe00000ULL, MiB(4)), -EINVAL,
	   "ADD_MEM: range wraps around");
	is(add_mem(a, MiB(4), MiB(2)), -EEXIST, "ADD_MEM: same range again");
	is(add_mem(a, MiB(0), MiB(4)), -EEXIST, "ADD_MEM: partial overlap");
	is(add_mem(b, MiB(2), MiB(8)), -EEXIST,
	   "ADD_MEM: overlap with another slot");
	is(add_mem(b, MiB(6), MiB(2)), 0, "ADD_MEM: other slot, adjacent");
	is(add_mem(999, MiB(100), MiB(2)), -ENOENT, "ADD_MEM: unknown slot");
	is(add_mem(a, MiB(10), MiB(2)), 0, "ADD_MEM: third region");
	is(add_mem(a, MiB(20), MiB(2)), -ENOSPC, "ADD_MEM: region limit 3");
	is(eng.slots[0]->nr_regions, 3, "ADD_MEM: refusals added nothing");
	ok(eng.slots[0]->regions[0].paddr == MiB(4) &&
	   eng.slots[0]->regions[1].paddr == MiB(2) &&
	   eng.slots[0]->regions[2].paddr == MiB(10),
	   "ADD_MEM: regions kept in the order added");
	is(eng.slots[0]->mem_size, MiB(6), "ADD_MEM: mem_size is the sum");
	is(add_vcpu(a, 1), 0, "vcpu for a");
	is(start(a, 0, 0), 0, "start a");
	is(add_mem(a, MiB(30), MiB(2)), -EBUSY, "ADD_MEM: RUNNING refused");
	cmd3(NE_CMD_ENCLAVE_STOP, a, 0, 0);
	is(add_mem(a, MiB(30), MiB(2)), -EBUSY, "ADD_MEM: STOPPED refused");
	is(add_mem(b, 1ULL << 40, 1ULL << 30), 0, "ADD_MEM: 1 GiB high");
}

static void test_add_vcpu(void)
{
	uint64_t a, b;
	uint8_t shortwin[4] = { 0 };

	setup(0, 0);
	a = alloc();
	b = alloc();
	is(add_vcpu(a, 0), 0, "ADD_VCPU: vCPU 0");
	is(add_vcpu(a, 3), 0, "ADD_VCPU: vCPU 3");
	is(add_vcpu(a, 3), -EEXIST, "ADD_VCPU: twice in one slot");
	is(add_vcpu(b, 3), -EEXIST, "ADD_VCPU: used by another slot");
	is(add_vcpu(b, 4), 0, "ADD_VCPU: other slot, other CPU");
	is(add_vcpu(999, 5), -ENOENT, "ADD_VCPU: unknown slot");
	is(ne_engine_cmd(&eng, NE_CMD_SLOT_ADD_VCPU, shortwin, 4, &rep),
	   -EINVAL, "ADD_VCPU: short request");
	ok(eng.slots[0]->nr_vcpus == 2 && eng.slots[0]->vcpus[0] == 0 &&
	   eng.slots[0]->vcpus[1] == 3, "ADD_VCPU: list kept in order");
	add_mem(a, 0, MiB(64));
	is(start(a, 0, 0), 0, "start a");
	is(add_vcpu(a, 7), -EBUSY, "ADD_VCPU: RUNNING refused");
}

static void test_bulk(void)
{
	uint64_t a;

	setup(0, 0);
	a = alloc();
	is(cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, a, 0, 0), -EINVAL, "BULK: 0");
	is(cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, 999, 2, 0), -ENOENT,
	   "BULK: unknown slot");
	is(cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, a, NE_ENGINE_MAX_VCPUS + 1, 0),
	   -ENOSPC, "BULK: too many");
	is(cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, a, 4, 0), 0, "BULK: 4");
	is(add_vcpu(a, 9), 0, "plus one listed vCPU");
	info(a);
	is(le64toh(rep.nr_vcpus), 5, "BULK: counted in SLOT_INFO nr_vcpus");
	add_mem(a, 0, MiB(2));
	is(start(a, 0, 0), 0, "start");
	is(cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, a, 1, 0), -EBUSY,
	   "BULK: RUNNING refused");
	a = alloc();
	add_mem(a, MiB(2), MiB(2));
	cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, a, 2, 0);
	is(start(a, 0, 0), 0, "START with bulk vCPUs only");
}

static void test_start(void)
{
	uint64_t a, b, c, d;

	setup(0, 0);
	a = alloc();
	is(start(a, 0, 0), -EINVAL, "START: no memory, no vCPU");
	add_mem(a, 0, MiB(64));
	is(start(a, 0, 0), -EINVAL, "START: no vCPU");
	b = alloc();
	add_vcpu(b, 2);
	is(start(b, 0, 0), -EINVAL, "START: no memory");
	add_vcpu(a, 1);
	is(start(a, 0, 2), -EINVAL, "START: flags 2");
	is(start(a, 1, 0), -EINVAL, "START: CID 1");
	is(start(a, 2, 0), -EINVAL, "START: CID 2");
	is(start(a, 3, 0), -EINVAL, "START: CID 3 (parent)");
	is(start(a, 0xffffffffULL, 0), -EINVAL, "START: CID 0xFFFFFFFF");
	is(start(a, 1ULL << 32, 0), -EINVAL, "START: CID > 32 bits");
	is(start(999, 0, 0), -ENOENT, "START: unknown slot");
	is(eng.slots[0]->state, NE_SLOT_STATE_INIT,
	   "START: refusals leave the slot in INIT");
	is(start(a, 0, 1), 0, "START: auto CID, debug flag");
	is(le64toh(rep.enclave_cid), 4, "START: auto CID picks 4 first");
	is(le64toh(rep.slot_uid), a, "START: reply carries the uid");
	is(start(a, 0, 0), -EBUSY, "START: already RUNNING");
	add_mem(b, MiB(64), MiB(2));
	is(start(b, 4, 0), -EADDRINUSE, "START: CID in use");
	is(start(b, 0, 0), 0, "START: second auto CID");
	is(le64toh(rep.enclave_cid), 5, "START: auto CID skips used ones");
	c = ready_slot(MiB(128), 10);
	is(start(c, 0xfffffffeULL, 0), 0, "START: CID 0xFFFFFFFE ok");
	is(le64toh(rep.enclave_cid), 0xfffffffeULL, "START: explicit CID");
	cmd3(NE_CMD_ENCLAVE_STOP, a, 0, 0);
	d = ready_slot(MiB(256), 11);
	is(start(d, 4, 0), 0, "START: CID of a STOPPED enclave is free");
	is(start(a, 0, 0), -EBUSY, "START: STOPPED cannot restart");
}

static void test_stop(void)
{
	uint64_t a, b;

	setup(0, 0);
	a = ready_slot(0, 1);
	b = alloc();
	is(cmd3(NE_CMD_ENCLAVE_STOP, a, 0, 0), -EINVAL, "STOP: INIT");
	is(cmd3(NE_CMD_ENCLAVE_STOP, 999, 0, 0), -ENOENT, "STOP: unknown");
	start(a, 0, 0);
	is(cmd3(NE_CMD_ENCLAVE_STOP, a, 0, 0), 0, "STOP: RUNNING");
	info(a);
	is(le16toh(rep.state), NE_SLOT_STATE_STOPPED, "STOP: now STOPPED");
	is(cmd3(NE_CMD_ENCLAVE_STOP, a, 0, 0), 0,
	   "STOP: STOPPED again is ok (release after self-exit)");
	is(cmd3(NE_CMD_ENCLAVE_STOP, b, 0, 0), -EINVAL, "STOP: INIT b");
}

static void test_info_count_next(void)
{
	uint64_t a, b, c;

	setup(0, 9);
	is(cmd3(NE_CMD_SLOT_COUNT, 0, 0, 0), 0, "SLOT_COUNT: rc 0");
	is(le64toh(rep.slot_count), 0, "SLOT_COUNT: 0 slots");
	is(cmd3(NE_CMD_NEXT_SLOT, 0, 0, 0), -ENOENT, "NEXT_SLOT: none");
	a = alloc();
	b = alloc();
	c = alloc();
	cmd3(NE_CMD_SLOT_COUNT, 0, 0, 0);
	is(le64toh(rep.slot_count), 3, "SLOT_COUNT: 3 slots");
	is(info(a), 0, "SLOT_INFO: INIT slot");
	ok(le64toh(rep.slot_uid) == a && le16toh(rep.state) == 0 &&
	   rep.mem_size == 0 && rep.nr_vcpus == 0 && rep.mem_regions == 0 &&
	   rep.flags == 0 && rep.enclave_cid == 0,
	   "SLOT_INFO: empty INIT slot fields");
	add_mem(b, MiB(2), MiB(4));
	add_mem(b, MiB(64), MiB(2));
	add_vcpu(b, 1);
	add_vcpu(b, 2);
	add_vcpu(b, 3);
	start(b, 77, 1);
	is(info(b), 0, "SLOT_INFO: RUNNING slot");
	ok(le64toh(rep.slot_uid) == b &&
	   le16toh(rep.state) == NE_SLOT_STATE_RUNNING &&
	   le64toh(rep.mem_size) == MiB(6) && le64toh(rep.nr_vcpus) == 3 &&
	   le64toh(rep.mem_regions) == 2 && le64toh(rep.flags) == 1 &&
	   le64toh(rep.enclave_cid) == 77,
	   "SLOT_INFO: every field of a running slot");
	is(info(999), -ENOENT, "SLOT_INFO: unknown slot");
	is(info(0), -ENOENT, "SLOT_INFO: uid 0");

	is(cmd3(NE_CMD_NEXT_SLOT, 0, 0, 0), 0, "NEXT_SLOT: from 0");
	is(le64toh(rep.slot_uid), a, "NEXT_SLOT: first slot");
	cmd3(NE_CMD_NEXT_SLOT, a, 0, 0);
	is(le64toh(rep.slot_uid), b, "NEXT_SLOT: second");
	cmd3(NE_CMD_NEXT_SLOT, b, 0, 0);
	is(le64toh(rep.slot_uid), c, "NEXT_SLOT: third");
	is(cmd3(NE_CMD_NEXT_SLOT, c, 0, 0), -ENOENT, "NEXT_SLOT: after last");
	cmd3(NE_CMD_SLOT_FREE, a, 0, 0);
	cmd3(NE_CMD_NEXT_SLOT, a, 0, 0);
	is(le64toh(rep.slot_uid), b, "NEXT_SLOT: from a freed uid");

	is(cmd3(NE_CMD_ENCLAVE_GET_SLOT, 77, 0, 0), 0, "GET_SLOT: by CID");
	is(le64toh(rep.slot_uid), b, "GET_SLOT: the right slot");
	is(le64toh(rep.enclave_cid), 77, "GET_SLOT: echoes the CID");
	is(cmd3(NE_CMD_ENCLAVE_GET_SLOT, 78, 0, 0), -ENOENT,
	   "GET_SLOT: unknown CID");
	is(cmd3(NE_CMD_ENCLAVE_GET_SLOT, 0, 0, 0), -ENOENT, "GET_SLOT: 0");
	cmd3(NE_CMD_ENCLAVE_STOP, b, 0, 0);
	is(cmd3(NE_CMD_ENCLAVE_GET_SLOT, 77, 0, 0), -ENOENT,
	   "GET_SLOT: stopped enclave has no CID");
}

static void test_bad_requests(void)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };

	setup(0, 0);
	is(ne_engine_cmd(&eng, NE_CMD_INVALID, win, sizeof(win), &rep),
	   -EOPNOTSUPP, "type 0 (INVALID)");
	is(ne_engine_cmd(&eng, NE_CMD_MAX, win, sizeof(win), &rep),
	   -EOPNOTSUPP, "type 12 (MAX)");
	is(ne_engine_cmd(&eng, 0xffffffffu, win, sizeof(win), &rep),
	   -EOPNOTSUPP, "type 0xffffffff");
	is((int32_t)le32toh((uint32_t)rep.rc), -EOPNOTSUPP,
	   "unknown type: rc in the reply");
	is(ne_engine_cmd(&eng, NE_CMD_SLOT_INFO, NULL, 0, &rep), -EINVAL,
	   "NULL request");
	is(ne_engine_cmd(&eng, NE_CMD_SLOT_ADD_MEM, win, 23, &rep), -EINVAL,
	   "ADD_MEM request one byte short");
	is(ne_engine_cmd(&eng, NE_CMD_SLOT_ALLOC, win, 1, &rep), 0,
	   "SLOT_ALLOC with its 1-byte request");
}

static void test_end_and_free_all(void)
{
	uint64_t a, b;

	setup(0, 0);
	a = ready_slot(0, 1);
	b = ready_slot(MiB(64), 2);
	is(ne_engine_end(&eng, a), -EINVAL, "end: INIT slot");
	is(ne_engine_end(&eng, 999), -ENOENT, "end: unknown slot");
	start(a, 0, 0);
	start(b, 0, 0);
	is(ne_engine_end(&eng, a), 1, "end: one slot");
	info(a);
	is(le16toh(rep.state), NE_SLOT_STATE_STOPPED, "end: slot STOPPED");
	is(ne_engine_end(&eng, 0), 1, "end all: the other one");
	is(ne_engine_end(&eng, 0), 0, "end all: none left running");
	is(ne_engine_free_all(&eng), 2, "free_all: 2 slots");
	is(eng.nr_slots, 0, "free_all: none left");
}

/* Random windows: no crash, and the invariants hold afterwards. */
static void test_fuzz(void)
{
	uint8_t win[NE_SEND_DATA_SIZE];
	unsigned int i, j, k, l, bad = 0;
	uint64_t uids[8] = { 0 };

	setup(16, 8);
	srand(1);
	for (i = 0; i < 100000; i++) {
		uint32_t type = (uint32_t)(rand() % 14);
		uint64_t v[3];

		for (j = 0; j < sizeof(win); j++)
			win[j] = (uint8_t)rand();
		/* Mostly plausible values, so deep paths run too. */
		v[0] = uids[rand() % 8];
		v[1] = (uint64_t)(rand() % 64) << 21;
		v[2] = (uint64_t)(rand() % 4) << 21;
		if (rand() % 4)
			memcpy(win, v, sizeof(v));
		if (type == NE_CMD_SLOT_ADD_VCPU && rand() % 2)
			win[8] = (uint8_t)(rand() % 32), win[9] = win[10] =
				win[11] = 0;
		if (ne_engine_cmd(&eng, type, win, sizeof(win), &rep) == 0 &&
		    type == NE_CMD_SLOT_ALLOC)
			uids[rand() % 8] = le64toh(rep.slot_uid);
		if (rand() % 1000 == 0)
			ne_engine_end(&eng, 0);
	}
	for (i = 0; i < eng.nr_slots; i++) {
		const struct ne_slot *s = eng.slots[i];

		if (!s->uid || (i && eng.slots[i - 1]->uid >= s->uid))
			bad++;
		if (s->nr_regions > s->max_regions)
			bad++;
		for (j = 0; j < s->nr_regions; j++)
			for (k = i; k < eng.nr_slots; k++)
				for (l = 0; l < eng.slots[k]->nr_regions; l++) {
					const struct ne_region *x, *y;

					if (k == i && l <= j)
						continue;
					x = &s->regions[j];
					y = &eng.slots[k]->regions[l];
					if (x->paddr < y->paddr + y->size &&
					    y->paddr < x->paddr + x->size)
						bad++;
				}
	}
	is(bad, 0, "fuzz: 100000 random commands, invariants hold");
}

/* The request struct of each type, straight from module/ne_proto.h. */
static const size_t proto_req_size[NE_CMD_MAX] = {
	[NE_CMD_ENCLAVE_START]		= sizeof(struct ne_enclave_start_req),
	[NE_CMD_ENCLAVE_GET_SLOT]	= sizeof(struct ne_enclave_get_slot_req),
	[NE_CMD_ENCLAVE_STOP]		= sizeof(struct ne_enclave_stop_req),
	[NE_CMD_SLOT_ALLOC]		= sizeof(struct ne_slot_alloc_req),
	[NE_CMD_SLOT_FREE]		= sizeof(struct ne_slot_free_req),
	[NE_CMD_SLOT_ADD_MEM]		= sizeof(struct ne_slot_add_mem_req),
	[NE_CMD_SLOT_ADD_VCPU]		= sizeof(struct ne_slot_add_vcpu_req),
	[NE_CMD_SLOT_COUNT]		= sizeof(struct ne_slot_count_req),
	[NE_CMD_NEXT_SLOT]		= sizeof(struct ne_next_slot_req),
	[NE_CMD_SLOT_INFO]		= sizeof(struct ne_slot_info_req),
	[NE_CMD_SLOT_ADD_BULK_VCPUS] = sizeof(struct ne_slot_add_bulk_vcpus_req),
};

/* Every traced field lies inside its struct and has a width we read. */
static int fields_fit(const struct ne_cmd_field *f, size_t n, size_t len)
{
	size_t i;

	for (i = 0; i < n && f[i].name; i++) {
		if (!*f[i].name || f[i].off + f[i].width > len ||
		    (f[i].width != 2 && f[i].width != 4 && f[i].width != 8) ||
		    f[i].fmt > NE_CMD_FMT_STATE)
			return 0;
	}
	return 1;
}

static void test_cmd_table(void)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };
	uint32_t t;

	setup(0, 0);
	for (t = 1; t < NE_CMD_MAX; t++) {
		const struct ne_cmd_desc *d = ne_cmd_desc(t);
		int rc, good;

		if (!ok(d && d->name && d->run, "table: type %u has an entry",
			t))
			continue;
		ok(*d->name && ne_cmd_from_name(d->name) == (int)t &&
		   ne_cmd_name(t) == d->name,
		   "table: %s is type %u's own name", d->name, t);
		ok(d->req_size == proto_req_size[t],
		   "table: %s request size %zu as in ne_proto.h", d->name,
		   proto_req_size[t]);
		ok(d->req_size <= NE_CMD_REQ_MAX &&
		   d->req_size <= NE_TRACE_REQ_BYTES,
		   "table: %s request fits the copy and the trace", d->name);
		good = d->slot == NE_CMD_SLOT_NONE ||
		       d->slot == NE_CMD_SLOT_REPLY ||
		       (d->slot == NE_CMD_SLOT_REQ &&
			d->slot_off + sizeof(uint64_t) <= d->req_size);
		ok(good && fields_fit(d->req_fields, NE_CMD_REQ_FIELDS,
				      d->req_size) &&
		   fields_fit(d->reply_fields, NE_CMD_REPLY_FIELDS,
			      sizeof(struct ne_cmd_reply)),
		   "table: %s slot and traced fields lie in their structs",
		   d->name);
		rc = ne_engine_cmd(&eng, t, win, d->req_size - 1, &rep);
		ok(rc == -EINVAL, "table: %s one byte short -> -EINVAL",
		   d->name);
		rc = ne_engine_cmd(&eng, t, win, d->req_size, &rep);
		ok(rc != -EOPNOTSUPP && (int32_t)le32toh((uint32_t)rep.rc) == rc,
		   "table: %s runs its handler", d->name);
	}
}

/* One trace line per type with the same request and reply bytes. */
static void test_cmd_trace_lines(void)
{
	static const char *const want[NE_CMD_MAX] = {
		[NE_CMD_ENCLAVE_START] =
			"cmd=ENCLAVE_START slot=5 cid=16 flags=1 enclave_cid=10",
		[NE_CMD_ENCLAVE_GET_SLOT] = "cmd=ENCLAVE_GET_SLOT slot=9 cid=5",
		[NE_CMD_ENCLAVE_STOP] = "cmd=ENCLAVE_STOP slot=5",
		[NE_CMD_SLOT_ALLOC] = "cmd=SLOT_ALLOC slot=9 mem_regions=4",
		[NE_CMD_SLOT_FREE] = "cmd=SLOT_FREE slot=5",
		[NE_CMD_SLOT_ADD_MEM] =
			"cmd=SLOT_ADD_MEM slot=5 paddr=0x10 size=0x1",
		[NE_CMD_SLOT_ADD_VCPU] = "cmd=SLOT_ADD_VCPU slot=5 vcpu=16",
		[NE_CMD_SLOT_COUNT] = "cmd=SLOT_COUNT slot=0 count=3",
		[NE_CMD_NEXT_SLOT] = "cmd=NEXT_SLOT slot=5 next=9",
		[NE_CMD_SLOT_INFO] = "cmd=SLOT_INFO slot=5 state=RUNNING "
			"enclave_cid=10 mem_size=0x800000 nr_vcpus=2 flags=1 "
			"mem_regions=4",
		[NE_CMD_SLOT_ADD_BULK_VCPUS] =
			"cmd=SLOT_ADD_BULK_VCPUS slot=5 nr_vcpus=16",
	};
	uint64_t q[3] = { htole64(5), htole64(16), htole64(1) };
	struct ne_trace_ent ent;
	char line[512], exp[512];
	uint32_t t;

	for (t = 1; t < NE_CMD_MAX; t++) {
		memset(&ent, 0, sizeof(ent));
		ent.seq = t;
		ent.type = t;
		memcpy(ent.req, q, sizeof(q));
		ent.reply.slot_uid = htole64(9);
		ent.reply.enclave_cid = htole64(10);
		ent.reply.slot_count = htole64(3);
		ent.reply.mem_regions = htole64(4);
		ent.reply.mem_size = htole64(MiB(8));
		ent.reply.nr_vcpus = htole64(2);
		ent.reply.flags = htole64(1);
		ent.reply.state = htole16(NE_SLOT_STATE_RUNNING);
		ne_trace_format(&ent, line, sizeof(line));
		snprintf(exp, sizeof(exp), "T seq=%u %s rc=0 lat_us=0", t,
			 want[t]);
		if (!ok(!strcmp(line, exp), "trace line of type %u", t))
			printf("#   got  %s\n#   want %s\n", line, exp);
	}
}

/* Types without an entry: refused, and named by number in the trace. */
static void test_unknown_types(void)
{
	static const uint32_t types[] = { NE_CMD_INVALID, NE_CMD_MAX, 12345 };
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };
	struct ne_trace_ent ent;
	char line[256], exp[64];
	size_t i;

	setup(0, 0);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint32_t t = types[i];

		ok(!ne_cmd_desc(t) && !ne_cmd_name(t),
		   "type %u has no table entry", t);
		is(ne_engine_cmd(&eng, t, win, sizeof(win), &rep), -EOPNOTSUPP,
		   "unknown type -> -EOPNOTSUPP");
		is(ne_req_slot_uid(t, win, sizeof(win)), 0,
		   "unknown type names no slot");
		memset(&ent, 0, sizeof(ent));
		ent.seq = 1;
		ent.type = t;
		ent.rc = -EOPNOTSUPP;
		ent.reply = rep;
		ne_trace_format(&ent, line, sizeof(line));
		snprintf(exp, sizeof(exp),
			 "T seq=1 cmd=UNKNOWN(%u) slot=0 rc=-95 lat_us=0", t);
		if (!ok(!strcmp(line, exp), "trace names type %u UNKNOWN", t))
			printf("#   got  %s\n", line);
	}
}

int main(void)
{
	test_slot_alloc();
	test_slot_free();
	test_add_mem();
	test_add_vcpu();
	test_bulk();
	test_start();
	test_stop();
	test_info_count_next();
	test_bad_requests();
	test_end_and_free_all();
	test_fuzz();
	test_cmd_table();
	test_cmd_trace_lines();
	test_unknown_types();
	ne_engine_fini(&eng);
	return tap_done();
}
