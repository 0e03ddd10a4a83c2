// SPDX-License-Identifier: GPL-2.0
/*
 * ne-bench: Nitro Enclaves driver benchmark. `run` measures one workload in
 * the guest and prints RES lines; `report` turns the RES lines of both
 * drivers into the side-by-side table and CSV; `pagemap` shows the physical
 * layout of a mapping (a check of the adjacency count, host or guest).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/nitro_enclaves.h>

#include "bench.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *err_name(int err)
{
	static const char *const ne[] = {
		"VCPU_ALREADY_USED", "VCPU_NOT_IN_CPU_POOL",
		"VCPU_INVALID_CPU_CORE", "INVALID_MEM_REGION_SIZE",
		"INVALID_MEM_REGION_ADDR", "UNALIGNED_MEM_REGION_ADDR",
		"MEM_REGION_ALREADY_USED", "MEM_NOT_HUGE_PAGE",
		"MEM_DIFFERENT_NUMA_NODE", "MEM_MAX_REGIONS",
		"NO_MEM_REGIONS_ADDED", "NO_VCPUS_ADDED",
		"ENCLAVE_MEM_MIN_SIZE", "FULL_CORES_NOT_USED",
		"NOT_IN_INIT_STATE", "INVALID_VCPU",
		"NO_CPUS_AVAIL_IN_POOL", "INVALID_PAGE_SIZE",
		"INVALID_FLAG_VALUE", "INVALID_ENCLAVE_CID",
	};
	static const struct { int e; const char *n; } std[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" },
		{ ENOMEM, "ENOMEM" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" },
		{ ENOSPC, "ENOSPC" }, { EPIPE, "EPIPE" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	};
	size_t i;

	if (err >= NE_ERR_VCPU_ALREADY_USED && err <= NE_ERR_INVALID_ENCLAVE_CID)
		return ne[err - NE_ERR_VCPU_ALREADY_USED];
	for (i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		if (std[i].e == err)
			return std[i].n;
	return "?";
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ne-bench run -w W1|W2|W3|W4|W5|W6 [-d LABEL | -D LABEL,LABEL... -X CMD [-C LABEL]]\n"
		"                    [-s MIB[,MIB]...] [-r REPS] [-n UNITS] [-c CTL] [-L USEC]\n"
		"       ne-bench report [-o CSV] [-t TITLE] RESFILE...\n"
		"       ne-bench pagemap [-s MIB] [-p 4k|2m|1g] [-m]\n"
		"run: one workload, one RES line per repetition on stdout\n"
		"  -w  W1 nitro-cli pattern (one 2 MiB mapping + ioctl per page),\n"
		"      W2 QEMU pattern (one memfd 2 MiB-page mapping, one ioctl),\n"
		"      W3 as W2 with 1 GiB pages, W4 lifecycle (create, 64 MiB, core,\n"
		"      start, close), W5 CREATE_VM + close churn, W6 two enclaves\n"
		"      concurrently (W6c) and one after the other (W6s)\n"
		"  -d  label of the loaded driver (default \"driver\")\n"
		"  -D  labels of up to 4 drivers, all measured on the same memory\n"
		"      (mapped once): per size, each driver in turn, its R reps; the\n"
		"      order alternates between sizes (ABBA); needs -X\n"
		"  -X  command run as `CMD LABEL` to load a driver (with its CPU pool)\n"
		"      before its turn; nothing of ne-bench holds the device meanwhile\n"
		"  -C  the driver of -D loaded now ('' none): it goes first, no switch\n"
		"  -s  enclave memory in MiB (W1-W3: a list, the largest is mapped once\n"
		"      and the others use its start; W6: per enclave; default 256)\n"
		"  -r  repetitions (default 5)\n"
		"  -n  W4 enclaves / W5 cycles per repetition (default 4 / 100)\n"
		"  -c  emulator control port for command counts (default $NE_EMU_CTL;\n"
		"      '-' for none)\n"
		"  -L  set the emulator's reply latency of every command first\n"
		"  $NE_BENCH_DEV: the device node (default " NE_DEV ")\n"
		"report: median [min..max] per driver, commands, ratio; -o writes CSV\n"
		"pagemap: map and touch S MiB (-m: one mapping per page), print the\n"
		"  PFN runs and the adjacency count (needs root for PFNs)\n");
	exit(2);
}

static unsigned int num(const char *s, const char *what, unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-') {
		fprintf(stderr, "ne-bench: bad %s '%s'\n", what, s);
		exit(2);
	}
	return (unsigned int)v;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* "256,1024,2048": up to 8 sizes in MiB, sorted ascending. */
