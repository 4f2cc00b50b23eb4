/*
 * xcp-dump-metadata: the pool database of an XCP-ng / XenServer pool
 * (`xe pool-dump-database`) fetched over ssh and stored gzipped as one
 * file, {job}/SERVER-STAMP.dump.gz.
 *
 * xe writes the dump to a file name it is given (it downloads it from
 * xapi, and /dev/stdout is not a reliable target), so the remote command
 * is one fixed `sh -c` script: make a temp file with mktemp, dump into it,
 * cat it, and remove it whatever happened, exiting with xe's (or cat's)
 * status. No configuration value is pasted into that script. The bytes
 * are compressed here as they arrive (dumpfile.c): the file is written as
 * ".partial" and renamed only when complete.
 *
 * The original named its files inconsistently (it wrote
 * "xen_metadata-STAMP.dump", gzipped, and registered "SERVER-STAMP.dump.gz");
 * we write the second and register any "NAME-STAMP.dump.gz" or
 * "NAME-STAMP.dump". Its layout (xcp_layout) tells cleanup that
 * "NAME-STAMP.dump.gz.partial" is a crashed run's leftover.
 */
#include "drivers/driver.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "drivers/remote_cmd.h"
#include "dumpfile.h"
#include "log.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

/*
 * The remote script: $f is the only expansion and is always quoted; the
 * temp file is removed in every outcome after mktemp succeeded.
 */
#define XCP_SCRIPT                                                                                 \
	"f=$(mktemp) || exit 1; "                                                                  \
	"xe pool-dump-database file-name=\"$f\" && cat -- \"$f\"; "                                \
	"rc=$?; rm -f -- \"$f\"; exit $rc"

/* What dumpfile.c appends to the name of the file it is writing. */
#define XCP_STAGING ".partial"

static const struct drv_key xcp_required[] = {
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key xcp_optional[] = {
	{ NULL, KEY_STR, NULL },
};

static size_t xcp_names(const struct job *job, const char *stamp, char **names);

static int
xcp_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct remote_cmd c = { .name = job->name, .tool = "xe" };
	const char *remote[] = { "sh", "-c", XCP_SCRIPT, NULL };
	char *path = NULL, *what = NULL, *names[DRV_LAYOUT_NAMES];
	size_t nnames;
	int64_t bytes;
	int rc = -1;

	nnames = xcp_names(job, run->stamp, names);
	path = xasprintf("%s/%s", job->dir, names[0]);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	if (run->dry_run) {
		log_info(job->name,
		         "dry run: would run xe pool-dump-database on %s over ssh into %s",
		         job->server_name, path);
		rc = 0;
		goto out;
	}
	what = xasprintf("xe pool-dump-database on %s", job->server_name);
	if (dumpfile_open(path, 6, &c.df, err) == -1)
		goto out;
	log_info(job->name, "dumping the pool database of %s into %s", job->server_name, path);
	if (remote_cmd_run(run->job, run->progress, remote, what, &c, err) == -1)
		goto out;
	if (dumpfile_bytes_in(c.df) == 0) {
		err_set(err, "%s: the dump is empty", what);
		goto out;
	}
	if (dumpfile_commit(c.df, err) == -1)
		goto out;
	bytes = (int64_t)dumpfile_bytes_out(c.df);
	st->location = xstrdup(path);
	st->total_files = st->written_files = 1;
	st->total_bytes = st->written_bytes = bytes;
	st->log = xasprintf("xcp metadata backup from %s OK, %lld bytes written", job->server_name,
	                    (long long)bytes);
	rc = 0;
out:
	dumpfile_abort(c.df);
	remote_cmd_free(&c);
	free(path);
	free(what);
	return rc;
}

/*
 * 1 if name is "NAME-STAMP.dump.gz" or "NAME-STAMP.dump", NAME not empty
 * (ours is the server name, the original's was "xen_metadata"), with the
 * stamp copied into stamp_out. len is how much of name to judge.
 */
static int
xcp_final_name(const char *name, size_t len, char *stamp_out)
{
	static const char *const suffixes[] = { ".dump.gz", ".dump" };
	char stamp[TIME_STAMP_LEN + 1];
	size_t sl;
	time_t t;

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		sl = strlen(suffixes[i]);
		if (len < sl + TIME_STAMP_LEN + 2 || strncmp(name + len - sl, suffixes[i], sl) != 0)
			continue;
		if (name[len - sl - TIME_STAMP_LEN - 1] != '-')
			continue;
		memcpy(stamp, name + len - sl - TIME_STAMP_LEN, TIME_STAMP_LEN);
		stamp[TIME_STAMP_LEN] = '\0';
		if (time_parse_stamp(stamp, &t) == -1)
			continue;
		memcpy(stamp_out, stamp, TIME_STAMP_LEN + 1);
		return 1;
	}
	return 0;
}

/*
 * A finished dump is NAME-STAMP.dump.gz (or .dump); dumpfile.c stages it
 * as the same name + ".partial", which a crash leaves behind.
 */
static enum drv_entry
xcp_classify(const char *name, char *stamp_out)
{
	static const char staging[] = XCP_STAGING;
	size_t len = strlen(name), sl = sizeof staging - 1;

	if (len > sl && strcmp(name + len - sl, staging) == 0)
		return xcp_final_name(name, len - sl, stamp_out) ? DRV_ENTRY_STAGING
		                                                 : DRV_ENTRY_OTHER;
	return xcp_final_name(name, len, stamp_out) ? DRV_ENTRY_FINAL : DRV_ENTRY_OTHER;
}

/* A run of stamp writes SERVER-STAMP.dump.gz, staged by dumpfile.c. */
static size_t
xcp_names(const struct job *job, const char *stamp, char **names)
{
	names[0] = xasprintf("%s-%s.dump.gz", job->server_name, stamp);
	names[1] = xasprintf("%s" XCP_STAGING, names[0]);
	return 2;
}

static const struct drv_layout xcp_layout = {
	.classify = xcp_classify,
	.names = xcp_names,
};

static int
xcp_validate(const struct job *job, struct err *err)
{
	/* Stricter than ssh_check_target(): the name starts a file name. */
	if (job->server_name[0] == '-' || job->server_name[0] == '.' ||
	    strpbrk(job->server_name, " \t\n@:/") != NULL) {
		err_set(err, "server_name: '%s' is not a host name", job->server_name);
		return -1;
	}
	return 0;
}

const struct driver drv_xcp_metadata = {
	.name = "xcp-dump-metadata",
	.description = "Dumps the pool database of an XCP-ng/XenServer pool with xe "
	               "pool-dump-database over ssh into one gzip file.",
	.required = xcp_required,
	.optional = xcp_optional,
	.caps = DRV_CAP_SSH | DRV_CAP_FILE,
	.validate = xcp_validate,
	.backup = xcp_backup,
	.layout = &xcp_layout,
	.restore = restore_file_copy,
};
