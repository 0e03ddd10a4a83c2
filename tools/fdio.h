/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whole-buffer writes, shared by nectl and the (static, libc-only) enclave
 * init; header-only so the init needs no library of its own.
 */
#ifndef NECTL_FDIO_H
#define NECTL_FDIO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Writes all of buf, retrying short writes and EINTR; 0 or -errno. */
static inline int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

#endif /* NECTL_FDIO_H */
