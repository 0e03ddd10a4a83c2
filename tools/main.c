// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: command-line parsing and dispatch to the subcommands.
 *
 * Exit status: 0 success, 1 failure, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nectl.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: nectl [--root DIR] [--quiet] COMMAND [ARGS]\n"
	"\n"
	"  status [--json]                 module, device, CPU pool, hugepages\n"
	"  load [--pool LIST] [--module FILE]\n"
	"                                  load nitro_enclaves through libkmod\n"
	"  unload                          unload nitro_enclaves\n"
	"  pool set LIST                   set the CPU pool to these full cores\n"
	"  pool set --count N [--memory SIZE]\n"
	"                                  choose N CPUs of full cores on one NUMA node\n"
	"  pool clear                      empty the CPU pool (CPUs go back online)\n"
	"  hugepages reserve SIZE [--node N]\n"
	"                                  hold SIZE of hugepages on a node, largest first\n"
	"  allocate [--config FILE]        pool + hugepages from allocator.yaml\n"
	"  run IMAGE --memory MiB --cpus N [--cid CID] [--debug] [--console]\n"
	"            [--no-wait]\n"
	"                                  run an enclave image until it exits\n"
	"  build-eif --kernel F --initrd F [--initrd F]... --cmdline S -o OUT\n"
	"            [--arch x86_64|aarch64] [--mem-mib N] [--cpus N] [--name S]\n"
	"                                  write an enclave image (EIF version 4)\n"
	"  describe-eif FILE [--json]      check an EIF and print its header,\n"
	"                                  sections and PCR0-PCR2\n"
	"\n"
	"See nectl(8).\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "nectl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'nectl --help'.\n");
	return EXIT_USAGE;
}

/*
 * getopt_long on a subcommand's own argv; reports unknown options itself.
 * shortopts: the short options after the leading ":" (NULL: none).
 */
static int next_opt_short(int argc, char **argv, const struct option *lo, const char *cmd,
			  const char *shortopts)
{
	char spec[32];
	int c;

	opterr = 0;
	/* Global options stop at the command; a command's options may follow operands. */
	snprintf(spec, sizeof(spec), "%s%s", cmd[0] ? ":" : "+:", shortopts ? shortopts : "");
	c = getopt_long(argc, argv, spec, lo, NULL);
	if (c == '?') {
		if (optopt)
			fprintf(stderr, "nectl%s%s: option '-%c' is not valid\n", *cmd ? " " : "",
				cmd, optopt);
		else
			fprintf(stderr, "nectl%s%s: option '%s' is not valid\n", *cmd ? " " : "",
				cmd, argv[optind - 1]);
		fprintf(stderr, "Try 'nectl --help'.\n");
	} else if (c == ':') {
		fprintf(stderr, "nectl%s%s: option '%s' needs a value\n", *cmd ? " " : "", cmd,
			argv[optind - 1]);
	}
	return c;
}

static int next_opt(int argc, char **argv, const struct option *lo, const char *cmd)
{
	return next_opt_short(argc, argv, lo, cmd, NULL);
}

static int parse_int(const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || end == s || *end || *v < min || *v > max ? -EINVAL : 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	bool json = false;
	int c;

	while ((c = next_opt(argc, argv, lo, "status")) != -1) {
		if (c != 'j')
			return EXIT_USAGE;
		json = true;
	}
	if (optind < argc)
		return usage_error("status: unexpected argument '%s'", argv[optind]);
	return ne_status(json) ? EXIT_FAIL : EXIT_OK;
}

