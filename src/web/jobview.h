/*
 * What the API, the dashboard and /metrics show about a job: its last
 * BACKUP rows from the catalog, the last good one, and its health (the
 * checknagios verdict, or "running"). Also the JSON of a catalog row as
 * /backups.json writes it (keyed by the catalog's column names).
 */
#ifndef TB_WEB_JOBVIEW_H
#define TB_WEB_JOBVIEW_H

#include <stddef.h>
#include <time.h>

#include "catalog.h"
#include "nagios.h"
#include "util/buf.h"
#include "util/err.h"

struct job;
struct config;
struct queue_pool_stat;

/*
 * Every pool name the queue knows (ps, in its order) followed by the pools
 * of cfg's jobs not among them, each once, in *n. The strings are borrowed
 * from ps and cfg; free() the array only.
 */
const char **jobview_pool_names(const struct queue_pool_stat *ps, size_t nps,
                                const struct config *cfg, size_t *n);

struct job_view {
	const struct job *job;
	struct catalog_row *rows; /* the last 30 BACKUP rows, newest start first */
	size_t n;
	struct catalog_row *ok_rows; /* the last OK row when not among rows */
	size_t nok;
	const struct catalog_row *last;    /* rows[0] or NULL */
	const struct catalog_row *last_ok; /* NULL if the job never succeeded */
	struct nagios_verdict verdict;
	const char *health;               /* ok, warning, critical, unknown, running */
	const struct catalog_row *failed; /* the newest attempt when it failed, else NULL */
	time_t now;
};

/* The folder or database a job saves (remote_dir, db_name, ...), "" if none. */
const char *jobview_target(const struct job *job);
/* Load the view of job from cat (NULL: no catalog yet) at time now. 0 or -1 + err. */
int jobview_load(struct catalog *cat, const struct job *job, time_t now, struct job_view *jv,
                 struct err *err);
void jobview_free(struct job_view *jv);
/* The job object of GET /api/v1/jobs (api.md), braces included. */
void jobview_json(struct buf *b, const struct job_view *jv);
/* A catalog row as an object keyed by column name (/backups.json). */
void jobview_row_json(struct buf *b, const struct catalog_row *r);
/*
 * The same for /api/v1/backups: backup_start and backup_end carry their
 * UTC offset ("2026-11-26T03:20:57.123456+01:00"); /backups.json keeps
 * the catalog's text (SPEC §11).
 */
void jobview_api_row_json(struct buf *b, const struct catalog_row *r);
/*
 * When serve's scheduler next starts job's key ("schedule" or
 * "cleanup_schedule") after now, or -1 when it never does (unset, "never").
 */
time_t jobview_next_run(const struct job *job, const char *key, time_t now);
/* Seconds since the epoch of a catalog ISO time, or -1. */
double jobview_epoch(const char *iso);
/*
 * The live progress of a running job (progress_xfer.h's state file in its
 * folder) as a JSON object: bytes, files, rate_bps, percent, eta_s,
 * expected_bytes (null when unknown), started, updated (ISO with offset);
 * null when the job moves nothing now.
 */
void jobview_progress_json(struct buf *b, const struct job *job);

#endif
