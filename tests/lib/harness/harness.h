/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The project's one C test harness: kselftest-style TEST/FIXTURE/VARIANT
 * registration, forked children with timeouts, ASSERT/EXPECT/SKIP, TAP 13
 * output and the last line "N passed, N failed, N skipped". Used by the
 * in-VM conformance suite (tests/conformance), the module logic and ABI
 * unit tests (tests/unit) and nectl's unit tests (tools/tests); each
 * Makefile builds harness.c through harness.mk.
 *
 * Written for this project (the kselftest header is GPL-2.0-only and is
 * used as a model only). Usage:
 *
 *	TEST(group, name) { ... }                     -> "group.name"
 *	FIXTURE(f) { int fd; };                       -> struct of per-test state
 *	FIXTURE_VARIANT(f) { int pageshift; };        -> variant parameters (optional)
 *	FIXTURE_VARIANT_ADD(f, v) { .pageshift = 21 };
 *	FIXTURE_SETUP(f) { ... } FIXTURE_TEARDOWN(f) { ... } FIXTURE_REGISTER(f);
 *	TEST_F(f, group, name) { self->fd ...; variant->... }
 *		-> "group.name", or "group.<variant>.name" when f has variants.
 *
 * Every test runs in its own forked child (its own process group) with a
 * timeout. ASSERT_* stops the test (teardown still runs), EXPECT_* records a
 * failure and continues; both accept an optional printf-style message.
 *
 * A program that is one flow whose steps depend on each other (the VM
 * guest's ne-flow, the fuzzer's checks after its run) is not a set of
 * tests: it reports numbered points in the order it reaches them, in its
 * own process, through the same printer:
 *
 *	th_tap_begin();                     -> "TAP version 13"
 *	th_tap_point(cond, "fmt", ...);     -> "ok N - ..." / "not ok N - ..."
 *	TH_LOG("fmt", ...);                 -> "# ..." diagnostics
 *	return th_tap_end();                -> plan, summary line, exit status
 */
#ifndef NE_HARNESS_H
#define NE_HARNESS_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct th_ctx {
	int failed;
	int skipped;
	int stage;		/* TH_STAGE_* */
	jmp_buf abort_jb;
	const char *name;
};

enum { TH_STAGE_SETUP, TH_STAGE_BODY, TH_STAGE_TEARDOWN };

typedef void (*th_fn)(struct th_ctx *ctx, void *self, const void *variant);

struct th_variant {
	const char *name;
	const void *data;
	struct th_variant *next;
};

struct th_fixture {
	const char *name;
	size_t self_size;
	th_fn setup;
	th_fn teardown;
	struct th_variant *variants;
};

struct th_test {
	const char *name;		/* "group.name" */
	const char *group;
	const char *tname;
	struct th_fixture *fixture;	/* NULL for plain TEST */
	th_fn fn;
	int timeout_s;
	struct th_test *next;
};

#define TH_TIMEOUT_DEFAULT 120

void th_register_test(struct th_test *t);
void th_register_variant(struct th_fixture *f, struct th_variant *v);

/* Called by the runner in the parent after every test (state restore). */
void th_set_after_each(void (*fn)(void));

int th_main(int argc, char **argv);

