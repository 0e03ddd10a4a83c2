// SPDX-License-Identifier: GPL-2.0
/*
 * Nitro Enclaves memory regions: checking, pinning and merging user hugetlb
 * memory, and handing it to the device in the fewest chunks.
 *
 * Pinning: FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE, lockless, one pin per
 * hugepage, so no COW or migration can move a page the enclave owns. A
 * region keeps only its physically contiguous runs (in one-page chunks,
 * never one big array).
 *
 * Merging: a chunk that continues the previous one in ascending physical
 * order is merged with it, within a region and across regions: the last
 * chunk of each ioctl is held back (ne_enclave.pending) so the next region
 * can extend it, and it is sent before the enclave starts (ne_mem_flush()).
 * The enclave's memory order is kept, and the region limit counts the
 * pending chunk, so NE_ERR_MEM_MAX_REGIONS still comes from the ioctl that
 * exceeds it. The price: the device sees the held-back chunk, and reports
 * an error on it, only at the next SET_USER_MEMORY_REGION or at START.
 * defer_last_chunk=0 restores upstream's timing (every chunk reaches the
 * device, or fails, within the ioctl that adds it) at one device command
 * per ioctl at least.
 */

#include <linux/hugetlb_inline.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nitro_enclaves.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "ne_drv.h"

static bool defer_last_chunk = true;
module_param(defer_last_chunk, bool, 0644);
MODULE_PARM_DESC(defer_last_chunk,
		 "Merge memory chunks across ioctls: hold each ioctl's last chunk until the next region or start (default 1)");

/**
 * struct ne_mem_chunk - One page of a region's physically contiguous runs.
 * @node:	In ne_mem_region.chunks.
 * @runs:	View on @r for the merge logic.
 * @r:		The runs.
 */
struct ne_mem_chunk {
	struct list_head node;
	struct ne_phys_ranges runs;
	struct ne_phys_range r[];
};

#define NE_RUNS_PER_CHUNK \
	((PAGE_SIZE - sizeof(struct ne_mem_chunk)) / sizeof(struct ne_phys_range))

/**
 * struct ne_mem_region - One NE_SET_USER_MEMORY_REGION call's memory.
 * @node:	In ne_enclave.mem_regions (guarded by its lock).
 * @uaddr:	Declared user address.
 * @size:	Declared size.
 * @pinned:	Bytes pinned from @uaddr on (all of them once added).
 * @chunks:	struct ne_mem_chunk list: the runs, in user address order.
 */
struct ne_mem_region {
	struct list_head node;
	u64 uaddr;
	u64 size;
	u64 pinned;
	struct list_head chunks;
};

static int ne_mem_runs_add(struct ne_mem_region *region, u64 start, u64 size)
{
	struct ne_mem_chunk *chunk;
	int rc;

	if (!list_empty(&region->chunks)) {
		chunk = list_last_entry(&region->chunks, struct ne_mem_chunk,
					node);
		rc = ne_merge_add(&chunk->runs, start, size);
		if (rc != -ENOSPC)
			return rc;
	}

	chunk = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!chunk)
		return -ENOMEM;
	chunk->runs.r = chunk->r;
	chunk->runs.nr = 0;
	chunk->runs.cap = NE_RUNS_PER_CHUNK;
	list_add_tail(&chunk->node, &region->chunks);

	return ne_merge_add(&chunk->runs, start, size);
}

/*
 * Unpin the first @region->pinned bytes: one pin per hugepage (pinning one
 * 4 KiB page pins its whole folio, and a hugetlb folio is mapped whole).
 */
static void ne_mem_unpin(struct ne_mem_region *region, bool dirty)
{
	u64 left = region->pinned;
	struct ne_mem_chunk *chunk;
	struct page *page;
	u64 pos, end, huge;
	unsigned long i;

	list_for_each_entry(chunk, &region->chunks, node) {
		for (i = 0; i < chunk->runs.nr; i++) {
			pos = chunk->r[i].start;
			end = pos + chunk->r[i].size;
			while (pos < end && left) {
				/* Sized while pinned: unpinning may free it. */
				page = pfn_to_page(PHYS_PFN(pos));
				huge = ne_page_huge_bytes(page);
				unpin_user_pages_dirty_lock(&page, 1, dirty);
				left -= huge;
				pos += huge;
			}
		}
	}
	region->pinned = 0;
}

