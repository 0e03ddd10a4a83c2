// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for devlink.c and the loop API of emu.c, in-process: the test
 * owns the poll loop (no main.c) and plays QEMU on a real unix socket; then
 * the enclave VMs (enclave.c, image.c) with a fake QEMU. On the project's
 * test harness (tests/lib/harness): each test runs in its own process on an
 * emulator of its own, in a directory of its own; the fake QEMUs it starts
 * share its process group, which the harness kills after it.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "emu.h"
#include "harness.h"
#include "image.h"
#include "log.h"

static struct ne_emu emu;
static char dir[64], devpath[108], ctlpath[108];

/* Run the daemon's loop for about ms milliseconds. */
static void pump(int ms)
{
	uint64_t end = ne_now_us() + (uint64_t)ms * 1000;

	do {
		unsigned int n;
		struct pollfd *p = ne_emu_pollfds(&emu, &n);
		int t = ne_emu_timeout_ms(&emu);

		if (t < 0 || t > 5)
			t = 5;
		if (poll(p, n, t) > 0)
			ne_emu_handle(&emu, p, n);
		else
			ne_emu_handle(&emu, p, 0);
	} while (ne_now_us() < end);
}

/* Pump until cond holds, for at most 2 s. */
#define PUMP_UNTIL(cond) do {						\
	uint64_t _end = ne_now_us() + 2000000;				\
	while (!(cond) && ne_now_us() < _end)				\
		pump(2);						\
} while (0)

static int dev_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	unsigned int before = emu.dev.nr_conns;

	strcpy(sa.sun_path, devpath);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	PUMP_UNTIL(ne_devlink_find(&emu.dev, -1) || emu.dev.nr_conns > before);
	return fd;
}

static void hdr(struct ne_wire_hdr *h, uint16_t type, uint32_t id,
		uint32_t len)
{
	h->magic = htole32(NE_WIRE_MAGIC);
	h->type = htole16(type);
	h->reserved = 0;
	h->id = htole32(id);
	h->len = htole32(len);
}

static int send_hello(int fd, uint32_t version)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_hello b;
	} m = { .b.version = htole32(version) };

	hdr(&m.h, NE_WIRE_HELLO, 0, sizeof(m.b));
	return write(fd, &m, sizeof(m)) == sizeof(m) ? 0 : -1;
}

struct cmd_msg {
	struct ne_wire_hdr h;
	struct ne_wire_cmd c;
};

static int send_cmd(int fd, uint32_t id, uint32_t type, uint64_t a)
{
	struct cmd_msg m;

	memset(&m, 0, sizeof(m));
	hdr(&m.h, NE_WIRE_CMD, id, sizeof(m.c));
	m.c.cmd_type = htole32(type);
	a = htole64(a);
	memcpy(m.c.data, &a, sizeof(a));
	return write(fd, &m, sizeof(m)) == sizeof(m) ? 0 : -1;
}

/* Read exactly n bytes, pumping the loop meanwhile; -1 on timeout/EOF. */
static int read_pumped(int fd, void *p, size_t n, int wait_ms)
{
	uint64_t end = ne_now_us() + (uint64_t)wait_ms * 1000;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)p + got, n - got);

		if (k == 0)
			return got ? -1 : 0;
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		if (errno != EAGAIN || ne_now_us() > end)
			return -1;
		pump(2);
	}
	return 1;
}

/* Next message type; -1 if none within wait_ms, 0 on EOF. */
static int recv_wait(int fd, struct ne_wire_hdr *h, void *body, size_t size,
		     int wait_ms)
{
	int rc = read_pumped(fd, h, sizeof(*h), wait_ms);

	if (rc <= 0)
		return rc;
	if (le32toh(h->len) && (le32toh(h->len) > size ||
	    read_pumped(fd, body, le32toh(h->len), wait_ms) != 1))
		return -2;
	return le16toh(h->type);
}

static int recv_msg(int fd, struct ne_wire_hdr *h, void *body, size_t size)
{
	return recv_wait(fd, h, body, size, 2000);
}

static int closed_by_daemon(int fd)
{
	uint64_t end = ne_now_us() + 2000000;
	char b[64];

	while (ne_now_us() < end) {
		ssize_t n = read(fd, b, sizeof(b));

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		pump(2);
	}
	return 0;
}

