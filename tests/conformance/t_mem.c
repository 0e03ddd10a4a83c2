// SPDX-License-Identifier: GPL-2.0
/*
 * NE_SET_USER_MEMORY_REGION: the checks of spec §1.5 in order, the backing
 * rules of §4.1, and what reaches the device (per backing variant).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "ne_lib.h"

#define KADDR 0xffff888000000000ULL

static uint64_t a(const void *p)
{
	return (uintptr_t)p;
}

TEST_F(encl, set_mem, efault_null_arg)
{
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_SET_USER_MEMORY_REGION, NULL));
}

TEST_F(encl, set_mem, invalid_flags)
{
	void *p = t_hp(_th, SZ_2M);

	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, ne_set_mem(self->fd, 1, a(p), SZ_2M));
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE,
		  ne_set_mem(self->fd, 1024, a(p), SZ_2M));
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE,
		  ne_set_mem(self->fd, UINT64_MAX, a(p), SZ_2M));
}

TEST_F(encl, set_mem, order_flags_before_size_and_addr)
{
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE,
		  ne_set_mem(self->fd, 1, KADDR + 4096, SZ_1M));
}

TEST_F(encl, set_mem, not_init_state_after_start)
{
	void *p = t_hp(_th, SZ_2M);

	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, ne_set_mem(self->fd, 0, a(p), SZ_2M));
}

TEST_F(encl, set_mem, order_flags_before_state)
{
	void *p = t_hp(_th, SZ_2M);

	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, ne_set_mem(self->fd, 1, a(p), SZ_2M),
		  "flags (step 2) are checked before the state (step 3)");
}

TEST_F(encl, set_mem, order_state_before_size)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE,
		  ne_set_mem(self->fd, 0, KADDR + 4096, SZ_1M));
}

struct mem_arg {
	int fd;
	uint64_t addr, size;
};

static int child_set_mem(void *arg)
{
	struct mem_arg *m = arg;

	return ne_set_mem(m->fd, 0, m->addr, m->size);
}

TEST_F(encl, set_mem, eio_from_other_mm)
{
	struct mem_arg m = { self->fd, a(t_hp(_th, SZ_2M)), SZ_2M };

	EXPECT_RC(-EIO, in_fork(child_set_mem, &m),
		  "a forked child may not add memory to its parent's enclave");
}

TEST_F(encl, set_mem, order_mm_before_size)
{
	struct mem_arg m = { self->fd, KADDR + 4096, SZ_1M };

	EXPECT_RC(-EIO, in_fork(child_set_mem, &m),
		  "the mm check (step 4) runs before size/address checks");
}

TEST_F(encl, set_mem, order_state_before_mm)
{
	struct mem_arg m = { self->fd, a(t_hp(_th, SZ_2M)), SZ_2M };

	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, in_fork(child_set_mem, &m));
}

TEST_F(encl, set_mem, size_not_multiple_of_2mib)
{
	void *p = t_hp(_th, 4 * SZ_2M);

	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_SIZE,
		  ne_set_mem(self->fd, 0, a(p), SZ_1M));
	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_SIZE,
		  ne_set_mem(self->fd, 0, a(p), 3 * SZ_1M));
	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_SIZE,
		  ne_set_mem(self->fd, 0, a(p), SZ_2M + 4096));
	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_SIZE,
		  ne_set_mem(self->fd, 0, a(p), 1));
}

TEST_F(encl, set_mem, size_zero_fails)
{
	void *p = t_hp(_th, SZ_2M);

	EXPECT_RC(-ENOMEM, ne_set_mem(self->fd, 0, a(p), 0),
		  "a zero size passes the size check and fails with ENOMEM (§1.5)");
	t_add_mem(_th, self->fd, p, SZ_2M);
}

TEST_F(encl, set_mem, unaligned_addr)
{
	char *p = t_hp(_th, 2 * SZ_2M);

	EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, a(p + 4096), SZ_2M));
	EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, a(p + SZ_1M), SZ_2M));
	EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, a(p + 1), SZ_2M));
}

TEST_F(encl, set_mem, order_size_before_align)
{
	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_SIZE,
		  ne_set_mem(self->fd, 0, KADDR + 4096, SZ_1M));
}

TEST_F(encl, set_mem, kernel_addr_invalid)
{
	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, KADDR, SZ_2M));
}

TEST_F(encl, set_mem, order_align_before_access_ok)
{
	EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, KADDR + 4096, SZ_2M));
}

TEST_F(encl, set_mem, size_wraps_address_space)
{
	void *p = t_hp(_th, SZ_2M);

	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, a(p), UINT64_MAX - SZ_2M + 1),
		  "size u64::MAX - 2 MiB + 1 fails access_ok");
}

TEST_F(encl, set_mem, addr_zero_unmapped)
{
	EXPECT_RC(-EFAULT, ne_set_mem(self->fd, 0, 0, SZ_2M),
		  "VA 0 is not mapped: the pin fails");
}

TEST_F(encl, set_mem, range_beyond_mapping)
{
	char *p = t_hp(_th, 2 * SZ_2M);

	ASSERT_EQ(0, munmap(p + SZ_2M, SZ_2M));
	EXPECT_RC(-EFAULT, ne_set_mem(self->fd, 0, a(p), 2 * SZ_2M),
		  "the second half of the range is unmapped");
	EXPECT_RC(-EFAULT, ne_set_mem(self->fd, 0, a(p + SZ_2M), SZ_2M));
	t_add_mem(_th, self->fd, p, SZ_2M);
}

TEST_F(encl, set_mem, duplicate_region)
{
	void *p = t_hp(_th, SZ_2M);

	t_add_mem(_th, self->fd, p, SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED,
		  ne_set_mem(self->fd, 0, a(p), SZ_2M));
}

TEST_F(encl, set_mem, overlapping_regions)
{
	char *p = t_hp(_th, 8 * SZ_2M);

	t_add_mem(_th, self->fd, p + 2 * SZ_2M, 2 * SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED,
		  ne_set_mem(self->fd, 0, a(p + 3 * SZ_2M), 2 * SZ_2M),
		  "tail overlap");
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED,
		  ne_set_mem(self->fd, 0, a(p + SZ_2M), 2 * SZ_2M),
		  "head overlap");
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED,
		  ne_set_mem(self->fd, 0, a(p), 8 * SZ_2M), "superset");
	EXPECT_RC(0, ne_set_mem(self->fd, 0, a(p + 4 * SZ_2M), SZ_2M),
		  "an adjacent region does not overlap");
	EXPECT_RC(0, ne_set_mem(self->fd, 0, a(p + SZ_2M), SZ_2M));
}

TEST_F(encl, set_mem, order_overlap_before_pin)
{
	char *p = t_hp(_th, 2 * SZ_2M);

	t_add_mem(_th, self->fd, p, SZ_2M);
	ASSERT_EQ(0, munmap(p + SZ_2M, SZ_2M));
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED,
		  ne_set_mem(self->fd, 0, a(p), 2 * SZ_2M),
		  "the overlap check (step 8) runs before pinning (step 10)");
}

TEST_F(encl, set_mem, overlap_is_per_enclave)
{
	void *p = t_hp(_th, SZ_2M);
	int b = t_create(_th, self->dev, NULL);
	int rc;

	t_add_mem(_th, self->fd, p, SZ_2M);
	/*
	 * Only this enclave's list is checked (§4.1): the driver passes the
	 * region on; the device may refuse memory another slot owns.
	 */
	rc = ne_set_mem(b, 0, a(p), SZ_2M);
	EXPECT_NE(-NE_ERR_MEM_REGION_ALREADY_USED, rc);
	TH_LOG("second enclave, same page: %s", th_errname(rc));
	close(b);
}

