// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: `run`: the whole enclave flow (spec §7) with teardown on every exit path.
 *
 * Order: create, hugepage regions (largest fitting sizes, on the pool's
 * node), image at the driver's offset, regions, vCPUs, vsock listener on
 * 3:9000, start, with --console the debug console at (CID 0, port CID +
 * 10000), heartbeat, wait for POLLHUP or a signal, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/mman.h>
#include <linux/nitro_enclaves.h>
#include <linux/vm_sockets.h>

#include "fdio.h"
#include "nectl.h"

#define HEARTBEAT_CID		3	/* the parent VM */
#define HEARTBEAT_PORT		9000
#define HEARTBEAT_VALUE		0xb7
#define CONSOLE_CID		0	/* the hypervisor */
#define CONSOLE_PORT_OFFSET	10000	/* + the enclave's CID */
#define CONSOLE_DRAIN_MS	2000	/* the console's end after the exit */
#define TIMEOUT_MINUTE_MS	60000
#define MPOL_BIND_MODE		2	/* MPOL_BIND from <linux/mempolicy.h> */

struct ne_run {
	const struct ne_run_opts *o;
	int node;
	bool numa;
	int enclave_fd;
	int listen_fd;
	int conn_fd;
	int con_fd;		/* debug console stream, or -1 */
	int nr_regions;
	struct ne_region region[NE_MAX_HP_SIZES];
};

static volatile sig_atomic_t ne_stop;
static sigjmp_buf ne_fault_jmp;
static volatile sig_atomic_t ne_faulting;

static void on_signal(int sig)
{
	ne_stop = sig;
}

static void on_sigbus(int sig)
{
	(void)sig;
	if (ne_faulting)
		siglongjmp(ne_fault_jmp, 1);
	_exit(128 + SIGBUS);
}

/* nitro-cli's rule: one minute per started 6 GiB of image. */
int ne_heartbeat_timeout_ms(uint64_t image_size)
{
	uint64_t minutes = image_size ? 1 + (image_size - 1) / (6 * GiB) : 1;

	return minutes > INT32_MAX / TIMEOUT_MINUTE_MS ? INT32_MAX :
		(int)(minutes * TIMEOUT_MINUTE_MS);
}

static int ioctl_fail(const char *what)
{
	int e = errno;

	ne_err("%s failed: %s [error %d]", what, ne_err_sentence(e), e);
	return -e;
}

static bool tty_progress(void)
{
	return isatty(STDERR_FILENO) && !ne_quiet;
}

/* A live counter on a terminal; quarter milestones in logs for big steps. */
static void progress(const char *what, uint64_t done, uint64_t total)
{
	static const char *last_what;
	static int last_quarter;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (tty_progress()) {
		fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " MiB (%d%%)%s", what, done / MiB,
			total / MiB, pct, done == total ? "\n" : "");
		return;
	}
	if (total < 4 * GiB)
		return;
	if (what != last_what) {
		last_what = what;
		last_quarter = 0;
	}
	if (pct / 25 > last_quarter) {
		last_quarter = pct / 25;
		ne_info("%s: %" PRIu64 "/%" PRIu64 " MiB (%d%%)", what, done / MiB, total / MiB, pct);
	}
}

/*
 * Pick the largest page sizes that fit, from the node's free hugepages: one
 * region per page size, in decreasing size (memory is laid out in that order).
 */
