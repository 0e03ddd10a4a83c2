/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Emulator control for the suite: the channel named by $NE_EMU_CTL (the
 * guest tty, or a unix socket when the suite runs on the host), opened on
 * first use and kept. The protocol itself is emulator/ctlclient.c; the
 * slot types and emu_find_slot() come from its header.
 */
#ifndef NE_EMUCTL_H
#define NE_EMUCTL_H

#include <stddef.h>
#include <stdint.h>

#include "../../emulator/ctlclient.h"

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

/* Run `slots` and parse it. Returns 0 or a negative value on failure. */
int emu_slots(struct emu_slots *s);

/* Count of `T ... cmd=NAME` lines in the current trace. */
int emu_trace_count(const char *cmdname);

#endif /* NE_EMUCTL_H */
