// SPDX-License-Identifier: GPL-2.0
/*
 * The workloads W1-W6: each sets up its memory outside the timed window,
 * then times the driver's part R times and prints one RES line per rep.
 * A failing call ends the workload with its errno in the line (the upstream
 * driver is expected to fail some, e.g. NE_ERR_MEM_MAX_REGIONS).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/nitro_enclaves.h>

#include "bench.h"

static const struct bench_opts *opt;
static int dev_fd = -1;
static unsigned int threads_per_core = 2;

static void emit(const char *label, const struct bench_res *r,
		 const char *work, unsigned int size)
{
	printf("RES driver=%s work=%s size=%u rep=%u err=%d ns=%" PRIu64
	       " units=%u cmds=%ld addmem=%ld pages=%ld adj=%ld\n",
	       label, work, size, r->rep, r->err, r->ns,
	       r->units, r->cmds, r->addmem, r->pages, r->adjacent);
	fflush(stdout);
}

/*
 * Drivers. Each workload maps and touches its memory once; then, per size,
 * each driver in turn does its R reps on that same memory, so all drivers
 * see the same physical pages in the same order. Switching drivers unloads
 * the module, so before a switch nothing of ours may hold it: no enclave
 * fd, no device fd. The first group starts with the driver loaded now
 * (-C); the order reverses from one group (half a row, see halves()) to
 * the next, so each row is A B B A and the next row starts without a
 * switch.
 */
static const char *dev_path = NE_DEV;
static const char *loaded;	/* label this process last loaded, or NULL */
static unsigned int group;	/* size groups done: sets the driver order */
static unsigned int first;	/* the driver loaded at the start goes first */
static unsigned int lost;	/* bit d: drivers[d] could not be loaded */
static unsigned int nswitch;
static uint64_t switch_ns, map_ns;
static unsigned int rep_first, rep_last;	/* the reps of this half */
static int map_quiet;		/* W6 children: the parent reports mapping */

/*
 * Each row is measured A B B A: its R reps in two halves (the first
 * ceil(R/2), then the rest), the driver order reversed for the second, so
 * a drift of the host's speed during the row weighs on both drivers alike.
 * Returns the number of halves (1 when R = 1) and sets the reps of half h.
 */
static unsigned int halves(void)
{
	return opt->reps > 1 ? 2 : 1;
}

static void half_set(unsigned int h)
{
	unsigned int mid = (opt->reps + 1) / 2;

	rep_first = h ? mid + 1 : 1;
	rep_last = h ? opt->reps : mid;
}

/* Index of the k-th driver of the current group. */
static unsigned int driver_at(unsigned int k)
{
	unsigned int n = opt->ndrivers;

	return (first + (group % 2 ? n - 1 - k : k)) % n;
}

/* Whether drivers[d] is loaded and dev_fd open on it (no switch needed). */
static int driver_ready(unsigned int d)
{
	return loaded == opt->drivers[d] && dev_fd >= 0;
}

/* `switch_cmd LABEL`, its stdout ours; 0 when it exited 0. */
static int run_switch(const char *label)
{
	char *argv[] = { (char *)opt->switch_cmd, (char *)label, NULL };
	uint64_t t0 = now_ns(), t;
	int rc, status;
	pid_t pid;

	fflush(stdout);	/* our lines before the command's */
	/* posix_spawn: no copy of our page tables (the hugepages stay as they are) */
	rc = posix_spawnp(&pid, opt->switch_cmd, NULL, NULL, argv, environ);
	if (rc) {
		fprintf(stderr, "ne-bench: %s: %s\n", opt->switch_cmd, strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "ne-bench: waitpid: %s\n", strerror(errno));
			return -1;
		}
	}
	t = now_ns() - t0;
	nswitch++;
	switch_ns += t;
	printf("# %s: switch to %s in %.1f s\n", opt->work, label, (double)t / 1e9);
	fflush(stdout);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "ne-bench: '%s %s' failed (wait status 0x%x)\n",
			opt->switch_cmd, label, status);
		return -1;
	}
	return 0;
}

/*
 * Make drivers[d] the loaded driver and open the device on it. The caller
 * holds no enclave fd. A driver that fails to load is left out of the rest
 * of this run (ne-bench then exits 1: the harness broke, not the driver).
 */