/* A 2 MiB-aligned address inside a fresh mapping of normal pages. */
static char *aligned_in(void *m)
{
	return (char *)(((uintptr_t)m + SZ_2M - 1) & ~(SZ_2M - 1));
}

TEST_F(encl, set_mem, normal_pages_not_huge)
{
	void *m = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	ASSERT_NE(MAP_FAILED, m);
	p = aligned_in(m);
	madvise(p, SZ_2M, MADV_NOHUGEPAGE);
	memset(p, 1, SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_NOT_HUGE_PAGE, ne_set_mem(self->fd, 0, a(p), SZ_2M));
	munmap(m, 2 * SZ_2M);
}

TEST_F(encl, set_mem, thp_not_huge)
{
	void *m = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	ASSERT_NE(MAP_FAILED, m);
	p = aligned_in(m);
	madvise(p, SZ_2M, MADV_HUGEPAGE);
	memset(p, 1, SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_NOT_HUGE_PAGE, ne_set_mem(self->fd, 0, a(p), SZ_2M),
		  "transparent hugepages are not hugetlbfs");
	munmap(m, 2 * SZ_2M);
}

TEST_F(encl, set_mem, shmem_memfd_not_huge)
{
	int mfd = memfd_create("ne-plain", MFD_CLOEXEC);
	void *m;

	ASSERT_GE(mfd, 0);
	ASSERT_EQ(0, ftruncate(mfd, 2 * SZ_2M));
	m = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, m);
	memset(m, 1, 2 * SZ_2M);
	if ((uintptr_t)m % SZ_2M == 0)
		EXPECT_RC(-NE_ERR_MEM_NOT_HUGE_PAGE,
			  ne_set_mem(self->fd, 0, a(m), SZ_2M));
	else
		EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
			  ne_set_mem(self->fd, 0, a(m), SZ_2M));
	munmap(m, 2 * SZ_2M);
	close(mfd);
}

TEST_F(dev, set_mem, max_regions_from_device)
{
	char *p;
	int fd;

	NEED_EMU();
	EMU("set mem-regions 4");
	fd = t_create(_th, self->dev, NULL);
	p = t_hp(_th, 5 * SZ_2M);
	/* One ioctl per page: each is at least one device region. */
	for (int i = 0; i < 4; i++)
		ASSERT_RC(0, ne_set_mem(fd, 0, a(p + i * SZ_2M), SZ_2M),
			  "region %d of 4", i);
	EXPECT_RC(-NE_ERR_MEM_MAX_REGIONS, ne_set_mem(fd, 0, a(p + 4 * SZ_2M), SZ_2M));
	close(fd);
}

