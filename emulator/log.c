// SPDX-License-Identifier: GPL-2.0
/*
 * Daemon log: timestamped, message-id-tagged lines to stderr or a file.
 */

#include <stdarg.h>
#include <time.h>

#include "log.h"

static FILE *log_file;
static int log_set;

void ne_log_set(FILE *f)
{
	log_file = f;
	log_set = 1;
}

void ne_log(uint32_t id, const char *fmt, ...)
{
	FILE *f = log_set ? log_file : stderr;
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (!f)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ ne-emulator id=%u: ",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, id);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}
