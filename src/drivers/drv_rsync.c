/*
 * The two rsync drivers, thin descriptors over one implementation:
 *  - rsync+ssh pulls remote_user@server:remote_dir/ over ssh;
 *  - rsync pulls remote_user@server::module/remote_dir/ from an rsync
 *    daemon, authenticating with a password file rsync reads itself.
 * Both write {job}/STAMP.rsync, hardlinked (--link-dest) against the
 * previous snapshots, then sync the filesystem and rename it to
 * {job}/STAMP, so a name without ".rsync" always means a complete
 * snapshot. What differs between them is the transport (how the argv
 * reaches the server) and the word starting the catalog log line; the
 * options, the --stats parser, the link-dest choice and the exit-code
 * policy are shared (see rsync.h), and so is the run of one transfer,
 * rsync_pull(), which the btrfs drivers (drv_btrfs.c) use too.
 */
#include "drivers/driver.h"
#include "drivers/rsync.h"
#include "drivers/snapdir.h"
#include "drivers/restore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "exclude.h"
#include "dryrun.h"
#include "log.h"
#include "progress.h"
#include "progress_xfer.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/fmt.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define LINK_DEST_MAX 20          /* rsync refuses more --link-dest options */
#define DAEMON_CONNECT_TIMEOUT 30 /* like ssh's ConnectTimeout */

/* What differs between the rsync drivers. */
struct rsync_flavour {
	enum rsync_transport transport;
	const char *log_name; /* first words of the catalog log line */
};

static const struct rsync_flavour flavour_ssh = { RSYNC_OVER_SSH, "ssh+rsync" };
static const struct rsync_flavour flavour_daemon = { RSYNC_DAEMON, "rsync" };

static const struct drv_key rsync_ssh_required[] = {
	{ "remote_user", KEY_STR, "root" },
	{ "remote_dir", KEY_STR, NULL },
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key rsync_ssh_optional[] = {
	{ "compression", KEY_BOOL, "no" },
	{ "compressionlevel", KEY_INT, NULL },
	{ "bwlimit", KEY_INT, NULL },
	{ "ssh_port", KEY_PORT, "22" },
	{ "exclude_list", KEY_EXCLUDE, NULL },
	{ "protect_args", KEY_BOOL, "yes" },
	{ "overload_args", KEY_STR, NULL },
	{ "cipher_spec", KEY_STR, NULL },
	/* additions (docs/restore.md): -H, -A, -X; off by default, like the original */
	{ "preserve_hardlinks", KEY_BOOL, "no" },
	{ "preserve_acls", KEY_BOOL, "no" },
	{ "preserve_xattrs", KEY_BOOL, "no" },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key rsync_daemon_required[] = {
	{ "remote_user", KEY_STR, "root" },
	{ "remote_dir", KEY_STR, NULL },
	{ "rsync_module", KEY_STR, NULL },
	{ "password_file", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key rsync_daemon_optional[] = {
	{ "compressionlevel", KEY_INT, NULL },
	{ "compression", KEY_BOOL, "no" },
	{ "bwlimit", KEY_INT, NULL },
	{ "exclude_list", KEY_EXCLUDE, NULL },
	{ "protect_args", KEY_BOOL, "yes" },
	{ "overload_args", KEY_STR, NULL },
	{ "rsync_port", KEY_PORT, "873" }, /* an addition: the original had no way to set it */
	/* additions (docs/restore.md): -H, -A, -X; off by default, like the original */
	{ "preserve_hardlinks", KEY_BOOL, "no" },
	{ "preserve_acls", KEY_BOOL, "no" },
	{ "preserve_xattrs", KEY_BOOL, "no" },
	{ NULL, KEY_STR, NULL },
};

/* The number (fmt_parse_grouped()) after any spaces at p. 0 and *v, or -1. */
static int
parse_grouped(const char *p, int64_t *v)
{
	while (*p == ' ')
		p++;
	return fmt_parse_grouped(&p, v);
}

/* *acc += v (both >= 0), saturating at INT64_MAX instead of overflowing. */
static void
add_saturated(int64_t *acc, int64_t v)
{
	*acc = v > INT64_MAX - *acc ? INT64_MAX : *acc + v;
}

int
rsync_stats_feed(struct rsync_stats *st, const char *line)
{
	static const char files[] = "Number of files:";
	static const char number_of[] = "Number of ";
	static const char transferred[] = "files transferred:";
	static const char size[] = "Total file size:";
	static const char tsize[] = "Total transferred file size:";
	const char *p;
	int64_t v;

	if (strncmp(line, files, sizeof files - 1) == 0) {
		if (parse_grouped(line + sizeof files - 1, &v) == -1)
			return 0;
		add_saturated(&st->total_files, v);
		return 1;
	}
	if (strncmp(line, number_of, sizeof number_of - 1) == 0 &&
	    (p = strstr(line, transferred)) != NULL) {
		if (parse_grouped(p + sizeof transferred - 1, &v) == -1)
			return 0;
		add_saturated(&st->written_files, v);
		return 1;
	}
	if (strncmp(line, size, sizeof size - 1) == 0) {
		if (parse_grouped(line + sizeof size - 1, &v) == -1)
			return 0;
		add_saturated(&st->total_bytes, v);
		return 1;
	}
	if (strncmp(line, tsize, sizeof tsize - 1) == 0) {
		if (parse_grouped(line + sizeof tsize - 1, &v) == -1)
			return 0;
		add_saturated(&st->written_bytes, v);
		return 1;
	}
	return 0;
}

/* 1 if name is STAMP (partial == 0) or STAMP.rsync (partial == 1). */
static int
is_stamp_name(const char *name, int *partial)
{
	static const char shape[] = "dddddddd-ddhddmdd";
	size_t i;

	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)name[i]) : name[i] != shape[i])
			return 0;
	}
	if (name[i] == '\0') {
		*partial = 0;
		return 1;
	}
	if (strcmp(name + i, ".rsync") == 0) {
		*partial = 1;
		return 1;
	}
	return 0;
}

