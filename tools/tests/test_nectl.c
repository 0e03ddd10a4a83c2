// SPDX-License-Identifier: GPL-2.0
/*
 * nectl unit tests: cpu lists, pool chooser, hugepage planner, config and error text on fake sysfs trees,
 * and the EIF writer/reader (every header field and section byte, CRC, PCR known answers, corrupt files).
 * On the project's test harness (tests/lib/harness): each test runs in its own process, so the library's
 * root, write hook and the fake kernel's state start afresh.
 *
 * Also builds fake trees for the CLI tests: test_nectl mktree DIR LAYOUT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <zlib.h>
#include <linux/nitro_enclaves.h>

#include "harness.h"
#include "nectl.h"

/* ---- fake trees ---- */

static void mkdirs(const char *path)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

static void put(const char *root, const char *rel, const char *fmt, ...)
{
	char path[4096], dir[4096], *slash;
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	mkdirs(dir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static char *get(const char *root, const char *rel)
{
	static char buf[4096];
	char path[4096];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	if (ne_read_str(path, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "<missing>");
	return buf;
}

/*
 * A machine: @ncpu CPUs, @tpc threads per core, @nodes nodes splitting the
 * cores evenly. split=false numbers siblings (0,1)(2,3) like the project's
 * VM; split=true uses (0,n/2)(1,n/2+1) like many Intel hosts. @offline lists
 * CPUs to leave offline. Memory per node in MiB.
 */
struct layout {
	int ncpu, tpc, nodes;
	bool split;
	const char *offline;
	uint64_t mem_mib[4];
	bool module;
};

static int core_of(const struct layout *l, int cpu)
{
	int ncores = l->ncpu / l->tpc;

	return l->split ? cpu % ncores : cpu / l->tpc;
}

static void make_tree(const char *root, const struct layout *l)
{
	struct ne_cpuset off, sib, nodecpus;
	char list[1024], rel[256];
	int cpu, s, node, ncores = l->ncpu / l->tpc;

	ne_cpuset_parse(l->offline ? l->offline : "", &off);
	put(root, "/sys/devices/system/cpu/present", "0-%d\n", l->ncpu - 1);
	ne_cpuset_zero(&sib);
	for (cpu = 0; cpu < l->ncpu; cpu++)
		if (!ne_cpuset_has(&off, cpu))
			ne_cpuset_add(&sib, cpu);
	ne_cpuset_format(&sib, list, sizeof(list));
	put(root, "/sys/devices/system/cpu/online", "%s\n", list);
	for (node = 0; node < l->nodes; node++) {
		ne_cpuset_zero(&nodecpus);
		for (cpu = 0; cpu < l->ncpu; cpu++) {
			if (core_of(l, cpu) * l->nodes / ncores != node)
				continue;
			snprintf(rel, sizeof(rel), "/sys/devices/system/cpu/cpu%d/node%d/.keep", cpu, node);
			put(root, rel, "");
			if (ne_cpuset_has(&off, cpu))
				continue;
			ne_cpuset_add(&nodecpus, cpu);
			ne_cpuset_zero(&sib);
			for (s = 0; s < l->ncpu; s++)
				if (core_of(l, s) == core_of(l, cpu) && !ne_cpuset_has(&off, s))
					ne_cpuset_add(&sib, s);
			ne_cpuset_format(&sib, list, sizeof(list));
			snprintf(rel, sizeof(rel),
				 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
			put(root, rel, "%s\n", list);
		}
		ne_cpuset_format(&nodecpus, list, sizeof(list));
		snprintf(rel, sizeof(rel), "/sys/devices/system/node/node%d/cpulist", node);
		put(root, rel, "%s\n", list);
		snprintf(rel, sizeof(rel), "/sys/devices/system/node/node%d/meminfo", node);
		put(root, rel, "Node %d MemTotal:       %" PRIu64 " kB\nNode %d MemFree:        %"
		    PRIu64 " kB\n", node, l->mem_mib[node] * 1024, node, l->mem_mib[node] * 1024);
		snprintf(rel, sizeof(rel),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", node);
		put(root, rel, "0\n");
		snprintf(rel, sizeof(rel),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/free_hugepages", node);
		put(root, rel, "0\n");
		snprintf(rel, sizeof(rel),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-1048576kB/nr_hugepages", node);
		put(root, rel, "0\n");
		snprintf(rel, sizeof(rel),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-1048576kB/free_hugepages", node);
		put(root, rel, "0\n");
	}
	put(root, "/proc/meminfo", "MemTotal: %" PRIu64 " kB\n", l->mem_mib[0] * 1024);
	if (l->module) {
		put(root, "/sys/module/nitro_enclaves/initstate", "live\n");
		put(root, NE_CPUS_PARAM, "\n");
	}
}

static char *new_root(const struct layout *l)
{
	char *root = strdup("/tmp/nectl-test-XXXXXX");

	if (!root || !mkdtemp(root)) {
		perror("mkdtemp");
		exit(2);
	}
	make_tree(root, l);
	ne_root_set(root);
	return root;
}

static void drop_root(char *root)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", root);
	free(root);
	ne_root_set(NULL);
}

/* ---- kernel emulation for writes ---- */

static uint64_t cap_2m = UINT64_MAX, cap_1g = UINT64_MAX;
static int ne_cpus_errno;
static int writes;

static int fake_kernel(const char *path, const char *val)
{
	uint64_t want = strtoull(val, NULL, 10), cap;
	char other[4096];
	FILE *f;

	writes++;
	if (strstr(path, "ne_cpus"))
		return ne_cpus_errno ? -ne_cpus_errno : 0;
	if (!strstr(path, "/nr_hugepages"))
		return 0;
	cap = strstr(path, "hugepages-2048kB") ? cap_2m : cap_1g;
	if (want > cap)
		want = cap;
	/* The kernel gives what it can; free pages follow (none are in use). */
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%" PRIu64 "\n", want);
	fclose(f);
	snprintf(other, sizeof(other), "%s", path);
	strcpy(strrchr(other, '/') + 1, "free_hugepages");
	f = fopen(other, "w");
	if (!f)
		return -errno;
	fprintf(f, "%" PRIu64 "\n", want);
	fclose(f);
	return 1;
}


/* ---- cpu lists ---- */

TEST(cpulist, parses_ranges_and_singles)
{
	struct ne_cpuset s;

	ASSERT_EQ(0, ne_cpuset_parse("1-3,5", &s));
	EXPECT_EQ(4, ne_cpuset_count(&s));
}

TEST(cpulist, formats_back)
{
	struct ne_cpuset s;
	char buf[256];

	ASSERT_EQ(0, ne_cpuset_parse("1-3,5", &s));
	ne_cpuset_format(&s, buf, sizeof(buf));
	EXPECT_STREQ("1-3,5", buf);
}

TEST(cpulist, trailing_newline_accepted)
{
	struct ne_cpuset s;

	ASSERT_EQ(0, ne_cpuset_parse("7\n", &s));
	EXPECT_TRUE(ne_cpuset_has(&s, 7));
}

TEST(cpulist, empty_string_is_the_empty_set)
{
	struct ne_cpuset s;

	ASSERT_EQ(0, ne_cpuset_parse("", &s));
	EXPECT_EQ(0, ne_cpuset_count(&s));
}

TEST(cpulist, reversed_range_refused)
{
	struct ne_cpuset s;

	EXPECT_RC(-EINVAL, ne_cpuset_parse("3-1", &s));
}

TEST(cpulist, letters_refused)
{
	struct ne_cpuset s;

	EXPECT_NE(0, ne_cpuset_parse("a", &s));
}

TEST(cpulist, empty_group_refused)
{
	struct ne_cpuset s;

	EXPECT_NE(0, ne_cpuset_parse("1,,2", &s));
}

TEST(cpulist, cpu_beyond_the_limit_refused)
{
	struct ne_cpuset s;

	EXPECT_NE(0, ne_cpuset_parse("99999", &s));
}

/* ---- the pool chooser on fake machines ---- */

/* A fake machine's tree as the root, and what the pool chooser said last. */
struct machine {
	char *root;
	char out[256];
	char why[512];
	int node;
};

/* ne_pool_choose() of a list (or NULL) or a count, and the memory needed. */
static int choose(struct machine *m, const char *list, int count, uint64_t mem)
{
	struct ne_pool_req req = { .count = count, .mem_bytes = mem };
	struct ne_cpuset set, res;
	struct ne_topo *t = calloc(1, sizeof(*t));
	int rc;

	if (list) {
		ne_cpuset_parse(list, &set);
		req.list = &set;
	}
	m->node = -1;
	m->why[0] = '\0';
	rc = t ? ne_topo_read(t) : -ENOMEM;
	if (!rc)
		rc = ne_pool_choose(t, &req, &res, &m->node, m->why, sizeof(m->why));
	m->out[0] = '\0';
	if (!rc)
		ne_cpuset_format(&res, m->out, sizeof(m->out));
	free(t);
	return rc;
}

#define CHOOSE(list, count, mem) choose(&self->m, list, count, mem)

/*
 * MACHINE(name, hook, layout fields...): a fixture whose tests run on a
 * fresh tree of that layout, with hook (fake_kernel or NULL) taking writes.
 */
#define MACHINE(name, hook, ...)					\
	FIXTURE(name) {							\
		struct machine m;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		self->m.root = new_root(&(struct layout){ __VA_ARGS__ }); \
		ne_write_hook_set(hook);				\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		ne_write_hook_set(NULL);				\
		drop_root(self->m.root);				\
	}								\
	FIXTURE_REGISTER(name)

/* The machines. */
static const struct layout smt2 = {	/* siblings (0,1) (2,3)..., like the project's VM */
	.ncpu = 8, .tpc = 2, .nodes = 1, .mem_mib = { 4096 },
};
static const struct layout split = {	/* siblings (0,4) (1,5)..., like many Intel hosts */
	.ncpu = 8, .tpc = 2, .nodes = 1, .split = true, .mem_mib = { 4096 },
};
static const struct layout flat = {	/* no SMT */
	.ncpu = 4, .tpc = 1, .nodes = 1, .mem_mib = { 1024 },
};
static const struct layout numa = {	/* node 0: CPUs 0-3 and 4 GiB, node 1: CPUs 4-7 and 1 GiB */
	.ncpu = 8, .tpc = 2, .nodes = 2, .mem_mib = { 4096, 1024 },
};
static const struct layout numa_small0 = {	/* node 0 lacks memory */
	.ncpu = 8, .tpc = 2, .nodes = 2, .mem_mib = { 256, 4096 },
};
static const struct layout offline3 = {
	.ncpu = 8, .tpc = 2, .nodes = 1, .offline = "3", .mem_mib = { 4096 },
};

/* One request to the chooser on one machine, and what it must answer. */
FIXTURE(choice) {
	struct machine m;
};

FIXTURE_VARIANT(choice) {
	const struct layout *l;
	const char *list;	/* a CPU list, or */
	int count;		/* a number of CPUs */
	uint64_t mem;		/* memory the pool's node must have */
	int rc;
	const char *out;	/* the pool chosen (NULL: not checked) */
	bool node_checked;	/* NODE(n): its node */
	int node;
	const char *why;	/* words of the refusal (NULL: not checked) */
};

#define NODE(n) .node_checked = true, .node = (n)

FIXTURE_VARIANT_ADD(choice, smt2_count_2_picks_core_2_3) {
	.l = &smt2, .count = 2, .out = "2-3", NODE(0),
};
FIXTURE_VARIANT_ADD(choice, smt2_count_4_picks_2_5) {
	.l = &smt2, .count = 4, .out = "2-5",
};
FIXTURE_VARIANT_ADD(choice, smt2_count_3_refused_not_whole_cores) {
	.l = &smt2, .count = 3, .rc = -EINVAL, .why = "multiple of 2",
};
FIXTURE_VARIANT_ADD(choice, smt2_count_8_refused_cpu0_core_excluded) {
	.l = &smt2, .count = 8, .rc = -EINVAL, .why = "no NUMA node has 4 free full cores",
};
FIXTURE_VARIANT_ADD(choice, smt2_count_6_takes_all_but_cpu0_core) {
	.l = &smt2, .count = 6, .out = "2-7",
};
FIXTURE_VARIANT_ADD(choice, smt2_half_a_core_refused) {
	.l = &smt2, .list = "3", .rc = -EINVAL, .why = "only part of its core",
};
FIXTURE_VARIANT_ADD(choice, smt2_cpu0_sibling_refused) {
	.l = &smt2, .list = "1", .rc = -EINVAL, .why = "CPU 0's core",
};
FIXTURE_VARIANT_ADD(choice, smt2_list_with_cpu0_core_refused) {
	.l = &smt2, .list = "0-3", .rc = -EINVAL, .why = "CPU 0's core",
};
FIXTURE_VARIANT_ADD(choice, smt2_list_of_whole_cores_accepted) {
	.l = &smt2, .list = "2-3,6-7", .out = "2-3,6-7",
};
FIXTURE_VARIANT_ADD(choice, smt2_cpus_that_do_not_exist_refused) {
	.l = &smt2, .list = "8-9", .rc = -EINVAL, .why = "does not exist",
};
FIXTURE_VARIANT_ADD(choice, smt2_not_enough_memory_on_the_node_refused) {
	.l = &smt2, .count = 2, .mem = 8192 * MiB, .rc = -EINVAL, .why = "memory",
};
FIXTURE_VARIANT_ADD(choice, split_count_2_picks_1_5) {
	.l = &split, .count = 2, .out = "1,5",
};
FIXTURE_VARIANT_ADD(choice, split_cpu4_is_cpu0_sibling) {
	.l = &split, .list = "4", .rc = -EINVAL, .why = "CPU 0's core",
};
FIXTURE_VARIANT_ADD(choice, split_halves_of_two_cores_refused) {
	.l = &split, .list = "1-2", .rc = -EINVAL, .why = "part of its core",
};
FIXTURE_VARIANT_ADD(choice, split_whole_cores_accepted) {
	.l = &split, .list = "1-2,5-6",
};
FIXTURE_VARIANT_ADD(choice, no_smt_count_1_picks_cpu1) {
	.l = &flat, .count = 1, .out = "1",
};
FIXTURE_VARIANT_ADD(choice, no_smt_count_3_picks_1_3) {
	.l = &flat, .count = 3, .out = "1-3",
};
FIXTURE_VARIANT_ADD(choice, no_smt_count_4_would_need_cpu0) {
	.l = &flat, .count = 4, .rc = -EINVAL,
};
FIXTURE_VARIANT_ADD(choice, no_smt_cpu0_refused) {
	.l = &flat, .list = "0", .rc = -EINVAL, .why = "CPU 0",
};
FIXTURE_VARIANT_ADD(choice, no_smt_single_cpu_is_a_whole_core) {
	.l = &flat, .list = "3",
};
FIXTURE_VARIANT_ADD(choice, numa_count_2_on_node_0) {
	.l = &numa, .count = 2, .out = "2-3", NODE(0),
};
FIXTURE_VARIANT_ADD(choice, numa_count_4_moves_to_node_1_for_cores) {
	.l = &numa, .count = 4, .out = "4-7", NODE(1),
};
FIXTURE_VARIANT_ADD(choice, numa_node_with_cores_but_not_memory_refused) {
	.l = &numa, .count = 4, .mem = 2048 * MiB, .rc = -EINVAL, .why = "node 1 has only",
};
FIXTURE_VARIANT_ADD(choice, numa_list_across_nodes_refused) {
	.l = &numa, .list = "2-5", .rc = -EINVAL, .why = "different NUMA nodes",
};
FIXTURE_VARIANT_ADD(choice, numa_list_on_node_1) {
	.l = &numa, .list = "4-5", NODE(1),
};
FIXTURE_VARIANT_ADD(choice, numa_memory_need_moves_the_pool_to_node_1) {
	.l = &numa_small0, .count = 2, .mem = 1024 * MiB, .out = "4-5", NODE(1),
};
FIXTURE_VARIANT_ADD(choice, offline_core_with_offline_cpu_skipped) {
	.l = &offline3, .count = 2, .out = "4-5",
};
FIXTURE_VARIANT_ADD(choice, offline_core_with_an_offline_thread_refused) {
	.l = &offline3, .list = "2", .rc = -EINVAL, .why = "offline thread",
};
FIXTURE_VARIANT_ADD(choice, offline_offline_cpu_refused) {
	.l = &offline3, .list = "2-3", .rc = -EINVAL, .why = "offline",
};
FIXTURE_VARIANT_ADD(choice, offline_only_two_usable_cores_remain) {
	.l = &offline3, .count = 6, .rc = -EINVAL,
};

FIXTURE_SETUP(choice)
{
	self->m.root = new_root(variant->l);
}

FIXTURE_TEARDOWN(choice)
{
	drop_root(self->m.root);
}

FIXTURE_REGISTER(choice);

TEST_F(choice, pool, choose)
{
	EXPECT_RC(variant->rc, CHOOSE(variant->list, variant->count, variant->mem));
	if (variant->out)
		EXPECT_STREQ(variant->out, self->m.out);
	if (variant->node_checked)
		EXPECT_EQ(variant->node, self->m.node);
	if (variant->why)
		EXPECT_SUBSTR(self->m.why, variant->why);
}

/* ---- hugepages ---- */

static uint64_t hp(const char *root, int node, const char *size, const char *file)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "/sys/devices/system/node/node%d/hugepages/hugepages-%s/%s",
		 node, size, file);
	return strtoull(get(root, rel), NULL, 10);
}

#define NR_2M(node) hp(self->m.root, node, "2048kB", "nr_hugepages")
#define NR_1G(node) hp(self->m.root, node, "1048576kB", "nr_hugepages")

/* Two nodes of 8 GiB; the fake kernel gives hugepages up to cap_2m/cap_1g. */
MACHINE(hp_2nodes, fake_kernel, .ncpu = 4, .tpc = 2, .nodes = 2, .mem_mib = { 8192, 8192 });

TEST_F(hp_2nodes, hugepages, 128m_is_64_small_pages)
{
	EXPECT_EQ(0, ne_hp_reserve(0, true, 128 * MiB, NULL));
	EXPECT_EQ(64, NR_2M(0));
	EXPECT_EQ(0, NR_1G(0));
}

TEST_F(hp_2nodes, hugepages, sizes_listed_largest_first)
{
	struct ne_hp_node res;

	ASSERT_EQ(0, ne_hp_reserve(0, true, 128 * MiB, &res));
	EXPECT_EQ(2, res.nr_sizes);
	EXPECT_EQ(GiB, res.sz[0].size);
}

TEST_F(hp_2nodes, hugepages, large_pages_first_then_small)
{
	EXPECT_EQ(0, ne_hp_reserve(1, true, 2 * GiB + 4 * MiB, NULL));
	EXPECT_EQ(2, NR_1G(1), "2 x 1 GiB");
	EXPECT_EQ(2, NR_2M(1), "2 x 2 MiB");
}

TEST_F(hp_2nodes, hugepages, other_node_untouched)
{
	ASSERT_EQ(0, ne_hp_reserve(0, true, 128 * MiB, NULL));
	ASSERT_EQ(0, ne_hp_reserve(1, true, 2 * GiB + 4 * MiB, NULL));
	EXPECT_EQ(64, NR_2M(0));
}

TEST_F(hp_2nodes, hugepages, shrinking_frees_the_1g_pages)
{
	ASSERT_EQ(0, ne_hp_reserve(1, true, 2 * GiB + 4 * MiB, NULL));
	EXPECT_EQ(0, ne_hp_reserve(1, true, 4 * MiB, NULL));
	EXPECT_EQ(0, NR_1G(1));
	EXPECT_EQ(2, NR_2M(1));
}

/* Fragmented memory: one 1 GiB page only; the rest spills to 2 MiB. */
TEST_F(hp_2nodes, hugepages, fragmented_1g_pool_spills_to_2m_pages)
{
	cap_1g = 1;
	EXPECT_EQ(0, ne_hp_reserve(0, true, 3 * GiB, NULL));
	EXPECT_EQ(1, NR_1G(0));
	EXPECT_EQ(1024, NR_2M(0));
}

/* The kernel gives 10 of 32 small pages: ENOMEM, and back to what was there. */
TEST_F(hp_2nodes, hugepages, shortfall_is_enomem_and_rolls_back)
{
	ASSERT_EQ(0, ne_hp_reserve(0, true, 10 * MiB, NULL));
	cap_1g = 0;
	cap_2m = 10;
	EXPECT_RC(-ENOMEM, ne_hp_reserve(0, true, 1 * GiB + 64 * MiB, NULL));
	EXPECT_EQ(5, NR_2M(0), "rolled back to 5 x 2 MiB");
	EXPECT_EQ(0, NR_1G(0));
}

TEST_F(hp_2nodes, hugepages, unaligned_size_refused_before_any_write)
{
	writes = 0;
	EXPECT_RC(-EINVAL, ne_hp_reserve(0, true, 3 * MiB, NULL));
	EXPECT_EQ(0, writes);
}

TEST(size, suffixes)
{
	uint64_t v;

	EXPECT_EQ(0, ne_parse_size("128M", 0, &v));
	EXPECT_EQ(128 * MiB, v);
	EXPECT_EQ(0, ne_parse_size("2G", 0, &v));
	EXPECT_EQ(2 * GiB, v);
	EXPECT_EQ(0, ne_parse_size("512MiB", 0, &v));
	EXPECT_EQ(512 * MiB, v);
	EXPECT_EQ(0, ne_parse_size("2048k", 0, &v));
	EXPECT_EQ(2 * MiB, v);
}

TEST(size, plain_number_needs_a_unit)
{
	uint64_t v;

	EXPECT_NE(0, ne_parse_size("12", 0, &v));
}

TEST(size, plain_number_in_the_default_unit)
{
	uint64_t v;

	EXPECT_EQ(0, ne_parse_size("12", MiB, &v), "--memory's MiB");
	EXPECT_EQ(12 * MiB, v);
}

TEST(size, malformed_refused)
{
	uint64_t v;

	EXPECT_NE(0, ne_parse_size("1.5G", 0, &v));
	EXPECT_NE(0, ne_parse_size("G", 0, &v));
	EXPECT_NE(0, ne_parse_size("-1M", 0, &v));
	EXPECT_NE(0, ne_parse_size("5Q", 0, &v));
	EXPECT_NE(0, ne_parse_size("99999999999T", 0, &v));
}

/* run's region plan: largest free page sizes first, one region per size. */
FIXTURE(plan) {
	struct machine m;
	struct ne_region reg[NE_MAX_HP_SIZES];
	int nr;
};

FIXTURE_SETUP(plan)
{
	self->m.root = new_root(&(struct layout){ .ncpu = 4, .tpc = 2, .nodes = 2,
						  .mem_mib = { 8192, 8192 } });
	put(self->m.root, "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/free_hugepages",
	    "1\n");
	put(self->m.root, "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages",
	    "600\n");
}

FIXTURE_TEARDOWN(plan)
{
	drop_root(self->m.root);
}

FIXTURE_REGISTER(plan);

#define PLAN(node, bytes) ne_plan_regions(node, true, bytes, self->reg, NE_MAX_HP_SIZES, &self->nr)

TEST_F(plan, plan, 1g_page_then_2m_pages)
{
	ASSERT_EQ(0, PLAN(1, GiB + 512 * MiB));
	ASSERT_EQ(2, self->nr);
	EXPECT_EQ(GiB, self->reg[0].page);
	EXPECT_EQ(GiB, self->reg[0].len);
	EXPECT_EQ(2 * MiB, self->reg[1].page);
	EXPECT_EQ(512 * MiB, self->reg[1].len, "256 x 2 MiB");
}

TEST_F(plan, plan, small_need_leaves_the_1g_page)
{
	ASSERT_EQ(0, PLAN(1, 512 * MiB));
	ASSERT_EQ(1, self->nr);
	EXPECT_EQ(2 * MiB, self->reg[0].page);
}

TEST_F(plan, plan, second_gib_spills_to_2m_pages)
{
	ASSERT_EQ(0, PLAN(1, 2 * GiB));
	ASSERT_EQ(2, self->nr);
	EXPECT_EQ(GiB, self->reg[1].len);
}

TEST_F(plan, plan, more_than_the_free_hugepages_refused)
{
	EXPECT_RC(-ENOMEM, PLAN(1, 3 * GiB));
	EXPECT_EQ(0, self->nr);
}

TEST_F(plan, plan, node_without_free_hugepages_refused)
{
	EXPECT_RC(-ENOMEM, PLAN(0, 64 * MiB));
}

/* A kernel without NUMA sysfs: one node, global hugepage pools, /proc/meminfo. */
FIXTURE(no_numa) {
	struct machine m;
};

FIXTURE_SETUP(no_numa)
{
	char root[] = "/tmp/nectl-test-XXXXXX";

	ASSERT_TRUE(mkdtemp(root));
	self->m.root = strdup(root);
	put(root, "/sys/devices/system/cpu/present", "0-3\n");
	put(root, "/sys/devices/system/cpu/online", "0-3\n");
	put(root, "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "0-1\n");
	put(root, "/sys/devices/system/cpu/cpu1/topology/thread_siblings_list", "0-1\n");
	put(root, "/sys/devices/system/cpu/cpu2/topology/thread_siblings_list", "2-3\n");
	put(root, "/sys/devices/system/cpu/cpu3/topology/thread_siblings_list", "2-3\n");
	put(root, "/proc/meminfo", "MemTotal: 2097152 kB\nMemFree:  1048576 kB\n");
	put(root, "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
	put(root, "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0\n");
	ne_root_set(root);
}

FIXTURE_TEARDOWN(no_numa)
{
	if (self->m.root)
		drop_root(self->m.root);
}

FIXTURE_REGISTER(no_numa);

TEST_F(no_numa, no_numa_sysfs, one_node_memory_from_proc_meminfo)
{
	struct ne_topo *t = calloc(1, sizeof(*t));

	ASSERT_TRUE(t);
	EXPECT_EQ(0, ne_topo_read(t));
	EXPECT_FALSE(t->numa_sysfs);
	EXPECT_EQ(1, t->nr_nodes);
	EXPECT_EQ(2, t->threads_per_core);
	EXPECT_EQ(GiB, t->node_mem_free[0]);
	free(t);
}

TEST_F(no_numa, no_numa_sysfs, count_2_is_2_3)
{
	EXPECT_EQ(0, CHOOSE(NULL, 2, 0));
	EXPECT_STREQ("2-3", self->m.out);
	EXPECT_EQ(0, self->m.node);
}

TEST_F(no_numa, no_numa_sysfs, hugepages_go_to_the_global_pool)
{
	EXPECT_EQ(0, ne_hp_reserve(0, false, 64 * MiB, NULL));
	EXPECT_STREQ("32", get(self->m.root, "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"));
}

/* ---- pool set: the module's parameter, through the fake kernel ---- */

MACHINE(module, fake_kernel, .ncpu = 8, .tpc = 2, .nodes = 1, .mem_mib = { 4096 }, .module = true);

static int pool_set_count(int count)
{
	struct ne_pool_req req = { .count = count };
	struct ne_cpuset chosen;
	int node;

	return ne_pool_set(&req, &chosen, &node);
}

#define POOL(m) get((m).root, NE_CPUS_PARAM)

TEST_F(module, pool_set, count_2_writes_2_3)
{
	EXPECT_EQ(0, pool_set_count(2));
	EXPECT_STREQ("2-3", POOL(self->m));
}

TEST_F(module, pool_set, eperm_leaves_the_pool_as_it_was)
{
	ASSERT_EQ(0, pool_set_count(2));
	ne_cpus_errno = EPERM;		/* enclaves running */
	EXPECT_RC(-EPERM, pool_set_count(4));
	EXPECT_STREQ("2-3", POOL(self->m));
}

TEST_F(module, pool_set, impossible_request_restores_the_old_pool)
{
	ASSERT_EQ(0, pool_set_count(2));
	EXPECT_RC(-EINVAL, pool_set_count(100));
	EXPECT_STREQ("2-3", POOL(self->m));
}

MACHINE(no_module, NULL, .ncpu = 4, .tpc = 2, .nodes = 1, .mem_mib = { 64 });

TEST_F(no_module, pool_set, module_not_loaded_is_enoent)
{
	EXPECT_RC(-ENOENT, pool_set_count(2));
}

/* ---- allocator.yaml ---- */

static int config_from(const char *text, struct ne_config *cfg, char *err, size_t len)
{
	char path[] = "/tmp/nectl-yaml-XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(2);
	close(fd);
	rc = ne_config_load(path, cfg, err, len);
	unlink(path);
	return rc;
}

TEST(yaml, memory_and_cpu_count)
{
	struct ne_config c;
	char err[512];

	ASSERT_EQ(0, config_from("# comment\n---\nmemory_mib: 512\ncpu_count: 2\n", &c, err, sizeof(err)),
		  "%s", err);
	EXPECT_EQ(512, c.memory_mib);
	EXPECT_EQ(2, c.cpu_count);
	EXPECT_FALSE(c.has_pool);
}

TEST(yaml, memory_and_cpu_pool)
{
	struct ne_config c;
	char err[512];

	ASSERT_EQ(0, config_from("memory_mib: 1024\ncpu_pool: 2-3,6-7\n", &c, err, sizeof(err)), "%s", err);
	EXPECT_STREQ("2-3,6-7", c.cpu_pool);
}

TEST(yaml, quoted_scalars_accepted)
{
	struct ne_config c;
	char err[512];

	EXPECT_EQ(0, config_from("memory_mib: \"512\"\ncpu_pool: '2'\n", &c, err, sizeof(err)), "%s", err);
}

TEST(yaml, missing_file_reported)
{
	struct ne_config c;
	char err[512];

	EXPECT_RC(-ENOENT, ne_config_load("/nonexistent/allocator.yaml", &c, err, sizeof(err)));
	EXPECT_SUBSTR(err, "cannot open");
}

/* Files nectl refuses, each with the words its message must have. */
FIXTURE(bad_yaml) {
	struct ne_config c;
	char err[512];
};

FIXTURE_VARIANT(bad_yaml) {
	const char *text;
	const char *why;
};

FIXTURE_VARIANT_ADD(bad_yaml, unterminated_quote) {
	.text = "memory_mib: 512\ncpu_count: \"2\n", .why = "not valid YAML",
};
FIXTURE_VARIANT_ADD(bad_yaml, tab_indentation) {
	.text = "memory_mib: 512\n\tcpu_count: 2\n", .why = ":2: not valid YAML",
};
FIXTURE_VARIANT_ADD(bad_yaml, unclosed_list) {
	.text = "memory_mib: [512\n", .why = "",
};
FIXTURE_VARIANT_ADD(bad_yaml, unknown_key) {
	.text = "memory_mib: 512\ncpu_cont: 2\n", .why = "unknown key 'cpu_cont'",
};
FIXTURE_VARIANT_ADD(bad_yaml, cpu_count_and_cpu_pool) {
	.text = "memory_mib: 512\ncpu_count: 2\ncpu_pool: 2-3\n", .why = "not both",
};
FIXTURE_VARIANT_ADD(bad_yaml, no_memory_mib) {
	.text = "cpu_count: 2\n", .why = "memory_mib is missing",
};
FIXTURE_VARIANT_ADD(bad_yaml, no_cpu_count_or_pool) {
	.text = "memory_mib: 512\n", .why = "missing",
};
FIXTURE_VARIANT_ADD(bad_yaml, odd_memory_mib) {
	.text = "memory_mib: 511\ncpu_count: 2\n", .why = "multiple of 2",
};
FIXTURE_VARIANT_ADD(bad_yaml, non_numeric_memory_mib) {
	.text = "memory_mib: lots\ncpu_count: 2\n", .why = "whole number",
};
FIXTURE_VARIANT_ADD(bad_yaml, negative_memory_mib) {
	.text = "memory_mib: -2\ncpu_count: 2\n", .why = "",
};
FIXTURE_VARIANT_ADD(bad_yaml, repeated_key) {
	.text = "memory_mib: 512\nmemory_mib: 512\ncpu_count: 2\n", .why = "twice",
};
FIXTURE_VARIANT_ADD(bad_yaml, list_value) {
	.text = "memory_mib: 512\ncpu_count: [1, 2]\n", .why = "not a list",
};
FIXTURE_VARIANT_ADD(bad_yaml, nested_mapping) {
	.text = "memory_mib: {a: 1}\ncpu_count: 2\n", .why = "nested",
};
FIXTURE_VARIANT_ADD(bad_yaml, empty_file) {
	.text = "", .why = "missing",
};
FIXTURE_VARIANT_ADD(bad_yaml, bad_cpu_pool) {
	.text = "memory_mib: 512\ncpu_pool: 2-x\n", .why = "CPU list",
};

FIXTURE_SETUP(bad_yaml)
{
}

FIXTURE_TEARDOWN(bad_yaml)
{
}

FIXTURE_REGISTER(bad_yaml);

TEST_F(bad_yaml, yaml, refused)
{
	EXPECT_NE(0, config_from(variant->text, &self->c, self->err, sizeof(self->err)));
	EXPECT_SUBSTR(self->err, variant->why);
}

/* ---- error text ---- */

TEST(errors, every_ne_err_has_a_sentence_with_a_fix)
{
	for (int e = NE_ERR_VCPU_ALREADY_USED; e <= NE_ERR_INVALID_ENCLAVE_CID; e++) {
		const char *s = ne_err_sentence(e);

		EXPECT_TRUE(s && !strstr(s, "Unknown error") && strchr(s, ';'),
			    "NE error %d: %s", e, s ? s : "(none)");
	}
}

TEST(errors, empty_pool_names_pool_set)
{
	EXPECT_SUBSTR(ne_err_sentence(NE_ERR_NO_CPUS_AVAIL_IN_POOL), "nectl pool set");
}

TEST(errors, non_hugepage_memory_names_hugepages_reserve)
{
	EXPECT_SUBSTR(ne_err_sentence(NE_ERR_MEM_NOT_HUGE_PAGE), "hugepages reserve");
}

TEST(errors, negated_values_work_too)
{
	EXPECT_SUBSTR(ne_err_sentence(-NE_ERR_FULL_CORES_NOT_USED), "whole cores");
}

TEST(errors, enoent_explains_the_missing_device)
{
	EXPECT_SUBSTR(ne_err_sentence(ENOENT), "not an enclave-enabled instance");
}

TEST(heartbeat, one_minute_per_started_6_gib_of_image)
{
	EXPECT_EQ(60000, ne_heartbeat_timeout_ms(2 * GiB));
	EXPECT_EQ(60000, ne_heartbeat_timeout_ms(6 * GiB));
	EXPECT_EQ(120000, ne_heartbeat_timeout_ms(6 * GiB + 1));
	EXPECT_EQ(120000, ne_heartbeat_timeout_ms(10 * GiB));
	EXPECT_EQ(60000, ne_heartbeat_timeout_ms(0));
}

/* ---- EIF ---- */

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static uint8_t *gen(size_t n, unsigned int a, unsigned int b)
{
	uint8_t *d = malloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = (uint8_t)(i * a + b);
	return d;
}

static void put_bytes(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(d, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(2);
	}
}

static uint8_t *slurp(const char *path, size_t *n)
{
	uint8_t *d = NULL;
	FILE *f = fopen(path, "r");
	long len;

	*n = 0;
	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		d = malloc(len ? len : 1);
		if (d && fread(d, 1, len, f) == (size_t)len)
			*n = len;
	}
	fclose(f);
	return d;
}

/* Builds a corrupt copy of img: patch(buf, len) edits it; then reads it back. */
static int read_variant(const char *dir, const uint8_t *img, size_t len, size_t newlen,
			void (*patch)(uint8_t *buf, size_t len), char *err, size_t errlen)
{
	struct ne_eif_info *info = malloc(sizeof(*info));
	uint8_t *buf = calloc(1, newlen ? newlen : 1);
	char path[4096];
	int rc;

	memcpy(buf, img, len < newlen ? len : newlen);
	if (patch)
		patch(buf, newlen);
	snprintf(path, sizeof(path), "%s/variant.eif", dir);
	put_bytes(path, buf, newlen);
	rc = ne_eif_read(path, info, err, errlen);
	free(info);
	free(buf);
	return rc;
}

static void flip_kernel(uint8_t *b, size_t n) { (void)n; b[NE_EIF_HDR_SIZE + 12 + 1000] ^= 0x40; }
static void flip_cpus(uint8_t *b, size_t n) { (void)n; b[23] ^= 1; }
static void bad_magic(uint8_t *b, size_t n) { (void)n; b[1] = 'E'; }
static void count_33(uint8_t *b, size_t n) { (void)n; b[26] = 0; b[27] = 33; }
static void count_0(uint8_t *b, size_t n) { (void)n; b[26] = 0; b[27] = 0; }
static void huge_offset(uint8_t *b, size_t n) { (void)n; memset(b + 28 + 8, 0xff, 7); }
static void huge_size(uint8_t *b, size_t n) { (void)n; memset(b + 284, 0xff, 8); }
static void gap(uint8_t *b, size_t n) { (void)n; b[28 + 8 * 2 + 7] += 1; }
static void in_header(uint8_t *b, size_t n) { (void)n; memset(b + 28, 0, 8); b[28 + 7] = 100; }
static void sec_size(uint8_t *b, size_t n) { (void)n; b[NE_EIF_HDR_SIZE + 11] ^= 1; }
static void sec_type(uint8_t *b, size_t n) { (void)n; b[NE_EIF_HDR_SIZE + 1] = 9; }
static void two_kernels(uint8_t *b, size_t n)
{
	(void)n;
	b[NE_EIF_HDR_SIZE + 12 + 300000 + 1] = NE_EIF_KERNEL;	/* the cmdline */
}


static const char *const pcr_want[3] = {
	"c82734608dcc834b5fdcf22348dd76e327b22cd56f14a8a6d9af8151fd4dce6fcc7986b2828fdc45f6dfc1c9ed2969f9",
	"8c0155ba4d103db831930d5a3ccc90cce3417ce632380f766b4cc9b1af64284e78ccf0d892885ee24fc277adeff37b81",
	"c313b7d46fff8dc19d6e60dbd817f577b8ff01dc3f932f241674d683261a4ce146a077277a9a21d61533c69cce8f1901",
};
static const char empty_pcr2[] =
	"21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a";
static const char cmdline[] = "console=ttyS0 init=/init";
#define KSZ	((size_t)300000)
#define R1SZ	((size_t)1000)
#define R2SZ	((size_t)777)

/* A kernel and two ramdisks in a fresh directory, built into test.eif. */
struct eif {
	char dir[32];
	char kpath[4096], r1path[4096], r2path[4096], out[4096];
	uint8_t *k, *r1, *r2;
	struct ne_eif_build_opts o;
	struct ne_eif_result res;
	struct ne_eif_info *info;
	uint8_t *img;		/* the built file */
	size_t len;
	char err[1024];
};

static void eif_up(struct th_ctx *_th, struct eif *e)
{
	int rc;

	snprintf(e->dir, sizeof(e->dir), "/tmp/nectl-eif-XXXXXX");
	ASSERT_TRUE(mkdtemp(e->dir));
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	snprintf(e->kpath, sizeof(e->kpath), "%s/vmlinuz", e->dir);
	snprintf(e->r1path, sizeof(e->r1path), "%s/boot.cpio", e->dir);
	snprintf(e->r2path, sizeof(e->r2path), "%s/app.cpio", e->dir);
	snprintf(e->out, sizeof(e->out), "%s/test.eif", e->dir);
	e->k = gen(KSZ, 31, 7);
	e->r1 = gen(R1SZ, 13, 1);
	e->r2 = gen(R2SZ, 5, 3);
	e->info = calloc(1, sizeof(*e->info));
	ASSERT_TRUE(e->k && e->r1 && e->r2 && e->info);
	put_bytes(e->kpath, e->k, KSZ);
	put_bytes(e->r1path, e->r1, R1SZ);
	put_bytes(e->r2path, e->r2, R2SZ);

	e->o.kernel = e->kpath;
	e->o.ramdisks[0] = e->r1path;
	e->o.ramdisks[1] = e->r2path;
	e->o.nr_ramdisks = 2;
	e->o.cmdline = cmdline;
	e->o.output = e->out;
	e->o.mem_mib = 512;
	e->o.cpus = 4;
	rc = ne_eif_build(&e->o, &e->res, e->err, sizeof(e->err));
	ASSERT_EQ(0, rc, "build from a kernel and two ramdisks: %s", e->err);
	e->img = slurp(e->out, &e->len);
	ASSERT_TRUE(e->img && e->len >= NE_EIF_HDR_SIZE);
}

/* Every build, good or refused, leaves no temporary file behind. */
static void eif_down(struct th_ctx *_th, struct eif *e)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "ls -A %s | grep -q tmp-", e->dir);
	EXPECT_NE(0, system(cmd), "a temporary file was left in %s", e->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", e->dir);
	unsetenv("SOURCE_DATE_EPOCH");
	free(e->img);
	free(e->info);
	free(e->k);
	free(e->r1);
	free(e->r2);
}

FIXTURE(eif) {
	struct eif e;
};

FIXTURE_SETUP(eif)
{
	eif_up(_th, &self->e);
}

FIXTURE_TEARDOWN(eif)
{
	eif_down(_th, &self->e);
}

FIXTURE_REGISTER(eif);

/* The section sizes: kernel, cmdline, metadata (from the header), ramdisks. */
static void section_sizes(const struct eif *e, uint64_t sizes[5])
{
	sizes[0] = KSZ;
	sizes[1] = strlen(cmdline);
	sizes[2] = be(e->img + 284 + 8 * 2, 8);
	sizes[3] = R1SZ;
	sizes[4] = R2SZ;
}

TEST_F(eif, eif, file_is_the_size_reported)
{
	EXPECT_EQ(self->e.res.size, self->e.len);
}

/* Every header field at its documented offset, read independently. */
TEST_F(eif, eif, header_fields)
{
	const uint8_t *img = self->e.img;

	EXPECT_EQ(0, memcmp(img, ".eif", 4), "magic .eif");
	EXPECT_EQ(4, be(img + 4, 2), "version");
	EXPECT_EQ(0, be(img + 6, 2), "flags (x86_64)");
	EXPECT_EQ(512ull << 20, be(img + 8, 8), "default_mem: 512 MiB in bytes");
	EXPECT_EQ(4, be(img + 16, 8), "default_cpus");
	EXPECT_EQ(0, be(img + 24, 2), "reserved");
	EXPECT_EQ(5, be(img + 26, 2), "sections");
	EXPECT_EQ(0, be(img + 540, 4), "unused");
}

TEST_F(eif, eif, sections_contiguous_from_548_with_exact_sizes)
{
	uint64_t sizes[5], want_off = NE_EIF_HDR_SIZE;

	section_sizes(&self->e, sizes);
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(want_off, be(self->e.img + 28 + 8 * i, 8), "offset of section %d", i);
		EXPECT_EQ(sizes[i], be(self->e.img + 284 + 8 * i, 8), "size of section %d", i);
		want_off += 12 + sizes[i];
	}
	EXPECT_EQ(want_off, self->e.len, "the length is the last section's end");
}

TEST_F(eif, eif, unused_section_slots_are_zero)
{
	for (int i = 5; i < NE_EIF_MAX_SECTIONS; i++) {
		EXPECT_EQ(0, be(self->e.img + 28 + 8 * i, 8), "offset %d", i);
		EXPECT_EQ(0, be(self->e.img + 284 + 8 * i, 8), "size %d", i);
	}
}

/* Section headers (kernel, cmdline, metadata, ramdisk, ramdisk) and data, byte for byte. */
TEST_F(eif, eif, section_headers_and_data)
{
	static const unsigned int types[5] = { 1, 2, 5, 3, 3 };
	const void *data[5] = { self->e.k, cmdline, NULL, self->e.r1, self->e.r2 };
	uint64_t sizes[5], off = NE_EIF_HDR_SIZE;
	const uint8_t *p;

	section_sizes(&self->e, sizes);
	for (int i = 0; i < 5; i++) {
		p = self->e.img + off;
		EXPECT_EQ(types[i], be(p, 2), "type of section %d", i);
		EXPECT_EQ(0, be(p + 2, 2), "flags of section %d", i);
		EXPECT_EQ(sizes[i], be(p + 4, 8), "size of section %d", i);
		if (data[i])
			EXPECT_EQ(0, memcmp(p + 12, data[i], sizes[i]), "data of section %d", i);
		off += 12 + sizes[i];
	}
}

TEST_F(eif, eif, metadata_json_has_nitro_cli_keys_and_build_time)
{
	uint64_t sizes[5];
	const uint8_t *p = self->e.img + NE_EIF_HDR_SIZE + 12 + KSZ + 12 + strlen(cmdline) + 12;

	section_sizes(&self->e, sizes);
	ASSERT_GT(sizes[2], 2);
	EXPECT_EQ('{', p[0]);
	EXPECT_EQ('}', p[sizes[2] - 1]);
	EXPECT_EQ(0, memcmp(p, "{\"ImageName\":\"test\"", 19));
	EXPECT_TRUE(memmem(p, sizes[2], "\"BuildTime\":\"2023-11-14T22:13:20+00:00\"", 39),
		    "SOURCE_DATE_EPOCH's time");
	EXPECT_TRUE(memmem(p, sizes[2], "\"BuildMetadata\":{", 17));
	EXPECT_TRUE(memmem(p, sizes[2], "\"DockerInfo\":{}", 15));
	EXPECT_TRUE(memmem(p, sizes[2], "\"CustomMetadata\":{}", 19));
}

TEST_F(eif, eif, cmdline_has_no_nul)
{
	EXPECT_FALSE(memchr(self->e.img + NE_EIF_HDR_SIZE + 12 + KSZ + 12, 0, strlen(cmdline)));
}

/* CRC computed in one go over the contiguous file, crc field skipped. */
TEST_F(eif, eif, crc_field_is_zlib_crc32)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, self->e.img, 544);
	crc = crc32(crc, self->e.img + NE_EIF_HDR_SIZE, self->e.len - NE_EIF_HDR_SIZE);
	EXPECT_EQ(crc, be(self->e.img + 544, 4));
	EXPECT_EQ(crc, self->e.res.crc);
}

/* Known answers computed with python hashlib. */
static void expect_pcrs(struct th_ctx *_th, uint8_t (*pcr)[NE_SHA384_LEN])
{
	char hex[2 * NE_SHA384_LEN + 1];

	for (int i = 0; i < 3; i++) {
		ne_eif_hex(pcr[i], NE_SHA384_LEN, hex);
		EXPECT_STREQ(pcr_want[i], hex, "PCR%d", i);
	}
}

TEST_F(eif, eif, build_pcrs_match_known_answers)
{
	expect_pcrs(_th, self->e.res.pcr);
}

TEST_F(eif, eif, reads_back_and_crc_verifies)
{
	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)),
		  "%s", self->e.err);
	EXPECT_TRUE(self->e.info->crc_ok);
}

