/*
 * One backup run's lifecycle (see job.h). The order matters for crash
 * safety: the lock is taken before anything is written, Running rows left
 * by dead runs are repaired only while holding it (a live run would hold
 * it), and a snapshot becomes visible under its final name only after the
 * driver synced it.
 */
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "alert.h"
#include "catalog.h"
#include "filediff.h"
#include "config.h"
#include "diskusage.h"
#include "drivers/driver.h"
#include "lock.h"
#include "progress.h"
#include "progress_xfer.h"
#include "log.h"
#include "runrec.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

/*
 * When a backup failed for want of space in its job folder (the message
 * names a path inside it with ENOSPC's words, or its filesystem has not
 * one free block left), say that first, naming the folder: "the disk is
 * full (no space left in DIR): free space there, then run again: " then
 * the tool's own words. A remote disk running full (its path is not the
 * job folder's) is left as the tool said it.
 */
static void
note_disk_full(const struct job *job, struct err *e)
{
	struct statvfs sv;
	int full = strstr(e->msg, job->dir) != NULL && strstr(e->msg, strerror(ENOSPC)) != NULL;

	if (!full && statvfs(job->dir, &sv) == 0 && sv.f_bfree == 0)
		full = 1;
	if (full && strstr(e->msg, "the disk is full") == NULL)
		err_wrap(e,
		         "the disk is full (no space left in %s): free space there, then run again",
		         job->dir);
}

/*
 * Pick the run's stamp: the current second, or a later one while any name
 * the driver's layout gives that stamp (final or staging) already exists,
 * so two runs within one second never rename over each other. Waits for
 * the next second at most PICK_STAMP_TRIES - 1 times, then takes the
 * current one anyway.
 */
#define PICK_STAMP_TRIES 8
static void
pick_stamp(const struct job *job, struct timeval *start, char *stamp)
{
	for (int tries = 1;; tries++) {
		gettimeofday(start, NULL);
		time_stamp(start->tv_sec, stamp);
		if (tries == PICK_STAMP_TRIES || !driver_stamp_taken(job, stamp))
			return;
		/* Sleep to just past the next second boundary. */
		usleep((useconds_t)(1000000 - start->tv_usec) + 1000);
	}
}

static void
stats_free(struct drv_stats *st)
{
	free(st->location);
	free(st->log);
	free(st->changed_from);
	memset(st, 0, sizeof *st);
}

/*
 * A "changed" alert's content: the diff of the previous version against
 * the new one into diff (bounded), labelled with their file names. When
 * diff cannot run, the alert still goes out, saying so.
 */
static void
change_detail(const struct job *job, const struct drv_stats *st, struct alert_run *ar,
              struct buf *diff)
{
	const char *la = strrchr(st->changed_from, '/'), *lb = strrchr(st->location, '/');
	struct err e;

	la = la != NULL ? la + 1 : st->changed_from;
	lb = lb != NULL ? lb + 1 : st->location;
	err_clear(&e);
	ar->changed = 1;
	ar->previous = la;
	if (filediff(st->changed_from, st->location, la, lb, diff, &ar->cut, &e) == -1) {
		log_warning(job->name, "alerts: %s", e.msg);
		buf_reset(diff);
		buf_printf(diff, "(no diff: %s)\n", e.msg);
	}
	ar->detail = buf_str(diff);
}

/* Run preexec or postexec when configured. 0 or -1 + err. */
static int
run_hook(const struct job *job, struct progress *pg, const char *what, const char *command,
         const struct run_opts *o, struct err *err)
{
	if (command == NULL)
		return 0;
	if (o->dry_run) {
		log_info(job->name, "dry run: would run %s on %s: %s", what, job->server_name,
		         command);
		return 0;
	}
	return ssh_run_command(job, pg, what, command, (int)job_get_long(job, "exec_timeout", 3600),
	                       err);
}

/*
 * postexec_on_failure = yes: run postexec after a failed preexec or
 * backup too (typically to restart a service preexec stopped). Its own
 * failure is added to the job's error; the job stays failed either way.
 */
