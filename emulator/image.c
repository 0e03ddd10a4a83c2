// SPDX-License-Identifier: GPL-2.0
/*
 * Reading an enclave image out of parent memory.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"

int ne_image_read(const struct ne_parentmem *pm, const struct ne_slot *s,
		  uint64_t off, void *buf, size_t len)
{
	uint8_t *out = buf;
	uint32_t i;

	for (i = 0; i < s->nr_regions && len; i++) {
		const struct ne_region *r = &s->regions[i];
		uint64_t n;
		int err;

		if (off >= r->size) {
			off -= r->size;
			continue;
		}
		n = r->size - off;
		if (n > len)
			n = len;
		err = ne_parentmem_read(pm, r->paddr + off, out, n);
		if (err)
			return err;
		out += n;
		len -= n;
		off = 0;
	}
	return len ? -ERANGE : 0;
}

static uint64_t be(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | *p++;
	return v;
}

uint64_t ne_eif_length(const uint8_t hdr[NE_EIF_HDR_SIZE], const char **why)
{
	uint64_t len = NE_EIF_HDR_SIZE, end, off, size;
	unsigned int i, n;

	if (memcmp(hdr, ".eif", 4)) {
		*why = "no EIF magic at the load offset";
		return 0;
	}
	n = (unsigned int)be(hdr + 26, 2);
	if (!n || n > NE_EIF_MAX_SECTIONS) {
		*why = "EIF header gives an impossible section count";
		return 0;
	}
	for (i = 0; i < n; i++) {
		off = be(hdr + 28 + 8 * i, 8);
		size = be(hdr + 284 + 8 * i, 8);
		if (off < NE_EIF_HDR_SIZE || off > (1ULL << 40) ||
		    size > (1ULL << 40)) {
			*why = "EIF section outside any sane image";
			return 0;
		}
		end = off + NE_EIF_SECTION_HDR + size;
		if (end > (1ULL << 40)) {
			*why = "EIF section outside any sane image";
			return 0;
		}
		if (end > len)
			len = end;
	}
	return len;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int ne_image_save_eif(const struct ne_parentmem *pm, const struct ne_slot *s,
		      const char *path, const char **code, const char **why)
{
	uint8_t hdr[NE_EIF_HDR_SIZE];
	uint64_t len, off;
	size_t chunk = 1 << 20;
	uint8_t *buf;
	int fd, err;

	if (!pm->nr) {
		*code = "no-ram";
		*why = "the parent's RAM is not visible (no shared memory "
		       "backend)";
		return -1;
	}
	if (s->mem_size < NE_IMAGE_EIF_OFFSET + NE_EIF_HDR_SIZE) {
		*code = "no-image";
		*why = "enclave memory ends before the image load offset";
		return -1;
	}
	err = ne_image_read(pm, s, NE_IMAGE_EIF_OFFSET, hdr, sizeof(hdr));
	if (err) {
		*code = "bad-region";
		*why = "a memory region is outside the parent's RAM";
		return -1;
	}
	len = ne_eif_length(hdr, why);
	if (!len) {
		*code = "not-eif";
		return -1;
	}
	if (len > s->mem_size - NE_IMAGE_EIF_OFFSET) {
		*code = "truncated";
		*why = "the EIF header claims more bytes than enclave memory "
		       "holds";
		return -1;
	}
	buf = malloc(chunk);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!buf || fd < 0) {
		*code = "host-error";
		*why = "cannot write the image file";
		goto fail;
	}
	for (off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? (size_t)(len - off) : chunk;

		if (ne_image_read(pm, s, NE_IMAGE_EIF_OFFSET + off, buf, n)) {
			*code = "bad-region";
			*why = "a memory region is outside the parent's RAM";
			goto fail;
		}
		if (write_all(fd, buf, n)) {
			*code = "host-error";
			*why = "cannot write the image file";
			goto fail;
		}
	}
	if (close(fd)) {
		fd = -1;
		*code = "host-error";
		*why = "cannot write the image file";
		goto fail;
	}
	free(buf);
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	unlink(path);
	return -1;
}
