/*
 * restore: put one backup of one job back (docs/restore.md). The core
 * part: pick the backup (--at: the newest good one, a stamp, or the
 * newest at or before a date) from the catalog, check it is still there,
 * ask before an in-place restore, take the job's lock (no backup or
 * cleanup of that job meanwhile), record a RESTORE row through the
 * run-record lifecycle (runrec.c: who, what, where, result) and hand the
 * work to the driver's restore hook (struct drv_restore in driver.h),
 * which knows how its kind of backup goes back: rsync for snapshot
 * folders, psql/mysql for dumps, a verified copy for one-file backups.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "action.h"
#include "actions.h"
#include "catalog.h"
#include "drivers/driver.h"
#include "jobconf.h"
#include "lock.h"
#include "log.h"
#include "progress.h"
#include "restore.h"
#include "runrec.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

/*
 * Who asked: for a run of the queue, the user who queued it (the worker
 * sets TISBACKUP_REQUESTED_BY and TISBACKUP_RUN_ID); the sudo user when
 * run through sudo; else the process's user.
 */
static char *
restore_who(void)
{
	const char *sudo = getenv("SUDO_USER"), *queued = getenv("TISBACKUP_REQUESTED_BY");
	const char *run = getenv("TISBACKUP_RUN_ID");
	struct passwd *pw;

	if (queued != NULL && queued[0] != '\0')
		return xasprintf("%s (queue run %s)", queued, run != NULL ? run : "?");
	if (sudo != NULL && sudo[0] != '\0')
		return xasprintf("%s (through sudo)", sudo);
	pw = getpwuid(getuid());
	if (pw != NULL)
		return xstrdup(pw->pw_name);
	return xasprintf("uid %u", (unsigned)getuid());
}

/* 1 if the row's log says the backup is incomplete (rsync exit 23). */
static int
row_partial(const struct catalog_row *row)
{
	const char *l = row->log;
	size_t n = l != NULL ? strlen(l) : 0, m = strlen(CATALOG_LOG_PARTIAL);

	return n >= m && strcmp(l + n - m, CATALOG_LOG_PARTIAL) == 0;
}

/*
 * How --at selects: kind 0 newest good, 1 a stamp (stamp), 2 the newest
 * started at or before bound (an ISO prefix plus '~', which sorts after
 * any digit). -1 + err for anything else.
 */
static int
restore_parse_at(const char *at, int *kind, char *stamp, char *bound, size_t boundsz,
                 struct err *err)
{
	time_t t;
	size_t n;

	if (at == NULL || strcmp(at, "latest") == 0) {
		*kind = 0;
		return 0;
	}
	if (strlen(at) == TIME_STAMP_LEN && time_parse_stamp(at, &t) == 0) {
		memcpy(stamp, at, TIME_STAMP_LEN + 1);
		*kind = 1;
		return 0;
	}
	/* YYYY-MM-DD, optionally followed by [ T]HH:MM[:SS] */
	n = strlen(at);
	if ((n == 10 || n == 16 || n == 19) && n + 2 < boundsz) {
		static const char shape[] = "dddd-dd-dd_dd:dd:dd";
		size_t i;

		for (i = 0; i < n; i++) {
			char c = at[i], s = shape[i];

			if (s == 'd'   ? (c < '0' || c > '9')
			    : s == '_' ? (c != ' ' && c != 'T')
			               : c != s)
				break;
		}
		if (i == n) {
			memcpy(bound, at, n);
			if (n > 10)
				bound[10] = 'T';
			bound[n] = '~';
			bound[n + 1] = '\0';
			*kind = 2;
			return 0;
		}
	}
	err_set(err,
	        "--at %s: expected latest, a backup's stamp (20261126-03h20m57) or a date "
	        "(2026-11-26, 2026-11-26 18:00[:00])",
	        at);
	return -1;
}

/*
 * The backup of job to restore into *loc (caller frees) and its stamp
 * into stamp_out. 0; -1 + err (err->code ENOENT when there is none).
 */
