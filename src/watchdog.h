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
 * Transition: watchdog_job_begin()/watchdog_apply() keep the older
 * job-keyed calls working while drivers and ssh.c are given the object
 * through struct drv_run; they look the run up in a table keyed by the
 * job (under a lock, not per thread), and go once every caller passes it.
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

/*
 * Transition API. Arm the run of job now (max_runtime counts from here),
 * in a table keyed by job, and return its progress object (owned by the
 * table, valid until watchdog_job_end(job)).
 */
struct progress *watchdog_job_begin(const struct job *job);

/* The run of job begun by watchdog_job_begin(), or NULL. */
struct progress *watchdog_job_progress(const struct job *job);

/* Forget the run of job (after its last command). NULL-safe, idempotent. */
void watchdog_job_end(const struct job *job);

/*
 * watchdog_spawn() with the run of job (watchdog_job_begin()); for a job
 * with no run begun, the same limits counted from now.
 */
void watchdog_apply(const struct job *job, struct spawn_opts *so);

#endif