TEST_F(eif, eif, parsed_header_fields)
{
	const struct ne_eif_info *info = self->e.info;

	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)));
	EXPECT_EQ(4, info->hdr.version);
	EXPECT_EQ(0, info->hdr.flags);
	EXPECT_EQ(512 * MiB, info->hdr.default_mem);
	EXPECT_EQ(4, info->hdr.default_cpus);
	EXPECT_EQ(5, info->hdr.nr_sections);
	EXPECT_EQ(2, info->nr_ramdisks);
	EXPECT_FALSE(info->has_signature);
}

TEST_F(eif, eif, parsed_sections)
{
	const struct ne_eif_info *info = self->e.info;

	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)));
	EXPECT_EQ(NE_EIF_KERNEL, info->sec[0].type);
	EXPECT_EQ(548, info->sec[0].offset);
	EXPECT_EQ(KSZ, info->sec[0].size);
	EXPECT_EQ(NE_EIF_RAMDISK, info->sec[4].type);
	EXPECT_EQ(R2SZ, info->sec[4].size);
	EXPECT_EQ(self->e.len, info->sec[4].offset + 12 + R2SZ, "the last section ends the file");
}

TEST_F(eif, eif, parsed_cmdline)
{
	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)));
	EXPECT_EQ(strlen(cmdline), self->e.info->cmdline.len);
	EXPECT_STREQ(cmdline, self->e.info->cmdline.s);
}

