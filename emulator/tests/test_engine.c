// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for engine.c: every device command, happy path and refusals,
 * and the command table entry of every type. On the project's test harness
 * (tests/lib/harness): each test runs in its own process, so the engine
 * below is that test's own; the fixtures init it and, at the end, fini it
 * (under valgrind, a leak in the engine fails the test).
 */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "harness.h"
#include "trace.h"

#define MiB(x)	((uint64_t)(x) << 20)

static struct ne_engine eng;
static struct ne_cmd_reply rep;		/* the reply to the last command */

static void configure(unsigned int max_slots, unsigned int regions)
{
	struct ne_engine_cfg cfg = { .max_slots = max_slots,
				     .mem_regions = regions };

	ne_engine_fini(&eng);
	ne_engine_init(&eng, &cfg);
}

static int32_t reply_rc(void)
{
	return (int32_t)le32toh((uint32_t)rep.rc);
}

/* Send window with up to three u64 fields, like the driver writes it. */
static int cmd3(uint32_t type, uint64_t a, uint64_t b, uint64_t c)
{
	struct th_ctx *_th = th_cur;
	uint8_t win[NE_SEND_DATA_SIZE];
	uint64_t v[3] = { htole64(a), htole64(b), htole64(c) };
	int rc;

	/* Stale bytes beyond the request: the device must not care. */
	memset(win, 0x5a, sizeof(win));
	memcpy(win, v, sizeof(v));
	rc = ne_engine_cmd(&eng, type, win, sizeof(win), &rep);
	EXPECT_EQ(rc, reply_rc(), "the reply carries the rc returned");
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

static int bulk(uint64_t uid, uint64_t n)
{
	return cmd3(NE_CMD_SLOT_ADD_BULK_VCPUS, uid, n, 0);
}

static int start(uint64_t uid, uint64_t cid, uint64_t flags)
{
	return cmd3(NE_CMD_ENCLAVE_START, uid, cid, flags);
}

static int stop(uint64_t uid)
{
	return cmd3(NE_CMD_ENCLAVE_STOP, uid, 0, 0);
}

static int slot_free(uint64_t uid)
{
	return cmd3(NE_CMD_SLOT_FREE, uid, 0, 0);
}

static int info(uint64_t uid)
{
	return cmd3(NE_CMD_SLOT_INFO, uid, 0, 0);
}

/* A slot with 64 MiB and a vCPU, ready to start. */
static uint64_t ready_slot(uint64_t paddr, uint32_t vcpu)
{
	uint64_t uid = alloc();

	if (!uid || add_mem(uid, paddr, MiB(64)) || add_vcpu(uid, vcpu))
		return 0;
	return uid;
}

static uint64_t running_slot(uint64_t paddr, uint32_t vcpu)
{
	uint64_t uid = ready_slot(paddr, vcpu);

	return uid && !start(uid, 0, 0) ? uid : 0;
}

/* An engine with the default limits; its fini checked by valgrind. */
FIXTURE(engine) {
};

FIXTURE_SETUP(engine)
{
	configure(0, 0);
}

FIXTURE_TEARDOWN(engine)
{
	ne_engine_fini(&eng);
}

FIXTURE_REGISTER(engine);

/* ---- SLOT_ALLOC ---- */

TEST_F(engine, slot_alloc, uids_unique_and_not_0)
{
	uint64_t a, b, c;

	a = alloc();
	EXPECT_NE(0, a);
	EXPECT_RC(0, reply_rc());
	EXPECT_EQ(NE_ENGINE_DEF_MEM_REGIONS, le64toh(rep.mem_regions),
		  "the reply reports the default region limit 256");
	b = alloc();
	c = alloc();
	EXPECT_TRUE(b && c && a != b && b != c && a != c);
}

TEST_F(engine, slot_alloc, refused_beyond_max_slots)
{
	configure(3, 0);
	alloc();
	alloc();
	alloc();
	EXPECT_RC(-ENOSPC, cmd3(NE_CMD_SLOT_ALLOC, 0, 0, 0));
	EXPECT_EQ(3, eng.nr_slots, "the refusal allocates nothing");
}

TEST_F(engine, slot_alloc, freed_uid_never_reused)
{
	uint64_t b, c;

	configure(3, 0);
	alloc();
	b = alloc();
	c = alloc();
	EXPECT_RC(0, slot_free(b));
	EXPECT_GT(alloc(), c);
}

TEST_F(engine, slot_alloc, region_limit_configured_and_set)
{
	configure(0, 17);
	alloc();
	EXPECT_EQ(17, le64toh(rep.mem_regions), "configured limit");
	ne_engine_set_mem_regions(&eng, 5);
	alloc();
	EXPECT_EQ(5, le64toh(rep.mem_regions), "set applies to new slots");
	EXPECT_EQ(17, eng.slots[0]->max_regions, "but not to existing ones");
}

/* ---- SLOT_FREE ---- */

TEST_F(engine, slot_free, unknown_uid_refused)
{
	alloc();
	EXPECT_RC(-ENOENT, slot_free(0));
	EXPECT_RC(-ENOENT, slot_free(999));
}

TEST_F(engine, slot_free, running_slot_busy)
{
	uint64_t a = ready_slot(MiB(0), 1);

	ASSERT_RC(0, start(a, 0, 0));
	EXPECT_RC(-EBUSY, slot_free(a));
	EXPECT_EQ(a, le64toh(rep.slot_uid), "the reply carries the uid");
}

TEST_F(engine, slot_free, stopped_and_init_slots_freed_once)
{
	uint64_t a = running_slot(MiB(0), 1), b = alloc();

	ASSERT_NE(0, a);
	EXPECT_RC(0, stop(a));
	EXPECT_RC(0, slot_free(a), "STOPPED");
	EXPECT_RC(0, slot_free(b), "INIT");
	EXPECT_RC(-ENOENT, slot_free(b), "twice");
	EXPECT_EQ(0, eng.nr_slots);
}

TEST_F(engine, slot_free, releases_memory_and_vcpus)
{
	uint64_t a = running_slot(MiB(0), 1), b;

	ASSERT_NE(0, a);
	ASSERT_RC(0, stop(a));
	EXPECT_RC(0, slot_free(a));
	b = alloc();
	EXPECT_RC(0, add_mem(b, MiB(0), MiB(64)), "the memory is free again");
	EXPECT_RC(0, add_vcpu(b, 1), "the vCPU is free again");
}

/* ---- SLOT_ADD_MEM ---- */

TEST_F(engine, add_mem, aligned_ranges_accepted)
{
	uint64_t a, b;

	configure(0, 3);
	a = alloc();
	b = alloc();
	EXPECT_RC(0, add_mem(a, MiB(4), MiB(2)), "2 MiB at 4 MiB");
	EXPECT_RC(0, add_mem(a, MiB(2), MiB(2)), "adjacent below");
	EXPECT_RC(0, add_mem(b, MiB(6), MiB(2)), "other slot, adjacent");
	EXPECT_RC(0, add_mem(a, MiB(10), MiB(2)), "a third region");
	EXPECT_RC(0, add_mem(b, 1ULL << 40, 1ULL << 30), "1 GiB high");
}

TEST_F(engine, add_mem, misaligned_or_empty_refused)
{
	uint64_t a = alloc();

	EXPECT_RC(-EINVAL, add_mem(a, MiB(1), MiB(2)), "paddr unaligned");
	EXPECT_RC(-EINVAL, add_mem(a, MiB(64), MiB(3)), "size unaligned");
	EXPECT_RC(-EINVAL, add_mem(a, MiB(64), 0x1000), "size 4 KiB");
	EXPECT_RC(-EINVAL, add_mem(a, MiB(64), 0), "size 0");
	EXPECT_RC(-EINVAL, add_mem(a, 0xffffffffffe00000ULL, MiB(4)),
		  "range wraps around");
	EXPECT_EQ(0, eng.slots[0]->nr_regions);
}

TEST_F(engine, add_mem, overlap_refused)
{
	uint64_t a = alloc(), b = alloc();

	ASSERT_RC(0, add_mem(a, MiB(4), MiB(2)));
	ASSERT_RC(0, add_mem(a, MiB(2), MiB(2)));
	EXPECT_RC(-EEXIST, add_mem(a, MiB(4), MiB(2)), "same range again");
	EXPECT_RC(-EEXIST, add_mem(a, MiB(0), MiB(4)), "partial overlap");
	EXPECT_RC(-EEXIST, add_mem(b, MiB(2), MiB(8)),
		  "overlap with another slot");
}

TEST_F(engine, add_mem, unknown_slot_refused)
{
	alloc();
	EXPECT_RC(-ENOENT, add_mem(999, MiB(100), MiB(2)));
}

TEST_F(engine, add_mem, region_limit_and_order)
{
	uint64_t a;

	configure(0, 3);
	a = alloc();
	ASSERT_RC(0, add_mem(a, MiB(4), MiB(2)));
	ASSERT_RC(0, add_mem(a, MiB(2), MiB(2)));
	EXPECT_RC(-EEXIST, add_mem(a, MiB(0), MiB(4)));
	ASSERT_RC(0, add_mem(a, MiB(10), MiB(2)));
	EXPECT_RC(-ENOSPC, add_mem(a, MiB(20), MiB(2)), "region limit 3");
	EXPECT_EQ(3, eng.slots[0]->nr_regions, "refusals added nothing");
	EXPECT_EQ(MiB(4), eng.slots[0]->regions[0].paddr, "in the order added");
	EXPECT_EQ(MiB(2), eng.slots[0]->regions[1].paddr);
	EXPECT_EQ(MiB(10), eng.slots[0]->regions[2].paddr);
	EXPECT_EQ(MiB(6), eng.slots[0]->mem_size, "mem_size is the sum");
}

TEST_F(engine, add_mem, refused_once_started)
{
	uint64_t a = running_slot(MiB(4), 1);

	ASSERT_NE(0, a);
	EXPECT_RC(-EBUSY, add_mem(a, MiB(100), MiB(2)), "RUNNING");
	ASSERT_RC(0, stop(a));
	EXPECT_RC(-EBUSY, add_mem(a, MiB(100), MiB(2)), "STOPPED");
}

/* ---- SLOT_ADD_VCPU ---- */

TEST_F(engine, add_vcpu, listed_in_order)
{
	uint64_t a = alloc();

	EXPECT_RC(0, add_vcpu(a, 0));
	EXPECT_RC(0, add_vcpu(a, 3));
	ASSERT_EQ(2, eng.slots[0]->nr_vcpus);
	EXPECT_EQ(0, eng.slots[0]->vcpus[0]);
	EXPECT_EQ(3, eng.slots[0]->vcpus[1]);
}

TEST_F(engine, add_vcpu, one_slot_per_cpu)
{
	uint64_t a = alloc(), b = alloc();

	ASSERT_RC(0, add_vcpu(a, 3));
	EXPECT_RC(-EEXIST, add_vcpu(a, 3), "twice in one slot");
	EXPECT_RC(-EEXIST, add_vcpu(b, 3), "used by another slot");
	EXPECT_RC(0, add_vcpu(b, 4), "other slot, other CPU");
}

TEST_F(engine, add_vcpu, bad_requests_refused)
{
	uint8_t shortwin[4] = { 0 };
	uint64_t a = ready_slot(0, 1);

	EXPECT_RC(-ENOENT, add_vcpu(999, 5), "unknown slot");
	EXPECT_RC(-EINVAL, ne_engine_cmd(&eng, NE_CMD_SLOT_ADD_VCPU, shortwin,
					 sizeof(shortwin), &rep),
		  "short request");
	ASSERT_RC(0, start(a, 0, 0));
	EXPECT_RC(-EBUSY, add_vcpu(a, 7), "RUNNING");
}

/* ---- SLOT_ADD_BULK_VCPUS ---- */

TEST_F(engine, bulk_vcpus, counted_with_listed_ones)
{
	uint64_t a = alloc();

	EXPECT_RC(0, bulk(a, 4));
	EXPECT_RC(0, add_vcpu(a, 9), "plus one listed vCPU");
	EXPECT_RC(0, info(a));
	EXPECT_EQ(5, le64toh(rep.nr_vcpus), "SLOT_INFO's nr_vcpus");
}

TEST_F(engine, bulk_vcpus, bad_counts_refused)
{
	uint64_t a = alloc();

	EXPECT_RC(-EINVAL, bulk(a, 0));
	EXPECT_RC(-ENOENT, bulk(999, 2), "unknown slot");
	EXPECT_RC(-ENOSPC, bulk(a, NE_ENGINE_MAX_VCPUS + 1), "too many");
	ASSERT_RC(0, bulk(a, 1));
	ASSERT_RC(0, add_mem(a, 0, MiB(2)));
	ASSERT_RC(0, start(a, 0, 0));
	EXPECT_RC(-EBUSY, bulk(a, 1), "RUNNING");
}

TEST_F(engine, bulk_vcpus, enough_to_start)
{
	uint64_t a = alloc();

	ASSERT_RC(0, add_mem(a, MiB(2), MiB(2)));
	ASSERT_RC(0, bulk(a, 2));
	EXPECT_RC(0, start(a, 0, 0), "bulk vCPUs only");
}

/* ---- ENCLAVE_START ---- */

TEST_F(engine, start, needs_memory_and_vcpus)
{
	uint64_t a = alloc(), b = alloc();

	EXPECT_RC(-EINVAL, start(a, 0, 0), "no memory, no vCPU");
	ASSERT_RC(0, add_mem(a, 0, MiB(64)));
	EXPECT_RC(-EINVAL, start(a, 0, 0), "no vCPU");
	ASSERT_RC(0, add_vcpu(b, 2));
	EXPECT_RC(-EINVAL, start(b, 0, 0), "no memory");
}

TEST_F(engine, start, bad_flags_cid_or_slot_refused)
{
	uint64_t a = ready_slot(0, 1);

	EXPECT_RC(-EINVAL, start(a, 0, 2), "flags 2");
	EXPECT_RC(-EINVAL, start(a, 1, 0), "CID 1");
	EXPECT_RC(-EINVAL, start(a, 2, 0), "CID 2");
	EXPECT_RC(-EINVAL, start(a, 3, 0), "CID 3 (parent)");
	EXPECT_RC(-EINVAL, start(a, 0xffffffffULL, 0), "CID 0xFFFFFFFF");
	EXPECT_RC(-EINVAL, start(a, 1ULL << 32, 0), "CID > 32 bits");
	EXPECT_RC(-ENOENT, start(999, 0, 0), "unknown slot");
	EXPECT_EQ(NE_SLOT_STATE_INIT, eng.slots[0]->state,
		  "refusals leave the slot in INIT");
}

TEST_F(engine, start, auto_cid_from_4_skipping_used)
{
	uint64_t a = ready_slot(0, 1), b = ready_slot(MiB(64), 2);

	EXPECT_RC(0, start(a, 0, 1), "auto CID, debug flag");
	EXPECT_EQ(4, le64toh(rep.enclave_cid), "4 first");
	EXPECT_EQ(a, le64toh(rep.slot_uid), "the reply carries the uid");
	EXPECT_RC(0, start(b, 0, 0));
	EXPECT_EQ(5, le64toh(rep.enclave_cid), "used ones skipped");
}

TEST_F(engine, start, explicit_cid)
{
	uint64_t a = ready_slot(0, 1), b = ready_slot(MiB(64), 2);
	uint64_t c = ready_slot(MiB(128), 10);

	EXPECT_RC(0, start(a, 4, 0));
	EXPECT_RC(-EADDRINUSE, start(b, 4, 0), "CID in use");
	EXPECT_RC(0, start(c, 0xfffffffeULL, 0), "CID 0xFFFFFFFE");
	EXPECT_EQ(0xfffffffeULL, le64toh(rep.enclave_cid));
}

TEST_F(engine, start, only_once)
{
	uint64_t a = running_slot(0, 1), d = ready_slot(MiB(256), 11);

	ASSERT_NE(0, a);
	EXPECT_RC(-EBUSY, start(a, 0, 0), "already RUNNING");
	ASSERT_RC(0, stop(a));
	EXPECT_RC(0, start(d, 4, 0), "the CID of a STOPPED enclave is free");
	EXPECT_RC(-EBUSY, start(a, 0, 0), "STOPPED cannot restart");
}

/* ---- ENCLAVE_STOP ---- */

TEST_F(engine, stop, running_enclave_stops)
{
	uint64_t a = running_slot(0, 1);

	ASSERT_NE(0, a);
	EXPECT_RC(0, stop(a));
	EXPECT_RC(0, info(a));
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, le16toh(rep.state));
	EXPECT_RC(0, stop(a), "STOPPED again is ok (release after self-exit)");
}

