/*
 * mysql+ssh: mysqldump run on the server over ssh, one gzip file per
 * database in {job}/STAMP/DB.sql.gz.
 *
 * The password never appears in an argv, here or on the server: the
 * remote mysqldump (and mysql, to list the databases) is told
 * --defaults-extra-file=/dev/stdin, and we send a MySQL option file
 * ("[client]", user, password, host, port) on ssh's stdin through a pipe
 * that is closed right after, so nothing is written to the server's disk
 * either. The dump comes back raw on ssh's stdout and is compressed here
 * (dumpfile.c) as it arrives; stderr lines are logged and the last ones
 * explain a failure.
 *
 * The files are written into {job}/STAMP.partial/ and the folder is
 * renamed to {job}/STAMP once every database is dumped and synced, so a
 * STAMP folder is always a complete backup. An empty db_name means every
 * database the server lists except information_schema, performance_schema
 * and sys (views of the server's state, which mysqldump cannot or should
 * not restore); `mysql`, which holds the accounts, is kept. A database
 * name is its file name, percent-encoded where it would not be a safe one
 * (dumpname_file(): '%', '/', control bytes, a leading '.'), and
 * STAMP/manifest.tsv maps each file back to its database. When some
 * databases fail, the others are still dumped: the job fails naming the
 * ones that did not, and their dumps stay in the .partial folder (swept by
 * cleanup like any staging folder); when none was dumped it is removed.
 */
#include "drivers/driver.h"
#include "drivers/snapdir.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "drivers/dumpname.h"
#include "drivers/mysql_unescape.h"
#include "drivers/remote_cmd.h"
#include "drivers/restore.h"
#include "dumpfile.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define MYSQL_OPTFILE_MAX 16384 /* fits a pipe's buffer: written before the child runs */

static const struct drv_key mysql_required[] = {
	{ "db_user", KEY_STR, NULL },
	{ "db_passwd", KEY_STR, NULL },
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key mysql_optional[] = {
	{ "db_name", KEY_STR, NULL },
	/* additions: the original always used the server's default socket */
	{ "db_host", KEY_STR, "localhost" },
	{ "db_port", KEY_PORT, "3306" },
	{ NULL, KEY_STR, NULL },
};

/*
 * Append s to b as a MySQL option-file value: in double quotes, with the
 * escapes the option-file reader undoes (\\ \" \n \r \t).
 */
static int
mysql_opt_value(struct buf *b, const char *s)
{
	if (buf_putc(b, '"') == -1)
		return -1;
	for (; *s != '\0'; s++) {
		const char *esc = NULL;

		switch (*s) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		}
		if (esc != NULL ? buf_puts(b, esc) == -1 : buf_putc(b, *s) == -1)
			return -1;
	}
	return buf_putc(b, '"');
}

/*
 * A pipe whose read end (returned in *rfd) yields the option file with the
 * job's credentials, then EOF. 0 or -1 + err.
 */
static int
mysql_optfile_pipe(const struct job *job, int *rfd, struct err *err)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, MYSQL_OPTFILE_MAX);
	if (buf_puts(&b, "[client]\nuser=") == -1 ||
	    mysql_opt_value(&b, job_get(job, "db_user")) == -1 ||
	    buf_puts(&b, "\npassword=") == -1 ||
	    mysql_opt_value(&b, job_get(job, "db_passwd")) == -1 || buf_puts(&b, "\nhost=") == -1 ||
	    mysql_opt_value(&b, job_get(job, "db_host")) == -1 ||
	    buf_printf(&b, "\nport=%ld\n", job_get_long(job, "db_port", 3306)) == -1) {
		err_set(err, "db_user/db_passwd/db_host: too long");
		goto out;
	}
	if (remote_secret_pipe(b.data, b.len, rfd, err) == -1)
		goto out;
	rc = 0;
out:
	/* The buffer held the password: do not leave it in freed memory. */
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return rc;
}

/*
 * Run remote on the server with the option file on its stdin (see
 * remote_cmd_run()). 0 or -1 + err.
 */
static int
mysql_run(const struct drv_run *run, const char *const *remote, const char *what,
          struct remote_cmd *c, struct err *err)
{
	const struct job *job = run->job;
	int in = -1, rc;

	if (mysql_optfile_pipe(job, &in, err) == -1)
		return -1;
	c->stdin_fd = in;
	rc = remote_cmd_run(run->job, run->progress, remote, what, c, err);
	close(in);
	c->stdin_fd = -1;
	return rc;
}