TEST_F(eif, eif, describe_pcrs_match_known_answers)
{
	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)));
	expect_pcrs(_th, self->e.info->pcr);
}

/*
 * Metadata changed and a signature section appended, CRC fixed: a valid
 * image whose PCR0-2 must not move (neither is measured).
 */
TEST_F(eif, eif, metadata_and_signature_are_not_measured)
{
	static const uint8_t sig[] = "\x81\xa2not-a-real-cose-signature";
	size_t len = self->e.len, meta = NE_EIF_HDR_SIZE + 12 + KSZ + 12 + strlen(cmdline) + 12;
	uint8_t *b = malloc(len + 12 + sizeof(sig));
	char path[4096];
	uLong c;
	int rc;

	ASSERT_TRUE(b);
	memcpy(b, self->e.img, len);
	b[meta + 2] = 'X';		/* "{\"XmageName..." */
	b[27] = 6;
	for (int i = 0; i < 8; i++) {
		b[28 + 8 * 5 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		b[284 + 8 * 5 + i] = (uint8_t)((uint64_t)sizeof(sig) >> (56 - 8 * i));
	}
	memset(b + len, 0, 12);
	b[len + 1] = NE_EIF_SIGNATURE;
	b[len + 11] = sizeof(sig);
	memcpy(b + len + 12, sig, sizeof(sig));
	c = crc32(crc32(0L, Z_NULL, 0), b, 544);
	c = crc32(c, b + NE_EIF_HDR_SIZE, len + 12 + sizeof(sig) - NE_EIF_HDR_SIZE);
	for (int i = 0; i < 4; i++)
		b[544 + i] = (uint8_t)(c >> (24 - 8 * i));
	snprintf(path, sizeof(path), "%s/signed.eif", self->e.dir);
	put_bytes(path, b, len + 12 + sizeof(sig));
	free(b);
	rc = ne_eif_read(path, self->e.info, self->e.err, sizeof(self->e.err));
	ASSERT_EQ(0, rc, "%s", self->e.err);
	EXPECT_TRUE(self->e.info->has_signature);
	EXPECT_EQ(6, self->e.info->hdr.nr_sections);
	expect_pcrs(_th, self->e.info->pcr);
}

/* One ramdisk, built for aarch64. */
static int build_one_ramdisk_aarch64(struct eif *e)
{
	e->o.nr_ramdisks = 1;
	e->o.aarch64 = true;
	return ne_eif_build(&e->o, &e->res, e->err, sizeof(e->err));
}

TEST_F(eif, eif, one_ramdisk_gives_pcr2_of_nothing)
{
	char hex[2 * NE_SHA384_LEN + 1];

	ASSERT_EQ(0, build_one_ramdisk_aarch64(&self->e), "%s", self->e.err);
	ne_eif_hex(self->e.res.pcr[2], NE_SHA384_LEN, hex);
	EXPECT_STREQ(empty_pcr2, hex, "extend(SHA-384 of nothing)");
}

TEST_F(eif, eif, arch_aarch64_sets_flag_bit_0)
{
	ASSERT_EQ(0, build_one_ramdisk_aarch64(&self->e), "%s", self->e.err);
	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)));
	EXPECT_EQ(NE_EIF_FLAG_AARCH64, self->e.info->hdr.flags);
	EXPECT_EQ(4, self->e.info->hdr.nr_sections);
}