TEST_F(engine, stop, init_or_unknown_slot_refused)
{
	uint64_t a = ready_slot(0, 1), b = alloc();

	EXPECT_RC(-EINVAL, stop(a), "INIT with memory and vCPU");
	EXPECT_RC(-EINVAL, stop(b), "INIT, empty");
	EXPECT_RC(-ENOENT, stop(999), "unknown");
}

/* ---- SLOT_COUNT, SLOT_INFO, NEXT_SLOT, ENCLAVE_GET_SLOT ---- */

TEST_F(engine, slot_count, counts_slots)
{
	EXPECT_RC(0, cmd3(NE_CMD_SLOT_COUNT, 0, 0, 0));
	EXPECT_EQ(0, le64toh(rep.slot_count));
	alloc();
	alloc();
	alloc();
	EXPECT_RC(0, cmd3(NE_CMD_SLOT_COUNT, 0, 0, 0));
	EXPECT_EQ(3, le64toh(rep.slot_count));
}

TEST_F(engine, slot_info, empty_init_slot)
{
	uint64_t a = alloc();

	EXPECT_RC(0, info(a));
	EXPECT_EQ(a, le64toh(rep.slot_uid));
	EXPECT_EQ(NE_SLOT_STATE_INIT, le16toh(rep.state));
	EXPECT_EQ(0, rep.mem_size);
	EXPECT_EQ(0, rep.nr_vcpus);
	EXPECT_EQ(0, rep.mem_regions);
	EXPECT_EQ(0, rep.flags);
	EXPECT_EQ(0, rep.enclave_cid);
}

