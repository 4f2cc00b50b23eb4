/*
 * Job summaries for the web (see jobview.h). Each job costs one index
 * range scan of idx_stats_backup_name_start (its last 30 rows), plus one
 * more only when none of those is OK; 200 jobs answer in milliseconds.
 */
#include "web/jobview.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config.h"
#include "progress_xfer.h"
#include "queue.h"
#include "drivers/driver.h"
#include "schedule.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "web/json.h"

#define VIEW_ROWS 30

const char *
jobview_target(const struct job *job)
{
	static const char *const keys[] = { "remote_dir", "db_name" };
	const char *v;

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if ((v = job_get(job, keys[i])) != NULL)
			return v;
	return "";
}

double
jobview_epoch(const char *iso)
{
	struct timeval tv;

	if (iso == NULL || time_parse_iso(iso, &tv) == -1)
		return -1;
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/*
 * The last attempt: a failed one is never "ok" on the dashboard, however
 * recent the last good backup (checknagios says so only with
 * nagios_warn_on_failed_attempt = yes).
 */
static void
jobview_attempt(struct job_view *jv)
{
	jv->failed = nagios_failed_attempt(jv->rows, jv->n);
	if (jv->failed != NULL && strcmp(jv->health, "ok") == 0)
		jv->health = "warning";
}

int
jobview_load(struct catalog *cat, const struct job *job, time_t now, struct job_view *jv,
             struct err *err)
{
	memset(jv, 0, sizeof *jv);
	jv->job = job;
	jv->now = now;
	if (cat != NULL) {
		if (catalog_last_rows(cat, job->name, "BACKUP", "backup_start", VIEW_ROWS,
		                      &jv->rows, &jv->n, err) == -1)
			return -1;
		for (size_t i = 0; i < jv->n && jv->last_ok == NULL; i++)
			if (jv->rows[i].status != NULL && strcmp(jv->rows[i].status, "OK") == 0)
				jv->last_ok = &jv->rows[i];
		if (jv->last_ok == NULL && jv->n == VIEW_ROWS) {
			struct catalog_filter f = { .backup_name = job->name,
				                    .type = "BACKUP",
				                    .status = "OK",
				                    .limit = 1 };

			if (catalog_find(cat, &f, &jv->ok_rows, &jv->nok, err) == -1)
				return -1;
			if (jv->nok > 0)
				jv->last_ok = &jv->ok_rows[0];
		}
	}
	jv->last = jv->n > 0 ? &jv->rows[0] : NULL;
	nagios_eval(job, jv->rows, jv->n, now, &jv->verdict);
	if (jv->last != NULL && jv->last->status != NULL &&
	    strcmp(jv->last->status, "Running") == 0)
		jv->health = "running";
	else if (jv->n == 0 && !(job->drv->caps & DRV_CAP_NO_BACKUP))
		jv->health = "unknown";
	else
		switch (jv->verdict.state) {
		case NAGIOS_OK:
			jv->health = "ok";
			break;
		case NAGIOS_WARNING:
			jv->health = "warning";
			break;
		case NAGIOS_CRITICAL:
			jv->health = "critical";
			break;
		default:
			jv->health = "unknown";
			break;
		}
	jobview_attempt(jv);
	return 0;
}

void
jobview_free(struct job_view *jv)
{
	catalog_rows_free(jv->rows, jv->n);
	catalog_rows_free(jv->ok_rows, jv->nok);
	nagios_verdict_free(&jv->verdict);
	memset(jv, 0, sizeof *jv);
}

/*
 * The last attempt's fields of a job object: last_attempt_failed,
 * last_error (the failed attempt's log, at most 600 bytes), health_message
 * (the checknagios line: why the job has its health).
 */
static void
jobview_attempt_json(struct buf *b, const struct job_view *jv)
{
	const char *log = jv->failed != NULL ? jv->failed->log : NULL;
	char *cut = NULL;

	buf_putc(b, ',');
	json_key(b, "last_attempt_failed");
	buf_puts(b, jv->failed != NULL ? "true" : "false");
	buf_putc(b, ',');
	json_key(b, "last_error");
	if (log != NULL && strlen(log) > 600) {
		size_t n = 600;

		while (n > 0 && ((unsigned char)log[n] & 0xC0) == 0x80)
			n--; /* not inside a UTF-8 character */
		cut = xstrndup(log, n);
		log = cut;
	}
	json_str(b, jv->failed != NULL ? (log != NULL ? log : "") : NULL);
	buf_putc(b, ',');
	json_key(b, "health_message");
	json_str(b, jv->verdict.message);
	free(cut);
}

time_t
jobview_next_run(const struct job *job, const char *key, time_t now)
{
	const char *text = job_get(job, key);
	struct schedule s;
	struct err err;
	time_t next;

	err_clear(&err);
	if (text == NULL || schedule_parse(text, &s, &err) == -1 ||
	    schedule_next(&s, now, &next) == -1)
		return -1;
	return next;
}

/* t as local ISO time with its UTC offset ("2026-12-05T03:00:00+01:00"), or "never". */
static void
next_json(struct buf *b, time_t t)
{
	struct tm tm;
	char s[40];
	size_t n;

	if (t < 0 || localtime_r(&t, &tm) == NULL) {
		json_str(b, "never");
		return;
	}
	n = strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (n == 24) { /* +0100 -> +01:00 */
		s[25] = '\0';
		s[24] = s[23];
		s[23] = s[22];
		s[22] = ':';
	}
	json_str(b, s);
}

/*
 * The schedules of a job object: schedule and cleanup_schedule (their
 * text, null when unset), next_run and next_cleanup (when serve's
 * scheduler starts them next, or "never").
 */
static void
jobview_schedule_json(struct buf *b, const struct job_view *jv)
{
	static const char *const keys[][2] = { { "schedule", "next_run" },
		                               { "cleanup_schedule", "next_cleanup" } };

	for (size_t i = 0; i < 2; i++) {
		buf_putc(b, ',');
		json_key(b, keys[i][0]);
		json_str(b, job_get(jv->job, keys[i][0]));
		buf_putc(b, ',');
		json_key(b, keys[i][1]);
		next_json(b, jobview_next_run(jv->job, keys[i][0], jv->now));
	}
}

/* n, or null when below 0 (unknown). */
static void
known_int(struct buf *b, int64_t n)
{
	if (n < 0)
		buf_puts(b, "null");
	else
		json_int(b, n);
}

void
jobview_progress_json(struct buf *b, const struct job *job)
{
	struct xfer_state xs;

	if (job->dir == NULL || !xfer_state_read(job->dir, &xs)) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '{');
	json_key(b, "bytes");
	json_int(b, xs.v.bytes > INT64_MAX ? INT64_MAX : (int64_t)xs.v.bytes);
	buf_putc(b, ',');
	json_key(b, "files");
	known_int(b, xs.v.files);
	buf_putc(b, ',');
	json_key(b, "rate_bps");
	known_int(b, xs.v.rate > 0 ? (int64_t)xs.v.rate : -1);
	buf_putc(b, ',');
	json_key(b, "percent");
	known_int(b, xs.v.percent);
	buf_putc(b, ',');
	json_key(b, "eta_s");
	known_int(b, xs.v.eta);
	buf_putc(b, ',');
	json_key(b, "expected_bytes");
	known_int(b, xs.v.expect > 0 && xs.v.expect <= INT64_MAX ? (int64_t)xs.v.expect : -1);
	buf_putc(b, ',');
	json_key(b, "started");
	next_json(b, xs.started);
	buf_putc(b, ',');
	json_key(b, "updated");
	next_json(b, xs.updated);
	buf_putc(b, '}');
}

