/*
 * The catalog: {backup_base_dir}/log/tisbackup.sqlite, the original's
 * single `stats` table with its exact columns and indexes, so old
 * databases open unchanged and old tools read new ones. This module is the
 * only place with SQL. Opened in WAL mode with a busy timeout so the web
 * UI, checknagios and several runs share it.
 */
#ifndef TB_CATALOG_H
#define TB_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "util/err.h"

#define CATALOG_NULL INT64_MIN /* an INT column holding NULL */

/*
 * The schema has no column for "finished, but incomplete": an OK row whose
 * log contains this text (rsync exit 23) is a partial backup, which
 * cleanup never counts as the one good backup to keep.
 */
#define CATALOG_LOG_PARTIAL "(partial transfer)"

struct catalog;

/* One row of stats. Strings are owned by the row (NULL for SQL NULL). */
struct catalog_row {
	int64_t rowid;
	char *backup_name;
	char *server_name;
	char *description;
	char *backup_start; /* ISO local time */
	char *backup_end;
	double backup_duration;    /* hours; NAN when NULL */
	int64_t total_files_count; /* CATALOG_NULL when NULL */
	int64_t written_files_count;
	int64_t total_bytes;
	int64_t written_bytes;
	char *status; /* Running, OK, ERROR, ... */
	char *log;
	char *backup_location;
	char *type; /* BACKUP, EXPORT, CLEAN */
};

/* What catalog_finish() writes into a Running row. */
struct catalog_result {
	const char *status;     /* "OK" or "ERROR" */
	const char *backup_end; /* ISO */
	double duration_hours;
	int64_t total_files_count, written_files_count, total_bytes, written_bytes;
	const char *log;
	const char *backup_location; /* may be NULL */
};

enum catalog_mode {
	CATALOG_RW, /* create the file and the schema when missing */
	/*
	 * Never write rows or schema; err->code = ENOENT when the file is
	 * missing. SQLite may still create the -wal/-shm files of a WAL
	 * database; where it cannot, the file is read as immutable.
	 */
	CATALOG_RO,
};

/*
 * Open (and in RW mode create or upgrade: add TYPE to very old databases,
 * set WAL) the catalog at path. *out is freed with catalog_close().
 */
int catalog_open(const char *path, enum catalog_mode mode, struct catalog **out, struct err *err);
void catalog_close(struct catalog *cat);

/*
 * Insert a Running row; *rowid receives its rowid. Like the original,
 * backup_end starts equal to backup_start and log to "" (description NULL
 * is stored as "").
 */
int catalog_insert_running(struct catalog *cat, const char *backup_name, const char *server_name,
                           const char *description, const char *backup_start, const char *type,
                           const char *backup_location, int64_t *rowid, struct err *err);
/*
 * Update a row with the outcome of its run. CATALOG_NULL counts, a NAN
 * duration and NULL strings are stored as NULL. -1 if no row has rowid.
 */
int catalog_finish(struct catalog *cat, int64_t rowid, const struct catalog_result *res,
                   struct err *err);
/*
 * Mark every Running row of backup_name as ERROR with log, backup_end
 * now and the duration since its start (the caller holds the job's lock,
 * so no live process owns them). *count gets how many rows changed (may
 * be NULL).
 */
int catalog_repair_running(struct catalog *cat, const char *backup_name, const char *log,
                           int *count, struct err *err);
/*
 * The last `limit` rows of backup_name (NULL = every job), of the given
 * TYPE (NULL = any), newest first by order_col ("backup_start" or
 * "backup_end"; anything else is an error), ties broken by rowid, newest
 * first. A negative limit means no limit. *rows is freed with
 * catalog_rows_free(). A database still lacking TYPE (opened read-only,
 * never upgraded) reads as BACKUP rows.
 */
int catalog_last_rows(struct catalog *cat, const char *backup_name, const char *type,
                      const char *order_col, int limit, struct catalog_row **rows, size_t *n,
                      struct err *err);
void catalog_rows_free(struct catalog_row *rows, size_t n);

/*
 * Which rows catalog_find() and catalog_count() return. NULL / 0 fields
 * do not filter. Times are ISO strings compared as the catalog stores
 * them (string order is time order).
 */
struct catalog_filter {
	const char *backup_name;
	const char *type; /* TYPE */
	const char *status;
	const char *start_since;  /* backup_start >= */
	const char *start_before; /* backup_start < */
	int with_location;        /* only rows with a backup_location */
	int limit;                /* 0 = no limit */
	int offset;
	int oldest_first; /* default: newest backup_start first */
};

/* Rows matching f; *rows is freed with catalog_rows_free(). 0 or -1 + err. */
int catalog_find(struct catalog *cat, const struct catalog_filter *f, struct catalog_row **rows,
                 size_t *n, struct err *err);
/* How many rows match f (limit and offset ignored). 0 or -1 + err. */
int catalog_count(struct catalog *cat, const struct catalog_filter *f, int64_t *count,
                  struct err *err);
/* Insert a complete row (register_existing); *rowid may be NULL. 0 or -1 + err. */
int catalog_insert_row(struct catalog *cat, const struct catalog_row *r, int64_t *rowid,
                       struct err *err);
