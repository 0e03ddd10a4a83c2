// SPDX-License-Identifier: GPL-2.0
/*
 * Test runner: selects tests, forks one child per test with a timeout, and
 * prints TAP 13 with a kselftest-style summary, then the project's one
 * summary line "N passed, N failed, N skipped" last.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/nitro_enclaves.h>

#include "harness.h"

#define TH_EXIT_PASS 0
#define TH_EXIT_FAIL 1
#define TH_EXIT_SKIP 4

struct th_ctx *th_cur;

static struct th_test *tests_head, **tests_tail = &tests_head;
static void (*after_each)(void);

/* Shared with the child: the skip reason survives the child's exit. */
struct th_shared {
	char skip_reason[256];
};
static struct th_shared *shared;

void th_register_test(struct th_test *t)
{
	t->next = NULL;
	*tests_tail = t;
	tests_tail = &t->next;
}

void th_register_variant(struct th_fixture *f, struct th_variant *v)
{
	struct th_variant **pp = &f->variants;

	while (*pp)
		pp = &(*pp)->next;
	v->next = NULL;
	*pp = v;
}

void th_set_after_each(void (*fn)(void))
{
	after_each = fn;
}

void th_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void th_fail(struct th_ctx *ctx, const char *file, int line, int fatal,
	     const char *what, const char *fmt, ...)
{
	va_list ap;

	if (ctx)
		ctx->failed = 1;
	printf("# %s:%d: %s: %s", file, line, fatal ? "ASSERT" : "EXPECT",
	       what);
	if (fmt && *fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
}

void th_skip(struct th_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx)
		ctx->skipped = 1;
	if (shared) {
		va_start(ap, fmt);
		vsnprintf(shared->skip_reason, sizeof(shared->skip_reason),
			  fmt, ap);
		va_end(ap);
	}
}

void th_abort(struct th_ctx *ctx)
{
	longjmp(ctx->abort_jb, 1);
}

static const char *const ne_err_names[] = {
	"NE_ERR_VCPU_ALREADY_USED", "NE_ERR_VCPU_NOT_IN_CPU_POOL",
	"NE_ERR_VCPU_INVALID_CPU_CORE", "NE_ERR_INVALID_MEM_REGION_SIZE",
	"NE_ERR_INVALID_MEM_REGION_ADDR", "NE_ERR_UNALIGNED_MEM_REGION_ADDR",
	"NE_ERR_MEM_REGION_ALREADY_USED", "NE_ERR_MEM_NOT_HUGE_PAGE",
	"NE_ERR_MEM_DIFFERENT_NUMA_NODE", "NE_ERR_MEM_MAX_REGIONS",
	"NE_ERR_NO_MEM_REGIONS_ADDED", "NE_ERR_NO_VCPUS_ADDED",
	"NE_ERR_ENCLAVE_MEM_MIN_SIZE", "NE_ERR_FULL_CORES_NOT_USED",
	"NE_ERR_NOT_IN_INIT_STATE", "NE_ERR_INVALID_VCPU",
	"NE_ERR_NO_CPUS_AVAIL_IN_POOL", "NE_ERR_INVALID_PAGE_SIZE",
	"NE_ERR_INVALID_FLAG_VALUE", "NE_ERR_INVALID_ENCLAVE_CID",
};

/* A printable name for 0 / a positive value / -errno / -NE_ERR_*. */
const char *th_errname(long v)
{
	static char bufs[4][64];
	static int slot;
	char *b = bufs[slot++ % 4];
	long e = -v;
	const char *n;

	if (v == 0)
		return "0 (success)";
	if (v > 0) {
		snprintf(b, sizeof(bufs[0]), "%ld (success)", v);
		return b;
	}
	if (e >= NE_ERR_VCPU_ALREADY_USED && e <= NE_ERR_INVALID_ENCLAVE_CID)
		n = ne_err_names[e - NE_ERR_VCPU_ALREADY_USED];
	else
		n = strerrorname_np((int)e);
	if (n)
		snprintf(b, sizeof(bufs[0]), "-%s(%ld)", n, e);
	else
		snprintf(b, sizeof(bufs[0]), "-errno(%ld)", e);
	return b;
}

/*
 * The one TAP result printer: "ok N <what>" or "not ok N <what>", and for a
 * skip " # SKIP <reason>". Tests are named by their id; sequential points by
 * a description, after "- " since it may begin with a number.
 */
