// SPDX-License-Identifier: GPL-2.0
/*
 * Device faults that can leave an upstream driver damaged (its release
 * leaks everything when the device fails it): run after the other tests,
 * before the lifecycle tests reload the module.
 */
#define _GNU_SOURCE
#include <errno.h>
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
