// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user frontend of a virtio-vsock device (see vhostfe.h).
 * Protocol: QEMU's docs/interop/vhost-user.rst; rings: virtio 1.2 §2.7.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhostfe.h"

enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
};

#define VU_VERSION		0x1
#define VU_REPLY		0x4
#define VIRTIO_F_VERSION_1	(1ULL << 32)

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2

#define HDR_SIZE		44
#define HDR_SLOT		64	/* header buffers, 64 bytes apart */
#define PAGE			4096u
/*
 * Our memory, in pages: one per ring (descriptors, then avail at 1 KiB,
 * used at 2 KiB), the rx and tx header buffers, event buffers, then the
 * rx and tx payload buffers. The backend sees it at guest address
 * GPA_BASE (any address works; 0 is avoided only for readability).
 */
#define PG_RING(q)		(q)
#define PG_RX_HDR		3
#define PG_TX_HDR		4
#define PG_EVT			5
#define PG_RX_BUF		8
#define PG_TX_BUF		(PG_RX_BUF + NE_VHOSTFE_BUFS)
#define MEM_PAGES		(PG_TX_BUF + NE_VHOSTFE_BUFS)
#define GPA_BASE		0x40000000ULL
#define AVAIL_OFF		1024
#define USED_OFF		2048
#define EVT_BUFS		8
#define EVT_SIZE		8

_Static_assert(16 * NE_VHOSTFE_QSIZE <= AVAIL_OFF, "descriptors fit");
_Static_assert(6 + 8 * NE_VHOSTFE_QSIZE <= PAGE - USED_OFF, "used fits");
_Static_assert(NE_VHOSTFE_BUFS * HDR_SLOT <= PAGE, "headers fit");
_Static_assert(NE_VHOSTFE_BUFS <= 32, "a bit per chain in rx/tx_busy");

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

void ne_vhostfe_init(struct ne_vhostfe *fe)
{
	unsigned int q;

	memset(fe, 0, sizeof(*fe));
	fe->sock = -1;
	fe->call_fd = -1;
	fe->memfd = -1;
	for (q = 0; q < 3; q++)
		fe->vq[q].kick_fd = -1;
	fe->queued_tail = &fe->queued;
}

static uint64_t gpa(size_t off)
{
	return GPA_BASE + off;
}

static int vu_send(struct ne_vhostfe *fe, uint32_t req, const void *body,
		   uint32_t size, const int *fds, unsigned int nr_fds)
{
	struct vu_hdr h = { .request = htole32(req),
			    .flags = htole32(VU_VERSION),
			    .size = htole32(size) };
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)body, .iov_len = size },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	if (nr_fds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr_fds);
	}
	do
		n = sendmsg(fe->sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)(sizeof(h) + size) ? 0 : -EIO;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* GET_FEATURES: the only request here that has a reply. */
static int vu_get_u64(struct ne_vhostfe *fe, uint32_t req, uint64_t *v)
{
	struct vu_hdr h;
	int rc = vu_send(fe, req, NULL, 0, NULL, 0);

	if (!rc)
		rc = read_full(fe->sock, &h, sizeof(h));
	if (rc)
		return rc;
	if (le32toh(h.request) != req || !(le32toh(h.flags) & VU_REPLY) ||
	    le32toh(h.size) != sizeof(*v))
		return -EPROTO;
	rc = read_full(fe->sock, v, sizeof(*v));
	*v = le64toh(*v);
	return rc;
}

static int vu_set_u64(struct ne_vhostfe *fe, uint32_t req, uint64_t v,
		      int fd)
{
	v = htole64(v);
	return vu_send(fe, req, &v, sizeof(v), &fd, fd >= 0 ? 1 : 0);
}

static int vu_vring_state(struct ne_vhostfe *fe, uint32_t req,
			  unsigned int q, unsigned int num)
{
	uint32_t s[2] = { htole32(q), htole32(num) };

	return vu_send(fe, req, s, sizeof(s), NULL, 0);
}

static unsigned char *ring_page(struct ne_vhostfe *fe, unsigned int q)
{
	return fe->mem + PG_RING(q) * PAGE;
}

