// SPDX-License-Identifier: GPL-2.0
/*
 * The real ne-emulator binary over real sockets: device protocol, control
 * protocol, faults, robustness and a 10000-command storm. On the project's
 * test harness (tests/lib/harness): each test runs in its own process with
 * a daemon of its own, in a directory of its own, and ends by stopping it:
 * a clean exit, sockets and pidfile removed (the directory, with the log,
 * is kept when the test failed).
 *
 * Environment: NE_BUILD (where ne-emulator and ne-emu-ctl are),
 * NE_EMU_WRAP (a command prefix such as valgrind; its non-zero exit status
 * at SIGTERM fails the test), NE_EMU_SLOW (relax timing checks).
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../module/ne_proto.h"
#include "../ne_wire.h"
#include "harness.h"

static char dir[64], devpath[128], ctlpath[128], logpath[128], pidpath[128];
static const char *build;
static pid_t daemon_pid;
static int slow;
static uint32_t next_id = 1;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = slow ? 30 : 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t k = read(fd, c, n);

		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* ---- control ---- */

static char ctl_out[1 << 20];

/* One request on a fresh connection: 0 ok, 1 error, -1 no answer. */
static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
	char req[512];
	size_t len = 0;
	va_list ap;
	int fd, rc = -1;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req) - 1, fmt, ap);
	va_end(ap);
	strcat(req, "\n");
	ctl_out[0] = '\0';
	fd = connect_to(ctlpath);
	if (fd < 0 || write_all(fd, req, strlen(req)))
		goto out;
	for (;;) {
		ssize_t k = read(fd, ctl_out + len, sizeof(ctl_out) - 1 - len);
		char *last;

		if (k <= 0)
			break;
		len += (size_t)k;
		ctl_out[len] = '\0';
		if (len < 3 || ctl_out[len - 1] != '\n')
			continue;
		ctl_out[len - 1] = '\0';
		last = strrchr(ctl_out, '\n');
		last = last ? last + 1 : ctl_out;
		rc = !strcmp(last, "ok") ? 0 :
		     !strncmp(last, "error ", 6) ? 1 : -2;
		ctl_out[len - 1] = '\n';
		if (rc >= 0)
			break;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- device ---- */

static void hdr(struct ne_wire_hdr *h, uint16_t type, uint32_t id,
		uint32_t len)
{
	h->magic = htole32(NE_WIRE_MAGIC);
	h->type = htole16(type);
	h->reserved = 0;
	h->id = htole32(id);
	h->len = htole32(len);
}

struct hello_msg {
	struct ne_wire_hdr h;
	struct ne_wire_hello hello;
};

/* A well-formed HELLO of this protocol version. */
static void mkhello(struct hello_msg *m)
{
	memset(m, 0, sizeof(*m));
	hdr(&m->h, NE_WIRE_HELLO, 0, sizeof(m->hello));
	m->hello.version = htole32(NE_WIRE_VERSION);
}

/* Connect and HELLO; -1 on any failure. */
static int dev_open(void)
{
	struct hello_msg m;
	int fd = connect_to(devpath);

	if (fd < 0)
		return -1;
	mkhello(&m);
	if (write_all(fd, &m, sizeof(m)) || read_all(fd, &m, sizeof(m)) ||
	    le32toh(m.h.magic) != NE_WIRE_MAGIC ||
	    le16toh(m.h.type) != NE_WIRE_HELLO ||
	    le32toh(m.hello.version) != NE_WIRE_VERSION) {
		close(fd);
		return -1;
	}
	return fd;
}

struct cmd_msg {
	struct ne_wire_hdr h;
	struct ne_wire_cmd c;
};

static void mkcmd(struct cmd_msg *m, uint32_t id, uint32_t type, uint64_t a,
		  uint64_t b, uint64_t c)
{
	uint64_t v[3] = { htole64(a), htole64(b), htole64(c) };

	memset(m, 0, sizeof(*m));
	hdr(&m->h, NE_WIRE_CMD, id, sizeof(m->c));
	m->c.cmd_type = htole32(type);
	memcpy(m->c.data, v, sizeof(v));
}

static int events_seen;

/* Next REPLY (EVENTs are counted). Returns the wire id or -1. */
static int dev_reply(int fd, struct ne_cmd_reply *r, uint32_t *len)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply rep;

	for (;;) {
		if (read_all(fd, &h, sizeof(h)))
			return -1;
		if (le16toh(h.type) == NE_WIRE_EVENT) {
			events_seen++;
			continue;
		}
		if (le16toh(h.type) != NE_WIRE_REPLY ||
		    le32toh(h.len) != sizeof(rep) ||
		    read_all(fd, &rep, sizeof(rep)))
			return -1;
		memcpy(r, rep.data, sizeof(*r));
		if (len)
			*len = le32toh(rep.len);
		return (int)le32toh(h.id);
	}
}

