// SPDX-License-Identifier: GPL-2.0
/*
 * ne-emulator: process concerns only (options, signals, the poll loop).
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	quit = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ne-emulator --device-socket PATH --control-socket PATH\n"
		"                   [--mem-regions N] [--max-slots N]\n"
		"                   [--latency-us N] [--log FILE] [--pidfile FILE]\n"
		"                   [--enclave-qemu QEMU --vsock-dir DIR\n"
		"                    [--enclave-dir DIR] [--enclave-firmware DIR]\n"
		"                    [--enclave-append ARGS]\n"
		"                    [--hypervisor-vsock PATH]]\n"
		"Plays the Nitro hypervisor behind the QEMU nitro-enclaves device.\n"
		"With --enclave-qemu, ENCLAVE_START boots the image in the\n"
		"enclave's memory with QEMU's nitro-enclave machine, its vsock\n"
		"on DIR/cid-<CID>.sock (vhost-device-vsock); without it, an\n"
		"enclave is only a slot state. --hypervisor-vsock: the\n"
		"vhost-user socket of vhost-device-vsock's guest-cid=0 entry;\n"
		"debug-mode enclaves' consoles are served there at port\n"
		"CID + 10000, as the Nitro hypervisor does.\n");
}

static int parse_num(const char *opt, const char *s, unsigned long long max,
		     unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || *v > max) {
		fprintf(stderr, "ne-emulator: bad value '%s' for --%s\n", s,
			opt);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device-socket", required_argument, NULL, 'd' },
		{ "control-socket", required_argument, NULL, 'c' },
		{ "mem-regions", required_argument, NULL, 'm' },
		{ "max-slots", required_argument, NULL, 's' },
		{ "latency-us", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'L' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "enclave-qemu", required_argument, NULL, 'Q' },
		{ "enclave-firmware", required_argument, NULL, 'F' },
		{ "enclave-dir", required_argument, NULL, 'D' },
		{ "enclave-append", required_argument, NULL, 'A' },
		{ "vsock-dir", required_argument, NULL, 'V' },
		{ "hypervisor-vsock", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ne_emu_cfg cfg = { 0 };
	const char *pidfile = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t stop, waitmask;
	unsigned long long v;
	struct ne_emu emu;
	FILE *logf = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			cfg.dev_path = optarg;
			break;
		case 'c':
			cfg.ctl_path = optarg;
			break;
		case 'm':
			if (parse_num("mem-regions", optarg, 1u << 20, &v) || !v)
				return 2;
			cfg.mem_regions = (unsigned int)v;
			break;
		case 's':
			if (parse_num("max-slots", optarg, 1u << 16, &v) || !v)
				return 2;
			cfg.max_slots = (unsigned int)v;
			break;
		case 'l':
			if (parse_num("latency-us", optarg, 3600000000ULL, &v))
				return 2;
			cfg.latency_us = v;
			break;
		case 'L':
			logf = fopen(optarg, "ae");
			if (!logf) {
				fprintf(stderr, "ne-emulator: %s: %s\n", optarg,
					strerror(errno));
				return 2;
			}
			ne_log_set(logf);
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'Q':
			cfg.enclave.qemu = optarg;
			break;
		case 'F':
			cfg.enclave.firmware = optarg;
			break;
		case 'D':
			cfg.enclave.dir = optarg;
			break;
		case 'A':
			cfg.enclave.append = optarg;
			break;
		case 'V':
			cfg.enclave.vsock_dir = optarg;
			break;
		case 'H':
			cfg.hv_vsock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !cfg.dev_path || !cfg.ctl_path) {
		usage(stderr);
		return 2;
	}
	if (cfg.enclave.qemu && (access(cfg.enclave.qemu, X_OK) ||
				 !cfg.enclave.vsock_dir)) {
		fprintf(stderr, "ne-emulator: --enclave-qemu needs an "
			"executable QEMU and --vsock-dir\n");
		return 2;
	}
	if (cfg.hv_vsock && !cfg.enclave.qemu) {
		fprintf(stderr, "ne-emulator: --hypervisor-vsock serves the "
			"consoles of booted enclaves: it needs --enclave-qemu\n");
		return 2;
	}
	/* Binding the second would replace the first socket file. */
	if (!strcmp(cfg.dev_path, cfg.ctl_path)) {
		fprintf(stderr, "ne-emulator: the two sockets need two paths\n");
		return 2;
	}

	/* Peers vanish mid-write; send() errors are handled per socket. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/*
	 * SIGTERM/SIGINT stay blocked except inside ppoll(): a signal that
	 * lands between the quit check and the wait cannot be lost.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	rc = ne_emu_open(&emu, &cfg);
	if (rc) {
		fprintf(stderr, "ne-emulator: cannot listen on %s / %s: %s\n",
			cfg.dev_path, cfg.ctl_path, strerror(-rc));
		return 1;
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f)) {
			fprintf(stderr, "ne-emulator: %s: cannot write\n",
				pidfile);
			ne_emu_close(&emu);
			return 1;
		}
	}
	ne_log(0, "listening: device %s, control %s, mem-regions %u, "
	       "max-slots %u, latency %llu us, enclaves %s", cfg.dev_path,
	       cfg.ctl_path, emu.cfg.mem_regions, emu.cfg.max_slots,
	       (unsigned long long)cfg.latency_us,
	       cfg.enclave.qemu ? "boot" : "flag-only");

	while (!quit) {
		unsigned int n;
		struct pollfd *pfds = ne_emu_pollfds(&emu, &n);
		int ms = ne_emu_timeout_ms(&emu);
		struct timespec ts = { .tv_sec = ms / 1000,
				       .tv_nsec = (ms % 1000) * 1000000L };

		if (ppoll(pfds, n, ms < 0 ? NULL : &ts, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			ne_log(0, "poll: %s", strerror(errno));
			break;
		}
		ne_emu_handle(&emu, pfds, n);
	}

	ne_log(0, "exiting (signal %d)", (int)quit);
	ne_emu_close(&emu);
	if (pidfile)
		unlink(pidfile);
	if (logf)
		fclose(logf);
	return 0;
}