/* A device connection that said HELLO and got it back; -1 if not. */
static int ready_device(void)
{
	struct ne_wire_hdr h;
	struct ne_wire_hello hello;
	int fd = dev_connect();

	if (fd < 0 || send_hello(fd, NE_WIRE_VERSION) ||
	    recv_msg(fd, &h, &hello, sizeof(hello)) != NE_WIRE_HELLO) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send a command and read its reply (events first are skipped). */
static int call(int fd, uint32_t id, uint32_t type, struct ne_cmd_reply *cr)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int t;

	if (send_cmd(fd, id, type, 0))
		return -1;
	while ((t = recv_msg(fd, &h, &r, sizeof(r))) == NE_WIRE_EVENT)
		;
	if (t != NE_WIRE_REPLY || le32toh(h.id) != id)
		return -1;
	memcpy(cr, r.data, sizeof(*cr));
	return 0;
}

/* ---- the loop, in a directory of its own ---- */

static void loop_up(struct th_ctx *_th)
{
	struct ne_emu_cfg cfg = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/ne-devlink.XXXXXX");
	ASSERT_TRUE(mkdtemp(dir), "a directory for the sockets");
	snprintf(devpath, sizeof(devpath), "%s/d", dir);
	snprintf(ctlpath, sizeof(ctlpath), "%s/c", dir);
	cfg.dev_path = devpath;
	cfg.ctl_path = ctlpath;
	ASSERT_RC(0, ne_emu_open(&emu, &cfg), "both sockets listen");
}

static void loop_down(struct th_ctx *_th)
{
	char cmd[128];

	ne_emu_close(&emu);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	EXPECT_EQ(0, system(cmd), "clean up %s", dir);
}

FIXTURE(loop) {
	int fd;		/* a ready device connection, when a test wants one */
};

FIXTURE_SETUP(loop)
{
	self->fd = -1;
	loop_up(_th);
}

FIXTURE_TEARDOWN(loop)
{
	if (self->fd >= 0)
		close(self->fd);
	loop_down(_th);
}

FIXTURE_REGISTER(loop);

/* A ready device with two slots, as several tests start. */
static void two_slots(struct th_ctx *_th, int *fd)
{
	struct ne_cmd_reply cr;

	*fd = ready_device();
	ASSERT_LE(0, *fd);
	ASSERT_RC(0, call(*fd, 7, NE_CMD_SLOT_ALLOC, &cr));
	ASSERT_RC(0, call(*fd, 8, NE_CMD_SLOT_ALLOC, &cr));
	ASSERT_EQ(2, emu.engine.nr_slots);
}

TEST_F(loop, devlink, idle_loop_waits_forever)
{
	EXPECT_EQ(-1, ne_emu_timeout_ms(&emu), "no timeout");
	EXPECT_EQ(0, access(devpath, F_OK), "the device socket");
	EXPECT_EQ(0, access(ctlpath, F_OK), "the control socket");
}

TEST_F(loop, devlink, hello_makes_the_connection_active)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	self->fd = dev_connect();
	EXPECT_LE(0, self->fd);
	EXPECT_EQ(1, emu.dev.nr_conns, "connection accepted");
	EXPECT_TRUE(emu.dev.active == NULL, "not active before HELLO");
	send_hello(self->fd, NE_WIRE_VERSION);
	EXPECT_EQ(NE_WIRE_HELLO, recv_msg(self->fd, &h, &r, sizeof(r)),
		  "HELLO answered");
	EXPECT_TRUE(emu.dev.active && emu.dev.active->ready,
		    "active after HELLO");
}

TEST_F(loop, devlink, cmd_answered_with_its_id)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;

	self->fd = ready_device();
	ASSERT_LE(0, self->fd);
	send_cmd(self->fd, 7, NE_CMD_SLOT_ALLOC, 0);
	ASSERT_EQ(NE_WIRE_REPLY, recv_msg(self->fd, &h, &r, sizeof(r)));
	memcpy(&cr, r.data, sizeof(cr));
	EXPECT_EQ(7, le32toh(h.id));
	EXPECT_RC(0, (int32_t)le32toh((uint32_t)cr.rc));
	EXPECT_NE(0, cr.slot_uid, "a slot");
}