/* Send one command and wait for its reply; returns rc (or -9999). */
static int dev_cmd(int fd, uint32_t type, uint64_t a, uint64_t b, uint64_t c,
		   struct ne_cmd_reply *r)
{
	struct ne_cmd_reply tmp;
	struct cmd_msg m;
	uint32_t id = next_id++;

	if (!r)
		r = &tmp;
	mkcmd(&m, id, type, a, b, c);
	if (write_all(fd, &m, sizeof(m)) || dev_reply(fd, r, NULL) != (int)id)
		return -9999;
	return (int32_t)le32toh((uint32_t)r->rc);
}

/* 1 if the daemon closed this connection (EOF) within the timeout. */
static int dropped(int fd)
{
	char buf[256];
	ssize_t k;

	while ((k = read(fd, buf, sizeof(buf))) > 0)
		;
	/* Closing with our bytes unread gives ECONNRESET on unix sockets. */
	return k == 0 || errno == ECONNRESET;
}

/* Nothing arrives on fd within ms. */
static int silent(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

/* ---- daemon process ---- */

static int start_daemon(const char *extra)
{
	const char *wrap = getenv("NE_EMU_WRAP");
	char cmd[1024];
	int i;

	snprintf(cmd, sizeof(cmd), "exec %s %s/ne-emulator --device-socket %s "
		 "--control-socket %s --log %s --pidfile %s %s",
		 wrap ? wrap : "", build, devpath, ctlpath, logpath, pidpath,
		 extra);
	daemon_pid = fork();
	if (!daemon_pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 600; i++) {
		if (ctl("ping") == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

/* SIGTERM; a daemon still there after 60 s is killed and reported. */
static int stop_daemon(void)
{
	int st = -1, i;

	kill(daemon_pid, SIGTERM);
	for (i = 0; i < 6000; i++) {
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = 0;
			return st;
		}
		usleep(10000);
	}
	TH_LOG("daemon ignored SIGTERM for 60 s: killed");
	kill(daemon_pid, SIGKILL);
	waitpid(daemon_pid, &st, 0);
	daemon_pid = 0;
	return -1;
}

/* ---- tests ---- */

/* Exit status of a shell command line, -1 if it did not exit. */
static int sh_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh_status(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A directory of its own for each test: sockets, log, pidfile. */
static void paths_up(struct th_ctx *_th)
{
	snprintf(dir, sizeof(dir), "/tmp/ne-emu-test.XXXXXX");
	ASSERT_TRUE(mkdtemp(dir));
	snprintf(devpath, sizeof(devpath), "%s/dev.sock", dir);
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/emu.log", dir);
	snprintf(pidpath, sizeof(pidpath), "%s/emu.pid", dir);
}

/* Stop the daemon, if one runs: a clean exit that leaves nothing behind. */
static void paths_down(struct th_ctx *_th)
{
	struct stat st;
	char cmd[128];
	int status;

	if (daemon_pid > 0) {
		status = stop_daemon();
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "SIGTERM: clean exit, status 0 (valgrind: no leak or error); status 0x%x",
			    status);
		EXPECT_TRUE(stat(devpath, &st) && stat(ctlpath, &st) &&
			    stat(pidpath, &st),
			    "sockets and pidfile removed on exit");
	}
	if (_th->failed) {
		TH_LOG("log: %s", logpath);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", dir);
}

/* A daemon with the default options, answering ping. */
FIXTURE(daemon) {
};

FIXTURE_SETUP(daemon)
{
	paths_up(_th);
	ASSERT_EQ(0, start_daemon(""), "the daemon starts and answers ping");
}

FIXTURE_TEARDOWN(daemon)
{
	paths_down(_th);
}

FIXTURE_REGISTER(daemon);

/* The directory only: the test starts the daemon, if any. */
FIXTURE(nodaemon) {
};

FIXTURE_SETUP(nodaemon)
{
	paths_up(_th);
}

FIXTURE_TEARDOWN(nodaemon)
{
	paths_down(_th);
}

FIXTURE_REGISTER(nodaemon);

TEST_F(daemon, daemon, writes_its_pidfile)
{
	struct stat st;

	EXPECT_EQ(0, stat(pidpath, &st));
}

/* ---- device and control protocol ---- */

TEST_F(daemon, lifecycle, enclave_seen_by_device_and_control)
{
	struct ne_cmd_reply r;
	uint64_t uid;
	int fd = dev_open();

	ASSERT_LE(0, fd, "HELLO exchange, version 1");
	EXPECT_EQ(0, ctl("reset"));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r));
	uid = le64toh(r.slot_uid);
	EXPECT_NE(0, uid);
	EXPECT_EQ(256, le64toh(r.mem_regions), "256 regions");
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ADD_MEM, uid, 0x40000000,
			     0x4000000, NULL), "64 MiB");
	EXPECT_RC(-EEXIST, dev_cmd(fd, NE_CMD_SLOT_ADD_MEM, uid, 0x40000000,
				   0x200000, NULL), "overlap");
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ADD_VCPU, uid, 2, 0, NULL));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ADD_VCPU, uid, 3, 0, NULL));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_ENCLAVE_START, uid, 0, 0, &r));
	EXPECT_EQ(4, le64toh(r.enclave_cid));
	EXPECT_EQ(0, ctl("slots"));
	EXPECT_SUBSTR(ctl_out, "state=RUNNING cid=4 flags=0 mem_size=0x4000000 "
		      "regions=1 vcpus=2,3\n", "control slots: the enclave");
	EXPECT_SUBSTR(ctl_out, "paddr=0x40000000 size=0x4000000\n",
		      "control slots: its region");
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_INFO, uid, 0, 0, &r));
	EXPECT_EQ(NE_SLOT_STATE_RUNNING, le16toh(r.state));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_ENCLAVE_GET_SLOT, 4, 0, 0, &r));
	EXPECT_EQ(uid, le64toh(r.slot_uid));
	EXPECT_RC(-EBUSY, dev_cmd(fd, NE_CMD_SLOT_FREE, uid, 0, 0, NULL),
		  "free while running");
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_ENCLAVE_STOP, uid, 0, 0, NULL));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_FREE, uid, 0, 0, NULL));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_COUNT, 0, 0, 0, &r));
	EXPECT_EQ(0, le64toh(r.slot_count));
	EXPECT_RC(-EOPNOTSUPP, dev_cmd(fd, 0, 0, 0, 0, NULL), "type 0");
	EXPECT_RC(-EOPNOTSUPP, dev_cmd(fd, 1000, 0, 0, 0, NULL), "type 1000");
	EXPECT_EQ(0, ctl("trace"));
	EXPECT_SUBSTR(ctl_out, "cmd=ENCLAVE_START slot=");
	EXPECT_SUBSTR(ctl_out, "cmd=UNKNOWN(1000) slot=0 rc=-95");
	EXPECT_EQ(0, ctl("stats"));
	EXPECT_SUBSTR(ctl_out, "S total=14\n");
	EXPECT_SUBSTR(ctl_out, "S cmd=SLOT_ADD_VCPU count=2\n");
	close(fd);
}

