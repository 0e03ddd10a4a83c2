// SPDX-License-Identifier: GPL-2.0
/*
 * The hypervisor's vsock end (CID 0): the stream stack fed packets
 * directly (hvsock.c), then the vhost-user frontend (vhostfe.c) against the
 * real vhost-device-vsock, with a second frontend playing the parent
 * (CID 3) in the same sibling group. The backend tests skip without the
 * binary ($NE_VHOST_VSOCK, or the one tests/vm fetched into $NE_CACHE).
 * On the project's test harness (tests/lib/harness).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"
#include "harness.h"
#include "hvsock.h"
#include "log.h"
#include "vhostfe.h"

#define PARENT		3
#define CONSOLE_PORT	10004
#define MAX_SENT	64

/* ---- the stack alone: every packet it sends is recorded ---- */

struct sent {
	struct ne_vsock_hdr h;		/* host order */
	unsigned char data[NE_HVSOCK_MAX_PAYLOAD];
};

struct rig {
	struct ne_hvsock hv;
	struct sent out[MAX_SENT];
	int n;
	int room;			/* payload packets that fit; -1: any */
	int closed;
};

static int rig_accept(void *arg, uint64_t cid, uint32_t port, uint64_t *cookie)
{
	(void)arg;
	*cookie = port;
	return cid == PARENT && port == CONSOLE_PORT ? 0 : -ECONNREFUSED;
}

static int rig_send(void *arg, const struct ne_vsock_hdr *w, const void *data,
		    size_t len)
{
	struct rig *r = arg;

	if (len && !r->room)
		return -EAGAIN;
	if (r->n == MAX_SENT)
		return -ENOBUFS;
	ne_vsock_hdr_from_wire(&r->out[r->n].h, w);
	memcpy(r->out[r->n].data, data, len);
	r->n++;
	if (len && r->room > 0)
		r->room--;
	return 0;
}

static void rig_closed(void *arg, struct ne_hvconn *c)
{
	(void)c;
	((struct rig *)arg)->closed++;
}

static const struct ne_hvsock_ops rig_ops = {
	.accept = rig_accept, .send = rig_send, .closed = rig_closed,
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->room = -1;
	ne_hvsock_init(&r->hv, 0, &rig_ops, r);
}

/* A packet from the parent's port 1234 (or @src_port) to CID 0. */
static void from_parent(struct rig *r, uint32_t src_port, uint32_t dst_port,
			uint16_t op, uint32_t flags, uint32_t buf_alloc,
			uint32_t fwd_cnt, size_t len)
{
	static const unsigned char junk[64];
	struct ne_vsock_hdr h = {
		.src_cid = PARENT, .dst_cid = 0, .src_port = src_port,
		.dst_port = dst_port, .len = (uint32_t)len,
		.type = NE_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt,
	}, w;

	ne_vsock_hdr_to_wire(&w, &h);
	ne_hvsock_input(&r->hv, &w, junk, len);
}

static struct ne_hvconn *rig_connect(struct th_ctx *_th, struct rig *r,
				     uint32_t buf_alloc)
{
	from_parent(r, 1234, CONSOLE_PORT, NE_VSOCK_OP_REQUEST, 0, buf_alloc,
		    0, 0);
	ASSERT_EQ(1, r->n, "one answer to a REQUEST");
	ASSERT_EQ(NE_VSOCK_OP_RESPONSE, r->out[0].h.op);
	ASSERT_NE(NULL, r->hv.conns);
	r->n = 0;
	return r->hv.conns;
}

TEST(hvsock, request_accepted_with_response)
{
	struct rig r;
	struct ne_vsock_hdr *h = &r.out[0].h;

	rig_init(&r);
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_REQUEST, 0, 4096, 0, 0);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_RESPONSE, h->op);
	EXPECT_EQ(0, h->src_cid);
	EXPECT_EQ(PARENT, h->dst_cid);
	EXPECT_EQ(CONSOLE_PORT, h->src_port);
	EXPECT_EQ(1234, h->dst_port);
	EXPECT_EQ(NE_VSOCK_TYPE_STREAM, h->type);
	EXPECT_EQ(0, h->len);
	EXPECT_NE(0, h->buf_alloc, "we advertise receive space");
	ASSERT_NE(NULL, r.hv.conns);
	EXPECT_EQ(CONSOLE_PORT, r.hv.conns->cookie, "the owner's cookie kept");
	EXPECT_EQ(1, r.hv.accepted);
	ne_hvsock_fini(&r.hv);
	EXPECT_EQ(1, r.closed);
}

