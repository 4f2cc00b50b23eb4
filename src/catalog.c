/*
 * The catalog (see catalog.h): the only file with SQL in the project.
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
 */
#include "catalog.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "queue_backend.h"
#include "util/timefmt.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define CATALOG_BUSY_MS 30000

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

enum { ORDER_START, ORDER_END, ORDER_MAX };

/* The queue store's statements (see the section at the end). */
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
	QSTMT_MAX
};

struct catalog {
	sqlite3 *db;
	char *path;
	enum catalog_mode mode;
	int has_type; /* stats has its TYPE column (always after a RW open) */
	sqlite3_stmt *insert;
	sqlite3_stmt *finish;
	sqlite3_stmt *repair;
	/* [order column][backup_name given][type given] */
	sqlite3_stmt *last[ORDER_MAX][2][2];
	sqlite3_stmt *queue[QSTMT_MAX];
	int has_alerts; /* the alerts table exists (checked once per connection) */
};

/* Fill err from the connection's last error, naming the database. */
static void
db_error(struct catalog *cat, int rc, struct err *err, const char *what)
{
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		err_set(err, "catalog %s: %s: database is locked (still busy after %d s)",
		        cat->path, what, CATALOG_BUSY_MS / 1000);
		return;
	}
	err_set(err, "catalog %s: %s: %s", cat->path, what,
	        cat->db != NULL ? sqlite3_errmsg(cat->db) : sqlite3_errstr(rc));
}

/* Prepare sql into *stmt unless it is already there. */
static int
prepare(struct catalog *cat, sqlite3_stmt **stmt, const char *sql, struct err *err)
{
	int rc;

	if (*stmt != NULL) {
		sqlite3_reset(*stmt);
		sqlite3_clear_bindings(*stmt);
		return 0;
	}
	rc = sqlite3_prepare_v3(cat->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
	if (rc != SQLITE_OK) {
		db_error(cat, rc, err, "preparing a statement");
		*stmt = NULL;
		return -1;
	}
	return 0;
}

static int
exec(struct catalog *cat, const char *sql, struct err *err, const char *what)
{
	int rc;

	rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		db_error(cat, rc, err, what);
		return -1;
	}
	return 0;
}

/*
 * What the schema lacks: *table = 1 when stats is missing, *type = 1 when
 * it has no TYPE column, *indexes = how many of the three are missing.
 */
