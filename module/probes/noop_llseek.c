// SPDX-License-Identifier: GPL-2.0
/* Probe: noop_llseek() (no_llseek was removed in 6.12, cb787f4ac0c2). */
#include <linux/fs.h>

loff_t ne_probe(struct file *file);
loff_t ne_probe(struct file *file)
{
	return noop_llseek(file, 0, 0);
}
