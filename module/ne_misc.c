// SPDX-License-Identifier: GPL-2.0
/*
 * Nitro Enclaves userspace entry: module init/exit, the /dev/nitro_enclaves
 * misc device, NE_CREATE_VM, the ne_cpus and quarantine parameters, and the
 * list of enclaves, which only this file touches.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nitro_enclaves.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "ne_drv.h"

/*
 * Every enclave, live or DEAD, from its SLOT_ALLOC until its file is
 * released, and the device enclaves are created on: both guarded by
 * ne_list_lock (its rules are in ne_drv.h). Statically initialised: the
 * ne_cpus setter may run before module init.
 */
static DEFINE_MUTEX(ne_list_lock);
static LIST_HEAD(ne_list);
static struct ne_pci_dev *ne_pci_published;

/*
 * One visit of the listed enclaves at a time (event handler or retry timer):
 * a visit strings its references through ne_enclave.event_node.
 */
static DEFINE_MUTEX(ne_visit_lock);

/* Quarantined enclaves are asked about again after this, doubling to max. */
#define NE_RETRY_MIN_MS		1000
#define NE_RETRY_MAX_MS		60000
static unsigned int ne_retry_ms = NE_RETRY_MIN_MS;	/* READ_ONCE/WRITE_ONCE */
/*
 * A SLOT_ALLOC failed, timed out or was interrupted: the device may have
 * made a slot nobody knows. The retry timer looks for it.
 */
static bool ne_orphans_suspected;
static void ne_misc_retry_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(ne_retry_work, ne_misc_retry_fn);

/* List an enclave that got its slot; the list takes a reference. */
static void ne_list_add(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne_list_lock);

	ne_enclave_get(ne);
	list_add_tail(&ne->node, &ne_list);
}

/* Unlist an enclave (if listed) and drop the list's reference. */
static void ne_list_del(struct ne_enclave *ne)
{
	lockdep_assert_held(&ne_list_lock);

	if (list_empty(&ne->node))
		return;
	list_del_init(&ne->node);
	ne_enclave_put(ne);
}

/**
 * ne_misc_unlist() - Take a released enclave off the list (once).
 * @ne:	The enclave; the caller holds a reference other than the list's.
 */
void ne_misc_unlist(struct ne_enclave *ne)
{
	mutex_lock(&ne_list_lock);
	ne_list_del(ne);
	mutex_unlock(&ne_list_lock);
}

/*
 * Does any enclave exist (even a DEAD one)? The ne_cpus setter's "pool in
 * use": quarantined enclaves are listed too, so their cores stay put.
 */
static bool ne_list_busy(void)
{
	lockdep_assert_held(&ne_list_lock);

	return !list_empty(&ne_list);
}

static bool ne_list_has_slot(u64 uid)
{
	struct ne_enclave *ne;

	lockdep_assert_held(&ne_list_lock);

	list_for_each_entry(ne, &ne_list, node)
		if (ne->slot_uid == uid)
			return true;

	return false;
}

/*
 * Visit every listed enclave: refresh the running ones, ask the device
 * again about the quarantined ones, unlist those released with their file
 * closed. An enclave may hold its lock for long (pinning a large region),
 * so the list lock is held only to take a reference on each; the enclaves
 * are visited after it is dropped. Enclaves created meanwhile are in INIT
 * (nothing to refresh); those released meanwhile are DEAD.
 *
 * The references are kept on a list through ne_enclave.event_node, so a
 * visit costs no allocation, whatever the number of enclaves.
 *
 * Return: the number of enclaves the device must be asked about again
 * (quarantined, or whose state could not be read).
 */
static unsigned int ne_list_visit(void)
{
	struct ne_enclave *ne, *next;
	unsigned int quarantined = 0;
	bool unlist;
	LIST_HEAD(visit);

	lockdep_assert_held(&ne_visit_lock);

	mutex_lock(&ne_list_lock);
	list_for_each_entry(ne, &ne_list, node) {
		ne_enclave_get(ne);
		list_add_tail(&ne->event_node, &visit);
	}
	mutex_unlock(&ne_list_lock);

	list_for_each_entry_safe(ne, next, &visit, event_node) {
		list_del_init(&ne->event_node);
		if (ne_enclave_event(ne, &unlist))
			quarantined++;
		if (unlist)
			ne_misc_unlist(ne);
		ne_enclave_put(ne);
	}

	return quarantined;
}