/* Half a frame now, the rest later: nothing until it is whole. */
TEST_F(loop, devlink, partial_frame_answered_once_whole)
{
	struct cmd_msg m;
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;

	two_slots(_th, &self->fd);
	memset(&m, 0, sizeof(m));
	hdr(&m.h, NE_WIRE_CMD, 9, sizeof(m.c));
	m.c.cmd_type = htole32(NE_CMD_SLOT_COUNT);
	EXPECT_EQ(100, write(self->fd, &m, 100), "the first 100 bytes");
	EXPECT_EQ(-1, recv_wait(self->fd, &h, &r, sizeof(r), 20),
		  "no reply yet");
	EXPECT_EQ(sizeof(m) - 100, write(self->fd, (char *)&m + 100,
					 sizeof(m) - 100), "the rest");
	ASSERT_EQ(NE_WIRE_REPLY, recv_msg(self->fd, &h, &r, sizeof(r)));
	memcpy(&cr, r.data, sizeof(cr));
	EXPECT_EQ(2, le64toh(cr.slot_count));
}

TEST_F(loop, devlink, delayed_reply_is_a_loop_timer)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	self->fd = ready_device();
	ASSERT_LE(0, self->fd);
	emu.faults.lat_us[NE_CMD_SLOT_COUNT] = 50000;
	send_cmd(self->fd, 10, NE_CMD_SLOT_COUNT, 0);
	PUMP_UNTIL(emu.dev.pending);
	EXPECT_TRUE(emu.dev.pending, "the reply pending");
	EXPECT_GT(ne_emu_timeout_ms(&emu), 0, "the loop's timeout set");
	EXPECT_EQ(NE_WIRE_REPLY, recv_msg(self->fd, &h, &r, sizeof(r)),
		  "the REPLY once the timer fires");
	EXPECT_TRUE(!emu.dev.pending, "no timer left");
}

/* A bad connection next to the device does not disturb it. */
TEST_F(loop, devlink, garbage_connection_dropped_alone)
{
	int b;

	two_slots(_th, &self->fd);
	b = dev_connect();
	EXPECT_EQ(27, write(b, "garbage: not a frame at all", 27));
	EXPECT_TRUE(closed_by_daemon(b), "the garbage connection dropped");
	close(b);
	PUMP_UNTIL(emu.dev.nr_conns == 1);
	EXPECT_EQ(1, emu.dev.nr_conns, "only the device connection left");
	EXPECT_EQ(2, emu.engine.nr_slots, "slots untouched");
}

TEST_F(loop, devlink, device_gone_with_a_reply_pending)
{
	two_slots(_th, &self->fd);
	emu.faults.lat_us[NE_CMD_SLOT_COUNT] = 50000;
	send_cmd(self->fd, 11, NE_CMD_SLOT_COUNT, 0);
	PUMP_UNTIL(emu.dev.pending);
	ASSERT_TRUE(emu.dev.pending);
	close(self->fd);
	self->fd = -1;
	PUMP_UNTIL(!emu.dev.nr_conns);
	EXPECT_TRUE(!emu.dev.pending, "the timer gone");
	EXPECT_TRUE(!emu.dev.active && !emu.dev.nr_conns,
		    "the connection gone");
	EXPECT_EQ(2, emu.engine.nr_slots, "slots kept until a new VM says HELLO");
}

TEST_F(loop, devlink, new_vm_frees_previous_slots_and_gets_events)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int a;

	two_slots(_th, &a);
	close(a);
	PUMP_UNTIL(!emu.dev.nr_conns);
	self->fd = ready_device();
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, emu.engine.nr_slots, "the previous VM's slots freed");
	EXPECT_RC(0, ne_devlink_events(&emu, 3), "3 events queued");
	EXPECT_EQ(NE_WIRE_EVENT, recv_msg(self->fd, &h, &r, sizeof(r)), "1");
	EXPECT_EQ(NE_WIRE_EVENT, recv_msg(self->fd, &h, &r, sizeof(r)), "2");
	EXPECT_EQ(NE_WIRE_EVENT, recv_msg(self->fd, &h, &r, sizeof(r)), "3");
}

TEST_F(loop, devlink, second_hello_dropped)
{
	self->fd = ready_device();
	ASSERT_LE(0, self->fd);
	send_hello(self->fd, NE_WIRE_VERSION);
	EXPECT_TRUE(closed_by_daemon(self->fd), "on a ready link");
	EXPECT_RC(-ENOTCONN, ne_devlink_events(&emu, 1), "no device left");
}

TEST_F(loop, devlink, hello_version_99_dropped)
{
	self->fd = dev_connect();
	ASSERT_LE(0, self->fd);
	send_hello(self->fd, 99);
	EXPECT_TRUE(closed_by_daemon(self->fd));
}

TEST_F(loop, devlink, close_removes_both_sockets)
{
	ne_emu_close(&emu);
	EXPECT_TRUE(access(devpath, F_OK) && access(ctlpath, F_OK));
}

