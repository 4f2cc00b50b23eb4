/*
 * The scheduler thread with an injected wall clock, enqueueing into a
 * real SQLite queue: nothing runs before its slot and nothing twice,
 * due backups and cleanups become one queued run each (requested_by
 * "scheduler"), the catch-up rule after downtime (one run for many
 * missed slots, none for a slot older than catch_up), the state file, a
 * config edit picked up, and an unavailable queue retried at the next
 * wake without spinning.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guiconf.h"
#include "fixture.h"
#include "queue.h"
#include "scheduler.h"
#include "util/err.h"

static char tmpdir[TB_TMPDIR_MAX];
static char cfgpath[512], qdir[512], statepath[600];
static time_t fake_now;
static time_t slept_until;
static unsigned long nsleeps;
static struct guiconf *gc;

static time_t
fake_clock(void *arg)
{
	(void)arg;
	return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static void
on_sleep(void *arg, time_t until)
{
	(void)arg;
	__atomic_store_n(&slept_until, until, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&nsleeps, 1, __ATOMIC_SEQ_CST);
}

static void
set_now(time_t t)
{
	__atomic_store_n(&fake_now, t, __ATOMIC_SEQ_CST);
}

/* Local time of "YYYY-MM-DD HH:MM[:SS]". */
static time_t
lt(const char *s)
{
	struct tm t;
	int sec = 0;

	memset(&t, 0, sizeof t);
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min,
	           &sec) < 5)
		fail_msg("bad time %s", s);
	t.tm_year -= 1900;
	t.tm_mon -= 1;
	t.tm_sec = sec;
	t.tm_isdst = -1;
	return mktime(&t);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A config with backup_base_dir = tmpdir and the given job sections. */
static void
write_config(const char *jobs)
{
	char text[4096];

	snprintf(text, sizeof text,
	         "[global]\nbackup_base_dir = %s\nbackup_retention_time = 30\n"
	         "maximum_backup_age = 30\n\n%s",
	         tmpdir, jobs);
	write_file(cfgpath, text);
}

static int
setup(void **state)
{
	struct err e;

	(void)state;
	if (tb_tmpdir_make(tmpdir, sizeof tmpdir, "scheduler") == -1)
		return -1;
	snprintf(cfgpath, sizeof cfgpath, "%s/tisbackup.ini", tmpdir);
	snprintf(qdir, sizeof qdir, "%s/log", tmpdir);
	snprintf(statepath, sizeof statepath, "%s/tisbackup-scheduler.state", qdir);
	mkdir(qdir, 0750);
	err_clear(&e);
	if (guiconf_load("/nonexistent/tisbackup_gui.ini", 1, &gc, &e) == -1)
		return -1;
	nsleeps = 0;
	slept_until = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	guiconf_free(gc);
	gc = NULL;
	return tb_tmpdir_remove(tmpdir);
}

static struct scheduler *
start(int catch_up)
{
	const char *configs[1] = { cfgpath };
	struct scheduler_conf conf = {
		.gc = gc,
		.queue_dir = qdir,
		.configs = configs,
		.nconfigs = 1,
		.catch_up = catch_up,
		.clock = fake_clock,
		.on_sleep = on_sleep,
		.hook_arg = NULL,
	};
	struct scheduler *s = NULL;
	struct err e;

	err_clear(&e);
	if (scheduler_start(&conf, &s, &e) == -1)
		fail_msg("scheduler_start: %s", e.msg);
	return s;
}

/* Wait (5 s at most) until the thread has done more than n passes. */
static void
wait_passes(struct scheduler *s, unsigned long n)
{
	struct timespec ms = { 0, 1000000 };
	unsigned long p = 0;

	for (int i = 0; i < 5000; i++) {
		scheduler_stats(s, &p, NULL);
		if (p > n)
			return;
		nanosleep(&ms, NULL);
	}
	fail_msg("the scheduler did no pass within 5 s (%lu passes)", p);
}