TEST_F(daemon, faults, reach_the_socket)
{
	struct ne_cmd_reply r;
	struct cmd_msg m;
	uint32_t len = 0;
	int fd = dev_open(), id;

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ctl("fault rc SLOT_ALLOC -12"));
	EXPECT_RC(-12, dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL), "rc");
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL),
		  "then normal");
	EXPECT_EQ(0, ctl("fault drop SLOT_COUNT"));
	mkcmd(&m, next_id++, NE_CMD_SLOT_COUNT, 0, 0, 0);
	write_all(fd, &m, sizeof(m));
	EXPECT_TRUE(silent(fd, 300), "drop: no reply");
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_COUNT, 0, 0, 0, NULL),
		  "drop: the next command is answered (its own id)");
	EXPECT_EQ(0, ctl("fault malformed SLOT_COUNT"));
	mkcmd(&m, next_id++, NE_CMD_SLOT_COUNT, 0, 0, 0);
	write_all(fd, &m, sizeof(m));
	id = dev_reply(fd, &r, &len);
	EXPECT_EQ(next_id - 1, id, "malformed: a reply");
	EXPECT_LT(len, NE_CMD_REPLY_SIZE, "malformed: short");
	close(fd);
}

TEST_F(daemon, latency, delays_the_reply_not_control)
{
	struct ne_cmd_reply r;
	struct cmd_msg m;
	uint64_t t0, t;
	int fd = dev_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ctl("latency SLOT_INFO 400000"));
	t0 = now_ms();
	mkcmd(&m, next_id++, NE_CMD_SLOT_INFO, 1, 0, 0);
	write_all(fd, &m, sizeof(m));
	EXPECT_EQ(0, ctl("ping"), "control answers while a reply is delayed");
	t = now_ms() - t0;
	EXPECT_LT(t, slow ? 350 : 250, "... at once");
	EXPECT_EQ(next_id - 1, dev_reply(fd, &r, NULL),
		  "the delayed reply arrives");
	t = now_ms() - t0;
	EXPECT_TRUE(t >= 400 && t < 2000, "after %llu ms",
		    (unsigned long long)t);
	EXPECT_EQ(0, ctl("trace"));
	EXPECT_SUBSTR(ctl_out, "cmd=SLOT_INFO slot=1 rc=-2 lat_us=4",
		      "lat_us of about 400000");
	close(fd);
}