int ne_plan_regions(int node, bool numa, uint64_t memory, struct ne_region *reg, int max,
		    int *nr)
{
	struct ne_hp_node hn;
	uint64_t left = memory, n, freeb = 0;
	char a[32], b[32];
	int i, rc;

	*nr = 0;
	rc = ne_hp_read(node < 0 ? 0 : node, numa, &hn);
	if (rc) {
		ne_err("no hugepages support found in sysfs: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < hn.nr_sizes; i++) {
		if (hn.sz[i].size % NE_REGION_ALIGN)
			continue;
		freeb += hn.sz[i].free * hn.sz[i].size;
		n = left / hn.sz[i].size;
		if (n > hn.sz[i].free)
			n = hn.sz[i].free;
		if (!n || *nr >= max)
			continue;
		reg[*nr] = (struct ne_region){ .page = hn.sz[i].size, .len = n * hn.sz[i].size };
		(*nr)++;
		left -= n * hn.sz[i].size;
	}
	if (left) {
		ne_format_size(memory, a, sizeof(a));
		ne_format_size(freeb, b, sizeof(b));
		ne_err("the enclave needs %s of hugepages on NUMA node %d but only %s are free; "
		       "reserve more with 'nectl hugepages reserve %" PRIu64 "M --node %d'",
		       a, hn.node, b, memory / MiB, hn.node);
		*nr = 0;
		return -ENOMEM;
	}
	return 0;
}

static int map_region(struct ne_run *r, struct ne_region *g, uint64_t *done, uint64_t total)
{
	int shift = __builtin_ctzll(g->page);
	unsigned long mask[NE_MAX_NODES / (8 * sizeof(unsigned long)) + 1] = { 0 };
	volatile char *p;
	uint64_t off;

	g->addr = mmap(NULL, g->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT),
		       -1, 0);
	if (g->addr == MAP_FAILED) {
		g->addr = NULL;
		ne_err("cannot map %" PRIu64 " MiB of hugepages: %s; reserve more with "
		       "'nectl hugepages reserve'", g->len / MiB, strerror(errno));
		return -ENOMEM;
	}
	/* Enclave memory must come from the pool's node (NE_ERR_MEM_DIFFERENT_NUMA_NODE). */
	if (r->numa && r->node >= 0) {
		mask[r->node / (8 * sizeof(unsigned long))] |= 1UL << (r->node % (8 * sizeof(unsigned long)));
		if (syscall(SYS_mbind, g->addr, g->len, MPOL_BIND_MODE, mask,
			    sizeof(mask) * 8, 0) && errno != ENOSYS)
			ne_warn("cannot bind memory to node %d: %s", r->node, strerror(errno));
	}
	/* Fault the pages now, with progress; a missing page raises SIGBUS. */
	ne_faulting = 1;
	if (sigsetjmp(ne_fault_jmp, 1)) {
		ne_faulting = 0;
		ne_err("ran out of hugepages on node %d while faulting them in; reserve more "
		       "with 'nectl hugepages reserve'", r->node);
		return -ENOMEM;
	}
	p = g->addr;
	for (off = 0; off < g->len && !ne_stop; off += g->page) {
		p[off] = 0;
		*done += g->page;
		if ((*done / g->page) % 64 == 0 || *done == total)
			progress("faulting hugepages", *done, total);
	}
	ne_faulting = 0;
	return ne_stop ? -EINTR : 0;
}

/* Copy the image into the regions seen as one space, starting at @offset. */
static int load_image(struct ne_run *r, int img_fd, uint64_t img_size, uint64_t offset)
{
	uint64_t base = 0, copied = 0, start, chunk;
	ssize_t n;
	int i;

	for (i = 0; i < r->nr_regions && copied < img_size; i++) {
		struct ne_region *g = &r->region[i];

		if (offset >= base + g->len) {
			base += g->len;
			continue;
		}
		start = offset > base ? offset - base : 0;
		while (start < g->len && copied < img_size && !ne_stop) {
			chunk = g->len - start;
			if (chunk > 64 * MiB)
				chunk = 64 * MiB;
			if (chunk > img_size - copied)
				chunk = img_size - copied;
			n = pread(img_fd, (char *)g->addr + start, chunk, copied);
			if (n <= 0) {
				ne_err("cannot read the image: %s", n ? strerror(errno) : "file shrank");
				return -EIO;
			}
			copied += n;
			start += n;
			progress("loading image", copied, img_size);
		}
		base += g->len;
		offset = base;
	}
	if (ne_stop)
		return -EINTR;
	return copied == img_size ? 0 : -ENOSPC;
}

