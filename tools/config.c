// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: allocator.yaml (memory_mib, cpu_count or cpu_pool) read with libyaml, strictly.
 *
 * Unknown or repeated keys are errors: a typo must not silently leave the
 * machine without a pool.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "nectl.h"

static int cfg_fail(char *err, size_t len, const char *path, size_t line,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int cfg_fail(char *err, size_t len, const char *path, size_t line,
		    const char *fmt, ...)
{
	int n = line ? snprintf(err, len, "%s:%zu: ", path, line) : snprintf(err, len, "%s: ", path);
	va_list ap;

	if (n < 0 || (size_t)n >= len)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err + n, len - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end || *v > max)
		return -EINVAL;
	return 0;
}

static int set_key(struct ne_config *cfg, const char *key, const char *val,
		   const char *path, size_t line, char *err, size_t len)
{
	struct ne_cpuset set;
	uint64_t v;

	if (!strcmp(key, "memory_mib")) {
		if (cfg->has_memory)
			return cfg_fail(err, len, path, line, "memory_mib is given twice");
		if (parse_uint(val, UINT64_MAX / MiB, &v) || !v)
			return cfg_fail(err, len, path, line,
					"memory_mib must be a positive whole number of MiB, not '%s'", val);
		if (v % 2)
			return cfg_fail(err, len, path, line,
					"memory_mib must be a multiple of 2 (the smallest hugepage is 2 MiB)");
		cfg->memory_mib = v;
		cfg->has_memory = true;
	} else if (!strcmp(key, "cpu_count")) {
		if (cfg->has_count)
			return cfg_fail(err, len, path, line, "cpu_count is given twice");
		if (parse_uint(val, NE_MAX_CPUS, &v) || !v)
			return cfg_fail(err, len, path, line,
					"cpu_count must be a positive whole number of CPUs, not '%s'", val);
		cfg->cpu_count = (int)v;
		cfg->has_count = true;
	} else if (!strcmp(key, "cpu_pool")) {
		if (cfg->has_pool)
			return cfg_fail(err, len, path, line, "cpu_pool is given twice");
		if (strlen(val) >= sizeof(cfg->cpu_pool) || ne_cpuset_parse(val, &set) ||
		    !ne_cpuset_count(&set))
			return cfg_fail(err, len, path, line,
					"cpu_pool must be a CPU list such as 2-3,6-7, not '%s'", val);
		snprintf(cfg->cpu_pool, sizeof(cfg->cpu_pool), "%s", val);
		cfg->has_pool = true;
	} else {
		return cfg_fail(err, len, path, line,
				"unknown key '%s' (the keys are memory_mib, cpu_count and cpu_pool)",
				key);
	}
	return 0;
}

/* Walk the event stream: one mapping of scalar keys to scalar values. */
static int parse_events(yaml_parser_t *p, struct ne_config *cfg, const char *path,
			char *err, size_t len)
{
	enum { TOP, IN_MAP, HAVE_KEY, DONE } st = TOP;
	char key[64] = "";
	yaml_event_t ev;
	size_t line;
	int rc = 0;

	while (!rc) {
		if (!yaml_parser_parse(p, &ev))
			return cfg_fail(err, len, path, p->problem_mark.line + 1,
					"not valid YAML: %s", p->problem ? p->problem : "parse error");
		line = ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_MAPPING_START_EVENT:
			if (st != TOP)
				rc = cfg_fail(err, len, path, line, "values must be plain numbers or "
					      "strings, not nested mappings");
			st = IN_MAP;
			break;
		case YAML_MAPPING_END_EVENT:
			st = DONE;
			break;
		case YAML_SCALAR_EVENT:
			if (st == IN_MAP) {
				snprintf(key, sizeof(key), "%s", (char *)ev.data.scalar.value);
				st = HAVE_KEY;
			} else if (st == HAVE_KEY) {
				rc = set_key(cfg, key, (char *)ev.data.scalar.value, path, line,
					     err, len);
				st = IN_MAP;
			} else if (st == TOP && ev.data.scalar.length == 0) {
				/* An empty document (comments only). */
			} else {
				rc = cfg_fail(err, len, path, line,
					      "expected 'key: value' lines at the top level");
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = cfg_fail(err, len, path, line, "%s must be a single value, not a list",
				      st == HAVE_KEY ? key : "the document");
			break;
		default:
			rc = cfg_fail(err, len, path, line, "aliases and anchors are not supported");
		}
		if (st == DONE && ev.type == YAML_DOCUMENT_START_EVENT)
			rc = cfg_fail(err, len, path, line, "only one YAML document is allowed");
		yaml_event_delete(&ev);
	}
	return rc;
}

int ne_config_load(const char *path, struct ne_config *cfg, char *err, size_t len)
{
	yaml_parser_t parser;
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "re");
	if (!f) {
		rc = errno;
		cfg_fail(err, len, path, 0, "cannot open: %s", strerror(rc));
		return -rc;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return cfg_fail(err, len, path, 0, "cannot initialise the YAML parser");
	}
	yaml_parser_set_input_file(&parser, f);
	rc = parse_events(&parser, cfg, path, err, len);
	yaml_parser_delete(&parser);
	fclose(f);
	if (rc)
		return rc;
	if (!cfg->has_memory)
		return cfg_fail(err, len, path, 0, "memory_mib is missing (MiB of hugepages to reserve)");
	if (cfg->has_count && cfg->has_pool)
		return cfg_fail(err, len, path, 0, "set either cpu_count or cpu_pool, not both");
	if (!cfg->has_count && !cfg->has_pool)
		return cfg_fail(err, len, path, 0, "cpu_count or cpu_pool is missing");
	return 0;
}