static void
run_postexec_after_failure(const struct job *job, struct progress *pg, const struct run_opts *o,
                           struct err *jerr)
{
	struct err perr;

	err_clear(&perr);
	log_info(job->name, "running postexec after the failure (postexec_on_failure = yes)");
	if (run_hook(job, pg, "postexec", job->postexec, o, &perr) == -1) {
		log_error(job->name, "%s", perr.msg);
		err_append_line(jerr, "%s", perr.msg);
	}
}

/*
 * catalog_durable() for the run's own records: off for the Running row,
 * where the run runs, alerts and disk-usage figures (what a power failure
 * may lose of them is harmless: a lost Running row is a run that left no
 * trace, lost figures are measured again), on for the result. Failing to
 * switch only costs speed or, when on fails, leaves the next commits
 * lazy until the result's: logged at DEBUG.
 */
static void
set_durable(struct catalog *cat, const struct job *job, int on)
{
	struct err e;

	err_clear(&e);
	if (catalog_durable(cat, on, &e) == -1)
		log_debug(job->name, "catalog: %s", e.msg);
}

/*
 * What the previous good backup of job moved (its written bytes), for the
 * progress report's ETA; 0 when unknown. A catalog error only costs the
 * ETA: logged at DEBUG.
 */
static uint64_t
previous_written(struct catalog *cat, const struct job *job)
{
	struct catalog_filter f = {
		.backup_name = job->name, .type = "BACKUP", .status = "OK", .limit = 1
	};
	struct catalog_row *rows = NULL;
	size_t n = 0;
	uint64_t v = 0;
	struct err e;

	err_clear(&e);
	if (catalog_find(cat, &f, &rows, &n, &e) == -1)
		log_debug(job->name, "progress: no previous size: %s", e.msg);
	else if (n > 0 && rows[0].written_bytes > 0)
		v = (uint64_t)rows[0].written_bytes;
	catalog_rows_free(rows, n);
	return v;
}

