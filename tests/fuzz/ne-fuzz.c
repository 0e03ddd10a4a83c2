// SPDX-License-Identifier: GPL-2.0
/*
 * ne-fuzz: a seeded ioctl fuzzer for /dev/nitro_enclaves, run in the test
 * VM on the emulated device (tests/fuzz/README.md).
 *
 * A supervisor forks PROCS worker processes of THREADS threads each. Every
 * worker thread draws its choices from its own PRNG stream (seed, process,
 * thread, incarnation) and issues random and boundary-valued calls on the
 * /dev fd and on enclave fds. The supervisor SIGKILLs workers at random
 * times and respawns them, and its chaos thread drives the emulator control
 * channel (faults, latency, event storms, `end all`) and rewrites ne_cpus.
 *
 * After the calls: chaos off, faults and latency cleared, workers gone,
 * the quarantine drained, then the invariants (no device slot, hugepages,
 * pool, offline CPUs, ne_cpus, kernel log) printed as sequential TAP
 * points of the project's harness (th_tap_*), then the plan and the line
 * "N passed, N failed, N skipped". Exit 0 only when all hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../conformance/emuctl.h"
#include "../conformance/ne_lib.h"

#define MAX_PROCS	16
#define MAX_THREADS	16
#define MAX_WORKERS	(MAX_PROCS * MAX_THREADS)
#define NFDS		12	/* fd table per worker process */
#define NMAPS		8	/* mapping table per worker process */
#define HUGE_CAP	(96UL << 20)	/* hugetlb mapped per process, at most */
#define NBUCKET		320	/* 0: success, 1..NBUCKET-2: errno, last: other */
#define CMD_TIMEOUT_PATH NE_PARAM_DIR "/cmd_timeout_ms"
#define OFFLINE_PATH	"/sys/devices/system/cpu/offline"
#define PRINTK_PATH	"/proc/sys/kernel/printk"

enum kind {
	K_CREATE, K_ADD_VCPU, K_IMAGE, K_SET_MEM, K_START, K_UNKNOWN,
	K_WRONG_FD, K_POLL, K_CLOSE, K_OPEN, K_CHILD, K_MMAP, K_MUNMAP,
	K_FORK, NKIND
};

static const char *const kind_name[NKIND] = {
	"NE_CREATE_VM", "NE_ADD_VCPU", "NE_GET_IMAGE_LOAD_INFO",
	"NE_SET_USER_MEMORY_REGION", "NE_START_ENCLAVE", "unknown-ioctl",
	"wrong-fd-ioctl", "poll", "close", "open", "forked-child-ioctl",
	"mmap", "munmap", "fork",
};

/* Calls on NE fds count against -n; the rest are side actions. */
static const int kind_budget[NKIND] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
};

enum chaos_act {
	C_FAULT, C_LATENCY, C_EVENT, C_END, C_POOL, C_POOL_EPERM, C_KILL,
	C_RESPAWN, NCHAOS
};

static const char *const chaos_name[NCHAOS] = {
	"fault", "latency", "event", "end-all", "pool-rewrite",
	"pool-eperm", "kill", "respawn",
};

/* Shared by the supervisor and all workers (MAP_SHARED). */
struct shared {
	volatile int stop;
	uint64_t seed;
	uint64_t quota[MAX_WORKERS];
	uint64_t done[MAX_WORKERS];
	uint64_t count[NKIND][NBUCKET];
	uint64_t ns[NKIND];		/* time spent in the calls */
	uint64_t chaos[NCHAOS];
	uint64_t chaos_err[NCHAOS];
};

static struct shared *sh;
static int nprocs = 2, nthreads = 2;
static uint64_t ncalls = 100000;
static int kill_ms = 1500;	/* mean interval of worker kills, 0: none */
static int time_limit_s;	/* 0: none */
static int chaos_on = 1;
static int lying_enoent;	/* -E: rc faults may answer ENOENT */

/* ---------------------------------------------------------------- PRNG */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t stream_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = seed ^ (a * 0x100000001b3ULL);

	splitmix(&s);
	s ^= b * 0xff51afd7ed558ccdULL;
	splitmix(&s);
	s ^= c * 0xc4ceb9fe1a85ec53ULL;
	splitmix(&s);
	return s;
}

/* Uniform in [0, n). */
static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? splitmix(s) % n : 0;
}

static int chance(uint64_t *s, int percent)
{
	return (int)rnd(s, 100) < percent;
}

static uint64_t pick_u64(uint64_t *s, const uint64_t *v, size_t n)
{
	return v[rnd(s, n)];
}

#define PICK(s, arr) pick_u64((s), (arr), sizeof(arr) / sizeof((arr)[0]))

/* ------------------------------------------------------------- counting */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Set just before a timed call; record() charges the time to its kind. */
static __thread uint64_t call_t0;

static void record(enum kind k, long rc)
{
	int b;

	if (call_t0) {
		__atomic_fetch_add(&sh->ns[k], now_ns() - call_t0, __ATOMIC_RELAXED);
		call_t0 = 0;
	}

	if (rc >= 0)
		b = 0;
	else if (-rc < NBUCKET - 1)
		b = (int)-rc;
	else
		b = NBUCKET - 1;
	__atomic_fetch_add(&sh->count[k][b], 1, __ATOMIC_RELAXED);
}

/* Time and record one call whose result is not needed further. */
#define REC(k, expr)							\
	do {								\
		long _r;						\
									\
		call_t0 = now_ns();					\
		_r = (long)(expr);					\
		record((k), _r);					\
	} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --------------------------------------------------------------- worker */

enum fd_kind { FD_NONE, FD_DEV, FD_ENCL };
enum map_kind { M_NONE, M_HUGE, M_NORMAL, M_RO, M_HUGE_RO };

struct fdent {
	int fd;
	enum fd_kind kind;
};

struct mapent {
	void *p;
	size_t size;
	enum map_kind kind;
};

/* One worker process: tables shared by its threads. */
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fdent fds[NFDS];
static struct mapent maps[NMAPS];
static size_t huge_mapped;
static uint64_t last_unmapped = 0x7f0000000000ULL;	/* a freed range */

struct wthread {
	int widx;		/* index into sh->quota/done */
	uint64_t rng;
	pthread_t tid;
};

