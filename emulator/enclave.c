// SPDX-License-Identifier: GPL-2.0
/*
 * Enclave VMs: launch, end, reap, report (see enclave.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"
#include "enclave.h"
#include "image.h"
#include "log.h"

/*
 * tsc_early_khz: a TCG enclave on a busy host otherwise often hangs
 * calibrating its LAPIC timer (microvm has no HPET). panic=-1 with
 * -no-reboot makes a panicking enclave end its QEMU, as it would end a
 * real enclave.
 */
#define DEFAULT_APPEND	"panic=-1 no_timer_check tsc=reliable " \
			"tsc_early_khz=2000000 lpj=1000000"
#define DEFAULT_MIN_RUN_MS	1000
#define TERM_GRACE_MS		3000
#define CONSOLE_CHUNK		(32u << 10)

void ne_vms_init(struct ne_vms *v, const struct ne_enclave_cfg *cfg)
{
	memset(v, 0, sizeof(*v));
	if (cfg)
		v->cfg = *cfg;
	if (!v->cfg.append)
		v->cfg.append = DEFAULT_APPEND;
	if (!v->cfg.min_run_ms)
		v->cfg.min_run_ms = DEFAULT_MIN_RUN_MS;
	if (!v->cfg.dir)
		v->cfg.dir = ".";
}

/* <dir>/<what>-<uid><suffix>: image-N.eif, console-N.log, qemu-N.log */
static void path_of(const struct ne_vms *v, char *buf, size_t size,
		    const char *what, uint64_t uid, const char *suffix)
{
	snprintf(buf, size, "%s/%s-%" PRIu64 "%s", v->cfg.dir, what, uid,
		 suffix);
}

void ne_vms_console_path(const struct ne_vms *v, uint64_t uid, char *buf,
			 size_t size)
{
	path_of(v, buf, size, "console", uid, ".log");
}

/* Why a QEMU ended: its wait status and the last line it printed. */
static void describe_exit(const struct ne_vms *v, struct ne_vm *vm, int st)
{
	char path[512], line[128] = "", buf[4096];
	ssize_t n = 0;
	int fd;

	path_of(v, path, sizeof(path), "qemu", vm->uid, ".log");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end > 0 && lseek(fd, end > (off_t)sizeof(buf) - 1 ?
				     end - (off_t)sizeof(buf) + 1 : 0,
				     SEEK_SET) >= 0)
			n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n > 0) {
		char *last, *p;

		buf[n] = 0;
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		last = strrchr(buf, '\n');
		last = last ? last + 1 : buf;
		snprintf(line, sizeof(line), ": %.120s", last);
		for (p = line; *p; p++)
			if (*p < ' ')
				*p = ' ';
	}
	/* With panic=-1 and -no-reboot a panic ends QEMU with 0 too. */
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		snprintf(vm->why, sizeof(vm->why), "QEMU exited 0: powered "
			 "off, or panicked (see its console)");
	else if (WIFEXITED(st))
		snprintf(vm->why, sizeof(vm->why), "QEMU exited %d%s",
			 WEXITSTATUS(st), line);
	else
		snprintf(vm->why, sizeof(vm->why), "QEMU killed by signal %d%s",
			 WTERMSIG(st), line);
}

static void mark_ended(struct ne_vm *vm)
{
	vm->ended = 1;
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm->pidfd = -1;
	vm->pid = 0;
}

/*
 * End the QEMUs of every VM marked `ending`: TERM to all of them, one
 * shared grace period, then KILL for the rest; always reaped. One slow
 * VM does not multiply the time the single-threaded loop is held.
 */