/* A pool given on the command line, checked against the topology first. */
static int check_pool_list(const char *list, char *canon, size_t len)
{
	struct ne_pool_req req = { 0 };
	struct ne_cpuset set, out;
	char why[512];
	struct ne_topo *t;
	int node, rc;

	if (ne_cpuset_parse(list, &set) || !ne_cpuset_count(&set)) {
		ne_err("'%s' is not a CPU list such as 2-3,6-7", list);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	req.list = &set;
	rc = ne_topo_read(t);
	if (rc)
		ne_err("cannot read the CPU topology: %s", strerror(-rc));
	else if ((rc = ne_pool_choose(t, &req, &out, &node, why, sizeof(why))))
		ne_err("%s", why);
	else
		ne_cpuset_format(&out, canon, len);
	free(t);
	return rc;
}

static int cmd_load(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pool", required_argument, NULL, 'p' },
		{ "module", required_argument, NULL, 'm' },
		{ 0 } };
	const char *pool = NULL, *module = NULL;
	struct ne_pool_req req = { 0 };
	struct ne_cpuset set, chosen;
	char canon[1024];
	int c, rc, node;

	while ((c = next_opt(argc, argv, lo, "load")) != -1) {
		if (c == 'p')
			pool = optarg;
		else if (c == 'm')
			module = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind < argc)
		return usage_error("load: unexpected argument '%s'", argv[optind]);
	/* Not loaded yet: no CPU is in a pool, so the topology is complete. */
	if (pool && ne_pool_read(&set, canon, sizeof(canon)) == -ENOENT) {
		if (check_pool_list(pool, canon, sizeof(canon)))
			return EXIT_FAIL;
	} else if (pool) {
		if (ne_cpuset_parse(pool, &set) || !ne_cpuset_count(&set)) {
			ne_err("'%s' is not a CPU list such as 2-3,6-7", pool);
			return EXIT_FAIL;
		}
		ne_cpuset_format(&set, canon, sizeof(canon));
	}
	rc = ne_kmod_load(module, pool ? canon : NULL);
	if (rc == -EEXIST && pool) {
		/* Already there: apply the pool through sysfs instead. */
		ne_cpuset_parse(canon, &set);
		req.list = &set;
		rc = ne_pool_set(&req, &chosen, &node);
		if (!rc)
			ne_info("CPU pool set to %s (NUMA node %d)", canon, node);
	}
	return rc && rc != -EEXIST ? EXIT_FAIL : EXIT_OK;
}

static int cmd_unload(int argc, char **argv)
{
	int rc;

	if (argc > 1)
		return usage_error("unload: unexpected argument '%s'", argv[1]);
	rc = ne_kmod_unload();
	return rc && rc != -ENOENT ? EXIT_FAIL : EXIT_OK;
}

static int cmd_pool(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ 0 } };
	struct ne_pool_req req = { 0 };
	struct ne_cpuset set, chosen;
	char list[1024], old[1024];
	int c, node;
	long v;

	if (argc < 2)
		return usage_error("pool: missing action (%s)", "set or clear");
	if (!strcmp(argv[1], "clear")) {
		if (argc > 2)
			return usage_error("pool clear: unexpected argument '%s'", argv[2]);
		if (ne_pool_read(&set, old, sizeof(old))) {
			ne_err("the nitro_enclaves module is not loaded; nothing to clear");
			return EXIT_FAIL;
		}
		c = ne_pool_restore("");
		if (c == -EPERM) {
			ne_err("enclaves are running: the CPU pool cannot change while an enclave exists");
			return EXIT_FAIL;
		}
		if (!c)
			ne_info("CPU pool cleared");
		return c ? EXIT_FAIL : EXIT_OK;
	}
	if (strcmp(argv[1], "set"))
		return usage_error("pool: unknown action '%s' (use set or clear)", argv[1]);
	argc--;
	argv++;
	optind = 0;
	while ((c = next_opt(argc, argv, lo, "pool set")) != -1) {
		if (c == 'c') {
			if (parse_int(optarg, 1, NE_MAX_CPUS, &v))
				return usage_error("pool set: --count needs a positive number, not '%s'",
						   optarg);
			req.count = (int)v;
		} else if (c == 'm') {
			if (ne_parse_size(optarg, MiB, &req.mem_bytes))
				return usage_error("pool set: --memory needs a size such as 512M, not '%s'",
						   optarg);
		} else {
			return EXIT_USAGE;
		}
	}
	if (req.count && optind < argc)
		return usage_error("pool set: give a CPU list or --count, not both ('%s')",
				   argv[optind]);
	if (!req.count) {
		if (optind >= argc)
			return usage_error("pool set: %s", "give a CPU list (e.g. 2-3) or --count N");
		if (optind + 1 < argc)
			return usage_error("pool set: unexpected argument '%s'", argv[optind + 1]);
		if (ne_cpuset_parse(argv[optind], &set) || !ne_cpuset_count(&set))
			return usage_error("pool set: '%s' is not a CPU list such as 2-3,6-7",
					   argv[optind]);
		req.list = &set;
	}
	if (ne_pool_set(&req, &chosen, &node))
		return EXIT_FAIL;
	ne_cpuset_format(&chosen, list, sizeof(list));
	ne_info("CPU pool set to %s (NUMA node %d)", list, node);
	return EXIT_OK;
}