/* Bad user pointers: NULL, low, kernel, non-canonical, unmapped. */
static void *bad_ptr(uint64_t *s)
{
	static const uint64_t v[] = {
		0, 1, 0x1000, 0xffff888000000000ULL, 0xffffffff81000000ULL,
		0x0000800000000000ULL, 0xfffffffffffff000ULL,
		0x00007ffffffff000ULL, 0xdead000000000000ULL,
	};

	if (chance(s, 20))
		return (void *)(uintptr_t)last_unmapped;
	return (void *)(uintptr_t)PICK(s, v);
}

/* A read-only page (valid to read, EFAULT when the kernel writes). */
static void *ro_page;

/*
 * A live table entry of that kind (FD_NONE: any kind), searched from a
 * random start, or NULL. tab_lock held.
 */
static struct fdent *find_fd_locked(uint64_t *s, enum fd_kind want)
{
	int start = (int)rnd(s, NFDS);

	for (int i = 0; i < NFDS; i++) {
		struct fdent *e = &fds[(start + i) % NFDS];

		if (e->kind != FD_NONE && (want == FD_NONE || e->kind == want))
			return e;
	}
	return NULL;
}

/* A live fd of that kind from the table (-1 if none), or any entry. */
static int take_fd(uint64_t *s, enum fd_kind want)
{
	struct fdent *e;
	int fd;

	pthread_mutex_lock(&tab_lock);
	e = find_fd_locked(s, want);
	fd = e ? e->fd : -1;
	pthread_mutex_unlock(&tab_lock);
	return fd;
}

static void put_fd(int fd, enum fd_kind kind)
{
	pthread_mutex_lock(&tab_lock);
	for (int i = 0; i < NFDS; i++) {
		if (fds[i].kind == FD_NONE) {
			fds[i].fd = fd;
			fds[i].kind = kind;
			fd = -1;
			break;
		}
	}
	pthread_mutex_unlock(&tab_lock);
	if (fd >= 0)	/* table full: close it */
		REC(K_CLOSE, close(fd) ? -errno : 0);
}

static int dev_fd(uint64_t *s)
{
	int fd = take_fd(s, FD_DEV);

	if (fd < 0) {
		call_t0 = now_ns();
		fd = ne_dev_open();
		record(K_OPEN, fd);
		if (fd >= 0)
			put_fd(fd, FD_DEV);
	}
	return fd;
}

/* Close a table entry of that kind (FD_NONE: any kind), if there is one. */
static void op_close_kind(uint64_t *s, enum fd_kind want)
{
	struct fdent *e;
	int fd = -1;

	pthread_mutex_lock(&tab_lock);
	e = find_fd_locked(s, want);
	if (e) {
		fd = e->fd;
		e->kind = FD_NONE;
	}
	pthread_mutex_unlock(&tab_lock);
	if (fd >= 0)
		REC(K_CLOSE, close(fd) ? -errno : 0);
}

static void op_close(uint64_t *s)
{
	op_close_kind(s, FD_NONE);
}

/* An enclave fd: mostly an existing one, sometimes a fresh one. */
static int encl_fd(uint64_t *s)
{
	int fd = take_fd(s, FD_ENCL);
	uint64_t uid;

	if (fd < 0 || chance(s, 1)) {
		int d = dev_fd(s);

		if (d < 0)
			return fd;
		call_t0 = now_ns();
		fd = ne_create(d, &uid);
		record(K_CREATE, fd);
		/*
		 * The pool (two cores) is taken by enclaves that hold vCPUs:
		 * now and then close one of ours, or most calls would find
		 * no enclave at all.
		 */
		if (fd == -NE_ERR_NO_CPUS_AVAIL_IN_POOL && chance(s, 10))
			op_close_kind(s, FD_ENCL);
		if (fd < 0)
			return take_fd(s, FD_ENCL);
		put_fd(fd, FD_ENCL);
	}
	return fd;
}

/* A 2 MiB aligned hugetlb region of ours (or NULL). */
static struct mapent pick_map(uint64_t *s, enum map_kind want)
{
	struct mapent m = { 0 };
	int start = (int)rnd(s, NMAPS);

	pthread_mutex_lock(&tab_lock);
	for (int i = 0; i < NMAPS; i++) {
		struct mapent *e = &maps[(start + i) % NMAPS];

		if (e->kind != M_NONE && (want == M_NONE || e->kind == want)) {
			m = *e;
			break;
		}
	}
	pthread_mutex_unlock(&tab_lock);
	return m;
}

static void op_mmap(uint64_t *s)
{
	static const uint64_t mib[] = { 2, 2, 4, 8, 16, 64, 64 };
	enum map_kind k = rnd(s, 10) < 7 ? M_HUGE : (enum map_kind)(1 + rnd(s, 4));
	size_t size = PICK(s, mib) << 20;
	void *p = NULL;
	int slot = -1;

	pthread_mutex_lock(&tab_lock);
	for (int i = 0; i < NMAPS; i++)
		if (maps[i].kind == M_NONE) {
			slot = i;
			maps[i].kind = M_HUGE;	/* claimed */
			maps[i].p = NULL;
			break;
		}
	if (slot >= 0 && (k == M_HUGE || k == M_HUGE_RO)) {
		if (huge_mapped + size > HUGE_CAP) {
			maps[slot].kind = M_NONE;
			slot = -1;
		} else {
			huge_mapped += size;
		}
	}
	pthread_mutex_unlock(&tab_lock);
	if (slot < 0)
		return;

	call_t0 = now_ns();
	if (k == M_HUGE || k == M_HUGE_RO) {
		/*
		 * Shared or private. A fork copies pinned private hugetlb
		 * pages at once (seconds under TCG): those skip forks.
		 */
		if (chance(s, 50)) {
			p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB |
				 (SHIFT_2M << MAP_HUGE_SHIFT), -1, 0);
			if (p == MAP_FAILED)
				p = NULL;
			for (size_t off = 0; p && off < size; off += SZ_2M)
				((volatile char *)p)[off] = 1;
		} else {
			p = hp_map(size, SHIFT_2M);
			if (p)
				madvise(p, size, MADV_DONTFORK);
		}
		if (p && k == M_HUGE_RO)
			mprotect(p, size, PROT_READ);
	} else {
		/* 2 MiB aligned normal pages: map 4 MiB, use the aligned part. */
		void *q = mmap(NULL, size + SZ_2M, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (q != MAP_FAILED) {
			uintptr_t a = ((uintptr_t)q + SZ_2M - 1) & ~(SZ_2M - 1);

			p = (void *)a;
			memset(p, 1, 4096);
			if (k == M_RO)
				mprotect(p, size, PROT_READ);
			/* the unaligned head and tail stay mapped: harmless */
		}
	}
	record(K_MMAP, p ? 0 : -ENOMEM);
	pthread_mutex_lock(&tab_lock);
	if (p) {
		maps[slot].p = p;
		maps[slot].size = size;
		maps[slot].kind = k;
	} else {
		if (k == M_HUGE || k == M_HUGE_RO)
			huge_mapped -= size;
		maps[slot].kind = M_NONE;
	}
	pthread_mutex_unlock(&tab_lock);
}

