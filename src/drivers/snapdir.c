/*
 * The dump drivers' snapshot folder (see snapdir.h).
 */
#include "drivers/snapdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "util/fsutil.h"
#include "util/rmtree.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

void
snapdir_init(struct snapdir *sd, const struct job *job, const char *stamp)
{
	sd->partial = xasprintf("%s/%s" SNAPDIR_STAGING, job->dir, stamp);
	sd->final = xasprintf("%s/%s", job->dir, stamp);
	sd->made = 0;
}

int
snapdir_create(struct snapdir *sd, struct err *err)
{
	if (mkdir(sd->partial, 0750) == -1) {
		err_sys(err, errno, "creating %s", sd->partial);
		return -1;
	}
	sd->made = 1;
	return 0;
}

int
snapdir_commit(struct snapdir *sd, const struct job *job, struct err *err)
{
	if (fs_fsync_dir(sd->partial, err) == -1)
		return -1;
	if (rename(sd->partial, sd->final) == -1) {
		err_sys(err, errno, "renaming %s to %s", sd->partial, sd->final);
		return -1;
	}
	sd->made = 0;
	return fs_fsync_dir(job->dir, err);
}

void
snapdir_free(struct snapdir *sd, const struct job *job)
{
	struct err rmerr;

	err_clear(&rmerr);
	if (sd->made && rmtree(sd->partial, &rmerr) == -1)
		log_warning(job->name, "cleaning up after the failure: %s", rmerr.msg);
	free(sd->partial);
	free(sd->final);
	sd->partial = sd->final = NULL;
	sd->made = 0;
}

enum drv_entry
snapdir_classify(const char *name, char *stamp_out)
{
	const char *tail = name + TIME_STAMP_LEN;
	enum drv_entry kind;
	time_t t;

	if (strnlen(name, TIME_STAMP_LEN) < TIME_STAMP_LEN)
		return DRV_ENTRY_OTHER;
	if (*tail == '\0')
		kind = DRV_ENTRY_FINAL;
	else if (strcmp(tail, SNAPDIR_STAGING) == 0 || strcmp(tail, ".rsync") == 0)
		kind = DRV_ENTRY_STAGING;
	else
		return DRV_ENTRY_OTHER;
	if (time_parse_stamp(name, &t) == -1)
		return DRV_ENTRY_OTHER;
	memcpy(stamp_out, name, TIME_STAMP_LEN);
	stamp_out[TIME_STAMP_LEN] = '\0';
	return kind;
}

/* A dump driver's run of stamp: STAMP, staged as STAMP.partial. */
static size_t
snapdir_names(const struct job *job, const char *stamp, char **names)
{
	(void)job;
	names[0] = xstrdup(stamp);
	names[1] = xasprintf("%s" SNAPDIR_STAGING, stamp);
	return 2;
}

const struct drv_layout driver_layout_snapdir = {
	.classify = snapdir_classify,
	.names = snapdir_names,
};
