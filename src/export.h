/*
 * exportbackup (SPEC §8): copy a job's newest good backup into
 * {exportdir}/{section}/ with rsync, typically onto a disk that leaves
 * the site. Every export records its own catalog row (TYPE EXPORT); the
 * job's BACKUP rows are only read. export_run() (actions.h) is the
 * action; the two functions here are its pieces, for callers that
 * schedule jobs themselves (the parallel runner).
 */
#ifndef TB_EXPORT_H
#define TB_EXPORT_H

#include "util/err.h"

struct catalog;
struct job;

/*
 * Check the target folder given with -x: it must exist, be a folder, and
 * be writable and searchable by us (a read-only mount is refused here,
 * not after the first job). On success *abs is the folder as an absolute
 * path without trailing '/' (relative paths are taken from the current
 * folder, symlinks are kept), which the caller frees. On failure returns
 * -1 and err names the path and what is wrong; nothing was written.
 */
int export_check_dir(const char *dir, char **abs, struct err *err);

/*
 * Export one job into {exportdir}/{job}/: its newest OK BACKUP row's
 * location (a folder's contents, or a file under its own name) is
 * rsynced there, and a row of TYPE EXPORT records the outcome, location
 * {exportdir}/{job}. exportdir is a folder export_check_dir() accepted.
 * A job whose type backs nothing up (null) is skipped: 0, no row.
 *
 * In a dry run cat may be a read-only catalog: nothing is written, the
 * rsync command is logged instead. Safe to call from several threads at
 * once, each with its own catalog connection; no job lock is taken (an
 * export only reads the snapshot, and cleanup never removes the newest
 * good one).
 *
 * rsync runs under the job's watchdog (stall_timeout, max_runtime from
 * the start of this export) and its exit is judged by the rsync drivers'
 * policy for an export (rsync_verdict(), RSYNC_FOR_EXPORT).
 *
 * Returns 0 when the export succeeded (rsync exit 23/24 included, with a
 * warning; 23 marks the row's log partial), -1 with err otherwise: no
 * good backup, its location gone, a destination that overlaps the backup
 * or holds the backup tree (rsync --delete would destroy it), rsync
 * failed or stalled (err ends with rsync's own last lines), or the
 * outcome could not be recorded (err then says that and what the export
 * itself did). Either way the outcome is already logged under the job's
 * name and, outside a dry run, stored in the EXPORT row when the catalog
 * took it.
 */
int export_job(struct catalog *cat, const struct job *job, const char *exportdir, int dry_run,
               int verbose, struct err *err);

#endif