static int open_listener(struct ne_run *r)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_port = HEARTBEAT_PORT,
		.svm_cid = HEARTBEAT_CID,
	};
	int fd, err;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		/* Outside a parent VM CID 3 may not be ours; any local CID still works. */
		addr.svm_cid = VMADDR_CID_ANY;
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
			goto fail;
	}
	if (listen(fd, 1))
		goto fail;
	r->listen_fd = fd;
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	if (r->o->no_wait) {
		ne_warn("no vsock listener on port %d (%s); continuing because of --no-wait",
			HEARTBEAT_PORT, strerror(err));
		return 0;
	}
	ne_err("cannot listen on vsock port %d for the heartbeat: %s; load the vsock modules "
	       "(vsock, vhost_vsock or virtio-vsock transport) or use --no-wait",
	       HEARTBEAT_PORT, strerror(err));
	return -err;
}

/*
 * Right after START, as nitro-cli does: the hypervisor accepts at once,
 * so no retry (a connect gives up after the vsock default of 2 s).
 */
static void open_console(struct ne_run *r, uint64_t cid)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = CONSOLE_CID,
		.svm_port = (unsigned int)(cid + CONSOLE_PORT_OFFSET),
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ne_warn("no enclave console at vsock CID %d port %u: %s",
			CONSOLE_CID, addr.svm_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	r->con_fd = fd;
}

/* Console bytes to stdout; the stream's end closes it. */
static void copy_console(struct ne_run *r)
{
	char buf[4096];
	ssize_t n = read(r->con_fd, buf, sizeof(buf));
	int rc;

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		close(r->con_fd);
		r->con_fd = -1;
		return;
	}
	fflush(stdout);
	rc = write_all(STDOUT_FILENO, buf, (size_t)n);
	if (rc)
		ne_warn("console output lost: %s", strerror(-rc));
}