/* Sequential points (see above); th_tap_point returns cond. */
void th_tap_begin(void);
int th_tap_point(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int th_tap_failed(void);	/* points that failed so far */
int th_tap_end(void);		/* 0 when none failed, else 1 */

/* Failure and skip reporting, used by the macros. */
void th_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void th_fail(struct th_ctx *ctx, const char *file, int line, int fatal,
	     const char *what, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void th_skip(struct th_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void th_abort(struct th_ctx *ctx) __attribute__((noreturn));
const char *th_errname(long err);

/* The context of the test running in this process (child side). */
extern struct th_ctx *th_cur;

#define TH_CAT_(a, b) a##b
#define TH_CAT(a, b) TH_CAT_(a, b)
#define TH_UNUSED __attribute__((unused))

/* ---- registration ---- */

#define TEST_TIMEOUT(G_, N_, secs)					\
	static void th_body_##G_##_##N_(struct th_ctx *_th);	\
	static void th_thunk_##G_##_##N_(struct th_ctx *c, void *s, \
					      const void *v)		\
	{								\
		(void)s; (void)v;					\
		th_body_##G_##_##N_(c);				\
	}								\
	static struct th_test th_t_##G_##_##N_ = {			\
		.name = #G_ "." #N_, .group = #G_,		\
		.tname = #N_, .fn = th_thunk_##G_##_##N_,	\
		.timeout_s = (secs),					\
	};								\
	__attribute__((constructor)) static void			\
	th_reg_##G_##_##N_(void)					\
	{								\
		th_register_test(&th_t_##G_##_##N_);		\
	}								\
	static void th_body_##G_##_##N_(struct th_ctx *_th TH_UNUSED)

#define TEST(G_, N_) TEST_TIMEOUT(G_, N_, TH_TIMEOUT_DEFAULT)

/* A fixture without FIXTURE_VARIANT has one unnamed variant (never read). */
#define FIXTURE(f)							\
	typedef struct th_self_##f th_self_##f;				\
	typedef struct th_var_##f th_var_##f;				\
	extern struct th_fixture th_fx_##f;				\
	struct th_self_##f

#define FIXTURE_VARIANT(f) struct th_var_##f

#define FIXTURE_VARIANT_ADD(f, v)					\
	static const th_var_##f th_vd_##f##_##v;			\
	static struct th_variant th_v_##f##_##v = {			\
		.name = #v, .data = &th_vd_##f##_##v,			\
	};								\
	__attribute__((constructor)) static void th_regv_##f##_##v(void) \
	{								\
		th_register_variant(&th_fx_##f, &th_v_##f##_##v);	\
	}								\
	static const th_var_##f th_vd_##f##_##v =

#define FIXTURE_SETUP(f)						\
	static void th_setup_##f(struct th_ctx *_th TH_UNUSED,		\
				 th_self_##f *self TH_UNUSED,		\
				 const th_var_##f *variant TH_UNUSED)

#define FIXTURE_TEARDOWN(f)						\
	static void th_teardown_##f(struct th_ctx *_th TH_UNUSED,	\
				    th_self_##f *self TH_UNUSED,	\
				    const th_var_##f *variant TH_UNUSED)

#define FIXTURE_REGISTER(f)						\
	static void th_setup_thunk_##f(struct th_ctx *c, void *s,	\
				       const void *v)			\
	{								\
		th_setup_##f(c, s, v);					\
	}								\
	static void th_teardown_thunk_##f(struct th_ctx *c, void *s,	\
					  const void *v)		\
	{								\
		th_teardown_##f(c, s, v);				\
	}								\
	struct th_fixture th_fx_##f = {					\
		.name = #f, .self_size = sizeof(th_self_##f),		\
		.setup = th_setup_thunk_##f,				\
		.teardown = th_teardown_thunk_##f,			\
	}

