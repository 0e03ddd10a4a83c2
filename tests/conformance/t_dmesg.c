// SPDX-License-Identifier: GPL-2.0
/*
 * dmesg stays silent on success paths: no record naming nitro_enclaves or
 * the device's BDF while a pool is set and enclaves live their whole life.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "ne_lib.h"

TEST(dmesg, silent_on_success_paths)
{
	char bdf[32] = "";
	uint64_t uid, off;
	struct pollfd pf;
	int kfd, dev, fd, rc;
	char *p;

	ne_driver_bdf(bdf, sizeof(bdf));
	/* Clearing the pool is covered by hazard.pool_clear_is_silent. */
	rc = pool_write("");
	EXPECT_TRUE(rc == 0 || rc == -EINVAL, "clearing ne_cpus: %s",
		    th_errname(rc));
	kfd = kmsg_open();
	if (kfd < 0)
		SKIP(return, "cannot read /dev/kmsg: %s", strerror(-kfd));
	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	p = t_hp(_th, SZ_64M);
	for (int round = 0; round < 2; round++) {
		fd = t_create(_th, dev, &uid);
		ASSERT_RC(0, ne_image_info(fd, NE_EIF_IMAGE, &off));
		t_add_mem(_th, fd, p, SZ_64M);
		t_add_vcpus(_th, fd, POOL_NCPUS);
		t_start(_th, fd);
		if (round == 0 && emu_available()) {
			EMU("end %llu", (unsigned long long)uid);
			pf = (struct pollfd){ .fd = fd, .events = POLLIN };
			EXPECT_EQ(1, poll(&pf, 1, 10000));
		}
		close(fd);
	}
	close(dev);
	EXPECT_EQ(0, kmsg_driver_lines(kfd, bdf),
		  "success paths must not log (BDF %s)", bdf[0] ? bdf : "?");
	close(kfd);
}
