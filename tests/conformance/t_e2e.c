// SPDX-License-Identifier: GPL-2.0
/*
 * End to end: a real enclave image boots from the memory the driver handed
 * over, and talks to the parent over vsock.
 *
 * Needs a parent booted with `tests/vm/run --vsock` (vsock CID 3, the
 * emulator booting enclaves with QEMU's nitro-enclave machine) and
 * NE_E2E_EIF naming the image built by tests/vm/mkeif: the kernel plus
 * tools/enclave-init, which heartbeats to (3, 9000), echoes on port 5000
 * and powers off on "poweroff" at port 5001, where "pcr0" reads PCR0 from
 * the NSM device (QEMU measures the image itself; NE_E2E_PCR0 is what
 * nectl describe-eif computed). Without NE_E2E_EIF every test here skips.
 *
 * The loader does what a real client does: it writes the EIF at
 * NE_GET_IMAGE_LOAD_INFO's offset, walking its regions in the order it added
 * them, and binds its heartbeat listener before NE_START_ENCLAVE. A chunk
 * given to the device at a wrong address or in a wrong order garbles the
 * image, whose CRC QEMU checks: the enclave then never heartbeats.
 *
 * A debug-mode enclave's console is read as nitro-cli reads it: a vsock
 * stream from (CID 0, port CID + 10000), connected right after START with
 * the default 2 s connect timeout. A production enclave's is refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "ne_lib.h"

#define E2E_TIMEOUT_S		900
#define HEARTBEAT_PORT		9000
#define HEARTBEAT_BYTE		0xb7
#define ECHO_PORT		5000
#define CONTROL_PORT		5001
#define BOOT_WAIT_MS		(300 * 1000)	/* TCG enclave on a TCG parent */
#define STOP_WAIT_MS		(60 * 1000)
#define ENCLAVE_MEM		(128UL << 20)
#define CONSOLE_CID		0	/* VMADDR_CID_HYPERVISOR */
#define CONSOLE_PORT_BASE	10000
#define CONSOLE_CONNECT_MS	2000	/* Linux's default connect timeout */
#define MAX_REGIONS		1024

struct region {
	char *va;
	size_t size;
};

