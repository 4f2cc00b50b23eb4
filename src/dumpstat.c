/*
 * dumpstat (see dumpstat.h): the original's pretty printer over `select *
 * from stats`. A header of the 14 column names, a rule of dashes, one line
 * per row; every column left-aligned and padded to its widest cell, at
 * least 12 characters (the width the original used when the cursor gave
 * none) and at least its name; columns separated by one space, padding
 * kept on the last column too. Cells go through the original's formatting
 * callback: times "YYYY-MM-DD HH:MM", sizes "19.51M", counts "1 234",
 * durations "HH:MM". Unlike the original, NULL prints as an empty cell (not
 * "None" or a crash) and a newline inside a value (a multi-line log)
 * becomes a space, so each row stays one line. Widths count UTF-8
 * characters, as Python's len() did. After the tables, one line about the
 * backup filesystem (used, size, Use%, free bytes and inodes; diskspace.h).
 */
#include "dumpstat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "diskspace.h"
#include "diskusage.h"
#include "util/fmt.h"
#include "util/xmalloc.h"

#define DUMPSTAT_NCOLS 14
#define DUMPSTAT_MIN_WIDTH 12
#define DUMPSTAT_OUT_LIMIT ((size_t)256 << 20)

static const char *const columns[DUMPSTAT_NCOLS] = {
	"backup_name",
	"server_name",
	"description",
	"backup_start",
	"backup_end",
	"backup_duration",
	"total_files_count",
	"written_files_count",
	"total_bytes",
	"written_bytes",
	"status",
	"log",
	"backup_location",
	"TYPE",
};

