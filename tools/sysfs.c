// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: sysfs/procfs file access relative to a root directory.
 *
 * All kernel-facing paths go through ne_path(), so `--root DIR` (or
 * NECTL_ROOT) points the whole tool at a fake tree for tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nectl.h"

static char ne_root[4096] = "";
static ne_write_hook_fn ne_write_hook;

void ne_root_set(const char *root)
{
	size_t n;

	if (!root || !strcmp(root, "/")) {
		ne_root[0] = '\0';
		return;
	}
	snprintf(ne_root, sizeof(ne_root), "%s", root);
	n = strlen(ne_root);
	while (n > 0 && ne_root[n - 1] == '/')
		ne_root[--n] = '\0';
}

const char *ne_root_get(void)
{
	return ne_root[0] ? ne_root : "/";
}

bool ne_root_is_real(void)
{
	return ne_root[0] == '\0';
}

void ne_write_hook_set(ne_write_hook_fn fn)
{
	ne_write_hook = fn;
}

/* Build ROOT + formatted absolute path; -ENAMETOOLONG if it does not fit. */
int ne_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n, m;

	n = snprintf(buf, len, "%s", ne_root);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= len)
		return -ENAMETOOLONG;
	return 0;
}

bool ne_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Read a small file, trailing newline removed. */
int ne_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int ne_read_u64(const char *path, uint64_t *val)
{
	char buf[64], *end;
	int rc;

	rc = ne_read_str(path, buf, sizeof(buf));
	if (rc)
		return rc;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

/*
 * One write() of the whole value, as sysfs wants; the errno of the kernel's
 * store handler is what the caller reports (e.g. EPERM from ne_cpus).
 */
int ne_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, rc = 0;

	/* A test hook may fail the write or emulate the kernel (> 0: done). */
	if (ne_write_hook) {
		rc = ne_write_hook(path, val);
		if (rc)
			return rc < 0 ? rc : 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC | (ne_root[0] ? O_TRUNC : 0));
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int ne_write_u64(const char *path, uint64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, val);
	return ne_write_str(path, buf);
}

/* Bounded string copy that always terminates (truncates silently). */
void ne_copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}
