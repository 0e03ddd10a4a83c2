// SPDX-License-Identifier: GPL-2.0
/*
 * Control socket: client connections, line splitting and the commands.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"

#define MAX_ARGS	8
#define MAX_LATENCY_US	(3600ULL * 1000000ULL)

void ne_control_init(struct ne_control *c)
{
	memset(c, 0, sizeof(*c));
	c->lfd = -1;
}

static void client_close(struct ne_control *c, struct ne_ctlclient *cl)
{
	struct ne_ctlclient **pp;

	for (pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	c->nr_clients--;
	close(cl->fd);
	ne_buf_free(&cl->out);
	free(cl);
}

void ne_control_fini(struct ne_control *c)
{
	while (c->clients)
		client_close(c, c->clients);
	if (c->lfd >= 0)
		close(c->lfd);
	c->lfd = -1;
}

struct ne_ctlclient *ne_control_find(struct ne_control *c, int fd)
{
	struct ne_ctlclient *cl;

	for (cl = c->clients; cl; cl = cl->next)
		if (cl->fd == fd)
			return cl;
	return NULL;
}

void ne_control_accept(struct ne_emu *emu)
{
	struct ne_control *c = &emu->ctl;
	static const char busy[] = "error too many control clients\n";
	struct ne_ctlclient *cl;
	int fd;

	fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	cl = c->nr_clients < NE_CTL_MAX_CLIENTS ? calloc(1, sizeof(*cl)) : NULL;
	if (!cl) {
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
			ne_log(0, "control client refused");
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->id = ++c->next_id;
	cl->next = c->clients;
	c->clients = cl;
	c->nr_clients++;
}

/* ---- argument parsing ---- */

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static const struct { const char *name; int err; } errnames[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO },
	{ "E2BIG", E2BIG }, { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM },
	{ "EFAULT", EFAULT }, { "EBUSY", EBUSY }, { "EEXIST", EEXIST },
	{ "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
	{ "ERANGE", ERANGE }, { "EOPNOTSUPP", EOPNOTSUPP },
	{ "EADDRINUSE", EADDRINUSE }, { "ETIMEDOUT", ETIMEDOUT },
};

/* A negative errno: "-12", "-ENOMEM" or "ENOMEM". */
static int parse_rc(const char *s, int32_t *rc)
{
	const char *name = s && *s == '-' ? s + 1 : s;
	unsigned int i;
	char *end;
	long v;

	if (!s)
		return -1;
	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (!strcmp(name, errnames[i].name)) {
			*rc = -errnames[i].err;
			return 0;
		}
	}
	if (*s != '-' || !isdigit((unsigned char)s[1]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || v >= 0 || v < INT32_MIN)
		return -1;
	*rc = (int32_t)v;
	return 0;
}

static int parse_cmd(const char *s)
{
	return s ? ne_cmd_from_name(s) : -1;
}

/* ---- commands ---- */

/* Answer `error ...` and leave the (void) command handler. */
#define ERR(...) do {							\
	ne_buf_printf(out, "error " __VA_ARGS__);			\
	ne_buf_add(out, "\n", 1);					\
	return;								\
} while (0)

static void do_trace(struct ne_emu *emu, struct ne_buf *out)
{
	char line[512];
	size_t i;

	for (i = 0; i < emu->trace.nr; i++) {
		int n = ne_trace_format(&emu->trace.ents[i], line, sizeof(line));

		if (n >= (int)sizeof(line))
			n = sizeof(line) - 1;
		ne_buf_add(out, line, (size_t)n);
		ne_buf_add(out, "\n", 1);
	}
}

static void do_stats(struct ne_emu *emu, struct ne_buf *out)
{
	unsigned int t;

	for (t = 1; t < NE_CMD_MAX; t++)
		if (emu->trace.count[t])
			ne_buf_printf(out, "S cmd=%s count=%" PRIu64 "\n",
				      ne_cmd_name(t), emu->trace.count[t]);
	if (emu->trace.count[0])
		ne_buf_printf(out, "S cmd=UNKNOWN count=%" PRIu64 "\n",
			      emu->trace.count[0]);
	ne_buf_printf(out, "S total=%" PRIu64 "\n", emu->trace.total);
}

