// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of enclave-init's helpers: module list parsing and
 * loading (through a fake loader), the heartbeat and echo over socketpairs,
 * the control commands, the retry schedule; and, given the built binary as
 * argv[1], that it is static (no ELF interpreter).
 * Prints one "ok"/"not ok" line per check and "N passed, M failed" last.
 */
#define ENCLAVE_INIT_TEST
#include "../enclave-init/init.c"

#include <elf.h>

#include "check.h"

static void test_parse(void)
{
	char l1[] = "  virtio_mmio\n", l2[] = "# comment\n", l3[] = "\t \r\n";
	char l4[] = "nsm  debug=1 foo=bar  # trailing\n", l5[] = "/lib/x/vsock.ko\n";
	char *file = NULL, *params = NULL, path[64];

	CHECK(init_parse_module_line(l1, &file, &params) == 1 && !strcmp(file, "virtio_mmio") &&
	      !strcmp(params, ""), "modules: a bare name");
	CHECK(init_parse_module_line(l2, &file, &params) == 0, "modules: a comment line is skipped");
	CHECK(init_parse_module_line(l3, &file, &params) == 0, "modules: a blank line is skipped");
	CHECK(init_parse_module_line(l4, &file, &params) == 1 && !strcmp(file, "nsm") &&
	      !strcmp(params, "debug=1 foo=bar"), "modules: parameters kept, comment dropped");
	CHECK(init_parse_module_line(l5, &file, &params) == 1 && !strcmp(file, "/lib/x/vsock.ko"),
	      "modules: an absolute path");
	CHECK(!init_module_path("/lib/modules", "vsock", path, sizeof(path)) &&
	      !strcmp(path, "/lib/modules/vsock.ko"), "modules: name -> /lib/modules/NAME.ko");
	CHECK(!init_module_path("/lib/modules", "kernel/nsm.ko.xz", path, sizeof(path)) &&
	      !strcmp(path, "/lib/modules/kernel/nsm.ko.xz"), "modules: an extension is kept");
	CHECK(!init_module_path("/m", "/abs/virtio_mmio", path, sizeof(path)) &&
	      !strcmp(path, "/abs/virtio_mmio.ko"), "modules: absolute path, .ko added");
	CHECK(init_module_path("/lib/modules", "a_rather_long_module_name_that_will_not_fit",
			       path, 32) == -ENAMETOOLONG, "modules: overlong path refused");
}

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

static void test_load(void)
{
	char dir[] = "/tmp/enclave-init-XXXXXX", path[256], list[256], cmd[300];
	static const char *const mods[] = { "virtio_mmio", "vsock", "vmw_vsock_virtio_transport_common",
					    "vmw_vsock_virtio_transport", "nsm" };
	int i, rc, good;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s.ko", dir, mods[i]);
		put_file(path, i == 2 ? "exists" : mods[i]);
	}
	snprintf(path, sizeof(path), "%s/broken.ko", dir);
	put_file(path, "bad");
	snprintf(list, sizeof(list), "%s/modules", dir);
	put_file(list, "# enclave modules, in order\nvirtio_mmio\nvsock\n\n"
		 "vmw_vsock_virtio_transport_common\nvmw_vsock_virtio_transport\n"
		 "nsm debug=1\nmissing\nbroken\n");
	log_fd = open("/dev/null", O_WRONLY);
	rc = init_load_modules(list, dir, fake_loader);
	CHECK(rc == 2, "load: 2 failures (a missing file, a refused module), got %d", rc);
	good = nr_loaded == 6;
	for (i = 0; good && i < 5; i++) {
		char want[128];

		snprintf(want, sizeof(want), "%s|%s", i == 2 ? "exists" : mods[i],
			 i == 4 ? "debug=1" : "");
		good = !strcmp(loaded[i], want);
	}
	CHECK(good, "load: the five modules in list order, with their parameters");
	CHECK(nr_loaded == 6 && !strcmp(loaded[5], "bad|"), "load: loading goes on after a failure");
	snprintf(path, sizeof(path), "%s/none", dir);
	nr_loaded = 0;
	CHECK(init_load_modules(path, dir, fake_loader) == 0 && nr_loaded == 0,
	      "load: no list, nothing loaded, no failure");
	close(log_fd);
	log_fd = 2;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
}

/* The parent's side of the heartbeat: reads a byte, answers with reply. */
static void parent_side(int fd, int reply)
{
	unsigned char b;

	if (read(fd, &b, 1) == 1 && b == HEARTBEAT_BYTE && reply >= 0) {
		b = reply;
		if (write(fd, &b, 1) != 1)
			perror("write");
	}
	close(fd);
}