TEST_F(engine, slot_info, every_field_of_a_running_slot)
{
	uint64_t b;

	configure(0, 9);
	alloc();
	b = alloc();
	add_mem(b, MiB(2), MiB(4));
	add_mem(b, MiB(64), MiB(2));
	add_vcpu(b, 1);
	add_vcpu(b, 2);
	add_vcpu(b, 3);
	ASSERT_RC(0, start(b, 77, 1));
	EXPECT_RC(0, info(b));
	EXPECT_EQ(b, le64toh(rep.slot_uid));
	EXPECT_EQ(NE_SLOT_STATE_RUNNING, le16toh(rep.state));
	EXPECT_EQ(MiB(6), le64toh(rep.mem_size));
	EXPECT_EQ(3, le64toh(rep.nr_vcpus));
	EXPECT_EQ(2, le64toh(rep.mem_regions));
	EXPECT_EQ(1, le64toh(rep.flags));
	EXPECT_EQ(77, le64toh(rep.enclave_cid));
}

TEST_F(engine, slot_info, unknown_slot_refused)
{
	alloc();
	EXPECT_RC(-ENOENT, info(999));
	EXPECT_RC(-ENOENT, info(0));
}

TEST_F(engine, next_slot, walks_in_uid_order)
{
	uint64_t a, b, c;

	EXPECT_RC(-ENOENT, cmd3(NE_CMD_NEXT_SLOT, 0, 0, 0), "no slot");
	a = alloc();
	b = alloc();
	c = alloc();
	EXPECT_RC(0, cmd3(NE_CMD_NEXT_SLOT, 0, 0, 0), "from 0");
	EXPECT_EQ(a, le64toh(rep.slot_uid), "the first");
	EXPECT_RC(0, cmd3(NE_CMD_NEXT_SLOT, a, 0, 0));
	EXPECT_EQ(b, le64toh(rep.slot_uid), "the second");
	EXPECT_RC(0, cmd3(NE_CMD_NEXT_SLOT, b, 0, 0));
	EXPECT_EQ(c, le64toh(rep.slot_uid), "the third");
	EXPECT_RC(-ENOENT, cmd3(NE_CMD_NEXT_SLOT, c, 0, 0), "after the last");
	ASSERT_RC(0, slot_free(a));
	EXPECT_RC(0, cmd3(NE_CMD_NEXT_SLOT, a, 0, 0));
	EXPECT_EQ(b, le64toh(rep.slot_uid), "from a freed uid");
}