/* Set the clock to t and make sure a whole pass ran with it. */
static void
advance(struct scheduler *s, time_t t)
{
	unsigned long p;

	set_now(t);
	for (int k = 0; k < 2; k++) {
		scheduler_stats(s, &p, NULL);
		scheduler_poke(s);
		wait_passes(s, p);
	}
}

/* The runs in the queue (all of them, newest first). */
static size_t
runs_of(struct queue_run **runs)
{
	struct queue *q = NULL;
	struct err e;
	size_t n = 0;

	err_clear(&e);
	if (queue_open(gc, qdir, &q, &e) == -1)
		fail_msg("queue_open: %s", e.msg);
	if (queue_list(q, 0, 1000, runs, &n, &e) == -1)
		fail_msg("queue_list: %s", e.msg);
	queue_close(q);
	return n;
}

/* How many runs of action for section; checks what every scheduled run carries. */
static int
count_runs(const char *action, const char *section)
{
	struct queue_run *runs = NULL;
	size_t n = runs_of(&runs);
	int c = 0;

	for (size_t i = 0; i < n; i++) {
		assert_string_equal(runs[i].requested_by, "scheduler");
		assert_string_equal(runs[i].config, cfgpath);
		assert_int_equal(runs[i].nsections, 1);
		if (strcmp(runs[i].action, action) == 0 &&
		    strcmp(runs[i].sections[0], section) == 0)
			c++;
	}
	queue_runs_free(runs, n);
	return c;
}

static size_t
count_all(void)
{
	struct queue_run *runs = NULL;
	size_t n = runs_of(&runs);

	queue_runs_free(runs, n);
	return n;
}

/* Cancel every queued run (a worker would have taken them). */
static void
drain(void)
{
	struct queue_run *runs = NULL;
	struct queue *q = NULL;
	size_t n = runs_of(&runs);
	struct err e;

	err_clear(&e);
	assert_int_equal(queue_open(gc, qdir, &q, &e), 0);
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		enum queue_state st;

		assert_int_equal(queue_cancel(q, runs[i].id, NULL, &found, &st, &e), 0);
	}
	queue_close(q);
	queue_runs_free(runs, n);
}

/* The state file's slot for "action job", or 0. */
static long long
state_slot(const char *action, const char *job)
{
	FILE *f = fopen(statepath, "r");
	char line[2048], want[1024];
	long long v = 0;

	if (f == NULL)
		return 0;
	snprintf(want, sizeof want, " %s %s %s\n", action, job, cfgpath);
	while (fgets(line, sizeof line, f) != NULL) {
		char *sp = strchr(line, ' ');

		if (sp != NULL && strcmp(sp, want) == 0)
			v = strtoll(line, NULL, 10);
	}
	fclose(f);
	return v;
}