/* Characters (not bytes) of a UTF-8 string. */
static size_t
width_of(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static char *
text_cell(const char *s)
{
	char *c;

	if (s == NULL)
		return xstrdup("");
	c = xstrdup(s);
	for (char *p = c; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return c;
}

static char *
count_cell(int64_t v)
{
	char buf[32];

	if (v == CATALOG_NULL)
		return xstrdup("");
	fmt_thousands(v, buf, sizeof buf);
	return xstrdup(buf);
}

static char *
bytes_cell(int64_t v)
{
	char buf[32];

	if (v == CATALOG_NULL)
		return xstrdup("");
	fmt_bytes((double)v, buf, sizeof buf);
	return xstrdup(buf);
}

static char *
time_cell(const char *iso)
{
	char buf[64];

	if (iso == NULL)
		return xstrdup("");
	fmt_iso_short(iso, buf, sizeof buf);
	return text_cell(buf);
}

static char *
duration_cell(double hours)
{
	char buf[32];

	if (isnan(hours))
		return xstrdup("");
	fmt_hours_minutes(hours, buf, sizeof buf);
	return xstrdup(buf);
}

/* The 14 formatted cells of r, in column order. */
static void
row_cells(const struct catalog_row *r, char **c)
{
	c[0] = text_cell(r->backup_name);
	c[1] = text_cell(r->server_name);
	c[2] = text_cell(r->description);
	c[3] = time_cell(r->backup_start);
	c[4] = time_cell(r->backup_end);
	c[5] = duration_cell(r->backup_duration);
	c[6] = count_cell(r->total_files_count);
	c[7] = count_cell(r->written_files_count);
	c[8] = bytes_cell(r->total_bytes);
	c[9] = bytes_cell(r->written_bytes);
	c[10] = text_cell(r->status);
	c[11] = text_cell(r->log);
	c[12] = text_cell(r->backup_location);
	c[13] = text_cell(r->type);
}

/* One line: each cell padded to its column's width, then '\n'. */
static void
put_line(struct buf *out, char *const *cells, const size_t *widths)
{
	for (size_t i = 0; i < DUMPSTAT_NCOLS; i++) {
		size_t w = width_of(cells[i]);

		if (i > 0)
			buf_putc(out, ' ');
		buf_puts(out, cells[i]);
		for (; w < widths[i]; w++)
			buf_putc(out, ' ');
	}
	buf_putc(out, '\n');
}

void
dumpstat_format(const struct catalog_row *rows, size_t n, struct buf *out)
{
	char **cells = xcalloc((n + 1) * DUMPSTAT_NCOLS, sizeof *cells);
	char *rule[DUMPSTAT_NCOLS];
	size_t widths[DUMPSTAT_NCOLS];

	for (size_t i = 0; i < n; i++)
		row_cells(&rows[i], cells + (i + 1) * DUMPSTAT_NCOLS);
	for (size_t c = 0; c < DUMPSTAT_NCOLS; c++) {
		cells[c] = (char *)columns[c];
		widths[c] = strlen(columns[c]);
		if (widths[c] < DUMPSTAT_MIN_WIDTH)
			widths[c] = DUMPSTAT_MIN_WIDTH;
		for (size_t i = 0; i < n; i++) {
			size_t w = width_of(cells[(i + 1) * DUMPSTAT_NCOLS + c]);

			if (w > widths[c])
				widths[c] = w;
		}
		rule[c] = xmalloc(widths[c] + 1);
		memset(rule[c], '-', widths[c]);
		rule[c][widths[c]] = '\0';
	}

	put_line(out, cells, widths);
	put_line(out, rule, widths);
	for (size_t i = 0; i < n; i++)
		put_line(out, cells + (i + 1) * DUMPSTAT_NCOLS, widths);

	for (size_t c = 0; c < DUMPSTAT_NCOLS; c++)
		free(rule[c]);
	for (size_t i = DUMPSTAT_NCOLS; i < (n + 1) * DUMPSTAT_NCOLS; i++)
		free(cells[i]);
	free(cells);
}

/*
 * The closing line about the backup filesystem of jobs' configuration
 * (nothing when it has none, or the filesystem does not read).
 */
static void
filesystem_line(const struct job *const *jobs, size_t n, struct buf *b)
{
	const struct config *cfg = n > 0 ? jobs[0]->cfg : NULL;
	char used[32], size[32], avail[32];
	struct disk_space ds;
	struct err err;

	err_clear(&err);
	if (cfg == NULL || cfg->backup_base_dir == NULL ||
	    disk_space_read(cfg->backup_base_dir, &ds, &err) == -1)
		return;
	fmt_bytes((double)ds.used_bytes, used, sizeof used);
	fmt_bytes((double)ds.size_bytes, size, sizeof size);
	fmt_bytes((double)ds.free_bytes, avail, sizeof avail);
	buf_printf(
	    b,
	    "\nbackup filesystem %s: %s used of %s (%.1f %%), %s free, %llu of %llu inodes free\n",
	    cfg->backup_base_dir, used, size, ds.used_percent, avail, ds.free_inodes, ds.inodes);
}

/*
 * Disk usage (diskusage.h), before the filesystem line: one line per job
 * with figures (each inode once across its snapshots), and the fill-up
 * forecast when the daily samples give a line.
 */
static void
disk_usage_lines(struct catalog *cat, const struct job *const *jobs, size_t n, struct buf *b)
{
	const struct config *cfg = n > 0 ? jobs[0]->cfg : NULL;
	struct diskusage_forecast fc;
	struct catalog_du *rows = NULL;
	size_t nrows = 0;
	char h[32];
	struct err err;

	err_clear(&err);
	if (cat == NULL || catalog_du_find(cat, NULL, &rows, &nrows, &err) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct catalog_du *job_row = NULL;
		size_t snaps = 0;

		for (size_t k = 0; k < nrows; k++) {
			if (strcmp(rows[k].backup_name, jobs[i]->name) != 0)
				continue;
			if (rows[k].snapshot[0] == '\0')
				job_row = &rows[k];
			else
				snaps++;
		}
		if (job_row == NULL)
			continue;
		fmt_bytes((double)job_row->unique_disk_bytes, h, sizeof h);
		buf_printf(b,
		           "%sdisk usage of %s: %zu snapshot%s, %s on disk (%lld bytes, apparent "
		           "%lld bytes, each inode once)\n",
		           b->len == 0 ? "\n" : "", jobs[i]->name, snaps, snaps == 1 ? "" : "s", h,
		           (long long)job_row->unique_disk_bytes, (long long)job_row->unique_bytes);
	}
	catalog_du_free(rows, nrows);
	if (diskusage_forecast_read(cat, cfg, time(NULL), &fc, &err) == -1 || !fc.fitted)
		return;
	fmt_bytes(fc.slope >= 0 ? fc.slope : -fc.slope, h, sizeof h);
	if (fc.full)
		buf_printf(b,
		           "%sbackup filesystem forecast: full on %s (in %.1f days) at %s a day, "
		           "fitted over the last %d days\n",
		           b->len == 0 ? "\n" : "", fc.full_day, fc.days_left, h, fc.window_days);
	else
		buf_printf(b,
		           "%sbackup filesystem forecast: not filling up (%s%s a day), fitted over "
		           "the last %d days\n",
		           b->len == 0 ? "\n" : "", fc.slope < 0 ? "-" : "", h, fc.window_days);
}

int
dumpstat_run(struct catalog *cat, const struct job *const *jobs, size_t n, int limit, FILE *out,
             struct err *err)
{
	struct catalog_row *rows;
	struct buf b;
	size_t nrows;
	int ret = -1;

	buf_init(&b, DUMPSTAT_OUT_LIMIT);
	for (size_t i = 0; i < n; i++) {
		rows = NULL;
		nrows = 0;
		if (cat != NULL && catalog_last_rows(cat, jobs[i]->name, NULL, "backup_end", limit,
		                                     &rows, &nrows, err) == -1) {
			err_wrap(err, "[%s] dumpstat", jobs[i]->name);
			goto out;
		}
		buf_reset(&b);
		if (i > 0)
			buf_putc(&b, '\n');
		dumpstat_format(rows, nrows, &b);
		catalog_rows_free(rows, nrows);
		if (fwrite(buf_str(&b), 1, b.len, out) != b.len) {
			err_set(err, "dumpstat: writing the table of %s failed", jobs[i]->name);
			goto out;
		}
	}
	buf_reset(&b);
	disk_usage_lines(cat, jobs, n, &b);
	filesystem_line(jobs, n, &b);
	if (b.len > 0 && fwrite(buf_str(&b), 1, b.len, out) != b.len) {
		err_set(err, "dumpstat: writing the filesystem line failed");
		goto out;
	}
	if (fflush(out) == EOF || ferror(out)) {
		err_set(err, "dumpstat: writing the output failed");
		goto out;
	}
	ret = 0;
out:
	buf_free(&b);
	return ret;
}
