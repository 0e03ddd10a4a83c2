// SPDX-License-Identifier: GPL-2.0
/*
 * Repetition: 1000 create/close cycles leave no slot behind and the pool
 * whole; 10 full starts reuse the same hugepages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "ne_lib.h"

TEST_F_TIMEOUT(dev, stress, create_close_1000, 600)
{
	for (int i = 0; i < 1000; i++) {
		uint64_t uid = 0;
		int fd = ne_create(self->dev, &uid);

		ASSERT_OK(fd, "cycle %d", i);
		close(fd);
	}
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th), "slot leak after 1000 cycles");
	t_check_pool_whole(_th, self->dev);
}

TEST_F_TIMEOUT(dev, stress, start_10_times_same_pages, 300)
{
	char *p = t_hp(_th, SZ_64M);
	uint64_t pa0 = va_to_pa(p);

	for (int i = 0; i < 10; i++) {
		struct pollfd pf;
		uint64_t uid;
		int fd = t_create(_th, self->dev, &uid);

		t_add_mem(_th, fd, p, SZ_64M);
		t_add_vcpus(_th, fd, 2);
		t_start(_th, fd);
		if (emu_available()) {
			EMU("end %llu", (unsigned long long)uid);
			pf = (struct pollfd){ .fd = fd, .events = POLLIN };
			ASSERT_EQ(1, poll(&pf, 1, 10000), "POLLHUP in round %d", i);
			EXPECT_EQ(POLLHUP, pf.revents);
		}
		close(fd);
		EXPECT_EQ(pa0, va_to_pa(p), "the same hugepage backs the region");
	}
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}
