// SPDX-License-Identifier: GPL-2.0
/*
 * The outcome-unknown rule: a device command that failed, timed out or
 * whose waiter was killed may have been carried out, so the driver gives
 * pages and cores back only once the device has confirmed that the slot is
 * gone. Until then they are quarantined (listed in the module parameter
 * `quarantine`), and the driver asks the device again on events and on a
 * timer. These tests check the driver's holdings against the emulator's
 * own slot table, never by resetting it.
 *
 * Upstream leaks in these cases, silently and for good (its later pool
 * writes get EPERM), so these run after the module-reload tests, just
 * before the unbind test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ne_lib.h"

#define TIMEOUT_PARAM NE_PARAM_DIR "/cmd_timeout_ms"

/* What the driver holds and what the device holds, read back to back. */
struct holdings {
	struct emu_slots dev;
	struct quarantine q;
	long free_2m;
	int pool_cpus;
};

static int same_slots(const struct emu_slots *a, const struct emu_slots *b)
{
	if (a->nslots != b->nslots || a->nregions != b->nregions)
		return 0;
	for (int i = 0; i < a->nslots; i++)
		if (a->slot[i].uid != b->slot[i].uid ||
		    strcmp(a->slot[i].state, b->slot[i].state))
			return 0;
	return 1;
}

/*
 * A consistent snapshot: the retries may release a quarantined enclave
 * while we read, so read until two rounds agree.
 */
static int read_holdings(int dev, struct holdings *h)
{
	static struct emu_slots again;
	struct quarantine q2;

	for (int i = 0; i < 10; i++) {
		if (emu_slots(&h->dev))
			return -EIO;
		quarantine_read(&h->q);
		h->free_2m = hp_read(SHIFT_2M, "free_hugepages");
		h->pool_cpus = pool_avail_cpus(dev);
		if (emu_slots(&again))
			return -EIO;
		quarantine_read(&q2);
		if (same_slots(&h->dev, &again) && q2.n == h->q.n &&
		    q2.mem_mib == h->q.mem_mib)
			return 0;
	}
	return -EAGAIN;
}

/* Every CPU of a cpulist like "2,3" is offline. */
static int all_offline(const char *list)
{
	for (const char *c = list; *c;) {
		char *e;
		long cpu = strtol(c, &e, 10);

		if (e == c)
			break;
		if (cpu_online((int)cpu) != 0)
			return 0;
		c = *e == ',' ? e + 1 : e;
	}
	return 1;
}

/*
 * Nothing is both given back and held by the device: each device slot the
 * driver does not hold is empty, every byte and CPU the device holds is
 * still the driver's (pinned, offline, out of the pool), and the driver
 * holds no more than its quarantine says. free0: free 2 MiB hugepages
 * before the enclave's memory was mapped.
 */
static void check_nothing_freed_and_held(struct th_ctx *_th, int dev,
					 long free0, const char *what)
{
	struct holdings h;
	long dev_mib = 0;

	ASSERT_EQ(0, read_holdings(dev, &h), "%s: no stable snapshot", what);
	ASSERT_LE(0, h.q.n, "%s: the driver has no quarantine listing (%d)",
		  what, h.q.n);
	for (int i = 0; i < h.dev.nslots; i++) {
		const struct emu_slot *sl = &h.dev.slot[i];

		if (quarantine_has(&h.q, sl->uid)) {
			dev_mib += sl->mem_size >> 20;
			EXPECT_TRUE(all_offline(sl->vcpus),
				    "%s: slot %llu's vCPUs %s are online", what,
				    (unsigned long long)sl->uid, sl->vcpus);
			continue;
		}
		/* A slot the driver never learned of (lost SLOT_ALLOC reply). */
		EXPECT_EQ(0, sl->mem_size,
			  "%s: the device holds %llu MiB of slot %llu, which the driver gave back",
			  what, (unsigned long long)sl->mem_size >> 20,
			  (unsigned long long)sl->uid);
		EXPECT_EQ(0, sl->vcpus[0],
			  "%s: the device holds vCPUs %s of slot %llu, which the driver gave back",
			  what, sl->vcpus, (unsigned long long)sl->uid);
		if (!sl->mem_size && !sl->vcpus[0])
			TH_LOG("%s: the device has an empty slot %llu the driver does not know",
			       what, (unsigned long long)sl->uid);
	}
	EXPECT_LE(dev_mib, h.q.mem_mib,
		  "%s: the device holds %ld MiB, the driver %ld", what,
		  dev_mib, h.q.mem_mib);
	EXPECT_EQ(free0 - h.q.mem_mib / 2, h.free_2m,
		  "%s: free 2 MiB hugepages (quarantine holds %ld MiB)", what,
		  h.q.mem_mib);
	EXPECT_EQ(POOL_NCPUS - h.q.ncpus, h.pool_cpus,
		  "%s: CPUs the pool hands out (quarantine holds %d)", what,
		  h.q.ncpus);
}

