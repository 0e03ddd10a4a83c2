// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: several processes creating and running enclaves at once,
 * threads hammering one enclave fd with mixed ioctls while it closes, and
 * an event while one enclave pins a large region, which must not hold up
 * another enclave's creation or release. Afterwards no slot is left and the
 * pool is whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ne_lib.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

/* Errors a racing caller may legitimately see. */
static int benign(int rc)
{
	return rc >= 0 || rc == -NE_ERR_NO_CPUS_AVAIL_IN_POOL ||
	       rc == -NE_ERR_VCPU_NOT_IN_CPU_POOL;
}

static int creator(int rounds)
{
	int dev = ne_dev_open(), bad = 0;

	if (dev < 0)
		return 100;
	for (int i = 0; i < rounds; i++) {
		uint64_t uid;
		uint32_t id = 0;
		int fd = ne_create(dev, &uid), rc;

		if (fd < 0) {
			bad += !benign(fd);
			continue;
		}
		rc = ne_add_vcpu(fd, &id);
		bad += !benign(rc);
		close(fd);
	}
	close(dev);
	return bad > 99 ? 99 : bad;
}

static int run_procs(int nproc, int (*fn)(int), int arg)
{
	int pids[16], bad = 0;

	fflush(stdout);
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			emu_close();
			_exit(fn(arg));
		}
	}
	for (int i = 0; i < nproc; i++) {
		int rc = pids[i] > 0 ? wait_child(pids[i], 300000) : 100;

		if (rc) {
			th_log("#   process %d: %d unexpected errors (or rc %d)", i, rc, rc);
			bad++;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(dev, concurrency, processes_create_at_once, 300)
{
	EXPECT_EQ(0, run_procs(6, creator, 100));
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

static int runner(int rounds)
{
	int dev = ne_dev_open(), bad = 0, done = 0, tries = 0;
	void *p = hp_map(SZ_64M, SHIFT_2M);

	if (dev < 0 || !p)
		return 100;
	while (done < rounds && tries++ < rounds * 50) {
		uint64_t uid, cid = 0;
		uint32_t id;
		int fd = ne_create(dev, &uid), rc = 0;

		if (fd < 0) {
			bad += !benign(fd);
			usleep(1000);
			continue;
		}
		rc = ne_set_mem(fd, 0, (uintptr_t)p, SZ_64M);
		for (int v = 0; !rc && v < 2; v++) {
			id = 0;
			rc = ne_add_vcpu(fd, &id);
		}
		if (!rc)
			rc = ne_start(fd, 0, &cid);
		if (!rc)
			done++;
		else
			bad += !benign(rc);
		close(fd);
	}
	close(dev);
	return done < rounds ? 98 : (bad > 97 ? 97 : bad);
}

TEST_F_TIMEOUT(dev, concurrency, processes_run_enclaves_at_once, 300)
{
	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, 3 * 32));
	EXPECT_EQ(0, run_procs(3, runner, 5));
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

/*
 * Device events (and enclave ends) keep coming while enclaves are created,
 * started and released: the event worker holds references on enclaves
 * that release tears down and unlists meanwhile, and may drop the last
 * one. Nothing may crash or leak.
 */
TEST_F_TIMEOUT(dev, concurrency, events_while_enclaves_come_and_go, 300)
{
	int pids[2], rcs[2], left = 2, rounds = 0;
	long long deadline = time(NULL) + 240;

	NEED_EMU();
	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, 2 * 32));
	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			emu_close();
			_exit(runner(10));
		}
		rcs[i] = pids[i] > 0 ? -1 : 100;
		left -= pids[i] <= 0;
	}
	while (left && time(NULL) < deadline) {
		emu_cmd(NULL, 0, rounds++ % 4 ? "event 20" : "end all");
		for (int i = 0; i < 2; i++) {
			int st;

			if (rcs[i] >= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i])
				continue;
			rcs[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			left--;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (rcs[i] < 0)
			rcs[i] = wait_child(pids[i], 1000);
		EXPECT_EQ(0, rcs[i], "process %d: unexpected errors (or rc)", i);
	}
	TH_LOG("%d rounds of events and ends", rounds);
	EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

struct hammer {
	int fd;
	char *mem;
	atomic_int stop;
	atomic_int bad;
	atomic_int calls;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!atomic_load(&h->stop)) {
		uint64_t cid = 0, off;
		uint32_t id = rand_r(&seed) % 7;
		struct pollfd pf = { .fd = h->fd, .events = POLLIN };
		int rc = 0;

		switch (rand_r(&seed) % 5) {
		case 0:
			rc = ne_add_vcpu(h->fd, &id);
			break;
		case 1:
			rc = ne_set_mem(h->fd, 0, (uintptr_t)(h->mem +
					(rand_r(&seed) % 32) * SZ_2M), SZ_2M);
			break;
		case 2:
			rc = ne_image_info(h->fd, NE_EIF_IMAGE, &off);
			break;
		case 3:
			rc = ne_start(h->fd, 0, &cid);
			break;
		case 4:
			poll(&pf, 1, 0);
			break;
		}
		/* Any errno is acceptable; a crash or hang is not. */
		(void)rc;
		atomic_fetch_add(&h->calls, 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(dev, concurrency, threads_hammer_one_fd_then_close, 120)
{
	struct hammer h = { 0 };
	pthread_t t[4];

	h.mem = t_hp(_th, 32 * SZ_2M);
	for (int round = 0; round < 3; round++) {
		h.fd = t_create(_th, self->dev, NULL);
		atomic_store(&h.stop, 0);
		for (int i = 0; i < 4; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, &h));
		usleep(700 * 1000);
		close(h.fd);	/* while the threads are still in ioctls */
		usleep(200 * 1000);
		atomic_store(&h.stop, 1);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	TH_LOG("%d ioctls issued", atomic_load(&h.calls));
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

/*
 * An event while one enclave pins a large region. The event worker has to
 * wait for that enclave's lock; it must not hold the enclave list while it
 * waits, or every NE_CREATE_VM and close() of any other enclave waits for
 * the pinning to end. Only the device's one command window may be shared.
 *
 * A runs (so the worker sends it SLOT_INFO, then goes on to the next
 * enclave); B pins hugepages that were never touched, so each is faulted
 * in and zeroed under B's lock, which takes seconds under TCG. An event is
 * injected while B pins; once the worker has asked for A's state it is on
 * its way to B's lock. Then another process creates and closes an enclave:
 * both must be done before B's ioctl returns.
 */

/*
 * B's region is sized to take about PIN_TARGET_S seconds to fault in, as
 * measured on PIN_PROBE_SIZE first (TCG speed varies with the host's load),
 * within PIN_SIZE_MIN..PIN_SIZE_MAX and what the hugepage pool can hold.
 */
#define PIN_TARGET_S	10
#define PIN_PROBE_SIZE	(64 * SZ_1M)
#define PIN_SIZE_MIN	(128 * SZ_1M)
#define PIN_SIZE_MAX	(2048 * SZ_1M)
/* B must still pin this long after the third enclave's creation began. */
#define PIN_LEFT_MIN_MS	3000

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

struct slow_pin {
	int fd;
	void *p;
	size_t size;
	int rc;
	long long t0, t1;
	atomic_int done;
};

static void *slow_pin_thread(void *arg)
{
	struct slow_pin *b = arg;

	b->t0 = now_us();
	b->rc = ne_set_mem(b->fd, 0, (uintptr_t)b->p, b->size);
	b->t1 = now_us();
	atomic_store(&b->done, 1);
	return NULL;
}

/* 2 MiB hugepages reserved by mmap but never touched. */
static void *hp_map_untouched(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		       (SHIFT_2M << MAP_HUGE_SHIFT), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Bytes of never-touched 2 MiB hugepages faulted in per second, or 0. */
static double fault_rate(void)
{
	long long dt;
	char *p;

	if (hp_ensure_free(SHIFT_2M, PIN_PROBE_SIZE / SZ_2M))
		return 0;
	p = hp_map_untouched(PIN_PROBE_SIZE);
	if (!p)
		return 0;
	dt = now_us();
	for (size_t off = 0; off < PIN_PROBE_SIZE; off += SZ_2M)
		((volatile char *)p)[off] = 1;
	dt = now_us() - dt;
	munmap(p, PIN_PROBE_SIZE);
	return PIN_PROBE_SIZE * 1e6 / (dt > 0 ? dt : 1);
}

/*
 * B's size (see PIN_TARGET_S), or 0 if the pool cannot hold the minimum.
 * *rate: the measured fault-in rate.
 */
static size_t pin_size(double *rate)
{
	double want = (*rate = fault_rate()) * PIN_TARGET_S;
	size_t size = PIN_SIZE_MAX;

	if (want < PIN_SIZE_MIN)
		size = PIN_SIZE_MIN;
	else if (want < PIN_SIZE_MAX)
		size = (size_t)want / SZ_2M * SZ_2M;
	for (; size >= PIN_SIZE_MIN; size = size / 2 / SZ_2M * SZ_2M)
		if (!hp_ensure_free(SHIFT_2M, size / SZ_2M))
			return size;
	return 0;
}

struct create_result {
	int rc;			/* NE_CREATE_VM: 0 or -errno */
	long long t0, t1, t2;	/* before it, after it, after close() */
};

/*
 * A second user: a process (its own mm) that creates an enclave and closes
 * it when it reads a byte from *go, and writes a struct create_result to
 * *res. Forked before the test maps any hugepage, so fork copies none.
 */
static int creator_fork(int dev, int *go, int *res)
{
	int gp[2], rp[2], pid;

	if (pipe(gp))
		return -errno;
	if (pipe(rp)) {
		close(gp[0]);
		close(gp[1]);
		return -EMFILE;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct create_result r = { 0 };
		uint64_t uid;
		char c;
		int fd;

		emu_close();
		close(gp[1]);
		close(rp[0]);
		if (read(gp[0], &c, 1) != 1)
			_exit(0);
		r.t0 = now_us();
		fd = ne_create(dev, &uid);
		r.t1 = now_us();
		if (fd >= 0)
			close(fd);
		r.t2 = now_us();
		r.rc = fd < 0 ? fd : 0;
		_exit(write(rp[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(gp[0]);
	close(rp[1]);
	if (pid < 0) {
		close(gp[1]);
		close(rp[0]);
		return -EAGAIN;
	}
	*go = gp[1];
	*res = rp[0];
	return pid;
}

/* The creator's result, or rc INT32_MIN if none came within timeout_ms. */
static struct create_result creator_result(int res, int timeout_ms)
{
	struct create_result r = { .rc = INT32_MIN };
	struct pollfd pf = { .fd = res, .events = POLLIN };

	if (poll(&pf, 1, timeout_ms) == 1 &&
	    read(res, &r, sizeof(r)) != sizeof(r))
		r.rc = INT32_MIN;
	return r;
}

TEST_F_TIMEOUT(dev, concurrency, event_during_pinning_does_not_block_create, 300)
{
	struct create_result c = { .rc = INT32_MIN };
	struct slow_pin b = { .fd = -1 };
	const char *premise = NULL;
	int a, go = -1, res = -1, pid, seen = 0;
	long long ev_us = 0;
	double rate;
	pthread_t t;

	NEED_EMU();
	pid = creator_fork(self->dev, &go, &res);
	ASSERT_LT(0, pid, "fork the creator");

	a = t_create(_th, self->dev, NULL);
	t_make_running(_th, a);

	b.size = pin_size(&rate);
	if (!b.size)
		SKIP(goto out, "no room for %lu MiB of 2 MiB hugepages",
		     PIN_SIZE_MIN >> 20);
	TH_LOG("hugepages fault in at %.0f MiB/s: B pins %zu MiB",
	       rate / SZ_1M, b.size >> 20);
	b.p = hp_map_untouched(b.size);
	if (!b.p) {
		EXPECT_TRUE(b.p, "mmap %zu MiB of hugepages", b.size >> 20);
		goto out;
	}
	/* Pages faulted in one by one are seldom contiguous. */
	EMU("set mem-regions %zu", b.size / SZ_2M + 16);
	b.fd = t_create(_th, self->dev, NULL);

	/* Nothing may abort the test until B's thread is joined. */
	ASSERT_EQ(0, pthread_create(&t, NULL, slow_pin_thread, &b));
	usleep(1000 * 1000);
	if (atomic_load(&b.done)) {
		premise = "B's ioctl ended within 1 s";
		goto join;
	}

	emu_cmd(NULL, 0, "trace-clear");
	ev_us = now_us();
	if (emu_cmd(NULL, 0, "event")) {
		premise = "the emulator could not send an event";
		goto join;
	}
	/*
	 * The worker visits A and B in list order. A first (this driver):
	 * its SLOT_INFO means B is next. B first (upstream): it blocks on B
	 * and A's SLOT_INFO comes only after B's ioctl; give it 3 s.
	 */
	for (int i = 0; i < 40 && seen <= 0 && !atomic_load(&b.done); i++) {
		usleep(50 * 1000);
		seen = emu_trace_count("SLOT_INFO");
	}
	usleep(300 * 1000);
	if (atomic_load(&b.done))
		premise = "B's ioctl ended before NE_CREATE_VM could begin";
	else if (write(go, "x", 1) == 1)
		c = creator_result(res, 150 * 1000);

join:
	pthread_join(t, NULL);
	if (b.rc) {
		EXPECT_RC(0, b.rc, "B's NE_SET_USER_MEMORY_REGION of %zu MiB",
			  b.size >> 20);
		goto out;
	}
	if (premise)
		SKIP(goto out, "premise does not hold: %s", premise);
	TH_LOG("B pinned %zu MiB in %lld ms; the event came %lld ms into it",
	       b.size >> 20, (b.t1 - b.t0) / 1000, (ev_us - b.t0) / 1000);
	if (c.rc == INT32_MIN) {
		EXPECT_NE(INT32_MIN, c.rc, "the third NE_CREATE_VM never returned");
		goto out;
	}
	TH_LOG("NE_CREATE_VM began %lld ms into B's ioctl and took %lld ms, close() %lld ms; B's ioctl ended %lld ms after NE_CREATE_VM began",
	       (c.t0 - b.t0) / 1000, (c.t1 - c.t0) / 1000,
	       (c.t2 - c.t1) / 1000, (b.t1 - c.t0) / 1000);
	EXPECT_RC(0, c.rc, "the third NE_CREATE_VM");
	if (c.t2 > b.t1 && b.t1 - c.t0 < PIN_LEFT_MIN_MS * 1000LL)
		SKIP(goto out, "premise does not hold: B's ioctl ended %lld ms after NE_CREATE_VM began (need %d)",
		     (b.t1 - c.t0) / 1000, PIN_LEFT_MIN_MS);
	/* In ms since B's ioctl began. */
	EXPECT_LT((c.t1 - b.t0) / 1000, (b.t1 - b.t0) / 1000,
		  "NE_CREATE_VM waited for another enclave's pinning");
	EXPECT_LT((c.t2 - b.t0) / 1000, (b.t1 - b.t0) / 1000,
		  "close() of an enclave waited for another enclave's pinning");
	/* The event was handled: the running enclave was asked its state. */
	for (int i = 0; i < 100 && seen <= 0; i++) {
		if (i)
			usleep(50 * 1000);
		seen = emu_trace_count("SLOT_INFO");
	}
	EXPECT_LT(0, seen, "no SLOT_INFO for the running enclave");

out:
	close(go);
	close(res);
	wait_child(pid, 30000);
	if (b.fd >= 0)
		close(b.fd);
	close(a);
	if (b.p)
		munmap(b.p, b.size);
	EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

/*
 * W6's promise: a second enclave's whole setup (create, memory, vCPUs,
 * start) does not wait for a first enclave's page pinning; only the
 * device's one-command window is shared. A child pins a large region of
 * hugepages never touched, so pinning faults and zeroes them (seconds
 * under TCG); meanwhile the parent sets up and starts its own enclave.
 */
struct pin_clock {
	_Atomic int64_t begin_ns, end_ns;
	_Atomic int rc;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define SLOW_REGION (384 * SZ_1M)

TEST_F_TIMEOUT(dev, concurrency, setup_does_not_wait_for_other_pinning, 300)
{
	struct pin_clock *clk;
	int64_t b_end, t0, t[4];
	uint64_t uid, cid;
	int pid, fd;
	void *p;

	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, SLOW_REGION / SZ_2M + 32));
	clk = mmap(NULL, sizeof(*clk), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, clk);
	clk->rc = 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Mapped, not touched: the pin faults every page in. */
		void *slow = mmap(NULL, SLOW_REGION, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		uint64_t u;
		int dev = ne_dev_open(), efd;

		emu_close();
		if (slow == MAP_FAILED || dev < 0)
			_exit(2);
		efd = ne_create(dev, &u);
		if (efd < 0)
			_exit(3);
		clk->begin_ns = mono_ns();
		clk->rc = ne_set_mem(efd, 0, (uintptr_t)slow, SLOW_REGION);
		clk->end_ns = mono_ns();
		close(efd);
		_exit(0);
	}
	ASSERT_GT(pid, 0);
	/* Let the child get into its pinning. */
	for (t0 = mono_ns(); !clk->begin_ns && mono_ns() - t0 < 30000000000LL;)
		usleep(1000);
	ASSERT_NE(0, clk->begin_ns, "the child never started pinning");
	/*
	 * Mapped after the fork: pages touched before it are shared
	 * copy-on-write with the child, so pinning them for write copies them
	 * into new hugepages (seen waiting 11 s for the child's faults).
	 */
	p = t_hp(_th, SZ_64M);
	t[0] = mono_ns();
	fd = t_create(_th, self->dev, &uid);
	t[1] = mono_ns();
	t_add_mem(_th, fd, p, SZ_64M);
	t[2] = mono_ns();
	t_add_vcpus(_th, fd, 2);
	t[3] = mono_ns();
	ASSERT_RC(0, ne_start(fd, 0, &cid));
	b_end = mono_ns();
	TH_LOG("since the pinning began: mapped %.2f, created %.2f, memory %.2f, vCPUs %.2f, started %.2f s",
	       (t[0] - clk->begin_ns) / 1e9, (t[1] - clk->begin_ns) / 1e9,
	       (t[2] - clk->begin_ns) / 1e9, (t[3] - clk->begin_ns) / 1e9,
	       (b_end - clk->begin_ns) / 1e9);
	close(fd);
	EXPECT_EQ(0, wait_child(pid, 240000), "pinning child");
	EXPECT_EQ(0, clk->rc, "the slow region was added");
	if (!clk->end_ns || clk->end_ns - clk->begin_ns < 1000000000LL)
		SKIP(return, "pinning took under 1 s: no overlap to measure");
	TH_LOG("pinning %.2f s; second enclave started %.2f s after it began",
	       (clk->end_ns - clk->begin_ns) / 1e9,
	       (b_end - clk->begin_ns) / 1e9);
	EXPECT_LT(b_end, clk->end_ns,
		  "the second enclave's setup waited for the first's pinning");
}

/*
 * B pins never-touched hugepages in a thread for seconds; returns 0 with
 * the thread started and B's ioctl still running after 1 s, or a reason
 * (the test skips) with nothing left running.
 */
static const char *slow_pin_start(struct th_ctx *_th, int dev,
				  struct slow_pin *b, pthread_t *t)
{
	double rate;

	b->size = pin_size(&rate);
	if (!b->size)
		return "no room for the slow region's hugepages";
	b->p = hp_map_untouched(b->size);
	if (!b->p)
		return "mmap of the slow region failed";
	emu_cmd(NULL, 0, "set mem-regions %zu", b->size / SZ_2M + 16);
	if (b->fd < 0)
		b->fd = t_create(_th, dev, NULL);
	if (pthread_create(t, NULL, slow_pin_thread, b))
		return "pthread_create failed";
	usleep(1000 * 1000);
	if (atomic_load(&b->done)) {
		pthread_join(*t, NULL);
		return "the slow region was pinned within 1 s";
	}
	return NULL;
}

/* Undo what slow_pin_start() did and close the other enclave (or -1). */
static void slow_pin_undo(struct slow_pin *b, int other)
{
	if (other >= 0)
		close(other);
	if (b->fd >= 0)
		close(b->fd);
	if (b->p)
		munmap(b->p, b->size);
}

/* poll() reads the enclave's state without its lock. */
TEST_F_TIMEOUT(dev, concurrency, poll_does_not_wait_for_pinning, 300)
{
	struct slow_pin b = { .fd = -1 };
	struct pollfd pf;
	const char *why;
	long long t0, dt;
	pthread_t t;
	int r;

	NEED_EMU();
	why = slow_pin_start(_th, self->dev, &b, &t);
	if (why) {
		slow_pin_undo(&b, -1);
		SKIP(return, "premise does not hold: %s", why);
	}
	pf = (struct pollfd){ .fd = b.fd, .events = POLLIN | POLLHUP };
	t0 = now_us();
	r = poll(&pf, 1, 0);
	dt = now_us() - t0;
	pthread_join(t, NULL);
	TH_LOG("poll() took %lld ms; the pinning %lld ms", dt / 1000,
	       (b.t1 - b.t0) / 1000);
	EXPECT_EQ(0, r, "nothing to report on an enclave in INIT");
	EXPECT_LT(dt / 1000, 500, "poll() waited for the pinning ioctl");
	EXPECT_RC(0, b.rc, "the slow NE_SET_USER_MEMORY_REGION");
	slow_pin_undo(&b, -1);
}

/*
 * B, created first, pins for seconds; A, created after it, runs and ends.
 * A's EPOLLHUP must not wait for B's pinning, although the event handler
 * visits B first.
 */
TEST_F_TIMEOUT(dev, concurrency, hup_not_delayed_by_earlier_pinning_enclave, 300)
{
	struct slow_pin b = { .fd = -1 };
	struct pollfd pf;
	const char *why;
	long long t0, t_hup;
	uint64_t ua;
	pthread_t t;
	int a, r;

	NEED_EMU();
	/* B's limit comes with its slot: room for one chunk per page. */
	EMU("set mem-regions %d", (int)(PIN_SIZE_MAX / SZ_2M) + 16);
	b.fd = t_create(_th, self->dev, NULL);	/* first in the list */
	a = t_create(_th, self->dev, &ua);
	t_make_running(_th, a);
	why = slow_pin_start(_th, self->dev, &b, &t);
	if (why) {
		slow_pin_undo(&b, a);
		SKIP(return, "premise does not hold: %s", why);
	}
	t0 = now_us();
	r = emu_cmd(NULL, 0, "end %llu", (unsigned long long)ua);
	pf = (struct pollfd){ .fd = a, .events = POLLIN | POLLHUP };
	if (!r)
		r = poll(&pf, 1, 60000) == 1 ? 0 : -1;
	t_hup = now_us();
	pthread_join(t, NULL);
	TH_LOG("A's EPOLLHUP came %lld ms after its end; B pinned %lld ms and ended %lld ms after A's end",
	       (t_hup - t0) / 1000, (b.t1 - b.t0) / 1000, (b.t1 - t0) / 1000);
	EXPECT_EQ(0, r, "A ended and got EPOLLHUP");
	EXPECT_RC(0, b.rc, "the slow NE_SET_USER_MEMORY_REGION");
	if (b.t1 - t0 < 3000 * 1000LL)
		TH_LOG("premise weak: B ended %lld ms after A's end",
		       (b.t1 - t0) / 1000);
	else
		EXPECT_LT(t_hup, b.t1,
			  "A's EPOLLHUP waited for B's pinning to end");
	slow_pin_undo(&b, a);
	EXPECT_EQ(0, t_emu_nslots(_th));
}
