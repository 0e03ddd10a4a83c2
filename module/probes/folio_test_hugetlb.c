// SPDX-License-Identifier: GPL-2.0
/*
 * Probe: folio_test_hugetlb() and folio_size() (folios: 5.16; hugetlb test
 * on folios: 6.0, the page helpers PageHuge()/page_size() later became
 * wrappers and may go away).
 */
#include <linux/mm.h>
#include <linux/page-flags.h>

u64 ne_probe(struct page *page);
u64 ne_probe(struct page *page)
{
	return folio_test_hugetlb(page_folio(page)) ? folio_size(page_folio(page)) : 0;
}
