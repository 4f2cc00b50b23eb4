/*
 * The SQLite queue backend: {catalog_dir}/tisbackup-queue.sqlite, a
 * database of its own (table queue_runs) so the busy queue never contends
 * with the catalog's stats table. Its SQL is here, in the store section;
 * the rest is what is not SQL: ids as text, the lease arithmetic, and
 * waiting.
 *
 * Waiting for a run without busy polling: the worker watches the catalog
 * folder with inotify and wakes when the queue's WAL file is written (any
 * commit by any process on this host), then checks with a read whether a
 * run is queued or a lease expired before taking the write lock to claim.
 * It also wakes at least once a second (QUEUE_SQLITE_IDLE_MS), because
 * lease expiry writes nothing and inotify sees no writes from other hosts
 * (a network filesystem): one small read per second per waiting thread,
 * far below 0.1% of a core. Without inotify the same 1 s poll is all.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "guiconf.h"
#include "queue_backend.h"
#include "sqlite_util.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define QUEUE_SQLITE_FILE "tisbackup-queue.sqlite"
#define QUEUE_SQLITE_IDLE_MS 1000

/* The store's statements, prepared once per connection. */
enum {
	QSTMT_FIND_ACTIVE,
	QSTMT_INSERT,
	QSTMT_PENDING,
	QSTMT_EXPIRE,
	QSTMT_CLAIM,
	QSTMT_HEARTBEAT,
	QSTMT_APPEND,
	QSTMT_FINISH,
	QSTMT_RELEASE,
	QSTMT_CANCEL,
	QSTMT_GET,
	QSTMT_LIST,
	QSTMT_LIST_ACTIVE,
	QSTMT_PRUNE,
	QSTMT_BEAT,
	QSTMT_BEAT_PRUNE,
	QSTMT_POOLS,
	QSTMT_MAX
};

struct sq {
	struct sqlu_db c; /* c.path: the queue database */
	sqlite3_stmt *st[QSTMT_MAX];
	int max_attempts;
	int ifd;            /* inotify on the folder, or -1 */
	int64_t last_prune; /* when this connection last deleted old runs */
};

/*
 * ---- The store: SQL ----
 *
 * One table in its own database. The partial unique index on run_key
 * makes "one active run per action and section set" a constraint, not
 * only a check; the claim is a single UPDATE ... RETURNING inside an
 * IMMEDIATE transaction, so two workers never take the same run. Times
 * are epoch seconds given by the caller; ids are the table's
 * AUTOINCREMENT rowids (never reused). "held" outputs are 0 when the run
 * is not running under worker.
 */

static const char sql_queue_schema[] =
    "CREATE TABLE IF NOT EXISTS queue_runs (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  action TEXT NOT NULL,\n"
    "  sections TEXT NOT NULL,\n"
    "  run_key TEXT NOT NULL,\n"
    "  exportdir TEXT,\n"
    "  config TEXT NOT NULL,\n"
    "  requested_by TEXT,\n"
    "  state TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  created INTEGER NOT NULL,\n"
    "  started INTEGER NOT NULL DEFAULT 0,\n"
    "  finished INTEGER NOT NULL DEFAULT 0,\n"
    "  lease_until INTEGER NOT NULL DEFAULT 0,\n"
    "  worker TEXT,\n"
    "  exit_code INTEGER NOT NULL DEFAULT -1,\n"
    "  error TEXT,\n"
    "  log TEXT NOT NULL DEFAULT '',\n"
    "  cancel_requested INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_queue_runs_active ON queue_runs(run_key)\n"
    "  WHERE state IN ('queued', 'running');\n"
    "CREATE INDEX IF NOT EXISTS idx_queue_runs_state ON queue_runs(state, id);\n";

/*
 * Later schema changes, applied in order to a store whose PRAGMA user_version is
 * below their version (a new store runs them too, after sql_queue_schema). Each
 * step is one version, never edited once released; append new ones before the
 * { 0, NULL } end marker.
 */
static const struct queue_schema_step {
	int version;
	const char *sql;
} queue_schema_steps[] = {
	{ 1, "ALTER TABLE queue_runs ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';\n"
	     "CREATE INDEX IF NOT EXISTS idx_queue_runs_pool ON queue_runs(state, pool, id);\n"
	     "CREATE TABLE IF NOT EXISTS queue_workers (\n"
	     "  worker TEXT NOT NULL,\n"
	     "  pool TEXT NOT NULL,\n"
	     "  alive_until INTEGER NOT NULL,\n"
	     "  PRIMARY KEY (worker, pool));\n" },
	{ 2, "ALTER TABLE queue_runs ADD COLUMN options TEXT" },
	{ 3, "ALTER TABLE queue_runs ADD COLUMN cancelled_by TEXT" },
	{ 0, NULL },
};