static int
schema_probe(struct catalog *cat, int *table, int *type, int *indexes, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ncols = 0, found = 0, ret = -1;

	*table = *type = 0;
	*indexes = 3;
	rc = sqlite3_prepare_v2(cat->db, "SELECT name FROM pragma_table_info('stats')", -1, &st,
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
	    cat->db,
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
		db_error(cat, rc, err, "reading the schema");
	sqlite3_finalize(st);
	return ret;
}

/* Create or upgrade the schema, in one transaction, when something is missing. */
static int
schema_ensure(struct catalog *cat, struct err *err)
{
	int table, type, indexes, ret = -1;

	if (schema_probe(cat, &table, &type, &indexes, err) == -1)
		return -1;
	if (!table && !type && indexes == 0)
		return 0;

	if (exec(cat, "BEGIN IMMEDIATE", err, "starting the schema update") == -1)
		return -1;
	/* Another process may have done it while we waited for the lock. */
	if (schema_probe(cat, &table, &type, &indexes, err) == -1)
		goto out;
	if (table && exec(cat, sql_create_table, err, "creating table stats") == -1)
		goto out;
	if (type &&
	    (exec(cat, "alter table stats add column TYPE TEXT", err, "adding column TYPE") == -1 ||
	     exec(cat, "update stats set TYPE='BACKUP'", err, "setting TYPE") == -1))
		goto out;
	if (exec(cat, sql_create_indexes, err, "creating indexes") == -1)
		goto out;
	if (exec(cat, "COMMIT", err, "committing the schema update") == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
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
 * Open the connection; for RO, check it can actually read (a WAL database
 * may need side files it cannot create) and fall back to immutable.
 */
static int
open_db(struct catalog *cat, struct err *err)
{
	static const char *ro_queries[] = { "mode=ro", "mode=ro&immutable=1" };
	char *uri = NULL;
	int rc, ret = -1;

	if (cat->mode == CATALOG_RW) {
		rc = sqlite3_open_v2(cat->path, &cat->db,
		                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
		if (rc != SQLITE_OK) {
			db_error(cat, rc, err, "opening");
			goto out;
		}
		sqlite3_busy_timeout(cat->db, CATALOG_BUSY_MS);
		ret = 0;
		goto out;
	}

	for (size_t i = 0; i < sizeof ro_queries / sizeof ro_queries[0]; i++) {
		free(uri);
		uri = uri_for(cat->path, ro_queries[i]);
		if (cat->db != NULL) {
			sqlite3_close_v2(cat->db);
			cat->db = NULL;
		}
		rc = sqlite3_open_v2(uri, &cat->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
		if (rc != SQLITE_OK) {
			db_error(cat, rc, err, "opening read-only");
			continue;
		}
		sqlite3_busy_timeout(cat->db, CATALOG_BUSY_MS);
		/* Reading the schema is the first access that needs the WAL index. */
		rc = sqlite3_exec(cat->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
		if (rc == SQLITE_OK) {
			if (i > 0)
				err_clear(err);
			ret = 0;
			goto out;
		}
		db_error(cat, rc, err, "reading");
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

int
catalog_open(const char *path, enum catalog_mode mode, struct catalog **out, struct err *err)
{
	struct catalog *cat;
	struct stat sb;
	int table, type, indexes, ret = -1;

	*out = NULL;
	cat = xcalloc(1, sizeof *cat);
	cat->path = xstrdup(path);
	cat->mode = mode;

	if (mode == CATALOG_RO && stat(path, &sb) == -1) {
		int saved = errno;

		err_sys(err, saved, "catalog %s", path);
		if (err != NULL)
			err->code = saved;
		goto out;
	}
	if (open_db(cat, err) == -1)
		goto out;

	if (mode == CATALOG_RW) {
		/* On a filesystem without shared memory this stays in its old mode. */
		if (exec(cat, "PRAGMA journal_mode=WAL", err, "setting WAL mode") == -1)
			goto out;
		if (schema_ensure(cat, err) == -1)
			goto out;
		cat->has_type = 1;
	} else {
		if (schema_probe(cat, &table, &type, &indexes, err) == -1)
			goto out;
		if (table) {
			err_set(err, "catalog %s: no table stats", path);
			goto out;
		}
		cat->has_type = !type;
	}
	*out = cat;
	ret = 0;
out:
	if (ret == -1)
		catalog_close(cat);
	return ret;
}

void
catalog_close(struct catalog *cat)
{
	if (cat == NULL)
		return;
	sqlite3_finalize(cat->insert);
	sqlite3_finalize(cat->finish);
	sqlite3_finalize(cat->repair);
	for (int o = 0; o < ORDER_MAX; o++)
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				sqlite3_finalize(cat->last[o][i][j]);
	for (int i = 0; i < QSTMT_MAX; i++)
		sqlite3_finalize(cat->queue[i]);
	sqlite3_close_v2(cat->db);
	free(cat->path);
	free(cat);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
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

/* Run a bound write statement to completion. */
static int
step_done(struct catalog *cat, sqlite3_stmt *st, struct err *err, const char *what)
{
	int rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		db_error(cat, rc, err, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

static int
check_rw(struct catalog *cat, struct err *err)
{
	if (cat->mode != CATALOG_RW) {
		err_set(err, "catalog %s: opened read-only", cat->path);
		return -1;
	}
	return 0;
}

int
catalog_insert_running(struct catalog *cat, const char *backup_name, const char *server_name,
                       const char *description, const char *backup_start, const char *type,
                       const char *backup_location, int64_t *rowid, struct err *err)
{
	/*
	 * Like the original, backup_end starts equal to backup_start, so old
	 * tools that parse backup_end of every row keep working.
	 */
	static const char sql[] =
	    "INSERT INTO stats (backup_name, server_name, description, backup_start, "
	    "backup_end, status, log, backup_location, TYPE) "
	    "VALUES (?1, ?2, ?3, ?4, ?4, 'Running', '', ?5, ?6)";

	if (check_rw(cat, err) == -1 || prepare(cat, &cat->insert, sql, err) == -1)
		return -1;
	bind_text(cat->insert, 1, backup_name);
	bind_text(cat->insert, 2, server_name);
	bind_text(cat->insert, 3, description != NULL ? description : "");
	bind_text(cat->insert, 4, backup_start);
	bind_text(cat->insert, 5, backup_location);
	bind_text(cat->insert, 6, type);
	if (step_done(cat, cat->insert, err, "inserting a Running row") == -1)
		return -1;
	if (rowid != NULL)
		*rowid = sqlite3_last_insert_rowid(cat->db);
	return 0;
}

int
catalog_finish(struct catalog *cat, int64_t rowid, const struct catalog_result *res,
               struct err *err)
{
	static const char sql[] =
	    "UPDATE stats SET total_files_count = ?1, written_files_count = ?2, "
	    "total_bytes = ?3, written_bytes = ?4, log = ?5, status = ?6, backup_end = ?7, "
	    "backup_duration = ?8, backup_location = ?9 WHERE rowid = ?10";

	if (check_rw(cat, err) == -1 || prepare(cat, &cat->finish, sql, err) == -1)
		return -1;
	bind_int(cat->finish, 1, res->total_files_count);
	bind_int(cat->finish, 2, res->written_files_count);
	bind_int(cat->finish, 3, res->total_bytes);
	bind_int(cat->finish, 4, res->written_bytes);
	bind_text(cat->finish, 5, res->log);
	bind_text(cat->finish, 6, res->status);
	bind_text(cat->finish, 7, res->backup_end);
	bind_double(cat->finish, 8, res->duration_hours);
	bind_text(cat->finish, 9, res->backup_location);
	sqlite3_bind_int64(cat->finish, 10, rowid);
	if (step_done(cat, cat->finish, err, "recording the end of a run") == -1)
		return -1;
	if (sqlite3_changes(cat->db) == 0) {
		err_set(err, "catalog %s: no row %lld to record the end of a run in", cat->path,
		        (long long)rowid);
		return -1;
	}
	return 0;
}

int
catalog_repair_running(struct catalog *cat, const char *backup_name, const char *log, int *count,
                       struct err *err)
{
	/* julianday() reads both ISO forms; the duration is in hours. */
	static const char sql[] =
	    "UPDATE stats SET status = 'ERROR', log = ?1, backup_end = ?2, "
	    "backup_duration = (julianday(?2) - julianday(backup_start)) * 24.0 "
	    "WHERE backup_name = ?3 AND status = 'Running'";
	struct timeval tv;
	char now[TIME_ISO_LEN + 1];

	if (count != NULL)
		*count = 0;
	if (check_rw(cat, err) == -1 || prepare(cat, &cat->repair, sql, err) == -1)
		return -1;
	gettimeofday(&tv, NULL);
	time_iso(&tv, now);
	bind_text(cat->repair, 1, log);
	bind_text(cat->repair, 2, now);
	bind_text(cat->repair, 3, backup_name);
	if (step_done(cat, cat->repair, err, "repairing Running rows") == -1)
		return -1;
	if (count != NULL)
		*count = sqlite3_changes(cat->db);
	return 0;
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	s = sqlite3_column_text(st, i);
	return xstrndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
}

static int64_t
col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return CATALOG_NULL;
	return sqlite3_column_int64(st, i);
}

static void
row_read(sqlite3_stmt *st, struct catalog_row *r)
{
	r->rowid = sqlite3_column_int64(st, 0);
	r->backup_name = col_text(st, 1);
	r->server_name = col_text(st, 2);
	r->description = col_text(st, 3);
	r->backup_start = col_text(st, 4);
	r->backup_end = col_text(st, 5);
	r->backup_duration =
	    sqlite3_column_type(st, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 6);
	r->total_files_count = col_int(st, 7);
	r->written_files_count = col_int(st, 8);
	r->total_bytes = col_int(st, 9);
	r->written_bytes = col_int(st, 10);
	r->status = col_text(st, 11);
	r->log = col_text(st, 12);
	r->backup_location = col_text(st, 13);
	r->type = col_text(st, 14);
}

int
catalog_last_rows(struct catalog *cat, const char *backup_name, const char *type,
                  const char *order_col, int limit, struct catalog_row **rows, size_t *n,
                  struct err *err)
{
	static const char *const order_sql[ORDER_MAX] = { "backup_start", "backup_end" };
	struct catalog_row *r = NULL;
	sqlite3_stmt **st;
	size_t len = 0, cap = 0;
	int order, hn = backup_name != NULL, ht = type != NULL, rc, ret = -1;

	*rows = NULL;
	*n = 0;
	if (order_col == NULL || strcmp(order_col, "backup_start") == 0)
		order = ORDER_START;
	else if (strcmp(order_col, "backup_end") == 0)
		order = ORDER_END;
	else {
		err_set(err, "catalog %s: cannot order rows by \"%s\"", cat->path, order_col);
		return -1;
	}
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
		rc = prepare(cat, st, sql, err);
		free(sql);
		if (rc == -1)
			return -1;
	} else {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
	if (hn)
		bind_text(*st, 1, backup_name);
	if (ht)
		bind_text(*st, 2, type);
	sqlite3_bind_int(*st, 3, limit);

	while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			r = xrealloc(r, cap * sizeof *r);
		}
		row_read(*st, &r[len++]);
	}
	if (rc != SQLITE_DONE) {
		db_error(cat, rc, err, "reading rows");
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

void
catalog_rows_free(struct catalog_row *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].backup_name);
		free(rows[i].server_name);
		free(rows[i].description);
		free(rows[i].backup_start);
		free(rows[i].backup_end);
		free(rows[i].status);
		free(rows[i].log);
		free(rows[i].backup_location);
		free(rows[i].type);
	}
	free(rows);
}

/* The WHERE clause of f, with ?N parameters bound by filter_bind(). */
static void
filter_sql(const struct catalog *cat, const struct catalog_filter *f, struct buf *b)
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
		bind_text(st, 1, f->backup_name);
	if (f->type != NULL)
		bind_text(st, 2, f->type);
	if (f->status != NULL)
		bind_text(st, 3, f->status);
	if (f->start_since != NULL)
		bind_text(st, 4, f->start_since);
	if (f->start_before != NULL)
		bind_text(st, 5, f->start_before);
}

int
catalog_find(struct catalog *cat, const struct catalog_filter *f, struct catalog_row **rows,
             size_t *n, struct err *err)
{
	struct catalog_row *r = NULL;
	sqlite3_stmt *st = NULL;
	size_t len = 0, cap = 0;
	struct buf sql;
	int rc, ret = -1;

	*rows = NULL;
	*n = 0;
	buf_init(&sql, 4096);
	buf_printf(&sql, "SELECT " ROW_COLUMNS ", %s FROM stats",
	           cat->has_type ? "TYPE" : "'BACKUP'");
	filter_sql(cat, f, &sql);
	buf_printf(&sql, " ORDER BY backup_start %s, rowid %s LIMIT ?6 OFFSET ?7",
	           f->oldest_first ? "ASC" : "DESC", f->oldest_first ? "ASC" : "DESC");
	if (prepare(cat, &st, buf_str(&sql), err) == -1)
		goto out;
	filter_bind(st, f);
	sqlite3_bind_int(st, 6, f->limit > 0 ? f->limit : -1);
	sqlite3_bind_int(st, 7, f->offset > 0 ? f->offset : 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			r = xrealloc(r, cap * sizeof *r);
		}
		row_read(st, &r[len++]);
	}
	if (rc != SQLITE_DONE) {
		db_error(cat, rc, err, "reading rows");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	buf_free(&sql);
	if (ret == -1) {
		catalog_rows_free(r, len);
		return -1;
	}
	*rows = r;
	*n = len;
	return 0;
}

int
catalog_count(struct catalog *cat, const struct catalog_filter *f, int64_t *count, struct err *err)
{
	sqlite3_stmt *st = NULL;
	struct buf sql;
	int rc, ret = -1;

	buf_init(&sql, 4096);
	buf_puts(&sql, "SELECT count(*) FROM stats");
	filter_sql(cat, f, &sql);
	if (prepare(cat, &st, buf_str(&sql), err) == -1)
		goto out;
	filter_bind(st, f);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_error(cat, rc, err, "counting rows");
		goto out;
	}
	*count = sqlite3_column_int64(st, 0);
	ret = 0;
out:
	sqlite3_finalize(st);
	buf_free(&sql);
	return ret;
}

int
catalog_insert_row(struct catalog *cat, const struct catalog_row *r, int64_t *rowid,
                   struct err *err)
{
	static const char sql[] =
	    "INSERT INTO stats (backup_name, server_name, description, backup_start, backup_end, "
	    "backup_duration, total_files_count, written_files_count, total_bytes, written_bytes, "
	    "status, log, backup_location, TYPE) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (check_rw(cat, err) == -1 || prepare(cat, &st, sql, err) == -1)
		return -1;
	bind_text(st, 1, r->backup_name);
	bind_text(st, 2, r->server_name);
	bind_text(st, 3, r->description);
	bind_text(st, 4, r->backup_start);
	bind_text(st, 5, r->backup_end);
	bind_double(st, 6, r->backup_duration);
	bind_int(st, 7, r->total_files_count);
	bind_int(st, 8, r->written_files_count);
	bind_int(st, 9, r->total_bytes);
	bind_int(st, 10, r->written_bytes);
	bind_text(st, 11, r->status);
	bind_text(st, 12, r->log);
	bind_text(st, 13, r->backup_location);
	bind_text(st, 14, r->type);
	if (step_done(cat, st, err, "inserting a row") == -1)
		goto out;
	if (rowid != NULL)
		*rowid = sqlite3_last_insert_rowid(cat->db);
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int
catalog_set_type(struct catalog *cat, int64_t rowid, const char *type, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (check_rw(cat, err) == -1 ||
	    prepare(cat, &st, "UPDATE stats SET TYPE = ?1 WHERE rowid = ?2", err) == -1)
		return -1;
	bind_text(st, 1, type);
	sqlite3_bind_int64(st, 2, rowid);
	if (step_done(cat, st, err, "changing a row's TYPE") == -1)
		goto out;
	if (sqlite3_changes(cat->db) == 0) {
		err_set(err, "catalog %s: no row %lld", cat->path, (long long)rowid);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int
catalog_location_known(struct catalog *cat, const char *location, int *known, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	/* Uses idx_stats_backup_location. */
	if (prepare(cat, &st, "SELECT 1 FROM stats WHERE backup_location = ?1 LIMIT 1", err) == -1)
		return -1;
	bind_text(st, 1, location);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(cat, rc, err, "looking up a location");
		goto out;
	}
	*known = rc == SQLITE_ROW;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int
catalog_begin(struct catalog *cat, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return exec(cat, "BEGIN IMMEDIATE", err, "starting a transaction");
}

int
catalog_commit(struct catalog *cat, struct err *err)
{
	return exec(cat, "COMMIT", err, "committing");
}

void
catalog_rollback(struct catalog *cat)
{
	if (!sqlite3_get_autocommit(cat->db))
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * ---- The run queue's store (see catalog.h and docs/queue.md) ----
 *
 * One table in its own database. The partial unique index on run_key
 * makes "one active run per action and section set" a constraint, not
 * only a check; the claim is a single UPDATE ... RETURNING inside an
 * IMMEDIATE transaction, so two workers never take the same run.
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

#define QUEUE_COLUMNS                                                                              \
	"id, action, sections, exportdir, config, requested_by, state, attempts, created, "        \
	"started, finished, lease_until, worker, exit_code, error, log, cancel_requested"

int
catalog_queue_open(const char *path, struct catalog **out, struct err *err)
{
	struct catalog *cat;
	sqlite3_stmt *st = NULL;
	int rc, have = 0, ret = -1;

	*out = NULL;
	cat = xcalloc(1, sizeof *cat);
	cat->path = xstrdup(path);
	cat->mode = CATALOG_RW;
	if (open_db(cat, err) == -1)
		goto out;
	if (exec(cat, "PRAGMA journal_mode=WAL", err, "setting WAL mode") == -1)
		goto out;
	/* synchronous=NORMAL is durable across process crashes in WAL mode. */
	if (exec(cat, "PRAGMA synchronous=NORMAL", err, "setting synchronous") == -1)
		goto out;
	rc = sqlite3_prepare_v2(cat->db,
	                        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
	                        "name IN ('idx_queue_runs_active', 'idx_queue_runs_state')",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		db_error(cat, rc, err, "reading the schema");
		goto out;
	}
	have = sqlite3_column_int(st, 0) == 2;
	/* Done reading before asking for the write lock (else: busy at once, no wait). */
	sqlite3_finalize(st);
	st = NULL;
	if (!have) {
		if (exec(cat, "BEGIN IMMEDIATE", err, "starting the schema update") == -1)
			goto out;
		if (exec(cat, sql_queue_schema, err, "creating table queue_runs") == -1 ||
		    exec(cat, "COMMIT", err, "committing the schema update") == -1) {
			catalog_rollback(cat);
			goto out;
		}
	}
	*out = cat;
	ret = 0;
out:
	sqlite3_finalize(st);
	if (ret == -1)
		catalog_close(cat);
	return ret;
}

/* The current row of st (QUEUE_COLUMNS) as a new run. */
static struct queue_run *
queue_row_read(sqlite3_stmt *st, struct queue_run *r)
{
	const char *sections = (const char *)sqlite3_column_text(st, 2);
	const char *state = (const char *)sqlite3_column_text(st, 6);

	memset(r, 0, sizeof *r);
	r->id = xasprintf("%lld", (long long)sqlite3_column_int64(st, 0));
	r->action = col_text(st, 1);
	queue_run_set_sections(r, sections != NULL ? sections : "");
	r->exportdir = col_text(st, 3);
	r->config = col_text(st, 4);
	r->requested_by = col_text(st, 5);
	if (queue_state_parse(state, &r->state) == -1)
		r->state = QUEUE_FAILED;
	r->attempts = sqlite3_column_int(st, 7);
	r->created = sqlite3_column_int64(st, 8);
	r->started = sqlite3_column_int64(st, 9);
	r->finished = sqlite3_column_int64(st, 10);
	r->lease_until = sqlite3_column_int64(st, 11);
	r->worker = col_text(st, 12);
	r->exit_code = sqlite3_column_int(st, 13);
	r->error = col_text(st, 14);
	r->log = col_text(st, 15);
	if (r->log == NULL)
		r->log = xstrdup("");
	r->cancel_requested = sqlite3_column_int(st, 16);
	return r;
}

/* Step a statement that returns at most one row: 1 row read into *out (if set), 0 none, -1. */
static int
queue_step_one(struct catalog *cat, sqlite3_stmt *st, struct queue_run **out, int64_t *val,
               struct err *err, const char *what)
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
		db_error(cat, rc, err, what);
		return -1;
	}
	return found > 0;
}

int
catalog_queue_enqueue(struct catalog *cat, const struct queue_request *req, const char *key,
                      int64_t now, int64_t *id, int *existed, struct err *err)
{
	sqlite3_stmt **find = &cat->queue[QSTMT_FIND_ACTIVE], **ins = &cat->queue[QSTMT_INSERT];
	struct buf sections;
	int rc, ret = -1;

	buf_init(&sections, (size_t)-1);
	for (size_t i = 0; i < req->nsections; i++)
		buf_printf(&sections, "%s%s", i > 0 ? "," : "", req->sections[i]);
	if (prepare(
	        cat, find,
	        "SELECT id FROM queue_runs WHERE run_key = ?1 AND state IN ('queued', 'running')",
	        err) == -1 ||
	    prepare(cat, ins,
	            "INSERT INTO queue_runs (action, sections, run_key, exportdir, config, "
	            "requested_by, state, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7) "
	            "RETURNING id",
	            err) == -1)
		goto out;
	if (exec(cat, "BEGIN IMMEDIATE", err, "starting to enqueue") == -1)
		goto out;
	bind_text(*find, 1, key);
	rc = queue_step_one(cat, *find, NULL, id, err, "looking for an active run");
	if (rc == -1)
		goto out;
	*existed = rc;
	if (!rc) {
		bind_text(*ins, 1, req->action);
		bind_text(*ins, 2, buf_str(&sections));
		bind_text(*ins, 3, key);
		bind_text(*ins, 4, req->exportdir);
		bind_text(*ins, 5, req->config);
		bind_text(*ins, 6, req->requested_by);
		sqlite3_bind_int64(*ins, 7, now);
		if (queue_step_one(cat, *ins, NULL, id, err, "adding a run") != 1)
			goto out;
	}
	if (exec(cat, "COMMIT", err, "committing a new run") == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		catalog_rollback(cat);
	buf_free(&sections);
	return ret;
}

int
catalog_queue_pending(struct catalog *cat, int64_t now, int *pending, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_PENDING];
	int64_t v = 0;

	if (prepare(cat, st,
	            "SELECT EXISTS (SELECT 1 FROM queue_runs WHERE state = 'queued') OR "
	            "EXISTS (SELECT 1 FROM queue_runs WHERE state = 'running' AND "
	            "lease_until < ?1)",
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, now);
	if (queue_step_one(cat, *st, NULL, &v, err, "looking for queued runs") == -1)
		return -1;
	*pending = v != 0;
	return 0;
}

int
catalog_queue_claim(struct catalog *cat, const char *worker, int lease_s, int max_attempts,
                    int64_t now, struct queue_run **out, struct err *err)
{
	sqlite3_stmt **expire = &cat->queue[QSTMT_EXPIRE], **claim = &cat->queue[QSTMT_CLAIM];
	int ret = -1;

	*out = NULL;
	if (prepare(cat, expire,
	            "UPDATE queue_runs SET "
	            "state = CASE WHEN cancel_requested THEN 'cancelled' "
	            "  WHEN attempts >= ?2 THEN 'failed' ELSE 'queued' END, "
	            "error = CASE WHEN cancel_requested THEN 'cancelled (its worker was lost)' "
	            "  WHEN attempts >= ?2 THEN printf('worker lost %d times', attempts) "
	            "  ELSE error END, "
	            "finished = CASE WHEN cancel_requested OR attempts >= ?2 THEN ?1 ELSE 0 END, "
	            "worker = NULL, lease_until = 0 "
	            "WHERE state = 'running' AND lease_until < ?1",
	            err) == -1 ||
	    prepare(cat, claim,
	            "UPDATE queue_runs SET state = 'running', attempts = attempts + 1, "
	            "started = ?1, lease_until = ?1 + ?3, worker = ?2, exit_code = -1, "
	            "error = NULL, cancel_requested = 0 "
	            "WHERE id = (SELECT id FROM queue_runs WHERE state = 'queued' "
	            "ORDER BY id LIMIT 1) RETURNING " QUEUE_COLUMNS,
	            err) == -1)
		return -1;
	if (exec(cat, "BEGIN IMMEDIATE", err, "starting a claim") == -1)
		return -1;
	sqlite3_bind_int64(*expire, 1, now);
	sqlite3_bind_int(*expire, 2, max_attempts);
	if (step_done(cat, *expire, err, "re-queueing runs whose lease expired") == -1)
		goto out;
	sqlite3_bind_int64(*claim, 1, now);
	bind_text(*claim, 2, worker);
	sqlite3_bind_int(*claim, 3, lease_s);
	if (queue_step_one(cat, *claim, out, NULL, err, "claiming a run") == -1)
		goto out;
	if (exec(cat, "COMMIT", err, "committing a claim") == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1) {
		catalog_rollback(cat);
		queue_run_free(*out);
		*out = NULL;
	}
	return ret;
}

int
catalog_queue_heartbeat(struct catalog *cat, int64_t id, const char *worker, int lease_s,
                        int64_t now, int *held, int *cancel, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_HEARTBEAT];
	int64_t v = 0;
	int rc;

	if (prepare(cat, st,
	            "UPDATE queue_runs SET lease_until = ?3 + ?4 WHERE id = ?1 AND worker = ?2 "
	            "AND state = 'running' RETURNING cancel_requested",
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	bind_text(*st, 2, worker);
	sqlite3_bind_int64(*st, 3, now);
	sqlite3_bind_int(*st, 4, lease_s);
	rc = queue_step_one(cat, *st, NULL, &v, err, "renewing a lease");
	if (rc == -1)
		return -1;
	*held = rc;
	*cancel = rc && v != 0;
	return 0;
}

int
catalog_queue_append_log(struct catalog *cat, int64_t id, const char *text, size_t max, int *found,
                         struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_APPEND];

	/* Byte lengths (blobs): the tail kept is the last max bytes. */
	if (prepare(cat, st,
	            "UPDATE queue_runs SET log = CASE "
	            "WHEN length(CAST(log AS BLOB)) + length(CAST(?2 AS BLOB)) > ?3 "
	            "THEN CAST(substr(CAST(log || ?2 AS BLOB), -?3) AS TEXT) "
	            "ELSE log || ?2 END WHERE id = ?1",
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	bind_text(*st, 2, text);
	sqlite3_bind_int64(*st, 3, (int64_t)max);
	if (step_done(cat, *st, err, "appending to a run's log") == -1)
		return -1;
	*found = sqlite3_changes(cat->db) > 0;
	return 0;
}

int
catalog_queue_finish(struct catalog *cat, int64_t id, const char *worker, enum queue_state state,
                     int exit_code, const char *error, int64_t now, int *held, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_FINISH];

	if (prepare(cat, st,
	            "UPDATE queue_runs SET state = ?3, exit_code = ?4, error = ?5, finished = ?6, "
	            "lease_until = 0 WHERE id = ?1 AND worker = ?2 AND state = 'running'",
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	bind_text(*st, 2, worker);
	bind_text(*st, 3, queue_state_name(state));
	sqlite3_bind_int(*st, 4, exit_code);
	bind_text(*st, 5, error);
	sqlite3_bind_int64(*st, 6, now);
	if (step_done(cat, *st, err, "finishing a run") == -1)
		return -1;
	*held = sqlite3_changes(cat->db) > 0;
	return 0;
}

int
catalog_queue_release(struct catalog *cat, int64_t id, const char *worker, int64_t now, int *held,
                      struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_RELEASE];

	if (prepare(cat, st,
	            "UPDATE queue_runs SET "
	            "state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, "
	            "finished = CASE WHEN cancel_requested THEN ?3 ELSE 0 END, "
	            "error = CASE WHEN cancel_requested THEN 'cancelled' ELSE error END, "
	            "attempts = max(attempts - 1, 0), worker = NULL, lease_until = 0 "
	            "WHERE id = ?1 AND worker = ?2 AND state = 'running'",
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	bind_text(*st, 2, worker);
	sqlite3_bind_int64(*st, 3, now);
	if (step_done(cat, *st, err, "handing a run back") == -1)
		return -1;
	*held = sqlite3_changes(cat->db) > 0;
	return 0;
}

int
catalog_queue_cancel(struct catalog *cat, int64_t id, int64_t now, int *found,
                     enum queue_state *state, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_CANCEL];
	struct queue_run *r = NULL;
	int rc;

	if (prepare(cat, st,
	            "UPDATE queue_runs SET "
	            "state = CASE state WHEN 'queued' THEN 'cancelled' ELSE state END, "
	            "finished = CASE state WHEN 'queued' THEN ?2 ELSE finished END, "
	            "error = CASE state WHEN 'queued' THEN 'cancelled before it started' "
	            "  ELSE error END, "
	            "cancel_requested = CASE state WHEN 'running' THEN 1 "
	            "  ELSE cancel_requested END "
	            "WHERE id = ?1 RETURNING " QUEUE_COLUMNS,
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	sqlite3_bind_int64(*st, 2, now);
	rc = queue_step_one(cat, *st, &r, NULL, err, "cancelling a run");
	if (rc == -1)
		return -1;
	*found = rc;
	if (r != NULL && state != NULL)
		*state = r->state;
	queue_run_free(r);
	return 0;
}

int
catalog_queue_get(struct catalog *cat, int64_t id, struct queue_run **out, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_GET];

	*out = NULL;
	if (prepare(cat, st, "SELECT " QUEUE_COLUMNS " FROM queue_runs WHERE id = ?1", err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, id);
	return queue_step_one(cat, *st, out, NULL, err, "reading a run") == -1 ? -1 : 0;
}

int
catalog_queue_prune(struct catalog *cat, int64_t before, int *n, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[QSTMT_PRUNE];

	if (prepare(cat, st,
	            "DELETE FROM queue_runs WHERE state IN ('done', 'failed', 'cancelled') "
	            "AND finished < ?1",
	            err) == -1)
		return -1;
	sqlite3_bind_int64(*st, 1, before);
	if (step_done(cat, *st, err, "deleting old runs") == -1)
		return -1;
	*n = sqlite3_changes(cat->db);
	return 0;
}

int
catalog_queue_list(struct catalog *cat, int active_only, int limit, struct queue_run **runs,
                   size_t *n, struct err *err)
{
	sqlite3_stmt **st = &cat->queue[active_only ? QSTMT_LIST_ACTIVE : QSTMT_LIST];
	struct queue_run *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*runs = NULL;
	*n = 0;
	if (prepare(cat, st,
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
		db_error(cat, rc, err, "listing runs");
		return -1;
	}
	*runs = v;
	*n = len;
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
alerts_ensure(struct catalog *cat, struct err *err)
{
	if (cat->has_alerts)
		return 0;
	if (check_rw(cat, err) == -1 ||
	    exec(cat,
	         "CREATE TABLE IF NOT EXISTS alerts (backup_name TEXT PRIMARY KEY, "
	         "last_state TEXT NOT NULL, last_sent_epoch INTEGER NOT NULL)",
	         err, "creating table alerts") == -1)
		return -1;
	cat->has_alerts = 1;
	return 0;
}

int
catalog_alert_get(struct catalog *cat, const char *backup_name, char **state, int64_t *sent,
                  struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	*state = NULL;
	*sent = 0;
	if (alerts_ensure(cat, err) == -1 ||
	    prepare(cat, &st,
	            "SELECT last_state, last_sent_epoch FROM alerts WHERE backup_name = ?1",
	            err) == -1)
		return -1;
	bind_text(st, 1, backup_name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*state = col_text(st, 0);
		*sent = sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE) {
		db_error(cat, rc, err, "reading the alert state");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int
catalog_alert_swap(struct catalog *cat, const char *backup_name, const char *old_state,
                   int64_t old_sent, const char *new_state, int64_t new_sent, int *swapped,
                   struct err *err)
{
	const char *sql;
	sqlite3_stmt *st = NULL;
	int ret = -1;

	*swapped = 0;
	if (old_state == NULL && new_state == NULL)
		return 0;
	if (old_state == NULL)
		sql = "INSERT INTO alerts (backup_name, last_state, last_sent_epoch) "
		      "VALUES (?1, ?4, ?5) ON CONFLICT (backup_name) DO NOTHING";
	else if (new_state == NULL)
		sql = "DELETE FROM alerts WHERE backup_name = ?1 AND last_state = ?2 AND "
		      "last_sent_epoch = ?3";
	else
		sql = "UPDATE alerts SET last_state = ?4, last_sent_epoch = ?5 "
		      "WHERE backup_name = ?1 AND last_state = ?2 AND last_sent_epoch = ?3";
	if (alerts_ensure(cat, err) == -1 || prepare(cat, &st, sql, err) == -1)
		return -1;
	bind_text(st, 1, backup_name);
	if (old_state != NULL) {
		bind_text(st, 2, old_state);
		sqlite3_bind_int64(st, 3, old_sent);
	}
	if (new_state != NULL) {
		bind_text(st, 4, new_state);
		sqlite3_bind_int64(st, 5, new_sent);
	}
	if (step_done(cat, st, err, "recording the alert state") == -1)
		goto out;
	*swapped = sqlite3_changes(cat->db) > 0;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}
