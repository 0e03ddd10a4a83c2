// SPDX-License-Identifier: GPL-2.0
/*
 * nectl unit tests: cpu lists, pool chooser, hugepage planner, config and error text on fake sysfs trees,
 * and the EIF writer/reader (every header field and section byte, CRC, PCR known answers, corrupt files).
 *
 * Also builds fake trees for the CLI tests: test_nectl mktree DIR LAYOUT.
 * Prints one "ok"/"not ok" line per check and "N passed, M failed" last.
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

#include "nectl.h"

#include "tests/check.h"

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

/* ---- tests ---- */

static void test_cpulist(void)
{
	struct ne_cpuset s;
	char buf[256];

	CHECK(!ne_cpuset_parse("1-3,5", &s) && ne_cpuset_count(&s) == 4, "cpulist: 1-3,5 has 4 CPUs");
	ne_cpuset_format(&s, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1-3,5"), "cpulist: formats back as 1-3,5 (got %s)", buf);
	CHECK(!ne_cpuset_parse("7\n", &s) && ne_cpuset_has(&s, 7), "cpulist: trailing newline accepted");
	CHECK(!ne_cpuset_parse("", &s) && !ne_cpuset_count(&s), "cpulist: empty string is the empty set");
	CHECK(ne_cpuset_parse("3-1", &s) == -EINVAL, "cpulist: reversed range refused");
	CHECK(ne_cpuset_parse("a", &s), "cpulist: letters refused");
	CHECK(ne_cpuset_parse("1,,2", &s), "cpulist: empty group refused");
	CHECK(ne_cpuset_parse("99999", &s), "cpulist: CPU beyond the limit refused");
}

static int choose(const char *root, const char *list, int count, uint64_t mem,
		  char *out, size_t len, int *node, char *why, size_t wlen)
{
	struct ne_pool_req req = { .count = count, .mem_bytes = mem };
	struct ne_cpuset set, res;
	struct ne_topo *t = calloc(1, sizeof(*t));
	int rc;

	(void)root;
	if (list) {
		ne_cpuset_parse(list, &set);
		req.list = &set;
	}
	rc = ne_topo_read(t);
	if (!rc)
		rc = ne_pool_choose(t, &req, &res, node, why, wlen);
	out[0] = '\0';
	if (!rc)
		ne_cpuset_format(&res, out, len);
	free(t);
	return rc;
}

#define CHOOSE(list, count, mem) choose(root, list, count, mem, out, sizeof(out), &node, why, sizeof(why))

static void test_pool_smt(void)
{
	struct layout l = { .ncpu = 8, .tpc = 2, .nodes = 1, .mem_mib = { 4096 } };
	char *root = new_root(&l), out[256], why[512];
	int node = -1;

	CHECK(!CHOOSE(NULL, 2, 0) && !strcmp(out, "2-3") && node == 0,
	      "smt2: --count 2 picks core 2-3 (got %s)", out);
	CHECK(!CHOOSE(NULL, 4, 0) && !strcmp(out, "2-5"), "smt2: --count 4 picks 2-5 (got %s)", out);
	CHECK(CHOOSE(NULL, 3, 0) == -EINVAL && strstr(why, "multiple of 2"),
	      "smt2: --count 3 refused, not whole cores (%s)", why);
	CHECK(CHOOSE(NULL, 8, 0) == -EINVAL && strstr(why, "no NUMA node has 4 free full cores"),
	      "smt2: --count 8 refused, CPU 0's core excluded (%s)", why);
	CHECK(!CHOOSE(NULL, 6, 0) && !strcmp(out, "2-7"), "smt2: --count 6 takes all but CPU 0's core");
	CHECK(CHOOSE("3", 0, 0) == -EINVAL && strstr(why, "only part of its core"),
	      "smt2: list 3 is half a core (%s)", why);
	CHECK(CHOOSE("1", 0, 0) == -EINVAL && strstr(why, "CPU 0's core"),
	      "smt2: list 1 is CPU 0's sibling (%s)", why);
	CHECK(CHOOSE("0-3", 0, 0) == -EINVAL && strstr(why, "CPU 0's core"),
	      "smt2: list 0-3 includes CPU 0's core");
	CHECK(!CHOOSE("2-3,6-7", 0, 0) && !strcmp(out, "2-3,6-7"), "smt2: list 2-3,6-7 accepted");
	CHECK(CHOOSE("8-9", 0, 0) == -EINVAL && strstr(why, "does not exist"),
	      "smt2: list 8-9 does not exist (%s)", why);
	CHECK(CHOOSE(NULL, 2, 8192 * MiB) == -EINVAL && strstr(why, "memory"),
	      "smt2: not enough memory on the node (%s)", why);
	drop_root(root);
}

static void test_pool_split_siblings(void)
{
	struct layout l = { .ncpu = 8, .tpc = 2, .nodes = 1, .split = true, .mem_mib = { 4096 } };
	char *root = new_root(&l), out[256], why[512];
	int node;

	CHECK(!CHOOSE(NULL, 2, 0) && !strcmp(out, "1,5"), "split siblings: --count 2 picks 1,5 (got %s)", out);
	CHECK(CHOOSE("4", 0, 0) == -EINVAL && strstr(why, "CPU 0's core"),
	      "split siblings: CPU 4 is CPU 0's sibling (%s)", why);
	CHECK(CHOOSE("1-2", 0, 0) == -EINVAL && strstr(why, "part of its core"),
	      "split siblings: 1-2 are halves of two cores");
	CHECK(!CHOOSE("1-2,5-6", 0, 0), "split siblings: 1-2,5-6 accepted");
	drop_root(root);
}

static void test_pool_flat(void)
{
	struct layout l = { .ncpu = 4, .tpc = 1, .nodes = 1, .mem_mib = { 1024 } };
	char *root = new_root(&l), out[256], why[512];
	int node;

	CHECK(!CHOOSE(NULL, 1, 0) && !strcmp(out, "1"), "no SMT: --count 1 picks CPU 1 (got %s)", out);
	CHECK(!CHOOSE(NULL, 3, 0) && !strcmp(out, "1-3"), "no SMT: --count 3 picks 1-3");
	CHECK(CHOOSE(NULL, 4, 0) == -EINVAL, "no SMT: --count 4 would need CPU 0");
	CHECK(CHOOSE("0", 0, 0) == -EINVAL && strstr(why, "CPU 0"), "no SMT: CPU 0 refused");
	CHECK(!CHOOSE("3", 0, 0), "no SMT: a single CPU is a whole core");
	drop_root(root);
}

static void test_pool_numa(void)
{
	struct layout l = { .ncpu = 8, .tpc = 2, .nodes = 2, .mem_mib = { 4096, 1024 } };
	char *root = new_root(&l), out[256], why[512];
	int node = -1;

	CHECK(!CHOOSE(NULL, 2, 0) && !strcmp(out, "2-3") && node == 0, "numa: --count 2 on node 0 (got %s)", out);
	CHECK(!CHOOSE(NULL, 4, 0) && !strcmp(out, "4-7") && node == 1,
	      "numa: --count 4 moves to node 1, node 0 lacks cores (got %s node %d)", out, node);
	CHECK(CHOOSE(NULL, 4, 2048 * MiB) == -EINVAL && strstr(why, "node 1 has only"),
	      "numa: node 1 has the cores but not the memory (%s)", why);
	CHECK(CHOOSE("2-5", 0, 0) == -EINVAL && strstr(why, "different NUMA nodes"),
	      "numa: a list across nodes refused (%s)", why);
	CHECK(!CHOOSE("4-5", 0, 0) && node == 1, "numa: list 4-5 is on node 1");
	drop_root(root);

	/* Node 0 lacks memory: the chooser moves to node 1. */
	l.mem_mib[0] = 256;
	l.mem_mib[1] = 4096;
	root = new_root(&l);
	CHECK(!CHOOSE(NULL, 2, 1024 * MiB) && !strcmp(out, "4-5") && node == 1,
	      "numa: memory need moves the pool to node 1 (got %s node %d)", out, node);
	drop_root(root);
}

static void test_pool_offline(void)
{
	struct layout l = { .ncpu = 8, .tpc = 2, .nodes = 1, .offline = "3", .mem_mib = { 4096 } };
	char *root = new_root(&l), out[256], why[512];
	int node;

	CHECK(!CHOOSE(NULL, 2, 0) && !strcmp(out, "4-5"),
	      "offline: core 2-3 with CPU 3 offline is skipped (got %s)", out);
	CHECK(CHOOSE("2", 0, 0) == -EINVAL && strstr(why, "offline thread"),
	      "offline: CPU 2's core has an offline thread (%s)", why);
	CHECK(CHOOSE("2-3", 0, 0) == -EINVAL && strstr(why, "offline"),
	      "offline: CPU 3 offline refused (%s)", why);
	CHECK(CHOOSE(NULL, 6, 0) == -EINVAL, "offline: only 2 usable cores remain");
	drop_root(root);
}

static uint64_t hp(const char *root, int node, const char *size, const char *file)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "/sys/devices/system/node/node%d/hugepages/hugepages-%s/%s",
		 node, size, file);
	return strtoull(get(root, rel), NULL, 10);
}