static int
restore_pick(const struct action_ctx *a, const struct job *job, char *loc_stamp, char **loc,
             struct err *err)
{
	const struct drv_layout *lay = driver_layout(job->drv);
	struct catalog_filter f = {
		.backup_name = job->name, .type = "BACKUP", .status = "OK", .with_location = 1
	};
	struct catalog_row *rows = NULL;
	char want[TIME_STAMP_LEN + 1] = "", bound[32] = "";
	size_t n = 0;
	int kind, rc = -1;

	if (restore_parse_at(a->restore->at, &kind, want, bound, sizeof bound, err) == -1) {
		err->code = EINVAL;
		return -1;
	}
	if (a->rcat == NULL) {
		err_set(err, "no catalog yet: nothing was backed up for %s", job->name);
		err->code = ENOENT;
		return -1;
	}
	if (catalog_find(a->rcat, &f, &rows, &n, err) == -1) {
		err_wrap(err, "finding the backups of %s", job->name);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *row = &rows[i];
		const char *base = strrchr(row->backup_location, '/');
		char st[TIME_STAMP_LEN + 1] = "";
		struct drv_check chk;
		struct err cerr;

		base = base != NULL ? base + 1 : row->backup_location;
		if (lay->classify(base, st) != DRV_ENTRY_FINAL)
			continue;
		if (kind == 0 && row_partial(row))
			continue;
		if (kind == 1 && strcmp(st, want) != 0)
			continue;
		if (kind == 2 &&
		    (row->backup_start == NULL || strcmp(row->backup_start, bound) > 0))
			continue;
		err_clear(&cerr);
		if (driver_check(job, row->backup_location, &chk, &cerr) == -1 ||
		    chk.presence == DRV_GONE) {
			log_warning(job->name, "backup %s is recorded but gone: %s", st,
			            err_isset(&cerr) ? cerr.msg : row->backup_location);
			if (kind == 1)
				break;
			continue;
		}
		if (row_partial(row))
			log_warning(job->name,
			            "backup %s is an incomplete (partial transfer) backup", st);
		memcpy(loc_stamp, st, TIME_STAMP_LEN + 1);
		*loc = xstrdup(row->backup_location);
		rc = 0;
		goto out;
	}
	err_set(err, "%s: no good backup %s%s", job->name,
	        kind == 0   ? "on disk"
	        : kind == 1 ? "with stamp "
	                    : "started at or before ",
	        kind == 0 ? "" : a->restore->at);
	err_append_line(err, "(`tisbackup dumpstat -s %s` lists its backups)", job->name);
	err->code = ENOENT;
out:
	catalog_rows_free(rows, n);
	return rc;
}

/* --in-place: asked on a terminal, else --yes. 0 to go on; -1 + err. */
static int
restore_confirm(const struct job *job, const char *stamp, struct err *err)
{
	char line[16] = "";

	if (!isatty(STDIN_FILENO)) {
		err_set(err,
		        "--in-place overwrites files on %s with the backup %s: confirm on a "
		        "terminal, or add --yes",
		        job->server_name, stamp);
		return -1;
	}
	fprintf(stderr,
	        "Restore backup %s of %s over its original files on %s? Files changed since "
	        "then are overwritten. [y/N] ",
	        stamp, job->name, job->server_name);
	fflush(stderr);
	if (fgets(line, sizeof line, stdin) == NULL ||
	    (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0)) {
		err_set(err, "not confirmed: nothing was changed");
		return -1;
	}
	return 0;
}

/*
 * A restore of files with no target (no --to, --in-place or --import-to)
 * is a usage error, caught before any catalog row: print where a restore
 * of this job's kind of backup can go.
 */
static void
restore_where_usage(const struct job *job)
{
	const char *dir = job_get(job, "remote_dir");

	if (job->drv->restore == restore_file_copy || (job->drv->caps & DRV_CAP_FILE)) {
		fprintf(stderr,
		        "tisbackup: restore: where to? --to DIR: a folder of this host to write "
		        "the backup's file(s) into (created when missing)%s\n",
		        strcmp(job->drv->name, "xen-xva") == 0
		            ? ", or --import-to SR: a new VM in the pool's storage repository"
		            : "");
		return;
	}
	fprintf(stderr,
	        "tisbackup: restore: where to? --to DIR (a folder of this host), --to HOST:DIR "
	        "(over ssh), or --in-place (back into %s%son %s; try -d first)\n",
	        dir != NULL ? dir : "", dir != NULL ? " " : "", job->server_name);
}

