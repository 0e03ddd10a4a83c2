// SPDX-License-Identifier: GPL-2.0
/*
 * Nitro Enclaves userspace entry: module init/exit, the /dev/nitro_enclaves
 * misc device, NE_CREATE_VM and the list of enclaves.
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

/* Statically initialised: the ne_cpus setter may run before module init. */
DEFINE_MUTEX(ne_enclaves_lock);
/* All enclaves, live or DEAD, until their file is released. */
static LIST_HEAD(ne_enclaves);
/* The device enclaves are created on; ne_enclaves_lock. */
static struct ne_pci_dev *ne_pci_published;

/**
 * ne_misc_has_enclaves() - Does any enclave exist (even a DEAD one).
 *
 * Context: ne_enclaves_lock held.
 * Return: true if the list is not empty.
 */
bool ne_misc_has_enclaves(void)
{
	lockdep_assert_held(&ne_enclaves_lock);

	return !list_empty(&ne_enclaves);
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

	mutex_lock(&ne_enclaves_lock);

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
	if (rc)
		goto unlock_put_file;

	slot_uid = reply.slot_uid;
	ne->slot_uid = slot_uid;
	ne->max_mem_regions = reply.mem_regions;
	ne->pci = ne_pci;
	list_add_tail(&ne->node, &ne_enclaves);

	/* A user fault may block (userfaultfd): not under the global lock. */
	mutex_unlock(&ne_enclaves_lock);

	/* Before fd_install: once installed the fd may already be closed. */
	if (copy_to_user(uslot, &slot_uid, sizeof(slot_uid))) {
		rc = -EFAULT;
		goto put_file;
	}

	fd_install(fd, file);

	return fd;

unlock_put_file:
	mutex_unlock(&ne_enclaves_lock);
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
	mutex_unlock(&ne_enclaves_lock);
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

/*
 * The device signalled an event: ask the device for the state of every
 * running enclave. An enclave may hold its lock for long (pinning a large
 * region), so the list lock is held only to take a reference on each listed
 * enclave; the enclaves are visited after it is dropped. Enclaves created meanwhile are
 * in INIT (nothing to refresh); those released meanwhile are DEAD.
 *
 * The references are kept on a list through ne_enclave.event_node, so an
 * event costs no allocation, whatever the number of enclaves. Only this
 * handler uses that node, and it never runs twice at once: one device is
 * published at a time, its events run from one work item on an ordered
 * workqueue, and detaching the device waits for a running handler.
 */
static void ne_misc_event(struct ne_pci_dev *ne_pci)
{
	struct ne_enclave *ne, *next;
	LIST_HEAD(visit);

	mutex_lock(&ne_enclaves_lock);
	list_for_each_entry(ne, &ne_enclaves, node) {
		ne_enclave_get(ne);
		list_add_tail(&ne->event_node, &visit);
	}
	mutex_unlock(&ne_enclaves_lock);

	list_for_each_entry_safe(ne, next, &visit, event_node) {
		list_del_init(&ne->event_node);
		ne_enclave_event(ne);
		ne_enclave_put(ne);
	}
}

/**
 * ne_misc_attach() - Publish a probed device and create /dev/nitro_enclaves.
 * @ne_pci:	The transport, ready for commands.
 *
 * Context: process context (PCI probe).
 * Return: 0, -EBUSY if a device is already published, or misc_register()'s
 * error.
 */
int ne_misc_attach(struct ne_pci_dev *ne_pci)
{
	int rc;

	mutex_lock(&ne_enclaves_lock);
	if (ne_pci_published) {
		mutex_unlock(&ne_enclaves_lock);
		dev_err(&ne_pci->pdev->dev, "only one device is supported\n");
		return -EBUSY;
	}
	ne_pci_published = ne_pci;
	mutex_unlock(&ne_enclaves_lock);

	ne_pci_set_event_fn(ne_pci, ne_misc_event);

	rc = misc_register(&ne_miscdev);
	if (rc)
		goto unpublish;

	return 0;

unpublish:
	ne_pci_set_event_fn(ne_pci, NULL);
	mutex_lock(&ne_enclaves_lock);
	ne_pci_published = NULL;
	mutex_unlock(&ne_enclaves_lock);
	return rc;
}

/**
 * ne_misc_detach() - The device goes away: no new enclave, every enclave on
 * it is released and becomes DEAD (its file stays valid until closed).
 * @ne_pci:	The transport, still able to send commands.
 *
 * Context: process context (PCI remove or shutdown).
 */
void ne_misc_detach(struct ne_pci_dev *ne_pci)
{
	struct ne_enclave *ne;

	mutex_lock(&ne_enclaves_lock);
	if (ne_pci_published != ne_pci) {
		mutex_unlock(&ne_enclaves_lock);
		return;
	}
	mutex_unlock(&ne_enclaves_lock);

	misc_deregister(&ne_miscdev);
	ne_pci_set_event_fn(ne_pci, NULL);

	mutex_lock(&ne_enclaves_lock);
	list_for_each_entry(ne, &ne_enclaves, node)
		ne_enclave_kill(ne);
	ne_pci_published = NULL;
	mutex_unlock(&ne_enclaves_lock);
}

static int __init ne_init(void)
{
	int rc;

	rc = ne_enclave_init();
	if (rc)
		goto exit_pool;

	rc = pci_register_driver(&ne_pci_driver);
	if (rc)
		goto exit_enclave;

	return 0;

exit_enclave:
	ne_enclave_exit();
exit_pool:
	/* ne_cpus may have been given at load time. */
	ne_cpu_pool_exit();
	return rc;
}

static void __exit ne_exit(void)
{
	pci_unregister_driver(&ne_pci_driver);
	ne_enclave_exit();
	ne_cpu_pool_exit();
}

module_init(ne_init);
module_exit(ne_exit);

MODULE_AUTHOR("Nitro Enclaves driver project");
MODULE_DESCRIPTION("Nitro Enclaves driver (out-of-tree, upstream ABI)");
MODULE_LICENSE("GPL");
MODULE_VERSION(NE_DRV_VERSION);
