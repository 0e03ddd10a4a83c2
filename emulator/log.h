/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Daemon log: one timestamped line per event, tagged with the message id.
 *
 * The id is the device's wire message id for lines about a command and 0
 * for everything else, so `grep 'id=42 '` finds one command's story.
 */

#ifndef NE_EMU_LOG_H
#define NE_EMU_LOG_H

#include <stdint.h>
#include <stdio.h>

void ne_log_set(FILE *f);		/* NULL: silence (unit tests) */
void ne_log(uint32_t id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* NE_EMU_LOG_H */
