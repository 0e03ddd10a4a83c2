// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: the kernel's cpu-list syntax ("1-3,5,7") parsed into and printed from bitmaps.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nectl.h"

void ne_cpuset_zero(struct ne_cpuset *set)
{
	memset(set, 0, sizeof(*set));
}

void ne_cpuset_add(struct ne_cpuset *set, int cpu)
{
	if (cpu >= 0 && cpu < NE_MAX_CPUS)
		set->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

bool ne_cpuset_has(const struct ne_cpuset *set, int cpu)
{
	if (cpu < 0 || cpu >= NE_MAX_CPUS)
		return false;
	return set->bits[cpu / 64] & (1ULL << (cpu % 64));
}

int ne_cpuset_count(const struct ne_cpuset *set)
{
	int i, n = 0;

	for (i = 0; i < NE_MAX_CPUS / 64; i++)
		n += __builtin_popcountll(set->bits[i]);
	return n;
}

int ne_cpuset_first(const struct ne_cpuset *set)
{
	int i;

	for (i = 0; i < NE_MAX_CPUS; i++)
		if (ne_cpuset_has(set, i))
			return i;
	return -1;
}

bool ne_cpuset_subset(const struct ne_cpuset *a, const struct ne_cpuset *b)
{
	int i;

	for (i = 0; i < NE_MAX_CPUS / 64; i++)
		if (a->bits[i] & ~b->bits[i])
			return false;
	return true;
}

static int parse_cpu(const char **p, int *cpu)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno || v < 0 || v >= NE_MAX_CPUS)
		return -ERANGE;
	*cpu = (int)v;
	*p = end;
	return 0;
}

/*
 * Accepts what cpulist_parse accepts for our purposes: groups "a" or "a-b"
 * separated by commas, surrounding blanks and one trailing newline. An empty
 * string gives an empty set.
 */
int ne_cpuset_parse(const char *s, struct ne_cpuset *set)
{
	const char *p = s;
	int a, b, rc;

	ne_cpuset_zero(set);
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || !strcmp(p, "\n"))
		return 0;
	for (;;) {
		rc = parse_cpu(&p, &a);
		if (rc)
			return rc;
		b = a;
		if (*p == '-') {
			p++;
			rc = parse_cpu(&p, &b);
			if (rc)
				return rc;
			if (b < a)
				return -EINVAL;
		}
		for (; a <= b; a++)
			ne_cpuset_add(set, a);
		if (*p != ',')
			break;
		p++;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return *p ? -EINVAL : 0;
}

/* Shortest form with ranges, e.g. "2-5,8". */
int ne_cpuset_format(const struct ne_cpuset *set, char *buf, size_t len)
{
	size_t off = 0;
	int a, b, n;

	buf[0] = '\0';
	for (a = 0; a < NE_MAX_CPUS; a++) {
		if (!ne_cpuset_has(set, a))
			continue;
		for (b = a; b + 1 < NE_MAX_CPUS && ne_cpuset_has(set, b + 1); b++)
			;
		if (a == b)
			n = snprintf(buf + off, len - off, "%s%d", off ? "," : "", a);
		else
			n = snprintf(buf + off, len - off, "%s%d-%d", off ? "," : "", a, b);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += n;
		a = b;
	}
	return 0;
}
