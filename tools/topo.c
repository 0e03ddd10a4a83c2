// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: CPU and NUMA topology (siblings, nodes, memory per node) read from sysfs.
 *
 * Offline CPUs have no topology directory, so their core is unknown: they
 * are marked !known and the pool chooser avoids cores that lack a thread.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nectl.h"

static int read_cpuset(const char *rel, struct ne_cpuset *set)
{
	char path[4096], buf[4096];
	int rc;

	rc = ne_path(path, sizeof(path), "%s", rel);
	if (!rc)
		rc = ne_read_str(path, buf, sizeof(buf));
	if (!rc)
		rc = ne_cpuset_parse(buf, set);
	return rc;
}

/* "Node 0 MemFree:  1234 kB" style lines of a node's meminfo (or /proc/meminfo). */
static uint64_t meminfo_kb(const char *file, const char *key)
{
	char line[256], *p;
	uint64_t kb = 0;
	FILE *f;

	f = fopen(file, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, key);
		if (!p || p[strlen(key)] != ':')
			continue;
		kb = strtoull(p + strlen(key) + 1, NULL, 10);
		break;
	}
	fclose(f);
	return kb;
}

static void read_node_memory(struct ne_topo *t, int node)
{
	struct ne_hp_node hn;
	char path[4096];
	uint64_t hp = 0;
	int i;

	if (t->numa_sysfs)
		ne_path(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	else
		ne_path(path, sizeof(path), "/proc/meminfo");
	t->node_mem_total[node] = meminfo_kb(path, "MemTotal") * 1024;
	if (!ne_hp_read(node, t->numa_sysfs, &hn))
		for (i = 0; i < hn.nr_sizes; i++)
			hp += hn.sz[i].size * hn.sz[i].total;
	/* Memory hugepages could come from: free memory plus pages already reserved. */
	t->node_mem_free[node] = meminfo_kb(path, "MemFree") * 1024 + hp;
}

/* cpuN/nodeM links stay while a CPU is offline (node cpulists drop it). */
static int cpu_node_link(int cpu)
{
	char path[4096];
	struct dirent *de;
	int node = -1;
	DIR *d;

	ne_path(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "node", 4) && isdigit((unsigned char)de->d_name[4])) {
			node = atoi(de->d_name + 4);
			break;
		}
	closedir(d);
	return node;
}

int ne_topo_read(struct ne_topo *t)
{
	struct ne_cpuset present, online, nodecpus;
	char path[4096], rel[128];
	int cpu, node, rc, w;

	memset(t, 0, sizeof(*t));
	rc = read_cpuset("/sys/devices/system/cpu/present", &present);
	if (rc)
		return rc;
	if (read_cpuset("/sys/devices/system/cpu/online", &online))
		online = present;
	for (cpu = 0; cpu < NE_MAX_CPUS; cpu++) {
		struct ne_cpu *c = &t->cpu[cpu];

		if (!ne_cpuset_has(&present, cpu))
			continue;
		t->nr_cpus = cpu + 1;
		c->present = true;
		c->online = ne_cpuset_has(&online, cpu);
		c->node = -1;
		if (!c->online)
			continue;
		snprintf(rel, sizeof(rel),
			 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
		if (read_cpuset(rel, &c->siblings) || !ne_cpuset_has(&c->siblings, cpu))
			continue;
		c->known = true;
		w = ne_cpuset_count(&c->siblings);
		if (w > t->threads_per_core)
			t->threads_per_core = w;
	}
	if (!t->threads_per_core)
		t->threads_per_core = 1;

	ne_path(path, sizeof(path), "/sys/devices/system/node");
	t->numa_sysfs = ne_exists(path);
	if (!t->numa_sysfs) {
		t->nr_nodes = 1;
		for (cpu = 0; cpu < t->nr_cpus; cpu++)
			t->cpu[cpu].node = 0;
		read_node_memory(t, 0);
		return 0;
	}
	for (node = 0; node < NE_MAX_NODES; node++) {
		snprintf(rel, sizeof(rel), "/sys/devices/system/node/node%d/cpulist", node);
		ne_path(path, sizeof(path), "%s", rel);
		if (!ne_exists(path))
			continue;
		t->nr_nodes = node + 1;
		if (!read_cpuset(rel, &nodecpus))
			for (cpu = 0; cpu < t->nr_cpus; cpu++)
				if (ne_cpuset_has(&nodecpus, cpu))
					t->cpu[cpu].node = node;
		read_node_memory(t, node);
	}
	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->cpu[cpu].present && t->cpu[cpu].node < 0)
			t->cpu[cpu].node = cpu_node_link(cpu);
	return t->nr_nodes ? 0 : -ENOENT;
}