TEST_F(engine, get_slot, by_cid_of_a_running_enclave)
{
	uint64_t b;

	alloc();
	b = ready_slot(0, 1);
	ASSERT_RC(0, start(b, 77, 0));
	EXPECT_RC(0, cmd3(NE_CMD_ENCLAVE_GET_SLOT, 77, 0, 0));
	EXPECT_EQ(b, le64toh(rep.slot_uid), "the right slot");
	EXPECT_EQ(77, le64toh(rep.enclave_cid), "the CID echoed");
	EXPECT_RC(-ENOENT, cmd3(NE_CMD_ENCLAVE_GET_SLOT, 78, 0, 0),
		  "unknown CID");
	EXPECT_RC(-ENOENT, cmd3(NE_CMD_ENCLAVE_GET_SLOT, 0, 0, 0), "CID 0");
	ASSERT_RC(0, stop(b));
	EXPECT_RC(-ENOENT, cmd3(NE_CMD_ENCLAVE_GET_SLOT, 77, 0, 0),
		  "a stopped enclave has no CID");
}

/* ---- requests the table does not take ---- */

TEST_F(engine, requests, unknown_types_refused)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };

	EXPECT_RC(-EOPNOTSUPP, ne_engine_cmd(&eng, NE_CMD_INVALID, win,
					     sizeof(win), &rep), "type 0");
	EXPECT_RC(-EOPNOTSUPP, ne_engine_cmd(&eng, NE_CMD_MAX, win,
					     sizeof(win), &rep), "type 12");
	EXPECT_RC(-EOPNOTSUPP, ne_engine_cmd(&eng, 0xffffffffu, win,
					     sizeof(win), &rep),
		  "type 0xffffffff");
	EXPECT_RC(-EOPNOTSUPP, reply_rc(), "the rc in the reply");
}

