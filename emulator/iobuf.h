/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Output buffers for non-blocking sockets: queue now, flush on POLLOUT.
 */

#ifndef NE_EMU_IOBUF_H
#define NE_EMU_IOBUF_H

#include <stddef.h>

struct ne_buf {
	char *data;
	size_t off;		/* first unsent byte */
	size_t len;		/* end of queued bytes */
	size_t cap;
};

int ne_buf_add(struct ne_buf *b, const void *p, size_t n);	/* -ENOMEM */
int ne_buf_printf(struct ne_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Send what the socket takes. 0 (maybe data left) or -errno. */
int ne_buf_flush(struct ne_buf *b, int fd);
size_t ne_buf_pending(const struct ne_buf *b);
void ne_buf_free(struct ne_buf *b);

#endif /* NE_EMU_IOBUF_H */