static int driver_use(unsigned int d)
{
	const char *label = opt->drivers[d];

	if (lost & (1U << d))
		return -1;
	if (driver_ready(d))
		return 0;
	if (dev_fd >= 0) {
		close(dev_fd);
		dev_fd = -1;
	}
	if (opt->switch_cmd && loaded != label) {
		loaded = NULL;
		if (run_switch(label))
			goto lost;
	}
	dev_fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (dev_fd < 0 && opt->switch_cmd && loaded == label) {
		/* -C was wrong: not loaded after all */
		loaded = NULL;
		if (run_switch(label))
			goto lost;
		dev_fd = open(dev_path, O_RDWR | O_CLOEXEC);
	}
	if (dev_fd < 0) {
		fprintf(stderr, "ne-bench: %s (%s): %s\n", dev_path, label,
			strerror(errno));
		goto lost;
	}
	loaded = label;
	return 0;
lost:
	lost |= 1U << d;
	return -1;
}

/* Threads per core, from CPU 0's siblings (pool CPUs are offline). */
static unsigned int read_threads_per_core(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "r");
	unsigned int a, b, n = 1;
	char buf[64];

	if (!f)
		return 1;
	if (fgets(buf, sizeof(buf), f)) {
		if (sscanf(buf, "%u-%u", &a, &b) == 2 && b >= a)
			n = b - a + 1;
		else
			n = 1 + (unsigned int)(strchr(buf, ',') != NULL);
	}
	fclose(f);
	return n;
}

static int create_vm(void)
{
	uint64_t uid = 0;
	int fd = ioctl(dev_fd, NE_CREATE_VM, &uid);

	return fd < 0 ? -errno : fd;
}