static void
test_runs_when_due(void **state)
{
	struct scheduler *s;
	unsigned long passes0, passes1, enq;

	(void)state;
	write_config("[a]\ntype = null\nserver_name = a\nschedule = daily 22:30\n"
	             "cleanup_schedule = 30 12 * * *\n\n"
	             "[b]\ntype = null\nserver_name = b\nschedule = */15 * * * *\n\n"
	             "[c]\ntype = null\nserver_name = c\n");
	set_now(lt("2026-01-10 10:07:10"));
	s = start(43200);
	wait_passes(s, 0);
	/* first start: slots before now are not caught up; nothing is due */
	assert_int_equal(count_all(), 0);
	/* it sleeps until b's next slot, not less */
	assert_int_equal(__atomic_load_n(&slept_until, __ATOMIC_SEQ_CST),
	                 lt("2026-01-10 10:08:10"));
	assert_int_equal(state_slot("backup", "a"), lt("2026-01-10 10:07:10"));
	assert_int_equal(state_slot("cleanup", "a"), lt("2026-01-10 10:07:10"));
	assert_int_equal(state_slot("backup", "c"), 0);

	advance(s, lt("2026-01-10 10:14:59"));
	assert_int_equal(count_all(), 0);
	assert_int_equal(__atomic_load_n(&slept_until, __ATOMIC_SEQ_CST),
	                 lt("2026-01-10 10:15:00"));
	advance(s, lt("2026-01-10 10:15:00"));
	assert_int_equal(count_runs("backup", "b"), 1);
	assert_int_equal(count_all(), 1);
	assert_int_equal(state_slot("backup", "b"), lt("2026-01-10 10:15:00"));
	/* the next wake is b's next slot */
	assert_int_equal(__atomic_load_n(&slept_until, __ATOMIC_SEQ_CST),
	                 lt("2026-01-10 10:16:00"));
	/* later in the same slot: nothing again (not even a request the queue dedupes) */
	advance(s, lt("2026-01-10 10:15:40"));
	assert_int_equal(count_all(), 1);
	scheduler_stats(s, NULL, &enq);
	assert_int_equal(enq, 1);

	/* 12:30: a's cleanup; b is still queued from 10:15, so the queue keeps one */
	advance(s, lt("2026-01-10 12:30:02"));
	assert_int_equal(count_runs("cleanup", "a"), 1);
	assert_int_equal(count_runs("backup", "b"), 1);
	assert_int_equal(count_all(), 2);
	drain();
	advance(s, lt("2026-01-10 22:30:00"));
	assert_int_equal(count_runs("backup", "a"), 1);
	assert_int_equal(count_runs("backup", "b"), 2);
	assert_int_equal(count_runs("backup", "c"), 0);

	/* a stopped clock: waits are timed, not a loop */
	scheduler_stats(s, &passes0, NULL);
	usleep(300000);
	scheduler_stats(s, &passes1, NULL);
	assert_true(passes1 - passes0 <= 1);
	scheduler_stop(s);
}

static void
test_catch_up(void **state)
{
	struct scheduler *s;
	char st[4096];

	(void)state;
	write_config("[a]\ntype = null\nserver_name = a\nschedule = daily 22:30\n\n"
	             "[noon]\ntype = null\nserver_name = noon\nschedule = daily 12:00\n\n"
	             "[b]\ntype = null\nserver_name = b\ncleanup_schedule = 0 * * * *\n\n"
	             "[new]\ntype = null\nserver_name = new\nschedule = 0 6 * * *\n");
	/* serve ran last on 2026-01-10 09:xx, then was down until 2026-01-11 08:00 */
	snprintf(st, sizeof st,
	         "# state\n%lld backup a %s\n%lld backup noon %s\n%lld cleanup b %s\n"
	         "garbage line\n%lld backup gone %s\n",
	         (long long)lt("2026-01-09 22:30"), cfgpath, (long long)lt("2026-01-09 12:00"),
	         cfgpath, (long long)lt("2026-01-10 09:00"), cfgpath,
	         (long long)lt("2026-01-09 22:30"), cfgpath);
	write_file(statepath, st);
	set_now(lt("2026-01-11 08:00:03"));
	s = start(43200);
	wait_passes(s, 0);
	/* a: the 22:30 slot, 9.5 h ago, runs once */
	assert_int_equal(count_runs("backup", "a"), 1);
	assert_int_equal(state_slot("backup", "a"), lt("2026-01-10 22:30"));
	/* b: 23 hourly slots missed, one cleanup, recorded at the latest slot */
	assert_int_equal(count_runs("cleanup", "b"), 1);
	assert_int_equal(state_slot("cleanup", "b"), lt("2026-01-11 08:00"));
	/* noon: missed 20 h ago, more than catch_up: skipped, counted from now */
	assert_int_equal(count_runs("backup", "noon"), 0);
	assert_int_equal(state_slot("backup", "noon"), lt("2026-01-11 08:00:03"));
	/* new: never seen, so its 06:00 slot is not caught up */
	assert_int_equal(count_runs("backup", "new"), 0);
	/* a job gone from the config leaves the state */
	assert_int_equal(state_slot("backup", "gone"), 0);
	assert_int_equal(count_all(), 2);
	/* the next wake: at most 60 s away */
	assert_int_equal(__atomic_load_n(&slept_until, __ATOMIC_SEQ_CST),
	                 lt("2026-01-11 08:01:03"));
	advance(s, lt("2026-01-11 12:00:00"));
	assert_int_equal(count_runs("backup", "noon"), 1);
	scheduler_stop(s);

	/* a restart shortly after: nothing again */
	drain();
	set_now(lt("2026-01-11 12:00:30"));
	s = start(43200);
	wait_passes(s, 0);
	assert_int_equal(count_all(), 3); /* the 3 cancelled runs, no new one */
	scheduler_stop(s);
}

