// SPDX-License-Identifier: GPL-2.0
/*
 * NE_START_ENCLAVE: the checks of spec §1.5 in order (flags, CID, state,
 * memory, minimum size, vCPUs, full cores), what reaches the device, and
 * the CID written back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ne_lib.h"

static int start_cid(int fd, uint64_t flags, uint64_t cid)
{
	return ne_start(fd, flags, &cid);
}

/* 64 MiB and one full core: everything START needs. */
static void ready(struct th_ctx *_th, int fd)
{
	t_add_mem(_th, fd, t_hp(_th, SZ_64M), SZ_64M);
	t_add_vcpus(_th, fd, 2);
}

TEST_F(encl, start, efault_null_arg)
{
	ready(_th, self->fd);
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_START_ENCLAVE, NULL));
}

TEST_F(encl, start, invalid_flags)
{
	ready(_th, self->fd);
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, start_cid(self->fd, 2, 0));
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, start_cid(self->fd, 1234, 0));
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, start_cid(self->fd, UINT64_MAX, 0));
	EXPECT_RC(0, start_cid(self->fd, 0, 0), "nothing changed by the failures");
}

TEST_F(encl, start, reserved_cids)
{
	const uint64_t bad[] = { 1, 2, 3, 0xFFFFFFFFULL, 0x100000000ULL,
				 0xFFFFFFFFULL + 1234, UINT64_MAX };

	ready(_th, self->fd);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_RC(-NE_ERR_INVALID_ENCLAVE_CID,
			  start_cid(self->fd, 0, bad[i]), "CID 0x%llx",
			  (unsigned long long)bad[i]);
}

TEST_F(encl, start, order_flags_before_cid)
{
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, start_cid(self->fd, 2, 1));
}

TEST_F(encl, start, order_cid_before_state)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_INVALID_ENCLAVE_CID, start_cid(self->fd, 0, 1),
		  "the CID is checked before the lock/state (step 3 vs 4)");
}

TEST_F(encl, start, order_cid_before_resources)
{
	EXPECT_RC(-NE_ERR_INVALID_ENCLAVE_CID, start_cid(self->fd, 0, 3));
}

TEST_F(encl, start, twice_not_init_state)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, start_cid(self->fd, 0, 0));
}

TEST_F(encl, start, no_resources_is_no_mem)
{
	EXPECT_RC(-NE_ERR_NO_MEM_REGIONS_ADDED, start_cid(self->fd, 0, 0),
		  "memory (step 5) is checked before vCPUs (step 7)");
}

TEST_F(encl, start, no_memory)
{
	t_add_vcpus(_th, self->fd, 2);
	EXPECT_RC(-NE_ERR_NO_MEM_REGIONS_ADDED, start_cid(self->fd, 0, 0));
}

TEST_F(encl, start, below_min_size)
{
	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M - SZ_2M), SZ_64M - SZ_2M);
	t_add_vcpus(_th, self->fd, 2);
	EXPECT_RC(-NE_ERR_ENCLAVE_MEM_MIN_SIZE, start_cid(self->fd, 0, 0),
		  "62 MiB is below the 64 MiB minimum");
}

TEST_F(encl, start, order_min_size_before_no_vcpus)
{
	t_add_mem(_th, self->fd, t_hp(_th, SZ_2M), SZ_2M);
	EXPECT_RC(-NE_ERR_ENCLAVE_MEM_MIN_SIZE, start_cid(self->fd, 0, 0));
}

TEST_F(encl, start, no_vcpus)
{
	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	EXPECT_RC(-NE_ERR_NO_VCPUS_ADDED, start_cid(self->fd, 0, 0));
}

TEST_F(encl, start, sibling_missing_full_cores_not_used)
{
	uint32_t id = 2;

	NEED_SMT_PAIRS();

	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	ASSERT_RC(0, ne_add_vcpu(self->fd, &id));
	EXPECT_RC(-NE_ERR_FULL_CORES_NOT_USED, start_cid(self->fd, 0, 0),
		  "CPU 3 (sibling of 2) was not added");
	id = 3;
	ASSERT_RC(0, ne_add_vcpu(self->fd, &id));
	EXPECT_RC(0, start_cid(self->fd, 0, 0));
}

TEST_F(encl, start, auto_cid_written_back)
{
	struct emu_slots s;
	uint64_t cid = 0;

	ready(_th, self->fd);
	ASSERT_RC(0, ne_start(self->fd, 0, &cid));
	EXPECT_GT(cid, 3, "an auto CID is never a reserved one");
	EXPECT_LE(cid, 0xFFFFFFFEULL);
	if (emu_available()) {
		ASSERT_EQ(0, emu_slots(&s));
		ASSERT_EQ(1, s.nslots);
		EXPECT_EQ(cid, s.slot[0].cid, "the device's CID is returned");
		EXPECT_EQ(0, strcmp("RUNNING", s.slot[0].state));
		EXPECT_EQ(0, s.slot[0].flags, "production mode");
	}
}

TEST_F(encl, start, explicit_cid_and_debug_flag)
{
	struct emu_slots s;
	uint64_t cid = 1000;

	ready(_th, self->fd);
	ASSERT_RC(0, ne_start(self->fd, NE_ENCLAVE_DEBUG_MODE, &cid));
	EXPECT_EQ(1000, cid);
	if (emu_available()) {
		ASSERT_EQ(0, emu_slots(&s));
		EXPECT_EQ(1000, s.slot[0].cid);
		EXPECT_EQ(NE_ENCLAVE_DEBUG_MODE, s.slot[0].flags);
	}
}

TEST_F(encl, start, efault_on_copy_out_still_running)
{
	struct ne_enclave_start_info *ro = mmap(NULL, 4096,
						PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS,
						-1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ready(_th, self->fd);
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_START_ENCLAVE, ro));
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, start_cid(self->fd, 0, 0),
		  "the enclave was started even though the CID copy-out failed");
	if (emu_available())
		EXPECT_EQ(0, strcmp("RUNNING", t_emu_state(_th, self->uid)));
	munmap(ro, 4096);
}

static int child_start(void *arg)
{
	return start_cid(*(int *)arg, 0, 0);
}

TEST_F(encl, start, no_mm_check)
{
	ready(_th, self->fd);
	EXPECT_RC(0, in_fork(child_start, &self->fd),
		  "START has no mm check (§1.5)");
}

TEST_F(encl, start, close_running_stops_and_frees)
{
	NEED_EMU();
	t_make_running(_th, self->fd);
	EMU("trace-clear");
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(1, emu_trace_count("ENCLAVE_STOP"));
	EXPECT_EQ(1, emu_trace_count("SLOT_FREE"));
	EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}
