// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev fd: NE_CREATE_VM checks in spec order (§1.5), the enclave file
 * it returns, ENOTTY for foreign or unknown ioctls, and no compat path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ne_lib.h"

/* The lowest free fd number: a failed CREATE_VM must not consume one. */
static int next_fd(void)
{
	int fd = dup(0), r;

	if (fd < 0)
		return -1;
	r = fd;
	close(fd);
	return r;
}

TEST_F(dev, create, returns_cloexec_ne_vm_fd)
{
	char link[64], target[128] = "";
	uint64_t uid = 0;
	int fd = ne_create(self->dev, &uid);
	ssize_t n;

	ASSERT_OK(fd);
	EXPECT_NE(0, uid, "slot uid 0 is reserved as 'invalid'");
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd must be O_CLOEXEC");
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	ASSERT_GT(n, 0);
	target[n] = 0;
	EXPECT_EQ(0, strcmp(target, "anon_inode:ne-vm"), "fd is '%s'", target);
	close(fd);
}

TEST_F(dev, create, slot_uid_matches_device)
{
	struct emu_slots s;
	uint64_t uid = 0;
	int fd;

	NEED_EMU();
	fd = t_create(_th, self->dev, &uid);
	ASSERT_EQ(0, emu_slots(&s));
	ASSERT_EQ(1, s.nslots, "exactly one slot after one CREATE_VM");
	EXPECT_EQ(uid, s.slot[0].uid);
	EXPECT_EQ(0, strcmp(s.slot[0].state, "INIT"));
	close(fd);
	EXPECT_EQ(0, t_emu_nslots(_th), "close frees the slot");
}

TEST_F(dev, create, dev_fd_close_keeps_enclave)
{
	uint64_t off = 0;
	int fd = t_create(_th, self->dev, NULL);

	close(self->dev);
	self->dev = -1;
	EXPECT_RC(0, ne_image_info(fd, NE_EIF_IMAGE, &off),
		  "enclave fd must outlive the /dev fd (the sample closes it)");
	close(fd);
}

TEST_F(dev, create, efault_null_arg)
{
	int before = next_fd();

	EXPECT_RC(-EFAULT, ne_ioctl(self->dev, NE_CREATE_VM, NULL));
	EXPECT_EQ(before, next_fd(), "a failed CREATE_VM must not install an fd");
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th), "the slot must be freed");
}

TEST_F(dev, create, efault_readonly_arg)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	int before = next_fd();

	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_RC(-EFAULT, ne_ioctl(self->dev, NE_CREATE_VM, ro));
	EXPECT_EQ(before, next_fd(), "no stale fd on failed usercopy (5.13 fix)");
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th), "the slot must be freed");
	munmap(ro, 4096);
}

TEST_F(dev, create, emfile_before_device_command)
{
	struct rlimit rl;
	uint64_t uid;
	int lim;

	NEED_EMU();
	EMU("trace-clear");
	lim = next_fd();
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = lim;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	EXPECT_RC(-EMFILE, ne_create(self->dev, &uid));
	EXPECT_EQ(0, emu_trace_count("SLOT_ALLOC"),
		  "the fd is reserved before SLOT_ALLOC is sent");
	EXPECT_EQ(0, t_emu_nslots(_th));
}

TEST(create, no_pool_is_no_cpus_avail)
{
	uint64_t uid;
	int dev;

	pool_write("");
	dev = t_dev(_th);
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, ne_create(dev, &uid));
	close(dev);
}

TEST(create, order_no_pool_before_efault)
{
	int dev;

	pool_write("");
	dev = t_dev(_th);
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL,
		  ne_ioctl(dev, NE_CREATE_VM, NULL),
		  "the pool check (step 1) runs before the copy-out (step 7)");
	close(dev);
}

TEST_F(dev, create, pool_fully_reserved_is_no_cpus_avail)
{
	uint64_t uid;
	int a = t_create(_th, self->dev, NULL);

	t_add_vcpus(_th, a, POOL_NCPUS);
	EXPECT_RC(-NE_ERR_NO_CPUS_AVAIL_IN_POOL, ne_create(self->dev, &uid),
		  "no pool core has a free thread");
	close(a);
	a = ne_create(self->dev, &uid);
	EXPECT_OK(a, "cores return to the pool on release");
	if (a >= 0)
		close(a);
}

