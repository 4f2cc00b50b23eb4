/*
 * sqlserver+ssh: `BACKUP DATABASE` on a Windows host reached over ssh
 * (OpenSSH with a POSIX shell such as cygwin's, as the original assumed),
 * through sqlcmd, or osql when sqlserver_before_2005 is set. The .bak file
 * is written by the server into remote_backup_dir, fetched with `cat` over
 * ssh, compressed here as it arrives into {job}/STAMP.partial/DB-STAMP.bak.gz
 * (renamed {job}/STAMP when complete) and removed from the server in
 * every outcome once the BACKUP was attempted.
 *
 * Every remote command is one argv quoted once by quote_sh_argv(); values
 * are never pasted into shell text. SQL login: without db_user the tool
 * uses Windows authentication (-E). With db_user, the password never
 * appears on our side's command lines: it is written to ssh's stdin and
 * read by a fixed `sh -c` script. sqlcmd takes it from SQLCMDPASSWORD, so
 * it is in no argv at all; osql has no such variable, so the script puts
 * it after -P on the Windows host's command line (logged as a warning).
 * -b makes both tools exit non-zero when the server reports an error;
 * sqlcmd's -r1 puts its messages on stderr, osql's stdout is kept too.
 *
 * The ssh login is remote_user, or the original's `username` key (its
 * ssh user) when remote_user is not set; setting both to different users
 * is refused, so a configuration cannot silently log in as someone else.
 */
#include "drivers/driver.h"
#include "drivers/snapdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "drivers/remote_cmd.h"
#include "dumpfile.h"
#include "log.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define SQLSRV_PASSWORD_MAX 4096 /* fits a pipe's buffer: written before the child runs */

/* Fixed scripts; the password arrives on stdin, the command as "$@". */
#define SQLSRV_SQLCMD_SCRIPT                                                                       \
	"IFS= read -r SQLCMDPASSWORD || exit 1; export SQLCMDPASSWORD; exec \"$@\""
#define SQLSRV_OSQL_SCRIPT "IFS= read -r p || exit 1; exec \"$@\" -P \"$p\""