static void
test_catch_up_zero(void **state)
{
	struct scheduler *s;
	char st[2048];

	(void)state;
	write_config("[a]\ntype = null\nserver_name = a\nschedule = daily 22:30\n");
	snprintf(st, sizeof st, "%lld backup a %s\n", (long long)lt("2026-01-09 22:30"), cfgpath);
	write_file(statepath, st);
	/* catch_up = 0: a slot 4 minutes late still runs (on time), 6 minutes does not */
	set_now(lt("2026-01-10 22:34:00"));
	s = start(0);
	wait_passes(s, 0);
	assert_int_equal(count_runs("backup", "a"), 1);
	scheduler_stop(s);
	drain();
	set_now(lt("2026-01-11 22:36:00"));
	s = start(0);
	wait_passes(s, 0);
	assert_int_equal(count_runs("backup", "a"), 1);
	assert_int_equal(state_slot("backup", "a"), lt("2026-01-11 22:36:00"));
	scheduler_stop(s);
}

static void
test_config_edit(void **state)
{
	struct scheduler *s;

	(void)state;
	write_config("[a]\ntype = null\nserver_name = a\nschedule = daily 22:30\n");
	set_now(lt("2026-01-10 10:00:00"));
	s = start(43200);
	wait_passes(s, 0);
	/* the schedule moves to 09:00: no catch-up of the new schedule's past slot */
	write_config("[a]\ntype = null\nserver_name = a\nschedule = daily 09:00\n"
	             "cleanup_schedule = daily 10:30\n");
	advance(s, lt("2026-01-10 10:05:00"));
	assert_int_equal(count_all(), 0);
	advance(s, lt("2026-01-10 10:30:00"));
	assert_int_equal(count_runs("cleanup", "a"), 1);
	/*
	 * A broken edit of a job: the job cannot run (issue 17: it loads as
	 * invalid), so the scheduler queues nothing for it.
	 */
	write_config("[a]\ntype = null\nserver_name = a\nschedule = daily 09:61\n");
	advance(s, lt("2026-01-11 09:00:00"));
	assert_int_equal(count_runs("backup", "a"), 0);
	scheduler_stop(s);
}

static void
test_queue_unavailable(void **state)
{
	struct scheduler *s;
	unsigned long p0, p1, n0;

	(void)state;
	/* the queue folder is a plain file: the queue cannot open */
	rmdir(qdir);
	write_file(qdir, "not a folder\n");
	write_config("[a]\ntype = null\nserver_name = a\nschedule = */5 * * * *\n");
	set_now(lt("2026-01-10 10:04:30"));
	s = start(43200);
	wait_passes(s, 0);
	advance(s, lt("2026-01-10 10:05:00"));
	scheduler_stats(s, &p0, &n0);
	assert_int_equal(n0, 0);
	/* still due, but the retry waits for the safety wake: no spinning */
	assert_int_equal(__atomic_load_n(&slept_until, __ATOMIC_SEQ_CST),
	                 lt("2026-01-10 10:06:00"));
	usleep(300000);
	scheduler_stats(s, &p1, NULL);
	assert_true(p1 - p0 <= 1);
	/* the queue comes back: the run is enqueued at the next wake */
	unlink(qdir);
	mkdir(qdir, 0750);
	advance(s, lt("2026-01-10 10:05:30"));
	assert_int_equal(count_runs("backup", "a"), 1);
	scheduler_stop(s);
}

