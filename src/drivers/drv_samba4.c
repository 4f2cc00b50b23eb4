/*
 * samba4: the Samba AD database, every .ldb file of private/sam.ldb.d in
 * root_dir_samba, copied consistently with `tdbbackup` on the server and
 * fetched gzipped into {job}/STAMP/NAME.ldb.gz.
 *
 * Three kinds of ssh session, each a fixed sh script whose arguments are
 * quoted once by quote_sh_argv() (no configuration value is pasted into a
 * script):
 *  1. SMB_BACKUP_SCRIPT ($1 = root_dir_samba) makes a private folder with
 *     `mktemp -d`, prints its path, then for each .ldb runs
 *     `tdbbackup -s SUFFIX FILE` (which writes FILE.SUFFIX next to it) and
 *     moves the copy into the folder, printing its name. On any failure a
 *     trap removes the folder and the copy being made.
 *  2. SMB_CAT_SCRIPT ($1 = folder, $2 = name) sends one copy on stdout,
 *     compressed here as it arrives (dumpfile.c).
 *  3. SMB_RM_SCRIPT ($1 = folder) removes the folder; run after step 1
 *     succeeded, whatever happened next.
 * The files are written into {job}/STAMP.partial/, renamed to
 * {job}/STAMP once all are synced; on failure the folder is removed.
 *
 * samba_backup_mode = offline instead runs SMB_OFFLINE_SCRIPT in one
 * session: `samba-tool domain backup offline --targetdir=DIR` into a
 * `mktemp -d` folder (a trap removes it in every outcome), then the one
 * samba-backup-*.tar.bz2 it made on stdout. That tarball is already
 * compressed: it is written as it arrives, not gzipped again, straight
 * into {job}/STAMP.partial/samba-backup-offline.tar.bz2 (ssh's stdout is
 * the file), checked to start like a bzip2 stream and synced.
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
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define SMB_TMP_PREFIX "tisbackup-samba."
#define SMB_OFFLINE_FILE "samba-backup-offline.tar.bz2"

/*
 * $1 root_dir_samba. stdout: the folder's path, then one name per copy.
 * Exits 0 with the folder left for the caller, or non-zero with nothing
 * left behind.
 */
static const char SMB_BACKUP_SCRIPT[] =
    "set -u\n"
    "umask 077\n"
    "cd / || exit 1\n"
    "t=\n"
    "b=\n"
    "ok=0\n"
    "trap 'if [ -n \"$b\" ]; then rm -f -- \"$b\" \"$b.tmp\"; fi; "
    "if [ \"$ok\" != 1 ] && [ -n \"$t\" ]; then rm -rf -- \"$t\"; fi' EXIT\n"
    "trap 'exit 129' HUP INT TERM PIPE\n"
    "d=\"$1/private/sam.ldb.d\"\n"
    "[ -d \"$d\" ] || { echo \"$d: no such directory\" >&2; exit 1; }\n"
    "t=$(mktemp -d \"${TMPDIR:-/tmp}/" SMB_TMP_PREFIX "XXXXXXXXXX\") || exit 1\n"
    "printf '%s\\n' \"$t\"\n"
    "s=.tisbackup-$$\n"
    "for f in \"$d\"/*.ldb; do\n"
    "\t[ -f \"$f\" ] || continue\n"
    "\tb=$f$s\n"
    "\ttdbbackup -s \"$s\" \"$f\" >&2 || exit 1\n"
    "\tmv -- \"$b\" \"$t/${f##*/}\" || exit 1\n"
    "\tb=\n"
    "\tprintf '%s\\n' \"${f##*/}\"\n"
    "done\n"
    "ok=1\n";

/*
 * No arguments. stdout: the tarball samba-tool made; stderr: its messages.
 * Exits with samba-tool's status (or 1); the folder is always removed.
 */
