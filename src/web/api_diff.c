/*
 * GET /api/v1/jobs/NAME/diff?from=STAMP&to=STAMP: a unified diff between
 * two backups of a job whose backups are single files (DRV_CAP_FILE: a
 * switch's configuration, a dump), as text/x-diff. The two files are
 * found by the driver's layout (the entries its classify() calls final
 * for those stamps), never from a path in the request, and compared by
 * filediff() (identical: an empty body). Errors are JSON like the rest of the API: 400 naming the field,
 * 404 for an unknown job or stamp.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "drivers/driver.h"
#include "filediff.h"
#include "util/buf.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "web/routes.h"
#include "web/server.h"

#define DIFF_MAX_BODY ((size_t)8 << 20)

/* The final backup of job with stamp (a new path), or NULL. */
static char *
backup_file(const struct job *job, const char *stamp)
{
	const struct drv_layout *l = driver_layout(job->drv);
	char s[TIME_STAMP_LEN + 1];
	char *path = NULL;
	struct dirent *e;
	DIR *dir = opendir(job->dir);

	if (dir == NULL)
		return NULL;
	while (path == NULL && (e = readdir(dir)) != NULL)
		if (l->classify(e->d_name, s) == DRV_ENTRY_FINAL && strcmp(s, stamp) == 0)
			path = xasprintf("%s/%s", job->dir, e->d_name);
	closedir(dir);
	return path;
}

/* A stamp argument: 0 and its value, or -1 with a 400 reply naming it. */
static int
stamp_arg(struct req *r, struct reply *out, const char *field, const char **v)
{
	time_t t;

	*v = req_arg(r, field);
	if (*v == NULL || strlen(*v) != TIME_STAMP_LEN || time_parse_stamp(*v, &t) == -1) {
		reply_error(r, out, 400, field, "%s: a backup stamp (YYYYMMDD-HHhMMmSS) is needed",
		            field);
		return -1;
	}
	return 0;
}

void
api_job_diff(struct req *r, struct reply *out)
{
	static const char prefix[] = "/api/v1/jobs/", suffix[] = "/diff";
	const struct config *cfg = req_config(r, NULL);
	size_t ul = strlen(r->url);
	char *name =
	    xstrndup(r->url + sizeof prefix - 1, ul - (sizeof prefix - 1) - (sizeof suffix - 1));
	const struct job *job = cfg != NULL ? config_find_job(cfg, name) : NULL;
	const char *from, *to;
	char *a = NULL, *b = NULL;
	struct buf d;
	int over = 0;
	struct err err;

	err_clear(&err);
	buf_init(&d, DIFF_MAX_BODY);
	if (job == NULL) {
		reply_error(r, out, 404, NULL, "no job called %s in the current configuration",
		            name);
		goto out;
	}
	if (!(job->drv->caps & DRV_CAP_FILE)) {
		reply_error(r, out, 400, NULL,
		            "the backups of %s (%s) are folders, not single files: no diff", name,
		            job->drv->name);
		goto out;
	}
	if (stamp_arg(r, out, "from", &from) == -1 || stamp_arg(r, out, "to", &to) == -1)
		goto out;
	if ((a = backup_file(job, from)) == NULL) {
		reply_error(r, out, 404, "from", "no backup of %s at %s", name, from);
		goto out;
	}
	if ((b = backup_file(job, to)) == NULL) {
		reply_error(r, out, 404, "to", "no backup of %s at %s", name, to);
		goto out;
	}
	if (filediff(a, b, from, to, &d, &over, &err) == -1) {
		reply_error(r, out, 500, NULL, "%s", err.msg);
		goto out;
	}
	if (over) {
		reply_error(r, out, 413, NULL, "the diff is larger than %zu bytes", DIFF_MAX_BODY);
		goto out;
	}
	out->status = 200;
	out->content_type = "text/x-diff; charset=utf-8";
	buf_free(&out->body);
	out->body = d;
	buf_init(&d, DIFF_MAX_BODY);
out:
	buf_free(&d);
	free(a);
	free(b);
	free(name);
}
