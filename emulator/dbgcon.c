// SPDX-License-Identifier: GPL-2.0
/*
 * Debug consoles at (CID 0, port enclave CID + 10000); see dbgcon.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dbgcon.h"
#include "emu.h"
#include "iobuf.h"
#include "log.h"

#define DEBUG_MODE	1ULL	/* NE_ENCLAVE_DEBUG_MODE (uapi) */
#define READ_CHUNK	(16u << 10)

static struct ne_slot *slot_of_cid(struct ne_emu *emu, uint64_t cid)
{
	unsigned int i;

	for (i = 0; i < emu->engine.nr_slots; i++) {
		struct ne_slot *s = emu->engine.slots[i];

		if (s->state == NE_SLOT_STATE_RUNNING && s->cid == cid)
			return s;
	}
	return NULL;
}

static int on_accept(void *arg, uint64_t peer_cid, uint32_t port,
		     uint64_t *cookie)
{
	struct ne_emu *emu = arg;
	struct ne_slot *s = port > NE_DBGCON_PORT_BASE ?
		slot_of_cid(emu, port - NE_DBGCON_PORT_BASE) : NULL;
	/*
	 * vhost-device-vsock lets every VM of the group reach CID 0, the
	 * enclaves too; on Nitro only the parent reads a console.
	 */
	const char *no = slot_of_cid(emu, peer_cid) ? "from an enclave" :
			 !s ? "no running enclave with that CID" :
			 !(s->flags & DEBUG_MODE) ? "enclave not in debug mode" :
			 NULL;

	if (no) {
		ne_log(0, "console: CID %" PRIu64 " to port %u refused: %s",
		       peer_cid, port, no);
		return -ECONNREFUSED;
	}
	*cookie = s->uid;
	ne_log(0, "console: CID %" PRIu64 " to port %u: slot=%" PRIu64
	       " cid=%" PRIu64 " console served", peer_cid, port, s->uid,
	       s->cid);
	return 0;
}

static int on_send(void *arg, const struct ne_vsock_hdr *h, const void *data,
		   size_t len)
{
	struct ne_emu *emu = arg;

	return ne_vhostfe_send(&emu->dbgcon.fe, h, data, len);
}

static void on_closed(void *arg, struct ne_hvconn *c)
{
	(void)arg;
	ne_log(0, "console: slot=%" PRIu64 " stream to CID %" PRIu64
	       " closed after %" PRIu64 " bytes", c->cookie, c->peer_cid,
	       c->offset);
}

static const struct ne_hvsock_ops ops = {
	.accept = on_accept, .send = on_send, .closed = on_closed,
};

void ne_dbgcon_init(struct ne_emu *emu, const char *path)
{
	struct ne_dbgcon *d = &emu->dbgcon;

	memset(d, 0, sizeof(*d));
	d->path = path;
	ne_vhostfe_init(&d->fe);
	ne_hvsock_init(&d->hv, 0, &ops, emu);
}

static void go_down(struct ne_dbgcon *d)
{
	/* The peers' streams die with the device: nothing to tell them. */
	ne_hvsock_fini(&d->hv);
	ne_vhostfe_close(&d->fe);
	d->up = 0;
}

void ne_dbgcon_fini(struct ne_emu *emu)
{
	go_down(&emu->dbgcon);
}

static void try_connect(struct ne_dbgcon *d)
{
	int rc = ne_vhostfe_open(&d->fe, d->path);

	if (rc) {
		if (!d->warned)
			ne_log(0, "console: no vhost-user backend at %s (%s); "
			       "retrying every %d ms", d->path, strerror(-rc),
			       NE_DBGCON_RETRY_MS);
		d->warned = 1;
		/* A backend that timed out held the loop: ask it less often. */
		d->retry_us = ne_now_us() + NE_DBGCON_RETRY_MS * 1000ULL *
			      (rc == -EAGAIN ? 10 : 1);
		return;
	}
	d->up = 1;
	d->warned = 0;
	ne_log(0, "console: serving debug consoles at CID 0, port CID + %d, "
	       "through %s", NE_DBGCON_PORT_BASE, d->path);
}