TEST_F(eif, eif, cmdline_of_2047_bytes_accepted)
{
	char longcmd[NE_EIF_CMDLINE_MAX + 1];

	memset(longcmd, 'a', NE_EIF_CMDLINE_MAX);
	longcmd[NE_EIF_CMDLINE_MAX] = '\0';
	self->e.o.cmdline = longcmd;
	ASSERT_EQ(0, ne_eif_build(&self->e.o, &self->e.res, self->e.err, sizeof(self->e.err)),
		  "%s", self->e.err);
	ASSERT_EQ(0, ne_eif_read(self->e.out, self->e.info, self->e.err, sizeof(self->e.err)));
	EXPECT_EQ(NE_EIF_CMDLINE_MAX, self->e.info->cmdline.len);
}

/* A refused build says why, and leaves the existing output as it was. */
static void refused(struct th_ctx *_th, struct eif *e, int want_rc, const char *text)
{
	size_t len;
	uint8_t *now;

	EXPECT_RC(want_rc, ne_eif_build(&e->o, &e->res, e->err, sizeof(e->err)));
	EXPECT_SUBSTR(e->err, text);
	now = slurp(e->out, &len);
	EXPECT_TRUE(now && len == e->len && !memcmp(now, e->img, len),
		    "the existing output was changed");
	free(now);
}