TEST_F(engine, requests, short_or_missing_refused)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };

	EXPECT_RC(-EINVAL, ne_engine_cmd(&eng, NE_CMD_SLOT_INFO, NULL, 0,
					 &rep), "NULL request");
	EXPECT_RC(-EINVAL, ne_engine_cmd(&eng, NE_CMD_SLOT_ADD_MEM, win, 23,
					 &rep), "ADD_MEM one byte short");
	EXPECT_RC(0, ne_engine_cmd(&eng, NE_CMD_SLOT_ALLOC, win, 1, &rep),
		  "SLOT_ALLOC with its 1-byte request");
}

/* ---- ne_engine_end, ne_engine_free_all ---- */

TEST_F(engine, end, stops_one_or_all_running)
{
	uint64_t a = ready_slot(0, 1), b = ready_slot(MiB(64), 2);

	EXPECT_RC(-EINVAL, ne_engine_end(&eng, a), "an INIT slot");
	EXPECT_RC(-ENOENT, ne_engine_end(&eng, 999), "unknown slot");
	ASSERT_RC(0, start(a, 0, 0));
	ASSERT_RC(0, start(b, 0, 0));
	EXPECT_EQ(1, ne_engine_end(&eng, a), "one slot");
	EXPECT_RC(0, info(a));
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, le16toh(rep.state));
	EXPECT_EQ(1, ne_engine_end(&eng, 0), "all: the other one");
	EXPECT_EQ(0, ne_engine_end(&eng, 0), "all: none left running");
}

