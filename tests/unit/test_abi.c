// SPDX-License-Identifier: GPL-2.0
/*
 * ABI tests: the project's uapi header against the numbers of the spec
 * (ne-driver-spec.md §1) and against Debian's linux-libc-dev copy.
 */

#include <string.h>

#include "abi_table.h"
#include "harness.h"

/* Spec §1.1-§1.4, written out by hand: the reference, not a header. */
static const struct ne_abi_val spec_ioctls[] = {
	{ "NE_CREATE_VM", 0x8008AE20 },
	{ "NE_ADD_VCPU", 0xC004AE21 },
	{ "NE_GET_IMAGE_LOAD_INFO", 0xC010AE22 },
	{ "NE_SET_USER_MEMORY_REGION", 0x4018AE23 },
	{ "NE_START_ENCLAVE", 0xC010AE24 },
	{ NULL, 0 },
};

static const struct ne_abi_val spec_errors[] = {
	{ "NE_ERR_VCPU_ALREADY_USED", 256 },
	{ "NE_ERR_VCPU_NOT_IN_CPU_POOL", 257 },
	{ "NE_ERR_VCPU_INVALID_CPU_CORE", 258 },
	{ "NE_ERR_INVALID_MEM_REGION_SIZE", 259 },
	{ "NE_ERR_INVALID_MEM_REGION_ADDR", 260 },
	{ "NE_ERR_UNALIGNED_MEM_REGION_ADDR", 261 },
	{ "NE_ERR_MEM_REGION_ALREADY_USED", 262 },
	{ "NE_ERR_MEM_NOT_HUGE_PAGE", 263 },
	{ "NE_ERR_MEM_DIFFERENT_NUMA_NODE", 264 },
	{ "NE_ERR_MEM_MAX_REGIONS", 265 },
	{ "NE_ERR_NO_MEM_REGIONS_ADDED", 266 },
	{ "NE_ERR_NO_VCPUS_ADDED", 267 },
	{ "NE_ERR_ENCLAVE_MEM_MIN_SIZE", 268 },
	{ "NE_ERR_FULL_CORES_NOT_USED", 269 },
	{ "NE_ERR_NOT_IN_INIT_STATE", 270 },
	{ "NE_ERR_INVALID_VCPU", 271 },
	{ "NE_ERR_NO_CPUS_AVAIL_IN_POOL", 272 },
	{ "NE_ERR_INVALID_PAGE_SIZE", 273 },
	{ "NE_ERR_INVALID_FLAG_VALUE", 274 },
	{ "NE_ERR_INVALID_ENCLAVE_CID", 275 },
	{ NULL, 0 },
};

static const struct ne_abi_val spec_flags[] = {
	{ "NE_EIF_IMAGE", 1 },
	{ "NE_IMAGE_LOAD_MAX_FLAG_VAL", 2 },
	{ "NE_DEFAULT_MEMORY_REGION", 0 },
	{ "NE_MEMORY_REGION_MAX_FLAG_VAL", 1 },
	{ "NE_ENCLAVE_PRODUCTION_MODE", 0 },
	{ "NE_ENCLAVE_DEBUG_MODE", 1 },
	{ "NE_ENCLAVE_START_MAX_FLAG_VAL", 2 },
	{ NULL, 0 },
};

/* Sizes, alignments and field offsets of the three structures. */
static const struct ne_abi_val spec_layout[] = {
	{ "sizeof(struct ne_image_load_info)", 16 },
	{ "alignof(struct ne_image_load_info)", 8 },
	{ "offsetof(ne_image_load_info.flags)", 0 },
	{ "sizeof(ne_image_load_info.flags)", 8 },
	{ "offsetof(ne_image_load_info.memory_offset)", 8 },
	{ "sizeof(ne_image_load_info.memory_offset)", 8 },
	{ "sizeof(struct ne_user_memory_region)", 24 },
	{ "alignof(struct ne_user_memory_region)", 8 },
	{ "offsetof(ne_user_memory_region.flags)", 0 },
	{ "sizeof(ne_user_memory_region.flags)", 8 },
	{ "offsetof(ne_user_memory_region.memory_size)", 8 },
	{ "sizeof(ne_user_memory_region.memory_size)", 8 },
	{ "offsetof(ne_user_memory_region.userspace_addr)", 16 },
	{ "sizeof(ne_user_memory_region.userspace_addr)", 8 },
	{ "sizeof(struct ne_enclave_start_info)", 16 },
	{ "alignof(struct ne_enclave_start_info)", 8 },
	{ "offsetof(ne_enclave_start_info.flags)", 0 },
	{ "sizeof(ne_enclave_start_info.flags)", 8 },
	{ "offsetof(ne_enclave_start_info.enclave_cid)", 8 },
	{ "sizeof(ne_enclave_start_info.enclave_cid)", 8 },
	{ NULL, 0 },
};

static const struct ne_abi_val *const spec[] = {
	spec_ioctls, spec_errors, spec_flags, spec_layout,
};

static const struct ne_abi_val *find(const struct ne_abi_val *t,
				     const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* The header under test: the project's, or the system's (linux-libc-dev). */
FIXTURE(header) {
	const struct ne_abi_val *abi;
};

FIXTURE_VARIANT(header) {
	const struct ne_abi_val *abi;
	const int *present;
};

static const int always = 1;

FIXTURE_VARIANT_ADD(header, project) {
	.abi = ne_abi_project, .present = &always,
};

FIXTURE_VARIANT_ADD(header, system) {
	.abi = ne_abi_system, .present = &ne_abi_system_present,
};

FIXTURE_SETUP(header)
{
	if (!*variant->present)
		SKIP(return, "no /usr/include/linux/nitro_enclaves.h");
	self->abi = variant->abi;
}

FIXTURE_TEARDOWN(header)
{
}

FIXTURE_REGISTER(header);

/* Every item of the spec list has the spec's value in the header. */
static void matches(struct th_ctx *_th, const struct ne_abi_val *abi,
		    const struct ne_abi_val *want)
{
	const struct ne_abi_val *got;

	for (; want->name; want++) {
		got = find(abi, want->name);
		EXPECT_TRUE(got, "%s missing", want->name);
		if (got)
			EXPECT_EQ(want->value, got->value, "%s", want->name);
	}
}

TEST_F(header, abi, ioctl_numbers)
{
	matches(_th, self->abi, spec_ioctls);
}

TEST_F(header, abi, error_numbers)
{
	matches(_th, self->abi, spec_errors);
}

TEST_F(header, abi, flag_values)
{
	matches(_th, self->abi, spec_flags);
}

TEST_F(header, abi, structure_layouts)
{
	matches(_th, self->abi, spec_layout);
}

/* Every ABI item the table knows is checked against the spec. */
TEST(abi, spec_covers_every_item)
{
	const struct ne_abi_val *p;
	size_t i;

	for (p = ne_abi_project; p->name; p++) {
		for (i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
			if (find(spec[i], p->name))
				break;
		EXPECT_LT(i, sizeof(spec) / sizeof(spec[0]), "%s", p->name);
	}
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
