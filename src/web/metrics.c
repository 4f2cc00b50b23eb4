/*
 * GET /metrics: Prometheus text exposition of every job of the current
 * config (last success time, last duration, bytes, state, runs by
 * result), of the queue (runs in progress, queued), of the backup
 * filesystem (size, free bytes and inodes) and of the build.
 * The job's label is backup_job (Prometheus sets its own "job" label on
 * every scraped series, and would rename ours exported_job). Label
 * values are escaped as the format says (backslash, double quote,
 * newline). Every job series also carries the job's worker pool (pool);
 * per pool: its live workers and its queued and running runs (a pool with
 * jobs and no worker shows 0 workers). Then serve's response cache
 * counters (hits, misses, builds, shared builds) per kind of answer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "diskspace.h"
#include "diskusage.h"
#include "drivers/driver.h"
#include "queue.h"
#include "util/xmalloc.h"
#include "web/jobview.h"
#include "web/routes.h"
#include "web/server.h"

/* Seconds a cached exposition may be old (the queue gauges are not in the catalog). */
#define METRICS_MAX_AGE 2

static void
label(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(b, '\\');
		if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

static void
help(struct buf *b, const char *name, const char *type, const char *text)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/*
 * serve's response cache, per kind of answer: hits, misses, builds from
 * the catalog, and misses that waited for another request's build and
 * sent its body (their count as of this exposition's build).
 */
static void
cache_series(struct buf *b, struct req *r)
{
	static const struct {
		const char *name, *text;
	} series[] = {
		{ "tisbackup_web_cache_hits_total", "Answers sent from serve's response cache." },
		{ "tisbackup_web_cache_misses_total",
		  "Answers not in the cache (built or shared)." },
		{ "tisbackup_web_cache_builds_total", "Answers built from the catalog on a miss." },
		{ "tisbackup_web_cache_shared_total",
		  "Misses answered with the body of another request's build." },
	};
	struct cache_counters c[16];
	size_t n = req_cache_counters(r, c, sizeof c / sizeof c[0]);

	for (size_t k = 0; k < sizeof series / sizeof series[0]; k++) {
		help(b, series[k].name, "counter", series[k].text);
		for (size_t i = 0; i < n; i++) {
			unsigned long long v = k == 0   ? c[i].hit
			                       : k == 1 ? c[i].miss
			                       : k == 2 ? c[i].build
			                                : c[i].shared;

			buf_printf(b, "%s{kind=\"%s\"} %llu\n", series[k].name, c[i].kind, v);
		}
	}
}

static void
labels(struct buf *b, const struct job *j)
{
	buf_puts(b, "{backup_job=");
	label(b, j->name);
	buf_puts(b, ",server=");
	label(b, j->server_name);
	buf_puts(b, ",type=");
	label(b, j->drv->name);
	buf_puts(b, ",pool=");
	label(b, job_pool(j));
}

/*
 * Per pool: live workers, queued and running runs, for every pool the
 * queue knows and every pool of cfg's jobs (a pool nobody serves: 0).
 */
static void
pool_gauges(struct buf *b, struct queue *q, const struct config *cfg)
{
	static const struct {
		const char *name, *help;
	} g[] = {
		{ "tisbackup_pool_workers", "Live workers serving the worker pool." },
		{ "tisbackup_pool_runs_queued", "Runs of the worker pool waiting for a worker." },
		{ "tisbackup_pool_runs_in_progress", "Runs of the worker pool being executed." },
	};
	struct queue_pool_stat *ps = NULL;
	size_t nps = 0, nall = 0;
	const char **names;
	struct err err;

	if (queue_pools(q, &ps, &nps, &err) == -1)
		return; /* tisbackup_queue_up says the queue is down */
	names = jobview_pool_names(ps, nps, cfg, &nall);
	for (size_t m = 0; m < sizeof g / sizeof g[0]; m++) {
		help(b, g[m].name, "gauge", g[m].help);
		for (size_t i = 0; i < nall; i++) {
			int v = 0;

			if (i < nps)
				v = m == 0 ? ps[i].workers : m == 1 ? ps[i].queued : ps[i].running;
			buf_printf(b, "%s{pool=", g[m].name);
			label(b, names[i]);
			buf_printf(b, "} %d\n", v);
		}
	}
	free(names);
	queue_pool_stats_free(ps, nps);
}

/* The backup filesystem's gauges (statvfs of backup_base_dir), when it reads. */
static void
filesystem_gauges(struct buf *b, const struct config *cfg)
{
	static const struct {
		const char *name, *help;
	} g[] = {
		{ "tisbackup_filesystem_size_bytes", "Size of the backup filesystem." },
		{ "tisbackup_filesystem_used_bytes", "Bytes used on the backup filesystem." },
		{ "tisbackup_filesystem_free_bytes",
		  "Bytes a backup can still write on the backup filesystem (df's Avail)." },
		{ "tisbackup_filesystem_inodes", "Inodes of the backup filesystem." },
		{ "tisbackup_filesystem_free_inodes",
		  "Inodes still free on the backup filesystem." },
	};
	struct disk_space ds;
	unsigned long long v[5];
	struct err err;

	err_clear(&err);
	if (cfg->backup_base_dir == NULL || disk_space_read(cfg->backup_base_dir, &ds, &err) == -1)
		return;
	v[0] = ds.size_bytes;
	v[1] = ds.used_bytes;
	v[2] = ds.free_bytes;
	v[3] = ds.inodes;
	v[4] = ds.free_inodes;
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
		help(b, g[i].name, "gauge", g[i].help);
		buf_printf(b, "%s{path=", g[i].name);
		label(b, cfg->backup_base_dir);
		buf_printf(b, "} %llu\n", v[i]);
	}
}

