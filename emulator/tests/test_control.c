// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for control.c, fault.c, trace.c and the dispatch in emu.c,
 * in-process: a socketpair stands in for the QEMU device connection.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"
#include "tap.h"

static struct ne_emu emu;
static int devfd;		/* our end: we are QEMU */
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

static int ends_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && !strcmp(s + n - 3, "ok\n") &&
	       (n == 3 || s[n - 4] == '\n');
}

static int is_error(const char *s)
{
	return !strncmp(s, "error ", 6) && strchr(s, '\n') ==
	       s + strlen(s) - 1;
}

static void setup(void)
{
	struct ne_emu_cfg cfg = { .mem_regions = 0 };
	struct ne_devconn *c;
	int sv[2];

	ne_emu_init(&emu, &cfg);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	c = calloc(1, sizeof(*c));
	c->fd = sv[0];
	c->id = 1;
	c->ready = 1;
	emu.dev.conns = emu.dev.active = c;
	emu.dev.nr_conns = 1;
	devfd = sv[1];
}

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

static int32_t reply_rc(const struct ne_wire_reply *r)
{
	struct ne_cmd_reply cr;

	memcpy(&cr, r->data, sizeof(cr));
	return (int32_t)le32toh((uint32_t)cr.rc);
}

static void test_basics(void)
{
	ok(!strcmp(ctl("ping"), "ok\n"), "ping -> ok");
	ok(!strcmp(ctl("  ping\t"), "ok\n"), "ping with blanks");
	ok(is_error(ctl("pong")), "unknown request -> error");
	ok(is_error(ctl("ping extra")), "ping with an argument -> error");
	ok(is_error(ctl("")), "empty request -> error");
	ok(is_error(ctl("ping\x01\x02")), "control bytes -> error");
	ok(is_error(ctl("\xff\xfe garbage")), "high bytes -> error");
	ok(is_error(ctl("a b c d e f g h i j k")), "too many arguments");
	ok(!strcmp(ctl("stats"), "S total=0\nok\n"), "stats when idle");
	ok(!strcmp(ctl("slots"), "ok\n"), "slots when empty");
	ok(!strcmp(ctl("trace"), "ok\n"), "trace when empty");
}

static void test_trace_stats_slots(void)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;
	const char *s;
	uint64_t uid;

	ctl("reset");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	is(recv_msg(&h, &r), NE_WIRE_REPLY, "SLOT_ALLOC: a REPLY came");
	is(le32toh(h.id), next_id - 1, "REPLY carries the CMD id");
	is(le32toh(r.len), NE_CMD_REPLY_SIZE, "REPLY len 72");
	memcpy(&cr, r.data, sizeof(cr));
	uid = le64toh(cr.slot_uid);
	submit(NE_CMD_SLOT_ADD_MEM, uid, 0x200000, 0x400000);
	recv_msg(&h, &r);
	submit(NE_CMD_SLOT_ADD_VCPU, uid, 3, 0);
	recv_msg(&h, &r);
	submit(NE_CMD_ENCLAVE_START, uid, 0, 1);
	recv_msg(&h, &r);
	submit(NE_CMD_SLOT_INFO, uid, 0, 0);
	recv_msg(&h, &r);
	submit(77, 0, 0, 0);
	recv_msg(&h, &r);
	is(reply_rc(&r), -EOPNOTSUPP, "unknown command type answered");
	s = ctl("trace");
	ok(strstr(s, "cmd=SLOT_ALLOC slot=") &&
	   strstr(s, "mem_regions=256 rc=0 lat_us="),
	   "trace: SLOT_ALLOC line with slot and mem_regions");
	ok(strstr(s, "cmd=SLOT_ADD_MEM slot=") &&
	   strstr(s, "paddr=0x200000 size=0x400000 rc=0"),
	   "trace: SLOT_ADD_MEM paddr/size");
	ok(strstr(s, "cmd=SLOT_ADD_VCPU slot=") && strstr(s, "vcpu=3 rc=0"),
	   "trace: SLOT_ADD_VCPU vcpu");
	ok(strstr(s, "cmd=ENCLAVE_START slot=") &&
	   strstr(s, "cid=0 flags=1 enclave_cid=4 rc=0"),
	   "trace: ENCLAVE_START cid/flags and the CID given");
	ok(strstr(s, "cmd=SLOT_INFO") && strstr(s, "state=RUNNING"),
	   "trace: SLOT_INFO reply fields");
	ok(strstr(s, "cmd=UNKNOWN(77) slot=0 rc=-95"), "trace: UNKNOWN(77)");
	ok(!strncmp(s, "T seq=", 6) && ends_ok(s), "trace: T lines then ok");
	s = ctl("stats");
	ok(strstr(s, "S cmd=SLOT_ALLOC count=1\n") &&
	   strstr(s, "S cmd=UNKNOWN count=1\n") && strstr(s, "S total=6\n"),
	   "stats: per command and total");
	s = ctl("slots");
	ok(strstr(s, "state=RUNNING cid=4 flags=1 mem_size=0x400000 "
		  "regions=1 vcpus=3\n") &&
	   strstr(s, " paddr=0x200000 size=0x400000\n") &&
	   !strncmp(s, "SLOT uid=", 9), "slots: SLOT and R lines");
	ok(!strcmp(ctl("trace-clear"), "ok\n") &&
	   !strcmp(ctl("trace"), "ok\n"), "trace-clear empties the trace");
	ok(strstr(ctl("stats"), "S total=6\n") != NULL,
	   "trace-clear keeps stats");
	ctl("reset");
	ok(!strcmp(ctl("stats"), "S total=0\nok\n") &&
	   !strcmp(ctl("slots"), "ok\n"), "reset: no slots, no stats");
}

