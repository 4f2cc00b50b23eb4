/*
 * Restore of a snapshot folder with rsync (restore.h): what the restore
 * hooks of rsync+ssh, rsync, rsync+btrfs+ssh and rsync+btrfs share. The
 * snapshot is local; rsync pushes it (or some paths of it) to the job's
 * own folder, to host:DIR over the job's ssh options (key, port,
 * known_hosts_file, host_key_policy: ssh_base_argv()), or to a local
 * folder. Each path the user names is checked inside the snapshot first,
 * component by component, without following a symlink, so "../x" or a
 * link pointing out of the snapshot cannot make rsync read elsewhere.
 */
#include "drivers/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/buf.h"
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
	strv_push(&av, "--delay-updates");
	strv_push(&av, "--partial-dir=" RESTORE_PARTIAL_DIR);
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
	strv_push(&av, dest);

	log_info(job->name, "%srestoring %s%s into %s%s", r->dry_run ? "dry run: " : "",
	         r->location, r->npaths > 0 ? " (selected paths)" : "", dest,
	         r->overwrite ? "" : " (files already there are kept)");
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
	if (rsync_judge(&c, &res, &o.ro, &partial, &warned, err) == -1)
		goto out;
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
	strv_free(&av);
	strv_free(&sshv);
	return rc;
}
