/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hypervisor's end of vsock (CID 0): a minimal virtio-vsock stream
 * stack that only accepts connections, never opens one.
 *
 * A real Nitro hypervisor serves a debug enclave's console to the parent
 * at (CID 0, port enclave CID + 10000). Here the packets come from and go
 * to a virtio-vsock device (vhostfe.h); this file holds no I/O, so the
 * tests drive it with packets directly.
 *
 * Packets in: ne_hvsock_input(). Packets out: the owner's send callback.
 * Data out: ne_hvsock_write(), bounded by the peer's credit and by the
 * packet size a Linux guest's receive buffer takes.
 */

#ifndef NE_EMU_HVSOCK_H
#define NE_EMU_HVSOCK_H

#include <stddef.h>
#include <stdint.h>

/* virtio-vsock packet header, little-endian on the wire (virtio 1.2 §5.10) */
struct ne_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define NE_VSOCK_HDR_SIZE	44
#define NE_VSOCK_TYPE_STREAM	1

enum {
	NE_VSOCK_OP_REQUEST = 1,
	NE_VSOCK_OP_RESPONSE = 2,
	NE_VSOCK_OP_RST = 3,
	NE_VSOCK_OP_SHUTDOWN = 4,
	NE_VSOCK_OP_RW = 5,
	NE_VSOCK_OP_CREDIT_UPDATE = 6,
	NE_VSOCK_OP_CREDIT_REQUEST = 7,
};

#define NE_VSOCK_SHUTDOWN_RCV	1
#define NE_VSOCK_SHUTDOWN_SEND	2

/*
 * Largest RW payload we send. vhost-device-vsock 0.3.0 copies a sibling's
 * packet into one receive buffer of the peer, 4 KiB in a Linux guest, and
 * cuts what does not fit: stay well below.
 */
#define NE_HVSOCK_MAX_PAYLOAD	2048
/* Open streams at most: a REQUEST flood must not grow us without bound. */
#define NE_HVSOCK_MAX_CONNS	64
/* A connection we shut down is dropped if the peer never answers. */
#define NE_HVSOCK_CLOSE_MS	5000

enum ne_hvconn_state {
	NE_HVCONN_OPEN,
	NE_HVCONN_CLOSING,	/* we sent SHUTDOWN, waiting for RST */
};

struct ne_hvconn {
	uint64_t peer_cid;
	uint32_t peer_port;
	uint32_t local_port;
	enum ne_hvconn_state state;
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;		/* payload bytes sent */
	uint32_t rx_cnt;		/* payload bytes received (discarded) */
	uint32_t rx_cnt_told;		/* rx_cnt the peer last heard of */
	int peer_shut;			/* NE_VSOCK_SHUTDOWN_* the peer sent */
	int credit_asked;
	uint64_t close_us;		/* CLOSING since */
	/* the owner's */
	uint64_t cookie;
	uint64_t offset;
	struct ne_hvconn *next;
};

struct ne_hvsock;

struct ne_hvsock_ops {
	/* A REQUEST to @port: 0 accepts (with *cookie set), <0 refuses. */
	int (*accept)(void *arg, uint64_t peer_cid, uint32_t port,
		      uint64_t *cookie);
	/*
	 * Put one packet (@h in wire byte order) on the wire. -EAGAIN: no room now (only ever
	 * returned for packets with a payload; the owner queues the rest).
	 */
	int (*send)(void *arg, const struct ne_vsock_hdr *h, const void *data,
		    size_t len);
	/* @c is about to be freed (RST either way, or closing timed out). */
	void (*closed)(void *arg, struct ne_hvconn *c);
};

struct ne_hvsock {
	uint64_t cid;			/* ours: 0 */
	uint32_t buf_alloc;		/* what we advertise */
	struct ne_hvsock_ops ops;
	void *arg;
	struct ne_hvconn *conns;
	unsigned int nr_conns;
	uint64_t accepted;
	uint64_t refused;
	uint64_t dropped;		/* not for us, or malformed */
};

void ne_hvsock_init(struct ne_hvsock *hv, uint64_t cid,
		    const struct ne_hvsock_ops *ops, void *arg);
/* Free every connection (no packets sent). */
void ne_hvsock_fini(struct ne_hvsock *hv);

/* One packet from the device: its header as on the wire, its payload. */
void ne_hvsock_input(struct ne_hvsock *hv, const void *hdr, const void *data,
		     size_t len);

/* Bytes the peer can take now. */
uint32_t ne_hvsock_credit(const struct ne_hvconn *c);
/*
 * Send up to @len bytes as RW packets. Returns the bytes sent (0 when
 * out of credit or room: a CREDIT_REQUEST goes out once), or -errno.
 */
long ne_hvsock_write(struct ne_hvsock *hv, struct ne_hvconn *c,
		     const void *data, size_t len);
/* No more data: SHUTDOWN, then the peer's RST (or a timeout) ends it. */
void ne_hvsock_shutdown(struct ne_hvsock *hv, struct ne_hvconn *c,
			uint64_t now_us);
/* Abort: RST now, @c is freed. */
void ne_hvsock_reset(struct ne_hvsock *hv, struct ne_hvconn *c);
/* Drop connections that closed without an answer; ms to the next, or -1. */
int ne_hvsock_timers(struct ne_hvsock *hv, uint64_t now_us);

/* Wire helpers, also for tests. */
void ne_vsock_hdr_to_wire(struct ne_vsock_hdr *w, const struct ne_vsock_hdr *h);
void ne_vsock_hdr_from_wire(struct ne_vsock_hdr *h, const void *w);

#endif /* NE_EMU_HVSOCK_H */