static void end_marked(struct ne_vms *v)
{
	uint64_t t0 = ne_now_us(), deadline = t0 + TERM_GRACE_MS * 1000ULL;
	struct ne_vm *vm;
	int left = 0, st;

	for (vm = v->list; vm; vm = vm->next) {
		if (vm->ending && vm->pid) {
			kill(vm->pid, SIGTERM);
			left++;
		}
	}
	while (left && ne_now_us() < deadline) {
		usleep(5000);
		for (vm = v->list; vm; vm = vm->next) {
			if (!vm->ending || !vm->pid || vm->reaped)
				continue;
			if (waitpid(vm->pid, &st, WNOHANG) == vm->pid) {
				vm->reaped = 1;
				left--;
			}
		}
	}
	for (vm = v->list; vm; vm = vm->next) {
		if (!vm->ending || !vm->pid)
			continue;
		if (!vm->reaped) {
			kill(vm->pid, SIGKILL);
			while (waitpid(vm->pid, &st, 0) < 0 && errno == EINTR)
				;
		}
		ne_log(0, "enclave slot=%" PRIu64 " cid=%" PRIu64 ": VM pid %d "
		       "ended (%s) in %" PRIu64 " ms%s", vm->uid, vm->cid,
		       (int)vm->pid, vm->why, (ne_now_us() - t0) / 1000,
		       vm->reaped ? "" : ", killed");
		if (vm->pidfd >= 0)
			close(vm->pidfd);
		vm->pidfd = -1;
		vm->pid = 0;
	}
}

/* The VM is gone: its copy of the image goes too (QEMU read it at start). */
static void unlink_vm(struct ne_vms *v, struct ne_vm *vm)
{
	struct ne_vm **pp;
	char path[512];

	path_of(v, path, sizeof(path), "image", vm->uid, ".eif");
	unlink(path);

	for (pp = &v->list; *pp; pp = &(*pp)->next) {
		if (*pp == vm) {
			*pp = vm->next;
			break;
		}
	}
	free(vm);
}

void ne_vms_fini(struct ne_emu *emu)
{
	struct ne_vms *v = &emu->vms;
	struct ne_vm *vm;

	for (vm = v->list; vm; vm = vm->next) {
		vm->ending = 1;
		snprintf(vm->why, sizeof(vm->why), "emulator exiting");
	}
	end_marked(v);
	while (v->list)
		unlink_vm(v, v->list);
}

/* Fork and exec QEMU; argv is built before fork (no malloc after it). */
static pid_t spawn(const char *const *argv, int logfd)
{
	pid_t parent = getpid(), pid;
	sigset_t none;
	int nul;

	pid = fork();
	if (pid)
		return pid;
	/*
	 * The daemon's handlers and mask are no business of QEMU's. Default
	 * dispositions first: a TERM already pending (STOP right after START)
	 * must end the child, not run the daemon's handler in it.
	 */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* No orphan: the VM dies with the emulator, however it dies. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(127);
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 ||
	    dup2(logfd, 2) < 0)
		_exit(127);
	/* Nothing else: a device link held open here would outlive its VM. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U)) {
		long fd, max = sysconf(_SC_OPEN_MAX);

		for (fd = 3; fd < max; fd++)
			close((int)fd);
	}
	execv(argv[0], (char *const *)argv);
	dprintf(2, "ne-emulator: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The image, through the test hook when one is set. */
static int save_image(const struct ne_vms *v, const struct ne_parentmem *pm,
		      const struct ne_slot *s, const char *path,
		      const char **code, const char **why)
{
	struct ne_slot m = *s;
	uint64_t off = NE_IMAGE_EIF_OFFSET;
	uint32_t k;
	int rc;

	if (v->image_fault == NE_IMAGE_FAULT_NONE)
		return ne_image_save_eif(pm, s, path, code, why);
	m.regions = calloc(s->nr_regions, sizeof(*m.regions));
	if (!m.regions) {
		*code = "host-error";
		*why = "out of memory";
		return -1;
	}
	memcpy(m.regions, s->regions, s->nr_regions * sizeof(*m.regions));
	/* k: the region after the one holding the EIF header (intact). */
	for (k = 0; k < m.nr_regions && off >= m.regions[k].size; k++)
		off -= m.regions[k].size;
	k++;
	if (k < m.nr_regions && v->image_fault == NE_IMAGE_FAULT_SHIFT) {
		m.regions[k].paddr += 4096;
	} else if (k + 1 < m.nr_regions &&
		   v->image_fault == NE_IMAGE_FAULT_SWAP) {
		struct ne_region t = m.regions[k];

		m.regions[k] = m.regions[k + 1];
		m.regions[k + 1] = t;
	} else {
		ne_log(0, "image fault: too few regions after the header's, "
		       "the image is read as it is");
	}
	rc = ne_image_save_eif(pm, &m, path, code, why);
	free(m.regions);
	return rc;
}

