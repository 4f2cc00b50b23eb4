/*
 * The catalog: the record of every run, the original's single `stats`
 * table with its exact columns and indexes, so old databases open
 * unchanged and old tools read new ones; plus the alert state.
 *
 * This header is the catalog's whole interface; catalog.c dispatches each
 * call to a backend picked by the address given to catalog_open(): a
 * plain path or a "sqlite:" URI opens the SQLite backend
 * (catalog_sqlite.c, {backup_base_dir}/log/tisbackup.sqlite in WAL mode
 * with a busy timeout, so the web UI, checknagios and several runs share
 * it). SQL lives only in the backends; see docs/catalog.md.
 */
#ifndef TB_CATALOG_H
#define TB_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CATALOG_NULL INT64_MIN /* an INT column holding NULL */

/*
 * The schema has no column for "finished, but incomplete": an OK row whose
 * log contains this text (rsync exit 23) is a partial backup, which
 * cleanup never counts as the one good backup to keep.
 */
#define CATALOG_LOG_PARTIAL "(partial transfer)"

struct buf;
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
	char *type; /* BACKUP, EXPORT, RESTORE, CLEAN */
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
 * set WAL) the catalog at address: a plain path (of an SQLite file), or a
 * URI whose scheme names the backend: "sqlite:/path", "sqlite:///path"
 * (percent-escapes decoded). Whatever starts like a scheme ("word:") is
 * a URI, so a relative path with a colon is written "./a:b". An unknown
 * scheme is an error naming it and the known ones (never the rest of the
 * address, which may hold a password). *out is freed with catalog_close().
 */
int catalog_open(const char *address, enum catalog_mode mode, struct catalog **out,
                 struct err *err);
void catalog_close(struct catalog *cat);
/*
 * Promise that this process uses catalogs from one thread only (a
 * one-shot command such as checknagios): SQLite then takes none of its
 * locks (about 1.5M instructions of a 200-job check) and keeps no memory
 * statistics, and its read-only connections keep a small page cache (a
 * one-shot read needs each page once; fewer fresh pages, fewer page
 * faults: 540 -> 297 for a 200-job check). Call before the
 * first catalog or queue is opened; later it changes nothing. Never in a
 * process with worker or server threads.
 */
void catalog_single_threaded(void);
/* Append the names of the backends (their URI schemes), separated by sep, to out. */
void catalog_backend_names(struct buf *out, const char *sep);
/*
 * The address catalog_open() takes for a configuration: url ([catalog]
 * url) when set, with password_file ([catalog] password_file, a path, not
 * a secret) added as its password_file= parameter, else the SQLite file
 * {base_dir}/log/tisbackup.sqlite. Caller frees.
 */
char *catalog_address(const char *base_dir, const char *url, const char *password_file);
/*
 * Copy every stats row of the catalog at from (opened read-only) that the
 * catalog at to lacks (catalog_migrate.c): rows are matched by content, so
 * a second run copies nothing. The copy is one transaction; then to is
 * read again and must hold every source row. *nsource = the source's
 * rows, *copied = those inserted now. The run_host rows of the source
 * (where each run ran) are copied for the destination rows that hold
 * their stats rows, and verified too: *nhosts = how many. 0 or -1 + err
 * (to unchanged when the copy failed).
 */
int catalog_migrate(const char *from, const char *to, size_t *nsource, size_t *copied,
                    size_t *nhosts, struct err *err);

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
 * What catalog_last_rows_each() hands over for names[i]: its rows, newest
 * first, valid only during the call (the catalog frees them after).
 */
typedef void (*catalog_rows_fn)(void *arg, size_t i, const struct catalog_row *rows, size_t n);

/*
 * catalog_last_rows(cat, names[i], type, "backup_start", limit, ...) for
 * every i < n at once: fn(arg, i, rows, nrows) is called once for each i,
 * in order, with the last `limit` rows of names[i] (limit > 0), newest
 * backup_start first, ties broken by rowid, newest first (nrows 0 when it
 * has none). All are read in one read transaction, one consistent view,
 * and in the SQLite backend one query: what checknagios needs for
 * hundreds of jobs (up to 900 jobs' rows in memory at a time). On failure
 * (-1 + err) fn may have been called for the first few names only.
 */
int catalog_last_rows_each(struct catalog *cat, const char *const *names, size_t n,
                           const char *type, int limit, catalog_rows_fn fn, void *arg,
                           struct err *err);

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
	/*
	 * Keyset paging (catalog_find only): when after_rowid > 0, only the
	 * rows that come after the row (after_start, after_rowid) in the
	 * list's order (after_start NULL: that row's backup_start was NULL),
	 * read as an index range, not by skipping rows; offset is then
	 * ignored. A row added later before that point is not returned.
	 */
	int64_t after_rowid;
	const char *after_start;
};

