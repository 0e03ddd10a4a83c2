// SPDX-License-Identifier: GPL-2.0
/*
 * Nitro Enclaves CPU pool: the value of the ne_cpus parameter, the offlined
 * full cores it names, and the reservation of whole cores. It knows nothing
 * about enclaves: whoever sets ne_cpus says whether the pool is in use.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/capability.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/nitro_enclaves.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/topology.h>

#include "ne_drv.h"
#include "ne_pool_rules.h"

/* Bytes of the ne_cpus string, NUL included (as upstream). */
#define NE_CPUS_SIZE	512

/*
 * Statically initialised: "modprobe nitro_enclaves ne_cpus=..." runs the
 * setter before module init.
 */
static DEFINE_MUTEX(ne_cpu_pool_lock);

/**
 * struct ne_cpu_pool - The CPUs given to enclaves (offline for Linux).
 * @str:	The ne_cpus value as written (without a trailing newline).
 * @nr_cores:	Full cores in the pool, numbered in discovery order.
 * @cores:	@nr_cores cpumasks of cpumask_size() bytes: each core's CPUs.
 * @avail:	Bitmap of the cores no enclave has reserved.
 * @shape:	What enclaves snapshot at creation.
 *
 * All fields: ne_cpu_pool_lock.
 */
struct ne_cpu_pool {
	char str[NE_CPUS_SIZE];
	unsigned int nr_cores;
	char *cores;
	unsigned long *avail;
	struct ne_pool_snapshot shape;
};

static struct ne_cpu_pool ne_pool;

/*
 * The CPUs Linux must not bring online: the pool's, while it exists. Read
 * by the hotplug callback without a lock (it runs while ne_pool_setup()
 * or ne_pool_teardown() may hold ne_cpu_pool_lock); bits are set before a
 * CPU is offlined and cleared before the driver onlines it.
 */
static struct cpumask ne_pool_cpus;
static int ne_cpuhp_state = -1;
/* Module exit has run: a late ne_cpus write must not offline anything. */
static bool ne_pool_closed;

static struct cpumask *ne_pool_core(unsigned int i)
{
	return (struct cpumask *)(ne_pool.cores + i * cpumask_size());
}

/* The pool core holding @cpu, or -1. */
static int ne_pool_core_of(unsigned int cpu)
{
	unsigned int i;

	lockdep_assert_held(&ne_cpu_pool_lock);

	for (i = 0; i < ne_pool.nr_cores; i++)
		if (cpumask_test_cpu(cpu, ne_pool_core(i)))
			return i;

	return -1;
}

static void ne_pool_take(unsigned int i, struct cpumask *reserved)
{
	lockdep_assert_held(&ne_cpu_pool_lock);

	clear_bit(i, ne_pool.avail);
	cpumask_or(reserved, reserved, ne_pool_core(i));
}

/**
 * ne_cpu_pool_snapshot() - The pool's shape, if a core is free.
 * @snap:	Filled on success.
 *
 * Return: 0 or -NE_ERR_NO_CPUS_AVAIL_IN_POOL.
 */
int ne_cpu_pool_snapshot(struct ne_pool_snapshot *snap)
{
	int rc = 0;

	mutex_lock(&ne_cpu_pool_lock);
	if (!ne_pool.nr_cores ||
	    find_first_bit(ne_pool.avail, ne_pool.nr_cores) >= ne_pool.nr_cores)
		rc = -NE_ERR_NO_CPUS_AVAIL_IN_POOL;
	else
		*snap = ne_pool.shape;
	mutex_unlock(&ne_cpu_pool_lock);

	return rc;
}

/**
 * ne_cpu_pool_pick() - Choose a CPU for an enclave (vCPU id 0).
 * @reserved:	The enclave's reserved CPUs; a newly reserved core is added.
 * @used:	The enclave's CPUs already added.
 * @cpu:	The chosen CPU.
 * @reserved_new: Set if a core was reserved for this pick.
 *
 * First a free thread of a core the enclave already holds (by core, then
 * CPU, ascending), else the first thread of the lowest free pool core.
 *
 * Return: 0 or -NE_ERR_NO_CPUS_AVAIL_IN_POOL.
 */
