/*
 * The backup filesystem's space and inodes (see diskspace.h).
 */
#include "diskspace.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "config.h"

int
disk_space_read(const char *path, struct disk_space *ds, struct err *err)
{
	struct statvfs sv;
	unsigned long long avail_used;

	if (statvfs(path, &sv) == -1) {
		err_sys(err, errno, "reading the free space of %s", path);
		return -1;
	}
	ds->size_bytes = (unsigned long long)sv.f_blocks * sv.f_frsize;
	ds->used_bytes = (unsigned long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	ds->free_bytes = (unsigned long long)sv.f_bavail * sv.f_frsize;
	ds->inodes = sv.f_files;
	ds->free_inodes = sv.f_favail;
	avail_used = ds->used_bytes + ds->free_bytes;
	ds->used_percent = avail_used > 0 ? 100.0 * (double)ds->used_bytes / (double)avail_used : 0;
	ds->inodes_used_percent =
	    sv.f_files > 0 ? 100.0 * (double)(sv.f_files - sv.f_ffree) / (double)sv.f_files : 0;
	return 0;
}

/* A [global] percentage, -1 when unset (config.c checked it is an integer). */
static int
limit_of(const struct config *cfg, const char *key)
{
	const char *v = config_global_get(cfg, key);
	char *end;
	long n;

	if (v == NULL)
		return -1;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0)
		return -1;
	return n > 1000 ? 1000 : (int)n;
}

void
disk_space_limits(const struct config *cfg, int *warn, int *crit)
{
	*warn = limit_of(cfg, "disk_warn_percent");
	*crit = limit_of(cfg, "disk_crit_percent");
}

int
disk_space_level(const struct disk_space *ds, int warn, int crit)
{
	double pct =
	    ds->used_percent > ds->inodes_used_percent ? ds->used_percent : ds->inodes_used_percent;

	if (crit >= 0 && pct >= crit)
		return 2;
	if (warn >= 0 && pct >= warn)
		return 1;
	return 0;
}
