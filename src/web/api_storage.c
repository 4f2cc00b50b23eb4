/*
 * GET /api/v1/storage: what the backups use on the backup filesystem (the
 * catalog's disk_usage figures per job, each inode once), the
 * filesystem's daily samples of used bytes and the fill-up forecast
 * (diskusage.h); GET /api/v1/storage/NAME: one job's figures per
 * snapshot. docs/web-api.md has the fields, docs/disk-space.md their
 * meaning.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "diskspace.h"
#include "diskusage.h"
#include "util/buf.h"
#include "util/xmalloc.h"
#include "web/json.h"
#include "web/routes.h"
#include "web/server.h"

/* Seconds a cached answer may be old (the filesystem is not in the catalog). */
#define STORAGE_MAX_AGE 5
/* Samples the answer carries at most (the newest). */
#define STORAGE_SAMPLES_MAX 400

/* The figures of one disk_usage row, as the members of an open object. */
static void
figures_json(struct buf *b, const struct catalog_du *d)
{
	buf_printf(b,
	           "\"bytes\":%lld,\"disk_bytes\":%lld,\"unique_bytes\":%lld,"
	           "\"unique_disk_bytes\":%lld,\"files\":%lld,\"measured\":",
	           (long long)d->bytes, (long long)d->disk_bytes, (long long)d->unique_bytes,
	           (long long)d->unique_disk_bytes, (long long)d->files);
	json_time(b, d->measured);
}

static void
forecast_json(struct buf *b, const struct diskusage_forecast *f, int warn_days)
{
	buf_printf(b, ",\"forecast\":{\"window_days\":%d,\"warn_days\":%d,\"samples\":%zu,",
	           f->window_days, warn_days, f->nsamples);
	buf_puts(b, "\"slope_bytes_per_day\":");
	if (f->fitted)
		json_num(b, f->slope);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"used_bytes_today\":");
	if (f->fitted)
		json_num(b, f->used_today);
	else
		buf_puts(b, "null");
	buf_printf(b, ",\"capacity_bytes\":%lld,\"full_day\":", (long long)f->capacity);
	if (f->full)
		json_str(b, f->full_day);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"days_left\":");
	if (f->full)
		json_num(b, f->days_left);
	else
		buf_puts(b, "null");
	buf_putc(b, '}');
}

void
api_storage(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	struct catalog_du_sample *s = NULL;
	struct diskusage_forecast fc;
	struct catalog_du *rows = NULL;
	struct catalog *cat = NULL;
	struct disk_space ds;
	size_t n = 0, ns = 0, first;
	int64_t total = 0, total_disk = 0;
	int window, warn, have_fs;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	if (req_cache_get(r, "storage", STORAGE_MAX_AGE, out))
		return;
	if (req_catalog(r, &cat, &err) == -1 ||
	    (cat != NULL && (catalog_du_find(cat, NULL, &rows, &n, &err) == -1 ||
	                     catalog_du_samples(cat, NULL, &s, &ns, &err) == -1))) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	diskusage_forecast_limits(cfg, &window, &warn);
	diskusage_forecast(s, ns, time(NULL), window, &fc);
	buf_init(&b, (size_t)1 << 26);
	buf_puts(&b, "{\"jobs\":[");
	/* Jobs of the configuration only, in its order. */
	for (size_t j = 0, out_n = 0; j < cfg->njobs; j++) {
		const struct catalog_du *job_row = NULL;
		size_t snaps = 0;

		for (size_t i = 0; i < n; i++) {
			if (strcmp(rows[i].backup_name, cfg->jobs[j].name) != 0)
				continue;
			if (rows[i].snapshot[0] == '\0')
				job_row = &rows[i];
			else
				snaps++;
		}
		if (job_row == NULL)
			continue;
		total += job_row->unique_bytes;
		total_disk += job_row->unique_disk_bytes;
		buf_puts(&b, out_n++ > 0 ? ",{\"name\":" : "{\"name\":");
		json_str(&b, cfg->jobs[j].name);
		buf_printf(&b, ",\"snapshots\":%zu,", snaps);
		figures_json(&b, job_row);
		buf_putc(&b, '}');
	}
	buf_printf(&b, "],\"total\":{\"unique_bytes\":%lld,\"unique_disk_bytes\":%lld}",
	           (long long)total, (long long)total_disk);
	have_fs =
	    cfg->backup_base_dir != NULL && disk_space_read(cfg->backup_base_dir, &ds, &err) == 0;
	if (have_fs) {
		buf_puts(&b, ",\"filesystem\":{\"path\":");
		json_str(&b, cfg->backup_base_dir);
		buf_printf(&b, ",\"size_bytes\":%llu,\"used_bytes\":%llu,\"free_bytes\":%llu}",
		           ds.size_bytes, ds.used_bytes, ds.free_bytes);
	}
	buf_puts(&b, ",\"samples\":[");
	first = ns > STORAGE_SAMPLES_MAX ? ns - STORAGE_SAMPLES_MAX : 0;
	for (size_t i = first; i < ns; i++) {
		buf_puts(&b, i > first ? ",{\"day\":" : "{\"day\":");
		json_str(&b, s[i].day);
		buf_printf(&b, ",\"used_bytes\":%lld,\"capacity_bytes\":%lld}",
		           (long long)s[i].used_bytes, (long long)s[i].capacity_bytes);
	}
	buf_putc(&b, ']');
	forecast_json(&b, &fc, warn);
	buf_puts(&b, "}\n");
	reply_json(out, 200, &b);
	req_cache_put(r, "storage", out);
out:
	free(s);
	catalog_du_free(rows, n);
	req_catalog_put(r, cat);
}

void
api_storage_job(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	const char *name = r->url + strlen("/api/v1/storage/");
	const struct job *job = cfg != NULL ? config_find_job(cfg, name) : NULL;
	struct catalog_du *rows = NULL;
	struct catalog *cat = NULL;
	size_t n = 0, k = 0;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (job == NULL) {
		reply_error(r, out, 404, NULL, "no job called %s in the current configuration",
		            name);
		return;
	}
	if (req_catalog(r, &cat, &err) == -1 ||
	    (cat != NULL && catalog_du_find(cat, job->name, &rows, &n, &err) == -1)) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	buf_init(&b, (size_t)1 << 26);
	buf_puts(&b, "{\"name\":");
	json_str(&b, job->name);
	buf_puts(&b, ",\"total\":");
	if (n > 0 && rows[0].snapshot[0] == '\0') {
		buf_putc(&b, '{');
		figures_json(&b, &rows[0]);
		buf_putc(&b, '}');
		k = 1;
	} else
		buf_puts(&b, "null");
	buf_puts(&b, ",\"snapshots\":[");
	/* Newest first, like the job's history. */
	for (size_t i = n; i-- > k;) {
		buf_puts(&b, i + 1 < n ? ",{\"name\":" : "{\"name\":");
		json_str(&b, rows[i].snapshot);
		buf_putc(&b, ',');
		figures_json(&b, &rows[i]);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}\n");
	reply_json(out, 200, &b);
out:
	catalog_du_free(rows, n);
	req_catalog_put(r, cat);
}
