/*
 * What the backups really use on the backup filesystem: per snapshot
 * (every link counted, and the bytes unique to it: what removing it would
 * free) and per job (each inode once across its snapshots), kept in the
 * catalog's disk_usage table and updated after each backup and cleanup
 * without walking the whole history; a daily sample of the filesystem's
 * used bytes in disk_samples, and the forecast of the day it is full from
 * a linear fit of those samples. docs/disk-space.md states the semantics.
 */
#ifndef TB_DISKUSAGE_H
#define TB_DISKUSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

struct catalog;
struct catalog_du_sample;
struct config;
struct job;

/* The figures of one walked tree (see struct catalog_du for each). */
struct diskusage_fig {
	int64_t bytes, disk_bytes;               /* every link counted */
	int64_t unique_bytes, unique_disk_bytes; /* inodes whose every link is in the tree */
	int64_t files;                           /* regular-file names */
};

/*
 * Walk the tree at path (a folder or a single file) once and fill *fig:
 * an entry is unique to the tree when all of its st_nlink links were
 * seen inside it (folders always are). 0, 1 when some entry could not be
 * read (the figures count what was), or -1 + err.
 */
int diskusage_walk(const char *path, struct diskusage_fig *fig, struct err *err);

/*
 * After job's backup wrote location (a FINAL entry of its folder): walk
 * it, then the older snapshots it shares inodes with (newest first, until
 * every shared inode was met: with --link-dest only the previous one),
 * update their rows and the job's, and record today's filesystem sample.
 * When the job's figures are missing or do not match the snapshots on
 * disk, walk them all once instead. 0, or -1 + err (the backup itself
 * stays good: the caller logs a warning).
 */
int diskusage_after_backup(struct catalog *cat, const struct job *job, const char *location,
                           struct err *err);

/* diskusage_after_backup(), a failure logged as a warning under job's name. */
void diskusage_account_backup(struct catalog *cat, const struct job *job, const char *location);

/*
 * Cleanup's two steps around a removal of some of job's entries
 * (locations, absolute paths): _prepare, before anything is removed,
 * walks them together and measures what their removal frees (inodes all
 * of whose links are among them); NULL when the job has no figures yet.
 * _finish, after the removal and with a writable catalog (or NULL: the
 * figures are then dropped and the next backup walks the snapshots
 * again), subtracts it, deletes the removed snapshots' rows, walks the
 * remaining snapshots next to each removed entry (their unique bytes may
 * grow) and records today's sample; it frees dc. Problems are logged as
 * warnings under the job's name.
 */
struct diskusage_cleanup;
struct diskusage_cleanup *diskusage_cleanup_prepare(struct catalog *cat, const struct job *job,
                                                    const char *const *locations, size_t n);
void diskusage_cleanup_finish(struct diskusage_cleanup *dc, struct catalog *cat);

/*
 * Record today's (local time of now) sample of the filesystem holding
 * base_dir: used bytes and used + available. 0 or -1 + err.
 */
int diskusage_sample(struct catalog *cat, const char *base_dir, time_t now, struct err *err);

/* ---- Forecast (diskusage_forecast.c) ---- */

#define DISKUSAGE_WINDOW_DAYS 30   /* [global] disk_forecast_window_days default */
#define DISKUSAGE_FORECAST_WARN 14 /* [global] disk_forecast_warn_days default */

struct diskusage_forecast {
	int window_days;   /* samples of the last window_days days (today included) are fitted */
	size_t nsamples;   /* how many were */
	int fitted;        /* at least two samples on different days */
	double slope;      /* bytes per day of the least-squares line */
	double used_today; /* the line at today */
	int64_t capacity;  /* the newest sample's used + available */
	int full;          /* the line reaches capacity (slope > 0) */
	double days_left;  /* from today to that day, >= 0 (0: already full) */
	char full_day[11]; /* that day, YYYY-MM-DD local, when full */
};

/*
 * The least-squares line through samples s (oldest first, one per day)
 * of the window_days days up to today (the local date of now), and where
 * it meets the newest sample's capacity. Pure.
 */
void diskusage_forecast(const struct catalog_du_sample *s, size_t n, time_t now, int window_days,
                        struct diskusage_forecast *out);

/*
 * [global] disk_forecast_window_days and disk_forecast_warn_days of cfg
 * (defaults above; config.c checked they are integers).
 */
void diskusage_forecast_limits(const struct config *cfg, int *window_days, int *warn_days);

/*
 * Read the samples of cfg's window from cat and forecast (now: today).
 * 0, or -1 + err.
 */
int diskusage_forecast_read(struct catalog *cat, const struct config *cfg, time_t now,
                            struct diskusage_forecast *out, struct err *err);

#endif