TEST_F(daemon, latency, device_gone_with_a_reply_pending)
{
	struct cmd_msg m;
	int fd = dev_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ctl("latency SLOT_INFO 400000"));
	mkcmd(&m, next_id++, NE_CMD_SLOT_INFO, 1, 0, 0);
	write_all(fd, &m, sizeof(m));
	close(fd);
	usleep(500000);
	EXPECT_EQ(0, ctl("ping"), "alive");
}

TEST_F(daemon, events, end_and_event_storm)
{
	struct ne_cmd_reply r;
	uint64_t uid;
	int fd = dev_open(), i;

	ASSERT_LE(0, fd);
	dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r);
	uid = le64toh(r.slot_uid);
	dev_cmd(fd, NE_CMD_SLOT_ADD_MEM, uid, 0, 0x200000, NULL);
	dev_cmd(fd, NE_CMD_SLOT_ADD_VCPU, uid, 1, 0, NULL);
	ASSERT_RC(0, dev_cmd(fd, NE_CMD_ENCLAVE_START, uid, 0, 0, NULL));
	events_seen = 0;
	EXPECT_EQ(0, ctl("end %llu", (unsigned long long)uid), "end UID");
	dev_cmd(fd, NE_CMD_SLOT_INFO, uid, 0, 0, &r);
	EXPECT_EQ(1, events_seen, "one EVENT before the next reply");
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, le16toh(r.state));
	EXPECT_EQ(1, ctl("end %llu", (unsigned long long)uid),
		  "end on a stopped slot: error");
	events_seen = 0;
	EXPECT_EQ(0, ctl("event 1000"));
	dev_cmd(fd, NE_CMD_SLOT_COUNT, 0, 0, 0, NULL);
	EXPECT_EQ(1000, events_seen, "1000 EVENTs");
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, ctl("event"), "event %d", i);
	close(fd);
}

/* ---- bad frames ---- */

/* The daemon drops a connection that sent msg, and lives on. */
static void expect_drop(struct th_ctx *_th, const void *msg, size_t len,
			const char *what)
{
	int fd = connect_to(devpath);

	write_all(fd, msg, len);
	EXPECT_TRUE(dropped(fd), "%s: connection dropped", what);
	close(fd);
	EXPECT_EQ(0, ctl("ping"), "%s: daemon alive", what);
}

