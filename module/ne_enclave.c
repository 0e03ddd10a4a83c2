// SPDX-License-Identifier: GPL-2.0
/*
 * Nitro Enclaves enclave object: its state machine, the enclave fd (ioctls,
 * poll, release) and the reaction to device events.
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/nitro_enclaves.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vm_sockets.h>

#include "compat.h"
#include "ne_drv.h"

/**
 * ne_enclave_alloc() - A new enclave in INIT state, owned by current->mm.
 * @snap:	The pool's shape, kept for the enclave's lifetime.
 *
 * Return: the enclave, with one reference for the caller (then its file),
 * or ERR_PTR(-ENOMEM).
 */
struct ne_enclave *ne_enclave_alloc(const struct ne_pool_snapshot *snap)
{
	struct ne_enclave *ne;

	ne = kzalloc(sizeof(*ne), GFP_KERNEL);
	if (!ne)
		return ERR_PTR(-ENOMEM);

	if (!zalloc_cpumask_var(&ne->reserved_cpus, GFP_KERNEL))
		goto free_ne;
	if (!zalloc_cpumask_var(&ne->vcpu_ids, GFP_KERNEL))
		goto free_reserved;
	if (!zalloc_cpumask_var(&ne->vcpus_unknown, GFP_KERNEL))
		goto free_vcpu_ids;

	kref_init(&ne->ref);
	INIT_LIST_HEAD(&ne->node);
	INIT_LIST_HEAD(&ne->event_node);
	mutex_init(&ne->lock);
	init_waitqueue_head(&ne->eventq);
	INIT_LIST_HEAD(&ne->mem_regions);
	INIT_LIST_HEAD(&ne->held_regions);
	ne->state = NE_STATE_INIT;
	ne->pool = *snap;
	/* Held so the EIO check can never match a recycled mm. */
	mmgrab(current->mm);
	ne->mm = current->mm;

	return ne;

free_vcpu_ids:
	free_cpumask_var(ne->vcpu_ids);
free_reserved:
	free_cpumask_var(ne->reserved_cpus);
free_ne:
	kfree(ne);
	return ERR_PTR(-ENOMEM);
}

/* The last reference is gone: the enclave is unlisted and holds nothing. */
static void ne_enclave_free(struct kref *ref)
{
	struct ne_enclave *ne = container_of(ref, struct ne_enclave, ref);

	mmdrop(ne->mm);
	free_cpumask_var(ne->vcpus_unknown);
	free_cpumask_var(ne->vcpu_ids);
	free_cpumask_var(ne->reserved_cpus);
	mutex_destroy(&ne->lock);
	kfree(ne);
}

/**
 * ne_enclave_get() - Take a reference on an enclave.
 * @ne:	The enclave; the caller already holds a reference, or @ne is
 *	listed and the caller holds the list's lock (ne_misc.c).
 */
void ne_enclave_get(struct ne_enclave *ne)
{
	kref_get(&ne->ref);
}

/**
 * ne_enclave_put() - Drop a reference; the last one frees the enclave.
 * @ne:	The enclave.
 *
 * Context: process context. The last reference is dropped only once the
 * enclave holds no slot, page or core, so freeing takes no lock.
 */
void ne_enclave_put(struct ne_enclave *ne)
{
	kref_put(&ne->ref, ne_enclave_free);
}

/*
 * Ask the device to give the slot up: ENCLAVE_STOP unless the enclave is
 * known not to run, then SLOT_FREE. A timeout ends the attempt at once, so
 * a dead device costs one command timeout, not one per command.
 *
 * Return: 0 once the device confirmed that the slot is gone (SLOT_FREE
 * succeeded for this slot, or SLOT_FREE and SLOT_INFO both say the device
 * does not know it), else the error of the command that failed.
 */
