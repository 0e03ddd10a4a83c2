// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of module/ne_merge.c's physical range merging: the upstream
 * KUnit table (spec §4.5) step by step, then the cases upstream never
 * tested (capacity, wrap-around, 1 GiB pages, validation).
 */

#include <stdint.h>
#include <string.h>

#include "ne_merge.h"
#include "tap.h"

#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)
#define SKIP	(~0ULL)

/* One step of a table: add (start, size), expect rc and the list after. */
struct merge_step {
	u64 start;
	u64 size;
	int rc;
	unsigned long nr;
	u64 last_start;		/* SKIP: don't check */
	u64 last_size;
};

static void run_table(const char *name, const struct merge_step *steps,
		      size_t n, unsigned long cap)
{
	struct ne_phys_range r[16];
	struct ne_phys_ranges rs = { .r = r, .nr = 0, .cap = cap };
	size_t i;
	int rc;

	memset(r, 0, sizeof(r));
	for (i = 0; i < n; i++) {
		const struct merge_step *s = &steps[i];

		rc = ne_merge_add(&rs, s->start, s->size);
		TAP_CHECK(rc == s->rc && rs.nr == s->nr,
			  "%s step %zu: add(0x%llx, 0x%llx) rc %d nr %lu",
			  name, i + 1, (unsigned long long)s->start,
			  (unsigned long long)s->size, s->rc, s->nr);
		if (s->last_start != SKIP)
			TAP_CHECK(rs.nr &&
				  r[rs.nr - 1].start == s->last_start &&
				  r[rs.nr - 1].size == s->last_size,
				  "%s step %zu: last range 0x%llx+0x%llx",
				  name, i + 1,
				  (unsigned long long)s->last_start,
				  (unsigned long long)s->last_size);
		TAP_CHECK(ne_merge_check(&rs) == 0,
			  "%s step %zu: every range still valid", name, i + 1);
	}
}

/* Spec §4.5: upstream's ne_misc_dev_test table, same seven rows. */
static const struct merge_step upstream_kunit[] = {
	/* start not 2 MiB aligned: rejected, list empty */
	{ 0x1000, 0x200000, -EINVAL, 0, SKIP, SKIP },
	/* size not a multiple of 2 MiB: rejected */
	{ 0x200000, 0x1000, -EINVAL, 0, SKIP, SKIP },
	/* first range [2M, 4M) */
	{ 0x200000, 0x200000, 0, 1, 0x200000, 0x200000 },
	/* adjacent but below: not merged (layout order is add order) */
	{ 0x0, 0x200000, 0, 2, 0x0, 0x200000 },
	/* gap: new range [6M, 10M) */
	{ 0x600000, 0x400000, 0, 3, 0x600000, 0x400000 },
	/* continues the last range: merged into [6M, 14M) */
	{ 0xa00000, 0x400000, 0, 3, 0x600000, 0x800000 },
	/* rejected, list unchanged */
	{ 0x1000, 0x200000, -EINVAL, 3, 0x600000, 0x800000 },
};

/* Beyond upstream: capacity, merge at capacity, wrap, 1 GiB pages. */
static const struct merge_step more[] = {
	/* size 0 is never a valid chunk */
	{ 0x200000, 0, -EINVAL, 0, SKIP, SKIP },
	/* 1 GiB page */
	{ 1 * GiB, 1 * GiB, 0, 1, 1 * GiB, 1 * GiB },
	/* next 1 GiB page, adjacent: one range of 2 GiB */
	{ 2 * GiB, 1 * GiB, 0, 1, 1 * GiB, 2 * GiB },
	/* a 2 MiB page right after a 1 GiB run merges too */
	{ 3 * GiB, 2 * MiB, 0, 1, 1 * GiB, 2 * GiB + 2 * MiB },
	/* the same address again (overlap, not adjacency): new range */
	{ 3 * GiB, 2 * MiB, 0, 2, 3 * GiB, 2 * MiB },
	/* full (cap 2): a new range is refused, list unchanged */
	{ 8 * GiB, 2 * MiB, -ENOSPC, 2, 3 * GiB, 2 * MiB },
	/* full, but adjacent to the last: still merges */
	{ 3 * GiB + 2 * MiB, 2 * MiB, 0, 2, 3 * GiB, 4 * MiB },
	/* a chunk that wraps the address space is invalid */
	{ 0xffffffffffe00000ULL, 4 * MiB, -EINVAL, 2, 3 * GiB, 4 * MiB },
};