/*
 * Disk usage (diskusage.h): per job, each inode once across its snapshots
 * (allocated and apparent bytes, snapshots counted), and the fill-up
 * forecast of the backup filesystem when its line grows. 0 or -1 + err.
 */
static int
disk_usage_gauges(struct buf *b, struct catalog *cat, const struct config *cfg,
                  const struct job_view *views, size_t nv, time_t now, struct err *err)
{
	struct diskusage_forecast fc;
	struct catalog_du *rows = NULL;
	size_t n = 0;

	if (catalog_du_find(cat, NULL, &rows, &n, err) == -1 ||
	    diskusage_forecast_read(cat, cfg, now, &fc, err) == -1) {
		catalog_du_free(rows, n);
		return -1;
	}
	help(b, "tisbackup_job_disk_bytes", "gauge",
	     "Bytes allocated to the job's snapshots, each hard-linked inode once.");
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 1)
			help(b, "tisbackup_job_apparent_bytes", "gauge",
			     "Apparent size of the job's snapshots, each hard-linked inode once "
			     "(du -sb).");
		if (pass == 2)
			help(b, "tisbackup_job_snapshots", "gauge",
			     "Snapshots of the job whose disk usage is known.");
		for (size_t i = 0; i < nv; i++) {
			static const char *const names[] = { "tisbackup_job_disk_bytes",
				                             "tisbackup_job_apparent_bytes",
				                             "tisbackup_job_snapshots" };
			const struct catalog_du *job_row = NULL;
			long long snaps = 0;

			for (size_t k = 0; k < n; k++) {
				if (strcmp(rows[k].backup_name, views[i].job->name) != 0)
					continue;
				if (rows[k].snapshot[0] == '\0')
					job_row = &rows[k];
				else
					snaps++;
			}
			if (job_row == NULL)
				continue;
			buf_puts(b, names[pass]);
			labels(b, views[i].job);
			buf_printf(b, "} %lld\n",
			           pass == 0   ? (long long)job_row->unique_disk_bytes
			           : pass == 1 ? (long long)job_row->unique_bytes
			                       : snaps);
		}
	}
	catalog_du_free(rows, n);
	if (fc.fitted && cfg->backup_base_dir != NULL) {
		help(b, "tisbackup_filesystem_growth_bytes_per_day", "gauge",
		     "Slope of the least-squares line through the daily used bytes.");
		buf_puts(b, "tisbackup_filesystem_growth_bytes_per_day{path=");
		label(b, cfg->backup_base_dir);
		buf_printf(b, "} %.0f\n", fc.slope);
	}
	if (fc.full && cfg->backup_base_dir != NULL) {
		help(b, "tisbackup_filesystem_full_in_days", "gauge",
		     "Days until the backup filesystem is full at the current rate.");
		buf_puts(b, "tisbackup_filesystem_full_in_days{path=");
		label(b, cfg->backup_base_dir);
		buf_printf(b, "} %.1f\n", fc.days_left);
	}
	return 0;
}