int ne_cpu_pool_pick(struct cpumask *reserved, const struct cpumask *used,
		     unsigned int *cpu, bool *reserved_new)
{
	unsigned int i, c;
	int rc = 0;

	mutex_lock(&ne_cpu_pool_lock);

	for (i = 0; i < ne_pool.nr_cores; i++) {
		if (!cpumask_subset(ne_pool_core(i), reserved))
			continue;
		for_each_cpu(c, ne_pool_core(i)) {
			if (!cpumask_test_cpu(c, used)) {
				*cpu = c;
				goto unlock;
			}
		}
	}

	i = find_first_bit(ne_pool.avail, ne_pool.nr_cores);
	if (i >= ne_pool.nr_cores) {
		rc = -NE_ERR_NO_CPUS_AVAIL_IN_POOL;
		goto unlock;
	}

	ne_pool_take(i, reserved);
	*cpu = cpumask_first(ne_pool_core(i));
	*reserved_new = true;
unlock:
	mutex_unlock(&ne_cpu_pool_lock);
	return rc;
}

/**
 * ne_cpu_pool_reserve() - Reserve the free pool core holding @cpu.
 * @reserved:	The enclave's reserved CPUs; the core is added.
 * @cpu:	An explicitly requested CPU.
 *
 * Return: 0 or -NE_ERR_VCPU_NOT_IN_CPU_POOL.
 */
int ne_cpu_pool_reserve(struct cpumask *reserved, unsigned int cpu)
{
	int i, rc = 0;

	mutex_lock(&ne_cpu_pool_lock);
	i = ne_pool_core_of(cpu);
	if (i < 0 || !test_bit(i, ne_pool.avail))
		rc = -NE_ERR_VCPU_NOT_IN_CPU_POOL;
	else
		ne_pool_take(i, reserved);
	mutex_unlock(&ne_cpu_pool_lock);

	return rc;
}

/**
 * ne_cpu_pool_unreserve() - Give back the core just reserved for @cpu.
 * @reserved:	The enclave's reserved CPUs; the core is removed.
 * @cpu:	A CPU of that core.
 */
void ne_cpu_pool_unreserve(struct cpumask *reserved, unsigned int cpu)
{
	int i;

	mutex_lock(&ne_cpu_pool_lock);
	i = ne_pool_core_of(cpu);
	if (i >= 0) {
		cpumask_andnot(reserved, reserved, ne_pool_core(i));
		set_bit(i, ne_pool.avail);
	}
	mutex_unlock(&ne_cpu_pool_lock);
}

/**
 * ne_cpu_pool_put() - Give back every core of a released enclave.
 * @reserved:	The enclave's reserved CPUs (the caller clears it).
 *
 * The CPUs stay offline: they belong to the pool, not to Linux.
 */
void ne_cpu_pool_put(const struct cpumask *reserved)
{
	unsigned int i;

	mutex_lock(&ne_cpu_pool_lock);
	for (i = 0; i < ne_pool.nr_cores; i++)
		if (cpumask_subset(ne_pool_core(i), reserved))
			set_bit(i, ne_pool.avail);
	mutex_unlock(&ne_cpu_pool_lock);
}

/*
 * Online the pool's CPUs and forget the pool. Cores still reserved belong
 * to quarantined enclaves (module unload): they stay offline.
 */
static void ne_pool_teardown(void)
{
	unsigned int i, cpu;

	lockdep_assert_held(&ne_cpu_pool_lock);

	for (i = 0; i < ne_pool.nr_cores; i++) {
		if (!test_bit(i, ne_pool.avail)) {
			pr_warn("CPUs %*pbl stay offline: the device may still run an enclave on them\n",
				cpumask_pr_args(ne_pool_core(i)));
			continue;
		}
		for_each_cpu(cpu, ne_pool_core(i)) {
			cpumask_clear_cpu(cpu, &ne_pool_cpus);
			if (add_cpu(cpu) < 0)	/* 1: already online */
				pr_warn_ratelimited("cannot online CPU %u\n", cpu);
		}
	}

	kfree(ne_pool.cores);
	bitmap_free(ne_pool.avail);
	memset(&ne_pool, 0, sizeof(ne_pool));
	ne_pool.shape.numa_node = NUMA_NO_NODE;
}

