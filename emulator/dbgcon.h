/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Debug consoles the way a real Nitro hypervisor serves them: a debug-mode
 * enclave's serial console is a vsock stream from (CID 0, port enclave
 * CID + 10000). The parent (nitro-cli, `nectl run --debug`) connects right
 * after START; a client that has no connection within its 2 s connect
 * timeout gives up, so the REQUEST is answered on the turn it arrives.
 *
 * The packets travel through the CID-0 entry of the harness's
 * vhost-device-vsock (vhostfe.h, hvsock.h). A connection is accepted only
 * for a RUNNING slot with that CID that was started in debug mode, and
 * not from an enclave; any other gets RST (the client sees ECONNRESET). An accepted one streams
 * the slot's console log from its first byte and follows it; once the
 * slot is no longer running, what is left is sent and the stream shut.
 */

#ifndef NE_EMU_DBGCON_H
#define NE_EMU_DBGCON_H

#include <poll.h>
#include <stdint.h>

#include "hvsock.h"
#include "vhostfe.h"

#define NE_DBGCON_PORT_BASE	10000
#define NE_DBGCON_TAIL_MS	100	/* how often a console is looked at */
#define NE_DBGCON_RETRY_MS	1000	/* reconnecting to the backend */

struct ne_emu;
struct ne_buf;

struct ne_dbgcon {
	const char *path;		/* vhost-user socket; NULL: off */
	struct ne_vhostfe fe;
	struct ne_hvsock hv;
	int up;
	int warned;			/* connect failure logged once */
	uint64_t retry_us;
	uint64_t tail_us;		/* next look at the consoles */
};

void ne_dbgcon_init(struct ne_emu *emu, const char *path);
void ne_dbgcon_fini(struct ne_emu *emu);
/* Connect now if due; stream what the consoles have new. */
void ne_dbgcon_run(struct ne_emu *emu);
int ne_dbgcon_timeout_ms(const struct ne_dbgcon *d, uint64_t now_us);
/* Its fds for the poll set, and what happened on one of them (1: ours). */
void ne_dbgcon_fds(const struct ne_dbgcon *d, int fds[2]);
int ne_dbgcon_handle(struct ne_emu *emu, int fd, short revents);
/* `vms`: one `V hvsock=...` line, when enabled. */
void ne_dbgcon_list(const struct ne_dbgcon *d, struct ne_buf *out);

#endif /* NE_EMU_DBGCON_H */
