/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The emulator context: engine, trace, faults and both sockets, driven by
 * a caller-owned poll() loop.
 *
 * main.c (or a test) asks for the pollfd set and the timeout, polls, and
 * hands the result back; nothing here blocks or sleeps. Delayed replies
 * (latency injection) are timers checked on every turn of the loop.
 */

#ifndef NE_EMU_EMU_H
#define NE_EMU_EMU_H

#include <poll.h>
#include <stdint.h>

#include "control.h"
#include "dbgcon.h"
#include "devlink.h"
#include "enclave.h"
#include "engine.h"
#include "fault.h"
#include "trace.h"

struct ne_emu_cfg {
	const char *dev_path;		/* device socket (QEMU chardev) */
	const char *ctl_path;		/* control socket */
	unsigned int mem_regions;	/* 0: default 256 */
	unsigned int max_slots;		/* 0: default 64 */
	uint64_t latency_us;		/* default reply latency */
	struct ne_enclave_cfg enclave;	/* enclave VMs; .qemu NULL: none */
	const char *hv_vsock;		/* CID 0's vhost-user socket, or NULL */
};

struct ne_emu {
	struct ne_emu_cfg cfg;
	struct ne_engine engine;
	struct ne_trace trace;
	struct ne_faults faults;
	struct ne_devlink dev;
	struct ne_control ctl;
	struct ne_vms vms;
	struct ne_dbgcon dbgcon;
	uint64_t seq;			/* commands received, never reset */
	struct pollfd *pfds;
	unsigned int cap_pfds;
};

uint64_t ne_now_us(void);		/* CLOCK_MONOTONIC */

/* Engine, trace and faults only: enough for in-process tests. */
int ne_emu_init(struct ne_emu *emu, const struct ne_emu_cfg *cfg);
/* Also bind and listen on both sockets. -errno on failure. */
int ne_emu_open(struct ne_emu *emu, const struct ne_emu_cfg *cfg);
/* Close every connection, unlink the sockets, free everything. */
void ne_emu_close(struct ne_emu *emu);

/* The loop: fds to poll, how long (-1: forever), then the result. */
struct pollfd *ne_emu_pollfds(struct ne_emu *emu, unsigned int *n);
int ne_emu_timeout_ms(const struct ne_emu *emu);
void ne_emu_handle(struct ne_emu *emu, const struct pollfd *pfds,
		   unsigned int n);

/* Control `reset`: free slots, clear faults, trace, stats, latency. */
void ne_emu_reset(struct ne_emu *emu);

/* A CMD from the device: faults, engine, trace, then the reply. */
void ne_emu_command(struct ne_emu *emu, struct ne_devconn *c, uint32_t wire_id,
		    const struct ne_wire_cmd *cmd);

/* A create-and-listen helper for unix stream sockets; -errno. */
int ne_listen_unix(const char *path);

#endif /* NE_EMU_EMU_H */