static bool ne_topo_in_set(const void *ctx, unsigned int cpu)
{
	return cpumask_test_cpu(cpu, ctx);
}

static bool ne_topo_online(const void *ctx, unsigned int cpu)
{
	return cpu_online(cpu);
}

static int ne_topo_node(const void *ctx, unsigned int cpu)
{
	return cpu_to_node(cpu);
}

static unsigned int ne_topo_core_first(const void *ctx, unsigned int cpu)
{
	return cpumask_first(topology_sibling_cpumask(cpu));
}

static unsigned int ne_topo_core_weight(const void *ctx, unsigned int cpu)
{
	return cpumask_weight(topology_sibling_cpumask(cpu));
}

static bool ne_topo_core_in_set(const void *ctx, unsigned int cpu)
{
	return cpumask_subset(topology_sibling_cpumask(cpu), ctx);
}

/*
 * Offline the pool's CPUs; on failure online those already offlined. Each
 * is marked first, so nobody can bring it back once it is down.
 */
static int ne_pool_offline(const struct cpumask *set)
{
	unsigned int cpu, done;
	int rc;

	for_each_cpu(cpu, set) {
		cpumask_set_cpu(cpu, &ne_pool_cpus);
		rc = remove_cpu(cpu);
		if (rc > 0)	/* offlined meanwhile: not ours to give */
			rc = -EBUSY;
		if (rc)
			goto online_cpus;
	}

	return 0;

online_cpus:
	for_each_cpu(done, set) {
		cpumask_clear_cpu(done, &ne_pool_cpus);
		if (done == cpu)
			break;
		add_cpu(done);
	}
	return rc;
}

/* CPU hotplug: a pool CPU is the enclaves', Linux may not online it. */
static int ne_cpu_online(unsigned int cpu)
{
	if (cpumask_test_cpu(cpu, &ne_pool_cpus)) {
		pr_warn_ratelimited("CPU %u belongs to the Nitro Enclaves CPU pool; clear ne_cpus to online it\n",
				    cpu);
		return -EBUSY;
	}

	return 0;
}

/* Build the pool from a validated, non-empty @set. */
static int ne_pool_setup(const struct cpumask *set)
{
	const struct ne_topo topo = {
		.ctx		= set,
		.nr_cpus	= nr_cpu_ids,
		.in_set		= ne_topo_in_set,
		.online		= ne_topo_online,
		.node		= ne_topo_node,
		.core_first	= ne_topo_core_first,
		.core_weight	= ne_topo_core_weight,
		.core_in_set	= ne_topo_core_in_set,
	};
	struct ne_pool_layout layout;
	unsigned int *core_first;
	unsigned int i;
	int rc;

	lockdep_assert_held(&ne_cpu_pool_lock);

	core_first = kcalloc(nr_cpu_ids, sizeof(*core_first), GFP_KERNEL);
	if (!core_first)
		return -ENOMEM;

	rc = ne_pool_rules_check(&topo, &layout, core_first, nr_cpu_ids);
	if (rc)
		goto free_core_first;

	rc = -ENOMEM;
	ne_pool.cores = kcalloc(layout.nr_cores, cpumask_size(), GFP_KERNEL);
	if (!ne_pool.cores)
		goto free_core_first;
	ne_pool.avail = bitmap_zalloc(layout.nr_cores, GFP_KERNEL);
	if (!ne_pool.avail)
		goto free_cores;

	/* Read the topology now: an offline CPU has no siblings. */
	for (i = 0; i < layout.nr_cores; i++) {
		cpumask_copy(ne_pool_core(i),
			     topology_sibling_cpumask(core_first[i]));
		set_bit(i, ne_pool.avail);
	}

	rc = ne_pool_offline(set);
	if (rc)
		goto free_avail;

	ne_pool.nr_cores = layout.nr_cores;
	ne_pool.shape.threads_per_core = layout.threads_per_core;
	ne_pool.shape.nr_parent_vm_cores = nr_cpu_ids / layout.threads_per_core;
	ne_pool.shape.numa_node = layout.node;
	kfree(core_first);

	return 0;

free_avail:
	bitmap_free(ne_pool.avail);
	ne_pool.avail = NULL;
free_cores:
	kfree(ne_pool.cores);
	ne_pool.cores = NULL;
free_core_first:
	kfree(core_first);
	return rc;
}