static int launch(struct ne_emu *emu, struct ne_vm *vm,
		  const struct ne_parentmem *pm, const struct ne_slot *s,
		  const char **code, const char **why)
{
	struct ne_vms *v = &emu->vms;
	char eif[512], con[512], qlog[512], sock[512];
	char mem[32], smp[32], conarg[560], sockarg[560], machine[128];
	const char *argv[40];
	unsigned int n = 0;
	struct stat st;
	int logfd;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/cid-%" PRIu64 ".sock",
		 v->cfg.vsock_dir ? v->cfg.vsock_dir : v->cfg.dir, vm->cid);
	if (stat(sock, &st) || !S_ISSOCK(st.st_mode)) {
		*code = "no-vsock";
		*why = "no vsock backend socket for this CID";
		return -1;
	}
	path_of(v, eif, sizeof(eif), "image", vm->uid, ".eif");
	if (save_image(v, pm, s, eif, code, why))
		return -1;
	path_of(v, con, sizeof(con), "console", vm->uid, ".log");
	path_of(v, qlog, sizeof(qlog), "qemu", vm->uid, ".log");
	logfd = open(qlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		*code = "host-error";
		*why = "cannot create the QEMU log";
		return -1;
	}
	snprintf(mem, sizeof(mem), "%" PRIu64 "M", s->mem_size >> 20);
	snprintf(smp, sizeof(smp), "%" PRIu64, ne_engine_vcpu_count(s));
	snprintf(conarg, sizeof(conarg), "file,id=con,path=%s", con);
	snprintf(sockarg, sizeof(sockarg), "socket,id=vsock,path=%s", sock);
	snprintf(machine, sizeof(machine), "nitro-enclave,vsock=vsock,"
		 "acpi=on,pit=on,pic=on,rtc=on");
	argv[n++] = v->cfg.qemu;
	if (v->cfg.firmware) {
		argv[n++] = "-L";
		argv[n++] = v->cfg.firmware;
	}
	argv[n++] = "-M";
	argv[n++] = machine;
	argv[n++] = "-accel";
	argv[n++] = "tcg";
	argv[n++] = "-cpu";
	argv[n++] = "max,vendor=GenuineIntel";
	argv[n++] = "-m";
	argv[n++] = mem;
	argv[n++] = "-smp";
	argv[n++] = smp;
	argv[n++] = "-kernel";
	argv[n++] = eif;
	argv[n++] = "-append";
	argv[n++] = v->cfg.append;
	argv[n++] = "-nodefaults";
	argv[n++] = "-no-user-config";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-no-reboot";
	argv[n++] = "-chardev";
	argv[n++] = conarg;
	argv[n++] = "-serial";
	argv[n++] = "chardev:con";
	argv[n++] = "-chardev";
	argv[n++] = sockarg;
	argv[n] = NULL;

	pid = spawn(argv, logfd);
	close(logfd);
	if (pid < 0) {
		*code = "host-error";
		*why = "fork failed";
		return -1;
	}
	vm->pid = pid;
	vm->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}