/*
 * When serve's scheduler next starts each job's backup and cleanup
 * (seconds since the epoch; +Inf for "never": unscheduled).
 */
static void
next_run_gauges(struct buf *b, const struct job_view *views, size_t nv, time_t now)
{
	static const char *const keys[][2] = { { "schedule", "backup" },
		                               { "cleanup_schedule", "cleanup" } };

	help(b, "tisbackup_job_next_run_timestamp_seconds", "gauge",
	     "When the scheduler of serve next starts the job (+Inf: never).");
	for (size_t i = 0; i < nv; i++) {
		for (size_t k = 0; k < 2; k++) {
			time_t t = jobview_next_run(views[i].job, keys[k][0], now);

			buf_puts(b, "tisbackup_job_next_run_timestamp_seconds");
			labels(b, views[i].job);
			buf_printf(b, ",action=\"%s\"} ", keys[k][1]);
			if (t < 0)
				buf_puts(b, "+Inf\n");
			else
				buf_printf(b, "%lld\n", (long long)t);
		}
	}
}

/* The first of counts[0..n-1] (sorted by name) of job name, or n. */
static size_t
counts_of(const struct catalog_run_count *counts, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(counts[mid].backup_name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * tisbackup_job_runs_total: the job's finished backup runs by result,
 * from its BACKUP rows and the CLEAN rows cleanup left of them (so the
 * count never goes down). All jobs' counts come from one read of the
 * catalog, remembered until its next commit. 0 or -1 + err.
 */
static int
runs_by_result(struct buf *b, struct catalog *cat, const struct job_view *views, size_t nv,
               struct err *err)
{
	static const struct {
		const char *status, *result;
	} results[] = { { "OK", "ok" }, { "ERROR", "error" } };
	struct catalog_run_count *counts = NULL;
	size_t ncounts = 0;

	/* No catalog yet (nothing ever ran): no runs. */
	if (cat != NULL && catalog_run_counts(cat, &counts, &ncounts, err) == -1)
		return -1;
	help(b, "tisbackup_job_runs_total", "counter",
	     "Finished backup runs of the job, by result (ok, error).");
	for (size_t i = 0; i < nv; i++) {
		const char *name = views[i].job->name;
		size_t first = counts_of(counts, ncounts, name);

		for (size_t k = 0; k < sizeof results / sizeof results[0]; k++) {
			long long total = 0;

			for (size_t c = first;
			     c < ncounts && strcmp(counts[c].backup_name, name) == 0; c++)
				if ((strcmp(counts[c].type, "BACKUP") == 0 ||
				     strcmp(counts[c].type, "CLEAN") == 0) &&
				    strcmp(counts[c].status, results[k].status) == 0)
					total += (long long)counts[c].count;
			buf_puts(b, "tisbackup_job_runs_total");
			labels(b, views[i].job);
			buf_printf(b, ",result=\"%s\"} %lld\n", results[k].result, total);
		}
	}
	catalog_run_counts_free(counts, ncounts);
	return 0;
}

void
metrics_get(struct req *r, struct reply *out)
{
	static const char *const states[] = { "ok", "error", "running", "never" };
	const struct config *cfg = req_config(r, NULL);
	struct job_view *views = NULL;
	struct queue_run *runs = NULL;
	struct catalog *cat = NULL;
	size_t nruns = 0, nv = 0;
	time_t now = time(NULL);
	struct queue *q = NULL;
	struct err err;
	struct buf *b = &out->body;

	err_clear(&err);
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	if (req_cache_get(r, "metrics", METRICS_MAX_AGE, out))
		return;
	if (req_catalog(r, &cat, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		return;
	}
	views = xcalloc(cfg->njobs + 1, sizeof *views);
	for (nv = 0; nv < cfg->njobs; nv++) {
		if (jobview_load(cat, &cfg->jobs[nv], now, &views[nv], &err) == -1) {
			jobview_free(&views[nv]);
			reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
			goto out;
		}
	}
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";

	help(b, "tisbackup_build_info", "gauge", "The running version: always 1.");
	buf_puts(b, "tisbackup_build_info{version=");
	label(b, TB_VERSION);
	buf_puts(b, "} 1\n");
	help(b, "tisbackup_job_last_success_timestamp_seconds", "gauge",
	     "End of the last OK backup (seconds since the epoch).");
	for (size_t i = 0; i < nv; i++) {
		double t =
		    views[i].last_ok != NULL ? jobview_epoch(views[i].last_ok->backup_end) : -1;

		if (t < 0)
			continue;
		buf_puts(b, "tisbackup_job_last_success_timestamp_seconds");
		labels(b, views[i].job);
		buf_printf(b, "} %.3f\n", t);
	}
	help(b, "tisbackup_job_last_duration_seconds", "gauge", "Duration of the last backup.");
	for (size_t i = 0; i < nv; i++) {
		const struct catalog_row *l = views[i].last;

		if (l == NULL || isnan(l->backup_duration))
			continue;
		buf_puts(b, "tisbackup_job_last_duration_seconds");
		labels(b, views[i].job);
		buf_printf(b, "} %.3f\n", l->backup_duration * 3600.0);
	}
	help(b, "tisbackup_job_last_written_bytes", "gauge", "Bytes written by the last backup.");
	for (size_t i = 0; i < nv; i++) {
		const struct catalog_row *l = views[i].last;

		if (l == NULL || l->written_bytes == CATALOG_NULL)
			continue;
		buf_puts(b, "tisbackup_job_last_written_bytes");
		labels(b, views[i].job);
		buf_printf(b, "} %lld\n", (long long)l->written_bytes);
	}
	help(b, "tisbackup_job_last_total_bytes", "gauge", "Size of the last backup.");
	for (size_t i = 0; i < nv; i++) {
		const struct catalog_row *l = views[i].last;

		if (l == NULL || l->total_bytes == CATALOG_NULL)
			continue;
		buf_puts(b, "tisbackup_job_last_total_bytes");
		labels(b, views[i].job);
		buf_printf(b, "} %lld\n", (long long)l->total_bytes);
	}
	help(b, "tisbackup_job_state", "gauge", "State of the last backup: 1 for the current one.");
	for (size_t i = 0; i < nv; i++) {
		const struct catalog_row *l = views[i].last;
		const char *st = "never";

		if (l != NULL && l->status != NULL)
			st = strcmp(l->status, "OK") == 0        ? "ok"
			     : strcmp(l->status, "Running") == 0 ? "running"
			                                         : "error";
		for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
			buf_puts(b, "tisbackup_job_state");
			labels(b, views[i].job);
			buf_printf(b, ",state=\"%s\"} %d\n", states[k], strcmp(st, states[k]) == 0);
		}
	}
	next_run_gauges(b, views, nv, now);
	filesystem_gauges(b, cfg);
	if (cat != NULL && disk_usage_gauges(b, cat, cfg, views, nv, now, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	if (runs_by_result(b, cat, views, nv, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	q = req_queue(r, NULL, &err);
	if (q != NULL && queue_list(q, 1, 100000, &runs, &nruns, &err) == 0) {
		size_t running = 0;

		for (size_t i = 0; i < nruns; i++)
			running += runs[i].state == QUEUE_RUNNING;
		help(b, "tisbackup_runs_in_progress", "gauge", "Runs being executed by a worker.");
		buf_printf(b, "tisbackup_runs_in_progress %zu\n", running);
		help(b, "tisbackup_runs_queued", "gauge", "Runs waiting for a worker.");
		buf_printf(b, "tisbackup_runs_queued %zu\n", nruns - running);
		help(b, "tisbackup_queue_up", "gauge", "1 when the queue answers.");
		buf_puts(b, "tisbackup_queue_up 1\n");
		pool_gauges(b, q, cfg);
	} else {
		help(b, "tisbackup_queue_up", "gauge", "1 when the queue answers.");
		buf_puts(b, "tisbackup_queue_up 0\n");
	}
	cache_series(b, r);
	req_cache_put(r, "metrics", out);
out:
	queue_runs_free(runs, nruns);
	req_queue_put(r, q);
	for (size_t i = 0; i < nv; i++)
		jobview_free(&views[i]);
	free(views);
	req_catalog_put(r, cat);
}