enum job_outcome
job_backup(struct catalog *cat, const struct job *job, const struct run_opts *o, struct err *err)
{
	struct progress pg;
	struct drv_run run = {
		.job = job, .dry_run = o->dry_run, .verbose = o->verbose, .progress = &pg
	};
	struct drv_stats st;
	struct job_lock lk = { .fd = -1 };
	struct runrec rr = { 0 };
	struct xfer_report xr = { 0 };
	struct timeval start;
	char stamp[TIME_STAMP_LEN + 1];
	int failed = 1;
	const char *failed_step = NULL; /* "preexec", "backup" or "postexec" */
	enum job_outcome outcome = JOB_FAILED;
	struct err derr;

	memset(&st, 0, sizeof st);
	err_clear(&derr);
	if (job->drv->caps & DRV_CAP_NO_BACKUP) {
		log_info(job->name, "type %s: nothing to back up", job->drv->name);
		return JOB_OK;
	}
	log_info(job->name, "Processing");
	/* The run's watchdog: max_runtime counts from here, for every step. */
	watchdog_arm(&pg, job);
	if (!o->dry_run && fs_mkdir_p(job->dir, 0750, err) == -1)
		goto fail_early;
	pick_stamp(job, &start, stamp);
	run.stamp = stamp;
	if (job->drv->priv_size > 0)
		run.priv = xcalloc(1, job->drv->priv_size);

	if (o->dry_run) {
		if (run_hook(job, &pg, "preexec", job->preexec, o, err) == -1 ||
		    job->drv->backup(&run, &st, err) == -1 ||
		    run_hook(job, &pg, "postexec", job->postexec, o, err) == -1)
			goto fail_early;
		outcome = JOB_OK;
		goto out;
	}

	if (lock_acquire(job->dir, stamp, &lk, err) == -1) {
		if (err->code == LOCK_BUSY) {
			log_error(job->name, "%s", err->msg);
			outcome = JOB_BUSY;
			goto out;
		}
		goto fail_early;
	}
	set_durable(cat, job, 0);
	if (runrec_repair_dead(cat, job, err) == -1)
		goto fail_early;
	if (runrec_begin(&rr, cat, job, "BACKUP", &start, NULL, err) == -1)
		goto fail_early;
	/* Transfer progress: a live line on a terminal, log lines, the web's state file. */
	xfer_report_open(&xr, job->name, job->dir, job_get_long(job, "progress_interval", 30),
	                 previous_written(cat, job), isatty(STDERR_FILENO) ? STDERR_FILENO : -1);
	pg.xfer = &xr;

	/*
	 * A signal that came before preexec started would not end it (spawn
	 * spares children started after a signal, for cleanups): stop here.
	 */
	if (spawn_interrupted()) {
		err_set(&derr, "stopped before preexec");
		failed_step = "preexec";
	} else if (run_hook(job, &pg, "preexec", job->preexec, o, &derr) == -1)
		failed_step = "preexec";
	else if (job->drv->backup(&run, &st, &derr) == -1)
		failed_step = "backup";
	else if (run_hook(job, &pg, "postexec", job->postexec, o, &derr) == -1)
		failed_step = "postexec";
	failed = failed_step != NULL;
	/* The transfer is over: wipe the live line before the verdict is logged. */
	pg.xfer = NULL;
	xfer_report_close(&xr);
	/* postexec did not run yet when an earlier step failed. */
	if (failed && strcmp(failed_step, "postexec") != 0 && job->postexec != NULL &&
	    job_get_bool(job, "postexec_on_failure", 0))
		run_postexec_after_failure(job, &pg, o, &derr);
	if (failed && spawn_interrupted()) {
		err_wrap(&derr, "interrupted by a signal");
		runrec_cancel_note(&derr); /* "cancelled by USER: ...", from the queue worker */
	} else if (failed)
		note_disk_full(job, &derr);

	/*
	 * Recording may fail: err then says that and what the backup did.
	 * The result is durable when recorded (and with it every lazy commit
	 * before it); the driver made the snapshot durable before that.
	 */
	set_durable(cat, job, 1);
	if (runrec_finish(&rr, &st, failed ? &derr : NULL, err) == -1) {
		log_error(job->name, "%s", err->msg);
		outcome = JOB_FAILED;
		goto out;
	}
	set_durable(cat, job, 0);
	/* An interrupted run is being stopped on purpose: no alert, no delay. */
	if (o->alerts != NULL && !spawn_interrupted()) {
		char host[256] = "localhost";
		struct alert_run ar = {
			.job = job->name,
			.server = job->server_name,
			.type = job->drv->name,
			.status = rr.status,
			.start = rr.start_iso,
			.end = rr.end_iso,
			.duration_s = runrec_seconds(&rr),
			.log = rr.log,
			.host = host,
		};

		struct buf diff;

		buf_init(&diff, ALERT_DIFF_MAX);
		gethostname(host, sizeof host - 1);
		if (!failed && st.changed_from != NULL && job_get_bool(job, "alert_on_change", 0))
			change_detail(job, &st, &ar, &diff);
		alert_after_run(o->alerts, cat, rr.rowid, &ar, rr.end.tv_sec);
		buf_free(&diff);
	}
	if (failed) {
		memcpy(err, &derr, sizeof *err);
		log_error(job->name, "backup failed: %s", err->msg);
		outcome = JOB_FAILED;
	} else {
		log_info(job->name, "backup OK in %.1f s: %s", runrec_seconds(&rr), rr.log);
		outcome = JOB_OK;
		diskusage_account_backup(cat, job, st.location);
	}
	goto out;

fail_early:
	if (!o->dry_run)
		note_disk_full(job, err);
	log_error(job->name, "backup failed: %s", err->msg);
	outcome = JOB_FAILED;
out:
	pg.xfer = NULL;
	xfer_report_close(&xr);
	if (lk.fd != -1)
		set_durable(cat, job, 1);
	lock_release(&lk);
	runrec_free(&rr);
	stats_free(&st);
	free(run.priv);
	return outcome;
}
