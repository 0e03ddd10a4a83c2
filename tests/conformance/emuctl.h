/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Emulator control client: speaks the line protocol on the tty (or unix
 * socket) named by $NE_EMU_CTL, and parses the `slots` listing.
 */
#ifndef NE_EMUCTL_H
#define NE_EMUCTL_H

#include <stddef.h>
#include <stdint.h>

/* Is the emulator control channel configured ($NE_EMU_CTL set)? */
int emu_available(void);

/*
 * Send one command (printf-style) and collect the data lines into out
 * (newline-separated, may be NULL). Returns 0 on "ok", -1 on "error ..."
 * (the message is left in out), -errno on I/O failure or timeout.
 */
int emu_cmd(char *out, size_t outsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Drop the cached channel (call after fork in the child that uses it). */
void emu_close(void);

#define EMU_MAX_SLOTS 64
#define EMU_MAX_REGIONS 1024

struct emu_region {
	uint64_t uid, paddr, size;
};

struct emu_slot {
	uint64_t uid, cid, flags, mem_size;
	char state[16];
	int regions;
	char vcpus[128];
};

struct emu_slots {
	int nslots, nregions;
	struct emu_slot slot[EMU_MAX_SLOTS];
	struct emu_region region[EMU_MAX_REGIONS];
};

/* Run `slots` and parse it. Returns 0 or a negative value on failure. */
int emu_slots(struct emu_slots *s);

/* The slot with this uid, or NULL. */
const struct emu_slot *emu_find_slot(const struct emu_slots *s, uint64_t uid);

/* Count of `T ... cmd=NAME` lines in the current trace. */
int emu_trace_count(const char *cmdname);

#endif /* NE_EMUCTL_H */
