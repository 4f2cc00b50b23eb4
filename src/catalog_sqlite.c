/*
 * The catalog's SQLite backend (catalog_backend.h; catalog.h has the
 * contracts): {backup_base_dir}/log/tisbackup.sqlite, opened by a plain
 * path, "sqlite:/path" or "sqlite:///path".
 *
 * The schema is the original's, byte for byte where SQLite keeps the text,
 * so a database written here opens in the Python tool and the other way
 * round. Opening in RW mode creates or upgrades it inside one IMMEDIATE
 * transaction, and only when something is missing, so concurrent openers
 * (the web UI, checknagios, several runs) do not queue for the write lock
 * on every start. Statements are prepared once per connection and reused:
 * checknagios asks for the last rows of hundreds of jobs in a row, each an
 * index range scan on idx_stats_backup_name_start.
 *
 * Read-only opens go through a "file:...?mode=ro" URI. That reads a WAL
 * database whether or not its -wal/-shm files exist (SQLite creates them
 * when the last writer removed them, and uses existing ones read-only),
 * except when they are missing and cannot be created: a monitoring user
 * without write access to the log folder, or a disk full even for root.
 * Then no writer is running (it would hold them), and the open is retried
 * once as immutable, which SQLite reads without any side file.
 *
 * The version (catalog_version()) is PRAGMA data_version, which moves on
 * every commit by another connection, plus sqlite3_total_changes(), which
 * moves on every row this connection writes: together, every commit.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "catalog_backend.h"
#include "sqlite_util.h"
#include "util/buf.h"
#include "util/pct.h"
#include "util/xmalloc.h"

/* The original's CREATE statements, as it wrote them. */
static const char sql_create_table[] = "create table stats (\n"
                                       "  backup_name TEXT,\n"
                                       "  server_name TEXT,\n"
                                       "  description TEXT,\n"
                                       "  backup_start TEXT,\n"
                                       "  backup_end TEXT,\n"
                                       "  backup_duration NUMERIC,\n"
                                       "  total_files_count INT,\n"
                                       "  written_files_count INT,\n"
                                       "  total_bytes INT,\n"
                                       "  written_bytes INT,\n"
                                       "  status TEXT,\n"
                                       "  log TEXT,\n"
                                       "  backup_location TEXT,\n"
                                       "  TYPE TEXT)";
static const char sql_create_indexes[] =
    "create index if not exists idx_stats_backup_name on stats(backup_name);"
    "create index if not exists idx_stats_backup_location on stats(backup_location);"
    "create index if not exists idx_stats_backup_name_start on stats(backup_name,backup_start);";

#define ROW_COLUMNS                                                                                \
	"rowid, backup_name, server_name, description, backup_start, backup_end, "                 \
	"backup_duration, total_files_count, written_files_count, total_bytes, "                   \
	"written_bytes, status, log, backup_location"

/*
 * A count sq_count() made, valid while sq_version() answers the version
 * it was made at: no commit by anyone since, so the same rows (paging
 * through one filter counts once per commit instead of once per page).
 */
#define SQ_COUNT_MEMO_MAX 8
struct sq_count_memo {
	char *key;        /* the filter's WHERE clause and parameters; NULL when unused */
	uint64_t version; /* sq_version() before the count */
	int64_t count;
	uint64_t used; /* sqlcat.count_tick at the last use */
};

/* The private state catalog.c allocates (zeroed) for each open catalog. */
struct sqlcat {
	struct sqlu_db c;
	enum catalog_mode mode;
	int immutable; /* RO open fell back to immutable=1: SQLite sees no commit */
	uint64_t immutable_version;
	int has_type; /* stats has its TYPE column (always after a RW open) */
	sqlite3_stmt *insert;
	sqlite3_stmt *finish;
	sqlite3_stmt *repair;
	sqlite3_stmt *version;
	/* [order column][backup_name given][type given] */
	sqlite3_stmt *last[CATALOG_ORDER_MAX][2][2];
	struct sq_count_memo counts[SQ_COUNT_MEMO_MAX]; /* sq_count()'s recent answers */
	uint64_t count_tick;                            /* their last-use clock */
	int has_alerts; /* the alerts table exists (checked once per connection) */
	int du_state;   /* disk-usage tables: 0 not checked yet, 1 there, -1 absent (read-only) */
	int rh_state;   /* run_host, the same */
};

/*
 * What the schema lacks: *table = 1 when stats is missing, *type = 1 when
 * it has no TYPE column, *indexes = how many of the three are missing.
 */
static int
schema_probe(struct sqlcat *cat, int *table, int *type, int *indexes, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ncols = 0, found = 0, ret = -1;

	*table = *type = 0;
	*indexes = 3;
	rc = sqlite3_prepare_v2(cat->c.db, "SELECT name FROM pragma_table_info('stats')", -1, &st,
	                        NULL);
	if (rc != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		ncols++;
		if (name != NULL && strcasecmp(name, "TYPE") == 0)
			found = 1;
	}
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	*table = ncols == 0;
	*type = ncols != 0 && !found;

	rc = sqlite3_prepare_v2(
	    cat->c.db,
	    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
	    "('idx_stats_backup_name', 'idx_stats_backup_location', "
	    "'idx_stats_backup_name_start')",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		goto out;
	*indexes = 3 - sqlite3_column_int(st, 0);
	ret = 0;
out:
	if (ret == -1)
		sqlu_error(&cat->c, rc, err, "reading the schema");
	sqlite3_finalize(st);
	return ret;
}

/* Create or upgrade the schema, in one transaction, when something is missing. */
static int
schema_ensure(struct sqlcat *cat, struct err *err)
{
	int table, type, indexes, ret = -1;

	if (schema_probe(cat, &table, &type, &indexes, err) == -1)
		return -1;
	if (!table && !type && indexes == 0)
		return 0;

	if (sqlu_exec(&cat->c, "BEGIN IMMEDIATE", err, "starting the schema update") == -1)
		return -1;
	/* Another process may have done it while we waited for the lock. */
	if (schema_probe(cat, &table, &type, &indexes, err) == -1)
		goto out;
	if (table && sqlu_exec(&cat->c, sql_create_table, err, "creating table stats") == -1)
		goto out;
	if (type &&
	    (sqlu_exec(&cat->c, "alter table stats add column TYPE TEXT", err,
	               "adding column TYPE") == -1 ||
	     sqlu_exec(&cat->c, "update stats set TYPE='BACKUP'", err, "setting TYPE") == -1))
		goto out;
	if (sqlu_exec(&cat->c, sql_create_indexes, err, "creating indexes") == -1)
		goto out;
	if (sqlu_exec(&cat->c, "COMMIT", err, "committing the schema update") == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		sqlu_rollback(&cat->c);
	return ret;
}

/* "file:" URI for path, percent-encoding what a URI parser would eat. */
static char *
uri_for(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path), len = 0;
	char *uri = xmalloc(5 + n * 3 + strlen(query) + 2);

	memcpy(uri, "file:", 5);
	len = 5;
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p == 0x7f) {
			uri[len++] = '%';
			uri[len++] = hex[*p >> 4];
			uri[len++] = hex[*p & 0xf];
		} else
			uri[len++] = (char)*p;
	}
	uri[len++] = '?';
	memcpy(uri + len, query, strlen(query) + 1);
	return uri;
}

/*
 * Before a read-write open: check the existing database through a
 * read-only connection (PRAGMA quick_check), so that nothing is written to
 * a damaged file. A read-write connection would replay a stray -wal into
 * the database at its first checkpoint, and switching the journal mode
 * rewrites the header; both would destroy what the recovery in
 * docs/catalog.md still finds. 0 when the database is sound, missing, or
 * cannot be checked read-only for want of a side file (the read-write open
 * then reports what is wrong); -1 + err (code EBADMSG) when it is damaged;
 * -1 + err for anything else. A process checks a catalog once: the
 * workers of a run open it after the action did.
 */
