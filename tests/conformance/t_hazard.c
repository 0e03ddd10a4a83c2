// SPDX-License-Identifier: GPL-2.0
/*
 * Upstream hazards (spec §8, issue 3): each test shows one bug the
 * upstream driver has and this project must not. Listed, with what they
 * show, in upstream-hazards.txt. Some leave an upstream driver damaged
 * (leaked cores or a listed enclave), so they run late.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ne_lib.h"

static int add_id(int fd, uint32_t id)
{
	return ne_add_vcpu(fd, &id);
}

static int child_add2(void *arg)
{
	return add_id(*(int *)arg, 2);
}

TEST_F(dev, hazard, addvcpu_core_returned_on_eio)
{
	int a = t_create(_th, self->dev, NULL);
	int b = t_create(_th, self->dev, NULL);

	EXPECT_RC(-EIO, in_fork(child_add2, &a));
	EXPECT_RC(0, add_id(b, 2),
		  "a refused (EIO) ADD_VCPU must not keep the core reserved");
	close(a);
	close(b);
}

TEST_F(encl, hazard, slot_info_failure_keeps_state)
{
	struct pollfd pf = { .fd = self->fd, .events = POLLIN };

	NEED_EMU();
	t_make_running(_th, self->fd);
	EMU("fault rc SLOT_INFO -5 100");
	EMU("event 3");
	EXPECT_EQ(0, poll(&pf, 1, 1500),
		  "a failed SLOT_INFO must not raise POLLHUP (revents 0x%x)",
		  pf.revents);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, add_id(self->fd, 4),
		  "a failed SLOT_INFO must not move the enclave back to INIT");
	EMU("fault clear");
	EMU("end %llu", (unsigned long long)self->uid);
	EXPECT_EQ(1, poll(&pf, 1, 10000), "a real end still raises POLLHUP");
}

TEST_F(dev, hazard, killed_waiter_exits_promptly)
{
	double dt;

	NEED_EMU();
	dt = kill_blocked_waiter(5000000);
	ASSERT_GE(dt, 0, "child did not exit");
	EMU("latency all 0");
	EXPECT_LT((long)(dt * 1000), 1500, "a SIGKILLed caller waited %.2f s for the device", dt);
	usleep(5000 * 1000);	/* the late reply, before the next test */
}

/* True when the running kernel's version is below major.minor. */
static int kernel_older_than(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return 0;
	return ma < major || (ma == major && mi < minor);
}

TEST_F(encl, hazard, cow_after_fork_keeps_enclave_page)
{
	struct emu_slots s;
	uint64_t dev_pa = 0;
	int pfd[2], pid;
	char *p, c;

	NEED_EMU();
	/*
	 * Long-term pins keep the parent's page only where fork() copies a
	 * pinned hugetlb page early for the child ("hugetlb: do early cow when
	 * page pinned on src mm", Linux 5.12). Older kernels (Debian's 5.10)
	 * lack it and no driver can make up for it.
	 */
	if (kernel_older_than(5, 12))
		SKIP(return, "kernel < 5.12: no early COW of pinned hugetlb pages at fork");
	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, 4));
	/* Read the enclave's page from the device: no held-back chunk. */
	defer_set(0);
	p = t_hp(_th, SZ_2M);
	memset(p, 0xaa, SZ_2M);
	t_add_mem(_th, self->fd, p, SZ_2M);
	ASSERT_EQ(0, emu_slots(&s));
	for (int i = 0; i < s.nregions; i++)
		if (s.region[i].uid == self->uid)
			dev_pa = s.region[i].paddr;
	ASSERT_NE(0, dev_pa, "the device got no region");
	ASSERT_EQ(dev_pa, va_to_pa(p), "before fork");
	ASSERT_EQ(0, pipe(pfd));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Keep the mapping shared until the parent has written. */
		if (read(pfd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	ASSERT_GT(pid, 0);
	p[0] = 0xbb;		/* parent write after fork */
	EXPECT_EQ(dev_pa, va_to_pa(p),
		  "after fork + write the parent sees a different page than the enclave");
	if (write(pfd[1], "x", 1) < 0)
		TH_LOG("pipe write failed");
	wait_child(pid, 5000);
}

TEST(hazard, region_inside_1g_page_refused)
{
	struct emu_slots s;
	int dev, fd, rc;
	uint64_t uid;
	void *p;

	if (hp_ensure_free(SHIFT_1G, 1))
		SKIP(return, "no free 1 GiB hugepage (boot with hugepagesz=1G hugepages=N)");
	p = hp_map(SZ_1G, SHIFT_1G);
	if (!p)
		SKIP(return, "cannot map a 1 GiB hugepage");
	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	fd = t_create(_th, dev, &uid);
	rc = ne_set_mem(fd, 0, (uintptr_t)p, SZ_2M);
	EXPECT_LT(rc, 0, "a 2 MiB region at the start of a 1 GiB page must be refused");
	if (rc == 0 && emu_available() && emu_slots(&s) == 0 && s.nslots == 1)
		TH_LOG("the device was given 0x%llx bytes for a 2 MiB region",
		       (unsigned long long)s.slot[0].mem_size);
	TH_LOG("refused with %s", th_errname(rc));
	close(fd);
	close(dev);
	hp_unmap(p, SZ_1G);
}

TEST(hazard, pool_clear_is_silent)
{
	char bdf[32] = "";
	int kfd, rc;

	ne_driver_bdf(bdf, sizeof(bdf));
	ASSERT_RC(0, pool_set_home());
	kfd = kmsg_open();
	if (kfd < 0)
		SKIP(return, "cannot read /dev/kmsg");
	rc = pool_write("");
	EXPECT_TRUE(rc == 0 || rc == -EINVAL, "got %s", th_errname(rc));
	EXPECT_EQ(0, kmsg_driver_lines(kfd, bdf),
		  "clearing the pool (nitro-cli's way to re-online CPUs) must not log errors");
	close(kfd);
}