/* ---- MEMMAP and enclave VMs ---------------------------------------------- */

#define PM_SIZE		(32u << 20)	/* the fake parent's RAM: a memfd */
#define PM_HIGH		(1ULL << 32)	/* its second half sits at 4 GiB */
#define IMG_LEN		(3u << 20)	/* the "EIF" in the enclave's memory */

/* Half the memfd at GPA 0, half at 4 GiB; the fd travels as SCM_RIGHTS. */
static int send_memmap(int fd, int memfd)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_memmap m;
	} msg;
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	size_t len = offsetof(struct ne_wire_memmap, ent) + 2 * sizeof(msg.m.ent[0]);
	struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg.h) + len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	hdr(&msg.h, NE_WIRE_MEMMAP, 0, (uint32_t)len);
	msg.m.count = htole32(2);
	msg.m.nr_fds = htole32(1);
	msg.m.ent[0].size = htole64(PM_SIZE / 2);
	msg.m.ent[1].gpa = htole64(PM_HIGH);
	msg.m.ent[1].size = htole64(PM_SIZE / 2);
	msg.m.ent[1].offset = htole64(PM_SIZE / 2);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	return sendmsg(fd, &mh, 0) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* A request struct as the device would forward it; returns the reply. */
static int request(int fd, uint32_t type, const void *req, size_t len,
		   struct ne_cmd_reply *cr)
{
	static uint32_t id = 1000;
	struct cmd_msg m;
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int t;

	memset(&m, 0, sizeof(m));
	hdr(&m.h, NE_WIRE_CMD, ++id, sizeof(m.c));
	m.c.cmd_type = htole32(type);
	memcpy(m.c.data, req, len);
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		return -1;
	/* Events may come first; the reply is what this test waits for. */
	while ((t = recv_msg(fd, &h, &r, sizeof(r))) == NE_WIRE_EVENT)
		;
	if (t != NE_WIRE_REPLY)
		return -1;
	memcpy(cr, r.data, sizeof(*cr));
	return (int32_t)le32toh((uint32_t)cr->rc);
}

static uint64_t slot_u64(int fd, uint32_t type, uint64_t uid)
{
	struct ne_cmd_reply cr;
	uint64_t u = htole64(uid);

	return request(fd, type, &u, sizeof(u), &cr) ? 0 : le64toh(cr.slot_uid);
}

/*
 * A slot of three regions, added high, low, high: the image at 8 MiB
 * starts 2 MiB into the second and runs on into the third.
 */
static const struct { uint64_t gpa, size; } regions[] = {
	{ PM_HIGH, 6u << 20 },
	{ 8u << 20, 4u << 20 },
	{ PM_HIGH + (8u << 20), 4u << 20 },
};

static uint64_t make_slot(int fd, uint64_t cid_wanted, int *rc)
{
	struct ne_slot_add_mem_req mem = { 0 };
	struct ne_slot_add_vcpu_req vcpu = { 0 };
	struct ne_enclave_start_req start = { 0 };
	struct ne_cmd_reply cr;
	uint8_t zero = 0;
	uint64_t uid;
	unsigned int i;

	*rc = -1;
	if (request(fd, NE_CMD_SLOT_ALLOC, &zero, 1, &cr))
		return 0;
	uid = le64toh(cr.slot_uid);
	mem.slot_uid = vcpu.slot_uid = start.slot_uid = htole64(uid);
	for (i = 0; i < 3; i++) {
		mem.paddr = htole64(regions[i].gpa);
		mem.size = htole64(regions[i].size);
		if (request(fd, NE_CMD_SLOT_ADD_MEM, &mem, sizeof(mem), &cr))
			return 0;
	}
	for (i = 1; i <= 2; i++) {
		vcpu.vcpu_id = htole32(i);
		if (request(fd, NE_CMD_SLOT_ADD_VCPU, &vcpu, sizeof(vcpu), &cr))
			return 0;
	}
	start.enclave_cid = htole64(cid_wanted);
	*rc = request(fd, NE_CMD_ENCLAVE_START, &start, sizeof(start), &cr);
	return uid;
}

/* Parent address of enclave-memory offset off (regions as added). */
static uint64_t enclave_gpa(uint64_t off)
{
	unsigned int i;

	for (i = 0; off >= regions[i].size; i++)
		off -= regions[i].size;
	return regions[i].gpa + off;
}