TEST_F(encl, set_mem, shared_memfd_many_pages_one_call)
{
	const size_t size = 200 * SZ_2M;
	struct emu_slots s;
	int mfd;
	void *p;

	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, 200), "need 200 free 2 MiB pages");
	p = hp_map_kind(BACK_MEMFD, size, SHIFT_2M, &mfd);
	ASSERT_NE(NULL, p);
	t_add_mem(_th, self->fd, p, size);
	t_add_vcpus(_th, self->fd, 2);
	t_start(_th, self->fd);
	if (emu_available()) {
		ASSERT_EQ(0, emu_slots(&s));
		ASSERT_EQ(1, s.nslots);
		EXPECT_EQ(size, s.slot[0].mem_size);
	}
	close(self->fd);
	self->fd = -1;
	hp_unmap(p, size);
	close(mfd);
}

/* ---- per backing: anonymous, memfd, hugetlbfs file; 2 MiB and 1 GiB ---- */

TEST_F(mem, mem, add_whole_and_start)
{
	uint64_t cid = 0;

	t_add_mem(_th, self->fd, self->p, self->size);
	t_add_vcpus(_th, self->fd, 2);
	ASSERT_RC(0, ne_start(self->fd, 0, &cid));
	EXPECT_GT(cid, 3, "CID above the reserved ones");
	if (emu_available())
		EXPECT_EQ(0, strcmp("RUNNING", t_emu_state(_th, self->uid)));
}

/* The device sees exactly the pinned pages, in VA order (§4.3, §4.4). */
TEST_F(mem, mem, device_regions_match_pagemap)
{
	static struct emu_slots s;
	size_t pg = 1UL << variant->shift, off = 0;
	uint64_t total = 0;
	int r0 = -1;

	NEED_EMU();
	t_add_mem(_th, self->fd, self->p, self->size);
	ASSERT_EQ(0, emu_slots(&s));
	for (int i = 0; i < s.nregions; i++) {
		if (s.region[i].uid != self->uid)
			continue;
		if (r0 < 0)
			r0 = i;
		EXPECT_EQ(0, s.region[i].paddr % SZ_2M, "paddr 0x%llx",
			  (unsigned long long)s.region[i].paddr);
		EXPECT_EQ(0, s.region[i].size % SZ_2M);
		total += s.region[i].size;
	}
	ASSERT_GE(r0, 0, "no region reached the device");
	EXPECT_EQ(self->size, total, "sum of device regions");
	EXPECT_LE(s.slot[0].regions, (int)(self->size / pg),
		  "contiguous pages may merge, never split beyond pages");
	/* Walk VA order and the device list in parallel. */
	for (int i = r0; i < s.nregions && off < self->size; i++) {
		if (s.region[i].uid != self->uid)
			continue;
		for (uint64_t ro = 0; ro < s.region[i].size; ro += pg, off += pg) {
			uint64_t pa = va_to_pa((char *)self->p + off);

			ASSERT_EQ(s.region[i].paddr + ro, pa,
				  "page at VA offset 0x%zx", off);
		}
	}
}

TEST_F(mem, mem, region_per_2mib)
{
	if (variant->shift != SHIFT_2M)
		SKIP(return, "1 GiB pages: a 2 MiB region inside one is refused (see hazard.*)");
	for (size_t off = 0; off < self->size; off += SZ_2M)
		ASSERT_RC(0, ne_set_mem(self->fd, 0, a((char *)self->p + off), SZ_2M),
			  "region at offset 0x%zx", off);
	t_add_vcpus(_th, self->fd, 2);
	t_start(_th, self->fd);
}

TEST_F(mem, mem, start_mid_hugepage_refused)
{
	char *p = self->p;
	int rc;

	if (variant->shift == SHIFT_2M) {
		EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
			  ne_set_mem(self->fd, 0, a(p + SZ_1M), SZ_2M));
		return;
	}
	/* 2 MiB aligned but inside a 1 GiB page: a tail page. */
	rc = ne_set_mem(self->fd, 0, a(p + SZ_2M), SZ_2M);
	EXPECT_LT(rc, 0, "a region starting inside a 1 GiB page must be refused");
	TH_LOG("mid-1GiB region refused with %s", th_errname(rc));
}

TEST_F(mem, mem, release_returns_pages)
{
	long free0 = hp_read(variant->shift, "free_hugepages");
	long pages = self->size >> variant->shift;

	t_add_mem(_th, self->fd, self->p, self->size);
	close(self->fd);
	self->fd = -1;
	hp_unmap(self->p, self->size);
	self->p = NULL;
	if (self->bfd >= 0)
		close(self->bfd);
	self->bfd = -1;
	EXPECT_EQ(free0 + pages, hp_read(variant->shift, "free_hugepages"),
		  "every hugepage is free again after close + munmap");
}
