/*
 * What cleanup would decide for one job, row by row, without removing
 * anything: the view behind `cleanup --explain`, GET
 * /api/v1/jobs/NAME/retention and the job page's retention table. The
 * same code path as the cleanup itself (retention.c), so the explanation
 * is the decision.
 */
#ifndef TB_RETENTION_H
#define TB_RETENTION_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "retention_policy.h"
#include "util/err.h"

struct catalog;
struct job;

/* One backup of the job and what the policy says about it. */
struct retention_item {
	int64_t rowid;                /* -1: unfinished work no row records (an orphan) */
	const char *location;         /* as recorded, or the orphan's path */
	const char *start;            /* backup_start as recorded, "" for an orphan */
	time_t t;                     /* the start read by the policy (0 when unreadable) */
	const char *status;           /* the row's status, "unrecorded" for an orphan */
	int partial;                  /* an OK row of a partial transfer */
	int in_use;                   /* a running export reads it */
	int del;                      /* 1: cleanup deletes it */
	enum retention_reason reason; /* the deciding rule */
	unsigned rules;               /* every rule keeping it (RETENTION_RULE bits) */
};

struct retention_explain {
	struct retention_policy pol;
	char cutoff[11];              /* the age window's first day, YYYY-MM-DD */
	struct retention_item *items; /* newest first */
	size_t n;
	struct retention_summary sum; /* sum.keeper indexes items */
	void *priv;                   /* what items point into */
};

/*
 * The retention keys of job (backup_retention_time, keep_daily,
 * keep_weekly, keep_monthly, keep_yearly, keep_min_days; each from the
 * section, else [global]) as a policy: RETENTION_AGE when no keep_* key
 * is above 0, else RETENTION_GFS.
 */
void retention_job_policy(const struct job *job, struct retention_policy *pol);

/*
 * Decide for job at time now from the catalog cat (may be NULL: no rows)
 * and its folder (unrecorded unfinished work older than the cutoff is
 * listed too). Fills *x, freed with retention_explain_free() (also after
 * a failure). 0, or -1 + err (a catalog error, an unreadable job folder).
 */
int retention_explain_job(struct catalog *cat, const struct job *job, time_t now,
                          struct retention_explain *x, struct err *err);
void retention_explain_free(struct retention_explain *x);

/*
 * x as the text of `cleanup --explain` for job: a header with the policy,
 * then one line per backup (start, status, keep/delete, rule, location).
 */
void retention_explain_print(FILE *out, const struct job *job, const struct retention_explain *x);

/* "backup_retention_time 30, keep_daily 7..." for pol, into out (size bytes). */
void retention_policy_text(const struct retention_policy *pol, char *out, size_t size);

#endif
