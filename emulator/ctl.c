// SPDX-License-Identifier: GPL-2.0
/*
 * ne-emu-ctl: send one control request to ne-emulator and print the answer.
 *
 * PATH is the control socket, or, inside a guest, the serial port QEMU
 * wires to it (/dev/ttyS1): a character device is put in raw mode and
 * stale input is discarded before the request is written.
 * Exit status: 0 on `ok`, 1 on `error ...`, 2 on usage or connection
 * problems (no answer within the timeout included).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define STALE_QUIET_MS	50	/* tty: input this quiet means drained */

static void usage(FILE *f)
{
	fprintf(f, "usage: ne-emu-ctl [--socket PATH] [--timeout SEC] "
		"COMMAND [ARGS...]\n"
		"PATH: the control socket, or a serial port wired to it;\n"
		"default $NE_EMU_SOCKET, then $NE_EMU_CTL\n");
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Raw mode and no stale bytes: earlier answers must not be taken as ours. */
static int open_tty(const char *path)
{
	struct termios t;
	char junk[256];
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &t)) {
		close(fd);
		return -1;
	}
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &t)) {
		close(fd);
		return -1;
	}
	tcflush(fd, TCIOFLUSH);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, STALE_QUIET_MS) <= 0 ||
		    read(fd, junk, sizeof(junk)) <= 0)
			break;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Handle one complete response line; 1 when it was the final one. */
static int line_done(const char *line, int *status)
{
	if (!strcmp(line, "ok")) {
		*status = 0;
		return 1;
	}
	if (!strncmp(line, "error", 5) && (!line[5] || line[5] == ' ')) {
		fprintf(stderr, "ne-emu-ctl: %s\n", line);
		*status = 1;
		return 1;
	}
	puts(line);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = getenv("NE_EMU_SOCKET");
	struct stat st;
	size_t reqlen = 0, len = 0, cap = 65536;
	int timeout_ms = 30000, status = 2, fd, opt, i;
	char *req, *line;

	while ((opt = getopt_long(argc, argv, "+s:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 't':
			timeout_ms = atoi(optarg) * 1000;
			if (timeout_ms <= 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path)
		path = getenv("NE_EMU_CTL");
	/* A daemon gone mid-request is reported, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (!path || optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = optind; i < argc; i++)
		reqlen += strlen(argv[i]) + 1;
	req = malloc(reqlen + 1);
	line = malloc(cap);
	if (!req || !line)
		return 2;
	req[0] = '\0';
	for (i = optind; i < argc; i++) {
		strcat(req, argv[i]);
		strcat(req, i + 1 < argc ? " " : "\n");
	}

	if (!stat(path, &st) && S_ISCHR(st.st_mode))
		fd = open_tty(path);
	else
		fd = connect_unix(path);
	if (fd < 0) {
		fprintf(stderr, "ne-emu-ctl: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (write_all(fd, req, strlen(req))) {
		fprintf(stderr, "ne-emu-ctl: write: %s\n", strerror(errno));
		return 2;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n, k;

		if (poll(&p, 1, timeout_ms) <= 0) {
			fprintf(stderr, "ne-emu-ctl: no answer\n");
			break;
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			fprintf(stderr, "ne-emu-ctl: connection closed\n");
			break;
		}
		for (k = 0; k < n; k++) {
			if (buf[k] != '\n') {
				if (len + 1 < cap)
					line[len++] = buf[k];
				continue;
			}
			/* A serial line may add \r. */
			if (len && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			len = 0;
			if (line_done(line, &status))
				goto out;
		}
	}
out:
	close(fd);
	free(req);
	free(line);
	return status;
}