static int ne_misc_create_vm(u64 __user *uslot)
{
	struct ne_slot_alloc_req req = {};
	struct ne_cmd_reply reply = {};
	struct ne_pool_snapshot snap;
	struct ne_pci_dev *ne_pci;
	struct ne_enclave *ne;
	struct file *file;
	u64 slot_uid;
	int fd, rc;

	mutex_lock(&ne_list_lock);

	ne_pci = ne_pci_published;
	if (!ne_pci) {
		rc = -ENODEV;
		goto unlock;
	}

	rc = ne_cpu_pool_snapshot(&snap);
	if (rc)
		goto unlock;

	ne = ne_enclave_alloc(&snap);
	if (IS_ERR(ne)) {
		rc = PTR_ERR(ne);
		goto unlock;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		rc = fd;
		goto put_enclave;
	}

	file = anon_inode_getfile("ne-vm", &ne_enclave_fops, ne, O_RDWR);
	if (IS_ERR(file)) {
		rc = PTR_ERR(file);
		goto put_fd;
	}

	/*
	 * From here on the file owns our reference to @ne: only its release
	 * drops it, so an error path drops the file, never the reference.
	 */
	rc = ne_pci_cmd(ne_pci, NE_CMD_SLOT_ALLOC, &req, sizeof(req), &reply);
	if (!rc && !reply.slot_uid) {
		dev_err_ratelimited(&ne_pci->pdev->dev,
				    "device returned slot uid 0\n");
		rc = -EIO;
	}
	if (rc) {
		WRITE_ONCE(ne_orphans_suspected, true);
		ne_misc_retry_soon();
		goto unlock_put_file;
	}

	slot_uid = reply.slot_uid;
	ne->slot_uid = slot_uid;
	ne->max_mem_regions = reply.mem_regions;
	ne->pci = ne_pci;
	ne_list_add(ne);

	/* A user fault may block (userfaultfd): not under the list lock. */
	mutex_unlock(&ne_list_lock);

	/* Before fd_install: once installed the fd may already be closed. */
	if (copy_to_user(uslot, &slot_uid, sizeof(slot_uid))) {
		rc = -EFAULT;
		goto put_file;
	}

	fd_install(fd, file);

	return fd;

unlock_put_file:
	mutex_unlock(&ne_list_lock);
put_file:
	fput(file);
	put_unused_fd(fd);
	return rc;

put_fd:
	put_unused_fd(fd);
put_enclave:
	/* Unlisted and without a file: ours is the only reference. */
	ne_enclave_put(ne);
unlock:
	mutex_unlock(&ne_list_lock);
	return rc;
}