static const char SMB_OFFLINE_SCRIPT[] =
    "set -u\n"
    "umask 077\n"
    "cd / || exit 1\n"
    "t=\n"
    "trap 'if [ -n \"$t\" ]; then rm -rf -- \"$t\"; fi' EXIT\n"
    "trap 'exit 129' HUP INT TERM PIPE\n"
    "t=$(mktemp -d \"${TMPDIR:-/tmp}/" SMB_TMP_PREFIX "XXXXXXXXXX\") || exit 1\n"
    "samba-tool domain backup offline --targetdir=\"$t\" >&2 || exit $?\n"
    "n=0\n"
    "for f in \"$t\"/samba-backup-*.tar.bz2; do [ -f \"$f\" ] && n=$((n + 1)); done\n"
    "if [ \"$n\" -ne 1 ]; then\n"
    "\techo \"samba-tool made $n samba-backup-*.tar.bz2 files, not one\" >&2\n"
    "\texit 1\n"
    "fi\n"
    "cat -- \"$t\"/samba-backup-*.tar.bz2 || exit 1\n";

/* $1 folder, $2 name: the copy on stdout. */
static const char SMB_CAT_SCRIPT[] = "exec cat -- \"$1/$2\"";

/* $1 folder: removed. */
static const char SMB_RM_SCRIPT[] = "rm -rf -- \"$1\"";

static const struct drv_key samba_required[] = {
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key samba_optional[] = {
	{ "root_dir_samba", KEY_STR, "/var/lib/samba/" },
	{ "samba_backup_mode", KEY_STR, "tdbbackup" },
	{ NULL, KEY_STR, NULL },
};

/* stderr of the offline session: logged, the last lines kept. */
struct smb_offline {
	const char *name;
	int fd;
	char *tail[REMOTE_CMD_TAIL_LINES];
	size_t next;
	struct ssh_diag diag; /* ssh's own error lines (not in tail) */
};

static void
smb_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct smb_offline *o = ctx;

	(void)stream;
	if (len == 0)
		return;
	log_info(o->name, "samba-tool: %.*s", (int)len, line);
	if (ssh_diag_feed(&o->diag, line, len))
		return;
	free(o->tail[o->next]);
	o->tail[o->next] = xstrndup(line, len);
	o->next = (o->next + 1) % REMOTE_CMD_TAIL_LINES;
}

/* Progress: the size of the file ssh writes into. */
static long long
smb_progress(void *ctx, pid_t pid)
{
	const struct smb_offline *o = ctx;
	struct stat sb;

	(void)pid;
	if (fstat(o->fd, &sb) == -1)
		return 0;
	return (long long)sb.st_size;
}

/*
 * samba_backup_mode = offline: the tarball into dir/SMB_OFFLINE_FILE,
 * synced; *bytes gets its size. 0 or -1 + err (the file removed).
 */
static int
smb_offline(const struct drv_run *run, const char *dir, int64_t *bytes, struct err *err)
{
	const struct job *job = run->job;
	const char *const remote[] = { "sh", "-c", SMB_OFFLINE_SCRIPT, NULL };
	struct smb_offline o = { .name = job->name, .fd = -1 };
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av;
	struct stat sb;
	char desc[128], magic[3];
	char *dest = ssh_destination(job), *quoted = quote_sh_argv(remote);
	char *path = NULL, *what = NULL;
	int rc = -1, made = 0;

	strv_init(&av);
	path = xasprintf("%s/%s", dir, SMB_OFFLINE_FILE);
	what = xasprintf("samba-tool domain backup offline on %s", job->server_name);
	o.fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (o.fd == -1) {
		err_sys(err, errno, "creating %s", path);
		goto out;
	}
	made = 1;
	ssh_base_argv(job, &av);
	strv_push(&av, "--");
	strv_push(&av, dest);
	strv_push(&av, quoted);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.stdout_fd = o.fd;
	so.on_line = smb_on_line;
	so.ctx = &o;
	watchdog_spawn(run->progress, &so);
	so.progress = smb_progress;
	so.progress_ctx = &o;
	log_info(job->name, "running %s into %s", what, path);
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "%s", what);
		goto out;
	}
	if (!res.exited || res.code != 0) {
		if (res.stalled)
			err_set(err, "%s failed: no data for %ld s (stall_timeout)", what,
			        job_get_long(job, "stall_timeout", 1800));
		else if (res.timed_out)
			err_set(err, "%s failed (timed out): max_runtime = %ld s", what,
			        job_get_long(job, "max_runtime", 0));
		else {
			spawn_describe(&res, desc, sizeof desc);
			err_set(err, "%s failed (%s)", what, desc);
			ssh_diag_exit(&o.diag, job, res.exited, res.code, err);
			if (res.exited && res.code == 127)
				err_append_line(err,
				                "(exit code 127: samba-tool was not found "
				                "on %s)",
				                job->server_name);
		}
		for (size_t i = 0; i < REMOTE_CMD_TAIL_LINES; i++) {
			const char *l = o.tail[(o.next + i) % REMOTE_CMD_TAIL_LINES];

			if (l != NULL)
				err_append_line(err, "%s", l);
		}
		goto out;
	}
	if (pread(o.fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic ||
	    memcmp(magic, "BZh", sizeof magic) != 0) {
		err_set(err, "%s: what it sent is not a bzip2 tarball", what);
		goto out;
	}
	if (fsync(o.fd) == -1 || fstat(o.fd, &sb) == -1) {
		err_sys(err, errno, "syncing %s", path);
		goto out;
	}
	*bytes = (int64_t)sb.st_size;
	log_info(job->name, "%s: %lld bytes", SMB_OFFLINE_FILE, (long long)sb.st_size);
	rc = 0;
out:
	if (o.fd != -1 && close(o.fd) == -1 && rc == 0) {
		err_sys(err, errno, "closing %s", path);
		rc = -1;
	}
	if (rc == -1 && made)
		unlink(path);
	for (size_t i = 0; i < REMOTE_CMD_TAIL_LINES; i++)
		free(o.tail[i]);
	strv_free(&av);
	free(dest);
	free(quoted);
	free(path);
	free(what);
	return rc;
}

