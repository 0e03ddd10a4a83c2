// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: loading, unloading and describing the nitro_enclaves module through libkmod.
 *
 * Resolution by name goes through modules.dep/aliases and modprobe.d, as
 * modprobe does, so a DKMS copy under updates/ wins over the in-tree one and
 * "options nitro_enclaves ..." lines apply.
 */
#include <errno.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "nectl.h"

static const char *origin_of(const char *path)
{
	if (!path)
		return "unknown";
	if (strstr(path, "/updates/") || strstr(path, "/extra/"))
		return "dkms";
	if (strstr(path, "/kernel/"))
		return "in-tree";
	return "other";
}

static struct kmod_module *find_module(struct kmod_ctx *ctx, const char *module_path)
{
	struct kmod_list *list = NULL;
	struct kmod_module *mod = NULL;

	if (module_path) {
		if (kmod_module_new_from_path(ctx, module_path, &mod) < 0)
			return NULL;
		return mod;
	}
	if (kmod_module_new_from_lookup(ctx, NE_MODULE_NAME, &list) < 0 || !list)
		return NULL;
	mod = kmod_module_get_module(list);
	kmod_module_unref_list(list);
	return mod;
}

/* libkmod's own log lines would repeat our messages less clearly. */
static void kmod_quiet(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	(void)format;
	(void)args;
}

static struct kmod_ctx *ctx_open(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (ctx) {
		kmod_set_log_fn(ctx, kmod_quiet, NULL);
		kmod_load_resources(ctx);
	}
	return ctx;
}

/* What is loaded comes from (ROOT)/sys/module; which file from libkmod. */
int ne_kmod_info(struct ne_mod_info *mi)
{
	struct kmod_list *info = NULL, *l;
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	char path[4096], state[32];
	const char *p;

	memset(mi, 0, sizeof(*mi));
	snprintf(mi->origin, sizeof(mi->origin), "unknown");
	ne_path(path, sizeof(path), "/sys/module/%s", NE_MODULE_NAME);
	if (ne_exists(path)) {
		ne_path(path, sizeof(path), "/sys/module/%s/initstate", NE_MODULE_NAME);
		if (ne_read_str(path, state, sizeof(state)))
			mi->builtin = true;	/* built-in modules have no initstate */
		mi->loaded = mi->builtin || !strcmp(state, "live");
		ne_path(path, sizeof(path), "/sys/module/%s/version", NE_MODULE_NAME);
		ne_read_str(path, mi->version, sizeof(mi->version));
		ne_path(path, sizeof(path), "/sys/module/%s/srcversion", NE_MODULE_NAME);
		ne_read_str(path, mi->srcversion, sizeof(mi->srcversion));
		ne_path(path, sizeof(path), "/sys/module/%s/refcnt", NE_MODULE_NAME);
		if (!ne_read_str(path, state, sizeof(state)))
			mi->refcnt = atoi(state);
	}
	if (!ne_root_is_real())
		return 0;	/* a fake tree has no module files to resolve */
	ctx = ctx_open();
	if (!ctx)
		return -ENOMEM;
	mod = find_module(ctx, NULL);
	if (mod && (p = kmod_module_get_path(mod))) {
		mi->found = true;
		ne_copy(mi->path, sizeof(mi->path), p);
		ne_copy(mi->origin, sizeof(mi->origin), origin_of(p));
		mi->file_matches = true;
		if (kmod_module_get_info(mod, &info) >= 0) {
			kmod_list_foreach(l, info) {
				const char *k = kmod_module_info_get_key(l);
				const char *v = kmod_module_info_get_value(l);

				/* Without a loaded version, show the file's. */
				if (!mi->loaded && !strcmp(k, "version"))
					ne_copy(mi->version, sizeof(mi->version), v);
				/* A loaded module built from other sources came from elsewhere. */
				if (mi->loaded && mi->srcversion[0] && !strcmp(k, "srcversion"))
					mi->file_matches = !strcmp(v, mi->srcversion);
			}
			kmod_module_info_free_list(info);
		}
	}
	if (mod)
		kmod_module_unref(mod);
	kmod_unref(ctx);
	return 0;
}