static time_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm t;

	memset(&t, 0, sizeof t);
	t.tm_year = y - 1900;
	t.tm_mon = mo - 1;
	t.tm_mday = d;
	t.tm_hour = h;
	t.tm_min = mi;
	return timegm(&t);
}

/* The thread across DST changes (TZ=Europe/Paris): one run per day. */
static void
test_dst(void **state)
{
	struct scheduler *s;
	unsigned long enq;

	(void)state;
	write_config("[d]\ntype = null\nserver_name = d\nschedule = daily 02:30\n");
	/* spring forward: 02:30 does not exist on 2026-03-29; it runs at 03:00 CEST */
	set_now(lt("2026-03-28 12:00"));
	s = start(43200);
	wait_passes(s, 0);
	advance(s, utc(2026, 3, 29, 0, 59)); /* 01:59 CET */
	assert_int_equal(count_all(), 0);
	advance(s, utc(2026, 3, 29, 1, 0)); /* 03:00 CEST */
	assert_int_equal(count_runs("backup", "d"), 1);
	drain();
	advance(s, utc(2026, 3, 29, 1, 45));
	assert_int_equal(count_all(), 1);
	advance(s, utc(2026, 3, 30, 0, 30)); /* 02:30 CEST the next day */
	assert_int_equal(count_runs("backup", "d"), 2);
	drain();
	/* seven months later (the 2026-10-24 02:30 slot is caught up once), then fall back:
	 * 02:30 comes twice on 2026-10-25 and runs at the first only */
	advance(s, lt("2026-10-24 12:00"));
	assert_int_equal(count_runs("backup", "d"), 3);
	drain();
	advance(s, utc(2026, 10, 25, 0, 29));
	assert_int_equal(count_runs("backup", "d"), 3);
	advance(s, utc(2026, 10, 25, 0, 30)); /* 02:30 CEST */
	assert_int_equal(count_runs("backup", "d"), 4);
	drain();
	advance(s, utc(2026, 10, 25, 1, 30)); /* 02:30 CET, the second time */
	assert_int_equal(count_runs("backup", "d"), 4);
	scheduler_stats(s, NULL, &enq);
	assert_int_equal(enq, 4);
	advance(s, utc(2026, 10, 26, 1, 29));
	assert_int_equal(count_runs("backup", "d"), 4);
	advance(s, utc(2026, 10, 26, 1, 30)); /* 02:30 CET the next day */
	assert_int_equal(count_runs("backup", "d"), 5);
	scheduler_stop(s);
}

static void
test_guiconf_keys(void **state)
{
	char path[600], sample[1024];
	struct guiconf *g = NULL;
	const char *root = getenv("TB_SOURCE_ROOT");
	struct err e;

	(void)state;
	snprintf(path, sizeof path, "%s/gui.ini", tmpdir);
	write_file(path, "[scheduler]\nenabled = no\ncatch_up = 3600\n");
	err_clear(&e);
	assert_int_equal(guiconf_load(path, 0, &g, &e), 0);
	assert_int_equal(g->scheduler_enabled, 0);
	assert_int_equal(g->scheduler_catch_up, 3600);
	guiconf_free(g);
	assert_int_equal(gc->scheduler_enabled, 1);
	assert_int_equal(gc->scheduler_catch_up, 43200);
	write_file(path, "[scheduler]\n\ncatch_up = 12h\n");
	err_clear(&e);
	assert_int_equal(guiconf_load(path, 0, &g, &e), -1);
	assert_non_null(strstr(e.msg, "gui.ini:3: [scheduler] catch_up: expected a number from 0 "
	                              "to 604800, got '12h'"));
	/* the sample loads */
	snprintf(sample, sizeof sample, "%s/samples/tisbackup_gui.ini", root != NULL ? root : ".");
	err_clear(&e);
	if (guiconf_load(sample, 0, &g, &e) == -1)
		fail_msg("%s: %s", sample, e.msg);
	assert_int_equal(g->scheduler_catch_up, 43200);
	guiconf_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_runs_when_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guiconf_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