static int
check_intact(struct sqlcat *cat, struct err *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *checked; /* the last path found sound */
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *uri = NULL, *why = NULL;
	struct stat sb;
	int rc, ret = -1;

	if (stat(cat->c.path, &sb) == -1 || sb.st_size == 0)
		return 0; /* created (or still empty): nothing to lose */
	pthread_mutex_lock(&lock);
	if (checked != NULL && strcmp(checked, cat->c.path) == 0) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	uri = uri_for(cat->c.path, "mode=ro");
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, SQLU_BUSY_MS);
		rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *r = (const char *)sqlite3_column_text(st, 0);

			if (r != NULL && strcmp(r, "ok") == 0)
				ret = 0;
			else
				why = xstrdup(r != NULL ? r : "no answer");
			rc = SQLITE_OK;
		}
	}
	switch (rc & 0xff) {
	case SQLITE_OK:
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		why = xstrdup(db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		break;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		/* A -shm it may not create (no right, no room): the read-write open decides. */
		ret = 0;
		break;
	default: {
		struct sqlu_db tmp = { .db = db, .kind = cat->c.kind, .path = cat->c.path };

		sqlu_error(&tmp, rc, err, "checking");
		break;
	}
	}
	if (why != NULL) {
		err_set(err,
		        "catalog %s: the catalog is damaged: see docs/catalog.md (recovery); "
		        "nothing was written to it (quick_check: %s)",
		        cat->c.path, why);
		if (err != NULL)
			err->code = EBADMSG;
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	free(why);
	free(uri);
	if (ret == 0 && rc == SQLITE_OK) {
		pthread_mutex_lock(&lock);
		free(checked);
		checked = xstrdup(cat->c.path);
		pthread_mutex_unlock(&lock);
	}
	return ret;
}

/*
 * Open the connection; for RO, check it can actually read (a WAL database
 * may need side files it cannot create) and fall back to immutable.
 */
/*
 * catalog_sqlite_single_threaded() was called: a one-shot check that
 * reads each page once. Its read-only connections keep ONE_SHOT_CACHE_PAGES
 * pages (the B-tree's inner pages and the pages in use; 200 jobs read 258
 * pages without reading one twice) instead of SQLite's 2 MB: a page cache
 * that recycles its buffers touches a few fresh memory pages instead of
 * one per page read, and each first touch is a page fault (tens of
 * microseconds in a VM).
 */
#define ONE_SHOT_CACHE_PAGES "16"
static int one_shot;

static int
open_db(struct sqlcat *cat, struct err *err)
{
	static const char *ro_queries[] = { "mode=ro", "mode=ro&immutable=1" };
	char *uri = NULL;
	int rc, ret = -1;

	if (cat->mode == CATALOG_RW)
		return check_intact(cat, err) == -1 ? -1 : sqlu_open_rw(&cat->c, err);

	for (size_t i = 0; i < sizeof ro_queries / sizeof ro_queries[0]; i++) {
		free(uri);
		uri = uri_for(cat->c.path, ro_queries[i]);
		if (cat->c.db != NULL) {
			sqlite3_close_v2(cat->c.db);
			cat->c.db = NULL;
		}
		rc = sqlite3_open_v2(uri, &cat->c.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
		if (rc != SQLITE_OK) {
			sqlu_error(&cat->c, rc, err, "opening read-only");
			continue;
		}
		sqlite3_busy_timeout(cat->c.db, SQLU_BUSY_MS);
		if (one_shot)
			(void)sqlite3_exec(cat->c.db, "PRAGMA cache_size=" ONE_SHOT_CACHE_PAGES,
			                   NULL, NULL, NULL);
		/* Reading the schema is the first access that needs the WAL index. */
		rc =
		    sqlite3_exec(cat->c.db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			if (i > 0)
				err_clear(err);
			cat->immutable = i > 0;
			ret = 0;
			goto out;
		}
		sqlu_error(&cat->c, rc, err, "reading");
		/*
		 * Only a side file we may not create is worth the retry: no
		 * permission (READONLY, CANTOPEN), or no room for it on a full
		 * disk (IOERR). Either way it does not exist, so no writer has
		 * the database open and an immutable read is consistent.
		 */
		if ((rc & 0xff) != SQLITE_READONLY && (rc & 0xff) != SQLITE_CANTOPEN &&
		    (rc & 0xff) != SQLITE_IOERR)
			goto out;
	}
out:
	free(uri);
	return ret;
}

/*
 * The file a names: a plain path as it is; "sqlite:" + path or
 * "sqlite://" + "/absolute/path", percent-escapes decoded. NULL + err for
 * a host, a query, a fragment, a bad escape or no path at all. Messages
 * do not repeat the address.
 */
static char *
address_path(const struct catalog_address *a, struct err *err)
{
	const char *p = a->rest;
	char *path;

	if (p == NULL)
		return xstrdup(a->text);
	if (strncmp(p, "//", 2) == 0) {
		p += 2;
		if (*p != '/') {
			err_set(err, "catalog address: a sqlite: URI names no host (write "
			             "sqlite:///absolute/path or sqlite:/absolute/path)");
			return NULL;
		}
	}
	if (*p == '\0' || strpbrk(p, "?#") != NULL) {
		err_set(err,
		        "catalog address: a sqlite: URI is sqlite:PATH or sqlite:///PATH, "
		        "without %s",
		        *p == '\0' ? "an empty path"
		                   : "a query or fragment (? and # are %3F and %23)");
		return NULL;
	}
	if ((path = pct_decode_strict(p, strlen(p))) == NULL)
		err_set(err, "catalog address: a sqlite: URI has a bad %%-escape (%%XX, not %%00)");
	return path;
}

void
catalog_sqlite_single_threaded(void)
{
	/* SQLITE_MISUSE once SQLite is initialised: then nothing changes. */
	(void)sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/*
	 * No page cache slots allocated ahead: SQLite otherwise writes a
	 * header into each of 20 page buffers per cache when the cache is
	 * made (about 40 fresh memory pages, each a page fault), while the
	 * one-shot read keeps ONE_SHOT_CACHE_PAGES pages, allocated as read.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	one_shot = 1;
}

static int
sq_open(void *priv, const struct catalog_address *a, enum catalog_mode mode, struct err *err)
{
	struct sqlcat *cat = priv;
	struct stat sb;
	char *path;
	int table, type, indexes;

	path = address_path(a, err);
	if (path == NULL)
		return -1;
	sqlu_init(&cat->c, "catalog", path);
	free(path);
	cat->mode = mode;

	if (mode == CATALOG_RO && stat(cat->c.path, &sb) == -1) {
		int saved = errno;

		err_sys(err, saved, "catalog %s", cat->c.path);
		if (err != NULL)
			err->code = saved;
		return -1;
	}
	if (open_db(cat, err) == -1)
		return -1;

	if (mode == CATALOG_RW) {
		/* On a filesystem without shared memory this stays in its old mode. */
		if (sqlu_exec(&cat->c, "PRAGMA journal_mode=WAL", err, "setting WAL mode") == -1)
			return -1;
		if (schema_ensure(cat, err) == -1)
			return -1;
		cat->has_type = 1;
	} else {
		if (schema_probe(cat, &table, &type, &indexes, err) == -1)
			return -1;
		if (table) {
			err_set(err, "catalog %s: no table stats", cat->c.path);
			/* An empty database (made 0660 ahead): no catalog yet. */
			err->code = ENOENT;
			return -1;
		}
		cat->has_type = !type;
	}
	return 0;
}

static void
sq_close(void *priv)
{
	struct sqlcat *cat = priv;

	sqlite3_finalize(cat->insert);
	sqlite3_finalize(cat->finish);
	sqlite3_finalize(cat->repair);
	sqlite3_finalize(cat->version);
	for (int o = 0; o < CATALOG_ORDER_MAX; o++)
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				sqlite3_finalize(cat->last[o][i][j]);
	for (size_t i = 0; i < SQ_COUNT_MEMO_MAX; i++)
		free(cat->counts[i].key);
	sqlu_close(&cat->c);
}

static const char *
sq_label(const void *priv)
{
	const struct sqlcat *cat = priv;

	return cat->c.path != NULL ? cat->c.path : "(sqlite)";
}

static void
bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == CATALOG_NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static void
bind_double(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static int
sq_insert_running(void *priv, const char *backup_name, const char *server_name,
                  const char *description, const char *backup_start, const char *type,
                  const char *backup_location, int64_t *rowid, struct err *err)
{
	struct sqlcat *cat = priv;
	/*
	 * Like the original, backup_end starts equal to backup_start, so old
	 * tools that parse backup_end of every row keep working.
	 */
	static const char sql[] =
	    "INSERT INTO stats (backup_name, server_name, description, backup_start, "
	    "backup_end, status, log, backup_location, TYPE) "
	    "VALUES (?1, ?2, ?3, ?4, ?4, 'Running', '', ?5, ?6)";

	if (sqlu_prepare(&cat->c, &cat->insert, sql, err) == -1)
		return -1;
	sqlu_bind_text(cat->insert, 1, backup_name);
	sqlu_bind_text(cat->insert, 2, server_name);
	sqlu_bind_text(cat->insert, 3, description != NULL ? description : "");
	sqlu_bind_text(cat->insert, 4, backup_start);
	sqlu_bind_text(cat->insert, 5, backup_location);
	sqlu_bind_text(cat->insert, 6, type);
	if (sqlu_step_done(&cat->c, cat->insert, err, "inserting a Running row") == -1)
		return -1;
	if (rowid != NULL)
		*rowid = sqlite3_last_insert_rowid(cat->c.db);
	return 0;
}

static int
sq_finish(void *priv, int64_t rowid, const struct catalog_result *res, struct err *err)
{
	struct sqlcat *cat = priv;
	static const char sql[] =
	    "UPDATE stats SET total_files_count = ?1, written_files_count = ?2, "
	    "total_bytes = ?3, written_bytes = ?4, log = ?5, status = ?6, backup_end = ?7, "
	    "backup_duration = ?8, backup_location = ?9 WHERE rowid = ?10";

	if (sqlu_prepare(&cat->c, &cat->finish, sql, err) == -1)
		return -1;
	bind_int(cat->finish, 1, res->total_files_count);
	bind_int(cat->finish, 2, res->written_files_count);
	bind_int(cat->finish, 3, res->total_bytes);
	bind_int(cat->finish, 4, res->written_bytes);
	sqlu_bind_text(cat->finish, 5, res->log);
	sqlu_bind_text(cat->finish, 6, res->status);
	sqlu_bind_text(cat->finish, 7, res->backup_end);
	bind_double(cat->finish, 8, res->duration_hours);
	sqlu_bind_text(cat->finish, 9, res->backup_location);
	sqlite3_bind_int64(cat->finish, 10, rowid);
	if (sqlu_step_done(&cat->c, cat->finish, err, "recording the end of a run") == -1)
		return -1;
	if (sqlite3_changes(cat->c.db) == 0) {
		err_set(err, "catalog %s: no row %lld to record the end of a run in", cat->c.path,
		        (long long)rowid);
		return -1;
	}
	return 0;
}

static int
sq_repair_running(void *priv, const char *backup_name, const char *log, const char *now, int *count,
                  struct err *err)
{
	struct sqlcat *cat = priv;
	/* julianday() reads both ISO forms; the duration is in hours. */
	static const char sql[] =
	    "UPDATE stats SET status = 'ERROR', log = ?1, backup_end = ?2, "
	    "backup_duration = (julianday(?2) - julianday(backup_start)) * 24.0 "
	    "WHERE backup_name = ?3 AND status = 'Running'";

	if (sqlu_prepare(&cat->c, &cat->repair, sql, err) == -1)
		return -1;
	sqlu_bind_text(cat->repair, 1, log);
	sqlu_bind_text(cat->repair, 2, now);
	sqlu_bind_text(cat->repair, 3, backup_name);
	if (sqlu_step_done(&cat->c, cat->repair, err, "repairing Running rows") == -1)
		return -1;
	*count = sqlite3_changes(cat->c.db);
	return 0;
}

static int64_t
col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return CATALOG_NULL;
	return sqlite3_column_int64(st, i);
}

/* The row whose ROW_COLUMNS, then TYPE, start at column c of st. */
static void
row_read_at(sqlite3_stmt *st, int c, struct catalog_row *r)
{
	r->rowid = sqlite3_column_int64(st, c);
	r->backup_name = sqlu_col_text(st, c + 1);
	r->server_name = sqlu_col_text(st, c + 2);
	r->description = sqlu_col_text(st, c + 3);
	r->backup_start = sqlu_col_text(st, c + 4);
	r->backup_end = sqlu_col_text(st, c + 5);
	r->backup_duration =
	    sqlite3_column_type(st, c + 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c + 6);
	r->total_files_count = col_int(st, c + 7);
	r->written_files_count = col_int(st, c + 8);
	r->total_bytes = col_int(st, c + 9);
	r->written_bytes = col_int(st, c + 10);
	r->status = sqlu_col_text(st, c + 11);
	r->log = sqlu_col_text(st, c + 12);
	r->backup_location = sqlu_col_text(st, c + 13);
	r->type = sqlu_col_text(st, c + 14);
}

static void
row_read(sqlite3_stmt *st, struct catalog_row *r)
{
	row_read_at(st, 0, r);
}

static sqlite3_stmt **last_rows_stmt(struct sqlcat *cat, const char *backup_name, const char *type,
                                     enum catalog_order order, int limit, struct err *err);

/* sq_last_rows(), a failed step reported as `what`. */
static int
last_rows_read(struct sqlcat *cat, const char *backup_name, const char *type,
               enum catalog_order order, int limit, struct catalog_row **rows, size_t *n,
               const char *what, struct err *err)
{
	struct catalog_row *r = NULL;
	sqlite3_stmt **st;
	size_t len = 0, cap = 0;
	int rc, ret = -1;

	if ((st = last_rows_stmt(cat, backup_name, type, order, limit, err)) == NULL)
		return -1;
	while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			r = xrealloc(r, cap * sizeof *r);
		}
		row_read(*st, &r[len++]);
	}
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, what);
		goto out;
	}
	ret = 0;
