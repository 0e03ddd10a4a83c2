// SPDX-License-Identifier: GPL-2.0
/*
 * enclave-init: a minimal PID 1 for an enclave image's initramfs.
 *
 *  1. mounts /proc, /sys and /dev (devtmpfs) and logs to /dev/console;
 *  2. loads the modules listed in /etc/enclave-init/modules with
 *     finit_module(2): one "FILE [PARAMETERS]" a line, '#' starts a
 *     comment, FILE is relative to /lib/modules unless absolute and gets
 *     ".ko" when it has no extension (order matters: virtio_mmio, vsock,
 *     vmw_vsock_virtio_transport_common, vmw_vsock_virtio_transport, nsm);
 *  3. tells the parent it booted, as the Nitro Enclaves heartbeat wants:
 *     connects AF_VSOCK to CID 3 port 9000 (each try waiting 10 s for the
 *     answer, retrying for up to 180 s: a parent under TCG on a busy host
 *     can take longer than vsock's default 2 s to accept),
 *     sends 0xB7 and checks that the same byte comes back;
 *  4. serves vsock port 5000, which echoes what it receives (a child per
 *     connection), and port 5001, which takes one command a line:
 *     "poweroff" (answers "ok", waits up to 5 s for the parent to close,
 *     syncs and powers off), "ping" ("pong") or
 *     "pcr0" ("pcr0 <hex>": PCR0 as the NSM device reports it, so a test
 *     can compare it with the measurement of the image it built).
 *
 * Build it static (make -C tools enclave-init): the initramfs holds no libc.
 * Compiled with ENCLAVE_INIT_TEST, main() is left out and the helpers are
 * unit-tested on the host (tests/test_init.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "fdio.h"

#define INIT_MODULES_LIST	"/etc/enclave-init/modules"
#define INIT_MODULES_DIR	"/lib/modules"
#define PARENT_CID		3
#define HEARTBEAT_PORT		9000
#define HEARTBEAT_BYTE		0xb7
#define HEARTBEAT_TIMEOUT_MS	180000
#define CONNECT_TIMEOUT_S	10
#define ECHO_PORT		5000
#define CONTROL_PORT		5001
#define CONTROL_TIMEOUT_S	5

enum init_cmd { CMD_NONE, CMD_POWEROFF, CMD_PING, CMD_PCR0, CMD_UNKNOWN };

/* The NSM device's raw interface (uapi linux/nsm.h, Linux 6.8+). */
struct init_nsm_iovec {
	unsigned long long addr;
	unsigned long long len;
};

struct init_nsm_raw {
	struct init_nsm_iovec request;
	struct init_nsm_iovec response;
};

#define INIT_NSM_IOCTL_RAW	_IOWR(0x0A, 0x0, struct init_nsm_raw)
#define INIT_NSM_DEV		"/dev/nsm"
#define INIT_NSM_RESPONSE_MAX	0x3000
#define INIT_PCR_LEN		48	/* SHA-384 */

static int log_fd = 2;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "enclave-init: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	if (write(log_fd, buf, strlen(buf)) < 0)
		return;		/* nowhere else to say it */
}

/* ---- modules ---- */

/*
 * One line of the module list, split in place. Returns 1 for a module
 * (*file, *params set; params may be ""), 0 for a blank or comment line.
 */
static int init_parse_module_line(char *line, char **file, char **params)
{
	char *p, *end;

	p = strchr(line, '#');
	if (p)
		*p = '\0';
	end = line + strlen(line);
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
			      end[-1] == '\r'))
		*--end = '\0';
	p = line + strspn(line, " \t");
	if (!*p)
		return 0;
	*file = p;
	p += strcspn(p, " \t");
	if (*p) {
		*p++ = '\0';
		p += strspn(p, " \t");
	}
	*params = p;
	return 1;
}

