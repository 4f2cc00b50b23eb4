/*
 * oracle+ssh: Oracle's `exp` run on the server over ssh as the oracle
 * user, its dump fetched into {job}/STAMP/DB.dmp.gz and its log into
 * {job}/STAMP/DB.log.
 *
 * One ssh session runs a small fixed sh script (ORA_SCRIPT) whose
 * arguments are the configured values, each quoted once by
 * quote_sh_argv(): it makes a private folder with `mktemp -d` in
 * remote_backup_dir as the oracle user, writes the `exp` parameter file
 * (the userid, which holds the password) there from ssh's stdin, runs
 * `runuser -u USER -- env ORACLE_SID=DB exp parfile=... full=y`, removes
 * the parameter file, sends the exp log on stderr (each line tagged with
 * ORA_LOG_TAG) and then the dump on stdout, which is compressed here as it
 * arrives. A trap removes the folder in every outcome. So the password is
 * never in an argv, here or on the server, and stays on the server's disk,
 * in a 0700 folder, only while exp runs.
 *
 * Any "EXP-nnnnn" code in the log that ignore_error_oracle_code does not
 * list fails the job with those lines and the ORA- lines; listed codes
 * are logged as warnings. The files are written into {job}/STAMP.partial/
 * and the folder is renamed to {job}/STAMP once both are synced.
 */
#include "drivers/driver.h"
#include "drivers/remote_cmd.h"
#include "drivers/snapdir.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dumpfile.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define ORA_PARFILE_MAX 16384            /* fits a pipe's buffer */
#define ORA_LOG_MAX (32 * 1024 * 1024)   /* the exp log kept in memory */
#define ORA_TAIL_LINES 5                 /* last stderr lines kept for an error */
#define ORA_ERROR_LINES 20               /* EXP-/ORA- lines quoted in an error */
#define ORA_LOG_TAG "tisbackup-exp-log:" /* marks the log's lines on stderr */
#define ORA_CODE_LEN 9                   /* "EXP-00091" */

/*
 * The remote script: $1 user, $2 ORACLE_SID, $3 remote_backup_dir; the
 * parameter file on stdin. Exits with exp's status.
 */
static const char ORA_SCRIPT[] =
    "set -u\n"
    "umask 077\n"
    "cd / || exit 1\n"
    "d=\n"
    "trap 'if [ -n \"$d\" ]; then rm -rf -- \"$d\"; fi' EXIT\n"
    "trap 'exit 129' HUP INT TERM PIPE\n"
    "d=$(runuser -u \"$1\" -- mktemp -d \"$3/tisbackup-exp.XXXXXXXXXX\") || exit 1\n"
    "runuser -u \"$1\" -- tee \"$d/par\" >/dev/null || exit 1\n"
    "rc=0\n"
    "runuser -u \"$1\" -- env ORACLE_SID=\"$2\" exp parfile=\"$d/par\" "
    "file=\"$d/exp.dmp\" log=\"$d/exp.log\" full=y >&2 </dev/null || rc=$?\n"
    "rm -f -- \"$d/par\"\n"
    "if [ -f \"$d/exp.log\" ]; then sed 's/^/" ORA_LOG_TAG "/' \"$d/exp.log\" >&2; fi\n"
    "[ \"$rc\" -eq 0 ] || exit \"$rc\"\n"
    "cat -- \"$d/exp.dmp\" || exit 1\n";

