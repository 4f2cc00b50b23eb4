/*
 * Restore of a snapshot folder with rsync (restore.h): what the restore
 * hooks of rsync+ssh, rsync, rsync+btrfs+ssh and rsync+btrfs share. The
 * snapshot is local; rsync pushes it (or some paths of it) to the job's
 * own folder, to host:DIR over the job's ssh options (key, port,
 * known_hosts_file, host_key_policy: ssh_base_argv()), or to a local
 * folder. Each path the user names is checked inside the snapshot first,
 * component by component, without following a symlink, so "../x" or a
 * link pointing out of the snapshot cannot make rsync read elsewhere.
 *
 * Staging: into a target folder that does not exist yet or is empty,
 * rsync writes a sibling folder DIR.tisbackup-partial (a leftover one of
 * a killed restore is removed first) which is renamed to DIR at the end
 * by one rename(2) (here, or `mv -T` over ssh) that replaces an empty DIR
 * in one step, so DIR never goes missing; into a folder with content, in
 * place or into a daemon module, rsync's --delay-updates stages each
 * file instead (slower on many small files, but never mixes a
 * half-written file in).
 */
#include "drivers/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "drivers/remote_cmd.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/buf.h"
#include "util/rmtree.h"
#include "util/xmalloc.h"

/*
 * p (a path the user gave, relative to the snapshot dir; leading '/'
 * ignored) as a clean relative path in *out (caller frees): no "." or
 * ".." component, every component but the last a real folder (not a
 * symlink) of the snapshot, the last present. 0 or -1 + err.
 */
static int
restore_clean_path(const char *dir, const char *p, char **out, struct err *err)
{
	struct strv parts;
	struct buf b;
	int fd = -1, rc = -1;

	strv_init(&parts);
	buf_init(&b, 8192);
	for (const char *s = p; *s != '\0';) {
		size_t len = strcspn(s, "/");

		if (len > 0) {
			char *c = xstrndup(s, len);

			if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0) {
				err_set(err, "--path %s: '.' and '..' are not allowed", p);
				free(c);
				goto out;
			}
			strv_push(&parts, c);
			free(c);
		}
		s += len + (s[len] == '/');
	}
	if (parts.n == 0) {
		err_set(err, "--path '%s' names no file: leave --path out to restore everything",
		        p);
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "opening the backup %s", dir);
		goto out;
	}
	for (size_t i = 0; i < parts.n; i++) {
		struct stat st;
		int next;

		if (fstatat(fd, parts.v[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			err_sys(err, errno, "--path %s: not in the backup %s", p, dir);
			goto out;
		}
		if (i > 0 && buf_putc(&b, '/') == -1)
			goto toolong;
		if (buf_puts(&b, parts.v[i]) == -1)
			goto toolong;
		if (i + 1 == parts.n)
			break;
		if (!S_ISDIR(st.st_mode)) {
			err_set(err, "--path %s: %s in the backup is %s, not a folder", p,
			        buf_str(&b), S_ISLNK(st.st_mode) ? "a symlink" : "a file");
			goto out;
		}
		next = openat(fd, parts.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next == -1) {
			err_sys(err, errno, "--path %s: opening %s", p, buf_str(&b));
			goto out;
		}
		close(fd);
		fd = next;
	}
	*out = xstrdup(buf_str(&b));
	rc = 0;
	goto out;
toolong:
	err_set(err, "--path %s: too long", p);
out:
	if (fd != -1)
		close(fd);
	buf_free(&b);
	strv_free(&parts);
	return rc;
}

/*
 * The rsync destination for r, ending in '/', and whether it is reached
 * over ssh (*ssh) or a daemon (*daemon). Caller frees.
 */
static char *
restore_dest(const struct drv_restore *r, enum rsync_transport t, int *ssh, int *daemon)
{
	const struct job *job = r->job;
	const char *to = r->target;
	const char *colon, *slash;

	*ssh = *daemon = 0;
	if (to == NULL) {
		*ssh = t == RSYNC_OVER_SSH;
		*daemon = t == RSYNC_DAEMON;
		return rsync_source(job, t);
	}
	colon = strchr(to, ':');
	slash = strchr(to, '/');
	if (colon != NULL && (slash == NULL || colon < slash)) {
		const char *end = to[strlen(to) - 1] == '/' ? "" : "/";

		*ssh = 1;
		if (memchr(to, '@', (size_t)(colon - to)) != NULL)
			return xasprintf("%s%s", to, end);
		return xasprintf("%s@%s%s", job->remote_user, to, end);
	}
	return xasprintf("%s%s", to, to[strlen(to) - 1] == '/' ? "" : "/");
}

/* 1 for an --itemize-changes line ("YXcstpoguax NAME"). */
static int
restore_is_itemize(const char *line, size_t len)
{
	return len > 12 && strchr("<>ch.*", line[0]) != NULL && strchr("fdLDS", line[1]) != NULL &&
	       line[11] == ' ';
}

struct restore_out {
	struct rsync_output ro;
	int dry_run;
	long changes;
};

/* Dry run: what would change goes to stdout; everything else as for a backup. */
static void
restore_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct restore_out *o = ctx;

	if (restore_is_itemize(line, len)) {
		o->changes++;
		if (o->dry_run) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
			return;
		}
	}
	rsync_output_line(&o->ro, stream, line, len);
}

