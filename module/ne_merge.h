/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure logic shared by the module and the userspace unit tests: merging
 * physically contiguous memory chunks. No kernel state, no locks, no
 * allocation: the callers own the memory.
 */

#ifndef NE_MERGE_H
#define NE_MERGE_H

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/types.h>
#else
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
typedef __u64 u64;
#endif

/* Device granularity: every physical chunk is 2 MiB aligned and sized. */
#define NE_MEM_ALIGN	(2ULL << 20)

/**
 * struct ne_phys_range - A physically contiguous chunk of enclave memory.
 * @start:	Physical address, NE_MEM_ALIGN aligned.
 * @size:	Bytes, a non-zero multiple of NE_MEM_ALIGN.
 */
struct ne_phys_range {
	u64 start;
	u64 size;
};

/**
 * struct ne_phys_ranges - A caller-owned, fixed-capacity list of ranges.
 * @r:		The ranges, in the order they were added.
 * @nr:		Number of ranges in use.
 * @cap:	Capacity of @r.
 */
struct ne_phys_ranges {
	struct ne_phys_range *r;
	unsigned long nr;
	unsigned long cap;
};

bool ne_phys_range_valid(u64 start, u64 size);
bool ne_phys_range_follows(const struct ne_phys_range *last, u64 start);
int ne_merge_add(struct ne_phys_ranges *rs, u64 start, u64 size);
int ne_merge_check(const struct ne_phys_ranges *rs);

#endif /* NE_MERGE_H */
