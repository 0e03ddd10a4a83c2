/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP 13 output for the unit tests: one "ok"/"not ok" line per
 * check, a plan at the end, a final "N passed, M failed" line and a
 * non-zero exit status on any failure.
 */

#ifndef NE_TAP_H
#define NE_TAP_H

#include <stdio.h>

static int tap_passed, tap_failed;

static inline void tap_start(void)
{
	printf("TAP version 13\n");
}

#define TAP_CHECK(cond, ...)						\
	do {								\
		int tap_ok_ = !!(cond);					\
		printf("%s %d - ", tap_ok_ ? "ok" : "not ok",		\
		       tap_passed + tap_failed + 1);			\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		if (tap_ok_)						\
			tap_passed++;					\
		else {							\
			tap_failed++;					\
			printf("#   failed: %s (%s:%d)\n", #cond,	\
			       __FILE__, __LINE__);			\
		}							\
	} while (0)

static inline int tap_end(void)
{
	printf("1..%d\n", tap_passed + tap_failed);
	printf("%d passed, %d failed\n", tap_passed, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif /* NE_TAP_H */