static long ne_misc_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	switch (cmd) {
	case NE_CREATE_VM:
		return ne_misc_create_vm((u64 __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ne_misc_fops = {
	.owner		= THIS_MODULE,
	.llseek		= NE_NOOP_LLSEEK,
	.unlocked_ioctl	= ne_misc_ioctl,
};

static struct miscdevice ne_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= NE_DRV_NAME,
	.fops	= &ne_misc_fops,
	.mode	= 0660,
};

/**
 * ne_misc_retry_soon() - An enclave was quarantined: ask the device again
 * about it after the shortest backoff.
 */
void ne_misc_retry_soon(void)
{
	WRITE_ONCE(ne_retry_ms, NE_RETRY_MIN_MS);
	mod_delayed_work(system_wq, &ne_retry_work,
			 msecs_to_jiffies(NE_RETRY_MIN_MS));
}

/*
 * Free the device slots no enclave knows of that hold nothing: those of a
 * SLOT_ALLOC whose reply never came. Run under ne_list_lock, so no
 * NE_CREATE_VM is between its SLOT_ALLOC and listing the enclave. A slot
 * holding memory or vCPUs is left alone: it is nobody's to free.
 *
 * Return: 0 once every slot was looked at, else a device error.
 */
static int ne_misc_sweep_orphans(struct ne_pci_dev *ne_pci)
{
	struct ne_next_slot_req next = {};
	struct ne_slot_info_req info;
	struct ne_slot_free_req slot_free;
	struct ne_cmd_reply reply;
	int rc;

	lockdep_assert_held(&ne_list_lock);

	for (;;) {
		rc = ne_pci_cmd_nokill(ne_pci, NE_CMD_NEXT_SLOT, &next,
				       sizeof(next), &reply);
		if (rc == -ENOENT)
			return 0;	/* past the last slot */
		if (rc)
			return rc;
		if (reply.slot_uid <= next.slot_uid)
			return -EIO;	/* must ascend, or we loop */
		next.slot_uid = reply.slot_uid;
		if (ne_list_has_slot(next.slot_uid))
			continue;

		info.slot_uid = next.slot_uid;
		rc = ne_pci_cmd_nokill(ne_pci, NE_CMD_SLOT_INFO, &info,
				       sizeof(info), &reply);
		if (rc)
			return rc;
		if (reply.state != NE_SLOT_STATE_INIT || reply.mem_regions ||
		    reply.mem_size || reply.nr_vcpus)
			continue;

		slot_free.slot_uid = next.slot_uid;
		rc = ne_pci_cmd_nokill(ne_pci, NE_CMD_SLOT_FREE, &slot_free,
				       sizeof(slot_free), &reply);
		if (rc && rc != -ENOENT)
			return rc;
		dev_info(&ne_pci->pdev->dev,
			 "freed slot %llu, made by a SLOT_ALLOC whose reply was lost\n",
			 next.slot_uid);
	}
}

/* Look for orphan slots if a SLOT_ALLOC left one. True: look again later. */
static bool ne_misc_orphans(void)
{
	bool again = false;

	if (!READ_ONCE(ne_orphans_suspected))
		return false;

	mutex_lock(&ne_list_lock);
	if (ne_pci_published) {
		WRITE_ONCE(ne_orphans_suspected, false);
		if (ne_misc_sweep_orphans(ne_pci_published)) {
			WRITE_ONCE(ne_orphans_suspected, true);
			again = true;
		}
	}
	mutex_unlock(&ne_list_lock);

	return again;
}

/* The device signalled an event: the retries' work, now. */
static void ne_misc_event(struct ne_pci_dev *ne_pci)
{
	mutex_lock(&ne_visit_lock);
	ne_list_visit();
	ne_misc_orphans();
	mutex_unlock(&ne_visit_lock);
}

/* The retry timer: ask again, backing off while the device refuses. */
static void ne_misc_retry_fn(struct work_struct *work)
{
	unsigned int ms, held;
	bool orphans;

	mutex_lock(&ne_visit_lock);
	held = ne_list_visit();
	orphans = ne_misc_orphans();
	if (held || orphans) {
		ms = min(READ_ONCE(ne_retry_ms) * 2, (unsigned int)NE_RETRY_MAX_MS);
		WRITE_ONCE(ne_retry_ms, ms);
		/* Not mod_: an enclave quarantined meanwhile keeps its sooner timer. */
		queue_delayed_work(system_wq, &ne_retry_work,
				   msecs_to_jiffies(ms));
	}
	mutex_unlock(&ne_visit_lock);
}

/*
 * /sys/module/nitro_enclaves/parameters/quarantine (read-only): one line
 * per quarantined enclave, "slot=UID mem_mib=N cpus=LIST retries=N
 * device=present|gone"; empty when nothing is held.
 */
static int ne_quarantine_get(char *buf, const struct kernel_param *kp)
{
	struct ne_enclave *ne;
	int n = 0;

	mutex_lock(&ne_list_lock);
	list_for_each_entry(ne, &ne_list, node)
		n += ne_enclave_describe(ne, buf + n, PAGE_SIZE - n);
	mutex_unlock(&ne_list_lock);

	return n;
}

static const struct kernel_param_ops ne_quarantine_ops = {
	.get	= ne_quarantine_get,
};

module_param_cb(quarantine, &ne_quarantine_ops, NULL, 0444);
MODULE_PARM_DESC(quarantine,
		 "Enclaves whose release the device has not confirmed (read-only)");

/*
 * ne_cpus: the pool changes only while no enclave exists. The lock is held
 * across the check and the rebuild, so NE_CREATE_VM cannot slip in.
 */
static int ne_cpus_set(const char *val, const struct kernel_param *kp)
{
	int rc;

	mutex_lock(&ne_list_lock);
	rc = ne_cpu_pool_set(val, ne_list_busy);
	mutex_unlock(&ne_list_lock);

	return rc;
}

static int ne_cpus_get(char *buf, const struct kernel_param *kp)
{
	return ne_cpu_pool_show(buf);
}

static const struct kernel_param_ops ne_cpus_ops = {
	.set	= ne_cpus_set,
	.get	= ne_cpus_get,
};

module_param_cb(ne_cpus, &ne_cpus_ops, NULL, 0644);
MODULE_PARM_DESC(ne_cpus, "<cpu-list> - CPU pool used for Nitro Enclaves");

/**
 * ne_misc_attach() - Publish a probed device and create /dev/nitro_enclaves.
 * @ne_pci:	The transport, ready for commands.
 *
 * Context: process context (PCI probe).
 * Return: 0, -EBUSY if a device is already published, or misc_register()'s
 * error.
 */
static int ne_misc_attach(struct ne_pci_dev *ne_pci)
{
	int rc;

	mutex_lock(&ne_list_lock);
	if (ne_pci_published) {
		mutex_unlock(&ne_list_lock);
		dev_err(&ne_pci->pdev->dev, "only one device is supported\n");
		return -EBUSY;
	}
	ne_pci_published = ne_pci;
	mutex_unlock(&ne_list_lock);

	ne_pci_set_event_fn(ne_pci, ne_misc_event);

	rc = misc_register(&ne_miscdev);
	if (rc)
		goto unpublish;

	return 0;

unpublish:
	ne_pci_set_event_fn(ne_pci, NULL);
	mutex_lock(&ne_list_lock);
	ne_pci_published = NULL;
	mutex_unlock(&ne_list_lock);
	return rc;
}

/**
 * ne_misc_detach() - The device goes away: no new enclave, every enclave on
 * it is released and becomes DEAD (its file stays valid until closed).
 * @ne_pci:	The transport, still able to send commands.
 *
 * Context: process context (PCI remove or shutdown).
 */
static void ne_misc_detach(struct ne_pci_dev *ne_pci)
{
	struct ne_enclave *ne, *next;

	mutex_lock(&ne_list_lock);
	if (ne_pci_published != ne_pci) {
		mutex_unlock(&ne_list_lock);
		return;
	}
	mutex_unlock(&ne_list_lock);

	misc_deregister(&ne_miscdev);
	ne_pci_set_event_fn(ne_pci, NULL);

	mutex_lock(&ne_list_lock);
	list_for_each_entry_safe(ne, next, &ne_list, node)
		if (ne_enclave_kill(ne))
			ne_list_del(ne);
	ne_pci_published = NULL;
	mutex_unlock(&ne_list_lock);
}

static const struct ne_pci_ops ne_misc_pci_ops = {
	.attach	= ne_misc_attach,
	.detach	= ne_misc_detach,
};

static int __init ne_init(void)
{
	int rc;

	rc = ne_cpu_pool_init();
	if (rc)
		goto exit_pool;

	rc = ne_pci_register(&ne_misc_pci_ops);
	if (rc)
		goto exit_pool;

	return 0;

exit_pool:
	/* ne_cpus may have been given at load time. */
	ne_cpu_pool_exit();
	return rc;
}

/*
 * Whatever is still listed after the device is gone is quarantined (every
 * enclave file is closed, or the module would be in use): say so and leave
 * its pages pinned and its cores offline.
 */
static void ne_misc_abandon_all(void)
{
	struct ne_enclave *ne, *next;

	mutex_lock(&ne_list_lock);
	list_for_each_entry_safe(ne, next, &ne_list, node) {
		ne_enclave_abandon(ne);
		ne_list_del(ne);
	}
	mutex_unlock(&ne_list_lock);
}

static void __exit ne_exit(void)
{
	ne_pci_unregister();
	cancel_delayed_work_sync(&ne_retry_work);
	ne_misc_abandon_all();
	ne_cpu_pool_exit();
}

module_init(ne_init);
module_exit(ne_exit);

MODULE_AUTHOR("Nitro Enclaves driver project");
MODULE_DESCRIPTION("Nitro Enclaves driver (out-of-tree, upstream ABI)");
MODULE_LICENSE("GPL");
MODULE_VERSION(NE_DRV_VERSION);