/* The databases to dump: db_name, or what the server lists. 0 or -1 + err. */
static int
mysql_databases(const struct drv_run *run, struct strv *dbs, struct err *err)
{
	const struct job *job = run->job;
	static const char *const skip[] = { "information_schema", "performance_schema", "sys",
		                            NULL };
	const char *const remote[] = { "mysql", "--defaults-extra-file=/dev/stdin",
		                       "-N",    "-B",
		                       "-e",    "SHOW DATABASES",
		                       NULL };
	const char *name = job_get(job, "db_name");
	struct remote_cmd c = { .name = job->name, .tool = "mysql" };
	struct strv lines;
	char *what = NULL;
	int rc = -1;

	if (name != NULL && name[0] != '\0') {
		strv_push(dbs, name);
		return 0;
	}
	strv_init(&lines);
	c.lines = &lines;
	what = xasprintf("listing the databases of %s", job->server_name);
	if (mysql_run(run, remote, what, &c, err) == -1)
		goto out;
	if (lines.n > REMOTE_CMD_MAX_LINES) {
		err_set(err, "%s: more than %d databases", what, REMOTE_CMD_MAX_LINES);
		goto out;
	}
	for (size_t i = 0; i < lines.n; i++) {
		int skipped = 0;

		mysql_unescape(lines.v[i]);
		for (const char *const *s = skip; *s != NULL; s++)
			skipped |= strcmp(lines.v[i], *s) == 0;
		if (!skipped && lines.v[i][0] != '\0')
			strv_push(dbs, lines.v[i]);
	}
	if (dbs->n == 0) {
		err_set(err, "%s: the server lists no database to back up", what);
		goto out;
	}
	rc = 0;
out:
	remote_cmd_free(&c);
	strv_free(&lines);
	free(what);
	return rc;
}

/*
 * Dump db into dir/FILE.sql.gz (FILE: dumpname_file()); adds the
 * compressed size to *bytes and a manifest line to man.
 */
static int
mysql_dump_one(const struct drv_run *run, const char *dir, const char *db, int64_t *bytes,
               struct buf *man, struct err *err)
{
	const struct job *job = run->job;
	const char *const remote[] = { "mysqldump",
		                       "--defaults-extra-file=/dev/stdin",
		                       "--single-transaction",
		                       "--routines",
		                       "--events",
		                       "--triggers",
		                       "--",
		                       db,
		                       NULL };
	struct remote_cmd c = { .name = job->name, .tool = "mysqldump" };
	char *file = dumpname_file(db), *name = NULL, *path = NULL, *what = NULL;
	int rc = -1;

	name = xasprintf("%s.sql.gz", file);
	path = xasprintf("%s/%s", dir, name);
	what = xasprintf("mysqldump of database '%s' on %s", db, job->server_name);
	if (dumpfile_open(path, 6, &c.df, err) == -1)
		goto out;
	log_info(job->name, "dumping database '%s' from %s into %s", db, job->server_name, path);
	if (mysql_run(run, remote, what, &c, err) == -1)
		goto out;
	if (dumpfile_commit(c.df, err) == -1)
		goto out;
	*bytes += (int64_t)dumpfile_bytes_out(c.df);
	log_info(job->name, "database '%s': %llu bytes, %llu compressed", db,
	         (unsigned long long)dumpfile_bytes_in(c.df),
	         (unsigned long long)dumpfile_bytes_out(c.df));
	if (dumpname_manifest_add(man, name, db, err) == -1)
		goto out;
	rc = 0;
out:
	dumpfile_abort(c.df);
	remote_cmd_free(&c);
	free(file);
	free(name);
	free(path);
	free(what);
	return rc;
}