static int ne_enclave_reclaim(struct ne_enclave *ne)
{
	struct ne_enclave_stop_req stop = { .slot_uid = ne->slot_uid };
	struct ne_slot_free_req slot_free = { .slot_uid = ne->slot_uid };
	struct ne_slot_info_req info = { .slot_uid = ne->slot_uid };
	struct ne_cmd_reply reply;
	int rc;

	lockdep_assert_held(&ne->lock);

	if (ne->may_run) {
		rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_ENCLAVE_STOP, &stop,
				       sizeof(stop), &reply);
		if (rc == -ETIMEDOUT)
			return rc;
		if (!rc)
			WRITE_ONCE(ne->may_run, false);
		/* SLOT_FREE decides: a device refuses it for a running slot. */
	}

	memset(&reply, 0, sizeof(reply));
	rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_SLOT_FREE, &slot_free,
			       sizeof(slot_free), &reply);
	/* Not this slot's answer: a reply left over from a dropped command. */
	if (!rc && reply.slot_uid && reply.slot_uid != ne->slot_uid)
		rc = -EIO;
	if (rc && rc != -ENOENT) {
		/*
		 * A refused SLOT_FREE may mean the slot runs after all (a
		 * SLOT_INFO read it wrong): stop it first next time.
		 */
		if (rc != -ETIMEDOUT)
			WRITE_ONCE(ne->may_run, true);
		return rc;
	}
	if (!rc)
		return 0;

	/*
	 * The device does not know the slot (a SLOT_FREE whose reply was lost
	 * did free it, say). Giving everything back rests on that answer
	 * alone: have SLOT_INFO say it too.
	 */
	rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_SLOT_INFO, &info, sizeof(info),
			       &reply);
	return rc == -ENOENT ? 0 : rc ? rc : -EEXIST;
}

/* The device confirmed: give pages to their owner, cores to the pool. */
static void ne_enclave_release_all(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne->lock);

	ne_mem_release(ne);
	ne_cpu_pool_put(ne->reserved_cpus);
	cpumask_clear(ne->reserved_cpus);
	cpumask_clear(ne->vcpu_ids);
	cpumask_clear(ne->vcpus_unknown);
	ne->nr_vcpus = 0;
	ne->pci = NULL;
	WRITE_ONCE(ne->may_run, false);
	WRITE_ONCE(ne->state, NE_STATE_DEAD);
}

/*
 * Tear the enclave down. If the device does not confirm, quarantine it:
 * it keeps its pins and cores and stays listed, and the event handler and
 * the retry timer ask the device again. One line says so.
 *
 * Return: true if everything was released (DEAD).
 */
static bool ne_enclave_teardown(struct ne_enclave *ne)
{
	int rc;

	lockdep_assert_held(&ne->lock);

	rc = ne_enclave_reclaim(ne);
	if (!rc) {
		ne_enclave_release_all(ne);
		return true;
	}

	dev_warn(&ne->pci->pdev->dev,
		 "slot %llu: device did not confirm the release (%d): %llu MiB stay pinned and CPUs %*pbl offline until it does\n",
		 ne->slot_uid, rc, ne_mem_pinned_bytes(ne) >> 20,
		 cpumask_pr_args(ne->reserved_cpus));
	ne->retries = 0;
	WRITE_ONCE(ne->state, NE_STATE_QUARANTINED);
	ne_misc_retry_soon();

	return false;
}

/* Ask the device again about a quarantined enclave. True once released. */
static bool ne_enclave_retry(struct ne_enclave *ne)
{
	struct device *dev;

	lockdep_assert_held(&ne->lock);

	if (ne->state != NE_STATE_QUARANTINED || !ne->pci)
		return false;

	ne->retries++;
	if (ne_enclave_reclaim(ne))
		return false;

	dev = &ne->pci->pdev->dev;
	ne_enclave_release_all(ne);
	dev_info(dev, "slot %llu: released after the device confirmed (%u retries)\n",
		 ne->slot_uid, ne->retries);

	return true;
}

/**
 * ne_enclave_kill() - The device goes away: release the enclave, make it DEAD.
 * @ne:	A listed enclave.
 *
 * Its file stays open: poll reports EPOLLHUP and ioctls fail with -ENODEV.
 * A quarantined enclave is asked about once more; if the device still does
 * not confirm, its pages and cores stay held for good (no device is left to
 * confirm).
 *
 * Context: the caller keeps @ne alive (the list's lock held, in ne_misc.c).
 * Return: true if the enclave is DEAD and its file closed: the caller
 * unlists it.
 */
