/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Nitro Enclaves userspace ABI.
 *
 * Bit-for-bit compatible with include/uapi/linux/nitro_enclaves.h of Linux
 * 5.10 and later: the same ioctl numbers, structure layouts, flag values and
 * error numbers, so nitro-cli, the nitro-enclaves crate, libkrun and QEMU's
 * nitro accelerator work unchanged.
 *
 * Like the kernel's copy, this header does not pull in the ioctl macros:
 * include <sys/ioctl.h> (or <linux/ioctl.h>) first.
 */

#ifndef _LINUX_NITRO_ENCLAVES_H_
#define _LINUX_NITRO_ENCLAVES_H_

#include <linux/types.h>

/*
 * All ioctls share KVM's magic 0xAE; Nitro Enclaves owns numbers 0x20-0x24.
 * Numbers 0x25-0x2D and 0x30 are used by a downstream (Amazon Linux) kernel
 * and must not be reused here.
 */

/**
 * NE_CREATE_VM - Create a slot and an enclave file descriptor for it.
 *
 * Invoked on /dev/nitro_enclaves. The argument receives the slot uid; the
 * return value is the new enclave fd (O_CLOEXEC). Fails with
 * NE_ERR_NO_CPUS_AVAIL_IN_POOL when the CPU pool has no free core.
 */
#define NE_CREATE_VM			_IOR(0xAE, 0x20, __u64)

/**
 * NE_ADD_VCPU - Add a vCPU (a parent CPU from the pool) to the enclave.
 *
 * In: a CPU id, or 0 to let the driver pick one. Out: the CPU id used.
 * Adding a CPU reserves its whole core for the enclave.
 */
#define NE_ADD_VCPU			_IOWR(0xAE, 0x21, __u32)

/**
 * NE_GET_IMAGE_LOAD_INFO - Where in enclave memory the image must be written.
 */
#define NE_GET_IMAGE_LOAD_INFO		_IOWR(0xAE, 0x22, struct ne_image_load_info)

/**
 * NE_SET_USER_MEMORY_REGION - Give a hugepage-backed user range to the enclave.
 *
 * Enclave memory is laid out in the order regions are added.
 */
#define NE_SET_USER_MEMORY_REGION	_IOW(0xAE, 0x23, struct ne_user_memory_region)

/**
 * NE_START_ENCLAVE - Start the enclave. In: flags, CID (0 = any). Out: CID.
 */
#define NE_START_ENCLAVE		_IOWR(0xAE, 0x24, struct ne_enclave_start_info)

/*
 * Errors specific to Nitro Enclaves. The ioctls fail with errno set to one
 * of these values (outside the range of the C library's errno names).
 */

/* The CPU was already added to this enclave. */
#define NE_ERR_VCPU_ALREADY_USED		(256)
/* The CPU is not available in the CPU pool. */
#define NE_ERR_VCPU_NOT_IN_CPU_POOL		(257)
/* The core of the CPU is out of the pool's range. */
#define NE_ERR_VCPU_INVALID_CPU_CORE		(258)
/* The region size is not a multiple of 2 MiB. */
#define NE_ERR_INVALID_MEM_REGION_SIZE		(259)
/* The region's user address range is invalid. */
#define NE_ERR_INVALID_MEM_REGION_ADDR		(260)
/* The region's user address is not 2 MiB aligned. */
#define NE_ERR_UNALIGNED_MEM_REGION_ADDR	(261)
/* The region overlaps one already added to this enclave. */
#define NE_ERR_MEM_REGION_ALREADY_USED		(262)
/* The region is not backed by hugetlbfs pages. */
#define NE_ERR_MEM_NOT_HUGE_PAGE		(263)
/* A backing page is not on the CPU pool's NUMA node. */
#define NE_ERR_MEM_DIFFERENT_NUMA_NODE		(264)
/* The device's limit of memory regions would be exceeded. */
#define NE_ERR_MEM_MAX_REGIONS			(265)
/* Start was requested before any memory was added. */
#define NE_ERR_NO_MEM_REGIONS_ADDED		(266)
/* Start was requested before any vCPU was added. */
#define NE_ERR_NO_VCPUS_ADDED			(267)
/* The enclave has less than the minimum memory (64 MiB). */
#define NE_ERR_ENCLAVE_MEM_MIN_SIZE		(268)
/* A core reserved by the enclave has threads that were not added. */
#define NE_ERR_FULL_CORES_NOT_USED		(269)
/* The enclave is not in the init state (it was already started). */
#define NE_ERR_NOT_IN_INIT_STATE		(270)
/* The CPU id is out of the parent VM's range. */
#define NE_ERR_INVALID_VCPU			(271)
/* The CPU pool is not set or has no free core. */
#define NE_ERR_NO_CPUS_AVAIL_IN_POOL		(272)
/* The backing page size is not a multiple of 2 MiB. */
#define NE_ERR_INVALID_PAGE_SIZE		(273)
/* A flags field holds an unsupported value. */
#define NE_ERR_INVALID_FLAG_VALUE		(274)
/* The CID is reserved, the parent's, or wider than 32 bits. */
#define NE_ERR_INVALID_ENCLAVE_CID		(275)

/* Image types for NE_GET_IMAGE_LOAD_INFO. */
#define NE_EIF_IMAGE			(0x01)

#define NE_IMAGE_LOAD_MAX_FLAG_VAL	(0x02)

/**
 * struct ne_image_load_info - NE_GET_IMAGE_LOAD_INFO argument.
 * @flags:		In: the image type (NE_EIF_IMAGE).
 * @memory_offset:	Out: offset in enclave memory where the image goes.
 */
struct ne_image_load_info {
	__u64	flags;
	__u64	memory_offset;
};

/* Memory region flags for NE_SET_USER_MEMORY_REGION. */
#define NE_DEFAULT_MEMORY_REGION	(0x00)

#define NE_MEMORY_REGION_MAX_FLAG_VAL	(0x01)

/**
 * struct ne_user_memory_region - NE_SET_USER_MEMORY_REGION argument.
 * @flags:		NE_DEFAULT_MEMORY_REGION.
 * @memory_size:	Size in bytes, a multiple of 2 MiB.
 * @userspace_addr:	Start address, 2 MiB aligned, of hugetlbfs memory.
 */
struct ne_user_memory_region {
	__u64	flags;
	__u64	memory_size;
	__u64	userspace_addr;
};

/* Start flags for NE_START_ENCLAVE. */
#define NE_ENCLAVE_PRODUCTION_MODE	(0x00)
#define NE_ENCLAVE_DEBUG_MODE		(0x01)

#define NE_ENCLAVE_START_MAX_FLAG_VAL	(0x02)

/**
 * struct ne_enclave_start_info - NE_START_ENCLAVE argument.
 * @flags:		In: NE_ENCLAVE_PRODUCTION_MODE or NE_ENCLAVE_DEBUG_MODE.
 * @enclave_cid:	In: the CID to use, 0 for any. Out: the enclave's CID.
 */
struct ne_enclave_start_info {
	__u64	flags;
	__u64	enclave_cid;
};

#endif /* _LINUX_NITRO_ENCLAVES_H_ */