static void publish(struct ne_vq *vq, uint16_t head)
{
	struct vring_avail *a = vq->avail;

	a->ring[vq->avail_idx % NE_VHOSTFE_QSIZE] = htole16(head);
	vq->avail_idx++;
	/* The entry before the index that makes it visible. */
	__atomic_store_n(&a->idx, htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

static void kick(struct ne_vq *vq)
{
	uint64_t one = 1;

	/* Always: without event index, the backend wants every kick. */
	if (write(vq->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

static void set_desc(struct ne_vhostfe *fe, unsigned int q, uint16_t i,
		     size_t off, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = (struct vring_desc *)fe->vq[q].desc + i;

	d->addr = htole64(gpa(off));
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* Receive chain k: its header buffer, then its payload buffer. */
static void post_rx(struct ne_vhostfe *fe, uint16_t k)
{
	set_desc(fe, 0, (uint16_t)(2 * k), PG_RX_HDR * PAGE + k * HDR_SLOT,
		 HDR_SIZE, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		 (uint16_t)(2 * k + 1));
	set_desc(fe, 0, (uint16_t)(2 * k + 1), (PG_RX_BUF + k) * PAGE,
		 NE_VHOSTFE_BUF_SIZE, VRING_DESC_F_WRITE, 0);
	fe->rx_busy |= 1u << k;
	publish(&fe->vq[0], (uint16_t)(2 * k));
}

static void post_evt(struct ne_vhostfe *fe, uint16_t k)
{
	set_desc(fe, 2, k, PG_EVT * PAGE + k * EVT_SIZE, EVT_SIZE,
		 VRING_DESC_F_WRITE, 0);
	publish(&fe->vq[2], k);
}

static int setup_mem(struct ne_vhostfe *fe)
{
	unsigned int q, k;

	fe->mem_size = (size_t)MEM_PAGES * PAGE;
	fe->memfd = memfd_create("ne-hvsock", MFD_CLOEXEC);
	if (fe->memfd < 0)
		return -errno;
	if (ftruncate(fe->memfd, (off_t)fe->mem_size))
		return -errno;
	fe->mem = mmap(NULL, fe->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fe->memfd, 0);
	if (fe->mem == MAP_FAILED) {
		fe->mem = NULL;
		return -errno;
	}
	for (q = 0; q < 3; q++) {
		struct ne_vq *vq = &fe->vq[q];

		vq->index = q;
		vq->desc = ring_page(fe, q);
		vq->avail = ring_page(fe, q) + AVAIL_OFF;
		vq->used = ring_page(fe, q) + USED_OFF;
		vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->kick_fd < 0)
			return -errno;
	}
	fe->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fe->call_fd < 0)
		return -errno;
	for (k = 0; k < NE_VHOSTFE_BUFS; k++) {
		post_rx(fe, (uint16_t)k);
		fe->tx_free[k] = (uint16_t)k;
	}
	fe->nr_tx_free = NE_VHOSTFE_BUFS;
	for (k = 0; k < EVT_BUFS; k++)
		post_evt(fe, (uint16_t)k);
	return 0;
}

static int setup_vring(struct ne_vhostfe *fe, unsigned int q)
{
	struct ne_vq *vq = &fe->vq[q];
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} __attribute__((packed)) addr = {
		.index = htole32(q),
		.desc = htole64((uint64_t)(uintptr_t)vq->desc),
		.used = htole64((uint64_t)(uintptr_t)vq->used),
		.avail = htole64((uint64_t)(uintptr_t)vq->avail),
	};
	int rc;

	rc = vu_vring_state(fe, VU_SET_VRING_NUM, q, NE_VHOSTFE_QSIZE);
	if (!rc)
		rc = vu_send(fe, VU_SET_VRING_ADDR, &addr, sizeof(addr), NULL,
			     0);
	if (!rc)
		rc = vu_vring_state(fe, VU_SET_VRING_BASE, q, 0);
	if (!rc)
		rc = vu_set_u64(fe, VU_SET_VRING_CALL, q, fe->call_fd);
	/* Last: the kick fd makes the ring live. */
	if (!rc)
		rc = vu_set_u64(fe, VU_SET_VRING_KICK, q, vq->kick_fd);
	return rc;
}

int ne_vhostfe_open(struct ne_vhostfe *fe, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/*
	 * The daemon's loop waits for the handshake: a backend that is stuck
	 * (not accepting, or not answering) must not hold it for long. The
	 * send timeout bounds connect() on a full listen queue too.
	 */
	struct timeval tv = { 0, 500000 };
	struct {
		uint32_t nregions, padding;
		uint64_t gpa, size, uaddr, offset;
	} __attribute__((packed)) table;
	uint64_t features;
	unsigned int q;
	int rc;

	ne_vhostfe_init(fe);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	rc = setup_mem(fe);
	if (rc)
		goto fail;
	fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fe->sock < 0 ||
	    setsockopt(fe->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fe->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto fail;
	}
	rc = vu_send(fe, VU_SET_OWNER, NULL, 0, NULL, 0);
	if (!rc)
		rc = vu_get_u64(fe, VU_GET_FEATURES, &features);
	if (rc)
		goto fail;
	if (!(features & VIRTIO_F_VERSION_1)) {
		rc = -EPROTO;
		goto fail;
	}
	fe->features = VIRTIO_F_VERSION_1;
	rc = vu_set_u64(fe, VU_SET_FEATURES, fe->features, -1);
	if (rc)
		goto fail;
	table = (typeof(table)){
		.nregions = htole32(1),
		.gpa = htole64(GPA_BASE),
		.size = htole64(fe->mem_size),
		.uaddr = htole64((uint64_t)(uintptr_t)fe->mem),
	};
	rc = vu_send(fe, VU_SET_MEM_TABLE, &table, sizeof(table), &fe->memfd,
		     1);
	for (q = 0; !rc && q < 3; q++)
		rc = setup_vring(fe, q);
	/*
	 * The messages above get no reply. With vhost-device-vsock 0.3.0, a
	 * sibling's packet that arrives before the backend has taken our
	 * rings (its SIBLING_VM_EVENT handler then works on a ring that is
	 * not ready) left routing between the two VMs dead for good in about
	 * one test run in ten. The backend handles one message at a time,
	 * so a reply to a last query means the rings are live before we
	 * return, and no sibling can reach us earlier.
	 */
	if (!rc)
		rc = vu_get_u64(fe, VU_GET_FEATURES, &features);
	if (rc)
		goto fail;
	/* From here on only a hang-up is expected on the socket. */
	fcntl(fe->sock, F_SETFL, fcntl(fe->sock, F_GETFL) | O_NONBLOCK);
	kick(&fe->vq[0]);
	kick(&fe->vq[2]);
	return 0;

fail:
	ne_vhostfe_close(fe);
	return rc;
}

void ne_vhostfe_close(struct ne_vhostfe *fe)
{
	unsigned int q;

	if (fe->sock >= 0)
		close(fe->sock);
	if (fe->call_fd >= 0)
		close(fe->call_fd);
	for (q = 0; q < 3; q++)
		if (fe->vq[q].kick_fd >= 0)
			close(fe->vq[q].kick_fd);
	if (fe->mem)
		munmap(fe->mem, fe->mem_size);
	if (fe->memfd >= 0)
		close(fe->memfd);
	while (fe->queued) {
		struct ne_vhostfe_pkt *p = fe->queued;

		fe->queued = p->next;
		free(p);
	}
	ne_vhostfe_init(fe);
}

/*
 * The next used entry of @vq: 1, 0 if none, -EPIPE if the backend claims
 * more than we made available (its index is not to be trusted).
 */
static int next_used(struct ne_vq *vq, uint32_t *id, uint32_t *len)
{
	struct vring_used *u = vq->used;
	uint16_t idx = le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
	struct vring_used_elem *e;

	if (idx == vq->last_used)
		return 0;
	if ((uint16_t)(idx - vq->last_used) >
	    (uint16_t)(vq->avail_idx - vq->last_used))
		return -EPIPE;
	e = &u->ring[vq->last_used % NE_VHOSTFE_QSIZE];
	*id = le32toh(e->id);
	*len = le32toh(e->len);
	vq->last_used++;
	return 1;
}

static int put_tx(struct ne_vhostfe *fe, const void *hdr, const void *data,
		  size_t len)
{
	uint16_t k = fe->tx_free[--fe->nr_tx_free];
	size_t hoff = PG_TX_HDR * PAGE + k * HDR_SLOT;
	size_t doff = (size_t)(PG_TX_BUF + k) * PAGE;

	fe->tx_busy |= 1u << k;
	memcpy(fe->mem + hoff, hdr, HDR_SIZE);
	if (len)
		memcpy(fe->mem + doff, data, len);
	set_desc(fe, 1, (uint16_t)(2 * k), hoff, HDR_SIZE,
		 len ? VRING_DESC_F_NEXT : 0, (uint16_t)(2 * k + 1));
	if (len)
		set_desc(fe, 1, (uint16_t)(2 * k + 1), doff, (uint32_t)len, 0,
			 0);
	publish(&fe->vq[1], (uint16_t)(2 * k));
	fe->tx_pkts++;
	return 0;
}

static void flush_queued(struct ne_vhostfe *fe)
{
	int sent = 0;

	while (fe->queued && fe->nr_tx_free) {
		struct ne_vhostfe_pkt *p = fe->queued;

		fe->queued = p->next;
		if (!fe->queued)
			fe->queued_tail = &fe->queued;
		fe->nr_queued--;
		put_tx(fe, p->hdr, NULL, 0);
		free(p);
		sent = 1;
	}
	if (sent)
		kick(&fe->vq[1]);
}

int ne_vhostfe_send(struct ne_vhostfe *fe, const void *hdr, const void *data,
		    size_t len)
{
	struct ne_vhostfe_pkt *p;

	if (fe->sock < 0)
		return -ENOTCONN;
	if (len > NE_VHOSTFE_BUF_SIZE)
		return -EMSGSIZE;
	if (fe->nr_tx_free && !fe->queued) {
		put_tx(fe, hdr, data, len);
		kick(&fe->vq[1]);
		return 0;
	}
	if (len)
		return -EAGAIN;
	if (fe->nr_queued >= NE_VHOSTFE_MAX_QUEUED) {
		fe->lost++;
		return -ENOBUFS;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p->hdr, hdr, HDR_SIZE);
	*fe->queued_tail = p;
	fe->queued_tail = &p->next;
	fe->nr_queued++;
	return 0;
}

unsigned int ne_vhostfe_tx_room(const struct ne_vhostfe *fe)
{
	return fe->sock < 0 || fe->queued ? 0 : fe->nr_tx_free;
}

int ne_vhostfe_poll(struct ne_vhostfe *fe, ne_vhostfe_rx_fn fn, void *arg)
{
	uint32_t id, len, back = 0;
	unsigned int i;
	uint64_t v;
	int evt = 0, rc;

	if (fe->sock < 0)
		return -ENOTCONN;
	if (read(fe->call_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	/* A chain given back twice would be handed out twice. */
	while ((rc = next_used(&fe->vq[1], &id, &len)) > 0) {
		if (id % 2 || id / 2 >= NE_VHOSTFE_BUFS ||
		    !(fe->tx_busy & (1u << (id / 2))))
			return -EPIPE;
		fe->tx_busy &= ~(1u << (id / 2));
		fe->tx_free[fe->nr_tx_free++] = (uint16_t)(id / 2);
	}
	if (rc)
		return rc;
	while ((rc = next_used(&fe->vq[0], &id, &len)) > 0) {
		uint16_t k = (uint16_t)(id / 2);
		const unsigned char *h = fe->mem + PG_RX_HDR * PAGE +
					 k * HDR_SLOT;
		uint32_t plen;

		if (id % 2 || k >= NE_VHOSTFE_BUFS ||
		    !(fe->rx_busy & (1u << k)))
			return -EPIPE;
		fe->rx_busy &= ~(1u << k);
		memcpy(&plen, h + 24, sizeof(plen));	/* header's len */
		plen = le32toh(plen);
		/* A packet that did not fit its buffer is not passed on. */
		if (len >= HDR_SIZE && plen <= NE_VHOSTFE_BUF_SIZE &&
		    len - HDR_SIZE >= plen) {
			fe->rx_pkts++;
			fn(arg, h, fe->mem + (PG_RX_BUF + k) * PAGE, plen);
		}
		back |= 1u << k;
	}
	if (rc)
		return rc;
	/* Posted again only now, so a used entry names each chain once. */
	for (i = 0; i < NE_VHOSTFE_BUFS; i++)
		if (back & (1u << i))
			post_rx(fe, (uint16_t)i);
	while ((rc = next_used(&fe->vq[2], &id, &len)) > 0) {
		if (id >= EVT_BUFS)
			return -EPIPE;
		post_evt(fe, (uint16_t)id);	/* transport reset: ignored */
		evt = 1;
	}
	if (rc)
		return rc;
	if (back)
		kick(&fe->vq[0]);
	if (evt)
		kick(&fe->vq[2]);
	flush_queued(fe);
	return 0;
}
