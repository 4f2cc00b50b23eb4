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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobconf.h"
#include "progress.h"
#include "spawn.h"
#include "util/procgrp.h"

/* procgrp_each() callback: adds the process's rchar to *ctx, but ssh's. */
static int
add_rchar(pid_t pid, char state, const char *comm, void *ctx)
{
	char path[64], buf[256];
	long long v = 0;
	FILE *f;

	(void)state;
	if (strcmp(comm, "ssh") == 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/io", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(buf, sizeof buf, f) != NULL)
		if (sscanf(buf, "rchar: %lld", &v) == 1)
			break;
	fclose(f);
	*(long long *)ctx += v;
	return 0;
}

/* The bytes read by the processes of group pgid (rchar), ssh's left out. */
static long long
group_progress(void *ctx, pid_t pgid)
{
	long long sum = 0;

	(void)ctx;
	procgrp_each(pgid, add_rchar, &sum);
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
