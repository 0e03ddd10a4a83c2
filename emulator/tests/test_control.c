// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for control.c, fault.c, trace.c and the dispatch in emu.c,
 * in-process: a socketpair stands in for the QEMU device connection. On
 * the project's test harness (tests/lib/harness): each test runs in its
 * own process on an emulator of its own, closed at the end (under
 * valgrind, a leak fails the test).
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu.h"
#include "harness.h"
#include "log.h"

static struct ne_emu emu;
static int devfd = -1;		/* our end: we are QEMU */
static uint32_t next_id = 1;

static const char *ctl(const char *line)
{
	static struct ne_buf out;
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", line);
	out.off = out.len = 0;
	ne_control_exec(&emu, tmp, &out);
	ne_buf_add(&out, "", 1);
	return out.data;
}

/* Lines (or none), then "ok". */
static int ends_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && !strcmp(s + n - 3, "ok\n") &&
	       (n == 3 || s[n - 4] == '\n');
}

/* One "error ..." line and nothing else. */
static int is_error(const char *s)
{
	return !strncmp(s, "error ", 6) && strchr(s, '\n') ==
	       s + strlen(s) - 1;
}

/* The request is answered with one error line (both shown if not). */
#define EXPECT_ERROR(req)						\
	do {								\
		const char *_ans = ctl(req);				\
		EXPECT_TRUE(is_error(_ans), "'%s' -> '%s'", req, _ans); \
	} while (0)

#define EXPECT_OK_ANSWER(req) EXPECT_STREQ("ok\n", ctl(req), "%s", req)

/* Submit one command as the device model would. Returns the wire id. */
static uint32_t submit(uint32_t type, uint64_t a, uint64_t b, uint64_t c)
{
	struct ne_wire_cmd cmd;
	uint64_t v[3] = { htole64(a), htole64(b), htole64(c) };

	memset(&cmd, 0, sizeof(cmd));
	cmd.cmd_type = htole32(type);
	memcpy(cmd.data, v, sizeof(v));
	ne_emu_command(&emu, emu.dev.active, next_id, &cmd);
	return next_id++;
}

/* Read one message; returns its type or -1 when nothing is there. */
static int recv_msg(struct ne_wire_hdr *h, struct ne_wire_reply *r)
{
	ssize_t n = read(devfd, h, sizeof(*h));

	if (n != sizeof(*h))
		return -1;
	if (le32toh(h->len) && read(devfd, r, sizeof(*r)) != sizeof(*r))
		return -2;
	return le16toh(h->type);
}

static void reply_of(const struct ne_wire_reply *r, struct ne_cmd_reply *cr)
{
	memcpy(cr, r->data, sizeof(*cr));
}

static int32_t reply_rc(const struct ne_wire_reply *r)
{
	struct ne_cmd_reply cr;

	reply_of(r, &cr);
	return (int32_t)le32toh((uint32_t)cr.rc);
}

/* Submit and read the reply: its rc, or -9999 when none came. */
static int32_t call(uint32_t type, uint64_t a, uint64_t b, uint64_t c)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	submit(type, a, b, c);
	return recv_msg(&h, &r) == NE_WIRE_REPLY ? reply_rc(&r) : -9999;
}

/* A slot with 4 MiB at 2 MiB and vCPU 3, started with flags; its uid. */
static uint64_t running_slot(uint64_t flags)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;
	uint64_t uid;

	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	if (recv_msg(&h, &r) != NE_WIRE_REPLY)
		return 0;
	reply_of(&r, &cr);
	uid = le64toh(cr.slot_uid);
	if (call(NE_CMD_SLOT_ADD_MEM, uid, 0x200000, 0x400000) ||
	    call(NE_CMD_SLOT_ADD_VCPU, uid, 3, 0) ||
	    call(NE_CMD_ENCLAVE_START, uid, 0, flags))
		return 0;
	return uid;
}

/* An emulator with a ready device connection to a socketpair. */
FIXTURE(emu) {
};

