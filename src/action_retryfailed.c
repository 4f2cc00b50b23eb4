/*
 * retryfailed: back up again the selected jobs that retry_select() (retry.c)
 * finds without a recent good backup. With no catalog yet, every job
 * counts as failed.
 */
#include <stdlib.h>
#include <time.h>

#include "action.h"
#include "log.h"

int
action_retryfailed(const struct action_ctx *a)
{
	struct action_ctx r = *a;
	const struct job **retry = NULL;
	size_t nretry = 0;
	struct err err;
	int rc;

	err_clear(&err);
	if (a->rcat == NULL) {
		r.cat = NULL;
		return backup_run(&r);
	}
	r.cat = a->rcat;
	if (retry_select(&r, time(NULL), &retry, &nretry, &err) == -1) {
		action_print_err(err.msg);
		return EXIT_RUNTIME;
	}
	if (nretry == 0) {
		log_info(NULL, "retryfailed: every job has a good backup from the last 30 hours");
		free(retry);
		return 0;
	}
	r.cat = a->cat;
	r.jobs = retry;
	r.njobs = nretry;
	rc = backup_run(&r);
	free(retry);
	return rc;
}
