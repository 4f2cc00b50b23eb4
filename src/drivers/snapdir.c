/*
 * The dump drivers' snapshot folder (see snapdir.h).
 */
#include "drivers/snapdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "util/fsutil.h"
#include "util/rmtree.h"
#include "util/xmalloc.h"

void
snapdir_init(struct snapdir *sd, const struct job *job, const char *stamp)
{
	sd->partial = xasprintf("%s/%s.partial", job->dir, stamp);
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