/* Where a restore writes (restore_stage_plan()). */
enum restore_stage {
	RESTORE_STAGE_NONE,  /* rsync --delay-updates straight into the target */
	RESTORE_STAGE_NEW,   /* the target does not exist: stage, rename */
	RESTORE_STAGE_EMPTY, /* the target is an empty folder: stage, rename over it */
};

/*
 * Run `sh -c script sh dir staging` on userhost ([user@]host) over the
 * job's ssh options: remote_cmd_run() on a copy of the job naming that
 * host and user (as restore --to-server does), so its messages name them
 * too; one quoted argv, the script constant, the paths its arguments.
 * *word (when not NULL) gets its first stdout line, cut to size. 0 when it
 * exited 0, else -1 + err naming what.
 */
static int
restore_remote_sh(const struct drv_restore *r, const char *userhost, const char *what,
                  const char *script, const char *dir, const char *staging, char *word, size_t size,
                  struct err *err)
{
	const char *const remote[] = { "sh", "-c", script, "sh", dir, staging, NULL };
	const char *at = strchr(userhost, '@');
	struct job there = *r->job;
	struct strv lines;
	struct remote_cmd c = { .name = r->job->name, .tool = "sh", .lines = &lines };
	char *user = at != NULL ? xstrndup(userhost, (size_t)(at - userhost)) : NULL;
	char *where = xasprintf("%s on %s", what, userhost);
	int rc;

	if (user != NULL)
		there.remote_user = user;
	there.server_name = at != NULL ? at + 1 : userhost;
	strv_init(&lines);
	rc = remote_cmd_run(&there, r->progress, remote, where, &c, err);
	if (rc == 0 && word != NULL)
		snprintf(word, size, "%s", lines.n > 0 ? lines.v[0] : "");
	free(where);
	free(user);
	remote_cmd_free(&c);
	strv_free(&lines);
	return rc;
}

/*
 * The remote side of restore_stage_plan(): $1 the target folder, $2 its
 * staging sibling. Prints "new" or "empty" (after removing a leftover
 * staging folder), "noparent" (a missing target whose parent is not a
 * folder), or anything else for "no staging" (content, not a plain
 * folder, a mount point, a tool missing).
 */