int
action_restore(const struct action_ctx *a)
{
	const struct restore_opts *o = a->restore;
	const struct job *job;
	struct drv_restore r;
	struct drv_stats st;
	struct progress pg;
	struct job_lock lk = { .fd = -1 };
	struct runrec rr = { 0 };
	char stamp[TIME_STAMP_LEN + 1], now[TIME_STAMP_LEN + 1];
	char *loc = NULL, *who = NULL, *tuser = NULL, *tdesc = NULL;
	struct job tjob; /* --to-server: the job, aimed at the target server */
	struct err err, derr;
	int rc = EXIT_JOBS;

	err_clear(&err);
	err_clear(&derr);
	memset(&st, 0, sizeof st);
	if (a->ninvalid > 0)
		return EXIT_CONFIG;
	if (a->njobs != 1 || a->select == NULL) {
		fprintf(stderr, "tisbackup: restore works on one job: -s JOB\n");
		return EXIT_USAGE;
	}
	job = a->jobs[0];
	if (o->import_to != NULL && strcmp(job->drv->name, "xen-xva") != 0) {
		fprintf(stderr,
		        "tisbackup: restore: --import-to SR imports an XVA into a XenServer/XCP-ng "
		        "pool: it is for xen-xva jobs only, and %s is a %s job\n",
		        job->name, job->drv->name);
		return EXIT_USAGE;
	}
	if (job->drv->restore == NULL) {
		fprintf(stderr,
		        "tisbackup: restore: backups of type %s cannot be restored by "
		        "tisbackup yet (docs/restore.md says how by hand)\n",
		        job->drv->name);
		return EXIT_USAGE;
	}
	if (o->in_place && o->to != NULL) {
		fprintf(stderr, "tisbackup: restore: --to or --in-place, not both\n");
		return EXIT_USAGE;
	}
	if (o->to_db != NULL && o->to != NULL) {
		fprintf(stderr, "tisbackup: restore: --to is for files, --to-db for databases\n");
		return EXIT_USAGE;
	}
	if (o->import_to != NULL &&
	    (o->to != NULL || o->in_place || o->paths.n > 0 || o->db != NULL || o->to_db != NULL)) {
		fprintf(stderr, "tisbackup: restore: --import-to SR goes alone: not with --to, "
		                "--in-place, --path, --db or --to-db\n");
		return EXIT_USAGE;
	}
	if (o->import_to != NULL && (o->import_to[0] == '\0' || strlen(o->import_to) > 255)) {
		fprintf(stderr, "tisbackup: restore: --import-to: expected an SR's name label or "
		                "UUID (1 to 255 bytes)\n");
		return EXIT_USAGE;
	}
	if (o->to_server != NULL) {
		const char *bad = restore_server_bad(o->to_server), *at;

		if (!(job->drv->caps & DRV_CAP_DB_DUMP) || o->to != NULL || o->in_place ||
		    o->paths.n > 0) {
			fprintf(stderr,
			        "tisbackup: restore: --to-server is for database dumps (--db, "
			        "--to-db); files go to another host with --to HOST:DIR\n");
			return EXIT_USAGE;
		}
		if (bad != NULL) {
			fprintf(stderr, "tisbackup: restore: --to-server '%s': %s\n", o->to_server,
			        bad);
			return EXIT_USAGE;
		}
		/* The hook reaches "the job's server": a copy naming the target. */
		tjob = *job;
		at = strchr(o->to_server, '@');
		if (at != NULL) {
			tuser = xstrndup(o->to_server, (size_t)(at - o->to_server));
			tjob.remote_user = tuser;
		}
		tjob.server_name = at != NULL ? at + 1 : o->to_server;
	}
	if (!(job->drv->caps & DRV_CAP_DB_DUMP) && o->to == NULL && !o->in_place &&
	    o->import_to == NULL) {
		restore_where_usage(job);
		free(tuser);
		return EXIT_USAGE;
	}
	if (restore_pick(a, job, stamp, &loc, &err) == -1) {
		action_print_err(err.msg);
		free(tuser);
		return err.code == EINVAL ? EXIT_USAGE : EXIT_JOBS;
	}
	if (o->in_place && !o->yes && !a->dry_run && restore_confirm(job, stamp, &err) == -1) {
		action_print_err(err.msg);
		free(loc);
		return EXIT_USAGE;
	}
	who = restore_who();
	memset(&r, 0, sizeof r);
	r.job = o->to_server != NULL ? &tjob : job;
	r.location = loc;
	r.target = o->to_db != NULL ? o->to_db : o->to;
	r.overwrite = o->replace || o->in_place;
	r.in_place = o->in_place;
	r.dry_run = a->dry_run;
	r.verbose = a->verbose;
	r.paths = (const char *const *)o->paths.v;
	r.npaths = o->paths.n;
	r.db = o->db;
	r.import_sr = o->import_to;
	r.progress = &pg;
	if (job->drv->priv_size > 0)
		r.priv = xcalloc(1, job->drv->priv_size);
	watchdog_arm(&pg, job);
	if (o->to_server != NULL)
		tdesc = xasprintf(", to server %s@%s", tjob.remote_user, tjob.server_name);
	log_info(job->name, "%srestore of backup %s (%s) asked by %s%s",
	         a->dry_run ? "dry run: " : "", stamp, loc, who, tdesc != NULL ? tdesc : "");

	if (a->dry_run) {
		if (job->drv->restore(&r, &st, &err) == -1) {
			log_error(job->name, "restore (dry run) failed: %s", err.msg);
			goto out;
		}
		log_info(job->name, "%s", st.log != NULL ? st.log : "dry run done");
		rc = 0;
		goto out;
	}
	time_stamp(time(NULL), now);
	if (lock_acquire(job->dir, now, &lk, &err) == -1) {
		log_error(job->name, "restore: %s", err.msg);
		goto out;
	}
	if (runrec_repair_dead(a->cat, job, &err) == -1 ||
	    runrec_begin(&rr, a->cat, job, "RESTORE", NULL, NULL, &err) == -1) {
		log_error(job->name, "restore: recording its start: %s", err.msg);
		goto out;
	}
	if (job->drv->restore(&r, &st, &derr) == -1) {
		if (spawn_interrupted()) {
			err_wrap(&derr, "interrupted by a signal");
			runrec_cancel_note(&derr);
		}
		err_wrap(&derr, "restore of backup %s by %s%s", stamp, who,
		         tdesc != NULL ? tdesc : "");
	} else {
		char *line = xasprintf("%s (backup %s, by %s%s)", st.log != NULL ? st.log : "",
		                       stamp, who, tdesc != NULL ? tdesc : "");

		free(st.log);
		st.log = line;
	}
	if (runrec_finish(&rr, &st, err_isset(&derr) ? &derr : NULL, &err) == -1) {
		log_error(job->name, "%s", err.msg);
		goto out;
	}
	if (err_isset(&derr)) {
		log_error(job->name, "%s", derr.msg);
		goto out;
	}
	log_info(job->name, "restore OK in %.1f s: %s", runrec_seconds(&rr), rr.log);
	rc = 0;
out:
	runrec_free(&rr);
	lock_release(&lk);
	free(st.location);
	free(st.log);
	free(r.priv);
	free(loc);
	free(who);
	free(tuser);
	free(tdesc);
	return rc;
}

