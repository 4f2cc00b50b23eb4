/*
 * The core's side of the driver contract (driver.h): the default of each
 * optional hook (layout, check, register_existing) and the helpers that
 * pick a driver's hook or its default, so callers never test which driver
 * a job has. The default expire, the local removal, lives with the
 * cleanup executor (retention.c), which removes many trees at once.
 */
#include "drivers/driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

const struct drv_layout *
driver_layout(const struct driver *drv)
{
	return drv->layout != NULL ? drv->layout : &driver_layout_snapdir;
}

int
driver_stamp_taken(const struct job *job, const char *stamp)
{
	char *names[DRV_LAYOUT_NAMES];
	size_t n = driver_layout(job->drv)->names(job, stamp, names);
	int taken = 0;

	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		char *path = fs_join(job->dir, names[i]);

		if (!taken && lstat(path, &sb) == 0)
			taken = 1;
		free(path);
		free(names[i]);
	}
	return taken;
}

/* The default check: one stat(2) of a local path. */
static int
check_local(const struct job *job, const char *location, struct drv_check *out, struct err *err)
{
	struct stat sb;

	memset(out, 0, sizeof *out);
	if (stat(location, &sb) == 0) {
		if (S_ISREG(sb.st_mode)) {
			out->presence = DRV_FILE;
			out->ctime = sb.st_ctim;
			return 0;
		}
		if (S_ISDIR(sb.st_mode)) {
			out->presence = DRV_FOLDER;
			return 0;
		}
	} else if (errno == EACCES || errno == EPERM) {
		/* Not a vanished backup: this user may not look (checknagios as nagios). */
		err_set(err,
		        "%s: %s (running as uid %u: give it read access with [global] group = "
		        "GROUP and add the user to that group)",
		        location, strerror(errno), (unsigned)geteuid());
		return -1;
	}
	/* Remote backups are not on this disk: no local path proves nothing. */
	out->presence = (job->drv->caps & DRV_CAP_REMOTE) ? DRV_ELSEWHERE : DRV_GONE;
	return 0;
}

int
driver_check(const struct job *job, const char *location, struct drv_check *out, struct err *err)
{
	if (job->drv->check != NULL)
		return job->drv->check(job, location, out, err);
	return check_local(job, location, out, err);
}

/*
 * The default register hook's test: folders, or regular files for
 * DRV_CAP_FILE drivers; symlinks, devices and fifos are never backups.
 */
static int
accept_default(const struct job *job, const char *name, const struct stat *st)
{
	int files = (job->drv->caps & DRV_CAP_FILE) != 0;

	if (S_ISDIR(st->st_mode) || (files && S_ISREG(st->st_mode)))
		return 1;
	log_debug(job->name, "%s/%s: named like a backup, but not a %s: skipped", job->dir, name,
	          files ? "folder or file" : "folder");
	return 0;
}

int
driver_scan_finished(const struct job *job, drv_accept_fn accept, drv_found_fn found, void *arg,
                     struct err *err)
{
	enum drv_entry (*classify)(const char *, char *) = driver_layout(job->drv)->classify;
	struct dirent *de;
	DIR *d;
	int rc = -1;

	if ((d = opendir(job->dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		err_sys(err, errno, "reading %s", job->dir);
		return -1;
	}
	for (;;) {
		char stamp[TIME_STAMP_LEN + 1];
		struct drv_found f;
		struct stat st;
		char *path;
		int r;

		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (classify(de->d_name, stamp) != DRV_ENTRY_FINAL)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue; /* removed since it was listed */
			err_sys(err, errno, "examining %s/%s", job->dir, de->d_name);
			goto out;
		}
		if (!accept(job, de->d_name, &st))
			continue;
		path = fs_join(job->dir, de->d_name);
		f.location = path;
		f.stamp = stamp;
		f.mtime = st.st_mtim;
		f.bytes = f.files = -1;
		r = found(arg, &f, err);
		free(path);
		if (r == -1)
			goto out;
	}
	if (errno != 0) {
		err_sys(err, errno, "reading %s", job->dir);
		goto out;
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

int
driver_register_existing(const struct job *job, drv_found_fn found, void *arg, struct err *err)
{
	if (job->drv->register_existing != NULL)
		return job->drv->register_existing(job, found, arg, err);
	return driver_scan_finished(job, accept_default, found, arg, err);
}