#define TEST_F_TIMEOUT(f, G_, N_, secs)				\
	static void th_body_##f##_##G_##_##N_(struct th_ctx *_th,	\
		th_self_##f *self, const th_var_##f *variant);		\
	static void th_thunk_##f##_##G_##_##N_(struct th_ctx *c,	\
						    void *s, const void *v) \
	{								\
		th_body_##f##_##G_##_##N_(c, s, v);		\
	}								\
	static struct th_test th_t_##f##_##G_##_##N_ = {		\
		.name = #G_ "." #N_, .group = #G_,		\
		.tname = #N_, .fixture = &th_fx_##f,			\
		.fn = th_thunk_##f##_##G_##_##N_,			\
		.timeout_s = (secs),					\
	};								\
	__attribute__((constructor)) static void			\
	th_reg_##f##_##G_##_##N_(void)				\
	{								\
		th_register_test(&th_t_##f##_##G_##_##N_);		\
	}								\
	static void th_body_##f##_##G_##_##N_(			\
		struct th_ctx *_th TH_UNUSED, th_self_##f *self TH_UNUSED,	\
		const th_var_##f *variant TH_UNUSED)

#define TEST_F(f, G_, N_) TEST_F_TIMEOUT(f, G_, N_, TH_TIMEOUT_DEFAULT)

/* ---- checks ---- */

#define TH_CMP(fatal, op, exp, seen, ...)				\
	do {								\
		long long _e = (long long)(exp);			\
		long long _s = (long long)(seen);			\
		if (!(_e op _s)) {					\
			th_fail(_th, __FILE__, __LINE__, fatal,		\
				#exp " " #op " " #seen, __VA_ARGS__);	\
			th_log("#   values: %lld " #op " %lld is false",	\
			       _e, _s);					\
			if (fatal)					\
				th_abort(_th);				\
		}							\
	} while (0)

/* exp/seen are 0 or a negative errno (or NE_ERR_*): printed by name. */
#define TH_RC(fatal, want, got, ...)					\
	do {								\
		long _w = (long)(want);					\
		long _g = (long)(got);					\
		if (_w != _g) {						\
			th_fail(_th, __FILE__, __LINE__, fatal,		\
				#got " == " #want, __VA_ARGS__);	\
			th_log("#   got %s, want %s", th_errname(_g),	\
			       th_errname(_w));				\
			if (fatal)					\
				th_abort(_th);				\
		}							\
	} while (0)

#define ASSERT_EQ(exp, seen, ...) TH_CMP(1, ==, exp, seen, "" __VA_ARGS__)
#define ASSERT_NE(exp, seen, ...) TH_CMP(1, !=, exp, seen, "" __VA_ARGS__)
#define ASSERT_LT(exp, seen, ...) TH_CMP(1, <, exp, seen, "" __VA_ARGS__)
#define ASSERT_LE(exp, seen, ...) TH_CMP(1, <=, exp, seen, "" __VA_ARGS__)
#define ASSERT_GT(exp, seen, ...) TH_CMP(1, >, exp, seen, "" __VA_ARGS__)
#define ASSERT_GE(exp, seen, ...) TH_CMP(1, >=, exp, seen, "" __VA_ARGS__)
#define EXPECT_EQ(exp, seen, ...) TH_CMP(0, ==, exp, seen, "" __VA_ARGS__)
#define EXPECT_NE(exp, seen, ...) TH_CMP(0, !=, exp, seen, "" __VA_ARGS__)
#define EXPECT_LT(exp, seen, ...) TH_CMP(0, <, exp, seen, "" __VA_ARGS__)
#define EXPECT_LE(exp, seen, ...) TH_CMP(0, <=, exp, seen, "" __VA_ARGS__)
#define EXPECT_GT(exp, seen, ...) TH_CMP(0, >, exp, seen, "" __VA_ARGS__)
#define EXPECT_GE(exp, seen, ...) TH_CMP(0, >=, exp, seen, "" __VA_ARGS__)
#define ASSERT_TRUE(c, ...) TH_CMP(1, !=, 0, !!(c), "" __VA_ARGS__)
#define ASSERT_FALSE(c, ...) TH_CMP(1, ==, 0, !!(c), "" __VA_ARGS__)
#define EXPECT_TRUE(c, ...) TH_CMP(0, !=, 0, !!(c), "" __VA_ARGS__)
#define EXPECT_FALSE(c, ...) TH_CMP(0, ==, 0, !!(c), "" __VA_ARGS__)

/* Strings (NULL fails): equal, or the needle found; both printed if not. */
#define TH_STR(fatal, cond, what, a, b, ...)				\
	do {								\
		const char *_a = (a), *_b = (b);			\
		if (!_a || !_b || !(cond)) {				\
			th_fail(_th, __FILE__, __LINE__, fatal, what,	\
				__VA_ARGS__);				\
			th_log("#   \"%s\", \"%s\"", _a ? _a : "(null)",	\
			       _b ? _b : "(null)");			\
			if (fatal)					\
				th_abort(_th);				\
		}							\
	} while (0)
#define ASSERT_STREQ(exp, seen, ...)					\
	TH_STR(1, !strcmp(_a, _b), #exp " == " #seen, exp, seen, "" __VA_ARGS__)
#define EXPECT_STREQ(exp, seen, ...)					\
	TH_STR(0, !strcmp(_a, _b), #exp " == " #seen, exp, seen, "" __VA_ARGS__)
#define EXPECT_SUBSTR(hay, needle, ...)					\
	TH_STR(0, strstr(_a, _b) != NULL, #needle " in " #hay, hay, needle, \
	       "" __VA_ARGS__)

/* rc is 0/positive on success or -errno; want likewise (e.g. -NE_ERR_x). */
#define ASSERT_RC(want, got, ...) TH_RC(1, want, got, "" __VA_ARGS__)
#define EXPECT_RC(want, got, ...) TH_RC(0, want, got, "" __VA_ARGS__)
/* Success means rc >= 0 (CREATE_VM returns an fd). */
#define TH_OK(fatal, got, ...)						\
	do {								\
		long _g2 = (long)(got);					\
		if (_g2 < 0)						\
			TH_RC(fatal, 0, _g2, __VA_ARGS__);		\
	} while (0)
#define ASSERT_OK(got, ...) TH_OK(1, got, "" __VA_ARGS__)
#define EXPECT_OK(got, ...) TH_OK(0, got, "" __VA_ARGS__)

/* Unconditional failure. */
#define FAIL(...)							\
	do {								\
		th_fail(_th, __FILE__, __LINE__, 1, "FAIL", "" __VA_ARGS__); \
		th_abort(_th);						\
	} while (0)

/* Mark the test skipped with a reason, then run stmt (usually return). */
#define SKIP(stmt, ...)							\
	do {								\
		th_skip(_th, "" __VA_ARGS__);				\
		stmt;							\
	} while (0)

#define TH_LOG(...) th_log("# " __VA_ARGS__)

#endif /* NE_HARNESS_H */
