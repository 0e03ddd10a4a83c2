// SPDX-License-Identifier: GPL-2.0
/*
 * Device faults injected through the emulator: a device rc comes back as
 * the errno, a lost reply times out, a killed waiter leaves the driver
 * usable, malformed replies and event storms do no harm. Every test that
 * injects faults `reset`s the emulator (the runner also does after each).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ne_lib.h"

#define TIMEOUT_PARAM NE_PARAM_DIR "/cmd_timeout_ms"

static int next_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

TEST_F(dev, fault, slot_alloc_rc_propagates)
{
	uint64_t uid = 0;
	int before, fd;

	NEED_EMU();
	EMU("fault rc SLOT_ALLOC -28");
	before = next_fd();
	EXPECT_RC(-ENOSPC, ne_create(self->dev, &uid), "device rc -ENOSPC");
	EXPECT_EQ(before, next_fd(), "no fd installed on failure");
	EXPECT_EQ(0, t_emu_nslots(_th));
	EMU("reset");
	fd = t_create(_th, self->dev, NULL);
	close(fd);
}

TEST_F(encl, fault, slot_add_mem_rc_propagates)
{
	void *p = t_hp(_th, SZ_2M);

	NEED_EMU();
	/* The chunk must reach the device inside this ioctl: no deferral. */
	defer_set(0);
	EMU("fault rc SLOT_ADD_MEM -22");
	EXPECT_RC(-EINVAL, ne_set_mem(self->fd, 0, (uintptr_t)p, SZ_2M));
	/* Not `reset`: that would free the slot under the open enclave. */
	EMU("fault clear");
}

/*
 * With cross-ioctl merging, the held-back last chunk reaches the device at
 * START: its device error is START's, the enclave stays in INIT, and a
 * retry sends it again.
 */
TEST_F(encl, fault, held_back_chunk_rc_reported_by_start)
{
	const struct emu_slot *sl;
	static struct emu_slots s;
	uint64_t cid = 0;

	NEED_EMU();
	if (defer_set(1))
		SKIP(return, "driver without cross-ioctl merging (defer_last_chunk)");
	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	t_add_vcpus(_th, self->fd, 2);
	EMU("fault rc SLOT_ADD_MEM -22");
	EXPECT_RC(-EINVAL, ne_start(self->fd, 0, &cid));
	EXPECT_EQ(0, strcmp("INIT", t_emu_state(_th, self->uid)));
	EMU("fault clear");
	EXPECT_RC(0, ne_start(self->fd, 0, &cid), "START can be retried");
	ASSERT_EQ(0, emu_slots(&s));
	sl = emu_find_slot(&s, self->uid);
	ASSERT_NE(NULL, sl);
	EXPECT_EQ(SZ_64M, sl->mem_size, "all memory reached the device");
	EXPECT_EQ(0, strcmp("RUNNING", sl->state));
}

/*
 * ... or the next region's: that region is then not added (it can be added
 * again), and the held-back chunk stays for later.
 */
TEST_F(encl, fault, held_back_chunk_rc_reported_by_next_region)
{
	const struct emu_slot *sl;
	static struct emu_slots s;
	char *p, *q = NULL;
	uint64_t pa0;

	NEED_EMU();
	if (defer_set(1))
		SKIP(return, "driver without cross-ioctl merging (defer_last_chunk)");
	p = t_hp(_th, 3 * SZ_2M);
	pa0 = va_to_pa(p);
	ASSERT_NE(0, pa0);
	/* A page that does not extend the first one (at most one of 2 does). */
	for (int i = 1; i < 3 && !q; i++)
		if (va_to_pa(p + i * SZ_2M) != pa0 + SZ_2M)
			q = p + i * SZ_2M;
	ASSERT_NE(NULL, q);
	ASSERT_RC(0, ne_set_mem(self->fd, 0, (uintptr_t)p, SZ_2M));
	EMU("fault rc SLOT_ADD_MEM -22");
	EXPECT_RC(-EINVAL, ne_set_mem(self->fd, 0, (uintptr_t)q, SZ_2M),
		  "sending the held-back chunk failed");
	EMU("fault clear");
	ASSERT_EQ(0, emu_slots(&s));
	sl = emu_find_slot(&s, self->uid);
	ASSERT_NE(NULL, sl);
	EXPECT_EQ(0, sl->regions, "nothing reached the device");
	EXPECT_RC(0, ne_set_mem(self->fd, 0, (uintptr_t)q, SZ_2M),
		  "the failed region was not kept: it can be added again");
	ASSERT_EQ(0, emu_slots(&s));
	sl = emu_find_slot(&s, self->uid);
	ASSERT_NE(NULL, sl);
	EXPECT_EQ(1, sl->regions, "the first page, sent by the second ioctl");
	EXPECT_EQ(SZ_2M, sl->mem_size);
}