static const char restore_probe_sh[] =
    "if [ -L \"$1\" ]; then echo other; exit 0; fi; "
    "if [ ! -e \"$1\" ]; then w=new; "
    "case $1 in */*) p=${1%/*}; p=${p:-/} ;; *) p=. ;; esac; "
    "if [ ! -d \"$p\" ]; then echo noparent; exit 0; fi; "
    "elif [ ! -d \"$1\" ]; then echo other; exit 0; "
    "elif [ -n \"$(ls -A -- \"$1\" 2>&1)\" ]; then echo full; exit 0; "
    "elif a=$(stat -c %d -- \"$1\") && b=$(stat -c %d -- \"$1/..\") && [ -n \"$a\" ] && "
    "[ \"$a\" = \"$b\" ]; then w=empty; "
    "else echo other; exit 0; fi; "
    "if [ -e \"$2\" ] || [ -L \"$2\" ]; then rm -rf -- \"$2\" || { echo other; exit 0; }; fi; "
    "echo $w";

/*
 * The remote side of the final rename: $2 renamed to $1 in one rename(2)
 * (GNU mv -T: $1 is the name itself, never a folder to move into), which
 * replaces an empty folder $1 atomically, so $1 is never missing, and
 * fails when $1 has content (ENOTEMPTY: something wrote there meanwhile)
 * or is not a folder (ENOTDIR: a symlink, a file).
 */
static const char restore_finish_sh[] = "exec mv -T -- \"$2\" \"$1\"";

/*
 * *dir (the target folder, no trailing '/') and *userhost (NULL: local)
 * of dest ("[user@host:]DIR/"). NULL *dir when the folder cannot be
 * staged beside (the root, ".", ".."). Caller frees both.
 */
static void
restore_stage_split(const char *dest, int ssh, char **userhost, char **dir)
{
	const char *path = dest, *colon = ssh ? strchr(dest, ':') : NULL;
	size_t len;
	const char *base;

	*userhost = *dir = NULL;
	if (colon != NULL) {
		*userhost = xstrndup(dest, (size_t)(colon - dest));
		path = colon + 1;
	}
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return;
	base = path + len;
	while (base > path && base[-1] != '/')
		base--;
	if ((path + len - base == 1 && base[0] == '.') ||
	    (path + len - base == 2 && base[0] == '.' && base[1] == '.'))
		return;
	*dir = xstrndup(path, len);
}

/* The folder holding path ("." for a bare name, "/" at the top). Caller frees. */
static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/*
 * Which way to restore into the local folder dir: NEW (missing), EMPTY
 * (an empty folder on the same filesystem as its parent), else NONE. A
 * leftover staging folder of a killed restore is removed for NEW and
 * EMPTY. A missing dir whose parent is not a folder is an error. 0 or
 * -1 + err.
 */
static int
restore_stage_local(const struct drv_restore *r, const char *dir, const char *staging,
                    enum restore_stage *how, struct err *err)
{
	struct stat st, up;
	char *parent;
	DIR *d;
	struct dirent *e;
	int empty = 1;

	*how = RESTORE_STAGE_NONE;
	if (lstat(dir, &st) == -1) {
		if (errno != ENOENT)
			return 0;
		parent = parent_of(dir);
		if (stat(parent, &up) == -1 || !S_ISDIR(up.st_mode)) {
			err_set(err,
			        "--to %s: its parent folder %s does not exist: create it (mkdir -p "
			        "%s) or choose another --to",
			        dir, parent, parent);
			free(parent);
			return -1;
		}
		free(parent);
		*how = RESTORE_STAGE_NEW;
	} else {
		if (!S_ISDIR(st.st_mode))
			return 0;
		d = opendir(dir);
		if (d == NULL)
			return 0;
		while (empty && (e = readdir(d)) != NULL)
			empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
		closedir(d);
		parent = xasprintf("%s/..", dir);
		if (empty && stat(parent, &up) == 0 && up.st_dev == st.st_dev)
			*how = RESTORE_STAGE_EMPTY;
		free(parent);
		if (*how == RESTORE_STAGE_NONE)
			return 0;
	}
	if (lstat(staging, &st) == 0) {
		log_info(r->job->name, "removing %s, left by an interrupted restore", staging);
		if (rmtree(staging, err) == -1) {
			err_wrap(err, "removing the staging folder %s of an interrupted restore",
			         staging);
			return -1;
		}
	}
	return 0;
}