static int add_region(int efd, void *addr, size_t len)
{
	struct ne_user_memory_region r = {
		.flags = NE_DEFAULT_MEMORY_REGION,
		.memory_size = len,
		.userspace_addr = (uintptr_t)addr,
	};

	return ioctl(efd, NE_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

/* One full core (auto-picked), then start with a hypervisor-chosen CID. */
static int add_core_and_start(int efd)
{
	struct ne_enclave_start_info si = { .flags = 0, .enclave_cid = 0 };
	unsigned int i;

	for (i = 0; i < threads_per_core; i++) {
		uint32_t cpu = 0;

		if (ioctl(efd, NE_ADD_VCPU, &cpu))
			return -errno;
	}
	return ioctl(efd, NE_START_ENCLAVE, &si) ? -errno : 0;
}

/* Memory to add: the hugepage-sized pieces in the order they are added. */
struct layout {
	struct hmap *maps;	/* W1: one per page; W2/W3: one */
	size_t nmaps;
	void **pages;		/* start of every hugepage, in add order */
	size_t npages;
	size_t page;
	int per_page;
	uint64_t *pfn;		/* NULL when pagemap gave no PFNs */
};

/* Adjacent pages among the first n (-1 when unknown). */
static long layout_adjacent(const struct layout *l, size_t n)
{
	return l->pfn ? count_adjacent(l->pfn, n, l->page) : -1;
}

static void layout_free(struct layout *l)
{
	size_t i;

	for (i = 0; i < l->nmaps; i++)
		hmap_free(&l->maps[i]);
	free(l->maps);
	free(l->pages);
	free(l->pfn);
	memset(l, 0, sizeof(*l));
}

/* per_page: one mapping per hugepage (nitro-cli), else one memfd mapping. */
static int layout_make(struct layout *l, size_t len, size_t page, int per_page)
{
	uint64_t t0 = now_ns();
	size_t i;
	int rc;

	memset(l, 0, sizeof(*l));
	l->page = page;
	l->per_page = per_page;
	l->npages = len / page;
	l->nmaps = per_page ? l->npages : 1;
	l->maps = calloc(l->nmaps, sizeof(*l->maps));
	l->pages = calloc(l->npages, sizeof(*l->pages));
	l->pfn = calloc(l->npages, sizeof(*l->pfn));
	if (!l->maps || !l->pages || !l->pfn) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < l->nmaps; i++) {
		rc = per_page ? hmap_anon(&l->maps[i], page, page)
			      : hmap_memfd(&l->maps[i], len, page);
		if (rc) {
			l->nmaps = i;
			fprintf(stderr, "ne-bench: %zu MiB hugetlb mapping %zu: %s\n",
				(size_t)((per_page ? page : len) / MIB), i,
				strerror(-rc));
			goto out;
		}
		hmap_touch(&l->maps[i]);
	}
	for (i = 0; i < l->npages; i++)
		l->pages[i] = per_page ? l->maps[i].addr
				       : (char *)l->maps[0].addr + i * page;
	rc = pagemap_pfns(l->pages, l->npages, l->pfn);
	if (rc) {
		fprintf(stderr, "ne-bench: pagemap: %s (adjacency unknown)\n",
			strerror(-rc));
		free(l->pfn);
		l->pfn = NULL;
		rc = 0;
	}
	/* Where the untimed part of a run goes (page zeroing under TCG). */
	t0 = now_ns() - t0;
	map_ns += t0;
	if (!map_quiet) {
		printf("# %s: mapped and touched %zu MiB in %.1f s\n", opt->work,
		       (size_t)(len / MIB), (double)t0 / 1e9);
		fflush(stdout);
	}
out:
	if (rc)
		layout_free(l);
	return rc;
}

/*
 * Timed: the first npages of the layout (one ioctl per mapping, or one
 * ioctl for that prefix of the single mapping), one core, start.
 */
static int enclave_setup(int efd, const struct layout *l, size_t npages)
{
	size_t i;
	int rc;

	if (!l->per_page) {
		rc = add_region(efd, l->pages[0], npages * l->page);
		if (rc)
			return rc;
	}
	for (i = 0; l->per_page && i < npages; i++) {
		rc = add_region(efd, l->pages[i], l->page);
		if (rc)
			return rc;
	}
	return add_core_and_start(efd);
}

static void window_begin(struct bench_res *r, long *c0, long *m0)
{
	ctl_counts(c0, m0);
	r->ns = now_ns();
}

static void window_end(struct bench_res *r, long c0, long m0)
{
	long c1, m1;

	r->ns = now_ns() - r->ns;
	ctl_counts(&c1, &m1);
	r->cmds = c0 >= 0 && c1 >= 0 ? c1 - c0 : -1;
	r->addmem = m0 >= 0 && m1 >= 0 ? m1 - m0 : -1;
}

/*
 * The rep before each driver's block is a warm-up and is not recorded: the first
 * enclave after a driver switch pays for the module load and for the pool's
 * CPU hot-unplug settling. A failure is recorded whatever the rep.
 */
static void emit_rep(const char *label, struct bench_res *r, const char *work,
		     unsigned int size)
{
	if (r->rep < rep_first) {
		if (!r->err)
			return;
		r->rep = rep_first;
	}
	emit(label, r, work, size);
}

/* The reps of one enclave of the first npages; 1 after a failure. */
static int work_memory_size(const struct layout *l, unsigned int size,
			    const char *label)
{
	size_t npages = (size_t)size * MIB / l->page;
	unsigned int rep;

	for (rep = rep_first - 1; rep <= rep_last; rep++) {
		struct bench_res r = { .rep = rep, .units = 1,
				       .pages = (long)npages,
				       .adjacent = layout_adjacent(l, npages) };
		long c0, m0;
		int rc, efd = create_vm();

		if (efd < 0) {
			r.err = -efd;
			emit_rep(label, &r, opt->work, size);
			return 1;
		}
		window_begin(&r, &c0, &m0);
		rc = enclave_setup(efd, l, npages);
		window_end(&r, c0, m0);
		close(efd);
		r.err = -rc;
		if (rc)
			r.ns = 0;
		emit_rep(label, &r, opt->work, size);
		if (rc)
			return 1;	/* the same call fails the same way every time */
	}
	return 0;
}

/* One failed RES line per driver: the workload could not set up its memory. */
static void emit_all(const char *work, unsigned int size, int err)
{
	struct bench_res r = { .rep = 1, .err = err, .adjacent = -1 };
	unsigned int d;

	for (d = 0; d < opt->ndrivers; d++)
		emit(opt->drivers[d], &r, work, size);
}

/*
 * W1 (per_page), W2 and W3: memory setup of one enclave per size. The
 * largest size is mapped and touched once; smaller sizes use its start, so
 * hugepages are zeroed once per workload (slow under TCG), not per size or
 * per driver; every driver sets up the same pages.
 */
static int work_memory(size_t page, int per_page)
{
	unsigned int i, k, max = opt->sizes[opt->nsizes - 1];
	struct layout l;
	int rc;

	rc = layout_make(&l, (size_t)max * MIB, page, per_page);
	if (rc) {
		for (i = 0; i < opt->nsizes; i++)
			emit_all(opt->work, opt->sizes[i], -rc);
		return rc;
	}
	for (i = 0; i < opt->nsizes; i++) {
		unsigned int failed = 0, h;

		for (h = 0; h < halves(); h++, group++) {
			half_set(h);
			for (k = 0; k < opt->ndrivers; k++) {
				unsigned int d = driver_at(k);

				if (!(failed & 1U << d) && !driver_use(d) &&
				    work_memory_size(&l, opt->sizes[i],
						     opt->drivers[d]))
					failed |= 1U << d;
			}
		}
	}
	layout_free(&l);
	return 0;
}

/* W4, R reps of: units x (create, 64 MiB, one full core, start, close). */
static void work_lifecycle_reps(const struct layout *l, const char *label)
{
	unsigned int rep, k;
	int rc = 0;

	for (rep = rep_first - 1; rep <= rep_last; rep++) {
		struct bench_res r = { .rep = rep, .units = opt->units,
				       .pages = (long)l->npages,
				       .adjacent = layout_adjacent(l, l->npages) };
		long c0, m0;

		window_begin(&r, &c0, &m0);
		for (k = 0; k < opt->units && !rc; k++) {
			int efd = create_vm();

			if (efd < 0) {
				rc = efd;
				break;
			}
			rc = enclave_setup(efd, l, l->npages);
			close(efd);
		}
		window_end(&r, c0, m0);
		r.err = -rc;
		if (rc)
			r.ns = 0;
		emit_rep(label, &r, opt->work, 64);
		if (rc)
			break;
	}
}

/* W4: create, 64 MiB, one full core, start, close; time per enclave. */
static int work_lifecycle(void)
{
	struct layout l;
	unsigned int k, h;
	int rc;

	rc = layout_make(&l, 64 * MIB, PAGE_2M, 0);
	if (rc) {
		emit_all(opt->work, 64, -rc);
		return rc;
	}
	for (h = 0; h < halves(); h++, group++) {
		half_set(h);
		for (k = 0; k < opt->ndrivers; k++) {
			unsigned int d = driver_at(k);

			if (!driver_use(d))
				work_lifecycle_reps(&l, opt->drivers[d]);
		}
	}
	layout_free(&l);
	return 0;
}

/* W5, R reps of: units x (NE_CREATE_VM + close). */
static void work_churn_reps(const char *label)
{
	unsigned int rep, k;
	int rc = 0;

	for (rep = rep_first - 1; rep <= rep_last; rep++) {
		struct bench_res r = { .rep = rep, .units = opt->units };
		long c0, m0;

		window_begin(&r, &c0, &m0);
		for (k = 0; k < opt->units; k++) {
			int efd = create_vm();

			if (efd < 0) {
				rc = efd;
				break;
			}
			close(efd);
		}
		window_end(&r, c0, m0);
		r.err = -rc;
		if (rc)
			r.ns = 0;
		emit_rep(label, &r, opt->work, 0);
		if (rc)
			break;
	}
}

/* W5: NE_CREATE_VM + close, units cycles per rep; no memory. */
static int work_churn(void)
{
	unsigned int k, h;

	for (h = 0; h < halves(); h++, group++) {
		half_set(h);
		for (k = 0; k < opt->ndrivers; k++) {
			unsigned int d = driver_at(k);

			if (!driver_use(d))
				work_churn_reps(opt->drivers[d]);
		}
	}
	return 0;
}

/*
 * W6: two processes, each with its own enclave of S MiB in the nitro-cli
 * pattern. Each maps and touches its memory once (kept for every driver),
 * sends a first message, then answers every one-byte order with one:
 *   'o'  open the device if closed, create an enclave if none
 *   'g'  set the enclave up and start it (the timed part)
 *   'c'  close the enclave and create the next one, held until its round
 *   'r'  release: close the enclave and the device, for a driver switch
 *   'q'  quit (also on end of file)
 * The parent lets both go at once (concurrent) or one after the other
 * (sequential).
 */
struct child {
	pid_t pid;
	int to, from;		/* our ends of the two pipes */
	int dead;		/* it stopped answering */
};

struct child_msg {
	int err;		/* errno of this order, 0 when it worked */
	long npages;
};

/* Order 'o' (and the second half of 'c'): the device, then an enclave. */
static int child_open(int *efd)
{
	if (dev_fd < 0) {
		dev_fd = open(dev_path, O_RDWR | O_CLOEXEC);
		if (dev_fd < 0)
			return errno;
	}
	if (*efd < 0) {
		*efd = create_vm();
		if (*efd < 0)
			return -*efd;
	}
	return 0;
}

static void child_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void child_main(int in, int out, unsigned int size)
{
	struct child_msg m = { 0, 0 };
	struct layout l;
	int map_err, efd = -1;
	char c;

	map_quiet = 1;
	child_close(&dev_fd);	/* the parent's, if any: it is not ours to hold */
	map_err = -layout_make(&l, (size_t)size * MIB, PAGE_2M, 1);
	m.err = map_err;
	m.npages = map_err ? 0 : (long)l.npages;
	while (write(out, &m, sizeof(m)) == sizeof(m) && read(in, &c, 1) == 1) {
		m.err = map_err;
		if (c == 'q')
			break;
		if (map_err)
			continue;
		switch (c) {
		case 'c':
			child_close(&efd);
			/* fall through */
		case 'o':
			m.err = child_open(&efd);
			break;
		case 'g':
			m.err = efd < 0 ? EBADF : -enclave_setup(efd, &l, l.npages);
			break;
		case 'r':
			child_close(&efd);
			child_close(&dev_fd);
			break;
		default:
			m.err = EINVAL;
		}
	}
	_exit(0);
}

static int child_start(struct child *c, unsigned int size)
{
	int to[2], from[2];

	if (pipe(to))
		return -errno;
	if (pipe(from)) {
		close(to[0]);
		close(to[1]);
		return -errno;
	}
	fflush(stdout);
	c->pid = fork();
	if (c->pid < 0) {
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return -errno;
	}
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		child_main(to[0], from[1], size);
	}
	close(to[0]);
	close(from[1]);
	c->to = to[1];
	c->from = from[0];
	return 0;
}