/* Rows matching f; *rows is freed with catalog_rows_free(). 0 or -1 + err. */
int catalog_find(struct catalog *cat, const struct catalog_filter *f, struct catalog_row **rows,
                 size_t *n, struct err *err);
/* How many rows match f (limit, offset and the after_ keyset ignored). 0 or -1 + err. */
int catalog_count(struct catalog *cat, const struct catalog_filter *f, int64_t *count,
                  struct err *err);
/*
 * ---- Every job at once (the web's /metrics and /api/v1/jobs) ----
 * Both read the whole of stats in one query (no index of the original's
 * serves them), and are remembered per catalog_version(): asked again
 * with no commit since (and not inside this handle's transaction), the
 * answer is a copy of the last one, read from no table. The version is
 * read before the query, so a commit racing it makes the next call read
 * again.
 */

/* How many finished rows one job has of one TYPE and status. Strings owned. */
struct catalog_run_count {
	char *backup_name;
	char *type;
	char *status; /* never NULL nor "Running" */
	int64_t count;
};

/*
 * The finished rows (status neither NULL nor "Running") of every job
 * counted by (backup_name, TYPE, status), one entry per group that has
 * rows, sorted by backup_name, then TYPE, then status (byte order); rows
 * with a NULL backup_name or TYPE are not counted. *counts is freed with
 * catalog_run_counts_free(). 0 or -1 + err.
 */
int catalog_run_counts(struct catalog *cat, struct catalog_run_count **counts, size_t *n,
                       struct err *err);
void catalog_run_counts_free(struct catalog_run_count *counts, size_t n);

/*
 * For every job that has one, its newest finished row (status neither
 * NULL nor "Running") of TYPE type: newest backup_start first (NULL
 * last), ties broken by rowid, newest first, as catalog_last_rows()
 * orders. One row per job, sorted by backup_name (byte order); rows with
 * a NULL backup_name are left out. *rows is freed with
 * catalog_rows_free(). 0 or -1 + err.
 */
int catalog_last_finished(struct catalog *cat, const char *type, struct catalog_row **rows,
                          size_t *n, struct err *err);

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
/*
 * Whether this handle's commits wait for the disk (on: the default) or not
 * (off): a commit made with it off is atomic and ordered like any other,
 * but a power failure (not a crash of the process) may lose it, until the
 * next durable commit on this database or a checkpoint makes it durable
 * too. A backup run records its Running row, where it runs, its alerts
 * and its disk-usage figures with it off, and its result with it on
 * (job.c, docs/architecture.md). A backend without the choice stays
 * durable (SQLite: synchronous NORMAL or FULL in WAL mode). 0 or -1 + err.
 */
int catalog_durable(struct catalog *cat, int on, struct err *err);

/*
 * Refresh the database's planner statistics after a bulk load (catalog
 * migrate): without them PostgreSQL plans checknagios' per-job reads on a
 * freshly copied catalog as if it were empty (5x slower at 100k rows)
 * until autovacuum gets to it. A backend that needs none does nothing.
 * Needs a read-write handle. 0 or -1 + err.
 */
int catalog_analyze(struct catalog *cat, struct err *err);

/* Set the TYPE of one row (cleanup marks removed backups CLEAN). 0 or -1 + err. */
int catalog_set_type(struct catalog *cat, int64_t rowid, const char *type, struct err *err);
/* *known = 1 if some row has backup_location == location. 0 or -1 + err. */
int catalog_location_known(struct catalog *cat, const char *location, int *known, struct err *err);

/*
 * A number that changes whenever the catalog's content may have changed
 * since the previous call on this handle: a commit by any other process
 * or connection, and this handle's own writes. Reads change nothing.
 * Values compare only between calls on the same open handle (another
 * handle, or this one reopened, counts differently); a change may be
 * spurious (a write rolled back), a commit is never missed. The web UI
 * keys its response cache on it. 0 or -1 + err.
 */
int catalog_version(struct catalog *cat, uint64_t *version, struct err *err);

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

/*
 * ---- Disk usage (diskusage.c) ----
 * Tables of our own next to stats (which stays untouched), created by a
 * migration recorded in `schema_versions(part TEXT PRIMARY KEY, version
 * INTEGER)` (part "disk_usage", version 1) on the first write:
 * `disk_usage`, one row per snapshot of a job plus one per job (snapshot
 * ""), and `disk_samples`, one row per day. docs/catalog.md has the
 * columns; docs/disk-space.md what the figures mean. A catalog without
 * them (never written since, or opened read-only) reads as empty.
 */