TEST(hvsock, refused_port_gets_rst)
{
	struct rig r;

	rig_init(&r);
	from_parent(&r, 1234, CONSOLE_PORT + 1, NE_VSOCK_OP_REQUEST, 0, 4096,
		    0, 0);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_RST, r.out[0].h.op);
	EXPECT_EQ(CONSOLE_PORT + 1, r.out[0].h.src_port);
	EXPECT_EQ(1234, r.out[0].h.dst_port);
	EXPECT_EQ(NULL, r.hv.conns);
	EXPECT_EQ(1, r.hv.refused);
}

TEST(hvsock, unknown_stream_gets_rst_but_rst_does_not)
{
	struct rig r;

	rig_init(&r);
	from_parent(&r, 99, CONSOLE_PORT, NE_VSOCK_OP_RW, 0, 4096, 0, 8);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_RST, r.out[0].h.op);
	from_parent(&r, 99, CONSOLE_PORT, NE_VSOCK_OP_RST, 0, 4096, 0, 0);
	EXPECT_EQ(1, r.n, "an RST is never answered");
}

TEST(hvsock, not_for_us_or_bad_length_dropped)
{
	struct rig r;
	struct ne_vsock_hdr h = {
		.src_cid = PARENT, .dst_cid = 5, .src_port = 1,
		.dst_port = CONSOLE_PORT, .type = NE_VSOCK_TYPE_STREAM,
		.op = NE_VSOCK_OP_REQUEST,
	}, w;

	rig_init(&r);
	ne_vsock_hdr_to_wire(&w, &h);
	ne_hvsock_input(&r.hv, &w, NULL, 0);
	h.dst_cid = 0;
	h.len = 10;
	ne_vsock_hdr_to_wire(&w, &h);
	ne_hvsock_input(&r.hv, &w, NULL, 3);
	EXPECT_EQ(0, r.n);
	EXPECT_EQ(2, r.hv.dropped);
	EXPECT_EQ(NULL, r.hv.conns);
}

TEST(hvsock, write_bounded_by_credit_and_packet_size)
{
	static char buf[10000];
	struct rig r;
	struct ne_hvconn *c;
	long n;

	rig_init(&r);
	c = rig_connect(_th, &r, 5000);
	memset(buf, 'x', sizeof(buf));
	n = ne_hvsock_write(&r.hv, c, buf, sizeof(buf));
	EXPECT_EQ(5000, n, "no more than the peer's buf_alloc");
	ASSERT_EQ(4, r.n, "2048 + 2048 + 904, then a CREDIT_REQUEST");
	EXPECT_EQ(NE_VSOCK_OP_RW, r.out[0].h.op);
	EXPECT_EQ(NE_HVSOCK_MAX_PAYLOAD, r.out[0].h.len);
	EXPECT_EQ(904, r.out[2].h.len);
	EXPECT_EQ(NE_VSOCK_OP_CREDIT_REQUEST, r.out[3].h.op);
	EXPECT_EQ(0, ne_hvsock_credit(c));
	r.n = 0;
	EXPECT_EQ(0, ne_hvsock_write(&r.hv, c, buf, 10));
	EXPECT_EQ(0, r.n, "one CREDIT_REQUEST until the peer answers");
	/* The peer read 3000 bytes. */
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_CREDIT_UPDATE, 0, 5000,
		    3000, 0);
	EXPECT_EQ(3000, ne_hvsock_credit(c));
	n = ne_hvsock_write(&r.hv, c, buf, 100);
	EXPECT_EQ(100, n);
	ne_hvsock_fini(&r.hv);
}

TEST(hvsock, write_stops_when_device_full)
{
	static char buf[8192];
	struct rig r;
	struct ne_hvconn *c;

	rig_init(&r);
	c = rig_connect(_th, &r, 1 << 20);
	r.room = 1;
	EXPECT_EQ(NE_HVSOCK_MAX_PAYLOAD, ne_hvsock_write(&r.hv, c, buf,
							 sizeof(buf)));
	EXPECT_EQ(NE_HVSOCK_MAX_PAYLOAD, c->tx_cnt,
		  "only what went out is counted");
	ne_hvsock_fini(&r.hv);
}

