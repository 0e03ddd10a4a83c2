// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: `status`: module, device, CPU pool and hugepages, as text with hints or as JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "nectl.h"

struct ne_dev_info {
	bool present;
	char bdf[32];
	char driver[64];
	bool dev_node;
};

struct ne_status_data {
	char release[128];
	struct ne_mod_info mod;
	struct ne_dev_info dev;
	bool pool_readable;
	char pool_raw[1024];
	struct ne_cpuset pool;
	int pool_node;
	int pool_offline;	/* pool CPUs the driver has taken offline */
	struct ne_topo topo;
	int nr_hp;
	struct ne_hp_node hp[NE_MAX_NODES];
	int nr_quar;		/* quarantined enclaves, -1: no listing */
	struct ne_quar {
		uint64_t slot, mem_mib;
		unsigned int retries;
		char cpus[128], device[16];
	} quar[16];
	const char *hints[8];
	int nr_hints;
};

/*
 * The module's quarantine listing: one line per enclave whose release the
 * device has not confirmed, "slot=U mem_mib=N cpus=LIST retries=N
 * device=present|gone". Absent with other drivers (nr_quar -1).
 */
static void read_quarantine(struct ne_status_data *s)
{
	char path[4096], buf[4096], *line, *save = NULL;
	struct ne_quar q;

	s->nr_quar = -1;
	ne_path(path, sizeof(path), NE_QUARANTINE_PARAM);
	if (ne_read_str(path, buf, sizeof(buf)))
		return;
	s->nr_quar = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		memset(&q, 0, sizeof(q));
		if (sscanf(line, "slot=%" SCNu64 " mem_mib=%" SCNu64
			   " cpus=%127s retries=%u device=%15s", &q.slot,
			   &q.mem_mib, q.cpus, &q.retries, q.device) != 5)
			continue;
		if (s->nr_quar < (int)(sizeof(s->quar) / sizeof(s->quar[0])))
			s->quar[s->nr_quar++] = q;
	}
}

static void find_device(struct ne_dev_info *d)
{
	char dir[4096], path[4096 + 300], link[4096];
	struct dirent *de;
	uint64_t ven, dev;
	ssize_t n;
	DIR *dp;

	memset(d, 0, sizeof(*d));
	ne_path(path, sizeof(path), NE_DEV_PATH);
	d->dev_node = ne_exists(path);
	ne_path(dir, sizeof(dir), "/sys/bus/pci/devices");
	dp = opendir(dir);
	if (!dp)
		return;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/vendor", dir, de->d_name);
		if (ne_read_u64(path, &ven) || ven != NE_PCI_VENDOR)
			continue;
		snprintf(path, sizeof(path), "%s/%s/device", dir, de->d_name);
		if (ne_read_u64(path, &dev) || dev != NE_PCI_DEVICE)
			continue;
		d->present = true;
		ne_copy(d->bdf, sizeof(d->bdf), de->d_name);
		snprintf(path, sizeof(path), "%s/%s/driver", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			ne_copy(d->driver, sizeof(d->driver),
				strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
		}
		break;
	}
	closedir(dp);
}

static void gather(struct ne_status_data *s)
{
	struct utsname u;
	int cpu, node;

	if (!uname(&u))
		ne_copy(s->release, sizeof(s->release), u.release);
	ne_kmod_info(&s->mod);
	find_device(&s->dev);
	ne_topo_read(&s->topo);
	s->pool_node = -1;
	s->pool_readable = !ne_pool_read(&s->pool, s->pool_raw, sizeof(s->pool_raw));
	if (s->pool_readable) {
		s->pool_node = ne_pool_node(&s->topo, &s->pool);
		for (cpu = 0; cpu < s->topo.nr_cpus; cpu++)
			if (ne_cpuset_has(&s->pool, cpu) && !s->topo.cpu[cpu].online)
				s->pool_offline++;
	}
	read_quarantine(s);
	for (node = 0; node < s->topo.nr_nodes && s->nr_hp < NE_MAX_NODES; node++)
		if (!ne_hp_read(node, s->topo.numa_sysfs, &s->hp[s->nr_hp]))
			s->nr_hp++;

	if (!s->mod.loaded)
		s->hints[s->nr_hints++] = s->mod.found || !ne_root_is_real() ?
			"module not loaded: run 'nectl load'" :
			"module not loaded and not installed for this kernel: install the nitro-enclaves DKMS package";
	if (!s->dev.present)
		s->hints[s->nr_hints++] =
			"no Nitro Enclaves device: not an enclave-enabled instance";
	else if (s->mod.loaded && strcmp(s->dev.driver, NE_MODULE_NAME))
		s->hints[s->nr_hints++] = "the Nitro Enclaves device is not bound to the driver";
	else if (s->mod.loaded && !s->dev.dev_node)
		s->hints[s->nr_hints++] = NE_DEV_PATH " is missing: check udev";
	if (s->mod.loaded && s->mod.found && !s->mod.file_matches)
		s->hints[s->nr_hints++] = "the loaded module is not the file modprobe would load "
			"(loaded by path, or the file changed since): reload with 'nectl unload; nectl load'";
	if (s->mod.loaded && s->pool_readable && !s->pool_raw[0])
		s->hints[s->nr_hints++] = "no CPU pool: run 'nectl pool set --count N'";
	if (s->nr_quar > 0)
		s->hints[s->nr_hints++] = "enclaves in quarantine: the device has not confirmed their release, "
			"so their memory stays pinned and their CPUs offline; the driver keeps asking (see dmesg)";
}

