// SPDX-License-Identifier: GPL-2.0
/*
 * The real ne-emulator binary over real sockets: device protocol, control
 * protocol, faults, robustness and a 10000-command storm.
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
#include <stdint.h>
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
#include "tap.h"

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

/* Connect and HELLO; -1 on any failure. */
static int dev_open(void)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_hello hello;
	} m = { .hello.version = htole32(NE_WIRE_VERSION) };
	int fd = connect_to(devpath);

	if (fd < 0)
		return -1;
	hdr(&m.h, NE_WIRE_HELLO, 0, sizeof(m.hello));
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
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid)
			return st;
		usleep(10000);
	}
	printf("# daemon ignored SIGTERM for 60 s: killed\n");
	kill(daemon_pid, SIGKILL);
	waitpid(daemon_pid, &st, 0);
	return -1;
}

/* ---- tests ---- */

static void test_lifecycle(void)
{
	struct ne_cmd_reply r;
	uint64_t uid;
	int fd = dev_open();

	ok(fd >= 0, "device: HELLO exchange, version 1");
	ok(ctl("reset") == 0, "control: reset");
	is(dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r), 0, "SLOT_ALLOC");
	uid = le64toh(r.slot_uid);
	ok(uid != 0, "SLOT_ALLOC: uid not 0");
	is(le64toh(r.mem_regions), 256, "SLOT_ALLOC: 256 regions");
	is(dev_cmd(fd, NE_CMD_SLOT_ADD_MEM, uid, 0x40000000, 0x4000000, NULL),
	   0, "SLOT_ADD_MEM 64 MiB");
	is(dev_cmd(fd, NE_CMD_SLOT_ADD_MEM, uid, 0x40000000, 0x200000, NULL),
	   -EEXIST, "SLOT_ADD_MEM overlap refused");
	is(dev_cmd(fd, NE_CMD_SLOT_ADD_VCPU, uid, 2, 0, NULL), 0,
	   "SLOT_ADD_VCPU 2");
	is(dev_cmd(fd, NE_CMD_SLOT_ADD_VCPU, uid, 3, 0, NULL), 0,
	   "SLOT_ADD_VCPU 3");
	is(dev_cmd(fd, NE_CMD_ENCLAVE_START, uid, 0, 0, &r), 0, "START");
	is(le64toh(r.enclave_cid), 4, "START: CID 4");
	ok(ctl("slots") == 0 && strstr(ctl_out, "state=RUNNING cid=4 flags=0 "
	   "mem_size=0x4000000 regions=1 vcpus=2,3\n") &&
	   strstr(ctl_out, "paddr=0x40000000 size=0x4000000\n"),
	   "control slots: the running enclave and its region");
	is(dev_cmd(fd, NE_CMD_SLOT_INFO, uid, 0, 0, &r), 0, "SLOT_INFO");
	is(le16toh(r.state), NE_SLOT_STATE_RUNNING, "SLOT_INFO: RUNNING");
	is(dev_cmd(fd, NE_CMD_ENCLAVE_GET_SLOT, 4, 0, 0, &r), 0, "GET_SLOT");
	is(le64toh(r.slot_uid), uid, "GET_SLOT: uid");
	is(dev_cmd(fd, NE_CMD_SLOT_FREE, uid, 0, 0, NULL), -EBUSY,
	   "SLOT_FREE running -> -EBUSY");
	is(dev_cmd(fd, NE_CMD_ENCLAVE_STOP, uid, 0, 0, NULL), 0, "STOP");
	is(dev_cmd(fd, NE_CMD_SLOT_FREE, uid, 0, 0, NULL), 0, "SLOT_FREE");
	is(dev_cmd(fd, NE_CMD_SLOT_COUNT, 0, 0, 0, &r), 0, "SLOT_COUNT");
	is(le64toh(r.slot_count), 0, "SLOT_COUNT: 0");
	is(dev_cmd(fd, 0, 0, 0, 0, NULL), -EOPNOTSUPP, "type 0 answered");
	is(dev_cmd(fd, 1000, 0, 0, 0, NULL), -EOPNOTSUPP, "type 1000");
	ok(ctl("trace") == 0 && strstr(ctl_out, "cmd=ENCLAVE_START slot=") &&
	   strstr(ctl_out, "cmd=UNKNOWN(1000) slot=0 rc=-95"),
	   "control trace");
	ok(ctl("stats") == 0 && strstr(ctl_out, "S total=14\n") &&
	   strstr(ctl_out, "S cmd=SLOT_ADD_VCPU count=2\n"), "control stats");
	close(fd);
}

