// SPDX-License-Identifier: GPL-2.0
/*
 * Pure logic: merging physically contiguous memory chunks. Builds in the
 * kernel and in the userspace unit tests (tests/unit/), so it touches no
 * kernel state.
 */

#include "ne_merge.h"

/**
 * ne_phys_range_valid() - Check a chunk against the device's granularity.
 * @start:	Physical address.
 * @size:	Bytes.
 *
 * Return: true if both are NE_MEM_ALIGN multiples, @size is non-zero and the
 * chunk does not wrap around the address space.
 */
bool ne_phys_range_valid(u64 start, u64 size)
{
	if (!size || (start | size) & (NE_MEM_ALIGN - 1))
		return false;

	return start + size > start;
}

/**
 * ne_phys_range_follows() - Does @start continue @last in ascending order.
 * @last:	The range to extend.
 * @start:	Physical address of the next chunk.
 *
 * Only ascending adjacency merges: enclave memory is laid out in the order
 * chunks are given to the device, so a chunk just *below* @last must stay
 * separate.
 *
 * Return: true if the chunk at @start can extend @last.
 */
bool ne_phys_range_follows(const struct ne_phys_range *last, u64 start)
{
	return last->size && last->start + last->size == start;
}

/**
 * ne_merge_add() - Append a chunk, merging it into the last range if adjacent.
 * @rs:		The ranges.
 * @start:	Physical address of the chunk.
 * @size:	Bytes.
 *
 * On error @rs is unchanged.
 *
 * Return: 0, -EINVAL for a misaligned chunk, -ENOSPC if a new range is needed
 * and @rs is full.
 */
int ne_merge_add(struct ne_phys_ranges *rs, u64 start, u64 size)
{
	struct ne_phys_range *last;

	if (!ne_phys_range_valid(start, size))
		return -EINVAL;

	if (rs->nr) {
		last = &rs->r[rs->nr - 1];
		if (ne_phys_range_follows(last, start) &&
		    ne_phys_range_valid(last->start, last->size + size)) {
			last->size += size;
			return 0;
		}
	}

	if (rs->nr == rs->cap)
		return -ENOSPC;

	rs->r[rs->nr].start = start;
	rs->r[rs->nr].size = size;
	rs->nr++;

	return 0;
}

/**
 * ne_merge_check() - Re-check every merged range before it goes to the device.
 * @rs:		The ranges.
 *
 * Return: 0 or -EINVAL.
 */
int ne_merge_check(const struct ne_phys_ranges *rs)
{
	unsigned long i;

	for (i = 0; i < rs->nr; i++)
		if (!ne_phys_range_valid(rs->r[i].start, rs->r[i].size))
			return -EINVAL;

	return 0;
}