bool ne_enclave_kill(struct ne_enclave *ne)
{
	bool unlist;

	mutex_lock(&ne->lock);
	if (ne->state == NE_STATE_QUARANTINED)
		ne_enclave_retry(ne);
	else if (ne->state != NE_STATE_DEAD)
		ne_enclave_teardown(ne);
	if (ne->state == NE_STATE_QUARANTINED && ne->pci) {
		dev_warn(&ne->pci->pdev->dev,
			 "slot %llu: device removed before it confirmed the release: its memory and CPUs stay held\n",
			 ne->slot_uid);
		ne->pci = NULL;
	}
	WRITE_ONCE(ne->has_event, true);
	unlist = ne->state == NE_STATE_DEAD && ne->file_closed;
	mutex_unlock(&ne->lock);

	wake_up_interruptible(&ne->eventq);

	return unlist;
}

/* Refresh a running (or possibly running) enclave's state from the device. */
static void ne_enclave_refresh(struct ne_enclave *ne)
{
	struct ne_slot_info_req req = { .slot_uid = ne->slot_uid };
	struct ne_cmd_reply reply = {};
	int rc;

	lockdep_assert_held(&ne->lock);

	if (ne->state != NE_STATE_RUNNING &&
	    !(ne->state == NE_STATE_INIT && ne->may_run))
		return;

	rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_SLOT_INFO, &req, sizeof(req),
			       &reply);
	if (!rc && reply.slot_uid && reply.slot_uid != ne->slot_uid)
		rc = -EIO;
	if (rc) {
		dev_err_ratelimited(&ne->pci->pdev->dev,
				    "slot %llu: SLOT_INFO failed (%d)\n",
				    ne->slot_uid, rc);
		/* The device will not signal again: the retry timer asks. */
		ne->refresh_pending = true;
		ne_misc_retry_soon();
		return;
	}
	ne->refresh_pending = false;

	switch (reply.state) {
	case NE_SLOT_STATE_RUNNING:
		/* A START whose reply was lost did start the enclave. */
		WRITE_ONCE(ne->state, NE_STATE_RUNNING);
		return;
	case NE_SLOT_STATE_STOPPED:
		WRITE_ONCE(ne->may_run, false);
		WRITE_ONCE(ne->state, NE_STATE_STOPPED);
		WRITE_ONCE(ne->has_event, true);
		wake_up_interruptible(&ne->eventq);
		return;
	case NE_SLOT_STATE_INIT:
		/*
		 * A START whose outcome was unknown did not start it (the
		 * device answers in order, so that START is behind us).
		 */
		if (ne->state == NE_STATE_INIT)
			WRITE_ONCE(ne->may_run, false);
		return;
	default:
		return;		/* nonsense: believe nothing */
	}
}

/**
 * ne_enclave_event() - The device signalled an event (or the retry timer
 * fired): refresh a running enclave's state, or ask the device again about
 * a quarantined one.
 * @ne:	An enclave the caller holds a reference on; it may have been
 *	released since.
 * @unlist:	Set if the enclave was released now and its file is closed:
 *		the caller unlists it.
 *
 * An enclave in INIT whose start is not in doubt has nothing to refresh:
 * it is skipped without taking its lock, which its owner may hold for long
 * (pinning), so one enclave's setup never delays another's EPOLLHUP. A
 * failed or inconsistent SLOT_INFO changes nothing.
 *
 * Context: the event or retry work, not under the list's lock.
 * Return: true if the device must be asked again (still quarantined on a
 * present device, or its state could not be read).
 */
bool ne_enclave_event(struct ne_enclave *ne, bool *unlist)
{
	u16 state = READ_ONCE(ne->state);
	bool held;

	*unlist = false;
	if (state != NE_STATE_RUNNING && state != NE_STATE_QUARANTINED &&
	    !(state == NE_STATE_INIT && READ_ONCE(ne->may_run)))
		return false;

	mutex_lock(&ne->lock);
	if (ne->state == NE_STATE_QUARANTINED)
		*unlist = ne_enclave_retry(ne) && ne->file_closed;
	else
		ne_enclave_refresh(ne);
	held = (ne->state == NE_STATE_QUARANTINED && ne->pci) ||
	       ne->refresh_pending;
	mutex_unlock(&ne->lock);

	return held;
}

