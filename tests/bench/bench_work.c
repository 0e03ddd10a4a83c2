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

static void emit(const struct bench_res *r, const char *work, unsigned int size)
{
	printf("RES driver=%s work=%s size=%u rep=%u err=%d ns=%" PRIu64
	       " units=%u cmds=%ld addmem=%ld pages=%ld adj=%ld\n",
	       opt->driver, work, size, r->rep, r->err, r->ns,
	       r->units, r->cmds, r->addmem, r->pages, r->adjacent);
	fflush(stdout);
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
	printf("# %s: mapped and touched %zu MiB in %.1f s\n", opt->work,
	       (size_t)(len / MIB), (double)(now_ns() - t0) / 1e9);
	fflush(stdout);	/* W6 children leave with _exit() */
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

/* R reps of one enclave of the first npages; stops at the first failure. */
static void work_memory_size(const struct layout *l, unsigned int size)
{
	size_t npages = (size_t)size * MIB / l->page;
	unsigned int rep;

	for (rep = 1; rep <= opt->reps; rep++) {
		struct bench_res r = { .rep = rep, .units = 1,
				       .pages = (long)npages,
				       .adjacent = layout_adjacent(l, npages) };
		long c0, m0;
		int rc, efd = create_vm();

		if (efd < 0) {
			r.err = -efd;
			emit(&r, opt->work, size);
			break;
		}
		window_begin(&r, &c0, &m0);
		rc = enclave_setup(efd, l, npages);
		window_end(&r, c0, m0);
		close(efd);
		r.err = -rc;
		if (rc)
			r.ns = 0;
		emit(&r, opt->work, size);
		if (rc)
			break;	/* the same call fails the same way every time */
	}
}

/*
 * W1 (per_page), W2 and W3: memory setup of one enclave per size. The
 * largest size is mapped and touched once; smaller sizes use its start, so
 * hugepages are zeroed once per workload (slow under TCG) and not per size.
 */
static int work_memory(size_t page, int per_page)
{
	unsigned int i, max = opt->sizes[opt->nsizes - 1];
	struct layout l;
	int rc;

	rc = layout_make(&l, (size_t)max * MIB, page, per_page);
	if (rc) {
		struct bench_res r = { .rep = 1, .err = -rc, .adjacent = -1 };

		for (i = 0; i < opt->nsizes; i++)
			emit(&r, opt->work, opt->sizes[i]);
		return rc;
	}
	for (i = 0; i < opt->nsizes; i++)
		work_memory_size(&l, opt->sizes[i]);
	layout_free(&l);
	return 0;
}

/* W4: create, 64 MiB, one full core, start, close; time per enclave. */
static int work_lifecycle(void)
{
	struct layout l;
	unsigned int rep, k;
	int rc;

	rc = layout_make(&l, 64 * MIB, PAGE_2M, 0);
	if (rc) {
		struct bench_res r = { .rep = 1, .err = -rc, .adjacent = -1 };

		emit(&r, opt->work, 64);
		return rc;
	}
	for (rep = 1; rep <= opt->reps; rep++) {
		struct bench_res r = { .rep = rep, .units = opt->units,
				       .pages = (long)l.npages,
				       .adjacent = layout_adjacent(&l, l.npages) };
		long c0, m0;

		window_begin(&r, &c0, &m0);
		for (k = 0; k < opt->units && !rc; k++) {
			int efd = create_vm();

			if (efd < 0) {
				rc = efd;
				break;
			}
			rc = enclave_setup(efd, &l, l.npages);
			close(efd);
		}
		window_end(&r, c0, m0);
		r.err = -rc;
		if (rc)
			r.ns = 0;
		emit(&r, opt->work, 64);
		if (rc)
			break;
	}
	layout_free(&l);
	return 0;
}

/* W5: NE_CREATE_VM + close, units cycles per rep. */
static int work_churn(void)
{
	unsigned int rep, k;
	int rc = 0;

	for (rep = 1; rep <= opt->reps; rep++) {
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
		emit(&r, opt->work, 0);
		if (rc)
			break;
	}
	return 0;
}

/*
 * W6: two processes, each with its own enclave of S MiB in the nitro-cli
 * pattern. Each maps and touches its memory once; per round it creates an
 * enclave and reports ready, sets it up and starts it on 'g', reports, and
 * closes it on 'c' ('q' ends it). The parent lets both go at once
 * (concurrent) or one after the other (sequential).
 */
struct child {
	pid_t pid;
	int to, from;		/* our ends of the two pipes */
};

struct child_msg {
	int err;
	long npages;
};

static void child_main(int in, int out, unsigned int size)
{
	struct child_msg m = { 0, 0 };
	struct layout l;
	char c = 0;

	m.err = -layout_make(&l, (size_t)size * MIB, PAGE_2M, 1);
	m.npages = m.err ? 0 : (long)l.npages;
	for (;;) {
		int efd = -1;

		if (!m.err) {
			efd = create_vm();
			if (efd < 0)
				m.err = -efd;
		}
		if (write(out, &m, sizeof(m)) != sizeof(m) ||
		    read(in, &c, 1) != 1 || c == 'q')
			break;
		if (!m.err)
			m.err = -enclave_setup(efd, &l, l.npages);
		if (write(out, &m, sizeof(m)) != sizeof(m) ||
		    read(in, &c, 1) != 1)
			break;
		/* Held until both are measured. */
		if (efd >= 0)
			close(efd);
		if (c == 'q')
			break;
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
	if (c->pid < 0)
		return -errno;
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
	if (read(c->from, m, sizeof(*m)) != sizeof(*m)) {
		m->err = EPIPE;	/* the child died */
		return -1;
	}
	return 0;
}

static int child_send(struct child *c, char what)
{
	return write(c->to, &what, 1) == 1 ? 0 : EPIPE;
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

/* One round: both children are ready with a fresh enclave on entry. */
static int work_two_round(struct child *c, unsigned int rep, int concurrent)
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
	emit(&r, concurrent ? "W6c" : "W6s", opt->sizes[0]);
	/* Close both enclaves; the children come back ready for the next. */
	for (i = 0; i < 2 && !r.err; i++) {
		r.err = child_send(&c[i], 'c');
		if (!r.err && !child_msg(&c[i], &m[i]))
			r.err = m[i].err;
	}
	return r.err;
}

static int work_two(void)
{
	struct child c[2] = { { .pid = 0 }, { .pid = 0 } };
	struct child_msg m;
	unsigned int rep;
	int i, err = 0;

	for (i = 0; i < 2 && !err; i++) {
		err = -child_start(&c[i], opt->sizes[0]);
		if (!err) {
			child_msg(&c[i], &m);
			err = m.err;
		}
	}
	if (err) {
		struct bench_res r = { .rep = 1, .err = err, .adjacent = -1 };

		emit(&r, "W6c", opt->sizes[0]);
		emit(&r, "W6s", opt->sizes[0]);
	}
	for (rep = 1; rep <= opt->reps && !err; rep++) {
		err = work_two_round(c, rep, 1);
		if (!err)
			err = work_two_round(c, rep, 0);
	}
	for (i = 0; i < 2; i++)
		child_end(&c[i]);
	return 0;
}

int bench_run(const struct bench_opts *o)
{
	const char *w = o->work;
	int rc;

	opt = o;
	threads_per_core = read_threads_per_core();
	if (o->ctl_path && ctl_open(o->ctl_path)) {
		fprintf(stderr, "ne-bench: no emulator control port at %s\n",
			o->ctl_path);
		return 1;
	}
	if (o->latency_us >= 0 && ctl_latency(o->latency_us))
		return 1;
	dev_fd = open(NE_DEV, O_RDWR | O_CLOEXEC);
	if (dev_fd < 0) {
		fprintf(stderr, "ne-bench: %s: %s\n", NE_DEV, strerror(errno));
		return 1;
	}
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
	close(dev_fd);
	if (rc)
		fprintf(stderr, "ne-bench: %s: %s\n", w, strerror(-rc));
	return rc ? 1 : 0;
}