static int
cmp_desc(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

int
rsync_link_dests(const char *job_dir, const char *current, struct strv *out, struct err *err)
{
	struct strv names;
	struct dirent *de;
	DIR *d;
	int partial = 0, added = 0;

	d = opendir(job_dir);
	if (d == NULL) {
		err_sys(err, errno, "listing %s", job_dir);
		return -1;
	}
	strv_init(&names);
	while ((de = readdir(d)) != NULL) {
		if (is_stamp_name(de->d_name, &partial) && strcmp(de->d_name, current) < 0)
			strv_push(&names, de->d_name);
	}
	closedir(d);
	if (names.n > 0)
		qsort(names.v, names.n, sizeof *names.v, cmp_desc);
	for (size_t i = 0; i < names.n && added < LINK_DEST_MAX; i++) {
		is_stamp_name(names.v[i], &partial);
		strv_push(out, names.v[i]);
		added++;
		if (!partial)
			break;
	}
	strv_free(&names);
	return 0;
}

/* Split overload_args on whitespace into separate arguments (no shell). */
static void
push_words(struct strv *av, const char *s)
{
	while (*s != '\0') {
		const char *e;

		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
			;
		strv_pushf(av, "%.*s", (int)(e - s), s);
		s = e;
	}
}

char *
rsync_source(const struct job *job, enum rsync_transport t)
{
	const char *dir = job_get(job, "remote_dir");
	const char *slash;

	if (dir == NULL)
		dir = "";
	slash = dir[0] != '\0' && dir[strlen(dir) - 1] == '/' ? "" : "/";
	if (t == RSYNC_DAEMON) {
		if (dir[0] == '/')
			dir++;
		if (dir[0] == '\0')
			slash = "";
		return xasprintf("%s@%s::%s/%s%s", job->remote_user, job->server_name,
		                 job_get(job, "rsync_module"), dir, slash);
	}
	return xasprintf("%s@%s:%s%s", job->remote_user, job->server_name, dir, slash);
}

/* A job's value for key, else [global]'s legacy spelling of it; 0 when unset. */
static long
long_or_global(const struct job *job, const char *key, const char *global_key)
{
	long v = job_get_long(job, key, 0);

	return v > 0 ? v : job_get_long(job, global_key, 0);
}

int
rsync_build_argv(const struct job *job, enum rsync_transport t, const char *stamp, int verbose,
                 struct strv *av, struct err *err)
{
	char *dest = xasprintf("%s/%s.rsync", job->dir, stamp);
	int rc = rsync_build_argv_to(job, t, stamp, dest, 1, verbose, av, err);

	free(dest);
	return rc;
}

int
rsync_build_argv_to(const struct job *job, enum rsync_transport t, const char *stamp,
                    const char *dest, int link_dest, int verbose, struct strv *av, struct err *err)
{
	const char *remote_dir = job_get(job, "remote_dir");
	const char *overload = job_get(job, "overload_args");
	const char *excl = job_get(job, "exclude_list");
	long level = long_or_global(job, "compressionlevel", "compression_level");
	long bwlimit = long_or_global(job, "bwlimit", "bw_limit");
	long stall = job_get_long(job, "stall_timeout", 1800);
	struct strv excludes, links, sshv;
	char *rsh = NULL, *source = NULL;
	int rc = -1;

	(void)verbose; /* --info=progress2 is always there now */
	strv_init(&excludes);
	strv_init(&links);
	strv_init(&sshv);
	strv_push(av, "rsync");
	strv_push(av, "-rt");
	strv_push(av, "--stats");
	strv_push(av, "--delete-excluded");
	strv_push(av, "--numeric-ids");
	strv_push(av, "--delete-after");
	strv_push(av, "--partial");
	if (overload != NULL)
		push_words(av, overload);
	else if (remote_dir == NULL || strstr(remote_dir, "cygdrive") == NULL)
		strv_push(av, "-lpgoD");
	if (job_get_bool(job, "preserve_hardlinks", 0))
		strv_push(av, "--hard-links");
	if (job_get_bool(job, "preserve_acls", 0))
		strv_push(av, "--acls");
	if (job_get_bool(job, "preserve_xattrs", 0))
		strv_push(av, "--xattrs");
	if (job_get_bool(job, "protect_args", 1))
		strv_push(av, "--protect-args");
	if (job_get_bool(job, "compression", 0))
		strv_push(av, "-z");
	if (level > 0)
		strv_pushf(av, "--compress-level=%ld", level);
	if (bwlimit > 0)
		strv_pushf(av, "--bwlimit=%ld", bwlimit);
	if (stall > 0)
		strv_pushf(av, "--timeout=%ld", stall);
	/* Always: the run's progress report reads it (progress_xfer.h). */
	strv_push(av, "--info=progress2");
	if (excl != NULL && exclude_parse(excl, &excludes, err) == -1) {
		err_wrap(err, "exclude_list");
		goto out;
	}
	for (size_t i = 0; i < excludes.n; i++)
		strv_pushf(av, "--exclude=%s", excludes.v[i]);
	/* A dry run of a new job: no folder yet, so no history either. */
	if (link_dest && fs_is_dir(job->dir) &&
	    rsync_link_dests(job->dir, stamp, &links, err) == -1)
		goto out;
	for (size_t i = 0; i < links.n; i++)
		strv_pushf(av, "--link-dest=%s/%s/", job->dir, links.v[i]);
	if (t == RSYNC_DAEMON) {
		strv_pushf(av, "--port=%ld", job_get_long(job, "rsync_port", 873));
		strv_pushf(av, "--contimeout=%d", DAEMON_CONNECT_TIMEOUT);
		strv_pushf(av, "--password-file=%s", job_get(job, "password_file"));
	} else {
		ssh_base_argv(job, &sshv);
		rsh = quote_rsh_argv((const char *const *)strv_argv(&sshv));
		strv_push(av, "-e");
		strv_push(av, rsh);
	}
	strv_push(av, "--");
	source = rsync_source(job, t);
	strv_push(av, source);
	strv_pushf(av, "%s/", dest);
	rc = 0;
out:
	free(rsh);
	free(source);
	strv_free(&excludes);
	strv_free(&links);
	strv_free(&sshv);
	return rc;
}

int
rsync_check_password_file(const char *path, struct err *err)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		err_sys(err, errno, "password_file %s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, "password_file %s is not a regular file", path);
		return -1;
	}
	if (st.st_mode & S_IROTH) {
		err_set(err, "password_file %s must not be readable by other users: chmod 600 %s",
		        path, path);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		err_set(err, "password_file %s must not be writable by other users: chmod 600 %s",
		        path, path);
		return -1;
	}
	if (geteuid() == 0 && st.st_uid != 0) {
		err_set(err,
		        "password_file %s must be owned by root when tisbackup runs as root "
		        "(rsync refuses it otherwise): chown root %s",
		        path, path);
		return -1;
	}
	return 0;
}

