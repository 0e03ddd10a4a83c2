// SPDX-License-Identifier: GPL-2.0
/*
 * Device faults that can leave an upstream driver damaged (its release
 * leaks everything when the device fails it): run after the other tests,
 * before the lifecycle tests reload the module. The two hazard.release_*
 * tests come last: upstream keeps their cores and enclave forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ne_lib.h"

TEST_F(dev, fault, malformed_replies_do_no_harm)
{
	static const char *const cmds[] = {
		"SLOT_ALLOC", "SLOT_ADD_MEM", "SLOT_ADD_VCPU", "ENCLAVE_START",
	};
	void *p = t_hp(_th, SZ_64M);

	NEED_EMU();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		uint64_t uid, cid = 0;
		uint32_t id = 0;
		int fd = -1, rc;

		if (i == 0) {
			EMU("fault malformed %s", cmds[i]);
			rc = ne_create(self->dev, &uid);
			TH_LOG("CREATE_VM with a malformed reply: %s", th_errname(rc));
			if (rc >= 0)
				close(rc);
			EMU("reset");
			continue;
		}
		fd = t_create(_th, self->dev, &uid);
		if (i >= 2)
			t_add_mem(_th, fd, p, SZ_64M);
		if (i == 3)
			t_add_vcpus(_th, fd, 2);
		EMU("fault malformed %s", cmds[i]);
		if (i == 1)
			rc = ne_set_mem(fd, 0, (uintptr_t)p, SZ_64M);
		else if (i == 2)
			rc = ne_add_vcpu(fd, &id);
		else
			rc = ne_start(fd, 0, &cid);
		TH_LOG("%s with a malformed reply: %s", cmds[i], th_errname(rc));
		close(fd);
		EMU("reset");
	}
	/* The driver must still work normally. */
	{
		int fd = t_create(_th, self->dev, NULL);

		t_make_running(_th, fd);
		close(fd);
	}
}

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