static const struct drv_key sqlsrv_required[] = {
	{ "db_name", KEY_STR, NULL },
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key sqlsrv_optional[] = {
	{ "username", KEY_STR, NULL }, /* the original's ssh user: remote_user when unset */
	{ "remote_backup_dir", KEY_STR, "c:/WINDOWS/Temp/" },
	{ "sqlserver_before_2005", KEY_BOOL, "no" },
	{ "db_server_name", KEY_STR, "localhost" },
	{ "db_user", KEY_STR, NULL },
	{ "db_password", KEY_STR, NULL },
	{ NULL, KEY_STR, NULL },
};

/* The .bak path on the server: remote_backup_dir, a separator, DB-STAMP.bak. */
static char *
sqlsrv_remote_path(const struct job *job, const char *stamp)
{
	const char *dir = job_get(job, "remote_backup_dir"), *sep = "/";
	size_t len = strlen(dir);

	if (len > 0 && (dir[len - 1] == '/' || dir[len - 1] == '\\'))
		sep = "";
	else if (strchr(dir, '\\') != NULL && strchr(dir, '/') == NULL)
		sep = "\\";
	return xasprintf("%s%s%s-%s.bak", dir, sep, job_get(job, "db_name"), stamp);
}

/* A copy of s with every q doubled (SQL's escape inside [] and ''). */
static char *
sqlsrv_escape(const char *s, char q)
{
	char *out = xmalloc(2 * strlen(s) + 1), *o = out;

	for (; *s != '\0'; s++) {
		*o++ = *s;
		if (*s == q)
			*o++ = q;
	}
	*o = '\0';
	return out;
}

/*
 * The remote argv running the BACKUP; *password tells whether the
 * password must be written to its stdin.
 */
static void
sqlsrv_backup_argv(const struct job *job, const char *bak, struct strv *av, int *password)
{
	const char *user = job_get(job, "db_user");
	int osql = job_get_bool(job, "sqlserver_before_2005", 0);
	char *db, *path;

	*password = user != NULL && user[0] != '\0';
	if (*password) {
		strv_push(av, "sh");
		strv_push(av, "-c");
		strv_push(av, osql ? SQLSRV_OSQL_SCRIPT : SQLSRV_SQLCMD_SCRIPT);
		strv_push(av, "sh");
	}
	strv_push(av, osql ? "osql" : "sqlcmd");
	strv_push(av, "-S");
	strv_push(av, job_get(job, "db_server_name"));
	strv_push(av, "-d");
	strv_push(av, "master");
	if (*password) {
		strv_push(av, "-U");
		strv_push(av, user);
	} else
		strv_push(av, "-E");
	strv_push(av, "-b");
	if (!osql)
		strv_push(av, "-r1"); /* every message on stderr, where we keep them */
	db = sqlsrv_escape(job_get(job, "db_name"), ']');
	path = sqlsrv_escape(bak, '\'');
	strv_push(av, "-Q");
	strv_pushf(av, "BACKUP DATABASE [%s] TO DISK = N'%s' WITH FORMAT", db, path);
	free(db);
	free(path);
}

/* A pipe whose read end (*rfd) yields db_password and a newline. 0 or -1 + err. */
static int
sqlsrv_password_pipe(const struct job *job, int *rfd, struct err *err)
{
	const char *pw = job_get(job, "db_password");
	char *data = NULL;
	size_t len;
	int rc = -1;

	data = xasprintf("%s\n", pw != NULL ? pw : "");
	len = strlen(data);
	if (len > SQLSRV_PASSWORD_MAX) {
		err_set(err, "db_password: too long");
		goto out;
	}
	if (remote_secret_pipe(data, len, rfd, err) == -1)
		goto out;
	rc = 0;
out:
	/* It held the password: do not leave it in freed memory. */
	explicit_bzero(data, strlen(data));
	free(data);
	return rc;
}

/* Run the BACKUP on the server. 0 or -1 + err. */
static int
sqlsrv_run_backup(const struct drv_run *run, const char *bak, struct err *err)
{
	const struct job *job = run->job;
	int osql = job_get_bool(job, "sqlserver_before_2005", 0);
	struct remote_cmd c = { .name = job->name, .tool = osql ? "osql" : "sqlcmd" };
	struct strv remote, lines;
	char *what = NULL;
	int password, in = -1, rc = -1;

	strv_init(&remote);
	strv_init(&lines);
	sqlsrv_backup_argv(job, bak, &remote, &password);
	what = xasprintf("%s BACKUP DATABASE [%s] on %s", c.tool, job_get(job, "db_name"),
	                 job->server_name);
	if (password) {
		if (osql)
			log_warning(job->name,
			            "osql has no password variable: the password of %s "
			            "is on osql's command line on %s",
			            job_get(job, "db_user"), job->server_name);
		if (sqlsrv_password_pipe(job, &in, err) == -1)
			goto out;
		c.stdin_fd = in;
	}
	c.lines = &lines;
	log_info(job->name, "backing up database '%s' on %s into %s", job_get(job, "db_name"),
	         job->server_name, bak);
	if (remote_cmd_run(run->job, run->progress, (const char *const *)strv_argv(&remote), what,
	                   &c, err) == -1) {
		/* osql reports the server's errors on stdout */
		for (size_t i = lines.n > REMOTE_CMD_TAIL_LINES ? lines.n - REMOTE_CMD_TAIL_LINES
		                                                : 0;
		     i < lines.n; i++)
			if (lines.v[i][0] != '\0')
				err_append_line(err, "%s", lines.v[i]);
		goto out;
	}
	rc = 0;
out:
	if (in != -1)
		close(in);
	remote_cmd_free(&c);
	strv_free(&remote);
	strv_free(&lines);
	free(what);
	return rc;
}

/* Fetch bak into dir/DB-STAMP.bak.gz; *bytes = its compressed size. */
static int
sqlsrv_fetch(const struct drv_run *run, const char *bak, const char *dir, const char *stamp,
             int64_t *bytes, struct err *err)
{
	const struct job *job = run->job;
	struct remote_cmd c = { .name = job->name, .tool = "cat" };
	const char *remote[] = { "cat", "--", bak, NULL };
	char *path = NULL, *what = NULL;
	int rc = -1;

	path = xasprintf("%s/%s-%s.bak.gz", dir, job_get(job, "db_name"), stamp);
	what = xasprintf("fetching %s from %s", bak, job->server_name);
	if (dumpfile_open(path, 6, &c.df, err) == -1)
		goto out;
	if (remote_cmd_run(run->job, run->progress, remote, what, &c, err) == -1)
		goto out;
	if (dumpfile_bytes_in(c.df) == 0) {
		err_set(err, "%s: the backup file is empty", what);
		goto out;
	}
	if (dumpfile_commit(c.df, err) == -1)
		goto out;
	*bytes = (int64_t)dumpfile_bytes_out(c.df);
	log_info(job->name, "database '%s': %llu bytes, %llu compressed", job_get(job, "db_name"),
	         (unsigned long long)dumpfile_bytes_in(c.df),
	         (unsigned long long)dumpfile_bytes_out(c.df));
	rc = 0;
out:
	dumpfile_abort(c.df);
	remote_cmd_free(&c);
	free(path);
	free(what);
	return rc;
}

/* Remove bak from the server. 0, or -1 after logging a warning. */
static int
sqlsrv_remove(const struct drv_run *run, const char *bak)
{
	const struct job *job = run->job;
	struct remote_cmd c = { .name = job->name, .tool = "rm" };
	const char *remote[] = { "rm", "-f", "--", bak, NULL };
	struct strv lines;
	struct err err;
	char *what;
	int rc = 0;

	strv_init(&lines);
	c.lines = &lines;
	what = xasprintf("removing %s from %s", bak, job->server_name);
	if (remote_cmd_run(run->job, run->progress, remote, what, &c, &err) == -1) {
		log_warning(job->name, "%s", err.msg);
		rc = -1;
	}
	remote_cmd_free(&c);
	strv_free(&lines);
	free(what);
	return rc;
}

static int
sqlsrv_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct snapdir sd;
	char *bak = NULL;
	int64_t bytes = 0;
	int rc = -1, attempted = 0;

	snapdir_init(&sd, job, run->stamp);
	bak = sqlsrv_remote_path(job, run->stamp);
	if (run->dry_run) {
		log_info(job->name,
		         "dry run: would back up database '%s' on %s with %s into %s, fetch it "
		         "into %s and remove it from the server",
		         job_get(job, "db_name"), job->server_name,
		         job_get_bool(job, "sqlserver_before_2005", 0) ? "osql" : "sqlcmd", bak,
		         sd.final);
		rc = 0;
		goto out;
	}
	if (snapdir_create(&sd, err) == -1)
		goto out;
	attempted = 1;
	if (sqlsrv_run_backup(run, bak, err) == -1)
		goto out;
	if (sqlsrv_fetch(run, bak, sd.partial, run->stamp, &bytes, err) == -1)
		goto out;
	if (snapdir_commit(&sd, job, err) == -1)
		goto out;
	st->location = xstrdup(sd.final);
	st->total_files = st->written_files = 1;
	st->total_bytes = st->written_bytes = bytes;
	st->log = xasprintf("sqlserver backup of database '%s' from %s OK, %lld bytes written",
	                    job_get(job, "db_name"), job->server_name, (long long)bytes);
	rc = 0;
out:
	if (attempted && sqlsrv_remove(run, bak) == -1 && rc == 0)
		st->warnings = 1;
	snapdir_free(&sd, job);
	free(bak);
	return rc;
}

