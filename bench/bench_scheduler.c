/*
 * Idle cost of the scheduler thread of `serve`: JOBS jobs (default 200)
 * with a daily backup and a daily cleanup schedule, none due during the
 * measurement, the real clock, a real SQLite queue. Prints the CPU time
 * (user + system, getrusage) the process used over SECONDS (default 30)
 * once the first pass is done, as a share of one core, and the number of
 * wakes; then the cost of one pass over every job (forced wakes).
 *
 * Goal: no busy polling, < 0.1 % of a core while idle.
 *
 * Usage: ninja -C build bench_scheduler && build/bench_scheduler [JOBS] [SECONDS]
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guiconf.h"
#include "scheduler.h"
#include "util/err.h"

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Wait until the thread has done more than n passes. */
static void
wait_passes(struct scheduler *s, unsigned long n)
{
	unsigned long p = 0;

	do {
		struct timespec ms = { 0, 100000 };

		nanosleep(&ms, NULL);
		scheduler_stats(s, &p, NULL);
	} while (p <= n);
}

int
main(int argc, char **argv)
{
	int njobs = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 200;
	int secs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 30;
	char dir[] = "/tmp/tb_bench_scheduler.XXXXXX", cfg[256], qdir[256];
	const char *configs[1] = { cfg };
	struct scheduler_conf conf;
	struct scheduler *s = NULL;
	struct guiconf *gc = NULL;
	unsigned long p0, p1, enq;
	double c0, c1, w0, w1;
	struct err e;
	time_t now = time(NULL);
	FILE *f;

	if (njobs < 1 || secs < 1 || mkdtemp(dir) == NULL)
		return 2;
	snprintf(cfg, sizeof cfg, "%s/tisbackup.ini", dir);
	snprintf(qdir, sizeof qdir, "%s/log", dir);
	if ((f = fopen(cfg, "w")) == NULL)
		return 2;
	fprintf(f,
	        "[global]\nbackup_base_dir = %s\nbackup_retention_time = 30\n"
	        "maximum_backup_age = 30\n\n",
	        dir);
	for (int j = 0; j < njobs; j++) {
		/* daily, from 2 h ahead, one minute apart: nothing due while measuring */
		time_t t = now + 7200 + 60 * j, c = t + 43200;
		struct tm tb, tc;

		localtime_r(&t, &tb);
		localtime_r(&c, &tc);
		fprintf(
		    f,
		    "[job%03d]\ntype = null\nserver_name = srv%03d\nschedule = daily %02d:%02d\n"
		    "cleanup_schedule = %d %d * * *\n\n",
		    j, j, tb.tm_hour, tb.tm_min, tc.tm_min, tc.tm_hour);
	}
	fclose(f);
	err_clear(&e);
	if (guiconf_load("/nonexistent/tisbackup_gui.ini", 1, &gc, &e) == -1)
		return 2;
	memset(&conf, 0, sizeof conf);
	conf.gc = gc;
	conf.queue_dir = qdir;
	conf.configs = configs;
	conf.nconfigs = 1;
	conf.catch_up = gc->scheduler_catch_up;

	c0 = cpu_seconds();
	w0 = wall_seconds();
	if (scheduler_start(&conf, &s, &e) == -1) {
		fprintf(stderr, "bench_scheduler: %s\n", e.msg);
		return 1;
	}
	wait_passes(s, 0);
	c1 = cpu_seconds();
	w1 = wall_seconds();
	printf("jobs: %d (a daily backup and a daily cleanup each, %d schedules)\n", njobs,
	       2 * njobs);
	printf("first pass (reads the config, writes the state file): %.1f ms CPU, %.1f ms wall\n",
	       (c1 - c0) * 1e3, (w1 - w0) * 1e3);

	scheduler_stats(s, &p0, NULL);
	c0 = cpu_seconds();
	w0 = wall_seconds();
	sleep((unsigned)secs);
	c1 = cpu_seconds();
	w1 = wall_seconds();
	scheduler_stats(s, &p1, &enq);
	printf("idle: %.3f ms CPU over %.1f s = %.5f %% of a core; %lu wakes; %lu runs enqueued\n",
	       (c1 - c0) * 1e3, w1 - w0, 100.0 * (c1 - c0) / (w1 - w0), p1 - p0, enq);

	/* Cost of one pass: force wakes. */
	c0 = cpu_seconds();
	for (int i = 0; i < 200; i++) {
		unsigned long p;

		scheduler_stats(s, &p, NULL);
		scheduler_poke(s);
		wait_passes(s, p);
	}
	c1 = cpu_seconds();
	printf("one pass over %d schedules: %.1f us CPU (mean of 200 forced wakes)\n", 2 * njobs,
	       (c1 - c0) * 1e6 / 200);
	scheduler_stop(s);
	guiconf_free(gc);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