out:
	sqlite3_reset(*st);
	if (ret == -1) {
		catalog_rows_free(r, len);
		return -1;
	}
	*rows = r;
	*n = len;
	return 0;
}

/*
 * The statement of last_rows_read() (prepared once per catalog), reset
 * and bound: backup_name and type when not NULL, limit. NULL + err when
 * it cannot be prepared.
 */
static sqlite3_stmt **
last_rows_stmt(struct sqlcat *cat, const char *backup_name, const char *type,
               enum catalog_order order, int limit, struct err *err)
{
	static const char *const order_sql[CATALOG_ORDER_MAX] = { "backup_start", "backup_end" };
	sqlite3_stmt **st;
	int hn = backup_name != NULL, ht = type != NULL, rc;

	st = &cat->last[order][hn][ht];
	if (*st == NULL) {
		/*
		 * "backup_name = ? ORDER BY backup_start DESC, rowid DESC" walks
		 * idx_stats_backup_name_start backwards (rowid is the index's
		 * last key): no sort, only `limit` rows read. A database still
		 * without TYPE (opened read-only, never upgraded) reads as
		 * BACKUP rows, as the upgrade would make them.
		 */
		const char *type_col = cat->has_type ? "TYPE" : "'BACKUP'";
		char *sql;

		sql = xasprintf("SELECT " ROW_COLUMNS ", %s FROM stats%s%s%s%s "
		                "ORDER BY %s DESC, rowid DESC LIMIT ?3",
		                type_col, hn || ht ? " WHERE " : "", hn ? "backup_name = ?1" : "",
		                hn && ht ? " AND " : "",
		                ht ? (cat->has_type ? "TYPE = ?2" : "'BACKUP' = ?2") : "",
		                order_sql[order]);
		rc = sqlu_prepare(&cat->c, st, sql, err);
		free(sql);
		if (rc == -1)
			return NULL;
	} else {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
	if (hn)
		sqlu_bind_text(*st, 1, backup_name);
	if (ht)
		sqlu_bind_text(*st, 2, type);
	sqlite3_bind_int(*st, 3, limit);
	return st;
}

static int
sq_last_rows(void *priv, const char *backup_name, const char *type, enum catalog_order order,
             int limit, struct catalog_row **rows, size_t *n, struct err *err)
{
	return last_rows_read(priv, backup_name, type, order, limit, rows, n, "reading rows", err);
}

/*
 * The text columns of a row (ROW_COLUMNS, then TYPE) and where they go:
 * row_read_packed() copies them into one buffer for all the rows of a
 * job (one growing allocation instead of nine per row), packed_fix()
 * points the rows into it once it no longer moves.
 */
#define PACKED_TEXTS 9
static const struct {
	int col;
	size_t field; /* offsetof a char * of struct catalog_row */
} packed_texts[PACKED_TEXTS] = {
	{ 1, offsetof(struct catalog_row, backup_name) },
	{ 2, offsetof(struct catalog_row, server_name) },
	{ 3, offsetof(struct catalog_row, description) },
	{ 4, offsetof(struct catalog_row, backup_start) },
	{ 5, offsetof(struct catalog_row, backup_end) },
	{ 11, offsetof(struct catalog_row, status) },
	{ 12, offsetof(struct catalog_row, log) },
	{ 13, offsetof(struct catalog_row, backup_location) },
	{ 14, offsetof(struct catalog_row, type) },
};
#define PACKED_NULL ((size_t)-1)

/* row_read_at(st, 0, r), the texts appended to texts (their offsets in off). */
static void
row_read_packed(sqlite3_stmt *st, struct catalog_row *r, size_t off[PACKED_TEXTS],
                struct buf *texts)
{
	r->rowid = sqlite3_column_int64(st, 0);
	r->backup_duration =
	    sqlite3_column_type(st, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 6);
	r->total_files_count = col_int(st, 7);
	r->written_files_count = col_int(st, 8);
	r->total_bytes = col_int(st, 9);
	r->written_bytes = col_int(st, 10);
	for (size_t t = 0; t < PACKED_TEXTS; t++) {
		int c = packed_texts[t].col;
		const unsigned char *s;

		*(char **)((char *)r + packed_texts[t].field) = NULL;
		if (sqlite3_column_type(st, c) == SQLITE_NULL) {
			off[t] = PACKED_NULL;
			continue;
		}
		s = sqlite3_column_text(st, c);
		off[t] = texts->len;
		/* Cannot fail: the limit is SIZE_MAX (xrealloc aborts on no memory). */
		(void)buf_append(texts, s, (size_t)sqlite3_column_bytes(st, c));
		(void)buf_putc(texts, '\0');
	}
}

/* Point the text fields of rows[0..n-1] into texts (offsets in offs). */
static void
packed_fix(struct catalog_row *rows, size_t (*offs)[PACKED_TEXTS], size_t n,
           const struct buf *texts)
{
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < PACKED_TEXTS; t++)
			*(char **)((char *)&rows[i] + packed_texts[t].field) =
			    offs[i][t] == PACKED_NULL ? NULL : texts->data + offs[i][t];
}

