// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for devlink.c and the loop API of emu.c, in-process: the test
 * owns the poll loop (no main.c) and plays QEMU on a real unix socket.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>

#include "emu.h"
#include "image.h"
#include "log.h"
#include "tap.h"

static struct ne_emu emu;
static char devpath[108], ctlpath[108];

/* Run the daemon's loop for about ms milliseconds. */
static void pump(int ms)
{
	uint64_t end = ne_now_us() + (uint64_t)ms * 1000;

	do {
		unsigned int n;
		struct pollfd *p = ne_emu_pollfds(&emu, &n);
		int t = ne_emu_timeout_ms(&emu);

		if (t < 0 || t > 5)
			t = 5;
		if (poll(p, n, t) > 0)
			ne_emu_handle(&emu, p, n);
		else
			ne_emu_handle(&emu, p, 0);
	} while (ne_now_us() < end);
}

/* Pump until cond holds, for at most 2 s. */
#define PUMP_UNTIL(cond) do {						\
	uint64_t _end = ne_now_us() + 2000000;				\
	while (!(cond) && ne_now_us() < _end)				\
		pump(2);						\
} while (0)

static int dev_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	unsigned int before = emu.dev.nr_conns;

	strcpy(sa.sun_path, devpath);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	PUMP_UNTIL(ne_devlink_find(&emu.dev, -1) || emu.dev.nr_conns > before);
	return fd;
}

static void hdr(struct ne_wire_hdr *h, uint16_t type, uint32_t id,
		uint32_t len)
{
	h->magic = htole32(NE_WIRE_MAGIC);
	h->type = htole16(type);
	h->reserved = 0;
	h->id = htole32(id);
	h->len = htole32(len);
}

static int send_hello(int fd, uint32_t version)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_hello b;
	} m = { .b.version = htole32(version) };

	hdr(&m.h, NE_WIRE_HELLO, 0, sizeof(m.b));
	return write(fd, &m, sizeof(m)) == sizeof(m) ? 0 : -1;
}

static int send_cmd(int fd, uint32_t id, uint32_t type, uint64_t a)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_cmd c;
	} m;

	memset(&m, 0, sizeof(m));
	hdr(&m.h, NE_WIRE_CMD, id, sizeof(m.c));
	m.c.cmd_type = htole32(type);
	a = htole64(a);
	memcpy(m.c.data, &a, sizeof(a));
	return write(fd, &m, sizeof(m)) == sizeof(m) ? 0 : -1;
}

/* Read exactly n bytes, pumping the loop meanwhile; -1 on timeout/EOF. */
static int read_pumped(int fd, void *p, size_t n, int wait_ms)
{
	uint64_t end = ne_now_us() + (uint64_t)wait_ms * 1000;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)p + got, n - got);

		if (k == 0)
			return got ? -1 : 0;
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		if (errno != EAGAIN || ne_now_us() > end)
			return -1;
		pump(2);
	}
	return 1;
}

/* Next message type; -1 if none within wait_ms, 0 on EOF. */
static int recv_wait(int fd, struct ne_wire_hdr *h, void *body, size_t size,
		     int wait_ms)
{
	int rc = read_pumped(fd, h, sizeof(*h), wait_ms);

	if (rc <= 0)
		return rc;
	if (le32toh(h->len) && (le32toh(h->len) > size ||
	    read_pumped(fd, body, le32toh(h->len), wait_ms) != 1))
		return -2;
	return le16toh(h->type);
}

static int recv_msg(int fd, struct ne_wire_hdr *h, void *body, size_t size)
{
	return recv_wait(fd, h, body, size, 2000);
}

static int closed_by_daemon(int fd)
{
	uint64_t end = ne_now_us() + 2000000;
	char b[64];

	while (ne_now_us() < end) {
		ssize_t n = read(fd, b, sizeof(b));

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		pump(2);
	}
	return 0;
}

/* ---- MEMMAP and enclave VMs ---------------------------------------------- */

#define PM_SIZE		(32u << 20)	/* the fake parent's RAM: a memfd */
#define PM_HIGH		(1ULL << 32)	/* its second half sits at 4 GiB */

