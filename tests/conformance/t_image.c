// SPDX-License-Identifier: GPL-2.0
/*
 * NE_GET_IMAGE_LOAD_INFO: checks in spec order (§1.5), the EIF offset, and
 * the absence of an mm check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ne_lib.h"

TEST_F(encl, image, eif_offset_is_8mib)
{
	uint64_t off = 0;

	ASSERT_RC(0, ne_image_info(self->fd, NE_EIF_IMAGE, &off));
	EXPECT_EQ(0x800000, off);
}

TEST_F(encl, image, efault_null_arg)
{
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_GET_IMAGE_LOAD_INFO, NULL));
}

TEST_F(encl, image, efault_on_copy_out)
{
	struct ne_image_load_info *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ro->flags = NE_EIF_IMAGE;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_GET_IMAGE_LOAD_INFO, ro));
	munmap(ro, 4096);
}

TEST_F(encl, image, invalid_flags)
{
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, ne_image_info(self->fd, 0, NULL),
		  "flags 0 is not an image type");
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE,
		  ne_image_info(self->fd, NE_IMAGE_LOAD_MAX_FLAG_VAL, NULL));
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE, ne_image_info(self->fd, 1234, NULL));
	EXPECT_RC(-NE_ERR_INVALID_FLAG_VALUE,
		  ne_image_info(self->fd, UINT64_MAX, NULL));
}

TEST_F(encl, image, not_init_state_after_start)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE,
		  ne_image_info(self->fd, NE_EIF_IMAGE, NULL));
}

TEST_F(encl, image, order_state_before_flags)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, ne_image_info(self->fd, 0, NULL),
		  "state (step 2) is checked before flags (step 3)");
}

static int child_image(void *arg)
{
	uint64_t off = 0;
	int rc = ne_image_info(*(int *)arg, NE_EIF_IMAGE, &off);

	return rc ? rc : (int)(off >> 20);
}

TEST_F(encl, image, no_mm_check)
{
	EXPECT_EQ(8, in_fork(child_image, &self->fd),
		  "GET_IMAGE_LOAD_INFO has no mm check (returns 8 MiB)");
}
