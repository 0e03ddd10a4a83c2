// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: the CPU pool: choose full cores on one NUMA node (never CPU 0's core) and write ne_cpus.
 *
 * The driver offlines pool CPUs, and offline CPUs hide their topology, so
 * setting a pool first clears the old one (the driver re-onlines its CPUs),
 * then reads the topology, then writes the new list; any failure puts the
 * old pool back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nectl.h"

static int why_set(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void core_of_cpu0(const struct ne_topo *t, struct ne_cpuset *core0)
{
	if (t->cpu[0].known)
		*core0 = t->cpu[0].siblings;
	else
		ne_cpuset_zero(core0);
	ne_cpuset_add(core0, 0);
}

static bool sets_intersect(const struct ne_cpuset *a, const struct ne_cpuset *b)
{
	int i;

	for (i = 0; i < NE_MAX_CPUS / 64; i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

/* A core usable for a pool: all threads online, known, on one node, not CPU 0's. */
static bool core_usable(const struct ne_topo *t, int first, const struct ne_cpuset *core0)
{
	const struct ne_cpu *c = &t->cpu[first];
	int cpu;

	if (!c->known || ne_cpuset_first(&c->siblings) != first)
		return false;
	if (sets_intersect(&c->siblings, core0))
		return false;
	if (ne_cpuset_count(&c->siblings) != t->threads_per_core)
		return false;	/* a thread is offline */
	for (cpu = first; cpu < t->nr_cpus; cpu++)
		if (ne_cpuset_has(&c->siblings, cpu) &&
		    (!t->cpu[cpu].known || t->cpu[cpu].node != c->node))
			return false;
	return c->node >= 0;
}

static int check_memory(const struct ne_topo *t, int node, uint64_t need,
			char *why, size_t len)
{
	char a[32], b[32];

	if (need <= t->node_mem_free[node])
		return 0;
	ne_format_size(t->node_mem_free[node], a, sizeof(a));
	ne_format_size(need, b, sizeof(b));
	return why_set(why, len, "NUMA node %d has only %s of memory for hugepages, %s are needed; "
		       "ask for less memory or free some on that node", node, a, b);
}

static int check_list(const struct ne_topo *t, const struct ne_pool_req *req,
		      const struct ne_cpuset *core0, struct ne_cpuset *out, int *node,
		      char *why, size_t len)
{
	char s1[64], s2[64];
	int cpu, n = -1;

	if (!ne_cpuset_count(req->list))
		return why_set(why, len, "the CPU list is empty; give CPUs such as 2-3");
	for (cpu = 0; cpu < NE_MAX_CPUS; cpu++) {
		const struct ne_cpu *c = &t->cpu[cpu];

		if (!ne_cpuset_has(req->list, cpu))
			continue;
		if (cpu >= t->nr_cpus || !c->present)
			return why_set(why, len, "CPU %d does not exist (CPUs 0-%d are present)",
				       cpu, t->nr_cpus - 1);
		if (ne_cpuset_has(core0, cpu)) {
			ne_cpuset_format(core0, s1, sizeof(s1));
			return why_set(why, len, "CPU %d belongs to CPU 0's core (CPUs %s), which stays "
				       "with the parent; choose CPUs of other cores", cpu, s1);
		}
		if (!c->online || !c->known)
			return why_set(why, len, "CPU %d is offline; bring it online first "
				       "(echo 1 > /sys/devices/system/cpu/cpu%d/online)", cpu, cpu);
		ne_cpuset_format(&c->siblings, s1, sizeof(s1));
		if (!ne_cpuset_subset(&c->siblings, req->list))
			return why_set(why, len, "CPU %d is only part of its core (CPUs %s); a pool "
				       "takes whole cores: add the other threads or use --count",
				       cpu, s1);
		if (ne_cpuset_count(&c->siblings) != t->threads_per_core)
			return why_set(why, len, "the core of CPU %d (CPUs %s) has an offline thread; "
				       "bring all its threads online", cpu, s1);
		if (c->node < 0)
			return why_set(why, len, "the NUMA node of CPU %d is unknown", cpu);
		if (n >= 0 && c->node != n) {
			snprintf(s2, sizeof(s2), "%d", n);
			return why_set(why, len, "the CPUs are on different NUMA nodes (%s and %d); "
				       "a pool must be on one node", s2, c->node);
		}
		n = c->node;
	}
	*out = *req->list;
	*node = n;
	return check_memory(t, n, req->mem_bytes, why, len);
}

static int choose_count(const struct ne_topo *t, const struct ne_pool_req *req,
			const struct ne_cpuset *core0, struct ne_cpuset *out, int *node,
			char *why, size_t len)
{
	int tpc = t->threads_per_core, cores = req->count / tpc;
	int n, cpu, avail[NE_MAX_NODES] = { 0 }, best = -1;
	char summary[256] = "";
	size_t off = 0;

	if (req->count <= 0)
		return why_set(why, len, "--count must be a positive number of CPUs");
	if (req->count % tpc)
		return why_set(why, len, "a core has %d threads on this machine, so the CPU count "
			       "must be a multiple of %d (asked for %d)", tpc, tpc, req->count);
	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (core_usable(t, cpu, core0) && t->cpu[cpu].node < NE_MAX_NODES)
			avail[t->cpu[cpu].node]++;
	/* Lowest node with enough cores and the memory to back them. */
	for (n = 0; n < t->nr_nodes; n++) {
		if (avail[n] < cores)
			continue;
		if (best < 0)
			best = n;
		if (req->mem_bytes > t->node_mem_free[n])
			continue;
		ne_cpuset_zero(out);
		for (cpu = 0; cpu < t->nr_cpus && cores; cpu++) {
			if (!core_usable(t, cpu, core0) || t->cpu[cpu].node != n)
				continue;
			for (int s = cpu; s < t->nr_cpus; s++)
				if (ne_cpuset_has(&t->cpu[cpu].siblings, s))
					ne_cpuset_add(out, s);
			cores--;
		}
		*node = n;
		return 0;
	}
	if (best >= 0)
		return check_memory(t, best, req->mem_bytes, why, len);
	for (n = 0; n < t->nr_nodes && off < sizeof(summary); n++) {
		int w = snprintf(summary + off, sizeof(summary) - off, "%snode %d: %d",
				 off ? ", " : "", n, avail[n]);
		if (w < 0)
			break;
		off += w;
	}
	return why_set(why, len, "no NUMA node has %d free full cores of %d threads for %d CPUs "
		       "(CPU 0's core and cores with offline threads excluded; usable cores: %s)",
		       cores, tpc, req->count, summary);
}

int ne_pool_choose(const struct ne_topo *t, const struct ne_pool_req *req,
		   struct ne_cpuset *out, int *node, char *why, size_t whylen)
{
	struct ne_cpuset core0;

	why[0] = '\0';
	core_of_cpu0(t, &core0);
	if (req->list)
		return check_list(t, req, &core0, out, node, why, whylen);
	return choose_count(t, req, &core0, out, node, why, whylen);
}

/* The pool as the driver stores it; -ENOENT when the module is not loaded. */
int ne_pool_read(struct ne_cpuset *set, char *raw, size_t rawlen)
{
	char path[4096];
	int rc;

	rc = ne_path(path, sizeof(path), NE_CPUS_PARAM);
	if (!rc)
		rc = ne_read_str(path, raw, rawlen);
	if (rc)
		return rc;
	return ne_cpuset_parse(raw, set);
}

int ne_pool_node(const struct ne_topo *t, const struct ne_cpuset *pool)
{
	int cpu = ne_cpuset_first(pool);

	return cpu >= 0 && cpu < t->nr_cpus ? t->cpu[cpu].node : -1;
}

static int pool_write(const char *val)
{
	char path[4096];
	int rc;

	rc = ne_path(path, sizeof(path), NE_CPUS_PARAM);
	/* sysfs ignores a zero-length write: "clear" must be written as "\n". */
	return rc ? rc : ne_write_str(path, val[0] ? val : "\n");
}

/* Put a previous pool string back; "" clears (the driver answers EINVAL). */
int ne_pool_restore(const char *raw)
{
	int rc;

	rc = pool_write(raw);
	if (!raw[0] && rc == -EINVAL)
		rc = 0;
	if (rc)
		ne_warn("could not restore the previous CPU pool %s: %s", raw, strerror(-rc));
	return rc;
}

static int report_write_error(int rc, const char *list)
{
	switch (-rc) {
	case EPERM:
		ne_err("enclaves are running: the CPU pool cannot change while an enclave exists; "
		       "stop the enclaves first");
		break;
	case EACCES:
		ne_err("permission denied writing the CPU pool; run as root");
		break;
	case EBUSY:
		ne_err("the kernel could not take CPUs %s offline (busy); retry, or choose other CPUs",
		       list);
		break;
	case ENOENT:
		ne_err("the nitro_enclaves module is not loaded; run 'nectl load' first");
		break;
	default:
		ne_err("the driver refused CPU pool %s: %s", list, strerror(-rc));
	}
	return rc;
}

int ne_pool_set(const struct ne_pool_req *req, struct ne_cpuset *chosen, int *node)
{
	char old[1024], list[1024], back[1024], path[4096], why[512];
	struct ne_cpuset oldset;
	struct ne_topo *t;
	int rc;

	rc = ne_pool_read(&oldset, old, sizeof(old));
	if (rc == -ENOENT)
		return report_write_error(rc, "");
	if (rc) {
		ne_err("cannot read the current CPU pool: %s", strerror(-rc));
		return rc;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = ne_topo_read(t);
	if (rc) {
		ne_err("cannot read the CPU topology: %s", strerror(-rc));
		goto out;
	}
	/*
	 * Every clear and set takes CPUs through hotplug, so refuse what can be
	 * refused now. A list disjoint from the old pool sees the same topology
	 * before and after the clear (the old pool holds whole cores).
	 */
	if (req->list && old[0] && !memcmp(req->list, &oldset, sizeof(oldset))) {
		*chosen = oldset;
		*node = ne_pool_node(t, &oldset);
		goto out;
	}
	if (!old[0] || (req->list && !sets_intersect(req->list, &oldset))) {
		rc = ne_pool_choose(t, req, chosen, node, why, sizeof(why));
		if (rc) {
			ne_err("%s", why);
			goto out;
		}
	} else if (req->count % t->threads_per_core) {
		rc = why_set(why, sizeof(why), "a core has %d threads on this machine, so the CPU "
			     "count must be a multiple of %d (asked for %d)",
			     t->threads_per_core, t->threads_per_core, req->count);
		ne_err("%s", why);
		goto out;
	}
	if (old[0]) {
		/* The driver onlines the old pool's CPUs; upstream then says EINVAL. */
		rc = pool_write("");
		if (rc && rc != -EINVAL) {
			report_write_error(rc, "");
			goto out;
		}
		rc = ne_topo_read(t);
		if (rc) {
			ne_err("cannot read the CPU topology: %s", strerror(-rc));
			goto restore;
		}
	}
	rc = ne_pool_choose(t, req, chosen, node, why, sizeof(why));
	if (rc) {
		ne_err("%s", why);
		goto restore;
	}
	ne_cpuset_format(chosen, list, sizeof(list));
	rc = pool_write(list);
	if (rc) {
		report_write_error(rc, list);
		goto restore;
	}
	/* nitro-cli parses the parameter back: it must read as written. */
	rc = ne_path(path, sizeof(path), NE_CPUS_PARAM);
	if (!rc)
		rc = ne_read_str(path, back, sizeof(back));
	if (!rc && strcmp(back, list)) {
		ne_err("the driver stored CPU pool '%s' instead of '%s'", back, list);
		rc = -EIO;
	}
	if (rc)
		goto restore;
out:
	free(t);
	return rc;
restore:
	free(t);
	/* With no old pool, a failed write already left the driver's pool empty. */
	if (old[0])
		ne_pool_restore(old);
	return rc;
}