/*
 * Group several writes into one transaction (one fsync instead of one per
 * row): catalog_begin() takes the write lock (waiting up to the busy
 * timeout), catalog_commit() makes them durable, catalog_rollback()
 * drops them. 0 or -1 + err.
 */
int catalog_begin(struct catalog *cat, struct err *err);
int catalog_commit(struct catalog *cat, struct err *err);
void catalog_rollback(struct catalog *cat);

/* Set the TYPE of one row (cleanup marks removed backups CLEAN). 0 or -1 + err. */
int catalog_set_type(struct catalog *cat, int64_t rowid, const char *type, struct err *err);
/* *known = 1 if some row has backup_location == location. 0 or -1 + err. */
int catalog_location_known(struct catalog *cat, const char *location, int *known, struct err *err);

/*
 * ---- The run queue's store ----
 *
 * The SQLite queue backend (queue_sqlite.c) keeps its runs in their own
 * database, {catalog_dir}/tisbackup-queue.sqlite (table queue_runs), so
 * the busy queue never contends with the stats table; its SQL lives here
 * with the rest. A struct catalog opened with catalog_queue_open() only
 * takes the catalog_queue_* calls. Times are epoch seconds given by the
 * caller; ids are the table's AUTOINCREMENT rowids (never reused).
 * "held" outputs are 0 when the run is not running under worker.
 */

/* Open (creating the table and indexes when missing; WAL) the queue database at path. */
int catalog_queue_open(const char *path, struct catalog **out, struct err *err);
/*
 * In one IMMEDIATE transaction: the active run with key, else a new
 * queued run of req (*existed says which). 0 or -1 + err.
 */
int catalog_queue_enqueue(struct catalog *cat, const struct queue_request *req, const char *key,
                          int64_t now, int64_t *id, int *existed, struct err *err);
/* *pending = 1 when a run is queued or a lease has expired (a read; no lock). */
int catalog_queue_pending(struct catalog *cat, int64_t now, int *pending, struct err *err);
/*
 * In one IMMEDIATE transaction: runs whose lease expired go back to
 * queued (failed "worker lost N times" after max_attempts claims,
 * cancelled when a cancel was pending), then the oldest queued run
 * becomes worker's with a lease until now + lease_s (one UPDATE ...
 * RETURNING). *out = NULL when none is queued. 0 or -1 + err.
 */
int catalog_queue_claim(struct catalog *cat, const char *worker, int lease_s, int max_attempts,
                        int64_t now, struct queue_run **out, struct err *err);
/* Renew worker's lease on id; *cancel = cancel_requested. */
int catalog_queue_heartbeat(struct catalog *cat, int64_t id, const char *worker, int lease_s,
                            int64_t now, int *held, int *cancel, struct err *err);
/* Append text to id's log, keeping its last max bytes; *found = 0 for no such run. */
int catalog_queue_append_log(struct catalog *cat, int64_t id, const char *text, size_t max,
                             int *found, struct err *err);
/* End worker's run id in state (done, failed, cancelled). */
int catalog_queue_finish(struct catalog *cat, int64_t id, const char *worker,
                         enum queue_state state, int exit_code, const char *error, int64_t now,
                         int *held, struct err *err);
/* Hand worker's run id back: queued again, its attempt not counted (cancelled if one was asked). */
int catalog_queue_release(struct catalog *cat, int64_t id, const char *worker, int64_t now,
                          int *held, struct err *err);
/* queue_cancel() on the store. */
int catalog_queue_cancel(struct catalog *cat, int64_t id, int64_t now, int *found,
                         enum queue_state *state, struct err *err);
/* The run id, or *out = NULL. */
int catalog_queue_get(struct catalog *cat, int64_t id, struct queue_run **out, struct err *err);
/* Delete ended runs (done, failed, cancelled) that finished before before; *n = how many. */
int catalog_queue_prune(struct catalog *cat, int64_t before, int *n, struct err *err);
/* queue_list() on the store. */
int catalog_queue_list(struct catalog *cat, int active_only, int limit, struct queue_run **runs,
                       size_t *n, struct err *err);

/*
 * ---- Alert state (alert.c) ----
 * A table of our own, `alerts(backup_name TEXT PRIMARY KEY, last_state
 * TEXT, last_sent_epoch INTEGER)`, created on first use next to the
 * original's `stats`, which stays untouched (old tools ignore the extra
 * table). last_state is the last event sent: "failed" or "recovered".
 */

/*
 * The state of backup_name: *state gets a copy of last_state (caller
 * frees) or NULL when the job has no row, *sent its last_sent_epoch (0
 * when none). 0 or -1 + err.
 */
int catalog_alert_get(struct catalog *cat, const char *backup_name, char **state, int64_t *sent,
                      struct err *err);
/*
 * Compare-and-swap: set backup_name's state to (new_state, new_sent) only
 * if it still is (old_state, old_sent); old_state NULL means "no row yet",
 * new_state NULL deletes the row. *swapped = 1 when the row changed, 0
 * when another writer got there first. One statement, so atomic across
 * threads and processes. 0 or -1 + err.
 */
int catalog_alert_swap(struct catalog *cat, const char *backup_name, const char *old_state,
                       int64_t old_sent, const char *new_state, int64_t new_sent, int *swapped,
                       struct err *err);

#endif