struct e2e {
	int dev;
	int fd;
	int con;			/* console stream, or -1 */
	uint64_t uid;
	uint64_t cid;
	struct region reg[MAX_REGIONS];	/* in the order added */
	int nreg;
	void *map;			/* the hugetlb mapping */
	size_t map_size;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The image under test; skips the test when none was given. */
static char *eif_load(struct th_ctx *_th, size_t *len)
{
	const char *path = getenv("NE_E2E_EIF");
	struct stat st;
	char *buf;
	int fd;

	if (!path || !*path)
		SKIP(return NULL, "NE_E2E_EIF unset (run under tests/vm/run --vsock)");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_OK(fd, "open %s", path);
	ASSERT_EQ(0, fstat(fd, &st));
	buf = malloc((size_t)st.st_size);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(st.st_size, read(fd, buf, (size_t)st.st_size));
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void e2e_open(struct th_ctx *_th, struct e2e *e)
{
	memset(e, 0, sizeof(*e));
	e->con = -1;
	ASSERT_RC(0, pool_set_home(), "CPU pool " POOL_HOME);
	e->dev = t_dev(_th);
	e->fd = t_create(_th, e->dev, &e->uid);
}

static void add_region(struct th_ctx *_th, struct e2e *e, char *va, size_t size)
{
	ASSERT_LT(e->nreg, MAX_REGIONS);
	t_add_mem(_th, e->fd, va, size);
	e->reg[e->nreg].va = va;
	e->reg[e->nreg].size = size;
	e->nreg++;
}

enum layout {
	ONE_REGION,		/* one ioctl for the whole mapping */
	PAGES_ASCENDING,	/* an ioctl per page, ascending PA */
	PAGES_DESCENDING,	/* an ioctl per page, descending PA */
	QUARTERS,		/* four ioctls of a quarter each */
	GIB_PAGE,		/* one 1 GiB page */
};

/* Give e memory in the given layout; returns 0, or skips. */
static void e2e_memory(struct th_ctx *_th, struct e2e *e, enum layout how)
{
	int n = (int)(ENCLAVE_MEM / SZ_2M), ord[ENCLAVE_MEM / SZ_2M];
	uint64_t pa[ENCLAVE_MEM / SZ_2M];
	char *p;

	if (how == GIB_PAGE) {
		if (hp_ensure_free(SHIFT_1G, 1))
			SKIP(return, "no free 1 GiB hugepage");
		p = hp_map(SZ_1G, SHIFT_1G);
		ASSERT_NE(NULL, p, "map a 1 GiB page");
		e->map = p;
		e->map_size = SZ_1G;
		add_region(_th, e, p, SZ_1G);
		return;
	}
	p = t_hp(_th, ENCLAVE_MEM);
	e->map = p;
	e->map_size = ENCLAVE_MEM;
	switch (how) {
	case ONE_REGION:
		add_region(_th, e, p, ENCLAVE_MEM);
		break;
	case QUARTERS:
		for (int i = 0; i < 4; i++)
			add_region(_th, e, p + i * (ENCLAVE_MEM / 4), ENCLAVE_MEM / 4);
		break;
	case PAGES_ASCENDING:
	case PAGES_DESCENDING:
		t_pages_by_pa(_th, p, n, ord, pa);
		for (int i = 0; i < n; i++) {
			int k = how == PAGES_ASCENDING ? ord[i] : ord[n - 1 - i];

			add_region(_th, e, p + (size_t)k * SZ_2M, SZ_2M);
		}
		break;
	case GIB_PAGE:
		break;
	}
}

/* Write the image at the load offset, region after region, as added. */
static void e2e_write_image(struct th_ctx *_th, struct e2e *e, const char *img,
			    size_t len)
{
	uint64_t off = 0, pos = 0;

	ASSERT_RC(0, ne_image_info(e->fd, NE_EIF_IMAGE, &off));
	for (int i = 0; i < e->nreg && len; i++) {
		size_t skip, n;

		if (pos + e->reg[i].size <= off) {
			pos += e->reg[i].size;
			continue;
		}
		skip = off > pos ? (size_t)(off - pos) : 0;
		n = e->reg[i].size - skip;
		if (n > len)
			n = len;
		memcpy(e->reg[i].va + skip, img, n);
		img += n;
		len -= n;
		pos += e->reg[i].size;
	}
	ASSERT_EQ(0, len, "the image must fit in enclave memory");
}

/* A vsock listener on (cid, port), bound before START as clients do. */
static int listen_vsock(struct th_ctx *_th, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port,
	};
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_OK(s, "socket(AF_VSOCK)");
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sa, sizeof(sa)),
		  "bind vsock (%u, %u): %s (no vsock device with CID 3?)",
		  cid, port, strerror(errno));
	ASSERT_EQ(0, listen(s, 4));
	return s;
}

/*
 * Accept one heartbeat: the byte 0xB7 from an enclave, echoed back.
 * Returns the peer's CID, or 0 if none came within ms (or efd hung up).
 */
static uint64_t heartbeat(struct th_ctx *_th, int ls, int efd, int ms)
{
	struct sockaddr_vm peer;
	socklen_t plen = sizeof(peer);
	double t0 = now_ms();
	unsigned char b = 0;
	int c;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = ls, .events = POLLIN },
			{ .fd = efd, .events = POLLIN },
		};
		int left = ms - (int)(now_ms() - t0);

		if (left <= 0)
			return 0;
		if (poll(p, efd >= 0 ? 2 : 1, left) < 0 && errno != EINTR)
			return 0;
		if (p[0].revents & POLLIN)
			break;
		if (efd >= 0 && (p[1].revents & POLLHUP))
			return 0;
	}
	c = accept4(ls, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	ASSERT_OK(c, "accept heartbeat");
	ASSERT_EQ(1, read(c, &b, 1), "read the heartbeat byte");
	EXPECT_EQ(HEARTBEAT_BYTE, b);
	ASSERT_EQ(1, write(c, &b, 1), "echo the heartbeat");
	close(c);
	return peer.svm_cid;
}

