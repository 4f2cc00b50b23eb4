/*
 * Unit tests for the run queue (queue.h), one suite run against each
 * backend: SQLite in a temporary folder (no argument), Redis with the
 * argument "redis" at TB_REDIS_URL, a server whose database the test may
 * wipe (tests/integration/test_queue.sh starts one on loopback and runs
 * this so). Covers the request checks, dedupe
 * of active runs, FIFO claims, leases that expire (re-queued, then failed
 * after max_attempts), heartbeats and cancels, release, the 1 MiB log
 * tail, listing, two threads sharing a queue, a claim that waits and
 * wakes when a run arrives, and the deletion of runs ended 30 days ago;
 * for SQLite, that the queue's database is its own. Worker pools: claims
 * restricted to a worker's pools, a lost run back to its own pool only,
 * per-pool max_running, worker heartbeats per pool, bad pool names, and
 * (SQLite) a store from before pools upgraded in place.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "guiconf.h"
#include "queue.h"
#include "fixture.h"
#include "util/xmalloc.h"

struct fixture {
	char dir[TB_TMPDIR_MAX];
	struct guiconf gc;
	struct queue *q;
};

static enum guiconf_queue_backend backend;
static const char *redis_url;

/* Empty the Redis database of redis_url (host:port/db only). */
static void
redis_flush(void)
{
	char host[256] = "127.0.0.1";
	int port = 6379, db = 0;
	redisContext *c;
	redisReply *r;

	sscanf(redis_url, "redis://%255[^:/]:%d/%d", host, &port, &db);
	c = redisConnect(host, port);
	assert_non_null(c);
	assert_int_equal(c->err, 0);
	r = redisCommand(c, "SELECT %d", db);
	freeReplyObject(r);
	r = redisCommand(c, "FLUSHDB");
	assert_non_null(r);
	freeReplyObject(r);
	redisFree(c);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err;

	if (tb_tmpdir_make(f->dir, sizeof f->dir, "queue") == -1)
		return -1;
	f->gc.queue_backend = backend;
	f->gc.redis_url = (char *)(redis_url != NULL ? redis_url : "redis://127.0.0.1:1/0");
	f->gc.lease_seconds = 60;
	f->gc.max_attempts = 2;
	f->gc.workers = 2;
	if (backend == GUICONF_QUEUE_REDIS)
		redis_flush();
	if (queue_open(&f->gc, f->dir, &f->q, &err) == -1) {
		fprintf(stderr, "# %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	queue_close(f->q);
	rc = tb_tmpdir_remove(f->dir);
	free(f);
	return rc;
}

static char *
enqueue(struct queue *q, const char *action, const char *const *sections, size_t n, int *existed)
{
	struct queue_request req = { .action = action,
		                     .sections = sections,
		                     .nsections = n,
		                     .config = "/etc/tis/tisbackup-config.ini",
		                     .requested_by = "alice" };
	struct err err;
	char *id = NULL;

	if (queue_enqueue(q, &req, &id, existed, &err) == -1)
		fail_msg("enqueue: %s", err.msg);
	return id;
}

static struct queue_run *
get(struct queue *q, const char *id)
{
	struct queue_run *r = NULL;
	struct err err;

	if (queue_get(q, id, &r, &err) == -1)
		fail_msg("get: %s", err.msg);
	return r;
}

static struct queue_run *
claim(struct queue *q, const char *worker, int lease, int wait_ms)
{
	struct queue_run *r = NULL;
	struct err err;

	if (queue_claim(q, worker, lease, wait_ms, &r, &err) == -1)
		fail_msg("claim: %s", err.msg);
	return r;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_states_names(void **state)
{
	enum queue_state s;

	(void)state;
	assert_string_equal(queue_state_name(QUEUE_CANCELLED), "cancelled");
	assert_int_equal(queue_state_parse("running", &s), 0);
	assert_int_equal(s, QUEUE_RUNNING);
	assert_int_equal(queue_state_parse("bogus", &s), -1);
}

static void
test_bad_requests(void **state)
{
	struct fixture *f = *state;
	const char *ok[] = { "a" }, *comma[] = { "a,b" }, *empty[] = { "" };
	struct queue_request req = {
		.action = "listdrivers", .sections = ok, .nsections = 1, .config = "/c.ini"
	};
	struct err err;
	char *id = NULL;

	assert_int_equal(queue_enqueue(f->q, &req, &id, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "unknown action 'listdrivers'"));
	req.action = "backup";
	req.nsections = 0;
	assert_int_equal(queue_enqueue(f->q, &req, &id, NULL, &err), -1);
	req.nsections = 1;
	req.sections = comma;
	assert_int_equal(queue_enqueue(f->q, &req, &id, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "invalid section name 'a,b'"));
	req.sections = empty;
	assert_int_equal(queue_enqueue(f->q, &req, &id, NULL, &err), -1);
	req.sections = ok;
	req.exportdir = "/mnt/x";
	assert_int_equal(queue_enqueue(f->q, &req, &id, NULL, &err), -1);
	assert_null(id);
}

static void
test_enqueue_get_dedupe(void **state)
{
	struct fixture *f = *state;
	const char *ab[] = { "web1", "db1" }, *ba[] = { "db1", "web1", "db1" }, *a[] = { "web1" };
	struct queue_run *r;
	struct err err;
	char *id1, *id2, *id3, *id4, *id5;
	int existed = -1;

	id1 = enqueue(f->q, "backup", ab, 2, &existed);
	assert_int_equal(existed, 0);
	/* Same set in another order (and a repeat): the active run. */
	id2 = enqueue(f->q, "backup", ba, 3, &existed);
	assert_int_equal(existed, 1);
	assert_string_equal(id1, id2);
	/* Another action, another set: new runs. */
	id3 = enqueue(f->q, "cleanup", ab, 2, &existed);
	assert_int_equal(existed, 0);
	assert_string_not_equal(id3, id1);
	id4 = enqueue(f->q, "backup", a, 1, &existed);
	assert_int_equal(existed, 0);

	r = get(f->q, id1);
	assert_non_null(r);
	assert_string_equal(r->id, id1);
	assert_string_equal(r->action, "backup");
	assert_int_equal(r->nsections, 2);
	assert_string_equal(r->sections[0], "web1");
	assert_string_equal(r->sections[1], "db1");
	assert_null(r->sections[2]);
	assert_null(r->exportdir);
	assert_string_equal(r->config, "/etc/tis/tisbackup-config.ini");
	assert_string_equal(r->requested_by, "alice");
	assert_int_equal(r->state, QUEUE_QUEUED);
	assert_int_equal(r->attempts, 0);
	assert_true(r->created > 0 && r->created <= time(NULL));
	assert_int_equal(r->finished, 0);
	assert_int_equal(r->exit_code, -1);
	assert_null(r->worker);
	assert_string_equal(r->log, "");
	queue_run_free(r);

	/* Once it ends, the same request makes a new run with a new id. */
	r = claim(f->q, "w1", 60, 0);
	assert_string_equal(r->id, id1);
	assert_int_equal(queue_finish(f->q, r->id, "w1", QUEUE_DONE, 0, NULL, &err), 0);
	queue_run_free(r);
	id5 = enqueue(f->q, "backup", ba, 2, &existed);
	assert_int_equal(existed, 0);
	assert_string_not_equal(id5, id1);

	assert_null(get(f->q, "999999"));
	assert_null(get(f->q, "nonsense"));
	free(id1);
	free(id2);
	free(id3);
	free(id4);
	free(id5);
}

static void
test_claim_fifo_finish(void **state)
{
	struct fixture *f = *state;
	const char *s1[] = { "a" }, *s2[] = { "b" };
	struct queue_run *r, *r2;
	struct err err;
	char *id1 = enqueue(f->q, "backup", s1, 1, NULL);
	char *id2 = enqueue(f->q, "backup", s2, 1, NULL);
	time_t before = time(NULL);

	r = claim(f->q, "w1", 30, 0);
	assert_non_null(r);
	assert_string_equal(r->id, id1);
	assert_int_equal(r->state, QUEUE_RUNNING);
	assert_int_equal(r->attempts, 1);
	assert_string_equal(r->worker, "w1");
	assert_true(r->started >= before);
	assert_true(r->lease_until >= r->started + 30);
	r2 = claim(f->q, "w2", 30, 0);
	assert_string_equal(r2->id, id2);
	assert_null(claim(f->q, "w3", 30, 0));

	/* Only the holder may end it. */
	assert_int_equal(queue_finish(f->q, r->id, "w2", QUEUE_DONE, 0, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "not running under worker w2"));
	assert_int_equal(queue_finish(f->q, r->id, "w1", QUEUE_RUNNING, 0, NULL, &err), -1);
	assert_int_equal(queue_finish(f->q, r->id, "w1", QUEUE_DONE, 0, NULL, &err), 0);
	assert_int_equal(queue_finish(f->q, r2->id, "w2", QUEUE_FAILED, 4, "boom", &err), 0);
	assert_int_equal(queue_finish(f->q, r2->id, "w2", QUEUE_DONE, 0, NULL, &err), -1);
	queue_run_free(r);
	queue_run_free(r2);

	r = get(f->q, id1);
	assert_int_equal(r->state, QUEUE_DONE);
	assert_int_equal(r->exit_code, 0);
	assert_true(r->finished >= before);
	assert_null(r->error);
	queue_run_free(r);
	r = get(f->q, id2);
	assert_int_equal(r->state, QUEUE_FAILED);
	assert_int_equal(r->exit_code, 4);
	assert_string_equal(r->error, "boom");
	queue_run_free(r);
	free(id1);
	free(id2);
}

static void
test_lease_expiry_attempts(void **state)
{
	struct fixture *f = *state;
	const char *s[] = { "slow" };
	struct queue_run *r;
	struct err err;
	int cancel;
	char *id = enqueue(f->q, "backup", s, 1, NULL);

	/* A lease of 0 s expires at the next second; the claim waits for it. */
	r = claim(f->q, "dead1", 0, 0);
	assert_string_equal(r->id, id);
	queue_run_free(r);
	r = claim(f->q, "dead2", 0, 4000);
	assert_non_null(r);
	assert_string_equal(r->id, id);
	assert_int_equal(r->attempts, 2);
	assert_string_equal(r->worker, "dead2");
	queue_run_free(r);
	/* The first worker lost it. */
	assert_int_equal(queue_heartbeat(f->q, id, "dead1", 30, &cancel, &err), -1);
	/* max_attempts = 2: the next expiry fails it. */
	assert_null(claim(f->q, "w3", 30, 2500));
	r = get(f->q, id);
	assert_int_equal(r->state, QUEUE_FAILED);
	assert_string_equal(r->error, "worker lost 2 times");
	assert_true(r->finished > 0);
	queue_run_free(r);
	free(id);
}

static void
test_heartbeat_cancel(void **state)
{
	struct fixture *f = *state;
	const char *s1[] = { "a" }, *s2[] = { "b" };
	struct queue_run *r;
	enum queue_state st;
	struct err err;
	int cancel = -1, found = -1;
	char *id1 = enqueue(f->q, "backup", s1, 1, NULL);
	char *id2 = enqueue(f->q, "backup", s2, 1, NULL);

	r = claim(f->q, "w1", 5, 0);
	assert_int_equal(queue_heartbeat(f->q, id1, "w1", 100, &cancel, &err), 0);
	assert_int_equal(cancel, 0);
	queue_run_free(r);
	r = get(f->q, id1);
	assert_true(r->lease_until >= time(NULL) + 99);
	queue_run_free(r);
	assert_int_equal(queue_heartbeat(f->q, id1, "w2", 100, &cancel, &err), -1);
	assert_int_equal(queue_heartbeat(f->q, id2, "w1", 100, &cancel, &err), -1);

	/* Queued: cancelled at once. Running: flagged for its worker. Who asked is kept. */
	assert_int_equal(queue_cancel(f->q, id2, "admin", &found, &st, &err), 0);
	assert_int_equal(found, 1);
	assert_int_equal(st, QUEUE_CANCELLED);
	assert_int_equal(queue_cancel(f->q, id1, "cli:root", &found, &st, &err), 0);
	assert_int_equal(found, 1);
	assert_int_equal(st, QUEUE_RUNNING);
	assert_int_equal(queue_heartbeat(f->q, id1, "w1", 100, &cancel, &err), 0);
	assert_int_equal(cancel, 1);
	r = get(f->q, id1);
	assert_int_equal(r->cancel_requested, 1);
	assert_string_equal(r->cancelled_by, "cli:root");
	queue_run_free(r);
	assert_int_equal(queue_finish(f->q, id1, "w1", QUEUE_CANCELLED, -1, "cancelled", &err), 0);
	/* An ended run keeps who cancelled it. */
	assert_int_equal(queue_cancel(f->q, id1, "someone", &found, &st, &err), 0);
	assert_int_equal(st, QUEUE_CANCELLED);
	r = get(f->q, id1);
	assert_string_equal(r->cancelled_by, "cli:root");
	queue_run_free(r);
	assert_int_equal(queue_cancel(f->q, "424242", NULL, &found, &st, &err), 0);
	assert_int_equal(found, 0);
	assert_null(claim(f->q, "w1", 5, 0));
	r = get(f->q, id2);
	assert_int_equal(r->state, QUEUE_CANCELLED);
	assert_true(r->finished > 0);
	assert_string_equal(r->cancelled_by, "admin");
	assert_string_equal(r->error, "cancelled by admin before it started");
	queue_run_free(r);
	free(id1);
	free(id2);
}

static void
test_release(void **state)
{
	struct fixture *f = *state;
	const char *s[] = { "a" };
	struct queue_run *r;
	struct err err;
	char *id = enqueue(f->q, "export", s, 1, NULL);

	r = claim(f->q, "w1", 30, 0);
	assert_null(r->exportdir);
	queue_run_free(r);
	assert_int_equal(queue_release(f->q, id, "w2", &err), -1);
	assert_int_equal(queue_release(f->q, id, "w1", &err), 0);
	r = get(f->q, id);
	assert_int_equal(r->state, QUEUE_QUEUED);
	assert_int_equal(r->attempts, 0);
	assert_null(r->worker);
	queue_run_free(r);
	r = claim(f->q, "w2", 30, 0);
	assert_string_equal(r->id, id);
	assert_int_equal(r->attempts, 1);
	queue_run_free(r);
	free(id);
}

static void
test_log_tail(void **state)
{
	struct fixture *f = *state;
	const char *s[] = { "a" };
	size_t big = 700 * 1024;
	char *text = xmalloc(big + 1);
	struct queue_run *r;
	struct err err;
	char *id = enqueue(f->q, "backup", s, 1, NULL);

	assert_int_equal(queue_append_log(f->q, id, "line 1\n", &err), 0);
	assert_int_equal(queue_append_log(f->q, id, "line 2\n", &err), 0);
	r = get(f->q, id);
	assert_string_equal(r->log, "line 1\nline 2\n");
	queue_run_free(r);
	memset(text, 'x', big);
	text[big] = '\0';
	assert_int_equal(queue_append_log(f->q, id, text, &err), 0);
	text[big - 1] = 'E';
	assert_int_equal(queue_append_log(f->q, id, text, &err), 0);
	r = get(f->q, id);
	assert_int_equal(strlen(r->log), 1024 * 1024);
	assert_int_equal(r->log[1024 * 1024 - 1], 'E');
	assert_null(strstr(r->log, "line 1"));
	queue_run_free(r);
	assert_int_equal(queue_append_log(f->q, "777777", "x", &err), -1);
	free(text);
	free(id);
}

static void
test_list(void **state)
{
	struct fixture *f = *state;
	const char *s1[] = { "a" }, *s2[] = { "b" }, *s3[] = { "c" };
	struct queue_run *runs, *r;
	struct err err;
	size_t n;
	char *id1 = enqueue(f->q, "backup", s1, 1, NULL);
	char *id2 = enqueue(f->q, "backup", s2, 1, NULL);
	char *id3 = enqueue(f->q, "backup", s3, 1, NULL);

	r = claim(f->q, "w", 30, 0);
	assert_int_equal(queue_finish(f->q, r->id, "w", QUEUE_DONE, 0, NULL, &err), 0);
	queue_run_free(r);
	assert_int_equal(queue_list(f->q, 0, 10, &runs, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(runs[0].id, id3);
	assert_string_equal(runs[1].id, id2);
	assert_string_equal(runs[2].id, id1);
	assert_int_equal(runs[2].state, QUEUE_DONE);
	queue_runs_free(runs, n);
	assert_int_equal(queue_list(f->q, 1, 10, &runs, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(runs[0].id, id3);
	assert_string_equal(runs[1].id, id2);
	queue_runs_free(runs, n);
	assert_int_equal(queue_list(f->q, 0, 1, &runs, &n, &err), 0);
	assert_int_equal(n, 1);
	queue_runs_free(runs, n);
	assert_int_equal(queue_list(f->q, 0, 0, &runs, &n, &err), -1);
	free(id1);
	free(id2);
	free(id3);
}

/* Make run id look as if it ended secs earlier, behind the queue's back. */
static void
age_finished(struct fixture *f, const char *id, long secs)
{
	if (backend == GUICONF_QUEUE_SQLITE) {
		char *path = xasprintf("%s/tisbackup-queue.sqlite", f->dir);
		char *sql = xasprintf(
		    "UPDATE queue_runs SET finished = finished - %ld WHERE id = %s", secs, id);
		sqlite3 *db;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		free(sql);
		free(path);
	} else {
		char host[256] = "127.0.0.1";
		int port = 6379, db = 0;
		redisContext *c;
		redisReply *r;

		sscanf(redis_url, "redis://%255[^:/]:%d/%d", host, &port, &db);
		c = redisConnect(host, port);
		assert_non_null(c);
		freeReplyObject(redisCommand(c, "SELECT %d", db));
		r = redisCommand(c, "ZINCRBY tb:finished %ld %s", -secs, id);
		assert_non_null(r);
		freeReplyObject(r);
		redisFree(c);
	}
}

/* Runs that ended more than 30 days ago are deleted (at a connection's first claim). */
static void
test_prune_old_runs(void **state)
{
	struct fixture *f = *state;
	const char *s1[] = { "old" }, *s2[] = { "recent" }, *s3[] = { "waiting" };
	struct queue_run *r;
	struct queue *q2;
	struct err err;
	char *id1 = enqueue(f->q, "backup", s1, 1, NULL), *id2, *id3;

	r = claim(f->q, "w", 30, 0);
	assert_int_equal(queue_finish(f->q, r->id, "w", QUEUE_DONE, 0, NULL, &err), 0);
	queue_run_free(r);
	id2 = enqueue(f->q, "backup", s2, 1, NULL);
	r = claim(f->q, "w", 30, 0);
	assert_int_equal(queue_finish(f->q, r->id, "w", QUEUE_FAILED, 1, "x", &err), 0);
	queue_run_free(r);
	age_finished(f, id1, 31L * 86400);
	age_finished(f, id2, 29L * 86400);
	id3 = enqueue(f->q, "backup", s3, 1, NULL);
	/* Not ended: never pruned (Redis: an active run is not in tb:finished at all). */
	if (backend == GUICONF_QUEUE_SQLITE)
		age_finished(f, id3, 60L * 86400);

	assert_int_equal(queue_open(&f->gc, f->dir, &q2, &err), 0);
	r = claim(q2, "w2", 30, 0);
	assert_non_null(r);
	assert_string_equal(r->id, id3);
	queue_run_free(r);
	queue_close(q2);
	assert_null(get(f->q, id1));
	r = get(f->q, id2);
	assert_non_null(r);
	queue_run_free(r);
	free(id1);
	free(id2);
	free(id3);
}

#define SHARED_RUNS 40

struct sharer {
	struct fixture *f;
	const char *name;
	char *ids[SHARED_RUNS];
	int n;
};

static void *
share_main(void *arg)
{
	struct sharer *s = arg;
	struct queue *q;
	struct queue_run *r;
	struct err err;

	if (queue_open(&s->f->gc, s->f->dir, &q, &err) == -1)
		return NULL;
	while (queue_claim(q, s->name, 30, 0, &r, &err) == 0 && r != NULL) {
		s->ids[s->n++] = xstrdup(r->id);
		queue_finish(q, r->id, s->name, QUEUE_DONE, 0, NULL, &err);
		queue_run_free(r);
	}
	queue_close(q);
	return NULL;
}

static void
test_two_threads_share(void **state)
{
	struct fixture *f = *state;
	struct sharer a = { .f = f, .name = "ta" }, b = { .f = f, .name = "tb" };
	char *ids[SHARED_RUNS];
	pthread_t ta, tb;
	int seen;

	for (int i = 0; i < SHARED_RUNS; i++) {
		char name[16];
		const char *s[] = { name };

		snprintf(name, sizeof name, "job%d", i);
		ids[i] = enqueue(f->q, "backup", s, 1, NULL);
	}
	pthread_create(&ta, NULL, share_main, &a);
	pthread_create(&tb, NULL, share_main, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.n + b.n, SHARED_RUNS);
	for (int i = 0; i < SHARED_RUNS; i++) {
		seen = 0;
		for (int k = 0; k < a.n; k++)
			seen += strcmp(a.ids[k], ids[i]) == 0;
		for (int k = 0; k < b.n; k++)
			seen += strcmp(b.ids[k], ids[i]) == 0;
		assert_int_equal(seen, 1);
	}
	for (int i = 0; i < SHARED_RUNS; i++)
		free(ids[i]);
	for (int k = 0; k < a.n; k++)
		free(a.ids[k]);
	for (int k = 0; k < b.n; k++)
		free(b.ids[k]);
}

struct late {
	struct fixture *f;
	int delay_ms;
};

static void *
late_main(void *arg)
{
	struct late *l = arg;
	struct timespec ts = { 0, (long)l->delay_ms * 1000000L };
	struct queue *q;
	struct err err;
	const char *s[] = { "late" };
	char *id;

	nanosleep(&ts, NULL);
	if (queue_open(&l->f->gc, l->f->dir, &q, &err) == -1)
		return NULL;
	id = enqueue(q, "backup", s, 1, NULL);
	free(id);
	queue_close(q);
	return NULL;
}

static void
test_claim_waits_and_wakes(void **state)
{
	struct fixture *f = *state;
	struct late l = { .f = f, .delay_ms = 300 };
	struct queue_run *r;
	pthread_t t;
	int64_t t0, dt;

	t0 = mono_ms();
	assert_null(claim(f->q, "w", 30, 400));
	dt = mono_ms() - t0;
	assert_true(dt >= 380 && dt < 1500);

	pthread_create(&t, NULL, late_main, &l);
	t0 = mono_ms();
	r = claim(f->q, "w", 30, 5000);
	dt = mono_ms() - t0;
	pthread_join(t, NULL);
	assert_non_null(r);
	assert_string_equal(r->sections[0], "late");
	/* Woken by the write, not by the 1 s idle poll. */
	assert_true(dt >= 250 && dt < 900);
	queue_run_free(r);
}

/*
 * SQLite only: the queue keeps its own database (queue_runs, nothing of
 * the catalog's), and an error opening it names the queue and its file.
 */
static void
test_sqlite_own_database(void **state)
{
	struct fixture *f = *state;
	char *path, *bad, *want;
	struct queue *q = NULL;
	struct err err;
	sqlite3_stmt *st;
	sqlite3 *db;

	if (backend != GUICONF_QUEUE_SQLITE)
		skip();
	path = xasprintf("%s/tisbackup-queue.sqlite", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT group_concat(name) FROM sqlite_master WHERE "
	                                    "type = 'table' AND name NOT LIKE 'sqlite_%'",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "queue_runs,queue_workers");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* A folder where the database should be: the error says which queue and file. */
	bad = xasprintf("%s/bad", f->dir);
	free(path);
	path = xasprintf("%s/tisbackup-queue.sqlite", bad);
	assert_int_equal(mkdir(bad, 0700), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	want = xasprintf("queue (sqlite): queue %s: opening: ", path);
	assert_int_equal(queue_open(&f->gc, bad, &q, &err), -1);
	assert_null(q);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err.msg, want);
	free(want);
	free(path);
	free(bad);
}

/* Enqueue a backup of section in pool (NULL: none given). */
static char *
enqueue_pool(struct queue *q, const char *section, const char *pool)
{
	const char *s[] = { section };
	struct queue_request req = { .action = "backup",
		                     .sections = s,
		                     .nsections = 1,
		                     .config = "/etc/tis/tisbackup-config.ini",
		                     .requested_by = "alice",
		                     .pool = pool };
	struct err err;
	char *id = NULL;

	if (queue_enqueue(q, &req, &id, NULL, &err) == -1)
		fail_msg("enqueue: %s", err.msg);
	return id;
}

static struct queue_run *
claim_pools(struct queue *q, const char *worker, const struct queue_pool_limit *p, size_t n,
            int lease, int wait_ms)
{
	struct queue_run *r = NULL;
	struct err err;

	if (queue_claim_pools(q, worker, p, n, lease, wait_ms, &r, &err) == -1)
		fail_msg("claim: %s", err.msg);
	return r;
}

static void
test_pools_claim(void **state)
{
	struct fixture *f = *state;
	const struct queue_pool_limit a[] = { { "site-a", 0 } }, b[] = { { "site_b.2", 0 } },
	                              ab[] = { { "site_b.2", 0 }, { "site-a", 0 } };
	char *ida = enqueue_pool(f->q, "ja", "site-a");
	char *idb = enqueue_pool(f->q, "jb", "site_b.2");
	char *idd = enqueue_pool(f->q, "jd", NULL);
	char *ida2 = enqueue_pool(f->q, "ja2", "site-a");
	struct queue_run *r;
	struct err err;

	r = get(f->q, idd);
	assert_string_equal(r->pool, "default");
	queue_run_free(r);
	/* A worker of pool b sees only b's run, whatever is older. */
	r = claim_pools(f->q, "wb", b, 1, 60, 0);
	assert_non_null(r);
	assert_string_equal(r->id, idb);
	assert_string_equal(r->pool, "site_b.2");
	assert_int_equal(queue_finish(f->q, r->id, "wb", QUEUE_DONE, 0, NULL, &err), 0);
	queue_run_free(r);
	assert_null(claim_pools(f->q, "wb", b, 1, 60, 0));
	/* queue_claim() is the default pool only. */
	r = claim(f->q, "wd", 60, 0);
	assert_non_null(r);
	assert_string_equal(r->id, idd);
	queue_run_free(r);
	assert_null(claim(f->q, "wd", 60, 0));
	/* A run of pool a whose worker died goes back to pool a only. */
	r = claim_pools(f->q, "dead", a, 1, 0, 0);
	assert_string_equal(r->id, ida);
	queue_run_free(r);
	free(enqueue_pool(f->q, "jb2", "site_b.2"));
	r = claim_pools(f->q, "wb", b, 1, 60, 0);
	assert_non_null(r);
	assert_string_equal(r->pool, "site_b.2");
	queue_run_free(r);
	assert_null(claim_pools(f->q, "wb", b, 1, 60, 2200)); /* ida expired meanwhile */
	/* Two pools: the oldest queued run of either (ida, re-queued at the front). */
	r = claim_pools(f->q, "wab", ab, 2, 60, 0);
	assert_non_null(r);
	assert_string_equal(r->id, ida);
	assert_string_equal(r->pool, "site-a");
	assert_int_equal(r->attempts, 2);
	queue_run_free(r);
	r = claim_pools(f->q, "wab", ab, 2, 60, 0);
	assert_string_equal(r->id, ida2);
	queue_run_free(r);
	free(ida);
	free(idb);
	free(idd);
	free(ida2);
}

static void
test_pool_max_running(void **state)
{
	struct fixture *f = *state;
	const struct queue_pool_limit lim[] = { { "p", 1 }, { "q", 0 } };
	char *id1 = enqueue_pool(f->q, "j1", "p");
	char *id2 = enqueue_pool(f->q, "j2", "p");
	char *id3 = enqueue_pool(f->q, "j3", "q");
	struct queue_run *r, *r3;
	struct err err;
	int64_t t0;

	r = claim_pools(f->q, "w1", lim, 2, 60, 0);
	assert_string_equal(r->id, id1);
	/* p is at its limit (over every worker): the next claim skips to q. */
	r3 = claim_pools(f->q, "w2", lim, 2, 60, 0);
	assert_non_null(r3);
	assert_string_equal(r3->id, id3);
	queue_run_free(r3);
	t0 = mono_ms();
	assert_null(claim_pools(f->q, "w2", lim, 1, 60, 300));
	assert_true(mono_ms() - t0 >= 250); /* it waited, not returned at once */
	assert_int_equal(queue_finish(f->q, r->id, "w1", QUEUE_DONE, 0, NULL, &err), 0);
	queue_run_free(r);
	r = claim_pools(f->q, "w2", lim, 1, 60, 0);
	assert_non_null(r);
	assert_string_equal(r->id, id2);
	queue_run_free(r);
	free(id1);
	free(id2);
	free(id3);
}

static void
test_pool_workers(void **state)
{
	struct fixture *f = *state;
	const char *ab[] = { "a", "b" }, *b[] = { "b" };
	struct queue_pool_stat *v = NULL;
	size_t n = 0;
	struct err err;
	char *id = enqueue_pool(f->q, "jc", "c");

	assert_int_equal(queue_worker_beat(f->q, "host1:1", ab, 2, 20, &err), 0);
	assert_int_equal(queue_worker_beat(f->q, "host2:2", b, 1, 20, &err), 0);
	assert_int_equal(queue_pools(f->q, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "a");
	assert_int_equal(v[0].workers, 1);
	assert_string_equal(v[1].name, "b");
	assert_int_equal(v[1].workers, 2);
	/* c has a queued run and nobody to run it. */
	assert_string_equal(v[2].name, "c");
	assert_int_equal(v[2].workers, 0);
	assert_int_equal(v[2].queued, 1);
	assert_int_equal(v[2].running, 0);
	queue_pool_stats_free(v, n);
	/* A worker that stops says so (ttl 0): counted out at once. */
	assert_int_equal(queue_worker_beat(f->q, "host2:2", b, 1, 0, &err), 0);
	assert_int_equal(queue_pools(f->q, &v, &n, &err), 0);
	assert_string_equal(v[1].name, "b");
	assert_int_equal(v[1].workers, 1);
	queue_pool_stats_free(v, n);
	free(id);
}

static void
test_pool_bad_names(void **state)
{
	struct fixture *f = *state;
	const char *s[] = { "j" }, *bad[] = { "a b" };
	const struct queue_pool_limit lim[] = { { "x/y", 0 } };
	struct queue_request req = { .action = "backup",
		                     .sections = s,
		                     .nsections = 1,
		                     .config = "/c.ini",
		                     .pool = "no:colon" };
	struct queue_run *r = NULL;
	struct err err;
	char *id = NULL;
	char longname[70];

	assert_int_equal(queue_enqueue(f->q, &req, &id, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "invalid pool name 'no:colon'"));
	assert_int_equal(queue_claim_pools(f->q, "w", lim, 1, 60, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, "x/y"));
	assert_int_equal(queue_claim_pools(f->q, "w", lim, 0, 60, 0, &r, &err), -1);
	assert_int_equal(queue_worker_beat(f->q, "w", bad, 1, 20, &err), -1);
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_false(queue_pool_valid(longname));
	longname[64] = '\0';
	assert_true(queue_pool_valid(longname));
	assert_false(queue_pool_valid(""));
	assert_true(queue_pool_valid("Site-A_1.x"));
}

/* A store written before pools (no pool column, version 0): upgraded, its runs in default. */
static void
test_sqlite_upgrade_to_pools(void **state)
{
	struct fixture *f = *state;
	struct queue *q = NULL;
	struct queue_run *r;
	struct err err;
	char *dir, *path;
	sqlite3 *db;

	if (backend != GUICONF_QUEUE_SQLITE)
		skip();
	dir = xasprintf("%s/old", f->dir);
	path = xasprintf("%s/tisbackup-queue.sqlite", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
	                 "CREATE TABLE queue_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
	                 "action TEXT NOT NULL, sections TEXT NOT NULL, run_key TEXT NOT NULL, "
	                 "exportdir TEXT, config TEXT NOT NULL, requested_by TEXT, "
	                 "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
	                 "created INTEGER NOT NULL, started INTEGER NOT NULL DEFAULT 0, "
	                 "finished INTEGER NOT NULL DEFAULT 0, lease_until INTEGER NOT NULL "
	                 "DEFAULT 0, worker TEXT, exit_code INTEGER NOT NULL DEFAULT -1, "
	                 "error TEXT, log TEXT NOT NULL DEFAULT '', cancel_requested INTEGER "
	                 "NOT NULL DEFAULT 0);"
	                 "CREATE UNIQUE INDEX idx_queue_runs_active ON queue_runs(run_key) "
	                 "WHERE state IN ('queued', 'running');"
	                 "CREATE INDEX idx_queue_runs_state ON queue_runs(state, id);"
	                 "INSERT INTO queue_runs (action, sections, run_key, config, state, "
	                 "created) VALUES ('backup', 'old', 'k', '/c.ini', 'queued', 1);",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	if (queue_open(&f->gc, dir, &q, &err) == -1)
		fail_msg("open: %s", err.msg);
	r = claim(q, "w", 60, 0);
	assert_non_null(r);
	assert_string_equal(r->sections[0], "old");
	assert_string_equal(r->pool, "default");
	queue_run_free(r);
	queue_close(q);
	free(path);
	free(dir);
}

/* A run's extra words: stored, read back, part of the dedupe key, checked. */
static void
test_options(void **state)
{
	struct fixture *f = *state;
	const char *sec[] = { "web1" };
	const char *o1[] = { "--to=/srv/a b", "--path=etc/x\"y", "--dry-run" };
	const char *o2[] = { "--to=/srv/other" };
	const char *bad1[] = { "to=/x" }, *bad2[] = { "--to=/x\n" }, *bad3[] = { "--at=\xff" };
	struct queue_request req = { .action = "restore",
		                     .sections = sec,
		                     .nsections = 1,
		                     .config = "/etc/tis/tisbackup-config.ini",
		                     .requested_by = "alice",
		                     .options = o1,
		                     .noptions = 3 };
	struct queue_run *r;
	struct err err;
	char *id1 = NULL, *id2 = NULL, *id3 = NULL, *id4 = NULL, *plain;
	int existed = -1;

	assert_int_equal(queue_enqueue(f->q, &req, &id1, &existed, &err), 0);
	assert_int_equal(existed, 0);
	r = get(f->q, id1);
	assert_int_equal(r->noptions, 3);
	assert_string_equal(r->options[0], "--to=/srv/a b");
	assert_string_equal(r->options[1], "--path=etc/x\"y");
	assert_string_equal(r->options[2], "--dry-run");
	assert_null(r->options[3]);
	queue_run_free(r);
	/* The same words: the active run; other words: a run of its own. */
	assert_int_equal(queue_enqueue(f->q, &req, &id2, &existed, &err), 0);
	assert_int_equal(existed, 1);
	assert_string_equal(id1, id2);
	req.options = o2;
	req.noptions = 1;
	assert_int_equal(queue_enqueue(f->q, &req, &id3, &existed, &err), 0);
	assert_int_equal(existed, 0);
	assert_string_not_equal(id1, id3);
	/* None: no words, and not the same run either. */
	req.options = NULL;
	req.noptions = 0;
	assert_int_equal(queue_enqueue(f->q, &req, &id4, &existed, &err), 0);
	assert_int_equal(existed, 0);
	r = get(f->q, id4);
	assert_int_equal(r->noptions, 0);
	assert_null(r->options);
	queue_run_free(r);
	plain = enqueue(f->q, "backup", sec, 1, &existed);
	r = claim(f->q, "w1", 60, 0); /* the oldest, with its words */
	assert_string_equal(r->id, id1);
	assert_int_equal(r->noptions, 3);
	queue_run_free(r);
	/* Each word is one --NAME[=VALUE], UTF-8, without control characters. */
	free(id2);
	id2 = NULL;
	req.noptions = 1;
	req.options = bad1;
	assert_int_equal(queue_enqueue(f->q, &req, &id2, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "option 1 is not one --NAME[=VALUE] word"));
	req.options = bad2;
	assert_int_equal(queue_enqueue(f->q, &req, &id2, NULL, &err), -1);
	req.options = bad3;
	assert_int_equal(queue_enqueue(f->q, &req, &id2, NULL, &err), -1);
	free(id1);
	free(id2);
	free(id3);
	free(id4);
	free(plain);
}

/*
 * SQLite: a store of the first schema (version 0, no options column) gets
 * it at open; damaged stored options read as one word no check accepts.
 */
static void
test_sqlite_options_upgrade(void **state)
{
	struct fixture *f = *state;
	const char *sec[] = { "web1" };
	char *sub, *path, *id;
	struct queue *q = NULL;
	struct queue_run *r;
	struct err err;
	sqlite3_stmt *st;
	sqlite3 *db;
	int existed;

	if (backend != GUICONF_QUEUE_SQLITE)
		skip();
	sub = xasprintf("%s/old", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	path = xasprintf("%s/tisbackup-queue.sqlite", sub);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
	                 "CREATE TABLE queue_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, action "
	                 "TEXT NOT NULL, sections TEXT NOT NULL, run_key TEXT NOT NULL, exportdir "
	                 "TEXT, config TEXT NOT NULL, requested_by TEXT, state TEXT NOT NULL, "
	                 "attempts INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, started "
	                 "INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0, "
	                 "lease_until INTEGER NOT NULL DEFAULT 0, worker TEXT, exit_code INTEGER "
	                 "NOT NULL DEFAULT -1, error TEXT, log TEXT NOT NULL DEFAULT '', "
	                 "cancel_requested INTEGER NOT NULL DEFAULT 0);"
	                 "CREATE UNIQUE INDEX idx_queue_runs_active ON queue_runs(run_key) WHERE "
	                 "state IN ('queued', 'running');"
	                 "CREATE INDEX idx_queue_runs_state ON queue_runs(state, id);"
	                 "INSERT INTO queue_runs (action, sections, run_key, config, state, "
	                 "created) VALUES ('backup', 'web1', 'k', '/c.ini', 'queued', 1);",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	if (queue_open(&f->gc, sub, &q, &err) == -1)
		fail_msg("open: %s", err.msg);
	r = get(q, "1");
	assert_non_null(r);
	assert_string_equal(r->action, "backup");
	assert_int_equal(r->noptions, 0);
	queue_run_free(r);
	id = enqueue(q, "restore", sec, 1, &existed);
	queue_close(q);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE queue_runs SET options = '[\"--to=/x\", 3' "
	                              "WHERE action = 'restore'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_int(st, 0) >= 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(queue_open(&f->gc, sub, &q, &err), 0);
	r = get(q, id);
	assert_int_equal(r->noptions, 1);
	assert_string_equal(r->options[0], "(unreadable options: [\"--to=/x\", 3)");
	queue_run_free(r);
	queue_close(q);
	free(id);
	free(path);
	free(sub);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int
run_suite(const char *name)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states_names),
		T(test_bad_requests),
		T(test_enqueue_get_dedupe),
		T(test_claim_fifo_finish),
		T(test_lease_expiry_attempts),
		T(test_heartbeat_cancel),
		T(test_release),
		T(test_log_tail),
		T(test_list),
		T(test_two_threads_share),
		T(test_claim_waits_and_wakes),
		T(test_prune_old_runs),
		T(test_sqlite_own_database),
		T(test_pools_claim),
		T(test_pool_max_running),
		T(test_pool_workers),
		T(test_pool_bad_names),
		T(test_sqlite_upgrade_to_pools),
		T(test_options),
		T(test_sqlite_options_upgrade),
	};

	return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}

/* No argument: SQLite. "redis": Redis at TB_REDIS_URL (which must be set). */
int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "redis") == 0) {
		redis_url = getenv("TB_REDIS_URL");
		if (redis_url == NULL || *redis_url == '\0') {
			fprintf(stderr, "test_queue redis: set TB_REDIS_URL\n");
			return 2;
		}
		backend = GUICONF_QUEUE_REDIS;
		return run_suite("queue_redis");
	}
	backend = GUICONF_QUEUE_SQLITE;
	return run_suite("queue_sqlite");
}