int
restore_rsync_push(struct drv_restore *r, enum rsync_transport t, struct drv_stats *st,
                   struct err *err)
{
	const struct job *job = r->job;
	struct restore_out o = { .ro = { .name = job->name, .verbose = r->verbose },
		                 .dry_run = r->dry_run };
	struct rsync_call c = { .job = job, .purpose = RSYNC_FOR_EXPORT, .transport = t };
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av, sshv;
	char *dest = NULL, *rsh = NULL, *what = NULL;
	char *userhost = NULL, *dir = NULL, *staging = NULL, *into = NULL;
	enum restore_stage how = RESTORE_STAGE_NONE;
	int rc = -1, ssh, daemon, partial = 0, warned = 0;

	strv_init(&av);
	strv_init(&sshv);
	if (r->db != NULL) {
		err_set(err, "--db is for database backups; this job's backups are files "
		             "(use --path)");
		goto out;
	}
	if (r->target == NULL && !r->in_place) {
		err_set(err,
		        "where to? --to DIR (a folder here), --to HOST:DIR (over ssh), or "
		        "--in-place (back into %s on %s)",
		        job_get(job, "remote_dir"), job->server_name);
		goto out;
	}
	if (r->target != NULL && r->target[0] == '\0') {
		err_set(err, "--to: empty target");
		goto out;
	}
	dest = restore_dest(r, t, &ssh, &daemon);
	if (daemon && rsync_check_transport(job, t, err) == -1)
		goto out;
	/* A missing or empty target folder: a staging sibling, renamed at the end. */
	if (!r->dry_run && !r->in_place && !daemon)
		restore_stage_split(dest, ssh, &userhost, &dir);
	if (dir != NULL) {
		staging = xasprintf("%s" RESTORE_STAGE_SUFFIX, dir);
		if (userhost == NULL) {
			if (restore_stage_local(r, dir, staging, &how, err) == -1)
				goto out;
		} else {
			char word[16];

			if (restore_remote_sh(r, userhost, "checking the target folder",
			                      restore_probe_sh, dir, staging, word, sizeof word,
			                      err) == -1)
				goto out;
			if (strcmp(word, "noparent") == 0) {
				char *parent = parent_of(dir);

				err_set(err,
				        "--to %s:%s: its parent folder %s does not exist on %s: "
				        "create it (mkdir -p %s) or choose another --to",
				        userhost, dir, parent, userhost, parent);
				free(parent);
				goto out;
			}
			if (strcmp(word, "new") == 0)
				how = RESTORE_STAGE_NEW;
			else if (strcmp(word, "empty") == 0)
				how = RESTORE_STAGE_EMPTY;
		}
	}
	if (how == RESTORE_STAGE_NONE)
		into = xstrdup(dest);
	else if (userhost != NULL)
		into = xasprintf("%s:%s/", userhost, staging);
	else
		into = xasprintf("%s/", staging);

