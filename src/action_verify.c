/*
 * verify: prove that the newest good backup of each selected job with
 * `verify = yes` restores (docs/restore.md, "Verify"). Today: pgsql+ssh
 * dumps. Each database dump of the backup is inflated here (zlib checks
 * its CRC), loaded with a local psql into a scratch database on the
 * verify server ([verify] pgsql_url of the gui config; its password from
 * [verify] pgsql_password_file, handed to psql in PGPASSWORD, never in
 * argv), counted (rows per table, objects), and the scratch database is
 * dropped whatever happened. The counts are kept in the job folder's
 * .verify-counts file; a table that disappeared, or shrank by more than
 * verify_shrink_warn % since the previous verify, is a warning in the
 * row's log. One VERIFY catalog row per job through runrec.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

#define VERIFY_COUNTS ".verify-counts"

/* The verify server of one run. */
struct verify_srv {
	const char *url; /* postgresql://USER@HOST:PORT (no database, no password) */
	char *password;  /* NULL = none (peer or .pgpass) */
};

/* Lines of psql's stdout, bounded. */
static void
collect_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct strv *out = ctx;

	(void)len;
	if (stream == SPAWN_STDOUT && out->n < 100000)
		strv_push(out, line);
}

/* stderr of psql kept for the error: its last lines. */
struct psql_out {
	struct strv out;
	struct buf errs;
};

static void
psql_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct psql_out *p = ctx;

	if (stream == SPAWN_STDOUT) {
		collect_line(&p->out, stream, line, len);
		return;
	}
	if (p->errs.len > 2000)
		buf_consume(&p->errs, p->errs.len - 1000);
	buf_puts(&p->errs, line);
	buf_putc(&p->errs, '\n');
}

/*
 * Run psql against database db of the verify server: sql as --command,
 * or stdin_fd as the script. Output lines into out (may be NULL). 0 or
 * -1 + err with psql's last error lines.
 */
static int
verify_psql(const struct verify_srv *s, const char *db, const char *sql, int stdin_fd,
            struct strv *out, struct err *err)
{
	const char *const *denv = spawn_default_env();
	struct strv argv, env;
	struct spawn_opts o;
	struct spawn_result res;
	struct psql_out p;
	int rc = -1;

	strv_init(&argv);
	strv_init(&env);
	strv_init(&p.out);
	buf_init(&p.errs, (size_t)-1);
	for (; *denv != NULL; denv++)
		if (strncmp(*denv, "PG", 2) != 0)
			strv_push(&env, *denv);
	strv_pushf(&env, "PGDATABASE=%s", db);
	if (s->password != NULL)
		strv_pushf(&env, "PGPASSWORD=%s", s->password);
	strv_push(&env, "PGCONNECT_TIMEOUT=30");
	strv_push(&argv, "psql");
	strv_push(&argv, "--no-psqlrc");
	strv_push(&argv, "--quiet");
	strv_push(&argv, "--no-align");
	strv_push(&argv, "--tuples-only");
	strv_push(&argv, "--field-separator=\t");
	strv_push(&argv, "--set=ON_ERROR_STOP=1");
	strv_push(&argv, "--no-password");
	strv_pushf(&argv, "--dbname=%s", s->url);
	if (sql != NULL)
		strv_pushf(&argv, "--command=%s", sql);
	else
		strv_push(&argv, "--file=-");
	spawn_opts_init(&o);
	o.argv = (const char *const *)strv_argv(&argv);
	o.envp = (const char *const *)strv_argv(&env);
	o.stdin_fd = stdin_fd;
	o.on_line = psql_line;
	o.ctx = &p;
	if (spawn_run(&o, &res, err) == -1)
		goto out;
	if (!res.exited || res.code != 0) {
		char how[128];

		spawn_describe(&res, how, sizeof how);
		err_set(err, "psql %s: %s", how, p.errs.len > 0 ? buf_str(&p.errs) : "no message");
		goto out;
	}
	if (out != NULL)
		for (size_t i = 0; i < p.out.n; i++)
			strv_push(out, p.out.v[i]);
	rc = 0;
out:
	if (s->password != NULL)
		for (size_t i = 0; i < env.n; i++)
			if (strncmp(env.v[i], "PGPASSWORD=", 11) == 0)
				memset(env.v[i], 0, strlen(env.v[i]));
	strv_free(&argv);
	strv_free(&env);
	strv_free(&p.out);
	buf_free(&p.errs);
	return rc;
}

/*
 * Inflate the gzip file gz into an unlinked temporary file (the CRC and
 * length are checked at the end). The open descriptor, at offset 0, or
 * -1 + err.
 */