/* The file a list entry names: DIR/FILE unless absolute, ".ko" added. */
static int init_module_path(const char *dir, const char *file, char *out, size_t len)
{
	const char *base = strrchr(file, '/');
	bool ext = strchr(base ? base : file, '.') != NULL;
	int n;

	if (file[0] == '/')
		n = snprintf(out, len, "%s%s", file, ext ? "" : ".ko");
	else
		n = snprintf(out, len, "%s/%s%s", dir, file, ext ? "" : ".ko");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

typedef int (*init_loader_fn)(int fd, const char *params);

/* Loads every module of the list in order; returns how many failed. */
static int init_load_modules(const char *list, const char *dir, init_loader_fn load)
{
	char line[1024], path[4096], *file, *params;
	int failed = 0, fd, rc;
	FILE *f;

	f = fopen(list, "re");
	if (!f) {
		logmsg("no module list %s (%s); loading none", list, strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!init_parse_module_line(line, &file, &params))
			continue;
		if (init_module_path(dir, file, path, sizeof(path))) {
			logmsg("module %s: name too long", file);
			failed++;
			continue;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			logmsg("module %s: %s", path, strerror(errno));
			failed++;
			continue;
		}
		rc = load(fd, params);
		close(fd);
		if (rc && rc != -EEXIST) {
			logmsg("module %s: %s", path, strerror(-rc));
			failed++;
		} else {
			logmsg("loaded %s%s%s", path, *params ? " " : "", params);
		}
	}
	fclose(f);
	return failed;
}

/* ---- heartbeat ---- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Calls try() until it returns a descriptor (>= 0) or timeout_ms pass,
 * sleeping 50 ms, 100 ms, ... up to 1 s between attempts.
 */
static int init_retry(int (*try)(void *arg), void *arg, long timeout_ms)
{
	long deadline = now_ms() + timeout_ms, delay = 50, left;
	int fd;

	for (;;) {
		fd = try(arg);
		if (fd >= 0)
			return fd;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		sleep_ms(delay < left ? delay : left);
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
}

struct vsock_target {
	unsigned int cid, port;
};

/* Sends the heartbeat byte and checks the echo: 0, -EPROTO or -errno. */
static int init_heartbeat(int fd)
{
	unsigned char b = HEARTBEAT_BYTE;
	ssize_t n;
	int rc;

	rc = write_all(fd, &b, 1);
	if (rc)
		return rc;
	do
		n = read(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 && b == HEARTBEAT_BYTE ? 0 : -EPROTO;
}

/* ---- services ---- */

/* Echoes until end of file; returns the bytes echoed or -errno. */
static long init_echo(int fd)
{
	char buf[4096];
	long total = 0;
	ssize_t n;
	int rc;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return total;
		rc = write_all(fd, buf, n);
		if (rc)
			return rc;
		total += n;
	}
}

static enum init_cmd init_parse_command(const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 8 && !memcmp(line, "poweroff", 8))
		return CMD_POWEROFF;
	if (len == 4 && !memcmp(line, "ping", 4))
		return CMD_PING;
	if (len == 4 && !memcmp(line, "pcr0", 4))
		return CMD_PCR0;
	return len ? CMD_UNKNOWN : CMD_NONE;
}

/*
 * The CBOR request {"DescribePCR": {"index": index}} for index < 24 (one
 * byte, CBOR's immediate unsigned integer). Returns its length.
 */
static size_t init_nsm_pcr_request(unsigned char *buf, unsigned int index)
{
	size_t n = 0;

	buf[n++] = 0xa1;			/* map, 1 pair */
	buf[n++] = 0x60 | 11;			/* text, 11 bytes */
	memcpy(buf + n, "DescribePCR", 11);
	n += 11;
	buf[n++] = 0xa1;			/* map, 1 pair */
	buf[n++] = 0x60 | 5;			/* text, 5 bytes */
	memcpy(buf + n, "index", 5);
	n += 5;
	buf[n++] = (unsigned char)(index < 24 ? index : 0);	/* uint, immediate */
	return n;
}

/*
 * The PCR from a DescribePCR response: the byte string (48 bytes, length
 * in one byte: 0x58 0x30) after the text key "data". 0, or -EBADMSG.
 */
static int init_nsm_pcr_parse(const unsigned char *r, size_t len,
			      unsigned char pcr[INIT_PCR_LEN])
{
	static const unsigned char key[] = { 0x64, 'd', 'a', 't', 'a', 0x58,
					     INIT_PCR_LEN };
	size_t i;

	for (i = 0; i + sizeof(key) + INIT_PCR_LEN <= len; i++) {
		if (!memcmp(r + i, key, sizeof(key))) {
			memcpy(pcr, r + i + sizeof(key), INIT_PCR_LEN);
			return 0;
		}
	}
	return -EBADMSG;
}

/* "pcr0 <hex>\n" from the NSM device, or "error <why>\n". */
static void init_pcr0_answer(char *out, size_t size)
{
	unsigned char req[32], pcr[INIT_PCR_LEN], *resp;
	struct init_nsm_raw raw;
	int fd, i, n;

	resp = malloc(INIT_NSM_RESPONSE_MAX);
	fd = open(INIT_NSM_DEV, O_RDWR | O_CLOEXEC);
	if (!resp || fd < 0) {
		snprintf(out, size, "error %s: %s\n", INIT_NSM_DEV,
			 strerror(errno));
		goto out;
	}
	raw.request.addr = (unsigned long long)(uintptr_t)req;
	raw.request.len = init_nsm_pcr_request(req, 0);
	raw.response.addr = (unsigned long long)(uintptr_t)resp;
	raw.response.len = INIT_NSM_RESPONSE_MAX;
	if (ioctl(fd, INIT_NSM_IOCTL_RAW, &raw)) {
		snprintf(out, size, "error NSM request: %s\n", strerror(errno));
		goto out;
	}
	if (init_nsm_pcr_parse(resp, raw.response.len, pcr)) {
		snprintf(out, size, "error NSM answer without PCR data\n");
		goto out;
	}
	n = snprintf(out, size, "pcr0 ");
	for (i = 0; i < INIT_PCR_LEN && n + 3 < (int)size; i++)
		n += snprintf(out + n, size - n, "%02x", pcr[i]);
	snprintf(out + n, size - n, "\n");
out:
	if (fd >= 0)
		close(fd);
	free(resp);
}

/* Reads one command line (at most 127 bytes) and answers it. */
static enum init_cmd init_control(int fd)
{
	char line[128];
	size_t len = 0;
	enum init_cmd cmd;
	ssize_t n;

	while (len < sizeof(line) - 1) {
		n = read(fd, line + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (line[len++] == '\n')
			break;
	}
	cmd = init_parse_command(line, len);
	if (cmd == CMD_POWEROFF)
		write_all(fd, "ok\n", 3);
	else if (cmd == CMD_PING)
		write_all(fd, "pong\n", 5);
	else if (cmd == CMD_PCR0) {
		char ans[160];

		init_pcr0_answer(ans, sizeof(ans));
		write_all(fd, ans, strlen(ans));
	}
	else if (cmd == CMD_UNKNOWN)
		write_all(fd, "unknown command\n", 16);
	return cmd;
}

#ifndef ENCLAVE_INIT_TEST

static int finit_loader(int fd, const char *params)
{
	return syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
}

static int vsock_try_connect(void *arg)
{
	const struct vsock_target *t = arg;
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = t->cid,
		.svm_port = t->port,
	};
	struct timeval tv = { CONNECT_TIMEOUT_S, 0 };
	int fd;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Best effort: without it the kernel's 2 s default applies. */
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int vsock_listen(unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int fd;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void mount_one(const char *src, const char *dir, const char *type,
		      unsigned long flags, const char *opts)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, flags, opts) && errno != EBUSY)
		logmsg("mount %s on %s: %s", type, dir, strerror(errno));
}