static int child_msg(struct child *c, struct child_msg *m)
{
	if (c->dead || read(c->from, m, sizeof(*m)) != sizeof(*m)) {
		m->err = EPIPE;	/* the child died */
		c->dead = 1;
		return -1;
	}
	return 0;
}

static int child_send(struct child *c, char what)
{
	if (!c->dead && write(c->to, &what, 1) == 1)
		return 0;
	c->dead = 1;
	return EPIPE;
}

static void child_end(struct child *c)
{
	if (c->pid <= 0)
		return;
	if (child_send(c, 'q'))
		kill(c->pid, SIGKILL);
	close(c->to);
	close(c->from);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
}

static int first_err(int a, int b)
{
	return a ? a : b;
}

/* The same order to both children, then both answers; the first error. */
static int children_order(struct child *c, char what, struct child_msg *m)
{
	int i, err = 0;

	for (i = 0; i < 2; i++)
		err = first_err(err, child_send(&c[i], what));
	for (i = 0; i < 2; i++) {
		child_msg(&c[i], &m[i]);
		err = first_err(err, m[i].err);
	}
	return err;
}

/* One round: both children hold a fresh enclave on entry, and on return. */
static int work_two_round(struct child *c, const char *label, unsigned int rep,
			  int concurrent)
{
	struct child_msg m[2] = { { 0, 0 }, { 0, 0 } };
	struct bench_res r = { .rep = rep, .units = 1, .adjacent = -1 };
	long c0, m0;
	int i, err = 0;

	window_begin(&r, &c0, &m0);
	if (concurrent) {
		err = first_err(child_send(&c[0], 'g'), child_send(&c[1], 'g'));
		child_msg(&c[0], &m[0]);
		child_msg(&c[1], &m[1]);
	} else {
		for (i = 0; i < 2; i++) {
			err = first_err(err, child_send(&c[i], 'g'));
			child_msg(&c[i], &m[i]);
		}
	}
	window_end(&r, c0, m0);
	r.pages = m[0].npages + m[1].npages;
	r.err = first_err(err, first_err(m[0].err, m[1].err));
	if (r.err)
		r.ns = 0;
	emit_rep(label, &r, concurrent ? "W6c" : "W6s", opt->sizes[0]);
	/* Close both enclaves; the children come back with the next ones. */
	return r.err ? r.err : children_order(c, 'c', m);
}

