/*
 * rsync+ssh: pull remote_user@server:remote_dir/ over ssh into
 * {job}/STAMP.rsync, hardlinked (--link-dest) against the previous
 * snapshots, then sync the filesystem and rename it to {job}/STAMP, so a
 * name without ".rsync" always means a complete snapshot. Also the rsync
 * pieces the other rsync drivers share: option building, the --stats
 * parser, the link-dest choice and the exit-code policy.
 */
#include "drivers/driver.h"
#include "drivers/rsync.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "exclude.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define LINK_DEST_MAX 20 /* rsync refuses more --link-dest options */

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
	{ NULL, KEY_STR, NULL },
};

/*
 * Parse a number with optional ',' or '.' digit grouping at p; the number
 * ends at the first character that is neither a digit nor a separator
 * followed by a digit. Returns 0 and sets *v, or -1 if p is not a number.
 */
static int
parse_grouped(const char *p, int64_t *v)
{
	int64_t n = 0;
	int any = 0;

	while (*p == ' ')
		p++;
	for (;; p++) {
		if (isdigit((unsigned char)*p)) {
			if (n > (INT64_MAX - 9) / 10)
				return -1;
			n = n * 10 + (*p - '0');
			any = 1;
		} else if ((*p == ',' || *p == '.') && any && isdigit((unsigned char)p[1])) {
			continue;
		} else {
			break;
		}
	}
	if (!any)
		return -1;
	*v = n;
	return 0;
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
		st->total_files += v;
		return 1;
	}
	if (strncmp(line, number_of, sizeof number_of - 1) == 0 &&
	    (p = strstr(line, transferred)) != NULL) {
		if (parse_grouped(p + sizeof transferred - 1, &v) == -1)
			return 0;
		st->written_files += v;
		return 1;
	}
	if (strncmp(line, size, sizeof size - 1) == 0) {
		if (parse_grouped(line + sizeof size - 1, &v) == -1)
			return 0;
		st->total_bytes += v;
		return 1;
	}
	if (strncmp(line, tsize, sizeof tsize - 1) == 0) {
		if (parse_grouped(line + sizeof tsize - 1, &v) == -1)
			return 0;
		st->written_bytes += v;
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
	int partial, added = 0;

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

/*
 * The rsync options the rsync drivers share (SPEC §10), without source
 * and destination. 0 or -1 + err (bad exclude_list).
 */
static int
rsync_common_argv(const struct job *job, const char *job_dir, const char *stamp, int verbose,
                  struct strv *av, struct err *err)
{
	const char *remote_dir = job_get(job, "remote_dir");
	const char *overload = job_get(job, "overload_args");
	const char *excl = job_get(job, "exclude_list");
	struct strv excludes, links;
	int rc = -1;

	strv_init(&excludes);
	strv_init(&links);
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
	if (job_get_bool(job, "protect_args", 1))
		strv_push(av, "--protect-args");
	if (job_get_bool(job, "compression", 0))
		strv_push(av, "-z");
	if (job_get(job, "compressionlevel") != NULL)
		strv_pushf(av, "--compress-level=%ld", job_get_long(job, "compressionlevel", 0));
	if (job_get(job, "bwlimit") != NULL)
		strv_pushf(av, "--bwlimit=%ld", job_get_long(job, "bwlimit", 0));
	if (verbose)
		strv_push(av, "--info=progress2");
	if (excl != NULL && exclude_parse(excl, &excludes, err) == -1) {
		err_wrap(err, "exclude_list");
		goto out;
	}
	for (size_t i = 0; i < excludes.n; i++)
		strv_pushf(av, "--exclude=%s", excludes.v[i]);
	if (rsync_link_dests(job_dir, stamp, &links, err) == -1)
		goto out;
	for (size_t i = 0; i < links.n; i++)
		strv_pushf(av, "--link-dest=%s/%s/", job_dir, links.v[i]);
	rc = 0;
out:
	strv_free(&excludes);
	strv_free(&links);
	return rc;
}

struct rsync_out {
	const struct job *job;
	struct rsync_stats st;
	int verbose;
	char *tail[8]; /* last lines, for the error message */
	size_t next;
};

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
		"ssh: ",
		"Host key verification failed",
		"Permission denied",
		"@@@@",
		NULL,
	};

	for (const char *const *p = prefixes; *p != NULL; p++)
		if (strncmp(line, *p, strlen(*p)) == 0)
			return 1;
	return 0;
}

static void
rsync_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct rsync_out *ro = ctx;
	char *copy = xstrndup(line, len);
	enum log_level level = ro->verbose ? LOG_INFO : LOG_DEBUG;

	(void)stream;
	if (!rsync_stats_feed(&ro->st, copy) && len > 0) {
		free(ro->tail[ro->next]);
		ro->tail[ro->next] = xstrdup(copy);
		ro->next = (ro->next + 1) % 8;
		if (rsync_is_problem(copy))
			level = LOG_WARNING;
	}
	log_msg(level, ro->job->name, "rsync: %s", copy);
	free(copy);
}

/* Add rsync's last output lines to err: its own words for what went wrong. */
static void
append_tail(struct err *err, const struct rsync_out *ro)
{
	for (size_t i = 0; i < 8; i++) {
		const char *l = ro->tail[(ro->next + i) % 8];

		if (l != NULL)
			err_append_line(err, "%s", l);
	}
}

