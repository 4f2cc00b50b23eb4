/*
 * One backup run's lifecycle (SPEC §5): stamp, job lock, repair of
 * Running rows left by dead runs, the Running row, preexec, the driver,
 * postexec, the final row. The only code that turns a driver's outcome
 * into catalog state (through runrec.h, the run-record lifecycle).
 */
#ifndef TB_JOB_H
#define TB_JOB_H

#include "util/err.h"

struct catalog;
struct guiconf;
struct job;

struct run_opts {
	int dry_run;
	int verbose;
	const struct guiconf *alerts; /* [alerts] settings; NULL = no alerts */
};

enum job_outcome {
	JOB_OK = 0,
	JOB_FAILED = 1,
	JOB_BUSY = 2, /* another run holds the job's lock; nothing was recorded */
};

/*
 * Back up one job. Returns its outcome; on JOB_FAILED/JOB_BUSY err says
 * why (already logged under the job's name and, for JOB_FAILED, stored in
 * the catalog row). When the result could not be recorded, JOB_FAILED and
 * err says both that and what the backup itself did (runrec_finish()).
 */
enum job_outcome job_backup(struct catalog *cat, const struct job *job, const struct run_opts *o,
                            struct err *err);

#endif
