/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure logic shared by the module and the userspace unit tests: physical
 * range merging and CPU pool validation. No kernel state, no locks, no
 * allocation: the callers own the memory and the topology.
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

/**
 * struct ne_topo - The CPU topology the pool rules are checked against.
 * @ctx:	Opaque argument of the callbacks.
 * @nr_cpus:	CPU ids are 0 .. @nr_cpus - 1.
 * @in_set:	Is @cpu in the requested pool.
 * @online:	Is @cpu online (its topology can be read).
 * @node:	NUMA node of @cpu (< 0 if unknown).
 * @core_first:	Lowest CPU of @cpu's core (its SMT sibling mask).
 * @core_weight: Number of threads of @cpu's core.
 * @core_in_set: Are all threads of @cpu's core in the requested pool.
 */
struct ne_topo {
	const void *ctx;
	unsigned int nr_cpus;
	bool (*in_set)(const void *ctx, unsigned int cpu);
	bool (*online)(const void *ctx, unsigned int cpu);
	int (*node)(const void *ctx, unsigned int cpu);
	unsigned int (*core_first)(const void *ctx, unsigned int cpu);
	unsigned int (*core_weight)(const void *ctx, unsigned int cpu);
	bool (*core_in_set)(const void *ctx, unsigned int cpu);
};

/**
 * struct ne_pool_layout - The pool a valid CPU set describes.
 * @nr_cores:		Full cores in the pool.
 * @threads_per_core:	SMT threads per core (the same for every core).
 * @node:		The one NUMA node of all pool CPUs.
 */
struct ne_pool_layout {
	unsigned int nr_cores;
	unsigned int threads_per_core;
	int node;
};

int ne_pool_check(const struct ne_topo *t, struct ne_pool_layout *out,
		  unsigned int *core_first, unsigned int max_cores);

#endif /* NE_MERGE_H */
