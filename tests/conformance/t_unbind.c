// SPDX-License-Identifier: GPL-2.0
/*
 * PCI unbind with live enclaves: they get POLLHUP, their ioctls fail, and
 * closing them is safe; then rebind. Runs last of all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "ne_lib.h"

static int unbind(const char *bdf)
{
	return sysfs_write(NE_DRV_DIR "/unbind", bdf);
}

static int bind(const char *bdf)
{
	return sysfs_write(NE_DRV_DIR "/bind", bdf);
}

static int wait_dev(int ms)
{
	for (int t = 0; t < ms; t += 10) {
		if (access(NE_DEV_PATH, F_OK) == 0)
			return 0;
		usleep(10 * 1000);
	}
	return -ETIMEDOUT;
}

/* Last: upstream dereferences the cleared device on the later release. */
TEST_TIMEOUT(hazard, unbind_with_live_enclave, 120)
{
	struct pollfd pf;
	char bdf[32];
	int dev, a, b, rc;
	uint32_t id = 0;

	if (ne_driver_bdf(bdf, sizeof(bdf)))
		SKIP(return, "no bound nitro_enclaves PCI device");
	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	a = t_create(_th, dev, NULL);
	b = t_create(_th, dev, NULL);
	t_make_running(_th, a);
	ASSERT_RC(0, unbind(bdf));
	pf = (struct pollfd){ .fd = a, .events = POLLIN };
	EXPECT_EQ(1, poll(&pf, 1, 5000), "a live enclave gets POLLHUP on unbind");
	EXPECT_EQ(POLLHUP, pf.revents);
	rc = ne_add_vcpu(b, &id);
	EXPECT_LT(rc, 0, "ioctls on a dead enclave fail");
	TH_LOG("ADD_VCPU after unbind: %s", th_errname(rc));
	close(a);
	close(b);
	close(dev);
	ASSERT_RC(0, bind(bdf));
	ASSERT_EQ(0, wait_dev(10000), "/dev node back");
	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	t_check_pool_whole(_th, dev);
	close(dev);
}
