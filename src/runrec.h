/*
 * One run's catalog record, the same for every kind of run (BACKUP,
 * EXPORT, and the coming RESTORE and VERIFY): runrec_begin() inserts the
 * Running row, runrec_finish() writes the outcome into it (counts, bytes,
 * location, log, status, end, duration), runrec_repair_dead() ends the
 * Running rows of runs that died. One rule: a run's own outcome is never
 * lost because recording it failed; the error runrec_finish() returns
 * then says both.
 */
#ifndef TB_RUNREC_H
#define TB_RUNREC_H

#include <stdint.h>
#include <sys/time.h>

#include "util/err.h"
#include "util/timefmt.h"

/*
 * What a queue worker puts in the environment of the run it starts
 * (worker.c), so runrec_begin() records them: the worker's id
 * (HOST:PID/SLOT) and the run's pool.
 */
#define RUNREC_ENV_WORKER "TISBACKUP_WORKER"
#define RUNREC_ENV_POOL "TISBACKUP_POOL"
/*
 * The file where the queue worker writes why it ends the run ("cancelled
 * by USER") just before its SIGTERM; runrec_cancel_note() reads it.
 */
#define RUNREC_ENV_CANCEL_NOTE "TISBACKUP_CANCEL_NOTE"
#define RUNREC_CANCEL_NOTE_MAX 256

struct catalog;
struct drv_stats;
struct job;

struct runrec {
	struct catalog *cat;
	const char *name; /* the job's, for log lines */
	char what[16];    /* the TYPE in lower case, for messages: "backup", "export" */
	int64_t rowid;
	struct timeval start, end; /* end: set by runrec_finish() */
	char start_iso[TIME_ISO_LEN + 1];
	char end_iso[TIME_ISO_LEN + 1];
	/* Set by runrec_finish(), recorded or not: */
	const char *status; /* "OK" or "ERROR" */
	char *log;          /* the row's log (owned; runrec_free()) */
};

/*
 * Insert the Running row of a run of job: its name, server, description,
 * backup_start = start (NULL: now), TYPE type ("BACKUP", "EXPORT", ...),
 * backup_location location (may be NULL), and where it runs (run_host:
 * this host, RUNREC_ENV_WORKER and RUNREC_ENV_POOL when set, the real
 * path of job's configuration; a warning only when that part cannot be
 * written). rr is filled for runrec_finish(); cat must stay open until
 * then. 0, or -1 + err (the catalog's error; nothing was recorded).
 */
int runrec_begin(struct runrec *rr, struct catalog *cat, const struct job *job, const char *type,
                 const struct timeval *start, const char *location, struct err *err);

/*
 * Record the outcome of the run begun with rr: ERROR with run_err's
 * message as log when run_err is set (st's counts and location still
 * recorded), else OK with st->log ("" when NULL) and, when st->partial,
 * CATALOG_LOG_PARTIAL appended (the catalog's mark of an incomplete
 * result). st may be NULL (no counts, no location). The end is now.
 * rr->status, rr->log and rr->end are set either way.
 *
 * 0 once recorded. -1 when recording failed: err then says both that
 * recording failed and what the run itself did:
 * "recording the backup's result failed: WHY; the backup itself failed:
 * RUN ERROR" (or "... succeeded: LOG"), recording first so that a long
 * run error cut at ERR_MSG_MAX never hides it; err->code is run_err's.
 * err may be run_err.
 */
int runrec_finish(struct runrec *rr, const struct drv_stats *st, const struct err *run_err,
                  struct err *err);

/*
 * Record that a run of job (an invalid job: job->invalid set) could not
 * start: a row of TYPE type, ERROR, whose log is job->invalid. 0 or -1 +
 * err.
 */
int runrec_record_invalid(struct catalog *cat, const struct job *job, const char *type,
                          struct err *err);

/*
 * For a run interrupted by a signal: when the queue worker left a note
 * saying why (RUNREC_ENV_CANCEL_NOTE names the file; its first line, at
 * most RUNREC_CANCEL_NOTE_MAX - 1 bytes), prefix e with it ("cancelled by
 * admin: ..."), so the catalog row, the run log and the alert say who
 * stopped the run. Nothing otherwise (no note, unreadable, empty).
 */
void runrec_cancel_note(struct err *e);

/* Seconds from the run's start to its end (runrec_finish()). */
double runrec_seconds(const struct runrec *rr);

/* Free what runrec_finish() allocated. NULL-safe, idempotent. */
void runrec_free(struct runrec *rr);

/*
 * Mark the Running rows of job left by runs that died (killed process,
 * stopped machine) as ERROR, saying so in their log, and log a warning
 * when there were some. The caller holds the job's lock, so no live run
 * owns one. 0, or -1 + err.
 */
int runrec_repair_dead(struct catalog *cat, const struct job *job, struct err *err);

/*
 * runrec_repair_dead() by a caller that knows what ended the run that
 * left the rows (the queue worker that killed it): their log says
 * "interrupted: CAUSE; ..." instead of guessing. cause NULL: the same as
 * runrec_repair_dead(). 0, or -1 + err.
 */
int runrec_repair_killed(struct catalog *cat, const struct job *job, const char *cause,
                         struct err *err);

#endif