TEST_F(eif, eif_build_refuses, no_kernel)
{
	self->e.o.kernel = NULL;
	refused(_th, &self->e, -EINVAL, "no kernel");
}

TEST_F(eif, eif_build_refuses, missing_kernel_file)
{
	self->e.o.kernel = "/nonexistent/vmlinuz";
	refused(_th, &self->e, -ENOENT, "cannot read kernel /nonexistent/vmlinuz");
}

TEST_F(eif, eif_build_refuses, directory_as_kernel)
{
	self->e.o.kernel = self->e.dir;
	refused(_th, &self->e, -EINVAL, "not a regular file");
}

TEST_F(eif, eif_build_refuses, no_initrd)
{
	self->e.o.nr_ramdisks = 0;
	refused(_th, &self->e, -EINVAL, "no initrd");
}

TEST_F(eif, eif_build_refuses, too_many_initrds)
{
	self->e.o.nr_ramdisks = NE_EIF_MAX_RAMDISKS + 1;
	refused(_th, &self->e, -E2BIG, "too many");
}

TEST_F(eif, eif_build_refuses, missing_initrd_file)
{
	self->e.o.ramdisks[1] = "/nonexistent/app.cpio";
	refused(_th, &self->e, -ENOENT, "cannot read ramdisk");
}

