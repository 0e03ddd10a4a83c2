// SPDX-License-Identifier: GPL-2.0
/*
 * ne_ioctl_sample: the raw Nitro Enclaves ioctl flow, for programs that vendor the uapi header.
 *
 * Build:  cc -Wall -o ne_ioctl_sample ne_ioctl_sample.c
 *         (add -I<dir> if your copy of linux/nitro_enclaves.h is not in /usr/include)
 * Run:    ne_ioctl_sample IMAGE.eif [MEMORY_MIB [VCPUS]]      (defaults: 512 MiB, 2 vCPUs)
 *
 * Before running: a CPU pool of full cores (ne_cpus module parameter) and
 * enough free 2 MiB hugepages on the pool's NUMA node (nr_hugepages).
 * Error handling is kept minimal: this shows the order of calls, nothing more.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>		/* must come first: the uapi header uses _IOR/_IOW */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nitro_enclaves.h>
#include <linux/vm_sockets.h>

#define REGION_SIZE	(2UL << 20)	/* one 2 MiB hugepage per region */
#define READY_PORT	9000		/* the enclave's init says hello here */
#define READY_CID	3		/* ... on the parent VM's CID */
#define READY_VALUE	0xb7

static void die(const char *what)
{
	int e = errno;

	/* NE_ERR_* values (256-275) have no strerror text: print the number. */
	if (e >= NE_ERR_VCPU_ALREADY_USED && e <= NE_ERR_INVALID_ENCLAVE_CID)
		fprintf(stderr, "%s: Nitro Enclaves error %d (see NE_ERR_* in the header)\n",
			what, e);
	else
		fprintf(stderr, "%s: %s\n", what, strerror(e));
	exit(1);	/* exiting closes the enclave fd, which tears the enclave down */
}

int main(int argc, char **argv)
{
	unsigned long mem_mib = argc > 2 ? strtoul(argv[2], NULL, 0) : 512;
	unsigned int nr_vcpus = argc > 3 ? strtoul(argv[3], NULL, 0) : 2;
	struct ne_image_load_info load_info = { .flags = NE_EIF_IMAGE };
	struct ne_enclave_start_info start = { .flags = NE_ENCLAVE_PRODUCTION_MODE };
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = READY_CID,
				    .svm_port = READY_PORT };
	unsigned long nr_regions, i, copied = 0, pos = 0;
	struct pollfd pfd;
	unsigned char ready;
	__u64 slot_uid = 0;
	struct stat st;
	int dev_fd, enclave_fd, img_fd, lfd, cfd;
	char **region;

	if (argc < 2) {
		fprintf(stderr, "usage: %s IMAGE.eif [MEMORY_MIB [VCPUS]]\n", argv[0]);
		return 2;
	}
	nr_regions = mem_mib * (1UL << 20) / REGION_SIZE;
	region = calloc(nr_regions, sizeof(*region));
	img_fd = open(argv[1], O_RDONLY);
	if (!region || img_fd < 0 || fstat(img_fd, &st))
		die("image");

	/* 1. A slot: the return value is the enclave fd; the /dev fd can go. */
	dev_fd = open("/dev/nitro_enclaves", O_RDWR | O_CLOEXEC);
	if (dev_fd < 0)
		die("open /dev/nitro_enclaves");
	enclave_fd = ioctl(dev_fd, NE_CREATE_VM, &slot_uid);
	if (enclave_fd < 0)
		die("NE_CREATE_VM");
	close(dev_fd);
	printf("enclave slot %llu\n", (unsigned long long)slot_uid);

	/* 2. Where the image goes in enclave memory (8 MiB for EIF). */
	if (ioctl(enclave_fd, NE_GET_IMAGE_LOAD_INFO, &load_info))
		die("NE_GET_IMAGE_LOAD_INFO");
	if (load_info.memory_offset + st.st_size > mem_mib << 20) {
		errno = ENOMEM;
		die("image does not fit");
	}

	/*
	 * 3. Hugepage memory. The regions form one space in the order they
	 * are added; the image is copied into it at memory_offset.
	 */
	for (i = 0; i < nr_regions; i++) {
		unsigned long off, n;

		region[i] = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (region[i] == MAP_FAILED)
			die("mmap of a 2 MiB hugepage (reserve more hugepages)");
		if (pos + REGION_SIZE > load_info.memory_offset && copied < (unsigned long)st.st_size) {
			off = pos < load_info.memory_offset ? load_info.memory_offset - pos : 0;
			n = REGION_SIZE - off;
			if (n > st.st_size - copied)
				n = st.st_size - copied;
			if (pread(img_fd, region[i] + off, n, copied) != (ssize_t)n)
				die("read image");
			copied += n;
		}
		pos += REGION_SIZE;
	}

	/* 4. Hand each region to the enclave (the driver pins the pages). */
	for (i = 0; i < nr_regions; i++) {
		struct ne_user_memory_region mr = {
			.flags = NE_DEFAULT_MEMORY_REGION,
			.memory_size = REGION_SIZE,
			.userspace_addr = (__u64)(unsigned long)region[i],
		};

		if (ioctl(enclave_fd, NE_SET_USER_MEMORY_REGION, &mr))
			die("NE_SET_USER_MEMORY_REGION");
	}

	/* 5. vCPUs: 0 lets the driver pick; with SMT add whole cores (pairs). */
	for (i = 0; i < nr_vcpus; i++) {
		__u32 vcpu = 0;

		if (ioctl(enclave_fd, NE_ADD_VCPU, &vcpu))
			die("NE_ADD_VCPU");
		printf("vCPU %u\n", vcpu);
	}

	/* 6. Listen for the ready signal BEFORE starting, or it can be missed. */
	lfd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1))
		die("vsock listen on 3:9000");

	/* 7. Start. CID 0 lets the device choose; the real CID comes back. */
	if (ioctl(enclave_fd, NE_START_ENCLAVE, &start))
		die("NE_START_ENCLAVE");
	printf("started, CID %llu\n", (unsigned long long)start.enclave_cid);

	/* 8. The enclave's init connects and sends 0xb7; echo it back. */
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&pfd, 1, 60 * 1000) != 1) {
		errno = ETIMEDOUT;
		die("waiting for the heartbeat");
	}
	cfd = accept(lfd, NULL, NULL);
	if (cfd < 0 || read(cfd, &ready, 1) != 1 || ready != READY_VALUE ||
	    write(cfd, &ready, 1) != 1)
		die("heartbeat");
	close(lfd);
	printf("enclave ready\n");

	/* 9. POLLHUP on the enclave fd means the enclave has exited. */
	pfd = (struct pollfd){ .fd = enclave_fd, .events = POLLIN | POLLHUP };
	while (poll(&pfd, 1, -1) >= 0 && !(pfd.revents & POLLHUP))
		;

	/* 10. Closing the enclave fd stops the enclave and frees its resources. */
	close(enclave_fd);
	for (i = 0; i < nr_regions; i++)
		munmap(region[i], REGION_SIZE);
	return 0;
}