static void op_munmap(uint64_t *s)
{
	int start = (int)rnd(s, NMAPS);
	struct mapent m = { 0 };

	pthread_mutex_lock(&tab_lock);
	for (int i = 0; i < NMAPS; i++) {
		struct mapent *e = &maps[(start + i) % NMAPS];

		if (e->kind != M_NONE && e->p) {
			m = *e;
			e->kind = M_NONE;
			e->p = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&tab_lock);
	if (!m.p)
		return;
	REC(K_MUNMAP, munmap(m.p, m.size) ? -errno : 0);
	pthread_mutex_lock(&tab_lock);
	if (m.kind == M_HUGE || m.kind == M_HUGE_RO)
		huge_mapped -= m.size;
	last_unmapped = (uint64_t)(uintptr_t)m.p;
	pthread_mutex_unlock(&tab_lock);
}

static void op_create(uint64_t *s)
{
	int d = chance(s, 90) ? dev_fd(s) : take_fd(s, FD_NONE);
	uint64_t uid;
	void *arg = &uid;
	int fd;

	if (chance(s, 25))
		arg = chance(s, 30) ? ro_page : bad_ptr(s);
	call_t0 = now_ns();
	fd = ne_ioctl(d, NE_CREATE_VM, arg);
	record(K_CREATE, fd);
	if (fd >= 0)
		put_fd(fd, FD_ENCL);
}

static void op_add_vcpu(uint64_t *s)
{
	static const uint64_t ids[] = {
		0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 63, 64, 4095, 4096,
		0x7fffffff, 0x80000000, UINT32_MAX, UINT32_MAX - 1,
	};
	int fd = encl_fd(s);
	uint32_t id = (uint32_t)(chance(s, 10) ? splitmix(s) : PICK(s, ids));
	void *arg = &id;

	if (chance(s, 10))
		arg = chance(s, 30) ? ro_page : bad_ptr(s);
	REC(K_ADD_VCPU, ne_ioctl(fd, NE_ADD_VCPU, arg));
}

static void op_image(uint64_t *s)
{
	static const uint64_t flags[] = {
		0, 1, 1, 1, 2, 3, 0x100, 1ULL << 32, 1ULL << 63, UINT64_MAX,
	};
	struct ne_image_load_info info = { .flags = PICK(s, flags) };
	int fd = encl_fd(s);
	void *arg = &info;

	if (chance(s, 10))
		arg = chance(s, 30) ? ro_page : bad_ptr(s);
	REC(K_IMAGE, ne_ioctl(fd, NE_GET_IMAGE_LOAD_INFO, arg));
}

static void op_set_mem(uint64_t *s)
{
	static const uint64_t addrs[] = {
		0, 0x1000, SZ_2M, 0xffff888000000000ULL,
		0xffffffff80000000ULL, 0x00007fffffe00000ULL,
		0x0000800000000000ULL, 0xffffffffffe00000ULL,
	};
	static const uint64_t sizes[] = {
		0, 4096, SZ_2M - 4096, SZ_2M, SZ_2M + 4096, 4 * SZ_2M,
		SZ_64M, SZ_1G, 1ULL << 40, 1ULL << 63,
		UINT64_MAX & ~(SZ_2M - 1), UINT64_MAX,
	};
	static const uint64_t mflags[] = { 0, 0, 0, 0, 0, 0, 1, 2, 1ULL << 63 };
	struct ne_user_memory_region r = { .flags = PICK(s, mflags) };
	int fd = encl_fd(s);
	struct mapent m = pick_map(s, chance(s, 70) ? M_HUGE : M_NONE);
	void *arg = &r;

	if (m.p && chance(s, 50)) {
		uint64_t a = (uint64_t)(uintptr_t)m.p;
		uint64_t pages = m.size / SZ_2M;

		switch (rnd(s, 8)) {
		case 0: case 1:		/* the whole region */
			r.userspace_addr = a;
			r.memory_size = m.size;
			break;
		case 3:			/* a 2 MiB aligned part of it */
			r.userspace_addr = a + rnd(s, pages) * SZ_2M;
			r.memory_size = SZ_2M;
			break;
		case 4:			/* unaligned start */
			r.userspace_addr = a + 4096 * (1 + rnd(s, 511));
			r.memory_size = m.size;
			break;
		case 5:			/* runs past the mapping */
			r.userspace_addr = a;
			r.memory_size = m.size + SZ_2M * (1 + rnd(s, 4));
			break;
		default:		/* boundary sizes */
			r.userspace_addr = a;
			r.memory_size = PICK(s, sizes);
			break;
		}
	} else {
		r.userspace_addr = chance(s, 20) ? last_unmapped : PICK(s, addrs);
		r.memory_size = PICK(s, sizes);
	}
	if (chance(s, 5))
		arg = bad_ptr(s);
	REC(K_SET_MEM, ne_ioctl(fd, NE_SET_USER_MEMORY_REGION, arg));
}

static void op_start(uint64_t *s)
{
	static const uint64_t cids[] = {
		0, 0, 0, 1, 2, 3, 4, 5, 16, 0xFFFFFFFEULL, 0xFFFFFFFFULL,
		1ULL << 32, (1ULL << 32) + 16, UINT64_MAX,
	};
	static const uint64_t flags[] = { 0, 0, 1, 2, 3, 1ULL << 63 };
	struct ne_enclave_start_info si = {
		.flags = PICK(s, flags),
		.enclave_cid = chance(s, 5) ? splitmix(s) : PICK(s, cids),
	};
	int fd = encl_fd(s);
	void *arg = &si;

	if (chance(s, 8))
		arg = chance(s, 30) ? ro_page : bad_ptr(s);
	REC(K_START, ne_ioctl(fd, NE_START_ENCLAVE, arg));
}

/* Numbers that are not NE's; never generic VFS ones ('f', 'T', 'X'). */
static unsigned long unknown_nr(uint64_t *s)
{
	static const uint64_t types[] = { 0xAE, 0xAE, 0xAE, 0x00, 0xAF, 0xFF };
	unsigned int type = (unsigned int)PICK(s, types);
	unsigned int nr = (unsigned int)rnd(s, 256);
	unsigned int size = (unsigned int)rnd(s, 64);
	unsigned int dir = (unsigned int)rnd(s, 4);

	if (type == 0xAE && nr >= 0x20 && nr <= 0x24 && chance(s, 50))
		size = 8 * (1 + rnd(s, 4)) + 1;	/* a real nr, wrong size */
	else if (type == 0xAE && nr >= 0x20 && nr <= 0x24)
		nr += 5;
	return _IOC(dir, type, nr, size);
}

static void op_unknown(uint64_t *s)
{
	int fd = chance(s, 50) ? take_fd(s, FD_DEV) : take_fd(s, FD_ENCL);
	char buf[128] = { 0 };
	void *arg = chance(s, 50) ? (void *)buf : bad_ptr(s);

	REC(K_UNKNOWN, ne_ioctl(fd, unknown_nr(s), arg));
}

/* An NE ioctl on the other kind of fd (ENOTTY expected). */
static void op_wrong_fd(uint64_t *s)
{
	static const unsigned long encl_cmds[] = {
		NE_ADD_VCPU, NE_GET_IMAGE_LOAD_INFO, NE_SET_USER_MEMORY_REGION,
		NE_START_ENCLAVE,
	};
	char buf[64] = { 0 };

	if (chance(s, 50))
		REC(K_WRONG_FD, ne_ioctl(take_fd(s, FD_DEV),
					    encl_cmds[rnd(s, 4)], buf));
	else
		REC(K_WRONG_FD, ne_ioctl(take_fd(s, FD_ENCL),
					    NE_CREATE_VM, buf));
}

static void op_poll(uint64_t *s)
{
	struct pollfd p[3];
	int n = 1 + (int)rnd(s, 3), rc;

	for (int i = 0; i < n; i++) {
		p[i].fd = take_fd(s, chance(s, 80) ? FD_ENCL : FD_NONE);
		p[i].events = (short)(chance(s, 80) ? POLLIN : rnd(s, 0x10000));
	}
	call_t0 = now_ns();
	rc = poll(p, n, chance(s, 98) ? 0 : (int)rnd(s, 5));
	record(K_POLL, rc < 0 ? -errno : rc);
}


/*
 * Fork: the child issues a few calls on the inherited fds (another mm:
 * EIO on enclave fds) and exits. Other threads are mid-call meanwhile.
 * The child takes no lock and allocates nothing.
 */
static void op_fork(uint64_t *s)
{
	struct fdent snap[NFDS];
	uint64_t cs = splitmix(s);
	pid_t pid;

	pthread_mutex_lock(&tab_lock);
	memcpy(snap, fds, sizeof(snap));
	pthread_mutex_unlock(&tab_lock);
	call_t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		call_t0 = 0;
		for (int k = 0; k < 6; k++) {
			struct fdent *e = &snap[rnd(&cs, NFDS)];
			uint32_t id = (uint32_t)rnd(&cs, 8);
			struct ne_user_memory_region r = {
				.memory_size = SZ_2M,
				.userspace_addr = last_unmapped,
			};
			struct ne_image_load_info info = { .flags = 1 };
			struct ne_enclave_start_info si = { 0 };
			uint64_t uid;
			long rc;

			if (e->kind == FD_NONE)
				continue;
			switch (rnd(&cs, 5)) {
			case 0: rc = ne_ioctl(e->fd, NE_ADD_VCPU, &id); break;
			case 1: rc = ne_ioctl(e->fd, NE_SET_USER_MEMORY_REGION, &r); break;
			case 2: rc = ne_ioctl(e->fd, NE_GET_IMAGE_LOAD_INFO, &info); break;
			case 3: rc = ne_ioctl(e->fd, NE_START_ENCLAVE, &si); break;
			default:
				rc = ne_ioctl(e->fd, NE_CREATE_VM, &uid);
				if (rc >= 0)
					close((int)rc);
				break;
			}
			record(K_CHILD, rc);
		}
		_exit(0);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	record(K_FORK, pid < 0 ? -errno : 0);
}

/*
 * The whole valid sequence on a fresh enclave: 64 MiB, one full core,
 * start. Most steps fail under chaos; that is the point.
 */
static void op_happy(uint64_t *s, uint64_t *calls)
{
	int d = dev_fd(s), fd;
	struct mapent m = pick_map(s, M_HUGE);
	uint64_t uid, off, cid = chance(s, 80) ? 0 : 4 + rnd(s, 64);

	if (d < 0)
		return;
	call_t0 = now_ns();
	fd = ne_create(d, &uid);
	record(K_CREATE, fd);
	(*calls)++;
	if (fd < 0)
		return;
	put_fd(fd, FD_ENCL);
	if (m.p) {
		REC(K_SET_MEM, ne_set_mem(fd, 0, (uint64_t)(uintptr_t)m.p, m.size));
		(*calls)++;
	}
	for (int i = 0; i < 2; i++) {
		uint32_t id = 0;

		REC(K_ADD_VCPU, ne_add_vcpu(fd, &id));
		(*calls)++;
	}
	REC(K_IMAGE, ne_image_info(fd, 1, &off));
	REC(K_START, ne_start(fd, chance(s, 50), &cid));
	*calls += 2;
}

static void *worker_thread(void *arg)
{
	struct wthread *w = arg;
	uint64_t *s = &w->rng;

	while (!sh->stop && sh->done[w->widx] < sh->quota[w->widx]) {
		uint64_t calls = 0;
		enum kind k = NKIND;
		unsigned int r = (unsigned int)rnd(s, 1000);

		/*
		 * Cheap calls (refused before any device command) dominate;
		 * the costly ones (device commands, pinning, enclave
		 * release, zero-filling hugepages, fork) are rarer.
		 */
		if (r < 40) { op_create(s); k = K_CREATE; }
		else if (r < 190) { op_add_vcpu(s); k = K_ADD_VCPU; }
		else if (r < 290) { op_image(s); k = K_IMAGE; }
		else if (r < 490) { op_set_mem(s); k = K_SET_MEM; }
		else if (r < 620) { op_start(s); k = K_START; }
		else if (r < 790) { op_unknown(s); k = K_UNKNOWN; }
		else if (r < 880) { op_wrong_fd(s); k = K_WRONG_FD; }
		else if (r < 950) { op_poll(s); k = K_POLL; }
		else if (r < 962) { op_close(s); k = K_CLOSE; }
		else if (r < 970) op_mmap(s);
		else if (r < 975) op_munmap(s);
		else if (r < 976) op_fork(s);
		else op_happy(s, &calls);
		if (k != NKIND && kind_budget[k])
			calls++;
		__atomic_fetch_add(&sh->done[w->widx], calls, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Process p's incarnation inc: run its threads to their quotas, exit. */
static void worker_main(int p, unsigned int inc)
{
	struct wthread th[MAX_THREADS];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	emu_close();	/* the supervisor's channel is not ours */
	ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro_page == MAP_FAILED)
		_exit(3);
	for (int t = 0; t < nthreads; t++) {
		th[t].widx = p * nthreads + t;
		th[t].rng = stream_seed(sh->seed, (uint64_t)p + 1, (uint64_t)t + 1, inc);
	}
	for (int t = 1; t < nthreads; t++)
		if (pthread_create(&th[t].tid, NULL, worker_thread, &th[t]))
			_exit(3);
	worker_thread(&th[0]);
	for (int t = 1; t < nthreads; t++)
		pthread_join(th[t].tid, NULL);
	/* close everything, unmap everything */
	for (int i = 0; i < NFDS; i++)
		if (fds[i].kind != FD_NONE)
			close(fds[i].fd);
	for (int i = 0; i < NMAPS; i++)
		if (maps[i].kind != M_NONE && maps[i].p)
			munmap(maps[i].p, maps[i].size);
	_exit(0);
}

/* ----------------------------------------------------------- supervisor */

static pid_t wpid[MAX_PROCS];
static unsigned int winc[MAX_PROCS];
static int unexpected_deaths;
static char death_note[256];

static int proc_finished(int p)
{
	for (int t = 0; t < nthreads; t++) {
		int i = p * nthreads + t;

		if (sh->done[i] < sh->quota[i])
			return 0;
	}
	return 1;
}

static void spawn(int p)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		worker_main(p, winc[p]);
	wpid[p] = pid > 0 ? pid : 0;
}

/* Reap everything that died; note deaths we did not cause. */
static void reap(int *killed)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int p = 0; p < nprocs; p++) {
			if (wpid[p] != pid)
				continue;
			wpid[p] = 0;
			if (killed[p] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
				killed[p] = 0;
			} else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
				unexpected_deaths++;
				snprintf(death_note, sizeof(death_note),
					 "worker %d (incarnation %u) %s %d", p,
					 winc[p], WIFSIGNALED(st) ? "died of signal" :
					 "exited with", WIFSIGNALED(st) ?
					 WTERMSIG(st) : WEXITSTATUS(st));
				killed[p] = 0;
			}
		}
	}
}