TEST(hvsock, credit_request_answered)
{
	struct rig r;

	rig_init(&r);
	rig_connect(_th, &r, 4096);
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_RW, 0, 4096, 0, 64);
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_CREDIT_REQUEST, 0,
		    4096, 0, 0);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_CREDIT_UPDATE, r.out[0].h.op);
	EXPECT_EQ(64, r.out[0].h.fwd_cnt, "received bytes are credited");
	ne_hvsock_fini(&r.hv);
}

TEST(hvsock, peer_close_answered_with_rst)
{
	struct rig r;

	rig_init(&r);
	rig_connect(_th, &r, 4096);
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_SHUTDOWN,
		    NE_VSOCK_SHUTDOWN_SEND, 4096, 0, 0);
	EXPECT_EQ(0, r.n, "half a shutdown keeps the stream");
	EXPECT_NE(NULL, r.hv.conns);
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_SHUTDOWN,
		    NE_VSOCK_SHUTDOWN_RCV, 4096, 0, 0);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_RST, r.out[0].h.op);
	EXPECT_EQ(NULL, r.hv.conns);
	EXPECT_EQ(1, r.closed);
}

TEST(hvsock, our_shutdown_then_peer_rst_or_timeout)
{
	struct rig r;
	struct ne_hvconn *c;

	rig_init(&r);
	c = rig_connect(_th, &r, 4096);
	ne_hvsock_shutdown(&r.hv, c, 1000000);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_SHUTDOWN, r.out[0].h.op);
	EXPECT_EQ(NE_VSOCK_SHUTDOWN_RCV | NE_VSOCK_SHUTDOWN_SEND,
		  r.out[0].h.flags);
	EXPECT_EQ(-EPIPE, ne_hvsock_write(&r.hv, c, "x", 1));
	from_parent(&r, 1234, CONSOLE_PORT, NE_VSOCK_OP_RST, 0, 4096, 0, 0);
	EXPECT_EQ(NULL, r.hv.conns, "the peer's RST ends it");

	r.n = 0;
	c = rig_connect(_th, &r, 4096);
	ne_hvsock_shutdown(&r.hv, c, 1000000);
	EXPECT_EQ(NE_HVSOCK_CLOSE_MS, ne_hvsock_timers(&r.hv, 1000000));
	EXPECT_EQ(1, ne_hvsock_timers(&r.hv, 1000000 +
				      NE_HVSOCK_CLOSE_MS * 1000ULL - 1000));
	EXPECT_EQ(-1, ne_hvsock_timers(&r.hv, 1000000 +
				       NE_HVSOCK_CLOSE_MS * 1000ULL));
	EXPECT_EQ(NULL, r.hv.conns, "a silent peer is dropped");
	EXPECT_EQ(NE_VSOCK_OP_RST, r.out[r.n - 1].h.op);
}

TEST(hvsock, request_flood_bounded)
{
	struct rig r;
	uint32_t port;
	int n = 0;

	rig_init(&r);
	/* One parent, many source ports: each stream would be kept. */
	for (port = 1; port <= 10 * NE_HVSOCK_MAX_CONNS; port++) {
		r.n = 0;
		from_parent(&r, port, CONSOLE_PORT, NE_VSOCK_OP_REQUEST, 0,
			    4096, 0, 0);
		ASSERT_EQ(1, r.n, "every REQUEST answered");
		if (r.out[0].h.op == NE_VSOCK_OP_RESPONSE)
			n++;
	}
	EXPECT_EQ(NE_HVSOCK_MAX_CONNS, n, "no more streams than the limit");
	EXPECT_EQ(NE_HVSOCK_MAX_CONNS, r.hv.accepted);
	EXPECT_EQ(9 * NE_HVSOCK_MAX_CONNS, r.hv.refused);
	/* A closed stream makes room again. */
	from_parent(&r, 1, CONSOLE_PORT, NE_VSOCK_OP_RST, 0, 4096, 0, 0);
	r.n = 0;
	from_parent(&r, 99999, CONSOLE_PORT, NE_VSOCK_OP_REQUEST, 0, 4096, 0,
		    0);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(NE_VSOCK_OP_RESPONSE, r.out[0].h.op);
	ne_hvsock_fini(&r.hv);
}

