/*
 * exportbackup (SPEC §8): for each selected job, rsync its newest good
 * backup into {exportdir}/{section}/ and record the outcome in a catalog
 * row of TYPE EXPORT. The target is usually a USB disk that leaves the
 * site, so it is checked before any job runs, rsync deletes what the
 * source no longer has as it goes (--delete: space is freed before new
 * files arrive), and an export counts as OK only once syncfs(2) put it on
 * the disk. The options and their reasons are in docs/architecture.md.
 */
#include "export.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions.h"
#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "drivers/rsync.h"
#include "dryrun.h"
#include "log.h"
#include "runner.h"
#include "progress.h"
#include "runrec.h"
#include "spawn.h"
#include "watchdog.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strv.h"
#include "util/xmalloc.h"

int
export_check_dir(const char *dir, char **abs, struct err *err)
{
	char cwd[PATH_MAX];
	char *path = NULL;
	struct stat sb;
	size_t len;
	int rc = -1;

	*abs = NULL;
	if (dir[0] == '\0') {
		err_set(err, "export folder: empty path");
		goto out;
	}
	/*
	 * Absolute, so rsync never reads "host:path" in it and the EXPORT
	 * rows name a folder that means something later.
	 */
	if (dir[0] == '/') {
		path = xstrdup(dir);
	} else {
		if (getcwd(cwd, sizeof cwd) == NULL) {
			err_sys(err, errno, "export folder %s: finding the current folder", dir);
			goto out;
		}
		path = fs_join(cwd, dir);
	}
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (stat(path, &sb) == -1) {
		if (errno == ENOENT)
			err_set(err, "export folder %s does not exist", path);
		else
			err_sys(err, errno, "export folder %s", path);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		err_set(err, "export folder %s is not a folder", path);
		goto out;
	}
	if (access(path, W_OK | X_OK) == -1) {
		err_sys(err, errno, "export folder %s is not writable", path);
		goto out;
	}
	*abs = path;
	path = NULL;
	rc = 0;
out:
	free(path);
	return rc;
}

/*
 * An rsync filter pattern matching exactly the entry called name at the
 * root of the transfer. rsync reads '\' as an escape only in patterns with
 * a wildcard character, so only those get escaped. Caller frees.
 */