static void parse_sizes(struct bench_opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy)
		exit(1);
	o->nsizes = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nsizes == sizeof(o->sizes) / sizeof(o->sizes[0])) {
			fprintf(stderr, "ne-bench: at most 8 sizes\n");
			exit(2);
		}
		o->sizes[o->nsizes++] = num(tok, "size", 1U << 20);
	}
	free(copy);
	if (!o->nsizes) {
		fprintf(stderr, "ne-bench: bad size list '%s'\n", arg);
		exit(2);
	}
	qsort(o->sizes, o->nsizes, sizeof(o->sizes[0]), cmp_uint);
}

/*
 * "upstream,project": 1 to BENCH_MAX_DRIVERS distinct labels of letters,
 * digits and "_.+-" (they end up in RES lines and CSV headers).
 */
static void parse_drivers(struct bench_opts *o, const char *arg)
{
	static const char ok[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-";
	char *copy = strdup(arg), *p, *next;
	unsigned int i;

	if (!copy)
		exit(1);
	o->ndrivers = 0;
	for (p = copy; p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		if (!*p || strlen(p) > BENCH_LABEL_MAX || strspn(p, ok) != strlen(p)) {
			fprintf(stderr, "ne-bench: bad driver label '%s' (1-%d of [A-Za-z0-9_.+-])\n",
				p, BENCH_LABEL_MAX);
			exit(2);
		}
		if (o->ndrivers == BENCH_MAX_DRIVERS) {
			fprintf(stderr, "ne-bench: at most %d drivers\n", BENCH_MAX_DRIVERS);
			exit(2);
		}
		for (i = 0; i < o->ndrivers; i++) {
			if (!strcmp(o->drivers[i], p)) {
				fprintf(stderr, "ne-bench: driver '%s' given twice\n", p);
				exit(2);
			}
		}
		o->drivers[o->ndrivers++] = p;	/* copy lives as long as the run */
	}
}

static int cmd_run(int argc, char **argv)
{
	struct bench_opts o = { .drivers = { "driver" }, .ndrivers = 1,
				.switch_cmd = NULL, .current = -1, .work = NULL,
				.sizes = { 256 }, .nsizes = 1,
				.reps = 5, .units = 0,
				.ctl_path = getenv("NE_EMU_CTL"),
				.latency_us = -1 };
	const char *current = NULL;
	int c;

	while ((c = getopt(argc, argv, "w:d:D:X:C:s:r:n:c:L:h")) != -1) {
		switch (c) {
		case 'w':
			o.work = optarg;
			break;
		case 'd':
			if (strchr(optarg, ',')) {
				fprintf(stderr, "ne-bench: -d takes one label; several are -D\n");
				usage();
			}
			/* fall through */
		case 'D':
			parse_drivers(&o, optarg);
			break;
		case 'X':
			o.switch_cmd = optarg;
			break;
		case 'C':
			current = optarg;
			break;
		case 's':
			parse_sizes(&o, optarg);
			break;
		case 'r':
			o.reps = num(optarg, "repetitions", 100000);
			break;
		case 'n':
			o.units = num(optarg, "units", 10000000);
			break;
		case 'c':
			o.ctl_path = strcmp(optarg, "-") ? optarg : NULL;
			break;
		case 'L':
			o.latency_us = num(optarg, "latency", 60000000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !o.work || strlen(o.work) != 2 ||
	    o.work[0] != 'W' || o.work[1] < '1' || o.work[1] > '6') {
		fprintf(stderr, "ne-bench: run wants -w W1..W6 and no other arguments\n");
		usage();
	}
	if (!o.reps || (o.latency_us >= 0 && !o.ctl_path)) {
		fprintf(stderr, "ne-bench: -r must be > 0; -L needs a control port\n");
		usage();
	}
	if ((o.ndrivers > 1 && !o.switch_cmd) || (o.switch_cmd && !o.switch_cmd[0])) {
		fprintf(stderr, "ne-bench: several drivers need a switch command (-X CMD)\n");
		usage();
	}
	for (c = 0; current && current[0] && c < (int)o.ndrivers; c++)
		if (!strcmp(o.drivers[c], current))
			o.current = c;
	if (current && current[0] && o.current < 0) {
		fprintf(stderr, "ne-bench: -C '%s' is none of the drivers\n", current);
		usage();
	}
	if (o.ctl_path && !o.ctl_path[0])
		o.ctl_path = NULL;
	if (!o.units)
		o.units = o.work[1] == '4' ? 4 : o.work[1] == '5' ? 100 : 1;
	if (o.work[1] <= '3' || o.work[1] == '6') {
		unsigned int i, unit = o.work[1] == '3' ? 1024 : 2;

		for (i = 0; i < o.nsizes; i++) {
			if (!o.sizes[i] || o.sizes[i] % unit) {
				fprintf(stderr, "ne-bench: %s wants sizes that are multiples of %u MiB\n",
					o.work, unit);
				return 2;
			}
		}
	}
	return bench_run(&o);
}

static int cmd_report(int argc, char **argv)
{
	const char *csv = NULL, *title = NULL;
	int c;

	while ((c = getopt(argc, argv, "o:t:h")) != -1) {
		switch (c) {
		case 'o':
			csv = optarg;
			break;
		case 't':
			title = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	return bench_report((const char *const *)argv + optind, argc - optind,
			    csv, title);
}

static int cmd_pagemap(int argc, char **argv)
{
	unsigned int mib = 8, per_page = 0;
	size_t page = 4096, n, i, j, runs = 0;
	struct hmap *maps;
	void **addrs;
	uint64_t *pfn;
	int c, rc;

	while ((c = getopt(argc, argv, "s:p:mh")) != -1) {
		switch (c) {
		case 's':
			mib = num(optarg, "size", 1U << 20);
			break;
		case 'p':
			page = !strcmp(optarg, "4k") ? 4096 :
			       !strcmp(optarg, "2m") ? PAGE_2M :
			       !strcmp(optarg, "1g") ? PAGE_1G : 0;
			if (!page)
				usage();
			break;
		case 'm':
			per_page = 1;
			break;
		default:
			usage();
		}
	}
	n = (size_t)mib * MIB / page;
	if (!n || optind != argc)
		usage();
	maps = calloc(per_page ? n : 1, sizeof(*maps));
	addrs = calloc(n, sizeof(*addrs));
	pfn = calloc(n, sizeof(*pfn));
	if (!maps || !addrs || !pfn)
		return 1;
	for (i = 0; i < (per_page ? n : 1); i++) {
		size_t len = per_page ? page : n * page;

		if (page == 4096) {
			/* Plain pages: for checking the pagemap reader anywhere. */
			maps[i].addr = aligned_alloc(4096, len);
			maps[i].len = len;
			maps[i].page = page;
			rc = maps[i].addr ? 0 : -ENOMEM;
		} else {
			rc = hmap_anon(&maps[i], len, page);
		}
		if (rc) {
			fprintf(stderr, "ne-bench: mapping: %s\n", strerror(-rc));
			return 1;
		}
		hmap_touch(&maps[i]);
	}
	for (i = 0; i < n; i++)
		addrs[i] = per_page ? maps[i].addr : (char *)maps[0].addr + i * page;
	rc = pagemap_pfns(addrs, n, pfn);
	if (rc) {
		fprintf(stderr, "ne-bench: pagemap: %s\n", strerror(-rc));
		return 1;
	}
	/* One line per physically contiguous ascending run. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && pfn[j] == pfn[j - 1] + page / 4096; j++)
			;
		printf("run pfn=0x%llx pages=%zu\n", (unsigned long long)pfn[i],
		       j - i);
		runs++;
	}
	printf("pages=%zu adjacent=%ld runs=%zu\n", n,
	       count_adjacent(pfn, n, page), runs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pagemap"))
		return cmd_pagemap(argc - 1, argv + 1);
	usage();
	return 2;
}
