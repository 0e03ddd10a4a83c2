// SPDX-License-Identifier: GPL-2.0
/*
 * The hypervisor's end of vsock: stream connections accepted at CID 0.
 */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hvsock.h"

_Static_assert(sizeof(struct ne_vsock_hdr) == NE_VSOCK_HDR_SIZE,
	       "virtio-vsock header is 44 bytes");

/* Advertised receive space: a console client sends next to nothing. */
#define HVSOCK_BUF_ALLOC	(64u << 10)

void ne_vsock_hdr_to_wire(struct ne_vsock_hdr *w, const struct ne_vsock_hdr *h)
{
	w->src_cid = htole64(h->src_cid);
	w->dst_cid = htole64(h->dst_cid);
	w->src_port = htole32(h->src_port);
	w->dst_port = htole32(h->dst_port);
	w->len = htole32(h->len);
	w->type = htole16(h->type);
	w->op = htole16(h->op);
	w->flags = htole32(h->flags);
	w->buf_alloc = htole32(h->buf_alloc);
	w->fwd_cnt = htole32(h->fwd_cnt);
}

void ne_vsock_hdr_from_wire(struct ne_vsock_hdr *h, const void *wire)
{
	struct ne_vsock_hdr w;

	memcpy(&w, wire, sizeof(w));
	h->src_cid = le64toh(w.src_cid);
	h->dst_cid = le64toh(w.dst_cid);
	h->src_port = le32toh(w.src_port);
	h->dst_port = le32toh(w.dst_port);
	h->len = le32toh(w.len);
	h->type = le16toh(w.type);
	h->op = le16toh(w.op);
	h->flags = le32toh(w.flags);
	h->buf_alloc = le32toh(w.buf_alloc);
	h->fwd_cnt = le32toh(w.fwd_cnt);
}

void ne_hvsock_init(struct ne_hvsock *hv, uint64_t cid,
		    const struct ne_hvsock_ops *ops, void *arg)
{
	memset(hv, 0, sizeof(*hv));
	hv->cid = cid;
	hv->buf_alloc = HVSOCK_BUF_ALLOC;
	hv->ops = *ops;
	hv->arg = arg;
}

static void unlink_conn(struct ne_hvsock *hv, struct ne_hvconn *c)
{
	struct ne_hvconn **pp;

	for (pp = &hv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			hv->nr_conns--;
			break;
		}
	}
	if (hv->ops.closed)
		hv->ops.closed(hv->arg, c);
	free(c);
}

void ne_hvsock_fini(struct ne_hvsock *hv)
{
	while (hv->conns)
		unlink_conn(hv, hv->conns);
}

static struct ne_hvconn *find_conn(struct ne_hvsock *hv, uint64_t cid,
				   uint32_t peer_port, uint32_t local_port)
{
	struct ne_hvconn *c;

	for (c = hv->conns; c; c = c->next)
		if (c->peer_cid == cid && c->peer_port == peer_port &&
		    c->local_port == local_port)
			return c;
	return NULL;
}

/* A packet to the peer of (cid, ports), in the stream's current credit. */
static int send_to(struct ne_hvsock *hv, uint64_t cid, uint32_t peer_port,
		   uint32_t local_port, uint16_t op, uint32_t flags,
		   uint32_t fwd_cnt, const void *data, size_t len)
{
	struct ne_vsock_hdr h = {
		.src_cid = hv->cid, .dst_cid = cid,
		.src_port = local_port, .dst_port = peer_port,
		.len = (uint32_t)len, .type = NE_VSOCK_TYPE_STREAM, .op = op,
		.flags = flags, .buf_alloc = hv->buf_alloc, .fwd_cnt = fwd_cnt,
	}, w;

	ne_vsock_hdr_to_wire(&w, &h);
	return hv->ops.send(hv->arg, &w, data, len);
}

static int send_conn(struct ne_hvsock *hv, struct ne_hvconn *c, uint16_t op,
		     uint32_t flags, const void *data, size_t len)
{
	int rc = send_to(hv, c->peer_cid, c->peer_port, c->local_port, op,
			 flags, c->rx_cnt, data, len);

	if (!rc)
		c->rx_cnt_told = c->rx_cnt;
	return rc;
}

/* RST to whoever sent @h (never in answer to an RST). */
static void reset_sender(struct ne_hvsock *hv, const struct ne_vsock_hdr *h)
{
	if (h->op != NE_VSOCK_OP_RST)
		send_to(hv, h->src_cid, h->src_port, h->dst_port,
			NE_VSOCK_OP_RST, 0, 0, NULL, 0);
}

void ne_hvsock_reset(struct ne_hvsock *hv, struct ne_hvconn *c)
{
	send_conn(hv, c, NE_VSOCK_OP_RST, 0, NULL, 0);
	unlink_conn(hv, c);
}

