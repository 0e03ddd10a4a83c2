/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wire protocol between the QEMU device model (emulator/qemu/) and the
 * hypervisor emulator (emulator/), over a QEMU chardev (unix stream socket).
 *
 * Every message is a 16-byte header followed by hdr.len payload bytes, all
 * little-endian. The device sends HELLO first and the emulator answers HELLO
 * with its version; after that the device sends CMD and the emulator sends
 * REPLY (matched by id) and EVENT (id 0) at any time. A receiver that sees a
 * bad magic, an unknown type or an oversized length drops the connection;
 * the device then answers every pending command with rc -EIO itself.
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
	__u32 reserved;
};

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

_Static_assert(sizeof(struct ne_wire_hdr) == 16, "ne_wire");
_Static_assert(sizeof(struct ne_wire_cmd) == 248, "ne_wire");
_Static_assert(sizeof(struct ne_wire_reply) == 248, "ne_wire");

#endif /* NE_WIRE_H */