/*
 * Connect to an enclave's service. The init listens only after its
 * heartbeat, so a refusal (a reset, under vsock) is retried for a while.
 */
static int connect_vsock(uint64_t cid, unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = (unsigned int)cid,
		.svm_port = port,
	};
	struct timeval tv = { 10, 0 };	/* a busy TCG enclave answers late */
	double t0 = now_ms();
	int s, err;

	for (;;) {
		s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -errno;
		setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
			   sizeof(tv));
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			return s;
		err = -errno;
		close(s);
		if ((err != -ECONNRESET && err != -ECONNREFUSED &&
		     err != -ETIMEDOUT) || now_ms() - t0 > 60000)
			return err;
		usleep(200 * 1000);
	}
}

/*
 * Does the enclave's console (the emulator's per-slot log) show s within
 * ms? The init may still be printing when the parent asks.
 */
static int console_has(uint64_t uid, const char *s, int ms)
{
	static char out[64 << 10];
	double t0 = now_ms();

	do {
		if (!emu_cmd(out, sizeof(out), "console %llu",
			     (unsigned long long)uid) && strstr(out, s))
			return 1;
		usleep(200 * 1000);
	} while (now_ms() - t0 < ms);
	return 0;
}

/* Enclave VMs the emulator runs now (`vms` lines other than the totals). */
static int emu_vms(void)
{
	char out[4096], *p;
	int n = 0;

	if (emu_cmd(out, sizeof(out), "vms"))
		return -1;
	for (p = out; (p = strstr(p, "V slot=")); p++)
		n++;
	return n;
}

/* Wait up to ms for the emulator to run at most `left` enclave VMs. */
static int wait_vms(int left, int ms)
{
	double t0 = now_ms();
	int n;

	while ((n = emu_vms()) > left && now_ms() - t0 < ms)
		usleep(100 * 1000);
	return n;
}

/* What the client does about the console right after START. */
enum console {
	NO_CONSOLE,
	CONSOLE_SERVED,		/* debug mode: connected within 2 s */
	CONSOLE_REFUSED,	/* production: reset at once, not a timeout */
};

/*
 * Connect to (CID 0, port cid + 10000) as nitro-cli does: no retry, the
 * default connect timeout. Returns the socket or -errno; *ms the time taken.
 */
static int console_connect(uint64_t cid, double *ms)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = CONSOLE_CID,
		.svm_port = CONSOLE_PORT_BASE + (unsigned int)cid,
	};
	double t0 = now_ms();
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	*ms = 0;
	if (s < 0)
		return -errno;
	err = connect(s, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	*ms = now_ms() - t0;
	if (err) {
		close(s);
		return err;
	}
	return s;
}

static void console_check(struct th_ctx *_th, struct e2e *e, enum console con)
{
	double ms = 0;
	int s;

	if (con == NO_CONSOLE)
		return;
	s = console_connect(e->cid, &ms);
	if (con == CONSOLE_SERVED) {
		ASSERT_OK(s, "connect to the debug console at (0, %llu) right "
			  "after START: %s after %.0f ms",
			  (unsigned long long)e->cid + CONSOLE_PORT_BASE,
			  s < 0 ? strerror(-s) : "ok", ms);
		EXPECT_LT(ms, CONSOLE_CONNECT_MS);
		e->con = s;
		TH_LOG("CID %llu: console connected %.0f ms after START",
		       (unsigned long long)e->cid, ms);
		return;
	}
	if (s >= 0)
		close(s);
	EXPECT_EQ(-ECONNRESET, s, "a production enclave's console is refused "
		  "(%s after %.0f ms)", s < 0 ? strerror(-s) : "connected", ms);
	EXPECT_LT(ms, CONSOLE_CONNECT_MS, "refused, not timed out");
}