int
rsync_check_transport(const struct job *job, enum rsync_transport t, struct err *err)
{
	if (t != RSYNC_DAEMON)
		return 0;
	return rsync_check_password_file(job_get(job, "password_file"), err);
}

static void
ring_push(struct rsync_line_ring *r, const char *line)
{
	free(r->v[r->next]);
	r->v[r->next] = xstrdup(line);
	r->next = (r->next + 1) % RSYNC_TAIL_LINES;
}

/* Append the lines of r, oldest first, to err. 0 if r was empty. */
static int
ring_append(const struct rsync_line_ring *r, struct err *err)
{
	int n = 0;

	for (size_t i = 0; i < RSYNC_TAIL_LINES; i++) {
		const char *l = r->v[(r->next + i) % RSYNC_TAIL_LINES];

		if (l != NULL) {
			err_append_line(err, "%s", l);
			n++;
		}
	}
	return n;
}

static void
ring_free(struct rsync_line_ring *r)
{
	for (size_t i = 0; i < RSYNC_TAIL_LINES; i++) {
		free(r->v[i]);
		r->v[i] = NULL;
	}
}

/* 1 if rsync wrote line to report a problem (shown without -v). */
static int
rsync_is_problem(const char *line)
{
	static const char *const prefixes[] = {
		"rsync: ",
		"rsync error: ",
		"file has vanished: ",
		"IO error encountered",
		"ERROR: ",
		"WARNING: ",
		"@ERROR",
		"ssh: ",
		"Host key verification failed",
		"Permission denied",
		"@@@@",
		NULL,
	};

	for (const char *const *p = prefixes; *p != NULL; p++)
		if (strncmp(line, *p, strlen(*p)) == 0)
			return 1;
	/*
	 * "[Receiver] io timeout after 5 seconds -- exiting", and ssh's own
	 * words for a failed connection, which say why rsync got nothing.
	 */
	static const char *const anywhere[] = {
		"io timeout after",
		"kex_exchange_identification",
		"Connection refused",
		"Connection reset",
		"Connection timed out",
		"Connection closed by",
		"Could not resolve hostname",
		"No route to host",
		"REMOTE HOST IDENTIFICATION HAS CHANGED",
		"No such file or directory",
		NULL,
	};

	for (const char *const *p = anywhere; *p != NULL; p++)
		if (strstr(line, *p) != NULL)
			return 1;
	return 0;
}