static void test_faults_latency(void)
{
	struct ne_cmd_reply r;
	struct cmd_msg m;
	uint32_t len = 0;
	uint64_t t0, t;
	int fd = dev_open(), id;

	ctl("reset");
	ok(ctl("fault rc SLOT_ALLOC -12") == 0, "fault rc armed");
	is(dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL), -12,
	   "fault rc: -12 over the socket");
	is(dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL), 0,
	   "fault rc: then normal");
	ok(ctl("fault drop SLOT_COUNT") == 0, "fault drop armed");
	mkcmd(&m, next_id++, NE_CMD_SLOT_COUNT, 0, 0, 0);
	write_all(fd, &m, sizeof(m));
	ok(silent(fd, 300), "fault drop: no reply");
	is(dev_cmd(fd, NE_CMD_SLOT_COUNT, 0, 0, 0, NULL), 0,
	   "fault drop: the next command is answered (its own id)");
	ok(ctl("fault malformed SLOT_COUNT") == 0, "fault malformed armed");
	mkcmd(&m, next_id++, NE_CMD_SLOT_COUNT, 0, 0, 0);
	write_all(fd, &m, sizeof(m));
	id = dev_reply(fd, &r, &len);
	ok(id == (int)next_id - 1 && len < NE_CMD_REPLY_SIZE,
	   "fault malformed: short reply");

	ok(ctl("latency SLOT_INFO 400000") == 0, "latency SLOT_INFO 400 ms");
	t0 = now_ms();
	mkcmd(&m, next_id++, NE_CMD_SLOT_INFO, 1, 0, 0);
	write_all(fd, &m, sizeof(m));
	ok(ctl("ping") == 0, "control answers while a reply is delayed");
	t = now_ms() - t0;
	ok(t < (slow ? 350ULL : 250ULL), "... at once (%llu ms)",
	   (unsigned long long)t);
	is(dev_reply(fd, &r, NULL), next_id - 1, "the delayed reply arrives");
	t = now_ms() - t0;
	ok(t >= 400 && t < 2000, "latency: reply after %llu ms",
	   (unsigned long long)t);
	ok(ctl("trace") == 0 && strstr(ctl_out, "cmd=SLOT_INFO slot=1 rc=-2 "
	   "lat_us=4"), "trace shows lat_us of about 400000");

	/* The device goes away while a reply is pending. */
	mkcmd(&m, next_id++, NE_CMD_SLOT_INFO, 1, 0, 0);
	write_all(fd, &m, sizeof(m));
	close(fd);
	usleep(500000);
	ok(ctl("ping") == 0, "device closed with a reply pending: alive");
	ctl("reset");
}

static void test_events(void)
{
	struct ne_cmd_reply r;
	uint64_t uid;
	int fd = dev_open(), i;

	ctl("reset");
	dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r);
	uid = le64toh(r.slot_uid);
	dev_cmd(fd, NE_CMD_SLOT_ADD_MEM, uid, 0, 0x200000, NULL);
	dev_cmd(fd, NE_CMD_SLOT_ADD_VCPU, uid, 1, 0, NULL);
	dev_cmd(fd, NE_CMD_ENCLAVE_START, uid, 0, 0, NULL);
	events_seen = 0;
	ok(ctl("end %llu", (unsigned long long)uid) == 0, "end UID");
	dev_cmd(fd, NE_CMD_SLOT_INFO, uid, 0, 0, &r);
	is(events_seen, 1, "end: one EVENT before the next reply");
	is(le16toh(r.state), NE_SLOT_STATE_STOPPED, "end: STOPPED");
	ok(ctl("end %llu", (unsigned long long)uid) == 1,
	   "end on a stopped slot -> error");
	events_seen = 0;
	ok(ctl("event 1000") == 0, "event 1000");
	dev_cmd(fd, NE_CMD_SLOT_COUNT, 0, 0, 0, NULL);
	is(events_seen, 1000, "event storm: 1000 EVENTs");
	for (i = 0; i < 3; i++)
		ok(ctl("event") == 0, "event %d", i);
	close(fd);
}

static void expect_drop(const void *msg, size_t len, const char *what)
{
	int fd = connect_to(devpath);

	write_all(fd, msg, len);
	ok(dropped(fd), "device: %s -> connection dropped", what);
	close(fd);
	ok(ctl("ping") == 0, "... daemon alive");
}