/*
 * Set up, load, listen, start (in debug mode for CONSOLE_SERVED), the
 * console, heartbeat: the whole client flow.
 */
static void e2e_boot_console(struct th_ctx *_th, struct e2e *e,
			     enum layout how, const char *img, size_t len,
			     unsigned int bind_cid, enum console con)
{
	double t0;
	uint64_t peer;
	int ls;

	NEED_EMU();
	e2e_open(_th, e);
	e2e_memory(_th, e, how);
	if (_th->skipped)
		return;
	t_add_vcpus(_th, e->fd, 2);
	e2e_write_image(_th, e, img, len);
	ls = listen_vsock(_th, bind_cid, HEARTBEAT_PORT);
	t0 = now_ms();
	ASSERT_RC(0, ne_start(e->fd, con == CONSOLE_SERVED ?
			      NE_ENCLAVE_DEBUG_MODE : 0, &e->cid),
		  "NE_START_ENCLAVE");
	console_check(_th, e, con);
	peer = heartbeat(_th, ls, e->fd, BOOT_WAIT_MS);
	close(ls);
	ASSERT_NE(0, peer, "no heartbeat from enclave CID %llu within %d s "
		  "(%d regions)", (unsigned long long)e->cid, BOOT_WAIT_MS / 1000,
		  e->nreg);
	EXPECT_EQ(e->cid, peer, "the heartbeat comes from the enclave's CID");
	TH_LOG("CID %llu: START to heartbeat %.1f s, %d regions added",
	       (unsigned long long)e->cid, (now_ms() - t0) / 1e3, e->nreg);
}

static void e2e_boot(struct th_ctx *_th, struct e2e *e, enum layout how,
		     const char *img, size_t len, unsigned int bind_cid)
{
	e2e_boot_console(_th, e, how, img, len, bind_cid, NO_CONSOLE);
}