/*
 * ---------------------------------------------------- last_rows_many
 * checknagios's read: the newest rows of hundreds of jobs in one read
 * transaction (one snapshot, one lock), through sq_last_rows()'s statement,
 * prepared once and stepped per job: each step walks
 * idx_stats_backup_name_start backwards for that job's `limit` rows, no
 * sort. One big statement listing every job in a VALUES clause cost more
 * to compile (200 jobs: 2.5M instructions) than all the steps together.
 * A job's rows and their texts are read into two buffers reused from job
 * to job (row_read_packed()), not nine allocations per row.
 */
static int
sq_last_rows_each(void *priv, const char *const *names, size_t n, const char *type, int limit,
                  catalog_rows_fn fn, void *arg, struct err *err)
{
	struct sqlcat *cat = priv;
	int own_txn = sqlite3_get_autocommit(cat->c.db);
	struct catalog_row *rows = NULL;
	size_t(*offs)[PACKED_TEXTS] = NULL, cap = 0;
	struct buf texts;
	int ret = -1;

	if (own_txn && sqlu_exec(&cat->c, "BEGIN", err, "starting a read") == -1)
		return -1;
	/* Held once for the whole read (it is recursive), not per column read. */
	sqlite3_mutex_enter(sqlite3_db_mutex(cat->c.db));
	buf_init(&texts, SIZE_MAX);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt **st;
		size_t len = 0;
		int rc;

		st = last_rows_stmt(cat, names[i], type, CATALOG_ORDER_START, limit, err);
		if (st == NULL)
			goto out;
		buf_reset(&texts);
		while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
			if (len == cap) {
				cap = cap == 0 ? 32 : cap * 2;
				rows = xrealloc(rows, cap * sizeof *rows);
				offs = xrealloc(offs, cap * sizeof *offs);
			}
			row_read_packed(*st, &rows[len], offs[len], &texts);
			len++;
		}
		sqlite3_reset(*st);
		if (rc != SQLITE_DONE) {
			sqlu_error(&cat->c, rc, err, "reading the newest rows of each job");
			goto out;
		}
		packed_fix(rows, offs, len, &texts);
		fn(arg, i, rows, len);
	}
	ret = 0;
out:
	free(rows);
	free(offs);
	buf_free(&texts);
	sqlite3_mutex_leave(sqlite3_db_mutex(cat->c.db));
	if (own_txn)
		sqlu_rollback(&cat->c); /* nothing was written: ending the read is all */
	return ret;
}

/* The WHERE clause of f, with ?N parameters bound by filter_bind(). */
static void
filter_sql(const struct sqlcat *cat, const struct catalog_filter *f, struct buf *b)
{
	const char *sep = " WHERE ";

	if (f->backup_name != NULL) {
		buf_printf(b, "%sbackup_name = ?1", sep);
		sep = " AND ";
	}
	if (f->type != NULL) {
		buf_printf(b, "%s%s = ?2", sep, cat->has_type ? "TYPE" : "'BACKUP'");
		sep = " AND ";
	}
	if (f->status != NULL) {
		buf_printf(b, "%sstatus = ?3", sep);
		sep = " AND ";
	}
	if (f->start_since != NULL) {
		buf_printf(b, "%sbackup_start >= ?4", sep);
		sep = " AND ";
	}
	if (f->start_before != NULL) {
		buf_printf(b, "%sbackup_start < ?5", sep);
		sep = " AND ";
	}
	if (f->with_location)
		buf_printf(b, "%sbackup_location IS NOT NULL AND backup_location != ''", sep);
}

static void
filter_bind(sqlite3_stmt *st, const struct catalog_filter *f)
{
	if (f->backup_name != NULL)
		sqlu_bind_text(st, 1, f->backup_name);
	if (f->type != NULL)
		sqlu_bind_text(st, 2, f->type);
	if (f->status != NULL)
		sqlu_bind_text(st, 3, f->status);
	if (f->start_since != NULL)
		sqlu_bind_text(st, 4, f->start_since);
	if (f->start_before != NULL)
		sqlu_bind_text(st, 5, f->start_before);
}

