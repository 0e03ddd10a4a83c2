// SPDX-License-Identifier: GPL-2.0
/*
 * Release when the device fails ENCLAVE_STOP or SLOT_FREE: pages, cores and
 * the enclave itself must still be freed. Upstream leaks them for good
 * (cores stay offline, ne_cpus answers EPERM), so these run after the
 * module-reload tests, just before the unbind test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "ne_lib.h"

/* Release with a device failure must still free pages, cores and the slot. */
static void release_with_fault(struct th_ctx *_th, int dev, const char *cmd)
{
	long free0 = hp_read(SHIFT_2M, "free_hugepages");
	char *p = t_hp(_th, SZ_64M);
	int fd = t_create(_th, dev, NULL);

	t_add_mem(_th, fd, p, SZ_64M);
	t_add_vcpus(_th, fd, POOL_NCPUS);
	t_start(_th, fd);
	EMU("fault rc %s -5", cmd);
	close(fd);
	/*
	 * The device still holds the slot it failed to stop/free: drop it
	 * (the fd is closed), so only the driver's own bookkeeping is tested.
	 */
	EMU("reset");
	hp_unmap(p, SZ_64M);
	EXPECT_EQ(free0, hp_read(SHIFT_2M, "free_hugepages"),
		  "hugepages leaked after %s failed on release", cmd);
	t_check_pool_whole(_th, dev);
	EXPECT_RC(0, pool_write("4-5"),
		  "the enclave must be gone from the driver's list (else EPERM)");
}

TEST_F(dev, hazard, release_frees_when_enclave_stop_fails)
{
	NEED_EMU();
	release_with_fault(_th, self->dev, "ENCLAVE_STOP");
}

TEST_F(dev, hazard, release_frees_when_slot_free_fails)
{
	NEED_EMU();
	release_with_fault(_th, self->dev, "SLOT_FREE");
}
