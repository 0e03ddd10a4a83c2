// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the CPU pool rules (module/ne_pool_rules.c):
 * offline CPUs, NUMA nodes, CPU 0's core, full cores only, SMT width, and
 * core numbering by discovery order on topologies whose sibling masks are
 * not consecutive CPUs.
 */

#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "ne_pool_rules.h"

#define MAX_CPUS 64

/* A fake machine: each CPU's core (any label), node and online flag. */
struct topo {
	unsigned int nr;
	int core[MAX_CPUS];
	int node[MAX_CPUS];
	bool offline[MAX_CPUS];
	bool set[MAX_CPUS];
};

static bool t_in_set(const void *ctx, unsigned int cpu)
{
	return ((const struct topo *)ctx)->set[cpu];
}

static bool t_online(const void *ctx, unsigned int cpu)
{
	return !((const struct topo *)ctx)->offline[cpu];
}

static int t_node(const void *ctx, unsigned int cpu)
{
	return ((const struct topo *)ctx)->node[cpu];
}

static unsigned int t_core_first(const void *ctx, unsigned int cpu)
{
	const struct topo *t = ctx;
	unsigned int c;

	for (c = 0; c < t->nr; c++)
		if (t->core[c] == t->core[cpu])
			return c;
	return cpu;
}

static unsigned int t_core_weight(const void *ctx, unsigned int cpu)
{
	const struct topo *t = ctx;
	unsigned int c, n = 0;

	for (c = 0; c < t->nr; c++)
		n += t->core[c] == t->core[cpu];
	return n;
}

static bool t_core_in_set(const void *ctx, unsigned int cpu)
{
	const struct topo *t = ctx;
	unsigned int c;

	for (c = 0; c < t->nr; c++)
		if (t->core[c] == t->core[cpu] && !t->set[c])
			return false;
	return true;
}

/* Parse "a-b,c" into t->set (test input only, no validation). */
static void set_cpus(struct topo *t, const char *list)
{
	unsigned int a, b;
	int n;

	memset(t->set, 0, sizeof(t->set));
	while (*list) {
		if (sscanf(list, "%u-%u%n", &a, &b, &n) == 2) {
			list += n;
		} else {
			sscanf(list, "%u%n", &a, &n);
			b = a;
			list += n;
		}
		while (a <= b)
			t->set[a++] = true;
		if (*list == ',')
			list++;
	}
}

/* A fake machine, and what ne_pool_check() said of the last pool asked. */
struct machine {
	struct topo t;
	struct ne_pool_layout l;
	unsigned int first[MAX_CPUS];
};

/* ne_pool_check() of the CPUs in list, core_first of capacity max. */
static int check(struct machine *m, const char *list, unsigned int max)
{
	const struct ne_topo nt = {
		.ctx = &m->t, .nr_cpus = m->t.nr,
		.in_set = t_in_set, .online = t_online, .node = t_node,
		.core_first = t_core_first, .core_weight = t_core_weight,
		.core_in_set = t_core_in_set,
	};

	set_cpus(&m->t, list);
	memset(&m->l, 0, sizeof(m->l));
	return ne_pool_rules_check(&nt, &m->l, m->first, max);
}

/* TOPOLOGY(name, cpus, core_of_c): a fixture of that many CPUs, CPU c in core_of_c. */
#define TOPOLOGY(name, cpus, core_of_c)					\
	FIXTURE(name) {							\
		struct machine m;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		self->m.t.nr = (cpus);					\
		for (unsigned int c = 0; c < (cpus); c++)		\
			self->m.t.core[c] = (core_of_c);		\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
	}								\
	FIXTURE_REGISTER(name)

/* The VM harness's topology: 6 CPUs, siblings (0,1) (2,3) (4,5). */
TOPOLOGY(smt2, 6, c / 2);

TEST_F(smt2, pool_smt2, cores_in_cpu_order)
{
	ASSERT_EQ(0, check(&self->m, "2-5", MAX_CPUS));
	EXPECT_EQ(2, self->m.l.nr_cores);
	EXPECT_EQ(2, self->m.l.threads_per_core);
	EXPECT_EQ(0, self->m.l.node);
	EXPECT_EQ(2, self->m.first[0], "core {2,3}");
	EXPECT_EQ(4, self->m.first[1], "core {4,5}");
}

TEST_F(smt2, pool_smt2, one_core)
{
	ASSERT_EQ(0, check(&self->m, "4-5", MAX_CPUS));
	EXPECT_EQ(1, self->m.l.nr_cores);
	EXPECT_EQ(4, self->m.first[0]);
}

