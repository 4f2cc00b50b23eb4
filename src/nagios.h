/*
 * checknagios: one monitoring verdict per job from its last 30 BACKUP rows,
 * the original's messages and order, plus Monitoring-Plugins performance
 * data (age of the last good backup, its size) after '|'.
 */
#ifndef TB_NAGIOS_H
#define TB_NAGIOS_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "util/buf.h"

struct catalog;
struct catalog_row;
struct job;

enum nagios_state {
	NAGIOS_OK = 0,
	NAGIOS_WARNING = 1,
	NAGIOS_CRITICAL = 2,
	NAGIOS_UNKNOWN = 3,
};

/* The verdict of one job, with what the performance data needs. */
struct nagios_verdict {
	enum nagios_state state;
	char *message;   /* owned: the text after "[NAME]:" */
	long age_sec;    /* seconds since the end of the last good backup, -1 if none */
	long long bytes; /* its total_bytes, -1 if none */
};

/*
 * Judge job (its name, driver and maximum_backup_age are used) from rows
 * (its BACKUP rows, newest start first) at time now. Whether the newest
 * good backup is still there is asked of the driver's check hook
 * (driver_check(), SPEC §7); a driver without data (DRV_CAP_NO_BACKUP) is
 * always OK. An OK verdict becomes WARNING when the newest attempt
 * failed and the job sets nagios_warn_on_failed_attempt = yes, or when
 * the good backup is older than maximum_backup_age_warning hours.
 * v->message is owned by the caller (nagios_verdict_free()).
 */
void nagios_eval(const struct job *job, const struct catalog_row *rows, size_t n, time_t now,
                 struct nagios_verdict *v);
void nagios_verdict_free(struct nagios_verdict *v);

/*
 * The newest finished attempt of rows (newest start first; Running rows
 * skipped) when it failed (ERROR or any status but OK and Warning), else
 * NULL: a job whose last attempt failed is not healthy, however recent
 * its last good backup. checknagios says so with the job's
 * nagios_warn_on_failed_attempt = yes, the dashboard always.
 */
const struct catalog_row *nagios_failed_attempt(const struct catalog_row *rows, size_t n);

/*
 * The job's maximum_backup_age_warning in seconds, or -1 when unset, 0, or
 * not below maximum_backup_age (then only the critical age applies).
 */
long nagios_warn_age_sec(const struct job *job);

/*
 * The whole check over jobs: writes the summary line (with performance
 * data) and one line per job to out, and returns the exit code (0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN). cat may be NULL (no catalog yet:
 * every job has no backup). Every job with data has an age in the
 * performance data: 'U' when it has no good backup.
 */
int nagios_run(struct catalog *cat, const struct job *const *jobs, size_t n, time_t now, FILE *out);

#endif