static int
mysql_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct strv dbs;
	struct snapdir sd;
	struct buf man, failed;
	struct err one;
	size_t nfailed = 0;
	int64_t bytes = 0;
	int rc = -1;

	strv_init(&dbs);
	dumpname_manifest_init(&man);
	buf_init(&failed, 1 << 16);
	snapdir_init(&sd, job, run->stamp);
	if (run->dry_run) {
		const char *name = job_get(job, "db_name");

		log_info(job->name,
		         "dry run: would dump %s from %s with mysqldump over ssh into %s, "
		         "then rename it to %s",
		         name != NULL && name[0] != '\0' ? name : "every database",
		         job->server_name, sd.partial, sd.final);
		rc = 0;
		goto out;
	}
	if (mysql_databases(run, &dbs, err) == -1)
		goto out;
	if (snapdir_create(&sd, err) == -1)
		goto out;
	for (size_t i = 0; i < dbs.n; i++) {
		err_clear(&one);
		if (mysql_dump_one(run, sd.partial, dbs.v[i], &bytes, &man, &one) == -1) {
			/* Logged here; the others are still dumped. */
			log_error(job->name, "%s", one.msg);
			buf_printf(&failed, "%s'%s'", nfailed > 0 ? ", " : "", dbs.v[i]);
			if (nfailed++ == 0)
				err_set(err, "%s", one.msg);
		}
	}
	if (nfailed > 0) {
		if (nfailed < dbs.n) {
			err_set(err,
			        "%zu of %zu databases could not be dumped: %s (see the lines "
			        "above); the %zu others are in %s",
			        nfailed, dbs.n, buf_str(&failed), dbs.n - nfailed, sd.partial);
			sd.made = 0; /* keep them: cleanup sweeps the staging folder */
			err_clear(&one);
			if (dumpname_manifest_write(sd.partial, &man, &one) == -1)
				log_warning(job->name, "%s", one.msg);
		} else if (nfailed > 1) {
			err_wrap(err, "no database could be dumped (%s); the first",
			         buf_str(&failed));
		}
		goto out;
	}
	if (dumpname_manifest_write(sd.partial, &man, err) == -1 ||
	    snapdir_commit(&sd, job, err) == -1)
		goto out;
	st->location = xstrdup(sd.final);
	st->total_files = st->written_files = (int64_t)dbs.n;
	st->total_bytes = st->written_bytes = bytes;
	st->log = xasprintf("mysql backup of %zu database%s from %s OK, %lld bytes written", dbs.n,
	                    dbs.n == 1 ? "" : "s", job->server_name, (long long)bytes);
	rc = 0;
out:
	snapdir_free(&sd, job);
	strv_free(&dbs);
	buf_free(&man);
	buf_free(&failed);
	return rc;
}

/*
 * The restore's remote command: a fixed script reads the option file (its
 * line count, then its lines) from stdin into a variable, and runs mysql
 * with that file on descriptor 3 (a pipe from the shell's builtin printf)
 * and the rest of stdin, the SQL, as its stdin. The password is in no
 * argv and no file, as for the backup.
 */
static const char mysql_restore_script[] =
    "IFS= read -r n || exit 111\n"
    "o=\n"
    "while [ \"$n\" -gt 0 ]; do IFS= read -r l || exit 111; o=\"$o$l\n\"; n=$((n - 1)); done\n"
    "exec 4<&0\n"
    "printf '%s' \"$o\" | \"$@\" 3<&0 0<&4 4<&-\n";

/* Append s to b as a MySQL identifier: in backquotes, '`' doubled. */
static void
mysql_ident(struct buf *b, const char *s)
{
	buf_putc(b, '`');
	for (; *s != '\0'; s++) {
		if (*s == '`')
			buf_putc(b, '`');
		buf_putc(b, *s);
	}
	buf_putc(b, '`');
}

/*
 * The option file with the job's credentials, preceded by its line count
 * (what mysql_restore_script reads), appended to b. 0 or -1 + err.
 */
static int
mysql_restore_optfile(const struct job *job, struct buf *b, struct err *err)
{
	if (buf_puts(b, "5\n[client]\nuser=") == -1 ||
	    mysql_opt_value(b, job_get(job, "db_user")) == -1 || buf_puts(b, "\npassword=") == -1 ||
	    mysql_opt_value(b, job_get(job, "db_passwd")) == -1 || buf_puts(b, "\nhost=") == -1 ||
	    mysql_opt_value(b, job_get(job, "db_host")) == -1 ||
	    buf_printf(b, "\nport=%ld\n", job_get_long(job, "db_port", 3306)) == -1) {
		err_set(err, "db_user/db_passwd/db_host: too long");
		return -1;
	}
	return 0;
}

/* After a failed load: drop the database the restore created (a failure is logged). */
static void
mysql_restore_drop(const struct drv_run *run, const char *target)
{
	struct remote_cmd c = { .name = run->job->name, .tool = "mysql" };
	struct err derr;
	struct buf sql;
	char *what = xasprintf("dropping database '%s' on %s", target, run->job->server_name);

	err_clear(&derr);
	buf_init(&sql, (size_t)-1);
	buf_puts(&sql, "DROP DATABASE IF EXISTS ");
	mysql_ident(&sql, target);
	{
		const char *const drop[] = { "mysql", "--defaults-extra-file=/dev/stdin", "-e",
			                     buf_str(&sql), NULL };

		if (mysql_run(run, drop, what, &c, &derr) == -1)
			log_warning(run->job->name, "after the failure: %s", derr.msg);
	}
	remote_cmd_free(&c);
	buf_free(&sql);
	free(what);
}

