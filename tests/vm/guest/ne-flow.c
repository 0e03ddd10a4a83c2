// SPDX-License-Identifier: GPL-2.0
/*
 * The enclave life cycle of the upstream sample (spec §7) against the driver
 * and the emulated device, checked from both ends: the ioctl results here,
 * the emulator's slot table and command trace over its control port.
 * Part 2 injects a SLOT_ALLOC failure and expects its rc as CREATE_VM errno.
 * One flow whose steps depend on each other: it reports them as sequential
 * TAP points of the project's harness (th_tap_*, tests/lib/harness), last
 * line "N passed, N failed, N skipped"; exit status 0 only when all passed.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/nitro_enclaves.h>

#include "../../../emulator/ctlclient.h"
#include "harness.h"
#include "trace.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define MIB (1024ULL * 1024)
#define REGION (2 * MIB)
#define NE_DEV "/dev/nitro_enclaves"
#define NE_PARAMS "/sys/module/nitro_enclaves/parameters/"
#define NE_CPUS NE_PARAMS "ne_cpus"
#define MAX_VCPUS 64

static struct {
	unsigned int mem_mib;
	const char *pool;
	int set_pool;
	const char *ctl_path;
	int part_flow, part_fault;
	int hup_timeout_ms;
	int error_probes;	/* also try what must fail (logs driver errors) */
	int deferred_mem;	/* SLOT_ADD_MEM may be held back until START */
} opt = { 64, "2-3", 1, NULL, 1, 1, 30000, 1, 0 };

static struct emuctl ctl = { .fd = -1 };
static int pool_threads;	/* threads per core of the pool */