FIXTURE_SETUP(emu)
{
	struct ne_emu_cfg cfg = { .mem_regions = 0 };
	struct ne_devconn *c;
	int sv[2];

	ASSERT_OK(ne_emu_init(&emu, &cfg));
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	c = calloc(1, sizeof(*c));
	ASSERT_TRUE(c);
	c->fd = sv[0];
	c->id = 1;
	c->ready = 1;
	emu.dev.conns = emu.dev.active = c;
	emu.dev.nr_conns = 1;
	devfd = sv[1];
}

FIXTURE_TEARDOWN(emu)
{
	if (devfd >= 0)
		close(devfd);
	ne_emu_close(&emu);
}

FIXTURE_REGISTER(emu);

/* ---- requests ---- */

TEST_F(emu, request, ping_answers_ok)
{
	EXPECT_OK_ANSWER("ping");
	EXPECT_OK_ANSWER("  ping\t");
}

TEST_F(emu, request, malformed_answered_with_error)
{
	EXPECT_ERROR("pong");
	EXPECT_ERROR("ping extra");
	EXPECT_ERROR("");
	EXPECT_ERROR("ping\x01\x02");
	EXPECT_ERROR("\xff\xfe garbage");
	EXPECT_ERROR("a b c d e f g h i j k");
}

TEST_F(emu, request, idle_emulator_reports_nothing)
{
	EXPECT_STREQ("S total=0\nok\n", ctl("stats"));
	EXPECT_OK_ANSWER("slots");
	EXPECT_OK_ANSWER("trace");
}

/* ---- dispatch, trace, stats, slots ---- */

TEST_F(emu, dispatch, reply_carries_the_cmd_id)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	uint32_t id = submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);

	EXPECT_EQ(NE_WIRE_REPLY, recv_msg(&h, &r));
	EXPECT_EQ(id, le32toh(h.id));
	EXPECT_EQ(NE_CMD_REPLY_SIZE, le32toh(r.len));
	EXPECT_RC(0, reply_rc(&r));
}

TEST_F(emu, dispatch, unknown_types_answered_traced_counted)
{
	static const uint32_t types[] = { NE_CMD_INVALID, NE_CMD_MAX, 77,
					  12345 };
	char want[64];
	const char *s;
	size_t i, n = sizeof(types) / sizeof(types[0]);

	for (i = 0; i < n; i++)
		EXPECT_RC(-EOPNOTSUPP, call(types[i], 1, 2, 3), "type %u",
			  types[i]);
	s = ctl("trace");
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want),
			 "T seq=%zu cmd=UNKNOWN(%u) slot=0 rc=-95 lat_us=",
			 (size_t)emu.seq - n + 1 + i, types[i]);
		EXPECT_SUBSTR(s, want);
	}
	EXPECT_SUBSTR(ctl("stats"), "S cmd=UNKNOWN count=4\n");
	EXPECT_ERROR("fault rc UNKNOWN ENOMEM");
	EXPECT_ERROR("fault drop 12345");
}

TEST_F(emu, trace, one_line_per_command_with_its_fields)
{
	const char *s;

	ASSERT_NE(0, running_slot(1));
	EXPECT_RC(0, call(NE_CMD_SLOT_INFO, emu.engine.slots[0]->uid, 0, 0));
	s = ctl("trace");
	EXPECT_SUBSTR(s, "cmd=SLOT_ALLOC slot=");
	EXPECT_SUBSTR(s, "mem_regions=256 rc=0 lat_us=");
	EXPECT_SUBSTR(s, "cmd=SLOT_ADD_MEM slot=");
	EXPECT_SUBSTR(s, "paddr=0x200000 size=0x400000 rc=0");
	EXPECT_SUBSTR(s, "cmd=SLOT_ADD_VCPU slot=");
	EXPECT_SUBSTR(s, "vcpu=3 rc=0");
	EXPECT_SUBSTR(s, "cmd=ENCLAVE_START slot=");
	EXPECT_SUBSTR(s, "cid=0 flags=1 enclave_cid=4 rc=0",
		      "the CID asked for, the flags and the CID given");
	EXPECT_SUBSTR(s, "cmd=SLOT_INFO");
	EXPECT_SUBSTR(s, "state=RUNNING", "SLOT_INFO's reply fields");
	EXPECT_TRUE(!strncmp(s, "T seq=", 6) && ends_ok(s),
		    "T lines, then ok: %s", s);
}