TEST_F(engine, free_all, frees_every_state)
{
	uint64_t a = running_slot(0, 1);

	ASSERT_NE(0, a);
	ASSERT_NE(0, ready_slot(MiB(64), 2));
	ASSERT_RC(0, stop(a));
	EXPECT_EQ(2, ne_engine_free_all(&eng));
	EXPECT_EQ(0, eng.nr_slots);
}

/* Random windows: no crash, and the invariants hold afterwards. */
TEST_F(engine, fuzz, invariants_hold)
{
	uint8_t win[NE_SEND_DATA_SIZE];
	unsigned int i, j, k, l, bad = 0;
	uint64_t uids[8] = { 0 };

	configure(16, 8);
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
	EXPECT_EQ(0, bad, "100000 random commands: uids ascending, regions within the limit, none overlapping");
}

/* ---- the command table, one variant per type ---- */

FIXTURE(cmd) {
	const struct ne_cmd_desc *d;
};

FIXTURE_VARIANT(cmd) {
	uint32_t type;
	size_t req_size;	/* the request struct of module/ne_proto.h */
	const char *trace;	/* for the request and reply of cmd.trace */
};

FIXTURE_VARIANT_ADD(cmd, ENCLAVE_START) {
	.type = NE_CMD_ENCLAVE_START,
	.req_size = sizeof(struct ne_enclave_start_req),
	.trace = "cmd=ENCLAVE_START slot=5 cid=16 flags=1 enclave_cid=10",
};

