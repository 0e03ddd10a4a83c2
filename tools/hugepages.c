// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: hugepage pools per NUMA node: read, plan (largest pages first) and reserve with rollback.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nectl.h"

static int hp_dir(char *buf, size_t len, int node, bool numa)
{
	if (numa)
		return ne_path(buf, len, "/sys/devices/system/node/node%d/hugepages", node);
	return ne_path(buf, len, "/sys/kernel/mm/hugepages");
}

static int hp_file(char *buf, size_t len, int node, bool numa, uint64_t size,
		   const char *name)
{
	char dir[4096];
	int n, rc;

	rc = hp_dir(dir, sizeof(dir), node, numa);
	if (rc)
		return rc;
	n = snprintf(buf, len, "%s/hugepages-%" PRIu64 "kB/%s", dir, size / 1024, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int cmp_size_desc(const void *a, const void *b)
{
	const struct ne_hp_size *x = a, *y = b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

int ne_hp_read(int node, bool numa, struct ne_hp_node *hn)
{
	char dir[4096], path[4096];
	struct dirent *de;
	uint64_t kb;
	DIR *d;
	int rc;

	memset(hn, 0, sizeof(*hn));
	hn->node = node;
	rc = hp_dir(dir, sizeof(dir), node, numa);
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && hn->nr_sizes < NE_MAX_HP_SIZES) {
		struct ne_hp_size *s = &hn->sz[hn->nr_sizes];
		char *end;

		if (strncmp(de->d_name, "hugepages-", 10))
			continue;
		kb = strtoull(de->d_name + 10, &end, 10);
		if (!kb || strcmp(end, "kB"))
			continue;
		s->size = kb * 1024;
		if (hp_file(path, sizeof(path), node, numa, s->size, "nr_hugepages") ||
		    ne_read_u64(path, &s->total))
			continue;
		if (hp_file(path, sizeof(path), node, numa, s->size, "free_hugepages") ||
		    ne_read_u64(path, &s->free))
			s->free = 0;
		hn->nr_sizes++;
	}
	closedir(d);
	qsort(hn->sz, hn->nr_sizes, sizeof(hn->sz[0]), cmp_size_desc);
	return hn->nr_sizes ? 0 : -ENOENT;
}

/*
 * "128M", "1G", "1.5G" is not accepted (whole units only), "512MiB", "2048K".
 * A plain number is taken in plain_unit, or refused when plain_unit is 0.
 */
int ne_parse_size(const char *s, uint64_t plain_unit, uint64_t *bytes)
{
	uint64_t v, unit;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		if (!plain_unit)
			return -EINVAL;
		unit = plain_unit;
		break;
	case 'K':
		unit = 1024;
		break;
	case 'M':
		unit = MiB;
		break;
	case 'G':
		unit = GiB;
		break;
	case 'T':
		unit = 1024 * GiB;
		break;
	default:
		return -EINVAL;
	}
	if (*end) {
		end++;
		if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (v && unit > UINT64_MAX / v)
		return -ERANGE;
	*bytes = v * unit;
	return 0;
}

void ne_format_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes && bytes % GiB == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", bytes / GiB);
	else if (bytes && bytes % MiB == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes / MiB);
	else if (bytes >= 10 * GiB)
		snprintf(buf, len, "%.1f GiB", (double)bytes / GiB);
	else if (bytes >= MiB)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes / MiB);	/* rounded down */
	else if (bytes && bytes % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 " KiB", bytes / 1024);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
}

static int hp_set(int node, bool numa, uint64_t size, uint64_t count, uint64_t *got)
{
	char path[4096];
	int rc;

	rc = hp_file(path, sizeof(path), node, numa, size, "nr_hugepages");
	if (rc)
		return rc;
	rc = ne_write_u64(path, count);
	/* The kernel may give fewer pages without an error: trust only the read-back. */
	if (rc && rc != -ENOMEM && rc != -EINVAL)
		return rc;
	return ne_read_u64(path, got);
}

/*
 * Make the node's hugepage pools hold exactly @bytes, largest pages first,
 * spilling to smaller sizes when the kernel gives fewer large pages than
 * asked (fragmentation). On a shortfall every size is put back as it was
 * and -ENOMEM is returned; @result then describes the state after rollback.
 */
int ne_hp_reserve(int node, bool numa, uint64_t bytes, struct ne_hp_node *result)
{
	struct ne_hp_node before;
	uint64_t left = bytes, got, want;
	char a[32], b[32];
	int i, rc, rb;

	rc = ne_hp_read(node, numa, &before);
	if (rc)
		return rc;
	if (bytes % before.sz[before.nr_sizes - 1].size)
		return -EINVAL;
	/* First shrink sizes holding more than the ideal plan, to free their memory. */
	for (i = 0; i < before.nr_sizes && !rc; i++) {
		want = left / before.sz[i].size;
		left -= want * before.sz[i].size;
		if (before.sz[i].total > want)
			rc = hp_set(node, numa, before.sz[i].size, want, &got);
	}
	left = bytes;
	for (i = 0; i < before.nr_sizes && !rc; i++) {
		uint64_t size = before.sz[i].size;

		want = left / size;
		/* Smaller sizes come last; a size the plan does not need goes to 0. */
		rc = hp_set(node, numa, size, want, &got);
		if (rc)
			break;
		/* got > want: pages in use cannot be freed; they still count. */
		ne_format_size(size, a, sizeof(a));
		if (got < want)
			ne_info("node %d: asked for %" PRIu64 " pages of %s, the kernel gave %" PRIu64
				"; trying smaller pages", node, want, a, got);
		left = got * size >= left ? 0 : left - got * size;
	}
	if (!rc && left) {
		ne_format_size(bytes - left, a, sizeof(a));
		ne_format_size(bytes, b, sizeof(b));
		ne_err("node %d: the kernel gave only %s of the %s of hugepages asked for "
		       "(free memory too small or fragmented); the previous reservation was restored. "
		       "Free memory, or reserve at boot (hugepagesz=/hugepages= kernel parameters)",
		       node, a, b);
		rc = -ENOMEM;
	}
	if (rc) {
		/* Roll back smallest first, so freed small pages can help large ones. */
		for (i = before.nr_sizes - 1; i >= 0; i--) {
			rb = hp_set(node, numa, before.sz[i].size, before.sz[i].total, &got);
			if (rb || got != before.sz[i].total) {
				ne_format_size(before.sz[i].size, a, sizeof(a));
				ne_warn("node %d: could not restore %" PRIu64 " pages of %s (now %" PRIu64 ")",
					node, before.sz[i].total, a, got);
			}
		}
	}
	if (result)
		ne_hp_read(node, numa, result);
	return rc;
}