TEST_F(daemon, frames, bad_ones_drop_only_their_connection)
{
	struct hello_msg hm;
	struct ne_cmd_reply r;
	struct cmd_msg m;
	char garbage[300];
	int act;
	size_t k;

	act = dev_open();
	ASSERT_LE(0, act);
	dev_cmd(act, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL);
	for (k = 0; k < sizeof(garbage); k++)
		garbage[k] = (char)(k * 37 + 11);
	expect_drop(_th, garbage, sizeof(garbage), "garbage");
	mkhello(&hm);
	hm.h.magic = 0x12345678;
	expect_drop(_th, &hm, sizeof(hm), "bad magic");
	hdr(&hm.h, NE_WIRE_HELLO, 0, NE_WIRE_MAX_PAYLOAD + 1);
	expect_drop(_th, &hm, sizeof(hm), "length 513");
	hdr(&hm.h, NE_WIRE_HELLO, 0, 0xffffffffu);
	expect_drop(_th, &hm, sizeof(hm), "length 4 GiB");
	mkcmd(&m, 5, NE_CMD_SLOT_COUNT, 0, 0, 0);
	expect_drop(_th, &m, sizeof(m), "CMD before HELLO");
	hdr(&hm.h, NE_WIRE_REPLY, 0, sizeof(hm.hello));
	expect_drop(_th, &hm, sizeof(hm), "REPLY from the device");
	hdr(&hm.h, NE_WIRE_HELLO, 0, sizeof(hm.hello));
	hm.h.reserved = 1;
	expect_drop(_th, &hm, sizeof(hm), "reserved field set");
	hm.h.reserved = 0;
	hm.hello.version = htole32(2);
	expect_drop(_th, &hm, sizeof(hm), "HELLO version 2");

	EXPECT_RC(0, dev_cmd(act, NE_CMD_SLOT_COUNT, 0, 0, 0, &r),
		  "the device connection survived the bad ones");
	EXPECT_EQ(1, le64toh(r.slot_count), "slots intact");

	/* Truncated frames, then EOF. */
	mkhello(&hm);
	for (k = 1; k < sizeof(hm); k += 7) {
		int fd = connect_to(devpath);

		write_all(fd, &hm, k);
		close(fd);
	}
	EXPECT_EQ(0, ctl("ping"), "truncated HELLOs then EOF: daemon alive");
	close(act);
}

/* A bad CMD after a good HELLO drops only that connection. */
TEST_F(daemon, frames, bad_cmd_after_hello_dropped)
{
	struct cmd_msg m;
	int fd;

	fd = dev_open();
	ASSERT_LE(0, fd);
	mkcmd(&m, 0, NE_CMD_SLOT_COUNT, 0, 0, 0);
	write_all(fd, &m, sizeof(m));
	EXPECT_TRUE(dropped(fd), "CMD id 0");
	close(fd);
	fd = dev_open();
	ASSERT_LE(0, fd);
	mkcmd(&m, 9, NE_CMD_SLOT_COUNT, 0, 0, 0);
	m.h.len = htole32(100);
	write_all(fd, &m, sizeof(m.h) + 100);
	EXPECT_TRUE(dropped(fd), "CMD with length 100");
	close(fd);
	EXPECT_EQ(0, ctl("ping"), "daemon alive");
}

/* Partial reads: a HELLO and a CMD a few bytes at a time. */
TEST_F(daemon, frames, partial_frames_of_a_new_vm)
{
	struct hello_msg hm;
	struct ne_cmd_reply r;
	struct cmd_msg m;
	int fd, act;
	size_t k;

	act = dev_open();
	ASSERT_LE(0, act);
	ASSERT_RC(0, dev_cmd(act, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL));
	fd = connect_to(devpath);
	mkhello(&hm);
	for (k = 0; k < sizeof(hm); k++) {
		write_all(fd, (char *)&hm + k, 1);
		if (k % 5 == 0)
			usleep(1000);
	}
	EXPECT_EQ(0, read_all(fd, &hm, sizeof(hm)), "HELLO byte by byte");
	EXPECT_EQ(NE_WIRE_HELLO, le16toh(hm.h.type));
	mkcmd(&m, 4242, NE_CMD_SLOT_COUNT, 0, 0, 0);
	for (k = 0; k < sizeof(m); k += 13) {
		write_all(fd, (char *)&m + k, sizeof(m) - k < 13 ?
			  sizeof(m) - k : 13);
		usleep(500);
	}
	EXPECT_EQ(4242, dev_reply(fd, &r, NULL), "CMD in 13-byte pieces");
	EXPECT_EQ(0, le64toh(r.slot_count),
		  "the new VM started with no slots (the previous VM's freed)");
	EXPECT_EQ(-9999, dev_cmd(act, NE_CMD_SLOT_COUNT, 0, 0, 0, &r),
		  "the new VM's HELLO replaced the first device connection");
	EXPECT_EQ(0, sh_status("grep -q 'id=4242: seq=' %s && grep -q "
			       "'freed 1 slot(s) of the previous VM' %s",
			       logpath, logpath), "log lines carry the message "
		  "id; the new VM logged with the slots it freed");
	close(fd);
	close(act);
}

