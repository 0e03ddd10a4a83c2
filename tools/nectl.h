/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nectl: interfaces shared between the tool's files, grouped by owning file.
 *
 * Everything below main.c takes plain arguments and returns 0 or -errno (or
 * a documented status), so the unit tests can link it without the CLI.
 */
#ifndef NECTL_H
#define NECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NECTL_VERSION		"0.1"
#define NE_MODULE_NAME		"nitro_enclaves"
#define NE_DEV_PATH		"/dev/nitro_enclaves"
#define NE_CPUS_PARAM		"/sys/module/nitro_enclaves/parameters/ne_cpus"
/* This project's module: enclaves whose release the device has not confirmed. */
#define NE_QUARANTINE_PARAM	"/sys/module/nitro_enclaves/parameters/quarantine"
#define NE_CONFIG_PATH		"/etc/nitro_enclaves/allocator.yaml"
#define NE_PCI_VENDOR		0x1d0f
#define NE_PCI_DEVICE		0xe4c1

#define MiB			((uint64_t)1024 * 1024)
#define GiB			(1024 * MiB)
#define NE_MIN_ENCLAVE_MEM	(64 * MiB)
#define NE_REGION_ALIGN		(2 * MiB)
#define NE_MAX_CPUS		4096
#define NE_MAX_NODES		64
#define NE_MAX_HP_SIZES		8

/* errors.c: report helpers and NE_ERR_* sentences */
const char *ne_err_sentence(int err);
void ne_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ne_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ne_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool ne_quiet;
extern bool ne_info_to_stderr;

/* sysfs.c: sysfs/procfs access relative to a root (tests use fake trees) */
void ne_root_set(const char *root);
const char *ne_root_get(void);
bool ne_root_is_real(void);
int ne_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ne_read_str(const char *path, char *buf, size_t len);
int ne_read_u64(const char *path, uint64_t *val);
int ne_write_str(const char *path, const char *val);
int ne_write_u64(const char *path, uint64_t val);
bool ne_exists(const char *path);
/* Tests hook writes: < 0 fails the write, > 0 means the hook did it. */
typedef int (*ne_write_hook_fn)(const char *path, const char *val);
void ne_write_hook_set(ne_write_hook_fn fn);
void ne_copy(char *dst, size_t len, const char *src);

/* cpulist.c: kernel cpu-list syntax ("1-3,5") as bitmaps */
struct ne_cpuset {
	uint64_t bits[NE_MAX_CPUS / 64];
};
int ne_cpuset_parse(const char *s, struct ne_cpuset *set);
int ne_cpuset_format(const struct ne_cpuset *set, char *buf, size_t len);
void ne_cpuset_zero(struct ne_cpuset *set);
void ne_cpuset_add(struct ne_cpuset *set, int cpu);
bool ne_cpuset_has(const struct ne_cpuset *set, int cpu);
int ne_cpuset_count(const struct ne_cpuset *set);
int ne_cpuset_first(const struct ne_cpuset *set);
bool ne_cpuset_subset(const struct ne_cpuset *a, const struct ne_cpuset *b);

/* topo.c: CPU and NUMA topology as sysfs shows it */
struct ne_cpu {
	bool present;
	bool online;
	bool known;		/* topology readable (online CPUs only) */
	int node;
	struct ne_cpuset siblings;
};
struct ne_topo {
	int nr_cpus;		/* highest present CPU + 1 */
	int nr_nodes;		/* highest node + 1, 1 without NUMA sysfs */
	bool numa_sysfs;
	int threads_per_core;	/* largest sibling set seen */
	struct ne_cpu cpu[NE_MAX_CPUS];
	uint64_t node_mem_free[NE_MAX_NODES];	/* bytes, incl. free hugepages */
	uint64_t node_mem_total[NE_MAX_NODES];
};
int ne_topo_read(struct ne_topo *t);

/* hugepages.c: hugepage pools per node, planning and reservation */
struct ne_hp_size {
	uint64_t size;		/* bytes */
	uint64_t total;
	uint64_t free;
};
struct ne_hp_node {
	int node;
	int nr_sizes;		/* sorted largest first */
	struct ne_hp_size sz[NE_MAX_HP_SIZES];
};
int ne_hp_read(int node, bool numa, struct ne_hp_node *hn);
int ne_hp_reserve(int node, bool numa, uint64_t bytes, struct ne_hp_node *result);
int ne_parse_size(const char *s, uint64_t plain_unit, uint64_t *bytes);
void ne_format_size(uint64_t bytes, char *buf, size_t len);

/* pool.c: the CPU pool chooser and writer */
struct ne_pool_req {
	int count;			/* CPUs wanted, or 0 with list */
	const struct ne_cpuset *list;	/* explicit CPUs, or NULL */
	uint64_t mem_bytes;		/* memory the node must be able to back */
};
int ne_pool_choose(const struct ne_topo *t, const struct ne_pool_req *req,
		   struct ne_cpuset *out, int *node, char *why, size_t whylen);
int ne_pool_read(struct ne_cpuset *set, char *raw, size_t rawlen);
int ne_pool_set(const struct ne_pool_req *req, struct ne_cpuset *chosen, int *node);
int ne_pool_restore(const char *raw);
int ne_pool_node(const struct ne_topo *t, const struct ne_cpuset *pool);

