// SPDX-License-Identifier: GPL-2.0
/*
 * The nitro-cli driver-test list (spec §10), one test per item, in the
 * order nitro-cli's tests/test_dev_driver.rs runs them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ne_lib.h"

static uint64_t a(const void *p)
{
	return (uintptr_t)p;
}

static int add_id(int fd, uint32_t id)
{
	return ne_add_vcpu(fd, &id);
}

TEST_F(dev, nitrocli, create_vm_null_arg)
{
	EXPECT_LT(ne_ioctl(self->dev, NE_CREATE_VM, NULL), 0);
}

TEST_F(dev, nitrocli, enclave_ioctl_on_dev_fd)
{
	uint32_t v = 0;

	EXPECT_RC(-ENOTTY, ne_ioctl(self->dev, NE_ADD_VCPU, &v));
}

TEST_F(encl, nitrocli, region_va_zero)
{
	EXPECT_LT(ne_set_mem(self->fd, 0, 0, SZ_2M), 0);
}

TEST_F(encl, nitrocli, region_unaligned_va)
{
	char *p = t_hp(_th, SZ_2M);

	EXPECT_RC(-NE_ERR_UNALIGNED_MEM_REGION_ADDR,
		  ne_set_mem(self->fd, 0, a(p + 4096), SZ_2M));
}

TEST_F(encl, nitrocli, region_half_size)
{
	char *p = t_hp(_th, SZ_2M);

	EXPECT_RC(-NE_ERR_INVALID_MEM_REGION_SIZE,
		  ne_set_mem(self->fd, 0, a(p), SZ_1M));
}

TEST_F(encl, nitrocli, region_double_size)
{
	char *p = t_hp(_th, 2 * SZ_2M);

	ASSERT_EQ(0, munmap(p + SZ_2M, SZ_2M));
	EXPECT_LT(ne_set_mem(self->fd, 0, a(p), 2 * SZ_2M), 0,
		  "declared twice the mapped size");
}

TEST_F(encl, nitrocli, region_size_u64max_minus_2mib_plus_1)
{
	char *p = t_hp(_th, SZ_2M);

	EXPECT_LT(ne_set_mem(self->fd, 0, a(p), UINT64_MAX - SZ_2M + 1), 0);
}

TEST_F(encl, nitrocli, region_outside_mapping)
{
	char *p = t_hp(_th, 2 * SZ_2M);

	ASSERT_EQ(0, munmap(p + SZ_2M, SZ_2M));
	EXPECT_LT(ne_set_mem(self->fd, 0, a(p + SZ_2M), SZ_2M), 0);
}

TEST_F(encl, nitrocli, region_duplicate)
{
	char *p = t_hp(_th, SZ_2M);

	t_add_mem(_th, self->fd, p, SZ_2M);
	EXPECT_RC(-NE_ERR_MEM_REGION_ALREADY_USED,
		  ne_set_mem(self->fd, 0, a(p), SZ_2M));
}

TEST_F(encl, nitrocli, region_flags_1024)
{
	char *p = t_hp(_th, SZ_2M);

	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE,
		  ne_set_mem(self->fd, 1024, a(p), SZ_2M));
}

TEST_F(encl, nitrocli, vcpu_u32_max)
{
	EXPECT_RC(-NE_ERR_INVALID_VCPU, add_id(self->fd, UINT32_MAX));
}

TEST_F(encl, nitrocli, vcpu_duplicate)
{
	ASSERT_RC(0, add_id(self->fd, 2));
	EXPECT_RC(-NE_ERR_VCPU_ALREADY_USED, add_id(self->fd, 2));
}

TEST_F(encl, nitrocli, vcpu_one_more_auto_than_pool)
{
	t_add_vcpus(_th, self->fd, POOL_NCPUS);
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, add_id(self->fd, 0));
}

TEST_F(encl, nitrocli, start_no_resources)
{
	uint64_t cid = 0;

	EXPECT_RC(-NE_ERR_NO_MEM_REGIONS_ADDED, ne_start(self->fd, 0, &cid));
}

TEST_F(encl, nitrocli, start_no_vcpus)
{
	uint64_t cid = 0;

	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	EXPECT_RC(-NE_ERR_NO_VCPUS_ADDED, ne_start(self->fd, 0, &cid));
}

TEST_F(encl, nitrocli, start_no_memory)
{
	uint64_t cid = 0;

	t_add_vcpus(_th, self->fd, 2);
	EXPECT_RC(-NE_ERR_NO_MEM_REGIONS_ADDED, ne_start(self->fd, 0, &cid));
}

TEST_F(encl, nitrocli, start_sibling_missing)
{
	uint64_t cid = 0;

	NEED_SMT_PAIRS();

	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	ASSERT_RC(0, add_id(self->fd, 4));
	EXPECT_RC(-NE_ERR_FULL_CORES_NOT_USED, ne_start(self->fd, 0, &cid));
}

static void start_ready(struct th_ctx *_th, int fd)
{
	t_add_mem(_th, fd, t_hp(_th, SZ_64M), SZ_64M);
	t_add_vcpus(_th, fd, 2);
}

TEST_F(encl, nitrocli, start_flags_1234)
{
	uint64_t cid = 0;

	start_ready(_th, self->fd);
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, ne_start(self->fd, 1234, &cid));
}

#define CID_TEST(name, value)						\
	TEST_F(encl, nitrocli, name)					\
	{								\
		uint64_t cid = (value);					\
									\
		start_ready(_th, self->fd);				\
		EXPECT_RC(-NE_ERR_INVALID_ENCLAVE_CID,			\
			  ne_start(self->fd, 0, &cid));			\
	}

CID_TEST(start_cid_1, 1)
CID_TEST(start_cid_2, 2)
CID_TEST(start_cid_ffffffff, 0xFFFFFFFFULL)
CID_TEST(start_cid_ffffffff_plus_1234, 0xFFFFFFFFULL + 1234)

TEST_F(encl, nitrocli, start_twice)
{
	uint64_t cid = 0;

	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, ne_start(self->fd, 0, &cid));
}

TEST_F(encl, nitrocli, add_after_start)
{
	char *p = t_hp(_th, SZ_2M);

	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, ne_set_mem(self->fd, 0, a(p), SZ_2M));
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, add_id(self->fd, 4));
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE,
		  ne_image_info(self->fd, NE_EIF_IMAGE, NULL));
}

TEST_F(dev, nitrocli, success_48_regions_full_cores)
{
	char bdf[32] = "0000:00:02.0";
	uint64_t off = 0, cid = 0;
	char *p;
	int kfd, fd, noisy;

	ne_driver_bdf(bdf, sizeof(bdf));
	kfd = kmsg_open();
	fd = t_create(_th, self->dev, NULL);
	ASSERT_RC(0, ne_image_info(fd, NE_EIF_IMAGE, &off));
	p = t_hp(_th, 48 * SZ_2M);
	for (int i = 0; i < 48; i++)
		ASSERT_RC(0, ne_set_mem(fd, 0, a(p + i * SZ_2M), SZ_2M),
			  "region %d of 48", i);
	t_add_vcpus(_th, fd, POOL_NCPUS);
	ASSERT_RC(0, ne_start(fd, 0, &cid));
	close(fd);
	if (kfd < 0)
		SKIP(return, "cannot read /dev/kmsg");
	noisy = kmsg_driver_lines(kfd, bdf);
	EXPECT_EQ(0, noisy, "dmesg lines naming nitro_enclaves or %s", bdf);
	close(kfd);
}
