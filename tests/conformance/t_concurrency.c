// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: several processes creating and running enclaves at once,
 * and threads hammering one enclave fd with mixed ioctls while it closes.
 * Afterwards no slot is left and the pool is whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ne_lib.h"

/* Errors a racing caller may legitimately see. */
static int benign(int rc)
{
	return rc >= 0 || rc == -NE_ERR_NO_CPUS_AVAIL_IN_POOL ||
	       rc == -NE_ERR_VCPU_NOT_IN_CPU_POOL;
}

static int creator(int rounds)
{
	int dev = ne_dev_open(), bad = 0;

	if (dev < 0)
		return 100;
	for (int i = 0; i < rounds; i++) {
		uint64_t uid;
		uint32_t id = 0;
		int fd = ne_create(dev, &uid), rc;

		if (fd < 0) {
			bad += !benign(fd);
			continue;
		}
		rc = ne_add_vcpu(fd, &id);
		bad += !benign(rc);
		close(fd);
	}
	close(dev);
	return bad > 99 ? 99 : bad;
}

static int run_procs(int nproc, int (*fn)(int), int arg)
{
	int pids[16], bad = 0;

	fflush(stdout);
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			emu_close();
			_exit(fn(arg));
		}
	}
	for (int i = 0; i < nproc; i++) {
		int rc = pids[i] > 0 ? wait_child(pids[i], 300000) : 100;

		if (rc) {
			th_log("#   process %d: %d unexpected errors (or rc %d)", i, rc, rc);
			bad++;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(dev, concurrency, processes_create_at_once, 300)
{
	EXPECT_EQ(0, run_procs(6, creator, 100));
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

static int runner(int rounds)
{
	int dev = ne_dev_open(), bad = 0, done = 0, tries = 0;
	void *p = hp_map(SZ_64M, SHIFT_2M);

	if (dev < 0 || !p)
		return 100;
	while (done < rounds && tries++ < rounds * 50) {
		uint64_t uid, cid = 0;
		uint32_t id;
		int fd = ne_create(dev, &uid), rc = 0;

		if (fd < 0) {
			bad += !benign(fd);
			usleep(1000);
			continue;
		}
		rc = ne_set_mem(fd, 0, (uintptr_t)p, SZ_64M);
		for (int v = 0; !rc && v < 2; v++) {
			id = 0;
			rc = ne_add_vcpu(fd, &id);
		}
		if (!rc)
			rc = ne_start(fd, 0, &cid);
		if (!rc)
			done++;
		else
			bad += !benign(rc);
		close(fd);
	}
	close(dev);
	return done < rounds ? 98 : (bad > 97 ? 97 : bad);
}

TEST_F_TIMEOUT(dev, concurrency, processes_run_enclaves_at_once, 300)
{
	ASSERT_EQ(0, hp_ensure_free(SHIFT_2M, 3 * 32));
	EXPECT_EQ(0, run_procs(3, runner, 5));
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

struct hammer {
	int fd;
	char *mem;
	atomic_int stop;
	atomic_int bad;
	atomic_int calls;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!atomic_load(&h->stop)) {
		uint64_t cid = 0, off;
		uint32_t id = rand_r(&seed) % 7;
		struct pollfd pf = { .fd = h->fd, .events = POLLIN };
		int rc = 0;

		switch (rand_r(&seed) % 5) {
		case 0:
			rc = ne_add_vcpu(h->fd, &id);
			break;
		case 1:
			rc = ne_set_mem(h->fd, 0, (uintptr_t)(h->mem +
					(rand_r(&seed) % 32) * SZ_2M), SZ_2M);
			break;
		case 2:
			rc = ne_image_info(h->fd, NE_EIF_IMAGE, &off);
			break;
		case 3:
			rc = ne_start(h->fd, 0, &cid);
			break;
		case 4:
			poll(&pf, 1, 0);
			break;
		}
		/* Any errno is acceptable; a crash or hang is not. */
		(void)rc;
		atomic_fetch_add(&h->calls, 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(dev, concurrency, threads_hammer_one_fd_then_close, 120)
{
	struct hammer h = { 0 };
	pthread_t t[4];

	h.mem = t_hp(_th, 32 * SZ_2M);
	for (int round = 0; round < 3; round++) {
		h.fd = t_create(_th, self->dev, NULL);
		atomic_store(&h.stop, 0);
		for (int i = 0; i < 4; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, &h));
		usleep(700 * 1000);
		close(h.fd);	/* while the threads are still in ioctls */
		usleep(200 * 1000);
		atomic_store(&h.stop, 1);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	TH_LOG("%d ioctls issued", atomic_load(&h.calls));
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}
