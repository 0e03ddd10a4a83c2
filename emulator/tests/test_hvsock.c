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
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hvsock.h"
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

FIXTURE(backend) {
	char dir[64];
	pid_t pid;
	struct ne_vhostfe hyp;		/* CID 0, serves the stack */
	struct ne_vhostfe parent;	/* CID 3, plays the guest */
	struct rig r;
	/* what the parent received */
	struct ne_vsock_hdr got[256];
	int ngot;
	unsigned char data[32768];
	size_t ndata;
};

static int hyp_send(void *arg, const struct ne_vsock_hdr *w, const void *data,
		    size_t len)
{
	return ne_vhostfe_send(arg, w, data, len);
}

FIXTURE_SETUP(backend)
{
	const char *bin = backend_bin();
	char vm0[256], vm3[256], s0[128], s3[128];
	static const struct ne_hvsock_ops ops = {
		.accept = rig_accept, .send = hyp_send,
	};
	double t0;
	int rc;

	self->pid = 0;
	ne_vhostfe_init(&self->hyp);
	ne_vhostfe_init(&self->parent);
	if (!bin)
		SKIP(return, "no vhost-device-vsock (set NE_VHOST_VSOCK)");
	snprintf(self->dir, sizeof(self->dir), "/tmp/ne-hvsock.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(s0, sizeof(s0), "%s/c0.sock", self->dir);
	snprintf(s3, sizeof(s3), "%s/c3.sock", self->dir);
	snprintf(vm0, sizeof(vm0), "guest-cid=0,socket=%s,uds-path=%s/c0.vsock,"
		 "groups=ne", s0, self->dir);
	snprintf(vm3, sizeof(vm3), "guest-cid=3,socket=%s,uds-path=%s/c3.vsock,"
		 "groups=ne", s3, self->dir);
	self->pid = fork();
	ASSERT_GE(self->pid, 0);
	if (!self->pid) {
		setenv("RUST_LOG", "error", 1);
		execl(bin, bin, "--vm", vm0, "--vm", vm3, (char *)NULL);
		_exit(127);
	}
	/* The sockets appear once the backend listens. */
	t0 = now_ms();
	while ((access(s0, F_OK) || access(s3, F_OK)) && now_ms() - t0 < 10000)
		usleep(20000);
	rc = ne_vhostfe_open(&self->hyp, s0);
	ASSERT_RC(0, rc, "frontend for CID 0 on %s", s0);
	rc = ne_vhostfe_open(&self->parent, s3);
	ASSERT_RC(0, rc, "frontend for CID 3 on %s", s3);
	rig_init(&self->r);
	ne_hvsock_init(&self->r.hv, 0, &ops, &self->hyp);
}

FIXTURE_TEARDOWN(backend)
{
	char cmd[128];

	ne_hvsock_fini(&self->r.hv);
	ne_vhostfe_close(&self->hyp);
	ne_vhostfe_close(&self->parent);
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
		if (system(cmd))
			TH_LOG("could not remove %s", self->dir);
	}
}

FIXTURE_REGISTER(backend);

static void to_stack(void *arg, const void *hdr, const void *data, size_t len)
{
	ne_hvsock_input(arg, hdr, data, len);
}

static void to_parent(void *arg, const void *hdr, const void *data, size_t len)
{
	th_self_backend *self = arg;

	if (self->ngot < 256)
		ne_vsock_hdr_from_wire(&self->got[self->ngot++], hdr);
	if (self->ndata + len <= sizeof(self->data)) {
		memcpy(self->data + self->ndata, data, len);
		self->ndata += len;
	}
}

/* Run both ends until the parent has @want packets (or 5 s pass). */
static void pump(struct th_ctx *_th, th_self_backend *self, int want)
{
	double t0 = now_ms();

	while (self->ngot < want && now_ms() - t0 < 5000) {
		struct pollfd p[2] = {
			{ .fd = self->hyp.call_fd, .events = POLLIN },
			{ .fd = self->parent.call_fd, .events = POLLIN },
		};

		poll(p, 2, 50);
		ASSERT_RC(0, ne_vhostfe_poll(&self->hyp, to_stack,
					     &self->r.hv));
		ASSERT_RC(0, ne_vhostfe_poll(&self->parent, to_parent, self));
	}
}

static void parent_sends(struct th_ctx *_th, th_self_backend *self,
			 uint32_t port, uint16_t op, uint32_t fwd_cnt)
{
	struct ne_vsock_hdr h = {
		.src_cid = PARENT, .dst_cid = 0, .src_port = 1234,
		.dst_port = port, .type = NE_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 1 << 18, .fwd_cnt = fwd_cnt,
	}, w;

	ne_vsock_hdr_to_wire(&w, &h);
	ASSERT_RC(0, ne_vhostfe_send(&self->parent, &w, NULL, 0));
}

TEST_F(backend, vhostfe, cid0_reached_through_sibling_group)
{
	static char text[20000];
	double t0 = now_ms();
	long left, n;
	int i;

	parent_sends(_th, self, CONSOLE_PORT, NE_VSOCK_OP_REQUEST, 0);
	pump(_th, self, 1);
	ASSERT_EQ(1, self->ngot, "an answer from CID 0 within 5 s");
	EXPECT_EQ(NE_VSOCK_OP_RESPONSE, self->got[0].op);
	EXPECT_EQ(0, self->got[0].src_cid);
	EXPECT_EQ(CONSOLE_PORT, self->got[0].src_port);
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
		pump(_th, self, self->ngot + 1);
	}
	pump(_th, self, 1 + (int)(sizeof(text) / NE_HVSOCK_MAX_PAYLOAD) + 1);
	EXPECT_EQ(0, left, "all the text went out");
	ASSERT_EQ(sizeof(text), self->ndata, "all the text came in");
	EXPECT_EQ(0, memcmp(text, self->data, sizeof(text)), "in order");
	for (i = 1; i < self->ngot; i++)
		EXPECT_EQ(NE_VSOCK_OP_RW, self->got[i].op);
}

TEST_F(backend, vhostfe, refused_port_reset)
{
	parent_sends(_th, self, CONSOLE_PORT + 7, NE_VSOCK_OP_REQUEST, 0);
	pump(_th, self, 1);
	ASSERT_EQ(1, self->ngot, "an answer from CID 0 within 5 s");
	EXPECT_EQ(NE_VSOCK_OP_RST, self->got[0].op);
	EXPECT_EQ(CONSOLE_PORT + 7, self->got[0].src_port);
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
