// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of enclave-init's helpers: module list parsing and
 * loading (through a fake loader), the heartbeat and echo over socketpairs,
 * the control commands, the retry schedule; and, given the built binary as
 * the first argument, that it is static (no ELF interpreter).
 * On the project's test harness (tests/lib/harness).
 * Usage: test_init [ENCLAVE-INIT] [harness options]
 */
#define ENCLAVE_INIT_TEST
#include "../enclave-init/init.c"

#include <elf.h>

#include "harness.h"

/* ---- the module list ---- */

/* One line of the list: 1 and the file and parameters, or 0 (nothing to load). */
FIXTURE(line) {
	char buf[256];
};

FIXTURE_VARIANT(line) {
	const char *text;
	int rc;
	const char *file;	/* NULL: not checked */
	const char *params;	/* NULL: not checked */
};

FIXTURE_VARIANT_ADD(line, bare_name) {
	.text = "  virtio_mmio\n", .rc = 1, .file = "virtio_mmio", .params = "",
};
FIXTURE_VARIANT_ADD(line, comment_skipped) {
	.text = "# comment\n", .rc = 0,
};
FIXTURE_VARIANT_ADD(line, blank_skipped) {
	.text = "\t \r\n", .rc = 0,
};
FIXTURE_VARIANT_ADD(line, parameters_kept_comment_dropped) {
	.text = "nsm  debug=1 foo=bar  # trailing\n", .rc = 1, .file = "nsm",
	.params = "debug=1 foo=bar",
};
FIXTURE_VARIANT_ADD(line, absolute_path) {
	.text = "/lib/x/vsock.ko\n", .rc = 1, .file = "/lib/x/vsock.ko",
};

FIXTURE_SETUP(line)
{
	snprintf(self->buf, sizeof(self->buf), "%s", variant->text);
}

FIXTURE_TEARDOWN(line)
{
}

FIXTURE_REGISTER(line);

TEST_F(line, modules, parsed)
{
	char *file = NULL, *params = NULL;

	ASSERT_EQ(variant->rc, init_parse_module_line(self->buf, &file, &params));
	if (variant->file)
		EXPECT_STREQ(variant->file, file);
	if (variant->params)
		EXPECT_STREQ(variant->params, params);
}

/* The path loaded for a file named in the list. */
FIXTURE(path) {
	char out[64];
};

FIXTURE_VARIANT(path) {
	const char *dir;
	const char *file;
	const char *want;
};

FIXTURE_VARIANT_ADD(path, name_in_dir_with_dot_ko) {
	.dir = "/lib/modules", .file = "vsock", .want = "/lib/modules/vsock.ko",
};
FIXTURE_VARIANT_ADD(path, extension_kept) {
	.dir = "/lib/modules", .file = "kernel/nsm.ko.xz", .want = "/lib/modules/kernel/nsm.ko.xz",
};
FIXTURE_VARIANT_ADD(path, absolute_path_gets_dot_ko) {
	.dir = "/m", .file = "/abs/virtio_mmio", .want = "/abs/virtio_mmio.ko",
};

FIXTURE_SETUP(path)
{
}

FIXTURE_TEARDOWN(path)
{
}

FIXTURE_REGISTER(path);

TEST_F(path, modules, path)
{
	ASSERT_EQ(0, init_module_path(variant->dir, variant->file, self->out, sizeof(self->out)));
	EXPECT_STREQ(variant->want, self->out);
}

TEST(modules, overlong_path_refused)
{
	char path[32];

	EXPECT_RC(-ENAMETOOLONG, init_module_path("/lib/modules",
		  "a_rather_long_module_name_that_will_not_fit", path, sizeof(path)));
}

/* ---- loading the list, through a fake loader ---- */

static char loaded[8][128];
static int nr_loaded;

