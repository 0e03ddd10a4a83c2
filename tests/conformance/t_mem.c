// SPDX-License-Identifier: GPL-2.0
/*
 * NE_SET_USER_MEMORY_REGION: the checks of spec §1.5 in order, the backing
 * rules of §4.1, and what reaches the device (per backing variant).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* 2 MiB of addresses aligned to 2 MiB, reserved (PROT_NONE), or NULL. */
static char *aligned_hole(void **base)
{
	void *m = mmap(NULL, 2 * SZ_2M, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	*base = m;
	return m == MAP_FAILED ? NULL : aligned_in(m);
}

/*
 * A shared mapping of a regular file is not hugetlb: refused as such before
 * any pin (long-term pinning refuses some file mappings with EFAULT on
 * 6.5+, which hides the reason).
 */
TEST_F(encl, set_mem, shared_file_not_huge)
{
	char path[] = "/tmp/ne-conf-fileXXXXXX";
	void *base, *m;
	char *p;
	int fd;

	mkdir("/tmp", 01777);
	fd = mkstemp(path);
	ASSERT_LE(0, fd, "mkstemp");
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, SZ_2M));
	p = aligned_hole(&base);
	ASSERT_NE(NULL, p);
	m = mmap(p, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	ASSERT_EQ(p, m, "mmap of the file");
	memset(p, 1, SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_NOT_HUGE_PAGE, ne_set_mem(self->fd, 0, a(p), SZ_2M));
	munmap(base, 2 * SZ_2M);
	close(fd);
}

/*
 * A read-only hugetlb mapping is refused with EFAULT: the enclave writes
 * its memory, and must not write pages their owner cannot. (Upstream pins
 * without FOLL_WRITE and accepts it.)
 */
TEST_F(encl, set_mem, readonly_hugetlb_refused)
{
	char *p = t_hp(_th, SZ_2M);

	ASSERT_EQ(0, mprotect(p, SZ_2M, PROT_READ));
	EXPECT_RC(-EFAULT, ne_set_mem(self->fd, 0, a(p), SZ_2M));
	ASSERT_EQ(0, mprotect(p, SZ_2M, PROT_READ | PROT_WRITE));
	EXPECT_RC(0, ne_set_mem(self->fd, 0, a(p), SZ_2M),
		  "the same memory once writable");
}

/* Upstream's overlap rule: a size-0 region inside an existing one overlaps. */
TEST_F(encl, set_mem, size_zero_at_existing_region)
{
	char *p = t_hp(_th, 2 * SZ_2M);

	t_add_mem(_th, self->fd, p, SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED, ne_set_mem(self->fd, 0, a(p), 0),
		  "size 0 at the start of a region");
	EXPECT_RC(-ENOMEM, ne_set_mem(self->fd, 0, a(p + SZ_2M), 0),
		  "size 0 next to it still fails with ENOMEM");
}