static void test_heartbeat(void)
{
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (!fork()) {
		close(sv[0]);
		parent_side(sv[1], HEARTBEAT_BYTE);
		_exit(0);
	}
	close(sv[1]);
	CHECK(init_heartbeat(sv[0]) == 0, "heartbeat: 0xB7 sent and echoed");
	close(sv[0]);
	wait(NULL);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (!fork()) {
		close(sv[0]);
		parent_side(sv[1], 0x42);
		_exit(0);
	}
	close(sv[1]);
	CHECK(init_heartbeat(sv[0]) == -EPROTO, "heartbeat: a wrong byte back is an error");
	close(sv[0]);
	wait(NULL);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (!fork()) {
		close(sv[0]);
		parent_side(sv[1], -1);
		_exit(0);
	}
	close(sv[1]);
	CHECK(init_heartbeat(sv[0]) == -EPROTO, "heartbeat: no answer (closed) is an error");
	close(sv[0]);
	wait(NULL);
}

static void test_echo(void)
{
	char msg[10000], back[10000];
	size_t got = 0;
	ssize_t n;
	int sv[2], status, i;

	for (i = 0; i < (int)sizeof(msg); i++)
		msg[i] = (char)(i * 7);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
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
	CHECK(got == sizeof(msg) && !memcmp(msg, back, got) && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "echo: 10000 bytes come back unchanged");
}

static enum init_cmd control_says(const char *send, char *reply, size_t len)
{
	enum init_cmd cmd;
	ssize_t n;
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (write_all(sv[0], send, strlen(send)) == 0)
		shutdown(sv[0], SHUT_WR);
	cmd = init_control(sv[1]);
	close(sv[1]);
	n = read(sv[0], reply, len - 1);
	reply[n > 0 ? n : 0] = '\0';
	close(sv[0]);
	return cmd;
}

static void test_control(void)
{
	char r[64];

	CHECK(init_parse_command("poweroff\n", 9) == CMD_POWEROFF, "control: \"poweroff\\n\"");
	CHECK(init_parse_command("poweroff\r\n", 10) == CMD_POWEROFF, "control: \"poweroff\\r\\n\"");
	CHECK(init_parse_command("poweroffx\n", 10) == CMD_UNKNOWN, "control: \"poweroffx\" is not poweroff");
	CHECK(init_parse_command("power", 5) == CMD_UNKNOWN, "control: a prefix is not poweroff");
	CHECK(init_parse_command("\n", 1) == CMD_NONE, "control: an empty line");
	CHECK(control_says("poweroff\n", r, sizeof(r)) == CMD_POWEROFF && !strcmp(r, "ok\n"),
	      "control: poweroff is answered \"ok\"");
	CHECK(control_says("ping\nextra", r, sizeof(r)) == CMD_PING && !strcmp(r, "pong\n"),
	      "control: ping answered, one line read");
	CHECK(control_says("reboot\n", r, sizeof(r)) == CMD_UNKNOWN && strstr(r, "unknown"),
	      "control: an unknown command is refused");
	memset(r, 'p', 60);
	r[60] = '\0';
	CHECK(control_says(r, r, sizeof(r)) == CMD_UNKNOWN, "control: a long line without newline");
}

static int attempts;

static int fail_then_succeed(void *arg)
{
	return ++attempts >= *(int *)arg ? 42 : -ECONNREFUSED;
}

static void test_retry(void)
{
	int after = 4, never = 1 << 30;
	long t0;
	int rc;

	attempts = 0;
	t0 = now_ms();
	rc = init_retry(fail_then_succeed, &after, 5000);
	CHECK(rc == 42 && attempts == 4 && now_ms() - t0 >= 50 + 100 + 200,
	      "retry: the 4th attempt succeeds after 50+100+200 ms of backoff");
	attempts = 0;
	t0 = now_ms();
	rc = init_retry(fail_then_succeed, &never, 700);
	CHECK(rc == -ETIMEDOUT && now_ms() - t0 >= 700 && now_ms() - t0 < 1500 && attempts >= 4,
	      "retry: gives up with ETIMEDOUT at the deadline (%d attempts)", attempts);
}

/* The built init must not need a dynamic loader: the initramfs has none. */
static void test_static(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, i, interp = 0, ok;

	fd = open(path, O_RDONLY);
	ok = fd >= 0 && pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) &&
	     !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64;
	for (i = 0; ok && i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * eh.e_phentsize) != sizeof(ph))
			ok = 0;
		else if (ph.p_type == PT_INTERP)
			interp = 1;
	}
	if (fd >= 0)
		close(fd);
	CHECK(ok && !interp, "static: %s is a 64-bit ELF without an interpreter", path);
}

int main(int argc, char **argv)
{
	test_parse();
	test_load();
	test_heartbeat();
	test_echo();
	test_control();
	test_retry();
	if (argc > 1)
		test_static(argv[1]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