static const char *last_boot(void)
{
	const char *b = NULL;
	size_t i;

	for (i = 0; i < emu.trace.nr; i++)
		if (emu.trace.ents[i].type == NE_CMD_ENCLAVE_START)
			b = emu.trace.ents[i].boot;
	return b ? b : "(none)";
}

static int file_equals(const char *path, const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n + 1);
	int fd = open(path, O_RDONLY), same;

	same = b && fd >= 0 && read(fd, b, n + 1) == (ssize_t)n && !memcmp(b, p, n);
	if (fd >= 0)
		close(fd);
	free(b);
	return same;
}

static int wait_event(int fd, int ms)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	return recv_wait(fd, &h, &r, sizeof(r), ms) == NE_WIRE_EVENT;
}

static const char fake_qemu[] =
	"#!/bin/sh\n"
	"# Plays QEMU for the emulator: records its arguments, then does\n"
	"# what $FAKE_DIR/mode says.\n"
	"while [ $# -gt 0 ]; do\n"
	"  case $1 in\n"
	"  -kernel) cp \"$2\" \"$FAKE_DIR/image.copy\" ;;\n"
	"  -smp) echo \"$2\" >\"$FAKE_DIR/smp\" ;;\n"
	"  -m) echo \"$2\" >\"$FAKE_DIR/mem\" ;;\n"
	"  -chardev) case $2 in file,*) con=${2##*path=} ;; esac ;;\n"
	"  esac\n"
	"  shift\n"
	"done\n"
	"printf 'enclave says hi\\r\\npartial' >\"$con\"\n"
	"echo $$ >\"$FAKE_DIR/pid\"\n"
	"case $(cat \"$FAKE_DIR/mode\") in\n"
	"exit0) exit 0 ;;\n"
	"fail) echo 'qemu: that is no image' >&2; exit 1 ;;\n"
	"*) exec sleep 1000 ;;\n"
	"esac\n";

