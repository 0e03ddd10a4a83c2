/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The uapi ABI as a list of (name, value) pairs, expanded once per header
 * under test (abi_project.c, abi_system.c): every ioctl number, constant,
 * error number, structure size and field offset userspace depends on.
 */

#ifndef NE_ABI_TABLE_H
#define NE_ABI_TABLE_H

#include <stddef.h>

struct ne_abi_val {
	const char *name;
	unsigned long long value;
};

#define NE_ABI_CONST(X)							\
	X(NE_CREATE_VM) X(NE_ADD_VCPU) X(NE_GET_IMAGE_LOAD_INFO)	\
	X(NE_SET_USER_MEMORY_REGION) X(NE_START_ENCLAVE)		\
	X(NE_ERR_VCPU_ALREADY_USED) X(NE_ERR_VCPU_NOT_IN_CPU_POOL)	\
	X(NE_ERR_VCPU_INVALID_CPU_CORE) X(NE_ERR_INVALID_MEM_REGION_SIZE) \
	X(NE_ERR_INVALID_MEM_REGION_ADDR)				\
	X(NE_ERR_UNALIGNED_MEM_REGION_ADDR)				\
	X(NE_ERR_MEM_REGION_ALREADY_USED) X(NE_ERR_MEM_NOT_HUGE_PAGE)	\
	X(NE_ERR_MEM_DIFFERENT_NUMA_NODE) X(NE_ERR_MEM_MAX_REGIONS)	\
	X(NE_ERR_NO_MEM_REGIONS_ADDED) X(NE_ERR_NO_VCPUS_ADDED)		\
	X(NE_ERR_ENCLAVE_MEM_MIN_SIZE) X(NE_ERR_FULL_CORES_NOT_USED)	\
	X(NE_ERR_NOT_IN_INIT_STATE) X(NE_ERR_INVALID_VCPU)		\
	X(NE_ERR_NO_CPUS_AVAIL_IN_POOL) X(NE_ERR_INVALID_PAGE_SIZE)	\
	X(NE_ERR_INVALID_FLAG_VALUE) X(NE_ERR_INVALID_ENCLAVE_CID)	\
	X(NE_EIF_IMAGE) X(NE_IMAGE_LOAD_MAX_FLAG_VAL)			\
	X(NE_DEFAULT_MEMORY_REGION) X(NE_MEMORY_REGION_MAX_FLAG_VAL)	\
	X(NE_ENCLAVE_PRODUCTION_MODE) X(NE_ENCLAVE_DEBUG_MODE)		\
	X(NE_ENCLAVE_START_MAX_FLAG_VAL)

#define NE_ABI_LAYOUT(S, F)						\
	S(ne_image_load_info)						\
	F(ne_image_load_info, flags) F(ne_image_load_info, memory_offset) \
	S(ne_user_memory_region)					\
	F(ne_user_memory_region, flags)					\
	F(ne_user_memory_region, memory_size)				\
	F(ne_user_memory_region, userspace_addr)			\
	S(ne_enclave_start_info)					\
	F(ne_enclave_start_info, flags)					\
	F(ne_enclave_start_info, enclave_cid)

#define NE_ABI_X_CONST(name)	{ #name, (unsigned long long)(name) },
#define NE_ABI_X_SIZE(s)	{ "sizeof(struct " #s ")", sizeof(struct s) }, \
				{ "alignof(struct " #s ")", _Alignof(struct s) },
#define NE_ABI_X_FIELD(s, f)	{ "offsetof(" #s "." #f ")", offsetof(struct s, f) }, \
				{ "sizeof(" #s "." #f ")", sizeof(((struct s *)0)->f) },

#define NE_ABI_DEFINE(var)						\
	const struct ne_abi_val var[] = {				\
		NE_ABI_CONST(NE_ABI_X_CONST)				\
		NE_ABI_LAYOUT(NE_ABI_X_SIZE, NE_ABI_X_FIELD)		\
		{ NULL, 0 }						\
	}

extern const struct ne_abi_val ne_abi_project[];
extern const struct ne_abi_val ne_abi_system[];
extern const int ne_abi_system_present;

#endif /* NE_ABI_TABLE_H */