/* ---- the frontend against the real backend ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *backend_bin(void)
{
	static char path[640];
	const char *env = getenv("NE_VHOST_VSOCK"), *cache = getenv("NE_CACHE");
	char dir[256];
	struct dirent *d;
	DIR *dp;

	if (env && *env)
		return access(env, X_OK) ? NULL : env;
	snprintf(dir, sizeof(dir), "%s/vhost-device-vsock",
		 cache && *cache ? cache : "/var/cache/nitro-enclaves-dev");
	dp = opendir(dir);
	if (!dp)
		return NULL;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/usr/bin/vhost-device-vsock",
			 dir, d->d_name);
		if (!access(path, X_OK))
			break;
		path[0] = 0;
	}
	closedir(dp);
	return path[0] ? path : NULL;
}

/* vhost-device-vsock serving CIDs 0 and 3 in one group, in @dir. */
static pid_t spawn_backend(struct th_ctx *_th, char *dir, size_t size)
{
	const char *bin = backend_bin();
	char vm0[256], vm3[256], s0[128], s3[128];
	double t0;
	pid_t pid;

	if (!bin)
		SKIP(return 0, "no vhost-device-vsock (set NE_VHOST_VSOCK)");
	snprintf(dir, size, "/tmp/ne-hvsock.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(s0, sizeof(s0), "%s/c0.sock", dir);
	snprintf(s3, sizeof(s3), "%s/c3.sock", dir);
	snprintf(vm0, sizeof(vm0), "guest-cid=0,socket=%s,uds-path=%s/c0.vsock,"
		 "groups=ne", s0, dir);
	snprintf(vm3, sizeof(vm3), "guest-cid=3,socket=%s,uds-path=%s/c3.vsock,"
		 "groups=ne", s3, dir);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		setenv("RUST_LOG", "error", 1);
		execl(bin, bin, "--vm", vm0, "--vm", vm3, (char *)NULL);
		_exit(127);
	}
	/* The sockets appear once the backend listens. */
	t0 = now_ms();
	while ((access(s0, F_OK) || access(s3, F_OK)) && now_ms() - t0 < 10000)
		usleep(20000);
	return pid;
}

static void stop_backend(pid_t pid, const char *dir)
{
	char cmd[128];

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		th_log("# could not remove %s\n", dir);
}

/* The parent (CID 3): a frontend of its own and what it received. */
struct peer {
	struct ne_vhostfe fe;
	struct ne_vsock_hdr got[256];
	int ngot;
	unsigned char data[32768];
	size_t ndata;
};

static int peer_open(struct peer *p, const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/c3.sock", dir);
	return ne_vhostfe_open(&p->fe, path);
}

static void to_peer(void *arg, const void *hdr, const void *data, size_t len)
{
	struct peer *p = arg;

	if (p->ngot < 256)
		ne_vsock_hdr_from_wire(&p->got[p->ngot++], hdr);
	if (p->ndata + len <= sizeof(p->data)) {
		memcpy(p->data + p->ndata, data, len);
		p->ndata += len;
	}
}

static void peer_sends(struct th_ctx *_th, struct peer *p, uint32_t port,
		       uint16_t op)
{
	struct ne_vsock_hdr h = {
		.src_cid = PARENT, .dst_cid = 0, .src_port = 1234,
		.dst_port = port, .type = NE_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 1 << 18, .fwd_cnt = (uint32_t)p->ndata,
	}, w;

	ne_vsock_hdr_to_wire(&w, &h);
	ASSERT_RC(0, ne_vhostfe_send(&p->fe, &w, NULL, 0));
}

/* The last packet the peer got has this op. */
static int peer_last_op(const struct peer *p)
{
	return p->ngot ? p->got[p->ngot - 1].op : -1;
}

FIXTURE(backend) {
	char dir[64];
	pid_t pid;
	struct ne_vhostfe hyp;		/* CID 0, serves the stack */
	struct rig r;
	struct peer parent;
};

static int hyp_send(void *arg, const struct ne_vsock_hdr *w, const void *data,
		    size_t len)
{
	return ne_vhostfe_send(arg, w, data, len);
}