/**
 * ne_cpu_pool_set() - Rebuild the pool from a value written to ne_cpus.
 * @val:	"" (clear the pool) or a CPU list; a trailing newline is allowed.
 * @busy:	Whether the pool is in use and may not change. Asked once @val
 *		is known to be valid; the caller keeps its answer true until
 *		this returns.
 *
 * Return: 0, -EPERM (no CAP_SYS_ADMIN, or @busy), -ENOSPC, -ENOMEM, the
 * list's parse error, -ENODEV after module exit, or the rebuild's error.
 */
int ne_cpu_pool_set(const char *val, bool (*busy)(void))
{
	cpumask_var_t set;
	size_t len;
	char *buf;
	int rc;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	len = strlen(val);
	if (len && val[len - 1] == '\n')
		len--;
	/* Refused before anything changes (upstream clears the pool first). */
	if (len >= NE_CPUS_SIZE)
		return -ENOSPC;

	buf = kmemdup_nul(val, len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (!zalloc_cpumask_var(&set, GFP_KERNEL)) {
		rc = -ENOMEM;
		goto free_buf;
	}
	rc = cpulist_parse(buf, set);
	if (rc)
		goto free_set;

	if (busy()) {
		rc = -EPERM;
		goto free_set;
	}

	mutex_lock(&ne_cpu_pool_lock);
	if (ne_pool_closed) {
		rc = -ENODEV;
		goto unlock;
	}
	ne_pool_teardown();
	/*
	 * An empty value only clears the pool and onlines its CPUs. Upstream
	 * returns -EINVAL (and logs) here although the clear succeeded; tools
	 * use "" to free the CPUs, so this driver reports success.
	 */
	if (!cpumask_empty(set)) {
		rc = ne_pool_setup(set);
		if (!rc)
			strscpy(ne_pool.str, buf, sizeof(ne_pool.str));
	}
unlock:
	mutex_unlock(&ne_cpu_pool_lock);
free_set:
	free_cpumask_var(set);
free_buf:
	kfree(buf);
	return rc;
}

/**
 * ne_cpu_pool_show() - The value ne_cpus reads back.
 * @buf:	A page.
 *
 * Return: bytes written.
 */
int ne_cpu_pool_show(char *buf)
{
	int n;

	mutex_lock(&ne_cpu_pool_lock);
	n = scnprintf(buf, PAGE_SIZE, "%s\n", ne_pool.str);
	mutex_unlock(&ne_cpu_pool_lock);

	return n;
}

/**
 * ne_cpu_pool_init() - Module init: refuse to online pool CPUs from now on.
 *
 * Return: 0 or the hotplug state setup's error.
 */
int ne_cpu_pool_init(void)
{
	int rc;

	/*
	 * A prepare state: its callback runs on the control CPU before the
	 * new CPU is started, so a refused CPU never runs Linux code.
	 */
	rc = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN,
				       "virt/nitro_enclaves:prepare",
				       ne_cpu_online, NULL);
	if (rc < 0)
		return rc;
	ne_cpuhp_state = rc;

	return 0;
}

/**
 * ne_cpu_pool_exit() - Give the pool's CPUs back to Linux (module exit),
 * but for the cores of quarantined enclaves. Later ne_cpus writes fail.
 */
void ne_cpu_pool_exit(void)
{
	mutex_lock(&ne_cpu_pool_lock);
	ne_pool_teardown();
	ne_pool_closed = true;
	mutex_unlock(&ne_cpu_pool_lock);

	/* From here on nothing keeps a quarantined core offline. */
	if (ne_cpuhp_state >= 0)
		cpuhp_remove_state_nocalls(ne_cpuhp_state);
	ne_cpuhp_state = -1;
}
