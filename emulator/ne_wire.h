/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wire protocol between the QEMU device model (emulator/qemu/) and the
 * hypervisor emulator (emulator/), over a QEMU chardev (unix stream socket).
 *
 * Every message is a 16-byte header followed by hdr.len payload bytes, all
 * little-endian. The device sends HELLO first and the emulator answers HELLO
 * with its version; after that the device sends CMD and the emulator sends
 * REPLY (matched by id) and EVENT (id 0) at any time. If the emulator's
 * HELLO asks for it, the device sends MEMMAP before its next CMD: where the
 * parent VM's RAM is, so the emulator can read an enclave image out of the
 * memory the driver donated. A receiver that sees a bad magic, an unknown
 * type or an oversized length drops the connection; the device then
 * answers every pending command with rc -EIO itself.
 */

#ifndef NE_WIRE_H
#define NE_WIRE_H

#include <linux/types.h>

#define NE_WIRE_MAGIC		0x3157454eU	/* "NEW1" little-endian */
#define NE_WIRE_VERSION		1
#define NE_WIRE_MAX_PAYLOAD	512

enum ne_wire_type {
	NE_WIRE_HELLO	= 1,	/* both ways: payload struct ne_wire_hello */
	NE_WIRE_CMD	= 2,	/* device -> emulator: struct ne_wire_cmd */
	NE_WIRE_REPLY	= 3,	/* emulator -> device: struct ne_wire_reply */
	NE_WIRE_EVENT	= 4,	/* emulator -> device: no payload */
	NE_WIRE_MEMMAP	= 5,	/* device -> emulator: struct ne_wire_memmap */
};

struct ne_wire_hdr {
	__u32 magic;
	__u16 type;
	__u16 reserved;		/* 0 */
	__u32 id;		/* CMD: device-chosen, non-zero; REPLY: the CMD's */
	__u32 len;		/* payload bytes after the header */
};

struct ne_wire_hello {
	__u32 version;		/* NE_WIRE_VERSION */
	__u32 flags;		/* NE_WIRE_HELLO_*; the device sends 0 */
};

/* In the emulator's HELLO: send MEMMAP (older emulators do not know it). */
#define NE_WIRE_HELLO_MEMMAP	(1u << 0)

/* The whole send window is forwarded: the device does not know sizes. */
struct ne_wire_cmd {
	__u32 cmd_type;		/* enum ne_cmd_type, as written to COMMAND */
	__u32 reserved;
	__u8 data[240];		/* NE_SEND_DATA_SIZE */
};

/* Copied into the receive window; bytes past len read as zero. */
struct ne_wire_reply {
	__u32 len;		/* <= NE_RECV_DATA_SIZE, normally 72 */
	__u32 reserved;
	__u8 data[240];		/* NE_RECV_DATA_SIZE */
};

/*
 * The parent's guest-physical RAM ranges that live in shared, fd-backed
 * memory (QEMU's memory-backend-memfd or -file with share=on). The fds
 * travel as SCM_RIGHTS with the message's bytes, in index order; an entry
 * names its fd by index. RAM that is not shared is left out, so count 0
 * means the emulator cannot see the parent's memory (enclaves do not boot).
 */
#define NE_WIRE_MEMMAP_ENTS	15
#define NE_WIRE_MEMMAP_FDS	4

struct ne_wire_memmap_ent {
	__u64 gpa;		/* guest-physical start */
	__u64 size;
	__u64 offset;		/* of gpa in the fd */
	__u32 fd;		/* index into the message's fds */
	__u32 reserved;
};

/* Sent with len = 8 + count * 32. */
struct ne_wire_memmap {
	__u32 count;		/* <= NE_WIRE_MEMMAP_ENTS */
	__u32 nr_fds;		/* <= NE_WIRE_MEMMAP_FDS */
	struct ne_wire_memmap_ent ent[NE_WIRE_MEMMAP_ENTS];
};

_Static_assert(sizeof(struct ne_wire_hdr) == 16, "ne_wire");
_Static_assert(sizeof(struct ne_wire_memmap_ent) == 32, "ne_wire");
_Static_assert(sizeof(struct ne_wire_memmap) <= NE_WIRE_MAX_PAYLOAD, "ne_wire");
_Static_assert(sizeof(struct ne_wire_cmd) == 248, "ne_wire");
_Static_assert(sizeof(struct ne_wire_reply) == 248, "ne_wire");

#endif /* NE_WIRE_H */