static void ne_mem_region_free(struct ne_mem_region *region, bool dirty)
{
	struct ne_mem_chunk *chunk, *tmp;

	ne_mem_unpin(region, dirty);
	list_for_each_entry_safe(chunk, tmp, &region->chunks, node)
		kfree(chunk);
	kfree(region);
}

/* The first page of a hugepage: spec §1.5 order, then our own refusals. */
static int ne_mem_check_huge(struct ne_enclave *ne, struct page *page,
			     u64 left)
{
	u64 size;

	if (!ne_page_is_hugetlb(page))
		return -NE_ERR_MEM_NOT_HUGE_PAGE;

	size = ne_page_huge_bytes(page);
	if (size % NE_MEM_ALIGN)
		return -NE_ERR_INVALID_PAGE_SIZE;
	/*
	 * Upstream silently adds all of a hugepage larger than the declared
	 * size, and fails obscurely on a region starting inside one: refuse
	 * both with the page-size error.
	 */
	if (size > left || page_to_phys(page) & (size - 1))
		return -NE_ERR_INVALID_PAGE_SIZE;

	if (page_to_nid(page) != ne->pool.numa_node)
		return -NE_ERR_MEM_DIFFERENT_NUMA_NODE;

	return 0;
}

/* Keep the pin of the hugepage starting at @page (on error, the caller's). */
static int ne_mem_take_huge(struct ne_enclave *ne, struct ne_mem_region *region,
			    struct page *page)
{
	u64 huge;
	int rc;

	rc = ne_mem_check_huge(ne, page, region->size - region->pinned);
	if (rc)
		return rc;
	huge = ne_page_huge_bytes(page);
	rc = ne_mem_runs_add(region, page_to_phys(page), huge);
	if (rc)
		return rc;
	region->pinned += huge;

	return 0;
}

/*
 * Pin the region one hugepage per call: pin_user_pages_fast() of its first
 * 4 KiB page is lockless, and keeping that one pin holds the whole hugetlb
 * folio. Measured under TCG, 8 such calls cost a fifth of one call for the
 * 4096 4 KiB pages of eight 2 MiB pages, which records and then has to
 * drop every 4 KiB pin; upstream takes the mmap lock once per hugepage.
 */
static int ne_mem_pin(struct ne_enclave *ne, struct ne_mem_region *region)
{
	struct page *page;
	long got;
	int rc;

	while (region->pinned < region->size) {
		got = pin_user_pages_fast(region->uaddr + region->pinned, 1,
					  FOLL_WRITE | FOLL_LONGTERM, &page);
		if (got != 1)
			return got < 0 ? got : -EFAULT;

		rc = ne_mem_take_huge(ne, region, page);
		if (rc) {
			unpin_user_page(page);
			return rc;
		}
		cond_resched();
	}

	return 0;
}

/*
 * Upstream's rule, kept for its answer to a size-0 region: the new region
 * starts inside an existing one, or an existing one starts inside it.
 */
static bool ne_mem_overlaps(struct ne_enclave *ne, u64 uaddr, u64 size)
{
	struct ne_mem_region *r;

	list_for_each_entry(r, &ne->mem_regions, node)
		if ((r->uaddr <= uaddr && uaddr < r->uaddr + r->size) ||
		    (uaddr <= r->uaddr && r->uaddr < uaddr + size))
			return true;

	return false;
}

/*
 * Refuse memory that is not hugetlb before pinning any of it: long-term
 * pinning refuses some such mappings (shared file mappings, on 6.5+) with
 * an EFAULT that would hide the real reason. A read-only hugetlb mapping
 * is refused with EFAULT, as the write pin would: the enclave writes its
 * memory, and must not write a page its owner cannot. A hole is left to
 * the pinning, which reports it (EFAULT) where it is.
 */
static int ne_mem_check_vmas(u64 uaddr, u64 size)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	u64 addr = uaddr;
	int rc = 0;

	mmap_read_lock(mm);
	while (addr < uaddr + size) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr)
			break;
		if (!is_vm_hugetlb_page(vma)) {
			rc = -NE_ERR_MEM_NOT_HUGE_PAGE;
			break;
		}
		if (!(vma->vm_flags & VM_WRITE)) {
			rc = -EFAULT;
			break;
		}
		addr = vma->vm_end;
	}
	mmap_read_unlock(mm);

	return rc;
}

