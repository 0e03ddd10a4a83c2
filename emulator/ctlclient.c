// SPDX-License-Identifier: GPL-2.0
/* Client side of the emulator control protocol: open, request, answer. */

#include "ctlclient.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_MAX_MS	2000	/* a port that never goes quiet is used anyway */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, err;

	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Read and drop input until none came for EMUCTL_QUIET_MS. */
static void drain(int fd)
{
	long give_up = now_ms() + DRAIN_MAX_MS;
	char junk[256];

	while (now_ms() < give_up) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int rc = poll(&p, 1, EMUCTL_QUIET_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0 || read(fd, junk, sizeof(junk)) <= 0)
			return;
	}
}

/*
 * Raw mode (no echo, no CR/LF mapping, byte-wise reads) and no stale
 * bytes: an earlier client's answer must not be taken as ours.
 */
static int open_tty(const char *path)
{
	struct termios t;
	int fd, err;

	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &t))
		goto close_fd;
	cfmakeraw(&t);
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &t))
		goto close_fd;
	tcflush(fd, TCIOFLUSH);
	drain(fd);
	return fd;

close_fd:
	err = -errno;
	close(fd);
	return err;
}

int emuctl_open(struct emuctl *c, const char *path)
{
	struct stat st;
	int fd;

	c->err[0] = '\0';
	c->fd = -1;
	if (!path || !*path)
		return -EINVAL;
	c->tty = !stat(path, &st) && S_ISCHR(st.st_mode);
	fd = c->tty ? open_tty(path) : connect_unix(path);
	c->fd = fd < 0 ? -1 : fd;
	return fd < 0 ? fd : 0;
}

void emuctl_close(struct emuctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* A daemon gone mid-request is an error, not a SIGPIPE for the caller. */
static int write_all(const struct emuctl *c, const char *p, size_t n)
{
	while (n) {
		ssize_t k = c->tty ? write(c->fd, p, n) :
				     send(c->fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* An answer being read: the partial line and what the callback said. */
struct answer {
	emuctl_line_fn *fn;
	void *arg;
	int fn_rc;
	size_t len;
	char line[EMUCTL_LINE_MAX];
};

/* 1 for `ok`, 2 for `error` as a whole word ("errorX" is data), else 0. */
static int final_kind(const char *l)
{
	if (!strcmp(l, "ok"))
		return 1;
	if (!strncmp(l, "error", 5) && (!l[5] || l[5] == ' '))
		return 2;
	return 0;
}

/* Keep an error line in c->err, cut to fit. */
static void keep_err(struct emuctl *c, const char *line)
{
	size_t n = strnlen(line, sizeof(c->err) - 1);

	memcpy(c->err, line, n);
	c->err[n] = '\0';
}

/* Consume N received bytes: 1 `ok`, 2 `error`, 0 when more must come. */
static int take(struct emuctl *c, struct answer *a, const char *buf, size_t n)
{
	size_t k;
	int kind;

	for (k = 0; k < n; k++) {
		if (buf[k] != '\n') {
			if (a->len + 1 < sizeof(a->line))
				a->line[a->len++] = buf[k];
			continue;
		}
		/* A serial line may add \r. */
		if (a->len && a->line[a->len - 1] == '\r')
			a->len--;
		a->line[a->len] = '\0';
		a->len = 0;
		kind = final_kind(a->line);
		if (kind == 2)
			keep_err(c, a->line);
		if (kind)
			return kind;
		/* After a callback failure, the rest is read but not given. */
		if (a->line[0] && a->fn && !a->fn_rc) {
			int rc = a->fn(a->arg, a->line);

			a->fn_rc = rc < 0 ? rc : 0;
		}
	}
	return 0;
}

int emuctl_request(struct emuctl *c, const char *req, int timeout_ms,
		   emuctl_line_fn *fn, void *arg)
{
	long deadline = now_ms() + timeout_ms;
	struct answer a = { .fn = fn, .arg = arg };
	char buf[4096];
	int rc;

	c->err[0] = '\0';
	if (c->fd < 0)
		return -EBADF;
	if (!*req || strchr(req, '\n'))
		return -EINVAL;
	if (c->tty)
		tcflush(c->fd, TCIFLUSH);
	rc = write_all(c, req, strlen(req));
	if (!rc)
		rc = write_all(c, "\n", 1);
	if (rc)
		return rc;
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		/* An idle timeout: a long answer on a slow serial port is fine. */
		deadline = now_ms() + timeout_ms;
		rc = take(c, &a, buf, (size_t)n);
		if (rc)
			return a.fn_rc < 0 ? a.fn_rc : rc - 1;
	}
}

int emuctl_collect(void *arg, const char *line)
{
	struct emuctl_lines *l = arg;
	char **v = realloc(l->line, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->line = v;
	v[l->n] = strdup(line);
	if (!v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

void emuctl_lines_free(struct emuctl_lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->line[i]);
	free(l->line);
	l->line = NULL;
	l->n = 0;
}

/* ---- the `slots` listing ---- */

/* The value after " KEY=" in LINE, or NULL. */
static const char *field(const char *line, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = strchr(line, ' '); p; p = strchr(p + 1, ' '))
		if (!strncmp(p + 1, key, klen) && p[1 + klen] == '=')
			return p + 2 + klen;
	return NULL;
}

static uint64_t field_u64(const char *line, const char *key)
{
	const char *v = field(line, key);

	return v ? strtoull(v, NULL, 0) : 0;
}

static void field_str(const char *line, const char *key, char *dst,
		      size_t size)
{
	const char *v = field(line, key);
	size_t n = v ? strcspn(v, " ") : 0;

	if (n >= size)
		n = size - 1;
	memcpy(dst, v ? v : "", n);
	dst[n] = '\0';
}

int emuctl_slots_line(void *arg, const char *line)
{
	struct emu_slots *s = arg;

	if (!strncmp(line, "SLOT ", 5) && s->nslots < EMU_MAX_SLOTS) {
		struct emu_slot *sl = &s->slot[s->nslots++];

		sl->uid = field_u64(line, "uid");
		sl->cid = field_u64(line, "cid");
		sl->flags = field_u64(line, "flags");
		sl->mem_size = field_u64(line, "mem_size");
		sl->regions = (int)field_u64(line, "regions");
		field_str(line, "state", sl->state, sizeof(sl->state));
		field_str(line, "vcpus", sl->vcpus, sizeof(sl->vcpus));
	} else if (!strncmp(line, "R ", 2) && s->nregions < EMU_MAX_REGIONS) {
		struct emu_region *r = &s->region[s->nregions++];

		r->uid = field_u64(line, "uid");
		r->paddr = field_u64(line, "paddr");
		r->size = field_u64(line, "size");
	}
	return 0;
}

int emuctl_slots(struct emuctl *c, struct emu_slots *s, int timeout_ms)
{
	memset(s, 0, sizeof(*s));
	return emuctl_request(c, "slots", timeout_ms, emuctl_slots_line, s);
}

const struct emu_slot *emu_find_slot(const struct emu_slots *s, uint64_t uid)
{
	int i;

	for (i = 0; i < s->nslots; i++)
		if (s->slot[i].uid == uid)
			return &s->slot[i];
	return NULL;
}