void ne_vms_started(struct ne_emu *emu, struct ne_devconn *c, uint64_t uid,
		    struct ne_trace_ent *ent)
{
	struct ne_vms *v = &emu->vms;
	struct ne_slot *s = ne_engine_find(&emu->engine, uid);
	const char *code = NULL, *why = NULL;
	struct ne_vm *vm;

	if (!v->cfg.qemu || !s)
		return;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		ne_log(0, "enclave slot=%" PRIu64 ": out of memory, not booted",
		       uid);
		return;
	}
	vm->uid = uid;
	vm->cid = s->cid;
	vm->conn_id = c->id;
	vm->pidfd = -1;
	vm->start_us = ne_now_us();
	vm->start_seq = emu->seq;
	/* Its end is reported after START's reply is out (ne_vms_sync). */
	vm->report_floor_us = vm->start_us +
		(uint64_t)v->cfg.min_run_ms * 1000;
	vm->next = v->list;
	v->list = vm;
	if (launch(emu, vm, &c->mem, s, &code, &why)) {
		v->refused++;
		snprintf(vm->why, sizeof(vm->why), "not booted: %s", why);
		ne_log(0, "enclave slot=%" PRIu64 " cid=%" PRIu64 ": not booted "
		       "(%s): %s; it stops", uid, vm->cid, code, why);
		mark_ended(vm);
	} else {
		v->booted++;
		code = "qemu";
		ne_log(0, "enclave slot=%" PRIu64 " cid=%" PRIu64 ": VM pid %d, "
		       "%" PRIu64 " vCPUs, %" PRIu64 " MiB in %u regions",
		       uid, vm->cid, (int)vm->pid, ne_engine_vcpu_count(s),
		       s->mem_size >> 20, s->nr_regions);
	}
	if (ent)
		ent->boot = code;
}

void ne_vms_reap(struct ne_emu *emu, struct ne_vm *vm)
{
	int st = 0;
	pid_t r;

	if (!vm->pid)
		return;
	r = waitpid(vm->pid, &st, WNOHANG);
	if (r != vm->pid)
		return;
	describe_exit(&emu->vms, vm, st);
	ne_log(0, "enclave slot=%" PRIu64 " cid=%" PRIu64 ": VM pid %d ended "
	       "by itself after %" PRIu64 " ms: %s", vm->uid, vm->cid,
	       (int)vm->pid, (ne_now_us() - vm->start_us) / 1000, vm->why);
	mark_ended(vm);
}

void ne_vms_sync(struct ne_emu *emu, int report)
{
	struct ne_vms *v = &emu->vms;
	struct ne_vm *vm, *next;
	uint64_t now = ne_now_us(), due;
	int ending = 0;

	/* First every VM whose slot stopped or whose parent went. */
	for (vm = v->list; vm; vm = vm->next) {
		struct ne_slot *s = ne_engine_find(&emu->engine, vm->uid);
		int running = s && s->state == NE_SLOT_STATE_RUNNING &&
			      s->cid == vm->cid;
		int parent = emu->dev.active &&
			     emu->dev.active->id == vm->conn_id;

		/* Without a pidfd, look for the exit on every turn. */
		if (vm->pid && vm->pidfd < 0)
			ne_vms_reap(emu, vm);
		if (running && parent)
			continue;
		/* No device to tell: the slot just stops. */
		if (running)
			ne_engine_end(&emu->engine, vm->uid);
		if (!vm->ended)
			snprintf(vm->why, sizeof(vm->why), "%s", !running ?
				 (s ? "slot stopped" : "slot freed") :
				 "parent VM gone");
		vm->ending = 1;
		ending++;
	}
	if (ending)
		end_marked(v);
	for (vm = v->list; vm; vm = next) {
		next = vm->next;
		if (vm->ending) {
			unlink_vm(v, vm);
			continue;
		}
		/*
		 * Ended by itself: STOPPED and one event, but not from inside
		 * a command (the event could close the connection whose reply
		 * is still to be queued) and not before START's reply is out.
		 */
		if (!vm->ended || !report)
			continue;
		/*
		 * START's reply, held back by latency, is queued only after
		 * the launch (which may take long): its deadline, not the
		 * start time, says when it is out.
		 */
		due = ne_devlink_due_us(&emu->dev, vm->start_seq);
		if (due > vm->report_floor_us)
			vm->report_floor_us = due;
		if (now < vm->report_floor_us)
			continue;
		if (ne_engine_end(&emu->engine, vm->uid) == 1) {
			ne_log(0, "enclave slot=%" PRIu64 " cid=%" PRIu64 ": "
			       "STOPPED (%s)", vm->uid, vm->cid, vm->why);
			ne_devlink_events(emu, 1);
		}
		unlink_vm(v, vm);
	}
}