/* ---- chaos ---- */

static const char *const dev_cmds[] = {
	"SLOT_ALLOC", "SLOT_FREE", "SLOT_ADD_MEM", "SLOT_ADD_VCPU",
	"SLOT_ADD_BULK_VCPUS", "ENCLAVE_START", "ENCLAVE_STOP", "SLOT_INFO",
	"SLOT_COUNT", "NEXT_SLOT", "ENCLAVE_GET_SLOT",
};
#define NDEVCMDS (sizeof(dev_cmds) / sizeof(dev_cmds[0]))

static volatile int chaos_stop;
static uint64_t lat_until[NDEVCMDS];

static void chaos_count(enum chaos_act a, int rc)
{
	__atomic_fetch_add(&sh->chaos[a], 1, __ATOMIC_RELAXED);
	if (rc)
		__atomic_fetch_add(&sh->chaos_err[a], 1, __ATOMIC_RELAXED);
}

static void *chaos_thread(void *arg)
{
	uint64_t s = stream_seed(sh->seed, 0xC4A05, 0, 0);
	/*
	 * ENOENT is last: it is a lie only with -E. A faulted command is not
	 * carried out, and the driver takes ENOENT from SLOT_FREE for "the
	 * slot is gone" and from NEXT_SLOT for "no more slots" (README).
	 */
	static const char *const errs[] = {
		"ENOMEM", "EINVAL", "EBUSY", "EIO", "-1", "-275", "ENOSPC",
		"EEXIST", "-4095", "ENOENT",
	};
	static const char *const kinds[] = {
		"rc", "rc", "rc", "rc", "drop", "lost", "lost", "malformed",
	};

	(void)arg;
	while (!chaos_stop) {
		uint64_t t = now_ms();
		unsigned int r = (unsigned int)rnd(&s, 100);
		const char *cmd = dev_cmds[rnd(&s, NDEVCMDS)];
		int rc;

		for (size_t i = 0; i < NDEVCMDS; i++)
			if (lat_until[i] && t >= lat_until[i]) {
				lat_until[i] = 0;
				emu_cmd(NULL, 0, "latency %s 0", dev_cmds[i]);
			}
		if (r < 40) {
			const char *k = kinds[rnd(&s, 8)];
			int n = 1 + (int)rnd(&s, 3);

			if (lying_enoent && chance(&s, 20))
				rc = emu_cmd(NULL, 0, "fault rc SLOT_FREE ENOENT 1");
			else if (!strcmp(k, "rc"))
				rc = emu_cmd(NULL, 0, "fault rc %s %s %d", cmd,
					     errs[rnd(&s, lying_enoent ? 10 : 9)], n);
			else
				rc = emu_cmd(NULL, 0, "fault %s %s %d", k, cmd, n);
			chaos_count(C_FAULT, rc);
		} else if (r < 55) {
			size_t i = rnd(&s, NDEVCMDS);
			/* mostly below cmd_timeout_ms, sometimes beyond it */
			unsigned int us = (unsigned int)(1000 * (chance(&s, 70) ?
					  1 + rnd(&s, 200) : 300 + rnd(&s, 300)));

			rc = emu_cmd(NULL, 0, "latency %s %u", dev_cmds[i], us);
			lat_until[i] = t + 100 + rnd(&s, 500);
			chaos_count(C_LATENCY, rc);
		} else if (r < 80) {
			rc = emu_cmd(NULL, 0, "event %u",
				     (unsigned int)(1 + rnd(&s, chance(&s, 20) ? 2000 : 20)));
			chaos_count(C_EVENT, rc);
		} else if (r < 95) {
			rc = emu_cmd(NULL, 0, "end all");
			chaos_count(C_END, rc);
		} else {
			/* Rewrite the pool: EPERM while any enclave exists. */
			rc = pool_write("");
			if (rc == -EPERM) {
				chaos_count(C_POOL_EPERM, 0);
			} else {
				for (int i = 0; i < 50 && pool_write(POOL_HOME); i++)
					sleep_ms(100);
				chaos_count(C_POOL, rc);
			}
		}
		sleep_ms(50 + (unsigned int)rnd(&s, 350));
	}
	return NULL;
}