/*
 * After the device answers again: the quarantine drains, and the driver
 * frees the device slots nobody knows (lost SLOT_ALLOC replies): no slot
 * is left, the hugepages and the pool are whole.
 */
static void check_all_back(struct th_ctx *_th, int dev, long free0,
			   const char *what)
{
	static struct emu_slots s;
	int waited;

	EXPECT_EQ(0, quarantine_drain(15000),
		  "%s: quarantine not drained once the device answered", what);
	for (waited = 0;; waited += 250) {
		ASSERT_EQ(0, emu_slots(&s));
		if (!s.nslots || waited >= 15000)
			break;
		emu_cmd(NULL, 0, "event");
		usleep(250 * 1000);
	}
	for (int i = 0; i < s.nslots; i++)
		EXPECT_EQ(0, s.nslots, "%s: slot %llu left on the device (%s, %llu MiB, vCPUs '%s')",
			  what, (unsigned long long)s.slot[i].uid, s.slot[i].state,
			  (unsigned long long)s.slot[i].mem_size >> 20,
			  s.slot[i].vcpus);
	EXPECT_EQ(free0, hp_read(SHIFT_2M, "free_hugepages"),
		  "%s: hugepages back", what);
	t_check_pool_whole(_th, dev);
}

/* Release when the device fails a command: quarantine, then recovery. */
static void release_with_fault(struct th_ctx *_th, int dev, const char *cmd,
			       const char *left_state)
{
	long free0 = hp_read(SHIFT_2M, "free_hugepages");
	char *p = t_hp(_th, SZ_64M);
	uint64_t uid;
	int fd = t_create(_th, dev, &uid), kfd = kmsg_open(), lines;
	struct quarantine q;

	t_add_mem(_th, fd, p, SZ_64M);
	t_add_vcpus(_th, fd, POOL_NCPUS);
	t_start(_th, fd);
	EMU("fault rc %s -5 1000", cmd);
	close(fd);
	hp_unmap(p, SZ_64M);

	EXPECT_EQ(0, strcmp(left_state, t_emu_state(_th, uid)),
		  "the device keeps the slot %s", left_state);
	quarantine_read(&q);
	ASSERT_EQ(1, q.n, "the enclave is quarantined (listing: %d)", q.n);
	EXPECT_TRUE(quarantine_has(&q, uid), "the listing names slot %llu",
		    (unsigned long long)uid);
	EXPECT_EQ(64, q.mem_mib, "64 MiB stay pinned");
	EXPECT_EQ(POOL_NCPUS, q.ncpus, "all its CPUs stay out of the pool");
	if (kfd >= 0) {
		lines = kmsg_driver_lines(kfd, NULL);
		EXPECT_EQ(1, lines, "one dmesg line says so (%d)", lines);
		close(kfd);
	}
	check_nothing_freed_and_held(_th, dev, free0, cmd);
	EXPECT_RC(-EPERM, pool_write("4-5"),
		  "the pool cannot be rebuilt under a quarantined enclave");
	EXPECT_EQ(-EBUSY, cpu_set_online(2, 1),
		  "a quarantined enclave's CPU cannot be onlined");

	/* Still refused: the retries keep everything. */
	EMU("event");
	usleep(500 * 1000);
	quarantine_read(&q);
	EXPECT_EQ(1, q.n, "still quarantined while the device refuses");

	EMU("fault clear");
	check_all_back(_th, dev, free0, cmd);
	EXPECT_RC(0, pool_write("4-5"), "the pool can be rebuilt again");
}

TEST_F(dev, hazard, release_quarantines_when_enclave_stop_fails)
{
	NEED_EMU();
	release_with_fault(_th, self->dev, "ENCLAVE_STOP", "RUNNING");
}

TEST_F(dev, hazard, release_quarantines_when_slot_free_fails)
{
	NEED_EMU();
	release_with_fault(_th, self->dev, "SLOT_FREE", "STOPPED");
}

/* ---- SIGKILL at every command ---- */

enum step {
	S_ALLOC, S_ADD_MEM, S_ADD_VCPU, S_START, S_STOP, S_FREE, S_NR,
	S_HOLD = S_NR,	/* start, then wait to be killed (no close) */
};

static const char *const step_cmd[S_NR] = {
	"SLOT_ALLOC", "SLOT_ADD_MEM", "SLOT_ADD_VCPU", "ENCLAVE_START",
	"ENCLAVE_STOP", "SLOT_FREE",
};

/*
 * The enclave's owner: goes through the life of an enclave, telling the
 * parent (one byte on wfd) just before the command of step @s, then makes
 * that call, which the device delays or never answers.
 */