TEST_F(daemon, frames, connect_and_close_20_times)
{
	int i;

	for (i = 0; i < 20; i++)
		close(connect_to(devpath));
	EXPECT_EQ(0, ctl("ping"), "daemon alive");
}

/* ---- control robustness ---- */

TEST_F(daemon, control, long_line_and_garbage_answered_apart)
{
	static char big[1 << 20];
	char buf[256];
	int fd, n;

	fd = connect_to(ctlpath);
	memset(big, 'x', sizeof(big));
	write_all(fd, big, sizeof(big));
	write_all(fd, "\nping\r\n\n\x01\x02\xff\n", 12);
	n = 0;
	memset(buf, 0, sizeof(buf));
	while (n < (int)sizeof(buf) - 1) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n);

		if (k <= 0)
			break;
		n += (int)k;
		if (strstr(buf, "ok\nerror garbage"))
			if (buf[n - 1] == '\n')
				break;
	}
	/* 1 MiB line: one error; ping\r\n: ok; garbage: error. */
	EXPECT_TRUE(!strncmp(buf, "error line too long", 19), "%s", buf);
	EXPECT_SUBSTR(buf, "\nok\nerror garbage in request\n");
	close(fd);
}

TEST_F(daemon, control, ten_clients_at_once)
{
	char buf[256];
	int fds[10], i, n;

	for (i = 0; i < 10; i++)
		fds[i] = connect_to(ctlpath);
	for (i = 9; i >= 0; i--)
		write_all(fds[i], "ping\n", 5);
	for (n = 0, i = 0; i < 10; i++) {
		memset(buf, 0, sizeof(buf));
		if (read(fds[i], buf, sizeof(buf) - 1) == 3 &&
		    !strcmp(buf, "ok\n"))
			n++;
		close(fds[i]);
	}
	EXPECT_EQ(10, n, "answered");
}

/* A cooked-mode serial port echoes answers: they must not loop. */
TEST_F(daemon, control, echoed_answer_lines_ignored)
{
	char buf[256];
	int fd, n;

	fd = connect_to(ctlpath);
	write_all(fd, "ok\r\nerror unknown request 'x'\r\nT seq=1 cmd=X\r\n"
		  "SLOT uid=1\nR uid=1\nS total=1\nF cmd=X\nW no device\n"
		  "ping\n", 100);
	memset(buf, 0, sizeof(buf));
	n = (int)read(fd, buf, sizeof(buf) - 1);
	EXPECT_EQ(3, n, "only the request answered");
	EXPECT_STREQ("ok\n", buf);
	close(fd);
}

TEST_F(daemon, control, clients_gone_mid_request)
{
	char buf[256];
	int fd;

	fd = connect_to(ctlpath);
	write_all(fd, "tra", 3);
	close(fd);
	fd = connect_to(ctlpath);
	write_all(fd, "trace\nstats\nslots\n", 18);
	close(fd);
	fd = connect_to(ctlpath);
	write_all(fd, "ping\n", 5);
	shutdown(fd, SHUT_WR);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, read(fd, buf, sizeof(buf)),
		  "a half-closed client gets its answer");
	EXPECT_TRUE(dropped(fd), "then EOF");
	close(fd);
	EXPECT_EQ(0, ctl("ping"), "daemon alive");
}

/* ---- load ---- */

