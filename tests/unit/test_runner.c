/*
 * The parallel runner: every job runs exactly once, never more than
 * max_parallel at once, never more than its server's max_per_server on
 * one server, and config order decides who starts first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "runner.h"
#include "util/buf.h"
#include "util/xmalloc.h"

struct probe {
	pthread_mutex_t lock;
	int running, max_running;
	int on_server[8], max_on_server[8];
	int runs[64];
	int order[64], norder;
};

/* Servers are named "hN": N is the index into on_server. */
static int
server_index(const struct job *job)
{
	return job->server_name[1] - '0';
}

static int
fake_job(void *ctx, struct catalog *cat, const struct job *job, struct err *err)
{
	struct probe *p = ctx;
	int s = server_index(job), idx = (int)strtol(job->name + 1, NULL, 10);

	(void)cat;
	(void)err;
	pthread_mutex_lock(&p->lock);
	p->runs[idx]++;
	p->order[p->norder++] = idx;
	p->running++;
	if (p->running > p->max_running)
		p->max_running = p->running;
	p->on_server[s]++;
	if (p->on_server[s] > p->max_on_server[s])
		p->max_on_server[s] = p->on_server[s];
	pthread_mutex_unlock(&p->lock);
	usleep(30 * 1000);
	pthread_mutex_lock(&p->lock);
	p->running--;
	p->on_server[s]--;
	pthread_mutex_unlock(&p->lock);
	return idx % 5 == 4 ? -1 : 0; /* some jobs fail */
}

/* n null jobs named j0.., on servers h0..h(nservers-1) round robin. */
static struct config *
make_cfg(int n, int nservers, const char *extra_h1)
{
	struct config *cfg = NULL;
	struct err err;
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "[global]\nbackup_base_dir = /nonexistent/tb\nbackup_retention_time = 1\n"
	             "maximum_backup_age = 1\n");
	for (int i = 0; i < n; i++) {
		buf_printf(&b, "[j%d]\ntype = null\nserver_name = h%d\n", i, i % nservers);
		if (i % nservers == 1 && extra_h1 != NULL)
			buf_printf(&b, "%s\n", extra_h1);
	}
	err_clear(&err);
	if (config_parse_buffer("t.ini", b.data, b.len, NULL, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	buf_free(&b);
	return cfg;
}

static void
run(struct config *cfg, int max_parallel, struct probe *p, int *results)
{
	const struct job **jobs = NULL;
	struct runner_opts o = { .max_parallel = max_parallel };
	struct err err;
	size_t n;

	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	assert_int_equal(config_select(cfg, NULL, &jobs, &n, &err), 0);
	runner_run(jobs, n, &o, fake_job, p, results);
	free(jobs);
	pthread_mutex_destroy(&p->lock);
}

static void
test_limits(void **state)
{
	struct config *cfg = make_cfg(12, 3, NULL);
	struct probe p;
	int results[12];

	(void)state;
	run(cfg, 3, &p, results);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(p.runs[i], 1);
		assert_int_equal(results[i], i % 5 == 4 ? -1 : 0);
	}
	assert_true(p.max_running <= 3);
	assert_true(p.max_running >= 2); /* three servers free: it did run in parallel */
	for (int s = 0; s < 3; s++)
		assert_int_equal(p.max_on_server[s], 1);
	config_free(cfg);
}

static void
test_per_server_limit_raised(void **state)
{
	/* h1 allows two at once; h0 stays at one. */
	struct config *cfg = make_cfg(8, 2, "max_per_server = 2");
	struct probe p;
	int results[8];

	(void)state;
	run(cfg, 4, &p, results);
	assert_int_equal(p.max_on_server[0], 1);
	assert_true(p.max_on_server[1] <= 2);
	assert_true(p.max_running <= 3);
	for (int i = 0; i < 8; i++)
		assert_int_equal(p.runs[i], 1);
	config_free(cfg);
}

static void
test_sequential_keeps_order(void **state)
{
	struct config *cfg = make_cfg(6, 3, NULL);
	struct probe p;
	int results[6];

	(void)state;
	run(cfg, 1, &p, results);
	assert_int_equal(p.max_running, 1);
	for (int i = 0; i < 6; i++)
		assert_int_equal(p.order[i], i);
	config_free(cfg);
}

static void
test_one_server_is_serialised(void **state)
{
	/* Every job on one server: -j 4 still runs them one at a time, in order. */
	struct config *cfg = make_cfg(5, 1, NULL);
	struct probe p;
	int results[5];

	(void)state;
	run(cfg, 4, &p, results);
	assert_int_equal(p.max_running, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(p.order[i], i);
	config_free(cfg);
}

static void
test_server_limit_is_the_smallest(void **state)
{
	struct config *cfg = make_cfg(4, 2, "max_per_server = 3");
	const struct job **jobs = NULL;
	struct err err;
	size_t n;

	(void)state;
	assert_int_equal(config_select(cfg, NULL, &jobs, &n, &err), 0);
	assert_int_equal(runner_server_limit(jobs, n, 0), 1);
	assert_int_equal(runner_server_limit(jobs, n, 1), 3);
	free(jobs);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_per_server_limit_raised),
		cmocka_unit_test(test_sequential_keeps_order),
		cmocka_unit_test(test_one_server_is_serialised),
		cmocka_unit_test(test_server_limit_is_the_smallest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
