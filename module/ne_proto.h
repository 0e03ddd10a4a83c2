/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Nitro Enclaves PCI device protocol: the one definition of the register
 * window, the command numbers and the request/reply layouts.
 *
 * Shared, unchanged, by the kernel module, the QEMU device model
 * (emulator/qemu/) and the hypervisor emulator (emulator/), so the three can
 * never disagree about an offset. Include <linux/types.h> semantics only:
 * no kernel or libc specifics.
 *
 * All fields are little-endian on the wire; natural alignment, no packing.
 */

#ifndef NE_PROTO_H
#define NE_PROTO_H

#include <linux/types.h>

/* PCI identity. */
#define NE_PCI_VENDOR_ID		0x1d0f	/* Amazon */
#define NE_PCI_DEVICE_ID		0xe4c1

/* The register window lives in BAR 3. */
#define NE_PCI_BAR			3
#define NE_PCI_BAR_SIZE			0x1000

/* ENABLE: 1 byte, RW. The driver writes 1/0 and reads the value back. */
#define NE_REG_ENABLE			0x0000
#define   NE_ENABLE_OFF			0x00
#define   NE_ENABLE_ON			0x01

/* VERSION: 2 bytes, RW. The driver writes NE_VERSION_MAX and reads it back. */
#define NE_REG_VERSION			0x0002
#define   NE_VERSION_MAX		0x0001

/* COMMAND: 4 bytes, WO. Writing a command type submits the send window. */
#define NE_REG_COMMAND			0x0004

/* EVTCNT: 4 bytes, RO. Bits 15:0 count replies, bits 31:16 count events. */
#define NE_REG_EVTCNT			0x000c
#define   NE_EVTCNT_REPLY_MASK		0x0000ffffU
#define   NE_EVTCNT_EVENT_SHIFT		16
#define   NE_EVTCNT_EVENT_MASK		0xffff0000U

/* SEND_DATA: 240 bytes, RW: the request payload. */
#define NE_REG_SEND_DATA		0x0010
#define NE_SEND_DATA_SIZE		240

/* RECV_DATA: 240 bytes, RO: the reply payload. */
#define NE_REG_RECV_DATA		0x0100
#define NE_RECV_DATA_SIZE		240

/* MSI-X vectors. */
#define NE_VEC_REPLY			0	/* command completion */
#define NE_VEC_EVENT			1	/* out-of-band slot state change */
#define NE_VEC_COUNT			2

/* Slot (enclave) states reported by SLOT_INFO. */
#define NE_SLOT_STATE_INIT		0x0000
#define NE_SLOT_STATE_RUNNING		0x0002
#define NE_SLOT_STATE_STOPPED		0xffff

/* Commands written to NE_REG_COMMAND. */
enum ne_cmd_type {
	NE_CMD_INVALID		= 0,
	NE_CMD_ENCLAVE_START	= 1,
	NE_CMD_ENCLAVE_GET_SLOT	= 2,
	NE_CMD_ENCLAVE_STOP	= 3,
	NE_CMD_SLOT_ALLOC	= 4,
	NE_CMD_SLOT_FREE	= 5,
	NE_CMD_SLOT_ADD_MEM	= 6,
	NE_CMD_SLOT_ADD_VCPU	= 7,
	NE_CMD_SLOT_COUNT	= 8,
	NE_CMD_NEXT_SLOT	= 9,
	NE_CMD_SLOT_INFO	= 10,
	NE_CMD_SLOT_ADD_BULK_VCPUS = 11,
	NE_CMD_MAX		= 12,	/* valid: NE_CMD_INVALID < type < NE_CMD_MAX */
};

/* Requests, written to SEND_DATA from offset 0. */

struct ne_enclave_start_req {
	__u64 slot_uid;
	__u64 enclave_cid;	/* 0: the device picks one */
	__u64 flags;		/* NE_ENCLAVE_DEBUG_MODE or 0 */
};

struct ne_enclave_get_slot_req {
	__u64 enclave_cid;
};

struct ne_enclave_stop_req {
	__u64 slot_uid;
};

struct ne_slot_alloc_req {
	__u8 unused;		/* written as 0 */
};

struct ne_slot_free_req {
	__u64 slot_uid;
};

struct ne_slot_add_mem_req {
	__u64 slot_uid;
	__u64 paddr;		/* guest-physical address in the parent VM */
	__u64 size;
};

struct ne_slot_add_vcpu_req {
	__u64 slot_uid;
	__u32 vcpu_id;		/* the parent's logical CPU number */
	__u8 padding[4];
};

struct ne_slot_count_req {
	__u8 unused;
};

struct ne_next_slot_req {
	__u64 slot_uid;
};

struct ne_slot_info_req {
	__u64 slot_uid;
};

struct ne_slot_add_bulk_vcpus_req {
	__u64 slot_uid;
	__u64 nr_vcpus;
};

/* The reply, read from RECV_DATA: always 72 bytes, rc < 0 is an error. */
struct ne_cmd_reply {
	__s32 rc;
	__u8 padding0[4];
	__u64 slot_uid;		/* all but SLOT_COUNT */
	__u64 enclave_cid;	/* ENCLAVE_START, ENCLAVE_GET_SLOT */
	__u64 slot_count;	/* SLOT_COUNT */
	__u64 mem_regions;	/* SLOT_ALLOC: the slot's region limit; SLOT_INFO */
	__u64 mem_size;		/* SLOT_INFO */
	__u64 nr_vcpus;		/* SLOT_INFO */
	__u64 flags;		/* SLOT_INFO */
	__u16 state;		/* SLOT_INFO: NE_SLOT_STATE_* */
	__u8 padding1[6];
};

#define NE_CMD_REPLY_SIZE		72

_Static_assert(sizeof(struct ne_enclave_start_req) == 24, "ne_proto");
_Static_assert(sizeof(struct ne_enclave_get_slot_req) == 8, "ne_proto");
_Static_assert(sizeof(struct ne_enclave_stop_req) == 8, "ne_proto");
_Static_assert(sizeof(struct ne_slot_alloc_req) == 1, "ne_proto");
_Static_assert(sizeof(struct ne_slot_free_req) == 8, "ne_proto");
_Static_assert(sizeof(struct ne_slot_add_mem_req) == 24, "ne_proto");
_Static_assert(sizeof(struct ne_slot_add_vcpu_req) == 16, "ne_proto");
_Static_assert(sizeof(struct ne_slot_count_req) == 1, "ne_proto");
_Static_assert(sizeof(struct ne_next_slot_req) == 8, "ne_proto");
_Static_assert(sizeof(struct ne_slot_info_req) == 8, "ne_proto");
_Static_assert(sizeof(struct ne_slot_add_bulk_vcpus_req) == 16, "ne_proto");
_Static_assert(sizeof(struct ne_cmd_reply) == NE_CMD_REPLY_SIZE, "ne_proto");

#endif /* NE_PROTO_H */
