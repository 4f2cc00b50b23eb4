/*
 * The job watchdog (see watchdog.h). Progress is measured as the used
 * blocks and inodes of the filesystem holding the job folder: cheap
 * (statvfs) whatever the size of the tree, and it moves as soon as the
 * transfer writes anything. Another job writing to the same filesystem can
 * only make a stalled job look alive longer, never kill a live one; rsync's
 * own --timeout catches a stalled peer in that case.
 */
#include "watchdog.h"

#include <sys/statvfs.h>
#include <time.h>

#include "config.h"
#include "spawn.h"

static __thread const struct job *wd_job;
static __thread time_t wd_start;

void
watchdog_job_begin(const struct job *job)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	wd_job = job;
	wd_start = ts.tv_sec;
}

static long long
fs_progress(void *ctx)
{
	const struct job *job = ctx;
	struct statvfs sv;

	if (statvfs(job->dir, &sv) == -1)
		return 0;
	return (long long)(sv.f_blocks - sv.f_bfree) * 1000003LL +
	       (long long)(sv.f_files - sv.f_ffree);
}

void
watchdog_apply(const struct job *job, struct spawn_opts *so)
{
	long stall = job_get_long(job, "stall_timeout", 1800);
	long max_runtime = job_get_long(job, "max_runtime", 0);
	struct timespec ts;

	if (stall > 0) {
		so->idle_timeout_sec = (int)stall;
		so->progress = fs_progress;
		so->progress_ctx = (void *)job;
	}
	if (max_runtime > 0) {
		long left = max_runtime;

		if (wd_job == job) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			left = max_runtime - (long)(ts.tv_sec - wd_start);
		}
		if (left < 1)
			left = 1;
		if (so->timeout_sec == 0 || so->timeout_sec > left)
			so->timeout_sec = (int)left;
	}
}
