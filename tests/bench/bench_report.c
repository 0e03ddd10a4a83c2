// SPDX-License-Identifier: GPL-2.0
/*
 * The report: RES lines of all drivers in, one table out (median and
 * min..max per driver, device commands, physical adjacency, ratio of the
 * first driver's time to the last's), and the same as CSV. When the drivers
 * ran on the same pages (every row's adjacency agrees, as `run -D` makes
 * it) the table shows the adjacency once per row; otherwise per driver,
 * with a note that the layouts differ.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_DRIVERS BENCH_MAX_DRIVERS
#define MAX_ROWS 64
#define MAX_REPS 1000

struct cell {
	int seen;
	int err;		/* first failure, 0 if none */
	unsigned int nok;
	double v[MAX_REPS];	/* ms per unit of each good rep */
	double cmds;		/* commands per unit, of the last good rep */
	long addmem, pages, adj;
};

struct row {
	char work[8];
	unsigned int size;
	struct cell c[MAX_DRIVERS];
};

static char drivers[MAX_DRIVERS][BENCH_LABEL_MAX + 1];
static int ndrivers;
static struct row rows[MAX_ROWS];
static int nrows;

/* "key=value" field of a RES line; 0 when found. */
static int field(const char *line, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " \n");

			if (n >= outsz)
				return -1;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return 0;
		}
		p += kl;
	}
	return -1;
}

static int lfield(const char *line, const char *key, long long *v)
{
	char buf[32], *end;

	if (field(line, key, buf, sizeof(buf)))
		return -1;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno || end == buf || *end ? -1 : 0;
}

static int driver_index(const char *name)
{
	int i;

	for (i = 0; i < ndrivers; i++)
		if (!strcmp(drivers[i], name))
			return i;
	if (ndrivers == MAX_DRIVERS)
		return -1;
	snprintf(drivers[ndrivers], sizeof(drivers[0]), "%s", name);
	return ndrivers++;
}

static struct row *row_for(const char *work, unsigned int size)
{
	int i;

	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].work, work) && rows[i].size == size)
			return &rows[i];
	if (nrows == MAX_ROWS)
		return NULL;
	snprintf(rows[nrows].work, sizeof(rows[0].work), "%s", work);
	rows[nrows].size = size;
	return &rows[nrows++];
}