static int fake_loader(int fd, const char *params)
{
	char buf[64] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n > 0)
		buf[n] = '\0';
	if (nr_loaded < 8)
		snprintf(loaded[nr_loaded++], sizeof(loaded[0]), "%s|%s", buf, params);
	return strstr(buf, "exists") ? -EEXIST : strstr(buf, "bad") ? -ENOEXEC : 0;
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static const char *const mods[] = { "virtio_mmio", "vsock", "vmw_vsock_virtio_transport_common",
				    "vmw_vsock_virtio_transport", "nsm" };

/*
 * A directory with five modules (the third answers EEXIST), a broken one
 * (ENOEXEC) and the list, which also names one that is missing.
 */
FIXTURE(moddir) {
	char dir[32];
	char list[256];
};

FIXTURE_SETUP(moddir)
{
	char path[256];

	snprintf(self->dir, sizeof(self->dir), "/tmp/enclave-init-XXXXXX");
	ASSERT_TRUE(mkdtemp(self->dir));
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s.ko", self->dir, mods[i]);
		put_file(path, i == 2 ? "exists" : mods[i]);
	}
	snprintf(path, sizeof(path), "%s/broken.ko", self->dir);
	put_file(path, "bad");
	snprintf(self->list, sizeof(self->list), "%s/modules", self->dir);
	put_file(self->list, "# enclave modules, in order\nvirtio_mmio\nvsock\n\n"
		 "vmw_vsock_virtio_transport_common\nvmw_vsock_virtio_transport\n"
		 "nsm debug=1\nmissing\nbroken\n");
	log_fd = open("/dev/null", O_WRONLY);
}

FIXTURE_TEARDOWN(moddir)
{
	char cmd[300];

	close(log_fd);
	log_fd = 2;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

FIXTURE_REGISTER(moddir);

TEST_F(moddir, load, failures_counted)
{
	EXPECT_EQ(2, init_load_modules(self->list, self->dir, fake_loader),
		  "a missing file and a refused module");
}

TEST_F(moddir, load, modules_in_list_order_with_parameters)
{
	char want[128];

	init_load_modules(self->list, self->dir, fake_loader);
	ASSERT_GE(nr_loaded, 5);
	for (int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "%s|%s", i == 2 ? "exists" : mods[i],
			 i == 4 ? "debug=1" : "");
		EXPECT_STREQ(want, loaded[i]);
	}
}

TEST_F(moddir, load, goes_on_after_a_failure)
{
	init_load_modules(self->list, self->dir, fake_loader);
	ASSERT_EQ(6, nr_loaded);
	EXPECT_STREQ("bad|", loaded[5]);
}

TEST_F(moddir, load, no_list_nothing_loaded_no_failure)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/none", self->dir);
	EXPECT_EQ(0, init_load_modules(path, self->dir, fake_loader));
	EXPECT_EQ(0, nr_loaded);
}

/* ---- heartbeat and echo, over socketpairs ---- */

/* init_heartbeat() against a parent that reads a byte and answers reply (-1: closes). */
static int heartbeat_answered(int reply)
{
	unsigned char b;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	if (!fork()) {
		close(sv[0]);
		if (read(sv[1], &b, 1) == 1 && b == HEARTBEAT_BYTE && reply >= 0) {
			b = reply;
			if (write(sv[1], &b, 1) != 1)
				perror("write");
		}
		_exit(0);
	}
	close(sv[1]);
	rc = init_heartbeat(sv[0]);
	close(sv[0]);
	wait(NULL);
	return rc;
}

TEST(heartbeat, byte_sent_and_echoed)
{
	EXPECT_EQ(0, heartbeat_answered(HEARTBEAT_BYTE), "0xB7 back");
}

TEST(heartbeat, wrong_byte_back_is_an_error)
{
	EXPECT_RC(-EPROTO, heartbeat_answered(0x42));
}

TEST(heartbeat, no_answer_is_an_error)
{
	EXPECT_RC(-EPROTO, heartbeat_answered(-1), "the parent closed");
}

