/*
 * retryfailed: which jobs to run again. A job is retried when it has no OK
 * BACKUP row started in the last 30 hours (the original's window); null
 * jobs never are.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "actions.h"
#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "log.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define RETRY_WINDOW_SEC (30 * 3600)

int
retry_select(const struct action_ctx *a, time_t now, const struct job ***out, size_t *n,
             struct err *err)
{
	const struct job **sel = xcalloc(a->njobs + 1, sizeof *sel);
	struct timeval since = { .tv_sec = now - RETRY_WINDOW_SEC };
	char since_iso[TIME_ISO_LEN + 1];
	size_t k = 0;

	time_iso(&since, since_iso);
	for (size_t i = 0; i < a->njobs; i++) {
		const struct job *job = a->jobs[i];
		struct catalog_filter f = { 0 };
		int64_t good = 0;

		if (job->drv->caps & DRV_CAP_NO_BACKUP)
			continue;
		f.backup_name = job->name;
		f.type = "BACKUP";
		f.status = "OK";
		f.start_since = since_iso;
		if (catalog_count(a->cat, &f, &good, err) == -1) {
			err_wrap(err, "[%s] looking for a recent good backup", job->name);
			free(sel);
			return -1;
		}
		if (good == 0) {
			log_info(job->name, "no good backup since %.16s: retrying", since_iso);
			sel[k++] = job;
		}
	}
	*out = sel;
	*n = k;
	return 0;
}