TEST_F(encl, fault, slot_add_vcpu_rc_propagates)
{
	uint32_t id = 2;

	NEED_EMU();
	EMU("fault rc SLOT_ADD_VCPU -16");
	EXPECT_RC(-EBUSY, ne_add_vcpu(self->fd, &id));
	EMU("fault clear");
}

static int add_id(int fd, uint32_t id)
{
	return ne_add_vcpu(fd, &id);
}

/*
 * SLOT_ADD_VCPU fails: the device may have added the vCPU anyway, so its
 * core stays with the enclave, out of the pool, until the slot is freed;
 * adding the same vCPU again completes it.
 */
TEST_F(dev, fault, addvcpu_device_error_keeps_core_until_freed)
{
	int a = t_create(_th, self->dev, NULL);
	int b = t_create(_th, self->dev, NULL);

	NEED_EMU();
	EMU("fault rc SLOT_ADD_VCPU -16");
	EXPECT_RC(-EBUSY, add_id(a, 2));
	EXPECT_RC(-NE_ERR_VCPU_NOT_IN_CPU_POOL, add_id(b, 2),
		  "the core of a vCPU the device may hold stays reserved");
	EXPECT_RC(0, add_id(a, 2), "adding the same vCPU again completes it");
	EXPECT_RC(0, add_id(a, 3));
	close(a);
	EXPECT_RC(0, add_id(b, 2), "the core is back once the slot is freed");
	close(b);
}

/*
 * The device adds the vCPU but its reply is lost: the retry gets EEXIST
 * from the device, which the driver takes as done, and the enclave starts
 * with that core.
 */
TEST_F(encl, fault, addvcpu_lost_reply_retry_completes)
{
	char old[32];
	uint64_t cid = 0;

	NEED_EMU();
	if (sysfs_read(TIMEOUT_PARAM, old, sizeof(old)) ||
	    sysfs_write(TIMEOUT_PARAM, "800"))
		SKIP(return, "no writable cmd_timeout_ms");
	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	EMU("fault lost SLOT_ADD_VCPU");
	EXPECT_RC(-ETIMEDOUT, add_id(self->fd, 2));
	EXPECT_RC(0, add_id(self->fd, 3), "its sibling: the core stays reserved");
	EXPECT_RC(-NE_ERR_FULL_CORES_NOT_USED, ne_start(self->fd, 0, &cid),
		  "vCPU 2 is not the enclave's yet");
	EXPECT_RC(0, add_id(self->fd, 2), "the retry completes it");
	EXPECT_RC(0, ne_start(self->fd, 0, &cid));
	EXPECT_EQ(0, strcmp("RUNNING", t_emu_state(_th, self->uid)));
}

TEST_F(encl, fault, enclave_start_rc_keeps_init_and_retry_works)
{
	uint64_t cid = 0;

	NEED_EMU();
	t_add_mem(_th, self->fd, t_hp(_th, SZ_64M), SZ_64M);
	t_add_vcpus(_th, self->fd, 2);
	EMU("fault rc ENCLAVE_START -22");
	EXPECT_RC(-EINVAL, ne_start(self->fd, 0, &cid));
	EXPECT_EQ(0, strcmp("INIT", t_emu_state(_th, self->uid)));
	EMU("fault clear");
	EXPECT_RC(0, ne_start(self->fd, 0, &cid), "START can be retried");
	EXPECT_EQ(0, strcmp("RUNNING", t_emu_state(_th, self->uid)));
}

