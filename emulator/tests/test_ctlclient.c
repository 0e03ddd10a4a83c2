// SPDX-License-Identifier: GPL-2.0
/*
 * ctlclient.c against a real ne-emulator over its unix socket, and against
 * a pty whose master side plays a scripted peer standing in for the serial
 * port: stale bytes before the answer, answers in fragments, a data line
 * "errorX" that must not end the answer, `error bad` that must, silence.
 *
 * Environment: NE_BUILD (where ne-emulator is).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
#include "tap.h"

#define T_MS 5000	/* answer timeout where an answer is due */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int one_line(const struct emuctl_lines *l, const char *want)
{
	if (l->n == 1 && !strcmp(l->line[0], want))
		return 1;
	printf("#   %zu line(s), first '%s', want '%s'\n", l->n,
	       l->n ? l->line[0] : "", want);
	return 0;
}

/* ---- the real daemon, over its unix socket ---- */

static int refuse(void *arg, const char *line)
{
	(void)line;
	++*(int *)arg;
	return -ENOSPC;
}

static void test_daemon(const char *build, const char *dir)
{
	char bin[256], dev[128], ctl[128], log[128];
	struct emuctl_lines l = { 0 };
	struct emuctl c;
	struct emu_slots *s = malloc(sizeof(*s));
	int i, rc = -1, st;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/ne-emulator", build);
	snprintf(dev, sizeof(dev), "%s/dev.sock", dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
	snprintf(log, sizeof(log), "%s/emu.log", dir);
	pid = fork();
	if (!pid) {
		execl(bin, bin, "--device-socket", dev, "--control-socket", ctl,
		      "--log", log, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && rc; i++) {
		rc = emuctl_open(&c, ctl);
		if (rc)
			usleep(25000);
	}
	is(rc, 0, "daemon: open the control socket");
	if (rc || !s) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		free(s);
		return;
	}
	ok(!c.tty && c.fd >= 0, "daemon: a socket, not a tty");
	is(emuctl_request(&c, "ping", T_MS, NULL, NULL), 0, "daemon: ping -> 0");
	is(emuctl_request(&c, "fault rc SLOT_INFO -5 2", T_MS, NULL, NULL), 0,
	   "daemon: fault rc -> 0");
	is(emuctl_request(&c, "fault list", T_MS, emuctl_collect, &l), 0,
	   "daemon: fault list -> 0");
	ok(one_line(&l, "F cmd=SLOT_INFO kind=rc rc=-5 count=2"),
	   "daemon: fault list gives its one data line");
	emuctl_lines_free(&l);
	is(emuctl_request(&c, "fault drop SLOT_FREE", T_MS, NULL, NULL), 0,
	   "daemon: a second fault");
	i = 0;
	is(emuctl_request(&c, "fault list", T_MS, refuse, &i), -ENOSPC,
	   "daemon: a callback's failure is returned");
	is(i, 1, "daemon: no more lines given after it failed");
	is(emuctl_request(&c, "ping", T_MS, NULL, NULL), 0,
	   "daemon: the rest of that answer was read: next request in step");
	is(emuctl_request(&c, "bogus", T_MS, emuctl_collect, &l), 1,
	   "daemon: unknown request -> 1");
	ok(!strncmp(c.err, "error ", 6) && l.n == 0,
	   "daemon: the error line is kept, no data lines ('%s')", c.err);
	is(emuctl_request(&c, "reset", T_MS, NULL, NULL), 0, "daemon: reset");
	ok(c.err[0] == '\0', "daemon: err cleared by the next request");
	is(emuctl_slots(&c, s, T_MS), 0, "daemon: slots -> 0");
	ok(s->nslots == 0 && s->nregions == 0, "daemon: no slots after reset");
	for (i = 0, rc = 0; i < 300 && !rc; i++)
		rc = emuctl_request(&c, "stats", T_MS, NULL, NULL);
	is(rc, 0, "daemon: 300 requests in a row on one connection");
	is(emuctl_request(&c, "ping\nping", T_MS, NULL, NULL), -EINVAL,
	   "daemon: a request with a newline -> -EINVAL");
	is(emuctl_request(&c, "", T_MS, NULL, NULL), -EINVAL,
	   "daemon: an empty request -> -EINVAL");
	emuctl_close(&c);
	is(emuctl_request(&c, "ping", T_MS, NULL, NULL), -EBADF,
	   "daemon: closed -> -EBADF");

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon: clean exit");
	rc = emuctl_open(&c, ctl);
	ok(rc < 0 && c.fd == -1, "daemon gone: open fails (%d)", rc);
	free(s);
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

static void on_alarm(int sig)
{
	(void)sig;
}

/* A 100000-byte request while a 1 ms timer interrupts every syscall. */
static void test_pty_long(struct emuctl *c)
{
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct emuctl_lines l = { 0 };
	size_t len = 100000;
	char *req = malloc(len + 1);
	int rc;

	if (!req) {
		ok(0, "pty: memory for a long request");
		return;
	}
	memset(req, 'x', len);
	memcpy(req, "long ", 5);
	req[len] = '\0';
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	rc = emuctl_request(c, req, T_MS, emuctl_collect, &l);
	setitimer(ITIMER_REAL, &off, NULL);
	/* Not SIG_DFL: under valgrind a tick may still be queued. */
	signal(SIGALRM, SIG_IGN);
	is(rc, 0, "pty: a long request under signals -> 0");
	ok(one_line(&l, "DATA len=100000"),
	   "pty: short writes are finished, all 100000 bytes arrive");
	emuctl_lines_free(&l);
	free(req);
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

static void test_pty_stale(struct emuctl *c, const char *name, int master)
{
	struct emuctl_lines l = { 0 };
	int p[2], rc = -1;
	pid_t d;
	char x;

	emuctl_close(c);
	if (pipe(p) || (d = dribble(master, p[1])) < 0) {
		ok(0, "pty: pipe and fork for the stale-bytes test");
		return;
	}
	if (read(p[0], &x, 1) == 1)
		rc = emuctl_open(c, name);
	is(rc, 0, "pty: reopen while stale bytes still arrive");
	/* Before waiting for the dribbler: its bytes must be in flight. */
	is(emuctl_request(c, "slow", T_MS, emuctl_collect, &l), 0,
	   "pty: first request after the stale bytes -> 0");
	waitpid(d, NULL, 0);
	close(p[0]);
	close(p[1]);
	ok(one_line(&l, "DATA slow"),
	   "pty: stale input drained at open, not taken as the answer");
	emuctl_lines_free(&l);

	is(emuctl_request(c, "late", T_MS, NULL, NULL), 0,
	   "pty: an answer followed by a late duplicate");
	usleep(150000);
	is(emuctl_request(c, "fresh", T_MS, emuctl_collect, &l), 0,
	   "pty: next request -> 0");
	ok(one_line(&l, "DATA fresh"),
	   "pty: input flushed before each request, the late 'ok' ignored");
	emuctl_lines_free(&l);
}

static void test_pty_answers(struct emuctl *c)
{
	struct emuctl_lines l = { 0 };
	long t0;
	int rc;

	is(emuctl_request(c, "frag", T_MS, emuctl_collect, &l), 0,
	   "pty: an answer in fragments -> 0");
	ok(l.n == 2 && !strcmp(l.line[0], "DATA a") &&
	   !strcmp(l.line[1], "DATA b"),
	   "pty: fragments joined into lines, CR dropped");
	emuctl_lines_free(&l);

	is(emuctl_request(c, "errx", T_MS, emuctl_collect, &l), 0,
	   "pty: 'errorX ...' does not end the answer, 'ok' does");
	ok(one_line(&l, "errorX is data"), "pty: 'errorX ...' is a data line");
	emuctl_lines_free(&l);

	is(emuctl_request(c, "bad", T_MS, emuctl_collect, &l), 1,
	   "pty: 'error bad' ends the answer -> 1");
	ok(!strcmp(c->err, "error bad") && one_line(&l, "DATA before"),
	   "pty: error line kept, data before it given ('%s')", c->err);
	emuctl_lines_free(&l);

	is(emuctl_request(c, "bare", T_MS, NULL, NULL), 1,
	   "pty: a bare 'error' ends the answer -> 1");

	t0 = now_ms();
	rc = emuctl_request(c, "silent", 300, emuctl_collect, &l);
	t0 = now_ms() - t0;
	is(rc, -ETIMEDOUT, "pty: no answer -> -ETIMEDOUT");
	ok(t0 >= 300 && t0 < 3000, "pty: timed out after 300 ms (%ld ms)", t0);
	emuctl_lines_free(&l);
}

static void test_pty_slots(struct emuctl *c)
{
	struct emu_slots *s = malloc(sizeof(*s));
	const struct emu_slot *a, *b;

	if (!s || emuctl_slots(c, s, T_MS)) {
		ok(0, "pty: slots -> 0");
		free(s);
		return;
	}
	ok(s->nslots == 2 && s->nregions == 2, "pty: slots: 2 SLOT, 2 R lines");
	a = emu_find_slot(s, 7);
	b = emu_find_slot(s, 9);
	ok(a && a->cid == 16 && a->mem_size == 0x200000 && a->regions == 2 &&
	   !strcmp(a->state, "RUNNING") && !strcmp(a->vcpus, "1,3"),
	   "pty: slots: SLOT line fields parsed");
	ok(b && b->flags == 1 && !strcmp(b->state, "INIT") && !b->vcpus[0],
	   "pty: slots: hex flags and an empty vcpus list");
	ok(s->region[1].uid == 7 && s->region[1].paddr == 0x40200000 &&
	   s->region[1].size == 0x100000, "pty: slots: R line fields parsed");
	ok(!emu_find_slot(s, 8), "pty: slots: no slot 8");
	free(s);
}

static void test_pty(void)
{
	struct emuctl c = { .fd = -1 };
	struct termios t;
	int master, slave = -1;
	char *name = NULL;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master >= 0 && !grantpt(master) && !unlockpt(master))
		name = ptsname(master);
	if (name)
		slave = open(name, O_RDWR | O_NOCTTY);
	/* Held open so the master never sees a hangup between clients. */
	if (slave < 0) {
		ok(0, "a pty for the serial-port tests");
		return;
	}
	is(emuctl_open(&c, name), 0, "pty: open");
	ok(!tcgetattr(slave, &t) && !(t.c_lflag & (ICANON | ECHO)) &&
	   !(t.c_oflag & OPOST) && c.tty, "pty: put in raw mode");
	pid = fork();
	if (!pid) {
		/* Never outlive the test: it would hold run-tests.sh's pipe. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		peer(master);
	}
	test_pty_stale(&c, name, master);
	test_pty_answers(&c);
	test_pty_slots(&c);
	test_pty_long(&c);
	emuctl_close(&c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(slave);
	close(master);
}

int main(void)
{
	const char *build = getenv("NE_BUILD") ? getenv("NE_BUILD") :
			    "../build/emulator";
	char dir[64] = "/tmp/ne-ctlclient-test.XXXXXX", cmd[128];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 2;
	test_daemon(build, dir);
	test_pty();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		printf("# cannot remove %s\n", dir);
	return tap_done();
}
