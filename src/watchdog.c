/*
 * The job watchdog (see watchdog.h). Progress is what the job's own
 * processes read: the sum of rchar (/proc/PID/io) over the command's
 * process group, ssh excepted. rsync reads the data arriving from the
 * server and the files it compares, so the sum moves while the transfer
 * lives and stops when the peer stalls; ssh is left out because its
 * keep-alives move it forever. Per job, so jobs running beside it (or
 * anything else writing to the same disk) cannot keep a stalled one alive.
 * A command that is ssh itself (preexec) is judged by its output alone.
 * The limits themselves are the run's progress object's (progress.c).
 */
#include "watchdog.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobconf.h"
#include "progress.h"
#include "spawn.h"

/*
 * rchar of process n if it belongs to process group pgid and is not ssh,
 * else 0. Processes that vanish meanwhile count 0.
 */
static long long
proc_rchar(const char *n, pid_t pgid)
{
	char path[64], buf[512], *p;
	long long v = 0;
	FILE *f;
	long grp;

	snprintf(path, sizeof path, "/proc/%s/stat", n);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	/* "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	if (sscanf(p + 1, " %*c %*d %ld", &grp) != 1 || grp != (long)pgid)
		return 0;
	if (strncmp(strchr(buf, '(') + 1, "ssh)", 4) == 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%s/io", n);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(buf, sizeof buf, f) != NULL)
		if (sscanf(buf, "rchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static long long
group_progress(void *ctx, pid_t pgid)
{
	struct dirent *de;
	long long sum = 0;
	DIR *d;

	(void)ctx;
	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			sum += proc_rchar(de->d_name, pgid);
	closedir(d);
	return sum;
}

void
watchdog_arm(struct progress *p, const struct job *job)
{
	progress_init(p, job_get_long(job, "stall_timeout", 1800),
	              job_get_long(job, "max_runtime", 0));
}

void
watchdog_spawn(struct progress *p, struct spawn_opts *so)
{
	long left;

	if (p == NULL)
		return;
	so->watch = p;
	if (p->stall_ns > 0) {
		so->idle_timeout_sec = (int)(p->stall_ns / 1000000000);
		so->progress = group_progress;
		so->progress_ctx = NULL;
	}
	if ((left = progress_seconds_left(p)) > 0 &&
	    (so->timeout_sec == 0 || so->timeout_sec > left))
		so->timeout_sec = (int)left;
}
