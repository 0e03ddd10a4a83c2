// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: error reporting; every NE_ERR_* errno becomes a sentence naming the fix.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/nitro_enclaves.h>

#include "nectl.h"

bool ne_quiet;
/* Set when stdout carries something else (run --console). */
bool ne_info_to_stderr;

static const struct {
	int err;
	const char *text;
} ne_sentences[] = {
	{ NE_ERR_VCPU_ALREADY_USED,
	  "this CPU was already added to the enclave; add each CPU once" },
	{ NE_ERR_VCPU_NOT_IN_CPU_POOL,
	  "this CPU is not free in the CPU pool (not in it, or used by another enclave); pick a CPU from 'nectl status' or enlarge the pool with 'nectl pool set'" },
	{ NE_ERR_VCPU_INVALID_CPU_CORE,
	  "the CPU's core is outside the pool's range; set the pool again with 'nectl pool set'" },
	{ NE_ERR_INVALID_MEM_REGION_SIZE,
	  "a memory region size is not a multiple of 2 MiB; use a multiple of 2 MiB" },
	{ NE_ERR_INVALID_MEM_REGION_ADDR,
	  "a memory region's address range is not valid user memory; pass a mapped range" },
	{ NE_ERR_UNALIGNED_MEM_REGION_ADDR,
	  "a memory region does not start on a 2 MiB boundary; map it with MAP_HUGETLB" },
	{ NE_ERR_MEM_REGION_ALREADY_USED,
	  "a memory region overlaps one already added; add each range once" },
	{ NE_ERR_MEM_NOT_HUGE_PAGE,
	  "enclave memory must be hugepages; reserve them with 'nectl hugepages reserve'" },
	{ NE_ERR_MEM_DIFFERENT_NUMA_NODE,
	  "the hugepages are not on the CPU pool's NUMA node; reserve them there with 'nectl hugepages reserve SIZE --node N'" },
	{ NE_ERR_MEM_MAX_REGIONS,
	  "too many memory regions for the device; reserve larger hugepages (e.g. 1 GiB) so fewer regions are needed" },
	{ NE_ERR_NO_MEM_REGIONS_ADDED,
	  "the enclave has no memory; add memory regions before starting it" },
	{ NE_ERR_NO_VCPUS_ADDED,
	  "the enclave has no vCPUs; add vCPUs before starting it" },
	{ NE_ERR_ENCLAVE_MEM_MIN_SIZE,
	  "an enclave needs at least 64 MiB of memory; ask for more with --memory" },
	{ NE_ERR_FULL_CORES_NOT_USED,
	  "an enclave must use whole cores; make --cpus a multiple of the threads per core" },
	{ NE_ERR_NOT_IN_INIT_STATE,
	  "the enclave was already started and cannot be changed; create a new enclave" },
	{ NE_ERR_INVALID_VCPU,
	  "the CPU id is beyond this machine's CPUs; use a CPU listed by 'nectl status'" },
	{ NE_ERR_NO_CPUS_AVAIL_IN_POOL,
	  "the CPU pool is empty or fully used by other enclaves; set one with 'nectl pool set --count N' or stop an enclave" },
	{ NE_ERR_INVALID_PAGE_SIZE,
	  "the hugepage size is not a multiple of 2 MiB; use 2 MiB or 1 GiB hugepages" },
	{ NE_ERR_INVALID_FLAG_VALUE,
	  "a flags value is not supported by the driver; use the values of the uapi header" },
	{ NE_ERR_INVALID_ENCLAVE_CID,
	  "the CID is reserved (1, 2, 3 or 4294967295) or wider than 32 bits; choose another --cid or leave it out" },
};

/* Sentences for the ordinary errnos the driver and setup steps return. */
static const struct {
	int err;
	const char *text;
} sys_sentences[] = {
	{ ENOENT, "no Nitro Enclaves device: not an enclave-enabled instance, or the driver is not loaded ('nectl load')" },
	{ EACCES, "permission denied; run as root or as a member of the 'ne' group" },
	{ EPERM, "operation not permitted; run as root (CAP_SYS_ADMIN)" },
	{ ETIMEDOUT, "the Nitro Enclaves device did not answer in time; retry, and check the device with 'nectl status'" },
	{ ENOMEM, "out of memory (or of free hugepages); reserve more with 'nectl hugepages reserve'" },
	{ EIO, "the enclave belongs to another process's address space; use it from the process that created it" },
	{ ENOTTY, "the device does not support this request; check the driver version with 'nectl status'" },
	{ EBUSY, "the device or resource is busy; retry when the other user is done" },
};

const char *ne_err_sentence(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(ne_sentences) / sizeof(ne_sentences[0]); i++)
		if (ne_sentences[i].err == err)
			return ne_sentences[i].text;
	for (i = 0; i < sizeof(sys_sentences) / sizeof(sys_sentences[0]); i++)
		if (sys_sentences[i].err == err)
			return sys_sentences[i].text;
	return strerror(err);
}

static void vreport(const char *tag, const char *fmt, va_list ap)
{
	fprintf(stderr, "nectl: %s", tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ne_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("error: ", fmt, ap);
	va_end(ap);
}

void ne_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void ne_info(const char *fmt, ...)
{
	FILE *out;
	va_list ap;

	if (ne_quiet)
		return;
	out = ne_info_to_stderr ? stderr : stdout;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}
