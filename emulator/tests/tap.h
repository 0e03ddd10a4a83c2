/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP 13 output for the emulator's unit tests.
 *
 * ok() records one test point; tap_done() prints the plan and a summary
 * line and returns the exit status (non-zero if anything failed).
 */

#ifndef NE_EMU_TAP_H
#define NE_EMU_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_run, tap_failed;

__attribute__((format(printf, 4, 5)))
static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!tap_run++)
		printf("TAP version 13\n");
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, what) do {					\
	long long _g = (long long)(got), _w = (long long)(want);	\
	if (!ok(_g == _w, "%s", what))					\
		printf("#   got %lld, want %lld\n", _g, _w);	\
} while (0)

static int tap_done(void)
{
	if (!tap_run)
		printf("TAP version 13\n");
	printf("1..%d\n", tap_run);
	printf("# %d passed, %d failed\n", tap_run - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif /* NE_EMU_TAP_H */