TEST_F(emu, stats, count_per_command_and_total)
{
	const char *s;

	ASSERT_NE(0, running_slot(1));
	call(NE_CMD_SLOT_INFO, emu.engine.slots[0]->uid, 0, 0);
	call(77, 0, 0, 0);
	s = ctl("stats");
	EXPECT_SUBSTR(s, "S cmd=SLOT_ALLOC count=1\n");
	EXPECT_SUBSTR(s, "S cmd=UNKNOWN count=1\n");
	EXPECT_SUBSTR(s, "S total=6\n");
}

TEST_F(emu, slots, slot_and_region_lines)
{
	const char *s;

	ASSERT_NE(0, running_slot(1));
	s = ctl("slots");
	EXPECT_TRUE(!strncmp(s, "SLOT uid=", 9), "%s", s);
	EXPECT_SUBSTR(s, "state=RUNNING cid=4 flags=1 mem_size=0x400000 "
		      "regions=1 vcpus=3\n");
	EXPECT_SUBSTR(s, " paddr=0x200000 size=0x400000\n");
}

TEST_F(emu, trace, clear_empties_the_trace_keeps_stats)
{
	ASSERT_NE(0, running_slot(1));
	EXPECT_OK_ANSWER("trace-clear");
	EXPECT_OK_ANSWER("trace");
	EXPECT_SUBSTR(ctl("stats"), "S total=4\n");
}

TEST_F(emu, reset, frees_slots_clears_stats)
{
	ASSERT_NE(0, running_slot(1));
	EXPECT_OK_ANSWER("reset");
	EXPECT_STREQ("S total=0\nok\n", ctl("stats"));
	EXPECT_OK_ANSWER("slots");
}

/* ---- faults ---- */

TEST_F(emu, fault, bad_arguments_refused)
{
	EXPECT_ERROR("fault rc NOPE -12");
	EXPECT_ERROR("fault rc SLOT_ALLOC 12");
	EXPECT_ERROR("fault rc SLOT_ALLOC 0");
	EXPECT_ERROR("fault rc SLOT_ALLOC");
	EXPECT_ERROR("fault rc SLOT_ALLOC -12 0");
	EXPECT_ERROR("fault rc SLOT_ALLOC -12 x");
	EXPECT_ERROR("fault rc SLOT_ALLOC -12 1 1");
	EXPECT_ERROR("fault explode SLOT_ALLOC");
	EXPECT_ERROR("fault");
}

TEST_F(emu, fault, rc_replaces_the_reply_count_times)
{
	EXPECT_OK_ANSWER("fault rc SLOT_ALLOC ENOMEM 2");
	EXPECT_STREQ("F cmd=SLOT_ALLOC kind=rc rc=-12 count=2\nok\n",
		     ctl("fault list"));
	EXPECT_RC(-ENOMEM, call(NE_CMD_SLOT_ALLOC, 0, 0, 0), "the first");
	EXPECT_RC(0, call(NE_CMD_SLOT_COUNT, 0, 0, 0),
		  "other command types unaffected");
	EXPECT_RC(-ENOMEM, call(NE_CMD_SLOT_ALLOC, 0, 0, 0), "the second");
	EXPECT_EQ(0, emu.engine.nr_slots, "no slot was allocated");
	EXPECT_RC(0, call(NE_CMD_SLOT_ALLOC, 0, 0, 0),
		  "the count used up, the third succeeds");
	EXPECT_SUBSTR(ctl("trace"), "cmd=SLOT_ALLOC slot=0 rc=-12 lat_us=");
	EXPECT_SUBSTR(ctl("trace"), " fault=rc\n");
}