/* config.c: allocator.yaml */
struct ne_config {
	uint64_t memory_mib;
	int cpu_count;
	char cpu_pool[512];
	bool has_memory, has_count, has_pool;
};
int ne_config_load(const char *path, struct ne_config *cfg, char *err, size_t errlen);

/* kmod.c: libkmod load/unload/info */
struct ne_mod_info {
	bool found;		/* resolvable by name */
	bool loaded;
	bool builtin;
	bool file_matches;	/* the loaded module was built from that file */
	int refcnt;
	char path[512];
	char origin[32];	/* "dkms", "in-tree", "other" */
	char version[64];
	char srcversion[64];
};
int ne_kmod_info(struct ne_mod_info *mi);
int ne_kmod_load(const char *module_path, const char *pool);
int ne_kmod_unload(void);

/* status.c */
int ne_status(bool json);

/* run.c */
struct ne_run_opts {
	const char *image;
	uint64_t memory;	/* bytes */
	int cpus;
	uint64_t cid;
	bool debug;
	bool console;	/* stream the debug console to stdout (implies debug) */
	bool no_wait;
};
struct ne_region {
	void *addr;
	uint64_t len;
	uint64_t page;		/* hugepage size backing the region */
};
int ne_run(const struct ne_run_opts *o);
int ne_plan_regions(int node, bool numa, uint64_t memory, struct ne_region *reg, int max,
		    int *nr);
int ne_heartbeat_timeout_ms(uint64_t image_size);

/* eif.c: the Enclave Image Format, version 4 (build, parse, CRC, PCRs) */
#define NE_EIF_MAGIC		".eif"
#define NE_EIF_VERSION		4
#define NE_EIF_HDR_SIZE		548
#define NE_EIF_SEC_HDR_SIZE	12
#define NE_EIF_MAX_SECTIONS	32
#define NE_EIF_MAX_RAMDISKS	(NE_EIF_MAX_SECTIONS - 3)
#define NE_EIF_FLAG_AARCH64	0x1
/* The kernel's COMMAND_LINE_SIZE (2048 on x86_64 and arm64) holds the NUL. */
#define NE_EIF_CMDLINE_MAX	2047
#define NE_EIF_MIN_MEM_MIB	64
#define NE_EIF_MAX_MEM_MIB	(4 * 1024 * 1024)
#define NE_EIF_DEFAULT_MEM_MIB	1024	/* as AWS's EifBuilder */
#define NE_EIF_DEFAULT_CPUS	2
#define NE_SHA384_LEN		48

enum ne_eif_section_type {
	NE_EIF_KERNEL = 1,
	NE_EIF_CMDLINE = 2,
	NE_EIF_RAMDISK = 3,
	NE_EIF_SIGNATURE = 4,
	NE_EIF_METADATA = 5,
};

struct ne_eif_header {
	uint16_t version;
	uint16_t flags;
	uint64_t default_mem;		/* bytes */
	uint64_t default_cpus;
	uint16_t reserved;
	uint16_t nr_sections;
	uint64_t offsets[NE_EIF_MAX_SECTIONS];	/* of the section headers */
	uint64_t sizes[NE_EIF_MAX_SECTIONS];	/* of the data after them */
	uint32_t unused;
	uint32_t crc;
};

struct ne_eif_build_opts {
	const char *kernel;
	const char *ramdisks[NE_EIF_MAX_RAMDISKS];
	int nr_ramdisks;
	const char *cmdline;
	const char *output;
	const char *name;		/* metadata ImageName, NULL: from output */
	bool aarch64;
	uint64_t mem_mib;
	uint64_t cpus;
};

struct ne_eif_result {
	uint64_t size;
	uint32_t crc;
	int nr_sections;
	uint8_t pcr[3][NE_SHA384_LEN];
};

struct ne_eif_section {
	uint16_t type;
	uint16_t flags;
	uint64_t offset;
	uint64_t size;
};

/* The first bytes of a text section (cmdline, metadata), for display. */
struct ne_eif_text {
	char s[4097];
	size_t len;
	bool truncated;
};

struct ne_eif_info {
	struct ne_eif_header hdr;
	uint64_t file_size;
	struct ne_eif_section sec[NE_EIF_MAX_SECTIONS];
	uint32_t crc;			/* computed */
	bool crc_ok;
	int nr_kernels, nr_cmdlines, nr_ramdisks;
	bool has_signature;
	struct ne_eif_text cmdline;
	struct ne_eif_text metadata;
	uint8_t pcr[3][NE_SHA384_LEN];	/* PCR0, PCR1, PCR2 */
};

void ne_eif_header_encode(const struct ne_eif_header *h, uint8_t *out);
void ne_eif_header_decode(const uint8_t *in, struct ne_eif_header *h);
const char *ne_eif_type_name(unsigned int type);
void ne_eif_hex(const uint8_t *d, size_t len, char *out);
int ne_eif_build(const struct ne_eif_build_opts *o, struct ne_eif_result *res, char *err,
		 size_t errlen);
/* 0, -EBADMSG on a CRC mismatch (info filled in), other -errno: err says why. */
int ne_eif_read(const char *path, struct ne_eif_info *info, char *err, size_t errlen);
int ne_eif_describe(const char *path, bool json);

#endif /* NECTL_H */
