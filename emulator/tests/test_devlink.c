// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for devlink.c and the loop API of emu.c, in-process: the test
 * owns the poll loop (no main.c) and plays QEMU on a real unix socket.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"
#include "tap.h"

static struct ne_emu emu;
static char devpath[108], ctlpath[108];

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

static int send_cmd(int fd, uint32_t id, uint32_t type, uint64_t a)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_cmd c;
	} m;

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

int main(void)
{
	struct ne_emu_cfg cfg = { 0 };
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;
	char dir[] = "/tmp/ne-devlink.XXXXXX";
	int a, b, c;

	ne_log_set(NULL);
	if (!mkdtemp(dir))
		return 2;
	snprintf(devpath, sizeof(devpath), "%s/d", dir);
	snprintf(ctlpath, sizeof(ctlpath), "%s/c", dir);
	cfg.dev_path = devpath;
	cfg.ctl_path = ctlpath;
	is(ne_emu_open(&emu, &cfg), 0, "ne_emu_open: both sockets listen");
	is(ne_emu_timeout_ms(&emu), -1, "idle: no timeout");

	a = dev_connect();
	ok(a >= 0 && emu.dev.nr_conns == 1, "device connection accepted");
	ok(emu.dev.active == NULL, "not active before HELLO");
	send_hello(a, NE_WIRE_VERSION);
	is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_HELLO, "HELLO answered");
	ok(emu.dev.active && emu.dev.active->ready, "active after HELLO");

	send_cmd(a, 7, NE_CMD_SLOT_ALLOC, 0);
	is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_REPLY, "CMD -> REPLY");
	memcpy(&cr, r.data, sizeof(cr));
	ok(le32toh(h.id) == 7 && cr.rc == 0 && cr.slot_uid,
	   "REPLY id 7, rc 0, a slot");
	send_cmd(a, 8, NE_CMD_SLOT_ALLOC, 0);
	recv_msg(a, &h, &r, sizeof(r));

	/* Half a frame now, the rest later: nothing until it is whole. */
	{
		struct {
			struct ne_wire_hdr h;
			struct ne_wire_cmd c;
		} m;

		memset(&m, 0, sizeof(m));
		hdr(&m.h, NE_WIRE_CMD, 9, sizeof(m.c));
		m.c.cmd_type = htole32(NE_CMD_SLOT_COUNT);
		ok(write(a, &m, 100) == 100, "first 100 bytes of a CMD");
		is(recv_wait(a, &h, &r, sizeof(r), 20), -1, "no reply yet");
		ok(write(a, (char *)&m + 100, sizeof(m) - 100) ==
		   (ssize_t)(sizeof(m) - 100), "the rest");
		is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_REPLY,
		   "partial frame completed -> REPLY");
		memcpy(&cr, r.data, sizeof(cr));
		is(le64toh(cr.slot_count), 2, "SLOT_COUNT 2");
	}

	/* A delayed reply is a timer in the loop. */
	emu.faults.lat_us[NE_CMD_SLOT_COUNT] = 50000;
	send_cmd(a, 10, NE_CMD_SLOT_COUNT, 0);
	PUMP_UNTIL(emu.dev.pending);
	ok(emu.dev.pending && ne_emu_timeout_ms(&emu) > 0,
	   "latency: reply pending, loop timeout set");
	is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_REPLY,
	   "latency: REPLY once the timer fires");
	ok(!emu.dev.pending, "latency: no timer left");

	/* A bad connection next to the device does not disturb it. */
	b = dev_connect();
	ok(write(b, "garbage: not a frame at all", 27) == 27, "garbage");
	ok(closed_by_daemon(b), "garbage connection dropped");
	close(b);
	PUMP_UNTIL(emu.dev.nr_conns == 1);
	is(emu.dev.nr_conns, 1, "only the device connection left");
	is(emu.engine.nr_slots, 2, "slots untouched");

	/* Pending reply, then the device goes away. */
	send_cmd(a, 11, NE_CMD_SLOT_COUNT, 0);
	PUMP_UNTIL(emu.dev.pending);
	close(a);
	PUMP_UNTIL(!emu.dev.nr_conns);
	ok(!emu.dev.pending && !emu.dev.active && !emu.dev.nr_conns,
	   "closed with a reply pending: timer and connection gone");
	is(emu.engine.nr_slots, 2, "slots kept until a new VM says HELLO");

	/* A new VM frees the old one's slots. */
	c = dev_connect();
	send_hello(c, NE_WIRE_VERSION);
	recv_msg(c, &h, &r, sizeof(r));
	is(emu.engine.nr_slots, 0, "new VM: previous VM's slots freed");
	is(ne_devlink_events(&emu, 3), 0, "3 events queued");
	is(recv_msg(c, &h, &r, sizeof(r)), NE_WIRE_EVENT, "EVENT 1");
	is(recv_msg(c, &h, &r, sizeof(r)), NE_WIRE_EVENT, "EVENT 2");
	is(recv_msg(c, &h, &r, sizeof(r)), NE_WIRE_EVENT, "EVENT 3");
	send_hello(c, NE_WIRE_VERSION);
	ok(closed_by_daemon(c), "second HELLO on a ready link -> dropped");
	close(c);
	is(ne_devlink_events(&emu, 1), -ENOTCONN, "no device: -ENOTCONN");

	c = dev_connect();
	send_hello(c, 99);
	ok(closed_by_daemon(c), "HELLO version 99 -> dropped");
	close(c);

	ne_emu_close(&emu);
	ok(access(devpath, F_OK) && access(ctlpath, F_OK),
	   "ne_emu_close removes both sockets");
	rmdir(dir);
	return tap_done();
}