void
rsync_output_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct rsync_output *ro = ctx;
	char *copy = xstrndup(line, len);
	enum log_level level = ro->verbose ? LOG_INFO : LOG_DEBUG;
	struct xfer_sample xs;

	(void)stream;
	if (xfer_parse_rsync(copy, &xs)) {
		/*
		 * Shown by the run's report (a live line, one log line per
		 * interval); without one (export, restore), -v shows them all.
		 */
		if (ro->pg != NULL && ro->pg->xfer != NULL) {
			xfer_report_feed(ro->pg->xfer, &xs, progress_now());
			level = LOG_DEBUG;
		}
		log_msg(level, ro->name, "rsync: %s", copy);
		free(copy);
		return;
	}
	if (ro->over_ssh && ssh_diag_feed(&ro->ssh, copy, len)) {
		/* ssh's own words: rsync_judge() quotes them with the next step. */
		level = LOG_WARNING;
	} else if (!rsync_stats_feed(&ro->st, copy) && len > 0) {
		ring_push(&ro->tail, copy);
		if (rsync_is_problem(copy)) {
			ring_push(&ro->problems, copy);
			level = LOG_WARNING;
		}
	}
	log_msg(level, ro->name, "rsync: %s", copy);
	free(copy);
}

void
rsync_output_explain(const struct rsync_output *ro, struct err *err)
{
	if (ring_append(&ro->problems, err) == 0)
		ring_append(&ro->tail, err);
}