static const struct merge_step descending[] = {
	/* descending physically adjacent pages: never merged */
	{ 6 * MiB, 2 * MiB, 0, 1, 6 * MiB, 2 * MiB },
	{ 4 * MiB, 2 * MiB, 0, 2, 4 * MiB, 2 * MiB },
	{ 2 * MiB, 2 * MiB, 0, 3, 2 * MiB, 2 * MiB },
	/* ascending again after the last: merged */
	{ 4 * MiB, 2 * MiB, 0, 3, 2 * MiB, 4 * MiB },
};

static void test_helpers(void)
{
	struct ne_phys_range last = { 4 * MiB, 2 * MiB };
	struct ne_phys_range none = { 0, 0 };

	TAP_CHECK(ne_phys_range_valid(0, 2 * MiB), "valid: [0, 2M)");
	TAP_CHECK(!ne_phys_range_valid(2 * MiB, 0), "invalid: size 0");
	TAP_CHECK(!ne_phys_range_valid(1 * MiB, 2 * MiB), "invalid: 1M start");
	TAP_CHECK(!ne_phys_range_valid(0, 3 * MiB), "invalid: 3M size");
	TAP_CHECK(!ne_phys_range_valid(~0ULL - 2 * MiB + 1, 4 * MiB),
		  "invalid: wraps");
	TAP_CHECK(ne_phys_range_follows(&last, 6 * MiB), "follows: 6M after [4M,6M)");
	TAP_CHECK(!ne_phys_range_follows(&last, 2 * MiB), "not follows: below");
	TAP_CHECK(!ne_phys_range_follows(&last, 8 * MiB), "not follows: gap");
	TAP_CHECK(!ne_phys_range_follows(&none, 0), "empty range is followed by nothing");
}

static void test_many(void)
{
	static struct ne_phys_range r[1024];
	struct ne_phys_ranges rs = { .r = r, .nr = 0, .cap = 1024 };
	unsigned long i;
	int bad = 0;

	/* 4096 pages: runs of 4 ascending pages, then a gap */
	for (i = 0; i < 4096; i++) {
		u64 start = (i / 4) * 10 * MiB + (i % 4) * 2 * MiB;

		if (ne_merge_add(&rs, start, 2 * MiB))
			bad++;
	}
	TAP_CHECK(!bad && rs.nr == 1024, "4096 pages in runs of 4 -> 1024 ranges");
	TAP_CHECK(r[1023].start == 1023 * 10 * MiB && r[1023].size == 8 * MiB,
		  "last run starts at its first page and spans 8 MiB");
	TAP_CHECK(ne_merge_add(&rs, 1023 * 10 * MiB + 8 * MiB, 2 * MiB) == 0 &&
		  rs.nr == 1024, "adjacent page still merges when full");
	TAP_CHECK(ne_merge_add(&rs, 0, 2 * MiB) == -ENOSPC && rs.nr == 1024,
		  "non-adjacent page refused when full");
}

int main(void)
{
	tap_start();
	run_table("upstream-kunit", upstream_kunit,
		  sizeof(upstream_kunit) / sizeof(upstream_kunit[0]), 16);
	run_table("more", more, sizeof(more) / sizeof(more[0]), 2);
	run_table("descending", descending,
		  sizeof(descending) / sizeof(descending[0]), 16);
	test_helpers();
	test_many();
	return tap_end();
}