static void test_bad_frames(void)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_hello hello;
	} hm = { .hello.version = htole32(NE_WIRE_VERSION) };
	struct cmd_msg m;
	struct ne_cmd_reply r;
	char garbage[300];
	int fd, act, i;
	size_t k;

	act = dev_open();
	ctl("reset");
	dev_cmd(act, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL);
	for (k = 0; k < sizeof(garbage); k++)
		garbage[k] = (char)(k * 37 + 11);
	expect_drop(garbage, sizeof(garbage), "garbage");
	hm.h.magic = 0x12345678;
	expect_drop(&hm, sizeof(hm), "bad magic");
	hdr(&hm.h, NE_WIRE_HELLO, 0, NE_WIRE_MAX_PAYLOAD + 1);
	expect_drop(&hm, sizeof(hm), "length 513");
	hdr(&hm.h, NE_WIRE_HELLO, 0, 0xffffffffu);
	expect_drop(&hm, sizeof(hm), "length 4 GiB");
	mkcmd(&m, 5, NE_CMD_SLOT_COUNT, 0, 0, 0);
	expect_drop(&m, sizeof(m), "CMD before HELLO");
	hdr(&hm.h, NE_WIRE_REPLY, 0, sizeof(hm.hello));
	expect_drop(&hm, sizeof(hm), "REPLY from the device");
	hdr(&hm.h, NE_WIRE_HELLO, 0, sizeof(hm.hello));
	hm.h.reserved = 1;
	expect_drop(&hm, sizeof(hm), "reserved field set");
	hm.h.reserved = 0;
	hm.hello.version = htole32(2);
	expect_drop(&hm, sizeof(hm), "HELLO version 2");

	ok(dev_cmd(act, NE_CMD_SLOT_COUNT, 0, 0, 0, &r) == 0 &&
	   le64toh(r.slot_count) == 1,
	   "the device connection survived the bad ones, slots intact");

	/* Truncated frames, then EOF. */
	for (k = 1; k < sizeof(hm); k += 7) {
		fd = connect_to(devpath);
		hm.hello.version = htole32(NE_WIRE_VERSION);
		write_all(fd, &hm, k);
		close(fd);
	}
	ok(ctl("ping") == 0, "truncated HELLOs then EOF: daemon alive");

	/* Bad CMD after a good HELLO drops only that connection. */
	fd = dev_open();
	mkcmd(&m, 0, NE_CMD_SLOT_COUNT, 0, 0, 0);
	write_all(fd, &m, sizeof(m));
	ok(dropped(fd), "CMD id 0 -> dropped");
	close(fd);
	fd = dev_open();
	mkcmd(&m, 9, NE_CMD_SLOT_COUNT, 0, 0, 0);
	m.h.len = htole32(100);
	write_all(fd, &m, sizeof(m.h) + 100);
	ok(dropped(fd), "CMD with length 100 -> dropped");
	close(fd);
	is(dev_cmd(act, NE_CMD_SLOT_COUNT, 0, 0, 0, &r), -9999,
	   "a new VM's HELLO replaced the first device connection");

	/* Partial reads: a HELLO and a CMD one byte at a time. */
	fd = connect_to(devpath);
	hdr(&hm.h, NE_WIRE_HELLO, 0, sizeof(hm.hello));
	for (k = 0; k < sizeof(hm); k++) {
		write_all(fd, (char *)&hm + k, 1);
		if (k % 5 == 0)
			usleep(1000);
	}
	ok(read_all(fd, &hm, sizeof(hm)) == 0 &&
	   le16toh(hm.h.type) == NE_WIRE_HELLO, "HELLO byte by byte");
	mkcmd(&m, 4242, NE_CMD_SLOT_COUNT, 0, 0, 0);
	for (k = 0; k < sizeof(m); k += 13) {
		write_all(fd, (char *)&m + k, sizeof(m) - k < 13 ?
			  sizeof(m) - k : 13);
		usleep(500);
	}
	is(dev_reply(fd, &r, NULL), 4242, "CMD in 13-byte pieces answered");
	is(le64toh(r.slot_count), 0,
	   "the new VM started with no slots (previous VM's freed)");
	close(fd);
	close(act);
	for (i = 0; i < 20; i++) {
		fd = connect_to(devpath);
		close(fd);
	}
	ok(ctl("ping") == 0, "20 connect/close: daemon alive");
}

