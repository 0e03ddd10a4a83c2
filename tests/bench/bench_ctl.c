// SPDX-License-Identifier: GPL-2.0
/* Device command counts and reply latency through the emulator's control port. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "emuctl.h"

#define CTL_TIMEOUT_MS 20000

static int ctl_fd = -1;

int ctl_open(const char *path)
{
	struct emuctl_resp r;

	ctl_fd = emuctl_open(path);
	if (ctl_fd < 0)
		return -1;
	/* A guest tty may hold junk from before; one ping syncs the stream. */
	if (emuctl_cmd(ctl_fd, "ping", &r, CTL_TIMEOUT_MS) || !r.ok) {
		emuctl_resp_free(&r);
		if (emuctl_cmd(ctl_fd, "ping", &r, CTL_TIMEOUT_MS) || !r.ok) {
			emuctl_resp_free(&r);
			emuctl_close(ctl_fd);
			ctl_fd = -1;
			return -1;
		}
	}
	emuctl_resp_free(&r);
	return 0;
}

int ctl_latency(long us)
{
	struct emuctl_resp r;
	char cmd[64];
	int rc;

	if (ctl_fd < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "latency all %ld", us);
	rc = emuctl_cmd(ctl_fd, cmd, &r, CTL_TIMEOUT_MS) || !r.ok ? -1 : 0;
	if (rc)
		fprintf(stderr, "ne-bench: '%s': %s\n", cmd, r.err[0] ? r.err : "no answer");
	emuctl_resp_free(&r);
	return rc;
}

/* `stats` counts since the last reset; callers take differences. */
void ctl_counts(long *total, long *addmem)
{
	struct emuctl_resp r;
	size_t i;

	*total = -1;
	*addmem = -1;
	if (ctl_fd < 0)
		return;
	if (emuctl_cmd(ctl_fd, "stats", &r, CTL_TIMEOUT_MS) || !r.ok) {
		fprintf(stderr, "ne-bench: emulator stats: %s\n",
			r.err[0] ? r.err : "no answer");
		emuctl_resp_free(&r);
		return;
	}
	*addmem = 0;
	for (i = 0; i < r.n; i++) {
		const char *l = r.lines[i];

		if (!strncmp(l, "S total=", 8))
			*total = strtol(l + 8, NULL, 10);
		else if (!strncmp(l, "S cmd=SLOT_ADD_MEM count=", 25))
			*addmem = strtol(l + 25, NULL, 10);
	}
	emuctl_resp_free(&r);
}
