// SPDX-License-Identifier: GPL-2.0
/*
 * Pure logic: merging physically contiguous memory chunks and validating a
 * requested CPU pool. Builds in the kernel and in the userspace unit tests
 * (tests/unit/), so it touches no kernel state.
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

static bool ne_pool_all_online(const struct ne_topo *t)
{
	unsigned int cpu;

	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->in_set(t->ctx, cpu) && !t->online(t->ctx, cpu))
			return false;

	return true;
}

static int ne_pool_one_node(const struct ne_topo *t)
{
	unsigned int cpu;
	int node = -1;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->in_set(t->ctx, cpu))
			continue;
		if (t->node(t->ctx, cpu) < 0)
			return -1;
		if (node < 0)
			node = t->node(t->ctx, cpu);
		else if (t->node(t->ctx, cpu) != node)
			return -1;
	}

	return node;
}

/**
 * ne_pool_check() - Validate a requested CPU pool and number its cores.
 * @t:		The topology and the requested set (which must not be empty).
 * @out:	Filled with the pool's shape on success.
 * @core_first:	Filled with the lowest CPU of each core, cores numbered
 *		0, 1, 2... in the order their first thread appears (not
 *		topology_core_id(), which is sparse on some systems).
 * @max_cores:	Capacity of @core_first.
 *
 * The rules, in the order they are checked: every CPU online; one NUMA node;
 * no thread of CPU 0's core (the parent needs it); full cores only; the
 * same number of threads in every core.
 *
 * Return: 0 or -EINVAL.
 */
int ne_pool_check(const struct ne_topo *t, struct ne_pool_layout *out,
		  unsigned int *core_first, unsigned int max_cores)
{
	unsigned int cpu, threads = 0, nr_cores = 0;
	int node;

	if (!ne_pool_all_online(t))
		return -EINVAL;

	node = ne_pool_one_node(t);
	if (node < 0)
		return -EINVAL;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->in_set(t->ctx, cpu))
			continue;
		if (t->core_first(t->ctx, cpu) == t->core_first(t->ctx, 0))
			return -EINVAL;
	}

	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->in_set(t->ctx, cpu) && !t->core_in_set(t->ctx, cpu))
			return -EINVAL;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->in_set(t->ctx, cpu))
			continue;
		if (!threads)
			threads = t->core_weight(t->ctx, cpu);
		if (!threads || t->core_weight(t->ctx, cpu) != threads)
			return -EINVAL;
		if (t->core_first(t->ctx, cpu) != cpu)
			continue;
		if (nr_cores == max_cores)
			return -EINVAL;
		core_first[nr_cores++] = cpu;
	}

	out->nr_cores = nr_cores;
	out->threads_per_core = threads;
	out->node = node;

	return 0;
}
