/*
 * The scheduler thread of `serve`: it reads each job's `schedule` and
 * `cleanup_schedule` (see schedule.h; a job without one is never started
 * by serve), sleeps until the earliest due time and enqueues one
 * `backup` or `cleanup` run per due job (requested_by "scheduler"; the
 * queue returns the active run instead of adding a second one).
 *
 * Catch-up after downtime (docs/scheduler.md): the last slot handled per
 * config, job and action is kept in {queue_dir}/tisbackup-scheduler.state
 * (rewritten atomically). When slots were missed (serve was down, the
 * clock jumped), the job runs once -- not once per missed slot -- if the
 * latest missed slot is at most catch_up seconds old (a slot up to 5
 * minutes late always runs); older misses are skipped with a log line. A
 * job the scheduler has never seen starts counting when it first sees it.
 *
 * No busy polling: the thread waits on a condition variable (monotonic
 * clock) until the next due time, at most 60 s (to notice wall-clock
 * jumps and configuration changes: a changed config file is re-read), or
 * until scheduler_poke()/scheduler_stop(). If the queue cannot be opened
 * or refuses a run, a warning is logged and the run is retried at the
 * next wake.
 */
#ifndef TB_SCHEDULER_H
#define TB_SCHEDULER_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

struct guiconf;
struct scheduler;

struct scheduler_conf {
	const struct guiconf *gc;   /* for queue_open() */
	const char *queue_dir;      /* queue_open()'s catalog_dir; the state file lives here */
	const char *const *configs; /* tisbackup config files */
	size_t nconfigs;
	int catch_up; /* seconds (gc->scheduler_catch_up) */
	const char
	    *base_dir; /* -b: replaces [global] backup_base_dir when reading configs, or NULL */
	/* Tests: the wall clock (NULL = the real one) and its argument. */
	time_t (*clock)(void *arg);
	/* Tests: called before each wait with the wall time the thread means to wake at. */
	void (*on_sleep)(void *arg, time_t until);
	void *hook_arg;
};

/*
 * Start the thread. conf is copied (strings included), so it may go away.
 * The state file is read here: an unreadable one is an error, a missing
 * one is not. 0 and *out (stopped with scheduler_stop()), or -1 + err.
 */
int scheduler_start(const struct scheduler_conf *conf, struct scheduler **out, struct err *err);

/* Stop and join the thread, free s. NULL is a no-op. */
void scheduler_stop(struct scheduler *s);

/* Wake the thread for a pass now (the clock moved, a config changed). */
void scheduler_poke(struct scheduler *s);

/*
 * Counters for tests and the benchmark: passes done (one per wake) and
 * runs enqueued (new or already active). Either pointer may be NULL.
 */
void scheduler_stats(struct scheduler *s, unsigned long *passes, unsigned long *enqueued);

#endif
