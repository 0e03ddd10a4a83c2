// SPDX-License-Identifier: GPL-2.0
/* Device command counts and reply latency through the emulator's control port. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../emulator/ctlclient.h"
#include "bench.h"

static struct emuctl ctl = { .fd = -1 };

/* One request; on failure say why. Lines go to FN (may be NULL). */
static int request(const char *req, emuctl_line_fn *fn, void *arg)
{
	int rc = emuctl_request(&ctl, req, EMUCTL_TIMEOUT_MS, fn, arg);

	if (rc)
		fprintf(stderr, "ne-bench: '%s': %s\n", req,
			rc == 1 ? ctl.err : rc == -ETIMEDOUT ? "no answer" :
			strerror(-rc));
	return rc ? -1 : 0;
}

/* The port is drained of stale input at open: one ping is enough. */
int ctl_open(const char *path)
{
	if (emuctl_open(&ctl, path))
		return -1;
	if (request("ping", NULL, NULL)) {
		emuctl_close(&ctl);
		return -1;
	}
	return 0;
}

int ctl_latency(long us)
{
	char cmd[64];

	if (ctl.fd < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "latency all %ld", us);
	return request(cmd, NULL, NULL);
}

struct counts {
	long total, addmem;
};

static int count_line(void *arg, const char *l)
{
	struct counts *c = arg;

	if (!strncmp(l, "S total=", 8))
		c->total = strtol(l + 8, NULL, 10);
	else if (!strncmp(l, "S cmd=SLOT_ADD_MEM count=", 25))
		c->addmem = strtol(l + 25, NULL, 10);
	return 0;
}

/* `stats` counts since the last reset; callers take differences. */
void ctl_counts(long *total, long *addmem)
{
	struct counts c = { -1, 0 };

	*total = -1;
	*addmem = -1;
	if (ctl.fd < 0 || request("stats", count_line, &c))
		return;
	*total = c.total;
	*addmem = c.addmem;
}