TEST_F(daemon, load, storm_of_10000_commands_in_order)
{
	enum { N = 10000 };
	struct cmd_msg *m = calloc(N, sizeof(*m));
	size_t sent = 0, total = N * sizeof(*m);
	int fd = dev_open(), got = 0, bad = 0;
	uint32_t first = next_id;
	uint64_t t0;

	ASSERT_TRUE(m);
	ASSERT_LE(0, fd);
	for (int i = 0; i < N; i++) {
		static const uint32_t types[] = {
			NE_CMD_SLOT_COUNT, NE_CMD_SLOT_INFO, NE_CMD_NEXT_SLOT,
			NE_CMD_ENCLAVE_GET_SLOT, 99,
		};
		mkcmd(&m[i], next_id++, types[i % 5], 0, 0, 0);
	}
	t0 = now_ms();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < N) {
		struct pollfd p = { .fd = fd, .events = POLLIN |
				    (sent < total ? POLLOUT : 0) };
		struct ne_cmd_reply r;

		if (poll(&p, 1, slow ? 30000 : 5000) <= 0)
			break;
		if ((p.revents & POLLOUT) && sent < total) {
			ssize_t k = send(fd, (char *)m + sent, total - sent,
					 MSG_NOSIGNAL);

			if (k > 0)
				sent += (size_t)k;
		}
		if (p.revents & POLLIN) {
			int flags = fcntl(fd, F_GETFL);
			int id;

			fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
			id = dev_reply(fd, &r, NULL);
			fcntl(fd, F_SETFL, flags);
			if (id != (int)(first + (uint32_t)got))
				bad++;
			if (id < 0)
				break;
			got++;
		}
	}
	EXPECT_EQ(N, got, "replies");
	EXPECT_EQ(0, bad, "replies out of order");
	TH_LOG("storm: %d commands in %llu ms", N,
	       (unsigned long long)(now_ms() - t0));
	EXPECT_EQ(0, ctl("stats"));
	EXPECT_SUBSTR(ctl_out, "S total=10000\n");
	EXPECT_SUBSTR(ctl_out, "S cmd=UNKNOWN count=2000\n");
	EXPECT_EQ(0, ctl("trace"));
	EXPECT_GT(strlen(ctl_out), 10000 * 40, "10000 trace lines");
	free(m);
	close(fd);
}

/* Well-framed CMDs with random types and windows: every one answered. */
TEST_F(daemon, load, random_cmds_all_answered)
{
	struct ne_cmd_reply r;
	struct cmd_msg m;
	int fd = dev_open(), i, j, bad = 0;

	ASSERT_LE(0, fd);
	srand(7);
	for (i = 0; i < 2000; i++) {
		mkcmd(&m, next_id++, (uint32_t)(rand() % 16), 0, 0, 0);
		if (rand() % 8 == 0)
			m.c.cmd_type = htole32((uint32_t)rand());
		for (j = 0; j < (int)sizeof(m.c.data); j++)
			m.c.data[j] = (uint8_t)rand();
		if (rand() % 2)
			memset(m.c.data + 1 + rand() % 7, 0, 8);
		if (write_all(fd, &m, sizeof(m)) ||
		    dev_reply(fd, &r, NULL) != (int)(next_id - 1))
			bad++;
	}
	EXPECT_EQ(0, bad, "2000 random CMDs over the socket: unanswered");
	close(fd);
	EXPECT_EQ(0, ctl("ping"), "daemon alive");
	EXPECT_EQ(0, ctl("slots"));
}

/* ---- ne-emu-ctl ---- */

TEST_F(daemon, cli, exit_status_and_data_lines)
{
	EXPECT_EQ(0, sh_status("%s/ne-emu-ctl --socket %s ping", build,
			       ctlpath));
	EXPECT_EQ(1, sh_status("%s/ne-emu-ctl --socket %s bogus 2>/dev/null",
			       build, ctlpath));
	EXPECT_EQ(2, sh_status("%s/ne-emu-ctl --socket %s/none ping "
			       "2>/dev/null", build, dir), "no daemon");
	EXPECT_EQ(0, sh_status("%s/ne-emu-ctl --socket %s fault rc SLOT_INFO "
			       "-5 3 && %s/ne-emu-ctl --socket %s fault list | "
			       "grep -qx 'F cmd=SLOT_INFO kind=rc rc=-5 count=3'",
			       build, ctlpath, build, ctlpath),
		  "arguments joined, data lines printed without the final ok");
}

/*
 * ne-emu-ctl on a serial port, as in a guest: a pty stands in for
 * /dev/ttyS1 and a child relays its master side to the control socket.
 */
