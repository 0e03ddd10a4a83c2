// SPDX-License-Identifier: GPL-2.0
/*
 * The ne_cpus parameter (spec §3): the validation matrix, read-back,
 * runtime changes, EPERM while enclaves exist or without CAP_SYS_ADMIN.
 * The VM has siblings (0,1) (2,3) (4,5).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "ne_lib.h"

static void pool_expect(struct th_ctx *_th, const char *want)
{
	char cur[600];

	ASSERT_RC(0, pool_read(cur, sizeof(cur)));
	EXPECT_EQ(0, strcmp(cur, want), "ne_cpus reads '%s', want '%s'", cur,
		  want);
}

/* Clear the pool, tolerating upstream's EINVAL for "" (§3.2 step 5). */
static void pool_clear(struct th_ctx *_th)
{
	int rc = pool_write("");

	if (rc != -EINVAL)
		ASSERT_RC(0, rc, "clearing ne_cpus");
}

TEST(pool, reads_back_as_written)
{
	pool_clear(_th);
	ASSERT_RC(0, pool_write("2-5"));
	pool_expect(_th, "2-5");
	pool_clear(_th);
	ASSERT_RC(0, pool_write("4-5"));
	pool_expect(_th, "4-5");
	EXPECT_EQ(0, cpu_online(4), "pool CPUs go offline");
	EXPECT_EQ(0, cpu_online(5));
	EXPECT_EQ(1, cpu_online(2), "CPUs leaving the pool come back online");
	EXPECT_EQ(1, cpu_online(3));
	pool_clear(_th);
	ASSERT_RC(0, pool_write("2,3"));
	pool_expect(_th, "2,3");
}

TEST(pool, write_without_newline)
{
	pool_clear(_th);
	ASSERT_RC(0, sysfs_write(NE_CPUS_PATH, "2-3"));
	pool_expect(_th, "2-3");
}

TEST(pool, set_at_runtime_is_used)
{
	uint32_t id = 0;
	int dev, fd;

	pool_clear(_th);
	ASSERT_RC(0, pool_write("4-5"));
	dev = t_dev(_th);
	fd = t_create(_th, dev, NULL);
	ASSERT_RC(0, ne_add_vcpu(fd, &id));
	EXPECT_EQ(4, id, "the new pool is used");
	id = 2;
	EXPECT_RC(-NE_ERR_VCPU_NOT_IN_CPU_POOL, ne_add_vcpu(fd, &id));
	close(fd);
	close(dev);
}

TEST(pool, cpu0_core_refused)
{
	NEED_SMT_PAIRS();
	pool_clear(_th);
	EXPECT_RC(-EINVAL, pool_write("0-1"));
	EXPECT_RC(-EINVAL, pool_write("0"));
	EXPECT_RC(-EINVAL, pool_write("1"), "CPU 1 is CPU 0's sibling");
	EXPECT_RC(-EINVAL, pool_write("0-5"));
	EXPECT_EQ(1, cpu_online(1), "a refused pool leaves CPUs online");
}

TEST(pool, half_core_refused)
{
	NEED_SMT_PAIRS();
	pool_clear(_th);
	EXPECT_RC(-EINVAL, pool_write("2"));
	EXPECT_RC(-EINVAL, pool_write("2-4"));
	EXPECT_RC(-EINVAL, pool_write("3,5"));
	EXPECT_EQ(1, cpu_online(2));
	EXPECT_EQ(1, cpu_online(4));
}

TEST(pool, offline_cpu_refused)
{
	pool_clear(_th);
	ASSERT_RC(0, cpu_set_online(5, 0), "offline CPU 5");
	EXPECT_RC(-EINVAL, pool_write("4-5"), "CPU 5 is offline");
	EXPECT_RC(0, cpu_set_online(5, 1));
	EXPECT_RC(0, pool_write("4-5"), "accepted once CPU 5 is back");
}

TEST(pool, nonexistent_cpu_refused)
{
	int rc;

	pool_clear(_th);
	rc = pool_write("6-7");
	EXPECT_TRUE(rc == -EINVAL || rc == -ERANGE, "got %s", th_errname(rc));
}

