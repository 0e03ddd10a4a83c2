// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: tests with known outcomes (pass, fail, skip, timeout,
 * crash, teardown after a failed ASSERT, variants, a fixture without
 * variants, string checks). selftest.sh checks that the runner reports
 * each one correctly. Needs no driver.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TEST(self, pass_plain)
{
	ASSERT_EQ(1, 1);
	EXPECT_RC(-EINVAL, -EINVAL);
	EXPECT_OK(3);
}

TEST(self, fail_assert_stops)
{
	ASSERT_EQ(1, 2, "one is not two");
	printf("# NOT REACHED\n");
}

TEST(self, fail_expect_continues)
{
	EXPECT_RC(-ENOENT, -EINVAL, "errno mismatch");
	EXPECT_OK(-EBADF);
	printf("# REACHED after EXPECT\n");
	fflush(stdout);
}

TEST(self, fail_ne_err_name)
{
	EXPECT_RC(-270, -274);
}

TEST(self, skip_with_reason)
{
	SKIP(return, "no %s here", "1 GiB pages");
	FAIL("not reached");
}

TEST_TIMEOUT(self, fail_timeout, 1)
{
	sleep(30);
}

TEST(self, fail_crash)
{
	raise(SIGSEGV);
}

TEST(self, fail_unconditional)
{
	FAIL("explicit failure %d", 42);
}

FIXTURE(fx) {
	int marker;
};
FIXTURE_VARIANT(fx) {
	int value;
};
FIXTURE_VARIANT_ADD(fx, one) {
	.value = 1,
};
FIXTURE_VARIANT_ADD(fx, two) {
	.value = 2,
};

static const char *marker_path(void)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/teardown-ran", getenv("TH_SELFTEST_DIR") ?: "/tmp");
	return p;
}

FIXTURE_SETUP(fx)
{
	self->marker = variant->value;
}

FIXTURE_TEARDOWN(fx)
{
	if (self->marker == 2) {
		int fd = open(marker_path(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0)
			close(fd);
	}
}

FIXTURE_REGISTER(fx);

/* Passes for variant one, fails (ASSERT) for two; teardown still runs. */
TEST_F(fx, var, value_is_one)
{
	ASSERT_EQ(1, variant->value);
	ASSERT_EQ(1, self->marker);
}

TEST(self, fail_streq)
{
	EXPECT_STREQ("2-3", "2-5", "pool");
}

TEST(self, fail_substr)
{
	EXPECT_SUBSTR("no NUMA node has 4 free full cores", "memory");
}

/* A fixture without FIXTURE_VARIANT: one instance, named group.name. */
FIXTURE(plain) {
	int ready;
};

FIXTURE_SETUP(plain)
{
	self->ready = 1;
}

FIXTURE_TEARDOWN(plain)
{
}

FIXTURE_REGISTER(plain);

TEST_F(plain, plainfx, setup_ran)
{
	ASSERT_EQ(1, self->ready);
	EXPECT_STREQ("same", "same");
	EXPECT_SUBSTR("a haystack", "hay");
}

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}
