// SPDX-License-Identifier: GPL-2.0
/*
 * Device link: framing and connection handling for the QEMU device model.
 */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"

#define HDR_SIZE	sizeof(struct ne_wire_hdr)

void ne_devlink_init(struct ne_devlink *d)
{
	memset(d, 0, sizeof(*d));
	d->lfd = -1;
}

static void purge_pending(struct ne_devlink *d, const struct ne_devconn *c)
{
	struct ne_pending **pp = &d->pending;

	while (*pp) {
		struct ne_pending *p = *pp;

		if (!c || p->conn == c) {
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
}

static void drop_fds(struct ne_devconn *c)
{
	while (c->nr_fds)
		close(c->fds[--c->nr_fds]);
}

static void conn_close(struct ne_devlink *d, struct ne_devconn *c,
		       const char *why)
{
	struct ne_devconn **pp;

	ne_log(0, "device connection #%u closed: %s", c->id, why);
	purge_pending(d, c);
	drop_fds(c);
	ne_parentmem_clear(&c->mem);
	for (pp = &d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (d->active == c)
		d->active = NULL;
	d->nr_conns--;
	close(c->fd);
	ne_buf_free(&c->out);
	free(c);
}

void ne_devlink_fini(struct ne_devlink *d)
{
	while (d->conns)
		conn_close(d, d->conns, "shutdown");
	purge_pending(d, NULL);
	if (d->lfd >= 0)
		close(d->lfd);
	d->lfd = -1;
}

struct ne_devconn *ne_devlink_find(struct ne_devlink *d, int fd)
{
	struct ne_devconn *c;

	for (c = d->conns; c; c = c->next)
		if (c->fd == fd)
			return c;
	return NULL;
}

void ne_devlink_accept(struct ne_emu *emu)
{
	struct ne_devlink *d = &emu->dev;
	struct ne_devconn *c;
	int fd;

	fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			ne_log(0, "device accept: %s", strerror(errno));
		return;
	}
	if (d->nr_conns >= NE_DEV_MAX_CONNS) {
		ne_log(0, "device connection refused: %u already open",
		       d->nr_conns);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->id = ++d->next_id;
	c->next = d->conns;
	d->conns = c;
	d->nr_conns++;
	ne_log(0, "device connection #%u opened", c->id);
}

/* Queue bytes; 0, or -1 after the connection was closed. */
static int conn_send(struct ne_devlink *d, struct ne_devconn *c,
		     const void *p, size_t n)
{
	int rc;

	if ((n && ne_buf_add(&c->out, p, n)) ||
	    ne_buf_pending(&c->out) > NE_DEV_MAX_OUT) {
		conn_close(d, c, "device does not read its replies");
		return -1;
	}
	rc = ne_buf_flush(&c->out, c->fd);
	if (rc) {
		conn_close(d, c, strerror(-rc));
		return -1;
	}
	return 0;
}

static void put_hdr(struct ne_wire_hdr *h, uint16_t type, uint32_t id,
		    uint32_t len)
{
	h->magic = htole32(NE_WIRE_MAGIC);
	h->type = htole16(type);
	h->reserved = 0;
	h->id = htole32(id);
	h->len = htole32(len);
}

static void send_reply_now(struct ne_emu *emu, struct ne_devconn *c,
			   uint32_t wire_id, uint64_t seq,
			   const struct ne_wire_reply *rep)
{
	uint8_t msg[HDR_SIZE + sizeof(*rep)];

	put_hdr((struct ne_wire_hdr *)msg, NE_WIRE_REPLY, wire_id,
		sizeof(*rep));
	memcpy(msg + HDR_SIZE, rep, sizeof(*rep));
	ne_trace_replied(&emu->trace, seq, ne_now_us());
	conn_send(&emu->dev, c, msg, sizeof(msg));
}

void ne_devlink_reply(struct ne_emu *emu, struct ne_devconn *c,
		      uint32_t wire_id, uint64_t seq,
		      const struct ne_wire_reply *rep, uint64_t delay_us)
{
	struct ne_pending *p, **pp;

	if (!delay_us) {
		send_reply_now(emu, c, wire_id, seq, rep);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		ne_log(wire_id, "out of memory: reply lost");
		return;
	}
	p->deadline_us = ne_now_us() + delay_us;
	p->conn = c;
	p->wire_id = wire_id;
	p->seq = seq;
	p->rep = *rep;
	/* Equal deadlines keep arrival order. */
	for (pp = &emu->dev.pending; *pp; pp = &(*pp)->next)
		if ((*pp)->deadline_us > p->deadline_us)
			break;
	p->next = *pp;
	*pp = p;
}

void ne_devlink_run_timers(struct ne_emu *emu, uint64_t now_us)
{
	struct ne_devlink *d = &emu->dev;

	while (d->pending && d->pending->deadline_us <= now_us) {
		struct ne_pending *p = d->pending;

		d->pending = p->next;
		/* Sending may close the connection and purge the list. */
		send_reply_now(emu, p->conn, p->wire_id, p->seq, &p->rep);
		free(p);
	}
}

int ne_devlink_timeout_ms(const struct ne_devlink *d, uint64_t now_us)
{
	uint64_t left;

	if (!d->pending)
		return -1;
	if (d->pending->deadline_us <= now_us)
		return 0;
	left = d->pending->deadline_us - now_us;
	/* Round up: waking early would only spin. */
	return left / 1000 >= 0x7fffffff ? 0x7fffffff :
	       (int)((left + 999) / 1000);
}

uint64_t ne_devlink_due_us(const struct ne_devlink *d, uint64_t seq)
{
	const struct ne_pending *p;

	for (p = d->pending; p; p = p->next)
		if (p->seq == seq)
			return p->deadline_us;
	return 0;
}

int ne_devlink_events(struct ne_emu *emu, unsigned int n)
{
	struct ne_devlink *d = &emu->dev;
	struct ne_wire_hdr h;
	unsigned int i;

	if (!d->active)
		return -ENOTCONN;
	put_hdr(&h, NE_WIRE_EVENT, 0, 0);
	for (i = 0; i < n; i++)
		if (ne_buf_add(&d->active->out, &h, sizeof(h)))
			break;
	ne_log(0, "%u event(s) to device connection #%u", i, d->active->id);
	if (conn_send(d, d->active, NULL, 0))
		return -EPIPE;
	return 0;
}

/* HELLO done: this connection is the device from now on (a new VM). */
static void conn_hello(struct ne_emu *emu, struct ne_devconn *c,
		       const struct ne_wire_hello *hello)
{
	struct ne_devlink *d = &emu->dev;
	struct ne_wire_hello ours = {
		.version = htole32(NE_WIRE_VERSION),
		.flags = htole32(NE_WIRE_HELLO_MEMMAP),
	};
	uint8_t msg[HDR_SIZE + sizeof(ours)];
	unsigned int freed;

	if (le32toh(hello->version) != NE_WIRE_VERSION) {
		ne_log(0, "device connection #%u: wire version %u, want %u",
		       c->id, le32toh(hello->version), NE_WIRE_VERSION);
		conn_close(d, c, "version mismatch");
		return;
	}
	put_hdr((struct ne_wire_hdr *)msg, NE_WIRE_HELLO, 0, sizeof(ours));
	memcpy(msg + HDR_SIZE, &ours, sizeof(ours));
	if (conn_send(d, c, msg, sizeof(msg)))
		return;
	c->ready = 1;
	if (d->active && d->active != c)
		conn_close(d, d->active, "replaced by a new device connection");
	d->active = c;
	freed = ne_engine_free_all(&emu->engine);
	ne_log(0, "device connection #%u ready (new VM); freed %u slot(s) of "
	       "the previous VM", c->id, freed);
	ne_vms_sync(emu, 0);	/* their VMs end before our HELLO goes out */
}

/* Validate a complete header; NULL if fine, else why it is not. */
static const char *check_hdr(const struct ne_devconn *c,
			     const struct ne_wire_hdr *h)
{
	uint16_t type = le16toh(h->type);
	uint32_t len = le32toh(h->len);

	if (le32toh(h->magic) != NE_WIRE_MAGIC)
		return "bad magic";
	if (h->reserved)
		return "reserved header field not zero";
	if (len > NE_WIRE_MAX_PAYLOAD)
		return "payload too long";
	if (!c->ready) {
		if (type != NE_WIRE_HELLO)
			return "expected HELLO first";
		if (len != sizeof(struct ne_wire_hello))
			return "bad HELLO length";
		return NULL;
	}
	if (type == NE_WIRE_MEMMAP) {
		if (len < offsetof(struct ne_wire_memmap, ent) ||
		    len > sizeof(struct ne_wire_memmap))
			return "bad MEMMAP length";
		return NULL;
	}
	if (type != NE_WIRE_CMD)
		return "unexpected message type";
	if (len != sizeof(struct ne_wire_cmd))
		return "bad CMD length";
	if (!h->id)
		return "CMD id 0";
	return NULL;
}

/* The fds came with the message's bytes (or just before them). */
static void conn_memmap(struct ne_devconn *c, uint32_t len)
{
	unsigned int nr = c->nr_fds;
	int err;

	c->nr_fds = 0;
	err = ne_parentmem_set(&c->mem, c->in + HDR_SIZE, len, c->fds, nr);
	if (err)
		ne_log(0, "device connection #%u: unusable memory map (%s, "
		       "%u fds): enclaves will not boot", c->id,
		       strerror(-err), nr);
	else if (!c->mem.nr)
		ne_log(0, "device connection #%u: the VM's RAM is not shared "
		       "(no memory-backend with share=on): enclaves will not "
		       "boot", c->id);
	else
		ne_log(0, "device connection #%u: VM RAM %llu MiB in %u "
		       "range(s)", c->id,
		       (unsigned long long)(c->mem.total >> 20), c->mem.nr);
}

/* read() that also collects SCM_RIGHTS fds; excess fds are closed. */
static ssize_t conn_read(struct ne_devconn *c, void *buf, size_t len)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * NE_WIRE_MEMMAP_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		const unsigned char *p = CMSG_DATA(cm);
		size_t i, nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, p + i * sizeof(int), sizeof(int));
			if (c->nr_fds < NE_WIRE_MEMMAP_FDS) {
				c->fds[c->nr_fds++] = fd;
			} else {
				ne_log(0, "device connection #%u: more than %d "
				       "fds, one closed", c->id,
				       NE_WIRE_MEMMAP_FDS);
				close(fd);
			}
		}
	}
	return n;
}

