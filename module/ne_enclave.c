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

/* Before 5.13 the kernel has no such assertion: it checks nothing there. */
#ifndef lockdep_assert_not_held
#define lockdep_assert_not_held(l)	((void)(l))
#endif

/* Background teardown of enclaves released by exiting processes. */
static struct workqueue_struct *ne_release_wq;

/**
 * ne_enclave_init() - Module init: the release workqueue.
 *
 * Return: 0 or -ENOMEM.
 */
int ne_enclave_init(void)
{
	ne_release_wq = alloc_workqueue("ne_release_wq", WQ_UNBOUND, 0);

	return ne_release_wq ? 0 : -ENOMEM;
}

/**
 * ne_enclave_exit() - Module exit: wait for background teardowns.
 */
void ne_enclave_exit(void)
{
	destroy_workqueue(ne_release_wq);
}

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

	kref_init(&ne->ref);
	INIT_LIST_HEAD(&ne->node);
	INIT_LIST_HEAD(&ne->event_node);
	mutex_init(&ne->lock);
	init_waitqueue_head(&ne->eventq);
	INIT_LIST_HEAD(&ne->mem_regions);
	ne->state = NE_STATE_INIT;
	ne->pool = *snap;
	/* Held so the EIO check can never match a recycled mm. */
	mmgrab(current->mm);
	ne->mm = current->mm;

	return ne;

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
	free_cpumask_var(ne->vcpu_ids);
	free_cpumask_var(ne->reserved_cpus);
	mutex_destroy(&ne->lock);
	kfree(ne);
}

/**
 * ne_enclave_get() - Take a reference on an enclave.
 * @ne:	The enclave; the caller already holds a reference, or holds
 *	ne_enclaves_lock and @ne is listed.
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
 * Give everything back: the slot to the device (best effort), the pages to
 * their owner and the cores to the pool. Local resources are released even
 * if the device refuses, so a faulty device cannot leak memory or cores.
 * The enclave is DEAD afterwards: nothing may use its device any more.
 */
static void ne_enclave_teardown(struct ne_enclave *ne)
{
	struct ne_enclave_stop_req stop = { .slot_uid = ne->slot_uid };
	struct ne_slot_free_req slot_free = { .slot_uid = ne->slot_uid };
	struct ne_cmd_reply reply;
	int stop_rc = 0, free_rc;

	lockdep_assert_held(&ne->lock);

	if (ne->state != NE_STATE_INIT && ne->state != NE_STATE_STOPPED)
		stop_rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_ENCLAVE_STOP,
					    &stop, sizeof(stop), &reply);
	free_rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_SLOT_FREE, &slot_free,
				    sizeof(slot_free), &reply);
	if (stop_rc || free_rc)
		dev_err_ratelimited(&ne->pci->pdev->dev,
				    "slot %llu: stop %d, free %d; resources released anyway\n",
				    ne->slot_uid, stop_rc, free_rc);

	ne_mem_release(ne);
	ne_cpu_pool_put(ne->reserved_cpus);
	cpumask_clear(ne->reserved_cpus);
	cpumask_clear(ne->vcpu_ids);
	ne->nr_vcpus = 0;
	ne->pci = NULL;
	ne->state = NE_STATE_DEAD;
}

/**
 * ne_enclave_kill() - The device goes away: release the enclave, make it DEAD.
 * @ne:	A listed enclave.
 *
 * Its file stays open: poll reports EPOLLHUP and ioctls fail with -ENODEV.
 *
 * Context: ne_enclaves_lock held.
 */
void ne_enclave_kill(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne_enclaves_lock);

	mutex_lock(&ne->lock);
	if (ne->state != NE_STATE_DEAD) {
		ne_enclave_teardown(ne);
		ne->has_event = true;
	}
	mutex_unlock(&ne->lock);

	wake_up_interruptible(&ne->eventq);
}

/**
 * ne_enclave_event() - The device signalled an event: refresh a running
 * enclave's state.
 * @ne:	An enclave the caller holds a reference on; it may have been
 *	released (DEAD) since.
 *
 * A failed or inconsistent SLOT_INFO changes nothing.
 *
 * Context: the event workqueue. ne_enclaves_lock must not be held: this
 * waits for @ne's lock, which its owner may hold for long (pinning).
 */