static void test_faults(void)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	ctl("reset");
	ok(is_error(ctl("fault rc NOPE -12")), "fault: unknown command");
	ok(is_error(ctl("fault rc SLOT_ALLOC 12")), "fault rc: positive rc");
	ok(is_error(ctl("fault rc SLOT_ALLOC 0")), "fault rc: rc 0");
	ok(is_error(ctl("fault rc SLOT_ALLOC")), "fault rc: no rc");
	ok(is_error(ctl("fault rc SLOT_ALLOC -12 0")), "fault rc: count 0");
	ok(is_error(ctl("fault rc SLOT_ALLOC -12 x")), "fault rc: count x");
	ok(is_error(ctl("fault rc SLOT_ALLOC -12 1 1")), "fault: extra arg");
	ok(is_error(ctl("fault explode SLOT_ALLOC")), "fault: unknown kind");
	ok(is_error(ctl("fault")), "fault: no arguments");
	ok(!strcmp(ctl("fault rc SLOT_ALLOC ENOMEM 2"), "ok\n"),
	   "fault rc SLOT_ALLOC ENOMEM 2");
	ok(!strcmp(ctl("fault list"),
		   "F cmd=SLOT_ALLOC kind=rc rc=-12 count=2\nok\n"),
	   "fault list shows it");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	recv_msg(&h, &r);
	is(reply_rc(&r), -ENOMEM, "fault rc: first SLOT_ALLOC gets -12");
	submit(NE_CMD_SLOT_COUNT, 0, 0, 0);
	recv_msg(&h, &r);
	is(reply_rc(&r), 0, "fault rc: other command types unaffected");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	recv_msg(&h, &r);
	is(reply_rc(&r), -ENOMEM, "fault rc: second SLOT_ALLOC gets -12");
	is(emu.engine.nr_slots, 0, "fault rc: no slot was allocated");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	recv_msg(&h, &r);
	is(reply_rc(&r), 0, "fault rc: count used up, third succeeds");
	ok(strstr(ctl("trace"), "cmd=SLOT_ALLOC slot=0 rc=-12 lat_us=") &&
	   strstr(ctl("trace"), " fault=rc\n"),
	   "trace marks fault=rc");

	ok(!strcmp(ctl("fault drop SLOT_INFO"), "ok\n"), "fault drop");
	submit(NE_CMD_SLOT_INFO, emu.engine.slots[0]->uid, 0, 0);
	is(recv_msg(&h, &r), -1, "fault drop: no reply at all");
	ok(strstr(ctl("trace"), "rc=none lat_us=0 fault=drop") != NULL,
	   "trace marks fault=drop");
	submit(NE_CMD_SLOT_INFO, emu.engine.slots[0]->uid, 0, 0);
	is(recv_msg(&h, &r), NE_WIRE_REPLY, "fault drop: next one answered");

	ok(!strcmp(ctl("fault malformed SLOT_FREE"), "ok\n"),
	   "fault malformed");
	submit(NE_CMD_SLOT_FREE, emu.engine.slots[0]->uid, 0, 0);
	is(recv_msg(&h, &r), NE_WIRE_REPLY, "fault malformed: a reply");
	ok(le32toh(r.len) < NE_CMD_REPLY_SIZE, "fault malformed: short");
	ok(reply_rc(&r) < -4095, "fault malformed: rc is garbage");
	is(emu.engine.nr_slots, 1, "fault malformed: slot not freed");
	ok(strstr(ctl("trace"), "fault=malformed") != NULL,
	   "trace marks fault=malformed");

	ok(!strcmp(ctl("fault lost SLOT_ALLOC"), "ok\n"), "fault lost");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	is(recv_msg(&h, &r), -1, "fault lost: no reply at all");
	is(emu.engine.nr_slots, 2, "fault lost: the slot was allocated anyway");
	ok(strstr(ctl("trace"), "rc=none lat_us=0 fault=lost") != NULL,
	   "trace marks fault=lost");
	ok(strstr(ctl("fault list"), "kind=") == NULL, "fault lost: used up");
	ctl("fault lost SLOT_FREE");
	ok(strstr(ctl("fault list"), "F cmd=SLOT_FREE kind=lost") != NULL,
	   "fault list shows kind=lost");
	ctl("fault clear");

	ctl("fault drop SLOT_COUNT 3");
	ctl("fault rc SLOT_COUNT -5");
	ok(!strcmp(ctl("fault clear"), "ok\n") &&
	   !strcmp(ctl("fault list"), "ok\n"), "fault clear");
	submit(NE_CMD_SLOT_COUNT, 0, 0, 0);
	is(recv_msg(&h, &r), NE_WIRE_REPLY, "fault clear: answered again");
	ctl("fault rc SLOT_COUNT -5");
	ctl("reset");
	submit(NE_CMD_SLOT_COUNT, 0, 0, 0);
	recv_msg(&h, &r);
	is(reply_rc(&r), 0, "reset clears faults");
}