static void tap_vline(int ok, int n, const char *sep, const char *skip,
		      const char *fmt, va_list ap)
{
	printf("%sok %d %s", ok ? "" : "not ", n, sep);
	vprintf(fmt, ap);
	if (skip)
		printf(" # SKIP %s", skip);
	putchar('\n');
	fflush(stdout);
}

static void tap_line(int ok, int n, const char *skip, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(ok, n, "", skip, fmt, ap);
	va_end(ap);
}

/* The project's summary line, always the last line of the output. */
static void summary_line(int pass, int fail, int skip)
{
	th_log("%d passed, %d failed, %d skipped", pass, fail, skip);
}

static int seq_n, seq_failed;

void th_tap_begin(void)
{
	th_log("TAP version 13");
}

int th_tap_point(int cond, const char *fmt, ...)
{
	va_list ap;

	if (!cond)
		seq_failed++;
	va_start(ap, fmt);
	tap_vline(cond, ++seq_n, "- ", NULL, fmt, ap);
	va_end(ap);
	return cond;
}

int th_tap_failed(void)
{
	return seq_failed;
}

int th_tap_end(void)
{
	th_log("1..%d", seq_n);
	summary_line(seq_n - seq_failed, seq_failed, 0);
	return seq_failed ? 1 : 0;
}

/* One runnable instance: a test, possibly bound to one fixture variant. */
struct th_inst {
	struct th_test *t;
	struct th_variant *v;
	char name[160];
};

static void run_child(struct th_inst *in)
{
	struct th_fixture *f = in->t->fixture;
	const void *vdata = in->v ? in->v->data : NULL;
	static struct th_ctx ctx;
	void *self;

	setpgid(0, 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.name = in->name;
	th_cur = &ctx;
	self = calloc(1, f && f->self_size ? f->self_size : 1);
	if (!self)
		_exit(TH_EXIT_FAIL);

	ctx.stage = TH_STAGE_SETUP;
	if (!setjmp(ctx.abort_jb)) {
		if (f)
			f->setup(&ctx, self, vdata);
		ctx.stage = TH_STAGE_BODY;
		if (!ctx.skipped && !ctx.failed)
			in->t->fn(&ctx, self, vdata);
	}
	/* Teardown runs once, and only if setup completed. */
	if (f && ctx.stage == TH_STAGE_BODY) {
		ctx.stage = TH_STAGE_TEARDOWN;
		if (!setjmp(ctx.abort_jb))
			f->teardown(&ctx, self, vdata);
	}
	fflush(stdout);
	if (ctx.failed)
		_exit(TH_EXIT_FAIL);
	_exit(ctx.skipped ? TH_EXIT_SKIP : TH_EXIT_PASS);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Returns TH_EXIT_*; prints the reason for a crash or timeout. */
static int run_one(struct th_inst *in, double scale)
{
	double limit = in->t->timeout_s * scale, start = now_s();
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	int status = 0, timed_out = 0;
	pid_t pid, r;

	memset(shared, 0, sizeof(*shared));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		th_log("# fork: %s", strerror(errno));
		return TH_EXIT_FAIL;
	}
	if (pid == 0)
		run_child(in);
	setpgid(pid, pid);

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			th_log("# waitpid: %s", strerror(errno));
			return TH_EXIT_FAIL;
		}
		if (!timed_out && now_s() - start > limit) {
			timed_out = 1;
			th_log("# %s: timed out after %.0f s", in->name, limit);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		nanosleep(&nap, NULL);
	}
	/* Reap nothing else, but make sure no stray grandchild survives. */
	kill(-pid, SIGKILL);

	if (timed_out)
		return TH_EXIT_FAIL;
	if (WIFSIGNALED(status)) {
		th_log("# %s: child killed by signal %d (%s)", in->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
		return TH_EXIT_FAIL;
	}
	switch (WEXITSTATUS(status)) {
	case TH_EXIT_PASS:
		return TH_EXIT_PASS;
	case TH_EXIT_SKIP:
		return TH_EXIT_SKIP;
	default:
		return TH_EXIT_FAIL;
	}
}

static int matches(const char *name, char **pats, int n)
{
	for (int i = 0; i < n; i++)
		if (!fnmatch(pats[i], name, 0))
			return 1;
	return 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-l] [-t PATTERN]... [-T PATTERN]...\n"
		"  -l          list test names and exit\n"
		"  -t PATTERN  run only tests whose name matches (glob)\n"
		"  -T PATTERN  exclude tests whose name matches (glob)\n"
		"env: TH_TIMEOUT_SCALE=<float> multiplies every timeout\n",
		argv0);
}