/* One line to an enclave service, its answer line into out. */
static void ask(struct th_ctx *_th, uint64_t cid, const char *line, char *out,
		size_t size)
{
	size_t len = 0;
	ssize_t n;
	int s = connect_vsock(cid, CONTROL_PORT);

	ASSERT_OK(s, "connect to the enclave's control port");
	ASSERT_EQ((ssize_t)strlen(line), write(s, line, strlen(line)));
	while (len < size - 1 && !memchr(out, '\n', len)) {
		n = read(s, out + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = 0;
	out[strcspn(out, "\n")] = 0;
	close(s);
}

/* Ask the init to power off; the enclave fd then reports EPOLLHUP. */
static void e2e_poweroff(struct th_ctx *_th, struct e2e *e)
{
	struct pollfd p = { .fd = e->fd, .events = POLLIN };
	char ans[16] = "";
	double t0;
	int s;

	s = connect_vsock(e->cid, CONTROL_PORT);
	ASSERT_OK(s, "connect to the enclave's control port");
	ASSERT_EQ(9, write(s, "poweroff\n", 9));
	EXPECT_LT(0, read(s, ans, sizeof(ans) - 1));
	EXPECT_EQ(0, strncmp(ans, "ok", 2), "answer '%s'", ans);
	close(s);
	t0 = now_ms();
	ASSERT_EQ(1, poll(&p, 1, STOP_WAIT_MS), "no EPOLLHUP %d s after poweroff",
		  STOP_WAIT_MS / 1000);
	EXPECT_TRUE(p.revents & POLLHUP);
	TH_LOG("poweroff to EPOLLHUP %.1f s", (now_ms() - t0) / 1e3);
}

/* Close e; with others == 0, nothing may be left on the device. */
static void e2e_close(struct th_ctx *_th, struct e2e *e, int others)
{
	if (e->con >= 0)
		close(e->con);
	close(e->fd);
	close(e->dev);
	EXPECT_EQ(others, wait_vms(others, 20000), "enclave VM left after close");
	EXPECT_EQ(0, strcmp("ABSENT", t_emu_state(_th, e->uid)),
		  "the device slot is freed on close");
	EXPECT_EQ(others, t_emu_nslots(_th));
	if (e->map)
		hp_unmap(e->map, e->map_size);
}

static void boot_layout(struct th_ctx *_th, enum layout how, int defer)
{
	struct e2e e;
	size_t len;
	char *img = eif_load(_th, &len);

	if (!img)
		return;
	if (defer >= 0 && defer_set(defer))
		TH_LOG("driver without defer_last_chunk: plain per-ioctl chunks");
	e2e_boot(_th, &e, how, img, len, VMADDR_CID_ANY);
	free(img);
	if (_th->skipped)
		return;
	e2e_poweroff(_th, &e);
	e2e_close(_th, &e, 0);
}

/* The upstream sample's flow: listener bound to CID 3 itself. */
TEST_TIMEOUT(e2e, boots_heartbeats_powers_off, E2E_TIMEOUT_S)
{
	struct e2e e;
	size_t len;
	char *img = eif_load(_th, &len);

	if (!img)
		return;
	/* Production mode, as the sample starts it: no console at CID 0. */
	e2e_boot_console(_th, &e, ONE_REGION, img, len, 3, CONSOLE_REFUSED);
	free(img);
	EXPECT_TRUE(console_has(e.uid, "enclave-init: heartbeat acknowledged",
				10000), "the console shows the init's heartbeat line");
	/* QEMU measures the image itself; nectl describe-eif must agree. */
	if (getenv("NE_E2E_PCR0")) {
		char ans[200];

		ask(_th, e.cid, "pcr0\n", ans, sizeof(ans));
		TH_LOG("NSM %s", ans);
		EXPECT_EQ(0, strncmp(ans, "pcr0 ", 5), "answer '%s'", ans);
		EXPECT_EQ(0, strcmp(ans + (strncmp(ans, "pcr0 ", 5) ? 0 : 5),
				    getenv("NE_E2E_PCR0")),
			  "the enclave's PCR0 from NSM equals describe-eif's %s",
			  getenv("NE_E2E_PCR0"));
	}
	e2e_poweroff(_th, &e);
	EXPECT_EQ(0, strcmp("STOPPED", t_emu_state(_th, e.uid)),
		  "the slot is STOPPED after the enclave powered off");
	e2e_close(_th, &e, 0);
}

/*
 * Read the console stream into buf until it holds @line, or with @line
 * NULL until the stream ends; 1 when it did within @ms.
 */
static int console_read(int s, char *buf, size_t size, size_t *len,
			const char *line, int ms)
{
	double t0 = now_ms();

	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		int left = ms - (int)(now_ms() - t0);
		ssize_t n;

		if (line && memmem(buf, *len, line, strlen(line)))
			return 1;
		if (left <= 0 || *len == size)
			return 0;
		if (poll(&p, 1, left) <= 0)
			continue;
		n = read(s, buf + *len, size - *len);
		if (n <= 0)
			return !n && !line;
		*len += (size_t)n;
	}
}

/* nitro-cli's --debug-mode --attach-console, against the emulator. */
TEST_TIMEOUT(e2e, debug_console_at_cid0, E2E_TIMEOUT_S)
{
	static char con[4 << 20];
	size_t got = 0, len;
	struct e2e e;
	char *img = eif_load(_th, &len);

	if (!img)
		return;
	e2e_boot_console(_th, &e, ONE_REGION, img, len, VMADDR_CID_ANY,
			 CONSOLE_SERVED);
	free(img);
	if (_th->skipped)
		return;
	EXPECT_TRUE(console_read(e.con, con, sizeof(con), &got,
				 "enclave-init: heartbeat acknowledged", 30000),
		    "the console at (0, %llu) shows the init's heartbeat line "
		    "(%zu bytes read)",
		    (unsigned long long)e.cid + CONSOLE_PORT_BASE, got);
	EXPECT_TRUE(memmem(con, got, "enclave-init: started", 21) != NULL,
		    "and its first line");
	TH_LOG("CID %llu: %zu console bytes by the heartbeat",
	       (unsigned long long)e.cid, got);
	e2e_poweroff(_th, &e);
	EXPECT_TRUE(console_read(e.con, con, sizeof(con), &got, NULL, 15000),
		    "the console stream ends when the enclave stops");
	EXPECT_TRUE(memmem(con, got, "enclave-init: powering off", 26) != NULL,
		    "the init's last line came before the end");
	e2e_close(_th, &e, 0);
}

TEST_TIMEOUT(e2e, pages_ascending_merged, E2E_TIMEOUT_S)
{
	boot_layout(_th, PAGES_ASCENDING, 1);
}

TEST_TIMEOUT(e2e, pages_ascending_unmerged, E2E_TIMEOUT_S)
{
	boot_layout(_th, PAGES_ASCENDING, 0);
}

TEST_TIMEOUT(e2e, pages_descending, E2E_TIMEOUT_S)
{
	boot_layout(_th, PAGES_DESCENDING, 1);
}

TEST_TIMEOUT(e2e, regions_across_ioctls, E2E_TIMEOUT_S)
{
	boot_layout(_th, QUARTERS, 1);
}

TEST_TIMEOUT(e2e, one_gib_page, E2E_TIMEOUT_S)
{
	boot_layout(_th, GIB_PAGE, -1);
}

/*
 * 1 MiB through the enclave's echo service, 2 KiB at a time in lockstep.
 * vhost-device-vsock 0.3.0 forwards a packet between siblings into one
 * receive buffer of the peer (4 KiB in Linux guests): a larger packet
 * stalls the connection (seen with 8 KiB sends), so each send stays small.
 */
#define ECHO_CHUNK	2048

static void round_trip(struct th_ctx *_th, uint64_t cid)
{
	size_t n = SZ_1M, done = 0;
	unsigned char *out = malloc(n), *in = malloc(n);
	unsigned int x = (unsigned int)cid * 2654435761u;
	double t0 = now_ms();
	struct timeval tv = { 30, 0 };
	int s;

	ASSERT_TRUE(out && in);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = (unsigned char)(x >> 16);
	}
	s = connect_vsock(cid, ECHO_PORT);
	ASSERT_OK(s, "connect to the echo port of CID %llu",
		  (unsigned long long)cid);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (done < n) {
		size_t len = n - done < ECHO_CHUNK ? n - done : ECHO_CHUNK, got = 0;

		ASSERT_EQ((ssize_t)len, send(s, out + done, len, 0),
			  "send at %zu/%zu", done, n);
		while (got < len) {
			ssize_t r = recv(s, in + done + got, len - got, 0);

			ASSERT_LT(0, r, "echo stalled at %zu/%zu: %s", done + got,
				  n, r < 0 ? strerror(errno) : "closed");
			got += (size_t)r;
		}
		done += len;
	}
	close(s);
	EXPECT_EQ(0, memcmp(out, in, n), "1 MiB came back changed");
	TH_LOG("CID %llu: 1 MiB round trip in %.1f s",
	       (unsigned long long)cid, (now_ms() - t0) / 1e3);
	free(out);
	free(in);
}