static uint64_t hp_free_bytes(const struct ne_hp_node *hn)
{
	uint64_t b = 0;
	int i;

	for (i = 0; i < hn->nr_sizes; i++)
		b += hn->sz[i].free * hn->sz[i].size;
	return b;
}

/*
 * The CPUs the machine shows: the online ones and their cores, each core
 * once (as its first online thread's thread_siblings_list gives it).
 * Offline CPUs (the pool's, under the driver) have no topology directory.
 */
static bool core_first(const struct ne_topo *t, int cpu)
{
	return t->cpu[cpu].known && ne_cpuset_first(&t->cpu[cpu].siblings) == cpu;
}

static void print_cpus_text(const struct ne_topo *t)
{
	struct ne_cpuset online;
	char buf[1024];
	int cpu, nr_present = 0;

	ne_cpuset_zero(&online);
	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		nr_present += t->cpu[cpu].present;
		if (t->cpu[cpu].online)
			ne_cpuset_add(&online, cpu);
	}
	if (ne_cpuset_format(&online, buf, sizeof(buf)))
		buf[0] = '\0';
	printf("cpus:       %d present, online %s, cores", nr_present, buf[0] ? buf : "none");
	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (core_first(t, cpu) && !ne_cpuset_format(&t->cpu[cpu].siblings, buf, sizeof(buf))) {
			printf(" %s", buf);
			nr_present = -1;
		}
	printf("%s\n", nr_present < 0 ? "" : " unknown");
}

static void print_cpus_json(const struct ne_topo *t)
{
	int cpu, c, nr_present = 0, first = 1;

	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		nr_present += t->cpu[cpu].present;
	printf("\"cpus\":{\"present\":%d,\"online\":[", nr_present);
	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->cpu[cpu].online) {
			printf("%s%d", first ? "" : ",", cpu);
			first = 0;
		}
	printf("],\"cores\":[");
	first = 1;
	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!core_first(t, cpu))
			continue;
		printf("%s[", first ? "" : ",");
		first = 0;
		for (c = cpu; c < NE_MAX_CPUS; c++)
			if (ne_cpuset_has(&t->cpu[cpu].siblings, c))
				printf("%s%d", c == cpu ? "" : ",", c);
		printf("]");
	}
	printf("]},");
}

static void print_text(const struct ne_status_data *s)
{
	char a[32], b[32];
	int i, j;

	printf("kernel:     %s\n", s->release);
	printf("module:     %s", s->mod.loaded ? (s->mod.builtin ? "built in" : "loaded") :
	       "not loaded");
	if (s->mod.version[0])
		printf(", version %s", s->mod.version);
	if (s->mod.path[0])
		printf(", file %s (%s)", s->mod.path, s->mod.origin);
	printf("\n");
	if (s->dev.present)
		printf("device:     %s [%04x:%04x], driver %s, %s %s\n", s->dev.bdf, NE_PCI_VENDOR,
		       NE_PCI_DEVICE, s->dev.driver[0] ? s->dev.driver : "none", NE_DEV_PATH,
		       s->dev.dev_node ? "present" : "missing");
	else
		printf("device:     none\n");
	print_cpus_text(&s->topo);
	if (s->pool_readable && s->pool_raw[0])
		printf("cpu pool:   %s (%d CPUs, %d threads per core, NUMA node %d, %d offline)\n",
		       s->pool_raw, ne_cpuset_count(&s->pool), s->topo.threads_per_core,
		       s->pool_node, s->pool_offline);
	else
		printf("cpu pool:   %s\n", s->pool_readable ? "empty" : "-");
	for (i = 0; i < s->nr_hp; i++) {
		ne_format_size(hp_free_bytes(&s->hp[i]), a, sizeof(a));
		printf("hugepages:  node %d: %s free", s->hp[i].node, a);
		for (j = 0; j < s->hp[i].nr_sizes; j++) {
			ne_format_size(s->hp[i].sz[j].size, b, sizeof(b));
			printf("%s%s: %" PRIu64 "/%" PRIu64, j ? ", " : " (", b,
			       s->hp[i].sz[j].free, s->hp[i].sz[j].total);
		}
		printf("%s\n", s->hp[i].nr_sizes ? " free/total)" : "");
	}
	if (s->nr_quar >= 0)
		printf("quarantine: %d enclave%s\n", s->nr_quar, s->nr_quar == 1 ? "" : "s");
	for (i = 0; i < s->nr_quar; i++)
		printf("            slot %" PRIu64 ": %" PRIu64 " MiB pinned, CPUs %s offline, %u retries, device %s\n",
		       s->quar[i].slot, s->quar[i].mem_mib, s->quar[i].cpus,
		       s->quar[i].retries, s->quar[i].device);
	for (i = 0; i < s->nr_hints; i++)
		printf("hint:       %s\n", s->hints[i]);
}