static int work_two(void)
{
	struct child c[2] = { { .pid = 0 }, { .pid = 0 } };
	struct child_msg m[2];
	uint64_t t0 = now_ns();
	unsigned int k, h, rep;
	int i, err = 0;

	/* A child that died must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 2 && !err; i++)
		err = -child_start(&c[i], opt->sizes[0]);
	for (i = 0; i < 2; i++) {
		if (c[i].pid > 0) {
			child_msg(&c[i], &m[i]);
			err = first_err(err, m[i].err);
		}
	}
	if (err) {
		emit_all("W6c", opt->sizes[0], err);
		emit_all("W6s", opt->sizes[0], err);
		goto out;
	}
	t0 = now_ns() - t0;
	map_ns += t0;
	printf("# W6: mapped and touched 2 x %u MiB in %.1f s\n", opt->sizes[0],
	       (double)t0 / 1e9);
	for (h = 0; h < halves() && !c[0].dead && !c[1].dead; h++, group++) {
		half_set(h);
		for (k = 0; k < opt->ndrivers && !c[0].dead && !c[1].dead; k++) {
			unsigned int d = driver_at(k);
			const char *label = opt->drivers[d];

			/* Nothing may hold the module while it is switched. */
			if (!driver_ready(d) && children_order(c, 'r', m))
				break;
			if (driver_use(d))
				continue;
			err = children_order(c, 'o', m);
			if (err) {
				struct bench_res r = { .rep = 1, .err = err, .adjacent = -1 };

				emit(label, &r, "W6c", opt->sizes[0]);
				emit(label, &r, "W6s", opt->sizes[0]);
			}
			for (rep = rep_first - 1; rep <= rep_last && !err; rep++) {
				err = work_two_round(c, label, rep, 1);
				if (!err)
					err = work_two_round(c, label, rep, 0);
			}
		}
	}
	err = c[0].dead || c[1].dead ? EPIPE : 0;
	if (err)
		fprintf(stderr, "ne-bench: W6: a child process died\n");
