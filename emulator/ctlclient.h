/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Client side of the emulator control protocol (README.md, "Control
 * protocol"): the one place that opens the control channel, sends a
 * request and reads its answer. Used by ne-emu-ctl, the guest programs,
 * the conformance suite and the bench.
 *
 * The channel is the daemon's unix socket or, in a guest, the serial port
 * QEMU wires to it. A serial port is put in raw mode, its stale input is
 * drained at open and flushed before every request.
 *
 * Plain C with no dependency on the daemon, so that static guest programs
 * can compile it in.
 */

#ifndef NE_EMU_CTLCLIENT_H
#define NE_EMU_CTLCLIENT_H

#include <stddef.h>
#include <stdint.h>

#define EMUCTL_TIMEOUT_MS	20000	/* a default for callers */
#define EMUCTL_QUIET_MS		50	/* tty input this quiet: drained */
#define EMUCTL_LINE_MAX		4096	/* longer answer lines are cut */

struct emuctl {
	int fd;			/* -1 when closed */
	int tty;		/* a serial port rather than a socket */
	char err[256];		/* the last `error ...` line, whole */
};

/*
 * Called with each data line of an answer (no CR/LF; blank lines are
 * skipped); returns 0 or -errno. After a negative return the rest of the
 * answer is read but not given, so the stream stays in step, and
 * emuctl_request() returns that value.
 */
typedef int emuctl_line_fn(void *arg, const char *line);

/*
 * Open PATH into C (not open already): a character device is a serial
 * port, anything else a unix socket. 0 or -errno; c->fd is -1 after a
 * failure.
 */
int emuctl_open(struct emuctl *c, const char *path);
void emuctl_close(struct emuctl *c);

/*
 * Send one request (REQ without its newline) and read the answer up to its
 * final line, giving data lines to FN (may be NULL). TIMEOUT_MS is an idle
 * timeout: the answer may take longer as long as bytes keep coming (a
 * guest's serial port under a busy TCG host is slow).
 * Returns 0 on `ok`, 1 on `error ...` (the line is in c->err), the first
 * negative FN result, or -errno: -ETIMEDOUT without a final line in time,
 * -EPIPE when the peer closed, -EINVAL for an empty request or one with a
 * newline. After -errno a socket may still deliver the late answer: close
 * and reopen it before the next request.
 */
int emuctl_request(struct emuctl *c, const char *req, int timeout_ms,
		   emuctl_line_fn *fn, void *arg);

/* An emuctl_line_fn that keeps every line (ARG: struct emuctl_lines). */
struct emuctl_lines {
	char **line;
	size_t n;
};

int emuctl_collect(void *arg, const char *line);
void emuctl_lines_free(struct emuctl_lines *l);

/* ---- the `slots` listing ---- */

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

/*
 * Run `slots` and parse its SLOT and R lines into S (entries beyond the
 * array sizes are dropped). Same returns as emuctl_request().
 */
int emuctl_slots(struct emuctl *c, struct emu_slots *s, int timeout_ms);

/* An emuctl_line_fn adding one SLOT or R line to ARG (struct emu_slots). */
int emuctl_slots_line(void *arg, const char *line);

/* The slot with this uid, or NULL. */
const struct emu_slot *emu_find_slot(const struct emu_slots *s, uint64_t uid);

#endif /* NE_EMU_CTLCLIENT_H */