FIXTURE_SETUP(backend)
{
	static const struct ne_hvsock_ops ops = {
		.accept = rig_accept, .send = hyp_send,
	};
	char path[128];

	ne_vhostfe_init(&self->hyp);
	ne_vhostfe_init(&self->parent.fe);
	self->pid = spawn_backend(_th, self->dir, sizeof(self->dir));
	if (!self->pid)
		return;
	snprintf(path, sizeof(path), "%s/c0.sock", self->dir);
	ASSERT_RC(0, ne_vhostfe_open(&self->hyp, path),
		  "frontend for CID 0 on %s", path);
	ASSERT_RC(0, peer_open(&self->parent, self->dir), "frontend for CID 3");
	rig_init(&self->r);
	ne_hvsock_init(&self->r.hv, 0, &ops, &self->hyp);
}

FIXTURE_TEARDOWN(backend)
{
	ne_hvsock_fini(&self->r.hv);
	ne_vhostfe_close(&self->hyp);
	ne_vhostfe_close(&self->parent.fe);
	stop_backend(self->pid, self->dir);
}

FIXTURE_REGISTER(backend);

static void to_stack(void *arg, const void *hdr, const void *data, size_t len)
{
	ne_hvsock_input(arg, hdr, data, len);
}

/* Run both ends until the parent has @want packets (or 5 s pass). */
static void pump(struct th_ctx *_th, th_self_backend *self, int want)
{
	double t0 = now_ms();

	while (self->parent.ngot < want && now_ms() - t0 < 5000) {
		struct pollfd p[2] = {
			{ .fd = self->hyp.call_fd, .events = POLLIN },
			{ .fd = self->parent.fe.call_fd, .events = POLLIN },
		};

		poll(p, 2, 50);
		ASSERT_RC(0, ne_vhostfe_poll(&self->hyp, to_stack,
					     &self->r.hv));
		ASSERT_RC(0, ne_vhostfe_poll(&self->parent.fe, to_peer,
					     &self->parent));
	}
}