/* Half the memfd at GPA 0, half at 4 GiB; the fd travels as SCM_RIGHTS. */
static int send_memmap(int fd, int memfd)
{
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_memmap m;
	} msg;
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	size_t len = offsetof(struct ne_wire_memmap, ent) + 2 * sizeof(msg.m.ent[0]);
	struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg.h) + len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	hdr(&msg.h, NE_WIRE_MEMMAP, 0, (uint32_t)len);
	msg.m.count = htole32(2);
	msg.m.nr_fds = htole32(1);
	msg.m.ent[0].size = htole64(PM_SIZE / 2);
	msg.m.ent[1].gpa = htole64(PM_HIGH);
	msg.m.ent[1].size = htole64(PM_SIZE / 2);
	msg.m.ent[1].offset = htole64(PM_SIZE / 2);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	return sendmsg(fd, &mh, 0) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* A request struct as the device would forward it; returns the reply. */
static int request(int fd, uint32_t type, const void *req, size_t len,
		   struct ne_cmd_reply *cr)
{
	static uint32_t id = 1000;
	struct {
		struct ne_wire_hdr h;
		struct ne_wire_cmd c;
	} m;
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	int t;

	memset(&m, 0, sizeof(m));
	hdr(&m.h, NE_WIRE_CMD, ++id, sizeof(m.c));
	m.c.cmd_type = htole32(type);
	memcpy(m.c.data, req, len);
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		return -1;
	/* Events may come first; the reply is what this test waits for. */
	while ((t = recv_msg(fd, &h, &r, sizeof(r))) == NE_WIRE_EVENT)
		;
	if (t != NE_WIRE_REPLY)
		return -1;
	memcpy(cr, r.data, sizeof(*cr));
	return (int32_t)le32toh((uint32_t)cr->rc);
}

static uint64_t slot_u64(int fd, uint32_t type, uint64_t uid)
{
	struct ne_cmd_reply cr;
	uint64_t u = htole64(uid);

	return request(fd, type, &u, sizeof(u), &cr) ? 0 : le64toh(cr.slot_uid);
}

/*
 * A slot of three regions, added high, low, high: the image at 8 MiB
 * starts 2 MiB into the second and runs on into the third.
 */
static const struct { uint64_t gpa, size; } regions[] = {
	{ PM_HIGH, 6u << 20 },
	{ 8u << 20, 4u << 20 },
	{ PM_HIGH + (8u << 20), 4u << 20 },
};

static uint64_t make_slot(int fd, uint64_t cid_wanted, int *rc)
{
	struct ne_slot_add_mem_req mem = { 0 };
	struct ne_slot_add_vcpu_req vcpu = { 0 };
	struct ne_enclave_start_req start = { 0 };
	struct ne_cmd_reply cr;
	uint8_t zero = 0;
	uint64_t uid;
	unsigned int i;

	if (request(fd, NE_CMD_SLOT_ALLOC, &zero, 1, &cr))
		return 0;
	uid = le64toh(cr.slot_uid);
	mem.slot_uid = vcpu.slot_uid = start.slot_uid = htole64(uid);
	for (i = 0; i < 3; i++) {
		mem.paddr = htole64(regions[i].gpa);
		mem.size = htole64(regions[i].size);
		if (request(fd, NE_CMD_SLOT_ADD_MEM, &mem, sizeof(mem), &cr))
			return 0;
	}
	for (i = 1; i <= 2; i++) {
		vcpu.vcpu_id = htole32(i);
		if (request(fd, NE_CMD_SLOT_ADD_VCPU, &vcpu, sizeof(vcpu), &cr))
			return 0;
	}
	start.enclave_cid = htole64(cid_wanted);
	*rc = request(fd, NE_CMD_ENCLAVE_START, &start, sizeof(start), &cr);
	return uid;
}

/* Parent address of enclave-memory offset off (regions as added). */
static uint64_t enclave_gpa(uint64_t off)
{
	unsigned int i;

	for (i = 0; off >= regions[i].size; i++)
		off -= regions[i].size;
	return regions[i].gpa + off;
}

static const char *last_boot(void)
{
	const char *b = NULL;
	size_t i;

	for (i = 0; i < emu.trace.nr; i++)
		if (emu.trace.ents[i].type == NE_CMD_ENCLAVE_START)
			b = emu.trace.ents[i].boot;
	return b ? b : "(none)";
}