void ne_enclave_event(struct ne_enclave *ne)
{
	struct ne_slot_info_req req = { .slot_uid = ne->slot_uid };
	struct ne_cmd_reply reply = {};
	int rc;

	lockdep_assert_not_held(&ne_enclaves_lock);

	mutex_lock(&ne->lock);
	if (ne->state != NE_STATE_RUNNING)
		goto unlock;

	rc = ne_pci_cmd_nokill(ne->pci, NE_CMD_SLOT_INFO, &req, sizeof(req),
			       &reply);
	if (!rc && reply.slot_uid && reply.slot_uid != ne->slot_uid)
		rc = -EIO;
	if (rc) {
		dev_err_ratelimited(&ne->pci->pdev->dev,
				    "slot %llu: SLOT_INFO failed (%d)\n",
				    ne->slot_uid, rc);
		goto unlock;
	}

	if (reply.state == NE_SLOT_STATE_RUNNING)
		goto unlock;

	ne->state = NE_STATE_STOPPED;
	ne->has_event = true;
	wake_up_interruptible(&ne->eventq);
unlock:
	mutex_unlock(&ne->lock);
}

static int ne_enclave_check_init(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne->lock);

	if (ne->state == NE_STATE_DEAD)
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
	if (rc)
		goto unreserve_core;

	cpumask_set_cpu(vcpu_id, ne->vcpu_ids);
	ne->nr_vcpus++;
	mutex_unlock(&ne->lock);

	if (copy_to_user(uvcpu, &vcpu_id, sizeof(vcpu_id)))
		return -EFAULT;

	return 0;

unreserve_core:
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
	rc = ne_pci_cmd(ne->pci, NE_CMD_ENCLAVE_START, &req, sizeof(req),
			&reply);
	if (rc)
		goto unlock;

	ne->state = NE_STATE_RUNNING;
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

/* Level-triggered: once the enclave has ended, EPOLLHUP stays asserted. */
static __poll_t ne_enclave_poll(struct file *file, poll_table *wait)
{
	struct ne_enclave *ne = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &ne->eventq, wait);

	mutex_lock(&ne->lock);
	if (ne->has_event)
		mask |= EPOLLHUP;
	mutex_unlock(&ne->lock);

	return mask;
}

/*
 * Runs release's work: teardown (unless DEAD), unlist, drop the file's
 * reference. The teardown (device commands, unpinning) is done under the
 * enclave's lock only; the enclave stays listed until it is over, so the
 * ne_cpus setter cannot rebuild the pool while its cores are still held,
 * and PCI remove, which kills listed enclaves, finds it DEAD or waits for
 * the lock. An event handler may still hold a reference: it finds the
 * enclave DEAD and leaves it alone.
 */
static void ne_enclave_destroy(struct ne_enclave *ne)
{
	bool listed;

	mutex_lock(&ne->lock);
	/* Listed once SLOT_ALLOC succeeded, before the file was reachable. */
	listed = ne->slot_uid;
	if (listed && ne->state != NE_STATE_DEAD)
		ne_enclave_teardown(ne);
	mutex_unlock(&ne->lock);

	if (listed) {
		mutex_lock(&ne_enclaves_lock);
		list_del(&ne->node);
		mutex_unlock(&ne_enclaves_lock);
	}

	ne_enclave_put(ne);
}

static void ne_enclave_release_work(struct work_struct *work)
{
	ne_enclave_destroy(container_of(work, struct ne_enclave, release_work));
}

static int ne_enclave_release(struct inode *inode, struct file *file)
{
	struct ne_enclave *ne = file->private_data;

	/*
	 * A dying process (killed while a device command was outstanding,
	 * say) must not wait for the device: its enclave is torn down in the
	 * background. An explicit close() tears down before returning, so the
	 * slot is gone when close() returns.
	 */
	if ((current->flags & PF_EXITING) && ne->slot_uid) {
		INIT_WORK(&ne->release_work, ne_enclave_release_work);
		queue_work(ne_release_wq, &ne->release_work);
		return 0;
	}

	ne_enclave_destroy(ne);

	return 0;
}

const struct file_operations ne_enclave_fops = {
	.owner		= THIS_MODULE,
	.llseek		= NE_NOOP_LLSEEK,
	.poll		= ne_enclave_poll,
	.unlocked_ioctl	= ne_enclave_ioctl,
	.release	= ne_enclave_release,
};