out:
	for (i = 0; i < 2; i++)
		child_end(&c[i]);
	return -err;
}

int bench_run(const struct bench_opts *o)
{
	const char *w = o->work, *dev = getenv("NE_BENCH_DEV");
	int rc;

	opt = o;
	if (dev && dev[0])
		dev_path = dev;
	if (o->current >= 0) {
		first = (unsigned int)o->current;
		loaded = o->drivers[first];
	}
	threads_per_core = read_threads_per_core();
	if (o->ctl_path && ctl_open(o->ctl_path)) {
		fprintf(stderr, "ne-bench: no emulator control port at %s\n",
			o->ctl_path);
		return 1;
	}
	if (o->latency_us >= 0 && ctl_latency(o->latency_us))
		return 1;
	if (!strcmp(w, "W1"))
		rc = work_memory(PAGE_2M, 1);
	else if (!strcmp(w, "W2"))
		rc = work_memory(PAGE_2M, 0);
	else if (!strcmp(w, "W3"))
		rc = work_memory(PAGE_1G, 0);
	else if (!strcmp(w, "W4"))
		rc = work_lifecycle();
	else if (!strcmp(w, "W5"))
		rc = work_churn();
	else
		rc = work_two();
	if (dev_fd >= 0)
		close(dev_fd);
	/* One line per run for the guest's totals: where the untimed time went. */
	printf("# %s total: switches=%u switch_s=%.1f map_s=%.1f\n", w, nswitch,
	       (double)switch_ns / 1e9, (double)map_ns / 1e9);
	fflush(stdout);
	if (rc)
		fprintf(stderr, "ne-bench: %s: %s\n", w, strerror(-rc));
	return rc || lost ? 1 : 0;
}