TEST_F(smt2, pool_smt2, half_core_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "2", MAX_CPUS));
}

TEST_F(smt2, pool_smt2, core_and_a_half_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "2-4", MAX_CPUS), "half of core {4,5}");
}

TEST_F(smt2, pool_smt2, cpu0_sibling_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "1-3", MAX_CPUS));
}

TEST_F(smt2, pool_smt2, cpu0_core_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "0-1", MAX_CPUS));
}

TEST_F(smt2, pool_smt2, more_cores_than_callers_array_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "2-5", 1));
}

TEST_F(smt2, pool_smt2, offline_cpu_refused)
{
	self->m.t.offline[4] = true;
	EXPECT_EQ(-EINVAL, check(&self->m, "2-5", MAX_CPUS));
}

TEST_F(smt2, pool_smt2, offline_cpu_outside_the_set_ignored)
{
	self->m.t.offline[4] = true;
	EXPECT_EQ(0, check(&self->m, "2-3", MAX_CPUS));
}

TEST_F(smt2, pool_smt2, two_numa_nodes_refused)
{
	self->m.t.node[4] = self->m.t.node[5] = 1;
	EXPECT_EQ(-EINVAL, check(&self->m, "2-5", MAX_CPUS));
}

TEST_F(smt2, pool_smt2, pool_node_is_its_cpus_node)
{
	self->m.t.node[4] = self->m.t.node[5] = 1;
	ASSERT_EQ(0, check(&self->m, "4-5", MAX_CPUS));
	EXPECT_EQ(1, self->m.l.node);
}

TEST_F(smt2, pool_smt2, unknown_node_refused)
{
	self->m.t.node[4] = self->m.t.node[5] = -1;
	EXPECT_EQ(-EINVAL, check(&self->m, "4-5", MAX_CPUS));
}

/* Linux numbering on many Intel hosts: siblings (0,4) (1,5) (2,6) (3,7), sparse core ids. */
TOPOLOGY(interleaved, 8, 100 + (c % 4) * 7);

TEST_F(interleaved, pool_interleaved, siblings_far_apart_are_one_core)
{
	ASSERT_EQ(0, check(&self->m, "1,5", MAX_CPUS));
	EXPECT_EQ(1, self->m.l.nr_cores);
	EXPECT_EQ(1, self->m.first[0]);
}

/* Cores are numbered 0, 1, 2 in discovery order, not by their sparse ids. */
TEST_F(interleaved, pool_interleaved, cores_numbered_in_discovery_order)
{
	ASSERT_EQ(0, check(&self->m, "1-3,5-7", MAX_CPUS));
	EXPECT_EQ(3, self->m.l.nr_cores);
	EXPECT_EQ(1, self->m.first[0]);
	EXPECT_EQ(2, self->m.first[1]);
	EXPECT_EQ(3, self->m.first[2]);
}

TEST_F(interleaved, pool_interleaved, order_of_the_list_ignored)
{
	ASSERT_EQ(0, check(&self->m, "3,7,1,5", MAX_CPUS));
	EXPECT_EQ(2, self->m.l.nr_cores);
	EXPECT_EQ(1, self->m.first[0]);
	EXPECT_EQ(3, self->m.first[1]);
}

TEST_F(interleaved, pool_interleaved, three_half_cores_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "1-3", MAX_CPUS));
}

TEST_F(interleaved, pool_interleaved, cpu0_sibling_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "4", MAX_CPUS));
}

/* No SMT (arm64-like): 4 CPUs, one thread per core. */
TOPOLOGY(no_smt, 4, c);

TEST_F(no_smt, pool_no_smt, one_thread_per_core)
{
	ASSERT_EQ(0, check(&self->m, "1-3", MAX_CPUS));
	EXPECT_EQ(3, self->m.l.nr_cores);
	EXPECT_EQ(1, self->m.l.threads_per_core);
}

TEST_F(no_smt, pool_no_smt, cpu0_refused)
{
	EXPECT_EQ(-EINVAL, check(&self->m, "0", MAX_CPUS));
}

TEST_F(no_smt, pool_no_smt, cores_of_different_widths_refused)
{
	self->m.t.core[3] = 2;		/* cores {1} and {2,3} */
	EXPECT_EQ(-EINVAL, check(&self->m, "1-3", MAX_CPUS));
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