static void do_slots(struct ne_emu *emu, struct ne_buf *out)
{
	unsigned int i, j;

	for (i = 0; i < emu->engine.nr_slots; i++) {
		const struct ne_slot *s = emu->engine.slots[i];

		ne_buf_printf(out, "SLOT uid=%" PRIu64 " state=%s cid=%" PRIu64
			      " flags=%" PRIu64 " mem_size=0x%" PRIx64
			      " regions=%u vcpus=", s->uid,
			      ne_state_name(s->state), s->cid, s->flags,
			      s->mem_size, s->nr_regions);
		for (j = 0; j < s->nr_vcpus; j++)
			ne_buf_printf(out, "%s%u", j ? "," : "", s->vcpus[j]);
		if (s->bulk_vcpus)
			ne_buf_printf(out, " bulk_vcpus=%" PRIu64,
				      s->bulk_vcpus);
		ne_buf_add(out, "\n", 1);
		for (j = 0; j < s->nr_regions; j++)
			ne_buf_printf(out, "R uid=%" PRIu64 " paddr=0x%" PRIx64
				      " size=0x%" PRIx64 "\n", s->uid,
				      s->regions[j].paddr, s->regions[j].size);
	}
}

static void do_faults_list(struct ne_emu *emu, struct ne_buf *out)
{
	static const char *const kinds[] = {
		[NE_FAULT_RC] = "rc", [NE_FAULT_DROP] = "drop",
		[NE_FAULT_MALFORMED] = "malformed", [NE_FAULT_LOST] = "lost",
	};
	const struct ne_fault *f;
	unsigned int t;

	for (t = 1; t < NE_CMD_MAX; t++)
		for (f = emu->faults.head[t]; f; f = f->next)
			ne_buf_printf(out, "F cmd=%s kind=%s rc=%d count=%u\n",
				      ne_cmd_name(t), kinds[f->kind], f->rc,
				      f->count);
}

static void do_fault(struct ne_emu *emu, char **av, int ac,
		     struct ne_buf *out)
{
	enum ne_fault_kind kind = NE_FAULT_NONE;
	uint32_t count = 1;
	int32_t rc = 0;
	int type, cnt_arg = 0, err;

	if (ac == 2 && !strcmp(av[1], "clear")) {
		ne_faults_clear(&emu->faults);
		goto ok;
	}
	if (ac == 2 && !strcmp(av[1], "list")) {
		do_faults_list(emu, out);
		goto ok;
	}
	if (ac < 3)
		ERR("usage: fault rc|drop|lost|malformed CMD ... | fault clear");
	type = parse_cmd(av[2]);
	if (type < 0)
		ERR("unknown command type '%.64s'", av[2]);
	if (!strcmp(av[1], "rc")) {
		kind = NE_FAULT_RC;
		if (ac < 4 || parse_rc(av[3], &rc))
			ERR("fault rc needs a negative errno, e.g. -12 or ENOMEM");
		cnt_arg = 4;
	} else if (!strcmp(av[1], "drop")) {
		kind = NE_FAULT_DROP;
		cnt_arg = 3;
	} else if (!strcmp(av[1], "lost")) {
		kind = NE_FAULT_LOST;
		cnt_arg = 3;
	} else if (!strcmp(av[1], "malformed")) {
		kind = NE_FAULT_MALFORMED;
		cnt_arg = 3;
	} else {
		ERR("unknown fault kind '%.64s'", av[1]);
	}
	if (ac > cnt_arg + 1)
		ERR("too many arguments");
	if (ac == cnt_arg + 1 && (parse_u32(av[cnt_arg], &count) || !count))
		ERR("bad count '%.64s'", av[cnt_arg]);
	err = ne_faults_arm(&emu->faults, (uint32_t)type, kind, rc, count);
	if (err)
		ERR("cannot arm fault: %s", strerror(-err));
	ne_log(0, "fault armed: %s %s rc=%d count=%u", av[1], av[2], rc, count);
ok:
	ne_buf_printf(out, "ok\n");
}

static void do_latency(struct ne_emu *emu, char **av, int ac,
		       struct ne_buf *out)
{
	uint64_t us;
	int type, t;