TEST_F(backend, vhostfe, cid0_reached_through_sibling_group)
{
	static char text[20000];
	struct peer *p = &self->parent;
	double t0 = now_ms();
	long left, n;
	int i;

	peer_sends(_th, p, CONSOLE_PORT, NE_VSOCK_OP_REQUEST);
	pump(_th, self, 1);
	ASSERT_EQ(1, p->ngot, "an answer from CID 0 within 5 s");
	EXPECT_EQ(NE_VSOCK_OP_RESPONSE, p->got[0].op);
	EXPECT_EQ(0, p->got[0].src_cid);
	EXPECT_EQ(CONSOLE_PORT, p->got[0].src_port);
	TH_LOG("REQUEST to RESPONSE through vhost-device-vsock: %.1f ms",
	       now_ms() - t0);

	/* More than the rings hold at once: the stack waits for room. */
	for (i = 0; i < (int)sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	left = sizeof(text);
	t0 = now_ms();
	while (left && now_ms() - t0 < 10000) {
		n = ne_hvsock_write(&self->r.hv, self->r.hv.conns,
				    text + sizeof(text) - left, (size_t)left);
		ASSERT_GE(n, 0);
		left -= n;
		pump(_th, self, p->ngot + 1);
	}
	pump(_th, self, 1 + (int)(sizeof(text) / NE_HVSOCK_MAX_PAYLOAD) + 1);
	EXPECT_EQ(0, left, "all the text went out");
	ASSERT_EQ(sizeof(text), p->ndata, "all the text came in");
	EXPECT_EQ(0, memcmp(text, p->data, sizeof(text)), "in order");
	for (i = 1; i < p->ngot; i++)
		EXPECT_EQ(NE_VSOCK_OP_RW, p->got[i].op);
}

TEST_F(backend, vhostfe, refused_port_reset)
{
	peer_sends(_th, &self->parent, CONSOLE_PORT + 7, NE_VSOCK_OP_REQUEST);
	pump(_th, self, 1);
	ASSERT_EQ(1, self->parent.ngot, "an answer from CID 0 within 5 s");
	EXPECT_EQ(NE_VSOCK_OP_RST, self->parent.got[0].op);
	EXPECT_EQ(CONSOLE_PORT + 7, self->parent.got[0].src_port);
}

/*
 * A backend that is there but stuck (its listen queue full, or it never
 * answers): the daemon's loop waits for the handshake, so it must end.
 */
TEST_TIMEOUT(vhostfe, stuck_backend_handshake_bounded, 20)
{
	char dir[] = "/tmp/ne-hvsock.XXXXXX", path[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ne_vhostfe fe;
	int lfd, fds[8], nfds = 0, rc;
	double t0;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stuck.sock", dir);
	strcpy(sa.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, listen(lfd, 0));
	/* Fill the listen queue: nobody accepts. */
	while (nfds < 8) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

		ASSERT_GE(fd, 0);
		fds[nfds++] = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
	}
	t0 = now_ms();
	rc = ne_vhostfe_open(&fe, path);
	TH_LOG("open on a full queue: %d after %.0f ms", rc, now_ms() - t0);
	EXPECT_NE(0, rc);
	EXPECT_LE(now_ms() - t0, 1000, "the loop is not held for long");
	/* Accepted, then never answered. */
	while (nfds)
		close(fds[--nfds]);
	t0 = now_ms();
	rc = ne_vhostfe_open(&fe, path);
	TH_LOG("open on a silent backend: %d after %.0f ms", rc,
	       now_ms() - t0);
	EXPECT_NE(0, rc);
	EXPECT_LE(now_ms() - t0, 1000, "the loop is not held for long");
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/* Play a lying backend: @n used entries of chain @id on ring @q. */
static void fake_used(struct ne_vhostfe *fe, unsigned int q, uint32_t id,
		      unsigned int n)
{
	unsigned char *u = fe->vq[q].used;
	uint16_t idx;
	unsigned int i;

	memcpy(&idx, u + 2, 2);
	idx = le16toh(idx);
	for (i = 0; i < n; i++, idx++) {
		uint32_t e[2] = { htole32(id), 0 };

		memcpy(u + 4 + 8 * (idx % NE_VHOSTFE_QSIZE), e, sizeof(e));
	}
	idx = htole16(idx);
	__atomic_store_n((uint16_t *)(u + 2), idx, __ATOMIC_RELEASE);
}

static void nop_rx(void *arg, const void *hdr, const void *data, size_t len)
{
	(void)hdr; (void)data; (void)len;
	(*(int *)arg)++;
}

TEST_F(backend, vhostfe, used_entries_not_in_flight_refused)
{
	int n = 0;

	/* Nothing was sent: no send buffer can come back. */
	fake_used(&self->hyp, 1, 0, 1);
	EXPECT_RC(-EPIPE, ne_vhostfe_poll(&self->hyp, nop_rx, &n));
	ne_vhostfe_close(&self->hyp);
}

TEST_F(backend, vhostfe, used_index_past_what_was_posted_refused)
{
	int n = 0;

	/* More receive buffers used than were ever posted. */
	fake_used(&self->hyp, 0, 0, 4 * NE_VHOSTFE_QSIZE);
	EXPECT_RC(-EPIPE, ne_vhostfe_poll(&self->hyp, nop_rx, &n));
	EXPECT_EQ(0, n);
	ne_vhostfe_close(&self->hyp);
}

TEST_F(backend, vhostfe, receive_buffer_used_twice_refused)
{
	int n = 0;

	fake_used(&self->hyp, 0, 2, 1);
	fake_used(&self->hyp, 0, 2, 1);
	EXPECT_RC(-EPIPE, ne_vhostfe_poll(&self->hyp, nop_rx, &n));
	ne_vhostfe_close(&self->hyp);
}

/* ---- the emulator's debug consoles (dbgcon.c), backend included ---- */

FIXTURE(daemon) {
	char dir[64];
	pid_t pid;
	struct ne_emu emu;
	int emu_up;
	struct peer parent;
};

static uint64_t engine_cmd(struct th_ctx *_th, struct ne_emu *emu,
			   uint32_t type, uint64_t a, uint64_t b, uint64_t c)
{
	uint8_t win[NE_SEND_DATA_SIZE] = { 0 };
	uint64_t v[3] = { htole64(a), htole64(b), htole64(c) };
	struct ne_cmd_reply rep;

	memcpy(win, v, sizeof(v));
	ASSERT_RC(0, ne_engine_cmd(&emu->engine, type, win, sizeof(win), &rep),
		  "engine command %u", type);
	return type == NE_CMD_ENCLAVE_START ? le64toh(rep.enclave_cid) :
	       le64toh(rep.slot_uid);
}

/* A RUNNING slot with @cid, and its console log holding @text. */
static uint64_t running_slot(struct th_ctx *_th, th_self_daemon *self,
			     uint64_t cid, uint64_t flags, const char *text)
{
	uint64_t uid = engine_cmd(_th, &self->emu, NE_CMD_SLOT_ALLOC, 0, 0, 0);
	char path[512];
	FILE *f;

	engine_cmd(_th, &self->emu, NE_CMD_SLOT_ADD_MEM, uid,
		   (cid - 3) << 30, 64 << 20);
	/* vCPU ids are unique across slots: one per CID. */
	engine_cmd(_th, &self->emu, NE_CMD_SLOT_ADD_VCPU, uid, cid, 0);
	ASSERT_EQ(cid, engine_cmd(_th, &self->emu, NE_CMD_ENCLAVE_START, uid,
				  cid, flags));
	ne_vms_console_path(&self->emu.vms, uid, path, sizeof(path));
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fputs(text, f);
	fclose(f);
	return uid;
}

FIXTURE_SETUP(daemon)
{
	struct ne_emu_cfg cfg = { 0 };
	static char sock[128];
	double t0;

	ne_vhostfe_init(&self->parent.fe);
	self->pid = spawn_backend(_th, self->dir, sizeof(self->dir));
	if (!self->pid)
		return;
	snprintf(sock, sizeof(sock), "%s/c0.sock", self->dir);
	cfg.hv_vsock = sock;
	cfg.enclave.dir = self->dir;
	ne_log_set(NULL);
	ne_emu_init(&self->emu, &cfg);
	self->emu_up = 1;
	t0 = now_ms();
	while (!self->emu.dbgcon.up && now_ms() - t0 < 5000) {
		ne_dbgcon_run(&self->emu);
		usleep(20000);
	}
	ASSERT_TRUE(self->emu.dbgcon.up, "the emulator's CID 0 frontend is up");
	ASSERT_RC(0, peer_open(&self->parent, self->dir), "frontend for CID 3");
}

FIXTURE_TEARDOWN(daemon)
{
	if (self->emu_up)
		ne_emu_close(&self->emu);
	ne_vhostfe_close(&self->parent.fe);
	stop_backend(self->pid, self->dir);
}

FIXTURE_REGISTER(daemon);

/* The daemon's loop and the parent, until @done or @ms pass. */
static void run_until(struct th_ctx *_th, th_self_daemon *self,
		      int (*done)(const struct peer *, size_t), size_t arg,
		      int ms)
{
	double t0 = now_ms();

	while (!done(&self->parent, arg) && now_ms() - t0 < ms) {
		unsigned int n;
		struct pollfd *pfds = ne_emu_pollfds(&self->emu, &n);
		int t = ne_emu_timeout_ms(&self->emu);

		poll(pfds, n, t < 0 || t > 20 ? 20 : t);
		ne_emu_handle(&self->emu, pfds, n);
		ASSERT_RC(0, ne_vhostfe_poll(&self->parent.fe, to_peer,
					     &self->parent));
	}
}

static int got_packets(const struct peer *p, size_t n)
{
	return p->ngot >= (int)n;
}

static int got_bytes(const struct peer *p, size_t n)
{
	return p->ndata >= n;
}

static int got_shutdown(const struct peer *p, size_t n)
{
	(void)n;
	return peer_last_op(p) == NE_VSOCK_OP_SHUTDOWN;
}

TEST_F(daemon, dbgcon, debug_enclave_console_streamed_and_followed)
{
	const char *boot = "enclave-init: started\nenclave-init: heartbeat "
			   "acknowledged by the parent\n";
	double t0 = now_ms();
	uint64_t uid = running_slot(_th, self, 5, 1, boot);
	char path[512];
	FILE *f;

	peer_sends(_th, &self->parent, 10005, NE_VSOCK_OP_REQUEST);
	run_until(_th, self, got_packets, 1, 2000);
	ASSERT_LE(1, self->parent.ngot, "an answer within 2 s");
	EXPECT_EQ(NE_VSOCK_OP_RESPONSE, self->parent.got[0].op);
	TH_LOG("console REQUEST to RESPONSE: %.1f ms", now_ms() - t0);
	run_until(_th, self, got_bytes, strlen(boot), 2000);
	ASSERT_EQ(strlen(boot), self->parent.ndata);
	EXPECT_EQ(0, memcmp(boot, self->parent.data, strlen(boot)));

	/* Lines printed later follow. */
	ne_vms_console_path(&self->emu.vms, uid, path, sizeof(path));
	f = fopen(path, "a");
	ASSERT_NE(NULL, f);
	fputs("enclave-init: powering off\n", f);
	fclose(f);
	run_until(_th, self, got_bytes, strlen(boot) + 27, 2000);
	EXPECT_EQ(strlen(boot) + 27, self->parent.ndata);
	EXPECT_NE(NULL, memmem(self->parent.data, self->parent.ndata,
			       "powering off", 12));

	/* The enclave stops: the stream is shut, the peer's RST ends it. */
	engine_cmd(_th, &self->emu, NE_CMD_ENCLAVE_STOP, uid, 0, 0);
	run_until(_th, self, got_shutdown, 0, 2000);
	EXPECT_EQ(NE_VSOCK_OP_SHUTDOWN, peer_last_op(&self->parent));
	peer_sends(_th, &self->parent, 10005, NE_VSOCK_OP_RST);
	run_until(_th, self, got_packets, 1000, 300);
	EXPECT_EQ(NULL, self->emu.dbgcon.hv.conns);
	EXPECT_EQ(1, self->emu.dbgcon.hv.accepted);
}

/* A REQUEST to @port is reset at once, and no console byte goes out. */
static void refused(struct th_ctx *_th, th_self_daemon *self, uint32_t port)
{
	peer_sends(_th, &self->parent, port, NE_VSOCK_OP_REQUEST);
	run_until(_th, self, got_packets, 1, 2000);
	ASSERT_EQ(1, self->parent.ngot, "an answer within 2 s");
	EXPECT_EQ(NE_VSOCK_OP_RST, self->parent.got[0].op);
	EXPECT_EQ(0, self->parent.ndata, "not a byte of a console");
	EXPECT_EQ(1, self->emu.dbgcon.hv.refused);
}

TEST_F(daemon, dbgcon, production_enclave_console_refused)
{
	running_slot(_th, self, 6, 0, "secret\n");
	refused(_th, self, 10006);
}

TEST_F(daemon, dbgcon, no_enclave_with_that_cid_refused)
{
	running_slot(_th, self, 7, 1, "x\n");
	refused(_th, self, 10008);
}

TEST_F(daemon, dbgcon, enclave_cannot_read_a_console)
{
	struct ne_vsock_hdr h = {
		.src_cid = 6, .dst_cid = 0, .src_port = 1234,
		.dst_port = 10005, .type = NE_VSOCK_TYPE_STREAM,
		.op = NE_VSOCK_OP_REQUEST, .buf_alloc = 1 << 18,
	}, w;

	running_slot(_th, self, 5, 1, "debug enclave's secrets\n");
	running_slot(_th, self, 6, 1, "x\n");
	/*
	 * The sibling group lets enclave 6 reach CID 0 too (the backend only
	 * checks that the source is its own CID); on Nitro an enclave talks
	 * to its parent alone.
	 */
	ne_vsock_hdr_to_wire(&w, &h);
	ne_hvsock_input(&self->emu.dbgcon.hv, &w, NULL, 0);
	EXPECT_EQ(NULL, self->emu.dbgcon.hv.conns);
	EXPECT_EQ(1, self->emu.dbgcon.hv.refused);
	EXPECT_EQ(0, self->emu.dbgcon.hv.accepted);
}

TEST(dbgcon, closing_stream_timer_is_what_is_left)
{
	struct ne_dbgcon d;
	struct ne_hvconn c;
	uint64_t now = 100000000;

	memset(&d, 0, sizeof(d));
	memset(&c, 0, sizeof(c));
	d.path = "unused";
	d.up = 1;
	d.hv.conns = &c;
	c.state = NE_HVCONN_CLOSING;
	c.close_us = now - (NE_HVSOCK_CLOSE_MS - 50) * 1000ULL;
	/* The loop must wake when the silent peer is due to be dropped. */
	EXPECT_EQ(50, ne_dbgcon_timeout_ms(&d, now));
	c.close_us = now - NE_HVSOCK_CLOSE_MS * 1000ULL;
	EXPECT_EQ(0, ne_dbgcon_timeout_ms(&d, now));
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
