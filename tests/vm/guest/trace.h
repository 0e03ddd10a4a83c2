/* SPDX-License-Identifier: GPL-2.0 */
/* Parsing the emulator's command trace ("T seq=... cmd=... rc=...") lines. */

#ifndef NE_VM_TRACE_H
#define NE_VM_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct trace_ent {
	char cmd[32];
	uint64_t slot;
	uint64_t paddr, size;		/* SLOT_ADD_MEM */
	uint64_t vcpu;			/* SLOT_ADD_VCPU */
	uint64_t cid, flags;		/* ENCLAVE_START request */
	uint64_t enclave_cid;		/* ENCLAVE_START reply */
	char state[16];			/* SLOT_INFO reply */
	long rc;
	int has_rc;
};

/* Parse one trace line; returns 0 on success, -1 if it is not one. */
int trace_parse(const char *line, struct trace_ent *e);

/* Value of "key=" in a space-separated line, as u64 (0 if absent). */
uint64_t kv_u64(const char *line, const char *key, int *found);
/* Copy the value of "key=" into buf; returns 0 when found. */
int kv_str(const char *line, const char *key, char *buf, size_t size);

#endif
