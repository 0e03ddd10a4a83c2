// SPDX-License-Identifier: GPL-2.0
/*
 * ne-emu-ctl: send one control request to ne-emulator and print the answer.
 *
 * PATH is the control socket, or, inside a guest, the serial port QEMU
 * wires to it (/dev/ttyS1); ctlclient.c does the talking.
 * Exit status: 0 on `ok`, 1 on `error ...`, 2 on usage or connection
 * problems (no answer within the timeout included).
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlclient.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ne-emu-ctl [--socket PATH] [--timeout SEC] "
		"COMMAND [ARGS...]\n"
		"PATH: the control socket, or a serial port wired to it;\n"
		"default $NE_EMU_SOCKET, then $NE_EMU_CTL\n");
}

static int print_line(void *arg, const char *line)
{
	(void)arg;
	return puts(line) < 0 ? -EIO : 0;
}

/* The arguments joined by single spaces, as one request line. */
static char *join(int argc, char **argv)
{
	size_t len = 1;
	char *req;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	req = malloc(len);
	if (!req)
		return NULL;
	req[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(req, " ");
		strcat(req, argv[i]);
	}
	return req;
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
	int timeout_ms = 30000, rc, opt;
	struct emuctl c;
	char *req;

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
	if (!path || optind >= argc) {
		usage(stderr);
		return 2;
	}
	req = join(argc - optind, argv + optind);
	if (!req)
		return 2;
	rc = emuctl_open(&c, path);
	if (rc) {
		fprintf(stderr, "ne-emu-ctl: %s: %s\n", path, strerror(-rc));
		free(req);
		return 2;
	}
	rc = emuctl_request(&c, req, timeout_ms, print_line, NULL);
	if (rc == 1)
		fprintf(stderr, "ne-emu-ctl: %s\n", c.err);
	else if (rc == -ETIMEDOUT)
		fprintf(stderr, "ne-emu-ctl: no answer\n");
	else if (rc == -EPIPE)
		fprintf(stderr, "ne-emu-ctl: connection closed\n");
	else if (rc < 0)
		fprintf(stderr, "ne-emu-ctl: %s\n", strerror(-rc));
	emuctl_close(&c);
	free(req);
	return rc < 0 ? 2 : rc;
}