/* The rows matching f in range ks, at most lim (0: all), appended to *r, *len, *cap. */
static int
find_part(struct sqlcat *cat, const struct catalog_filter *f, enum catalog_keyset ks, int lim,
          struct catalog_row **r, size_t *len, size_t *cap, struct err *err)
{
	const char *lt = ks == CATALOG_KS_BEFORE || ks == CATALOG_KS_NULL_BEFORE ? "<" : ">";
	sqlite3_stmt *st = NULL;
	const char *sep;
	struct buf sql;
	size_t flen;
	int rc, ret = -1;

	buf_init(&sql, 4096);
	buf_printf(&sql, "SELECT " ROW_COLUMNS ", %s FROM stats",
	           cat->has_type ? "TYPE" : "'BACKUP'");
	flen = sql.len;
	filter_sql(cat, f, &sql);
	sep = sql.len > flen ? " AND " : " WHERE ";
	switch (ks) {
	case CATALOG_KS_NONE:
		break;
	case CATALOG_KS_BEFORE:
	case CATALOG_KS_AFTER:
		buf_printf(&sql, "%sbackup_start %s= ?8 AND (backup_start %s ?8 OR rowid %s ?9)",
		           sep, lt, lt, lt);
		break;
	case CATALOG_KS_NULL:
	case CATALOG_KS_NOT_NULL:
		buf_printf(&sql, "%sbackup_start IS %sNULL", sep,
		           ks == CATALOG_KS_NULL ? "" : "NOT ");
		break;
	case CATALOG_KS_NULL_BEFORE:
	case CATALOG_KS_NULL_AFTER:
		buf_printf(&sql, "%sbackup_start IS NULL AND rowid %s ?9", sep, lt);
		break;
	}
	buf_printf(&sql, " ORDER BY backup_start %s, rowid %s LIMIT ?6 OFFSET ?7",
	           f->oldest_first ? "ASC" : "DESC", f->oldest_first ? "ASC" : "DESC");
	if (sqlu_prepare(&cat->c, &st, buf_str(&sql), err) == -1)
		goto out;
	filter_bind(st, f);
	sqlite3_bind_int(st, 6, lim > 0 ? lim : -1);
	sqlite3_bind_int(st, 7, ks == CATALOG_KS_NONE && f->offset > 0 ? f->offset : 0);
	if (ks == CATALOG_KS_BEFORE || ks == CATALOG_KS_AFTER)
		sqlu_bind_text(st, 8, f->after_start);
	if (ks != CATALOG_KS_NONE && ks != CATALOG_KS_NULL && ks != CATALOG_KS_NOT_NULL)
		sqlite3_bind_int64(st, 9, f->after_rowid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*len == *cap) {
			*cap = *cap == 0 ? 32 : *cap * 2;
			*r = xrealloc(*r, *cap * sizeof **r);
		}
		row_read(st, &(*r)[(*len)++]);
	}
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading rows");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	buf_free(&sql);
	return ret;
}

/*
 * A keyset page (after_rowid > 0) is read from at most two ranges
 * (catalog_keyset_ranges()), neither with an OFFSET.
 */
static int
sq_find(void *priv, const struct catalog_filter *f, struct catalog_row **rows, size_t *n,
        struct err *err)
{
	struct sqlcat *cat = priv;
	struct catalog_row *r = NULL;
	enum catalog_keyset first, second;
	size_t len = 0, cap = 0;
	int lim = f->limit, ret;

	*rows = NULL;
	*n = 0;
	catalog_keyset_ranges(f, &first, &second);
	ret = find_part(cat, f, first, lim, &r, &len, &cap, err);
	if (ret == 0 && second != CATALOG_KS_NONE && (lim == 0 || len < (size_t)lim))
		ret = find_part(cat, f, second, lim > 0 ? lim - (int)len : 0, &r, &len, &cap, err);
	if (ret == -1) {
		catalog_rows_free(r, len);
		return -1;
	}
	*rows = r;
	*n = len;
	return 0;
}

static int sq_version(void *priv, uint64_t *version, struct err *err);

/* The memo of key (the least recently used one, emptied, when none). */
static struct sq_count_memo *
sq_count_memo_of(struct sqlcat *cat, const char *key)
{
	struct sq_count_memo *m = &cat->counts[0];

	for (size_t i = 0; i < SQ_COUNT_MEMO_MAX; i++) {
		if (cat->counts[i].key != NULL && strcmp(cat->counts[i].key, key) == 0)
			return &cat->counts[i];
		if (cat->counts[i].used < m->used)
			m = &cat->counts[i];
	}
	free(m->key);
	m->key = xstrdup(key);
	m->version = 0;
	m->count = -1;
	return m;
}

/*
 * Counted once per catalog version and filter: the version is read
 * before the count, so a commit racing the count moves it and the next
 * call counts again. No memo for an immutable handle (a new version
 * every call) nor inside this handle's transaction (a rollback takes
 * its rows back but not the version).
 */
static int
sq_count(void *priv, const struct catalog_filter *f, int64_t *count, struct err *err)
{
	struct sqlcat *cat = priv;
	struct sq_count_memo *m = NULL;
	sqlite3_stmt *st = NULL;
	uint64_t version = 0;
	struct buf sql, key;
	int rc, ret = -1;

	buf_init(&sql, 4096);
	buf_init(&key, 8192);
	buf_puts(&sql, "SELECT count(*) FROM stats");
	filter_sql(cat, f, &sql);
	if (!cat->immutable && sqlite3_get_autocommit(cat->c.db)) {
		const char *v[] = { f->backup_name, f->type, f->status, f->start_since,
			            f->start_before };

		buf_puts(&key, buf_str(&sql));
		for (size_t i = 0; i < sizeof v / sizeof *v; i++)
			buf_printf(&key, "|%zd:%s", v[i] != NULL ? (ssize_t)strlen(v[i]) : -1,
			           v[i] != NULL ? v[i] : "");
		if (sq_version(cat, &version, err) == -1)
			goto out;
		m = sq_count_memo_of(cat, buf_str(&key));
		m->used = ++cat->count_tick;
		if (m->count >= 0 && m->version == version) {
			*count = m->count;
			ret = 0;
			goto out;
		}
	}
	if (sqlu_prepare(&cat->c, &st, buf_str(&sql), err) == -1)
		goto out;
	filter_bind(st, f);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlu_error(&cat->c, rc, err, "counting rows");
		goto out;
	}
	*count = sqlite3_column_int64(st, 0);
	if (m != NULL) {
		m->version = version;
		m->count = *count;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	buf_free(&sql);
	buf_free(&key);
	return ret;
}

/*
 * ------------------------------------------------------ every job at once
 * /metrics' run counters and /api/v1/jobs' last verify, for every job in
 * one statement each. The original's indexes hold neither TYPE nor status,
 * so whatever the plan, every row of the table is read: in one pass over
 * it (NOT INDEXED), not through idx_stats_backup_name, which the planner
 * would pick for the GROUP BY or PARTITION BY order and which fetches each
 * row by its rowid, one random page read each (100k rows, a table bigger
 * than the page cache: 1.9 s against 0.5 s). A database still without
 * TYPE (read-only, never upgraded) reads as BACKUP rows.
 */
