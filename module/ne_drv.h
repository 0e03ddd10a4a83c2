/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Nitro Enclaves driver: the private header (structures, locking rules and
 * the functions each file offers the others).
 *
 * Locking
 * -------
 * Lock order, outermost first:
 *
 *   ne_visit_lock -> ne_list_lock -> ne_enclave.lock -> ne_cpu_pool_lock
 *   -> ne_pci_dev.cmd_lock
 *
 * - ne_visit_lock (ne_misc.c) keeps one visit of the enclaves at a time
 *   (event handler or retry timer).
 * - ne_list_lock (ne_misc.c, the one file that touches the enclave list)
 *   guards the list and the published PCI device. NE_CREATE_VM holds it
 *   for the whole call (one device command), the ne_cpus setter across
 *   ne_cpu_pool_set() (its busy predicate, "an enclave exists", and the
 *   pool rebuild), and the orphan-slot sweep (rare: only after a
 *   SLOT_ALLOC without an answer) across its commands, so no enclave is
 *   between SLOT_ALLOC and being listed. Release and the visits hold it
 *   only to unlist an enclave or to take references on the listed ones:
 *   neither waits for an enclave under it, so one enclave's long ioctl
 *   (pinning memory) never holds up the creation or release of another.
 *   Only PCI remove takes enclave locks under it, to kill the enclaves.
 * - ne_enclave.lock guards one enclave's state and resources. It is held
 *   across that enclave's ioctls, pinning and device commands included.
 * - ne_cpu_pool_lock (ne_cpu_pool.c) guards the pool's cores.
 * - ne_pci_dev.cmd_lock keeps one device command in flight.
 * All are statically initialised or initialised before they can be reached
 * (the PCI device's before its IRQs are requested).
 *
 * Lifetime
 * --------
 * An enclave is reference counted (ne_enclave.ref): one reference for its
 * file, one for the enclave list while it is listed, one per visit of the
 * event handler. Anyone holding ne_list_lock may take another on a listed
 * enclave. The last put frees the structure, which by then holds no
 * slot, page or core (or, at module unload, leaks them on purpose).
 *
 * Outcome-unknown rule
 * --------------------
 * A device command that failed, timed out, or whose waiter was killed may
 * still have been carried out. So pages and cores go back to Linux only
 * once the device has confirmed that the slot is gone (SLOT_FREE
 * succeeded, or the device does not know the slot). Until then the enclave
 * is QUARANTINED: it stays listed with its pins and cores, and the driver
 * asks the device again on every device event and on a backoff timer
 * (ne_misc.c). A region whose SLOT_ADD_MEM outcome is unknown, and a core
 * whose SLOT_ADD_VCPU outcome is unknown, stay held by their enclave in
 * the same way.
 */

#ifndef NE_DRV_H
#define NE_DRV_H

#include <linux/cpumask.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "ne_merge.h"
#include "ne_proto.h"

#define NE_DRV_NAME		"nitro_enclaves"
#ifndef NE_DRV_VERSION	/* normally from the project's VERSION file */
#define NE_DRV_VERSION		"0.0.0"
#endif

#define NE_EIF_LOAD_OFFSET	(8ULL << 20)
#define NE_MIN_ENCLAVE_MEM_SIZE	(64ULL << 20)
#define NE_PARENT_VM_CID	3

struct ne_pci_dev;

/**
 * typedef ne_event_fn - Called from the transport's ordered workqueue when
 * the device signals an out-of-band event.
 * @ne_pci:	The transport that got the event.
 */
typedef void (*ne_event_fn)(struct ne_pci_dev *ne_pci);

/**
 * struct ne_pci_ops - What the transport calls upward, from PCI probe and
 * remove; handed down by ne_pci_register().
 * @attach:	A device is ready for commands. An error fails the probe.
 * @detach:	The device goes away (remove or shutdown); it still takes
 *		commands until this returns.
 */
struct ne_pci_ops {
	int (*attach)(struct ne_pci_dev *ne_pci);
	void (*detach)(struct ne_pci_dev *ne_pci);
};

/**
 * struct ne_pci_dev - The PCI transport (ne_pci.c).
 * @pdev:		The PCI device.
 * @iomem:		BAR 3 mapping.
 * @cmd_lock:		Keeps one command in flight; guards @outstanding and
 *			the send/receive windows.
 * @reply_wq:		Waiters for @reply_avail.
 * @reply_avail:	Set by the reply IRQ, cleared by the command path.
 * @outstanding:	A command timed out or its waiter was killed: its late
 *			reply must be consumed before the next command.
 * @deadline:		When the last command submitted times out (jiffies).
 * @event_wq:		Ordered workqueue running @event_work.
 * @event_work:		Calls @event_fn.
 * @event_fn:		The upper layer's handler (set before it can fire).
 * @nr_vectors:		MSI-X vectors allocated.
 */
struct ne_pci_dev {
	struct pci_dev *pdev;
	void __iomem *iomem;
	struct mutex cmd_lock;		/* one command in flight */
	wait_queue_head_t reply_wq;
	bool reply_avail;
	bool outstanding;
	unsigned long deadline;
	struct workqueue_struct *event_wq;
	struct work_struct event_work;
	ne_event_fn event_fn;
	int nr_vectors;
};

/**
 * enum ne_state - Enclave states. The first three are the device's values.
 * @NE_STATE_INIT:	Created, being set up.
 * @NE_STATE_RUNNING:	Started.
 * @NE_STATE_STOPPED:	Ended on its own (the device said so).
 * @NE_STATE_DEAD:	Torn down: the device confirmed the slot is gone and
 *			slot, pages and cores were released.
 * @NE_STATE_QUARANTINED: Torn down, but the device has not confirmed that
 *			the slot is gone: pages stay pinned and cores
 *			reserved (and offline) until it does.
 */
enum ne_state {
	NE_STATE_INIT = NE_SLOT_STATE_INIT,
	NE_STATE_RUNNING = NE_SLOT_STATE_RUNNING,
	NE_STATE_STOPPED = NE_SLOT_STATE_STOPPED,
	NE_STATE_DEAD = 0xfffe,
	NE_STATE_QUARANTINED = 0xfffd,
};

/**
 * struct ne_pool_snapshot - What an enclave remembers of the pool.
 * @nr_parent_vm_cores:	Bounds vCPU ids (with @threads_per_core).
 * @threads_per_core:	SMT threads per core.
 * @numa_node:		Node enclave memory must come from.
 */
struct ne_pool_snapshot {
	unsigned int nr_parent_vm_cores;
	unsigned int threads_per_core;
	int numa_node;
};

/**
 * struct ne_enclave - One enclave (one slot in the device).
 * @ref:		References: the file's, the list's, and one per
 *			event handler visit in progress.
 * @node:		In the enclave list (empty once unlisted); ne_list_lock,
 *			only ne_misc.c touches it.
 * @event_node:		In the event handler's private list while it holds
 *			a reference; only the handler uses it (one at a
 *			time: one work item on an ordered workqueue).
 * @lock:		Guards every field below except @eventq. @has_event,
 *			@state and @may_run are also read without it
 *			(READ_ONCE; written with WRITE_ONCE under it).
 * @eventq:		poll() waiters.
 * @has_event:		The enclave ended (level-triggered EPOLLHUP).
 * @state:		enum ne_state.
 * @may_run:		ENCLAVE_START was sent (whatever came of it) and
 *			neither ENCLAVE_STOP nor SLOT_INFO has shown since
 *			that the enclave does not run: release must stop it.
 *			Kept through QUARANTINED, for the retries.
 * @refresh_pending:	A SLOT_INFO after an event failed: the retry timer
 *			asks again.
 * @file_closed:	The enclave's file was released.
 * @retries:		Reclaim attempts since the enclave was quarantined.
 * @slot_uid:		Device slot; 0 until SLOT_ALLOC succeeded (and the
 *			enclave is listed).
 * @pci:		The transport; NULL once the enclave is DEAD, or
 *			QUARANTINED on a device that went away.
 * @mm:			Creator's mm (grabbed), for the EIO check.
 * @pool:		The pool's shape when the enclave was created.
 * @reserved_cpus:	CPUs of the cores reserved for this enclave.
 * @vcpu_ids:		CPUs added to the enclave.
 * @vcpus_unknown:	CPUs whose SLOT_ADD_VCPU got no answer (timeout,
 *			killed wait, malformed reply): the device may have
 *			them, so its EEXIST on a retry means done.
 * @nr_vcpus:		Weight of @vcpu_ids.
 * @mem_regions:	struct ne_mem_region list, in the order added.
 * @held_regions:	Regions refused by the ioctl whose SLOT_ADD_MEM
 *			outcome is unknown: pinned until the slot is freed.
 * @max_mem_regions:	The device's limit of physical chunks.
 * @nr_mem_regions:	Physical chunks given to the device or @pending.
 * @mem_size:		Bytes given to the device or @pending.
 * @pending:		The last chunk, held back so the next region can
 *			extend it (size 0: none). Sent before start.
 */
struct ne_enclave {
	struct kref ref;
	struct list_head node;
	struct list_head event_node;
	struct mutex lock;		/* the enclave's state */
	wait_queue_head_t eventq;
	bool has_event;
	u16 state;
	bool may_run;
	bool refresh_pending;
	bool file_closed;
	unsigned int retries;
	u64 slot_uid;
	struct ne_pci_dev *pci;
	struct mm_struct *mm;
	struct ne_pool_snapshot pool;
	cpumask_var_t reserved_cpus;
	cpumask_var_t vcpu_ids;
	cpumask_var_t vcpus_unknown;
	unsigned int nr_vcpus;
	struct list_head mem_regions;
	struct list_head held_regions;
	u64 max_mem_regions;
	u64 nr_mem_regions;
	u64 mem_size;
	struct ne_phys_range pending;
};

/**
 * ne_cmd_refused() - Did the device itself answer @rc?
 * @rc:		What ne_pci_cmd() returned.
 * @reply:	Its reply, zeroed before the call.
 *
 * A refusal the device answered is a known outcome; a timeout, a killed or
 * never-sent command and a malformed reply are not.
 */
static inline bool ne_cmd_refused(int rc, const struct ne_cmd_reply *reply)
{
	return rc < 0 && rc == reply->rc;
}

/* ne_pci.c: the transport. */
int ne_pci_cmd(struct ne_pci_dev *ne_pci, enum ne_cmd_type type,
	       const void *req, size_t req_size, struct ne_cmd_reply *reply);
int ne_pci_cmd_nokill(struct ne_pci_dev *ne_pci, enum ne_cmd_type type,
		      const void *req, size_t req_size,
		      struct ne_cmd_reply *reply);
void ne_pci_set_event_fn(struct ne_pci_dev *ne_pci, ne_event_fn fn);
int ne_pci_register(const struct ne_pci_ops *ops);
void ne_pci_unregister(void);

/* ne_misc.c: the /dev node, NE_CREATE_VM, the enclave list. */
void ne_misc_unlist(struct ne_enclave *ne);
void ne_misc_retry_soon(void);

/* ne_enclave.c: enclave object, state machine, fops. */
extern const struct file_operations ne_enclave_fops;
struct ne_enclave *ne_enclave_alloc(const struct ne_pool_snapshot *snap);
void ne_enclave_get(struct ne_enclave *ne);
void ne_enclave_put(struct ne_enclave *ne);
bool ne_enclave_kill(struct ne_enclave *ne);
bool ne_enclave_event(struct ne_enclave *ne, bool *unlist);
void ne_enclave_abandon(struct ne_enclave *ne);
int ne_enclave_describe(struct ne_enclave *ne, char *buf, size_t size);

/* ne_cpu_pool.c: the CPU pool and the value of the ne_cpus parameter. */
int ne_cpu_pool_snapshot(struct ne_pool_snapshot *snap);
int ne_cpu_pool_pick(struct cpumask *reserved, const struct cpumask *used,
		     unsigned int *cpu, bool *reserved_new);
int ne_cpu_pool_reserve(struct cpumask *reserved, unsigned int cpu);
void ne_cpu_pool_unreserve(struct cpumask *reserved, unsigned int cpu);
void ne_cpu_pool_put(const struct cpumask *reserved);
int ne_cpu_pool_set(const char *val, bool (*busy)(void));
int ne_cpu_pool_show(char *buf);
int ne_cpu_pool_init(void);
void ne_cpu_pool_exit(void);

/* ne_mem.c: user memory regions. */
int ne_mem_region_add(struct ne_enclave *ne, u64 uaddr, u64 size);
int ne_mem_flush(struct ne_enclave *ne);
void ne_mem_release(struct ne_enclave *ne);
void ne_mem_abandon(struct ne_enclave *ne);
u64 ne_mem_pinned_bytes(struct ne_enclave *ne);

#endif /* NE_DRV_H */
