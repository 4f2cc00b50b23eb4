/*
 * The run's progress object (progress.c) and its use by spawn.c: verdicts
 * at given instants (no clock involved), the interrupt winning over the
 * deadline over the stall, feeding resetting the stall clock; then real
 * children watched by one object: its interrupt, its deadline and its
 * stall limit end them, their output feeds it, and two commands share one
 * deadline counted from the run's start. Time limits are upper bounds only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "progress.h"
#include "spawn.h"
#include "watchdog.h"

#define SEC INT64_C(1000000000)

static void
test_verdicts(void **state)
{
	struct progress p;
	char words[128];
	int64_t t0;

	(void)state;
	progress_init(&p, 30, 100);
	t0 = p.start_ns;
	assert_int_equal(progress_check(&p, t0), PROGRESS_OK);
	assert_int_equal(progress_check(&p, t0 + 29 * SEC), PROGRESS_OK);
	assert_int_equal(progress_check(&p, t0 + 30 * SEC), PROGRESS_STALLED);
	assert_int_equal(progress_check(&p, t0 + 100 * SEC), PROGRESS_DEADLINE);
	progress_interrupt(&p);
	assert_int_equal(progress_check(&p, t0 + 100 * SEC), PROGRESS_INTERRUPTED);
	assert_int_equal(progress_check(&p, t0), PROGRESS_INTERRUPTED);

	progress_describe(&p, PROGRESS_STALLED, words, sizeof words);
	assert_string_equal(words, "stalled: nothing moved for 30 s");
	progress_describe(&p, PROGRESS_DEADLINE, words, sizeof words);
	assert_string_equal(words, "max_runtime (100 s) exceeded");
	progress_describe(&p, PROGRESS_INTERRUPTED, words, sizeof words);
	assert_string_equal(words, "interrupted");
}

static void
test_feed_and_limits(void **state)
{
	struct progress p;
	int64_t fed;

	(void)state;
	progress_init(&p, 0, 0);
	assert_int_equal(progress_check(&p, p.start_ns + 1000000 * SEC), PROGRESS_OK);
	assert_int_equal(progress_seconds_left(&p), 0);

	progress_init(&p, 10, 3600);
	assert_true(progress_seconds_left(&p) > 3000 && progress_seconds_left(&p) <= 3600);
	progress_feed(&p, 1000);
	progress_feed(&p, 24);
	progress_feed(&p, 0);
	assert_int_equal(progress_bytes(&p), 1024);
	fed = p.last_ns;
	assert_true(fed >= p.start_ns);
	/* The stall clock runs from the last feed, not from the start. */
	assert_int_equal(progress_check(&p, fed + 9 * SEC), PROGRESS_OK);
	assert_int_equal(progress_check(&p, fed + 10 * SEC), PROGRESS_STALLED);

	/* A deadline already passed still leaves 1 s, never 0 ("none"). */
	progress_init(&p, 0, 1);
	p.deadline_ns = p.start_ns - SEC;
	assert_int_equal(progress_seconds_left(&p), 1);
}

/* Run argv watched by p; returns the result. */
static struct spawn_result
run_watched(struct progress *p, const char *const *argv)
{
	struct spawn_opts so;
	struct spawn_result res;
	struct err err;

	spawn_opts_init(&so);
	so.argv = argv;
	so.watch = p;
	so.kill_grace_sec = 1;
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	return res;
}

static void
test_spawn_interrupt(void **state)
{
	static const char *const argv[] = { "sleep", "60", NULL };
	struct progress p;
	struct spawn_result res;
	int64_t t0 = progress_now();

	(void)state;
	progress_init(&p, 0, 0);
	progress_interrupt(&p);
	res = run_watched(&p, argv);
	assert_true(res.stopped);
	assert_false(res.exited);
	assert_true(progress_now() - t0 < 30 * SEC);
}

static void
test_spawn_deadline_shared(void **state)
{
	static const char *const quick[] = { "true", NULL };
	static const char *const argv[] = { "sleep", "60", NULL };
	struct progress p;
	struct spawn_result res;

	(void)state;
	progress_init(&p, 0, 2);
	res = run_watched(&p, quick);
	assert_true(res.exited);
	assert_int_equal(res.code, 0);
	/* The second command gets what is left of the run's 2 s, not 2 s more. */
	res = run_watched(&p, argv);
	assert_true(res.timed_out);
	assert_false(res.stalled);
	assert_true(progress_now() - p.start_ns < 30 * SEC);
	assert_int_equal(progress_check(&p, progress_now()), PROGRESS_DEADLINE);
}