/* Chunks this region adds to the enclave's count (pending extension free). */
static u64 ne_mem_new_chunks(struct ne_enclave *ne,
			     struct ne_mem_region *region)
{
	struct ne_mem_chunk *chunk;
	u64 nr = 0;

	list_for_each_entry(chunk, &region->chunks, node)
		nr += chunk->runs.nr;

	chunk = list_first_entry(&region->chunks, struct ne_mem_chunk, node);
	if (ne_phys_range_follows(&ne->pending, chunk->r[0].start))
		nr--;

	return nr;
}

static int ne_mem_send(struct ne_enclave *ne, const struct ne_phys_range *r)
{
	struct ne_slot_add_mem_req req = {
		.slot_uid	= ne->slot_uid,
		.paddr		= r->start,
		.size		= r->size,
	};
	struct ne_cmd_reply reply = {};

	return ne_pci_cmd(ne->pci, NE_CMD_SLOT_ADD_MEM, &req, sizeof(req),
			  &reply);
}

/* Count @cur (sent or pending) in the enclave's totals. */
static void ne_mem_account(struct ne_enclave *ne, const struct ne_phys_range *cur,
			   const struct ne_phys_range *old, bool from_old)
{
	if (from_old) {
		ne->mem_size += cur->size - old->size;
	} else {
		ne->nr_mem_regions++;
		ne->mem_size += cur->size;
	}
}

/*
 * Extend @cur with @run, or send @cur and start a new one with @run. The
 * totals always count sent and pending chunks.
 */
static int ne_mem_next_run(struct ne_enclave *ne, struct ne_phys_range *cur,
			   const struct ne_phys_range *run,
			   const struct ne_phys_range *old, bool *from_old,
			   bool *region_sent, bool *region_tried)
{
	bool ours;
	int rc;

	if (ne_phys_range_follows(cur, run->start)) {
		cur->size += run->size;
		return 0;
	}

	if (cur->size) {
		/* Does @cur hold pages of this region, or only the old chunk? */
		ours = !*from_old || cur->size != old->size;
		*region_tried |= ours;
		rc = ne_mem_send(ne, cur);
		if (rc)
			return rc;
		ne_mem_account(ne, cur, old, *from_old);
		ne->pending.size = 0;
		*region_sent |= ours;
	}
	*cur = *run;
	*from_old = false;

	return 0;
}

/*
 * Send the region's runs after the pending chunk, merging where they touch,
 * and hold the last one back. If no byte of the region reached the device,
 * *@region_sent stays false and the enclave is as before (the old pending
 * chunk may have been sent, which changes no total). Otherwise a failure is
 * a partial success, as upstream: what was sent stays counted, the region
 * stays pinned until release. *@region_tried says whether a command carrying the region's
 * pages was sent at all: if it failed, the device may hold them anyway.
 */
static int ne_mem_commit(struct ne_enclave *ne, struct ne_mem_region *region,
			 bool *region_sent, bool *region_tried)
{
	const struct ne_phys_range old = ne->pending;
	struct ne_phys_range cur = old;
	struct ne_mem_chunk *chunk;
	bool from_old = true;
	unsigned long i;
	int rc;

	list_for_each_entry(chunk, &region->chunks, node) {
		for (i = 0; i < chunk->runs.nr; i++) {
			rc = ne_mem_next_run(ne, &cur, &chunk->r[i], &old,
					     &from_old, region_sent,
					     region_tried);
			if (rc)
				return rc;
		}
	}

	if (!READ_ONCE(defer_last_chunk)) {
		*region_tried = true;
		rc = ne_mem_send(ne, &cur);
		if (rc)
			return rc;
		ne_mem_account(ne, &cur, &old, from_old);
		ne->pending.size = 0;
		*region_sent = true;
		return 0;
	}

	ne_mem_account(ne, &cur, &old, from_old);
	ne->pending = cur;
	*region_sent = true;
	return 0;
}

/**
 * ne_mem_region_add() - NE_SET_USER_MEMORY_REGION after the flag, state and
 * mm checks.
 * @ne:		The enclave, in INIT state.
 * @uaddr:	User address.
 * @size:	Bytes.
 *
 * Context: @ne->lock held.
 * Return: 0 or the errno of spec §1.5, in its order; on error nothing is
 * left pinned unless part of the region reached the device, or a command
 * carrying it failed (then it is held until the slot is freed).
 */
