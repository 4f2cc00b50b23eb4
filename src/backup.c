/*
 * The `backup` action: run every selected job in config order; a failing
 * job is logged and does not stop the others; a summary line at the end
 * like the original's.
 */
#include "backup.h"

#include <stdlib.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "spawn.h"
#include "util/buf.h"

int
backup_run(struct catalog *cat, const struct job *const *jobs, size_t n, const struct run_opts *o)
{
	struct buf ok, failed;
	int rc = 0;

	buf_init(&ok, 1 << 20);
	buf_init(&failed, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		struct err err;

		err_clear(&err);
		if (spawn_interrupted()) {
			log_warning(NULL, "interrupted: not starting [%s]", jobs[i]->name);
			buf_printf(&failed, "%s%s", failed.len ? "," : "", jobs[i]->name);
			rc = 1;
			continue;
		}
		if (job_backup(cat, jobs[i], o, &err) == JOB_OK) {
			buf_printf(&ok, "%s%s", ok.len ? "," : "", jobs[i]->name);
		} else {
			buf_printf(&failed, "%s%s", failed.len ? "," : "", jobs[i]->name);
			rc = 1;
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
