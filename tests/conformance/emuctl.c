// SPDX-License-Identifier: GPL-2.0
/*
 * Emulator control client: line protocol over the raw guest tty (or a unix
 * socket when the suite runs on the host against a local emulator).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "emuctl.h"

#define EMU_REPLY_TIMEOUT_MS 20000

static int emu_fd = -1;
static int emu_is_tty;

int emu_available(void)
{
	const char *p = getenv("NE_EMU_CTL");

	return p && *p;
}

void emu_close(void)
{
	if (emu_fd >= 0)
		close(emu_fd);
	emu_fd = -1;
}

static int emu_open(void)
{
	const char *p = getenv("NE_EMU_CTL");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct termios tio;
	struct stat st;
	int fd;

	if (emu_fd >= 0)
		return 0;
	if (!p || !*p)
		return -ENOENT;
	if (stat(p, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode)) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		emu_is_tty = 0;
	} else {
		fd = open(p, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		/* Raw mode: no echo, no CR/LF mangling, byte-wise reads. */
		if (tcgetattr(fd, &tio) == 0) {
			cfmakeraw(&tio);
			tio.c_cc[VMIN] = 1;
			tio.c_cc[VTIME] = 0;
			tcsetattr(fd, TCSANOW, &tio);
		}
		emu_is_tty = 1;
	}
	emu_fd = fd;
	return 0;
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		n -= w;
	}
	return 0;
}

/* Read one line (without CR/LF) into line; returns its length or -errno. */
static int read_line(char *line, size_t sz)
{
	struct pollfd pfd = { .fd = emu_fd, .events = POLLIN };
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r;
		int pr = poll(&pfd, 1, EMU_REPLY_TIMEOUT_MS);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return pr == 0 ? -ETIMEDOUT : -errno;
		r = read(emu_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		if (c == '\r')
			continue;
		if (c == '\n') {
			if (n == 0)
				continue;	/* tolerate blank lines */
			line[n] = 0;
			return (int)n;
		}
		if (n + 1 < sz)
			line[n++] = c;
	}
}

int emu_cmd(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[512], line[1024];
	size_t used = 0;
	va_list ap;
	int rc, n;

	rc = emu_open();
	if (rc)
		return rc;
	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(cmd) - 1)
		return -EINVAL;
	cmd[n++] = '\n';
	/* Drop anything stale left by an interrupted earlier exchange. */
	if (emu_is_tty)
		tcflush(emu_fd, TCIFLUSH);
	rc = write_all(emu_fd, cmd, n);
	if (rc)
		return rc;
	if (out && outsz)
		out[0] = 0;
	for (;;) {
		rc = read_line(line, sizeof(line));
		if (rc < 0) {
			emu_close();
			return rc;
		}
		if (!strcmp(line, "ok"))
			return 0;
		if (!strncmp(line, "error", 5)) {
			if (out && outsz)
				snprintf(out, outsz, "%s", line);
			return -1;
		}
		if (out && used + strlen(line) + 2 < outsz) {
			used += sprintf(out + used, "%s\n", line);
		}
	}
}

static int field_u64(const char *line, const char *key, uint64_t *v)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	*v = strtoull(p + strlen(pat), NULL, 0);
	return 0;
}

static void field_str(const char *line, const char *key, char *dst, size_t sz)
{
	char pat[32];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), " %s=", key);
	dst[0] = 0;
	p = strstr(line, pat);
	if (!p)
		return;
	p += strlen(pat);
	while (p[n] && p[n] != ' ' && n + 1 < sz) {
		dst[n] = p[n];
		n++;
	}
	dst[n] = 0;
}

int emu_slots(struct emu_slots *s)
{
	static char buf[256 * 1024];
	char *save = NULL, *line;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = emu_cmd(buf, sizeof(buf), "slots");
	if (rc)
		return rc < 0 ? rc : -EIO;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "SLOT ", 5) && s->nslots < EMU_MAX_SLOTS) {
			struct emu_slot *sl = &s->slot[s->nslots++];
			uint64_t r = 0;

			field_u64(line, "uid", &sl->uid);
			field_u64(line, "cid", &sl->cid);
			field_u64(line, "flags", &sl->flags);
			field_u64(line, "mem_size", &sl->mem_size);
			field_u64(line, "regions", &r);
			sl->regions = (int)r;
			field_str(line, "state", sl->state, sizeof(sl->state));
			field_str(line, "vcpus", sl->vcpus, sizeof(sl->vcpus));
		} else if (!strncmp(line, "R ", 2) &&
			   s->nregions < EMU_MAX_REGIONS) {
			struct emu_region *r = &s->region[s->nregions++];

			field_u64(line, "uid", &r->uid);
			field_u64(line, "paddr", &r->paddr);
			field_u64(line, "size", &r->size);
		}
	}
	return 0;
}

const struct emu_slot *emu_find_slot(const struct emu_slots *s, uint64_t uid)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->slot[i].uid == uid)
			return &s->slot[i];
	return NULL;
}

int emu_trace_count(const char *cmdname)
{
	static char buf[256 * 1024];
	char pat[64], *p;
	int n = 0, rc;

	rc = emu_cmd(buf, sizeof(buf), "trace");
	if (rc)
		return rc < 0 ? rc : -EIO;
	snprintf(pat, sizeof(pat), " cmd=%s ", cmdname);
	for (p = buf; (p = strstr(p, pat)); p++)
		n++;
	return n;
}
