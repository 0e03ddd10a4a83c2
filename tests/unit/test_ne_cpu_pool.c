// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the CPU pool rules (module/ne_pool_rules.c):
 * offline CPUs, NUMA nodes, CPU 0's core, full cores only, SMT width, and
 * core numbering by discovery order on topologies whose sibling masks are
 * not consecutive CPUs.
 */

#include <string.h>

#include "ne_pool_rules.h"
#include "tap.h"

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

static int check(struct topo *t, const char *list, struct ne_pool_layout *l,
		 unsigned int *first, unsigned int max)
{
	const struct ne_topo nt = {
		.ctx = t, .nr_cpus = t->nr,
		.in_set = t_in_set, .online = t_online, .node = t_node,
		.core_first = t_core_first, .core_weight = t_core_weight,
		.core_in_set = t_core_in_set,
	};

	set_cpus(t, list);
	memset(l, 0, sizeof(*l));
	return ne_pool_rules_check(&nt, l, first, max);
}

/* The VM harness's topology: 6 CPUs, siblings (0,1) (2,3) (4,5). */
static void smt2_x3(struct topo *t)
{
	unsigned int c;

	memset(t, 0, sizeof(*t));
	t->nr = 6;
	for (c = 0; c < 6; c++)
		t->core[c] = c / 2;
}

/* Linux numbering on many Intel hosts: siblings (0,4) (1,5) (2,6) (3,7). */
static void smt2_interleaved(struct topo *t)
{
	unsigned int c;

	memset(t, 0, sizeof(*t));
	t->nr = 8;
	for (c = 0; c < 8; c++)
		t->core[c] = 100 + (c % 4) * 7;	/* sparse core ids */
}

static void test_smt2(void)
{
	struct ne_pool_layout l;
	unsigned int first[MAX_CPUS];
	struct topo t;

	smt2_x3(&t);
	TAP_CHECK(check(&t, "2-5", &l, first, MAX_CPUS) == 0 &&
		  l.nr_cores == 2 && l.threads_per_core == 2 && l.node == 0 &&
		  first[0] == 2 && first[1] == 4,
		  "smt2: 2-5 -> cores {2,3} {4,5}");
	TAP_CHECK(check(&t, "4-5", &l, first, MAX_CPUS) == 0 &&
		  l.nr_cores == 1 && first[0] == 4, "smt2: 4-5 -> one core");
	TAP_CHECK(check(&t, "2", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: half a core refused");
	TAP_CHECK(check(&t, "2-4", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: 2-4 (half of core 4,5) refused");
	TAP_CHECK(check(&t, "1-3", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: CPU 0's sibling refused");
	TAP_CHECK(check(&t, "0-1", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: CPU 0's core refused");
	TAP_CHECK(check(&t, "2-5", &l, first, 1) == -EINVAL,
		  "smt2: more cores than the caller's array refused");

	smt2_x3(&t);
	t.offline[4] = true;
	TAP_CHECK(check(&t, "2-5", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: an offline CPU refused");
	TAP_CHECK(check(&t, "2-3", &l, first, MAX_CPUS) == 0,
		  "smt2: an offline CPU outside the set does not matter");

	smt2_x3(&t);
	t.node[4] = t.node[5] = 1;
	TAP_CHECK(check(&t, "2-5", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: two NUMA nodes refused");
	TAP_CHECK(check(&t, "4-5", &l, first, MAX_CPUS) == 0 && l.node == 1,
		  "smt2: the pool's node is its CPUs' node");
	t.node[4] = t.node[5] = -1;
	TAP_CHECK(check(&t, "4-5", &l, first, MAX_CPUS) == -EINVAL,
		  "smt2: unknown node refused");
}

static void test_interleaved(void)
{
	struct ne_pool_layout l;
	unsigned int first[MAX_CPUS];
	struct topo t;

	smt2_interleaved(&t);
	TAP_CHECK(check(&t, "1,5", &l, first, MAX_CPUS) == 0 &&
		  l.nr_cores == 1 && first[0] == 1,
		  "interleaved: 1,5 is one full core");
	TAP_CHECK(check(&t, "1-3,5-7", &l, first, MAX_CPUS) == 0 &&
		  l.nr_cores == 3 && first[0] == 1 && first[1] == 2 &&
		  first[2] == 3,
		  "interleaved: cores numbered 0,1,2 in discovery order (sparse core ids)");
	TAP_CHECK(check(&t, "3,7,1,5", &l, first, MAX_CPUS) == 0 &&
		  l.nr_cores == 2 && first[0] == 1 && first[1] == 3,
		  "interleaved: order of the list does not matter");
	TAP_CHECK(check(&t, "1-3", &l, first, MAX_CPUS) == -EINVAL,
		  "interleaved: 1-3 are three half cores");
	TAP_CHECK(check(&t, "4", &l, first, MAX_CPUS) == -EINVAL,
		  "interleaved: CPU 4 is CPU 0's sibling");
}

static void test_no_smt(void)
{
	struct ne_pool_layout l;
	unsigned int first[MAX_CPUS];
	struct topo t;
	unsigned int c;

	memset(&t, 0, sizeof(t));
	t.nr = 4;
	for (c = 0; c < 4; c++)
		t.core[c] = c;
	TAP_CHECK(check(&t, "1-3", &l, first, MAX_CPUS) == 0 &&
		  l.nr_cores == 3 && l.threads_per_core == 1,
		  "no SMT (arm64-like): one thread per core");
	TAP_CHECK(check(&t, "0", &l, first, MAX_CPUS) == -EINVAL,
		  "no SMT: CPU 0 refused");

	/* mixed widths: core {1} and core {2,3} */
	t.core[3] = 2;
	TAP_CHECK(check(&t, "1-3", &l, first, MAX_CPUS) == -EINVAL,
		  "cores of different widths refused");
}

int main(void)
{
	tap_start();
	test_smt2();
	test_interleaved();
	test_no_smt();
	return tap_end();
}