static int
verify_inflate(const char *gz, struct err *err)
{
	char tmpl[] = "/tmp/tisbackup-verify-XXXXXX";
	char chunk[65536];
	gzFile in;
	int fd, n;

	in = gzopen(gz, "rb");
	if (in == NULL) {
		err_sys(err, errno, "opening %s", gz);
		return -1;
	}
	fd = mkstemp(tmpl);
	if (fd == -1) {
		err_sys(err, errno, "creating a temporary file for %s", gz);
		gzclose(in);
		return -1;
	}
	unlink(tmpl);
	while ((n = gzread(in, chunk, sizeof chunk)) > 0) {
		if (write(fd, chunk, (size_t)n) != n) {
			err_sys(err, errno, "inflating %s into a temporary file", gz);
			goto fail;
		}
	}
	if (n < 0) {
		int zerr;
		const char *m = gzerror(in, &zerr);

		err_set(err, "%s is damaged: %s", gz, m != NULL ? m : "gzip error");
		goto fail;
	}
	if (gzclose(in) != Z_OK) {
		in = NULL;
		err_set(err, "%s is damaged: gzip check failed", gz);
		goto fail;
	}
	in = NULL;
	if (lseek(fd, 0, SEEK_SET) == -1) {
		err_sys(err, errno, "rewinding the inflated %s", gz);
		goto fail;
	}
	return fd;
fail:
	if (in != NULL)
		gzclose(in);
	close(fd);
	return -1;
}

/* The database name of a dump file "DB-STAMP.sql.gz" (or "DB.sql.gz"). */
static char *
dump_db_name(const char *file)
{
	size_t n = strlen(file) - strlen(".sql.gz");
	time_t t;

	if (n > TIME_STAMP_LEN + 1 && file[n - TIME_STAMP_LEN - 1] == '-') {
		char st[TIME_STAMP_LEN + 1];

		memcpy(st, file + n - TIME_STAMP_LEN, TIME_STAMP_LEN);
		st[TIME_STAMP_LEN] = '\0';
		if (time_parse_stamp(st, &t) == 0)
			n -= TIME_STAMP_LEN + 1;
	}
	return xasprintf("%.*s", (int)n, file);
}

static const char count_sql[] =
    "SELECT format('SELECT %L, count(*) FROM %I.%I', schemaname || '.' || tablename, "
    "schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN "
    "('pg_catalog', 'information_schema') ORDER BY 1 \\gexec\n"
    "SELECT '#objects', count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', "
    "'pg_toast') AND n.nspname NOT LIKE 'pg_temp%';\n";

/*
 * Load dump gz into scratch on the verify server and append its counts
 * ("DB/schema.table\tN" lines, "DB/#objects\tN") to counts. The scratch
 * database is dropped in every outcome. 0 or -1 + err.
 */
static int
verify_pg_dump(const struct job *job, const struct verify_srv *s, const char *gz, const char *db,
               struct strv *counts, struct err *err)
{
	char *scratch = xasprintf("tisbackup_verify_%ld", (long)getpid());
	char *sql = NULL;
	struct strv lines;
	struct err derr;
	int fd = -1, cfd = -1, rc = -1;
	char tmpl[] = "/tmp/tisbackup-verify-XXXXXX";

	strv_init(&lines);
	err_clear(&derr);
	fd = verify_inflate(gz, err);
	if (fd == -1)
		goto out;
	sql = xasprintf("DROP DATABASE IF EXISTS \"%s\"", scratch);
	if (verify_psql(s, "postgres", sql, -1, NULL, err) == -1) {
		err_wrap(err, "dropping an old scratch database '%s'", scratch);
		goto out;
	}
	free(sql);
	sql = xasprintf("CREATE DATABASE \"%s\" TEMPLATE template0", scratch);
	if (verify_psql(s, "postgres", sql, -1, NULL, err) == -1) {
		err_wrap(err, "creating the scratch database '%s'", scratch);
		goto out;
	}
	log_info(job->name, "verify: loading %s into scratch database '%s'", gz, scratch);
	if (verify_psql(s, scratch, NULL, fd, NULL, err) == -1) {
		err_wrap(err, "loading %s into a scratch database", gz);
		goto drop;
	}
	cfd = mkstemp(tmpl);
	if (cfd == -1) {
		err_sys(err, errno, "creating a temporary file");
		goto drop;
	}
	unlink(tmpl);
	if (write(cfd, count_sql, sizeof count_sql - 1) != (ssize_t)(sizeof count_sql - 1) ||
	    lseek(cfd, 0, SEEK_SET) == -1) {
		err_sys(err, errno, "writing a temporary file");
		goto drop;
	}
	if (verify_psql(s, scratch, NULL, cfd, &lines, err) == -1) {
		err_wrap(err, "counting the rows of %s", gz);
		goto drop;
	}
	for (size_t i = 0; i < lines.n; i++)
		if (lines.v[i][0] != '\0')
			strv_pushf(counts, "%s/%s", db, lines.v[i]);
	rc = 0;
drop:
	free(sql);
	sql = xasprintf("DROP DATABASE IF EXISTS \"%s\"", scratch);
	if (verify_psql(s, "postgres", sql, -1, NULL, &derr) == -1) {
		log_error(job->name, "verify: dropping the scratch database '%s' failed: %s",
		          scratch, derr.msg);
		if (rc == 0)
			err_set(err, "dropping the scratch database '%s' failed: %s", scratch,
			        derr.msg);
		rc = -1;
	}
out:
	if (fd != -1)
		close(fd);
	if (cfd != -1)
		close(cfd);
	strv_free(&lines);
	free(sql);
	free(scratch);
	return rc;
}