/* The node hugepages go to: --node, else the pool's node, else 0. */
static int pick_node(const struct ne_topo *t, long want)
{
	struct ne_cpuset pool;
	char raw[1024], path[4096];
	int node;

	if (want >= 0) {
		if (!t->numa_sysfs)
			return want == 0 ? 0 : -1;
		ne_path(path, sizeof(path), "/sys/devices/system/node/node%ld", want);
		return ne_exists(path) ? (int)want : -1;
	}
	if (!ne_pool_read(&pool, raw, sizeof(raw)) && ne_cpuset_count(&pool)) {
		node = ne_pool_node(t, &pool);
		if (node >= 0)
			return node;
	}
	return 0;
}

static int reserve(const struct ne_topo *t, int node, uint64_t bytes)
{
	struct ne_hp_node res;
	char a[32], b[32];
	int i, rc;

	if (bytes % NE_REGION_ALIGN) {
		ne_err("the size must be a multiple of 2 MiB");
		return -EINVAL;
	}
	if (bytes > t->node_mem_free[node]) {
		ne_format_size(bytes, a, sizeof(a));
		ne_format_size(t->node_mem_free[node], b, sizeof(b));
		ne_err("NUMA node %d has only %s of memory for hugepages; %s asked for. "
		       "Nothing was changed", node, b, a);
		return -ENOMEM;
	}
	rc = ne_hp_reserve(node, t->numa_sysfs, bytes, &res);
	if (rc == -ENOENT)
		ne_err("no hugepage sizes in sysfs: the kernel lacks CONFIG_HUGETLBFS");
	else if (rc == -EACCES || rc == -EPERM)
		ne_err("permission denied changing hugepages on node %d; run as root", node);
	else if (rc && rc != -ENOMEM)
		ne_err("cannot reserve hugepages on node %d: %s", node, strerror(-rc));
	if (rc)
		return rc;
	ne_format_size(bytes, a, sizeof(a));
	ne_info("node %d: reserved %s of hugepages:", node, a);
	for (i = 0; i < res.nr_sizes; i++) {
		ne_format_size(res.sz[i].size, b, sizeof(b));
		ne_info("  %s pages: %" PRIu64 " total, %" PRIu64 " free", b, res.sz[i].total,
			res.sz[i].free);
	}
	return 0;
}

static int cmd_hugepages(int argc, char **argv)
{
	static const struct option lo[] = { { "node", required_argument, NULL, 'n' }, { 0 } };
	long want = -1;
	uint64_t bytes;
	struct ne_topo *t;
	int c, node, rc;

	if (argc < 2 || strcmp(argv[1], "reserve"))
		return usage_error("hugepages: %s", "use 'hugepages reserve SIZE [--node N]'");
	argc--;
	argv++;
	optind = 0;
	while ((c = next_opt(argc, argv, lo, "hugepages reserve")) != -1) {
		if (c != 'n')
			return EXIT_USAGE;
		if (parse_int(optarg, 0, NE_MAX_NODES - 1, &want))
			return usage_error("hugepages reserve: --node needs a node number, not '%s'",
					   optarg);
	}
	if (optind >= argc)
		return usage_error("hugepages reserve: %s", "missing SIZE (e.g. 512M or 2G)");
	if (optind + 1 < argc)
		return usage_error("hugepages reserve: unexpected argument '%s'", argv[optind + 1]);
	if (ne_parse_size(argv[optind], 0, &bytes))
		return usage_error("hugepages reserve: '%s' is not a size such as 512M or 2G",
				   argv[optind]);
	t = calloc(1, sizeof(*t));
	if (!t)
		return EXIT_FAIL;
	rc = ne_topo_read(t);
	if (rc) {
		ne_err("cannot read the CPU/NUMA topology: %s", strerror(-rc));
	} else if ((node = pick_node(t, want)) < 0) {
		ne_err("NUMA node %ld does not exist", want);
		rc = -ENOENT;
	} else {
		rc = reserve(t, node, bytes);
	}
	free(t);
	return rc ? EXIT_FAIL : EXIT_OK;
}