FIXTURE_VARIANT_ADD(cmd, ENCLAVE_GET_SLOT) {
	.type = NE_CMD_ENCLAVE_GET_SLOT,
	.req_size = sizeof(struct ne_enclave_get_slot_req),
	.trace = "cmd=ENCLAVE_GET_SLOT slot=9 cid=5",
};

FIXTURE_VARIANT_ADD(cmd, ENCLAVE_STOP) {
	.type = NE_CMD_ENCLAVE_STOP,
	.req_size = sizeof(struct ne_enclave_stop_req),
	.trace = "cmd=ENCLAVE_STOP slot=5",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_ALLOC) {
	.type = NE_CMD_SLOT_ALLOC,
	.req_size = sizeof(struct ne_slot_alloc_req),
	.trace = "cmd=SLOT_ALLOC slot=9 mem_regions=4",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_FREE) {
	.type = NE_CMD_SLOT_FREE,
	.req_size = sizeof(struct ne_slot_free_req),
	.trace = "cmd=SLOT_FREE slot=5",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_ADD_MEM) {
	.type = NE_CMD_SLOT_ADD_MEM,
	.req_size = sizeof(struct ne_slot_add_mem_req),
	.trace = "cmd=SLOT_ADD_MEM slot=5 paddr=0x10 size=0x1",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_ADD_VCPU) {
	.type = NE_CMD_SLOT_ADD_VCPU,
	.req_size = sizeof(struct ne_slot_add_vcpu_req),
	.trace = "cmd=SLOT_ADD_VCPU slot=5 vcpu=16",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_COUNT) {
	.type = NE_CMD_SLOT_COUNT,
	.req_size = sizeof(struct ne_slot_count_req),
	.trace = "cmd=SLOT_COUNT slot=0 count=3",
};

FIXTURE_VARIANT_ADD(cmd, NEXT_SLOT) {
	.type = NE_CMD_NEXT_SLOT,
	.req_size = sizeof(struct ne_next_slot_req),
	.trace = "cmd=NEXT_SLOT slot=5 next=9",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_INFO) {
	.type = NE_CMD_SLOT_INFO,
	.req_size = sizeof(struct ne_slot_info_req),
	.trace = "cmd=SLOT_INFO slot=5 state=RUNNING enclave_cid=10 "
		 "mem_size=0x800000 nr_vcpus=2 flags=1 mem_regions=4",
};

FIXTURE_VARIANT_ADD(cmd, SLOT_ADD_BULK_VCPUS) {
	.type = NE_CMD_SLOT_ADD_BULK_VCPUS,
	.req_size = sizeof(struct ne_slot_add_bulk_vcpus_req),
	.trace = "cmd=SLOT_ADD_BULK_VCPUS slot=5 nr_vcpus=16",
};

FIXTURE_SETUP(cmd)
{
	configure(0, 0);
	self->d = ne_cmd_desc(variant->type);
	ASSERT_TRUE(self->d && self->d->name && self->d->run,
		    "type %u has a table entry", variant->type);
}

FIXTURE_TEARDOWN(cmd)
{
	ne_engine_fini(&eng);
}

