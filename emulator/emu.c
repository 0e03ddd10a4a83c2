// SPDX-License-Identifier: GPL-2.0
/*
 * The emulator context: lifetime, the poll set, and command dispatch.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"

uint64_t ne_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int ne_listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* A stale socket from a killed run; never remove anything else. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 16)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ne_emu_init(struct ne_emu *emu, const struct ne_emu_cfg *cfg)
{
	struct ne_engine_cfg ecfg = {
		.max_slots = cfg->max_slots,
		.mem_regions = cfg->mem_regions,
	};

	memset(emu, 0, sizeof(*emu));
	emu->cfg = *cfg;
	ne_engine_init(&emu->engine, &ecfg);
	emu->cfg.mem_regions = emu->engine.cfg.mem_regions;
	emu->cfg.max_slots = emu->engine.cfg.max_slots;
	ne_trace_init(&emu->trace);
	ne_faults_init(&emu->faults, cfg->latency_us);
	ne_devlink_init(&emu->dev);
	ne_control_init(&emu->ctl);
	ne_vms_init(&emu->vms, &cfg->enclave);
	ne_dbgcon_init(emu, cfg->hv_vsock);
	return 0;
}

int ne_emu_open(struct ne_emu *emu, const struct ne_emu_cfg *cfg)
{
	int fd;

	ne_emu_init(emu, cfg);
	fd = ne_listen_unix(cfg->dev_path);
	if (fd < 0)
		goto close_emu;
	emu->dev.lfd = fd;
	fd = ne_listen_unix(cfg->ctl_path);
	if (fd < 0)
		goto close_emu;
	emu->ctl.lfd = fd;
	/* Up before the parent boots: its first console REQUEST is early. */
	ne_dbgcon_run(emu);
	return 0;

close_emu:
	ne_emu_close(emu);
	return fd;
}

void ne_emu_close(struct ne_emu *emu)
{
	ne_dbgcon_fini(emu);
	ne_vms_fini(emu);
	if (emu->dev.lfd >= 0 && emu->cfg.dev_path)
		unlink(emu->cfg.dev_path);
	if (emu->ctl.lfd >= 0 && emu->cfg.ctl_path)
		unlink(emu->cfg.ctl_path);
	ne_devlink_fini(&emu->dev);
	ne_control_fini(&emu->ctl);
	ne_engine_fini(&emu->engine);
	ne_trace_fini(&emu->trace);
	ne_faults_clear(&emu->faults);
	free(emu->pfds);
	emu->pfds = NULL;
}

void ne_emu_reset(struct ne_emu *emu)
{
	unsigned int n = ne_engine_free_all(&emu->engine);

	ne_engine_set_mem_regions(&emu->engine, emu->cfg.mem_regions);
	ne_faults_reset(&emu->faults);
	ne_trace_reset(&emu->trace);
	emu->vms.image_fault = NE_IMAGE_FAULT_NONE;
	ne_log(0, "reset: freed %u slots, faults/trace/stats/latency cleared",
	       n);
	ne_vms_sync(emu, 0);
}

