/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Enclave VMs: what runs behind a RUNNING slot when the emulator is given
 * a QEMU to boot enclaves with (--enclave-qemu). Without one, ENCLAVE_START
 * only flips the slot's state, which is all the conformance suite needs.
 *
 * On a successful ENCLAVE_START the image is read out of the slot's
 * memory (image.h) and QEMU's `nitro-enclave` machine boots it with the
 * slot's vCPU count and memory size; its vsock device is the enclave
 * CID's socket of a vhost-device-vsock that the harness runs.
 *
 * The slot table stays the truth: after every command and every loop turn
 * ne_vms_sync() ends each VM whose slot is no longer RUNNING (STOP, FREE,
 * reset, a new parent VM) or whose parent VM went away, TERM then KILL,
 * always reaped. A VM that ends by itself (poweroff, panic, QEMU refusing
 * the image) makes its slot STOPPED with one device event, as the `end`
 * control command does, but never sooner than min_run_ms after START: the
 * driver records the enclave as running only once START's reply is in.
 * An image that cannot be booted at all ends the same way, with the
 * reason in the log and as `boot=<code>` on START's trace line.
 */

#ifndef NE_EMU_ENCLAVE_H
#define NE_EMU_ENCLAVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ne_emu;
struct ne_devconn;
struct ne_trace_ent;
struct ne_buf;

struct ne_enclave_cfg {
	const char *qemu;		/* NULL: flag-only enclaves */
	const char *firmware;		/* QEMU -L directory, or NULL */
	const char *vsock_dir;		/* holds cid-<CID>.sock */
	const char *dir;		/* images, consoles, QEMU logs */
	const char *append;		/* enclave kernel args; NULL: default */
	unsigned int min_run_ms;	/* 0: default 1000 */
};

struct ne_vm {
	uint64_t uid;
	uint64_t cid;
	unsigned int conn_id;		/* the parent VM's device connection */
	pid_t pid;			/* 0: never launched */
	int pidfd;			/* -1 if none */
	int ended;			/* by itself: waiting to be reported */
	int ending;			/* being ended by the emulator */
	int reaped;
	uint64_t start_us;
	uint64_t start_seq;		/* the START command */
	uint64_t report_floor_us;	/* ended: report at or after this
					 * (START's reply out, min_run_ms past) */
	char why[192];
	struct ne_vm *next;
};

/*
 * Test hook (`set image-fault`): read the image as the device would see it
 * had the driver sent a wrong chunk, to prove such a driver cannot boot.
 */
enum ne_image_fault {
	NE_IMAGE_FAULT_NONE = 0,
	NE_IMAGE_FAULT_SWAP,	/* the image's 2nd and 3rd regions swapped */
	NE_IMAGE_FAULT_SHIFT,	/* the image's 2nd region read 4 KiB off */
};

struct ne_vms {
	struct ne_enclave_cfg cfg;
	enum ne_image_fault image_fault;	/* cleared by `reset` */
	struct ne_vm *list;
	uint64_t booted;		/* QEMU launched */
	uint64_t refused;		/* image could not be booted */
};

void ne_vms_init(struct ne_vms *v, const struct ne_enclave_cfg *cfg);
/* End every VM (daemon exit). */
void ne_vms_fini(struct ne_emu *emu);

/* ENCLAVE_START of @uid succeeded (or was carried out with its reply lost). */
void ne_vms_started(struct ne_emu *emu, struct ne_devconn *c, uint64_t uid,
		    struct ne_trace_ent *ent);
/*
 * Reconcile VMs with the slot table: end those whose slot is no longer
 * RUNNING or whose parent is gone. With @report, also stop the slots of
 * VMs that ended by themselves, one event each (never from inside a
 * command: the event may close the connection the reply is for).
 */
void ne_vms_sync(struct ne_emu *emu, int report);
/* A VM's pidfd is readable: reap it. */
void ne_vms_reap(struct ne_emu *emu, struct ne_vm *vm);
struct ne_vm *ne_vms_find_fd(struct ne_vms *v, int fd);
int ne_vms_timeout_ms(const struct ne_vms *v, uint64_t now_us);

/* Control protocol: `vms` lines and `console UID [OFFSET]` lines. */
void ne_vms_list(const struct ne_vms *v, struct ne_buf *out);
int ne_vms_console(const struct ne_vms *v, uint64_t uid, uint64_t offset,
		   struct ne_buf *out);
/* Where a slot's console log is (whether or not it exists yet). */
void ne_vms_console_path(const struct ne_vms *v, uint64_t uid, char *buf,
			 size_t size);

#endif /* NE_EMU_ENCLAVE_H */