/**
 * ne_enclave_abandon() - Module unload with a quarantined enclave: forget it
 * without releasing what the device may still use.
 * @ne:	A listed enclave, its file closed; the caller unlists it.
 *
 * Its pages stay pinned and its cores offline for good: leaking them is
 * safe, handing them back while an enclave may run on them is not.
 */
void ne_enclave_abandon(struct ne_enclave *ne)
{
	mutex_lock(&ne->lock);
	pr_warn("%s: slot %llu unloaded in quarantine: %llu MiB stay pinned and CPUs %*pbl offline\n",
		NE_DRV_NAME, ne->slot_uid, ne_mem_pinned_bytes(ne) >> 20,
		cpumask_pr_args(ne->reserved_cpus));
	ne_mem_abandon(ne);
	cpumask_clear(ne->reserved_cpus);
	mutex_unlock(&ne->lock);
}

/**
 * ne_enclave_describe() - One line for the quarantine listing.
 * @ne:		A listed enclave.
 * @buf:	Output.
 * @size:	Bytes of @buf.
 *
 * Return: bytes written (0 if @ne is not quarantined).
 */
int ne_enclave_describe(struct ne_enclave *ne, char *buf, size_t size)
{
	int n = 0;

	/* Only these: another enclave's lock may be held for long (pinning). */
	if (READ_ONCE(ne->state) != NE_STATE_QUARANTINED)
		return 0;

	mutex_lock(&ne->lock);
	if (ne->state == NE_STATE_QUARANTINED)
		n = scnprintf(buf, size,
			      "slot=%llu mem_mib=%llu cpus=%*pbl retries=%u device=%s\n",
			      ne->slot_uid, ne_mem_pinned_bytes(ne) >> 20,
			      cpumask_pr_args(ne->reserved_cpus), ne->retries,
			      ne->pci ? "present" : "gone");
	mutex_unlock(&ne->lock);

	return n;
}

static int ne_enclave_check_init(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne->lock);

	if (ne->state == NE_STATE_DEAD || ne->state == NE_STATE_QUARANTINED)
		return -ENODEV;
	if (ne->state != NE_STATE_INIT)
		return -NE_ERR_NOT_IN_INIT_STATE;

	return 0;
}

/* Auto-pick (vCPU 0) or check an explicit CPU; may reserve a whole core. */
static int ne_enclave_pick_vcpu(struct ne_enclave *ne, u32 *vcpu_id,
				bool *reserved_new)
{
	unsigned int cpu;
	int rc;

	lockdep_assert_held(&ne->lock);

	if (!*vcpu_id) {
		rc = ne_cpu_pool_pick(ne->reserved_cpus, ne->vcpu_ids, &cpu,
				      reserved_new);
		if (!rc)
			*vcpu_id = cpu;
		return rc;
	}

	if (cpumask_test_cpu(*vcpu_id, ne->vcpu_ids))
		return -NE_ERR_VCPU_ALREADY_USED;
	if (cpumask_test_cpu(*vcpu_id, ne->reserved_cpus))
		return 0;

	rc = ne_cpu_pool_reserve(ne->reserved_cpus, *vcpu_id);
	if (!rc)
		*reserved_new = true;

	return rc;
}