static int add_pfd(struct ne_emu *emu, unsigned int *n, int fd, short ev)
{
	if (*n == emu->cap_pfds) {
		unsigned int cap = emu->cap_pfds ? emu->cap_pfds * 2 : 16;
		struct pollfd *p = realloc(emu->pfds, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		emu->pfds = p;
		emu->cap_pfds = cap;
	}
	emu->pfds[*n].fd = fd;
	emu->pfds[*n].events = ev;
	emu->pfds[*n].revents = 0;
	(*n)++;
	return 0;
}

struct pollfd *ne_emu_pollfds(struct ne_emu *emu, unsigned int *n)
{
	struct ne_devconn *c;
	struct ne_ctlclient *cl;
	struct ne_vm *vm;
	int hv[2];

	*n = 0;
	/* Connections first: handle() must see them before new accepts. */
	for (c = emu->dev.conns; c; c = c->next)
		add_pfd(emu, n, c->fd, (short)(POLLIN |
			(ne_buf_pending(&c->out) ? POLLOUT : 0)));
	for (cl = emu->ctl.clients; cl; cl = cl->next)
		add_pfd(emu, n, cl->fd, (short)((cl->eof ? 0 : POLLIN) |
			(ne_buf_pending(&cl->out) ? POLLOUT : 0)));
	for (vm = emu->vms.list; vm; vm = vm->next)
		if (vm->pidfd >= 0)
			add_pfd(emu, n, vm->pidfd, POLLIN);
	ne_dbgcon_fds(&emu->dbgcon, hv);
	if (hv[0] >= 0)
		add_pfd(emu, n, hv[0], POLLIN);
	if (hv[1] >= 0)
		add_pfd(emu, n, hv[1], POLLIN);
	if (emu->dev.lfd >= 0)
		add_pfd(emu, n, emu->dev.lfd, POLLIN);
	if (emu->ctl.lfd >= 0)
		add_pfd(emu, n, emu->ctl.lfd, POLLIN);
	return emu->pfds;
}

int ne_emu_timeout_ms(const struct ne_emu *emu)
{
	uint64_t now = ne_now_us();
	int a = ne_devlink_timeout_ms(&emu->dev, now);
	int b = ne_vms_timeout_ms(&emu->vms, now);
	int c = ne_dbgcon_timeout_ms(&emu->dbgcon, now);

	a = a < 0 ? b : b < 0 ? a : a < b ? a : b;
	return a < 0 ? c : c < 0 ? a : a < c ? a : c;
}

void ne_emu_handle(struct ne_emu *emu, const struct pollfd *pfds,
		   unsigned int n)
{
	unsigned int i;

	/*
	 * Look every fd up again: handling one connection may close another
	 * (a new VM replaces the old device link). Connections are only
	 * opened by the listeners, which come last. A pidfd number can be
	 * reused within a pass (a VM ended, another started), which costs
	 * one harmless WNOHANG reap.
	 */
	for (i = 0; i < n; i++) {
		int fd = pfds[i].fd;
		struct ne_devconn *c;
		struct ne_ctlclient *cl;
		struct ne_vm *vm;

		if (!pfds[i].revents)
			continue;
		if (fd == emu->dev.lfd) {
			ne_devlink_accept(emu);
			continue;
		}
		if (fd == emu->ctl.lfd) {
			ne_control_accept(emu);
			continue;
		}
		c = ne_devlink_find(&emu->dev, fd);
		if (c) {
			ne_devlink_io(emu, c, pfds[i].revents);
			continue;
		}
		cl = ne_control_find(&emu->ctl, fd);
		if (cl) {
			ne_control_io(emu, cl, pfds[i].revents);
			continue;
		}
		vm = ne_vms_find_fd(&emu->vms, fd);
		if (vm) {
			ne_vms_reap(emu, vm);
			continue;
		}
		ne_dbgcon_handle(emu, fd, pfds[i].revents);
	}
	ne_devlink_run_timers(emu, ne_now_us());
	/* Connections come and go, VMs end by themselves: catch up. */
	ne_vms_sync(emu, 1);
	ne_dbgcon_run(emu);
}

void ne_emu_command(struct ne_emu *emu, struct ne_devconn *c, uint32_t wire_id,
		    const struct ne_wire_cmd *cmd)
{
	uint32_t type = le32toh(cmd->cmd_type);
	uint64_t seq = ++emu->seq, now = ne_now_us();
	struct ne_wire_reply rep;
	struct ne_cmd_reply reply;
	struct ne_trace_ent *ent;
	enum ne_fault_kind kind;
	char desc[256];
	int32_t rc = 0;

	ent = ne_trace_add(&emu->trace, seq, type, cmd->data,
			   sizeof(cmd->data), now);
	kind = ne_faults_take(&emu->faults, type, &rc);
	memset(&rep, 0, sizeof(rep));
	memset(&reply, 0, sizeof(reply));
	switch (kind) {
	case NE_FAULT_NONE:
	case NE_FAULT_LOST:	/* the device did it; its reply is lost */
		rc = ne_engine_cmd(&emu->engine, type, cmd->data,
				   sizeof(cmd->data), &reply);
		/* The VM follows before the reply: STOP means stopped. */
		if (!rc && type == NE_CMD_ENCLAVE_START)
			ne_vms_started(emu, c, ne_req_slot_uid(type, cmd->data,
					sizeof(cmd->data)), ent);
		ne_vms_sync(emu, 0);
		break;
	case NE_FAULT_RC:
		/* Refused as the device would, without touching any state. */
		reply.rc = (int32_t)htole32((uint32_t)rc);
		reply.slot_uid = htole64(ne_req_slot_uid(type, cmd->data,
							 sizeof(cmd->data)));
		break;
	case NE_FAULT_MALFORMED:
		/* Short and garbage: rc reads as a huge negative number. */
		memset(&reply, 0xa5, 12);
		memcpy(&rc, &reply, sizeof(rc));
		rc = (int32_t)le32toh((uint32_t)rc);
		break;
	case NE_FAULT_DROP:
		break;
	}
	memcpy(rep.data, &reply, sizeof(reply));
	rep.len = htole32(kind == NE_FAULT_MALFORMED ? 12 : sizeof(reply));
	if (ent) {
		ent->fault = kind;
		ent->rc = rc;
		ent->reply = reply;
	}
	ne_trace_describe(type, cmd->data, sizeof(cmd->data), desc,
			  sizeof(desc));
	if (kind == NE_FAULT_DROP || kind == NE_FAULT_LOST) {
		ne_log(wire_id, "seq=%llu %s: %s (fault)",
		       (unsigned long long)seq, desc,
		       kind == NE_FAULT_LOST ? "done, reply lost" :
		       "reply dropped");
		return;
	}
	ne_log(wire_id, "seq=%llu %s rc=%d%s", (unsigned long long)seq, desc,
	       rc, kind == NE_FAULT_RC ? " (fault rc)" :
	       kind == NE_FAULT_MALFORMED ? " (fault malformed)" : "");
	ne_devlink_reply(emu, c, wire_id, seq, &rep,
			 ne_faults_latency(&emu->faults, type));
}