static const struct drv_key oracle_required[] = {
	{ "db_name", KEY_STR, NULL },
	{ "private_key", KEY_FILE, NULL },
	{ "userid", KEY_STR, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key oracle_optional[] = {
	{ "username", KEY_STR, "oracle" },
	{ "remote_backup_dir", KEY_STR, "/var/tmp" },
	{ "ignore_error_oracle_code", KEY_STR, NULL },
	{ NULL, KEY_STR, NULL },
};

/* What one run of the remote script sends back. */
struct ora_cmd {
	const char *name;
	struct dumpfile *df;
	struct err write_err;
	int write_failed;
	struct buf log; /* the exp log, lines without the tag */
	int log_full;
	char *tail[ORA_TAIL_LINES]; /* last untagged stderr lines */
	size_t next;
	struct ssh_diag diag; /* ssh's own error lines (not in tail) */
};

static void
ora_on_data(void *ctx, const char *data, size_t len)
{
	struct ora_cmd *c = ctx;

	if (c->write_failed)
		return;
	if (dumpfile_write(c->df, data, len, &c->write_err) == -1)
		c->write_failed = 1;
}

static void
ora_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct ora_cmd *c = ctx;
	size_t tl = strlen(ORA_LOG_TAG);

	(void)stream;
	if (len >= tl && memcmp(line, ORA_LOG_TAG, tl) == 0) {
		if (!c->log_full && (buf_append(&c->log, line + tl, len - tl) == -1 ||
		                     buf_putc(&c->log, '\n') == -1))
			c->log_full = 1;
		return;
	}
	if (len == 0)
		return;
	log_info(c->name, "exp stderr: %.*s", (int)len, line);
	if (ssh_diag_feed(&c->diag, line, len))
		return;
	free(c->tail[c->next]);
	c->tail[c->next] = xstrndup(line, len);
	c->next = (c->next + 1) % ORA_TAIL_LINES;
}

static long long
ora_progress(void *ctx, pid_t pid)
{
	const struct ora_cmd *c = ctx;

	(void)pid;
	return (long long)(dumpfile_bytes_in(c->df) + c->log.len);
}

/*
 * A pipe whose read end (returned in *rfd) yields the exp parameter file
 * with the job's userid, then EOF. 0 or -1 + err.
 */
static int
ora_parfile_pipe(const struct job *job, int *rfd, struct err *err)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, ORA_PARFILE_MAX);
	if (buf_puts(&b, "userid=") == -1 || buf_puts(&b, job_get(job, "userid")) == -1 ||
	    buf_putc(&b, '\n') == -1) {
		err_set(err, "userid: too long");
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

/* 1 if code (ORA_CODE_LEN bytes) is in the comma list ignore. */
static int
ora_ignored(const char *ignore, const char *code)
{
	const char *p = ignore, *e;
	size_t n;

	if (ignore == NULL)
		return 0;
	while (*p != '\0') {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		e = p;
		while (*e != '\0' && *e != ',')
			e++;
		n = (size_t)(e - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == ORA_CODE_LEN && strncasecmp(p, code, ORA_CODE_LEN) == 0)
			return 1;
		p = e;
	}
	return 0;
}

/* 1 if line starts with PFX-nnnnn (PFX: "EXP" or "ORA"). */
static int
ora_is_code(const char *line, size_t len, const char *pfx)
{
	if (len < ORA_CODE_LEN || strncmp(line, pfx, 3) != 0 || line[3] != '-')
		return 0;
	for (size_t i = 4; i < ORA_CODE_LEN; i++)
		if (!isdigit((unsigned char)line[i]))
			return 0;
	return 1;
}

/*
 * Check the exp log: EXP- codes in ignore are logged as warnings (counted
 * in *warnings); any other puts those lines and the ORA- lines into err.
 * Returns 0 or -1 + err.
 */
static int
ora_check_log(const struct job *job, const char *logtext, int *warnings, struct err *err)
{
	const char *ignore = job_get(job, "ignore_error_oracle_code");
	const char *p = logtext, *e;
	int bad = 0, quoted = 0;
	size_t n;

	for (; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (ora_is_code(p, n, "EXP")) {
			if (ora_ignored(ignore, p)) {
				log_warning(job->name,
				            "exp: %.*s (ignored: in ignore_error_oracle_code)",
				            (int)n, p);
				(*warnings)++;
				continue;
			}
			if (!bad)
				err_set(
				    err,
				    "exp reported errors not listed in ignore_error_oracle_code:");
			bad = 1;
		} else if (!ora_is_code(p, n, "ORA"))
			continue;
		if (quoted++ < ORA_ERROR_LINES)
			err_append_line(err, "%.*s", (int)n, p);
	}
	if (bad)
		return -1;
	err_clear(err);
	return 0;
}

/* Why the script did not succeed, into err. */
static void
ora_explain(const struct job *job, const char *what, const struct spawn_result *res,
            const struct ora_cmd *c, struct err *err)
{
	char desc[128];
	const char *p, *e;
	int quoted = 0;

	if (res->stalled)
		err_set(err, "%s failed: no data for %ld s (stall_timeout)", what,
		        job_get_long(job, "stall_timeout", 1800));
	else if (res->timed_out)
		err_set(err, "%s failed (timed out): max_runtime = %ld s", what,
		        job_get_long(job, "max_runtime", 0));
	else {
		spawn_describe(res, desc, sizeof desc);
		err_set(err, "%s failed (%s)", what, desc);
		ssh_diag_exit(&c->diag, job, res->exited, res->code, err);
		if (res->exited && res->code == 127)
			err_append_line(err, "(exit code 127: runuser or exp was not found on %s)",
			                job->server_name);
	}
	for (size_t i = 0; i < ORA_TAIL_LINES; i++) {
		const char *l = c->tail[(c->next + i) % ORA_TAIL_LINES];

		if (l != NULL)
			err_append_line(err, "%s", l);
	}
	for (p = buf_str(&c->log); *p != '\0' && quoted < ORA_ERROR_LINES; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			break;
		if (ora_is_code(p, (size_t)(e - p), "EXP") ||
		    ora_is_code(p, (size_t)(e - p), "ORA")) {
			err_append_line(err, "%.*s", (int)(e - p), p);
			quoted++;
		}
	}
	if (c->write_failed)
		err_append_line(err, "%s", c->write_err.msg);
}

/* Write len bytes of data to a new file path (0640) and fsync it. */
static int
ora_write_file(const char *path, const char *data, size_t len, struct err *err)
{
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1) {
		err_sys(err, errno, "creating %s", path);
		return -1;
	}
	while (len > 0) {
		n = write(fd, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "writing %s", path);
			goto out;
		}
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1) {
		err_sys(err, errno, "syncing %s", path);
		goto out;
	}
	rc = 0;