/* ---- kernel log scanner (a thread: the ring buffer may wrap) ---- */

static int kfd = -1;
static volatile int kmsg_stop;
static int kmsg_bad;
static char kmsg_first[8][300];
static pthread_mutex_t kmsg_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t kmsg_lost;

static const char *const bad_pat[] = {
	"Oops", "BUG:", "WARNING:", "Call Trace", "circular locking", "KASAN",
	"UBSAN", "kmemleak", "INFO: task",
};

static void kmsg_scan(void)
{
	char rec[4096];

	pthread_mutex_lock(&kmsg_lock);
	for (;;) {
		ssize_t r = read(kfd, rec, sizeof(rec) - 1);

		if (r < 0 && errno == EPIPE) {
			kmsg_lost++;
			continue;
		}
		if (r <= 0)
			break;
		rec[r] = 0;
		for (size_t i = 0; i < sizeof(bad_pat) / sizeof(bad_pat[0]); i++) {
			char *msg = strchr(rec, ';');

			if (!strstr(msg ? msg : rec, bad_pat[i]))
				continue;
			if (kmsg_bad < 8)
				snprintf(kmsg_first[kmsg_bad], sizeof(kmsg_first[0]),
					 "%.*s", (int)strcspn(msg ? msg + 1 : rec, "\n"),
					 msg ? msg + 1 : rec);
			kmsg_bad++;
			break;
		}
	}
	pthread_mutex_unlock(&kmsg_lock);
}