static void test_hugepages(void)
{
	struct layout l = { .ncpu = 4, .tpc = 2, .nodes = 2, .mem_mib = { 8192, 8192 } };
	char *root = new_root(&l);
	struct ne_hp_node res;
	uint64_t v;

	ne_write_hook_set(fake_kernel);
	CHECK(!ne_hp_reserve(0, true, 128 * MiB, &res) && hp(root, 0, "2048kB", "nr_hugepages") == 64 &&
	      hp(root, 0, "1048576kB", "nr_hugepages") == 0, "hugepages: 128M is 64 x 2 MiB");
	CHECK(res.nr_sizes == 2 && res.sz[0].size == GiB, "hugepages: sizes listed largest first");
	CHECK(!ne_hp_reserve(1, true, 2 * GiB + 4 * MiB, NULL) &&
	      hp(root, 1, "1048576kB", "nr_hugepages") == 2 && hp(root, 1, "2048kB", "nr_hugepages") == 2,
	      "hugepages: 2G+4M on node 1 is 2 x 1 GiB + 2 x 2 MiB");
	CHECK(hp(root, 0, "2048kB", "nr_hugepages") == 64, "hugepages: node 0 untouched by node 1");
	CHECK(!ne_hp_reserve(1, true, 4 * MiB, NULL) && hp(root, 1, "1048576kB", "nr_hugepages") == 0 &&
	      hp(root, 1, "2048kB", "nr_hugepages") == 2, "hugepages: shrinking frees the 1 GiB pages");

	/* Fragmented memory: one 1 GiB page only; the rest spills to 2 MiB. */
	cap_1g = 1;
	CHECK(!ne_hp_reserve(0, true, 3 * GiB, NULL) && hp(root, 0, "1048576kB", "nr_hugepages") == 1 &&
	      hp(root, 0, "2048kB", "nr_hugepages") == 1024,
	      "hugepages: fragmented 1 GiB pool spills 2 GiB to 2 MiB pages");

	/* Partial reservation: the kernel gives 10 of 32 small pages -> rollback. */
	ne_hp_reserve(0, true, 10 * MiB, NULL);
	cap_1g = 0;
	cap_2m = 10;
	CHECK(ne_hp_reserve(0, true, 1 * GiB + 64 * MiB, &res) == -ENOMEM,
	      "hugepages: shortfall returns ENOMEM");
	CHECK(hp(root, 0, "2048kB", "nr_hugepages") == 5 && hp(root, 0, "1048576kB", "nr_hugepages") == 0,
	      "hugepages: shortfall rolls back to 5 x 2 MiB (got %" PRIu64 ")",
	      hp(root, 0, "2048kB", "nr_hugepages"));
	cap_2m = cap_1g = UINT64_MAX;
	writes = 0;
	CHECK(ne_hp_reserve(0, true, 3 * MiB, NULL) == -EINVAL && writes == 0,
	      "hugepages: 3M refused before any write");
	ne_write_hook_set(NULL);

	CHECK(!ne_parse_size("128M", 0, &v) && v == 128 * MiB, "size: 128M");
	CHECK(!ne_parse_size("2G", 0, &v) && v == 2 * GiB, "size: 2G");
	CHECK(!ne_parse_size("512MiB", 0, &v) && v == 512 * MiB, "size: 512MiB");
	CHECK(!ne_parse_size("2048k", 0, &v) && v == 2 * MiB, "size: 2048k");
	CHECK(ne_parse_size("12", 0, &v), "size: a plain number needs a unit here");
	CHECK(!ne_parse_size("12", MiB, &v) && v == 12 * MiB, "size: plain number in MiB for --memory");
	CHECK(ne_parse_size("1.5G", 0, &v) && ne_parse_size("G", 0, &v) && ne_parse_size("-1M", 0, &v) &&
	      ne_parse_size("5Q", 0, &v) && ne_parse_size("99999999999T", 0, &v),
	      "size: malformed sizes refused");
	drop_root(root);
}