/* One row of disk_usage. Strings are owned by the row. */
struct catalog_du {
	char *backup_name;
	char *snapshot;       /* its name in the job folder; "" for the job's own row */
	int64_t bytes;        /* apparent size, every link counted (du -sb --count-links) */
	int64_t disk_bytes;   /* allocated (st_blocks * 512), every link counted */
	int64_t unique_bytes; /* what removing it would free (apparent); job row: each inode once */
	int64_t unique_disk_bytes; /* the same, allocated */
	int64_t files;             /* regular-file names */
	int64_t measured;          /* epoch seconds of the walk */
};

/* One row of disk_samples: the backup filesystem on one day. */
struct catalog_du_sample {
	char day[11];           /* YYYY-MM-DD, local time */
	int64_t used_bytes;     /* statvfs used */
	int64_t capacity_bytes; /* used + available to ordinary users */
};

/* Insert or replace the row (backup_name, snapshot) of disk_usage. 0 or -1 + err. */
int catalog_du_put(struct catalog *cat, const struct catalog_du *d, struct err *err);
/* Delete backup_name's row for snapshot, or all its rows when snapshot is NULL. 0 or -1 + err. */
int catalog_du_delete(struct catalog *cat, const char *backup_name, const char *snapshot,
                      struct err *err);
/*
 * The disk_usage rows of backup_name (NULL: of every job), ordered by
 * backup_name then snapshot (the job row "" first). *rows is freed with
 * catalog_du_free(). 0 or -1 + err.
 */
int catalog_du_find(struct catalog *cat, const char *backup_name, struct catalog_du **rows,
                    size_t *n, struct err *err);
void catalog_du_free(struct catalog_du *rows, size_t n);
/* Insert or replace the sample of s->day. 0 or -1 + err. */
int catalog_du_sample_put(struct catalog *cat, const struct catalog_du_sample *s, struct err *err);
/*
 * The samples from since_day (YYYY-MM-DD, included; NULL: all), oldest
 * first; *s is freed with free(). 0 or -1 + err.
 */
int catalog_du_samples(struct catalog *cat, const char *since_day, struct catalog_du_sample **s,
                       size_t *n, struct err *err);

/*
 * Every backup_name of the stats table, once each, sorted (the fleet
 * view: jobs of every configuration that writes to this catalog). *names
 * is freed with catalog_names_free(). 0 or -1 + err.
 */
int catalog_job_names(struct catalog *cat, char ***names, size_t *n, struct err *err);
void catalog_names_free(char **names, size_t n);

/*
 * ---- Where each run ran (runrec.c) ----
 * A side table of our own, `run_host(stats_id INTEGER PRIMARY KEY, host,
 * worker, pool, config)`, one row per stats row whose run recorded it
 * (stats_id is that row's rowid), created by a migration recorded in
 * schema_versions (part "run_host", version 1): in SQLite on the first
 * write, in PostgreSQL on a read-write open. stats stays untouched. A
 * catalog without the table (older, or opened read-only before any run
 * wrote one) reads as "no host known". docs/catalog.md has the columns.
 */

/* One row of run_host. Strings are owned by the row; NULL when unknown. */
struct catalog_run_host {
	int64_t stats_id; /* the stats row's rowid; 0 in an entry with no row */
	char *host;       /* gethostname() of the process that ran it */
	char *worker;     /* the queue worker's id (HOST:PID/SLOT) when queued, else NULL */
	char *pool;       /* the queue pool the run came from, else NULL */
	char *config;     /* the configuration file's path, as the run resolved it */
};

/* Insert or replace the row of h->stats_id (> 0). 0 or -1 + err. */
int catalog_run_host_put(struct catalog *cat, const struct catalog_run_host *h, struct err *err);
/*
 * The run_host rows of the stats rows ids[0..n-1]: out[i] (n entries,
 * zeroed by the call) gets the row of ids[i], or stays zeroed (stats_id
 * 0, strings NULL) when there is none. Free the entries with
 * catalog_run_hosts_clear(). 0 or -1 + err.
 */
int catalog_run_hosts(struct catalog *cat, const int64_t *ids, size_t n,
                      struct catalog_run_host *out, struct err *err);
/* Free the strings of out[0..n-1] (not out itself) and zero them. */
void catalog_run_hosts_clear(struct catalog_run_host *out, size_t n);

#endif