static int file_equals(const char *path, const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n + 1);
	int fd = open(path, O_RDONLY), same;

	same = b && fd >= 0 && read(fd, b, n + 1) == (ssize_t)n && !memcmp(b, p, n);
	if (fd >= 0)
		close(fd);
	free(b);
	return same;
}

static int wait_event(int fd, int ms)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;

	return recv_wait(fd, &h, &r, sizeof(r), ms) == NE_WIRE_EVENT;
}

static const char fake_qemu[] =
	"#!/bin/sh\n"
	"# Plays QEMU for the emulator: records its arguments, then does\n"
	"# what $FAKE_DIR/mode says.\n"
	"while [ $# -gt 0 ]; do\n"
	"  case $1 in\n"
	"  -kernel) cp \"$2\" \"$FAKE_DIR/image.copy\" ;;\n"
	"  -smp) echo \"$2\" >\"$FAKE_DIR/smp\" ;;\n"
	"  -m) echo \"$2\" >\"$FAKE_DIR/mem\" ;;\n"
	"  -chardev) case $2 in file,*) con=${2##*path=} ;; esac ;;\n"
	"  esac\n"
	"  shift\n"
	"done\n"
	"printf 'enclave says hi\\r\\npartial' >\"$con\"\n"
	"echo $$ >\"$FAKE_DIR/pid\"\n"
	"case $(cat \"$FAKE_DIR/mode\") in\n"
	"exit0) exit 0 ;;\n"
	"fail) echo 'qemu: that is no image' >&2; exit 1 ;;\n"
	"*) exec sleep 1000 ;;\n"
	"esac\n";

