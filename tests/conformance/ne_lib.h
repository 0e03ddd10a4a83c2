/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driver-facing helpers for the conformance suite: ioctl wrappers returning
 * -errno, hugepage backings, the ne_cpus pool, sysfs, and the fixtures
 * (one per fd kind: the /dev fd and the enclave fd; plus memory backings).
 */
#ifndef NE_LIB_H
#define NE_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/nitro_enclaves.h>

#include "emuctl.h"
#include "harness.h"

#define NE_DEV_PATH	"/dev/nitro_enclaves"
#define NE_CPUS_PATH	"/sys/module/nitro_enclaves/parameters/ne_cpus"
#define NE_PARAM_DIR	"/sys/module/nitro_enclaves/parameters"
#define NE_DRV_DIR	"/sys/bus/pci/drivers/nitro_enclaves"

#define SZ_1M	(1UL << 20)
#define SZ_2M	(2UL << 20)
#define SZ_64M	(64UL << 20)
#define SZ_1G	(1UL << 30)
#define SHIFT_2M 21
#define SHIFT_1G 30

/* The suite's working pool: two full cores, CPU 0's core excluded. */
#define POOL_HOME	"2-5"
#define POOL_NCPUS	4

/*
 * The VM's CPUs are six threads in three cores, siblings (0,1) (2,3) (4,5)
 * (-smp 6,sockets=1,cores=3,threads=2). Tests whose expectations need those
 * siblings skip on a VM without SMT (threads=1, every CPU a core, as on
 * Graviton), where the driver is right to accept what they expect refused.
 */
int smt_pairs(void);	/* 1 when CPU 0's siblings are 0-1 */
#define NEED_SMT_PAIRS()						\
	do {								\
		if (!smt_pairs())					\
			SKIP(return, "needs SMT siblings (0,1) (2,3) (4,5); CPU 0 has none"); \
	} while (0)

/* ---- ioctl wrappers: return >= 0 on success, -errno on failure ---- */
int ne_dev_open(void);
int ne_create(int dev, uint64_t *uid);
int ne_add_vcpu(int efd, uint32_t *id);
int ne_set_mem(int efd, uint64_t flags, uint64_t addr, uint64_t size);
int ne_image_info(int efd, uint64_t flags, uint64_t *offset);
int ne_start(int efd, uint64_t flags, uint64_t *cid);
int ne_ioctl(int fd, unsigned long req, void *arg);

/* ---- hugepages ---- */
enum backing { BACK_ANON, BACK_MEMFD, BACK_HUGETLBFS };

/* Map size bytes of hugetlb memory of page size 1 << shift, touched. */
void *hp_map(size_t size, int shift);
void *hp_map_kind(enum backing kind, size_t size, int shift, int *fdp);
void hp_unmap(void *p, size_t size);
long hp_read(int shift, const char *what);	/* free_hugepages, ... */
/* Make sure n pages of this size are free (raising nr_hugepages). */
int hp_ensure_free(int shift, long n);
/* Physical address behind va (from /proc/self/pagemap), 0 if unknown. */
uint64_t va_to_pa(const void *va);

/* ---- CPU pool and sysfs ---- */
int sysfs_read(const char *path, char *buf, size_t sz); /* strips ws */
int sysfs_write(const char *path, const char *s);	 /* -errno */
int pool_read(char *buf, size_t sz);
int pool_write(const char *s);	/* writes s + "\n", like echo */
int pool_set_home(void);	/* POOL_HOME unless already set */
int cpu_online(int cpu);	/* 1, 0, or -errno */
int cpu_set_online(int cpu, int on);
int ne_driver_bdf(char *bdf, size_t sz);	/* bound device's BDF */
/*
 * This project's cross-ioctl merging (module parameter defer_last_chunk):
 * 0 or -errno (-ENOENT: a driver without it, e.g. upstream). Restored
 * after every test.
 */
int defer_set(int on);