	if (ac != 3)
		ERR("usage: latency CMD|all USEC");
	if (parse_u64(av[2], &us) || us > MAX_LATENCY_US)
		ERR("bad latency '%.64s' (0..%llu us)", av[2],
		    (unsigned long long)MAX_LATENCY_US);
	if (!strcmp(av[1], "all")) {
		for (t = 0; t < NE_CMD_MAX; t++)
			emu->faults.lat_us[t] = us;
	} else {
		type = parse_cmd(av[1]);
		if (type < 0)
			ERR("unknown command type '%.64s'", av[1]);
		emu->faults.lat_us[type] = us;
	}
	ne_buf_printf(out, "ok\n");
}

static void do_end(struct ne_emu *emu, char **av, int ac, struct ne_buf *out)
{
	uint64_t uid = 0;
	int n;

	if (ac != 2 || (strcmp(av[1], "all") &&
			(parse_u64(av[1], &uid) || !uid)))
		ERR("usage: end SLOT_UID|all");
	n = ne_engine_end(&emu->engine, uid);
	if (n == -ENOENT)
		ERR("no slot %" PRIu64, uid);
	if (n < 0)
		ERR("slot %" PRIu64 " is not running", uid);
	ne_log(0, "end %s: %d enclave(s) stopped", av[1], n);
	ne_vms_sync(emu, 0);	/* their VMs end before the answer */
	if (n > 0 && ne_devlink_events(emu, 1))
		ne_buf_printf(out, "W no device connected: event not sent\n");
	ne_buf_printf(out, "ok\n");
}

static void do_console(struct ne_emu *emu, char **av, int ac,
		       struct ne_buf *out)
{
	uint64_t uid, off = 0;

	if (ac < 2 || ac > 3 || parse_u64(av[1], &uid) || !uid ||
	    (ac == 3 && parse_u64(av[2], &off)))
		ERR("usage: console SLOT_UID [OFFSET]");
	if (ne_vms_console(&emu->vms, uid, off, out))
		ERR("no console for slot %" PRIu64, uid);
	ne_buf_printf(out, "ok\n");
}

static void do_event(struct ne_emu *emu, char **av, int ac, struct ne_buf *out)
{
	uint32_t n = 1;
	int err;

	if (ac > 2 || (ac == 2 && (parse_u32(av[1], &n) || !n ||
				   n > NE_DEV_MAX_EVENTS)))
		ERR("usage: event [N], 1 <= N <= %u", NE_DEV_MAX_EVENTS);
	err = ne_devlink_events(emu, n);
	if (err == -ENOTCONN)
		ERR("no device connected");
	if (err)
		ERR("device connection lost");
	ne_buf_printf(out, "ok\n");
}

static void do_set(struct ne_emu *emu, char **av, int ac, struct ne_buf *out)
{
	static const char *const faults[] = {
		[NE_IMAGE_FAULT_NONE] = "none",
		[NE_IMAGE_FAULT_SWAP] = "swap",
		[NE_IMAGE_FAULT_SHIFT] = "shift",
	};
	uint32_t n;

	if (ac == 3 && !strcmp(av[1], "image-fault")) {
		for (n = 0; n < sizeof(faults) / sizeof(faults[0]); n++) {
			if (!strcmp(av[2], faults[n])) {
				emu->vms.image_fault = (enum ne_image_fault)n;
				ne_log(0, "image fault: %s", faults[n]);
				ne_buf_printf(out, "ok\n");
				return;
			}
		}
		ERR("usage: set image-fault none|swap|shift");
	}
	if (ac != 3 || strcmp(av[1], "mem-regions"))
		ERR("usage: set mem-regions N | set image-fault none|swap|shift");
	if (parse_u32(av[2], &n) || !n || n > (1u << 20))
		ERR("bad region count '%.64s'", av[2]);
	ne_engine_set_mem_regions(&emu->engine, n);
	ne_buf_printf(out, "ok\n");
}