static void set_mode(const char *dir, const char *mode)
{
	char path[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/mode", dir);
	f = fopen(path, "w");
	if (f) {
		fputs(mode, f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/pid", dir);
	unlink(path);
}

static pid_t fake_pid(const char *dir)
{
	char path[200];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pid", dir);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* A new parent VM: HELLO, then its memory map. */
static int new_parent(int memfd)
{
	struct ne_wire_hdr h;
	struct ne_wire_hello hello;
	int fd = dev_connect();

	send_hello(fd, NE_WIRE_VERSION);
	recv_msg(fd, &h, &hello, sizeof(hello));
	send_memmap(fd, memfd);
	PUMP_UNTIL(emu.dev.active && emu.dev.active->mem.nr);
	return fd;
}

/* When an enclave's end is reported, against replies and connections. */
static void test_end_ordering(int memfd)
{
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	uint64_t uid;
	int fd, rc = -1, t1, t2;

	/* An fd with a message that takes none is not kept for MEMMAP. */
	fd = dev_connect();
	send_hello(fd, NE_WIRE_VERSION);
	recv_msg(fd, &h, &r, sizeof(r));
	send_memmap(fd, memfd);		/* the fd rides along ... */
	PUMP_UNTIL(emu.dev.active && emu.dev.active->mem.nr);
	emu.dev.active->mem.nr = 0;	/* ... forget the map, keep nothing */
	{
		struct {
			struct ne_wire_hdr h;
			struct ne_wire_memmap m;
		} junk;
		union {
			struct cmsghdr c;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { &junk, sizeof(junk.h) + sizeof(struct ne_wire_cmd) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct ne_wire_cmd *cmd = (void *)&junk.m;

		memset(&junk, 0, sizeof(junk));
		memset(&ctl, 0, sizeof(ctl));
		hdr(&junk.h, NE_WIRE_CMD, 77, sizeof(*cmd));
		cmd->cmd_type = htole32(NE_CMD_SLOT_COUNT);
		ctl.c.cmsg_level = SOL_SOCKET;
		ctl.c.cmsg_type = SCM_RIGHTS;
		ctl.c.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&ctl.c), &memfd, sizeof(int));
		ok(sendmsg(fd, &mh, 0) > 0, "an fd along with a CMD");
		is(recv_msg(fd, &h, &r, sizeof(r)), NE_WIRE_REPLY, "CMD answered");
	}
	send_memmap(fd, memfd);
	PUMP_UNTIL(emu.dev.active && emu.dev.active->mem.nr);
	ok(emu.dev.active && emu.dev.active->mem.nr == 2 &&
	   !emu.dev.active->nr_fds, "the next MEMMAP gets its own fd only");

	/* With START's reply delayed, the end still comes after it. */
	emu.vms.cfg.min_run_ms = 1;
	emu.faults.lat_us[NE_CMD_ENCLAVE_START] = 300000;
	make_slot(fd, 6, &rc);		/* no cid-6.sock: it ends at once */
	t1 = recv_msg(fd, &h, &r, sizeof(r));
	t2 = recv_msg(fd, &h, &r, sizeof(r));
	ok(rc == 0 && t1 == NE_WIRE_EVENT && t2 < 0,
	   "reply delayed 300 ms: START answered, then one event");
	emu.faults.lat_us[NE_CMD_ENCLAVE_START] = 0;
	close(fd);

	/*
	 * An end report falls due while a command is handled, and the
	 * device has already gone: nothing touches the closed connection
	 * (valgrind watches this one).
	 */
	fd = new_parent(memfd);
	uid = make_slot(fd, 6, &rc);
	usleep(20000);
	send_cmd(fd, 78, NE_CMD_SLOT_COUNT, 0);
	close(fd);
	pump(50);
	ok(ne_engine_find(&emu.engine, uid) &&
	   ne_engine_find(&emu.engine, uid)->state == NE_SLOT_STATE_STOPPED &&
	   !emu.vms.list, "report due, device gone: slot STOPPED, no VM left");

	/* Ended by itself, not reported yet, and the parent goes. */
	emu.vms.cfg.min_run_ms = 5000;
	fd = new_parent(memfd);
	uid = make_slot(fd, 6, &rc);
	close(fd);
	PUMP_UNTIL(!emu.vms.list);
	ok(ne_engine_find(&emu.engine, uid) &&
	   ne_engine_find(&emu.engine, uid)->state == NE_SLOT_STATE_STOPPED,
	   "unreported end, parent gone: the slot still stops");
	emu.vms.cfg.min_run_ms = 200;
}

static void test_enclave_vms(const char *dir)
{
	char qemu[160], path[200], sock[200], vmdir[160];
	struct ne_wire_hdr h;
	struct ne_wire_hello hello;
	uint8_t *img, *ram;
	size_t img_len = 3u << 20, i;
	struct ne_buf out = { 0 };
	uint64_t uid, off;
	int fd, memfd, lfd, rc = -1;
	pid_t pid;
	FILE *f;

	/* The parent's RAM, with an "EIF" of 3 MiB laid out across regions. */
	memfd = memfd_create("parent-ram", MFD_CLOEXEC);
	ok(memfd >= 0 && !ftruncate(memfd, PM_SIZE), "memfd as parent RAM");
	ram = mmap(NULL, PM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	img = malloc(img_len);
	for (i = 0; i < img_len; i++)
		img[i] = (uint8_t)(i * 7 + i / 4099);
	memset(img, 0, NE_EIF_HDR_SIZE);
	memcpy(img, ".eif", 4);
	img[27] = 1;				/* one section ... */
	off = img_len - NE_EIF_HDR_SIZE - NE_EIF_SECTION_HDR;
	img[28 + 7] = (uint8_t)NE_EIF_HDR_SIZE;	/* ... at 548 (0x224) */
	img[28 + 6] = NE_EIF_HDR_SIZE >> 8;
	for (i = 0; i < 8; i++)			/* ... reaching the end */
		img[284 + i] = (uint8_t)(off >> (56 - 8 * i));
	is(ne_eif_length(img, &(const char *){ NULL }), img_len,
	   "ne_eif_length: the section's end");
	for (i = 0; i < img_len; i++) {
		uint64_t gpa = enclave_gpa(NE_IMAGE_EIF_OFFSET + i);

		ram[gpa >= PM_HIGH ? gpa - PM_HIGH + PM_SIZE / 2 : gpa] = img[i];
	}

	snprintf(vmdir, sizeof(vmdir), "%s/vm", dir);
	mkdir(vmdir, 0700);
	snprintf(qemu, sizeof(qemu), "%s/fake-qemu", dir);
	f = fopen(qemu, "w");
	ok(f && fputs(fake_qemu, f) >= 0 && !fclose(f) && !chmod(qemu, 0755),
	   "fake QEMU script");
	setenv("FAKE_DIR", dir, 1);
	emu.vms.cfg.qemu = qemu;
	emu.vms.cfg.vsock_dir = dir;
	emu.vms.cfg.dir = vmdir;
	emu.vms.cfg.min_run_ms = 200;

	fd = dev_connect();
	send_hello(fd, NE_WIRE_VERSION);
	is(recv_msg(fd, &h, &hello, sizeof(hello)), NE_WIRE_HELLO, "HELLO");
	ok(le32toh(hello.flags) & NE_WIRE_HELLO_MEMMAP, "HELLO asks for MEMMAP");
	ok(!send_memmap(fd, memfd), "MEMMAP sent with the memfd");
	PUMP_UNTIL(emu.dev.active && emu.dev.active->mem.nr);
	ok(emu.dev.active && emu.dev.active->mem.nr == 2 &&
	   emu.dev.active->mem.total == PM_SIZE, "memory map: 2 ranges, 32 MiB");

	/* No vsock socket for the CID: START succeeds, the enclave stops. */
	set_mode(dir, "sleep");
	uid = make_slot(fd, 5, &rc);
	ok(uid && rc == 0, "START without a vsock socket succeeds");
	is(strcmp(last_boot(), "no-vsock"), 0, "trace: boot=no-vsock");
	ok(!wait_event(fd, 100), "no event before min_run_ms");
	ok(wait_event(fd, 2000), "then one event");
	ok(!strcmp(ne_state_name(ne_engine_find(&emu.engine, uid)->state),
		   "STOPPED"), "and the slot is STOPPED");
	slot_u64(fd, NE_CMD_SLOT_FREE, uid);

	/* With a socket: QEMU gets the image, read as the regions were added. */
	snprintf(sock, sizeof(sock), "%s/cid-5.sock", dir);
	lfd = ne_listen_unix(sock);
	uid = make_slot(fd, 5, &rc);
	PUMP_UNTIL(fake_pid(dir));
	pid = fake_pid(dir);
	ok(rc == 0 && pid > 0 && !strcmp(last_boot(), "qemu"), "QEMU launched");
	snprintf(path, sizeof(path), "%s/image.copy", dir);
	ok(file_equals(path, img, img_len),
	   "its -kernel is the image, read across regions in added order");
	snprintf(path, sizeof(path), "%s/smp", dir);
	ok(file_equals(path, (const uint8_t *)"2\n", 2), "-smp 2: the slot's vCPUs");
	snprintf(path, sizeof(path), "%s/mem", dir);
	ok(file_equals(path, (const uint8_t *)"14M\n", 4), "-m 14M: the slot's memory");
	ok(!ne_vms_console(&emu.vms, uid, 0, &out) && out.data &&
	   strstr(out.data, "C enclave says hi\n") && !strstr(out.data, "partial") &&
	   strstr(out.data, "N 17\n"), "console: complete lines, next offset");
	ne_buf_free(&out);
	is(slot_u64(fd, NE_CMD_ENCLAVE_STOP, uid), uid, "ENCLAVE_STOP");
	ok(kill(pid, 0) && errno == ESRCH, "the VM is gone (reaped) when STOP answers");
	ok(emu.vms.list == NULL, "no VM listed");
	snprintf(path, sizeof(path), "%s/image-%llu.eif", vmdir,
		 (unsigned long long)uid);
	ok(access(path, F_OK), "its image copy removed");
	ok(!wait_event(fd, 300), "a stopped VM raises no event");
	slot_u64(fd, NE_CMD_SLOT_FREE, uid);

	/* The test hook misreads the image as a wrong chunk would. */
	emu.vms.image_fault = NE_IMAGE_FAULT_SHIFT;
	set_mode(dir, "sleep");
	snprintf(path, sizeof(path), "%s/image.copy", dir);
	unlink(path);
	uid = make_slot(fd, 5, &rc);
	PUMP_UNTIL(fake_pid(dir));
	ok(rc == 0 && !strcmp(last_boot(), "qemu") && !access(path, F_OK) &&
	   !file_equals(path, img, img_len),
	   "image-fault shift: QEMU gets an image, and a different one");
	ne_emu_reset(&emu);
	ok(emu.vms.image_fault == NE_IMAGE_FAULT_NONE && !emu.vms.list,
	   "reset clears the image fault and ends the VM");

	/* The VM ends by itself: STOPPED and one event. */
	set_mode(dir, "exit0");
	uid = make_slot(fd, 5, &rc);
	ok(wait_event(fd, 3000), "powered off: one event");
	ok(!wait_event(fd, 300), "and only one");
	ok(ne_engine_find(&emu.engine, uid)->state == NE_SLOT_STATE_STOPPED,
	   "powered off: STOPPED");
	slot_u64(fd, NE_CMD_SLOT_FREE, uid);

	/* QEMU refuses the image: the same, with QEMU's reason logged. */
	set_mode(dir, "fail");
	emu.vms.cfg.min_run_ms = 3000;	/* the ended VM stays listed meanwhile */
	uid = make_slot(fd, 5, &rc);
	PUMP_UNTIL(emu.vms.list && emu.vms.list->ended);
	ok(emu.vms.list && strstr(emu.vms.list->why,
				  "QEMU exited 1: qemu: that is no image"),
	   "why: QEMU's exit status and last line (%s)", emu.vms.list ? emu.vms.list->why : "no VM");
	ok(wait_event(fd, 5000), "refused image: one event");
	emu.vms.cfg.min_run_ms = 200;
	slot_u64(fd, NE_CMD_SLOT_FREE, uid);

	/* Not an EIF at all: not launched. */
	ram[enclave_gpa(NE_IMAGE_EIF_OFFSET)] = 'X';
	set_mode(dir, "sleep");
	uid = make_slot(fd, 5, &rc);
	ok(rc == 0 && !strcmp(last_boot(), "not-eif") && !fake_pid(dir),
	   "no EIF magic: boot=not-eif, QEMU not started");
	ok(wait_event(fd, 3000), "not an EIF: one event");
	slot_u64(fd, NE_CMD_SLOT_FREE, uid);
	ram[enclave_gpa(NE_IMAGE_EIF_OFFSET)] = '.';

	/* Slot freed by a reset, and the parent VM going away: VM ended. */
	uid = make_slot(fd, 5, &rc);
	PUMP_UNTIL(fake_pid(dir));
	pid = fake_pid(dir);
	ne_emu_reset(&emu);
	ok(pid > 0 && kill(pid, 0) && errno == ESRCH && !emu.vms.list,
	   "reset: the VM is ended and reaped");
	set_mode(dir, "sleep");
	uid = make_slot(fd, 5, &rc);
	PUMP_UNTIL(fake_pid(dir));
	pid = fake_pid(dir);
	ok(rc == 0 && pid > 0 && emu.vms.list, "another VM runs");
	close(fd);
	PUMP_UNTIL(!emu.vms.list);
	ok(pid > 0 && kill(pid, 0) && errno == ESRCH,
	   "parent VM gone: its enclave VM is ended");
	ok(ne_engine_find(&emu.engine, uid) &&
	   ne_engine_find(&emu.engine, uid)->state == NE_SLOT_STATE_STOPPED,
	   "and its slot STOPPED");

	test_end_ordering(memfd);

	close(lfd);
	unlink(sock);
	emu.vms.cfg.qemu = NULL;
	munmap(ram, PM_SIZE);
	close(memfd);
	free(img);
}

int main(void)
{
	struct ne_emu_cfg cfg = { 0 };
	struct ne_wire_hdr h;
	struct ne_wire_reply r;
	struct ne_cmd_reply cr;
	char dir[] = "/tmp/ne-devlink.XXXXXX";
	int a, b, c;

	ne_log_set(NULL);
	if (!mkdtemp(dir))
		return 2;
	snprintf(devpath, sizeof(devpath), "%s/d", dir);
	snprintf(ctlpath, sizeof(ctlpath), "%s/c", dir);
	cfg.dev_path = devpath;
	cfg.ctl_path = ctlpath;
	is(ne_emu_open(&emu, &cfg), 0, "ne_emu_open: both sockets listen");
	is(ne_emu_timeout_ms(&emu), -1, "idle: no timeout");

	a = dev_connect();
	ok(a >= 0 && emu.dev.nr_conns == 1, "device connection accepted");
	ok(emu.dev.active == NULL, "not active before HELLO");
	send_hello(a, NE_WIRE_VERSION);
	is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_HELLO, "HELLO answered");
	ok(emu.dev.active && emu.dev.active->ready, "active after HELLO");

	send_cmd(a, 7, NE_CMD_SLOT_ALLOC, 0);
	is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_REPLY, "CMD -> REPLY");
	memcpy(&cr, r.data, sizeof(cr));
	ok(le32toh(h.id) == 7 && cr.rc == 0 && cr.slot_uid,
	   "REPLY id 7, rc 0, a slot");
	send_cmd(a, 8, NE_CMD_SLOT_ALLOC, 0);
	recv_msg(a, &h, &r, sizeof(r));

	/* Half a frame now, the rest later: nothing until it is whole. */
	{
		struct {
			struct ne_wire_hdr h;
			struct ne_wire_cmd c;
		} m;

		memset(&m, 0, sizeof(m));
		hdr(&m.h, NE_WIRE_CMD, 9, sizeof(m.c));
		m.c.cmd_type = htole32(NE_CMD_SLOT_COUNT);
		ok(write(a, &m, 100) == 100, "first 100 bytes of a CMD");
		is(recv_wait(a, &h, &r, sizeof(r), 20), -1, "no reply yet");
		ok(write(a, (char *)&m + 100, sizeof(m) - 100) ==
		   (ssize_t)(sizeof(m) - 100), "the rest");
		is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_REPLY,
		   "partial frame completed -> REPLY");
		memcpy(&cr, r.data, sizeof(cr));
		is(le64toh(cr.slot_count), 2, "SLOT_COUNT 2");
	}

	/* A delayed reply is a timer in the loop. */
	emu.faults.lat_us[NE_CMD_SLOT_COUNT] = 50000;
	send_cmd(a, 10, NE_CMD_SLOT_COUNT, 0);
	PUMP_UNTIL(emu.dev.pending);
	ok(emu.dev.pending && ne_emu_timeout_ms(&emu) > 0,
	   "latency: reply pending, loop timeout set");
	is(recv_msg(a, &h, &r, sizeof(r)), NE_WIRE_REPLY,
	   "latency: REPLY once the timer fires");
	ok(!emu.dev.pending, "latency: no timer left");

	/* A bad connection next to the device does not disturb it. */
	b = dev_connect();
	ok(write(b, "garbage: not a frame at all", 27) == 27, "garbage");
	ok(closed_by_daemon(b), "garbage connection dropped");
	close(b);
	PUMP_UNTIL(emu.dev.nr_conns == 1);
	is(emu.dev.nr_conns, 1, "only the device connection left");
	is(emu.engine.nr_slots, 2, "slots untouched");

	/* Pending reply, then the device goes away. */
	send_cmd(a, 11, NE_CMD_SLOT_COUNT, 0);
	PUMP_UNTIL(emu.dev.pending);
	close(a);
	PUMP_UNTIL(!emu.dev.nr_conns);
	ok(!emu.dev.pending && !emu.dev.active && !emu.dev.nr_conns,
	   "closed with a reply pending: timer and connection gone");
	is(emu.engine.nr_slots, 2, "slots kept until a new VM says HELLO");

	/* A new VM frees the old one's slots. */
	c = dev_connect();
	send_hello(c, NE_WIRE_VERSION);
	recv_msg(c, &h, &r, sizeof(r));
	is(emu.engine.nr_slots, 0, "new VM: previous VM's slots freed");
	is(ne_devlink_events(&emu, 3), 0, "3 events queued");
	is(recv_msg(c, &h, &r, sizeof(r)), NE_WIRE_EVENT, "EVENT 1");
	is(recv_msg(c, &h, &r, sizeof(r)), NE_WIRE_EVENT, "EVENT 2");
	is(recv_msg(c, &h, &r, sizeof(r)), NE_WIRE_EVENT, "EVENT 3");
	send_hello(c, NE_WIRE_VERSION);
	ok(closed_by_daemon(c), "second HELLO on a ready link -> dropped");
	close(c);
	is(ne_devlink_events(&emu, 1), -ENOTCONN, "no device: -ENOTCONN");

	c = dev_connect();
	send_hello(c, 99);
	ok(closed_by_daemon(c), "HELLO version 99 -> dropped");
	close(c);

	test_enclave_vms(dir);

	ne_emu_close(&emu);
	ok(access(devpath, F_OK) && access(ctlpath, F_OK),
	   "ne_emu_close removes both sockets");
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ok(system(cmd) == 0, "clean up %s", dir);
	}
	return tap_done();
}
