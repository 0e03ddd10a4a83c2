// SPDX-License-Identifier: GPL-2.0
/*
 * ctlclient.c against a real ne-emulator over its unix socket, and against
 * a pty whose master side plays a scripted peer standing in for the serial
 * port: stale bytes before the answer, answers in fragments, a data line
 * "errorX" that must not end the answer, `error bad` that must, silence.
 * On the project's test harness (tests/lib/harness): each test runs in its
 * own process with a daemon, or a peer, of its own.
 *
 * Environment: NE_BUILD (where ne-emulator is).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../ctlclient.h"
#include "harness.h"

#define T_MS 5000	/* answer timeout where an answer is due */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The answer had exactly one data line, this one. */
#define EXPECT_ONE_LINE(l, want)					\
	do {								\
		EXPECT_EQ(1, (l).n, "data lines");			\
		EXPECT_STREQ(want, (l).n ? (l).line[0] : NULL);		\
	} while (0)

/* ---- the real daemon, over its unix socket ---- */

FIXTURE(daemon) {
	char dir[64];
	pid_t pid;
	struct emuctl c;
};

FIXTURE_SETUP(daemon)
{
	const char *build = getenv("NE_BUILD") ? getenv("NE_BUILD") :
			    "../build/emulator";
	char bin[256], dev[128], ctl[128], log[128];
	int i, rc = -1;

	self->c.fd = -1;
	snprintf(self->dir, sizeof(self->dir), "/tmp/ne-ctlclient-test.XXXXXX");
	ASSERT_TRUE(mkdtemp(self->dir));
	snprintf(bin, sizeof(bin), "%s/ne-emulator", build);
	snprintf(dev, sizeof(dev), "%s/dev.sock", self->dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", self->dir);
	snprintf(log, sizeof(log), "%s/emu.log", self->dir);
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		execl(bin, bin, "--device-socket", dev, "--control-socket", ctl,
		      "--log", log, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && rc; i++) {
		rc = emuctl_open(&self->c, ctl);
		if (rc)
			usleep(25000);
	}
	ASSERT_RC(0, rc, "open the control socket");
}

/* SIGTERM: the daemon exits cleanly. */
static void daemon_stop(struct th_ctx *_th, pid_t *pid)
{
	int st = -1;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, &st, 0);
	*pid = 0;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "clean exit (status 0x%x)", st);
}