/* What the fake QEMU does next: sleep, exit0 or fail. */
static void set_mode(const char *mode)
{
	char path[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/mode", dir);
	f = fopen(path, "w");
	if (f) {
		fputs(mode, f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/pid", dir);
	unlink(path);
}

static pid_t fake_pid(void)
{
	char path[200];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pid", dir);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

static const char *dir_file(const char *name)
{
	static char path[200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/*
 * The parent VM's RAM (a memfd) with an "EIF" of 3 MiB laid out across the
 * regions make_slot() adds, a fake QEMU that sleeps, and a parent that said
 * HELLO and sent its memory map.
 */
FIXTURE(vms) {
	int memfd;
	uint8_t *ram;
	uint8_t *img;
	uint32_t hello_flags;
	int fd;			/* the parent VM's device connection */
	int lfd;		/* cid-5.sock, when a test listens on it */
};

FIXTURE_SETUP(vms)
{
	struct ne_wire_hdr h;
	struct ne_wire_hello hello;
	char qemu[160], vmdir[160];
	uint64_t off;
	size_t i;
	FILE *f;

	self->fd = self->lfd = self->memfd = -1;
	loop_up(_th);
	self->memfd = memfd_create("parent-ram", MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, PM_SIZE));
	self->ram = mmap(NULL, PM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->memfd, 0);
	ASSERT_TRUE(self->ram != MAP_FAILED);
	self->img = malloc(IMG_LEN);
	ASSERT_TRUE(self->img);
	for (i = 0; i < IMG_LEN; i++)
		self->img[i] = (uint8_t)(i * 7 + i / 4099);
	memset(self->img, 0, NE_EIF_HDR_SIZE);
	memcpy(self->img, ".eif", 4);
	self->img[27] = 1;				/* one section ... */
	off = IMG_LEN - NE_EIF_HDR_SIZE - NE_EIF_SECTION_HDR;
	self->img[28 + 7] = (uint8_t)NE_EIF_HDR_SIZE;	/* ... at 548 (0x224) */
	self->img[28 + 6] = NE_EIF_HDR_SIZE >> 8;
	for (i = 0; i < 8; i++)				/* ... reaching the end */
		self->img[284 + i] = (uint8_t)(off >> (56 - 8 * i));
	for (i = 0; i < IMG_LEN; i++) {
		uint64_t gpa = enclave_gpa(NE_IMAGE_EIF_OFFSET + i);

		self->ram[gpa >= PM_HIGH ? gpa - PM_HIGH + PM_SIZE / 2 : gpa] =
			self->img[i];
	}

	snprintf(vmdir, sizeof(vmdir), "%s/vm", dir);
	ASSERT_EQ(0, mkdir(vmdir, 0700));
	snprintf(qemu, sizeof(qemu), "%s/fake-qemu", dir);
	f = fopen(qemu, "w");
	ASSERT_TRUE(f && fputs(fake_qemu, f) >= 0 && !fclose(f) &&
		    !chmod(qemu, 0755), "the fake QEMU script");
	setenv("FAKE_DIR", dir, 1);
	set_mode("sleep");
	emu.vms.cfg.qemu = strdup(qemu);
	emu.vms.cfg.vsock_dir = dir;
	emu.vms.cfg.dir = strdup(vmdir);
	emu.vms.cfg.min_run_ms = 200;

	self->fd = dev_connect();
	ASSERT_LE(0, self->fd);
	send_hello(self->fd, NE_WIRE_VERSION);
	ASSERT_EQ(NE_WIRE_HELLO, recv_msg(self->fd, &h, &hello, sizeof(hello)));
	self->hello_flags = le32toh(hello.flags);
	ASSERT_EQ(0, send_memmap(self->fd, self->memfd), "MEMMAP with the memfd");
	PUMP_UNTIL(emu.dev.active && emu.dev.active->mem.nr);
}

FIXTURE_TEARDOWN(vms)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->lfd >= 0)
		close(self->lfd);
	loop_down(_th);
	free((char *)emu.vms.cfg.qemu);
	free((char *)emu.vms.cfg.dir);
	if (self->ram && self->ram != MAP_FAILED)
		munmap(self->ram, PM_SIZE);
	if (self->memfd >= 0)
		close(self->memfd);
	free(self->img);
}

FIXTURE_REGISTER(vms);

/* With a socket for CID 5, QEMU is launched for enclaves of that CID. */
static void listen_cid5(struct th_ctx *_th, int *lfd)
{
	*lfd = ne_listen_unix(dir_file("cid-5.sock"));
	ASSERT_LE(0, *lfd);
}

/* An enclave of CID 5 whose fake QEMU runs: its pid, the slot in *uid. */
static pid_t qemu_running(struct th_ctx *_th, int fd, int *lfd, uint64_t *uid)
{
	int rc;

	listen_cid5(_th, lfd);
	*uid = make_slot(fd, 5, &rc);
	ASSERT_RC(0, rc, "START");
	PUMP_UNTIL(fake_pid());
	ASSERT_LT(0, fake_pid(), "QEMU launched");
	return fake_pid();
}

TEST_F(vms, memmap, parent_memory_mapped)
{
	const char *why = NULL;

	EXPECT_TRUE(self->hello_flags & NE_WIRE_HELLO_MEMMAP,
		    "HELLO asks for MEMMAP");
	ASSERT_TRUE(emu.dev.active);
	EXPECT_EQ(2, emu.dev.active->mem.nr, "2 ranges");
	EXPECT_EQ(PM_SIZE, emu.dev.active->mem.total, "32 MiB");
	EXPECT_EQ(IMG_LEN, ne_eif_length(self->img, &why),
		  "ne_eif_length: the section's end");
}

/* An fd with a message that takes none is not kept for MEMMAP. */
TEST_F(vms, memmap, fd_along_with_a_cmd_not_kept)
{
	struct cmd_msg junk;
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { &junk, sizeof(junk) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	emu.dev.active->mem.nr = 0;	/* forget the map, keep nothing */
	memset(&junk, 0, sizeof(junk));
	memset(&ctl, 0, sizeof(ctl));
	hdr(&junk.h, NE_WIRE_CMD, 77, sizeof(junk.c));
	junk.c.cmd_type = htole32(NE_CMD_SLOT_COUNT);
	ctl.c.cmsg_level = SOL_SOCKET;
	ctl.c.cmsg_type = SCM_RIGHTS;
	ctl.c.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&ctl.c), &self->memfd, sizeof(int));
	EXPECT_LT(0, sendmsg(self->fd, &mh, 0), "an fd along with a CMD");
	EXPECT_EQ(NE_WIRE_REPLY, recv_msg(self->fd, &h, &r, sizeof(r)),
		  "the CMD answered");
	send_memmap(self->fd, self->memfd);
	PUMP_UNTIL(emu.dev.active && emu.dev.active->mem.nr);
	ASSERT_TRUE(emu.dev.active);
	EXPECT_EQ(2, emu.dev.active->mem.nr);
	EXPECT_EQ(0, emu.dev.active->nr_fds,
		  "the next MEMMAP gets its own fd only");
}

/* No vsock socket for the CID: START succeeds, the enclave stops. */
TEST_F(vms, vm, without_vsock_socket_stops_after_min_run)
{
	uint64_t uid;
	int rc;

	uid = make_slot(self->fd, 5, &rc);
	EXPECT_NE(0, uid);
	EXPECT_RC(0, rc, "START succeeds");
	EXPECT_STREQ("no-vsock", last_boot(), "the trace's boot=");
	EXPECT_FALSE(wait_event(self->fd, 100), "no event before min_run_ms");
	EXPECT_TRUE(wait_event(self->fd, 2000), "then one event");
	ASSERT_TRUE(ne_engine_find(&emu.engine, uid));
	EXPECT_STREQ("STOPPED",
		     ne_state_name(ne_engine_find(&emu.engine, uid)->state));
}

/* QEMU gets the image, read as the regions were added, and the slot's size. */
TEST_F(vms, vm, qemu_gets_the_image_cpus_and_memory)
{
	struct ne_buf out = { 0 };
	uint64_t uid;

	qemu_running(_th, self->fd, &self->lfd, &uid);
	EXPECT_STREQ("qemu", last_boot());
	EXPECT_TRUE(file_equals(dir_file("image.copy"), self->img, IMG_LEN),
		    "its -kernel is the image, read across regions in added order");
	EXPECT_TRUE(file_equals(dir_file("smp"), (const uint8_t *)"2\n", 2),
		    "-smp 2: the slot's vCPUs");
	EXPECT_TRUE(file_equals(dir_file("mem"), (const uint8_t *)"14M\n", 4),
		    "-m 14M: the slot's memory");
	EXPECT_RC(0, ne_vms_console(&emu.vms, uid, 0, &out));
	ASSERT_TRUE(out.data);
	EXPECT_SUBSTR(out.data, "C enclave says hi\n", "complete lines");
	EXPECT_FALSE(strstr(out.data, "partial"), "no partial line");
	EXPECT_SUBSTR(out.data, "N 17\n", "the next offset");
	ne_buf_free(&out);
}

TEST_F(vms, vm, stop_reaps_the_vm)
{
	char path[200];
	uint64_t uid;
	pid_t pid;

	pid = qemu_running(_th, self->fd, &self->lfd, &uid);
	EXPECT_EQ(uid, slot_u64(self->fd, NE_CMD_ENCLAVE_STOP, uid));
	EXPECT_TRUE(kill(pid, 0) && errno == ESRCH,
		    "the VM is gone (reaped) when STOP answers");
	EXPECT_TRUE(emu.vms.list == NULL, "no VM listed");
	snprintf(path, sizeof(path), "%s/vm/image-%llu.eif", dir,
		 (unsigned long long)uid);
	EXPECT_TRUE(access(path, F_OK), "its image copy removed");
	EXPECT_FALSE(wait_event(self->fd, 300), "a stopped VM raises no event");
}

/* The test hook misreads the image as a wrong chunk would. */
TEST_F(vms, vm, image_fault_shift_until_reset)
{
	uint64_t uid;

	emu.vms.image_fault = NE_IMAGE_FAULT_SHIFT;
	qemu_running(_th, self->fd, &self->lfd, &uid);
	EXPECT_STREQ("qemu", last_boot());
	EXPECT_EQ(0, access(dir_file("image.copy"), F_OK), "QEMU gets an image");
	EXPECT_FALSE(file_equals(dir_file("image.copy"), self->img, IMG_LEN),
		     "and a different one");
	ne_emu_reset(&emu);
	EXPECT_EQ(NE_IMAGE_FAULT_NONE, emu.vms.image_fault,
		  "reset clears the image fault");
	EXPECT_TRUE(!emu.vms.list, "and ends the VM");
}

/* The VM ends by itself: STOPPED and one event. */
TEST_F(vms, vm, powered_off_one_event)
{
	uint64_t uid;
	int rc;

	listen_cid5(_th, &self->lfd);
	set_mode("exit0");
	uid = make_slot(self->fd, 5, &rc);
	EXPECT_TRUE(wait_event(self->fd, 3000), "one event");
	EXPECT_FALSE(wait_event(self->fd, 300), "and only one");
	ASSERT_TRUE(ne_engine_find(&emu.engine, uid));
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, ne_engine_find(&emu.engine, uid)->state);
}

/* QEMU refuses the image: the same, with QEMU's reason logged. */
TEST_F(vms, vm, qemu_refusing_the_image_ends_it)
{
	int rc;

	listen_cid5(_th, &self->lfd);
	set_mode("fail");
	emu.vms.cfg.min_run_ms = 3000;	/* the ended VM stays listed meanwhile */
	make_slot(self->fd, 5, &rc);
	PUMP_UNTIL(emu.vms.list && emu.vms.list->ended);
	ASSERT_TRUE(emu.vms.list);
	EXPECT_SUBSTR(emu.vms.list->why, "QEMU exited 1: qemu: that is no image",
		      "why: QEMU's exit status and last line");
	EXPECT_TRUE(wait_event(self->fd, 5000), "one event");
}

/* Not an EIF at all: not launched. */
TEST_F(vms, vm, not_an_eif_not_launched)
{
	int rc;

	listen_cid5(_th, &self->lfd);
	self->ram[enclave_gpa(NE_IMAGE_EIF_OFFSET)] = 'X';
	make_slot(self->fd, 5, &rc);
	EXPECT_RC(0, rc);
	EXPECT_STREQ("not-eif", last_boot(), "no EIF magic");
	EXPECT_EQ(0, fake_pid(), "QEMU not started");
	EXPECT_TRUE(wait_event(self->fd, 3000), "one event");
}

/* Slot freed by a reset: VM ended. */
TEST_F(vms, vm, reset_ends_and_reaps_it)
{
	uint64_t uid;
	pid_t pid;

	pid = qemu_running(_th, self->fd, &self->lfd, &uid);
	ne_emu_reset(&emu);
	EXPECT_TRUE(kill(pid, 0) && errno == ESRCH, "ended and reaped");
	EXPECT_TRUE(!emu.vms.list);
}

TEST_F(vms, vm, parent_gone_ends_its_vms)
{
	uint64_t uid;
	pid_t pid;

	pid = qemu_running(_th, self->fd, &self->lfd, &uid);
	ASSERT_TRUE(emu.vms.list, "the VM runs");
	close(self->fd);
	self->fd = -1;
	PUMP_UNTIL(!emu.vms.list);
	EXPECT_TRUE(kill(pid, 0) && errno == ESRCH, "the enclave VM ended");
	ASSERT_TRUE(ne_engine_find(&emu.engine, uid));
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, ne_engine_find(&emu.engine, uid)->state,
		  "and its slot");
}