static char *
anchored_pattern(const char *name)
{
	int wild = strpbrk(name, "*?[") != NULL;
	struct buf b;

	buf_init(&b, 2 * strlen(name) + 2);
	buf_putc(&b, '/');
	for (const char *p = name; *p != '\0'; p++) {
		if (wild && strchr("*?[\\", *p) != NULL)
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	return buf_steal(&b);
}

/*
 * The newest OK BACKUP row's location of job, checked on disk: *loc gets
 * it without trailing '/' (caller frees), *is_dir whether it is a folder.
 */
static int
export_source(struct catalog *cat, const struct job *job, char **loc, int *is_dir, struct err *err)
{
	struct catalog_filter f = {
		.backup_name = job->name, .type = "BACKUP", .status = "OK", .limit = 1
	};
	struct catalog_row *rows = NULL;
	struct stat sb;
	size_t n = 0, len;
	const char *l;
	int rc = -1;

	*loc = NULL;
	if (catalog_find(cat, &f, &rows, &n, err) == -1) {
		err_wrap(err, "finding the latest good backup");
		goto out;
	}
	if (n == 0) {
		err_set(err, "no good backup to export: the catalog has no OK backup of %s",
		        job->name);
		goto out;
	}
	l = rows[0].backup_location;
	if (l == NULL || l[0] == '\0') {
		err_set(err,
		        "no good backup to export: the latest OK backup (started %s) has "
		        "no location",
		        rows[0].backup_start != NULL ? rows[0].backup_start : "?");
		goto out;
	}
	if (l[0] != '/') {
		err_set(err, "the latest OK backup's location %s is not an absolute path", l);
		goto out;
	}
	if (stat(l, &sb) == -1) {
		if (errno == ENOENT)
			err_set(err, "the latest OK backup (started %s), %s, is gone from disk",
			        rows[0].backup_start != NULL ? rows[0].backup_start : "?", l);
		else
			err_sys(err, errno, "the latest OK backup %s", l);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) {
		err_set(err, "the latest OK backup %s is neither a folder nor a file", l);
		goto out;
	}
	*is_dir = S_ISDIR(sb.st_mode);
	*loc = xstrdup(l);
	len = strlen(*loc);
	while (len > 1 && (*loc)[len - 1] == '/')
		(*loc)[--len] = '\0';
	rc = 0;
out:
	catalog_rows_free(rows, n);
	return rc;
}

/* 1 if path is dir or lies inside it (both absolute, resolved, no trailing '/'). */
static int
path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * An export folder inside the backup tree ({base}/log, {base}/JOB, or
 * base itself) would mix copies into what cleanup, register_existing and
 * the next backups own, and rsync --delete could remove snapshots: refuse
 * it, symlinks resolved. A base that does not exist yet holds nothing.
 * 0 or -1 + err.
 */
static int
export_check_outside(const char *dir, const char *base_dir, struct err *err)
{
	char *d = realpath(dir, NULL), *base = realpath(base_dir, NULL);
	int rc = 0;

	if (d != NULL && base != NULL && path_within(d, base)) {
		err_set(err,
		        "refusing to export into %s: it lies inside backup_base_dir %s; choose a "
		        "folder on another disk, outside the backup tree",
		        dir, base_dir);
		rc = -1;
	}
	free(d);
	free(base);
	return rc;
}

/*
 * rsync --delete makes dest a copy of the source, deleting the rest: refuse
 * a dest that holds the backup tree (-x pointing at backup_base_dir would
 * replace a job's snapshots with one of them) or overlaps the source.
 * Symlinks are resolved first. 0 or -1 + err.
 */
static int
export_check_overlap(const struct job *job, const char *exportdir, const char *loc, struct err *err)
{
	char *dir = NULL, *src = NULL, *base = NULL, *dest = NULL;
	int rc = -1;

	if ((dir = realpath(exportdir, NULL)) == NULL) {
		err_sys(err, errno, "resolving %s", exportdir);
		goto out;
	}
	if ((src = realpath(loc, NULL)) == NULL) {
		err_sys(err, errno, "resolving %s", loc);
		goto out;
	}
	dest = fs_join(dir, job->name);
	base = realpath(job->cfg->backup_base_dir, NULL);
	if (path_within(dest, src) || path_within(src, dest)) {
		err_set(err,
		        "refusing to export %s into %s: one lies inside the other, and the "
		        "copy deletes what the source lacks",
		        loc, dest);
		goto out;
	}
	if (base != NULL && path_within(base, dest)) {
		err_set(err,
		        "refusing to export into %s: it holds the backup folder %s, which the "
		        "copy would overwrite",
		        dest, base);
		goto out;
	}
	rc = 0;
out:
	free(dir);
	free(src);
	free(base);
	free(dest);
	return rc;
}

/*
 * The rsync command copying loc into dest. A folder's contents go into
 * dest/ ("loc/"). A file keeps its name: the transfer is its folder with
 * a filter letting only that name through, so that --delete-excluded
 * also removes the files earlier exports left there (plain rsync FILE
 * DIR/ deletes nothing), and dest holds one backup either way.
 */
static void
export_argv(const char *loc, int is_dir, const char *dest, int verbose, struct strv *av)
{
	strv_push(av, "rsync");
	strv_push(av, "-a");
	strv_push(av, "--delete");
	strv_push(av, "--numeric-ids");
	strv_push(av, "--partial");
	strv_push(av, "--stats");
	if (verbose)
		strv_push(av, "--info=progress2");
	if (is_dir) {
		strv_push(av, "--");
		strv_pushf(av, "%s/", loc);
	} else {
		const char *slash = strrchr(loc, '/');
		char *pat = anchored_pattern(slash + 1);

		strv_push(av, "--delete-excluded");
		strv_pushf(av, "--include=%s", pat);
		strv_push(av, "--exclude=*");
		strv_push(av, "--");
		if (slash == loc)
			strv_push(av, "/");
		else
			strv_pushf(av, "%.*s/", (int)(slash - loc), loc);
		free(pat);
	}
	strv_pushf(av, "%s/", dest);
}

/*
 * Find the source and rsync it into dest, under the run's watchdog pg and
 * the rsync exit-code policy for exports. On success st->log is the
 * catalog's one-line summary (caller frees) and st->partial is set after
 * an exit 23. eo gets rsync's counts either way. 0 or -1 + err.
 */
static int
export_copy(struct catalog *cat, const struct job *job, struct progress *pg, const char *exportdir,
            const char *dest, int dry_run, struct rsync_output *eo, struct drv_stats *st,
            struct err *err)
{
	struct spawn_opts so;
	struct spawn_result res;
	struct rsync_call call = { .job = job, .purpose = RSYNC_FOR_EXPORT };
	struct stat sb;
	struct strv av;
	char *loc = NULL, *what = NULL;
	int is_dir = 0, warned = 0, rc = -1;

	strv_init(&av);
	if (export_source(cat, job, &loc, &is_dir, err) == -1)
		goto out;
	if (lstat(dest, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
		err_set(err, "%s exists and is not a folder", dest);
		goto out;
	}
	if (export_check_overlap(job, exportdir, loc, err) == -1)
		goto out;
	export_argv(loc, is_dir, dest, eo->verbose, &av);
	if (dry_run) {
		dryrun_show_argv(job->name, (const char *const *)strv_argv(&av));
		rc = 0;
		goto out;
	}
	if (mkdir(dest, 0750) == -1 && errno != EEXIST) {
		err_sys(err, errno, "creating %s", dest);
		goto out;
	}
	log_info(job->name, "export of %s to %s", loc, dest);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.merge_stderr = 1;
	so.on_line = rsync_output_line;
	so.ctx = eo;
	/* stall_timeout and max_runtime, as for the job's backups. */
	watchdog_spawn(pg, &so);
	if (spawn_run(&so, &res, err) == -1)
		goto out;
	what = xasprintf("rsync of %s to %s", loc, dest);
	call.what = what;
	if (rsync_judge(&call, &res, eo, &st->partial, &warned, err) == -1)
		goto out;
	st->warnings = warned;
	/* The disk may be unplugged next: OK means the data is on it. */
	if (fs_sync_tree(dest, err) == -1)
		goto out;
	st->log = xasprintf("export of %s to %s OK, %lld bytes written for %lld changed files", loc,
	                    dest, (long long)eo->st.written_bytes, (long long)eo->st.written_files);
	rc = 0;
out:
	free(loc);
	free(what);
	strv_free(&av);
	return rc;
}

int
export_job(struct catalog *cat, const struct job *job, const char *exportdir, int dry_run,
           int verbose, struct err *err)
{
	struct rsync_output eo = { .name = job->name, .verbose = verbose };
	struct drv_stats st;
	struct runrec rr = { 0 };
	char *dest = NULL;
	int failed, rc = -1;
	struct err xerr;
	struct progress pg;

	assert(exportdir[0] == '/');
	memset(&st, 0, sizeof st);
	err_clear(&xerr);
	if (job->drv->caps & DRV_CAP_NO_BACKUP) {
		log_info(job->name, "type %s: nothing to export", job->drv->name);
		return 0;
	}
	/* The run's watchdog: max_runtime counts from here. */
	watchdog_arm(&pg, job);
	dest = fs_join(exportdir, job->name);
	log_info(job->name, "Exporting to %s", dest);
	if (!dry_run && runrec_begin(&rr, cat, job, "EXPORT", NULL, NULL, err) == -1) {
		err_wrap(err, "recording the export");
		log_error(job->name, "export failed: %s", err->msg);
		goto out;
	}
	failed = export_copy(cat, job, &pg, exportdir, dest, dry_run, &eo, &st, &xerr) == -1;
	if (failed && spawn_interrupted()) {
		err_wrap(&xerr, "interrupted by a signal");
		runrec_cancel_note(&xerr);
	}
	if (dry_run) {
		rc = failed ? -1 : 0;
		if (failed) {
			memcpy(err, &xerr, sizeof *err);
			log_error(job->name, "export failed: %s", err->msg);
		}
		goto out;
	}

	st.total_files = eo.st.total_files;
	st.written_files = eo.st.written_files;
	st.total_bytes = eo.st.total_bytes;
	st.written_bytes = eo.st.written_bytes;
	st.location = dest;
	/* Recording may fail: err then says that and what the export did. */
	if (runrec_finish(&rr, &st, failed ? &xerr : NULL, err) == -1) {
		log_error(job->name, "%s", err->msg);
		goto out;
	}
	if (failed) {
		memcpy(err, &xerr, sizeof *err);
		log_error(job->name, "export failed: %s", err->msg);
		goto out;
	}
	log_info(job->name, "export OK in %.1f s: %s", runrec_seconds(&rr), rr.log);
	rc = 0;
out:
	rsync_output_free(&eo);
	runrec_free(&rr);
	free(st.log);
	free(dest);
	return rc;
}

/* What every export of one run shares, for the runner's callback. */
struct export_ctx {
	const char *exportdir;
	int dry_run;
	int verbose;
};

static int
export_one(void *ctx, struct catalog *cat, const struct job *job, struct err *err)
{
	const struct export_ctx *e = ctx;

	if (spawn_interrupted()) {
		log_warning(job->name, "interrupted: not exported");
		return -1;
	}
	return export_job(cat, job, e->exportdir, e->dry_run, e->verbose, err);
}

int
export_run(const struct action_ctx *a)
{
	struct catalog *cat = a->cat, *ro = NULL;
	struct export_ctx ectx;
	const struct job **jobs = NULL;
	int *results = NULL;
	size_t n = 0;
	struct buf ok, failed;
	char *dir = NULL;
	struct err err;
	int rc = 0;

	err_clear(&err);
	buf_init(&ok, 1 << 20);
	buf_init(&failed, 1 << 20);
	if (export_check_dir(a->exportdir, &dir, &err) == -1 ||
	    export_check_outside(dir, a->cfg->backup_base_dir, &err) == -1) {
		log_error(NULL, "exportbackup: %s", err.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	if (a->dry_run) {
		/* main.c opens no catalog for a dry run: read it, never write. */
		if (catalog_open(a->catalog_path, CATALOG_RO, &ro, &err) == -1) {
			if (err.code == ENOENT) {
				log_error(NULL, "exportbackup: no catalog at %s: nothing to export",
				          a->catalog_path);
				rc = EXIT_JOBS;
			} else {
				log_error(NULL, "exportbackup: %s", err.msg);
				rc = EXIT_RUNTIME;
			}
			goto out;
		}
		cat = ro;
	}
	assert(cat != NULL);
	/* Jobs with backups; null ones are skipped like the original does. */
	jobs = xcalloc(a->njobs + 1, sizeof *jobs);
	results = xcalloc(a->njobs + 1, sizeof *results);
	for (size_t i = 0; i < a->njobs; i++) {
		if (a->jobs[i]->drv->caps & DRV_CAP_NO_BACKUP)
			log_info(a->jobs[i]->name, "type %s: nothing to export",
			         a->jobs[i]->drv->name);
		else
			jobs[n++] = a->jobs[i];
	}
	ectx.exportdir = dir;
	ectx.dry_run = a->dry_run;
	ectx.verbose = a->verbose;
	if (a->dry_run) {
		/* One read-only connection, one job after the other. */
		for (size_t i = 0; i < n; i++)
			results[i] = export_one(&ectx, cat, jobs[i], &err);
	} else {
		struct runner_opts ro_opts = {
			.max_parallel = a->max_parallel,
			.catalog_path = a->catalog_path,
		};

		runner_run(jobs, n, &ro_opts, export_one, &ectx, results);
	}
	for (size_t i = 0; i < n; i++) {
		struct buf *b = results[i] == 0 ? &ok : &failed;

		buf_printf(b, "%s%s", b->len ? "," : "", jobs[i]->name);
		if (results[i] != 0)
			rc = EXIT_JOBS;
	}
	if (ok.len == 0 && failed.len == 0)
		log_warning(NULL, "No export processed: no selected job has backups");
	if (ok.len > 0)
		log_info(NULL, "Export processed : %s", buf_str(&ok));
	if (failed.len > 0)
		log_error(NULL, "Export processed with errors: %s", buf_str(&failed));
out:
	if (ro != NULL)
		catalog_close(ro);
	free(jobs);
	free(results);
	free(dir);
	buf_free(&ok);
	buf_free(&failed);
	return rc;
}