void
jobview_json(struct buf *b, const struct job_view *jv)
{
	const struct job *job = jv->job;
	const struct catalog_row *l = jv->last;
	const char *st = NULL;

	if (l != NULL && l->status != NULL)
		st = strcmp(l->status, "OK") == 0 || strcmp(l->status, "Running") == 0 ? l->status
		                                                                       : "ERROR";
	buf_putc(b, '{');
	json_key(b, "name");
	json_str(b, job->name);
	buf_putc(b, ',');
	json_key(b, "server_name");
	json_str(b, job->server_name);
	buf_putc(b, ',');
	json_key(b, "type");
	json_str(b, job->drv->name);
	buf_putc(b, ',');
	/* single-file backups (a switch's configuration...): versions can be diffed */
	json_key(b, "single_file");
	buf_puts(b, job->drv->caps & DRV_CAP_FILE ? "true" : "false");
	buf_putc(b, ',');
	/* database dumps: restored with db, to_db, to_server (docs/restore.md) */
	json_key(b, "db_dump");
	buf_puts(b, job->drv->caps & DRV_CAP_DB_DUMP ? "true" : "false");
	buf_putc(b, ',');
	/* a job that records a server needing no backup (null): no data, no runs */
	json_key(b, "no_data");
	buf_puts(b, job->drv->caps & DRV_CAP_NO_BACKUP ? "true" : "false");
	buf_putc(b, ',');
	json_key(b, "target");
	json_str(b, jobview_target(job));
	buf_putc(b, ',');
	json_key(b, "last_status");
	json_str(b, st);
	buf_putc(b, ',');
	json_key(b, "last_start");
	json_catalog_time(b, l != NULL ? l->backup_start : NULL);
	buf_putc(b, ',');
	json_key(b, "last_end");
	json_catalog_time(b, l != NULL ? l->backup_end : NULL);
	buf_putc(b, ',');
	json_key(b, "last_duration_s");
	json_num(b, l != NULL ? l->backup_duration * 3600.0 : NAN);
	buf_putc(b, ',');
	json_key(b, "last_ok_end");
	json_catalog_time(b, jv->last_ok != NULL ? jv->last_ok->backup_end : NULL);
	buf_putc(b, ',');
	json_key(b, "age_hours");
	if (jv->last_ok != NULL && jobview_epoch(jv->last_ok->backup_end) >= 0)
		json_num(b,
		         round(((double)jv->now - jobview_epoch(jv->last_ok->backup_end)) / 36.0) /
		             100.0);
	else
		buf_puts(b, "null");
	buf_putc(b, ',');
	json_key(b, "last_written_bytes");
	json_int(b, l != NULL ? l->written_bytes : CATALOG_NULL);
	buf_putc(b, ',');
	json_key(b, "last_total_bytes");
	json_int(b, l != NULL ? l->total_bytes : CATALOG_NULL);
	buf_putc(b, ',');
	json_key(b, "maximum_backup_age");
	json_int(b, job->max_age_hours);
	buf_putc(b, ',');
	json_key(b, "health");
	json_str(b, jv->health);
	buf_putc(b, ',');
	json_key(b, "progress");
	if (strcmp(jv->health, "running") == 0)
		jobview_progress_json(b, job);
	else
		buf_puts(b, "null");
	jobview_attempt_json(b, jv);
	jobview_schedule_json(b, jv);
	buf_putc(b, '}');
}