static long ne_enclave_ioctl_add_vcpu(struct ne_enclave *ne,
				      u32 __user *uvcpu)
{
	struct ne_slot_add_vcpu_req req = {};
	struct ne_cmd_reply reply = {};
	bool reserved_new = false;
	u32 vcpu_id;
	int rc;

	if (copy_from_user(&vcpu_id, uvcpu, sizeof(vcpu_id)))
		return -EFAULT;

	mutex_lock(&ne->lock);

	rc = ne_enclave_check_init(ne);
	if (rc)
		goto unlock;

	if (vcpu_id >= (u64)ne->pool.nr_parent_vm_cores *
		       ne->pool.threads_per_core) {
		rc = -NE_ERR_INVALID_VCPU;
		goto unlock;
	}

	rc = ne_enclave_pick_vcpu(ne, &vcpu_id, &reserved_new);
	if (rc)
		goto unlock;

	if (current->mm != ne->mm) {
		rc = -EIO;
		goto unreserve_core;
	}

	req.slot_uid = ne->slot_uid;
	req.vcpu_id = vcpu_id;
	rc = ne_pci_cmd(ne->pci, NE_CMD_SLOT_ADD_VCPU, &req, sizeof(req),
			&reply);
	/* A retry of a vCPU the device may already have: it says so. */
	if (rc == -EEXIST && cpumask_test_cpu(vcpu_id, ne->vcpus_unknown))
		rc = 0;
	if (rc) {
		/*
		 * A failed command may have been carried out: the core stays
		 * reserved until the slot is freed. Without an answer the
		 * device may have the vCPU: adding it again completes it.
		 */
		if (!ne_cmd_refused(rc, &reply))
			cpumask_set_cpu(vcpu_id, ne->vcpus_unknown);
		goto unlock;
	}

	cpumask_clear_cpu(vcpu_id, ne->vcpus_unknown);
	cpumask_set_cpu(vcpu_id, ne->vcpu_ids);
	ne->nr_vcpus++;
	mutex_unlock(&ne->lock);

	if (copy_to_user(uvcpu, &vcpu_id, sizeof(vcpu_id)))
		return -EFAULT;

	return 0;

unreserve_core:
	/* No command was sent: the core certainly is not the device's. */
	if (reserved_new)
		ne_cpu_pool_unreserve(ne->reserved_cpus, vcpu_id);
unlock:
	mutex_unlock(&ne->lock);
	return rc;
}

static long ne_enclave_ioctl_image_info(struct ne_enclave *ne,
					struct ne_image_load_info __user *uinfo)
{
	struct ne_image_load_info info;
	int rc;

	if (copy_from_user(&info, uinfo, sizeof(info)))
		return -EFAULT;

	mutex_lock(&ne->lock);
	rc = ne_enclave_check_init(ne);
	mutex_unlock(&ne->lock);
	if (rc)
		return rc;

	if (!info.flags || info.flags >= NE_IMAGE_LOAD_MAX_FLAG_VAL)
		return -NE_ERR_INVALID_FLAG_VALUE;

	info.memory_offset = NE_EIF_LOAD_OFFSET;
	if (copy_to_user(uinfo, &info, sizeof(info)))
		return -EFAULT;

	return 0;
}

static long ne_enclave_ioctl_set_mem(struct ne_enclave *ne,
				     struct ne_user_memory_region __user *umr)
{
	struct ne_user_memory_region mr;
	int rc;

	if (copy_from_user(&mr, umr, sizeof(mr)))
		return -EFAULT;

	if (mr.flags >= NE_MEMORY_REGION_MAX_FLAG_VAL)
		return -NE_ERR_INVALID_FLAG_VALUE;

	mutex_lock(&ne->lock);

	rc = ne_enclave_check_init(ne);
	if (rc)
		goto unlock;

	if (current->mm != ne->mm) {
		rc = -EIO;
		goto unlock;
	}

	rc = ne_mem_region_add(ne, mr.userspace_addr, mr.memory_size);
unlock:
	mutex_unlock(&ne->lock);
	return rc;
}

static int ne_enclave_check_cid(u64 cid)
{
	if (cid == VMADDR_CID_LOCAL || cid == VMADDR_CID_HOST ||
	    cid == NE_PARENT_VM_CID || cid >= VMADDR_CID_ANY)
		return -NE_ERR_INVALID_ENCLAVE_CID;

	return 0;
}

/* START's resource checks, in the order userspace expects their errors. */
static int ne_enclave_check_start(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne->lock);

	if (!ne->nr_mem_regions)
		return -NE_ERR_NO_MEM_REGIONS_ADDED;
	if (ne->mem_size < NE_MIN_ENCLAVE_MEM_SIZE)
		return -NE_ERR_ENCLAVE_MEM_MIN_SIZE;
	if (!ne->nr_vcpus)
		return -NE_ERR_NO_VCPUS_ADDED;
	/* Every thread of every reserved core must have been added. */
	if (!cpumask_equal(ne->reserved_cpus, ne->vcpu_ids))
		return -NE_ERR_FULL_CORES_NOT_USED;

	return 0;
}

