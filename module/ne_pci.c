// SPDX-License-Identifier: GPL-2.0
/*
 * Nitro Enclaves PCI transport: probe/remove, MSI-X, the enable handshake
 * and the one-command mailbox. It knows nothing about enclaves: attach,
 * detach and events go upward through callbacks the upper layer hands down,
 * commands come down through ne_pci_cmd().
 */

#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "ne_drv.h"

static unsigned int cmd_timeout_ms = 120000;
module_param(cmd_timeout_ms, uint, 0644);
MODULE_PARM_DESC(cmd_timeout_ms,
		 "How long a device command may take, in ms (default 120000)");

static const struct pci_device_id ne_pci_ids[] = {
	{ PCI_DEVICE(NE_PCI_VENDOR_ID, NE_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ne_pci_ids);

/* The upper layer, set by ne_pci_register() before any probe can run. */
static const struct ne_pci_ops *ne_pci_upper;

static unsigned long ne_pci_timeout(void)
{
	return msecs_to_jiffies(max(READ_ONCE(cmd_timeout_ms), 1U));
}

/*
 * Wait until @deadline (jiffies) for the reply IRQ: 0, -ETIMEDOUT, or
 * -EINTR if @killable and killed.
 */
static int ne_pci_wait_reply(struct ne_pci_dev *ne_pci, bool killable,
			     unsigned long deadline)
{
	long left, wait = (long)(deadline - jiffies);

	if (wait <= 0)
		return READ_ONCE(ne_pci->reply_avail) ? 0 : -ETIMEDOUT;

	if (killable)
		left = wait_event_killable_timeout(ne_pci->reply_wq,
						   READ_ONCE(ne_pci->reply_avail),
						   wait);
	else
		left = wait_event_idle_timeout(ne_pci->reply_wq,
					       READ_ONCE(ne_pci->reply_avail),
					       wait);
	if (!left)
		return -ETIMEDOUT;

	return left < 0 ? -EINTR : 0;
}

/*
 * A previous command's waiter gave up (killed or timed out). Wait for its
 * late reply, at most until that command's own deadline, and drop it so it
 * cannot be taken for the next command's. Past the deadline give up on it
 * and go on: a device that dropped one command must not block later ones.
 */
static int ne_pci_drain(struct ne_pci_dev *ne_pci, bool killable,
			bool no_wait)
{
	int rc;

	lockdep_assert_held(&ne_pci->cmd_lock);

	if (!ne_pci->outstanding)
		return 0;
	if (no_wait)
		return -EBUSY;

	rc = ne_pci_wait_reply(ne_pci, killable, ne_pci->deadline);
	if (rc == -EINTR)
		return rc;
	if (rc)
		dev_err_ratelimited(&ne_pci->pdev->dev,
				    "no late reply from the device, going on\n");

	WRITE_ONCE(ne_pci->reply_avail, false);
	ne_pci->outstanding = false;

	return 0;
}

/* How ne_pci_submit() waits. */
#define NE_WAIT_KILLABLE	BIT(0)	/* a fatal signal ends the wait */
#define NE_WAIT_NO_LATE		BIT(1)	/* -EBUSY rather than wait for a late reply */

static int ne_pci_submit(struct ne_pci_dev *ne_pci, enum ne_cmd_type type,
			 const void *req, size_t req_size,
			 struct ne_cmd_reply *reply, unsigned int how)
{
	bool killable = how & NE_WAIT_KILLABLE;
	int rc;

	if (type <= NE_CMD_INVALID || type >= NE_CMD_MAX || !req ||
	    req_size > NE_SEND_DATA_SIZE || !reply)
		return -EINVAL;

	if (!killable)
		mutex_lock(&ne_pci->cmd_lock);
	else if (mutex_lock_killable(&ne_pci->cmd_lock))
		return -EINTR;

	rc = ne_pci_drain(ne_pci, killable, how & NE_WAIT_NO_LATE);
	if (rc)
		goto unlock;

	WRITE_ONCE(ne_pci->reply_avail, false);
	ne_pci->deadline = jiffies + ne_pci_timeout();
	memcpy_toio(ne_pci->iomem + NE_REG_SEND_DATA, req, req_size);
	iowrite32(type, ne_pci->iomem + NE_REG_COMMAND);

	rc = ne_pci_wait_reply(ne_pci, killable, ne_pci->deadline);
	if (rc) {
		ne_pci->outstanding = true;
		if (rc == -ETIMEDOUT)
			dev_err_ratelimited(&ne_pci->pdev->dev,
					    "command %d timed out\n", type);
		goto unlock;
	}

	memcpy_fromio(reply, ne_pci->iomem + NE_REG_RECV_DATA, sizeof(*reply));
	WRITE_ONCE(ne_pci->reply_avail, false);

	rc = reply->rc < 0 ? reply->rc : 0;
	if (rc < -MAX_ERRNO) {
		dev_err_ratelimited(&ne_pci->pdev->dev,
				    "command %d: invalid rc %d\n", type, rc);
		rc = -EIO;
	}
unlock:
	mutex_unlock(&ne_pci->cmd_lock);

	return rc;
}

/**
 * ne_pci_cmd() - Send one command to the device and wait for its reply.
 * @ne_pci:	The transport.
 * @type:	The command.
 * @req:	Request, copied to the send window.
 * @req_size:	Bytes of @req (at most NE_SEND_DATA_SIZE).
 * @reply:	Filled with the reply on success or device error.
 *
 * The wait is killable and bounded by the cmd_timeout_ms parameter. For
 * ioctl paths; teardown paths use ne_pci_cmd_nokill().
 *
 * Context: process context; may sleep.
 * Return: 0, the device's negative rc, -ETIMEDOUT, -EINTR or -EINVAL.
 */
int ne_pci_cmd(struct ne_pci_dev *ne_pci, enum ne_cmd_type type,
	       const void *req, size_t req_size, struct ne_cmd_reply *reply)
{
	return ne_pci_submit(ne_pci, type, req, req_size, reply,
			     NE_WAIT_KILLABLE);
}

/**
 * ne_pci_cmd_nokill() - ne_pci_cmd() for paths that must not be cut short.
 * @ne_pci:	The transport.
 * @type:	The command.
 * @req:	Request.
 * @req_size:	Bytes of @req.
 * @reply:	The reply.
 *
 * Release of a killed process, PCI remove and the event worker still need
 * the device's answer: the wait ignores signals (and does not count as a
 * hung task) but stays bounded by cmd_timeout_ms. An exiting process does
 * not wait for the late reply of a command whose waiter was killed (most
 * likely its own): it gets -EBUSY and leaves the enclave to the retries.
 *
 * Context: process context; may sleep.
 * Return: as ne_pci_cmd(), never -EINTR; -EBUSY as above.
 */
int ne_pci_cmd_nokill(struct ne_pci_dev *ne_pci, enum ne_cmd_type type,
		      const void *req, size_t req_size,
		      struct ne_cmd_reply *reply)
{
	return ne_pci_submit(ne_pci, type, req, req_size, reply,
			     current->flags & PF_EXITING ? NE_WAIT_NO_LATE : 0);
}

/**
 * ne_pci_set_event_fn() - Install or remove the upper layer's event handler.
 * @ne_pci:	The transport.
 * @fn:		Handler, or NULL.
 *
 * Removing it waits for a running handler to return.
 *
 * Context: process context; must not hold a lock the handler takes.
 */
void ne_pci_set_event_fn(struct ne_pci_dev *ne_pci, ne_event_fn fn)
{
	WRITE_ONCE(ne_pci->event_fn, fn);
	if (!fn)
		flush_work(&ne_pci->event_work);
}

static irqreturn_t ne_pci_reply_irq(int irq, void *data)
{
	struct ne_pci_dev *ne_pci = data;

	WRITE_ONCE(ne_pci->reply_avail, true);
	wake_up(&ne_pci->reply_wq);

	return IRQ_HANDLED;
}

static irqreturn_t ne_pci_event_irq(int irq, void *data)
{
	struct ne_pci_dev *ne_pci = data;

	queue_work(ne_pci->event_wq, &ne_pci->event_work);

	return IRQ_HANDLED;
}

static void ne_pci_event_work(struct work_struct *work)
{
	struct ne_pci_dev *ne_pci = container_of(work, struct ne_pci_dev,
						 event_work);
	ne_event_fn fn = READ_ONCE(ne_pci->event_fn);

	if (fn)
		fn(ne_pci);
}

static int ne_pci_setup_irqs(struct ne_pci_dev *ne_pci)
{
	struct pci_dev *pdev = ne_pci->pdev;
	int nr, rc;

	nr = pci_msix_vec_count(pdev);
	if (nr < NE_VEC_COUNT) {
		dev_err(&pdev->dev, "needs %d MSI-X vectors, has %d\n",
			NE_VEC_COUNT, nr);
		return nr < 0 ? nr : -EINVAL;
	}

	rc = pci_alloc_irq_vectors(pdev, nr, nr, PCI_IRQ_MSIX);
	if (rc < 0)
		return rc;
	ne_pci->nr_vectors = rc;

	rc = request_irq(pci_irq_vector(pdev, NE_VEC_REPLY), ne_pci_reply_irq,
			 0, "enclave_cmd", ne_pci);
	if (rc)
		goto free_vectors;

	rc = request_irq(pci_irq_vector(pdev, NE_VEC_EVENT), ne_pci_event_irq,
			 0, "enclave_evt", ne_pci);
	if (rc)
		goto free_reply_irq;

	return 0;

free_reply_irq:
	free_irq(pci_irq_vector(pdev, NE_VEC_REPLY), ne_pci);
free_vectors:
	pci_free_irq_vectors(pdev);
	return rc;
}

static void ne_pci_teardown_irqs(struct ne_pci_dev *ne_pci)
{
	struct pci_dev *pdev = ne_pci->pdev;

	free_irq(pci_irq_vector(pdev, NE_VEC_EVENT), ne_pci);
	/* A running event handler may still need the reply IRQ. */
	cancel_work_sync(&ne_pci->event_work);
	free_irq(pci_irq_vector(pdev, NE_VEC_REPLY), ne_pci);
	pci_free_irq_vectors(pdev);
}

/* Ask the device to disable itself; it acknowledges by reading back 0. */
static void ne_pci_disable(struct ne_pci_dev *ne_pci)
{
	unsigned long deadline = jiffies + ne_pci_timeout();

	iowrite8(NE_ENABLE_OFF, ne_pci->iomem + NE_REG_ENABLE);
	while (ioread8(ne_pci->iomem + NE_REG_ENABLE) != NE_ENABLE_OFF) {
		if (time_after(jiffies, deadline)) {
			dev_err(&ne_pci->pdev->dev, "device did not disable\n");
			return;
		}
		usleep_range(10000, 20000);
	}
}

static int ne_pci_enable(struct ne_pci_dev *ne_pci)
{
	struct device *dev = &ne_pci->pdev->dev;

	iowrite16(NE_VERSION_MAX, ne_pci->iomem + NE_REG_VERSION);
	if (ioread16(ne_pci->iomem + NE_REG_VERSION) != NE_VERSION_MAX) {
		dev_err(dev, "device does not support version %d\n",
			NE_VERSION_MAX);
		return -EIO;
	}

	iowrite8(NE_ENABLE_ON, ne_pci->iomem + NE_REG_ENABLE);
	if (ioread8(ne_pci->iomem + NE_REG_ENABLE) != NE_ENABLE_ON) {
		dev_err(dev, "device did not enable\n");
		return -EIO;
	}

	return 0;
}

static int ne_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ne_pci_dev *ne_pci;
	int rc;

	ne_pci = kzalloc(sizeof(*ne_pci), GFP_KERNEL);
	if (!ne_pci)
		return -ENOMEM;

	/* Everything an IRQ handler touches exists before the IRQs do. */
	ne_pci->pdev = pdev;
	mutex_init(&ne_pci->cmd_lock);
	init_waitqueue_head(&ne_pci->reply_wq);
	INIT_WORK(&ne_pci->event_work, ne_pci_event_work);

	rc = pci_enable_device(pdev);
	if (rc)
		goto free_ne_pci;

	pci_set_master(pdev);

	rc = pci_request_regions_exclusive(pdev, NE_DRV_NAME);
	if (rc)
		goto disable_pci_dev;

	ne_pci->iomem = pci_iomap(pdev, NE_PCI_BAR, 0);
	if (!ne_pci->iomem) {
		rc = -ENOMEM;
		goto release_regions;
	}

	ne_pci->event_wq = alloc_ordered_workqueue("ne_pci_dev_wq", 0);
	if (!ne_pci->event_wq) {
		rc = -ENOMEM;
		goto iounmap_bar;
	}

	rc = ne_pci_setup_irqs(ne_pci);
	if (rc)
		goto destroy_wq;

	ne_pci_disable(ne_pci);
	rc = ne_pci_enable(ne_pci);
	if (rc)
		goto teardown_irqs;

	pci_set_drvdata(pdev, ne_pci);

	rc = ne_pci_upper->attach(ne_pci);
	if (rc)
		goto disable_ne_dev;

	return 0;

disable_ne_dev:
	pci_set_drvdata(pdev, NULL);
	ne_pci_disable(ne_pci);
teardown_irqs:
	ne_pci_teardown_irqs(ne_pci);
destroy_wq:
	destroy_workqueue(ne_pci->event_wq);
iounmap_bar:
	pci_iounmap(pdev, ne_pci->iomem);
release_regions:
	pci_release_regions(pdev);
disable_pci_dev:
	pci_disable_device(pdev);
free_ne_pci:
	mutex_destroy(&ne_pci->cmd_lock);
	kfree(ne_pci);
	return rc;
}

/* probe() undone in reverse; remove and shutdown share it. */
static void ne_pci_teardown(struct pci_dev *pdev)
{
	struct ne_pci_dev *ne_pci = pci_get_drvdata(pdev);

	if (!ne_pci)
		return;

	ne_pci_upper->detach(ne_pci);
	pci_set_drvdata(pdev, NULL);
	ne_pci_disable(ne_pci);
	ne_pci_teardown_irqs(ne_pci);
	destroy_workqueue(ne_pci->event_wq);
	pci_iounmap(pdev, ne_pci->iomem);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	mutex_destroy(&ne_pci->cmd_lock);
	kfree(ne_pci);
}

static void ne_pci_remove(struct pci_dev *pdev)
{
	ne_pci_teardown(pdev);
}

static void ne_pci_shutdown(struct pci_dev *pdev)
{
	ne_pci_teardown(pdev);
}

static struct pci_driver ne_pci_driver = {
	.name		= NE_DRV_NAME,
	.id_table	= ne_pci_ids,
	.probe		= ne_pci_probe,
	.remove		= ne_pci_remove,
	.shutdown	= ne_pci_shutdown,
};

/**
 * ne_pci_register() - Register the PCI driver for an upper layer.
 * @ops:	What each probed device is attached to and detached from;
 *		must stay valid until ne_pci_unregister() returns.
 *
 * Context: module init.
 * Return: 0 or pci_register_driver()'s error.
 */
int ne_pci_register(const struct ne_pci_ops *ops)
{
	ne_pci_upper = ops;

	return pci_register_driver(&ne_pci_driver);
}

/**
 * ne_pci_unregister() - Unregister the PCI driver: every device is detached
 * and torn down before this returns.
 *
 * Context: module exit.
 */
void ne_pci_unregister(void)
{
	pci_unregister_driver(&ne_pci_driver);
}