static void usage(void)
{
	fprintf(stderr,
		"usage: ne-flow [-m MIB] [-p CPULIST | -n] [-c CTL] [-s | -F] [-t MS] [-E] [-M]\n"
		"  -m  enclave memory in MiB, as 2 MiB hugepage regions (default 64)\n"
		"  -p  CPU pool to write to ne_cpus first (default 2-3)\n"
		"  -n  do not touch ne_cpus (the pool is set already)\n"
		"  -c  emulator control port (default $NE_EMU_CTL, else /dev/ttyS1)\n"
		"  -s  skip part 2 (SLOT_ALLOC fault injection); -F only part 2\n"
		"  -t  how long to wait for POLLHUP after `end`, ms (default 30000)\n"
		"  -E  success path only: skip the extra ADD_VCPU that must fail\n"
		"  -M  accept SLOT_ADD_MEM held back until START (default: when\n"
		"      the module has defer_last_chunk=Y)\n");
	exit(2);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Run a control command, its data lines into r (may be NULL; else zeroed
 * by the caller and freed here on failure); on failure print why.
 */
static int ctl_run(const char *cmd, struct emuctl_lines *r)
{
	int rc = emuctl_request(&ctl, cmd, EMUCTL_TIMEOUT_MS,
				r ? emuctl_collect : NULL, r);

	if (rc == 1)
		TH_LOG("control '%s': %s", cmd, ctl.err);
	else if (rc)
		TH_LOG("control '%s': %s", cmd,
		       rc == -ETIMEDOUT ? "no answer" : strerror(-rc));
	if (rc && r)
		emuctl_lines_free(r);
	return rc ? -1 : 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Number of CPUs in a cpulist string like "2-3,6". */
static int cpulist_count(const char *s)
{
	int n = 0;

	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s)
			return -1;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		n += (int)(b - a + 1);
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

/* Threads per core, from the first pool CPU's siblings (while it is online). */
static int threads_per_core(const char *pool)
{
	char path[128], buf[256];
	int n;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
		 atoi(pool));
	if (read_file(path, buf, sizeof(buf)) == 0) {
		n = cpulist_count(buf);
		if (n > 0)
			return n;
	}
	return 0;
}

static int cpu_online(int cpu)
{
	char path[96], buf[8];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

static int set_pool(int *threads)
{
	char back[512];
	int rc, t;

	t = threads_per_core(opt.pool);
	rc = write_file(NE_CPUS, opt.pool);
	if (!th_tap_point(rc == 0, "ne_cpus accepts %s", opt.pool)) {
		TH_LOG("write: %s", strerror(-rc));
		return -1;
	}
	read_file(NE_CPUS, back, sizeof(back));
	th_tap_point(!strcmp(back, opt.pool) && cpu_online(atoi(opt.pool)) == 0,
		     "ne_cpus reads back '%s' and CPU %d is offline", back,
		     atoi(opt.pool));
	*threads = t > 0 ? t : cpulist_count(opt.pool);
	return 0;
}

/* The device's view of the slots: count SLOT lines, return the first. */
static int slots(char *first, size_t size, int *nregions_lines)
{
	struct emuctl_lines r = { 0 };
	int n = 0;
	size_t i;

	if (ctl_run("slots", &r))
		return -1;
	if (nregions_lines)
		*nregions_lines = 0;
	for (i = 0; i < r.n; i++) {
		if (!strncmp(r.line[i], "SLOT ", 5)) {
			if (!n && first)
				snprintf(first, size, "%s", r.line[i]);
			n++;
		} else if (!strncmp(r.line[i], "R ", 2) && nregions_lines) {
			(*nregions_lines)++;
		}
	}
	emuctl_lines_free(&r);
	return n;
}

/* Fetch the trace as parsed entries; prints it as TAP diagnostics. */
static int get_trace(struct trace_ent **out)
{
	struct emuctl_lines r = { 0 };
	struct trace_ent *v;
	size_t i;
	int n = 0;

	if (ctl_run("trace", &r))
		return -1;
	v = calloc(r.n + 1, sizeof(*v));
	if (!v) {
		emuctl_lines_free(&r);
		return -1;
	}
	for (i = 0; i < r.n; i++) {
		TH_LOG("  %s", r.line[i]);
		if (!trace_parse(r.line[i], &v[n]))
			n++;
	}
	emuctl_lines_free(&r);
	*out = v;
	return n;
}

struct flow {
	int fd;
	uint64_t slot;
	int nregions;
	void **regions;
	int threads;
	uint32_t vcpus[MAX_VCPUS];
	int nvcpus;
	uint64_t cid;
};

/* Expected: ALLOC, ADD_MEM x k, ADD_VCPU x threads, START, INFO, FREE. */
static void check_flow_trace(const struct flow *f)
{
	struct trace_ent *t = NULL;
	uint64_t mem = 0;
	int n, i = 0, k = 0, v = 0, good = 1;
	char why[160] = "";

	n = get_trace(&t);
	if (n < 0) {
		th_tap_point(0, "emulator trace readable");
		return;
	}
#define EXPECT(cond, ...) do { if (good && !(cond)) { good = 0; \
	snprintf(why, sizeof(why), __VA_ARGS__); } } while (0)
	EXPECT(i < n && !strcmp(t[i].cmd, "SLOT_ALLOC") && t[i].rc == 0 &&
	       t[i].slot == f->slot, "entry %d: want SLOT_ALLOC slot=%llu rc=0",
	       i, (unsigned long long)f->slot);
	i++;
	/*
	 * Memory before vCPUs, as the flow called them, unless the driver
	 * holds memory chunks back until START (the project module merging
	 * across regions): then the last SLOT_ADD_MEMs come after the vCPUs.
	 */
	while (i < n && (!strcmp(t[i].cmd, "SLOT_ADD_MEM") ||
			 !strcmp(t[i].cmd, "SLOT_ADD_VCPU"))) {
		if (!strcmp(t[i].cmd, "SLOT_ADD_MEM")) {
			EXPECT(t[i].slot == f->slot && t[i].rc == 0 &&
			       t[i].size && t[i].size % REGION == 0 &&
			       t[i].paddr % REGION == 0,
			       "entry %d: SLOT_ADD_MEM fields or rc", i);
			EXPECT(!v || opt.deferred_mem,
			       "entry %d: SLOT_ADD_MEM after SLOT_ADD_VCPU", i);
			mem += t[i].size;
			k++;
		} else {
			EXPECT(t[i].slot == f->slot && t[i].rc == 0 &&
			       v < f->nvcpus && t[i].vcpu == f->vcpus[v],
			       "entry %d: SLOT_ADD_VCPU vcpu=%llu unexpected", i,
			       (unsigned long long)t[i].vcpu);
			v++;
		}
		i++;
	}
	EXPECT(k >= 1 && k <= f->nregions, "%d SLOT_ADD_MEM for %d regions",
	       k, f->nregions);
	EXPECT(mem == (uint64_t)opt.mem_mib * MIB,
	       "SLOT_ADD_MEM sizes add up to %llu MiB, not %u",
	       (unsigned long long)(mem / MIB), opt.mem_mib);
	EXPECT(v == f->nvcpus, "%d SLOT_ADD_VCPU, want %d", v, f->nvcpus);
	EXPECT(i < n && !strcmp(t[i].cmd, "ENCLAVE_START") &&
	       t[i].slot == f->slot && t[i].cid == 0 && t[i].flags == 0 &&
	       t[i].rc == 0 && t[i].enclave_cid == f->cid,
	       "entry %d: want ENCLAVE_START slot cid=0 flags=0 -> cid %llu",
	       i, (unsigned long long)f->cid);
	i++;
	EXPECT(i < n && !strcmp(t[i].cmd, "SLOT_INFO") && t[i].slot == f->slot &&
	       t[i].rc == 0 && !strcmp(t[i].state, "STOPPED"),
	       "entry %d: want SLOT_INFO (event worker) -> STOPPED", i);
	i++;
	EXPECT(i < n && !strcmp(t[i].cmd, "SLOT_FREE") && t[i].slot == f->slot &&
	       t[i].rc == 0, "entry %d: want SLOT_FREE", i);
	i++;
	EXPECT(i == n, "%d unexpected trailing command(s), first %s", n - i,
	       i < n ? t[i].cmd : "");
#undef EXPECT
	if (!th_tap_point(good, "trace: SLOT_ALLOC, SLOT_ADD_MEM x%d, SLOT_ADD_VCPU x%d, "
			  "ENCLAVE_START, SLOT_INFO, SLOT_FREE", k, v))
		TH_LOG("%s", why);
	free(t);
}