#define QUEUE_COLUMNS                                                                              \
	"id, action, sections, exportdir, config, requested_by, state, attempts, created, "        \
	"started, finished, lease_until, worker, exit_code, error, log, cancel_requested, pool, "  \
	"options, cancelled_by"

static int store_upgrade(struct sq *s, struct err *err);

/* Open s->c (creating the table and indexes when missing; WAL). */
static int
store_open(struct sq *s, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, have, ret = -1;

	if (sqlu_open_rw(&s->c, err) == -1)
		return -1;
	if (sqlu_exec(&s->c, "PRAGMA journal_mode=WAL", err, "setting WAL mode") == -1)
		return -1;
	/* synchronous=NORMAL is durable across process crashes in WAL mode. */
	if (sqlu_exec(&s->c, "PRAGMA synchronous=NORMAL", err, "setting synchronous") == -1)
		return -1;
	rc = sqlite3_prepare_v2(s->c.db,
	                        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
	                        "name IN ('idx_queue_runs_active', 'idx_queue_runs_state')",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlu_error(&s->c, rc, err, "reading the schema");
		goto out;
	}
	have = sqlite3_column_int(st, 0) == 2;
	/* Done reading before asking for the write lock (else: busy at once, no wait). */
	sqlite3_finalize(st);
	st = NULL;
	if (!have) {
		if (sqlu_exec(&s->c, "BEGIN IMMEDIATE", err, "starting the schema update") == -1)
			goto out;
		if (sqlu_exec(&s->c, sql_queue_schema, err, "creating table queue_runs") == -1 ||
		    sqlu_exec(&s->c, "COMMIT", err, "committing the schema update") == -1) {
			sqlu_rollback(&s->c);
			goto out;
		}
	}
	ret = store_upgrade(s, err);
out:
	sqlite3_finalize(st);
	return ret;
}

/* The store's PRAGMA user_version into *version; -1 on error. */
static int
store_version(struct sq *s, int *version, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->c.db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlu_error(&s->c, rc, err, "reading the queue's schema version");
		sqlite3_finalize(st);
		return -1;
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/*
 * Apply the queue_schema_steps newer than the store, in one IMMEDIATE transaction
 * (the version is read again inside it, so two processes opening an old store at
 * once apply each step once). A store newer than this program is refused.
 */
static int
store_upgrade(struct sq *s, struct err *err)
{
	size_t i, n = sizeof queue_schema_steps / sizeof queue_schema_steps[0] - 1;
	int have, want = n > 0 ? queue_schema_steps[n - 1].version : 0;
	char *pragma;

	if (store_version(s, &have, err) == -1)
		return -1;
	if (have > want) {
		err_set(
		    err,
		    "queue %s has schema version %d, newer than this tisbackup (%d): run the "
		    "same version everywhere, or move the queue file away to start an empty one",
		    s->c.path, have, want);
		return -1;
	}
	if (have == want)
		return 0;
	if (sqlu_exec(&s->c, "BEGIN IMMEDIATE", err, "starting the queue schema upgrade") == -1)
		return -1;
	if (store_version(s, &have, err) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (queue_schema_steps[i].version <= have)
			continue;
		if (sqlu_exec(&s->c, queue_schema_steps[i].sql, err,
		              "upgrading the queue schema") == -1)
			goto fail;
	}
	pragma = xasprintf("PRAGMA user_version = %d", want);
	if (sqlu_exec(&s->c, pragma, err, "recording the queue schema version") == -1) {
		free(pragma);
		goto fail;
	}
	free(pragma);
	if (sqlu_exec(&s->c, "COMMIT", err, "committing the queue schema upgrade") == 0)
		return 0;
fail:
	sqlu_rollback(&s->c);
	return -1;
}

/* The current row of st (QUEUE_COLUMNS) as a new run. */
static struct queue_run *
queue_row_read(sqlite3_stmt *st, struct queue_run *r)
{
	const char *sections = (const char *)sqlite3_column_text(st, 2);
	const char *state = (const char *)sqlite3_column_text(st, 6);

	memset(r, 0, sizeof *r);
	r->id = xasprintf("%lld", (long long)sqlite3_column_int64(st, 0));
	r->action = sqlu_col_text(st, 1);
	queue_run_set_sections(r, sections != NULL ? sections : "");
	r->exportdir = sqlu_col_text(st, 3);
	r->config = sqlu_col_text(st, 4);
	r->requested_by = sqlu_col_text(st, 5);
	if (queue_state_parse(state, &r->state) == -1)
		r->state = QUEUE_FAILED;
	r->attempts = sqlite3_column_int(st, 7);
	r->created = sqlite3_column_int64(st, 8);
	r->started = sqlite3_column_int64(st, 9);
	r->finished = sqlite3_column_int64(st, 10);
	r->lease_until = sqlite3_column_int64(st, 11);
	r->worker = sqlu_col_text(st, 12);
	r->exit_code = sqlite3_column_int(st, 13);
	r->error = sqlu_col_text(st, 14);
	r->log = sqlu_col_text(st, 15);
	if (r->log == NULL)
		r->log = xstrdup("");
	r->cancel_requested = sqlite3_column_int(st, 16);
	r->pool = sqlu_col_text(st, 17);
	if (r->pool == NULL)
		r->pool = xstrdup(QUEUE_POOL_DEFAULT);
	queue_run_set_options(r, (const char *)sqlite3_column_text(st, 18));
	r->cancelled_by = sqlu_col_text(st, 19);
	return r;
}

/* Step a statement that returns at most one row: 1 row read into *out (if set), 0 none, -1. */
static int
step_one(struct sq *s, sqlite3_stmt *st, struct queue_run **out, int64_t *val, struct err *err,
         const char *what)
{
	int rc, found = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (found++)
			continue;
		if (out != NULL)
			*out = queue_row_read(st, xmalloc(sizeof **out));
		if (val != NULL)
			*val = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if (out != NULL) {
			queue_run_free(*out);
			*out = NULL;
		}
		sqlu_error(&s->c, rc, err, what);
		return -1;
	}
	return found > 0;
}