static void test_latency(void)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int t;

	ctl("reset");
	ok(is_error(ctl("latency")), "latency: no arguments");
	ok(is_error(ctl("latency NOPE 5")), "latency: unknown command");
	ok(is_error(ctl("latency all -5")), "latency: negative");
	ok(is_error(ctl("latency all 99999999999")), "latency: too long");
	is(ne_emu_timeout_ms(&emu), -1, "no timer: poll waits forever");
	ok(!strcmp(ctl("latency SLOT_COUNT 300000"), "ok\n"),
	   "latency SLOT_COUNT 300 ms");
	submit(NE_CMD_SLOT_COUNT, 0, 0, 0);
	is(recv_msg(&h, &r), -1, "latency: no reply yet");
	t = ne_emu_timeout_ms(&emu);
	ok(t > 250 && t <= 300, "latency: loop timeout is the deadline");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	is(recv_msg(&h, &r), NE_WIRE_REPLY,
	   "latency: other types answered at once");
	ne_devlink_run_timers(&emu, ne_now_us() + 301000);
	is(recv_msg(&h, &r), NE_WIRE_REPLY, "latency: reply after deadline");
	is(ne_emu_timeout_ms(&emu), -1, "latency: timer gone");
	ok(!strcmp(ctl("latency all 1000"), "ok\n"), "latency all");
	submit(NE_CMD_SLOT_INFO, 1, 0, 0);
	ok(ne_emu_timeout_ms(&emu) >= 0, "latency all: applies");
	ctl("reset");
	is(emu.faults.lat_us[NE_CMD_SLOT_INFO], 0, "reset: latency back to 0");
	ne_devlink_run_timers(&emu, ne_now_us() + 2000);
	recv_msg(&h, &r);
}