static long ne_enclave_ioctl_start(struct ne_enclave *ne,
				   struct ne_enclave_start_info __user *ustart)
{
	struct ne_enclave_start_info info;
	struct ne_enclave_start_req req = {};
	struct ne_cmd_reply reply = {};
	int rc;

	if (copy_from_user(&info, ustart, sizeof(info)))
		return -EFAULT;

	if (info.flags >= NE_ENCLAVE_START_MAX_FLAG_VAL)
		return -NE_ERR_INVALID_FLAG_VALUE;

	rc = ne_enclave_check_cid(info.enclave_cid);
	if (rc)
		return rc;

	mutex_lock(&ne->lock);

	rc = ne_enclave_check_init(ne);
	if (rc)
		goto unlock;

	rc = ne_enclave_check_start(ne);
	if (rc)
		goto unlock;

	rc = ne_mem_flush(ne);
	if (rc)
		goto unlock;

	req.slot_uid = ne->slot_uid;
	req.enclave_cid = info.enclave_cid;
	req.flags = info.flags;
	/*
	 * Until the device says it started, it may have: release then sends
	 * ENCLAVE_STOP, and events refresh the state.
	 */
	WRITE_ONCE(ne->may_run, true);
	rc = ne_pci_cmd(ne->pci, NE_CMD_ENCLAVE_START, &req, sizeof(req),
			&reply);
	if (rc) {
		/*
		 * Refused by the device: it does not run (if it lied, the
		 * refused SLOT_FREE at release brings ENCLAVE_STOP back).
		 */
		if (ne_cmd_refused(rc, &reply))
			WRITE_ONCE(ne->may_run, false);
		goto unlock;
	}

	WRITE_ONCE(ne->state, NE_STATE_RUNNING);
	info.enclave_cid = reply.enclave_cid;
	mutex_unlock(&ne->lock);

	if (copy_to_user(ustart, &info, sizeof(info)))
		return -EFAULT;

	return 0;

unlock:
	mutex_unlock(&ne->lock);
	return rc;
}

static long ne_enclave_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct ne_enclave *ne = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case NE_ADD_VCPU:
		return ne_enclave_ioctl_add_vcpu(ne, uarg);
	case NE_GET_IMAGE_LOAD_INFO:
		return ne_enclave_ioctl_image_info(ne, uarg);
	case NE_SET_USER_MEMORY_REGION:
		return ne_enclave_ioctl_set_mem(ne, uarg);
	case NE_START_ENCLAVE:
		return ne_enclave_ioctl_start(ne, uarg);
	default:
		return -ENOTTY;
	}
}

/*
 * Level-triggered: once the enclave has ended, EPOLLHUP stays asserted.
 * Lock-free: a poller never waits behind an ioctl pinning memory.
 */
static __poll_t ne_enclave_poll(struct file *file, poll_table *wait)
{
	struct ne_enclave *ne = file->private_data;

	poll_wait(file, &ne->eventq, wait);

	return READ_ONCE(ne->has_event) ? EPOLLHUP : 0;
}

/*
 * The last close, also by an exiting process: the enclave is torn down
 * before release returns, so once the process is reaped its pages and
 * cores are back (or quarantined). The device commands ignore signals but
 * each is bounded by cmd_timeout_ms, and a timeout ends the teardown (the
 * enclave is quarantined, the retry timer goes on).
 */
static int ne_enclave_release(struct inode *inode, struct file *file)
{
	struct ne_enclave *ne = file->private_data;
	bool unlist;

	mutex_lock(&ne->lock);
	ne->file_closed = true;
	/* Listed once SLOT_ALLOC succeeded, before the file was reachable. */
	if (ne->slot_uid && ne->state != NE_STATE_DEAD &&
	    ne->state != NE_STATE_QUARANTINED)
		ne_enclave_teardown(ne);
	unlist = ne->slot_uid && ne->state == NE_STATE_DEAD;
	mutex_unlock(&ne->lock);

	if (unlist)
		ne_misc_unlist(ne);
	ne_enclave_put(ne);

	return 0;
}

const struct file_operations ne_enclave_fops = {
	.owner		= THIS_MODULE,
	.llseek		= NE_NOOP_LLSEEK,
	.poll		= ne_enclave_poll,
	.unlocked_ioctl	= ne_enclave_ioctl,
	.release	= ne_enclave_release,
};