static void
test_spawn_stall(void **state)
{
	static const char *const argv[] = { "sleep", "60", NULL };
	struct progress p;
	struct spawn_result res;

	(void)state;
	progress_init(&p, 1, 0);
	res = run_watched(&p, argv);
	assert_true(res.timed_out);
	assert_true(res.stalled);
}

static void
test_spawn_output_feeds(void **state)
{
	static const char *const argv[] = { "printf", "a\\nb\\n", NULL };
	struct progress p;
	struct spawn_result res;
	int64_t before;

	(void)state;
	progress_init(&p, 60, 0);
	before = p.last_ns;
	res = run_watched(&p, argv);
	assert_true(res.exited);
	assert_int_equal(res.code, 0);
	assert_true(p.last_ns > before);
	assert_int_equal(progress_check(&p, progress_now()), PROGRESS_OK);
}

static struct config *
make_cfg(void)
{
	static const char ini[] =
	    "[global]\nbackup_base_dir = /nonexistent/tb\nbackup_retention_time = 1\n"
	    "maximum_backup_age = 1\n"
	    "[limited]\ntype = null\nserver_name = h\n"
	    "stall_timeout = 7\nmax_runtime = 100\n"
	    "[plain]\ntype = null\nserver_name = h\n";
	struct config *cfg = NULL;
	struct err err;

	if (config_parse_buffer("t.ini", ini, sizeof ini - 1, NULL, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	return cfg;
}

/*
 * The watchdog: limits from the job's keys; the run's object handed to
 * each command so max_runtime counts from the run's start; an earlier
 * timeout kept; defaults (stall 1800 s, no deadline).
 */
static void
test_watchdog(void **state)
{
	struct config *cfg = make_cfg();
	const struct job **jobs = NULL, *limited, *plain;
	struct spawn_opts so;
	struct progress *p, run, own;
	struct err err;
	size_t n;

	(void)state;
	assert_int_equal(config_select(cfg, NULL, &jobs, &n, &err), 0);
	assert_int_equal(n, 2);
	limited = strcmp(jobs[0]->name, "limited") == 0 ? jobs[0] : jobs[1];
	plain = limited == jobs[0] ? jobs[1] : jobs[0];

	/* The limits from the job's keys, counted from watchdog_arm(). */
	watchdog_arm(&run, limited);
	p = &run;
	spawn_opts_init(&so);
	watchdog_spawn(p, &so);
	assert_int_equal(so.idle_timeout_sec, 7);
	assert_int_equal(so.timeout_sec, 100);
	assert_ptr_equal(so.watch, p);
	assert_non_null(so.progress);
	assert_true(p->deadline_ns - p->start_ns == 100 * SEC);
	p->deadline_ns -= 60 * SEC; /* as if the run had been going for 60 s */
	spawn_opts_init(&so);
	watchdog_spawn(p, &so);
	assert_ptr_equal(so.watch, p);
	assert_true(so.timeout_sec >= 1 && so.timeout_sec <= 40);
	spawn_opts_init(&so);
	so.timeout_sec = 5;
	watchdog_spawn(p, &so);
	assert_int_equal(so.timeout_sec, 5);
	/* No run: nothing is watched. */
	spawn_opts_init(&so);
	watchdog_spawn(NULL, &so);
	assert_null(so.watch);
	assert_int_equal(so.timeout_sec, 0);

	watchdog_arm(&own, plain);
	assert_true(own.stall_ns == 1800 * SEC);
	assert_true(own.deadline_ns == 0);
	spawn_opts_init(&so);
	watchdog_spawn(&own, &so);
	assert_int_equal(so.idle_timeout_sec, 1800);
	assert_int_equal(so.timeout_sec, 0);
	assert_ptr_equal(so.watch, &own);
	free(jobs);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_feed_and_limits),
		cmocka_unit_test(test_spawn_interrupt),
		cmocka_unit_test(test_spawn_deadline_shared),
		cmocka_unit_test(test_spawn_stall),
		cmocka_unit_test(test_spawn_output_feeds),
		cmocka_unit_test(test_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
