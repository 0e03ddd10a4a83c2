// SPDX-License-Identifier: GPL-2.0
/*
 * ne-vsock: one request line to an enclave's vsock service, its answer line
 * on stdout. For the demo: `ne-vsock CID 5001 ping` asks enclave-init's
 * control port, which answers "pong" (or "ok" to "poweroff").
 *
 * Usage: ne-vsock CID PORT LINE
 * Retries the connection for 30 s (the service may still be starting).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
	struct timeval tv = { 10, 0 };
	time_t end = time(NULL) + 30;
	char buf[256];
	size_t len = 0;
	ssize_t n;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: ne-vsock CID PORT LINE\n");
		return 2;
	}
	sa.svm_cid = (unsigned int)strtoul(argv[1], NULL, 0);
	sa.svm_port = (unsigned int)strtoul(argv[2], NULL, 0);
	for (;;) {
		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("ne-vsock: socket");
			return 1;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
			   sizeof(tv));
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(fd);
		if (time(NULL) >= end) {
			perror("ne-vsock: connect");
			return 1;
		}
		usleep(200000);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (dprintf(fd, "%s\n", argv[3]) < 0) {
		perror("ne-vsock: write");
		return 1;
	}
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!len) {
		fprintf(stderr, "ne-vsock: no answer\n");
		return 1;
	}
	printf("%s\n", buf);
	return 0;
}
