/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure logic shared by the module and the userspace unit tests: the rules a
 * requested CPU pool must follow. No kernel state, no locks, no allocation:
 * the callers own the memory and the topology.
 */

#ifndef NE_POOL_RULES_H
#define NE_POOL_RULES_H

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/types.h>
#else
#include <errno.h>
#include <stdbool.h>
#endif

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

int ne_pool_rules_check(const struct ne_topo *t, struct ne_pool_layout *out,
			unsigned int *core_first, unsigned int max_cores);

#endif /* NE_POOL_RULES_H */