TEST_F(dev, fault, reply_timeout_is_etimedout)
{
	char old[32];
	uint64_t uid;
	int rc, fd;

	NEED_EMU();
	if (sysfs_read(TIMEOUT_PARAM, old, sizeof(old)) ||
	    sysfs_write(TIMEOUT_PARAM, "500"))
		SKIP(return, "no writable cmd_timeout_ms (the wait would be 120 s)");
	EMU("fault drop SLOT_ALLOC");
	rc = ne_create(self->dev, &uid);
	EXPECT_RC(-ETIMEDOUT, rc);
	if (rc >= 0)
		close(rc);
	EMU("reset");
	/*
	 * The next command may first wait (one timeout) for the dropped
	 * reply: keep the short timeout until it has gone through.
	 */
	fd = t_create(_th, self->dev, NULL);
	t_add_vcpus(_th, fd, 2);
	close(fd);
	sysfs_write(TIMEOUT_PARAM, old);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A child blocks in ADD_VCPU on a slow device and is killed. Returns the
 * seconds from SIGKILL to its exit, or -1.
 */
double kill_blocked_waiter(int latency_us)
{
	int pid, pfd[2];
	double t0;
	char c;

	if (emu_cmd(NULL, 0, "latency SLOT_ADD_VCPU %d", latency_us) || pipe(pfd))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		uint32_t id = 0;
		int dev = ne_dev_open(), fd;
		uint64_t uid;

		emu_close();
		fd = ne_create(dev, &uid);
		if (fd < 0 || write(pfd[1], "x", 1) != 1)
			_exit(1);
		ne_add_vcpu(fd, &id);	/* blocks in the device wait */
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1) {
		th_log("#   the child could not create an enclave");
		wait_child(pid, 10000);
		return -1;
	}
	close(pfd[0]);
	usleep(300 * 1000);
	if (waitpid(pid, NULL, WNOHANG) != 0) {
		th_log("#   the child was not blocked in NE_ADD_VCPU");
		return -1;
	}
	t0 = now_s();
	kill(pid, SIGKILL);
	if (wait_child(pid, latency_us / 1000 + 20000) < 0)
		return -1;
	return now_s() - t0;
}

TEST_F(dev, fault, killed_waiter_next_command_works)
{
	double dt;
	int fd;

	NEED_EMU();
	dt = kill_blocked_waiter(2000000);
	ASSERT_GE(dt, 0, "child did not exit");
	TH_LOG("killed waiter exited %.2f s after SIGKILL", dt);
	EMU("latency all 0");
	usleep(2500 * 1000);	/* let any late reply arrive */
	fd = t_create(_th, self->dev, NULL);
	t_add_mem(_th, fd, t_hp(_th, SZ_64M), SZ_64M);
	t_add_vcpus(_th, fd, 2);
	t_start(_th, fd);
	close(fd);
	EXPECT_EQ(0, t_emu_nslots(_th), "no slot left behind");
	t_check_pool_whole(_th, self->dev);
}

TEST_F(dev, fault, event_storm_no_spurious_hup)
{
	struct pollfd pf;
	uint64_t ua;
	int a = t_create(_th, self->dev, &ua);
	int b = t_create(_th, self->dev, NULL);
	uint32_t id = 0;

	NEED_EMU();
	t_make_running(_th, a);
	EMU("event 500");
	ASSERT_RC(0, ne_add_vcpu(b, &id), "ioctls work during the storm");
	pf = (struct pollfd){ .fd = a, .events = POLLIN | POLLHUP };
	EXPECT_EQ(0, poll(&pf, 1, 1500), "no POLLHUP on a running enclave");
	EXPECT_EQ(0, strcmp("RUNNING", t_emu_state(_th, ua)));
	EMU("event 500");
	close(b);
	close(a);
	EXPECT_EQ(0, t_emu_nslots(_th));
}