	strv_push(&av, "rsync");
	strv_push(&av, "-rlptgoD");
	strv_push(&av, "--numeric-ids");
	strv_push(&av, "--hard-links");
	strv_push(&av, "--sparse");
	if (job_get_bool(job, "preserve_acls", 0))
		strv_push(&av, "--acls");
	if (job_get_bool(job, "preserve_xattrs", 0))
		strv_push(&av, "--xattrs");
	strv_push(&av, "--stats");
	if (how == RESTORE_STAGE_NONE) {
		strv_push(&av, "--delay-updates");
		strv_push(&av, "--partial-dir=" RESTORE_PARTIAL_DIR);
	}
	/* One line per file: only for the dry run's listing and -v (the counts come from --stats). */
	if (r->dry_run || r->verbose)
		strv_push(&av, "--itemize-changes");
	if (!r->overwrite)
		strv_push(&av, "--ignore-existing");
	if (r->dry_run)
		strv_push(&av, "--dry-run");
	if (r->verbose)
		strv_push(&av, "--info=progress2");
	if (job_get_long(job, "stall_timeout", 1800) > 0)
		strv_pushf(&av, "--timeout=%ld", job_get_long(job, "stall_timeout", 1800));
	if (ssh || daemon)
		strv_push(&av, "--protect-args");
	if (daemon) {
		strv_pushf(&av, "--port=%ld", job_get_long(job, "rsync_port", 873));
		strv_push(&av, "--contimeout=30");
		strv_pushf(&av, "--password-file=%s", job_get(job, "password_file"));
	} else if (ssh) {
		ssh_base_argv(job, &sshv);
		rsh = quote_rsh_argv((const char *const *)strv_argv(&sshv));
		strv_push(&av, "-e");
		strv_push(&av, rsh);
	}
	if (r->npaths > 0)
		strv_push(&av, "--relative");
	strv_push(&av, "--");
	if (r->npaths == 0)
		strv_pushf(&av, "%s/", r->location);
	for (size_t i = 0; i < r->npaths; i++) {
		char *clean = NULL;

		if (restore_clean_path(r->location, r->paths[i], &clean, err) == -1)
			goto out;
		/* "/./" marks where the path kept under the target starts. */
		strv_pushf(&av, "%s/./%s", r->location, clean);
		free(clean);
	}
	strv_push(&av, into);

	log_info(job->name, "%srestoring %s%s into %s%s%s%s", r->dry_run ? "dry run: " : "",
	         r->location, r->npaths > 0 ? " (selected paths)" : "", dest,
	         how != RESTORE_STAGE_NONE ? " through the staging folder " : "",
	         how != RESTORE_STAGE_NONE ? staging : "",
	         r->overwrite || how != RESTORE_STAGE_NONE ? ""
	                                                   : " (files already there are kept)");
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.merge_stderr = 1;
	so.on_line = restore_line;
	so.ctx = &o;
	watchdog_spawn(r->progress, &so);
	if (spawn_run(&so, &res, err) == -1)
		goto out;
	what = xasprintf("rsync of %s to %s", r->location, dest);
	c.what = what;
	if (rsync_judge(&c, &res, &o.ro, &partial, &warned, err) == -1) {
		if (how != RESTORE_STAGE_NONE)
			err_append_line(err,
			                "%s holds what was restored so far, %s is %s; the next "
			                "restore removes it and starts again",
			                staging, dir,
			                how == RESTORE_STAGE_NEW ? "not created" : "left empty");
		goto out;
	}
	if (how != RESTORE_STAGE_NONE) {
		if (userhost == NULL) {
			if (rename(staging, dir) == -1) {
				err_sys(err, errno,
				        "restored into %s, but renaming it to %s failed: move it "
				        "yourself",
				        staging, dir);
				goto out;
			}
		} else {
			if (restore_remote_sh(r, userhost, "renaming the staging folder",
			                      restore_finish_sh, dir, staging, NULL, 0,
			                      err) == -1) {
				err_append_line(
				    err,
				    "the restored files are in %s on %s: move it to %s yourself",
				    staging, userhost, dir);
				goto out;
			}
		}
	}
	st->total_files = o.ro.st.total_files;
	st->written_files = r->dry_run ? o.changes : o.ro.st.written_files;
	st->total_bytes = o.ro.st.total_bytes;
	st->written_bytes = o.ro.st.written_bytes;
	st->partial = partial;
	st->warnings = warned;
	st->location = xstrdup(dest);
	if (r->dry_run)
		st->log = xasprintf("dry run: restore of %s to %s would change %ld entries",
		                    r->location, dest, o.changes);
	else
		st->log = xasprintf("restore of %s to %s OK, %lld bytes written for %lld files",
		                    r->location, dest, (long long)o.ro.st.written_bytes,
		                    (long long)o.ro.st.written_files);
	rc = 0;
out:
	rsync_output_free(&o.ro);
	free(dest);
	free(rsh);
	free(what);
	free(userhost);
	free(dir);
	free(staging);
	free(into);
	strv_free(&av);
	strv_free(&sshv);
	return rc;
}