static int add_memory(struct flow *f)
{
	int i;

	f->nregions = (int)(opt.mem_mib / 2);
	f->regions = calloc(f->nregions, sizeof(void *));
	if (!f->regions)
		return -1;
	for (i = 0; i < f->nregions; i++) {
		struct ne_user_memory_region r = { .flags = NE_DEFAULT_MEMORY_REGION,
						   .memory_size = REGION };
		void *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			       MAP_HUGE_2MB, -1, 0);

		if (p == MAP_FAILED) {
			th_tap_point(0, "%d regions of 2 MiB added", f->nregions);
			TH_LOG("mmap of hugepage %d: %s (hugepages reserved?)",
			       i, strerror(errno));
			return -1;
		}
		f->regions[i] = p;
		memset(p, 0x5a, 4096);
		r.userspace_addr = (uintptr_t)p;
		if (ioctl(f->fd, NE_SET_USER_MEMORY_REGION, &r)) {
			th_tap_point(0, "%d regions of 2 MiB added", f->nregions);
			TH_LOG("region %d: errno %d (%s)", i, errno,
			       strerror(errno));
			return -1;
		}
	}
	return th_tap_point(1, "%d regions of 2 MiB added (%u MiB)", f->nregions,
			    opt.mem_mib) ? 0 : -1;
}

static int add_vcpus(struct flow *f)
{
	uint32_t id;
	int i, dup = 0;

	for (i = 0; i < f->threads && i < MAX_VCPUS; i++) {
		id = 0;
		if (ioctl(f->fd, NE_ADD_VCPU, &id)) {
			th_tap_point(0, "ADD_VCPU 0 x%d fills the core", f->threads);
			TH_LOG("vCPU %d: errno %d", i, errno);
			return -1;
		}
		f->vcpus[f->nvcpus++] = id;
	}
	for (i = 1; i < f->nvcpus; i++)
		dup |= f->vcpus[i] == f->vcpus[0];
	th_tap_point(!dup && f->vcpus[0] != 0, "ADD_VCPU 0 x%d fills the core (CPUs %u%s)",
		     f->threads, f->vcpus[0], f->nvcpus > 1 ? " and siblings" : "");
	if (!opt.error_probes)
		return 0;
	id = 0;
	errno = 0;
	i = ioctl(f->fd, NE_ADD_VCPU, &id);
	th_tap_point(i == -1 && errno == NE_ERR_NO_CPUS_AVAIL_IN_POOL,
		     "one more ADD_VCPU 0 fails with NE_ERR_NO_CPUS_AVAIL_IN_POOL "
		     "(got %d, errno %d)", i, errno);
	return 0;
}

static int check_running_slot(const struct flow *f)
{
	char line[1024], want[64];
	int n, rlines = 0, vok = 1, i;
	uint64_t ms;

	n = slots(line, sizeof(line), &rlines);
	if (n != 1)
		return th_tap_point(0, "device has one RUNNING slot (slots: %d)", n);
	kv_str(line, "vcpus", want, sizeof(want));
	for (i = 0; i < f->nvcpus; i++) {
		char one[16];

		snprintf(one, sizeof(one), "%u", f->vcpus[i]);
		vok &= strstr(want, one) != NULL;
	}
	ms = kv_u64(line, "mem_size", NULL);
	if (!th_tap_point(kv_u64(line, "uid", NULL) == f->slot &&
			  strstr(line, "state=RUNNING") &&
			  kv_u64(line, "cid", NULL) == f->cid &&
			  ms == (uint64_t)opt.mem_mib * MIB && vok && rlines >= 1,
			  "device slot %llu RUNNING, cid %llu, %u MiB in %d region(s), "
			  "vcpus %s", (unsigned long long)f->slot,
			  (unsigned long long)f->cid, opt.mem_mib, rlines, want))
		TH_LOG("%s", line);
	return 0;
}