TEST(echo, bytes_come_back_unchanged)
{
	char msg[10000], back[10000];
	size_t got = 0;
	ssize_t n;
	int sv[2], status, i;

	for (i = 0; i < (int)sizeof(msg); i++)
		msg[i] = (char)(i * 7);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	if (!fork()) {
		close(sv[0]);
		_exit(init_echo(sv[1]) == (long)sizeof(msg) ? 0 : 1);
	}
	close(sv[1]);
	if (write_all(sv[0], msg, sizeof(msg)) == 0)
		shutdown(sv[0], SHUT_WR);
	while (got < sizeof(back) && (n = read(sv[0], back + got, sizeof(back) - got)) > 0)
		got += n;
	close(sv[0]);
	wait(&status);
	EXPECT_EQ(sizeof(msg), got);
	EXPECT_EQ(0, memcmp(msg, back, got));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "init_echo's count");
}

/* ---- control commands ---- */

TEST(control, poweroff_newline)
{
	EXPECT_EQ(CMD_POWEROFF, init_parse_command("poweroff\n", 9));
}

TEST(control, poweroff_crlf)
{
	EXPECT_EQ(CMD_POWEROFF, init_parse_command("poweroff\r\n", 10));
}

TEST(control, longer_word_is_not_poweroff)
{
	EXPECT_EQ(CMD_UNKNOWN, init_parse_command("poweroffx\n", 10));
}

TEST(control, prefix_is_not_poweroff)
{
	EXPECT_EQ(CMD_UNKNOWN, init_parse_command("power", 5));
}

TEST(control, empty_line)
{
	EXPECT_EQ(CMD_NONE, init_parse_command("\n", 1));
}

/* init_control() reading send; its answer in reply. */
static enum init_cmd control_says(const char *send, char *reply, size_t len)
{
	enum init_cmd cmd;
	ssize_t n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return CMD_NONE;
	if (write_all(sv[0], send, strlen(send)) == 0)
		shutdown(sv[0], SHUT_WR);
	cmd = init_control(sv[1]);
	close(sv[1]);
	n = read(sv[0], reply, len - 1);
	reply[n > 0 ? n : 0] = '\0';
	close(sv[0]);
	return cmd;
}

TEST(control, poweroff_answered_ok)
{
	char r[64];

	EXPECT_EQ(CMD_POWEROFF, control_says("poweroff\n", r, sizeof(r)));
	EXPECT_STREQ("ok\n", r);
}

TEST(control, ping_answered_one_line_read)
{
	char r[64];

	EXPECT_EQ(CMD_PING, control_says("ping\nextra", r, sizeof(r)));
	EXPECT_STREQ("pong\n", r);
}

TEST(control, unknown_command_refused)
{
	char r[64];

	EXPECT_EQ(CMD_UNKNOWN, control_says("reboot\n", r, sizeof(r)));
	EXPECT_SUBSTR(r, "unknown");
}

TEST(control, long_line_without_newline)
{
	char r[64];

	memset(r, 'p', 60);
	r[60] = '\0';
	EXPECT_EQ(CMD_UNKNOWN, control_says(r, r, sizeof(r)));
}

TEST(control, pcr0_without_nsm_device_is_an_error)
{
	char r[160];

	EXPECT_EQ(CMD_PCR0, control_says("pcr0\n", r, sizeof(r)));
	if (access(INIT_NSM_DEV, F_OK) == 0)
		SKIP(return, "this host has " INIT_NSM_DEV);
	EXPECT_EQ(0, strncmp(r, "error /dev/nsm: ", 16), "answer '%s'", r);
}

/* ---- NSM: DescribePCR in CBOR ---- */

TEST(nsm, describe_pcr_request_bytes)
{
	static const unsigned char want[] = {
		0xa1, 0x6b, 'D', 'e', 's', 'c', 'r', 'i', 'b', 'e', 'P', 'C',
		'R', 0xa1, 0x65, 'i', 'n', 'd', 'e', 'x', 0x00,
	};
	unsigned char buf[32];

	ASSERT_EQ(sizeof(want), init_nsm_pcr_request(buf, 0));
	EXPECT_EQ(0, memcmp(buf, want, sizeof(want)));
	init_nsm_pcr_request(buf, 8);
	EXPECT_EQ(8, buf[20], "index 8 is the immediate 0x08");
}

