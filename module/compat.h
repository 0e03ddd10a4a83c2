/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Nitro Enclaves kernel compatibility: the newest kernel API, with shims for
 * older kernels keyed on the Kbuild probes' results (ne_config.h, generated
 * per build from the probes/ directory). No version checks.
 */

#ifndef NE_COMPAT_H
#define NE_COMPAT_H

#include <linux/fs.h>
#include <linux/mm.h>

#include "ne_config.h"

#ifdef HAVE_FOLIO_TEST_HUGETLB
static inline bool ne_page_is_hugetlb(struct page *page)
{
	return folio_test_hugetlb(page_folio(page));
}

static inline u64 ne_page_huge_bytes(struct page *page)
{
	return folio_size(page_folio(page));
}
#else
static inline bool ne_page_is_hugetlb(struct page *page)
{
	return PageHuge(page);
}

static inline u64 ne_page_huge_bytes(struct page *page)
{
	return page_size(compound_head(page));
}
#endif

#ifdef HAVE_NOOP_LLSEEK
#define NE_NOOP_LLSEEK	noop_llseek
#else
/* Once noop_llseek is gone, an unset .llseek means the same. */
#define NE_NOOP_LLSEEK	NULL
#endif

#endif /* NE_COMPAT_H */
