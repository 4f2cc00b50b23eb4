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
 * Judge one job from rows (its BACKUP rows, newest start first), at time
 * now with the job's maximum age in hours. Looks at the backup location on
 * disk as SPEC §7 says. driver_name decides null / copy-vm-xcp rules.
 */
void nagios_eval(const char *name, const char *driver_name, const struct catalog_row *rows,
                 size_t n, time_t now, int max_age_hours, struct nagios_verdict *v);
void nagios_verdict_free(struct nagios_verdict *v);

/*
 * The whole check over jobs: writes the summary line (with performance
 * data) and one line per job to out, and returns the exit code (0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN). cat may be NULL (no catalog yet:
 * every job has no backup).
 */
int nagios_run(struct catalog *cat, const struct job *const *jobs, size_t n, time_t now, FILE *out);

#endif