FIXTURE_TEARDOWN(daemon)
{
	char cmd[128];

	emuctl_close(&self->c);
	daemon_stop(_th, &self->pid);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

FIXTURE_REGISTER(daemon);

static int refuse(void *arg, const char *line)
{
	(void)line;
	++*(int *)arg;
	return -ENOSPC;
}

TEST_F(daemon, daemon, socket_not_a_tty)
{
	EXPECT_FALSE(self->c.tty);
	EXPECT_LE(0, self->c.fd);
}

TEST_F(daemon, daemon, answers_and_data_lines)
{
	struct emuctl_lines l = { 0 };

	EXPECT_RC(0, emuctl_request(&self->c, "ping", T_MS, NULL, NULL));
	EXPECT_RC(0, emuctl_request(&self->c, "fault rc SLOT_INFO -5 2", T_MS,
				    NULL, NULL));
	EXPECT_RC(0, emuctl_request(&self->c, "fault list", T_MS,
				    emuctl_collect, &l));
	EXPECT_ONE_LINE(l, "F cmd=SLOT_INFO kind=rc rc=-5 count=2");
	emuctl_lines_free(&l);
}

TEST_F(daemon, daemon, callback_failure_returned_rest_of_answer_read)
{
	int n = 0;

	ASSERT_RC(0, emuctl_request(&self->c, "fault rc SLOT_INFO -5 2", T_MS,
				    NULL, NULL));
	EXPECT_RC(0, emuctl_request(&self->c, "fault drop SLOT_FREE", T_MS,
				    NULL, NULL), "a second fault");
	EXPECT_RC(-ENOSPC, emuctl_request(&self->c, "fault list", T_MS,
					  refuse, &n),
		  "a callback's failure is returned");
	EXPECT_EQ(1, n, "no more lines given after it failed");
	EXPECT_RC(0, emuctl_request(&self->c, "ping", T_MS, NULL, NULL),
		  "the next request in step: the rest of that answer was read");
}

TEST_F(daemon, daemon, error_line_kept_until_next_request)
{
	struct emuctl_lines l = { 0 };

	EXPECT_EQ(1, emuctl_request(&self->c, "bogus", T_MS, emuctl_collect,
				    &l), "an unknown request");
	EXPECT_TRUE(!strncmp(self->c.err, "error ", 6), "'%s'", self->c.err);
	EXPECT_EQ(0, l.n, "no data lines");
	emuctl_lines_free(&l);
	EXPECT_RC(0, emuctl_request(&self->c, "reset", T_MS, NULL, NULL));
	EXPECT_STREQ("", self->c.err, "cleared by the next request");
}

TEST_F(daemon, daemon, slots_of_an_empty_device)
{
	struct emu_slots *s = malloc(sizeof(*s));

	ASSERT_TRUE(s);
	EXPECT_RC(0, emuctl_request(&self->c, "reset", T_MS, NULL, NULL));
	EXPECT_RC(0, emuctl_slots(&self->c, s, T_MS));
	EXPECT_EQ(0, s->nslots);
	EXPECT_EQ(0, s->nregions);
	free(s);
}

TEST_F(daemon, daemon, many_requests_on_one_connection)
{
	int i, rc = 0;

	for (i = 0; i < 300 && !rc; i++)
		rc = emuctl_request(&self->c, "stats", T_MS, NULL, NULL);
	EXPECT_RC(0, rc, "300 requests in a row, failed at %d", i);
}

TEST_F(daemon, daemon, bad_requests_refused)
{
	EXPECT_RC(-EINVAL, emuctl_request(&self->c, "ping\nping", T_MS, NULL,
					  NULL), "a newline in it");
	EXPECT_RC(-EINVAL, emuctl_request(&self->c, "", T_MS, NULL, NULL),
		  "empty");
	emuctl_close(&self->c);
	EXPECT_RC(-EBADF, emuctl_request(&self->c, "ping", T_MS, NULL, NULL),
		  "closed");
}

TEST_F(daemon, daemon, gone_then_open_fails)
{
	char ctl[128];
	int rc;

	emuctl_close(&self->c);
	daemon_stop(_th, &self->pid);
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", self->dir);
	rc = emuctl_open(&self->c, ctl);
	EXPECT_GT(0, rc);
	EXPECT_EQ(-1, self->c.fd);
}

/* ---- a scripted peer on a pty ---- */

struct script {
	const char *req;
	const char *out[6];	/* written one by one, 20 ms apart */
	int late_ms;		/* then, after this long, a stale "ok" */
};

static const struct script scripts[] = {
	{ "fresh", { "DATA fresh\nok\n" }, 0 },
	/* "" writes nothing: the answer comes 60 ms after the request. */
	{ "slow", { "", "", "", "DATA slow\nok\n" }, 0 },
	{ "late", { "ok\n" }, 30 },
	{ "frag", { "DA", "TA a\r", "\nDATA", " b\n", "o", "k\n" }, 0 },
	{ "errx", { "errorX is data\n", "ok\n" }, 0 },
	{ "bad", { "DATA before\nerror bad\n" }, 0 },
	{ "bare", { "error\n" }, 0 },
	{ "silent", { NULL }, 0 },
	{ "slots", { "SLOT uid=7 state=RUNNING cid=16 flags=0 "
		     "mem_size=0x200000 regions=2 vcpus=1,3\n"
		     "R uid=7 paddr=0x40000000 size=0x100000\n"
		     "R uid=7 paddr=0x40200000 size=0x100000\n",
		     "SLOT uid=9 state=INIT cid=0 flags=0x1 mem_size=0x0 "
		     "regions=0 vcpus=\nok\n" }, 0 },
};

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		_exit(1);
}

static void answer(int master, const char *req, size_t len)
{
	char msg[64];
	size_t i, k;

	if (!strncmp(req, "long ", 5)) {
		snprintf(msg, sizeof(msg), "DATA len=%zu\nok\n", len);
		put(master, msg);
		return;
	}
	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		if (strcmp(req, scripts[i].req))
			continue;
		for (k = 0; k < 6 && scripts[i].out[k]; k++) {
			if (k)
				usleep(20000);
			put(master, scripts[i].out[k]);
		}
		if (scripts[i].late_ms) {
			usleep(scripts[i].late_ms * 1000);
			put(master, "ok\n");
		}
		return;
	}
	put(master, "error unknown to the peer\n");
}

