// SPDX-License-Identifier: GPL-2.0
/* Guest-side client of the emulator control protocol (serial port). */

#include "emuctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int emuctl_open(const char *path)
{
	struct termios t;
	struct stat st;
	int fd;

	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* Lets the program run on the host against the daemon too. */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(path) >= sizeof(sa.sun_path))
			return -1;
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* A serial line cooks bytes unless told not to (echo, CR/LF maps). */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(fd, TCSANOW, &t);
		tcflush(fd, TCIOFLUSH);
	}
	return fd;
}

void emuctl_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int add_line(struct emuctl_resp *r, const char *s)
{
	char **n = realloc(r->lines, (r->n + 1) * sizeof(*n));

	if (!n)
		return -1;
	r->lines = n;
	r->lines[r->n] = strdup(s);
	if (!r->lines[r->n])
		return -1;
	r->n++;
	return 0;
}

int emuctl_cmd(int fd, const char *cmd, struct emuctl_resp *r, int timeout_ms)
{
	char line[4096];
	size_t len = 0, cl = strlen(cmd);
	long deadline = now_ms() + timeout_ms;

	memset(r, 0, sizeof(*r));
	if (write(fd, cmd, cl) != (ssize_t)cl || write(fd, "\n", 1) != 1)
		return -1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		char c;
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, &c, 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (!strcmp(line, "ok")) {
			r->ok = 1;
			return 0;
		}
		if (!strncmp(line, "error", 5)) {
			strncpy(r->err, line, sizeof(r->err) - 1);
			r->err[sizeof(r->err) - 1] = '\0';
			return 0;
		}
		if (line[0] && add_line(r, line))
			return -1;
	}
}

void emuctl_resp_free(struct emuctl_resp *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->lines[i]);
	free(r->lines);
	memset(r, 0, sizeof(*r));
}