/*
 * ---- Restores asked through the queue ----
 */

/* The words a queued restore may carry: the CLI option, its API field, whether it has a value. */
static const struct restore_word {
	const char *opt;
	const char *field;
	int value;
} restore_words[] = {
	{ "--at", "at", 1 },
	{ "--path", "paths", 1 },
	{ "--to", "to", 1 },
	{ "--db", "db", 1 },
	{ "--to-db", "to_db", 1 },
	{ "--replace", "replace", 0 },
	{ "--dry-run", "dry_run", 0 },
	{ "--in-place", "in_place", 0 },
	{ "--yes", "confirm", 0 },
	{ "--import-to", "import_to", 1 },
	{ "--to-server", "to_server", 1 },
};

#define RESTORE_NWORDS (sizeof restore_words / sizeof restore_words[0])
#define RESTORE_WORD_MAX 4000 /* under the queue's limit on one word (QUEUE_OPTION_LEN_MAX) */

/* How often the option opt was seen (seen[] follows restore_words[]). */
static int
restore_seen(const int *seen, const char *opt)
{
	for (size_t k = 0; k < RESTORE_NWORDS; k++)
		if (strcmp(restore_words[k].opt, opt) == 0)
			return seen[k];
	return 0;
}

/* 1 if p (a relative or absolute path) has a ".." component. */
static int
has_dotdot(const char *p)
{
	for (const char *c = p; *c != '\0';) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.')
			return 1;
		c += len;
		c += *c == '/';
	}
	return 0;
}

