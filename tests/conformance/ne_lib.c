// SPDX-License-Identifier: GPL-2.0
/*
 * Driver-facing helpers: ioctl wrappers, hugepage backings, the CPU pool,
 * and the parent-side restore of global state between tests.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "ne_lib.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

int ne_ioctl(int fd, unsigned long req, void *arg)
{
	int rc = ioctl(fd, req, arg);

	return rc < 0 ? -errno : rc;
}

int ne_dev_open(void)
{
	int fd = open(NE_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ne_create(int dev, uint64_t *uid)
{
	return ne_ioctl(dev, NE_CREATE_VM, uid);
}

int ne_add_vcpu(int efd, uint32_t *id)
{
	return ne_ioctl(efd, NE_ADD_VCPU, id);
}

int ne_set_mem(int efd, uint64_t flags, uint64_t addr, uint64_t size)
{
	struct ne_user_memory_region r = {
		.flags = flags, .memory_size = size, .userspace_addr = addr,
	};

	return ne_ioctl(efd, NE_SET_USER_MEMORY_REGION, &r);
}

int ne_image_info(int efd, uint64_t flags, uint64_t *offset)
{
	struct ne_image_load_info i = { .flags = flags };
	int rc = ne_ioctl(efd, NE_GET_IMAGE_LOAD_INFO, &i);

	if (offset)
		*offset = i.memory_offset;
	return rc;
}

int ne_start(int efd, uint64_t flags, uint64_t *cid)
{
	struct ne_enclave_start_info s = {
		.flags = flags, .enclave_cid = cid ? *cid : 0,
	};
	int rc = ne_ioctl(efd, NE_START_ENCLAVE, &s);

	if (cid && rc == 0)
		*cid = s.enclave_cid;
	return rc;
}

/* ---- hugepages ---- */

static const char *hp_dir(int shift)
{
	return shift == SHIFT_1G ? "/sys/kernel/mm/hugepages/hugepages-1048576kB"
				 : "/sys/kernel/mm/hugepages/hugepages-2048kB";
}

long hp_read(int shift, const char *what)
{
	char path[160], buf[64];

	snprintf(path, sizeof(path), "%s/%s", hp_dir(shift), what);
	if (sysfs_read(path, buf, sizeof(buf)))
		return -1;
	return atol(buf);
}

int hp_ensure_free(int shift, long n)
{
	long fr = hp_read(shift, "free_hugepages");
	long nr = hp_read(shift, "nr_hugepages");
	char path[160], v[32];

	if (fr < 0 || nr < 0)
		return -ENOENT;
	if (fr >= n)
		return 0;
	snprintf(path, sizeof(path), "%s/nr_hugepages", hp_dir(shift));
	snprintf(v, sizeof(v), "%ld", nr + (n - fr));
	sysfs_write(path, v);
	return hp_read(shift, "free_hugepages") >= n ? 0 : -ENOMEM;
}

static void touch(void *p, size_t size, size_t step)
{
	for (size_t off = 0; off < size; off += step)
		((volatile char *)p)[off] = 1;
}

void *hp_map(size_t size, int shift)
{
	return hp_map_kind(BACK_ANON, size, shift, NULL);
}

#define HUGETLBFS_DIR "/tmp/ne-conformance-hugetlbfs"

void *hp_map_kind(enum backing kind, size_t size, int shift, int *fdp)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
		    (shift << MAP_HUGE_SHIFT);
	char opts[32], path[128];
	int fd = -1;
	void *p;

	if (fdp)
		*fdp = -1;
	if (kind == BACK_MEMFD) {
		fd = memfd_create("ne-conformance", MFD_CLOEXEC | MFD_HUGETLB |
				  (shift << MFD_HUGE_SHIFT));
	} else if (kind == BACK_HUGETLBFS) {
		mkdir(HUGETLBFS_DIR, 0700);
		snprintf(opts, sizeof(opts), "pagesize=%s",
			 shift == SHIFT_1G ? "1G" : "2M");
		/* EBUSY: mounted by an earlier test; fine. */
		mount("none", HUGETLBFS_DIR, "hugetlbfs", 0, opts);
		snprintf(path, sizeof(path), HUGETLBFS_DIR "/region-%d",
			 getpid());
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		unlink(path);
	}
	if (kind != BACK_ANON) {
		if (fd < 0 || ftruncate(fd, size) < 0) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		flags = MAP_SHARED;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	touch(p, size, 1UL << shift);
	if (fdp)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return p;
}