/* Send what is new in one console; shut the stream once it is final. */
static void pump(struct ne_emu *emu, struct ne_hvconn *c, uint64_t now)
{
	struct ne_dbgcon *d = &emu->dbgcon;
	struct ne_slot *s = ne_engine_find(&emu->engine, c->cookie);
	int final = !s || s->state != NE_SLOT_STATE_RUNNING;
	char path[512], buf[READ_CHUNK];
	size_t want;
	ssize_t n;
	long sent;
	int fd;

	if (c->state != NE_HVCONN_OPEN)
		return;
	want = ne_hvsock_credit(c);
	if (want > (size_t)ne_vhostfe_tx_room(&d->fe) * NE_HVSOCK_MAX_PAYLOAD)
		want = (size_t)ne_vhostfe_tx_room(&d->fe) *
		       NE_HVSOCK_MAX_PAYLOAD;
	if (want > sizeof(buf))
		want = sizeof(buf);
	ne_vms_console_path(&emu->vms, c->cookie, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? 0 : pread(fd, buf, want, (off_t)c->offset);
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		sent = ne_hvsock_write(&d->hv, c, buf, (size_t)n);
		if (sent > 0)
			c->offset += (uint64_t)sent;
		return;
	}
	/*
	 * Nothing new: when the slot stopped its QEMU is gone (reaped
	 * before the slot stops), so the log is complete. A full device or
	 * no credit (want 0) is not the end.
	 */
	if (final && want && n == 0)
		ne_hvsock_shutdown(&d->hv, c, now);
}

void ne_dbgcon_run(struct ne_emu *emu)
{
	struct ne_dbgcon *d = &emu->dbgcon;
	uint64_t now = ne_now_us();
	struct ne_hvconn *c, *next;

	if (!d->path)
		return;
	if (!d->up) {
		if (now >= d->retry_us)
			try_connect(d);
		return;
	}
	ne_hvsock_timers(&d->hv, now);
	if (now < d->tail_us)
		return;
	d->tail_us = now + NE_DBGCON_TAIL_MS * 1000ULL;
	for (c = d->hv.conns; c; c = next) {
		next = c->next;
		pump(emu, c, now);
	}
}

int ne_dbgcon_timeout_ms(const struct ne_dbgcon *d, uint64_t now_us)
{
	const struct ne_hvconn *c;
	int64_t ms = -1;

	if (!d->path)
		return -1;
	if (!d->up)
		return d->retry_us > now_us ?
		       (int)((d->retry_us - now_us + 999) / 1000) : 0;
	for (c = d->hv.conns; c; c = c->next) {
		/* Open: tail the console; closing: the drop timer. */
		uint64_t due = c->state == NE_HVCONN_OPEN ? d->tail_us :
			       c->close_us + NE_HVSOCK_CLOSE_MS * 1000ULL;
		int64_t t = due > now_us ?
			    (int64_t)((due - now_us + 999) / 1000) : 0;

		if (ms < 0 || t < ms)
			ms = t;
	}
	return (int)ms;
}

void ne_dbgcon_fds(const struct ne_dbgcon *d, int fds[2])
{
	fds[0] = d->up ? d->fe.call_fd : -1;
	fds[1] = d->up ? d->fe.sock : -1;
}

static void on_packet(void *arg, const void *hdr, const void *data,
		      size_t len)
{
	ne_hvsock_input(arg, hdr, data, len);
}

int ne_dbgcon_handle(struct ne_emu *emu, int fd, short revents)
{
	struct ne_dbgcon *d = &emu->dbgcon;
	char b;
	int rc;

	if (!d->up || (fd != d->fe.call_fd && fd != d->fe.sock))
		return 0;
	if (fd == d->fe.sock) {
		/* Nothing is ever sent to us there: this is a hang-up. */
		if (!(revents & (POLLIN | POLLHUP | POLLERR)) ||
		    (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
		     errno == EAGAIN))
			return 1;
		ne_log(0, "console: the vhost-user backend went away");
		go_down(d);
		d->retry_us = ne_now_us() + NE_DBGCON_RETRY_MS * 1000ULL;
		return 1;
	}
	rc = ne_vhostfe_poll(&d->fe, on_packet, &d->hv);
	if (rc) {
		ne_log(0, "console: device error (%s); reconnecting",
		       strerror(-rc));
		go_down(d);
		d->retry_us = ne_now_us();
		return 1;
	}
	/* A new stream gets what the console already has at once. */
	d->tail_us = 0;
	return 1;
}

void ne_dbgcon_list(const struct ne_dbgcon *d, struct ne_buf *out)
{
	const struct ne_hvconn *c;
	unsigned int open = 0;

	if (!d->path)
		return;
	for (c = d->hv.conns; c; c = c->next)
		open++;
	ne_buf_printf(out, "V hvsock=%s accepted=%" PRIu64 " refused=%" PRIu64
		      " open=%u\n", d->up ? "up" : "down", d->hv.accepted,
		      d->hv.refused, open);
}
