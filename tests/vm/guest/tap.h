/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal TAP 13 output for the guest programs. */

#ifndef NE_VM_TAP_H
#define NE_VM_TAP_H

#include <stdarg.h>
#include <stdio.h>

extern int tap_n, tap_failed;

/* Report one test; returns cond so callers can stop on failure. */
static inline int __attribute__((format(printf, 2, 3)))
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

#define tap_diag(...) do { printf("# " __VA_ARGS__); printf("\n"); \
			   fflush(stdout); } while (0)

#endif