static int
store_enqueue(struct sq *s, const struct queue_request *req, const char *key, int64_t now,
              int64_t *id, int *existed, struct err *err)
{
	sqlite3_stmt **find = &s->st[QSTMT_FIND_ACTIVE], **ins = &s->st[QSTMT_INSERT];
	struct buf sections;
	char *options = queue_options_encode(req);
	int rc, ret = -1;

	buf_init(&sections, (size_t)-1);
	for (size_t i = 0; i < req->nsections; i++)
		buf_printf(&sections, "%s%s", i > 0 ? "," : "", req->sections[i]);
	if (sqlu_prepare(
	        &s->c, find,
	        "SELECT id FROM queue_runs WHERE run_key = ?1 AND state IN ('queued', 'running')",
	        err) == -1 ||
	    sqlu_prepare(&s->c, ins,
	                 "INSERT INTO queue_runs (action, sections, run_key, exportdir, config, "
	                 "requested_by, state, created, pool, options) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9) RETURNING id",
	                 err) == -1)
		goto out;
	if (sqlu_exec(&s->c, "BEGIN IMMEDIATE", err, "starting to enqueue") == -1)
		goto out;
	sqlu_bind_text(*find, 1, key);
	rc = step_one(s, *find, NULL, id, err, "looking for an active run");
	if (rc == -1)
		goto out;
	*existed = rc;
	if (!rc) {
		sqlu_bind_text(*ins, 1, req->action);
		sqlu_bind_text(*ins, 2, buf_str(&sections));
		sqlu_bind_text(*ins, 3, key);
		sqlu_bind_text(*ins, 4, req->exportdir);
		sqlu_bind_text(*ins, 5, req->config);
		sqlu_bind_text(*ins, 6, req->requested_by);
		sqlite3_bind_int64(*ins, 7, now);
		sqlu_bind_text(*ins, 8, req->pool != NULL ? req->pool : QUEUE_POOL_DEFAULT);
		sqlu_bind_text(*ins, 9, options);
		if (step_one(s, *ins, NULL, id, err, "adding a run") != 1)
			goto out;
	}
	if (sqlu_exec(&s->c, "COMMIT", err, "committing a new run") == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		sqlu_rollback(&s->c);
	buf_free(&sections);
	free(options);
	return ret;
}

/* pools: the JSON object {"POOL": max_running, ...} of the claiming worker. */
static int
store_pending(struct sq *s, const char *pools, int64_t now, int *pending, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_PENDING];
	int64_t v = 0;

	if (sqlu_prepare(&s->c, st,
	                 "SELECT EXISTS (SELECT 1 FROM queue_runs WHERE state = 'queued' AND "
	                 "pool IN (SELECT key FROM json_each(?2))) OR "
	                 "EXISTS (SELECT 1 FROM queue_runs WHERE state = 'running' AND "
	                 "lease_until < ?1)",
	                 err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, now);
	sqlu_bind_text(*st, 2, pools);
	if (step_one(s, *st, NULL, &v, err, "looking for queued runs") == -1)
		return -1;
	*pending = v != 0;
	return 0;
}

/*
 * pools: the JSON object {"POOL": max_running, ...} (0 = no limit); the
 * oldest queued run of those pools whose pool is under its limit.
 */
static int
store_claim(struct sq *s, const char *worker, const char *pools, int lease_s, int max_attempts,
            int64_t now, struct queue_run **out, struct err *err)
{
	sqlite3_stmt **expire = &s->st[QSTMT_EXPIRE], **claim = &s->st[QSTMT_CLAIM];
	int ret = -1;

	*out = NULL;
	if (sqlu_prepare(
	        &s->c, expire,
	        "UPDATE queue_runs SET "
	        "state = CASE WHEN cancel_requested THEN 'cancelled' "
	        "  WHEN attempts >= ?2 THEN 'failed' ELSE 'queued' END, "
	        "error = CASE WHEN cancel_requested THEN "
	        "  'cancelled' || coalesce(' by ' || cancelled_by, '') || ' (its worker was lost)' "
	        "  WHEN attempts >= ?2 THEN printf('worker lost %d times', attempts) "
	        "  ELSE error END, "
	        "finished = CASE WHEN cancel_requested OR attempts >= ?2 THEN ?1 ELSE 0 END, "
	        "worker = NULL, lease_until = 0 "
	        "WHERE state = 'running' AND lease_until < ?1",
	        err) == -1 ||
	    sqlu_prepare(&s->c, claim,
	                 "UPDATE queue_runs SET state = 'running', attempts = attempts + 1, "
	                 "started = ?1, lease_until = ?1 + ?3, worker = ?2, exit_code = -1, "
	                 "error = NULL, cancel_requested = 0 "
	                 "WHERE id = (SELECT q.id FROM queue_runs q JOIN json_each(?4) p "
	                 "ON p.key = q.pool WHERE q.state = 'queued' AND (p.value <= 0 OR "
	                 "(SELECT count(*) FROM queue_runs r WHERE r.state = 'running' AND "
	                 "r.pool = q.pool) < p.value) ORDER BY q.id LIMIT 1) "
	                 "RETURNING " QUEUE_COLUMNS,
	                 err) == -1)
		return -1;
	if (sqlu_exec(&s->c, "BEGIN IMMEDIATE", err, "starting a claim") == -1)
		return -1;
	sqlite3_bind_int64(*expire, 1, now);
	sqlite3_bind_int(*expire, 2, max_attempts);
	if (sqlu_step_done(&s->c, *expire, err, "re-queueing runs whose lease expired") == -1)
		goto out;
	sqlite3_bind_int64(*claim, 1, now);
	sqlu_bind_text(*claim, 2, worker);
	sqlite3_bind_int(*claim, 3, lease_s);
	sqlu_bind_text(*claim, 4, pools);
	if (step_one(s, *claim, out, NULL, err, "claiming a run") == -1)
		goto out;
	if (sqlu_exec(&s->c, "COMMIT", err, "committing a claim") == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1) {
		sqlu_rollback(&s->c);
		queue_run_free(*out);
		*out = NULL;
	}
	return ret;
}

static int
store_heartbeat(struct sq *s, int64_t id, const char *worker, int lease_s, int64_t now, int *held,
                int *cancel, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_HEARTBEAT];
	int64_t v = 0;
	int rc;

	if (sqlu_prepare(
	        &s->c, st,
	        "UPDATE queue_runs SET lease_until = ?3 + ?4 WHERE id = ?1 AND worker = ?2 "
	        "AND state = 'running' RETURNING cancel_requested",
	        err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	sqlu_bind_text(*st, 2, worker);
	sqlite3_bind_int64(*st, 3, now);
	sqlite3_bind_int(*st, 4, lease_s);
	rc = step_one(s, *st, NULL, &v, err, "renewing a lease");
	if (rc == -1)
		return -1;
	*held = rc;
	*cancel = rc && v != 0;
	return 0;
}

static int
store_append_log(struct sq *s, int64_t id, const char *text, size_t max, int *found,
                 struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_APPEND];

	/* Byte lengths (blobs): the tail kept is the last max bytes. */
	if (sqlu_prepare(&s->c, st,
	                 "UPDATE queue_runs SET log = CASE "
	                 "WHEN length(CAST(log AS BLOB)) + length(CAST(?2 AS BLOB)) > ?3 "
	                 "THEN CAST(substr(CAST(log || ?2 AS BLOB), -?3) AS TEXT) "
	                 "ELSE log || ?2 END WHERE id = ?1",
	                 err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	sqlu_bind_text(*st, 2, text);
	sqlite3_bind_int64(*st, 3, (int64_t)max);
	if (sqlu_step_done(&s->c, *st, err, "appending to a run's log") == -1)
		return -1;
	*found = sqlite3_changes(s->c.db) > 0;
	return 0;
}

static int
store_finish(struct sq *s, int64_t id, const char *worker, enum queue_state state, int exit_code,
             const char *error, int64_t now, int *held, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_FINISH];

	if (sqlu_prepare(
	        &s->c, st,
	        "UPDATE queue_runs SET state = ?3, exit_code = ?4, error = ?5, finished = ?6, "
	        "lease_until = 0 WHERE id = ?1 AND worker = ?2 AND state = 'running'",
	        err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	sqlu_bind_text(*st, 2, worker);
	sqlu_bind_text(*st, 3, queue_state_name(state));
	sqlite3_bind_int(*st, 4, exit_code);
	sqlu_bind_text(*st, 5, error);
	sqlite3_bind_int64(*st, 6, now);
	if (sqlu_step_done(&s->c, *st, err, "finishing a run") == -1)
		return -1;
	*held = sqlite3_changes(s->c.db) > 0;
	return 0;
}

static int
store_release(struct sq *s, int64_t id, const char *worker, int64_t now, int *held, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_RELEASE];

	if (sqlu_prepare(
	        &s->c, st,
	        "UPDATE queue_runs SET "
	        "state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, "
	        "finished = CASE WHEN cancel_requested THEN ?3 ELSE 0 END, "
	        "error = CASE WHEN cancel_requested "
	        "  THEN 'cancelled' || coalesce(' by ' || cancelled_by, '') ELSE error END, "
	        "attempts = max(attempts - 1, 0), worker = NULL, lease_until = 0 "
	        "WHERE id = ?1 AND worker = ?2 AND state = 'running'",
	        err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	sqlu_bind_text(*st, 2, worker);
	sqlite3_bind_int64(*st, 3, now);
	if (sqlu_step_done(&s->c, *st, err, "handing a run back") == -1)
		return -1;
	*held = sqlite3_changes(s->c.db) > 0;
	return 0;
}

static int
store_cancel(struct sq *s, int64_t id, int64_t now, const char *by, int *found,
             enum queue_state *state, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_CANCEL];
	struct queue_run *r = NULL;
	int rc;

	if (sqlu_prepare(&s->c, st,
	                 "UPDATE queue_runs SET "
	                 "state = CASE state WHEN 'queued' THEN 'cancelled' ELSE state END, "
	                 "finished = CASE state WHEN 'queued' THEN ?2 ELSE finished END, "
	                 "error = CASE state WHEN 'queued' THEN "
	                 "  'cancelled' || coalesce(' by ' || ?3, '') || ' before it started' "
	                 "  ELSE error END, "
	                 "cancelled_by = CASE WHEN state IN ('queued', 'running') THEN ?3 "
	                 "  ELSE cancelled_by END, "
	                 "cancel_requested = CASE state WHEN 'running' THEN 1 "
	                 "  ELSE cancel_requested END "
	                 "WHERE id = ?1 RETURNING " QUEUE_COLUMNS,
	                 err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	sqlite3_bind_int64(*st, 2, now);
	sqlu_bind_text(*st, 3, by);
	rc = step_one(s, *st, &r, NULL, err, "cancelling a run");
	if (rc == -1)
		return -1;
	*found = rc;
	if (r != NULL && state != NULL)
		*state = r->state;
	queue_run_free(r);
	return 0;
}

static int
store_get(struct sq *s, int64_t id, struct queue_run **out, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_GET];

	*out = NULL;
	if (sqlu_prepare(&s->c, st, "SELECT " QUEUE_COLUMNS " FROM queue_runs WHERE id = ?1",
	                 err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	return step_one(s, *st, out, NULL, err, "reading a run") == -1 ? -1 : 0;
}

static int
store_prune(struct sq *s, int64_t before, int *n, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_PRUNE];

	if (sqlu_prepare(&s->c, st,
	                 "DELETE FROM queue_runs WHERE state IN ('done', 'failed', 'cancelled') "
	                 "AND finished < ?1",
	                 err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, before);
	if (sqlu_step_done(&s->c, *st, err, "deleting old runs") == -1)
		return -1;
	*n = sqlite3_changes(s->c.db);
	return 0;
}

static int
store_list(struct sq *s, int active_only, int limit, struct queue_run **runs, size_t *n,
           struct err *err)
{
	sqlite3_stmt **st = &s->st[active_only ? QSTMT_LIST_ACTIVE : QSTMT_LIST];
	struct queue_run *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*runs = NULL;
	*n = 0;
	if (sqlu_prepare(&s->c, st,
	                 active_only ? "SELECT " QUEUE_COLUMNS " FROM queue_runs WHERE state IN "
	                               "('queued', 'running') ORDER BY id DESC LIMIT ?1"
	                             : "SELECT " QUEUE_COLUMNS " FROM queue_runs ORDER BY id DESC "
	                               "LIMIT ?1",
	                 err) == -1)
		return -1;
	sqlite3_bind_int(*st, 1, limit);
	while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		queue_row_read(*st, &v[len++]);
	}
	sqlite3_reset(*st);
	if (rc != SQLITE_DONE) {
		queue_runs_free(v, len);
		sqlu_error(&s->c, rc, err, "listing runs");
		return -1;
	}
	*runs = v;
	*n = len;
	return 0;
}

/* Record worker alive until alive_until in pool (a past time: it stopped). */
static int
store_beat(struct sq *s, const char *worker, const char *pool, int64_t alive_until, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_BEAT];

	if (sqlu_prepare(
	        &s->c, st,
	        "INSERT INTO queue_workers (worker, pool, alive_until) VALUES (?1, ?2, ?3) "
	        "ON CONFLICT (worker, pool) DO UPDATE SET alive_until = excluded.alive_until",
	        err) == -1)
		return -1;
	sqlu_bind_text(*st, 1, worker);
	sqlu_bind_text(*st, 2, pool);
	sqlite3_bind_int64(*st, 3, alive_until);
	return sqlu_step_done(&s->c, *st, err, "recording a worker's heartbeat");
}

/* Forget workers not seen since before. */
static int
store_beat_prune(struct sq *s, int64_t before, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_BEAT_PRUNE];

	if (sqlu_prepare(&s->c, st, "DELETE FROM queue_workers WHERE alive_until < ?1", err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, before);
	return sqlu_step_done(&s->c, *st, err, "forgetting old workers");
}

static int
store_pools(struct sq *s, int64_t now, struct queue_pool_stat **out, size_t *n, struct err *err)
{
	sqlite3_stmt **st = &s->st[QSTMT_POOLS];
	struct queue_pool_stat *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (sqlu_prepare(
	        &s->c, st,
	        "WITH p(pool) AS (SELECT pool FROM queue_runs WHERE state IN ('queued', 'running') "
	        "  UNION SELECT pool FROM queue_workers) "
	        "SELECT p.pool, "
	        "(SELECT count(*) FROM queue_workers w WHERE w.pool = p.pool "
	        "  AND w.alive_until >= ?1), "
	        "(SELECT count(*) FROM queue_runs r WHERE r.state = 'queued' AND r.pool = p.pool), "
	        "(SELECT count(*) FROM queue_runs r WHERE r.state = 'running' AND r.pool = p.pool) "
	        "FROM p ORDER BY p.pool",
	        err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, now);
	while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[len].name = sqlu_col_text(*st, 0);
		if (v[len].name == NULL)
			v[len].name = xstrdup(QUEUE_POOL_DEFAULT);
		v[len].workers = sqlite3_column_int(*st, 1);
		v[len].queued = sqlite3_column_int(*st, 2);
		v[len].running = sqlite3_column_int(*st, 3);
		len++;
	}
	sqlite3_reset(*st);
	if (rc != SQLITE_DONE) {
		queue_pool_stats_free(v, len);
		sqlu_error(&s->c, rc, err, "counting runs and workers per pool");
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

/*
 * ---- The backend ----
 */

/* The worker's pools as the JSON object the claim binds (names are [A-Za-z0-9_.-]). */
static char *
pools_json(const struct queue_pool_limit *pools, size_t npools)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_putc(&b, '{');
	for (size_t i = 0; i < npools; i++)
		buf_printf(&b, "%s\"%s\":%d", i > 0 ? "," : "", pools[i].name,
		           pools[i].max_running > 0 ? pools[i].max_running : 0);
	buf_putc(&b, '}');
	return buf_steal(&b);
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The id text as a rowid; -1 + err when it is not one of ours. */
static int
parse_id(const struct sq *s, const char *id, int64_t *out, struct err *err)
{
	char *end;
	long long v;

	errno = 0;
	v = id != NULL ? strtoll(id, &end, 10) : 0;
	if (id == NULL || errno != 0 || end == id || *end != '\0' || v <= 0) {
		err_set(err, "queue %s: no run '%s'", s->c.path, id != NULL ? id : "");
		return -1;
	}
	*out = v;
	return 0;
}

static void
sq_close(void *be)
{
	struct sq *s = be;

	for (int i = 0; i < QSTMT_MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlu_close(&s->c);
	if (s->ifd != -1)
		close(s->ifd);
	free(s);
}

int
queue_sqlite_open(const struct guiconf *gc, const char *catalog_dir, void **be, struct err *err)
{
	struct sq *s = xcalloc(1, sizeof *s);
	char *path;

	*be = NULL;
	s->ifd = -1;
	s->max_attempts = gc->max_attempts;
	path = fs_join(catalog_dir, QUEUE_SQLITE_FILE);
	sqlu_init(&s->c, "queue", path);
	free(path);
	if (fs_mkdir_p(catalog_dir, 0750, err) == -1 || store_open(s, err) == -1) {
		err_wrap(err, "queue (sqlite)");
		sq_close(s);
		return -1;
	}
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd != -1 &&
	    inotify_add_watch(s->ifd, catalog_dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) == -1) {
		close(s->ifd);
		s->ifd = -1;
	}
	*be = s;
	return 0;
}

static int
sq_enqueue(void *be, const struct queue_request *req, const char *key, char **id, int *existed,
           struct err *err)
{
	struct sq *s = be;
	int64_t v = 0;

	if (store_enqueue(s, req, key, now_s(), &v, existed, err) == -1)
		return -1;
	*id = xasprintf("%lld", (long long)v);
	return 0;
}

/* 1 when the queue database was written since the last call (events drained). */
static int
drain_events(struct sq *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	static const char wal[] = QUEUE_SQLITE_FILE "-wal";
	int hit = 0;
	ssize_t n;

	while ((n = read(s->ifd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len > 0 && (strcmp(ev->name, wal) == 0 ||
			                    strcmp(ev->name, QUEUE_SQLITE_FILE) == 0))
				hit = 1;
			p += sizeof *ev + ev->len;
		}
	}
	return hit;
}

/* Sleep until the queue database changes or ms pass. */
static void
wait_change(struct sq *s, int ms)
{
	int64_t until = now_ms() + ms;

	if (s->ifd == -1) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return;
	}
	for (;;) {
		struct pollfd pfd = { .fd = s->ifd, .events = POLLIN };
		int64_t left = until - now_ms();

		if (left <= 0)
			return;
		if (poll(&pfd, 1, (int)left) <= 0)
			return; /* timeout or a signal: let the caller look */
		if (drain_events(s))
			return;
	}
}

static int
sq_claim(void *be, const char *worker, const struct queue_pool_limit *pools, size_t npools,
         int lease_s, int wait_ms, struct queue_run **out, struct err *err)
{
	struct sq *s = be;
	int64_t deadline = now_ms() + (wait_ms > 0 ? wait_ms : 0);
	int pending = 1, ret = -1;
	char *pj = pools_json(pools, npools);

	if (s->ifd != -1)
		drain_events(s);
	if (now_s() - s->last_prune >= QUEUE_PRUNE_EVERY) {
		int n;

		s->last_prune = now_s();
		if (store_prune(s, s->last_prune - QUEUE_KEEP_SECONDS, &n, err) == -1 ||
		    store_beat_prune(s, s->last_prune - 86400, err) == -1)
			goto fail;
	}
	for (;;) {
		int64_t left;

		if (pending) {
			if (store_claim(s, worker, pj, lease_s, s->max_attempts, now_s(), out,
			                err) == -1)
				goto fail;
			if (*out != NULL)
				break;
		}
		left = deadline - now_ms();
		if (left <= 0)
			break;
		wait_change(s, left < QUEUE_SQLITE_IDLE_MS ? (int)left : QUEUE_SQLITE_IDLE_MS);
		if (store_pending(s, pj, now_s(), &pending, err) == -1)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	err_wrap(err, "queue (sqlite)");
out:
	free(pj);
	return ret;
}

static int
sq_worker_beat(void *be, const char *worker, const char *const *pools, size_t npools, int ttl_s,
               struct err *err)
{
	struct sq *s = be;
	int64_t until = ttl_s > 0 ? now_s() + ttl_s : now_s() - 1;

	if (sqlu_exec(&s->c, "BEGIN IMMEDIATE", err, "starting a worker heartbeat") == -1)
		goto fail;
	for (size_t i = 0; i < npools; i++)
		if (store_beat(s, worker, pools[i], until, err) == -1) {
			sqlu_rollback(&s->c);
			goto fail;
		}
	if (sqlu_exec(&s->c, "COMMIT", err, "committing a worker heartbeat") == -1) {
		sqlu_rollback(&s->c);
		goto fail;
	}
	return 0;
fail:
	err_wrap(err, "queue (sqlite)");
	return -1;
}

static int
sq_pools(void *be, struct queue_pool_stat **out, size_t *n, struct err *err)
{
	struct sq *s = be;

	if (store_pools(s, now_s(), out, n, err) == -1) {
		err_wrap(err, "queue (sqlite)");
		return -1;
	}
	return 0;
}

static int
not_held(const struct sq *s, const char *id, const char *worker, struct err *err)
{
	err_set(err, "queue %s: run %s is not running under worker %s", s->c.path, id, worker);
	return -1;
}

static int
sq_heartbeat(void *be, const char *id, const char *worker, int lease_s, int *cancel,
             struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int held;

	if (parse_id(s, id, &v, err) == -1 ||
	    store_heartbeat(s, v, worker, lease_s, now_s(), &held, cancel, err) == -1)
		return -1;
	return held ? 0 : not_held(s, id, worker, err);
}

static int
sq_append_log(void *be, const char *id, const char *text, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int found;

	if (parse_id(s, id, &v, err) == -1 ||
	    store_append_log(s, v, text, QUEUE_LOG_MAX, &found, err) == -1)
		return -1;
	if (!found) {
		err_set(err, "queue %s: no run '%s'", s->c.path, id);
		return -1;
	}
	return 0;
}

static int
sq_finish(void *be, const char *id, const char *worker, enum queue_state state, int exit_code,
          const char *error, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int held;

	if (parse_id(s, id, &v, err) == -1 ||
	    store_finish(s, v, worker, state, exit_code, error, now_s(), &held, err) == -1)
		return -1;
	return held ? 0 : not_held(s, id, worker, err);
}

static int
sq_release(void *be, const char *id, const char *worker, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int held;

	if (parse_id(s, id, &v, err) == -1 ||
	    store_release(s, v, worker, now_s(), &held, err) == -1)
		return -1;
	return held ? 0 : not_held(s, id, worker, err);
}

static int
sq_cancel(void *be, const char *id, const char *by, int *found, enum queue_state *state,
          struct err *err)
{
	struct sq *s = be;
	int64_t v;
	struct err ignored;

	if (parse_id(s, id, &v, &ignored) == -1)
		return 0; /* not an id of ours: not found */
	return store_cancel(s, v, now_s(), by, found, state, err);
}

static int
sq_get(void *be, const char *id, struct queue_run **out, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	struct err ignored;

	if (parse_id(s, id, &v, &ignored) == -1)
		return 0;
	return store_get(s, v, out, err);
}

static int
sq_list(void *be, int active_only, int limit, struct queue_run **runs, size_t *n, struct err *err)
{
	struct sq *s = be;

	return store_list(s, active_only, limit, runs, n, err);
}

const struct queue_ops queue_sqlite_ops = {
	.name = "sqlite",
	.enqueue = sq_enqueue,
	.claim = sq_claim,
	.heartbeat = sq_heartbeat,
	.append_log = sq_append_log,
	.finish = sq_finish,
	.release = sq_release,
	.cancel = sq_cancel,
	.get = sq_get,
	.list = sq_list,
	.close = sq_close,
	.worker_beat = sq_worker_beat,
	.pools = sq_pools,
};
