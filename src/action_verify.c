/*
 * verify: prove that the newest good backup of each selected job with
 * `verify = yes` restores (docs/restore.md, "Verify"); the kinds of
 * backup are in verify_*.c (verify.h). For database dumps the counts are
 * kept in the job folder's .verify-counts file; a table that
 * disappeared, or shrank by more than verify_shrink_warn % since the
 * previous verify, is a warning in the row's log. One VERIFY catalog row
 * per job through runrec.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "action.h"
#include "actions.h"
#include "catalog.h"
#include "drivers/driver.h"
#include "guiconf.h"
#include "jobconf.h"
#include "lock.h"
#include "log.h"
#include "runrec.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strv.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "verify.h"

#define VERIFY_COUNTS ".verify-counts"
/*
 * The first line of a counts file whose keys name the databases as
 * restore does (verify_dumps()); a file without it has the keys of
 * earlier versions, renamed when read. No tab: older readers skip it.
 */
#define VERIFY_COUNTS_HEADER "# tisbackup verify-counts 2"

/*
 * "NAME\tN" lines of path into lines (missing file: none). 1 when the
 * file starts with VERIFY_COUNTS_HEADER, else 0.
 */
static int
counts_read(const char *path, struct strv *lines)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int current = 0, first = 1;

	if (f == NULL)
		return 1;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (first && strcmp(line, VERIFY_COUNTS_HEADER) == 0)
			current = 1;
		first = 0;
		if (strchr(line, '\t') != NULL)
			strv_push(lines, line);
	}
	fclose(f);
	return current;
}

/*
 * Rename the keys of lines, read from a counts file of an earlier
 * version, to the current ones: renames holds verify_dumps()'s
 * "OLD\tDB" lines, and a line "OLD/TABLE\tN" becomes "DB/TABLE\tN" (an
 * old key never holds a '/': it was a file name). A line whose OLD two
 * dumps shared (their counts were mixed) is dropped; one that no dump
 * has is kept as it is (its database is gone).
 */
static void
counts_migrate(struct strv *lines, const struct strv *renames)
{
	struct strv out;

	strv_init(&out);
	for (size_t i = 0; i < lines->n; i++) {
		const char *line = lines->v[i];
		size_t k = strcspn(line, "/\t");
		const char *to = NULL;
		int n = 0;

		for (size_t j = 0; j < renames->n; j++) {
			const char *r = renames->v[j];

			if (strncmp(r, line, k) == 0 && r[k] == '\t' &&
			    (to == NULL || strcmp(to, r + k + 1) != 0)) {
				to = r + k + 1;
				n++;
			}
		}
		if (n == 0 || line[k] != '/')
			strv_push(&out, line);
		else if (n == 1)
			strv_pushf(&out, "%s%s", to, line + k);
	}
	strv_free(lines);
	*lines = out;
}

/* The count of "NAME\t" in lines, or -1. */
static long long
counts_get(const struct strv *lines, const char *line)
{
	size_t k = strcspn(line, "\t");

	for (size_t i = 0; i < lines->n; i++)
		if (strncmp(lines->v[i], line, k + 1) == 0)
			return strtoll(lines->v[i] + k + 1, NULL, 10);
	return -1;
}