static void owner(int dev, enum step s, int wfd)
{
	void *p = hp_map(SZ_64M, SHIFT_2M);
	uint64_t uid, cid = 0;
	uint32_t id;
	int fd;

	emu_close();
	if (!p)
		_exit(2);
	if (s == S_ALLOC && write(wfd, "x", 1) != 1)
		_exit(3);
	fd = ne_create(dev, &uid);
	if (fd < 0)
		_exit(4);
	if (s == S_ADD_MEM && write(wfd, "x", 1) != 1)
		_exit(3);
	if (ne_set_mem(fd, 0, (uintptr_t)p, SZ_64M))
		_exit(5);
	if (s == S_ADD_VCPU && write(wfd, "x", 1) != 1)
		_exit(3);
	for (int i = 0; i < 2; i++) {
		id = 0;
		if (ne_add_vcpu(fd, &id))
			_exit(6);
	}
	if (s == S_START && write(wfd, "x", 1) != 1)
		_exit(3);
	if (ne_start(fd, 0, &cid))
		_exit(7);
	if (write(wfd, "x", 1) != 1)
		_exit(3);
	if (s == S_HOLD)
		pause();
	close(fd);	/* ENCLAVE_STOP, SLOT_FREE */
	_exit(0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * One round: the device withholds the reply to @s (late: it answers after
 * 3 s; lost: it carries the command out and never answers), the owner is
 * SIGKILLed while it waits; then the holdings must agree, and once the
 * device answers everything must come back.
 */
static void kill_at(struct th_ctx *_th, int dev, enum step s, int lost)
{
	const char *cmd = step_cmd[s];
	long free0 = hp_read(SHIFT_2M, "free_hugepages");
	int pfd[2], pid, st;
	char what[64], c;
	double t0, dt;

	snprintf(what, sizeof(what), "%s %s", cmd, lost ? "lost" : "late");
	ASSERT_EQ(0, pipe(pfd));
	if (lost)
		EMU("fault lost %s", cmd);
	else
		EMU("latency %s 3000000", cmd);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		owner(dev, s, pfd[1]);
	}
	close(pfd[1]);
	ASSERT_LT(0, pid);
	/* The byte before the command of this step (STOP/FREE: before close). */
	st = read(pfd[0], &c, 1);
	close(pfd[0]);
	if (st != 1) {
		st = wait_child(pid, 10000);
		FAIL("%s: the owner stopped before the command (exit %d)",
		     what, st);
	}
	usleep(300 * 1000);
	EXPECT_EQ(0, waitpid(pid, NULL, WNOHANG),
		  "%s: the owner is waiting for the device", what);
	t0 = now_s();
	kill(pid, SIGKILL);
	st = wait_child(pid, 20000);
	dt = now_s() - t0;
	ASSERT_EQ(128 + SIGKILL, st, "%s: the owner was killed", what);
	TH_LOG("%s: the killed owner was reaped %.2f s after SIGKILL", what, dt);
	EXPECT_LT((long)(dt * 1000), 6000,
		  "%s: a killed owner's exit is bounded by the device timeout", what);

	check_nothing_freed_and_held(_th, dev, free0, what);
	EMU("latency all 0");
	EMU("fault clear");
	check_all_back(_th, dev, free0, what);
}

TEST_F_TIMEOUT(dev, quarantine, kill_at_every_command, 600)
{
	char old[32];

	NEED_EMU();
	if (sysfs_read(TIMEOUT_PARAM, old, sizeof(old)) ||
	    sysfs_write(TIMEOUT_PARAM, "4000"))
		SKIP(return, "no writable cmd_timeout_ms");
	/* Every chunk reaches the device within its own ioctl. */
	defer_set(0);
	for (int s = 0; s < S_NR; s++) {
		kill_at(_th, self->dev, s, 0);
		kill_at(_th, self->dev, s, 1);
	}
}

/*
 * The process holding the last enclave fd exits without closing it: once
 * it is reaped, its enclave's pages and cores are back (nitro-cli after a
 * crash, QEMU's nitro accelerator, restart at once), even when the device
 * takes its time to stop the enclave.
 */
TEST_F(dev, release, resources_back_when_owner_reaped)
{
	long free0 = hp_read(SHIFT_2M, "free_hugepages");
	int pfd[2], pid, st;
	char c;

	NEED_EMU();
	ASSERT_EQ(0, pipe(pfd));
	EMU("latency ENCLAVE_STOP 700000");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		owner(self->dev, S_HOLD, pfd[1]);
	}
	close(pfd[1]);
	ASSERT_LT(0, pid);
	st = read(pfd[0], &c, 1);
	close(pfd[0]);
	ASSERT_EQ(1, st, "the owner started its enclave");
	kill(pid, SIGKILL);	/* it never closes: its exit releases */
	ASSERT_EQ(128 + SIGKILL, wait_child(pid, 20000));
	/* No waiting here: reaped means released. */
	EXPECT_EQ(0, t_emu_nslots(_th), "the slot is freed when the owner is reaped");
	EXPECT_EQ(free0, hp_read(SHIFT_2M, "free_hugepages"),
		  "the hugepages are back when the owner is reaped");
	EMU("latency all 0");
	t_check_pool_whole(_th, self->dev);
}