/* Parent-side restore after every test, and suite start/end. */
void suite_init(void);
void suite_after_each(void);
void suite_finish(void);

/* ---- assertion-style helpers (they use ASSERT, so take the ctx) ---- */
int t_dev(struct th_ctx *_th);
int t_create(struct th_ctx *_th, int dev, uint64_t *uid);
void *t_hp(struct th_ctx *_th, size_t size);	/* 2 MiB pages */
void t_add_mem(struct th_ctx *_th, int efd, void *p, size_t size);
void t_add_vcpus(struct th_ctx *_th, int efd, int n);
/* The n 2 MiB pages at p by physical address: ord[i] is the i-th lowest. */
void t_pages_by_pa(struct th_ctx *_th, char *p, int n, int *ord, uint64_t *pa);
uint64_t t_start(struct th_ctx *_th, int efd);
/* Give efd 64 MiB and one full core, then start it; returns the CID. */
uint64_t t_make_running(struct th_ctx *_th, int efd);
/* Pool reads POOL_HOME and hands out all POOL_NCPUS CPUs again. */
void t_check_pool_whole(struct th_ctx *_th, int dev);
int t_emu_nslots(struct th_ctx *_th);
const char *t_emu_state(struct th_ctx *_th, uint64_t uid);

#define NEED_EMU()							\
	do {								\
		if (!emu_available())					\
			SKIP(return, "no emulator control (NE_EMU_CTL unset)"); \
	} while (0)

/* Run an emulator command that must succeed. */
#define EMU(...)							\
	do {								\
		char _eb[512];						\
		int _er = emu_cmd(_eb, sizeof(_eb), __VA_ARGS__);	\
		if (_er)						\
			FAIL("emulator command failed (%d): %s", _er, _eb); \
	} while (0)

/* ---- the driver's quarantine (this project's module parameter) ---- */
#define NE_QUARANTINE_PATH NE_PARAM_DIR "/quarantine"

struct quarantine {
	int n;			/* enclaves held, -errno if unreadable */
	long mem_mib;		/* their pinned memory */
	int ncpus;		/* their CPUs */
	uint64_t uid[16];
};

/* Read and parse the quarantine listing; q->n < 0 if there is none. */
void quarantine_read(struct quarantine *q);
/* Is this slot in the quarantine listing? */
int quarantine_has(const struct quarantine *q, uint64_t uid);
/*
 * Ask the driver to retry (an emulator event) until its quarantine is
 * empty or timeout_ms passed; returns the number still held.
 */
int quarantine_drain(int timeout_ms);
/* CPUs the pool hands out now (an enclave takes them all, then closes). */
int pool_avail_cpus(int dev);

/* Wait for a forked helper and return its exit code (or 128+sig). */
int wait_child(int pid, int timeout_ms);

/* ---- fixtures ---- */
FIXTURE(dev) {
	int dev;
};

FIXTURE(encl) {
	int dev;
	int fd;
	uint64_t uid;
};

FIXTURE(mem) {
	int dev;
	int fd;
	uint64_t uid;
	void *p;
	size_t size;
	int bfd;
};
FIXTURE_VARIANT(mem) {
	enum backing kind;
	int shift;
	size_t size;
};


/*
 * Run fn(arg) in a forked child (another mm, same fds) and return its int
 * result (e.g. an ioctl rc). INT32_MIN if the child died.
 */
int in_fork(int (*fn)(void *arg), void *arg);

/* /dev/kmsg positioned at the end; -errno on failure. */
int kmsg_open(void);
/* Count (and print) records since kmsg_open naming the driver or bdf. */
int kmsg_driver_lines(int kfd, const char *bdf);

/*
 * Fork a child that blocks in NE_ADD_VCPU on a device delayed by
 * latency_us, SIGKILL it, and return the seconds until it exited (-1 on
 * failure). Leaves the emulator latency set.
 */
double kill_blocked_waiter(int latency_us);

#endif /* NE_LIB_H */
