/* SPDX-License-Identifier: GPL-2.0 */
/* Guest-side client of the emulator control protocol (serial port). */

#ifndef NE_VM_EMUCTL_H
#define NE_VM_EMUCTL_H

#include <stddef.h>

/* Response lines of one command, without the final "ok" / "error ..." line. */
struct emuctl_resp {
	char **lines;
	size_t n;
	int ok;			/* 1 on "ok", 0 on "error ..." */
	char err[256];		/* the error line, when !ok */
};

/* Open the control port (a tty, put in raw mode, or a unix socket path). */
int emuctl_open(const char *path);
void emuctl_close(int fd);

/*
 * Send one command line and collect the response. Returns 0 when a final
 * line arrived (ok or error), -1 on I/O error or timeout (timeout_ms).
 */
int emuctl_cmd(int fd, const char *cmd, struct emuctl_resp *r, int timeout_ms);
void emuctl_resp_free(struct emuctl_resp *r);

#endif