static void test_end_event_set(void)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	uint64_t uid;
	int i, n;

	ctl("reset");
	ok(is_error(ctl("end")), "end: no argument");
	ok(is_error(ctl("end 999")), "end: unknown slot");
	ok(is_error(ctl("end 0")), "end: uid 0");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	recv_msg(&h, &r);
	uid = emu.engine.slots[0]->uid;
	{
		char b[64];

		snprintf(b, sizeof(b), "end %llu", (unsigned long long)uid);
		ok(is_error(ctl(b)), "end: slot not running");
		submit(NE_CMD_SLOT_ADD_MEM, uid, 0, 0x200000);
		recv_msg(&h, &r);
		submit(NE_CMD_SLOT_ADD_VCPU, uid, 1, 0);
		recv_msg(&h, &r);
		submit(NE_CMD_ENCLAVE_START, uid, 0, 0);
		recv_msg(&h, &r);
		ok(!strcmp(ctl(b), "ok\n"), "end UID: ok");
	}
	is(recv_msg(&h, &r), NE_WIRE_EVENT, "end: one EVENT sent");
	is(le32toh(h.id), 0, "EVENT id is 0");
	is(recv_msg(&h, &r), -1, "end: only one EVENT");
	is(emu.engine.slots[0]->state, NE_SLOT_STATE_STOPPED, "end: STOPPED");
	ok(!strcmp(ctl("end all"), "ok\n"), "end all with none running");
	is(recv_msg(&h, &r), -1, "end all with none running: no EVENT");

	ok(!strcmp(ctl("event"), "ok\n"), "event");
	is(recv_msg(&h, &r), NE_WIRE_EVENT, "event: one EVENT");
	ok(!strcmp(ctl("event 50"), "ok\n"), "event 50");
	for (n = 0, i = 0; i < 60; i++)
		if (recv_msg(&h, &r) == NE_WIRE_EVENT)
			n++;
	is(n, 50, "event 50: 50 EVENTs");
	ok(is_error(ctl("event 0")), "event 0 -> error");
	ok(is_error(ctl("event 1000001")), "event: too many");
	ok(is_error(ctl("event x")), "event x -> error");
	is(emu.engine.slots[0]->state, NE_SLOT_STATE_STOPPED,
	   "event: no state change");

	ok(is_error(ctl("set mem-regions 0")), "set mem-regions 0");
	ok(is_error(ctl("set colour 3")), "set unknown");
	ok(!strcmp(ctl("set mem-regions 7"), "ok\n"), "set mem-regions 7");
	ok(!strcmp(ctl("set image-fault swap"), "ok\n") &&
	   emu.vms.image_fault == NE_IMAGE_FAULT_SWAP, "set image-fault swap");
	ok(is_error(ctl("set image-fault sideways")), "set image-fault sideways");
	ok(!strcmp(ctl("set image-fault none"), "ok\n") &&
	   emu.vms.image_fault == NE_IMAGE_FAULT_NONE, "set image-fault none");
	submit(NE_CMD_SLOT_ALLOC, 0, 0, 0);
	recv_msg(&h, &r);
	{
		struct ne_cmd_reply cr;

		memcpy(&cr, r.data, sizeof(cr));
		is(le64toh(cr.mem_regions), 7, "SLOT_ALLOC reports 7 regions");
	}
	ctl("reset");
	is(emu.engine.cfg.mem_regions, 256, "reset: mem-regions default");

	/* The device link is gone: events cannot be delivered. */
	close(devfd);
	ne_devlink_fini(&emu.dev);
	ok(is_error(ctl("event")), "event without a device -> error");
}

/* Types without a table entry, through the dispatch, the trace and stats. */
static void test_unknown_types(void)
{
	static const uint32_t types[] = { NE_CMD_INVALID, NE_CMD_MAX, 12345 };
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	char want[64];
	const char *s;
	size_t i;

	ctl("reset");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		submit(types[i], 1, 2, 3);
		ok(recv_msg(&h, &r) == NE_WIRE_REPLY &&
		   reply_rc(&r) == -EOPNOTSUPP,
		   "type %u answered -EOPNOTSUPP", types[i]);
	}
	s = ctl("trace");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(want, sizeof(want),
			 "T seq=%zu cmd=UNKNOWN(%u) slot=0 rc=-95 lat_us=",
			 (size_t)emu.seq - 2 + i, types[i]);
		ok(strstr(s, want), "trace: %s", want);
	}
	ok(strstr(ctl("stats"), "S cmd=UNKNOWN count=3\n"),
	   "stats: the three count as UNKNOWN");
	ok(is_error(ctl("fault rc UNKNOWN ENOMEM")) &&
	   is_error(ctl("fault drop 12345")),
	   "no fault on an unknown type");
}

int main(void)
{
	ne_log_set(NULL);
	setup();
	test_basics();
	test_trace_stats_slots();
	test_unknown_types();
	test_faults();
	test_latency();
	test_end_event_set();
	ne_emu_close(&emu);
	return tap_done();
}