/* One RES line; -1 if it is malformed (reported, not fatal). */
static int take_line(const char *line)
{
	char drv[BENCH_LABEL_MAX + 1], work[8];
	long long size, err, ns, units, cmds, addmem, pages, adj;
	struct row *r;
	struct cell *c;
	int d;

	if (field(line, "driver", drv, sizeof(drv)) ||
	    field(line, "work", work, sizeof(work)) ||
	    lfield(line, "size", &size) || lfield(line, "err", &err) ||
	    lfield(line, "ns", &ns) || lfield(line, "units", &units) ||
	    lfield(line, "cmds", &cmds) || lfield(line, "addmem", &addmem) ||
	    lfield(line, "pages", &pages) || lfield(line, "adj", &adj) ||
	    size < 0 || ns < 0 || err < 0)
		return -1;
	d = driver_index(drv);
	r = row_for(work, (unsigned int)size);
	if (d < 0 || !r)
		return -1;
	c = &r->c[d];
	c->seen = 1;
	if (units <= 0 && !err)
		return -1;
	if (!c->nok) {
		/* A failing rep's counts say how far it got (commands sent). */
		c->cmds = cmds >= 0 ? (double)cmds / (double)(units > 0 ? units : 1) : -1;
		c->addmem = addmem;
		c->pages = pages;
		c->adj = adj;
	}
	if (err) {
		if (!c->err)
			c->err = (int)err;
		return 0;
	}
	if (c->nok == MAX_REPS)
		return -1;
	c->v[c->nok++] = (double)ns / 1e6 / (double)units;
	c->cmds = cmds >= 0 ? (double)cmds / (double)units : -1;
	c->addmem = addmem;
	c->pages = pages;
	c->adj = adj;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of a cell's good reps (sorted in place). */
static void stats(struct cell *c, double *med, double *lo, double *hi)
{
	unsigned int n = c->nok;

	qsort(c->v, n, sizeof(c->v[0]), cmp_double);
	*lo = c->v[0];
	*hi = c->v[n - 1];
	*med = n % 2 ? c->v[n / 2] : (c->v[n / 2 - 1] + c->v[n / 2]) / 2;
}

static int cell_ok(const struct cell *c)
{
	return c->seen && !c->err && c->nok;
}

/* W5 is shown as a rate; everything else as time. */
static int is_rate(const struct row *r)
{
	return !strcmp(r->work, "W5");
}

static const char *unit_of(const struct row *r)
{
	if (is_rate(r))
		return "cycles/s";
	if (!strcmp(r->work, "W4"))
		return "ms/encl";
	return "ms";
}

static double shown(const struct row *r, double ms)
{
	return is_rate(r) ? 1000.0 / ms : ms;
}

static void fmt_num(char *buf, size_t sz, double v)
{
	if (v >= 1000)
		snprintf(buf, sz, "%.0f", v);
	else if (v >= 10)
		snprintf(buf, sz, "%.1f", v);
	else
		snprintf(buf, sz, "%.2f", v);
}

static void fmt_cell(char *buf, size_t sz, const struct row *r, struct cell *c)
{
	char m[24], a[24], b[24];
	double med, lo, hi;

	if (!c->seen) {
		snprintf(buf, sz, "-");
		return;
	}
	if (!cell_ok(c)) {
		snprintf(buf, sz, "fail(%d)", c->err);
		return;
	}
	stats(c, &med, &lo, &hi);
	fmt_num(m, sizeof(m), shown(r, med));
	/* a rate's min comes from the slowest rep */
	fmt_num(a, sizeof(a), shown(r, is_rate(r) ? hi : lo));
	fmt_num(b, sizeof(b), shown(r, is_rate(r) ? lo : hi));
	snprintf(buf, sz, "%s [%s..%s]", m, a, b);
}

static void fmt_cmds(char *buf, size_t sz, const struct cell *c)
{
	if (!c->seen || c->cmds < 0)
		snprintf(buf, sz, "-");
	else if (c->cmds == (double)(long)c->cmds)
		snprintf(buf, sz, "%ld", (long)c->cmds);
	else
		snprintf(buf, sz, "%.1f", c->cmds);
}

static void fmt_adj(char *buf, size_t sz, const struct cell *c)
{
	if (!c->seen || c->adj < 0 || c->pages <= 1)
		snprintf(buf, sz, "-");
	else
		snprintf(buf, sz, "%ld/%ld", c->adj, c->pages - 1);
}

/* ratio = base time / this time; its range from the spreads. */
static int ratio(struct row *r, double *q, double *qlo, double *qhi)
{
	struct cell *b = &r->c[0], *t = &r->c[ndrivers - 1];
	double bm, bl, bh, tm, tl, th;

	if (ndrivers < 2 || !cell_ok(b) || !cell_ok(t))
		return -1;
	stats(b, &bm, &bl, &bh);
	stats(t, &tm, &tl, &th);
	*q = bm / tm;
	*qlo = bl / th;
	*qhi = bh / tl;
	return 0;
}

/* The first cell of a row that was measured, NULL if none. */
static struct cell *first_seen(struct row *r)
{
	int d;

	for (d = 0; d < ndrivers; d++)
		if (r->c[d].seen)
			return &r->c[d];
	return NULL;
}

/* Whether on every row all measured drivers saw the same layout. */
static int same_layout(void)
{
	int i, d;

	for (i = 0; i < nrows; i++) {
		struct cell *a = first_seen(&rows[i]);

		for (d = 0; a && d < ndrivers; d++) {
			struct cell *c = &rows[i].c[d];

			if (c->seen && (c->adj != a->adj || c->pages != a->pages))
				return 0;
		}
	}
	return 1;
}

static void print_table(FILE *f, const char *title)
{
	int i, d, errs[32], nerrs = 0, once = same_layout();

	fprintf(f, "%s\n", title ? title : "Nitro Enclaves driver benchmark");
	fprintf(f, "%-4s %6s %-8s", "work", "S MiB", "unit");
	if (once)
		fprintf(f, " %9s", "adjacent");
	for (d = 0; d < ndrivers; d++) {
		fprintf(f, " | %-26.26s %6s", drivers[d], "cmds");
		if (!once)
			fprintf(f, " %9s", "adjacent");
	}
	if (ndrivers > 1)
		fprintf(f, " | %s/%s", drivers[0], drivers[ndrivers - 1]);
	fprintf(f, "\n");
	for (i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		double q, ql, qh;
		char size[16], adj[48];

		if (r->size)
			snprintf(size, sizeof(size), "%u", r->size);
		else
			snprintf(size, sizeof(size), "-");
		fprintf(f, "%-4s %6s %-8s", r->work, size, unit_of(r));
		if (once) {
			struct cell *a = first_seen(r);

			if (a)
				fmt_adj(adj, sizeof(adj), a);
			else
				snprintf(adj, sizeof(adj), "-");
			fprintf(f, " %9s", adj);
		}
		for (d = 0; d < ndrivers; d++) {
			struct cell *c = &r->c[d];
			char cell[96], cm[16];
			int k;

			fmt_cell(cell, sizeof(cell), r, c);
			fmt_cmds(cm, sizeof(cm), c);
			fprintf(f, " | %-26s %6s", cell, cm);
			if (!once) {
				fmt_adj(adj, sizeof(adj), c);
				fprintf(f, " %9s", adj);
			}
			for (k = 0; k < nerrs && errs[k] != c->err; k++)
				;
			if (c->err && k == nerrs && nerrs < 32)
				errs[nerrs++] = c->err;
		}
		if (ndrivers > 1) {
			if (ratio(r, &q, &ql, &qh))
				fprintf(f, " | -");
			else
				fprintf(f, " | %.2f [%.2f..%.2f]", q, ql, qh);
		}
		fprintf(f, "\n");
	}
	for (i = 0; i < nerrs; i++)
		fprintf(f, "fail(%d) = %s%s\n", errs[i],
			errs[i] >= 256 ? "NE_ERR_" : "", err_name(errs[i]));
	if (!once)
		fprintf(f, "note: adjacent differs between drivers: they ran on different physical layouts\n");
}

static void csv_cell(FILE *f, const struct row *r, struct cell *c)
{
	double med, lo, hi;

	if (!c->seen) {
		fprintf(f, ",missing,,,,0,,,,");
		return;
	}
	if (!cell_ok(c)) {
		fprintf(f, ",fail,,,,%u,", c->nok);
		if (c->cmds >= 0)
			fprintf(f, "%.2f", c->cmds);
		fprintf(f, ",%ld,%ld,%d", c->pages, c->adj, c->err);
		return;
	}
	stats(c, &med, &lo, &hi);
	fprintf(f, ",ok,%.4f,%.4f,%.4f,%u,", shown(r, med),
		shown(r, is_rate(r) ? hi : lo), shown(r, is_rate(r) ? lo : hi),
		c->nok);
	if (c->cmds >= 0)
		fprintf(f, "%.2f", c->cmds);
	fprintf(f, ",%ld,%ld,", c->pages, c->adj);	/* errno empty */
}

static int write_csv(const char *path)
{
	FILE *f = fopen(path, "w");
	int i, d;

	if (!f) {
		fprintf(stderr, "ne-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "work,size_mib,unit");
	for (d = 0; d < ndrivers; d++)
		fprintf(f, ",%1$s_status,%1$s_median,%1$s_min,%1$s_max,%1$s_reps,"
			"%1$s_cmds,%1$s_pages,%1$s_adjacent,%1$s_errno", drivers[d]);
	fprintf(f, ",ratio,ratio_min,ratio_max\n");
	for (i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		double q, ql, qh;

		fprintf(f, "%s,%u,%s", r->work, r->size, unit_of(r));
		for (d = 0; d < ndrivers; d++)
			csv_cell(f, r, &r->c[d]);
		if (ndrivers > 1 && !ratio(r, &q, &ql, &qh))
			fprintf(f, ",%.3f,%.3f,%.3f\n", q, ql, qh);
		else
			fprintf(f, ",,,\n");
	}
	if (fclose(f)) {
		fprintf(stderr, "ne-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int bench_report(const char *const *files, int nfiles, const char *csv,
		 const char *title)
{
	int i, bad = 0, lines = 0;

	for (i = 0; i < nfiles; i++) {
		FILE *f = strcmp(files[i], "-") ? fopen(files[i], "r") : stdin;
		char line[1024];
		int ln = 0;

		if (!f) {
			fprintf(stderr, "ne-bench: %s: %s\n", files[i], strerror(errno));
			return 1;
		}
		while (fgets(line, sizeof(line), f)) {
			ln++;
			if (strncmp(line, "RES ", 4))
				continue;
			lines++;
			if (take_line(line)) {
				fprintf(stderr, "ne-bench: %s:%d: bad RES line\n",
					files[i], ln);
				bad++;
			}
		}
		if (f != stdin)
			fclose(f);
	}
	if (!lines) {
		fprintf(stderr, "ne-bench: no RES lines in the input\n");
		return 1;
	}
	print_table(stdout, title);
	if (csv && write_csv(csv))
		return 1;
	return bad ? 1 : 0;
}