/* 1 if name is a plain .ldb file name as the script prints it. */
static int
smb_good_name(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && name[0] != '.' && strchr(name, '/') == NULL &&
	       strcmp(name + len - 4, ".ldb") == 0;
}

/* Fetch tmp/name into dir/name.gz; adds the bytes written to *bytes. */
static int
smb_fetch(const struct drv_run *run, const char *tmp, const char *name, const char *dir,
          int64_t *bytes, struct err *err)
{
	const struct job *job = run->job;
	const char *const remote[] = { "sh", "-c", SMB_CAT_SCRIPT, "sh", tmp, name, NULL };
	struct remote_cmd c = { .name = job->name, .tool = "cat" };
	char *path = NULL, *what = NULL;
	int rc = -1;

	path = xasprintf("%s/%s.gz", dir, name);
	what = xasprintf("fetching the tdbbackup copy of %s from %s", name, job->server_name);
	if (dumpfile_open(path, 6, &c.df, err) == -1)
		goto out;
	if (remote_cmd_run(run->job, run->progress, remote, what, &c, err) == -1)
		goto out;
	if (dumpfile_bytes_in(c.df) == 0) {
		err_set(err, "%s: the copy is empty", what);
		goto out;
	}
	if (dumpfile_commit(c.df, err) == -1)
		goto out;
	*bytes += (int64_t)dumpfile_bytes_out(c.df);
	log_info(job->name, "%s: %llu bytes, %llu compressed", name,
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

/*
 * Back up every .ldb on the server into dir; *files and *bytes get what
 * was written. 0 or -1 + err. The remote folder is gone in every outcome
 * (a failure to remove it is logged).
 */
static int
smb_tdbbackup(const struct drv_run *run, const char *dir, int64_t *files, int64_t *bytes,
              struct err *err)
{
	const struct job *job = run->job;
	const char *root = job_get(job, "root_dir_samba");
	const char *const remote[] = { "sh", "-c", SMB_BACKUP_SCRIPT, "sh", root, NULL };
	struct remote_cmd c = { .name = job->name, .tool = "tdbbackup" };
	struct remote_cmd rm = { .name = job->name, .tool = "rm" };
	struct strv lines;
	struct err rmerr;
	const char *tmp = NULL;
	char *what = NULL;
	int rc = -1;

	strv_init(&lines);
	c.lines = &lines;
	what = xasprintf("tdbbackup of %s/private/sam.ldb.d/*.ldb on %s", root, job->server_name);
	log_info(job->name, "backing up the samba databases of %s with tdbbackup into %s",
	         job->server_name, dir);
	if (remote_cmd_run(run->job, run->progress, remote, what, &c, err) == -1)
		goto out;
	if (lines.n == 0 || lines.v[0][0] != '/' ||
	    strstr(lines.v[0], "/" SMB_TMP_PREFIX) == NULL) {
		err_set(err, "%s: unexpected output (no temporary folder)", what);
		goto out;
	}
	tmp = lines.v[0];
	if (lines.n > REMOTE_CMD_MAX_LINES) {
		err_set(err, "%s: more than %d files", what, REMOTE_CMD_MAX_LINES - 1);
		goto out;
	}
	if (lines.n == 1) {
		err_set(err, "%s: no .ldb file found", what);
		goto out;
	}
	for (size_t i = 1; i < lines.n; i++) {
		if (!smb_good_name(lines.v[i])) {
			err_set(err, "%s: unexpected file name '%s'", what, lines.v[i]);
			goto out;
		}
		if (smb_fetch(run, tmp, lines.v[i], dir, bytes, err) == -1)
			goto out;
		(*files)++;
	}
	rc = 0;
out:
	if (tmp != NULL) {
		const char *const rmv[] = { "sh", "-c", SMB_RM_SCRIPT, "sh", tmp, NULL };

		if (remote_cmd_run(run->job, run->progress, rmv,
		                   "removing the remote temporary folder", &rm, &rmerr) == -1)
			log_warning(job->name, "%s: %s", tmp, rmerr.msg);
	}
	remote_cmd_free(&rm);
	remote_cmd_free(&c);
	strv_free(&lines);
	free(what);
	return rc;
}

static int
samba_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct snapdir sd;
	int64_t files = 0, bytes = 0;
	int rc = -1, offline;

	offline = strcmp(job_get(job, "samba_backup_mode"), "offline") == 0;
	snapdir_init(&sd, job, run->stamp);
	if (run->dry_run && offline) {
		log_info(job->name,
		         "dry run: would run samba-tool domain backup offline on %s over ssh "
		         "into %s/%s, then rename it to %s",
		         job->server_name, sd.partial, SMB_OFFLINE_FILE, sd.final);
		rc = 0;
		goto out;
	}
	if (run->dry_run) {
		log_info(job->name,
		         "dry run: would run tdbbackup on %s/private/sam.ldb.d/*.ldb on %s over "
		         "ssh into %s, then rename it to %s",
		         job_get(job, "root_dir_samba"), job->server_name, sd.partial, sd.final);
		rc = 0;
		goto out;
	}
	if (snapdir_create(&sd, err) == -1)
		goto out;
	if (offline) {
		if (smb_offline(run, sd.partial, &bytes, err) == -1)
			goto out;
		files = 1;
	} else if (smb_tdbbackup(run, sd.partial, &files, &bytes, err) == -1)
		goto out;
	if (snapdir_commit(&sd, job, err) == -1)
		goto out;
	st->location = xstrdup(sd.final);
	st->total_files = st->written_files = files;
	st->total_bytes = st->written_bytes = bytes;
	st->log = xasprintf("samba4 %s backup of %s OK, %lld files, %lld bytes written",
	                    offline ? "offline" : "tdbbackup", job->server_name, (long long)files,
	                    (long long)bytes);
	rc = 0;
out:
	snapdir_free(&sd, job);
	return rc;
}

static int
samba_validate(const struct job *job, struct err *err)
{
	const char *p;

	p = job_get(job, "root_dir_samba");
	if (p == NULL || p[0] != '/' || strchr(p, '\n') != NULL) {
		err_set(err, "root_dir_samba: '%s' is not an absolute path", p != NULL ? p : "");
		return -1;
	}
	p = job_get(job, "samba_backup_mode");
	if (p == NULL || (strcmp(p, "tdbbackup") != 0 && strcmp(p, "offline") != 0)) {
		err_set(err, "samba_backup_mode: '%s' is not tdbbackup or offline",
		        p != NULL ? p : "");
		return -1;
	}
	return 0;
}

const struct driver drv_samba4 = {
	.name = "samba4",
	.description = "Backs up the Samba 4 AD databases (private/sam.ldb.d/*.ldb) with "
	               "tdbbackup over ssh, each gzipped in a dated folder, or with "
	               "samba-tool domain backup offline (samba_backup_mode = offline).",
	.required = samba_required,
	.optional = samba_optional,
	.caps = DRV_CAP_SSH,
	.validate = samba_validate,
	.backup = samba_backup,
	.restore = restore_file_copy,
	.verify_kind = "file", /* every file read back (verify_onefile.c) */
};
