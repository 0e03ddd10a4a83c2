/* SPDX-License-Identifier: GPL-2.0 */
/* Shared declarations of ne-bench: options, result records, helpers. */

#ifndef NE_BENCH_H
#define NE_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define MIB (1024ULL * 1024)
#define PAGE_2M (2 * MIB)
#define PAGE_1G (1024 * MIB)

#define NE_DEV "/dev/nitro_enclaves"

/* Drivers one run (and one report) can compare, and the longest label. */
#define BENCH_MAX_DRIVERS 4
#define BENCH_LABEL_MAX 31

/* What one `ne-bench run` invocation measures. */
struct bench_opts {
	/*
	 * Labels printed in the result lines. With switch_cmd, every size is
	 * measured with each driver in turn on the same mapping: the command
	 * is run as `switch_cmd LABEL` to load that driver first.
	 */
	const char *drivers[BENCH_MAX_DRIVERS];
	unsigned int ndrivers;
	const char *switch_cmd;	/* NULL: the loaded driver is drivers[0] */
	int current;		/* index of the driver loaded now, -1 unknown */
	const char *work;	/* W1 .. W6 */
	unsigned int sizes[8];	/* MiB, ascending. W1-W3: enclave memory (all
				 * sizes share one mapping of the largest);
				 * W6: per enclave, sizes[0] only */
	unsigned int nsizes;
	unsigned int reps;
	unsigned int units;	/* W4: enclaves per rep; W5: cycles per rep */
	const char *ctl_path;	/* emulator control port, NULL: no counts */
	long latency_us;	/* >= 0: `latency all N` before the run */
};

/* One repetition, printed as one `RES ...` line. */
struct bench_res {
	unsigned int rep;
	int err;		/* 0, or the errno of the first failed call */
	uint64_t ns;		/* wall time of the timed window */
	unsigned int units;	/* what ns covers (enclaves, cycles, 1) */
	long cmds;		/* device commands in the window, -1 unknown */
	long addmem;		/* SLOT_ADD_MEM among them, -1 unknown */
	long pages;		/* hugepages added (W1-W3, W6), 0 otherwise */
	long adjacent;		/* pages physically right after the previous */
};

/* bench_mem.c: hugetlb mappings and their physical layout. */
struct hmap {
	void *addr;
	size_t len;
	size_t page;		/* hugepage size */
};

int hmap_anon(struct hmap *m, size_t len, size_t page);
int hmap_memfd(struct hmap *m, size_t len, size_t page);
void hmap_free(struct hmap *m);
int hmap_touch(const struct hmap *m);
/*
 * PFNs of the hugepages at addrs[0..n) (each the start of a hugepage) into
 * pfn[]; needs root (pagemap hides PFNs otherwise). Returns 0 or -errno.
 */
int pagemap_pfns(void *const *addrs, size_t n, uint64_t *pfn);
/* How many of pfn[1..n) start right after the previous page of size page. */
long count_adjacent(const uint64_t *pfn, size_t n, size_t page);

/* bench_ctl.c: device command counts through the emulator control port. */
int ctl_open(const char *path);
int ctl_latency(long us);
/* Total commands and SLOT_ADD_MEM seen so far; -1 each without a port. */
void ctl_counts(long *total, long *addmem);

/* bench_work.c: the workloads. */
int bench_run(const struct bench_opts *o);

/* bench_report.c: the table and the CSV from collected RES lines. */
int bench_report(const char *const *files, int nfiles, const char *csv,
		 const char *title);

/* ne-bench.c */
uint64_t now_ns(void);
const char *err_name(int err);

#endif