/* run's region plan: largest free page sizes first, one region per size. */
static void test_plan(void)
{
	struct layout l = { .ncpu = 4, .tpc = 2, .nodes = 2, .mem_mib = { 8192, 8192 } };
	char *root = new_root(&l);
	struct ne_region reg[NE_MAX_HP_SIZES];
	int nr;

	put(root, "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/free_hugepages", "1\n");
	put(root, "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages", "600\n");
	CHECK(!ne_plan_regions(1, true, GiB + 512 * MiB, reg, NE_MAX_HP_SIZES, &nr) && nr == 2 &&
	      reg[0].page == GiB && reg[0].len == GiB && reg[1].page == 2 * MiB &&
	      reg[1].len == 512 * MiB, "plan: 1.5 GiB is 1 x 1 GiB then 256 x 2 MiB");
	CHECK(!ne_plan_regions(1, true, 512 * MiB, reg, NE_MAX_HP_SIZES, &nr) && nr == 1 &&
	      reg[0].page == 2 * MiB, "plan: 512 MiB does not take the 1 GiB page");
	CHECK(!ne_plan_regions(1, true, 2 * GiB, reg, NE_MAX_HP_SIZES, &nr) && nr == 2 &&
	      reg[1].len == GiB, "plan: 2 GiB spills the second GiB to 2 MiB pages");
	CHECK(ne_plan_regions(1, true, 3 * GiB, reg, NE_MAX_HP_SIZES, &nr) == -ENOMEM && nr == 0,
	      "plan: more than the free hugepages is refused");
	CHECK(ne_plan_regions(0, true, 64 * MiB, reg, NE_MAX_HP_SIZES, &nr) == -ENOMEM,
	      "plan: node 0 has no free hugepages");
	drop_root(root);
}