TEST_F(eif, eif_build_refuses, cmdline_of_2048_bytes)
{
	char longcmd[NE_EIF_CMDLINE_MAX + 2];

	memset(longcmd, 'a', NE_EIF_CMDLINE_MAX + 1);
	longcmd[NE_EIF_CMDLINE_MAX + 1] = '\0';
	self->e.o.cmdline = longcmd;
	refused(_th, &self->e, -E2BIG, "limit is 2047");
}

TEST_F(eif, eif_build_refuses, 16_mib_of_default_memory)
{
	self->e.o.mem_mib = 16;
	refused(_th, &self->e, -EINVAL, "outside");
}

TEST_F(eif, eif_build_refuses, output_in_a_missing_directory)
{
	self->e.o.output = "/nonexistent/dir/x.eif";
	refused(_th, &self->e, -ENOENT, "cannot write /nonexistent/dir/x.eif");
}

/* Corrupt copies of the built image: each refused with its own reason. */
FIXTURE(corrupt) {
	struct eif e;
};

FIXTURE_VARIANT(corrupt) {
	void (*patch)(uint8_t *buf, size_t len);
	bool absolute;		/* len is the corrupt file's length, else added to it */
	long len;
	int rc;
	const char *why;
};

FIXTURE_VARIANT_ADD(corrupt, flipped_kernel_byte) {
	.patch = flip_kernel, .rc = -EBADMSG, .why = "CRC mismatch",
};
FIXTURE_VARIANT_ADD(corrupt, flipped_header_byte) {
	.patch = flip_cpus, .rc = -EBADMSG, .why = "CRC mismatch",
};
FIXTURE_VARIANT_ADD(corrupt, bad_magic) {
	.patch = bad_magic, .rc = -EINVAL, .why = "no .eif magic",
};
FIXTURE_VARIANT_ADD(corrupt, empty_file) {
	.absolute = true, .len = 0, .rc = -EINVAL, .why = "no .eif magic",
};
FIXTURE_VARIANT_ADD(corrupt, cut_inside_the_header) {
	.absolute = true, .len = 300, .rc = -EINVAL, .why = "shorter than the 548-byte",
};
FIXTURE_VARIANT_ADD(corrupt, cut_inside_the_last_section) {
	.len = -100, .rc = -EINVAL, .why = "truncated",
};
FIXTURE_VARIANT_ADD(corrupt, trailing_bytes) {
	.len = 5, .rc = -EINVAL, .why = "5 unexpected bytes",
};
FIXTURE_VARIANT_ADD(corrupt, 33_sections) {
	.patch = count_33, .rc = -EINVAL, .why = "at most 32",
};
FIXTURE_VARIANT_ADD(corrupt, 0_sections) {
	.patch = count_0, .rc = -EINVAL, .why = "no sections",
};
FIXTURE_VARIANT_ADD(corrupt, offset_near_2_64) {
	.patch = huge_offset, .rc = -EINVAL, .why = "beyond the end",
};
FIXTURE_VARIANT_ADD(corrupt, size_of_2_64_minus_1) {
	.patch = huge_size, .rc = -EINVAL, .why = "beyond the end",
};
FIXTURE_VARIANT_ADD(corrupt, gap_between_sections) {
	.patch = gap, .rc = -EINVAL, .why = "contiguous",
};
FIXTURE_VARIANT_ADD(corrupt, section_inside_the_header) {
	.patch = in_header, .rc = -EINVAL, .why = "inside the 548-byte header",
};
FIXTURE_VARIANT_ADD(corrupt, section_header_size_mismatch) {
	.patch = sec_size, .rc = -EINVAL, .why = "its header says",
};
FIXTURE_VARIANT_ADD(corrupt, section_type_9) {
	.patch = sec_type, .rc = -EINVAL, .why = "unknown type 9",
};
FIXTURE_VARIANT_ADD(corrupt, two_kernel_sections) {
	.patch = two_kernels, .rc = -EINVAL, .why = "second kernel",
};