static int
sq_run_counts(void *priv, struct catalog_run_count **counts, size_t *n, struct err *err)
{
	struct sqlcat *cat = priv;
	const char *type_col = cat->has_type ? "TYPE" : "'BACKUP'";
	struct catalog_run_count *c = NULL;
	sqlite3_stmt *st = NULL;
	size_t len = 0, cap = 0;
	char *sql;
	int rc;

	sql = xasprintf("SELECT backup_name, %s, status, count(*) FROM stats NOT INDEXED "
	                "WHERE backup_name IS NOT NULL AND %s IS NOT NULL AND status IS NOT NULL "
	                "AND status <> 'Running' GROUP BY 1, 2, 3",
	                type_col, type_col);
	rc = sqlu_prepare(&cat->c, &st, sql, err);
	free(sql);
	if (rc == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			c = xrealloc(c, cap * sizeof *c);
		}
		c[len].backup_name = sqlu_col_text(st, 0);
		c[len].type = sqlu_col_text(st, 1);
		c[len].status = sqlu_col_text(st, 2);
		c[len].count = sqlite3_column_int64(st, 3);
		len++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "counting the runs of every job");
		catalog_run_counts_free(c, len);
		return -1;
	}
	*counts = c;
	*n = len;
	return 0;
}

/*
 * The window sorts the (backup_name, backup_start, rowid) of the type's
 * finished rows only; the whole rows, texts and all, are then read by
 * rowid, one per job.
 */
static int
sq_last_finished(void *priv, const char *type, struct catalog_row **rows, size_t *n,
                 struct err *err)
{
	struct sqlcat *cat = priv;
	const char *type_col = cat->has_type ? "TYPE" : "'BACKUP'";
	struct catalog_row *r = NULL;
	sqlite3_stmt *st = NULL;
	size_t len = 0, cap = 0;
	char *sql;
	int rc;

	sql = xasprintf("SELECT " ROW_COLUMNS ", %s FROM stats WHERE rowid IN (SELECT rid FROM "
	                "(SELECT rowid AS rid, row_number() OVER (PARTITION BY backup_name "
	                "ORDER BY backup_start DESC, rowid DESC) AS rn FROM stats NOT INDEXED "
	                "WHERE backup_name IS NOT NULL AND %s = ?1 AND status IS NOT NULL AND "
	                "status <> 'Running') WHERE rn = 1)",
	                type_col, type_col);
	rc = sqlu_prepare(&cat->c, &st, sql, err);
	free(sql);
	if (rc == -1)
		return -1;
	sqlu_bind_text(st, 1, type);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			r = xrealloc(r, cap * sizeof *r);
		}
		row_read(st, &r[len++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading the last finished row of every job");
		catalog_rows_free(r, len);
		return -1;
	}
	*rows = r;
	*n = len;
	return 0;
}