/*
 * Restore hook: the dump of r->db loaded with the mysql client into
 * TARGET on the job's server, in one session: DROP DATABASE (with
 * r->overwrite), CREATE DATABASE, USE, then the dump. An existing TARGET
 * without overwrite is refused before anything is changed. MySQL cannot
 * rename a database, so the load is not staged: a failed load into a
 * database this restore created drops it again; with --replace the old
 * database is gone and the error says so.
 */
static int
mysql_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	const struct job *job = r->job;
	const char *const list[] = { "mysql", "--defaults-extra-file=/dev/stdin",
		                     "-N",    "-B",
		                     "-e",    "SHOW DATABASES",
		                     NULL };
	const char *const load[] = { "sh", "-c",    mysql_restore_script,
		                     "sh", "mysql", "--defaults-extra-file=/dev/fd/3",
		                     NULL };
	struct drv_run run = { .job = job, .progress = r->progress };
	struct remote_cmd c = { .name = job->name, .tool = "mysql" };
	struct restore_stream s = { .tool = "mysql" };
	const char *db, *target;
	struct strv lines;
	struct buf pre;
	char *gz = NULL, *what = NULL;
	int exists = 0, rc = -1;

	strv_init(&lines);
	buf_init(&pre, (size_t)-1);
	if (restore_db_names(r, &db, &target, err) == -1)
		goto out;
	gz = restore_dump_find(r->location, db, err);
	if (gz == NULL)
		goto out;
	c.lines = &lines;
	what = xasprintf("listing the databases of %s", job->server_name);
	if (mysql_run(&run, list, what, &c, err) == -1)
		goto out;
	for (size_t i = 0; i < lines.n && !exists; i++) {
		mysql_unescape(lines.v[i]);
		exists = strcmp(lines.v[i], target) == 0;
	}
	if (exists && !r->overwrite) {
		err_set(err,
		        "database '%s' already exists on %s: nothing was changed; add --replace "
		        "to overwrite it, or choose another name with --to-db",
		        target, job->server_name);
		goto out;
	}
	if (r->dry_run) {
		printf("would load %s into database '%s' on %s%s\n", gz, target, job->server_name,
		       exists ? " (replacing the existing database)" : "");
		st->log = xasprintf("dry run: restore of %s into database '%s' on %s", gz, target,
		                    job->server_name);
		rc = 0;
		goto out;
	}
	if (mysql_restore_optfile(job, &pre, err) == -1)
		goto out;
	if (r->overwrite) {
		buf_puts(&pre, "DROP DATABASE IF EXISTS ");
		mysql_ident(&pre, target);
		buf_puts(&pre, ";\n");
	}
	buf_puts(&pre, "CREATE DATABASE ");
	mysql_ident(&pre, target);
	buf_puts(&pre, ";\nUSE ");
	mysql_ident(&pre, target);
	buf_puts(&pre, ";\n");
	free(what);
	what = xasprintf("loading %s into database '%s' on %s", gz, target, job->server_name);
	log_info(job->name, "%s", what);
	s.what = what;
	s.preamble = pre.data;
	s.preamble_len = pre.len;
	s.gz_path = gz;
	if (restore_stream_run(r, load, &s, err) == -1) {
		if (exists)
			err_append_line(err,
			                "database '%s' on %s was replaced before the load "
			                "failed: it is incomplete; restore it again",
			                target, job->server_name);
		else
			mysql_restore_drop(&run, target);
		goto out;
	}
	st->total_files = st->written_files = 1;
	st->total_bytes = st->written_bytes = s.bytes;
	st->location = xasprintf("%s:%s", job->server_name, target);
	st->log = xasprintf("restore of %s into database '%s' on %s OK, %lld bytes of SQL loaded",
	                    gz, target, job->server_name, s.bytes);
	rc = 0;
out:
	/* The preamble held the password. */
	if (pre.data != NULL)
		explicit_bzero(pre.data, pre.len);
	buf_free(&pre);
	remote_cmd_free(&c);
	strv_free(&lines);
	free(gz);
	free(what);
	return rc;
}

const struct driver drv_mysql = {
	.name = "mysql+ssh",
	.description = "Dumps MySQL/MariaDB databases with mysqldump over ssh, one gzip "
	               "file per database in a dated folder.",
	.required = mysql_required,
	.optional = mysql_optional,
	.caps = DRV_CAP_SSH | DRV_CAP_DB_DUMP,
	.backup = mysql_backup,
	.restore = mysql_restore,
	.verify_kind = "mysql",
};