static void test_control_robust(void)
{
	static char big[1 << 20];
	char buf[256];
	int fds[10], fd, i, n;

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
	ok(!strncmp(buf, "error line too long", 19) &&
	   strstr(buf, "\nok\nerror garbage in request\n"),
	   "1 MiB line -> one error; ping\\r\\n -> ok; garbage -> error");
	close(fd);

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
	is(n, 10, "10 control clients at once");

	/* A cooked-mode serial port echoes answers: they must not loop. */
	fd = connect_to(ctlpath);
	write_all(fd, "ok\r\nerror unknown request 'x'\r\nT seq=1 cmd=X\r\n"
		  "SLOT uid=1\nR uid=1\nS total=1\nF cmd=X\nW no device\n"
		  "ping\n", 100);
	memset(buf, 0, sizeof(buf));
	n = (int)read(fd, buf, sizeof(buf) - 1);
	ok(n == 3 && !strcmp(buf, "ok\n"),
	   "echoed answer lines are ignored, the request is answered");
	close(fd);

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
	ok(read(fd, buf, sizeof(buf)) == 3 && dropped(fd),
	   "half-closed client gets its answer, then EOF");
	close(fd);
	ok(ctl("ping") == 0, "clients gone mid-request: daemon alive");
}

static void test_storm(void)
{
	enum { N = 10000 };
	struct cmd_msg *m = calloc(N, sizeof(*m));
	size_t sent = 0, total = N * sizeof(*m);
	int fd = dev_open(), got = 0, bad = 0;
	uint32_t first = next_id;
	uint64_t t0;

	ctl("reset");
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
	ok(got == N && !bad, "storm: %d of %d replies, in order (%d bad)",
	   got, N, bad);
	printf("# storm: %d commands in %llu ms\n", N,
	       (unsigned long long)(now_ms() - t0));
	ok(ctl("stats") == 0 && strstr(ctl_out, "S total=10000\n") &&
	   strstr(ctl_out, "S cmd=UNKNOWN count=2000\n"), "storm: stats");
	ok(ctl("trace") == 0 && strlen(ctl_out) > 10000 * 40,
	   "storm: 10000 trace lines");
	free(m);
	close(fd);
}

/* Well-framed CMDs with random types and windows: every one answered. */
static void test_fuzz_cmds(void)
{
	struct ne_cmd_reply r;
	struct cmd_msg m;
	int fd = dev_open(), i, j, bad = 0;

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
	is(bad, 0, "2000 random CMDs over the socket: all answered");
	close(fd);
	ok(ctl("ping") == 0 && ctl("slots") == 0, "... daemon alive");
	ctl("reset");
}

static void test_cli(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s/ne-emu-ctl --socket %s ping", build,
		 ctlpath);
	is(WEXITSTATUS(system(cmd)), 0, "ne-emu-ctl ping -> 0");
	snprintf(cmd, sizeof(cmd), "%s/ne-emu-ctl --socket %s bogus 2>/dev/null",
		 build, ctlpath);
	is(WEXITSTATUS(system(cmd)), 1, "ne-emu-ctl bogus -> 1");
	snprintf(cmd, sizeof(cmd), "%s/ne-emu-ctl --socket %s/none ping "
		 "2>/dev/null", build, dir);
	is(WEXITSTATUS(system(cmd)), 2, "ne-emu-ctl, no daemon -> 2");
	snprintf(cmd, sizeof(cmd), "%s/ne-emu-ctl --socket %s fault rc "
		 "SLOT_INFO -5 3 && %s/ne-emu-ctl --socket %s fault list | "
		 "grep -qx 'F cmd=SLOT_INFO kind=rc rc=-5 count=3'", build,
		 ctlpath, build, ctlpath);
	is(WEXITSTATUS(system(cmd)), 0, "ne-emu-ctl joins arguments, prints "
	   "data lines without the final ok");
}

/* Exit status of the daemon started with these arguments only. */
static int run_status(const char *args)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "%s/ne-emulator %s 2>/dev/null", build,
		 args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_options(void)
{
	struct ne_cmd_reply r;
	char args[512];
	uint64_t t0;
	int fd, status;

	is(run_status("--bogus"), 2, "option: unknown -> 2");
	is(run_status("--device-socket /tmp/x"), 2, "option: no control -> 2");
	snprintf(args, sizeof(args), "--device-socket %s --control-socket %s",
		 devpath, devpath);
	is(run_status(args), 2, "option: same path twice -> 2");
	snprintf(args, sizeof(args), "--device-socket %s --control-socket %s "
		 "--mem-regions 0", devpath, ctlpath);
	is(run_status(args), 2, "option: --mem-regions 0 -> 2");
	snprintf(args, sizeof(args), "--device-socket %s --control-socket %s "
		 "--latency-us -1", devpath, ctlpath);
	is(run_status(args), 2, "option: --latency-us -1 -> 2");
	snprintf(args, sizeof(args), "--device-socket %s/no/such/dir/d.sock "
		 "--control-socket %s", dir, ctlpath);
	is(run_status(args), 1, "option: socket cannot be created -> 1");
	is(run_status("--help >/dev/null"), 0, "option: --help -> 0");

	if (!ok(start_daemon("--mem-regions 5 --max-slots 2 --latency-us "
			     "200000") == 0, "daemon with options starts"))
		return;
	fd = dev_open();
	t0 = now_ms();
	is(dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r), 0, "SLOT_ALLOC");
	ok(now_ms() - t0 >= 200, "--latency-us 200000 delays replies");
	is(le64toh(r.mem_regions), 5, "--mem-regions 5 in SLOT_ALLOC");
	ok(ctl("set mem-regions 9") == 0 && ctl("reset") == 0, "reset");
	is(dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, &r), 0, "SLOT_ALLOC");
	is(le64toh(r.mem_regions), 5, "reset restores --mem-regions");
	ok(ctl("latency all 0") == 0, "latency all 0");
	dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL);
	is(dev_cmd(fd, NE_CMD_SLOT_ALLOC, 0, 0, 0, NULL), -ENOSPC,
	   "--max-slots 2: third slot -> -ENOSPC");
	close(fd);
	status = stop_daemon();
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "second daemon: clean exit");
}