struct ne_vm *ne_vms_find_fd(struct ne_vms *v, int fd)
{
	struct ne_vm *vm;

	for (vm = v->list; vm; vm = vm->next)
		if (vm->pidfd >= 0 && vm->pidfd == fd)
			return vm;
	return NULL;
}

int ne_vms_timeout_ms(const struct ne_vms *v, uint64_t now_us)
{
	const struct ne_vm *vm;
	int64_t best = -1;

	for (vm = v->list; vm; vm = vm->next) {
		int64_t ms;

		if (vm->pid && vm->pidfd < 0)
			ms = 200;		/* polling for the exit */
		else if (vm->ended)
			ms = vm->report_floor_us > now_us ? (int64_t)
			     ((vm->report_floor_us - now_us + 999) / 1000) : 0;
		else
			continue;
		if (best < 0 || ms < best)
			best = ms;
	}
	return (int)best;
}

void ne_vms_list(const struct ne_vms *v, struct ne_buf *out)
{
	const struct ne_vm *vm;
	uint64_t now = ne_now_us();

	for (vm = v->list; vm; vm = vm->next)
		ne_buf_printf(out, "V slot=%" PRIu64 " cid=%" PRIu64 " pid=%d "
			      "state=%s up_ms=%" PRIu64 "%s%s\n", vm->uid,
			      vm->cid, (int)vm->pid,
			      vm->ended ? "ended" : "running",
			      (now - vm->start_us) / 1000,
			      vm->ended ? " why=" : "",
			      vm->ended ? vm->why : "");
	ne_buf_printf(out, "V booted=%" PRIu64 " refused=%" PRIu64 "\n",
		      v->booted, v->refused);
}

/*
 * Complete console lines from @offset, as "C <line>", then "N <offset>"
 * to continue from. Control characters become '?'. -ENOENT: no console.
 */
int ne_vms_console(const struct ne_vms *v, uint64_t uid, uint64_t offset,
		   struct ne_buf *out)
{
	char path[512], *buf, *p, *end;
	ssize_t n;
	int fd;

	if (offset > INT64_MAX)
		return -EINVAL;
	path_of(v, path, sizeof(path), "console", uid, ".log");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	buf = malloc(CONSOLE_CHUNK + 1);
	n = buf ? pread(fd, buf, CONSOLE_CHUNK, (off_t)offset) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		return -EIO;
	}
	end = buf + n;
	for (p = buf; p < end; ) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *q;

		/* A line longer than a chunk goes out in pieces. */
		if (!nl && (p > buf || n < CONSOLE_CHUNK))
			break;
		if (!nl)
			nl = end;
		for (q = p; q < nl; q++)
			if ((unsigned char)*q < ' ' && *q != '\t' &&
			    !(*q == '\r' && q + 1 == nl))
				*q = '?';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = 0;
		*nl = 0;
		ne_buf_printf(out, "C %s\n", p);
		p = nl + (nl < end);
	}
	ne_buf_printf(out, "N %" PRIu64 "\n", offset + (uint64_t)(p - buf));
	free(buf);
	return 0;
}
