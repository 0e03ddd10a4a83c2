// SPDX-License-Identifier: GPL-2.0
/*
 * Fixtures: one per fd kind (the /dev fd, an enclave fd in INIT state) and
 * a memory fixture whose variants are the supported hugetlb backings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ne_lib.h"

static void need_pool(struct th_ctx *_th)
{
	ASSERT_RC(0, pool_set_home(), "set ne_cpus to " POOL_HOME);
}

FIXTURE_SETUP(dev)
{
	(void)variant;
	self->dev = -1;
	need_pool(_th);
	self->dev = t_dev(_th);
}

FIXTURE_TEARDOWN(dev)
{
	(void)_th;
	(void)variant;
	if (self->dev >= 0)
		close(self->dev);
}

FIXTURE_REGISTER(dev);

FIXTURE_SETUP(encl)
{
	(void)variant;
	self->dev = self->fd = -1;
	need_pool(_th);
	self->dev = t_dev(_th);
	self->fd = t_create(_th, self->dev, &self->uid);
}

FIXTURE_TEARDOWN(encl)
{
	(void)_th;
	(void)variant;
	if (self->fd >= 0)
		close(self->fd);
	if (self->dev >= 0)
		close(self->dev);
}

FIXTURE_REGISTER(encl);

FIXTURE_SETUP(mem)
{
	long pages = variant->size >> variant->shift;

	self->dev = self->fd = self->bfd = -1;
	self->p = NULL;
	self->size = variant->size;
	if (hp_ensure_free(variant->shift, pages))
		SKIP(return, "cannot get %ld free hugepage(s) of %s (boot with hugepagesz=1G hugepages=N)",
		     pages, variant->shift == SHIFT_1G ? "1 GiB" : "2 MiB");
	need_pool(_th);
	self->dev = t_dev(_th);
	self->fd = t_create(_th, self->dev, &self->uid);
	self->p = hp_map_kind(variant->kind, variant->size, variant->shift,
			      &self->bfd);
	if (!self->p)
		FAIL("cannot map the hugetlb backing: %s", strerror(errno));
}

FIXTURE_TEARDOWN(mem)
{
	(void)_th;
	(void)variant;
	if (self->fd >= 0)
		close(self->fd);
	hp_unmap(self->p, self->size);
	if (self->bfd >= 0)
		close(self->bfd);
	if (self->dev >= 0)
		close(self->dev);
}

FIXTURE_REGISTER(mem);

FIXTURE_VARIANT_ADD(mem, anon2m) {
	.kind = BACK_ANON, .shift = SHIFT_2M, .size = SZ_64M,
};
FIXTURE_VARIANT_ADD(mem, memfd2m) {
	.kind = BACK_MEMFD, .shift = SHIFT_2M, .size = SZ_64M,
};
FIXTURE_VARIANT_ADD(mem, hugetlbfs2m) {
	.kind = BACK_HUGETLBFS, .shift = SHIFT_2M, .size = SZ_64M,
};
FIXTURE_VARIANT_ADD(mem, anon1g) {
	.kind = BACK_ANON, .shift = SHIFT_1G, .size = SZ_1G,
};
FIXTURE_VARIANT_ADD(mem, memfd1g) {
	.kind = BACK_MEMFD, .shift = SHIFT_1G, .size = SZ_1G,
};