static void explain_insert_error(int rc, const char *path)
{
	switch (-rc) {
	case EPERM:
	case EKEYREJECTED:
	case ENOKEY:
		ne_err("the kernel refused %s: with Secure Boot or lockdown the module must be "
		       "signed with an enrolled key (see mokutil --import)", path);
		break;
	case ENOEXEC:
		ne_err("%s was not built for this kernel; rebuild it (dkms autoinstall)", path);
		break;
	case EINVAL:
		ne_err("the kernel rejected the module or its parameters (ne_cpus must be whole "
		       "cores, online, one NUMA node, not CPU 0's core); see dmesg");
		break;
	default:
		ne_err("cannot load %s: %s", path, strerror(-rc));
	}
}

int ne_kmod_load(const char *module_path, const char *pool)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	struct utsname u;
	char opts[600];
	const char *path;
	int rc, state;

	ctx = ctx_open();
	if (!ctx) {
		ne_err("cannot initialise libkmod");
		return -ENOMEM;
	}
	/* By name first: a module loaded from elsewhere is still "already loaded". */
	if (kmod_module_new_from_name(ctx, NE_MODULE_NAME, &mod) >= 0) {
		state = kmod_module_get_initstate(mod);
		kmod_module_unref(mod);
		mod = NULL;
		if (state == KMOD_MODULE_BUILTIN) {
			ne_info("%s is built into the kernel; nothing to load", NE_MODULE_NAME);
			rc = -EEXIST;
			goto out;
		}
		if (state == KMOD_MODULE_LIVE || state == KMOD_MODULE_COMING) {
			ne_info("%s is already loaded", NE_MODULE_NAME);
			rc = -EEXIST;
			goto out;
		}
	}
	mod = find_module(ctx, module_path);
	if (!mod || (!module_path && !kmod_module_get_path(mod))) {
		uname(&u);
		if (module_path)
			ne_err("cannot use module file %s", module_path);
		else
			ne_err("no %s module for kernel %s: install the nitro-enclaves DKMS package "
			       "(or give --module FILE)", NE_MODULE_NAME, u.release);
		rc = -ENOENT;
		goto out;
	}
	path = kmod_module_get_path(mod);
	opts[0] = '\0';
	if (pool)
		snprintf(opts, sizeof(opts), "ne_cpus=%s", pool);
	rc = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
					     pool ? opts : NULL, NULL, NULL, NULL);
	if (rc == -EEXIST) {
		ne_info("%s is already loaded", NE_MODULE_NAME);
		goto out;
	}
	if (rc < 0) {
		explain_insert_error(rc, path ? path : NE_MODULE_NAME);
		goto out;
	}
	if (rc > 0) {
		/* Positive: blocked by a blacklist or install command (KMOD_PROBE_*). */
		ne_err("%s was not inserted: a modprobe.d rule blocks it", NE_MODULE_NAME);
		rc = -EPERM;
		goto out;
	}
	ne_info("loaded %s from %s (%s)%s%s", NE_MODULE_NAME, path ? path : "?",
		origin_of(path), pool ? " with ne_cpus=" : "", pool ? pool : "");
out:
	if (mod)
		kmod_module_unref(mod);
	kmod_unref(ctx);
	return rc;
}

int ne_kmod_unload(void)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	int rc, state;

	ctx = ctx_open();
	if (!ctx) {
		ne_err("cannot initialise libkmod");
		return -ENOMEM;
	}
	rc = kmod_module_new_from_name(ctx, NE_MODULE_NAME, &mod);
	if (rc < 0)
		goto out;
	state = kmod_module_get_initstate(mod);
	if (state == KMOD_MODULE_BUILTIN) {
		ne_err("%s is built into the kernel and cannot be unloaded", NE_MODULE_NAME);
		rc = -EPERM;
		goto out;
	}
	if (state < 0) {
		ne_info("%s is not loaded", NE_MODULE_NAME);
		rc = -ENOENT;
		goto out;
	}
	rc = kmod_module_remove_module(mod, 0);
	if (rc == -EAGAIN || rc == -EBUSY || rc == -EWOULDBLOCK) {
		ne_err("%s is in use (reference count %d): stop the enclaves and close programs "
		       "using %s, then retry", NE_MODULE_NAME, kmod_module_get_refcnt(mod),
		       NE_DEV_PATH);
		rc = -EBUSY;
	} else if (rc < 0) {
		ne_err("cannot unload %s: %s", NE_MODULE_NAME, strerror(-rc));
	} else {
		ne_info("unloaded %s", NE_MODULE_NAME);
	}
out:
	if (mod)
		kmod_module_unref(mod);
	kmod_unref(ctx);
	return rc;
}
