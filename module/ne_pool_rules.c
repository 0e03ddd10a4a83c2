// SPDX-License-Identifier: GPL-2.0
/*
 * Pure logic: the rules a requested CPU pool must follow, checked against a
 * topology given through callbacks. Builds in the kernel (ne_cpu_pool.c
 * calls it) and in the userspace unit tests (tests/unit/), so it touches no
 * kernel state.
 */

#include "ne_pool_rules.h"

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
 * ne_pool_rules_check() - Validate a requested CPU pool, number its cores.
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
int ne_pool_rules_check(const struct ne_topo *t, struct ne_pool_layout *out,
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