/*
 * ne-emu-ctl on a serial port, as in a guest: a pty stands in for
 * /dev/ttyS1 and a child relays its master side to the control socket.
 */
static void test_cli_tty(void)
{
	char cmd[1024], *name;
	int master, slave, st;
	pid_t bridge;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	name = master < 0 || grantpt(master) || unlockpt(master) ? NULL :
	       ptsname(master);
	if (!name) {
		ok(0, "pty for the serial test");
		return;
	}
	/* Held open so the master never sees a hangup between clients. */
	slave = open(name, O_RDWR | O_NOCTTY);
	bridge = fork();
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
	if (write(master, "ok\nstale\n", 9) != 9)
		ok(0, "stale bytes");
	usleep(100000);
	snprintf(cmd, sizeof(cmd), "%s/ne-emu-ctl --socket %s fault list "
		 ">%s/tty.out && %s/ne-emu-ctl --socket %s fault rc SLOT_FREE "
		 "-7 && %s/ne-emu-ctl --socket %s fault list >%s/tty.out && "
		 "grep -qx 'F cmd=SLOT_FREE kind=rc rc=-7 count=1' %s/tty.out",
		 build, name, dir, build, name, build, name, dir, dir);
	st = system(cmd);
	is(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
	   "ne-emu-ctl over a serial port (pty): raw mode, stale input "
	   "dropped, answers read");
	snprintf(cmd, sizeof(cmd), "NE_EMU_CTL=%s %s/ne-emu-ctl bogus "
		 "2>/dev/null", name, build);
	st = system(cmd);
	is(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1,
	   "ne-emu-ctl, path from NE_EMU_CTL, error -> 1");
	ctl("fault clear");
	kill(bridge, SIGKILL);
	waitpid(bridge, NULL, 0);
	close(slave);
	close(master);
}

int main(void)
{
	struct stat st;
	int status;

	build = getenv("NE_BUILD") ? getenv("NE_BUILD") : "../build/emulator";
	slow = getenv("NE_EMU_SLOW") || getenv("NE_EMU_WRAP");
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/ne-emu-test.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	snprintf(devpath, sizeof(devpath), "%s/dev.sock", dir);
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/emu.log", dir);
	snprintf(pidpath, sizeof(pidpath), "%s/emu.pid", dir);

	if (!ok(start_daemon("") == 0, "daemon starts and answers ping")) {
		stop_daemon();
		return tap_done();
	}
	ok(stat(pidpath, &st) == 0, "pidfile written");
	test_lifecycle();
	test_faults_latency();
	test_events();
	test_bad_frames();
	test_control_robust();
	test_storm();
	test_fuzz_cmds();
	test_cli();
	test_cli_tty();

	status = stop_daemon();
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "SIGTERM: clean exit, status 0 (valgrind: no leak or error)");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("# status 0x%x; log: %s\n", status, logpath);
	ok(stat(devpath, &st) && stat(ctlpath, &st) && stat(pidpath, &st),
	   "sockets and pidfile removed on exit");
	test_options();
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "grep -q 'id=4242: seq=' %s && "
			 "grep -q 'freed 1 slot(s) of the previous VM' %s",
			 logpath, logpath);
		is(WEXITSTATUS(system(cmd)), 0, "log lines carry the message "
		   "id; new VM logged with the slots it freed");
		if (tap_failed == 0) {
			snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
			if (system(cmd))
				printf("# cannot remove %s\n", dir);
		}
	}
	return tap_done();
}