TEST_F(dev, create, many_enclaves_distinct_uids)
{
	uint64_t uid[8];
	int fd[8];

	for (int i = 0; i < 8; i++) {
		fd[i] = t_create(_th, self->dev, &uid[i]);
		for (int j = 0; j < i; j++)
			EXPECT_NE(uid[j], uid[i], "slot uids must be distinct");
	}
	if (emu_available())
		EXPECT_EQ(8, t_emu_nslots(_th));
	for (int i = 0; i < 8; i++)
		close(fd[i]);
	if (emu_available())
		EXPECT_EQ(0, t_emu_nslots(_th));
}

/* Enclave ioctls on the /dev fd, CREATE_VM on an enclave fd: ENOTTY. */
TEST_F(dev, enotty, enclave_ioctls_on_dev_fd)
{
	struct ne_user_memory_region r = { 0 };
	struct ne_image_load_info i = { .flags = NE_EIF_IMAGE };
	struct ne_enclave_start_info s = { 0 };
	uint32_t v = 0;

	EXPECT_RC(-ENOTTY, ne_ioctl(self->dev, NE_ADD_VCPU, &v));
	EXPECT_RC(-ENOTTY, ne_ioctl(self->dev, NE_GET_IMAGE_LOAD_INFO, &i));
	EXPECT_RC(-ENOTTY, ne_ioctl(self->dev, NE_SET_USER_MEMORY_REGION, &r));
	EXPECT_RC(-ENOTTY, ne_ioctl(self->dev, NE_START_ENCLAVE, &s));
}

TEST_F(encl, enotty, create_vm_on_enclave_fd)
{
	uint64_t uid;

	EXPECT_RC(-ENOTTY, ne_ioctl(self->fd, NE_CREATE_VM, &uid));
}

/* Unknown numbers, including the downstream-only 0x25-0x2D and 0x30. */
static const unsigned long unknown_cmds[] = {
	_IO(0xAE, 0x1f), _IOW(0xAE, 0x25, __u64), _IOWR(0xAE, 0x26, __u64),
	_IOR(0xAE, 0x29, __u64), _IOW(0xAE, 0x2d, __u32),
	_IOWR(0xAE, 0x30, __u64), _IO(0xAE, 0x01) /* KVM_CREATE_VM */,
	_IOR(0xAF, 0x20, __u64) /* right nr, wrong magic */,
	_IOWR(0xAE, 0x21, __u64) /* ADD_VCPU with the wrong size */,
	0, 0xffffffffUL,
};

TEST_F(dev, enotty, unknown_ioctls_on_dev_fd)
{
	uint64_t buf[8] = { 0 };

	for (size_t i = 0; i < sizeof(unknown_cmds) / sizeof(unknown_cmds[0]); i++)
		EXPECT_RC(-ENOTTY, ne_ioctl(self->dev, unknown_cmds[i], buf),
			  "cmd 0x%lx", unknown_cmds[i]);
}

TEST_F(encl, enotty, unknown_ioctls_on_enclave_fd)
{
	uint64_t buf[8] = { 0 };

	for (size_t i = 0; i < sizeof(unknown_cmds) / sizeof(unknown_cmds[0]); i++)
		EXPECT_RC(-ENOTTY, ne_ioctl(self->fd, unknown_cmds[i], buf),
			  "cmd 0x%lx", unknown_cmds[i]);
}

/*
 * No compat_ioctl: a 32-bit caller gets ENOTTY. Issue the ioctl through
 * the i386 entry point (int $0x80) with arguments below 4 GiB. x86 only:
 * an arm64 process cannot enter the AArch32 syscall table.
 */
#ifdef __x86_64__
static long ioctl_int80(int fd, unsigned int cmd, unsigned int arg)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(54L) /* __NR_ioctl (i386) */, "b"((long)fd),
			   "c"((long)cmd), "d"((long)arg)
			 : "memory", "r8", "r9", "r10", "r11");
	return (int)ret;
}
#else
static long ioctl_int80(int fd, unsigned int cmd, unsigned int arg)
{
	(void)fd; (void)cmd; (void)arg;
	return -ENOSYS;
}
#endif

TEST_F(dev, abi, no_compat_ioctl)
{
	void *low = mmap((void *)0x10000000UL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
	long rc;

	if (low == MAP_FAILED)
		SKIP(return, "cannot map a page below 4 GiB");
	rc = ioctl_int80(self->dev, NE_CREATE_VM, (unsigned int)(uintptr_t)low);
	if (rc == -ENOSYS)
		SKIP(return, "the kernel has no IA32 emulation (or not x86)");
	EXPECT_RC(-ENOTTY, rc, "32-bit NE_CREATE_VM must not reach the driver");
	if (rc >= 0)
		close((int)rc);
}
