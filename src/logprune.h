/*
 * Pruning of the run logs, {backup_base_dir}/log/tisbackup_*.log, after
 * [global] log_retention_days (default 90; 0 keeps them forever). Called
 * by the cleanup action; the catalog and the queue database in the same
 * folder are never touched.
 */
#ifndef TB_LOGPRUNE_H
#define TB_LOGPRUNE_H

#include <time.h>

struct config;

#define LOGPRUNE_DEFAULT_DAYS 90

/*
 * Remove the run logs of cfg's backup root last modified more than the
 * retention before now (regular files only, never followed symlinks). In
 * a dry run nothing is removed and each file that would be is logged.
 * Problems are logged as warnings (they never fail the cleanup). Returns
 * the number of files removed (or that would be); 0 when cfg is NULL.
 */
int logprune_run(const struct config *cfg, time_t now, int dry_run);

#endif
