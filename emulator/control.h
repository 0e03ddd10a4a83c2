/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control socket: the line protocol tests and the guest use to inspect the
 * emulator and inject faults (see README.md and notes/interfaces.md).
 *
 * One request per line (\r\n tolerated), answered by zero or more data
 * lines and one final `ok` or `error <message>`. Several clients at once;
 * over-long lines and garbage get an error, never a disconnect.
 */

#ifndef NE_EMU_CONTROL_H
#define NE_EMU_CONTROL_H

#include <stddef.h>

#include "iobuf.h"

#define NE_CTL_MAX_LINE		1024
#define NE_CTL_MAX_CLIENTS	64
#define NE_CTL_MAX_OUT		(64u << 20)

struct ne_emu;

struct ne_ctlclient {
	int fd;
	unsigned int id;
	char line[NE_CTL_MAX_LINE + 1];
	size_t len;
	int discarding;			/* rest of an over-long line */
	int eof;			/* peer shut down: flush then close */
	int warned_echo;		/* logged an echoed answer once */
	struct ne_buf out;
	struct ne_ctlclient *next;
};

struct ne_control {
	int lfd;
	struct ne_ctlclient *clients;
	unsigned int nr_clients;
	unsigned int next_id;
};

void ne_control_init(struct ne_control *c);
void ne_control_fini(struct ne_control *c);
void ne_control_accept(struct ne_emu *emu);
void ne_control_io(struct ne_emu *emu, struct ne_ctlclient *cl, short revents);
struct ne_ctlclient *ne_control_find(struct ne_control *c, int fd);

/*
 * Execute one request line (modified in place) and append the response,
 * final line included, to @out. Used by the socket code and by tests.
 */
void ne_control_exec(struct ne_emu *emu, char *line, struct ne_buf *out);

#endif /* NE_EMU_CONTROL_H */
