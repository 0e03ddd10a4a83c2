// SPDX-License-Identifier: GPL-2.0
/*
 * The ABI as Debian's linux-libc-dev ships it (/usr/include), the copy
 * existing userspace was built against. Empty if the header is missing.
 */
#include <sys/ioctl.h>

#include "abi_table.h"

#if __has_include(<linux/nitro_enclaves.h>)
#include <linux/nitro_enclaves.h>
const int ne_abi_system_present = 1;
NE_ABI_DEFINE(ne_abi_system);
#else
const int ne_abi_system_present;
const struct ne_abi_val ne_abi_system[] = { { NULL, 0 } };
#endif