FIXTURE_SETUP(corrupt)
{
	eif_up(_th, &self->e);
}

FIXTURE_TEARDOWN(corrupt)
{
	eif_down(_th, &self->e);
}

FIXTURE_REGISTER(corrupt);

TEST_F(corrupt, eif, refused)
{
	size_t newlen = variant->absolute ? (size_t)variant->len : self->e.len + variant->len;
	int rc;

	rc = read_variant(self->e.dir, self->e.img, self->e.len, newlen, variant->patch,
			  self->e.err, sizeof(self->e.err));
	EXPECT_RC(variant->rc, rc);
	EXPECT_SUBSTR(self->e.err, variant->why);
}

static int mktree(const char *dir, const char *name)
{
	struct layout l = { .ncpu = 8, .tpc = 2, .nodes = 1, .mem_mib = { 2048 }, .module = true };

	if (!strcmp(name, "numa2")) {
		l.nodes = 2;
		l.mem_mib[1] = 2048;
	} else if (!strcmp(name, "flat")) {
		l.tpc = 1;
		l.ncpu = 4;
	} else if (!strcmp(name, "nomodule")) {
		l.module = false;
	} else if (strcmp(name, "smt2")) {
		fprintf(stderr, "unknown layout %s (smt2, numa2, flat, nomodule)\n", name);
		return 2;
	}
	mkdirs(dir);
	make_tree(dir, &l);
	return 0;
}


int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "mktree"))
		return mktree(argv[2], argv[3]);
	ne_quiet = true;
	return th_main(argc, argv);
}