/* A kernel without NUMA sysfs: one node, global hugepage pools, /proc/meminfo. */
static void test_no_numa_sysfs(void)
{
	char root[] = "/tmp/nectl-test-XXXXXX", out[256], why[512];
	struct ne_topo *t = calloc(1, sizeof(*t));
	int node = -1;

	if (!t || !mkdtemp(root))
		exit(2);
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
	CHECK(!ne_topo_read(t) && !t->numa_sysfs && t->nr_nodes == 1 && t->threads_per_core == 2 &&
	      t->node_mem_free[0] == GiB, "no NUMA sysfs: one node, memory from /proc/meminfo");
	CHECK(!CHOOSE(NULL, 2, 0) && !strcmp(out, "2-3") && node == 0, "no NUMA sysfs: --count 2 is 2-3");
	CHECK(!ne_hp_reserve(0, false, 64 * MiB, NULL) &&
	      !strcmp(get(root, "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "32"),
	      "no NUMA sysfs: hugepages go to the global pool");
	free(t);
	drop_root(strdup(root));
}

static void test_pool_set(void)
{
	struct layout l = { .ncpu = 8, .tpc = 2, .nodes = 1, .mem_mib = { 4096 }, .module = true };
	char *root = new_root(&l);
	struct ne_pool_req req = { .count = 2 };
	struct ne_cpuset chosen;
	int node;

	ne_write_hook_set(fake_kernel);
	CHECK(!ne_pool_set(&req, &chosen, &node) && !strcmp(get(root, NE_CPUS_PARAM), "2-3"),
	      "pool set: --count 2 writes 2-3");
	ne_cpus_errno = EPERM;
	req.count = 4;
	CHECK(ne_pool_set(&req, &chosen, &node) == -EPERM && !strcmp(get(root, NE_CPUS_PARAM), "2-3"),
	      "pool set: EPERM (enclaves running) leaves the pool as it was");
	ne_cpus_errno = 0;
	req.count = 100;
	CHECK(ne_pool_set(&req, &chosen, &node) == -EINVAL && !strcmp(get(root, NE_CPUS_PARAM), "2-3"),
	      "pool set: an impossible request restores the old pool");
	ne_write_hook_set(NULL);
	drop_root(root);

	root = new_root(&(struct layout){ .ncpu = 4, .tpc = 2, .nodes = 1, .mem_mib = { 64 } });
	req.count = 2;
	CHECK(ne_pool_set(&req, &chosen, &node) == -ENOENT, "pool set: module not loaded is ENOENT");
	drop_root(root);
}

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

static void test_config(void)
{
	struct ne_config c;
	char err[512];

	CHECK(!config_from("# comment\n---\nmemory_mib: 512\ncpu_count: 2\n", &c, err, sizeof(err)) &&
	      c.memory_mib == 512 && c.cpu_count == 2 && !c.has_pool, "yaml: memory_mib + cpu_count");
	CHECK(!config_from("memory_mib: 1024\ncpu_pool: 2-3,6-7\n", &c, err, sizeof(err)) &&
	      !strcmp(c.cpu_pool, "2-3,6-7"), "yaml: memory_mib + cpu_pool");
	CHECK(!config_from("memory_mib: \"512\"\ncpu_pool: '2'\n", &c, err, sizeof(err)),
	      "yaml: quoted scalars accepted");
	CHECK(config_from("memory_mib: 512\ncpu_count: \"2\n", &c, err, sizeof(err)) &&
	      strstr(err, "not valid YAML"), "yaml: unterminated quote refused (%s)", err);
	CHECK(config_from("memory_mib: 512\n\tcpu_count: 2\n", &c, err, sizeof(err)) &&
	      strstr(err, ":2: not valid YAML"), "yaml: tab indentation refused with a line number (%s)", err);
	CHECK(config_from("memory_mib: [512\n", &c, err, sizeof(err)), "yaml: unclosed list refused");
	CHECK(config_from("memory_mib: 512\ncpu_cont: 2\n", &c, err, sizeof(err)) &&
	      strstr(err, "unknown key 'cpu_cont'"), "yaml: unknown key refused (%s)", err);
	CHECK(config_from("memory_mib: 512\ncpu_count: 2\ncpu_pool: 2-3\n", &c, err, sizeof(err)) &&
	      strstr(err, "not both"), "yaml: cpu_count and cpu_pool together refused (%s)", err);
	CHECK(config_from("cpu_count: 2\n", &c, err, sizeof(err)) && strstr(err, "memory_mib is missing"),
	      "yaml: missing memory_mib refused");
	CHECK(config_from("memory_mib: 512\n", &c, err, sizeof(err)) && strstr(err, "missing"),
	      "yaml: missing cpu_count/cpu_pool refused");
	CHECK(config_from("memory_mib: 511\ncpu_count: 2\n", &c, err, sizeof(err)) &&
	      strstr(err, "multiple of 2"), "yaml: odd memory_mib refused");
	CHECK(config_from("memory_mib: lots\ncpu_count: 2\n", &c, err, sizeof(err)) &&
	      strstr(err, "whole number"), "yaml: non-numeric memory_mib refused");
	CHECK(config_from("memory_mib: -2\ncpu_count: 2\n", &c, err, sizeof(err)),
	      "yaml: negative memory_mib refused");
	CHECK(config_from("memory_mib: 512\nmemory_mib: 512\ncpu_count: 2\n", &c, err, sizeof(err)) &&
	      strstr(err, "twice"), "yaml: repeated key refused");
	CHECK(config_from("memory_mib: 512\ncpu_count: [1, 2]\n", &c, err, sizeof(err)) &&
	      strstr(err, "not a list"), "yaml: list value refused (%s)", err);
	CHECK(config_from("memory_mib: {a: 1}\ncpu_count: 2\n", &c, err, sizeof(err)) &&
	      strstr(err, "nested"), "yaml: nested mapping refused (%s)", err);
	CHECK(config_from("", &c, err, sizeof(err)) && strstr(err, "missing"), "yaml: empty file refused");
	CHECK(config_from("memory_mib: 512\ncpu_pool: 2-x\n", &c, err, sizeof(err)) &&
	      strstr(err, "CPU list"), "yaml: bad cpu_pool refused");
	CHECK(ne_config_load("/nonexistent/allocator.yaml", &c, err, sizeof(err)) == -ENOENT &&
	      strstr(err, "cannot open"), "yaml: missing file reported");
}

static void test_errors(void)
{
	int e, good = 1;

	for (e = NE_ERR_VCPU_ALREADY_USED; e <= NE_ERR_INVALID_ENCLAVE_CID; e++) {
		const char *s = ne_err_sentence(e);

		if (!s || strstr(s, "Unknown error") || !strchr(s, ';')) {
			printf("# NE error %d has no sentence naming a fix: %s\n", e, s ? s : "(none)");
			good = 0;
		}
	}
	CHECK(good, "errors: all 20 NE_ERR_* values have a sentence with a fix");
	CHECK(strstr(ne_err_sentence(NE_ERR_NO_CPUS_AVAIL_IN_POOL), "nectl pool set"),
	      "errors: empty pool names 'nectl pool set'");
	CHECK(strstr(ne_err_sentence(NE_ERR_MEM_NOT_HUGE_PAGE), "hugepages reserve"),
	      "errors: non-hugepage memory names 'hugepages reserve'");
	CHECK(strstr(ne_err_sentence(-NE_ERR_FULL_CORES_NOT_USED), "whole cores"),
	      "errors: negated values work too");
	CHECK(strstr(ne_err_sentence(ENOENT), "not an enclave-enabled instance"),
	      "errors: ENOENT on the device explains the missing device");
	CHECK(ne_heartbeat_timeout_ms(2 * GiB) == 60000 && ne_heartbeat_timeout_ms(6 * GiB) == 60000 &&
	      ne_heartbeat_timeout_ms(6 * GiB + 1) == 120000 && ne_heartbeat_timeout_ms(10 * GiB) == 120000 &&
	      ne_heartbeat_timeout_ms(0) == 60000, "heartbeat: one minute per started 6 GiB of image");
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

static void test_eif(void)
{
	static const char *const pcr_want[3] = {
		"c82734608dcc834b5fdcf22348dd76e327b22cd56f14a8a6d9af8151fd4dce6fcc7986b2828fdc45f6dfc1c9ed2969f9",
		"8c0155ba4d103db831930d5a3ccc90cce3417ce632380f766b4cc9b1af64284e78ccf0d892885ee24fc277adeff37b81",
		"c313b7d46fff8dc19d6e60dbd817f577b8ff01dc3f932f241674d683261a4ce146a077277a9a21d61533c69cce8f1901",
	};
	static const char empty_pcr2[] =
		"21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a";
	const char *cmdline = "console=ttyS0 init=/init";
	const size_t ksz = 300000, r1sz = 1000, r2sz = 777;
	char dir[] = "/tmp/nectl-eif-XXXXXX", kpath[4096], r1path[4096], r2path[4096];
	char out[4096], err[1024], hex[2 * NE_SHA384_LEN + 1], longcmd[NE_EIF_CMDLINE_MAX + 2];
	uint8_t *k = gen(ksz, 31, 7), *r1 = gen(r1sz, 13, 1), *r2 = gen(r2sz, 5, 3), *img;
	const uint8_t *p;
	struct ne_eif_build_opts o = { 0 };
	struct ne_eif_result res;
	struct ne_eif_info *info = calloc(1, sizeof(*info));
	uint64_t off, sizes[5], want_off;
	size_t len, olen;
	int i, rc, good;
	uLong crc;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	snprintf(kpath, sizeof(kpath), "%s/vmlinuz", dir);
	snprintf(r1path, sizeof(r1path), "%s/boot.cpio", dir);
	snprintf(r2path, sizeof(r2path), "%s/app.cpio", dir);
	snprintf(out, sizeof(out), "%s/test.eif", dir);
	put_bytes(kpath, k, ksz);
	put_bytes(r1path, r1, r1sz);
	put_bytes(r2path, r2, r2sz);

	o.kernel = kpath;
	o.ramdisks[0] = r1path;
	o.ramdisks[1] = r2path;
	o.nr_ramdisks = 2;
	o.cmdline = cmdline;
	o.output = out;
	o.mem_mib = 512;
	o.cpus = 4;
	rc = ne_eif_build(&o, &res, err, sizeof(err));
	CHECK(rc == 0, "eif: build from a kernel and two ramdisks (%s)", rc ? err : "ok");
	img = slurp(out, &len);
	CHECK(img && len == res.size, "eif: the file is the size reported (%zu)", len);
	if (!img || len < NE_EIF_HDR_SIZE) {
		free(img);
		goto done;
	}
	/* Every header field at its documented offset, read independently. */
	CHECK(!memcmp(img, ".eif", 4), "eif: magic .eif");
	CHECK(be(img + 4, 2) == 4, "eif: version 4");
	CHECK(be(img + 6, 2) == 0, "eif: flags 0 (x86_64)");
	CHECK(be(img + 8, 8) == 512ull << 20, "eif: default_mem is 512 MiB in bytes");
	CHECK(be(img + 16, 8) == 4, "eif: default_cpus 4");
	CHECK(be(img + 24, 2) == 0, "eif: reserved 0");
	CHECK(be(img + 26, 2) == 5, "eif: 5 sections");
	CHECK(be(img + 540, 4) == 0, "eif: unused 0");
	sizes[0] = ksz;
	sizes[1] = strlen(cmdline);
	sizes[2] = 0;
	sizes[3] = r1sz;
	sizes[4] = r2sz;
	want_off = NE_EIF_HDR_SIZE;
	good = 1;
	for (i = 0; i < 5; i++) {
		if (i == 2)	/* metadata: its size from the header */
			sizes[2] = be(img + 284 + 8 * 2, 8);
		if (be(img + 28 + 8 * i, 8) != want_off || be(img + 284 + 8 * i, 8) != sizes[i])
			good = 0;
		want_off += 12 + sizes[i];
	}
	CHECK(good && want_off == len, "eif: offsets contiguous from 548, sizes exact, length = last end");
	for (good = 1, i = 5; i < NE_EIF_MAX_SECTIONS; i++)
		if (be(img + 28 + 8 * i, 8) || be(img + 284 + 8 * i, 8))
			good = 0;
	CHECK(good, "eif: unused section slots are zero");
	/* Section headers and data, byte for byte. */
	{
		static const unsigned int types[5] = { 1, 2, 5, 3, 3 };
		const void *data[5] = { k, cmdline, NULL, r1, r2 };

		for (good = 1, off = NE_EIF_HDR_SIZE, i = 0; i < 5; i++) {
			p = img + off;
			if (be(p, 2) != types[i] || be(p + 2, 2) != 0 || be(p + 4, 8) != sizes[i] ||
			    (data[i] && memcmp(p + 12, data[i], sizes[i])))
				good = 0;
			off += 12 + sizes[i];
		}
		CHECK(good, "eif: section headers (kernel, cmdline, metadata, ramdisk, ramdisk) and data byte for byte");
		p = img + NE_EIF_HDR_SIZE + 12 + ksz + 12 + sizes[1] + 12;
		CHECK(sizes[2] > 2 && p[0] == '{' && p[sizes[2] - 1] == '}' &&
		      !memcmp(p, "{\"ImageName\":\"test\"", 19) &&
		      memmem(p, sizes[2], "\"BuildTime\":\"2023-11-14T22:13:20+00:00\"", 39) &&
		      memmem(p, sizes[2], "\"BuildMetadata\":{", 17) &&
		      memmem(p, sizes[2], "\"DockerInfo\":{}", 15) &&
		      memmem(p, sizes[2], "\"CustomMetadata\":{}", 19),
		      "eif: metadata JSON has nitro-cli's keys and SOURCE_DATE_EPOCH's time");
		CHECK(!memchr(img + NE_EIF_HDR_SIZE + 12 + ksz + 12, 0, sizes[1]),
		      "eif: cmdline has no NUL");
	}
	/* CRC computed in one go over the contiguous file, crc field skipped. */
	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, img, 544);
	crc = crc32(crc, img + NE_EIF_HDR_SIZE, len - NE_EIF_HDR_SIZE);
	CHECK(be(img + 544, 4) == crc && res.crc == crc, "eif: CRC field = zlib crc32 (0x%08lx)", crc);
	for (good = 1, i = 0; i < 3; i++) {
		ne_eif_hex(res.pcr[i], NE_SHA384_LEN, hex);
		if (strcmp(hex, pcr_want[i])) {
			printf("# build PCR%d %s, want %s\n", i, hex, pcr_want[i]);
			good = 0;
		}
	}
	CHECK(good, "eif: build PCR0-2 match known answers (python hashlib)");

	rc = ne_eif_read(out, info, err, sizeof(err));
	CHECK(rc == 0 && info->crc_ok, "eif: reads back, CRC verifies (%s)", rc ? err : "ok");
	CHECK(info->hdr.version == 4 && info->hdr.flags == 0 &&
	      info->hdr.default_mem == 512 * MiB && info->hdr.default_cpus == 4 &&
	      info->hdr.nr_sections == 5 && info->nr_ramdisks == 2 && !info->has_signature,
	      "eif: parsed header fields");
	CHECK(info->sec[0].type == NE_EIF_KERNEL && info->sec[0].offset == 548 &&
	      info->sec[0].size == ksz && info->sec[4].type == NE_EIF_RAMDISK &&
	      info->sec[4].size == r2sz && info->sec[4].offset + 12 + r2sz == len,
	      "eif: parsed sections");
	CHECK(info->cmdline.len == strlen(cmdline) && !strcmp(info->cmdline.s, cmdline),
	      "eif: parsed cmdline");
	for (good = 1, i = 0; i < 3; i++) {
		ne_eif_hex(info->pcr[i], NE_SHA384_LEN, hex);
		good &= !strcmp(hex, pcr_want[i]);
	}
	CHECK(good, "eif: describe's PCR0-2 match known answers");

	/* Corrupt images: each refused with its own reason. */
#define BAD(newlen, fn, want_rc, text, desc) do {				\
	rc = read_variant(dir, img, len, newlen, fn, err, sizeof(err));		\
	CHECK(rc == (want_rc) && strstr(err, text), "eif: %s refused (%s)", desc, err); \
} while (0)
	BAD(len, flip_kernel, -EBADMSG, "CRC mismatch", "a flipped kernel byte");
	BAD(len, flip_cpus, -EBADMSG, "CRC mismatch", "a flipped header byte");
	BAD(len, bad_magic, -EINVAL, "no .eif magic", "bad magic");
	BAD(0, NULL, -EINVAL, "no .eif magic", "an empty file");
	BAD(300, NULL, -EINVAL, "shorter than the 548-byte", "a file cut inside the header");
	BAD(len - 100, NULL, -EINVAL, "truncated", "a file cut inside the last section");
	BAD(len + 5, NULL, -EINVAL, "5 unexpected bytes", "trailing bytes");
	BAD(len, count_33, -EINVAL, "at most 32", "33 sections");
	BAD(len, count_0, -EINVAL, "no sections", "0 sections");
	BAD(len, huge_offset, -EINVAL, "beyond the end", "an offset near 2^64");
	BAD(len, huge_size, -EINVAL, "beyond the end", "a size of 2^64-1");
	BAD(len, gap, -EINVAL, "contiguous", "a gap between sections");
	BAD(len, in_header, -EINVAL, "inside the 548-byte header", "a section inside the header");
	BAD(len, sec_size, -EINVAL, "its header says", "a section header size mismatch");
	BAD(len, sec_type, -EINVAL, "unknown type 9", "section type 9");
	BAD(len, two_kernels, -EINVAL, "second kernel", "two kernel sections");
#undef BAD

	/*
	 * Metadata changed and a signature section appended, CRC fixed: a
	 * valid image whose PCR0-2 must not move (neither is measured).
	 */
	{
		static const uint8_t sig[] = "\x81\xa2not-a-real-cose-signature";
		uint8_t *b = malloc(len + 12 + sizeof(sig));
		size_t meta = NE_EIF_HDR_SIZE + 12 + ksz + 12 + strlen(cmdline) + 12;
		char path[4096];
		uLong c;

		memcpy(b, img, len);
		b[meta + 2] = 'X';		/* "{\"XmageName..." */
		b[27] = 6;
		for (i = 0; i < 8; i++) {
			b[28 + 8 * 5 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
			b[284 + 8 * 5 + i] = (uint8_t)((uint64_t)sizeof(sig) >> (56 - 8 * i));
		}
		memset(b + len, 0, 12);
		b[len + 1] = NE_EIF_SIGNATURE;
		b[len + 11] = sizeof(sig);
		memcpy(b + len + 12, sig, sizeof(sig));
		c = crc32(crc32(0L, Z_NULL, 0), b, 544);
		c = crc32(c, b + NE_EIF_HDR_SIZE, len + 12 + sizeof(sig) - NE_EIF_HDR_SIZE);
		for (i = 0; i < 4; i++)
			b[544 + i] = (uint8_t)(c >> (24 - 8 * i));
		snprintf(path, sizeof(path), "%s/signed.eif", dir);
		put_bytes(path, b, len + 12 + sizeof(sig));
		free(b);
		rc = ne_eif_read(path, info, err, sizeof(err));
		for (good = !rc && info->has_signature && info->hdr.nr_sections == 6, i = 0;
		     good && i < 3; i++) {
			ne_eif_hex(info->pcr[i], NE_SHA384_LEN, hex);
			good = !strcmp(hex, pcr_want[i]);
		}
		CHECK(good, "eif: metadata and signature sections are not measured (%s)",
		      rc ? err : "ok");
	}
	free(img);

	/* One ramdisk: PCR2 measures nothing. */
	o.nr_ramdisks = 1;
	o.aarch64 = true;
	rc = ne_eif_build(&o, &res, err, sizeof(err));
	ne_eif_hex(res.pcr[2], NE_SHA384_LEN, hex);
	CHECK(!rc && !strcmp(hex, empty_pcr2), "eif: one ramdisk gives PCR2 = extend(SHA-384 of nothing)");
	rc = ne_eif_read(out, info, err, sizeof(err));
	CHECK(!rc && info->hdr.flags == NE_EIF_FLAG_AARCH64 && info->hdr.nr_sections == 4,
	      "eif: --arch aarch64 sets flag bit 0");

	/* Refused builds, and the previous output is left as it was. */
	img = slurp(out, &olen);
#define BADBUILD(want_rc, text, desc) do {					\
	rc = ne_eif_build(&o, &res, err, sizeof(err));				\
	CHECK(rc == (want_rc) && strstr(err, text), "eif: build refuses %s (%s)", desc, err); \
} while (0)
	o.kernel = NULL;
	BADBUILD(-EINVAL, "no kernel", "no kernel");
	o.kernel = "/nonexistent/vmlinuz";
	BADBUILD(-ENOENT, "cannot read kernel /nonexistent/vmlinuz", "a missing kernel file");
	o.kernel = dir;
	BADBUILD(-EINVAL, "not a regular file", "a directory as kernel");
	o.kernel = kpath;
	o.nr_ramdisks = 0;
	BADBUILD(-EINVAL, "no initrd", "no initrd");
	o.nr_ramdisks = NE_EIF_MAX_RAMDISKS + 1;
	BADBUILD(-E2BIG, "too many", "30 initrds");
	o.nr_ramdisks = 2;
	o.ramdisks[1] = "/nonexistent/app.cpio";
	BADBUILD(-ENOENT, "cannot read ramdisk", "a missing initrd file");
	o.ramdisks[1] = r2path;
	memset(longcmd, 'a', NE_EIF_CMDLINE_MAX + 1);
	longcmd[NE_EIF_CMDLINE_MAX + 1] = '\0';
	o.cmdline = longcmd;
	BADBUILD(-E2BIG, "limit is 2047", "a 2048-byte cmdline");
	o.mem_mib = 16;
	o.cmdline = cmdline;
	BADBUILD(-EINVAL, "outside", "16 MiB of default memory");
	o.mem_mib = 512;
	o.output = "/nonexistent/dir/x.eif";
	BADBUILD(-ENOENT, "cannot write /nonexistent/dir/x.eif", "an output in a missing directory");
	o.output = out;
#undef BADBUILD
	{
		size_t nlen;
		uint8_t *now = slurp(out, &nlen);

		CHECK(img && now && nlen == olen && !memcmp(img, now, olen),
		      "eif: failed builds left the existing output untouched");
		free(now);
	}
	free(img);
	longcmd[NE_EIF_CMDLINE_MAX] = '\0';
	o.cmdline = longcmd;
	rc = ne_eif_build(&o, &res, err, sizeof(err));
	CHECK(!rc && !ne_eif_read(out, info, err, sizeof(err)) &&
	      info->cmdline.len == NE_EIF_CMDLINE_MAX, "eif: a 2047-byte cmdline is accepted");
done:
	{
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "ls -A %s | grep -q tmp-", dir);
		CHECK(system(cmd) != 0, "eif: no temporary file left behind");
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			printf("# could not remove %s\n", dir);
	}
	unsetenv("SOURCE_DATE_EPOCH");
	free(info);
	free(k);
	free(r1);
	free(r2);
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
	test_cpulist();
	test_pool_smt();
	test_pool_split_siblings();
	test_pool_flat();
	test_pool_numa();
	test_pool_offline();
	test_hugepages();
	test_plan();
	test_no_numa_sysfs();
	test_pool_set();
	test_config();
	test_errors();
	test_eif();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
