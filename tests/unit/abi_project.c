// SPDX-License-Identifier: GPL-2.0
/* The ABI as the project's uapi/linux/nitro_enclaves.h defines it. */
#include <sys/ioctl.h>

#include "../../uapi/linux/nitro_enclaves.h"
#include "abi_table.h"

NE_ABI_DEFINE(ne_abi_project);
