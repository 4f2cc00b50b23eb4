/*
 * What the original web GUI's /json and /all_json know about driver
 * types: they list jobs grouped by family in a fixed order, leave some
 * types out, and show "*" for a database job without db_name. Kept here,
 * with the drivers, so no file outside src/drivers/ names a type.
 */
#ifndef TB_GUI_COMPAT_H
#define TB_GUI_COMPAT_H

struct driver;

/*
 * The rank of drv's family in the original's /json order (1 = first:
 * rsync, rsync+btrfs+ssh, rsync+ssh, pgsql+ssh, mysql+ssh, xen-xva, null,
 * xcp-dump-metadata), or 0 when the original leaves the type out.
 * *empty_target (may be NULL) gets what the original shows for an empty
 * target: "*" for the database dumps that take every database, else "".
 */
int driver_gui_rank(const struct driver *drv, const char **empty_target);

#endif
