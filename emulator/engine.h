/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hypervisor slot engine: the state behind the device protocol, no I/O.
 *
 * The engine holds the slots (enclaves) and executes every command of
 * module/ne_proto.h with full validation. It never reads or writes a file
 * descriptor and never logs, so unit tests drive it in-process and the
 * daemon's loop (devlink.c) only feeds it bytes. Requests and replies are
 * the little-endian wire layouts; everything else is host order.
 */

#ifndef NE_EMU_ENGINE_H
#define NE_EMU_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../module/ne_proto.h"

#define NE_ENGINE_DEF_MAX_SLOTS		64
#define NE_ENGINE_DEF_MEM_REGIONS	256
#define NE_ENGINE_MAX_VCPUS		4096	/* per slot, listed + bulk */
#define NE_ENGINE_MEM_ALIGN		(2ULL << 20)
#define NE_ENGINE_FIRST_AUTO_CID	4ULL

struct ne_engine_cfg {
	unsigned int max_slots;		/* SLOT_ALLOC beyond this: -ENOSPC */
	unsigned int mem_regions;	/* limit given to new slots */
};

/* One guest-physical range of the parent VM, as sent by SLOT_ADD_MEM. */
struct ne_region {
	uint64_t paddr;
	uint64_t size;
};

struct ne_slot {
	uint64_t uid;			/* never 0, never reused */
	uint16_t state;			/* NE_SLOT_STATE_* */
	uint64_t cid;			/* 0 until ENCLAVE_START */
	uint64_t flags;			/* ENCLAVE_START flags */
	uint64_t mem_size;
	uint32_t max_regions;		/* reported in the SLOT_ALLOC reply */
	struct ne_region *regions;	/* in SLOT_ADD_MEM order */
	uint32_t nr_regions;
	uint32_t cap_regions;
	uint32_t *vcpus;		/* in SLOT_ADD_VCPU order */
	uint32_t nr_vcpus;
	uint32_t cap_vcpus;
	uint64_t bulk_vcpus;		/* SLOT_ADD_BULK_VCPUS total */
};

struct ne_engine {
	struct ne_engine_cfg cfg;
	struct ne_slot **slots;		/* ascending uid order */
	unsigned int nr_slots;
	unsigned int cap_slots;
	uint64_t last_uid;
};

int ne_engine_init(struct ne_engine *e, const struct ne_engine_cfg *cfg);
void ne_engine_fini(struct ne_engine *e);

/*
 * Execute one command. @req is the send window (normally 240 bytes; fewer
 * than the request struct needs is -EINVAL). @reply is always filled in
 * full (rc included). Returns the rc put in the reply: 0 or a negative
 * errno. Unknown types give -EOPNOTSUPP. State changes only when rc is 0.
 */
int ne_engine_cmd(struct ne_engine *e, uint32_t type, const void *req,
		  size_t len, struct ne_cmd_reply *reply);

/* Free every slot, whatever its state. Returns how many were freed. */
unsigned int ne_engine_free_all(struct ne_engine *e);

/*
 * Move running enclaves to STOPPED as if they exited by themselves.
 * @uid 0 means all. Returns the number stopped, -ENOENT for an unknown
 * uid, or -EINVAL if that slot is not RUNNING.
 */
int ne_engine_end(struct ne_engine *e, uint64_t uid);

/* Region limit for slots allocated from now on. */
void ne_engine_set_mem_regions(struct ne_engine *e, unsigned int n);

struct ne_slot *ne_engine_find(struct ne_engine *e, uint64_t uid);
uint64_t ne_engine_vcpu_count(const struct ne_slot *s);

/*
 * The command table: one entry per device command type, the only place
 * that knows what a type means. Adding a command is one entry in
 * engine.c (and its handler there); the trace, the log lines, stats,
 * faults and the control protocol's names all follow from it.
 */

#define NE_CMD_REQ_MAX		24	/* the largest request struct */
#define NE_CMD_REQ_FIELDS	2	/* traced request fields, slot aside */
#define NE_CMD_REPLY_FIELDS	6	/* traced reply fields */

/* Where a command's slot comes from, for the reply and the trace. */
enum ne_cmd_slot {
	NE_CMD_SLOT_NONE = 0,	/* no slot: the trace shows slot=0 */
	NE_CMD_SLOT_REQ,	/* the request names it, at slot_off */
	NE_CMD_SLOT_REPLY,	/* the device picks it: the reply's slot_uid */
};

enum ne_cmd_fmt {
	NE_CMD_FMT_DEC = 0,	/* name=<decimal> */
	NE_CMD_FMT_HEX,		/* name=0x<hex> */
	NE_CMD_FMT_STATE,	/* name=<ne_state_name()> */
};

/* One little-endian field shown in the trace as " name=value". */
struct ne_cmd_field {
	const char *name;	/* NULL: no more fields */
	uint8_t off;		/* in the request or in struct ne_cmd_reply */
	uint8_t width;		/* 2, 4 or 8 bytes */
	uint8_t fmt;		/* enum ne_cmd_fmt */
};

struct ne_cmd_desc {
	const char *name;		/* control protocol, trace, log */
	size_t req_size;		/* the module/ne_proto.h request struct */
	enum ne_cmd_slot slot;
	size_t slot_off;		/* NE_CMD_SLOT_REQ: u64 slot_uid here */
	/* Validate and execute; @req is an aligned copy of req_size bytes. */
	int (*run)(struct ne_engine *e, const void *req,
		   struct ne_cmd_reply *r);
	/* Trace: request fields after slot=, reply fields when rc is 0. */
	struct ne_cmd_field req_fields[NE_CMD_REQ_FIELDS];
	struct ne_cmd_field reply_fields[NE_CMD_REPLY_FIELDS];
};

/* The entry of a type, NULL if unknown (0, >= NE_CMD_MAX). */
const struct ne_cmd_desc *ne_cmd_desc(uint32_t type);

/* Names as used by the control protocol and the trace. */
const char *ne_cmd_name(uint32_t type);		/* NULL if unknown */
int ne_cmd_from_name(const char *name);		/* -1 if unknown */
const char *ne_state_name(uint16_t state);

/* Request slot uid of the commands that name one (NE_CMD_SLOT_REQ), else 0. */
uint64_t ne_req_slot_uid(uint32_t type, const void *req, size_t len);

#endif /* NE_EMU_ENGINE_H */