FIXTURE_REGISTER(cmd);

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

TEST_F(cmd, table, entry_fits_the_protocol)
{
	const struct ne_cmd_desc *d = self->d;

	EXPECT_TRUE(*d->name, "a name");
	EXPECT_EQ(variant->type, ne_cmd_from_name(d->name), "its own name");
	EXPECT_TRUE(ne_cmd_name(variant->type) == d->name);
	EXPECT_EQ(variant->req_size, d->req_size, "as in ne_proto.h");
	EXPECT_LE(d->req_size, NE_CMD_REQ_MAX, "fits the copy");
	EXPECT_LE(d->req_size, NE_TRACE_REQ_BYTES, "fits the trace");
	EXPECT_TRUE(d->slot == NE_CMD_SLOT_NONE ||
		    d->slot == NE_CMD_SLOT_REPLY ||
		    (d->slot == NE_CMD_SLOT_REQ &&
		     d->slot_off + sizeof(uint64_t) <= d->req_size),
		    "the slot uid lies in the request");
	EXPECT_TRUE(fields_fit(d->req_fields, NE_CMD_REQ_FIELDS, d->req_size),
		    "traced request fields lie in the request");
	EXPECT_TRUE(fields_fit(d->reply_fields, NE_CMD_REPLY_FIELDS,
			       sizeof(struct ne_cmd_reply)),
		    "traced reply fields lie in the reply");
}

TEST_F(cmd, table, runs_its_handler_on_a_whole_request)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };
	int rc;

	rc = ne_engine_cmd(&eng, variant->type, win, self->d->req_size - 1,
			   &rep);
	EXPECT_RC(-EINVAL, rc, "one byte short");
	rc = ne_engine_cmd(&eng, variant->type, win, self->d->req_size, &rep);
	EXPECT_NE(-EOPNOTSUPP, rc, "the handler ran");
	EXPECT_EQ(rc, reply_rc(), "its rc in the reply");
}

/* The same request and reply bytes for every type: one trace line each. */
TEST_F(cmd, table, trace_line)
{
	uint64_t q[3] = { htole64(5), htole64(16), htole64(1) };
	struct ne_trace_ent ent;
	char line[512], want[512];

	memset(&ent, 0, sizeof(ent));
	ent.seq = variant->type;
	ent.type = variant->type;
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
	snprintf(want, sizeof(want), "T seq=%u %s rc=0 lat_us=0",
		 variant->type, variant->trace);
	EXPECT_STREQ(want, line);
}

/* ---- types without an entry: refused, named by number in the trace ---- */

FIXTURE(unknown) {
};

FIXTURE_VARIANT(unknown) {
	uint32_t type;
};

FIXTURE_VARIANT_ADD(unknown, INVALID) {
	.type = NE_CMD_INVALID,
};

FIXTURE_VARIANT_ADD(unknown, MAX) {
	.type = NE_CMD_MAX,
};

FIXTURE_VARIANT_ADD(unknown, 12345) {
	.type = 12345,
};

FIXTURE_SETUP(unknown)
{
	configure(0, 0);
}

FIXTURE_TEARDOWN(unknown)
{
	ne_engine_fini(&eng);
}

FIXTURE_REGISTER(unknown);

TEST_F(unknown, type, refused_and_traced_by_number)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };
	uint32_t t = variant->type;
	struct ne_trace_ent ent;
	char line[256], want[64];

	EXPECT_TRUE(!ne_cmd_desc(t) && !ne_cmd_name(t), "no table entry");
	EXPECT_RC(-EOPNOTSUPP, ne_engine_cmd(&eng, t, win, sizeof(win), &rep));
	EXPECT_EQ(0, ne_req_slot_uid(t, win, sizeof(win)), "names no slot");
	memset(&ent, 0, sizeof(ent));
	ent.seq = 1;
	ent.type = t;
	ent.rc = -EOPNOTSUPP;
	ent.reply = rep;
	ne_trace_format(&ent, line, sizeof(line));
	snprintf(want, sizeof(want),
		 "T seq=1 cmd=UNKNOWN(%u) slot=0 rc=-95 lat_us=0", t);
	EXPECT_STREQ(want, line);
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