out:
	if (close(fd) == -1 && rc == 0) {
		err_sys(err, errno, "closing %s", path);
		rc = -1;
	}
	return rc;
}

/*
 * Run the script, dump into dir/DB.dmp.gz and the log into dir/DB.log;
 * adds what was written to *bytes. 0 or -1 + err.
 */
static int
ora_export(const struct drv_run *run, const char *dir, int64_t *bytes, int *warnings,
           struct err *err)
{
	const struct job *job = run->job;
	const char *db = job_get(job, "db_name");
	const char *const remote[] = { "sh",
		                       "-c",
		                       ORA_SCRIPT,
		                       "sh",
		                       job_get(job, "username"),
		                       db,
		                       job_get(job, "remote_backup_dir"),
		                       NULL };
	struct ora_cmd c = { .name = job->name };
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av;
	char *dest = ssh_destination(job), *quoted = quote_sh_argv(remote);
	char *path = NULL, *logpath = NULL, *what = NULL;
	int in = -1, rc = -1;

	strv_init(&av);
	buf_init(&c.log, ORA_LOG_MAX);
	path = xasprintf("%s/%s.dmp.gz", dir, db);
	logpath = xasprintf("%s/%s.log", dir, db);
	what = xasprintf("exp of database '%s' on %s", db, job->server_name);
	if (dumpfile_open(path, 6, &c.df, err) == -1)
		goto out;
	if (ora_parfile_pipe(job, &in, err) == -1)
		goto out;
	ssh_base_argv(job, &av);
	strv_push(&av, "--");
	strv_push(&av, dest);
	strv_push(&av, quoted);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.stdin_fd = in;
	so.on_line = ora_on_line;
	so.on_data = ora_on_data;
	so.ctx = &c;
	watchdog_spawn(run->progress, &so);
	so.progress = ora_progress;
	so.progress_ctx = &c;
	log_info(job->name, "exporting database '%s' from %s into %s", db, job->server_name, path);
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "%s", what);
		goto out;
	}
	if (ora_check_log(job, buf_str(&c.log), warnings, err) == -1) {
		err_wrap(err, "%s", what);
		goto out;
	}
	if (!res.exited || res.code != 0 || c.write_failed) {
		ora_explain(job, what, &res, &c, err);
		goto out;
	}
	if (c.log_full) {
		err_set(err, "%s: its log is longer than %d bytes", what, ORA_LOG_MAX);
		goto out;
	}
	if (c.log.len == 0) {
		err_set(err, "%s: exp wrote no log", what);
		goto out;
	}
	if (dumpfile_commit(c.df, err) == -1)
		goto out;
	if (ora_write_file(logpath, c.log.data, c.log.len, err) == -1)
		goto out;
	*bytes += (int64_t)(dumpfile_bytes_out(c.df) + c.log.len);
	log_info(job->name, "database '%s': %llu bytes, %llu compressed", db,
	         (unsigned long long)dumpfile_bytes_in(c.df),
	         (unsigned long long)dumpfile_bytes_out(c.df));
	rc = 0;
