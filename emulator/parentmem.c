// SPDX-License-Identifier: GPL-2.0
/*
 * The parent VM's RAM seen from the emulator.
 */

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parentmem.h"

void ne_parentmem_clear(struct ne_parentmem *pm)
{
	unsigned int i;

	for (i = 0; i < NE_WIRE_MEMMAP_FDS; i++)
		if (pm->map[i])
			munmap(pm->map[i], pm->map_len[i]);
	memset(pm, 0, sizeof(*pm));
}

int ne_parentmem_set(struct ne_parentmem *pm, const void *m, size_t len,
		     const int *fds, unsigned int nr_fds)
{
	struct ne_wire_memmap w;
	unsigned int i, count, want_fds;
	int err = 0;

	ne_parentmem_clear(pm);
	memset(&w, 0, sizeof(w));
	memcpy(&w, m, len < sizeof(w) ? len : sizeof(w));
	count = le32toh(w.count);
	want_fds = le32toh(w.nr_fds);
	if (len < offsetof(struct ne_wire_memmap, ent) ||
	    count > NE_WIRE_MEMMAP_ENTS || want_fds > NE_WIRE_MEMMAP_FDS ||
	    len != offsetof(struct ne_wire_memmap, ent) +
		   count * sizeof(w.ent[0]) || want_fds != nr_fds) {
		err = -EINVAL;
		goto close_fds;
	}
	for (i = 0; i < nr_fds; i++) {
		struct stat st;
		void *p;

		if (fstat(fds[i], &st) || st.st_size <= 0) {
			err = -EINVAL;
			goto unmap;
		}
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED,
			 fds[i], 0);
		if (p == MAP_FAILED) {
			err = -errno;
			goto unmap;
		}
		pm->map[i] = p;
		pm->map_len[i] = (size_t)st.st_size;
	}
	for (i = 0; i < count; i++) {
		uint64_t gpa = le64toh(w.ent[i].gpa);
		uint64_t size = le64toh(w.ent[i].size);
		uint64_t off = le64toh(w.ent[i].offset);
		uint32_t fd = le32toh(w.ent[i].fd);

		if (fd >= nr_fds || !size || off > pm->map_len[fd] ||
		    size > pm->map_len[fd] - off || gpa + size < gpa) {
			err = -EINVAL;
			goto unmap;
		}
		pm->range[i].gpa = gpa;
		pm->range[i].size = size;
		pm->range[i].host = (const uint8_t *)pm->map[fd] + off;
		pm->total += size;
	}
	pm->nr = count;
	goto close_fds;

unmap:
	ne_parentmem_clear(pm);
close_fds:
	for (i = 0; i < nr_fds; i++)
		close(fds[i]);
	return err;
}

int ne_parentmem_read(const struct ne_parentmem *pm, uint64_t gpa, void *buf,
		      size_t len)
{
	uint8_t *out = buf;

	while (len) {
		const struct ne_pm_range *r = NULL;
		unsigned int i;
		uint64_t n;

		for (i = 0; i < pm->nr; i++)
			if (gpa >= pm->range[i].gpa &&
			    gpa - pm->range[i].gpa < pm->range[i].size)
				r = &pm->range[i];
		if (!r)
			return -EFAULT;
		n = r->gpa + r->size - gpa;
		if (n > len)
			n = len;
		memcpy(out, r->host + (gpa - r->gpa), n);
		out += n;
		gpa += n;
		len -= n;
	}
	return 0;
}
