// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of module/ne_merge.c's physical range merging: the upstream
 * KUnit table (spec §4.5) step by step, then the cases upstream never
 * tested (capacity, wrap-around, 1 GiB pages, validation).
 */

#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "ne_merge.h"

#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)
#define ANY	(~0ULL)		/* last range not checked at this step */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One step of a table: add (start, size), expect rc and the list after. */
struct merge_step {
	u64 start;
	u64 size;
	int rc;
	unsigned long nr;
	u64 last_start;
	u64 last_size;
};

/* Spec §4.5: upstream's ne_misc_dev_test table, same seven rows. */
static const struct merge_step upstream_kunit[] = {
	/* start not 2 MiB aligned: rejected, list empty */
	{ 0x1000, 0x200000, -EINVAL, 0, ANY, ANY },
	/* size not a multiple of 2 MiB: rejected */
	{ 0x200000, 0x1000, -EINVAL, 0, ANY, ANY },
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
static const struct merge_step beyond_upstream[] = {
	/* size 0 is never a valid chunk */
	{ 0x200000, 0, -EINVAL, 0, ANY, ANY },
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

/* A table's steps, applied in order to one list of capacity cap. */
FIXTURE(table) {
	struct ne_phys_range r[16];
	struct ne_phys_ranges rs;
};

FIXTURE_VARIANT(table) {
	const struct merge_step *steps;
	size_t n;
	unsigned long cap;
};

FIXTURE_VARIANT_ADD(table, upstream_kunit) {
	.steps = upstream_kunit, .n = ARRAY_SIZE(upstream_kunit), .cap = 16,
};

FIXTURE_VARIANT_ADD(table, beyond_upstream) {
	.steps = beyond_upstream, .n = ARRAY_SIZE(beyond_upstream), .cap = 2,
};

FIXTURE_VARIANT_ADD(table, descending) {
	.steps = descending, .n = ARRAY_SIZE(descending), .cap = 16,
};

FIXTURE_SETUP(table)
{
	memset(self->r, 0, sizeof(self->r));
	self->rs = (struct ne_phys_ranges){ .r = self->r, .cap = variant->cap };
}

FIXTURE_TEARDOWN(table)
{
}

FIXTURE_REGISTER(table);

/* Each step returns its rc and leaves the list as the table says. */
TEST_F(table, merge, steps)
{
	const struct ne_phys_range *last;

	for (size_t i = 0; i < variant->n; i++) {
		const struct merge_step *s = &variant->steps[i];

		EXPECT_EQ(s->rc, ne_merge_add(&self->rs, s->start, s->size),
			  "step %zu: add(0x%llx, 0x%llx)", i + 1,
			  (unsigned long long)s->start,
			  (unsigned long long)s->size);
		ASSERT_EQ(s->nr, self->rs.nr, "step %zu: ranges", i + 1);
		if (s->last_start == ANY)
			continue;
		ASSERT_NE(0, self->rs.nr, "step %zu: a last range", i + 1);
		last = &self->r[self->rs.nr - 1];
		EXPECT_EQ(s->last_start, last->start, "step %zu: last start", i + 1);
		EXPECT_EQ(s->last_size, last->size, "step %zu: last size", i + 1);
	}
}

/* After every step, accepted or refused, every range is still valid. */
TEST_F(table, merge, ranges_stay_valid)
{
	for (size_t i = 0; i < variant->n; i++) {
		const struct merge_step *s = &variant->steps[i];

		ne_merge_add(&self->rs, s->start, s->size);
		EXPECT_EQ(0, ne_merge_check(&self->rs), "after step %zu", i + 1);
	}
}

TEST(range, aligned_is_valid)
{
	EXPECT_TRUE(ne_phys_range_valid(0, 2 * MiB), "[0, 2M)");
}

TEST(range, zero_size_is_invalid)
{
	EXPECT_FALSE(ne_phys_range_valid(2 * MiB, 0));
}

TEST(range, unaligned_start_is_invalid)
{
	EXPECT_FALSE(ne_phys_range_valid(1 * MiB, 2 * MiB));
}

TEST(range, unaligned_size_is_invalid)
{
	EXPECT_FALSE(ne_phys_range_valid(0, 3 * MiB));
}

TEST(range, wrapping_is_invalid)
{
	EXPECT_FALSE(ne_phys_range_valid(~0ULL - 2 * MiB + 1, 4 * MiB));
}

/* Only the address right after the range follows it. */
TEST(range, follows_only_its_end)
{
	struct ne_phys_range last = { 4 * MiB, 2 * MiB };

	EXPECT_TRUE(ne_phys_range_follows(&last, 6 * MiB), "6M after [4M,6M)");
	EXPECT_FALSE(ne_phys_range_follows(&last, 2 * MiB), "below");
	EXPECT_FALSE(ne_phys_range_follows(&last, 8 * MiB), "a gap");
}

TEST(range, empty_range_is_followed_by_nothing)
{
	struct ne_phys_range none = { 0, 0 };

	EXPECT_FALSE(ne_phys_range_follows(&none, 0));
}

/* A full list of 1024 ranges: 4096 pages in ascending runs of 4, then a gap. */
FIXTURE(full) {
	struct ne_phys_range r[1024];
	struct ne_phys_ranges rs;
	int refused;
};

FIXTURE_SETUP(full)
{
	self->rs = (struct ne_phys_ranges){ .r = self->r, .cap = 1024 };
	for (unsigned long i = 0; i < 4096; i++) {
		u64 start = (i / 4) * 10 * MiB + (i % 4) * 2 * MiB;

		if (ne_merge_add(&self->rs, start, 2 * MiB))
			self->refused++;
	}
}

FIXTURE_TEARDOWN(full)
{
}

FIXTURE_REGISTER(full);

TEST_F(full, merge, runs_of_four_pages_are_1024_ranges)
{
	EXPECT_EQ(0, self->refused);
	EXPECT_EQ(1024, self->rs.nr);
	EXPECT_EQ(1023 * 10 * MiB, self->r[1023].start, "last run starts at its first page");
	EXPECT_EQ(8 * MiB, self->r[1023].size, "and spans 8 MiB");
}

TEST_F(full, merge, full_list_still_merges_adjacent_page)
{
	EXPECT_EQ(0, ne_merge_add(&self->rs, 1023 * 10 * MiB + 8 * MiB, 2 * MiB));
	EXPECT_EQ(1024, self->rs.nr);
}

TEST_F(full, merge, full_list_refuses_new_range)
{
	EXPECT_EQ(-ENOSPC, ne_merge_add(&self->rs, 0, 2 * MiB));
	EXPECT_EQ(1024, self->rs.nr);
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