int ne_mem_region_add(struct ne_enclave *ne, u64 uaddr, u64 size)
{
	struct ne_mem_region *region;
	bool region_sent = false, region_tried = false;
	u64 new_chunks;
	int rc;

	lockdep_assert_held(&ne->lock);

	if (size % NE_MEM_ALIGN)
		return -NE_ERR_INVALID_MEM_REGION_SIZE;
	if (uaddr % NE_MEM_ALIGN)
		return -NE_ERR_UNALIGNED_MEM_REGION_ADDR;
	if (!access_ok(u64_to_user_ptr(uaddr), size))
		return -NE_ERR_INVALID_MEM_REGION_ADDR;
	if (ne_mem_overlaps(ne, uaddr, size))
		return -NE_ERR_MEM_REGION_ALREADY_USED;
	/* As upstream: a zero size passes the checks above, then fails here. */
	if (!size)
		return -ENOMEM;
	rc = ne_mem_check_vmas(uaddr, size);
	if (rc)
		return rc;

	region = kzalloc(sizeof(*region), GFP_KERNEL);
	if (!region)
		return -ENOMEM;
	region->uaddr = uaddr;
	region->size = size;
	INIT_LIST_HEAD(&region->chunks);

	rc = ne_mem_pin(ne, region);
	if (rc)
		goto free_region;

	new_chunks = ne_mem_new_chunks(ne, region);
	if (ne->nr_mem_regions + new_chunks > ne->max_mem_regions) {
		rc = -NE_ERR_MEM_MAX_REGIONS;
		goto free_region;
	}

	rc = ne_mem_commit(ne, region, &region_sent, &region_tried);
	if (region_sent) {
		list_add_tail(&region->node, &ne->mem_regions);
		return rc;
	}
	if (region_tried) {
		/* Refused, but the device may hold it: pinned until freed. */
		list_add_tail(&region->node, &ne->held_regions);
		return rc;
	}

free_region:
	ne_mem_region_free(region, false);
	return rc;
}

/**
 * ne_mem_flush() - Send the pending chunk (before the enclave starts).
 * @ne:	The enclave.
 *
 * Context: @ne->lock held.
 * Return: 0 or the device's error (the chunk stays pending).
 */
int ne_mem_flush(struct ne_enclave *ne)
{
	int rc;

	lockdep_assert_held(&ne->lock);

	if (!ne->pending.size)
		return 0;

	rc = ne_mem_send(ne, &ne->pending);
	if (!rc)
		ne->pending.size = 0;

	return rc;
}

/* Free every region; unpin (memory written back) unless @keep_pins. */
static void ne_mem_free_all(struct ne_enclave *ne, bool keep_pins)
{
	struct ne_mem_region *region, *tmp;

	lockdep_assert_held(&ne->lock);

	list_splice_tail_init(&ne->held_regions, &ne->mem_regions);
	list_for_each_entry_safe(region, tmp, &ne->mem_regions, node) {
		list_del(&region->node);
		if (keep_pins)
			region->pinned = 0;	/* the pins are leaked on purpose */
		ne_mem_region_free(region, true);
		cond_resched();
	}
	ne->pending.size = 0;
	ne->nr_mem_regions = 0;
	ne->mem_size = 0;
}

/**
 * ne_mem_release() - Unpin and free every region (memory written back).
 * @ne:	The enclave; the device confirmed its slot is gone.
 *
 * Context: @ne->lock held.
 */
void ne_mem_release(struct ne_enclave *ne)
{
	ne_mem_free_all(ne, false);
}

/**
 * ne_mem_abandon() - Forget every region but keep its pages pinned, for
 * good: the device may still use them and nobody is left to ask.
 * @ne:	The enclave.
 *
 * Context: @ne->lock held.
 */
void ne_mem_abandon(struct ne_enclave *ne)
{
	ne_mem_free_all(ne, true);
}

/**
 * ne_mem_pinned_bytes() - Bytes the enclave holds pinned.
 * @ne:	The enclave.
 *
 * Context: @ne->lock held.
 * Return: the pinned bytes of its regions, refused ones included.
 */
u64 ne_mem_pinned_bytes(struct ne_enclave *ne)
{
	struct ne_mem_region *region;
	u64 bytes = 0;

	lockdep_assert_held(&ne->lock);

	list_for_each_entry(region, &ne->mem_regions, node)
		bytes += region->pinned;
	list_for_each_entry(region, &ne->held_regions, node)
		bytes += region->pinned;

	return bytes;
}