TEST_F(emu, fault, drop_sends_no_reply_once)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	uint64_t uid;

	ASSERT_RC(0, call(NE_CMD_SLOT_ALLOC, 0, 0, 0));
	uid = emu.engine.slots[0]->uid;
	EXPECT_OK_ANSWER("fault drop SLOT_INFO");
	submit(NE_CMD_SLOT_INFO, uid, 0, 0);
	EXPECT_EQ(-1, recv_msg(&h, &r), "no reply at all");
	EXPECT_SUBSTR(ctl("trace"), "rc=none lat_us=0 fault=drop");
	submit(NE_CMD_SLOT_INFO, uid, 0, 0);
	EXPECT_EQ(NE_WIRE_REPLY, recv_msg(&h, &r), "the next one answered");
}

TEST_F(emu, fault, malformed_reply_short_with_garbage_rc)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	ASSERT_RC(0, call(NE_CMD_SLOT_ALLOC, 0, 0, 0));
	EXPECT_OK_ANSWER("fault malformed SLOT_FREE");
	submit(NE_CMD_SLOT_FREE, emu.engine.slots[0]->uid, 0, 0);
	ASSERT_EQ(NE_WIRE_REPLY, recv_msg(&h, &r));
	EXPECT_LT(le32toh(r.len), NE_CMD_REPLY_SIZE, "short");
	EXPECT_LT(reply_rc(&r), -4095, "the rc is garbage");
	EXPECT_EQ(1, emu.engine.nr_slots, "the slot not freed");
	EXPECT_SUBSTR(ctl("trace"), "fault=malformed");
}

TEST_F(emu, fault, lost_carried_out_without_reply)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	EXPECT_OK_ANSWER("fault lost SLOT_ALLOC");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	EXPECT_EQ(-1, recv_msg(&h, &r), "no reply at all");
	EXPECT_EQ(1, emu.engine.nr_slots, "the slot was allocated anyway");
	EXPECT_SUBSTR(ctl("trace"), "rc=none lat_us=0 fault=lost");
	EXPECT_TRUE(!strstr(ctl("fault list"), "kind="), "used up");
	ctl("fault lost SLOT_FREE");
	EXPECT_SUBSTR(ctl("fault list"), "F cmd=SLOT_FREE kind=lost");
}

TEST_F(emu, fault, clear_and_reset_remove_faults)
{
	ctl("fault drop SLOT_COUNT 3");
	ctl("fault rc SLOT_COUNT -5");
	EXPECT_OK_ANSWER("fault clear");
	EXPECT_OK_ANSWER("fault list");
	EXPECT_RC(0, call(NE_CMD_SLOT_COUNT, 0, 0, 0), "answered again");
	ctl("fault rc SLOT_COUNT -5");
	ctl("reset");
	EXPECT_RC(0, call(NE_CMD_SLOT_COUNT, 0, 0, 0), "reset clears faults");
}

/* ---- latency ---- */

TEST_F(emu, latency, bad_arguments_refused)
{
	EXPECT_ERROR("latency");
	EXPECT_ERROR("latency NOPE 5");
	EXPECT_ERROR("latency all -5");
	EXPECT_ERROR("latency all 99999999999");
}

TEST_F(emu, latency, reply_held_until_its_deadline)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int t;

	EXPECT_EQ(-1, ne_emu_timeout_ms(&emu), "no timer: poll waits forever");
	EXPECT_OK_ANSWER("latency SLOT_COUNT 300000");
	submit(NE_CMD_SLOT_COUNT, 0, 0, 0);
	EXPECT_EQ(-1, recv_msg(&h, &r), "no reply yet");
	t = ne_emu_timeout_ms(&emu);
	EXPECT_TRUE(t > 250 && t <= 300, "the loop's timeout is the deadline (%d ms)", t);
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	EXPECT_EQ(NE_WIRE_REPLY, recv_msg(&h, &r),
		  "other types answered at once");
	ne_devlink_run_timers(&emu, ne_now_us() + 301000);
	EXPECT_EQ(NE_WIRE_REPLY, recv_msg(&h, &r), "the reply after it");
	EXPECT_EQ(-1, ne_emu_timeout_ms(&emu), "the timer gone");
}

