/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tools' unit tests' one check printer: an "ok"/"not ok" line per
 * check; the test prints "N passed, M failed" from the counters last.
 */
#ifndef NECTL_TESTS_CHECK_H
#define NECTL_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...) check(!!(cond), __VA_ARGS__)

static void __attribute__((format(printf, 2, 3)))
check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", passed + failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ok)
		passed++;
	else
		failed++;
}

#endif /* NECTL_TESTS_CHECK_H */
