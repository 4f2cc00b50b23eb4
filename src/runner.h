/*
 * Running several jobs at once. Jobs start in config order as slots free
 * up, under two limits: at most max_parallel jobs in all, and at most
 * max_per_server jobs on one server_name (the smallest value any job of
 * that server asks for; default 1, so one host is never hit by two jobs
 * at once). Each worker thread opens its own catalog connection.
 */
#ifndef TB_RUNNER_H
#define TB_RUNNER_H

#include <stddef.h>

#include "util/err.h"

struct catalog;
struct job;

/*
 * Run one job; cat is the worker's own connection (NULL when the runner
 * was given no catalog path). Returns 0 on success, -1 on failure (err
 * already logged by the callee or not, as it likes).
 */
typedef int (*runner_fn)(void *ctx, struct catalog *cat, const struct job *job, struct err *err);

struct runner_opts {
	int max_parallel;         /* >= 1 */
	const char *catalog_path; /* opened read-write per worker; NULL: none */
};

/*
 * Run fn for each of the n jobs and wait for all. results[i] (n entries)
 * gets 0 or -1 for jobs[i]; a job not started because tisbackup was
 * interrupted, or whose worker could not open the catalog, counts -1.
 */
void runner_run(const struct job *const *jobs, size_t n, const struct runner_opts *o, runner_fn fn,
                void *ctx, int *results);

/*
 * The per-server limit of each job's server, and the limit that applies
 * to the pair: exposed for tests. Returns the limit for job i's server.
 */
int runner_server_limit(const struct job *const *jobs, size_t n, size_t i);

#endif