TEST(pool, empty_clears_pool)
{
	uint64_t uid;
	int dev;

	ASSERT_RC(0, pool_set_home());
	pool_clear(_th);
	pool_expect(_th, "");
	for (int c = 2; c <= 5; c++)
		EXPECT_EQ(1, cpu_online(c), "CPU %d back online", c);
	dev = t_dev(_th);
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, ne_create(dev, &uid));
	close(dev);
}

TEST(pool, eperm_while_enclave_exists)
{
	int dev, fd;

	ASSERT_RC(0, pool_set_home());
	dev = t_dev(_th);
	fd = t_create(_th, dev, NULL);
	EXPECT_RC(-EPERM, pool_write("4-5"));
	EXPECT_RC(-EPERM, pool_write(""), "nitro-cli reads EPERM as 'enclaves running'");
	pool_expect(_th, POOL_HOME);
	t_add_vcpus(_th, fd, POOL_NCPUS);
	close(fd);
	EXPECT_RC(0, pool_write("4-5"), "allowed once the enclave is gone");
	close(dev);
}

static int write_without_cap(void *arg)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	(void)arg;
	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return pool_write("4-5");
}

TEST(pool, eperm_without_cap_sys_admin)
{
	ASSERT_RC(0, pool_set_home());
	EXPECT_RC(-EPERM, in_fork(write_without_cap, NULL));
	pool_expect(_th, POOL_HOME);
}

TEST(pool, invalid_syntax_refused)
{
	const char *bad[] = { "abc", "2-", "-3", "5-2", "2-3x", "0x2" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		pool_clear(_th);
		rc = pool_write(bad[i]);
		EXPECT_LT(rc, 0, "'%s' accepted", bad[i]);
		TH_LOG("'%s' -> %s", bad[i], th_errname(rc));
	}
}

TEST(pool, too_long_refused)
{
	char s[700] = "";

	pool_clear(_th);
	while (strlen(s) < 600)
		strcat(s, "2-5,");
	strcat(s, "2-5");
	EXPECT_RC(-ENOSPC, pool_write(s), "the string needs more than 512 bytes");
}

TEST(pool, failed_write_leaves_consistent_state)
{
	uint64_t uid;
	char cur[600];
	int dev, fd;

	NEED_SMT_PAIRS();
	ASSERT_RC(0, pool_set_home());
	EXPECT_LT(pool_write("2"), 0);
	ASSERT_RC(0, pool_read(cur, sizeof(cur)));
	dev = t_dev(_th);
	fd = ne_create(dev, &uid);
	if (!strcmp(cur, "")) {
		EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, fd);
		for (int c = 2; c <= 5; c++)
			EXPECT_EQ(1, cpu_online(c), "CPU %d online", c);
	} else {
		EXPECT_EQ(0, strcmp(cur, POOL_HOME), "ne_cpus reads '%s'", cur);
		EXPECT_OK(fd, "the old pool must still work");
	}
	if (fd >= 0)
		close(fd);
	close(dev);
}

/*
 * A pool CPU belongs to the enclaves: an admin bringing it online would let
 * NE_ADD_VCPU hand a CPU Linux is using to an enclave. Refused (EBUSY)
 * while it is in the pool; clearing the pool onlines it.
 */
TEST(pool, pool_cpu_cannot_be_onlined)
{
	pool_clear(_th);
	ASSERT_RC(0, pool_write("4-5"));
	EXPECT_RC(-EBUSY, cpu_set_online(4, 1), "onlining a pool CPU");
	EXPECT_EQ(0, cpu_online(4), "the pool CPU stays offline");
	EXPECT_RC(0, cpu_set_online(2, 1), "a CPU outside the pool is not refused");
	pool_clear(_th);
	EXPECT_EQ(1, cpu_online(4), "clearing the pool onlines it");
	EXPECT_RC(0, cpu_set_online(4, 0), "and Linux can offline it again");
	EXPECT_RC(0, cpu_set_online(4, 1), "and online it again");
}