void
rsync_output_free(struct rsync_output *ro)
{
	ring_free(&ro->problems);
	ring_free(&ro->tail);
}

static atomic_flag nonroot_warned = ATOMIC_FLAG_INIT;

int
rsync_pull(const struct drv_run *run, const struct rsync_pull *p, struct rsync_stats *stats,
           int *partial, int *warned, struct err *err)
{
	const struct job *job = run->job;
	struct rsync_output ro = { .name = job->name,
		                   .verbose = run->verbose,
		                   .pg = run->progress,
		                   .over_ssh = p->transport == RSYNC_OVER_SSH };
	struct rsync_call c = { .job = job,
		                .purpose = RSYNC_FOR_BACKUP,
		                .transport = p->transport };
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av;
	char *source = rsync_source(job, p->transport), *what = NULL;
	int rc = -1;

	strv_init(&av);
	*partial = 0;
	*warned = 0;
	memset(stats, 0, sizeof *stats);
	if (rsync_build_argv_to(job, p->transport, run->stamp, p->dest, p->link_dest, run->verbose,
	                        &av, err) == -1)
		goto out;
	if (run->dry_run) {
		dryrun_show_argv(job->name, (const char *const *)strv_argv(&av));
		rc = 0;
		goto out;
	}
	/* Once per process: every snapshot would have its files owned by us. */
	if (geteuid() != 0 && !atomic_flag_test_and_set(&nonroot_warned))
		log_warning(job->name,
		            "running as uid %u, not root: the snapshot cannot keep "
		            "the files' owners and groups (a restore gives them all to "
		            "that user)",
		            (unsigned)geteuid());
	log_info(job->name, "rsync from %s into %s", source, p->dest);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.merge_stderr = 1;
	so.on_line = rsync_output_line;
	so.ctx = &ro;
	watchdog_spawn(run->progress, &so);
	if (spawn_run(&so, &res, err) == -1)
		goto out;
	what = xasprintf("rsync from %s", source);
	c.what = what;
	if (rsync_judge(&c, &res, &ro, partial, warned, err) == -1)
		goto out;
	*stats = ro.st;
	rc = 0;
out:
	rsync_output_free(&ro);
	free(source);
	free(what);
	strv_free(&av);
	return rc;
}

char *
rsync_log_line(const char *words, const char *source, const struct rsync_stats *st)
{
	return xasprintf("%s backup from %s OK, %lld bytes written for %lld changed files", words,
	                 source, (long long)st->written_bytes, (long long)st->written_files);
}

/* The backup of both drivers; fl says which. */
static int
rsync_backup(struct drv_run *run, const struct rsync_flavour *fl, struct drv_stats *st,
             struct err *err)
{
	const struct job *job = run->job;
	struct rsync_pull p = { .transport = fl->transport, .link_dest = 1 };
	struct rsync_stats rs;
	char *partial_dir = NULL, *final = NULL, *source = NULL;
	int rc = -1, partial = 0, warned = 0;

	partial_dir = xasprintf("%s/%s.rsync", job->dir, run->stamp);
	final = xasprintf("%s/%s", job->dir, run->stamp);
	source = rsync_source(job, fl->transport);
	p.dest = partial_dir;
	if (rsync_check_transport(job, fl->transport, err) == -1)
		goto out;