static int wait_heartbeat(struct ne_run *r, uint64_t img_size)
{
	struct pollfd pfd[2] = {
		{ .fd = r->listen_fd, .events = POLLIN },
		{ .fd = r->con_fd, .events = POLLIN },
	};
	int timeout = ne_heartbeat_timeout_ms(img_size), rc;
	struct timespec t0, t;
	unsigned char b;

	ne_info("waiting up to %d s for the enclave's heartbeat on vsock port %d",
		timeout / 1000, HEARTBEAT_PORT);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout - ((int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
				  (t.tv_nsec - t0.tv_nsec) / 1000000);
		pfd[1].fd = r->con_fd;
		rc = poll(pfd, r->con_fd >= 0 ? 2 : 1, left > 0 ? (int)left : 0);
		if (rc > 0 && r->con_fd >= 0 && pfd[1].revents)
			copy_console(r);
		if (rc <= 0 || pfd[0].revents)
			break;
	}
	if (rc < 0 && errno == EINTR)
		return -EINTR;
	if (rc <= 0) {
		ne_err("the enclave sent no heartbeat within %d s: the image did not boot "
		       "(check it is a valid EIF; use --debug to see its console)", timeout / 1000);
		return -ETIMEDOUT;
	}
	r->conn_fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (r->conn_fd < 0 || read(r->conn_fd, &b, 1) != 1 || b != HEARTBEAT_VALUE) {
		ne_err("the enclave's heartbeat was wrong or missing");
		return -EPROTO;
	}
	if (write(r->conn_fd, &b, 1) != 1) {
		ne_err("cannot answer the enclave's heartbeat: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

/*
 * The enclave has exited: the hypervisor sends the console's last lines
 * and closes the stream after that, so read on until it does (bounded).
 */
static void drain_console(struct ne_run *r)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (r->con_fd >= 0) {
		struct pollfd pfd = { .fd = r->con_fd, .events = POLLIN };
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = CONSOLE_DRAIN_MS -
		       ((int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
			(t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		copy_console(r);
	}
}

static int wait_exit(struct ne_run *r)
{
	struct pollfd pfd[2] = {
		{ .fd = r->enclave_fd, .events = POLLIN | POLLHUP | POLLERR },
		{ .events = POLLIN },
	};

	ne_info("enclave running; Ctrl-C or SIGTERM stops it");
	while (!ne_stop) {
		pfd[1].fd = r->con_fd;
		if (poll(pfd, r->con_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r->con_fd >= 0 && pfd[1].revents)
			copy_console(r);
		/* The driver only ever reports POLLHUP; anything else ends the wait too. */
		if (pfd[0].revents) {
			drain_console(r);
			ne_info("the enclave exited");
			return 0;
		}
	}
	ne_info("stopping the enclave (signal %d)", (int)ne_stop);
	return 0;
}

static void teardown(struct ne_run *r)
{
	int i;

	if (r->conn_fd >= 0)
		close(r->conn_fd);
	if (r->con_fd >= 0)
		close(r->con_fd);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	/* Closing the last enclave fd stops the enclave and frees its slot and cores. */
	if (r->enclave_fd >= 0)
		close(r->enclave_fd);
	for (i = 0; i < r->nr_regions; i++)
		if (r->region[i].addr)
			munmap(r->region[i].addr, r->region[i].len);
}

static int check_inputs(struct ne_run *r, int *img_fd, uint64_t *img_size)
{
	const struct ne_run_opts *o = r->o;
	struct ne_cpuset pool;
	struct ne_topo *t;
	char raw[1024], magic[4];
	struct stat st;
	int rc;

	if (o->memory < NE_MIN_ENCLAVE_MEM || o->memory % NE_REGION_ALIGN) {
		ne_err("--memory must be at least 64 MiB and a multiple of 2 MiB");
		return -EINVAL;
	}
	if (o->cpus <= 0) {
		ne_err("--cpus must be at least 1");
		return -EINVAL;
	}
	*img_fd = open(o->image, O_RDONLY | O_CLOEXEC);
	if (*img_fd < 0 || fstat(*img_fd, &st) || !S_ISREG(st.st_mode)) {
		ne_err("cannot read image %s: %s", o->image,
		       *img_fd < 0 ? strerror(errno) : "not a regular file");
		return -ENOENT;
	}
	*img_size = st.st_size;
	/* EIF files start with ".eif"; anything else will not boot. */
	if (pread(*img_fd, magic, sizeof(magic), 0) != sizeof(magic) ||
	    memcmp(magic, ".eif", sizeof(magic)))
		ne_warn("%s does not look like an EIF image (no .eif magic); the enclave will "
			"not boot it", o->image);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = ne_pool_read(&pool, raw, sizeof(raw));
	if (rc == -ENOENT) {
		ne_err("the nitro_enclaves module is not loaded; run 'nectl load'");
	} else if (rc) {
		ne_err("cannot read the CPU pool: %s", strerror(-rc));
	} else if (!ne_cpuset_count(&pool)) {
		ne_err("the CPU pool is empty; set one with 'nectl pool set --count %d'", o->cpus);
		rc = -EINVAL;
	} else if ((rc = ne_topo_read(t)) != 0) {
		ne_err("cannot read the CPU topology: %s", strerror(-rc));
	} else {
		r->numa = t->numa_sysfs;
		r->node = ne_pool_node(t, &pool);
		if (o->cpus % t->threads_per_core) {
			ne_err("--cpus must be a multiple of %d: enclaves take whole cores and a "
			       "core has %d threads here", t->threads_per_core, t->threads_per_core);
			rc = -EINVAL;
		} else if (o->cpus > ne_cpuset_count(&pool)) {
			ne_err("--cpus %d is more than the %d CPUs of the pool (%s); enlarge it with "
			       "'nectl pool set --count %d'", o->cpus, ne_cpuset_count(&pool), raw,
			       o->cpus);
			rc = -EINVAL;
		}
	}
	free(t);
	return rc;
}

static int build_and_start(struct ne_run *r, int img_fd, uint64_t img_size)
{
	const struct ne_run_opts *o = r->o;
	struct ne_image_load_info li = { .flags = NE_EIF_IMAGE };
	struct ne_enclave_start_info si = { .flags = 0 };
	struct ne_user_memory_region mr;
	uint64_t slot = 0, done = 0;
	__u32 vcpu;
	int dev_fd, i, rc;

	dev_fd = open(NE_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (dev_fd < 0)
		return ioctl_fail("opening " NE_DEV_PATH);
	r->enclave_fd = ioctl(dev_fd, NE_CREATE_VM, &slot);
	if (r->enclave_fd < 0) {
		rc = ioctl_fail("NE_CREATE_VM");
		close(dev_fd);
		return rc;
	}
	close(dev_fd);	/* the enclave fd lives on its own */
	ne_info("created enclave slot %" PRIu64, (uint64_t)slot);

	if (ioctl(r->enclave_fd, NE_GET_IMAGE_LOAD_INFO, &li))
		return ioctl_fail("NE_GET_IMAGE_LOAD_INFO");
	if (li.memory_offset + img_size > o->memory) {
		ne_err("the image (%" PRIu64 " MiB) does not fit after offset %" PRIu64
		       " MiB in %" PRIu64 " MiB; use --memory %" PRIu64 " or more",
		       img_size / MiB, (uint64_t)li.memory_offset / MiB, o->memory / MiB,
		       (uint64_t)((li.memory_offset + img_size + NE_REGION_ALIGN - 1) /
				  NE_REGION_ALIGN) * 2);
		return -EINVAL;
	}
	ne_info("allocating %" PRIu64 " MiB of hugepages on NUMA node %d", o->memory / MiB,
		r->node);
	for (i = 0; i < r->nr_regions; i++) {
		rc = map_region(r, &r->region[i], &done, o->memory);
		if (rc)
			return rc;
	}
	rc = load_image(r, img_fd, img_size, li.memory_offset);
	if (rc)
		return rc;
	for (i = 0; i < r->nr_regions; i++) {
		mr = (struct ne_user_memory_region){
			.flags = NE_DEFAULT_MEMORY_REGION,
			.memory_size = r->region[i].len,
			.userspace_addr = (uintptr_t)r->region[i].addr,
		};
		if (ioctl(r->enclave_fd, NE_SET_USER_MEMORY_REGION, &mr))
			return ioctl_fail("NE_SET_USER_MEMORY_REGION");
	}
	for (i = 0; i < o->cpus; i++) {
		vcpu = 0;	/* 0: the driver picks, siblings of reserved cores first */
		if (ioctl(r->enclave_fd, NE_ADD_VCPU, &vcpu))
			return ioctl_fail("NE_ADD_VCPU");
		ne_info("added vCPU %u", vcpu);
	}
	rc = open_listener(r);
	if (rc)
		return rc;
	si.flags = o->debug ? NE_ENCLAVE_DEBUG_MODE : NE_ENCLAVE_PRODUCTION_MODE;
	si.enclave_cid = o->cid;
	if (ioctl(r->enclave_fd, NE_START_ENCLAVE, &si))
		return ioctl_fail("NE_START_ENCLAVE");
	ne_info("enclave started: CID %" PRIu64 ", %d vCPUs, %" PRIu64 " MiB%s",
		(uint64_t)si.enclave_cid, o->cpus, o->memory / MiB,
		o->debug ? ", debug mode" : "");
	if (o->console && !o->no_wait)
		open_console(r, si.enclave_cid);
	return 0;
}

int ne_run(const struct ne_run_opts *o)
{
	struct ne_run r = { .o = o, .node = -1, .enclave_fd = -1, .listen_fd = -1, .conn_fd = -1,
			    .con_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal }, sb = { .sa_handler = on_sigbus };
	uint64_t img_size = 0;
	int img_fd = -1, rc;

	rc = check_inputs(&r, &img_fd, &img_size);
	if (!rc)
		rc = ne_plan_regions(r.node, r.numa, o->memory, r.region, NE_MAX_HP_SIZES,
				     &r.nr_regions);
	if (rc)
		goto out;
	/* No SA_RESTART: a signal must interrupt poll() so we tear down. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGBUS, &sb, NULL);
	rc = build_and_start(&r, img_fd, img_size);
	if (!rc && !o->no_wait) {
		rc = wait_heartbeat(&r, img_size);
		if (!rc)
			rc = wait_exit(&r);
	}
	if (rc == -EINTR)
		ne_err("interrupted by signal %d before the enclave was ready; tearing down",
		       (int)ne_stop);
	teardown(&r);
	if (r.enclave_fd >= 0)
		ne_info("enclave terminated and its resources released");
out:
	if (img_fd >= 0)
		close(img_fd);
	return rc;
}
