// SPDX-License-Identifier: GPL-2.0
/*
 * vsock-hello: plays the enclave's init in VM tests: sends the 0xb7 heartbeat to port 9000.
 *
 * Usage: vsock-hello [CID [TIMEOUT_S]]   (default CID 1, the local loopback)
 * Retries the connection until the listener is up, checks the echo.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

int main(int argc, char **argv)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_port = 9000 };
	int timeout = argc > 2 ? atoi(argv[2]) : 60;
	unsigned char b = 0xb7, echo = 0;
	time_t end = time(NULL) + timeout;
	int fd;

	a.svm_cid = argc > 1 ? strtoul(argv[1], NULL, 0) : 1;
	for (;;) {
		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("vsock-hello: socket");
			return 1;
		}
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(fd);
		if (time(NULL) >= end) {
			fprintf(stderr, "vsock-hello: no listener on %u:9000 after %d s\n",
				a.svm_cid, timeout);
			return 1;
		}
		usleep(100 * 1000);
	}
	if (write(fd, &b, 1) != 1 || read(fd, &echo, 1) != 1 || echo != b) {
		fprintf(stderr, "vsock-hello: no echo of the heartbeat\n");
		return 1;
	}
	printf("vsock-hello: heartbeat acknowledged\n");
	close(fd);
	return 0;
}