	if (run->dry_run) {
		if (rsync_pull(run, &p, &rs, &partial, &warned, err) == -1)
			goto out;
		log_info(job->name, "dry run: then rename %s to %s", partial_dir, final);
		rc = 0;
		goto out;
	}

	if (mkdir(partial_dir, 0750) == -1 && errno != EEXIST) {
		err_sys(err, errno, "creating %s", partial_dir);
		goto out;
	}
	st->location = xstrdup(partial_dir);
	if (rsync_pull(run, &p, &rs, &partial, &warned, err) == -1)
		goto out;
	if (warned)
		st->warnings = 1;

	if (fs_sync_tree(partial_dir, err) == -1)
		goto out;
	if (rename(partial_dir, final) == -1) {
		err_sys(err, errno, "renaming %s to %s", partial_dir, final);
		goto out;
	}
	/* The original sets the snapshot's mtime to the end of the backup. */
	utimensat(AT_FDCWD, final, NULL, 0);
	if (fs_fsync_dir(job->dir, err) == -1)
		goto out;
	free(st->location);
	st->location = xstrdup(final);
	st->total_files = rs.total_files;
	st->written_files = rs.written_files;
	st->total_bytes = rs.total_bytes;
	st->written_bytes = rs.written_bytes;
	st->partial = partial;
	st->log = rsync_log_line(fl->log_name, source, &rs);
	rc = 0;
out:
	free(partial_dir);
	free(final);
	free(source);
	return rc;
}

int
rsync_daemon_validate(const struct job *job, struct err *err)
{
	const char *module = job_get(job, "rsync_module");

	/*
	 * No ssh here, but server_name and remote_user still reach rsync as
	 * words: the same check the loader runs for the ssh drivers.
	 */
	if (ssh_check_target(job, err) == -1)
		return -1;
	/* The first path element after "::" is the module. */
	if (module[0] == '-' || strchr(module, '/') != NULL || strpbrk(module, "\t\n\r") != NULL) {
		err_set(err, "rsync_module: '%s' is not a module name (no '/', no leading '-')",
		        module);
		return -1;
	}
	return 0;
}

/* A run of stamp writes STAMP.rsync, renamed to STAMP when complete. */
static size_t
rsync_names(const struct job *job, const char *stamp, char **names)
{
	(void)job;
	names[0] = xstrdup(stamp);
	names[1] = xasprintf("%s.rsync", stamp);
	return 2;
}

/* Snapshot folders (drivers/snapdir.h), staged under ".rsync". */
static const struct drv_layout rsync_layout = {
	.classify = snapdir_classify,
	.names = rsync_names,
};

static int
rsync_ssh_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	return rsync_backup(run, &flavour_ssh, st, err);
}

static int
rsync_daemon_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	return rsync_backup(run, &flavour_daemon, st, err);
}

/* Restore hooks: the snapshot pushed back with rsync (restore_rsync_push()). */
static int
rsync_ssh_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	return restore_rsync_push(r, RSYNC_OVER_SSH, st, err);
}

static int
rsync_daemon_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	return restore_rsync_push(r, RSYNC_DAEMON, st, err);
}

const struct driver drv_rsync_ssh = {
	.name = "rsync+ssh",
	.description = "Pulls a remote folder over ssh with rsync into a dated snapshot, "
	               "hardlinked against the previous one.",
	.required = rsync_ssh_required,
	.optional = rsync_ssh_optional,
	.caps = DRV_CAP_SSH,
	.backup = rsync_ssh_backup,
	.layout = &rsync_layout,
	.restore = rsync_ssh_restore,
	.verify_kind = "files",
};

const struct driver drv_rsync = {
	.name = "rsync",
	.description = "Pulls a folder from an rsync daemon module (password file "
	               "authentication) into a dated snapshot, hardlinked against the "
	               "previous one.",
	.required = rsync_daemon_required,
	.optional = rsync_daemon_optional,
	.validate = rsync_daemon_validate,
	.backup = rsync_daemon_backup,
	.layout = &rsync_layout,
	.restore = rsync_daemon_restore,
	.verify_kind = "files",
};