static int split(char *line, char **av)
{
	int ac = 0;
	char *p = line;

	while (*p) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		if (ac == MAX_ARGS)
			return -1;
		av[ac++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return ac;
}

void ne_control_exec(struct ne_emu *emu, char *line, struct ne_buf *out)
{
	char *av[MAX_ARGS];
	const char *p;
	int ac;

	for (p = line; *p; p++)
		if (!isprint((unsigned char)*p) && *p != '\t')
			ERR("garbage in request");
	ac = split(line, av);
	if (ac < 0)
		ERR("too many arguments");
	if (ac == 0)
		ERR("empty request");

	if (!strcmp(av[0], "ping") && ac == 1) {
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "reset") && ac == 1) {
		ne_emu_reset(emu);
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "trace") && ac == 1) {
		do_trace(emu, out);
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "trace-clear") && ac == 1) {
		ne_trace_clear(&emu->trace);
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "stats") && ac == 1) {
		do_stats(emu, out);
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "slots") && ac == 1) {
		do_slots(emu, out);
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "latency")) {
		do_latency(emu, av, ac, out);
	} else if (!strcmp(av[0], "fault")) {
		do_fault(emu, av, ac, out);
	} else if (!strcmp(av[0], "end")) {
		do_end(emu, av, ac, out);
	} else if (!strcmp(av[0], "event")) {
		do_event(emu, av, ac, out);
	} else if (!strcmp(av[0], "vms") && ac == 1) {
		ne_vms_list(&emu->vms, out);
		ne_dbgcon_list(&emu->dbgcon, out);
		ne_buf_printf(out, "ok\n");
	} else if (!strcmp(av[0], "console")) {
		do_console(emu, av, ac, out);
	} else if (!strcmp(av[0], "set")) {
		do_set(emu, av, ac, out);
	} else {
		ERR("unknown request '%.64s' (or wrong arguments)", av[0]);
	}
}

/* ---- socket side ---- */

static int looks_like_response(const char *line)
{
	static const char *const first[] = {
		"ok", "error", "T", "S", "SLOT", "R", "F", "W", "V", "C", "N",
	};
	size_t len = strcspn(line, " \t");
	unsigned int i;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++)
		if (strlen(first[i]) == len && !strncmp(line, first[i], len))
			return 1;
	return 0;
}

static void client_line(struct ne_emu *emu, struct ne_ctlclient *cl)
{
	char *p = cl->line;
	size_t n = cl->len;

	cl->len = 0;
	if (n && p[n - 1] == '\r')
		n--;
	p[n] = '\0';
	/* Blank lines (a terminal's stray Enter) need no answer. */
	if (strspn(p, " \t") == n)
		return;
	/*
	 * A guest serial port left in cooked mode echoes our answers back;
	 * answering those would loop forever. No request looks like one.
	 */
	if (looks_like_response(p)) {
		if (!cl->warned_echo)
			ne_log(0, "control client #%u: ignoring an echoed "
			       "response line (guest tty not in raw mode?)",
			       cl->id);
		cl->warned_echo = 1;
		return;
	}
	ne_control_exec(emu, p, &cl->out);
}

void ne_control_io(struct ne_emu *emu, struct ne_ctlclient *cl, short revents)
{
	struct ne_control *c = &emu->ctl;
	char buf[4096];
	ssize_t n, i;

	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !cl->eof) {
		n = read(cl->fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(c, cl);
			return;
		}
		if (n == 0)
			cl->eof = 1;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (!cl->discarding)
					client_line(emu, cl);
				cl->discarding = 0;
				cl->len = 0;
			} else if (cl->discarding) {
				continue;
			} else if (cl->len == NE_CTL_MAX_LINE) {
				ne_buf_printf(&cl->out, "error line too long "
					      "(max %d bytes)\n",
					      NE_CTL_MAX_LINE);
				cl->discarding = 1;
				cl->len = 0;
			} else {
				cl->line[cl->len++] = buf[i];
			}
		}
	}
	if (ne_buf_pending(&cl->out) > NE_CTL_MAX_OUT) {
		ne_log(0, "control client #%u does not read: dropped", cl->id);
		client_close(c, cl);
		return;
	}
	if (ne_buf_flush(&cl->out, cl->fd) ||
	    (cl->eof && !ne_buf_pending(&cl->out)))
		client_close(c, cl);
}