static void new_conn(struct ne_hvsock *hv, const struct ne_vsock_hdr *h)
{
	struct ne_hvconn *c;
	uint64_t cookie = 0;

	/* Each stream costs memory and a console read per tick. */
	if (hv->nr_conns >= NE_HVSOCK_MAX_CONNS ||
	    hv->ops.accept(hv->arg, h->src_cid, h->dst_port, &cookie) < 0) {
		hv->refused++;
		reset_sender(hv, h);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		hv->refused++;
		reset_sender(hv, h);
		return;
	}
	c->peer_cid = h->src_cid;
	c->peer_port = h->src_port;
	c->local_port = h->dst_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->cookie = cookie;
	c->next = hv->conns;
	hv->conns = c;
	hv->nr_conns++;
	hv->accepted++;
	send_conn(hv, c, NE_VSOCK_OP_RESPONSE, 0, NULL, 0);
}

void ne_hvsock_input(struct ne_hvsock *hv, const void *hdr, const void *data,
		     size_t len)
{
	struct ne_vsock_hdr h;
	struct ne_hvconn *c;

	(void)data;
	ne_vsock_hdr_from_wire(&h, hdr);
	/* A sibling group delivers only what is addressed to us; check. */
	if (h.dst_cid != hv->cid || h.len != len) {
		hv->dropped++;
		return;
	}
	if (h.type != NE_VSOCK_TYPE_STREAM) {
		hv->dropped++;
		reset_sender(hv, &h);
		return;
	}
	c = find_conn(hv, h.src_cid, h.src_port, h.dst_port);
	if (!c) {
		if (h.op == NE_VSOCK_OP_REQUEST)
			new_conn(hv, &h);
		else
			reset_sender(hv, &h);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case NE_VSOCK_OP_RW:
		/* Nothing reads it: consumed at once, and credited. */
		c->rx_cnt += h.len;
		if (c->rx_cnt - c->rx_cnt_told >= hv->buf_alloc / 2)
			send_conn(hv, c, NE_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case NE_VSOCK_OP_CREDIT_UPDATE:
		c->credit_asked = 0;
		break;
	case NE_VSOCK_OP_CREDIT_REQUEST:
		send_conn(hv, c, NE_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case NE_VSOCK_OP_SHUTDOWN:
		c->peer_shut |= (int)(h.flags & (NE_VSOCK_SHUTDOWN_RCV |
						  NE_VSOCK_SHUTDOWN_SEND));
		/* The peer closed (both ways) or we had: it waits for RST. */
		if (c->peer_shut == (NE_VSOCK_SHUTDOWN_RCV |
				     NE_VSOCK_SHUTDOWN_SEND) ||
		    c->state == NE_HVCONN_CLOSING)
			ne_hvsock_reset(hv, c);
		break;
	case NE_VSOCK_OP_RST:
		unlink_conn(hv, c);
		break;
	default:
		/* REQUEST on an open stream, RESPONSE to nothing we asked. */
		ne_hvsock_reset(hv, c);
		break;
	}
}

uint32_t ne_hvsock_credit(const struct ne_hvconn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

long ne_hvsock_write(struct ne_hvsock *hv, struct ne_hvconn *c,
		     const void *data, size_t len)
{
	const char *p = data;
	size_t done = 0;

	if (c->state != NE_HVCONN_OPEN ||
	    (c->peer_shut & NE_VSOCK_SHUTDOWN_RCV))
		return -EPIPE;
	while (done < len) {
		size_t n = len - done;
		uint32_t credit = ne_hvsock_credit(c);
		int rc;

		if (!credit) {
			if (!c->credit_asked &&
			    !send_conn(hv, c, NE_VSOCK_OP_CREDIT_REQUEST, 0,
				       NULL, 0))
				c->credit_asked = 1;
			break;
		}
		if (n > credit)
			n = credit;
		if (n > NE_HVSOCK_MAX_PAYLOAD)
			n = NE_HVSOCK_MAX_PAYLOAD;
		rc = send_conn(hv, c, NE_VSOCK_OP_RW, 0, p + done, n);
		if (rc == -EAGAIN)
			break;
		if (rc)
			return done ? (long)done : rc;
		c->tx_cnt += (uint32_t)n;
		done += n;
	}
	return (long)done;
}

void ne_hvsock_shutdown(struct ne_hvsock *hv, struct ne_hvconn *c,
			uint64_t now_us)
{
	if (c->state == NE_HVCONN_CLOSING)
		return;
	c->state = NE_HVCONN_CLOSING;
	c->close_us = now_us;
	send_conn(hv, c, NE_VSOCK_OP_SHUTDOWN,
		  NE_VSOCK_SHUTDOWN_RCV | NE_VSOCK_SHUTDOWN_SEND, NULL, 0);
}

int ne_hvsock_timers(struct ne_hvsock *hv, uint64_t now_us)
{
	const uint64_t limit = NE_HVSOCK_CLOSE_MS * 1000ULL;
	struct ne_hvconn *c, *next;
	int64_t best = -1;

	for (c = hv->conns; c; c = next) {
		int64_t ms;

		next = c->next;
		if (c->state != NE_HVCONN_CLOSING)
			continue;
		if (now_us - c->close_us >= limit) {
			ne_hvsock_reset(hv, c);
			continue;
		}
		ms = (int64_t)((limit - (now_us - c->close_us) + 999) / 1000);
		if (best < 0 || ms < best)
			best = ms;
	}
	return (int)best;
}