TEST_F(dev, set_mem, max_regions_from_device)
{
	char *p;
	int fd;

	NEED_EMU();
	/* Upstream's count: every ioctl is at least one chunk. */
	defer_set(0);
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

/*
 * The device sees exactly the pinned pages, in VA order (§4.3, §4.4), by
 * the time the enclave starts (a driver may hold the last chunk until then).
 */
TEST_F(mem, mem, device_regions_match_pagemap)
{
	static struct emu_slots s;
	size_t pg = 1UL << variant->shift, off = 0;
	uint64_t total = 0;
	int r0 = -1;

	NEED_EMU();
	t_add_mem(_th, self->fd, self->p, self->size);
	t_add_vcpus(_th, self->fd, 2);
	t_start(_th, self->fd);
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

/* ---- cross-ioctl merging (this project's defer_last_chunk) ---- */

#define MERGE_PAGES 32

static int slot_regions(uint64_t uid, uint64_t *mem_size)
{
	static struct emu_slots s;
	const struct emu_slot *sl;

	if (emu_slots(&s))
		return -1;
	sl = emu_find_slot(&s, uid);
	if (!sl)
		return -1;
	*mem_size = sl->mem_size;
	return sl->regions;
}

/*
 * Add the n pages of p one ioctl each, in the order ord[], start, and check
 * that the device got one chunk per run of physically ascending pages, in
 * the order added, the last one only at START. Returns the number of runs.
 */
static int add_pages_check_chunks(struct th_ctx *_th, int fd, uint64_t uid,
				  char *p, int n, const int *ord,
				  const uint64_t *pa)
{
	static struct emu_slots s;
	uint64_t bytes = 0, want_pa = 0, want_size = 0;
	int runs = 1, got, r = 0;

	for (int i = 1; i < n; i++)
		runs += pa[ord[i]] != pa[ord[i - 1]] + SZ_2M;
	for (int i = 0; i < n; i++)
		ASSERT_RC(0, ne_set_mem(fd, 0, a(p + (size_t)ord[i] * SZ_2M),
					SZ_2M), "page %d", i);
	got = slot_regions(uid, &bytes);
	EXPECT_EQ(runs - 1, got, "before START: every run but the held-back last");
	EXPECT_GT(n * SZ_2M, bytes);
	t_add_vcpus(_th, fd, 2);
	t_start(_th, fd);
	ASSERT_EQ(0, emu_slots(&s));
	/* Walk the device's chunks of this slot against the runs, in order. */
	for (int i = 0, k = 0; k < s.nregions; k++) {
		if (s.region[k].uid != uid)
			continue;
		want_pa = pa[ord[i]];
		for (want_size = SZ_2M; ++i < n &&
		     pa[ord[i]] == want_pa + want_size; want_size += SZ_2M)
			;
		EXPECT_EQ(want_pa, s.region[k].paddr, "chunk %d address", r);
		EXPECT_EQ(want_size, s.region[k].size, "chunk %d size", r);
		r++;
		if (i >= n)
			break;
	}
	EXPECT_EQ(runs, r, "after START: one device chunk per physical run");
	EXPECT_EQ(runs, slot_regions(uid, &bytes), "and no other chunk");
	EXPECT_EQ(n * SZ_2M, bytes);
	return runs;
}

/* MERGE_PAGES 2 MiB pages, with deferral on; NULL when the test skips. */
static char *merge_pages(struct th_ctx *_th, int *ord, uint64_t *pa)
{
	char *p;

	if (!emu_available())
		SKIP(return NULL, "no emulator control (NE_EMU_CTL unset)");
	if (defer_set(1))
		SKIP(return NULL, "driver without cross-ioctl merging (defer_last_chunk)");
	p = t_hp(_th, MERGE_PAGES * SZ_2M);
	t_pages_by_pa(_th, p, MERGE_PAGES, ord, pa);
	return p;
}

/*
 * One ioctl per 2 MiB page, in ascending physical order: the device gets one
 * chunk per physical run across the ioctls, the last one at START.
 */
TEST_F(encl, merge, one_chunk_per_physical_run_across_ioctls)
{
	int ord[MERGE_PAGES], runs;
	uint64_t pa[MERGE_PAGES];
	char *p = merge_pages(_th, ord, pa);

	if (!p)
		return;
	runs = add_pages_check_chunks(_th, self->fd, self->uid, p, MERGE_PAGES,
				      ord, pa);
	TH_LOG("%d pages in %d physical runs", MERGE_PAGES, runs);
	if (runs == MERGE_PAGES)
		SKIP(return, "no two of the %d pages are physically adjacent",
		     MERGE_PAGES);
}

/* Descending physical order: nothing merges, the added order is kept. */
TEST_F(encl, merge, descending_pages_keep_their_order)
{
	int ord[MERGE_PAGES], rev[MERGE_PAGES];
	uint64_t pa[MERGE_PAGES];
	char *p = merge_pages(_th, ord, pa);

	if (!p)
		return;
	for (int i = 0; i < MERGE_PAGES; i++)
		rev[i] = ord[MERGE_PAGES - 1 - i];
	EXPECT_EQ(MERGE_PAGES, add_pages_check_chunks(_th, self->fd, self->uid,
						      p, MERGE_PAGES, rev, pa));
}

/*
 * The held-back chunk counts: the limit error comes from the ioctl that
 * would exceed it, before anything is sent, and a page that extends the
 * held-back chunk needs no new one.
 */
TEST_F(dev, merge, max_regions_counts_held_back_chunk)
{
	int ord[8], fd, adj = -1, far = -1;
	uint64_t pa[8], uid, bytes = 1;
	char *p;

	NEED_EMU();
	if (defer_set(1))
		SKIP(return, "driver without cross-ioctl merging (defer_last_chunk)");
	p = t_hp(_th, 8 * SZ_2M);
	t_pages_by_pa(_th, p, 8, ord, pa);
	for (int i = 0; i + 1 < 8 && adj < 0; i++)
		if (pa[ord[i + 1]] == pa[ord[i]] + SZ_2M)
			adj = i;
	if (adj < 0)
		SKIP(return, "no two of the 8 pages are physically adjacent");
	for (int i = 0; i < 8 && far < 0; i++)
		if (pa[ord[i]] != pa[ord[adj + 1]] + SZ_2M &&
		    i != adj && i != adj + 1)
			far = i;
	ASSERT_GE(far, 0);
	EMU("set mem-regions 1");
	fd = t_create(_th, self->dev, &uid);
	ASSERT_RC(0, ne_set_mem(fd, 0, a(p + (size_t)ord[adj] * SZ_2M), SZ_2M));
	ASSERT_RC(0, ne_set_mem(fd, 0, a(p + (size_t)ord[adj + 1] * SZ_2M), SZ_2M),
		  "a page extending the held-back chunk takes no new chunk");
	EXPECT_RC(-NE_ERR_MEM_MAX_REGIONS,
		  ne_set_mem(fd, 0, a(p + (size_t)ord[far] * SZ_2M), SZ_2M),
		  "a second chunk exceeds a limit of 1");
	EXPECT_EQ(0, slot_regions(uid, &bytes), "the refused ioctl sent nothing");
	EXPECT_EQ(0, bytes);
	close(fd);
}

/*
 * Long-term pinning migrates a hugepage out of ZONE_MOVABLE/CMA first, which
 * needs a spare hugepage. nitro-cli's allocator reserves exactly what the
 * enclave needs: check the region can be added with no spare page at all.
 * (Boot with movablecore= to put the pool in ZONE_MOVABLE; see the README.)
 */
TEST_F(encl, set_mem, pin_with_no_spare_hugepage)
{
	char path[160], v[32];
	long nr, fr;
	void *p;
	int rc;

	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, SZ_64M / SZ_2M));
	nr = hp_read(SHIFT_2M, "nr_hugepages");
	fr = hp_read(SHIFT_2M, "free_hugepages");
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
	snprintf(v, sizeof(v), "%ld", nr - (fr - SZ_64M / SZ_2M));
	ASSERT_RC(0, sysfs_write(path, v), "shrink the pool to 64 MiB free");
	ASSERT_EQ(SZ_64M / SZ_2M, hp_read(SHIFT_2M, "free_hugepages"));
	p = hp_map(SZ_64M, SHIFT_2M);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, hp_read(SHIFT_2M, "free_hugepages"), "no spare hugepage");
	rc = ne_set_mem(self->fd, 0, (uintptr_t)p, SZ_64M);
	TH_LOG("64 MiB with no spare hugepage: %s", th_errname(rc));
	EXPECT_RC(0, rc, "pinning needs no spare hugepage");
}
