/*
 * The job watchdog: every command a job runs, and every transfer it makes
 * in process, is ended when it stalls (nothing moves for stall_timeout
 * seconds) or when the job has run longer than max_runtime seconds.
 *
 * The limits and the run's start live in the run's progress object
 * (progress.h), which travels with the run: job.c arms it when the run
 * starts (watchdog_arm()), a driver hands it to each command
 * (watchdog_spawn()) or transfer (http_request_opts.progress).
 *
 * A driver finds it in struct drv_run (run->progress), ssh.c and
 * export.c are handed it: there is no table of runs and no per-thread
 * state.
 */
#ifndef TB_WATCHDOG_H
#define TB_WATCHDOG_H

struct job;
struct progress;
struct spawn_opts;

/*
 * Start p for a run of job now: stall_timeout (default 1800, 0 = none) and
 * max_runtime (default 0 = none) from the job's configuration.
 */
void watchdog_arm(struct progress *p, const struct job *job);

/*
 * Watch a command of the run p with p (so->watch): its output and the
 * bytes its processes read (rchar over the command's process group, ssh
 * excepted; a driver may replace so->progress afterwards with a better
 * measure) count as progress, and p's stall limit, deadline and interrupt
 * end it. An earlier timeout_sec already set is kept. p NULL: no-op.
 */
void watchdog_spawn(struct progress *p, struct spawn_opts *so);

#endif
