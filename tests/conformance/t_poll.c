// SPDX-License-Identifier: GPL-2.0
/*
 * poll() on the enclave fd (spec §2.6): no event before or after start,
 * POLLHUP once the device ends the enclave, level-triggered, never
 * POLLIN/POLLOUT; wakes blocked pollers; only the ended enclave sees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ne_lib.h"

#define ALL_EVENTS (POLLIN | POLLOUT | POLLPRI | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM)

static int poll1(int fd, int timeout_ms, short *revents)
{
	struct pollfd p = { .fd = fd, .events = ALL_EVENTS };
	int rc = poll(&p, 1, timeout_ms);

	*revents = p.revents;
	return rc < 0 ? -errno : rc;
}

TEST_F(encl, poll, before_start_times_out)
{
	short re = 0;

	EXPECT_EQ(0, poll1(self->fd, 300, &re), "revents 0x%x", re);
}

TEST_F(encl, poll, after_start_no_event)
{
	short re = 0;

	t_make_running(_th, self->fd);
	EXPECT_EQ(0, poll1(self->fd, 300, &re), "revents 0x%x", re);
}

TEST_F(encl, poll, hup_after_device_end_level_triggered)
{
	short re = 0;

	NEED_EMU();
	t_make_running(_th, self->fd);
	EMU("end %llu", (unsigned long long)self->uid);
	ASSERT_EQ(1, poll1(self->fd, 10000, &re), "POLLHUP within 10 s");
	EXPECT_EQ(POLLHUP, re, "only POLLHUP, never POLLIN/POLLOUT/POLLERR");
	for (int i = 0; i < 3; i++) {
		re = 0;
		EXPECT_EQ(1, poll1(self->fd, 0, &re), "level-triggered: poll #%d", i);
		EXPECT_EQ(POLLHUP, re);
	}
}

TEST_F(encl, poll, stopped_enclave_refuses_changes)
{
	uint32_t id = 0;
	uint64_t cid = 0;
	short re;

	NEED_EMU();
	t_make_running(_th, self->fd);
	EMU("end %llu", (unsigned long long)self->uid);
	ASSERT_EQ(1, poll1(self->fd, 10000, &re));
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, ne_add_vcpu(self->fd, &id));
	EXPECT_RC(-NE_ERR_NOT_IN_INIT_STATE, ne_start(self->fd, 0, &cid));
	EMU("trace-clear");
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(1, emu_trace_count("SLOT_FREE"));
	EXPECT_EQ(0, t_emu_nslots(_th));
	t_check_pool_whole(_th, self->dev);
}

struct waiter {
	int fd;
	short re;
	int rc;
};

static void *blocked_poll(void *arg)
{
	struct waiter *w = arg;

	w->rc = poll1(w->fd, -1, &w->re);
	return NULL;
}

TEST_F(encl, poll, end_wakes_blocked_poller)
{
	struct waiter w = { .fd = self->fd };
	pthread_t t;

	NEED_EMU();
	t_make_running(_th, self->fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_poll, &w));
	usleep(200 * 1000);
	EMU("end %llu", (unsigned long long)self->uid);
	/* The harness timeout catches a poller that is never woken. */
	pthread_join(t, NULL);
	EXPECT_EQ(1, w.rc);
	EXPECT_EQ(POLLHUP, w.re);
}

TEST_F(encl, poll, epoll_reports_epollhup)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLHUP }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	NEED_EMU();
	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 200), "no event before start");
	t_make_running(_th, self->fd);
	EMU("end %llu", (unsigned long long)self->uid);
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 10000));
	EXPECT_EQ(EPOLLHUP, out.events);
	close(ep);
}

TEST_F(dev, poll, end_of_one_enclave_only_hups_that_one)
{
	uint64_t ua, ub;
	int a = t_create(_th, self->dev, &ua);
	int b = t_create(_th, self->dev, &ub);
	short re = 0;

	NEED_EMU();
	t_make_running(_th, a);
	t_make_running(_th, b);
	EMU("end %llu", (unsigned long long)ua);
	EXPECT_EQ(1, poll1(a, 10000, &re));
	EXPECT_EQ(0, poll1(b, 500, &re), "the other enclave keeps running");
	EXPECT_EQ(0, strcmp("RUNNING", t_emu_state(_th, ub)));
	close(a);
	close(b);
}

TEST_F(encl, poll, end_before_start_no_event)
{
	short re = 0;

	NEED_EMU();
	EMU("end all");
	EMU("event 3");
	EXPECT_EQ(0, poll1(self->fd, 500, &re),
		  "an enclave in INIT gets no POLLHUP from events");
}