/* {"DescribePCR": {"data": h'00 01 .. 2f', "lock": false}} */
static size_t pcr_response(unsigned char *b)
{
	size_t n = 0;
	int i;

	b[n++] = 0xa1;
	b[n++] = 0x6b;
	memcpy(b + n, "DescribePCR", 11);
	n += 11;
	b[n++] = 0xa2;
	b[n++] = 0x64;
	memcpy(b + n, "data", 4);
	n += 4;
	b[n++] = 0x58;
	b[n++] = 48;
	for (i = 0; i < 48; i++)
		b[n++] = (unsigned char)i;
	b[n++] = 0x64;
	memcpy(b + n, "lock", 4);
	n += 4;
	b[n++] = 0xf4;
	return n;
}

TEST(nsm, pcr_parsed_from_response)
{
	unsigned char resp[128], pcr[INIT_PCR_LEN];
	size_t n = pcr_response(resp);

	ASSERT_EQ(0, init_nsm_pcr_parse(resp, n, pcr));
	EXPECT_EQ(0, pcr[0]);
	EXPECT_EQ(47, pcr[47]);
}

TEST(nsm, truncated_response_refused)
{
	unsigned char resp[128], pcr[INIT_PCR_LEN];
	size_t n = pcr_response(resp);

	EXPECT_EQ(-EBADMSG, init_nsm_pcr_parse(resp, n - 6 - 10, pcr),
		  "the 48 bytes are cut short");
	resp[18] = 'x';		/* "data" -> "dxta" */
	EXPECT_EQ(-EBADMSG, init_nsm_pcr_parse(resp, n, pcr));
}

/* ---- the retry schedule ---- */

static int attempts;

static int fail_then_succeed(void *arg)
{
	return ++attempts >= *(int *)arg ? 42 : -ECONNREFUSED;
}

TEST(retry, fourth_attempt_succeeds_after_backoff)
{
	int after = 4;
	long t0 = now_ms();

	EXPECT_EQ(42, init_retry(fail_then_succeed, &after, 5000));
	EXPECT_EQ(4, attempts);
	EXPECT_GE(now_ms() - t0, 50 + 100 + 200, "ms of backoff");
}

TEST(retry, gives_up_with_etimedout_at_the_deadline)
{
	int never = 1 << 30;
	long t0 = now_ms(), took;

	EXPECT_RC(-ETIMEDOUT, init_retry(fail_then_succeed, &never, 700));
	took = now_ms() - t0;
	EXPECT_GE(took, 700);
	EXPECT_LT(took, 1500);
	EXPECT_GE(attempts, 4);
}

/* ---- the built binary ---- */

static const char *init_binary;

/* The built init must not need a dynamic loader: the initramfs has none. */
TEST(static, built_init_has_no_interpreter)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd;

	if (!init_binary)
		SKIP(return, "no enclave-init binary given");
	fd = open(init_binary, O_RDONLY);
	ASSERT_GE(fd, 0, "open %s", init_binary);
	ASSERT_EQ(sizeof(eh), pread(fd, &eh, sizeof(eh), 0));
	EXPECT_EQ(0, memcmp(eh.e_ident, ELFMAG, SELFMAG), "an ELF file");
	EXPECT_EQ(ELFCLASS64, eh.e_ident[EI_CLASS], "64-bit");
	for (int i = 0; i < eh.e_phnum; i++) {
		ASSERT_EQ(sizeof(ph), pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * eh.e_phentsize));
		EXPECT_NE(PT_INTERP, ph.p_type, "program header %d", i);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		init_binary = argv[1];
		argv[1] = argv[0];
		return th_main(argc - 1, argv + 1);
	}
	return th_main(argc, argv);
}
