// SPDX-License-Identifier: GPL-2.0
/*
 * Output buffers for non-blocking sockets.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iobuf.h"

static int reserve(struct ne_buf *b, size_t n)
{
	size_t ncap;
	char *p;

	/* Reclaim the sent prefix before growing. */
	if (b->off && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	if (b->len + n <= b->cap)
		return 0;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + n <= b->cap)
			return 0;
	}
	ncap = b->cap ? b->cap : 4096;
	while (ncap < b->len + n)
		ncap *= 2;
	p = realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int ne_buf_add(struct ne_buf *b, const void *p, size_t n)
{
	if (reserve(b, n))
		return -ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int ne_buf_printf(struct ne_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int ne_buf_flush(struct ne_buf *b, int fd)
{
	while (b->off < b->len) {
		ssize_t n = send(fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		b->off += (size_t)n;
	}
	b->off = 0;
	b->len = 0;
	return 0;
}

size_t ne_buf_pending(const struct ne_buf *b)
{
	return b->len - b->off;
}

void ne_buf_free(struct ne_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
