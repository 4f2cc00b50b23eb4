/*
 * The `backup` action: run every selected job in config order; a failing
 * job is logged and does not stop the others; a summary line at the end
 * like the original's.
 */
#include <stdlib.h>

#include "actions.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "spawn.h"
#include "util/buf.h"

int
backup_run(const struct action_ctx *a)
{
	struct run_opts o = { .dry_run = a->dry_run, .verbose = a->verbose };
	struct buf ok, failed;
	int rc = 0;

	buf_init(&ok, 1 << 20);
	buf_init(&failed, 1 << 20);
	for (size_t i = 0; i < a->njobs; i++) {
		const struct job *job = a->jobs[i];
		struct err err;

		err_clear(&err);
		if (spawn_interrupted()) {
			log_warning(NULL, "interrupted: not starting [%s]", job->name);
			buf_printf(&failed, "%s%s", failed.len ? "," : "", job->name);
			rc = EXIT_JOBS;
			continue;
		}
		if (job_backup(a->cat, job, &o, &err) == JOB_OK) {
			buf_printf(&ok, "%s%s", ok.len ? "," : "", job->name);
		} else {
			buf_printf(&failed, "%s%s", failed.len ? "," : "", job->name);
			rc = EXIT_JOBS;
		}
	}
	if (ok.len == 0 && failed.len == 0)
		log_critical(NULL, "No backup properly finished or processed");
	if (ok.len > 0)
		log_info(NULL, "Backup processed : %s", buf_str(&ok));
	if (failed.len > 0)
		log_error(NULL, "Backup processed with errors: %s", buf_str(&failed));
	buf_free(&ok);
	buf_free(&failed);
	return rc;
}
