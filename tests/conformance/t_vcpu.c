// SPDX-License-Identifier: GPL-2.0
/*
 * NE_ADD_VCPU: the checks of spec §1.5 in order, auto-pick (§3.4), core
 * reservation (§3.3), the mm check, and the id written back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ne_lib.h"

static int add_id(int fd, uint32_t id)
{
	return ne_add_vcpu(fd, &id);
}

TEST_F(encl, vcpu, efault_null_arg)
{
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_ADD_VCPU, NULL));
}

TEST_F(encl, vcpu, efault_on_copy_out)
{
	uint32_t *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	*ro = 2;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_RC(-EFAULT, ne_ioctl(self->fd, NE_ADD_VCPU, ro),
		  "the chosen id cannot be written back");
	munmap(ro, 4096);
}

TEST_F(encl, vcpu, auto_pick_order)
{
	const uint32_t want[POOL_NCPUS] = { 2, 3, 4, 5 };

	for (int i = 0; i < POOL_NCPUS; i++) {
		uint32_t id = 0;

		ASSERT_RC(0, ne_add_vcpu(self->fd, &id), "auto vCPU #%d", i);
		EXPECT_EQ(want[i], id,
			  "auto-pick fills the reserved core first, then the lowest free core");
	}
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, add_id(self->fd, 0),
		  "one more auto vCPU than the pool holds");
}

TEST_F(encl, vcpu, explicit_id_written_back_and_core_reserved)
{
	uint32_t id = 5;

	NEED_SMT_PAIRS();

	ASSERT_RC(0, ne_add_vcpu(self->fd, &id));
	EXPECT_EQ(5, id, "the explicit id is written back unchanged");
	id = 0;
	ASSERT_RC(0, ne_add_vcpu(self->fd, &id));
	EXPECT_EQ(4, id, "auto-pick takes the sibling of the reserved core");
	id = 0;
	ASSERT_RC(0, ne_add_vcpu(self->fd, &id));
	EXPECT_EQ(2, id);
}

TEST_F(encl, vcpu, invalid_vcpu_out_of_range)
{
	EXPECT_RC(-NE_ERR_INVALID_VCPU, add_id(self->fd, 6),
		  "ids >= nr_parent_vm_cores * threads_per_core (6 here)");
	EXPECT_RC(-NE_ERR_INVALID_VCPU, add_id(self->fd, 1000));
	EXPECT_RC(-NE_ERR_INVALID_VCPU, add_id(self->fd, UINT32_MAX));
}

TEST_F(encl, vcpu, cpu0_sibling_not_in_pool)
{
	EXPECT_RC(-NE_ERR_VCPU_NOT_IN_CPU_POOL, add_id(self->fd, 1));
}

TEST_F(encl, vcpu, already_used)
{
	ASSERT_RC(0, add_id(self->fd, 2));
	EXPECT_RC(-NE_ERR_VCPU_ALREADY_USED, add_id(self->fd, 2));
	ASSERT_RC(0, add_id(self->fd, 3), "the sibling of a reserved core is OK");
	EXPECT_RC(-NE_ERR_VCPU_ALREADY_USED, add_id(self->fd, 3));
}

TEST_F(encl, vcpu, core_reserved_by_other_enclave)
{
	int b;

	NEED_SMT_PAIRS();
	b = t_create(_th, self->dev, NULL);

	ASSERT_RC(0, add_id(self->fd, 2));
	EXPECT_RC(-NE_ERR_VCPU_NOT_IN_CPU_POOL, add_id(b, 3),
		  "CPU 3's core is reserved by the first enclave");
	EXPECT_RC(-NE_ERR_VCPU_NOT_IN_CPU_POOL, add_id(b, 2));
	EXPECT_RC(0, add_id(b, 4));
	close(b);
}

TEST_F(encl, vcpu, pool_exhausted_by_other_enclave)
{
	int b = t_create(_th, self->dev, NULL);

	t_add_vcpus(_th, b, POOL_NCPUS);
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, add_id(self->fd, 0));
	EXPECT_RC(-NE_ERR_VCPU_NOT_IN_CPU_POOL, add_id(self->fd, 4));
	close(b);
	EXPECT_RC(0, add_id(self->fd, 4), "released cores are usable again");
}

TEST_F(encl, vcpu, not_init_state_after_start)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, add_id(self->fd, 4));
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, add_id(self->fd, 0));
}

TEST_F(encl, vcpu, order_state_before_range)
{
	t_make_running(_th, self->fd);
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, add_id(self->fd, UINT32_MAX),
		  "state (step 2) is checked before the id range (step 3)");
}

TEST_F(encl, vcpu, order_range_before_pool)
{
	EXPECT_RC(-NE_ERR_INVALID_VCPU, add_id(self->fd, 7),
		  "the id range (step 3) is checked before the pool (step 5)");
}

static int child_add(void *arg)
{
	return add_id(*(int *)arg, 2);
}

TEST_F(encl, vcpu, eio_from_other_mm)
{
	EXPECT_RC(-EIO, in_fork(child_add, &self->fd),
		  "a forked child may not add vCPUs to its parent's enclave");
}