static int
rsync_ssh_validate(const struct job *job, struct err *err)
{
	const char *p;

	/* These go to ssh/rsync as words: an option-looking host or user is refused. */
	if (job->server_name[0] == '-' || strpbrk(job->server_name, " \t\n@:/") != NULL) {
		err_set(err, "server_name: '%s' is not a host name", job->server_name);
		return -1;
	}
	for (p = job->remote_user; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("._-$\\", *p) == NULL) {
			err_set(err, "remote_user: '%s' is not a user name", job->remote_user);
			return -1;
		}
	}
	if (job->remote_user[0] == '-') {
		err_set(err, "remote_user: '%s' is not a user name", job->remote_user);
		return -1;
	}
	return 0;
}

static int
rsync_ssh_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct rsync_out ro = { .job = job, .verbose = run->verbose };
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av, sshv;
	char *partial = NULL, *final = NULL, *source = NULL, *rsh = NULL, *dest = NULL;
	const char *remote_dir = job_get(job, "remote_dir");
	char desc[128];
	int rc = -1;

	strv_init(&av);
	strv_init(&sshv);
	partial = xasprintf("%s/%s.rsync", job->dir, run->stamp);
	final = xasprintf("%s/%s", job->dir, run->stamp);
	source = xasprintf("%s@%s:%s%s", job->remote_user, job->server_name, remote_dir,
	                   remote_dir[strlen(remote_dir) - 1] == '/' ? "" : "/");
	if (rsync_common_argv(job, job->dir, run->stamp, run->verbose, &av, err) == -1)
		goto out;
	ssh_base_argv(job, &sshv);
	rsh = quote_rsh_argv((const char *const *)strv_argv(&sshv));
	strv_push(&av, "-e");
	strv_push(&av, rsh);
	strv_push(&av, "--");
	strv_push(&av, source);
	dest = xasprintf("%s/", partial);
	strv_push(&av, dest);

	if (run->dry_run) {
		char *shown = quote_sh_argv((const char *const *)strv_argv(&av));

		log_info(job->name, "dry run: would run %s", shown);
		log_info(job->name, "dry run: then rename %s to %s", partial, final);
		free(shown);
		rc = 0;
		goto out;
	}

	if (mkdir(partial, 0750) == -1 && errno != EEXIST) {
		err_sys(err, errno, "creating %s", partial);
		goto out;
	}
	st->location = xstrdup(partial);
	log_info(job->name, "rsync from %s into %s", source, partial);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.merge_stderr = 1;
	so.on_line = rsync_on_line;
	so.ctx = &ro;
	if (spawn_run(&so, &res, err) == -1)
		goto out;
	spawn_describe(&res, desc, sizeof desc);
	/*
	 * Exit 23 with no file at all means the source folder itself could not
	 * be read (missing remote_dir, permissions): an empty snapshot is no
	 * backup, whatever the original recorded.
	 */
	if (res.exited && res.code == 23 && ro.st.total_files == 0) {
		err_set(err,
		        "rsync from %s transferred nothing (%s): the source folder could "
		        "not be read",
		        source, desc);
		append_tail(err, &ro);
		goto out;
	}
	if (!res.exited || (res.code != 0 && res.code != 23 && res.code != 24)) {
		err_set(err, "rsync from %s failed (%s)", source, desc);
		if (res.exited && res.code == 255)
			err_append_line(err, "(exit code 255: the ssh connection failed)");
		append_tail(err, &ro);
		goto out;
	}
	if (res.code == 24) {
		log_warning(job->name,
		            "rsync: some files vanished before they could be transferred");
		st->warnings = 1;
	} else if (res.code == 23) {
		log_warning(job->name, "rsync: partial transfer (exit code 23), some files or "
		                       "attributes were not transferred; see the lines above");
		st->warnings = 1;
	}
	if (fs_sync_tree(partial, err) == -1)
		goto out;
	if (rename(partial, final) == -1) {
		err_sys(err, errno, "renaming %s to %s", partial, final);
		goto out;
	}
	/* The original sets the snapshot's mtime to the end of the backup. */
	utimensat(AT_FDCWD, final, NULL, 0);
	if (fs_fsync_dir(job->dir, err) == -1)
		goto out;
	free(st->location);
	st->location = xstrdup(final);
	st->total_files = ro.st.total_files;
	st->written_files = ro.st.written_files;
	st->total_bytes = ro.st.total_bytes;
	st->written_bytes = ro.st.written_bytes;
	st->log =
	    xasprintf("ssh+rsync backup from %s OK, %lld bytes written for %lld changed files",
	              source, (long long)ro.st.written_bytes, (long long)ro.st.written_files);
	rc = 0;
out:
	for (size_t i = 0; i < 8; i++)
		free(ro.tail[i]);
	free(partial);
	free(final);
	free(source);
	free(rsh);
	free(dest);
	strv_free(&av);
	strv_free(&sshv);
	return rc;
}

const struct driver drv_rsync_ssh = {
	.name = "rsync+ssh",
	.description = "Pulls a remote folder over ssh with rsync into a dated snapshot, "
	               "hardlinked against the previous one.",
	.required = rsync_ssh_required,
	.optional = rsync_ssh_optional,
	.caps = DRV_CAP_SSH,
	.validate = rsync_ssh_validate,
	.backup = rsync_ssh_backup,
};