/* Part 1: the sample flow. */
static void part_flow(void)
{
	struct ne_image_load_info li = { .flags = NE_EIF_IMAGE };
	struct ne_enclave_start_info si = { .flags = 0, .enclave_cid = 0 };
	struct flow f = { .fd = -1 };
	struct pollfd p;
	char link[64], target[64] = "";
	int dev, rc, i;
	long t;

	f.threads = pool_threads;
	dev = open(NE_DEV, O_RDWR | O_CLOEXEC);
	if (!th_tap_point(dev >= 0, "open %s", NE_DEV)) {
		TH_LOG("%s", strerror(errno));
		return;
	}
	f.fd = ioctl(dev, NE_CREATE_VM, &f.slot);
	rc = errno;
	close(dev);
	if (!th_tap_point(f.fd >= 0 && f.slot != 0, "CREATE_VM gives an enclave fd "
			  "and slot uid %llu", (unsigned long long)f.slot)) {
		TH_LOG("errno %d (%s)", rc, strerror(rc));
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", f.fd);
	rc = (int)readlink(link, target, sizeof(target) - 1);
	target[rc > 0 ? rc : 0] = '\0';
	th_tap_point(!strcmp(target, "anon_inode:ne-vm") &&
		     (fcntl(f.fd, F_GETFD) & FD_CLOEXEC),
		     "enclave fd is anon_inode:ne-vm with O_CLOEXEC (%s)", target);

	p = (struct pollfd){ .fd = f.fd, .events = POLLIN | POLLERR | POLLHUP };
	th_tap_point(poll(&p, 1, 0) == 0, "no poll event before start");

	rc = ioctl(f.fd, NE_GET_IMAGE_LOAD_INFO, &li);
	th_tap_point(rc == 0 && li.memory_offset == 8 * MIB,
		     "GET_IMAGE_LOAD_INFO: image at %llu MiB",
		     (unsigned long long)(li.memory_offset / MIB));

	if (add_memory(&f) || add_vcpus(&f))
		goto out;

	rc = ioctl(f.fd, NE_START_ENCLAVE, &si);
	f.cid = si.enclave_cid;
	if (!th_tap_point(rc == 0 && f.cid > 3 && f.cid < 0xffffffffULL,
			  "START with CID 0 gives enclave CID %llu",
			  (unsigned long long)f.cid)) {
		TH_LOG("errno %d (%s)", errno, strerror(errno));
		goto out;
	}
	TH_LOG("enclave CID: %llu", (unsigned long long)f.cid);
	check_running_slot(&f);
	th_tap_point(poll(&p, 1, 0) == 0, "no poll event while running");

	th_tap_point(ctl_run("end all", NULL) == 0, "emulator ends the enclave");
	t = now_ms();
	rc = poll(&p, 1, opt.hup_timeout_ms);
	th_tap_point(rc == 1 && (p.revents & POLLHUP) && !(p.revents & POLLIN),
		     "poll sees POLLHUP after %ld ms (revents 0x%x)", now_ms() - t,
		     rc == 1 ? p.revents : 0);
	th_tap_point(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP),
		     "POLLHUP stays asserted");

	rc = close(f.fd);
	f.fd = -1;
	th_tap_point(rc == 0, "close the enclave fd");
	th_tap_point(slots(NULL, 0, NULL) == 0, "the device slot is freed on close");
	check_flow_trace(&f);
out:
	if (f.fd >= 0)
		close(f.fd);
	for (i = 0; f.regions && i < f.nregions; i++)
		if (f.regions[i])
			munmap(f.regions[i], REGION);
	free(f.regions);
}