void hp_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

uint64_t va_to_pa(const void *va)
{
	uint64_t ent = 0, off = (uintptr_t)va / 4096 * 8;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		ent = 0;
	close(fd);
	if (!(ent & (1ULL << 63)))	/* not present */
		return 0;
	ent &= (1ULL << 55) - 1;	/* PFN bits 0-54 */
	return ent * 4096 + (uintptr_t)va % 4096;
}

/* ---- sysfs, pool ---- */

int sysfs_read(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sz - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = 0;
	return 0;
}

int sysfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

int pool_read(char *buf, size_t sz)
{
	return sysfs_read(NE_CPUS_PATH, buf, sz);
}

int pool_write(const char *s)
{
	char line[1024];

	snprintf(line, sizeof(line), "%s\n", s);
	return sysfs_write(NE_CPUS_PATH, line);
}

int pool_set_home(void)
{
	char cur[600];

	if (pool_read(cur, sizeof(cur)) == 0 && !strcmp(cur, POOL_HOME))
		return 0;
	return pool_write(POOL_HOME);
}

int smt_pairs(void)
{
	char buf[32];

	return !sysfs_read("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
			   buf, sizeof(buf)) && !strcmp(buf, "0-1");
}

int cpu_online(int cpu)
{
	char path[96], buf[16];
	int rc;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online",
		 cpu);
	rc = sysfs_read(path, buf, sizeof(buf));
	return rc ? rc : atoi(buf);
}

int cpu_set_online(int cpu, int on)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online",
		 cpu);
	return sysfs_write(path, on ? "1" : "0");
}

