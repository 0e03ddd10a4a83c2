// SPDX-License-Identifier: GPL-2.0
/* Probe: unpin_user_page_range_dirty_lock() (5.12, 458a4f788f86). */
#include <linux/mm.h>

void ne_probe(struct page *page);
void ne_probe(struct page *page)
{
	unpin_user_page_range_dirty_lock(page, 1, true);
}