static int cmd_allocate(int argc, char **argv)
{
	static const struct option lo[] = { { "config", required_argument, NULL, 'c' }, { 0 } };
	const char *path = NE_CONFIG_PATH;
	struct ne_pool_req req = { 0 };
	struct ne_cpuset set, chosen, cur;
	struct ne_config cfg;
	char err[512], old[1024], list[1024];
	struct ne_topo *t;
	int c, node, rc;

	while ((c = next_opt(argc, argv, lo, "allocate")) != -1) {
		if (c != 'c')
			return EXIT_USAGE;
		path = optarg;
	}
	if (optind < argc)
		return usage_error("allocate: unexpected argument '%s'", argv[optind]);
	if (ne_config_load(path, &cfg, err, sizeof(err))) {
		ne_err("%s", err);
		return EXIT_FAIL;
	}
	rc = ne_pool_read(&cur, old, sizeof(old));
	if (rc == -ENOENT && ne_root_is_real()) {
		rc = ne_kmod_load(NULL, NULL);
		if (rc && rc != -EEXIST)
			return EXIT_FAIL;
		rc = ne_pool_read(&cur, old, sizeof(old));
	}
	if (rc) {
		ne_err("the nitro_enclaves module is not loaded; run 'nectl load'");
		return EXIT_FAIL;
	}
	req.mem_bytes = cfg.memory_mib * MiB;
	if (cfg.has_pool) {
		if (ne_cpuset_parse(cfg.cpu_pool, &set)) {
			ne_err("%s: cpu_pool '%s' is not a CPU list", path, cfg.cpu_pool);
			return EXIT_FAIL;
		}
		req.list = &set;
	} else {
		req.count = cfg.cpu_count;
	}
	if (ne_pool_set(&req, &chosen, &node))
		return EXIT_FAIL;
	ne_cpuset_format(&chosen, list, sizeof(list));
	ne_info("CPU pool set to %s (NUMA node %d)", list, node);
	t = calloc(1, sizeof(*t));
	rc = t ? ne_topo_read(t) : -ENOMEM;
	if (!rc)
		rc = reserve(t, node, req.mem_bytes);
	free(t);
	if (rc) {
		/* Nothing half-configured: the pool goes back to what it was. */
		ne_pool_restore(old);
		ne_err("allocation failed; the CPU pool was put back to '%s'", old);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "cid", required_argument, NULL, 'i' },
		{ "debug", no_argument, NULL, 'd' },
		{ "console", no_argument, NULL, 'C' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ 0 } };
	struct ne_run_opts o = { 0 };
	unsigned long long cid;
	char *end;
	long v;
	int c;

	while ((c = next_opt(argc, argv, lo, "run")) != -1) {
		switch (c) {
		case 'm':
			if (ne_parse_size(optarg, MiB, &o.memory))
				return usage_error("run: --memory needs MiB (e.g. 512), not '%s'", optarg);
			break;
		case 'c':
			if (parse_int(optarg, 1, NE_MAX_CPUS, &v))
				return usage_error("run: --cpus needs a positive number, not '%s'", optarg);
			o.cpus = (int)v;
			break;
		case 'i':
			errno = 0;
			cid = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || optarg[0] == '-' || cid > UINT32_MAX)
				return usage_error("run: --cid needs a 32-bit number, not '%s'", optarg);
			if (cid && (cid <= 3 || cid == UINT32_MAX))
				return usage_error("run: --cid %s is reserved (1-3 and 4294967295 are "
						   "not allowed; leave it out to let the device pick)",
						   optarg);
			o.cid = cid;
			break;
		case 'd':
			o.debug = true;
			break;
		case 'C':
			/*
			 * Only a debug-mode enclave has a console to read; it
			 * alone goes to stdout, nectl's own lines to stderr.
			 */
			o.console = true;
			o.debug = true;
			ne_info_to_stderr = true;
			break;
		case 'n':
			o.no_wait = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("run: %s", "missing IMAGE");
	if (optind + 1 < argc)
		return usage_error("run: unexpected argument '%s'", argv[optind + 1]);
	o.image = argv[optind];
	if (!o.memory)
		return usage_error("run: %s", "--memory MiB is required");
	if (!o.cpus)
		return usage_error("run: %s", "--cpus N is required");
	return ne_run(&o) ? EXIT_FAIL : EXIT_OK;
}

