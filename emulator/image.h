/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An enclave's image, read out of the memory its slot was given: the
 * regions concatenated in the order SLOT_ADD_MEM added them, which is the
 * order the driver (and the user's loader) laid the image out in.
 */

#ifndef NE_EMU_IMAGE_H
#define NE_EMU_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "parentmem.h"

/* Where NE_GET_IMAGE_LOAD_INFO tells a loader to put an EIF. */
#define NE_IMAGE_EIF_OFFSET	(8ULL << 20)

/* The EIF header fields the emulator needs (all big-endian on disk). */
#define NE_EIF_HDR_SIZE		548
#define NE_EIF_SECTION_HDR	12
#define NE_EIF_MAX_SECTIONS	32

/* Copy @len bytes from @off of the slot's memory; -EFAULT, -ERANGE. */
int ne_image_read(const struct ne_parentmem *pm, const struct ne_slot *s,
		  uint64_t off, void *buf, size_t len);

/*
 * The EIF's total length from its header, or 0 with *why set when the
 * header is not an EIF's. Checks only what is needed to know how many
 * bytes to copy; QEMU's loader checks the rest (CRC, sections).
 */
uint64_t ne_eif_length(const uint8_t hdr[NE_EIF_HDR_SIZE], const char **why);

/*
 * Write the slot's EIF (at NE_IMAGE_EIF_OFFSET) to @path. 0, or -1 with
 * *code (a word for the trace) and *why (for the log) set.
 */
int ne_image_save_eif(const struct ne_parentmem *pm, const struct ne_slot *s,
		      const char *path, const char **code, const char **why);

#endif /* NE_EMU_IMAGE_H */