/* ---- when an enclave's end is reported, against replies and connections ---- */

/* With START's reply delayed, the end still comes after it. */
TEST_F(vms, end_report, after_a_delayed_start_reply)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int rc, t1, t2;

	emu.vms.cfg.min_run_ms = 1;
	emu.faults.lat_us[NE_CMD_ENCLAVE_START] = 300000;
	make_slot(self->fd, 6, &rc);	/* no cid-6.sock: it ends at once */
	t1 = recv_msg(self->fd, &h, &r, sizeof(r));
	t2 = recv_msg(self->fd, &h, &r, sizeof(r));
	EXPECT_RC(0, rc, "START answered after 300 ms");
	EXPECT_EQ(NE_WIRE_EVENT, t1, "then one event");
	EXPECT_GT(0, t2, "and nothing else");
}

/*
 * An end report falls due while a command is handled, and the device has
 * already gone: nothing touches the closed connection (valgrind watches
 * this one).
 */
TEST_F(vms, end_report, due_while_the_device_is_gone)
{
	uint64_t uid;
	int rc;

	emu.vms.cfg.min_run_ms = 1;
	uid = make_slot(self->fd, 6, &rc);
	usleep(20000);
	send_cmd(self->fd, 78, NE_CMD_SLOT_COUNT, 0);
	close(self->fd);
	self->fd = -1;
	pump(50);
	ASSERT_TRUE(ne_engine_find(&emu.engine, uid));
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, ne_engine_find(&emu.engine, uid)->state);
	EXPECT_TRUE(!emu.vms.list, "no VM left");
}

/* Ended by itself, not reported yet, and the parent goes. */
TEST_F(vms, end_report, unreported_when_the_parent_goes)
{
	uint64_t uid;
	int rc;

	emu.vms.cfg.min_run_ms = 5000;
	uid = make_slot(self->fd, 6, &rc);
	close(self->fd);
	self->fd = -1;
	PUMP_UNTIL(!emu.vms.list);
	ASSERT_TRUE(ne_engine_find(&emu.engine, uid));
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, ne_engine_find(&emu.engine, uid)->state,
		  "the slot still stops");
}

int main(int argc, char **argv)
{
	ne_log_set(NULL);
	return th_main(argc, argv);
}