static void *kmsg_thread(void *arg)
{
	(void)arg;
	while (!kmsg_stop) {
		kmsg_scan();
		sleep_ms(200);
	}
	return NULL;
}

/* ---- invariants ---- */

static const char *errname(int e)
{
	static const char *const ne[] = {
		"VCPU_ALREADY_USED", "VCPU_NOT_IN_CPU_POOL",
		"VCPU_INVALID_CPU_CORE", "INVALID_MEM_REGION_SIZE",
		"INVALID_MEM_REGION_ADDR", "UNALIGNED_MEM_REGION_ADDR",
		"MEM_REGION_ALREADY_USED", "MEM_NOT_HUGE_PAGE",
		"MEM_DIFFERENT_NUMA_NODE", "MEM_MAX_REGIONS",
		"NO_MEM_REGIONS_ADDED", "NO_VCPUS_ADDED", "ENCLAVE_MEM_MIN_SIZE",
		"FULL_CORES_NOT_USED", "NOT_IN_INIT_STATE", "INVALID_VCPU",
		"NO_CPUS_AVAIL_IN_POOL", "INVALID_PAGE_SIZE",
		"INVALID_FLAG_VALUE", "INVALID_ENCLAVE_CID",
	};
	static char buf[32];
	const char *n;

	if (e == 0)
		return "ok";
	if (e >= 256 && e <= 275)
		return ne[e - 256];
	if (e == NBUCKET - 1)	/* e.g. a device rc of -4095, passed on */
		return "errno>318";
	n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void print_summary(double secs, uint64_t total)
{
	printf("# %-26s %10s %9s  outcomes\n", "call", "count", "avg_us");
	for (int k = 0; k < NKIND; k++) {
		uint64_t n = 0;

		for (int b = 0; b < NBUCKET; b++)
			n += sh->count[k][b];
		if (!n)
			continue;
		printf("# %-26s %10" PRIu64 " %9.0f ", kind_name[k], n,
		       sh->ns[k] / 1000.0 / (double)n);
		for (int b = 0; b < NBUCKET; b++)
			if (sh->count[k][b])
				printf(" %s=%" PRIu64, errname(b), sh->count[k][b]);
		printf("\n");
	}
	printf("# chaos:");
	for (int a = 0; a < NCHAOS; a++)
		printf(" %s=%" PRIu64 "%s", chaos_name[a], sh->chaos[a],
		       sh->chaos_err[a] ? "(some refused)" : "");
	{
		uint64_t ns = 0;

		for (int k = 0; k < NKIND; k++)
			if (k != K_CHILD)
				ns += sh->ns[k];
		printf("\n# %" PRIu64 " calls in %.1f s: %.0f calls/s; the workers spent %.0f%% of their time in timed calls\n",
		       total, secs, secs > 0 ? total / secs : 0.0,
		       secs > 0 ? ns / 1e7 / secs / (nprocs * nthreads) : 0.0);
	}
	fflush(stdout);
}

static int read_line(const char *path, char *buf, size_t sz)
{
	return sysfs_read(path, buf, sz);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ne-fuzz [-s SEED] [-n CALLS] [-p PROCS] [-j THREADS]\n"
		"               [-k KILL_MS] [-t SECONDS] [-T CMD_TIMEOUT_MS] [-C]\n"
		"  -s  seed (default: from the clock; printed)\n"
		"  -n  calls on NE fds in total (default 100000)\n"
		"  -p  worker processes (default 2), -j threads each (default 2)\n"
		"  -k  mean interval of worker SIGKILLs in ms (default 1500, 0 = none)\n"
		"  -t  stop the calls after SECONDS (default: no limit)\n"
		"  -T  cmd_timeout_ms during the run (default 300)\n"
		"  -C  no chaos (no emulator faults, latency, events, pool rewrites)\n"
		"  -E  rc faults may answer ENOENT, and a fifth of the faults is\n"
		"      SLOT_FREE -> ENOENT (a device that lies: see README)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0, t0, total = 0, next_kill, next_note;
	int have_seed = 0, cmd_timeout = 300, opt, killed[MAX_PROCS] = { 0 };
	long hp_free0, hp_free1;
	char pool0[64], offline0[256] = "", offline1[256] = "", buf[256];
	char old_timeout[32] = "", old_printk[64] = "";
	pthread_t chaos_tid, kmsg_tid;
	uint64_t ks;
	struct quarantine q;
	struct emu_slots *slots;
	int left, dev, avail, time_up = 0;
	double secs;

	while ((opt = getopt(argc, argv, "s:n:p:j:k:t:T:CEh")) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
		case 'n': ncalls = strtoull(optarg, NULL, 0); break;
		case 'p': nprocs = atoi(optarg); break;
		case 'j': nthreads = atoi(optarg); break;
		case 'k': kill_ms = atoi(optarg); break;
		case 't': time_limit_s = atoi(optarg); break;
		case 'T': cmd_timeout = atoi(optarg); break;
		case 'C': chaos_on = 0; break;
		case 'E': lying_enoent = 1; break;
		default: usage();
		}
	}
	if (nprocs < 1 || nprocs > MAX_PROCS || nthreads < 1 ||
	    nthreads > MAX_THREADS || !ncalls || cmd_timeout < 1)
		usage();
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000003ULL) ^ (uint64_t)ts.tv_nsec;
		seed &= 0xffffffffffffULL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# ne-fuzz seed %" PRIu64 " (replay: ne-fuzz -s %" PRIu64
	       " -n %" PRIu64 " -p %d -j %d -k %d -T %d%s%s)\n", seed, seed,
	       ncalls, nprocs, nthreads, kill_ms, cmd_timeout,
	       chaos_on ? "" : " -C", lying_enoent ? " -E" : "");

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(sh, 0, sizeof(*sh));
	sh->seed = seed;
	for (int i = 0; i < nprocs * nthreads; i++)
		sh->quota[i] = ncalls / (uint64_t)(nprocs * nthreads) +
			       ((uint64_t)i < ncalls % (uint64_t)(nprocs * nthreads));

	if (access(NE_DEV_PATH, F_OK) || access(NE_CPUS_PATH, F_OK)) {
		printf("Bail out! no %s or no ne_cpus parameter\n", NE_DEV_PATH);
		return 1;
	}
	if (chaos_on && !emu_available()) {
		printf("Bail out! NE_EMU_CTL unset: chaos needs the emulator (-C runs without)\n");
		return 1;
	}
	/* Start state: the pool at home, nothing held, the device empty. */
	if (pool_set_home()) {
		printf("Bail out! cannot set ne_cpus to %s\n", POOL_HOME);
		return 1;
	}
	quarantine_read(&q);
	if (q.n != 0) {
		printf("Bail out! quarantine not empty at start (%d)\n", q.n);
		return 1;
	}
	pool_read(pool0, sizeof(pool0));
	read_line(OFFLINE_PATH, offline0, sizeof(offline0));
	hp_ensure_free(SHIFT_2M, 128);
	hp_free0 = hp_read(SHIFT_2M, "free_hugepages");
	read_line(CMD_TIMEOUT_PATH, old_timeout, sizeof(old_timeout));
	snprintf(buf, sizeof(buf), "%d", cmd_timeout);
	if (sysfs_write(CMD_TIMEOUT_PATH, buf))
		printf("# warning: cannot set cmd_timeout_ms (driver without it?)\n");
	/*
	 * The driver's timeout and quarantine lines would crawl through the
	 * TCG serial console (and stall the CPU printing them): only
	 * emergencies go there; the kmsg thread reads everything.
	 */
	read_line(PRINTK_PATH, old_printk, sizeof(old_printk));
	sysfs_write(PRINTK_PATH, "1");
	kfd = kmsg_open();
	if (kfd < 0) {
		printf("Bail out! /dev/kmsg: %s\n", strerror(-kfd));
		return 1;
	}
	printf("# start: ne_cpus=%s offline=%s free_hugepages(2M)=%ld cmd_timeout_ms=%d\n",
	       pool0, offline0, hp_free0, cmd_timeout);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	pthread_create(&kmsg_tid, NULL, kmsg_thread, NULL);

	t0 = now_ms();
	for (int p = 0; p < nprocs; p++)
		spawn(p);
	if (chaos_on)
		pthread_create(&chaos_tid, NULL, chaos_thread, NULL);

	/* Supervise: respawn the killed, kill at random, report progress. */
	ks = stream_seed(seed, 0x4B111, 0, 0);
	next_kill = t0 + (kill_ms ? rnd(&ks, 2 * (uint64_t)kill_ms) : 0);
	next_note = t0 + 10000;
	for (;;) {
		int live = 0;
		uint64_t t = now_ms();

		reap(killed);
		for (int p = 0; p < nprocs; p++) {
			if (wpid[p])
				live++;
			else if (!proc_finished(p) && !sh->stop) {
				winc[p]++;
				spawn(p);
				chaos_count(C_RESPAWN, 0);
				live++;
			}
		}
		if (!live)
			break;
		if (kill_ms && t >= next_kill && !sh->stop) {
			int p = (int)rnd(&ks, (uint64_t)nprocs);

			if (wpid[p] && !proc_finished(p)) {
				killed[p] = 1;
				kill(wpid[p], SIGKILL);
				chaos_count(C_KILL, 0);
			}
			next_kill = t + rnd(&ks, 2 * (uint64_t)kill_ms);
		}
		if (t >= next_note) {
			total = 0;
			for (int i = 0; i < nprocs * nthreads; i++)
				total += sh->done[i];
			printf("# progress: %" PRIu64 " calls, %.0f s\n", total,
			       (t - t0) / 1000.0);
			next_note = t + 10000;
		}
		if (time_limit_s && t - t0 >= (uint64_t)time_limit_s * 1000 &&
		    !sh->stop) {
			sh->stop = 1;
			time_up = 1;
		}
		sleep_ms(20);
	}
	secs = (now_ms() - t0) / 1000.0;
	total = 0;
	for (int i = 0; i < nprocs * nthreads; i++)
		total += sh->done[i];

	/* Wind down: chaos off, faults and latency cleared, orphans reaped. */
	sh->stop = 1;
	if (chaos_on) {
		chaos_stop = 1;
		pthread_join(chaos_tid, NULL);
	}
	if (emu_available()) {
		emu_cmd(NULL, 0, "fault clear");
		emu_cmd(NULL, 0, "latency all 0");
	}
	for (int i = 0; i < 250; i++) {	/* forked children of killed workers */
		int st;

		if (waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD)
			break;
		sleep_ms(20);
	}
	print_summary(secs, total);
	if (time_up)
		printf("# time limit of %d s reached before -n %" PRIu64 "\n",
		       time_limit_s, ncalls);

	th_tap_point(total > 0 && !unexpected_deaths,
		     "fuzz: %" PRIu64 " calls, %.1f s, %.0f calls/s, seed %" PRIu64 "%s%s",
		     total, secs, secs > 0 ? total / secs : 0.0, seed,
		     unexpected_deaths ? ": " : "", unexpected_deaths ? death_note : "");

	/* The quarantine must drain once the device behaves. */
	t0 = now_ms();
	left = quarantine_drain(30000);
	quarantine_read(&q);
	{
		char qtext[2048] = "";

		if (q.n)
			read_line(NE_QUARANTINE_PATH, qtext, sizeof(qtext));
		th_tap_point(q.n == 0, "quarantine drained (%d left after %.1f s)%s%s",
			     q.n, (now_ms() - t0) / 1000.0, q.n ? ": " : "", qtext);
	}
	(void)left;

	/*
	 * Slots of a lost SLOT_ALLOC are swept by the driver's retry timer
	 * only (not on events), which backs off to 60 s while the device
	 * misbehaves: give it one full period, poking with events meanwhile.
	 */
	slots = calloc(1, sizeof(*slots));
	t0 = now_ms();
	while (slots && emu_available() && now_ms() - t0 < 65000) {
		int unknown = 0;

		if (emu_slots(slots))
			break;
		quarantine_read(&q);
		for (int i = 0; i < slots->nslots; i++)
			unknown += !quarantine_has(&q, slots->slot[i].uid);
		if (!unknown && !q.n)
			break;
		emu_cmd(NULL, 0, "event");
		sleep_ms(250);
	}
	if (slots && emu_available())
		printf("# device slots: waited %.1f s for the driver's orphan sweep\n",
		       (now_ms() - t0) / 1000.0);
	if (slots && emu_available() && emu_slots(slots) == 0) {
		char extra[512] = "";
		int unknown = 0;

		for (int i = 0; i < slots->nslots; i++) {
			size_t l = strlen(extra);

			if (quarantine_has(&q, slots->slot[i].uid))
				continue;
			unknown++;
			snprintf(extra + l, sizeof(extra) - l, " uid=%" PRIu64 ":%s",
				 slots->slot[i].uid, slots->slot[i].state);
		}
		th_tap_point(unknown == 0 && slots->nslots == 0,
			     "emulator holds no slot (%d slots, %d not quarantined)%s",
			     slots->nslots, unknown, extra);
		for (int i = 0; i < slots->nslots && i < 8; i++)
			printf("#   slot uid=%" PRIu64 " state=%s mem_size=0x%" PRIx64
			       " regions=%d vcpus=%s\n", slots->slot[i].uid,
			       slots->slot[i].state, slots->slot[i].mem_size,
			       slots->slot[i].regions, slots->slot[i].vcpus);
	} else {
		th_tap_point(!emu_available(), "emulator slots readable");
	}

	hp_free1 = hp_read(SHIFT_2M, "free_hugepages");
	th_tap_point(hp_free1 == hp_free0, "free 2 MiB hugepages back to %ld (now %ld)",
		     hp_free0, hp_free1);

	dev = ne_dev_open();
	avail = dev >= 0 ? pool_avail_cpus(dev) : dev;
	if (dev >= 0)
		close(dev);
	th_tap_point(avail == POOL_NCPUS, "pool hands out all %d CPUs (got %d)",
		     POOL_NCPUS, avail);

	read_line(OFFLINE_PATH, offline1, sizeof(offline1));
	th_tap_point(!strcmp(offline0, offline1), "offline CPUs as at start (%s, now %s)",
		     offline0, offline1);

	buf[0] = 0;
	pool_read(buf, sizeof(buf));
	th_tap_point(!strcmp(buf, POOL_HOME), "ne_cpus reads %s (\"%s\")", POOL_HOME, buf);

	/* After the pool check: its enclave must be gone too. */
	quarantine_read(&q);
	if (slots && emu_available() && emu_slots(slots) == 0)
		th_tap_point(q.n == 0 && slots->nslots == 0,
			     "nothing held after the pool check (quarantine %d, slots %d)",
			     q.n, slots->nslots);

	kmsg_stop = 1;
	pthread_join(kmsg_tid, NULL);
	kmsg_scan();
	for (int i = 0; i < kmsg_bad && i < 8; i++)
		printf("#   kernel: %s\n", kmsg_first[i]);
	th_tap_point(kmsg_bad == 0, "kernel log clean (%d bad lines%s)", kmsg_bad,
		     kmsg_lost ? ", some records overwritten before read" : "");

	if (old_timeout[0])
		sysfs_write(CMD_TIMEOUT_PATH, old_timeout);
	if (old_printk[0]) {
		char *tab = strpbrk(old_printk, " \t");

		if (tab)
			*tab = 0;
		sysfs_write(PRINTK_PATH, old_printk);
	}
	if (th_tap_failed())
		printf("# FAILED: seed %" PRIu64 "; replay with: ne-fuzz -s %" PRIu64
		       " -n %" PRIu64 " -p %d -j %d -k %d -T %d%s%s\n", seed, seed,
		       ncalls, nprocs, nthreads, kill_ms, cmd_timeout,
		       chaos_on ? "" : " -C", lying_enoent ? " -E" : "");
	free(slots);
	return th_tap_end();
}