/* 0 if s has none of the characters in bad and no control character. */
static int
sqlsrv_clean(const char *s, const char *bad)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || strchr(bad, *s) != NULL)
			return -1;
	return 0;
}

static int
sqlsrv_validate(const struct job *job, struct err *err)
{
	const char *db = job_get(job, "db_name"), *v;

	if ((v = job_get(job, "username")) != NULL && strcmp(v, job->remote_user) != 0) {
		err_set(err,
		        "username: '%s' differs from remote_user '%s', the ssh user; "
		        "set remote_user = %s",
		        v, job->remote_user, v);
		return -1;
	}
	if (db[0] == '\0' || strcmp(db, ".") == 0 || strcmp(db, "..") == 0 ||
	    sqlsrv_clean(db, "/\\\"") == -1) {
		err_set(err, "db_name: '%s' cannot be used as a file name", db);
		return -1;
	}
	if (sqlsrv_clean(job_get(job, "remote_backup_dir"), "\"") == -1) {
		err_set(err, "remote_backup_dir: no double quote or control character allowed");
		return -1;
	}
	if ((v = job_get(job, "db_server_name")) == NULL || v[0] == '\0' || v[0] == '-' ||
	    sqlsrv_clean(v, " \"") == -1) {
		err_set(err, "db_server_name: '%s' is not a server name", v != NULL ? v : "");
		return -1;
	}
	if ((v = job_get(job, "db_user")) != NULL && (v[0] == '-' || sqlsrv_clean(v, "\"") == -1)) {
		err_set(err, "db_user: '%s' is not a login name", v);
		return -1;
	}
	if ((v = job_get(job, "db_password")) != NULL && strpbrk(v, "\r\n") != NULL) {
		err_set(err, "db_password: no line break allowed");
		return -1;
	}
	return 0;
}

const struct driver drv_sqlserver = {
	.name = "sqlserver+ssh",
	.description = "Backs up a SQL Server database with BACKUP DATABASE through sqlcmd "
	               "(osql before 2005) on a Windows host over ssh, fetched gzipped into "
	               "a dated folder.",
	.required = sqlsrv_required,
	.optional = sqlsrv_optional,
	.caps = DRV_CAP_SSH | DRV_CAP_USERNAME_IS_LOGIN,
	.validate = sqlsrv_validate,
	.backup = sqlsrv_backup,
};
