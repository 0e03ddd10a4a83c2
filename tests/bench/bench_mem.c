// SPDX-License-Identifier: GPL-2.0
/* Hugetlb mappings for the workloads and their physical page layout. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4U
#endif

/* log2 of the page size, as MAP_HUGE_* and MFD_HUGE_* want it. */
static unsigned int page_shift(size_t page)
{
	unsigned int s = 0;

	while ((1ULL << s) < page)
		s++;
	return s;
}

int hmap_anon(struct hmap *m, size_t len, size_t page)
{
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		 (int)(page_shift(page) << MAP_HUGE_SHIFT);

	m->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, fl, -1, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		return -errno;
	}
	m->len = len;
	m->page = page;
	return 0;
}

int hmap_memfd(struct hmap *m, size_t len, size_t page)
{
	unsigned int fl = MFD_HUGETLB | (page_shift(page) << MAP_HUGE_SHIFT);
	int fd = memfd_create("ne-bench", fl);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		rc = -errno;
		goto out;
	}
	/* The QEMU pattern: guest RAM is a shared mapping of the memfd. */
	m->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		rc = -errno;
		goto out;
	}
	m->len = len;
	m->page = page;
out:
	close(fd);
	return rc;
}

void hmap_free(struct hmap *m)
{
	if (m->addr)
		munmap(m->addr, m->len);
	memset(m, 0, sizeof(*m));
}

/*
 * Fault every hugepage in before any timing, as nitro-cli does by writing the
 * image, so the timed window holds the driver's work and not page zeroing.
 * hugetlb reserves the pages at mmap time: a short pool fails mmap, not this.
 */
int hmap_touch(const struct hmap *m)
{
	size_t off;

	for (off = 0; off < m->len; off += m->page)
		((volatile char *)m->addr)[off] = 1;
	return 0;
}

int pagemap_pfns(void *const *addrs, size_t n, uint64_t *pfn)
{
	long psz = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t i;
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		uint64_t ent;
		off_t at = (off_t)((uintptr_t)addrs[i] / (uintptr_t)psz) * 8;

		if (pread(fd, &ent, sizeof(ent), at) != sizeof(ent)) {
			rc = -EIO;
			break;
		}
		/* bit 63: present; bits 0-54: PFN (zero without CAP_SYS_ADMIN) */
		if (!(ent >> 63) || !(ent & ((1ULL << 55) - 1))) {
			rc = -EPERM;
			break;
		}
		pfn[i] = ent & ((1ULL << 55) - 1);
	}
	close(fd);
	return rc;
}

long count_adjacent(const uint64_t *pfn, size_t n, size_t page)
{
	uint64_t step = page / (uint64_t)sysconf(_SC_PAGESIZE);
	long adj = 0;
	size_t i;

	for (i = 1; i < n; i++)
		if (pfn[i] == pfn[i - 1] + step)
			adj++;
	return adj;
}