out:
	if (in != -1)
		close(in);
	dumpfile_abort(c.df);
	for (size_t i = 0; i < ORA_TAIL_LINES; i++)
		free(c.tail[i]);
	buf_free(&c.log);
	strv_free(&av);
	free(dest);
	free(quoted);
	free(path);
	free(logpath);
	free(what);
	return rc;
}

static int
oracle_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct snapdir sd;
	int64_t bytes = 0;
	int rc = -1, warnings = 0;

	snapdir_init(&sd, job, run->stamp);
	if (run->dry_run) {
		log_info(job->name,
		         "dry run: would export %s from %s with exp over ssh as %s into %s, "
		         "then rename it to %s",
		         job_get(job, "db_name"), job->server_name, job_get(job, "username"),
		         sd.partial, sd.final);
		rc = 0;
		goto out;
	}
	if (snapdir_create(&sd, err) == -1)
		goto out;
	if (ora_export(run, sd.partial, &bytes, &warnings, err) == -1)
		goto out;
	if (snapdir_commit(&sd, job, err) == -1)
		goto out;
	st->location = xstrdup(sd.final);
	st->total_files = st->written_files = 2;
	st->total_bytes = st->written_bytes = bytes;
	st->warnings = warnings > 0;
	st->log = xasprintf("oracle backup of %s from %s OK%s, %lld bytes written",
	                    job_get(job, "db_name"), job->server_name,
	                    warnings > 0 ? " with ignored exp warnings" : "", (long long)bytes);
	rc = 0;
out:
	snapdir_free(&sd, job);
	return rc;
}

static int
oracle_validate(const struct job *job, struct err *err)
{
	const char *p;

	p = job_get(job, "db_name");
	if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0 || strchr(p, '/') != NULL || p[0] == '-' ||
	    strchr(p, '\n') != NULL) {
		err_set(err, "db_name: '%s' cannot be used as a file name", p);
		return -1;
	}
	p = job_get(job, "username");
	if (p == NULL || p[0] == '\0' || p[0] == '-') {
		err_set(err, "username: '%s' is not a user name", p != NULL ? p : "");
		return -1;
	}
	p = job_get(job, "remote_backup_dir");
	if (p == NULL || p[0] != '/' || strchr(p, '\n') != NULL) {
		err_set(err, "remote_backup_dir: '%s' is not an absolute path", p != NULL ? p : "");
		return -1;
	}
	if (strpbrk(job_get(job, "userid"), "\r\n") != NULL) {
		err_set(err, "userid: must be one line");
		return -1;
	}
	return 0;
}

const struct driver drv_oracle = {
	.name = "oracle+ssh",
	.description = "Exports an Oracle database with exp over ssh as the oracle user, the "
	               "dump gzipped and its log in a dated folder.",
	.required = oracle_required,
	.optional = oracle_optional,
	.caps = DRV_CAP_SSH,
	.validate = oracle_validate,
	.backup = oracle_backup,
};