static void setup_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	log_fd = 2;
}

static void power_off(void)
{
	logmsg("powering off");
	sync();
	reboot(RB_POWER_OFF);
	logmsg("power off failed: %s", strerror(errno));
}

/*
 * A connection the parent still holds when the enclave vanishes makes the
 * parent's kernel send a reset 8 s later (its vsock close timeout), to
 * whichever enclave has our CID by then; under vhost-device-vsock 0.3.0 a
 * packet for a CID whose VM has not set up its rings yet stops that CID's
 * worker for good (emulator/README.md). So before powering off, end the
 * connection both ways while both ends still run: say we are done, then
 * wait (bounded by the socket's receive timeout) for the parent's close.
 */
static void close_when_parent_does(int fd)
{
	char buf[64];

	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static void serve(int echo_fd, int ctl_fd)
{
	struct pollfd pfd[2] = { { echo_fd, POLLIN, 0 }, { ctl_fd, POLLIN, 0 } };
	struct timeval tv = { CONTROL_TIMEOUT_S, 0 };
	int fd;

	for (;;) {
		/* PID 1 reaps every orphan as well as its own children. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (poll(pfd, 2, 1000) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			fd = accept4(echo_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0 && fork() == 0) {
				close(echo_fd);
				close(ctl_fd);
				_exit(init_echo(fd) < 0);
			}
			if (fd >= 0)
				close(fd);
		}
		if (pfd[1].revents & POLLIN) {
			fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			/* A silent client cannot hold PID 1 for long. */
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (init_control(fd) == CMD_POWEROFF) {
				close_when_parent_does(fd);
				power_off();
				continue;
			}
			close(fd);
		}
	}
}

int main(void)
{
	struct vsock_target parent = { PARENT_CID, HEARTBEAT_PORT };
	int fd, rc, echo_fd, ctl_fd;

	mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	setup_console();
	logmsg("started");
	signal(SIGPIPE, SIG_IGN);

	rc = init_load_modules(INIT_MODULES_LIST, INIT_MODULES_DIR, finit_loader);
	if (rc)
		logmsg("%d module(s) failed to load", rc);

	fd = init_retry(vsock_try_connect, &parent, HEARTBEAT_TIMEOUT_MS);
	if (fd < 0) {
		logmsg("cannot reach the parent (CID %d port %d): %s", PARENT_CID,
		       HEARTBEAT_PORT, strerror(-fd));
	} else {
		rc = init_heartbeat(fd);
		close(fd);
		if (rc)
			logmsg("heartbeat failed: %s", strerror(-rc));
		else
			logmsg("heartbeat acknowledged by the parent");
	}

	echo_fd = vsock_listen(ECHO_PORT);
	ctl_fd = vsock_listen(CONTROL_PORT);
	if (echo_fd < 0 || ctl_fd < 0) {
		logmsg("cannot listen on vsock ports %d/%d: %s", ECHO_PORT, CONTROL_PORT,
		       strerror(-(echo_fd < 0 ? echo_fd : ctl_fd)));
		power_off();
		for (;;)
			pause();	/* PID 1 must not exit */
	}
	logmsg("echo on vsock port %d, commands on port %d", ECHO_PORT, CONTROL_PORT);
	serve(echo_fd, ctl_fd);
	return 0;
}

#endif /* ENCLAVE_INIT_TEST */