TEST_F(daemon, cli, over_a_serial_port)
{
	char *name;
	int master, slave;
	pid_t bridge;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	ASSERT_LE(0, master);
	ASSERT_TRUE(!grantpt(master) && !unlockpt(master));
	name = ptsname(master);
	ASSERT_TRUE(name);
	/* Held open so the master never sees a hangup between clients. */
	slave = open(name, O_RDWR | O_NOCTTY);
	bridge = fork();
	ASSERT_LE(0, bridge);
	if (!bridge) {
		int sock = connect_to(ctlpath);
		char buf[4096];

		for (;;) {
			struct pollfd p[2] = { { .fd = master, .events = POLLIN },
					       { .fd = sock, .events = POLLIN } };
			ssize_t k;

			if (poll(p, 2, -1) <= 0)
				continue;
			if (p[0].revents & POLLIN) {
				k = read(master, buf, sizeof(buf));
				if (k > 0 && write_all(sock, buf, (size_t)k))
					_exit(1);
			}
			if (p[1].revents & (POLLIN | POLLHUP)) {
				k = read(sock, buf, sizeof(buf));
				if (k <= 0)
					_exit(0);
				if (write(master, buf, (size_t)k) != k)
					_exit(1);
			}
		}
	}
	/* Stale bytes waiting in the port must not be taken as the answer. */
	EXPECT_EQ(9, write(master, "ok\nstale\n", 9), "stale bytes");
	usleep(100000);
	EXPECT_EQ(0, sh_status("%s/ne-emu-ctl --socket %s fault list "
			       ">%s/tty.out && %s/ne-emu-ctl --socket %s fault rc "
			       "SLOT_FREE -7 && %s/ne-emu-ctl --socket %s fault "
			       "list >%s/tty.out && grep -qx 'F cmd=SLOT_FREE "
			       "kind=rc rc=-7 count=1' %s/tty.out", build, name,
			       dir, build, name, build, name, dir, dir),
		  "raw mode, stale input dropped, answers read");
	EXPECT_EQ(1, sh_status("NE_EMU_CTL=%s %s/ne-emu-ctl bogus 2>/dev/null",
			       name, build), "the path from NE_EMU_CTL, an error");
	ctl("fault clear");
	kill(bridge, SIGKILL);
	waitpid(bridge, NULL, 0);
	close(slave);
	close(master);
}

/* ---- options ---- */

/* The daemon with these arguments only, its complaints not shown. */
#define EMU "%s/ne-emulator "
#define QUIET " 2>/dev/null"

TEST_F(nodaemon, options, bad_ones_refused)
{
	EXPECT_EQ(2, sh_status(EMU "--bogus" QUIET, build), "unknown");
	EXPECT_EQ(2, sh_status(EMU "--device-socket /tmp/x" QUIET, build),
		  "no control socket");
	EXPECT_EQ(2, sh_status(EMU "--device-socket %s --control-socket %s"
			       QUIET, build, devpath, devpath),
		  "the same path twice");
	EXPECT_EQ(2, sh_status(EMU "--device-socket %s --control-socket %s "
			       "--mem-regions 0" QUIET, build, devpath, ctlpath));
	EXPECT_EQ(2, sh_status(EMU "--device-socket %s --control-socket %s "
			       "--latency-us -1" QUIET, build, devpath, ctlpath));
	EXPECT_EQ(1, sh_status(EMU "--device-socket %s/no/such/dir/d.sock "
			       "--control-socket %s" QUIET, build, dir, ctlpath),
		  "a socket that cannot be created");
	EXPECT_EQ(0, sh_status(EMU "--help >/dev/null" QUIET, build), "--help");
}

TEST_F(nodaemon, options, applied_and_kept_over_reset)
{
	struct ne_cmd_reply r;
	uint64_t t0;
	int fd;

	ASSERT_EQ(0, start_daemon("--mem-regions 5 --max-slots 2 "
				  "--latency-us 200000"), "the daemon starts");
	fd = dev_open();
	ASSERT_LE(0, fd);
	t0 = now_ms();
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r));
	EXPECT_GE(now_ms() - t0, 200, "--latency-us 200000 delays replies");
	EXPECT_EQ(5, le64toh(r.mem_regions), "--mem-regions 5 in SLOT_ALLOC");
	EXPECT_EQ(0, ctl("set mem-regions 9"));
	EXPECT_EQ(0, ctl("reset"));
	EXPECT_RC(0, dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r));
	EXPECT_EQ(5, le64toh(r.mem_regions), "reset restores --mem-regions");
	EXPECT_EQ(0, ctl("latency all 0"));
	dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL);
	EXPECT_RC(-ENOSPC, dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL),
		  "--max-slots 2: a third slot");
	close(fd);
}

int main(int argc, char **argv)
{
	build = getenv("NE_BUILD") ? getenv("NE_BUILD") : "../build/emulator";
	slow = getenv("NE_EMU_SLOW") || getenv("NE_EMU_WRAP");
	signal(SIGPIPE, SIG_IGN);
	return th_main(argc, argv);
}
