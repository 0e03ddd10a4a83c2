/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A vhost-user frontend for one virtio-vsock device: what QEMU does for a
 * guest, done by the emulator for the hypervisor's CID 0.
 *
 * vhost-device-vsock routes a guest's packets to the host (CID 2) or to a
 * sibling VM it serves; a packet for CID 0 is dropped. Declaring CID 0 as
 * one more VM of the sibling group and driving its device from here makes
 * the parent's packets for CID 0 arrive in our receive queue, and ours
 * (source CID 0) reach the parent, with the parent's kernel unchanged.
 *
 * The "guest memory" is a memfd of our own: the rings and the buffers live
 * there and the backend maps it (SET_MEM_TABLE). Split rings, no event
 * index, no protocol features: the rings are enabled by their kick fd.
 * Nothing here blocks after the handshake.
 */

#ifndef NE_EMU_VHOSTFE_H
#define NE_EMU_VHOSTFE_H

#include <stddef.h>
#include <stdint.h>

#define NE_VHOSTFE_QSIZE	64		/* descriptors per ring */
#define NE_VHOSTFE_BUFS		(NE_VHOSTFE_QSIZE / 2)	/* 2 per chain */
#define NE_VHOSTFE_BUF_SIZE	4096		/* payload per buffer */
#define NE_VHOSTFE_MAX_QUEUED	256		/* control packets held back */

struct ne_vq {
	unsigned int index;
	void *desc;
	void *avail;
	void *used;
	uint16_t avail_idx;		/* next avail->idx we publish */
	uint16_t last_used;		/* used entries consumed */
	int kick_fd;
};

struct ne_vhostfe_pkt {
	unsigned char hdr[44];
	struct ne_vhostfe_pkt *next;
};

struct ne_vhostfe {
	int sock;			/* vhost-user; -1: not connected */
	int call_fd;			/* the backend signals every queue here */
	int memfd;
	unsigned char *mem;
	size_t mem_size;
	struct ne_vq vq[3];		/* rx, tx, event (virtio-vsock order) */
	uint16_t tx_free[NE_VHOSTFE_BUFS];
	unsigned int nr_tx_free;
	uint32_t rx_busy, tx_busy;	/* chains the backend holds, by k */
	struct ne_vhostfe_pkt *queued, **queued_tail;
	unsigned int nr_queued;
	uint64_t features;		/* acked */
	uint64_t rx_pkts;
	uint64_t tx_pkts;
	uint64_t lost;			/* control packets over the queue limit */
};

typedef void (*ne_vhostfe_rx_fn)(void *arg, const void *hdr,
				 const void *data, size_t len);

void ne_vhostfe_init(struct ne_vhostfe *fe);
/* Connect to a backend's socket and set the device up; -errno. */
int ne_vhostfe_open(struct ne_vhostfe *fe, const char *path);
void ne_vhostfe_close(struct ne_vhostfe *fe);

/*
 * After call_fd was readable (or any time): hand each received packet to
 * @fn, give the buffers back, reclaim sent ones, send what was held back.
 * -EPIPE when the device went bad (a malformed ring entry).
 */
int ne_vhostfe_poll(struct ne_vhostfe *fe, ne_vhostfe_rx_fn fn, void *arg);
/*
 * One packet: a 44-byte header (wire order) and a payload up to
 * NE_VHOSTFE_BUF_SIZE. Without room, a payload gets -EAGAIN and a
 * header-only packet is held back, in order.
 */
int ne_vhostfe_send(struct ne_vhostfe *fe, const void *hdr, const void *data,
		    size_t len);
/* Payload packets that fit now. */
unsigned int ne_vhostfe_tx_room(const struct ne_vhostfe *fe);

#endif /* NE_EMU_VHOSTFE_H */
