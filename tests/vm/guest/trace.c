// SPDX-License-Identifier: GPL-2.0
/* Parsing the emulator's command trace ("T seq=... cmd=... rc=...") lines. */

#include "trace.h"

#include <stdlib.h>
#include <string.h>

/* Find " key=" (or "key=" at the start) and return the value's start. */
static const char *kv_find(const char *line, const char *key)
{
	size_t kl = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[kl] == '=')
			return p + kl + 1;
		p += kl;
	}
	return NULL;
}

int kv_str(const char *line, const char *key, char *buf, size_t size)
{
	const char *v = kv_find(line, key);
	size_t n;

	if (!v || !size)
		return -1;
	n = strcspn(v, " ");
	if (n >= size)
		n = size - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 0;
}

uint64_t kv_u64(const char *line, const char *key, int *found)
{
	const char *v = kv_find(line, key);

	if (found)
		*found = v != NULL;
	return v ? strtoull(v, NULL, 0) : 0;
}

int trace_parse(const char *line, struct trace_ent *e)
{
	char rc[24];

	memset(e, 0, sizeof(*e));
	if (strncmp(line, "T ", 2) || kv_str(line, "cmd", e->cmd, sizeof(e->cmd)))
		return -1;
	e->slot = kv_u64(line, "slot", NULL);
	e->paddr = kv_u64(line, "paddr", NULL);
	e->size = kv_u64(line, "size", NULL);
	e->vcpu = kv_u64(line, "vcpu", NULL);
	e->cid = kv_u64(line, "cid", NULL);
	e->flags = kv_u64(line, "flags", NULL);
	e->enclave_cid = kv_u64(line, "enclave_cid", NULL);
	kv_str(line, "state", e->state, sizeof(e->state));
	if (!kv_str(line, "rc", rc, sizeof(rc)) && strcmp(rc, "none")) {
		e->rc = strtol(rc, NULL, 0);
		e->has_rc = 1;
	}
	return 0;
}