TEST_TIMEOUT(e2e, two_enclaves_round_trip, E2E_TIMEOUT_S)
{
	struct e2e a, b;
	size_t len;
	char *img = eif_load(_th, &len);

	if (!img)
		return;
	e2e_boot(_th, &a, ONE_REGION, img, len, VMADDR_CID_ANY);
	e2e_boot(_th, &b, PAGES_DESCENDING, img, len, VMADDR_CID_ANY);
	free(img);
	ASSERT_NE(a.cid, b.cid, "two enclaves, two CIDs");
	EXPECT_EQ(2, emu_vms());
	round_trip(_th, a.cid);
	round_trip(_th, b.cid);
	e2e_poweroff(_th, &a);
	e2e_close(_th, &a, 1);
	round_trip(_th, b.cid);
	/* Closing a running enclave's fd ends its VM. */
	e2e_close(_th, &b, 0);
}

/* The owner is killed: the fd closes with it, and the enclave VM ends. */
TEST_TIMEOUT(e2e, killed_owner_ends_enclave, E2E_TIMEOUT_S)
{
	int pfd[2], pid, st;
	size_t len;
	char *img = eif_load(_th, &len);
	char ok = 0;

	if (!img)
		return;
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct e2e e;

		close(pfd[0]);
		emu_close();
		e2e_boot(_th, &e, ONE_REGION, img, len, VMADDR_CID_ANY);
		if (!_th->failed && write(pfd[1], "y", 1) == 1)
			pause();
		_exit(1);
	}
	close(pfd[1]);
	free(img);
	EXPECT_EQ(1, read(pfd[0], &ok, 1), "the child's enclave heartbeat");
	close(pfd[0]);
	EXPECT_EQ(1, emu_vms());
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	EXPECT_EQ(0, wait_vms(0, 30000), "enclave VM outlived its killed owner");
	EXPECT_EQ(0, t_emu_nslots(_th));
}