TEST_F(emu, latency, all_types_until_reset)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	EXPECT_OK_ANSWER("latency all 1000");
	submit(NE_CMD_SLOT_INFO, 1, 0, 0);
	EXPECT_GE(ne_emu_timeout_ms(&emu), 0, "applies");
	ctl("reset");
	EXPECT_EQ(0, emu.faults.lat_us[NE_CMD_SLOT_INFO], "reset: back to 0");
	ne_devlink_run_timers(&emu, ne_now_us() + 2000);
	recv_msg(&h, &r);
}

/* ---- end, event, set ---- */

TEST_F(emu, end, bad_slots_refused)
{
	char req[64];

	EXPECT_ERROR("end");
	EXPECT_ERROR("end 999");
	EXPECT_ERROR("end 0");
	ASSERT_RC(0, call(NE_CMD_SLOT_ALLOC, 0, 0, 0));
	snprintf(req, sizeof(req), "end %llu",
		 (unsigned long long)emu.engine.slots[0]->uid);
	EXPECT_ERROR(req);	/* not running */
}

TEST_F(emu, end, running_slot_stops_with_one_event)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	uint64_t uid = running_slot(0);
	char req[64];

	ASSERT_NE(0, uid);
	snprintf(req, sizeof(req), "end %llu", (unsigned long long)uid);
	EXPECT_OK_ANSWER(req);
	EXPECT_EQ(NE_WIRE_EVENT, recv_msg(&h, &r), "one EVENT sent");
	EXPECT_EQ(0, le32toh(h.id), "EVENT id is 0");
	EXPECT_EQ(-1, recv_msg(&h, &r), "only one");
	EXPECT_EQ(NE_SLOT_STATE_STOPPED, emu.engine.slots[0]->state);
	EXPECT_OK_ANSWER("end all");
	EXPECT_EQ(-1, recv_msg(&h, &r), "end all with none running: no EVENT");
}

TEST_F(emu, event, sends_count_events_without_state_change)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int i, n;

	ASSERT_NE(0, running_slot(0));
	EXPECT_OK_ANSWER("event");
	EXPECT_EQ(NE_WIRE_EVENT, recv_msg(&h, &r), "one EVENT");
	EXPECT_OK_ANSWER("event 50");
	for (n = 0, i = 0; i < 60; i++)
		if (recv_msg(&h, &r) == NE_WIRE_EVENT)
			n++;
	EXPECT_EQ(50, n, "event 50: 50 EVENTs");
	EXPECT_ERROR("event 0");
	EXPECT_ERROR("event 1000001");
	EXPECT_ERROR("event x");
	EXPECT_EQ(NE_SLOT_STATE_RUNNING, emu.engine.slots[0]->state,
		  "no state change");
}

TEST_F(emu, event, needs_a_device)
{
	/* The device link is gone: events cannot be delivered. */
	close(devfd);
	devfd = -1;
	ne_devlink_fini(&emu.dev);
	EXPECT_ERROR("event");
}

TEST_F(emu, set, mem_regions_for_new_slots_until_reset)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;

	EXPECT_ERROR("set mem-regions 0");
	EXPECT_ERROR("set colour 3");
	EXPECT_OK_ANSWER("set mem-regions 7");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	ASSERT_EQ(NE_WIRE_REPLY, recv_msg(&h, &r));
	reply_of(&r, &cr);
	EXPECT_EQ(7, le64toh(cr.mem_regions), "SLOT_ALLOC reports 7 regions");
	ctl("reset");
	EXPECT_EQ(256, emu.engine.cfg.mem_regions, "reset: the default");
}

TEST_F(emu, set, image_fault)
{
	EXPECT_OK_ANSWER("set image-fault swap");
	EXPECT_EQ(NE_IMAGE_FAULT_SWAP, emu.vms.image_fault);
	EXPECT_ERROR("set image-fault sideways");
	EXPECT_OK_ANSWER("set image-fault none");
	EXPECT_EQ(NE_IMAGE_FAULT_NONE, emu.vms.image_fault);
}

int main(int argc, char **argv)
{
	ne_log_set(NULL);
	return th_main(argc, argv);
}
