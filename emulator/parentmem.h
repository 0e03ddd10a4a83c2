/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parent VM's RAM, as the device model describes it (NE_WIRE_MEMMAP):
 * guest-physical ranges backed by shared fds, mapped read-only here so an
 * enclave image can be read out of the pages the driver donated.
 */

#ifndef NE_EMU_PARENTMEM_H
#define NE_EMU_PARENTMEM_H

#include <stddef.h>
#include <stdint.h>

#include "ne_wire.h"

struct ne_pm_range {
	uint64_t gpa;
	uint64_t size;
	const uint8_t *host;		/* inside one of maps[] */
};

struct ne_parentmem {
	struct ne_pm_range range[NE_WIRE_MEMMAP_ENTS];
	unsigned int nr;
	void *map[NE_WIRE_MEMMAP_FDS];
	size_t map_len[NE_WIRE_MEMMAP_FDS];
	uint64_t total;			/* bytes of RAM described */
};

/*
 * Replace the map with @m (@len payload bytes as received), mapping @fds
 * (which are always closed). Returns 0, or -EINVAL for a description that
 * does not fit its fds (the map is then empty), or another -errno.
 */
int ne_parentmem_set(struct ne_parentmem *pm, const void *m, size_t len,
		     const int *fds, unsigned int nr_fds);
void ne_parentmem_clear(struct ne_parentmem *pm);

/* Copy @len bytes at guest-physical @gpa; -EFAULT where RAM is not seen. */
int ne_parentmem_read(const struct ne_parentmem *pm, uint64_t gpa, void *buf,
		      size_t len);

#endif /* NE_EMU_PARENTMEM_H */