int ne_driver_bdf(char *bdf, size_t sz)
{
	DIR *d = opendir(NE_DRV_DIR);
	struct dirent *de;
	int rc = -ENODEV;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		/* Device links look like 0000:00:04.0. */
		if (strlen(de->d_name) == 12 && de->d_name[4] == ':' &&
		    de->d_name[7] == ':') {
			snprintf(bdf, sz, "%s", de->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

int wait_child(int pid, int timeout_ms)
{
	struct timespec nap = { 0, 2 * 1000 * 1000 };
	int status, waited = 0;

	for (;;) {
		int r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			return -errno;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
		waited += 2;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- parent-side state restore ---- */

static char orig_pool[600];
static int have_orig_pool;
static long orig_nr_2m = -1, orig_nr_1g = -1;
static char orig_timeout[32], orig_defer[8];
#define TIMEOUT_PARAM_PATH NE_PARAM_DIR "/cmd_timeout_ms"
#define DEFER_PARAM_PATH NE_PARAM_DIR "/defer_last_chunk"
#define NCPUS_MAX 64

static void restore_hugepages(int shift, long nr)
{
	char path[160], v[32];

	if (nr < 0 || hp_read(shift, "nr_hugepages") == nr)
		return;
	snprintf(path, sizeof(path), "%s/nr_hugepages", hp_dir(shift));
	snprintf(v, sizeof(v), "%ld", nr);
	sysfs_write(path, v);
}

void suite_init(void)
{
	have_orig_pool = pool_read(orig_pool, sizeof(orig_pool)) == 0;
	orig_nr_2m = hp_read(SHIFT_2M, "nr_hugepages");
	orig_nr_1g = hp_read(SHIFT_1G, "nr_hugepages");
	if (sysfs_read(TIMEOUT_PARAM_PATH, orig_timeout, sizeof(orig_timeout)))
		orig_timeout[0] = 0;
	if (sysfs_read(DEFER_PARAM_PATH, orig_defer, sizeof(orig_defer)))
		orig_defer[0] = 0;
	if (emu_available())
		emu_cmd(NULL, 0, "reset");
	emu_close();
}

static void online_all_cpus(void)
{
	for (int c = 1; c < NCPUS_MAX; c++)
		if (cpu_online(c) == 0)
			cpu_set_online(c, 1);
}

void suite_after_each(void)
{
	char cur[600];

	if (emu_available()) {
		emu_cmd(NULL, 0, "reset");
		/*
		 * The device forgot every slot: the driver's retries release
		 * what a test left quarantined (else ne_cpus stays EPERM).
		 */
		quarantine_drain(10000);
		emu_close();
	}
	/* Only touch the pool when a test left it changed: hotplug is slow. */
	if (access(NE_CPUS_PATH, F_OK) == 0 &&
	    (pool_read(cur, sizeof(cur)) || strcmp(cur, POOL_HOME))) {
		pool_write("");
		online_all_cpus();
		pool_write(POOL_HOME);
	}
	restore_hugepages(SHIFT_2M, orig_nr_2m);
	restore_hugepages(SHIFT_1G, orig_nr_1g);
	if (orig_timeout[0] && (sysfs_read(TIMEOUT_PARAM_PATH, cur, sizeof(cur)) ||
				strcmp(cur, orig_timeout)))
		sysfs_write(TIMEOUT_PARAM_PATH, orig_timeout);
	if (orig_defer[0] && (sysfs_read(DEFER_PARAM_PATH, cur, sizeof(cur)) ||
			      strcmp(cur, orig_defer)))
		sysfs_write(DEFER_PARAM_PATH, orig_defer);
}

int defer_set(int on)
{
	if (access(DEFER_PARAM_PATH, F_OK))
		return -ENOENT;
	return sysfs_write(DEFER_PARAM_PATH, on ? "1" : "0");
}

void suite_finish(void)
{
	if (access(NE_CPUS_PATH, F_OK) == 0 && have_orig_pool) {
		pool_write("");
		online_all_cpus();
		if (orig_pool[0])
			pool_write(orig_pool);
	}
	umount2(HUGETLBFS_DIR, MNT_DETACH);
	rmdir(HUGETLBFS_DIR);
}

/* ---- assertion-style helpers ---- */

int t_dev(struct th_ctx *_th)
{
	int fd = ne_dev_open();

	ASSERT_OK(fd, "open " NE_DEV_PATH " (is the driver bound?)");
	return fd;
}

int t_create(struct th_ctx *_th, int dev, uint64_t *uid)
{
	uint64_t u = 0;
	int fd = ne_create(dev, &u);

	ASSERT_OK(fd, "NE_CREATE_VM");
	ASSERT_NE(0, u, "the slot uid must never be 0");
	if (uid)
		*uid = u;
	return fd;
}

void *t_hp(struct th_ctx *_th, size_t size)
{
	void *p;

	if (hp_ensure_free(SHIFT_2M, size / SZ_2M))
		FAIL("cannot reserve %zu free 2 MiB hugepages", size / SZ_2M);
	p = hp_map(size, SHIFT_2M);
	if (!p)
		FAIL("mmap of %zu MiB of 2 MiB hugepages failed: %s",
		     size >> 20, strerror(errno));
	return p;
}

void t_add_mem(struct th_ctx *_th, int efd, void *p, size_t size)
{
	ASSERT_RC(0, ne_set_mem(efd, 0, (uintptr_t)p, size),
		  "NE_SET_USER_MEMORY_REGION %p + 0x%zx", p, size);
}

void t_add_vcpus(struct th_ctx *_th, int efd, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t id = 0;

		ASSERT_RC(0, ne_add_vcpu(efd, &id), "auto NE_ADD_VCPU #%d", i);
	}
}

void t_pages_by_pa(struct th_ctx *_th, char *p, int n, int *ord, uint64_t *pa)
{
	for (int i = 0; i < n; i++) {
		ord[i] = i;
		pa[i] = va_to_pa(p + (size_t)i * SZ_2M);
		ASSERT_NE(0, pa[i], "no PFN for page %d (need CAP_SYS_ADMIN)", i);
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && pa[ord[j - 1]] > pa[ord[j]]; j--) {
			int t = ord[j];

			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
}

uint64_t t_start(struct th_ctx *_th, int efd)
{
	uint64_t cid = 0;

	ASSERT_RC(0, ne_start(efd, 0, &cid), "NE_START_ENCLAVE");
	return cid;
}

uint64_t t_make_running(struct th_ctx *_th, int efd)
{
	void *p = t_hp(_th, SZ_64M);

	t_add_mem(_th, efd, p, SZ_64M);
	t_add_vcpus(_th, efd, 2);
	return t_start(_th, efd);
}

void t_check_pool_whole(struct th_ctx *_th, int dev)
{
	uint32_t got[POOL_NCPUS];
	char cur[600];
	int fd, seen = 0;

	ASSERT_RC(0, pool_read(cur, sizeof(cur)), "read ne_cpus");
	EXPECT_EQ(0, strcmp(cur, POOL_HOME), "ne_cpus reads '%s'", cur);
	fd = t_create(_th, dev, NULL);
	for (int i = 0; i < POOL_NCPUS; i++) {
		got[i] = 0;
		ASSERT_RC(0, ne_add_vcpu(fd, &got[i]),
			  "pool not whole: auto vCPU #%d of %d", i, POOL_NCPUS);
		seen |= 1 << got[i];
	}
	EXPECT_EQ(0x3c, seen, "pool CPUs handed out: mask 0x%x", seen);
	close(fd);
}

int t_emu_nslots(struct th_ctx *_th)
{
	static struct emu_slots s;

	ASSERT_EQ(0, emu_slots(&s), "emulator 'slots' failed");
	return s.nslots;
}

const char *t_emu_state(struct th_ctx *_th, uint64_t uid)
{
	static struct emu_slots s;
	const struct emu_slot *sl;

	ASSERT_EQ(0, emu_slots(&s), "emulator 'slots' failed");
	sl = emu_find_slot(&s, uid);
	return sl ? sl->state : "ABSENT";
}

int in_fork(int (*fn)(void *arg), void *arg)
{
	int p[2], rc = INT32_MIN, pid;

	if (pipe(p))
		return INT32_MIN;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r;

		close(p[0]);
		emu_close();
		r = fn(arg);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0) {
		if (read(p[0], &rc, sizeof(rc)) != sizeof(rc))
			rc = INT32_MIN;
		wait_child(pid, 30000);
	}
	close(p[0]);
	return rc;
}

int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	lseek(fd, 0, SEEK_END);
	return fd;
}

int kmsg_driver_lines(int kfd, const char *bdf)
{
	char rec[2048];
	int n = 0;

	for (;;) {
		ssize_t r = read(kfd, rec, sizeof(rec) - 1);

		if (r < 0 && errno == EPIPE)
			continue;	/* overwritten records: keep going */
		if (r <= 0)
			break;
		rec[r] = 0;
		if (strstr(rec, "nitro_enclaves") || (bdf && *bdf && strstr(rec, bdf))) {
			n++;
			th_log("#   dmesg: %.*s", (int)strcspn(rec, "\n"), rec);
		}
	}
	return n;
}

/* ---- the driver's quarantine ---- */

void quarantine_read(struct quarantine *q)
{
	char buf[4096], *line, *save = NULL;
	int fd = open(NE_QUARANTINE_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	memset(q, 0, sizeof(*q));
	if (fd < 0) {
		q->n = -errno;
		return;
	}
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r < 0) {
		q->n = -EIO;
		return;
	}
	buf[r] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long uid = 0;
		long mib = 0;
		char cpus[256] = "";

		if (sscanf(line, "slot=%llu mem_mib=%ld cpus=%255s", &uid,
			   &mib, cpus) < 2)
			continue;
		if (q->n < (int)(sizeof(q->uid) / sizeof(q->uid[0])))
			q->uid[q->n] = uid;
		q->n++;
		q->mem_mib += mib;
		/* cpulist: count a-b ranges and single CPUs */
		for (char *c = cpus, *e; *c; c = e) {
			long lo = strtol(c, &e, 10), hi = lo;

			if (e == c)
				break;
			if (*e == '-')
				hi = strtol(e + 1, &e, 10);
			q->ncpus += (int)(hi - lo + 1);
			if (*e == ',')
				e++;
		}
	}
}

int quarantine_has(const struct quarantine *q, uint64_t uid)
{
	for (int i = 0; i < q->n && i < 16; i++)
		if (q->uid[i] == uid)
			return 1;
	return 0;
}

int quarantine_drain(int timeout_ms)
{
	struct quarantine q;

	for (int waited = 0;; waited += 250) {
		quarantine_read(&q);
		if (q.n <= 0 || waited >= timeout_ms)
			return q.n < 0 ? 0 : q.n;
		if (emu_available())
			emu_cmd(NULL, 0, "event");
		usleep(250 * 1000);
	}
}

int pool_avail_cpus(int dev)
{
	uint64_t uid;
	int fd = ne_create(dev, &uid), n = 0;

	if (fd < 0)
		return fd == -NE_ERR_NO_CPUS_AVAIL_IN_POOL ? 0 : fd;
	for (;;) {
		uint32_t id = 0;

		if (ne_add_vcpu(fd, &id))
			break;
		n++;
	}
	close(fd);
	return n;
}
