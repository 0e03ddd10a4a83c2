// SPDX-License-Identifier: GPL-2.0
/*
 * Driver lifecycle: module unload (refused while an enclave fd is open,
 * clean once all are closed), reload with ne_cpus given at load time, PCI
 * unbind/rebind idle and with live enclaves. These run last: they replace
 * the driver instance, and upstream oopses on the live-unbind case.
 *
 * The module is reloaded from $NE_MODULE_PATH (set by the VM harness to the
 * guest path of the .ko it inserted), else from /lib/modules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ne_lib.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

static int find_module(char *path, size_t sz)
{
	static const char *const rel[] = {
		"updates/dkms/nitro_enclaves.ko", "updates/dkms/nitro_enclaves.ko.xz",
		"extra/nitro_enclaves.ko", "updates/nitro_enclaves.ko",
		"kernel/drivers/virt/nitro_enclaves/nitro_enclaves.ko",
		"kernel/drivers/virt/nitro_enclaves/nitro_enclaves.ko.xz",
		"kernel/drivers/virt/nitro_enclaves/nitro_enclaves.ko.zst",
	};
	const char *env = getenv("NE_MODULE_PATH");
	struct utsname u;

	if (env && *env) {
		snprintf(path, sz, "%s", env);
		return access(path, R_OK) ? -ENOENT : 0;
	}
	/* Where tests/vm/run puts the driver under test. */
	snprintf(path, sz, "/lib/modules/ne/driver/nitro_enclaves.ko");
	if (!access(path, R_OK))
		return 0;
	uname(&u);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sz, "/lib/modules/%s/%s", u.release, rel[i]);
		if (!access(path, R_OK))
			return 0;
	}
	return -ENOENT;
}

static int module_insert(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	char cmd[600];

	if (fd < 0)
		return -errno;
	rc = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	if (rc && rc != -EEXIST)
		rc = syscall(SYS_finit_module, fd, params,
			     MODULE_INIT_COMPRESSED_FILE) ? -errno : 0;
	close(fd);
	if (rc && rc != -EEXIST) {
		/* Last resort: a userspace loader that can decompress. */
		snprintf(cmd, sizeof(cmd), "insmod '%s' %s >/dev/null 2>&1",
			 path, params);
		if (system(cmd) == 0)
			rc = 0;
	}
	return rc;
}

static int module_remove(void)
{
	return syscall(SYS_delete_module, "nitro_enclaves", O_NONBLOCK) ? -errno : 0;
}

static int wait_path(const char *path, int present, int ms)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	for (int t = 0; t < ms; t += 10) {
		if ((access(path, F_OK) == 0) == present)
			return 0;
		nanosleep(&nap, NULL);
	}
	return -ETIMEDOUT;
}

static void srcversion(char *buf, size_t sz)
{
	if (sysfs_read("/sys/module/nitro_enclaves/srcversion", buf, sz))
		snprintf(buf, sz, "?");
}

/* rmmod, then insmod with params; asserts the same module came back. */
static void reload(struct th_ctx *_th, const char *path, const char *params)
{
	char v0[64], v1[64];

	srcversion(v0, sizeof(v0));
	ASSERT_RC(0, module_remove(), "rmmod nitro_enclaves with no fd open");
	EXPECT_EQ(0, wait_path(NE_DEV_PATH, 0, 5000), "/dev node removed");
	for (int c = 2; c <= 5; c++)
		EXPECT_EQ(1, cpu_online(c), "CPU %d back online after unload", c);
	ASSERT_RC(0, module_insert(path, params), "insmod %s %s", path, params);
	ASSERT_EQ(0, wait_path(NE_DEV_PATH, 1, 10000), "/dev node back after insmod");
	srcversion(v1, sizeof(v1));
	EXPECT_EQ(0, strcmp(v0, v1), "reloaded module differs (%s vs %s): set NE_MODULE_PATH",
		  v0, v1);
}

TEST_F(encl, lifecycle, rmmod_refused_while_enclave_fd_open)
{
	close(self->dev);
	self->dev = -1;
	EXPECT_LT(module_remove(), 0, "the enclave file pins the module");
	EXPECT_EQ(0, access("/sys/module/nitro_enclaves", F_OK));
	EXPECT_RC(0, ne_image_info(self->fd, NE_EIF_IMAGE, NULL));
}

TEST_TIMEOUT(lifecycle, rmmod_after_all_fds_closed_and_reload, 120)
{
	char path[512];
	int dev, fd;

	if (find_module(path, sizeof(path)))
		SKIP(return, "no module file to reload (set NE_MODULE_PATH)");
	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	fd = t_create(_th, dev, NULL);
	t_make_running(_th, fd);
	close(fd);
	close(dev);
	reload(_th, path, "");
	ASSERT_RC(0, pool_write(POOL_HOME));
	dev = t_dev(_th);
	t_check_pool_whole(_th, dev);
	close(dev);
}

TEST_TIMEOUT(lifecycle, ne_cpus_given_at_load, 120)
{
	char path[512], cur[64];
	int dev;

	if (find_module(path, sizeof(path)))
		SKIP(return, "no module file to reload (set NE_MODULE_PATH)");
	reload(_th, path, "ne_cpus=" POOL_HOME);
	ASSERT_RC(0, pool_read(cur, sizeof(cur)));
	EXPECT_EQ(0, strcmp(cur, POOL_HOME), "ne_cpus reads '%s'", cur);
	for (int c = 2; c <= 5; c++)
		EXPECT_EQ(0, cpu_online(c), "CPU %d is in the pool (offline)", c);
	dev = t_dev(_th);
	t_check_pool_whole(_th, dev);
	close(dev);
}

static int unbind(const char *bdf)
{
	return sysfs_write(NE_DRV_DIR "/unbind", bdf);
}

static int bind(const char *bdf)
{
	return sysfs_write(NE_DRV_DIR "/bind", bdf);
}

TEST_TIMEOUT(lifecycle, unbind_rebind_idle, 120)
{
	char bdf[32];
	int dev;

	if (ne_driver_bdf(bdf, sizeof(bdf)))
		SKIP(return, "no bound nitro_enclaves PCI device");
	ASSERT_RC(0, unbind(bdf));
	EXPECT_EQ(0, wait_path(NE_DEV_PATH, 0, 5000), "/dev node removed");
	ASSERT_RC(0, bind(bdf));
	ASSERT_EQ(0, wait_path(NE_DEV_PATH, 1, 10000), "/dev node back");
	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	t_check_pool_whole(_th, dev);
	close(dev);
}