/* 1 for len bytes of letters, digits and the characters of extra, not starting with '-'. */
static int
plain_name(const char *s, size_t len, const char *extra)
{
	if (len == 0 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                   (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

const char *
restore_server_bad(const char *v)
{
	const char *at = strchr(v, '@');
	char user[256];
	size_t ulen;

	for (const char *c = v; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "no control characters";
	if (v[0] == '\0')
		return "empty: expected HOST or USER@HOST";
	if (v[0] == '-')
		return "may not start with '-' (it would be read as an ssh option): expected "
		       "HOST or USER@HOST";
	if (strchr(v, ':') != NULL)
		return "expected HOST or USER@HOST without ':' (the job's ssh_port is used)";
	if (at != NULL) {
		ulen = (size_t)(at - v);
		if (ulen >= sizeof user)
			return "the user name is too long";
		memcpy(user, v, ulen);
		user[ulen] = '\0';
		if (!ssh_user_ok(user))
			return "expected USER@HOST, a user name of letters, digits, '.', '_', '-', "
			       "'$', '\\' (as remote_user)";
	}
	if (strlen(v) > 255 || !ssh_host_ok(at != NULL ? at + 1 : v))
		return "expected HOST or USER@HOST, a host name or address without blanks, '@', "
		       "':' or '/', not starting with '-' (as server_name)";
	return NULL;
}

/* 1 when db is a plain database name: up to 63 letters, digits, '_', '.', '$', '-'. */
static int
restore_db_plain(const char *db)
{
	return strlen(db) <= 63 && plain_name(db, strlen(db), "._$-");
}

/* A value of w; NULL when it is fine, else what it should be. */
static const char *
restore_value_bad(const struct restore_word *w, const char *v)
{
	if (strcmp(w->opt, "--at") == 0) {
		char stamp[TIME_STAMP_LEN + 1], bound[32];
		struct err e;
		int kind;

		return restore_parse_at(v, &kind, stamp, bound, sizeof bound, &e) == -1
		           ? "expected latest, a backup's stamp (20261126-03h20m57) or a date "
		             "(2026-11-26, 2026-11-26 18:00[:00])"
		           : NULL;
	}
	if (strcmp(w->opt, "--path") == 0)
		return v[0] == '\0' || has_dotdot(v)
		           ? "expected a file or folder inside the backup, without '..'"
		           : NULL;
	if (strcmp(w->opt, "--to") == 0) {
		const char *colon = strchr(v, ':'), *dir = v, *at;

		if (v[0] != '/') {
			if (colon == NULL)
				return "expected HOST:/DIR or an absolute /DIR";
			at = memchr(v, '@', (size_t)(colon - v));
			if ((at != NULL && !plain_name(v, (size_t)(at - v), "._-")) ||
			    !plain_name(at != NULL ? at + 1 : v,
			                (size_t)(colon - (at != NULL ? at + 1 : v)), "._-"))
				return "expected [USER@]HOST:/DIR (a host name of letters, digits, "
				       "'.', '-', '_') or an absolute /DIR";
			dir = colon + 1;
		}
		if (dir[0] != '/' || has_dotdot(dir))
			return "expected HOST:/DIR or an absolute /DIR, without '..'";
		return NULL;
	}
	if (strcmp(w->opt, "--import-to") == 0)
		return v[0] == '\0' || v[0] == '-' || strlen(v) > 255
		           ? "expected an SR's name label or UUID (1 to 255 bytes, not starting "
		             "with '-')"
		           : NULL;
	if (strcmp(w->opt, "--to-server") == 0)
		return restore_server_bad(v);
	/*
	 * --db names a database of the backup (it only picks a dump file, as
	 * restore_dump_dbs() lists them: any name, "a/b" or "my db%x");
	 * --to-db is sent to the server, so it stays plain.
	 */
	if (strcmp(w->opt, "--db") == 0)
		return v[0] == '\0' || v[0] == '-' || strlen(v) > 255
		           ? "expected the name of a database of the backup (1 to 255 bytes, "
		             "not starting with '-')"
		           : NULL;
	return restore_db_plain(v)
	           ? NULL
	           : "expected a database name (letters, digits, '_', '.', '$', '-')";
}

int
restore_queue_check(const char *action, const char *const *words, size_t n, const char **field,
                    struct err *err)
{
	int seen[RESTORE_NWORDS] = { 0 };
	const char *f = "options", *db = NULL;
	size_t i, k;

	if (n > 0 && (action == NULL || strcmp(action, "restore") != 0)) {
		err_set(err, "only a restore takes options (this run is a %s)",
		        action != NULL ? action : "?");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		const char *w = words[i], *bad;
		const struct restore_word *rw = NULL;

		for (k = 0; k < RESTORE_NWORDS; k++) {
			size_t len = strlen(restore_words[k].opt);

			if (strncmp(w, restore_words[k].opt, len) == 0 &&
			    (restore_words[k].value ? w[len] == '=' : w[len] == '\0')) {
				rw = &restore_words[k];
				break;
			}
		}
		if (rw == NULL) {
			err_set(
			    err,
			    "option '%.100s' is not allowed in a queued restore (allowed: --at=, "
			    "--path=, --to=, --db=, --to-db=, --to-server=, --import-to=, --replace, "
			    "--dry-run, --in-place, --yes)",
			    w);
			goto fail;
		}
		f = rw->field;
		for (const char *c = w; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				err_set(err, "%s: no control characters (newlines, tabs...)",
				        rw->opt);
				goto fail;
			}
		if (strlen(w) > RESTORE_WORD_MAX) {
			err_set(err, "%s: longer than %d bytes", rw->opt, RESTORE_WORD_MAX);
			goto fail;
		}
		if (seen[k]++ && strcmp(rw->opt, "--path") != 0) {
			err_set(err, "%s given twice", rw->opt);
			goto fail;
		}
		if (rw->value && (bad = restore_value_bad(rw, w + strlen(rw->opt) + 1)) != NULL) {
			err_set(err, "%.300s: %s", w, bad);
			goto fail;
		}
		if (strcmp(rw->opt, "--db") == 0)
			db = w + strlen(rw->opt) + 1;
	}
	if (db != NULL && !restore_db_plain(db) && !restore_seen(seen, "--to-db")) {
		f = "to_db";
		err_set(err,
		        "database '%.255s' is not a plain name: say which name to load it as "
		        "(--to-db: letters, digits, '_', '.', '$', '-')",
		        db);
		goto fail;
	}
	if (restore_seen(seen, "--yes") && !restore_seen(seen, "--in-place")) {
		f = "confirm";
		err_set(err, "--yes confirms an --in-place restore only");
		goto fail;
	}
	if (restore_seen(seen, "--in-place") && restore_seen(seen, "--to")) {
		f = "to";
		err_set(err, "--to or --in-place, not both");
		goto fail;
	}
	if (restore_seen(seen, "--import-to") &&
	    (restore_seen(seen, "--to") || restore_seen(seen, "--in-place") ||
	     restore_seen(seen, "--path") || restore_seen(seen, "--db") ||
	     restore_seen(seen, "--to-db"))) {
		f = "import_to";
		err_set(err, "--import-to goes alone: not with --to, --in-place, --path, --db or "
		             "--to-db");
		goto fail;
	}
	if (restore_seen(seen, "--to-server") &&
	    (restore_seen(seen, "--to") || restore_seen(seen, "--in-place") ||
	     restore_seen(seen, "--path"))) {
		f = "to_server";
		err_set(err, "--to-server is for database dumps; files go to another host with "
		             "--to HOST:DIR");
		goto fail;
	}
	if (restore_seen(seen, "--to-db") && restore_seen(seen, "--to")) {
		f = "to_db";
		err_set(err, "--to is for files, --to-db for databases");
		goto fail;
	}
	return 0;
fail:
	if (field != NULL)
		*field = f;
	return -1;
}
