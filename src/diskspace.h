/*
 * The backup filesystem's space and inodes (statvfs(3) of
 * backup_base_dir), as checknagios, /metrics, dumpstat and the dashboard
 * show them, and the [global] disk_warn_percent / disk_crit_percent
 * limits. Percentages are df(1)'s Use%: used / (used + available to
 * ordinary users), so root's reserve counts as full.
 */
#ifndef TB_DISKSPACE_H
#define TB_DISKSPACE_H

#include "util/err.h"

struct config;

struct disk_space {
	unsigned long long size_bytes;  /* f_blocks * f_frsize */
	unsigned long long used_bytes;  /* (f_blocks - f_bfree) * f_frsize */
	unsigned long long free_bytes;  /* f_bavail * f_frsize: what a backup can still write */
	unsigned long long inodes;      /* f_files (0: the filesystem has no inode count) */
	unsigned long long free_inodes; /* f_favail */
	double used_percent;            /* df's Use%, 0..100 */
	double inodes_used_percent;     /* the same for inodes, 0 when inodes is 0 */
};

/* statvfs(path) into *ds. 0, or -1 + err naming path. */
int disk_space_read(const char *path, struct disk_space *ds, struct err *err);

/*
 * [global] disk_warn_percent and disk_crit_percent of cfg into *warn and
 * *crit, -1 when unset (the check is then off for that level).
 */
void disk_space_limits(const struct config *cfg, int *warn, int *crit);

/*
 * The level ds reaches: 2 at or above crit (space or inodes), 1 at or
 * above warn, else 0; a limit of -1 is never reached.
 */
int disk_space_level(const struct disk_space *ds, int warn, int crit);

#endif