/* A catalog row as an object; its times with their UTC offset when offset. */
static void
row_json(struct buf *b, const struct catalog_row *r, int offset)
{
	buf_puts(b, "{\"backup_name\":");
	json_str(b, r->backup_name);
	buf_puts(b, ",\"server_name\":");
	json_str(b, r->server_name);
	buf_puts(b, ",\"description\":");
	json_str(b, r->description);
	buf_puts(b, ",\"backup_start\":");
	if (offset)
		json_catalog_time(b, r->backup_start);
	else
		json_str(b, r->backup_start);
	buf_puts(b, ",\"backup_end\":");
	if (offset)
		json_catalog_time(b, r->backup_end);
	else
		json_str(b, r->backup_end);
	buf_puts(b, ",\"backup_duration\":");
	json_num(b, r->backup_duration);
	buf_puts(b, ",\"total_files_count\":");
	json_int(b, r->total_files_count);
	buf_puts(b, ",\"written_files_count\":");
	json_int(b, r->written_files_count);
	buf_puts(b, ",\"total_bytes\":");
	json_int(b, r->total_bytes);
	buf_puts(b, ",\"written_bytes\":");
	json_int(b, r->written_bytes);
	buf_puts(b, ",\"status\":");
	json_str(b, r->status);
	buf_puts(b, ",\"log\":");
	json_str(b, r->log);
	buf_puts(b, ",\"backup_location\":");
	json_str(b, r->backup_location);
	buf_puts(b, ",\"TYPE\":");
	json_str(b, r->type);
	buf_putc(b, '}');
}

void
jobview_row_json(struct buf *b, const struct catalog_row *r)
{
	row_json(b, r, 0);
}

void
jobview_api_row_json(struct buf *b, const struct catalog_row *r)
{
	row_json(b, r, 1);
}

const char **
jobview_pool_names(const struct queue_pool_stat *ps, size_t nps, const struct config *cfg,
                   size_t *n)
{
	const char **names = xcalloc(nps + cfg->njobs + 1, sizeof *names);
	size_t k;

	*n = 0;
	for (size_t i = 0; i < nps; i++)
		names[(*n)++] = ps[i].name;
	for (size_t i = 0; i < cfg->njobs; i++) {
		const char *p = job_pool(&cfg->jobs[i]);

		for (k = 0; k < *n && strcmp(names[k], p) != 0; k++)
			;
		if (k == *n)
			names[(*n)++] = p;
	}
	return names;
}