static void json_str(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_json(const struct ne_status_data *s)
{
	int i, j, cpu, first = 1;

	printf("{\"kernel\":");
	json_str(s->release);
	printf(",\"module\":{\"loaded\":%s,\"builtin\":%s,\"version\":",
	       s->mod.loaded ? "true" : "false", s->mod.builtin ? "true" : "false");
	json_str(s->mod.version);
	printf(",\"srcversion\":");
	json_str(s->mod.srcversion);
	printf(",\"file\":");
	json_str(s->mod.path);
	printf(",\"origin\":");
	json_str(s->mod.origin);
	printf(",\"file_matches\":%s,\"refcnt\":%d},\"device\":{\"present\":%s,\"pci\":",
	       s->mod.file_matches ? "true" : "false", s->mod.refcnt,
	       s->dev.present ? "true" : "false");
	json_str(s->dev.bdf);
	printf(",\"vendor\":\"%04x\",\"device\":\"%04x\",\"driver\":", NE_PCI_VENDOR, NE_PCI_DEVICE);
	json_str(s->dev.driver);
	printf(",\"dev_node\":%s},", s->dev.dev_node ? "true" : "false");
	print_cpus_json(&s->topo);
	printf("\"cpu_pool\":{\"list\":");
	json_str(s->pool_raw);
	printf(",\"cpus\":[");
	for (cpu = 0; cpu < NE_MAX_CPUS; cpu++)
		if (ne_cpuset_has(&s->pool, cpu)) {
			printf("%s%d", first ? "" : ",", cpu);
			first = 0;
		}
	printf("],\"numa_node\":%d,\"threads_per_core\":%d,\"offline\":%d},\"hugepages\":[",
	       s->pool_node, s->topo.threads_per_core, s->pool_offline);
	for (i = 0; i < s->nr_hp; i++) {
		printf("%s{\"node\":%d,\"free_bytes\":%" PRIu64 ",\"sizes\":[", i ? "," : "",
		       s->hp[i].node, hp_free_bytes(&s->hp[i]));
		for (j = 0; j < s->hp[i].nr_sizes; j++)
			printf("%s{\"size_kb\":%" PRIu64 ",\"total\":%" PRIu64 ",\"free\":%" PRIu64 "}",
			       j ? "," : "", s->hp[i].sz[j].size / 1024, s->hp[i].sz[j].total,
			       s->hp[i].sz[j].free);
		printf("]}");
	}
	printf("],\"quarantine\":");
	if (s->nr_quar < 0)
		printf("null");
	else {
		printf("[");
		for (i = 0; i < s->nr_quar; i++) {
			printf("%s{\"slot\":%" PRIu64 ",\"mem_mib\":%" PRIu64 ",\"cpus\":",
			       i ? "," : "", s->quar[i].slot, s->quar[i].mem_mib);
			json_str(s->quar[i].cpus);
			printf(",\"retries\":%u,\"device\":", s->quar[i].retries);
			json_str(s->quar[i].device);
			printf("}");
		}
		printf("]");
	}
	printf(",\"hints\":[");
	for (i = 0; i < s->nr_hints; i++) {
		printf("%s", i ? "," : "");
		json_str(s->hints[i]);
	}
	printf("]}\n");
}

int ne_status(bool json)
{
	struct ne_status_data *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	gather(s);
	if (json)
		print_json(s);
	else
		print_text(s);
	free(s);
	return 0;
}