/*
 * Read requests from the master side and answer them from the scripts;
 * reads slowly once a line is long, so that the client's writes fill the
 * pty and come back short when a signal hits them.
 */
static void peer(int master)
{
	static char line[256];
	size_t len = 0;
	char buf[512];

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf)), k;

		if (n <= 0)
			_exit(0);
		for (k = 0; k < n; k++) {
			if (buf[k] != '\n') {
				if (len + 1 < sizeof(line))
					line[len] = buf[k];
				len++;
				continue;
			}
			line[len < sizeof(line) ? len : sizeof(line) - 1] = 0;
			answer(master, line, len);
			len = 0;
		}
		if (len > 4096)
			usleep(1000);
	}
}

FIXTURE(pty) {
	int master, slave;
	char *name;
	pid_t peer;
	struct emuctl c;
};

FIXTURE_SETUP(pty)
{
	self->c.fd = -1;
	self->slave = -1;
	self->master = posix_openpt(O_RDWR | O_NOCTTY);
	ASSERT_LE(0, self->master);
	ASSERT_EQ(0, grantpt(self->master));
	ASSERT_EQ(0, unlockpt(self->master));
	self->name = ptsname(self->master);
	ASSERT_TRUE(self->name);
	/* Held open so the master never sees a hangup between clients. */
	self->slave = open(self->name, O_RDWR | O_NOCTTY);
	ASSERT_LE(0, self->slave);
	ASSERT_RC(0, emuctl_open(&self->c, self->name), "open");
	self->peer = fork();
	ASSERT_LE(0, self->peer);
	if (!self->peer) {
		/* Never outlive the test: it would hold the runner's pipe. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		peer(self->master);
	}
}

FIXTURE_TEARDOWN(pty)
{
	emuctl_close(&self->c);
	kill(self->peer, SIGKILL);
	waitpid(self->peer, NULL, 0);
	close(self->slave);
	close(self->master);
}

FIXTURE_REGISTER(pty);

TEST_F(pty, pty, put_in_raw_mode)
{
	struct termios t;

	ASSERT_EQ(0, tcgetattr(self->slave, &t));
	EXPECT_FALSE(t.c_lflag & (ICANON | ECHO));
	EXPECT_FALSE(t.c_oflag & OPOST);
	EXPECT_TRUE(self->c.tty);
}

/* Writes "ok\n" at once, says so on NOTIFY, then 5 more 10 ms apart. */
static pid_t dribble(int master, int notify)
{
	pid_t pid = fork();
	int i;

	if (pid)
		return pid;
	for (i = 0; i < 6; i++) {
		put(master, "ok\n");
		if (!i)
			put(notify, "x");
		usleep(10000);
	}
	_exit(0);
}

TEST_F(pty, pty, stale_input_drained_at_open)
{
	struct emuctl_lines l = { 0 };
	int p[2], rc = -1;
	pid_t d;
	char x;

	emuctl_close(&self->c);
	ASSERT_EQ(0, pipe(p));
	d = dribble(self->master, p[1]);
	ASSERT_LE(0, d);
	if (read(p[0], &x, 1) == 1)
		rc = emuctl_open(&self->c, self->name);
	EXPECT_RC(0, rc, "reopened while stale bytes still arrive");
	/* Before waiting for the dribbler: its bytes must be in flight. */
	EXPECT_RC(0, emuctl_request(&self->c, "slow", T_MS, emuctl_collect,
				    &l), "the first request after them");
	waitpid(d, NULL, 0);
	close(p[0]);
	close(p[1]);
	EXPECT_ONE_LINE(l, "DATA slow");	/* not the stale "ok" */
	emuctl_lines_free(&l);
}

TEST_F(pty, pty, input_flushed_before_each_request)
{
	struct emuctl_lines l = { 0 };

	EXPECT_RC(0, emuctl_request(&self->c, "late", T_MS, NULL, NULL),
		  "an answer followed by a late duplicate");
	usleep(150000);
	EXPECT_RC(0, emuctl_request(&self->c, "fresh", T_MS, emuctl_collect,
				    &l), "the next request");
	EXPECT_ONE_LINE(l, "DATA fresh");	/* the late "ok" ignored */
	emuctl_lines_free(&l);
}

TEST_F(pty, pty, fragments_joined_into_lines)
{
	struct emuctl_lines l = { 0 };

	EXPECT_RC(0, emuctl_request(&self->c, "frag", T_MS, emuctl_collect,
				    &l));
	ASSERT_EQ(2, l.n);
	EXPECT_STREQ("DATA a", l.line[0], "CR dropped");
	EXPECT_STREQ("DATA b", l.line[1]);
	emuctl_lines_free(&l);
}

TEST_F(pty, pty, errorX_is_a_data_line)
{
	struct emuctl_lines l = { 0 };

	EXPECT_RC(0, emuctl_request(&self->c, "errx", T_MS, emuctl_collect,
				    &l), "'errorX ...' does not end the answer, 'ok' does");
	EXPECT_ONE_LINE(l, "errorX is data");
	emuctl_lines_free(&l);
}

TEST_F(pty, pty, error_line_ends_the_answer)
{
	struct emuctl_lines l = { 0 };

	EXPECT_EQ(1, emuctl_request(&self->c, "bad", T_MS, emuctl_collect, &l),
		  "'error bad'");
	EXPECT_STREQ("error bad", self->c.err, "kept");
	EXPECT_ONE_LINE(l, "DATA before");	/* the data before it given */
	emuctl_lines_free(&l);
	EXPECT_EQ(1, emuctl_request(&self->c, "bare", T_MS, NULL, NULL),
		  "a bare 'error'");
}

TEST_F(pty, pty, silence_times_out)
{
	struct emuctl_lines l = { 0 };
	long t0;
	int rc;

	t0 = now_ms();
	rc = emuctl_request(&self->c, "silent", 300, emuctl_collect, &l);
	t0 = now_ms() - t0;
	EXPECT_RC(-ETIMEDOUT, rc);
	EXPECT_TRUE(t0 >= 300 && t0 < 3000, "after 300 ms (%ld ms)", t0);
	emuctl_lines_free(&l);
}

TEST_F(pty, pty, slots_parsed)
{
	struct emu_slots *s = malloc(sizeof(*s));
	const struct emu_slot *a, *b;

	ASSERT_TRUE(s);
	EXPECT_RC(0, emuctl_slots(&self->c, s, T_MS));
	EXPECT_EQ(2, s->nslots, "SLOT lines");
	EXPECT_EQ(2, s->nregions, "R lines");
	a = emu_find_slot(s, 7);
	b = emu_find_slot(s, 9);
	EXPECT_TRUE(a && a->cid == 16 && a->mem_size == 0x200000 &&
		    a->regions == 2 && !strcmp(a->state, "RUNNING") &&
		    !strcmp(a->vcpus, "1,3"), "a SLOT line's fields");
	EXPECT_TRUE(b && b->flags == 1 && !strcmp(b->state, "INIT") &&
		    !b->vcpus[0], "hex flags and an empty vcpus list");
	EXPECT_EQ(7, s->region[1].uid, "an R line's fields");
	EXPECT_EQ(0x40200000, s->region[1].paddr);
	EXPECT_EQ(0x100000, s->region[1].size);
	EXPECT_TRUE(!emu_find_slot(s, 8), "no slot 8");
	free(s);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A 100000-byte request while a 1 ms timer interrupts every syscall. */
TEST_F(pty, pty, long_request_under_signals)
{
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct emuctl_lines l = { 0 };
	size_t len = 100000;
	char *req = malloc(len + 1);
	int rc;

	ASSERT_TRUE(req);
	memset(req, 'x', len);
	memcpy(req, "long ", 5);
	req[len] = '\0';
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	rc = emuctl_request(&self->c, req, T_MS, emuctl_collect, &l);
	setitimer(ITIMER_REAL, &off, NULL);
	/* Not SIG_DFL: under valgrind a tick may still be queued. */
	signal(SIGALRM, SIG_IGN);
	EXPECT_RC(0, rc);
	/* Short writes are finished: all 100000 bytes arrive. */
	EXPECT_ONE_LINE(l, "DATA len=100000");
	emuctl_lines_free(&l);
	free(req);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return th_main(argc, argv);
}