/* Part 2: a device error from SLOT_ALLOC is the CREATE_VM errno. */
static void part_fault(void)
{
	struct trace_ent *t = NULL;
	uint64_t slot = 0;
	int dev, fd, err, n;

	if (!th_tap_point(ctl_run("trace-clear", NULL) == 0 &&
			  ctl_run("fault rc SLOT_ALLOC -22", NULL) == 0,
			  "emulator arms fault: SLOT_ALLOC rc -22"))
		return;
	dev = open(NE_DEV, O_RDWR | O_CLOEXEC);
	if (!th_tap_point(dev >= 0, "open %s", NE_DEV))
		return;
	errno = 0;
	fd = ioctl(dev, NE_CREATE_VM, &slot);
	err = errno;
	th_tap_point(fd == -1 && err == EINVAL, "CREATE_VM fails with errno 22 "
		     "(got %d, errno %d)", fd, err);
	if (fd >= 0)
		close(fd);
	n = get_trace(&t);
	th_tap_point(n == 1 && !strcmp(t[0].cmd, "SLOT_ALLOC") && t[0].rc == -22,
		     "trace: one SLOT_ALLOC with rc -22, nothing else");
	free(t);
	t = NULL;

	ctl_run("trace-clear", NULL);
	fd = ioctl(dev, NE_CREATE_VM, &slot);
	th_tap_point(fd >= 0 && slot != 0, "the next CREATE_VM succeeds (slot %llu)",
		     (unsigned long long)slot);
	if (fd >= 0)
		close(fd);
	close(dev);
	n = get_trace(&t);
	th_tap_point(n == 2 && !strcmp(t[0].cmd, "SLOT_ALLOC") && t[0].rc == 0 &&
		     !strcmp(t[1].cmd, "SLOT_FREE") && t[1].rc == 0 &&
		     t[1].slot == slot, "trace: SLOT_ALLOC, SLOT_FREE");
	free(t);
	th_tap_point(slots(NULL, 0, NULL) == 0, "no slot left on the device");
	ctl_run("fault clear", NULL);
}

int main(int argc, char **argv)
{
	int c;

	opt.ctl_path = getenv("NE_EMU_CTL");
	while ((c = getopt(argc, argv, "m:p:nc:sFt:EMh")) != -1) {
		switch (c) {
		case 'm':
			opt.mem_mib = (unsigned int)strtoul(optarg, NULL, 0);
			if (opt.mem_mib < 2 || opt.mem_mib % 2)
				usage();
			break;
		case 'p':
			opt.pool = optarg;
			if (cpulist_count(opt.pool) <= 0)
				usage();
			break;
		case 'n': opt.set_pool = 0; break;
		case 'c': opt.ctl_path = optarg; break;
		case 's': opt.part_fault = 0; break;
		case 'F': opt.part_flow = 0; break;
		case 't': opt.hup_timeout_ms = atoi(optarg); break;
		case 'E': opt.error_probes = 0; break;
		case 'M': opt.deferred_mem = 1; break;
		default: usage();
		}
	}
	if (optind != argc || (!opt.part_flow && !opt.part_fault))
		usage();
	if (!opt.ctl_path)
		opt.ctl_path = "/dev/ttyS1";
	setvbuf(stdout, NULL, _IOLBF, 0);

	th_tap_begin();
	{
		char d[8] = "";

		if (!read_file(NE_PARAMS "defer_last_chunk", d, sizeof(d)) &&
		    d[0] == 'Y') {
			opt.deferred_mem = 1;
			TH_LOG("driver defers memory chunks until START");
		}
	}
	if (!th_tap_point(emuctl_open(&ctl, opt.ctl_path) == 0 &&
			  ctl_run("ping", NULL) == 0 &&
			  ctl_run("reset", NULL) == 0,
			  "emulator control port %s answers", opt.ctl_path))
		return th_tap_end();
	if (opt.set_pool) {
		if (set_pool(&pool_threads))
			goto done;
	} else {
		char pool[512] = "";

		read_file(NE_CPUS, pool, sizeof(pool));
		pool_threads = threads_per_core(pool);
		if (pool_threads <= 0)
			pool_threads = cpulist_count(pool);
		TH_LOG("pool already set: '%s', %d threads per core", pool,
		       pool_threads);
	}
	if (pool_threads <= 0 || pool_threads > MAX_VCPUS)
		pool_threads = 2;
	if (opt.part_flow)
		part_flow();
	if (opt.part_fault)
		part_fault();
	if (opt.set_pool) {
		/* "" clears the pool and returns EINVAL by design (spec §3.2). */
		int rc = write_file(NE_CPUS, "\n");

		th_tap_point(rc == -EINVAL && cpu_online(atoi(opt.pool)) == 1,
			     "writing '' to ne_cpus gives EINVAL and onlines CPU %d",
			     atoi(opt.pool));
	}
done:
	emuctl_close(&ctl);
	return th_tap_end();
}