/*
 * A garbled image: START succeeds, no heartbeat, the enclave stops.
 * how: "zero" (no EIF at all), "flip" (one byte, the CRC breaks), or an
 * emulator image fault ("swap", "shift": the device reads one chunk in the
 * wrong order or at the wrong address, as from a driver that sent it so).
 */
static void bad_image(struct th_ctx *_th, const char *how, const char *code)
{
	struct e2e e;
	struct pollfd p;
	char out[8192];
	size_t len;
	char *img = eif_load(_th, &len);
	int ls;

	if (!img)
		return;
	NEED_EMU();
	if (!strcmp(how, "zero"))
		memset(img, 0, len);
	else if (!strcmp(how, "flip"))
		img[len / 2] ^= 0x5a;	/* inside the kernel */
	else
		EMU("set image-fault %s", how);
	e2e_open(_th, &e);
	e2e_memory(_th, &e, strcmp(how, "swap") && strcmp(how, "shift") ?
		   ONE_REGION : PAGES_DESCENDING);
	t_add_vcpus(_th, e.fd, 2);
	e2e_write_image(_th, &e, img, len);
	free(img);
	ls = listen_vsock(_th, VMADDR_CID_ANY, HEARTBEAT_PORT);
	e.cid = t_start(_th, e.fd);
	p.fd = e.fd;
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, STOP_WAIT_MS), "the bad enclave never stopped");
	EXPECT_TRUE(p.revents & POLLHUP);
	p.fd = ls;
	EXPECT_EQ(0, poll(&p, 1, 0), "a bad image sent a heartbeat");
	close(ls);
	ASSERT_EQ(0, emu_cmd(out, sizeof(out), "trace"));
	EXPECT_TRUE(strstr(out, code) != NULL, "trace has '%s'", code);
	e2e_close(_th, &e, 0);
}

TEST_TIMEOUT(e2e, corrupt_eif_stops, E2E_TIMEOUT_S)
{
	bad_image(_th, "flip", "boot=qemu");
}

TEST_TIMEOUT(e2e, not_an_eif_stops, E2E_TIMEOUT_S)
{
	bad_image(_th, "zero", "boot=not-eif");
}

/* The chain catches a misplaced chunk: these are what a buggy driver does. */
TEST_TIMEOUT(e2e, chunks_swapped_do_not_boot, E2E_TIMEOUT_S)
{
	bad_image(_th, "swap", "boot=qemu");
}

TEST_TIMEOUT(e2e, chunk_off_by_4k_does_not_boot, E2E_TIMEOUT_S)
{
	bad_image(_th, "shift", "boot=qemu");
}
