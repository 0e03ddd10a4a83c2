// SPDX-License-Identifier: GPL-2.0
/* The suite's emulator channel: $NE_EMU_CTL, opened once, over ctlclient. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emuctl.h"

static struct emuctl emu = { .fd = -1 };

int emu_available(void)
{
	const char *p = getenv("NE_EMU_CTL");

	return p && *p;
}

void emu_close(void)
{
	emuctl_close(&emu);
}

/*
 * One request on the cached channel. After an I/O failure or a timeout
 * the channel is closed, so that a late answer cannot be taken for the
 * next request's.
 */
static int emu_request(const char *req, emuctl_line_fn *fn, void *arg)
{
	int rc;

	if (emu.fd < 0) {
		if (!emu_available())
			return -ENOENT;
		rc = emuctl_open(&emu, getenv("NE_EMU_CTL"));
		if (rc)
			return rc;
	}
	rc = emuctl_request(&emu, req, EMUCTL_TIMEOUT_MS, fn, arg);
	if (rc < 0)
		emu_close();
	return rc;
}

struct text {
	char *out;
	size_t size, used;
};

/* Append a data line and its newline while it fits whole. */
static int add_text(void *arg, const char *line)
{
	struct text *t = arg;
	size_t n = strlen(line);

	if (t->out && t->used + n + 2 <= t->size) {
		memcpy(t->out + t->used, line, n);
		t->used += n;
		t->out[t->used++] = '\n';
		t->out[t->used] = '\0';
	}
	return 0;
}

int emu_cmd(char *out, size_t outsz, const char *fmt, ...)
{
	struct text t = { .out = outsz ? out : NULL, .size = outsz };
	char cmd[512];
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(cmd))
		return -EINVAL;
	if (t.out)
		t.out[0] = '\0';
	rc = emu_request(cmd, add_text, &t);
	if (rc == 1 && t.out)
		snprintf(t.out, outsz, "%s", emu.err);
	return rc == 1 ? -1 : rc;
}

int emu_slots(struct emu_slots *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = emu_request("slots", emuctl_slots_line, s);
	return rc ? (rc < 0 ? rc : -EIO) : 0;
}

struct trace_count {
	char pat[64];
	int n;
};

static int count_line(void *arg, const char *line)
{
	struct trace_count *tc = arg;

	if (!strncmp(line, "T ", 2) && strstr(line, tc->pat))
		tc->n++;
	return 0;
}

int emu_trace_count(const char *cmdname)
{
	struct trace_count tc = { .n = 0 };
	int rc;

	snprintf(tc.pat, sizeof(tc.pat), " cmd=%s ", cmdname);
	rc = emu_request("trace", count_line, &tc);
	return rc ? (rc < 0 ? rc : -EIO) : tc.n;
}