/* Write counts to path atomically. 0 or -1 + err. */
static int
counts_write(const char *path, const struct strv *counts, struct err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (f == NULL) {
		err_sys(err, errno, "writing %s", tmp);
		goto out;
	}
	fprintf(f, "%s\n", VERIFY_COUNTS_HEADER);
	for (size_t i = 0; i < counts->n; i++)
		fprintf(f, "%s\n", counts->v[i]);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		err_sys(err, errno, "writing %s", path);
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/*
 * The newest good BACKUP row of job still on disk: its location into
 * *loc, its start into *started. 0, or -1 + err.
 */
static int
verify_pick(const struct action_ctx *a, const struct job *job, char **loc, time_t *started,
            long long *bytes, struct err *err)
{
	struct catalog_filter f = {
		.backup_name = job->name, .type = "BACKUP", .status = "OK", .with_location = 1
	};
	struct catalog_row *rows = NULL;
	size_t n = 0;
	int rc = -1;

	if (catalog_find(a->cat, &f, &rows, &n, err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct stat sb;

		struct timeval tv = { 0 };

		if (stat(rows[i].backup_location, &sb) == 0 &&
		    (S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode))) {
			*loc = xstrdup(rows[i].backup_location);
			if (rows[i].backup_start != NULL)
				time_parse_iso(rows[i].backup_start, &tv);
			*started = tv.tv_sec;
			*bytes = rows[i].total_bytes;
			rc = 0;
			break;
		}
	}
	if (rc == -1)
		err_set(err, "no good backup on disk to verify");
	catalog_rows_free(rows, n);
	return rc;
}

/* What verify does with the backups of job (verify.h), or NULL. */
static const char *
verify_kind(const struct job *job)
{
	if (job->drv->verify_kind != NULL)
		return job->drv->verify_kind;
	if (job->drv->caps & DRV_CAP_FILE)
		return "file";
	return NULL;
}

/* Verify one job; its outcome is logged and recorded. 0 or -1. */
static int
verify_job(const struct action_ctx *a, const struct job *job, const struct verify_srv *s)
{
	const char *kind = verify_kind(job);
	time_t started = 0;
	long long bytes = 0;
	struct strv counts, prev, renames;
	struct runrec rr = { 0 };
	struct drv_stats st;
	struct job_lock lk = { .fd = -1 };
	struct buf log, warn;
	struct err err, derr;
	char now[TIME_STAMP_LEN + 1];
	char *loc = NULL, *cpath = xasprintf("%s/" VERIFY_COUNTS, job->dir);
	long shrink = job_get_long(job, "verify_shrink_warn", 10);
	int ndumps = 0, rc = -1;

	strv_init(&counts);
	strv_init(&prev);
	strv_init(&renames);
	buf_init(&log, (size_t)-1);
	buf_init(&warn, 4000);
	err_clear(&err);
	err_clear(&derr);
	memset(&st, 0, sizeof st);
	time_stamp(time(NULL), now);
	if (lock_acquire(job->dir, now, &lk, &err) == -1) {
		log_error(job->name, "verify: %s", err.msg);
		goto out;
	}
	if (runrec_repair_dead(a->cat, job, &err) == -1 ||
	    runrec_begin(&rr, a->cat, job, "VERIFY", NULL, NULL, &err) == -1) {
		log_error(job->name, "verify: recording its start: %s", err.msg);
		goto out;
	}
	if (verify_pick(a, job, &loc, &started, &bytes, &derr) == -1)
		goto finish;
	st.location = xstrdup(loc);
	if (strcmp(kind, "files") == 0) {
		if (verify_files(job, loc, started, &log, &st, &derr) == 0)
			st.log = buf_steal(&log);
		goto finish;
	}
	if (strcmp(kind, "file") == 0) {
		if (verify_onefile(loc, bytes, &log, &st, &derr) == 0)
			st.log = buf_steal(&log);
		goto finish;
	}
	if (verify_dumps(job, kind, s, loc, &counts, &renames, &ndumps, &derr) == -1)
		goto finish;
	if (!counts_read(cpath, &prev))
		counts_migrate(&prev, &renames);
	for (size_t i = 0; i < prev.n; i++) {
		long long was = counts_get(&prev, prev.v[i]), is = counts_get(&counts, prev.v[i]);
		int k = (int)strcspn(prev.v[i], "\t");

		if (is == -1)
			buf_printf(&warn, "; table %.*s is gone (had %lld rows)", k, prev.v[i],
			           was);
		else if (was > 0 && is < was && (was - is) * 100 > was * shrink)
			buf_printf(&warn, "; table %.*s shrank from %lld to %lld rows", k,
			           prev.v[i], was, is);
	}
	for (size_t i = 0; i < counts.n; i++) {
		const char *c = counts.v[i];

		if (strstr(c, "/#objects\t") == NULL) {
			st.total_files++;
			st.total_bytes += strtoll(c + strcspn(c, "\t") + 1, NULL, 10);
		}
	}
	if (counts_write(cpath, &counts, &derr) == -1)
		goto finish;
	buf_printf(&log, "%s%d dump(s) of %s load; %lld tables, %lld rows",
	           warn.len > 0 ? "WARNING: " : "", ndumps, loc, (long long)st.total_files,
	           (long long)st.total_bytes);
	buf_puts(&log, buf_str(&warn));
	st.log = buf_steal(&log);
	st.warnings = warn.len > 0;
finish:
	if (runrec_finish(&rr, &st, err_isset(&derr) ? &derr : NULL, &err) == -1) {
		log_error(job->name, "%s", err.msg);
		goto out;
	}
	if (err_isset(&derr)) {
		log_error(job->name, "verify failed: %s", derr.msg);
		goto out;
	}
	if (st.warnings)
		log_warning(job->name, "verify: %s", rr.log);
	else
		log_info(job->name, "verify OK in %.1f s: %s", runrec_seconds(&rr), rr.log);
	rc = 0;
out:
	runrec_free(&rr);
	lock_release(&lk);
	strv_free(&counts);
	strv_free(&prev);
	strv_free(&renames);
	buf_free(&log);
	buf_free(&warn);
	free(st.location);
	free(st.log);
	free(loc);
	free(cpath);
	return rc;
}

int
action_verify(const struct action_ctx *a)
{
	struct guiconf *gui = NULL;
	struct verify_srv s = { 0 };
	struct err err;
	int failed = 0;

	err_clear(&err);
	if (a->dry_run) {
		fprintf(stderr, "tisbackup: verify has no dry run\n");
		return EXIT_USAGE;
	}
	if (guiconf_load(a->gui_config, 1, &gui, &err) == -1) {
		action_print_err(err.msg);
		return EXIT_CONFIG;
	}
	s.pgsql_url = gui->verify_pgsql_url;
	s.mysql_url = gui->verify_mysql_url;
	if ((gui->verify_pgsql_password_file != NULL &&
	     fs_read_secret_line(gui->verify_pgsql_password_file, "[verify] pgsql_password_file",
	                         &s.pgsql_password, &err) == -1) ||
	    (gui->verify_mysql_password_file != NULL &&
	     fs_read_secret_line(gui->verify_mysql_password_file, "[verify] mysql_password_file",
	                         &s.mysql_password, &err) == -1)) {
		action_print_err(err.msg);
		fs_secret_free(s.pgsql_password);
		guiconf_free(gui);
		return EXIT_CONFIG;
	}
	for (size_t i = 0; i < a->njobs; i++) {
		const struct job *job = a->jobs[i];

		if (!job_get_bool(job, "verify", 0)) {
			if (a->select != NULL)
				log_info(job->name, "verify: skipped (verify = no)");
			continue;
		}
		if (verify_kind(job) == NULL) {
			log_warning(job->name, "verify: backups of type %s cannot be verified yet",
			            job->drv->name);
			continue;
		}
		if (verify_job(a, job, &s) == -1)
			failed++;
	}
	fs_secret_free(s.pgsql_password);
	fs_secret_free(s.mysql_password);
	guiconf_free(gui);
	if (a->ninvalid > 0)
		return EXIT_JOBS;
	return failed > 0 ? EXIT_JOBS : 0;
}