/* The tests (one instance per variant) that -t/-T select, in run order. */
static int select_tests(char **inc, int ninc, char **exc, int nexc,
			struct th_inst **out)
{
	struct th_inst *insts = NULL, *bigger;
	int n = 0, cap = 0;

	for (struct th_test *t = tests_head; t; t = t->next) {
		struct th_variant *v = t->fixture ? t->fixture->variants : NULL;

		do {
			struct th_inst in = { .t = t, .v = v };

			if (v)
				snprintf(in.name, sizeof(in.name), "%s.%s.%s",
					 t->group, v->name, t->tname);
			else
				snprintf(in.name, sizeof(in.name), "%s",
					 t->name);
			v = v ? v->next : NULL;
			if ((ninc && !matches(in.name, inc, ninc)) ||
			    matches(in.name, exc, nexc))
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				bigger = realloc(insts, cap * sizeof(*insts));
				if (!bigger) {
					free(insts);
					return -1;
				}
				insts = bigger;
			}
			insts[n++] = in;
		} while (v);
	}
	*out = insts;
	return n;
}

/* Runs the selected tests; prints TAP, the totals and the summary line. */
static int run_all(struct th_inst *insts, int n, double scale)
{
	int pass = 0, fail = 0, skip = 0;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 2;

	th_tap_begin();
	th_log("1..%d", n);
	th_log("# Starting %d tests", n);
	for (int i = 0; i < n; i++) {
		double t0 = now_s();
		int rc;

		th_log("#  RUN           %s ...", insts[i].name);
		rc = run_one(&insts[i], scale);
		if (after_each)
			after_each();
		if (rc == TH_EXIT_PASS) {
			pass++;
			th_log("#            OK  %s (%.2f s)", insts[i].name,
			       now_s() - t0);
			tap_line(1, i + 1, NULL, "%s", insts[i].name);
		} else if (rc == TH_EXIT_SKIP) {
			skip++;
			th_log("#          SKIP  %s", insts[i].name);
			tap_line(1, i + 1, shared->skip_reason[0] ?
				 shared->skip_reason : "(no reason given)",
				 "%s", insts[i].name);
		} else {
			fail++;
			th_log("#          FAIL  %s (%.2f s)", insts[i].name,
			       now_s() - t0);
			tap_line(0, i + 1, NULL, "%s", insts[i].name);
		}
	}
	th_log("# PASSED: %d / %d tests passed.", pass + skip, n);
	th_log("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0",
	       pass, fail, skip);
	summary_line(pass, fail, skip);
	munmap(shared, sizeof(*shared));
	shared = NULL;
	return fail ? 1 : 0;
}

int th_main(int argc, char **argv)
{
	char **inc = calloc(argc, sizeof(char *));
	char **exc = calloc(argc, sizeof(char *));
	int ninc = 0, nexc = 0, list = 0, opt, n, rc = 2;
	struct th_inst *insts = NULL;
	const char *sc = getenv("TH_TIMEOUT_SCALE");
	double scale = sc ? atof(sc) : 1.0;

	if (!inc || !exc)
		goto out;
	if (scale <= 0)
		scale = 1.0;
	while ((opt = getopt(argc, argv, "lt:T:h")) != -1) {
		switch (opt) {
		case 'l':
			list = 1;
			break;
		case 't':
			inc[ninc++] = optarg;
			break;
		case 'T':
			exc[nexc++] = optarg;
			break;
		default:
			usage(argv[0]);
			rc = opt == 'h' ? 0 : 2;
			goto out;
		}
	}

	n = select_tests(inc, ninc, exc, nexc, &insts);
	if (n < 0)
		goto out;
	if (list) {
		for (int i = 0; i < n; i++)
			printf("%s\n", insts[i].name);
		rc = 0;
	} else if (ninc && !n) {
		fprintf(stderr, "no test matches the given -t pattern(s)\n");
	} else {
		rc = run_all(insts, n, scale);
	}
out:
	free(insts);
	free(inc);
	free(exc);
	return rc;
}
