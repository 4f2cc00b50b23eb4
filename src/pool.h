/*
 * Worker pool names: what a job's pool key, [queue] pools, [queue]
 * pool_max_parallel and `tisbackup worker --pool` accept. Here, apart from
 * the queue, so the configuration readers can check names without
 * depending on the queue.
 */
#ifndef TB_POOL_H
#define TB_POOL_H

/* The pool of a job without a pool key, and of runs queued before pools existed. */
#define POOL_DEFAULT "default"
/* The most pools one worker claims from. */
#define POOL_MAX_PER_WORKER 16

/* 1 when name is a valid pool name: [A-Za-z0-9_.-]{1,64}; else 0 (also for NULL). */
int pool_name_valid(const char *name);

#endif