static int
sq_insert_row(void *priv, const struct catalog_row *r, int64_t *rowid, struct err *err)
{
	struct sqlcat *cat = priv;
	static const char sql[] =
	    "INSERT INTO stats (backup_name, server_name, description, backup_start, backup_end, "
	    "backup_duration, total_files_count, written_files_count, total_bytes, written_bytes, "
	    "status, log, backup_location, TYPE) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (sqlu_prepare(&cat->c, &st, sql, err) == -1)
		return -1;
	sqlu_bind_text(st, 1, r->backup_name);
	sqlu_bind_text(st, 2, r->server_name);
	sqlu_bind_text(st, 3, r->description);
	sqlu_bind_text(st, 4, r->backup_start);
	sqlu_bind_text(st, 5, r->backup_end);
	bind_double(st, 6, r->backup_duration);
	bind_int(st, 7, r->total_files_count);
	bind_int(st, 8, r->written_files_count);
	bind_int(st, 9, r->total_bytes);
	bind_int(st, 10, r->written_bytes);
	sqlu_bind_text(st, 11, r->status);
	sqlu_bind_text(st, 12, r->log);
	sqlu_bind_text(st, 13, r->backup_location);
	sqlu_bind_text(st, 14, r->type);
	if (sqlu_step_done(&cat->c, st, err, "inserting a row") == -1)
		goto out;
	if (rowid != NULL)
		*rowid = sqlite3_last_insert_rowid(cat->c.db);
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int
sq_set_type(void *priv, int64_t rowid, const char *type, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (sqlu_prepare(&cat->c, &st, "UPDATE stats SET TYPE = ?1 WHERE rowid = ?2", err) == -1)
		return -1;
	sqlu_bind_text(st, 1, type);
	sqlite3_bind_int64(st, 2, rowid);
	if (sqlu_step_done(&cat->c, st, err, "changing a row's TYPE") == -1)
		goto out;
	if (sqlite3_changes(cat->c.db) == 0) {
		err_set(err, "catalog %s: no row %lld", cat->c.path, (long long)rowid);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int
sq_location_known(void *priv, const char *location, int *known, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	/* Uses idx_stats_backup_location. */
	if (sqlu_prepare(&cat->c, &st, "SELECT 1 FROM stats WHERE backup_location = ?1 LIMIT 1",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, location);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "looking up a location");
		goto out;
	}
	*known = rc == SQLITE_ROW;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int
sq_begin(void *priv, struct err *err)
{
	struct sqlcat *cat = priv;

	return sqlu_exec(&cat->c, "BEGIN IMMEDIATE", err, "starting a transaction");
}

static int
sq_commit(void *priv, struct err *err)
{
	struct sqlcat *cat = priv;

	return sqlu_exec(&cat->c, "COMMIT", err, "committing");
}

/*
 * In WAL mode, NORMAL writes a commit to the -wal without syncing it (the
 * checkpoint syncs); FULL syncs the -wal at every commit, and so every
 * NORMAL commit before it. Outside WAL mode (no shared memory) NORMAL
 * would risk the database itself on a power failure: stay FULL there.
 */
static int
sq_durable(void *priv, int on, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int wal = 0, rc;

	if (!on) {
		rc = sqlite3_prepare_v2(cat->c.db, "PRAGMA journal_mode", -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
			const char *m = (const char *)sqlite3_column_text(st, 0);

			wal = m != NULL && strcasecmp(m, "wal") == 0;
		}
		sqlite3_finalize(st);
		if (!wal)
			return 0;
	}
	return sqlu_exec(&cat->c, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err,
	                 "setting synchronous");
}

static void
sq_rollback(void *priv)
{
	struct sqlcat *cat = priv;

	sqlu_rollback(&cat->c);
}

/*
 * data_version moves when another connection commits, total_changes when
 * this one writes a row; both only grow, so their sum moves on every
 * commit. An immutable connection (the read-only fallback) is never told
 * of commits, so there every call reports a new version: never a stale
 * one.
 */
static int
sq_version(void *priv, uint64_t *version, struct err *err)
{
	struct sqlcat *cat = priv;
	int rc;

	if (cat->immutable) {
		*version = ++cat->immutable_version;
		return 0;
	}
	if (sqlu_prepare(&cat->c, &cat->version, "PRAGMA data_version", err) == -1)
		return -1;
	rc = sqlite3_step(cat->version);
	if (rc != SQLITE_ROW) {
		sqlu_error(&cat->c, rc, err, "reading the data version");
		sqlite3_reset(cat->version);
		return -1;
	}
	*version = (uint64_t)sqlite3_column_int64(cat->version, 0) +
	           (uint64_t)sqlite3_total_changes64(cat->c.db);
	sqlite3_reset(cat->version);
	return 0;
}

/*
 * ---------------------------------------------------------------- alerts
 * The alert state (alert.c): our own table next to the original's stats,
 * created on first use so that opening a catalog never changes the schema
 * old tools see beyond what they already know. Only these functions touch
 * it.
 */

static int
alerts_ensure(struct sqlcat *cat, struct err *err)
{
	if (cat->has_alerts)
		return 0;
	if (cat->mode != CATALOG_RW) {
		err_set(err, "catalog %s: opened read-only", cat->c.path);
		return -1;
	}
	if (sqlu_exec(&cat->c,
	              "CREATE TABLE IF NOT EXISTS alerts (backup_name TEXT PRIMARY KEY, "
	              "last_state TEXT NOT NULL, last_sent_epoch INTEGER NOT NULL)",
	              err, "creating table alerts") == -1)
		return -1;
	cat->has_alerts = 1;
	return 0;
}

static int
sq_alert_get(void *priv, const char *backup_name, char **state, int64_t *sent, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	*state = NULL;
	*sent = 0;
	if (alerts_ensure(cat, err) == -1 ||
	    sqlu_prepare(&cat->c, &st,
	                 "SELECT last_state, last_sent_epoch FROM alerts WHERE backup_name = ?1",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, backup_name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*state = sqlu_col_text(st, 0);
		*sent = sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading the alert state");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int
sq_alert_swap(void *priv, const char *backup_name, const char *old_state, int64_t old_sent,
              const char *new_state, int64_t new_sent, int *swapped, struct err *err)
{
	struct sqlcat *cat = priv;
	const char *sql;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	*swapped = 0;
	if (old_state == NULL)
		sql = "INSERT INTO alerts (backup_name, last_state, last_sent_epoch) "
		      "VALUES (?1, ?4, ?5) ON CONFLICT (backup_name) DO NOTHING";
	else if (new_state == NULL)
		sql = "DELETE FROM alerts WHERE backup_name = ?1 AND last_state = ?2 AND "
		      "last_sent_epoch = ?3";
	else
		sql = "UPDATE alerts SET last_state = ?4, last_sent_epoch = ?5 "
		      "WHERE backup_name = ?1 AND last_state = ?2 AND last_sent_epoch = ?3";
	if (alerts_ensure(cat, err) == -1 || sqlu_prepare(&cat->c, &st, sql, err) == -1)
		return -1;
	sqlu_bind_text(st, 1, backup_name);
	if (old_state != NULL) {
		sqlu_bind_text(st, 2, old_state);
		sqlite3_bind_int64(st, 3, old_sent);
	}
	if (new_state != NULL) {
		sqlu_bind_text(st, 4, new_state);
		sqlite3_bind_int64(st, 5, new_sent);
	}
	if (sqlu_step_done(&cat->c, st, err, "recording the alert state") == -1)
		goto out;
	*swapped = sqlite3_changes(cat->c.db) > 0;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * ---------------------------------------------------------------- disk usage
 * Disk usage per job and snapshot and the daily samples of the backup
 * filesystem (diskusage.c): tables of our own, created by migrations
 * recorded in schema_versions, one row per part, so a later change of
 * these tables knows what it upgrades from. Each migration runs in one
 * IMMEDIATE transaction on the first write that needs it (or inside the
 * caller's open transaction), never on open: old tools see stats as it
 * was. Read-only connections read missing tables as empty.
 */

static const char sql_du_v1[] =
    "CREATE TABLE IF NOT EXISTS disk_usage (backup_name TEXT NOT NULL, "
    "snapshot TEXT NOT NULL, bytes INTEGER NOT NULL, disk_bytes INTEGER NOT NULL, "
    "unique_bytes INTEGER NOT NULL, unique_disk_bytes INTEGER NOT NULL, "
    "files INTEGER NOT NULL, measured INTEGER NOT NULL, "
    "PRIMARY KEY (backup_name, snapshot));"
    "CREATE TABLE IF NOT EXISTS disk_samples (day TEXT PRIMARY KEY, "
    "used_bytes INTEGER NOT NULL, capacity_bytes INTEGER NOT NULL);";

/* The version of part in schema_versions into *v (0 when absent). 0 or -1 + err. */
static int
part_version(struct sqlcat *cat, const char *part, int *v, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*v = 0;
	rc = sqlite3_prepare_v2(cat->c.db,
	                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	                        "name = 'schema_versions'",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
	    sqlite3_column_int(st, 0) > 0) {
		sqlite3_finalize(st);
		rc = sqlite3_prepare_v2(cat->c.db,
		                        "SELECT version FROM schema_versions WHERE part = ?1", -1,
		                        &st, NULL);
		if (rc == SQLITE_OK) {
			sqlu_bind_text(st, 1, part);
			if ((rc = sqlite3_step(st)) == SQLITE_ROW)
				*v = sqlite3_column_int(st, 0);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading schema_versions");
		return -1;
	}
	return 0;
}

/* One part of the schema beyond stats, created by a migration of its own. */
struct part {
	const char *name;   /* its row in schema_versions */
	const char *sql_v1; /* what version 1 creates */
	const char *what;   /* for messages: "creating the disk-usage tables" */
};

static const struct part part_du = { "disk_usage", sql_du_v1, "creating the disk-usage tables" };

/*
 * Make sure part's tables exist (*state caches the answer): read-only,
 * note whether they do; read-write, migrate to version 1 in one
 * IMMEDIATE transaction (or inside the caller's). 0 or -1 + err.
 */
static int
part_ensure(struct sqlcat *cat, const struct part *p, int *state, int write, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int v, own, ret = -1;

	if (*state == 1 || (*state == -1 && !write))
		return 0;
	if (part_version(cat, p->name, &v, err) == -1)
		return -1;
	if (v >= 1) {
		*state = 1;
		return 0;
	}
	if (cat->mode != CATALOG_RW) {
		if (write) {
			err_set(err, "catalog %s: opened read-only", cat->c.path);
			return -1;
		}
		*state = -1;
		return 0;
	}
	own = sqlite3_get_autocommit(cat->c.db);
	if (own && sqlu_exec(&cat->c, "BEGIN IMMEDIATE", err, "starting a schema migration") == -1)
		return -1;
	if (sqlu_exec(&cat->c,
	              "CREATE TABLE IF NOT EXISTS schema_versions (part TEXT PRIMARY KEY, "
	              "version INTEGER NOT NULL)",
	              err, "creating table schema_versions") == -1 ||
	    part_version(cat, p->name, &v, err) == -1)
		goto out;
	if (v < 1 && sqlu_exec(&cat->c, p->sql_v1, err, p->what) == -1)
		goto out;
	if (sqlu_prepare(&cat->c, &st,
	                 "INSERT INTO schema_versions (part, version) VALUES (?1, 1) "
	                 "ON CONFLICT (part) DO UPDATE SET version = excluded.version",
	                 err) == -1)
		goto out;
	sqlu_bind_text(st, 1, p->name);
	if (sqlu_step_done(&cat->c, st, err, "recording a schema version") == -1)
		goto out;
	if (own && sqlu_exec(&cat->c, "COMMIT", err, "committing a schema migration") == -1)
		goto out;
	*state = 1;
	ret = 0;
out:
	sqlite3_finalize(st);
	if (ret == -1 && own)
		sqlu_rollback(&cat->c);
	return ret;
}

/* part_ensure() of the disk-usage tables. */
static int
du_ensure(struct sqlcat *cat, int write, struct err *err)
{
	return part_ensure(cat, &part_du, &cat->du_state, write, err);
}

static int
sq_du_put(void *priv, const struct catalog_du *d, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (du_ensure(cat, 1, err) == -1 ||
	    sqlu_prepare(&cat->c, &st,
	                 "INSERT OR REPLACE INTO disk_usage (backup_name, snapshot, bytes, "
	                 "disk_bytes, unique_bytes, unique_disk_bytes, files, measured) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, d->backup_name);
	sqlu_bind_text(st, 2, d->snapshot != NULL ? d->snapshot : "");
	sqlite3_bind_int64(st, 3, d->bytes);
	sqlite3_bind_int64(st, 4, d->disk_bytes);
	sqlite3_bind_int64(st, 5, d->unique_bytes);
	sqlite3_bind_int64(st, 6, d->unique_disk_bytes);
	sqlite3_bind_int64(st, 7, d->files);
	sqlite3_bind_int64(st, 8, d->measured);
	if (sqlu_step_done(&cat->c, st, err, "recording disk usage") == 0)
		ret = 0;
	sqlite3_finalize(st);
	return ret;
}

static int
sq_du_delete(void *priv, const char *backup_name, const char *snapshot, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (du_ensure(cat, 1, err) == -1 ||
	    sqlu_prepare(&cat->c, &st,
	                 snapshot != NULL
	                     ? "DELETE FROM disk_usage WHERE backup_name = ?1 AND snapshot = ?2"
	                     : "DELETE FROM disk_usage WHERE backup_name = ?1",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, backup_name);
	if (snapshot != NULL)
		sqlu_bind_text(st, 2, snapshot);
	if (sqlu_step_done(&cat->c, st, err, "deleting disk usage") == 0)
		ret = 0;
	sqlite3_finalize(st);
	return ret;
}

static int
sq_du_find(void *priv, const char *backup_name, struct catalog_du **rows, size_t *n,
           struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, ret = -1;

	if (du_ensure(cat, 0, err) == -1)
		return -1;
	if (cat->du_state != 1)
		return 0;
	if (sqlu_prepare(&cat->c, &st,
	                 "SELECT backup_name, snapshot, bytes, disk_bytes, unique_bytes, "
	                 "unique_disk_bytes, files, measured FROM disk_usage "
	                 "WHERE ?1 IS NULL OR backup_name = ?1 ORDER BY backup_name, snapshot",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, backup_name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct catalog_du *d;

		if (*n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			*rows = xrealloc(*rows, cap * sizeof **rows);
		}
		d = &(*rows)[(*n)++];
		d->backup_name = sqlu_col_text(st, 0);
		d->snapshot = sqlu_col_text(st, 1);
		d->bytes = sqlite3_column_int64(st, 2);
		d->disk_bytes = sqlite3_column_int64(st, 3);
		d->unique_bytes = sqlite3_column_int64(st, 4);
		d->unique_disk_bytes = sqlite3_column_int64(st, 5);
		d->files = sqlite3_column_int64(st, 6);
		d->measured = sqlite3_column_int64(st, 7);
	}
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading disk usage");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int
sq_du_sample_put(void *priv, const struct catalog_du_sample *s, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (du_ensure(cat, 1, err) == -1 ||
	    sqlu_prepare(&cat->c, &st,
	                 "INSERT OR REPLACE INTO disk_samples (day, used_bytes, capacity_bytes) "
	                 "VALUES (?1, ?2, ?3)",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, s->day);
	sqlite3_bind_int64(st, 2, s->used_bytes);
	sqlite3_bind_int64(st, 3, s->capacity_bytes);
	if (sqlu_step_done(&cat->c, st, err, "recording the disk sample") == 0)
		ret = 0;
	sqlite3_finalize(st);
	return ret;
}

static int
sq_job_names(void *priv, char ***names, size_t *n, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	/* Uses the backup_name index: one step per name. */
	if (sqlu_prepare(&cat->c, &st,
	                 "SELECT DISTINCT backup_name FROM stats WHERE backup_name IS NOT NULL "
	                 "ORDER BY backup_name",
	                 err) == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			*names = xrealloc(*names, cap * sizeof **names);
		}
		(*names)[(*n)++] = sqlu_col_text(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "listing the job names");
		catalog_names_free(*names, *n);
		*names = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

static int
sq_du_samples(void *priv, const char *since_day, struct catalog_du_sample **s, size_t *n,
              struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, ret = -1;

	if (du_ensure(cat, 0, err) == -1)
		return -1;
	if (cat->du_state != 1)
		return 0;
	if (sqlu_prepare(&cat->c, &st,
	                 "SELECT day, used_bytes, capacity_bytes FROM disk_samples "
	                 "WHERE ?1 IS NULL OR day >= ?1 ORDER BY day",
	                 err) == -1)
		return -1;
	sqlu_bind_text(st, 1, since_day);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct catalog_du_sample *x;
		const char *day = (const char *)sqlite3_column_text(st, 0);

		if (*n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			*s = xrealloc(*s, cap * sizeof **s);
		}
		x = &(*s)[(*n)++];
		snprintf(x->day, sizeof x->day, "%s", day != NULL ? day : "");
		x->used_bytes = sqlite3_column_int64(st, 1);
		x->capacity_bytes = sqlite3_column_int64(st, 2);
	}
	if (rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading the disk samples");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * ------------------------------------------------------------- run_host
 * Where each run ran (runrec.c): one row per stats row, keyed by its
 * rowid, migrated like the disk-usage tables (part "run_host").
 */

static const char sql_rh_v1[] =
    "CREATE TABLE IF NOT EXISTS run_host (stats_id INTEGER PRIMARY KEY, host TEXT, "
    "worker TEXT, pool TEXT, config TEXT);";

static const struct part part_rh = { "run_host", sql_rh_v1, "creating table run_host" };

static int
sq_run_host_put(void *priv, const struct catalog_run_host *h, struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (part_ensure(cat, &part_rh, &cat->rh_state, 1, err) == -1 ||
	    sqlu_prepare(&cat->c, &st,
	                 "INSERT OR REPLACE INTO run_host (stats_id, host, worker, pool, config) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5)",
	                 err) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, h->stats_id);
	sqlu_bind_text(st, 2, h->host);
	sqlu_bind_text(st, 3, h->worker);
	sqlu_bind_text(st, 4, h->pool);
	sqlu_bind_text(st, 5, h->config);
	if (sqlu_step_done(&cat->c, st, err, "recording where a run runs") == 0)
		ret = 0;
	sqlite3_finalize(st);
	return ret;
}

/* One lookup by primary key per id: as fast as SQLite gets for a list of ids. */
static int
sq_run_hosts(void *priv, const int64_t *ids, size_t n, struct catalog_run_host *out,
             struct err *err)
{
	struct sqlcat *cat = priv;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE, ret = -1;

	/* Looked for again while absent: a run elsewhere may migrate meanwhile. */
	if (cat->rh_state == -1)
		cat->rh_state = 0;
	if (part_ensure(cat, &part_rh, &cat->rh_state, 0, err) == -1)
		return -1;
	if (cat->rh_state != 1)
		return 0;
	if (sqlu_prepare(&cat->c, &st,
	                 "SELECT host, worker, pool, config FROM run_host WHERE stats_id = ?1",
	                 err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			out[i].stats_id = ids[i];
			out[i].host = sqlu_col_text(st, 0);
			out[i].worker = sqlu_col_text(st, 1);
			out[i].pool = sqlu_col_text(st, 2);
			out[i].config = sqlu_col_text(st, 3);
		} else if (rc != SQLITE_DONE)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlu_error(&cat->c, rc, err, "reading where runs ran");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

const struct catalog_ops catalog_sqlite_ops = {
	.scheme = "sqlite",
	.priv_size = sizeof(struct sqlcat),
	.open = sq_open,
	.close = sq_close,
	.label = sq_label,
	.insert_running = sq_insert_running,
	.finish = sq_finish,
	.repair_running = sq_repair_running,
	.last_rows = sq_last_rows,
	.last_rows_each = sq_last_rows_each,
	.find = sq_find,
	.count = sq_count,
	.insert_row = sq_insert_row,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.set_type = sq_set_type,
	.location_known = sq_location_known,
	.alert_get = sq_alert_get,
	.alert_swap = sq_alert_swap,
	.version = sq_version,
	.du_put = sq_du_put,
	.du_delete = sq_du_delete,
	.du_find = sq_du_find,
	.du_sample_put = sq_du_sample_put,
	.du_samples = sq_du_samples,
	.job_names = sq_job_names,
	.run_counts = sq_run_counts,
	.last_finished = sq_last_finished,
	.run_host_put = sq_run_host_put,
	.run_hosts = sq_run_hosts,
	.durable = sq_durable,
};