/* "NAME\tN" lines of path into names/values (missing file: none). */
static void
counts_read(const char *path, struct strv *lines)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strchr(line, '\t') != NULL)
			strv_push(lines, line);
	}
	fclose(f);
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

/* The newest good BACKUP row's location of job into *loc. 0, or -1 + err. */
static int
verify_pick(const struct action_ctx *a, const struct job *job, char **loc, struct err *err)
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

		if (stat(rows[i].backup_location, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			*loc = xstrdup(rows[i].backup_location);
			rc = 0;
			break;
		}
	}
	if (rc == -1)
		err_set(err, "no good backup on disk to verify");
	catalog_rows_free(rows, n);
	return rc;
}

/* Verify one job; its outcome is logged and recorded. 0 or -1. */
static int
verify_job(const struct action_ctx *a, const struct job *job, const struct verify_srv *s)
{
	struct strv counts, prev;
	struct runrec rr = { 0 };
	struct drv_stats st;
	struct job_lock lk = { .fd = -1 };
	struct buf log, warn;
	struct err err, derr;
	char now[TIME_STAMP_LEN + 1];
	char *loc = NULL, *cpath = xasprintf("%s/" VERIFY_COUNTS, job->dir);
	long shrink = job_get_long(job, "verify_shrink_warn", 10);
	int ndumps = 0, rc = -1;
	DIR *d = NULL;
	struct dirent *de;

	strv_init(&counts);
	strv_init(&prev);
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
	if (s->url == NULL) {
		err_set(&derr,
		        "no verify server: set [verify] pgsql_url in %s (docs/restore.md, Verify)",
		        a->gui_config);
		goto finish;
	}
	if (verify_pick(a, job, &loc, &derr) == -1)
		goto finish;
	st.location = xstrdup(loc);
	d = opendir(loc);
	if (d == NULL) {
		err_sys(&derr, errno, "reading %s", loc);
		goto finish;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char *gz, *db;
		int r;

		if (n <= 7 || strcmp(de->d_name + n - 7, ".sql.gz") != 0 ||
		    strcmp(de->d_name, "globals.sql.gz") == 0)
			continue;
		gz = xasprintf("%s/%s", loc, de->d_name);
		db = dump_db_name(de->d_name);
		r = verify_pg_dump(job, s, gz, db, &counts, &derr);
		free(gz);
		free(db);
		if (r == -1)
			goto finish;
		ndumps++;
	}
	if (ndumps == 0) {
		err_set(&derr, "%s holds no database dump", loc);
		goto finish;
	}
	counts_read(cpath, &prev);
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
	if (d != NULL)
		closedir(d);
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
	s.url = gui->verify_pgsql_url;
	if (gui->verify_pgsql_password_file != NULL &&
	    fs_read_secret_line(gui->verify_pgsql_password_file, "[verify] pgsql_password_file",
	                        &s.password, &err) == -1) {
		action_print_err(err.msg);
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
		if (job->drv->verify_kind == NULL || strcmp(job->drv->verify_kind, "pgsql") != 0) {
			log_warning(job->name, "verify: backups of type %s cannot be verified yet",
			            job->drv->name);
			continue;
		}
		if (verify_job(a, job, &s) == -1)
			failed++;
	}
	fs_secret_free(s.password);
	guiconf_free(gui);
	if (a->ninvalid > 0)
		return EXIT_JOBS;
	return failed > 0 ? EXIT_JOBS : 0;
}
