// SPDX-License-Identifier: GPL-2.0
/*
 * ABI tests: the project's uapi header against the numbers of the spec
 * (ne-driver-spec.md §1) and against Debian's linux-libc-dev copy.
 */

#include <string.h>

#include "abi_table.h"
#include "tap.h"

/* Spec §1.1-§1.4, written out by hand: the reference, not a header. */
static const struct ne_abi_val spec[] = {
	{ "NE_CREATE_VM", 0x8008AE20 },
	{ "NE_ADD_VCPU", 0xC004AE21 },
	{ "NE_GET_IMAGE_LOAD_INFO", 0xC010AE22 },
	{ "NE_SET_USER_MEMORY_REGION", 0x4018AE23 },
	{ "NE_START_ENCLAVE", 0xC010AE24 },
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
	{ "NE_EIF_IMAGE", 1 },
	{ "NE_IMAGE_LOAD_MAX_FLAG_VAL", 2 },
	{ "NE_DEFAULT_MEMORY_REGION", 0 },
	{ "NE_MEMORY_REGION_MAX_FLAG_VAL", 1 },
	{ "NE_ENCLAVE_PRODUCTION_MODE", 0 },
	{ "NE_ENCLAVE_DEBUG_MODE", 1 },
	{ "NE_ENCLAVE_START_MAX_FLAG_VAL", 2 },
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

static const struct ne_abi_val *find(const struct ne_abi_val *t,
				     const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

int main(void)
{
	const struct ne_abi_val *s, *p, *d;
	int n = 0;

	tap_start();
	for (s = spec; s->name; s++) {
		p = find(ne_abi_project, s->name);
		TAP_CHECK(p && p->value == s->value,
			  "project %s == 0x%llx (spec)", s->name, s->value);
		if (!ne_abi_system_present) {
			printf("ok %d - # SKIP no /usr/include/linux/nitro_enclaves.h\n",
			       tap_passed + tap_failed + 1);
			tap_passed++;
			continue;
		}
		d = find(ne_abi_system, s->name);
		TAP_CHECK(d && d->value == s->value,
			  "linux-libc-dev %s == 0x%llx (spec)", s->name, s->value);
	}
	/* Every entry the table knows is covered by the spec list. */
	for (p = ne_abi_project; p->name; p++)
		n += !find(spec, p->name);
	TAP_CHECK(n == 0, "every ABI item of the header is checked against the spec");
	return tap_end();
}
