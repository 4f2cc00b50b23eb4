/*
 * The `backup` action over a selection of jobs.
 */
#ifndef TB_BACKUP_H
#define TB_BACKUP_H

#include <stddef.h>

struct catalog;
struct job;
struct run_opts;

/*
 * Back up each job in order, logging a summary. Returns 0 when every job
 * succeeded, 1 when at least one failed or was already running.
 */
int backup_run(struct catalog *cat, const struct job *const *jobs, size_t n,
               const struct run_opts *o);

#endif
