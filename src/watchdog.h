/*
 * The job watchdog: every command a job runs is ended when it stalls (no
 * output, and its processes read nothing, for stall_timeout seconds) or
 * when the job has run longer than max_runtime seconds. Drivers apply
 * it to their spawn options; job.c marks the start of each job.
 */
#ifndef TB_WATCHDOG_H
#define TB_WATCHDOG_H

struct job;
struct spawn_opts;

/* Record that job starts now in this thread (max_runtime counts from here). */
void watchdog_job_begin(const struct job *job);

/*
 * Set so's stall detection (idle_timeout_sec + a progress probe summing
 * what the command's processes read, ssh excepted; a driver may replace
 * so->progress afterwards with a better measure) and whole-run limit (the rest of max_runtime, or
 * an earlier timeout_sec already set) for a command of job.
 */
void watchdog_apply(const struct job *job, struct spawn_opts *so);

#endif
