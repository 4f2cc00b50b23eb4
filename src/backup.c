/*
 * The `backup` action (also what retryfailed runs): every selected job,
 * several at once under the runner's limits; a failing job is logged and
 * does not stop the others; a summary line at the end like the original's.
 */
#include <stdlib.h>

#include "actions.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "runner.h"
#include "runrec.h"
#include "util/buf.h"
#include "util/xmalloc.h"

static int
backup_one(void *ctx, struct catalog *cat, const struct job *job, struct err *err)
{
	const struct run_opts *o = ctx;

	return job_backup(cat, job, o, err) == JOB_OK ? 0 : -1;
}

int
backup_run(const struct action_ctx *a)
{
	struct run_opts o = {
		.dry_run = a->dry_run,
		.verbose = a->verbose,
		.alerts = a->dry_run ? NULL : a->gui,
	};
	struct runner_opts ro = {
		.max_parallel = a->max_parallel,
		.catalog_path = a->dry_run ? NULL : a->catalog_path,
	};
	int *results = xcalloc(a->njobs + 1, sizeof *results);
	struct buf ok, failed;
	int rc = 0;

	buf_init(&ok, 1 << 20);
	buf_init(&failed, 1 << 20);
	/* A selected job that cannot run: an ERROR row saying why. */
	for (size_t i = 0; i < a->ninvalid; i++) {
		const struct job *job = a->invalid[i];
		struct err err;

		err_clear(&err);
		log_error(job->name, "cannot run: %s", job->invalid);
		buf_printf(&failed, "%s%s", failed.len ? "," : "", job->name);
		if (a->cat != NULL && runrec_record_invalid(a->cat, job, "BACKUP", &err) == -1)
			log_error(job->name, "%s", err.msg);
	}
	if (a->max_parallel > 1 && a->njobs > 1)
		log_info(NULL, "running %zu jobs, at most %d at once", a->njobs, a->max_parallel);
	runner_run(a->jobs, a->njobs, &ro, backup_one, &o, results);
	for (size_t i = 0; i < a->njobs; i++) {
		struct buf *b = results[i] == 0 ? &ok : &failed;

		buf_printf(b, "%s%s", b->len ? "," : "", a->jobs[i]->name);
		if (results[i] != 0)
			rc = EXIT_JOBS;
	}
	if (ok.len == 0 && failed.len == 0)
		log_critical(NULL, "No backup properly finished or processed");
	if (ok.len > 0)
		log_info(NULL, "Backup processed : %s", buf_str(&ok));
	if (failed.len > 0)
		log_error(NULL, "Backup processed with errors: %s", buf_str(&failed));
	buf_free(&ok);
	buf_free(&failed);
	free(results);
	return rc;
}