/* One complete message in c->in. Returns -1 if c was closed. */
static int conn_message(struct ne_emu *emu, struct ne_devconn *c)
{
	const struct ne_wire_hdr *h = (const void *)c->in;
	int fd = c->fd;

	if (!c->ready) {
		struct ne_wire_hello hello;

		memcpy(&hello, c->in + HDR_SIZE, sizeof(hello));
		conn_hello(emu, c, &hello);
	} else if (le16toh(h->type) == NE_WIRE_MEMMAP) {
		conn_memmap(c, le32toh(h->len));
	} else {
		/* fds belong to MEMMAP only: stray ones are not kept for it. */
		if (c->nr_fds) {
			ne_log(0, "device connection #%u: %u fd(s) with a "
			       "message that takes none, closed", c->id,
			       c->nr_fds);
			drop_fds(c);
		}
		struct ne_wire_cmd cmd;

		memcpy(&cmd, c->in + HDR_SIZE, sizeof(cmd));
		ne_emu_command(emu, c, le32toh(h->id), &cmd);
	}
	/* No accept runs in between, so the fd names c or nothing. */
	return ne_devlink_find(&emu->dev, fd) ? 0 : -1;
}

void ne_devlink_io(struct ne_emu *emu, struct ne_devconn *c, short revents)
{
	struct ne_devlink *d = &emu->dev;
	unsigned int msgs = 0;

	if (revents & POLLOUT) {
		int rc = ne_buf_flush(&c->out, c->fd);

		if (rc) {
			conn_close(d, c, strerror(-rc));
			return;
		}
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	while (msgs < NE_DEV_BATCH) {
		const struct ne_wire_hdr *h = (const void *)c->in;
		size_t want;
		ssize_t n;

		/* Read the header, check it, only then read its body. */
		if (c->in_len < HDR_SIZE)
			want = HDR_SIZE - c->in_len;
		else
			want = HDR_SIZE + le32toh(h->len) - c->in_len;
		n = want ? conn_read(c, c->in + c->in_len, want) : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_close(d, c, strerror(errno));
			return;
		}
		if (n == 0 && want) {
			conn_close(d, c, c->in_len ? "EOF inside a message" :
				   "EOF");
			return;
		}
		c->in_len += (size_t)n;
		if (c->in_len == HDR_SIZE) {
			const char *bad = check_hdr(c, h);

			if (bad) {
				ne_log(le32toh(h->id), "device connection #%u: "
				       "%s (magic 0x%08x type %u len %u)",
				       c->id, bad, le32toh(h->magic),
				       le16toh(h->type), le32toh(h->len));
				conn_close(d, c, "protocol error");
				return;
			}
		}
		if (c->in_len >= HDR_SIZE &&
		    c->in_len == HDR_SIZE + le32toh(h->len)) {
			c->in_len = 0;
			msgs++;
			if (conn_message(emu, c))
				return;
		}
	}
}
