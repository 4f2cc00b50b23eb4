/*
 * One run's catalog record (see runrec.h): the only code that turns a
 * run's outcome into a catalog row, for every kind of run.
 */
#include "runrec.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "jobconf.h"
#include "log.h"
#include "util/xmalloc.h"

void
runrec_cancel_note(struct err *e)
{
	const char *path = getenv(RUNREC_ENV_CANCEL_NOTE);
	char note[RUNREC_CANCEL_NOTE_MAX];
	struct stat st;
	ssize_t n = -1;
	int fd;

	if (path == NULL || path[0] == '\0' ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	/* Only the worker's own note (it runs as this user): not one planted in /tmp. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
		n = read(fd, note, sizeof note - 1);
	close(fd);
	if (n <= 0)
		return;
	note[n] = '\0';
	note[strcspn(note, "\r\n")] = '\0';
	if (note[0] != '\0')
		err_wrap(e, "%s", note);
}

/*
 * Record where the run begun in rr runs (catalog_run_host_put()): this
 * host, the queue worker and pool the worker passed in the environment
 * (worker.c), the configuration file. A side record: when it cannot be
 * written the run goes on, with a warning.
 */
static void
record_host(const struct runrec *rr, const struct job *job)
{
	char host[HOST_NAME_MAX + 1], *config = NULL;
	const char *worker = getenv(RUNREC_ENV_WORKER), *pool = getenv(RUNREC_ENV_POOL);
	struct catalog_run_host h = { .stats_id = rr->rowid };
	struct err err;

	err_clear(&err);
	if (gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		h.host = host;
	}
	h.worker = worker != NULL && worker[0] != '\0' ? (char *)worker : NULL;
	h.pool = pool != NULL && pool[0] != '\0' ? (char *)pool : NULL;
	if (job->cfg != NULL && job->cfg->path != NULL) {
		config = realpath(job->cfg->path, NULL);
		h.config = config != NULL ? config : job->cfg->path;
	}
	if (catalog_run_host_put(rr->cat, &h, &err) == -1)
		log_warning(job->name, "the %s goes on, but where it runs is not recorded: %s",
		            rr->what, err.msg);
	free(config);
}

int
runrec_begin(struct runrec *rr, struct catalog *cat, const struct job *job, const char *type,
             const struct timeval *start, const char *location, struct err *err)
{
	size_t i;

	memset(rr, 0, sizeof *rr);
	rr->cat = cat;
	rr->name = job->name;
	rr->rowid = -1;
	for (i = 0; i < sizeof rr->what - 1 && type[i] != '\0'; i++)
		rr->what[i] = (char)tolower((unsigned char)type[i]);
	if (start != NULL)
		rr->start = *start;
	else
		gettimeofday(&rr->start, NULL);
	time_iso(&rr->start, rr->start_iso);
	if (catalog_insert_running(cat, job->name, job->server_name, job->description,
	                           rr->start_iso, type, location, &rr->rowid, err) == -1)
		return -1;
	record_host(rr, job);
	return 0;
}

int
runrec_finish(struct runrec *rr, const struct drv_stats *st, const struct err *run_err,
              struct err *err)
{
	static const struct drv_stats none = {
		.total_files = CATALOG_NULL,
		.written_files = CATALOG_NULL,
		.total_bytes = CATALOG_NULL,
		.written_bytes = CATALOG_NULL,
	};
	struct catalog_result res;
	struct err rerr, cerr;
	int failed = run_err != NULL && err_isset(run_err);

	/* err may be run_err: keep the run's error apart from the catalog's. */
	err_clear(&rerr);
	if (failed)
		rerr = *run_err;
	err_clear(&cerr);
	if (st == NULL)
		st = &none;
	runrec_free(rr);
	gettimeofday(&rr->end, NULL);
	time_iso(&rr->end, rr->end_iso);
	rr->status = failed ? "ERROR" : "OK";
	if (failed)
		rr->log = xstrdup(rerr.msg);
	else if (st->partial)
		rr->log = xasprintf("%s %s", st->log != NULL ? st->log : "", CATALOG_LOG_PARTIAL);
	else
		rr->log = xstrdup(st->log != NULL ? st->log : "");

	memset(&res, 0, sizeof res);
	res.status = rr->status;
	res.backup_end = rr->end_iso;
	res.duration_hours = runrec_seconds(rr) / 3600.0;
	res.total_files_count = st->total_files;
	res.written_files_count = st->written_files;
	res.total_bytes = st->total_bytes;
	res.written_bytes = st->written_bytes;
	res.log = rr->log;
	res.backup_location = st->location;
	if (catalog_finish(rr->cat, rr->rowid, &res, &cerr) == 0)
		return 0;
	err_set(err, "recording the %s's result failed: %s; the %s itself %s: %s", rr->what,
	        cerr.msg, rr->what, failed ? "failed" : "succeeded", rr->log);
	err->code = rerr.code;
	return -1;
}

double
runrec_seconds(const struct runrec *rr)
{
	return time_diff(&rr->start, &rr->end);
}

void
runrec_free(struct runrec *rr)
{
	free(rr->log);
	rr->log = NULL;
}

int
runrec_repair_killed(struct catalog *cat, const struct job *job, const char *cause, struct err *err)
{
	char *log =
	    cause != NULL
	        ? xasprintf("interrupted: %s; the run ended without recording a result", cause)
	        : xstrdup("interrupted: the run that wrote this row ended without "
	                  "recording a result (process killed or machine stopped)");
	int repaired = 0, rc;

	rc = catalog_repair_running(cat, job->name, log, &repaired, err);
	free(log);
	if (rc == -1)
		return -1;
	if (repaired > 0)
		log_warning(job->name, "marked %d unfinished run(s) left by a %s process as ERROR",
		            repaired, cause != NULL ? "killed" : "dead");
	return 0;
}

int
runrec_repair_dead(struct catalog *cat, const struct job *job, struct err *err)
{
	return runrec_repair_killed(cat, job, NULL, err);
}

int
runrec_record_invalid(struct catalog *cat, const struct job *job, const char *type, struct err *err)
{
	struct runrec rr = { 0 };
	struct err why;
	int rc;

	err_clear(&why);
	err_set(&why, "cannot run: %s", job->invalid);
	if (runrec_begin(&rr, cat, job, type, NULL, NULL, err) == -1)
		return -1;
	rc = runrec_finish(&rr, NULL, &why, err);
	runrec_free(&rr);
	return rc;
}