static int cmd_build_eif(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "arch", required_argument, NULL, 'a' },
		{ "mem-mib", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ 0 } };
	struct ne_eif_build_opts o = {
		.mem_mib = NE_EIF_DEFAULT_MEM_MIB,
		.cpus = NE_EIF_DEFAULT_CPUS,
#ifdef __aarch64__
		.aarch64 = true,
#endif
	};
	struct ne_eif_result res;
	char err[1024], hex[2 * NE_SHA384_LEN + 1];
	long v;
	int c, i;

	while ((c = next_opt_short(argc, argv, lo, "build-eif", "o:")) != -1) {
		switch (c) {
		case 'k':
			if (o.kernel)
				return usage_error("build-eif: %s", "give --kernel once");
			o.kernel = optarg;
			break;
		case 'i':
			if (o.nr_ramdisks == NE_EIF_MAX_RAMDISKS)
				return usage_error("build-eif: more than %s initrds", "29");
			o.ramdisks[o.nr_ramdisks++] = optarg;
			break;
		case 'c':
			o.cmdline = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'a':
			if (!strcmp(optarg, "x86_64"))
				o.aarch64 = false;
			else if (!strcmp(optarg, "aarch64"))
				o.aarch64 = true;
			else
				return usage_error("build-eif: --arch is x86_64 or aarch64, not '%s'",
						   optarg);
			break;
		case 'm':
			if (parse_int(optarg, NE_EIF_MIN_MEM_MIB, NE_EIF_MAX_MEM_MIB, &v))
				return usage_error("build-eif: --mem-mib needs MiB from 64 to 4194304, "
						   "not '%s'", optarg);
			o.mem_mib = v;
			break;
		case 'p':
			if (parse_int(optarg, 1, NE_MAX_CPUS, &v))
				return usage_error("build-eif: --cpus needs a number from 1 to 4096, "
						   "not '%s'", optarg);
			o.cpus = v;
			break;
		case 'n':
			o.name = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("build-eif: unexpected argument '%s'", argv[optind]);
	if (ne_eif_build(&o, &res, err, sizeof(err))) {
		ne_err("build-eif: %s", err);
		return EXIT_FAIL;
	}
	ne_info("wrote %s: %" PRIu64 " bytes, %d sections, crc32 0x%08x", o.output, res.size,
		res.nr_sections, res.crc);
	for (i = 0; i < 3; i++) {
		ne_eif_hex(res.pcr[i], NE_SHA384_LEN, hex);
		ne_info("PCR%d: %s", i, hex);
	}
	return EXIT_OK;
}

static int cmd_describe_eif(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	bool json = false;
	int c;

	while ((c = next_opt(argc, argv, lo, "describe-eif")) != -1) {
		if (c != 'j')
			return EXIT_USAGE;
		json = true;
	}
	if (optind >= argc)
		return usage_error("describe-eif: %s", "missing FILE");
	if (optind + 1 < argc)
		return usage_error("describe-eif: unexpected argument '%s'", argv[optind + 1]);
	return ne_eif_describe(argv[optind], json) ? EXIT_FAIL : EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "load", cmd_load },
	{ "unload", cmd_unload },
	{ "pool", cmd_pool },
	{ "hugepages", cmd_hugepages },
	{ "allocate", cmd_allocate },
	{ "run", cmd_run },
	{ "build-eif", cmd_build_eif },
	{ "describe-eif", cmd_describe_eif },
};

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 } };
	size_t i;
	int c;

	ne_root_set(getenv("NECTL_ROOT"));
	while ((c = next_opt(argc, argv, lo, "")) != -1) {
		switch (c) {
		case 'r':
			ne_root_set(optarg);
			break;
		case 'q':
			ne_quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			puts("nectl " NECTL_VERSION);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name))
			continue;
		argc -= optind;
		argv += optind;
		optind = 0;	/* full getopt re-initialisation */
		return commands[i].fn(argc, argv);
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
