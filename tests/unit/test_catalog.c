/*
 * Unit tests for catalog.c: the exact schema of a new database, the
 * in-place upgrade of a database without TYPE, the row lifecycle (insert,
 * finish, repair) with NULLs, ordering of both ISO forms the original
 * writes, the index-backed speed checknagios needs, and read-only opens of
 * missing and WAL databases (side files absent, present, or impossible to
 * create), the version that keys the web cache, and the addresses
 * catalog_open() takes (plain path, sqlite: URIs, unknown schemes). Every
 * test works in its own temporary folder, and on its own database when
 * the cases that use only catalog.h run against PostgreSQL (see main()).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "catalog.h"
#include "catalog_backend.h"
#include "catalog_fixture.h"
#include "fixture.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

struct fixture {
	char dir[TB_TMPDIR_MAX];
	char *db; /* the catalog's address (tb_catalog_new()) */
	char
	    name[TB_TMPDIR_MAX + 32]; /* what the backend's messages name: the file, the database */
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	if (tb_tmpdir_make(f->dir, sizeof f->dir, "catalog") == -1) {
		free(f);
		return -1;
	}
	f->db = tb_catalog_new(f->dir, "tisbackup");
	/* postgresql://user@/DB?host=...: messages end with "/DB" */
	if (tb_catalog_pg_url() != NULL) {
		const char *p = strstr(f->db, "://") + 3;

		p += strcspn(p, "/");
		snprintf(f->name, sizeof f->name, "%.*s", (int)strcspn(p, "?"), p);
	} else
		snprintf(f->name, sizeof f->name, "%s", f->db);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = tb_catalog_drop(f->db);

	if (tb_tmpdir_remove(f->dir) == -1)
		rc = -1;
	free(f);
	return rc;
}

/* Run sql on a raw connection to path (the test's view of the file). */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* stats rebuilt without its TYPE column (an old database), keeping the rows matching where. */
static void
drop_type_column(const char *db, const char *where)
{
	char *sql = xasprintf("CREATE TABLE old AS SELECT backup_name, server_name, description, "
	                      "backup_start, backup_end, backup_duration, total_files_count, "
	                      "written_files_count, total_bytes, written_bytes, status, log, "
	                      "backup_location FROM stats%s; DROP TABLE stats; "
	                      "ALTER TABLE old RENAME TO stats;",
	                      where);

	raw_exec(db, sql);
	free(sql);
}

/* First column of the rows of sql joined with '|'. Caller frees. */
static char *
raw_query(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *res = xstrdup(""), *tmp;
	int first = 1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		tmp = xasprintf("%s%s%s", res, first ? "" : "|", v != NULL ? v : "NULL");
		free(res);
		res = tmp;
		first = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return res;
}

/* Lower-case, one space between words, none around punctuation. */
static char *
normalize_sql(const char *s)
{
	char *out = xmalloc(strlen(s) + 1);
	size_t n = 0;
	int space = 0;

	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			space = 1;
			continue;
		}
		if (space && n > 0 && strchr("(),", out[n - 1]) == NULL && strchr("(),", c) == NULL)
			out[n++] = ' ';
		space = 0;
		out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return out;
}

static const char canonical_table[] =
    "create table stats(backup_name text,server_name text,description text,"
    "backup_start text,backup_end text,backup_duration numeric,total_files_count int,"
    "written_files_count int,total_bytes int,written_bytes int,status text,log text,"
    "backup_location text,type text)";

static void
assert_schema(const char *path)
{
	char *s, *norm;

	s = raw_query(path, "SELECT sql FROM sqlite_master WHERE type = 'table'");
	norm = normalize_sql(s);
	assert_string_equal(norm, canonical_table);
	free(norm);
	free(s);

	s = raw_query(path, "SELECT name || ':' || type FROM pragma_table_info('stats') "
	                    "ORDER BY cid");
	assert_string_equal(s, "backup_name:TEXT|server_name:TEXT|description:TEXT|"
	                       "backup_start:TEXT|backup_end:TEXT|backup_duration:NUMERIC|"
	                       "total_files_count:INT|written_files_count:INT|total_bytes:INT|"
	                       "written_bytes:INT|status:TEXT|log:TEXT|backup_location:TEXT|"
	                       "TYPE:TEXT");
	free(s);

	s = raw_query(path, "SELECT m.name || '(' || (SELECT group_concat(name) FROM "
	                    "pragma_index_info(m.name)) || ')' FROM sqlite_master m "
	                    "WHERE m.type = 'index' ORDER BY m.name");
	assert_string_equal(s, "idx_stats_backup_location(backup_location)|"
	                       "idx_stats_backup_name(backup_name)|"
	                       "idx_stats_backup_name_start(backup_name,backup_start)");
	free(s);

	s = raw_query(path, "SELECT sql FROM sqlite_master WHERE type = 'index' ORDER BY name");
	norm = normalize_sql(s);
	assert_string_equal(norm, "create index idx_stats_backup_location on "
	                          "stats(backup_location)|create index idx_stats_backup_name on "
	                          "stats(backup_name)|create index idx_stats_backup_name_start on "
	                          "stats(backup_name,backup_start)");
	free(norm);
	free(s);
}

static void
test_create_schema(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	char *s;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	assert_schema(f->db);
	s = raw_query(f->db, "PRAGMA journal_mode");
	assert_string_equal(s, "wal");
	free(s);

	/* Opening again changes nothing. */
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	assert_schema(f->db);
}

static void
test_upgrade_old_db(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct catalog_row *rows;
	struct err err;
	size_t n;
	char *s;

	/* A very old install: no TYPE, one index only, rollback journal. */
	raw_exec(f->db, "create table stats (backup_name TEXT, server_name TEXT, description TEXT, "
	                "backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, "
	                "total_files_count INT, written_files_count INT, total_bytes INT, "
	                "written_bytes INT, status TEXT, log TEXT, backup_location TEXT);"
	                "create index idx_stats_backup_name on stats(backup_name);"
	                "insert into stats values ('srv1', 'host1', '', '2013-05-01T01:00:00', "
	                "'2013-05-01T01:10:00', 0.1666, 10, 5, 2048, 1024, 'OK', 'done', "
	                "'/backup/srv1/20130501-01h00m00');"
	                "insert into stats values ('srv2', 'host2', NULL, '2013-05-02T01:00:00.5', "
	                "NULL, NULL, NULL, NULL, NULL, NULL, 'ERROR', 'failed', NULL);");

	/* Read-only: the file stays old, rows read as BACKUP. */
	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	assert_int_equal(
	    catalog_last_rows(cat, "srv1", "BACKUP", "backup_start", 30, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].type, "BACKUP");
	catalog_rows_free(rows, n);
	catalog_close(cat);
	s = raw_query(f->db, "SELECT count(*) FROM pragma_table_info('stats')");
	assert_string_equal(s, "13");
	free(s);

	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);

	s = raw_query(f->db, "SELECT backup_name || ':' || TYPE FROM stats ORDER BY rowid");
	assert_string_equal(s, "srv1:BACKUP|srv2:BACKUP");
	free(s);
	s = raw_query(f->db, "SELECT name || ':' || type FROM pragma_table_info('stats') "
	                     "WHERE cid = 13");
	assert_string_equal(s, "TYPE:TEXT");
	free(s);
	s = raw_query(f->db, "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master "
	                     "WHERE type = 'index' ORDER BY name)");
	assert_string_equal(s, "idx_stats_backup_location,idx_stats_backup_name,"
	                       "idx_stats_backup_name_start");
	free(s);

	/* The old rows read back unchanged. */
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(
	    catalog_last_rows(cat, NULL, "BACKUP", "backup_start", 30, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].backup_name, "srv2");
	assert_null(rows[0].description);
	assert_null(rows[0].backup_end);
	assert_true(isnan(rows[0].backup_duration));
	assert_true(rows[0].total_bytes == CATALOG_NULL);
	assert_null(rows[0].backup_location);
	assert_string_equal(rows[1].backup_name, "srv1");
	assert_string_equal(rows[1].backup_location, "/backup/srv1/20130501-01h00m00");
	assert_true(rows[1].total_bytes == 2048);
	assert_true(fabs(rows[1].backup_duration - 0.1666) < 1e-9);
	catalog_rows_free(rows, n);
	catalog_close(cat);
	/* And the upgraded schema reads as a new one, TYPE appended last. */
	s = raw_query(f->db, "SELECT sql FROM sqlite_master WHERE type = 'table'");
	{
		char *norm = normalize_sql(s);

		assert_string_equal(norm, canonical_table);
		free(norm);
	}
	free(s);
}

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct catalog_row *rows;
	struct catalog_result res;
	struct err err;
	int64_t id1, id2;
	size_t n;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "web1", "web1.lan", "the web",
	                                        "2026-11-26T03:20:57.000100", "BACKUP", NULL, &id1,
	                                        &err),
	                 0);
	assert_int_equal(catalog_insert_running(cat, "web1", "web1.lan", NULL,
	                                        "2026-11-27T03:20:57", "BACKUP", "/b/web1/x", &id2,
	                                        &err),
	                 0);
	assert_true(id2 == id1 + 1);

	assert_int_equal(catalog_last_rows(cat, "web1", NULL, "backup_start", 30, &rows, &n, &err),
	                 0);
	assert_int_equal(n, 2);
	assert_true(rows[0].rowid == id2);
	assert_string_equal(rows[0].description, "");
	assert_string_equal(rows[0].backup_location, "/b/web1/x");
	assert_true(rows[1].rowid == id1);
	assert_string_equal(rows[1].backup_name, "web1");
	assert_string_equal(rows[1].server_name, "web1.lan");
	assert_string_equal(rows[1].description, "the web");
	assert_string_equal(rows[1].backup_start, "2026-11-26T03:20:57.000100");
	/* Like the original, a Running row's end starts at its start. */
	assert_string_equal(rows[1].backup_end, "2026-11-26T03:20:57.000100");
	assert_true(isnan(rows[1].backup_duration));
	assert_true(rows[1].total_files_count == CATALOG_NULL);
	assert_true(rows[1].written_files_count == CATALOG_NULL);
	assert_true(rows[1].total_bytes == CATALOG_NULL);
	assert_true(rows[1].written_bytes == CATALOG_NULL);
	assert_string_equal(rows[1].status, "Running");
	assert_string_equal(rows[1].log, "");
	assert_null(rows[1].backup_location);
	assert_string_equal(rows[1].type, "BACKUP");
	catalog_rows_free(rows, n);

	memset(&res, 0, sizeof res);
	res.status = "OK";
	res.backup_end = "2026-11-26T04:50:57.000100";
	res.duration_hours = 1.5;
	res.total_files_count = 1234567;
	res.written_files_count = 0;
	res.total_bytes = 20457472;
	res.written_bytes = 5000000000LL;
	res.log = "rsync ok";
	res.backup_location = "/b/web1/20261126-03h20m57";
	assert_int_equal(catalog_finish(cat, id1, &res, &err), 0);

	res.status = "ERROR";
	res.backup_end = "2026-11-27T03:21:00";
	res.duration_hours = NAN;
	res.total_files_count = CATALOG_NULL;
	res.written_files_count = CATALOG_NULL;
	res.total_bytes = CATALOG_NULL;
	res.written_bytes = CATALOG_NULL;
	res.log = NULL;
	res.backup_location = NULL;
	assert_int_equal(catalog_finish(cat, id2, &res, &err), 0);

	assert_int_equal(
	    catalog_last_rows(cat, "web1", "BACKUP", "backup_start", 30, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[1].status, "OK");
	assert_string_equal(rows[1].backup_end, "2026-11-26T04:50:57.000100");
	assert_true(rows[1].backup_duration == 1.5);
	assert_true(rows[1].total_files_count == 1234567);
	assert_true(rows[1].written_files_count == 0);
	assert_true(rows[1].total_bytes == 20457472);
	assert_true(rows[1].written_bytes == 5000000000LL);
	assert_string_equal(rows[1].log, "rsync ok");
	assert_string_equal(rows[1].backup_location, "/b/web1/20261126-03h20m57");
	assert_string_equal(rows[0].status, "ERROR");
	assert_true(isnan(rows[0].backup_duration));
	assert_true(rows[0].total_files_count == CATALOG_NULL);
	assert_true(rows[0].written_bytes == CATALOG_NULL);
	assert_null(rows[0].log);
	assert_null(rows[0].backup_location);
	catalog_rows_free(rows, n);

	/* A whole number of hours comes back as a number too (NUMERIC affinity). */
	res.duration_hours = 2.0;
	assert_int_equal(catalog_finish(cat, id2, &res, &err), 0);
	assert_int_equal(catalog_last_rows(cat, "web1", NULL, "backup_start", 1, &rows, &n, &err),
	                 0);
	assert_int_equal(n, 1);
	assert_true(rows[0].backup_duration == 2.0);
	catalog_rows_free(rows, n);

	/* Finishing a row that does not exist is an error naming the catalog. */
	assert_int_equal(catalog_finish(cat, id2 + 100, &res, &err), -1);
	if (strstr(err.msg, f->name) == NULL)
		fail_msg("\"%s\" does not name %s", err.msg, f->name);
	assert_non_null(strstr(err.msg, "no row"));

	/* Unknown order column. */
	assert_int_equal(catalog_last_rows(cat, "web1", NULL, "status; drop", 1, &rows, &n, &err),
	                 -1);
	assert_null(rows);
	catalog_close(cat);
}

static void
test_repair_running(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct catalog_row *rows;
	struct catalog_result res;
	struct timeval tv;
	struct err err;
	int64_t ok_id, id;
	size_t n;
	int count = -1;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-01T00:00:00", "BACKUP",
	                                        NULL, &ok_id, &err),
	                 0);
	memset(&res, 0, sizeof res);
	res.status = "OK";
	res.backup_end = "2026-01-01T01:00:00";
	res.duration_hours = 1;
	res.log = "fine";
	assert_int_equal(catalog_finish(cat, ok_id, &res, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-02T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-03T00:00:00", "EXPORT",
	                                        NULL, &id, &err),
	                 0);
	assert_int_equal(catalog_insert_running(cat, "b", "h", "", "2026-01-02T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);

	assert_int_equal(catalog_repair_running(cat, "a", "interrupted", &count, &err), 0);
	assert_int_equal(count, 2);
	assert_int_equal(catalog_repair_running(cat, "a", "interrupted", &count, &err), 0);
	assert_int_equal(count, 0);
	assert_int_equal(catalog_repair_running(cat, "nobody", "x", NULL, &err), 0);

	assert_int_equal(catalog_last_rows(cat, "a", NULL, "backup_start", 30, &rows, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(rows[i].status, "ERROR");
		assert_string_equal(rows[i].log, "interrupted");
		assert_int_equal(strlen(rows[i].backup_end), TIME_ISO_LEN);
		assert_int_equal(time_parse_iso(rows[i].backup_end, &tv), 0);
		assert_true(labs((long)(tv.tv_sec - time(NULL))) < 60);
		/* Hours from the row's start to now: months, so far above 0. */
		assert_true(rows[i].backup_duration > 24.0);
	}
	assert_string_equal(rows[2].status, "OK");
	assert_string_equal(rows[2].log, "fine");
	assert_string_equal(rows[2].backup_end, "2026-01-01T01:00:00");
	catalog_rows_free(rows, n);

	assert_int_equal(catalog_last_rows(cat, "b", NULL, "backup_start", 30, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].status, "Running");
	catalog_rows_free(rows, n);
	catalog_close(cat);
}

static void
insert_finished(struct catalog *cat, const char *name, const char *start, const char *end,
                const char *type)
{
	struct catalog_result res;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_insert_running(cat, name, "h", "", start, type, NULL, &id, &err),
	                 0);
	memset(&res, 0, sizeof res);
	res.status = "OK";
	res.backup_end = end;
	res.duration_hours = NAN;
	res.log = start; /* to recognise the row */
	assert_int_equal(catalog_finish(cat, id, &res, &err), 0);
}

/* The log (= start) of each row, joined with '|'. */
static char *
logs_of(struct catalog *cat, const char *name, const char *type, const char *order, int limit)
{
	struct catalog_row *rows;
	struct err err;
	size_t n;
	char *res = xstrdup(""), *tmp;

	err_clear(&err);
	assert_int_equal(catalog_last_rows(cat, name, type, order, limit, &rows, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		tmp = xasprintf("%s%s%s", res, i == 0 ? "" : "|", rows[i].log);
		free(res);
		res = tmp;
	}
	catalog_rows_free(rows, n);
	return res;
}

static void
test_ordering(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	char *s;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	/* Python omits ".000000"; both forms must sort by time. */
	insert_finished(cat, "j", "2026-11-26T03:20:57", "2026-11-26T05:00:00", "BACKUP");
	insert_finished(cat, "j", "2026-11-26T03:20:57.123456", "2026-11-26T04:00:00", "BACKUP");
	insert_finished(cat, "j", "2026-11-26T03:20:56.999999", "2026-11-26T06:00:00", "BACKUP");
	insert_finished(cat, "j", "2026-11-27T00:00:00", "2026-11-27T00:00:01", "EXPORT");
	insert_finished(cat, "k", "2026-11-28T00:00:00", "2026-11-28T00:00:01", "BACKUP");

	s = logs_of(cat, "j", NULL, "backup_start", 30);
	assert_string_equal(s, "2026-11-27T00:00:00|2026-11-26T03:20:57.123456|"
	                       "2026-11-26T03:20:57|2026-11-26T03:20:56.999999");
	free(s);
	s = logs_of(cat, "j", "BACKUP", "backup_start", 30);
	assert_string_equal(s, "2026-11-26T03:20:57.123456|2026-11-26T03:20:57|"
	                       "2026-11-26T03:20:56.999999");
	free(s);
	s = logs_of(cat, "j", "BACKUP", "backup_start", 2);
	assert_string_equal(s, "2026-11-26T03:20:57.123456|2026-11-26T03:20:57");
	free(s);
	s = logs_of(cat, "j", "BACKUP", "backup_end", 30);
	assert_string_equal(s, "2026-11-26T03:20:56.999999|2026-11-26T03:20:57|"
	                       "2026-11-26T03:20:57.123456");
	free(s);
	s = logs_of(cat, NULL, NULL, "backup_start", 2);
	assert_string_equal(s, "2026-11-28T00:00:00|2026-11-27T00:00:00");
	free(s);
	s = logs_of(cat, NULL, "BACKUP", "backup_end", 2);
	assert_string_equal(s, "2026-11-28T00:00:00|2026-11-26T03:20:56.999999");
	free(s);
	s = logs_of(cat, "nobody", "BACKUP", "backup_start", 30);
	assert_string_equal(s, "");
	free(s);
	/* Equal starts come newest row first. */
	insert_finished(cat, "k", "2026-11-28T00:00:00", "2026-11-28T00:00:02", "BACKUP");
	{
		struct catalog_row *rows;
		size_t n;

		assert_int_equal(
		    catalog_last_rows(cat, "k", "BACKUP", "backup_start", 30, &rows, &n, &err), 0);
		assert_int_equal(n, 2);
		assert_string_equal(rows[0].backup_end, "2026-11-28T00:00:02");
		catalog_rows_free(rows, n);
	}
	catalog_close(cat);
}

/* catalog_rows_fn: append "i:" and the logs of the rows, ';' after each job. */
static void
each_collect(void *arg, size_t i, const struct catalog_row *rows, size_t n)
{
	char **acc = arg, *tmp;

	tmp = xasprintf("%s%zu:", *acc, i);
	free(*acc);
	*acc = tmp;
	for (size_t k = 0; k < n; k++) {
		tmp = xasprintf("%s%s%s", *acc, k == 0 ? "" : "|", rows[k].log);
		free(*acc);
		*acc = tmp;
	}
	tmp = xasprintf("%s;", *acc);
	free(*acc);
	*acc = tmp;
}

/* What catalog_last_rows_each() must answer: catalog_last_rows() per name. */
static char *
each_expected(struct catalog *cat, const char *const *names, size_t n, const char *type, int limit)
{
	char *acc = xstrdup(""), *tmp;

	for (size_t i = 0; i < n; i++) {
		char *logs = logs_of(cat, names[i], type, "backup_start", limit);

		tmp = xasprintf("%s%zu:%s;", acc, i, logs);
		free(acc);
		free(logs);
		acc = tmp;
	}
	return acc;
}

static void
each_check(struct catalog *cat, const char *const *names, size_t n, const char *type, int limit)
{
	char *got = xstrdup(""), *want = each_expected(cat, names, n, type, limit);
	struct err err;

	err_clear(&err);
	assert_int_equal(
	    catalog_last_rows_each(cat, names, n, type, limit, each_collect, &got, &err), 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/*
 * catalog_last_rows_each() answers for every name what catalog_last_rows()
 * answers for it alone: order (both ISO forms, equal starts, a NULL start),
 * TYPE filter, limit, unknown and repeated names, more names than one
 * statement takes, and an old database without TYPE opened read-only.
 */
static void
test_last_rows_each(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "j", "nobody", "k", "j", "l" };
	const char **many;
	struct catalog *cat;
	struct err err;
	char *got;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	insert_finished(cat, "j", "2026-11-26T03:20:57", "2026-11-26T05:00:00", "BACKUP");
	insert_finished(cat, "k", "2026-11-28T00:00:00", "2026-11-28T00:00:01", "BACKUP");
	insert_finished(cat, "j", "2026-11-26T03:20:57.123456", "2026-11-26T04:00:00", "BACKUP");
	insert_finished(cat, "j", "2026-11-26T03:20:56.999999", "2026-11-26T06:00:00", "BACKUP");
	insert_finished(cat, "j", "2026-11-27T00:00:00", "2026-11-27T00:00:01", "EXPORT");
	insert_finished(cat, "k", "2026-11-28T00:00:00", "2026-11-28T00:00:02", "BACKUP");
	insert_finished(cat, "l", "2026-11-20T00:00:00", "2026-11-20T00:00:01", "BACKUP");
	catalog_close(cat);
	tb_catalog_exec(f->db, "UPDATE stats SET backup_start = NULL, log = 'null-start' "
	                       "WHERE backup_name = 'l'");
	tb_catalog_exec(f->db, "INSERT INTO stats (backup_name, backup_start, log, TYPE) VALUES "
	                       "('l', '2026-11-21T00:00:00', 'l2', 'BACKUP')");
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);

	each_check(cat, names, 5, "BACKUP", 30);
	each_check(cat, names, 5, NULL, 30);
	each_check(cat, names, 5, "BACKUP", 2);
	each_check(cat, names, 5, "EXPORT", 1);
	got = xstrdup("");
	assert_int_equal(
	    catalog_last_rows_each(cat, names, 3, "BACKUP", 30, each_collect, &got, &err), 0);
	assert_string_equal(got, "0:2026-11-26T03:20:57.123456|2026-11-26T03:20:57|"
	                         "2026-11-26T03:20:56.999999;1:;2:2026-11-28T00:00:00|"
	                         "2026-11-28T00:00:00;");
	free(got);
	/* Nothing asked, nothing called; a limit of 0 is refused. */
	got = xstrdup("");
	assert_int_equal(
	    catalog_last_rows_each(cat, names, 0, "BACKUP", 30, each_collect, &got, &err), 0);
	assert_string_equal(got, "");
	assert_int_equal(
	    catalog_last_rows_each(cat, names, 1, "BACKUP", 0, each_collect, &got, &err), -1);
	assert_string_equal(got, "");
	free(got);

	/* More names than one statement binds: still one answer per name, in order. */
	many = xcalloc(2000, sizeof *many);
	for (size_t i = 0; i < 2000; i++)
		many[i] = names[i % 5];
	each_check(cat, many, 2000, "BACKUP", 30);
	free(many);
	catalog_close(cat);

	/* A database without TYPE (SQLite only: PostgreSQL catalogs always had it), read-only:
	 * every row reads as BACKUP. */
	if (tb_catalog_pg_url() != NULL)
		return;
	drop_type_column(f->db, "");
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	each_check(cat, names, 5, "BACKUP", 30);
	each_check(cat, names, 5, "EXPORT", 30);
	catalog_close(cat);
}

/* catalog_rows_fn: append "i:" and the ends of the rows, ';' after each job. */
static void
each_collect_end(void *arg, size_t i, const struct catalog_row *rows, size_t n)
{
	char **acc = arg, *tmp;

	tmp = xasprintf("%s%zu:", *acc, i);
	free(*acc);
	*acc = tmp;
	for (size_t k = 0; k < n; k++) {
		/* Only the time of day tells these rows apart. */
		tmp = xasprintf("%s%s%s", *acc, k == 0 ? "" : "|", rows[k].backup_end + 11);
		free(*acc);
		*acc = tmp;
	}
	tmp = xasprintf("%s;", *acc);
	free(*acc);
	*acc = tmp;
}

/*
 * catalog_last_rows_each() over jobs whose rows were written interleaved
 * and out of date order: each job gets its own rows only, newest start
 * first, equal starts newest row first, cut at the limit, in the order
 * the names were given (a name asked twice answered twice).
 */
static void
test_last_rows_each_order(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "c", "a", "b", "a" };
	struct catalog *cat;
	struct err err;
	char *got = xstrdup("");

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	insert_finished(cat, "b", "2026-11-01T00:00:00", "2026-11-01T00:00:01", "BACKUP");
	insert_finished(cat, "a", "2026-11-03T00:00:00", "2026-11-03T00:00:01", "BACKUP");
	insert_finished(cat, "c", "2026-11-02T00:00:00", "2026-11-02T00:00:01", "BACKUP");
	insert_finished(cat, "a", "2026-11-01T00:00:00", "2026-11-01T00:00:01", "BACKUP");
	insert_finished(cat, "b", "2026-11-05T00:00:00", "2026-11-05T00:00:01", "BACKUP");
	insert_finished(cat, "a", "2026-11-03T00:00:00", "2026-11-03T00:00:02", "BACKUP");
	insert_finished(cat, "c", "2026-11-04T00:00:00", "2026-11-04T00:00:01", "BACKUP");
	insert_finished(cat, "a", "2026-11-02T00:00:00", "2026-11-02T00:00:01", "BACKUP");
	insert_finished(cat, "a", "2026-11-03T00:00:00", "2026-11-03T00:00:03", "BACKUP");
	assert_int_equal(
	    catalog_last_rows_each(cat, names, 4, "BACKUP", 3, each_collect_end, &got, &err), 0);
	assert_string_equal(got, "0:00:00:01|00:00:01;"
	                         "1:00:00:03|00:00:02|00:00:01;"
	                         "2:00:00:01|00:00:01;"
	                         "3:00:00:03|00:00:02|00:00:01;");
	free(got);
	/* The same through the ends' dates: c newest first, b newest first. */
	got = xstrdup("");
	assert_int_equal(
	    catalog_last_rows_each(cat, names, 3, "BACKUP", 30, each_collect, &got, &err), 0);
	assert_string_equal(got, "0:2026-11-04T00:00:00|2026-11-02T00:00:00;"
	                         "1:2026-11-03T00:00:00|2026-11-03T00:00:00|2026-11-03T00:00:00|"
	                         "2026-11-02T00:00:00|2026-11-01T00:00:00;"
	                         "2:2026-11-05T00:00:00|2026-11-01T00:00:00;");
	free(got);
	catalog_close(cat);
}

/* checknagios reads 30 rows of 200 jobs over 100k rows: index, not scans. */
static void
test_last_rows_speed(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct catalog_row *rows;
	struct timespec a, b;
	struct err err;
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t n;
	double ms;
	char name[32], start[32];

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "INSERT INTO stats (backup_name, backup_start, "
	                                    "backup_end, status, log, TYPE) "
	                                    "VALUES (?, ?, ?, 'OK', 'log', 'BACKUP')",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	for (int d = 0; d < 500; d++) {
		for (int j = 0; j < 200; j++) {
			snprintf(name, sizeof name, "job%03d", j);
			snprintf(start, sizeof start, "2025-%02d-%02dT03:%02d:00.123456",
			         1 + d / 28 % 12, 1 + d % 28, j % 60);
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, start, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, start, -1, SQLITE_STATIC);
			assert_int_equal(sqlite3_step(st), SQLITE_DONE);
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);

	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int j = 0; j < 200; j++) {
		snprintf(name, sizeof name, "job%03d", j);
		assert_int_equal(
		    catalog_last_rows(cat, name, "BACKUP", "backup_start", 30, &rows, &n, &err), 0);
		assert_int_equal(n, 30);
		catalog_rows_free(rows, n);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	print_message("# 200 x last 30 rows over 100000: %.2f ms\n", ms);
	/*
	 * The time is printed, never asserted (a loaded machine may take any
	 * time). What makes it fast is asserted instead: the query walks the
	 * (backup_name, backup_start) index backwards, with no scan of the
	 * table and no sort.
	 */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "EXPLAIN QUERY PLAN SELECT * FROM stats WHERE "
	                                    "backup_name = 'job001' AND TYPE = 'BACKUP' ORDER BY "
	                                    "backup_start DESC, rowid DESC LIMIT 30",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	{
		char plan[1024] = "";
		size_t len = 0;

		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);

			len += (size_t)snprintf(plan + len, sizeof plan - len, "%s;",
			                        d != NULL ? d : "");
			if (len >= sizeof plan)
				len = sizeof plan - 1;
		}
		print_message("# plan: %s\n", plan);
		assert_non_null(strstr(plan, "idx_stats_backup_name_start"));
		assert_null(strstr(plan, "TEMP B-TREE"));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	catalog_close(cat);
}

static void
test_ro_missing(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat = (struct catalog *)1;
	struct err err;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), -1);
	assert_null(cat);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, f->db));
	/* Nothing was created. */
	assert_int_equal(access(f->db, F_OK), -1);
}

static void
test_rw_error_names_path(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	char *path = xasprintf("%s/missing/dir/tisbackup.sqlite", f->dir);
	char *want = xasprintf("catalog %s: opening: unable to open database file", path);

	err_clear(&err);
	assert_int_equal(catalog_open(path, CATALOG_RW, &cat, &err), -1);
	assert_string_equal(err.msg, want);
	free(want);
	free(path);
}

static int
count_rows(struct catalog *cat)
{
	struct catalog_row *rows;
	struct err err;
	size_t n;

	err_clear(&err);
	if (catalog_last_rows(cat, NULL, NULL, "backup_start", -1, &rows, &n, &err) == -1)
		return -1;
	catalog_rows_free(rows, n);
	return (int)n;
}

static int
side_file(const char *db, const char *suffix)
{
	char *p = xasprintf("%s%s", db, suffix);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

static void
test_ro_wal_closed(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat, *ro;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-01T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	catalog_close(cat);
	/* The last writer checkpointed and removed its side files. */
	assert_false(side_file(f->db, "-wal"));
	assert_false(side_file(f->db, "-shm"));

	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	assert_int_equal(count_rows(ro), 1);
	/* Writes are refused. */
	assert_int_equal(catalog_insert_running(ro, "a", "h", "", "2026-01-01T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 -1);
	assert_non_null(strstr(err.msg, "read-only"));
	assert_int_equal(catalog_repair_running(ro, "a", "x", NULL, &err), -1);
	catalog_close(ro);
}

static void
test_ro_wal_live(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat, *ro;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-01T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	assert_true(side_file(f->db, "-wal"));
	assert_true(side_file(f->db, "-shm"));

	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	assert_int_equal(count_rows(ro), 1);
	/* A later commit, still only in the -wal, is seen by the reader. */
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-02T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	assert_int_equal(count_rows(ro), 2);
	catalog_close(ro);
	catalog_close(cat);
}

/*
 * A monitoring user without write access to the log folder: the side
 * files cannot be created when missing, but the catalog must still read.
 * Runs in a child as "nobody" when the tests run as root. immutable: the
 * open has to fall back to an immutable read, which cannot see commits,
 * so its version must change at every call (never a stale one).
 */
static int
ro_in_child(const char *path, int expect_rows, int immutable)
{
	struct catalog *ro;
	struct err err;
	uint64_t v1, v2;
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1))
			_exit(10);
		err_clear(&err);
		if (catalog_open(path, CATALOG_RO, &ro, &err) == -1) {
			fprintf(stderr, "# %s\n", err.msg);
			_exit(11);
		}
		if (count_rows(ro) != expect_rows)
			_exit(12);
		if (catalog_version(ro, &v1, &err) == -1 || catalog_version(ro, &v2, &err) == -1)
			_exit(13);
		if ((v1 != v2) != immutable)
			_exit(14);
		catalog_close(ro);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void
test_ro_unwritable_dir(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-01T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	catalog_close(cat);
	assert_false(side_file(f->db, "-wal"));
	assert_int_equal(chmod(f->db, 0644), 0);
	assert_int_equal(chmod(f->dir, 0555), 0);

	/* No side files, none can be created: the immutable retry reads. */
	assert_int_equal(ro_in_child(f->db, 1, 1), 0);
	assert_false(side_file(f->db, "-wal"));
	assert_false(side_file(f->db, "-shm"));

	/* A writer is running: its side files are used read-only. */
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "h", "", "2026-01-02T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	assert_int_equal(chmod(f->dir, 0555), 0);
	assert_int_equal(ro_in_child(f->db, 2, 0), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	catalog_close(cat);
}

static void
test_ro_not_a_catalog(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	FILE *fp;

	raw_exec(f->db, "create table other (a)");
	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), -1);
	assert_non_null(strstr(err.msg, "no table stats"));

	fp = fopen(f->db, "w");
	assert_non_null(fp);
	fputs("this is not a database, just some text long enough to be a header......\n"
	      "and a second line\n",
	      fp);
	fclose(fp);
	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), -1);
	assert_non_null(strstr(err.msg, f->db));
	assert_non_null(strstr(err.msg, "not a database"));
}

/* Insert a finished row the way register_existing does. */
static void
put_row(struct catalog *cat, const char *name, const char *start, const char *status,
        const char *type, const char *location, int64_t *id)
{
	struct catalog_row r = {
		.backup_name = (char *)name,
		.server_name = (char *)"srv",
		.description = (char *)"",
		.backup_start = (char *)start,
		.backup_end = (char *)start,
		.backup_duration = 0.5,
		.total_files_count = 10,
		.written_files_count = CATALOG_NULL,
		.total_bytes = 1000,
		.written_bytes = 0,
		.status = (char *)status,
		.log = (char *)"registered",
		.backup_location = (char *)location,
		.type = (char *)type,
	};
	struct err err;

	err_clear(&err);
	assert_int_equal(catalog_insert_row(cat, &r, id, &err), 0);
}

static void
test_find_count_set_type(void **state)
{
	struct fixture *f = *state;
	struct catalog_filter flt;
	struct catalog_row *rows;
	struct catalog *cat;
	struct err err;
	int64_t id[6], count;
	size_t n;
	int known;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	put_row(cat, "a", "2026-11-01T01:00:00", "OK", "BACKUP", "/b/a/1", &id[0]);
	put_row(cat, "a", "2026-11-02T01:00:00.5", "ERROR", "BACKUP", NULL, &id[1]);
	put_row(cat, "a", "2026-11-03T01:00:00", "OK", "BACKUP", "/b/a/3", &id[2]);
	put_row(cat, "a", "2026-11-04T01:00:00", "OK", "EXPORT", "/x/a", &id[3]);
	put_row(cat, "b", "2026-11-02T01:00:00", "OK", "BACKUP", "/b/b/2", &id[4]);
	put_row(cat, "b", "2026-11-05T01:00:00", "OK", "BACKUP", "", &id[5]);

	/* Every BACKUP of a started before Nov 3 with a location, oldest first. */
	memset(&flt, 0, sizeof flt);
	flt.backup_name = "a";
	flt.type = "BACKUP";
	flt.start_before = "2026-11-03T00:00:00";
	flt.with_location = 1;
	flt.oldest_first = 1;
	assert_int_equal(catalog_find(cat, &flt, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].rowid, id[0]);
	assert_string_equal(rows[0].log, "registered");
	assert_int_equal(rows[0].written_files_count, CATALOG_NULL);
	assert_true(rows[0].backup_duration == 0.5);
	catalog_rows_free(rows, n);

	/* Paging over every row, newest first; count ignores paging. */
	memset(&flt, 0, sizeof flt);
	flt.limit = 2;
	flt.offset = 1;
	assert_int_equal(catalog_find(cat, &flt, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].rowid, id[3]);
	assert_int_equal(rows[1].rowid, id[2]);
	catalog_rows_free(rows, n);
	assert_int_equal(catalog_count(cat, &flt, &count, &err), 0);
	assert_int_equal(count, 6);

	/* Status and since filters. */
	memset(&flt, 0, sizeof flt);
	flt.status = "OK";
	flt.start_since = "2026-11-02T01:00:00";
	flt.type = "BACKUP";
	assert_int_equal(catalog_count(cat, &flt, &count, &err), 0);
	assert_int_equal(count, 3); /* a/3, b/2, b/5 */

	/* set_type, and the location index lookup. */
	assert_int_equal(catalog_set_type(cat, id[0], "CLEAN", &err), 0);
	memset(&flt, 0, sizeof flt);
	flt.type = "CLEAN";
	assert_int_equal(catalog_find(cat, &flt, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].type, "CLEAN");
	catalog_rows_free(rows, n);
	assert_int_equal(catalog_set_type(cat, 9999, "CLEAN", &err), -1);
	assert_non_null(strstr(err.msg, "9999"));
	assert_int_equal(catalog_location_known(cat, "/b/b/2", &known, &err), 0);
	assert_int_equal(known, 1);
	assert_int_equal(catalog_location_known(cat, "/b/b/9", &known, &err), 0);
	assert_int_equal(known, 0);
	/* Every job name once, sorted (the fleet view). */
	{
		char **names = NULL;
		size_t nn = 0;

		assert_int_equal(catalog_job_names(cat, &names, &nn, &err), 0);
		assert_int_equal(nn, 2);
		assert_string_equal(names[0], "a");
		assert_string_equal(names[1], "b");
		catalog_names_free(names, nn);
	}
	catalog_close(cat);
}

/*
 * Keyset paging (catalog_filter.after_rowid): walking a list page by page,
 * each page after the last row of the one before, gives the whole list,
 * each row once, in order, both orders and every page size, through equal
 * starts and NULL starts (last newest first, first oldest first).
 */
static void
test_find_keyset(void **state)
{
	static const char *starts[] = { "2026-11-02T01:00:00", NULL, "2026-11-01T01:00:00",
		                        "2026-11-02T01:00:00", NULL, "2026-11-03T01:00:00",
		                        "2026-11-02T01:00:00", NULL };
	struct fixture *f = *state;
	struct catalog_filter flt;
	struct catalog_row *all, *rows;
	struct catalog *cat;
	struct err err;
	int64_t id;
	size_t nall, n;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
		put_row(cat, "a", starts[i], "OK", "BACKUP", NULL, &id);
	put_row(cat, "b", "2026-11-02T01:00:00", "OK", "EXPORT", NULL, &id); /* filtered out */
	for (int oldest = 0; oldest <= 1; oldest++) {
		memset(&flt, 0, sizeof flt);
		flt.type = "BACKUP";
		flt.oldest_first = oldest;
		assert_int_equal(catalog_find(cat, &flt, &all, &nall, &err), 0);
		assert_int_equal(nall, 8);
		for (int lim = 1; lim <= 9; lim++) {
			size_t seen = 0;
			char *last_start = NULL;

			flt.limit = lim;
			flt.after_rowid = 0;
			flt.after_start = NULL;
			flt.offset = 0;
			for (;;) {
				assert_int_equal(catalog_find(cat, &flt, &rows, &n, &err), 0);
				assert_true(seen + n <= nall);
				for (size_t i = 0; i < n; i++)
					assert_int_equal(rows[i].rowid, all[seen + i].rowid);
				seen += n;
				if (n == 0) {
					catalog_rows_free(rows, n);
					break;
				}
				free(last_start);
				last_start = rows[n - 1].backup_start != NULL
				                 ? xstrdup(rows[n - 1].backup_start)
				                 : NULL;
				flt.after_rowid = rows[n - 1].rowid;
				flt.after_start = last_start;
				flt.offset = 3; /* ignored once after_rowid is set */
				catalog_rows_free(rows, n);
			}
			free(last_start);
			assert_int_equal(seen, nall);
		}
		catalog_rows_free(all, nall);
	}
	catalog_close(cat);
}

static void
test_transactions(void **state)
{
	struct fixture *f = *state;
	struct catalog_filter flt = { 0 };
	struct catalog *cat, *other;
	struct err err;
	int64_t count;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	/* Rolled back: nothing stays. */
	assert_int_equal(catalog_begin(cat, &err), 0);
	put_row(cat, "t", "2026-11-01T01:00:00", "OK", "BACKUP", "/b/t/1", NULL);
	put_row(cat, "t", "2026-11-02T01:00:00", "OK", "BACKUP", "/b/t/2", NULL);
	catalog_rollback(cat);
	assert_int_equal(catalog_count(cat, &flt, &count, &err), 0);
	assert_int_equal(count, 0);
	/* Committed: both rows, and another connection sees them only then. */
	assert_int_equal(catalog_begin(cat, &err), 0);
	put_row(cat, "t", "2026-11-01T01:00:00", "OK", "BACKUP", "/b/t/1", NULL);
	put_row(cat, "t", "2026-11-02T01:00:00", "OK", "BACKUP", "/b/t/2", NULL);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &other, &err), 0);
	assert_int_equal(catalog_count(other, &flt, &count, &err), 0);
	assert_int_equal(count, 0);
	assert_int_equal(catalog_commit(cat, &err), 0);
	assert_int_equal(catalog_count(other, &flt, &count, &err), 0);
	assert_int_equal(count, 2);
	catalog_rollback(cat); /* no transaction open: harmless */
	catalog_close(other);
	/* A read-only catalog cannot start one. */
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &other, &err), 0);
	assert_int_equal(catalog_begin(other, &err), -1);
	assert_non_null(strstr(err.msg, "read-only"));
	catalog_close(other);
	catalog_close(cat);
}

/* catalog_count() of rows of name (all rows when NULL) on cat. */
static int64_t
count_of(struct catalog *cat, const char *name)
{
	struct catalog_filter flt = { .backup_name = name };
	struct err err;
	int64_t count = -1;

	err_clear(&err);
	if (catalog_count(cat, &flt, &count, &err) == -1)
		fail_msg("catalog_count: %s", err.msg);
	return count;
}

/*
 * A handle asked the same count again answers what the catalog holds
 * then (PostgreSQL remembers counts while its snapshot stays): after
 * another connection's commit, not before; after an update; after more
 * filters than it remembers; its own rows inside a transaction.
 */
static void
test_count_again(void **state)
{
	struct fixture *f = *state;
	struct catalog *rw, *ro, *other;
	struct catalog_filter flt = { .type = "BACKUP" };
	struct err err;
	int64_t id, count;
	char name[16];

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &rw, &err), 0);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &other, &err), 0);
	put_row(rw, "a", "2026-01-01T00:00:00", "OK", "BACKUP", "/b/a/1", NULL);
	put_row(rw, "a", "2026-01-02T00:00:00", "OK", "BACKUP", "/b/a/2", &id);
	put_row(rw, "b", "2026-01-01T00:00:00", "OK", "BACKUP", "/b/b/1", NULL);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	assert_int_equal(count_of(ro, NULL), 3);
	assert_int_equal(count_of(ro, "a"), 2);
	assert_int_equal(count_of(ro, "a"), 2);

	/* Another connection's row: seen once committed. */
	assert_int_equal(catalog_begin(other, &err), 0);
	put_row(other, "a", "2026-01-03T00:00:00", "OK", "BACKUP", "/b/a/3", NULL);
	assert_int_equal(count_of(ro, "a"), 2);
	assert_int_equal(catalog_commit(other, &err), 0);
	assert_int_equal(count_of(ro, "a"), 3);
	assert_int_equal(count_of(ro, NULL), 4);

	/* An update. */
	assert_int_equal(catalog_count(ro, &flt, &count, &err), 0);
	assert_int_equal(count, 4);
	assert_int_equal(catalog_set_type(other, id, "CLEAN", &err), 0);
	assert_int_equal(catalog_count(ro, &flt, &count, &err), 0);
	assert_int_equal(count, 3);

	/* More filters than a handle remembers, then a new row of the first. */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "none%d", i);
		assert_int_equal(count_of(ro, name), 0);
	}
	put_row(other, "a", "2026-01-04T00:00:00", "OK", "BACKUP", "/b/a/4", NULL);
	assert_int_equal(count_of(ro, "a"), 4);
	assert_int_equal(count_of(ro, "none3"), 0);

	/* Its own rows inside a transaction, gone with the rollback. */
	assert_int_equal(count_of(rw, "a"), 4);
	assert_int_equal(catalog_begin(rw, &err), 0);
	put_row(rw, "a", "2026-01-05T00:00:00", "OK", "BACKUP", "/b/a/5", NULL);
	assert_int_equal(count_of(rw, "a"), 5);
	assert_int_equal(count_of(ro, "a"), 4);
	catalog_rollback(rw);
	assert_int_equal(count_of(rw, "a"), 4);
	assert_int_equal(count_of(ro, "a"), 4);

	catalog_close(ro);
	catalog_close(other);
	catalog_close(rw);
}

/* The handle's version now. */
static uint64_t
version_of(struct catalog *cat)
{
	struct err err;
	uint64_t v = 0;

	err_clear(&err);
	if (catalog_version(cat, &v, &err) == -1)
		fail_msg("catalog_version: %s", err.msg);
	return v;
}

/* Insert one Running row into db from a child process; its exit status. */
static int
insert_in_child(const char *db)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct catalog *cat;
		struct err err;
		int64_t id;

		err_clear(&err);
		if (catalog_open(db, CATALOG_RW, &cat, &err) == -1 ||
		    catalog_insert_running(cat, "child", "h", "", "2026-03-01T00:00:00", "BACKUP",
		                           NULL, &id, &err) == -1)
			_exit(1);
		catalog_close(cat);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* catalog_run_counts() as "name/TYPE/status=N ...". Caller frees. */
static char *
run_counts_str(struct catalog *cat)
{
	struct catalog_run_count *c;
	struct err err;
	size_t n;
	char *acc = xstrdup(""), *tmp;

	err_clear(&err);
	if (catalog_run_counts(cat, &c, &n, &err) == -1)
		fail_msg("catalog_run_counts: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		tmp = xasprintf("%s%s%s/%s/%s=%lld", acc, i > 0 ? " " : "", c[i].backup_name,
		                c[i].type, c[i].status, (long long)c[i].count);
		free(acc);
		acc = tmp;
	}
	catalog_run_counts_free(c, n);
	return acc;
}

/* catalog_last_finished() as "name:backup_start:status:log ...". Caller frees. */
static char *
last_finished_str(struct catalog *cat, const char *type)
{
	struct catalog_row *r;
	struct err err;
	size_t n;
	char *acc = xstrdup(""), *tmp;

	err_clear(&err);
	if (catalog_last_finished(cat, type, &r, &n, &err) == -1)
		fail_msg("catalog_last_finished: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(r[i].type, type);
		tmp = xasprintf("%s%s%s:%s:%s:%s", acc, i > 0 ? " " : "", r[i].backup_name,
		                r[i].backup_start != NULL ? r[i].backup_start : "NULL", r[i].status,
		                r[i].log);
		free(acc);
		acc = tmp;
	}
	catalog_rows_free(r, n);
	return acc;
}

/* put_row() with a log that tells the rows apart. */
static void
put_logged(struct catalog *cat, const char *name, const char *start, const char *status,
           const char *type, const char *log)
{
	struct catalog_row r = {
		.backup_name = (char *)name,
		.server_name = (char *)"srv",
		.backup_start = (char *)start,
		.backup_end = (char *)start,
		.backup_duration = NAN,
		.total_files_count = CATALOG_NULL,
		.written_files_count = CATALOG_NULL,
		.total_bytes = CATALOG_NULL,
		.written_bytes = CATALOG_NULL,
		.status = (char *)status,
		.log = (char *)log,
		.type = (char *)type,
	};
	struct err err;

	err_clear(&err);
	assert_int_equal(catalog_insert_row(cat, &r, NULL, &err), 0);
}

#define ASSERT_STR(expr, want)                                                                     \
	do {                                                                                       \
		char *got_ = (expr);                                                               \
		assert_string_equal(got_, want);                                                   \
		free(got_);                                                                        \
	} while (0)

/*
 * What /metrics and /api/v1/jobs read about every job at once: the
 * finished rows counted by (job, TYPE, status), Running and NULL statuses
 * and NULL names or types left out, sorted byte-wise; the newest finished
 * row of a type per job (start order, NULL starts last, equal starts the
 * newest rowid), jobs with none left out.
 */
static void
test_every_job(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	ASSERT_STR(run_counts_str(cat), "");
	ASSERT_STR(last_finished_str(cat, "VERIFY"), "");
	put_logged(cat, "b", "2026-03-01T00:00:00", "OK", "BACKUP", "b1");
	put_logged(cat, "b", "2026-03-02T00:00:00", "OK", "BACKUP", "b2");
	put_logged(cat, "b", "2026-03-03T00:00:00", "ERROR", "BACKUP", "b3");
	put_logged(cat, "b", "2026-03-04T00:00:00", "Running", "BACKUP", "b4");
	put_logged(cat, "b", "2026-02-01T00:00:00", "OK", "CLEAN", "b5");
	put_logged(cat, "b", "2026-03-01T01:00:00", "OK", "VERIFY", "bv1");
	put_logged(cat, "b", "2026-03-02T01:00:00", "ERROR", "VERIFY", "bv2");
	put_logged(cat, "b", "2026-03-03T01:00:00", "Running", "VERIFY", "bv3");
	put_logged(cat, "b", "2026-03-05T01:00:00", NULL, "VERIFY", "bv4");
	/* Equal starts: the newer row wins; a NULL start is older than any. */
	put_logged(cat, "a", "2026-03-01T00:00:00", "OK", "VERIFY", "av1");
	put_logged(cat, "a", "2026-03-01T00:00:00", "ERROR", "VERIFY", "av2");
	put_logged(cat, "a", NULL, "OK", "VERIFY", "av3");
	put_logged(cat, "a", "2026-03-01T00:00:00", "WARNING", "BACKUP", "a1");
	put_logged(cat, "n", NULL, "OK", "VERIFY", "nv1");
	put_logged(cat, "r", "2026-03-01T00:00:00", "Running", "VERIFY", "rv1");
	put_logged(cat, "B", "2026-03-01T00:00:00", "OK", "EXPORT", "B1");
	put_logged(cat, NULL, "2026-03-01T00:00:00", "OK", "VERIFY", "nameless");
	put_logged(cat, "t", "2026-03-01T00:00:00", "OK", NULL, "typeless");
	ASSERT_STR(run_counts_str(cat),
	           "B/EXPORT/OK=1 a/BACKUP/WARNING=1 a/VERIFY/ERROR=1 "
	           "a/VERIFY/OK=2 b/BACKUP/ERROR=1 b/BACKUP/OK=2 "
	           "b/CLEAN/OK=1 b/VERIFY/ERROR=1 b/VERIFY/OK=1 n/VERIFY/OK=1");
	ASSERT_STR(last_finished_str(cat, "VERIFY"),
	           "a:2026-03-01T00:00:00:ERROR:av2 b:2026-03-02T01:00:00:ERROR:bv2 "
	           "n:NULL:OK:nv1");
	ASSERT_STR(last_finished_str(cat, "BACKUP"), "a:2026-03-01T00:00:00:WARNING:a1 "
	                                             "b:2026-03-03T00:00:00:ERROR:b3");
	ASSERT_STR(last_finished_str(cat, "NONE"), "");
	catalog_close(cat);

	/* A handle that only reads gets the same. */
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	ASSERT_STR(last_finished_str(cat, "VERIFY"),
	           "a:2026-03-01T00:00:00:ERROR:av2 b:2026-03-02T01:00:00:ERROR:bv2 "
	           "n:NULL:OK:nv1");
	ASSERT_STR(run_counts_str(cat),
	           "B/EXPORT/OK=1 a/BACKUP/WARNING=1 a/VERIFY/ERROR=1 "
	           "a/VERIFY/OK=2 b/BACKUP/ERROR=1 b/BACKUP/OK=2 "
	           "b/CLEAN/OK=1 b/VERIFY/ERROR=1 b/VERIFY/OK=1 n/VERIFY/OK=1");
	catalog_close(cat);

	/* A database without TYPE (SQLite only), read-only: every row reads as BACKUP. */
	if (tb_catalog_pg_url() != NULL)
		return;
	drop_type_column(f->db, " WHERE backup_name = 'b'");
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	ASSERT_STR(run_counts_str(cat), "b/BACKUP/ERROR=2 b/BACKUP/OK=4");
	ASSERT_STR(last_finished_str(cat, "BACKUP"), "b:2026-03-03T00:00:00:ERROR:b3");
	ASSERT_STR(last_finished_str(cat, "VERIFY"), "");
	catalog_close(cat);
}

/*
 * The answers about every job are remembered per version: asked again
 * with no commit, the same; after another connection's commit, another
 * process's, an update or the handle's own write, the new one; inside the
 * handle's transaction its own rows, gone again after the rollback.
 */
static void
test_every_job_memo(void **state)
{
	struct fixture *f = *state;
	struct catalog *rw, *ro, *other;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &rw, &err), 0);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &other, &err), 0);
	put_logged(rw, "a", "2026-01-01T00:00:00", "OK", "BACKUP", "a1");
	put_logged(rw, "a", "2026-01-01T01:00:00", "OK", "VERIFY", "av1");
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/OK=1 a/VERIFY/OK=1");
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/OK=1 a/VERIFY/OK=1");
	ASSERT_STR(last_finished_str(ro, "VERIFY"), "a:2026-01-01T01:00:00:OK:av1");
	ASSERT_STR(last_finished_str(ro, "VERIFY"), "a:2026-01-01T01:00:00:OK:av1");

	/* Another connection's commit: seen once committed, not before. */
	assert_int_equal(catalog_begin(other, &err), 0);
	put_logged(other, "a", "2026-01-02T00:00:00", "ERROR", "BACKUP", "a2");
	put_logged(other, "a", "2026-01-02T01:00:00", "ERROR", "VERIFY", "av2");
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/OK=1 a/VERIFY/OK=1");
	ASSERT_STR(last_finished_str(ro, "VERIFY"), "a:2026-01-01T01:00:00:OK:av1");
	assert_int_equal(catalog_commit(other, &err), 0);
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1");
	ASSERT_STR(last_finished_str(ro, "VERIFY"), "a:2026-01-02T01:00:00:ERROR:av2");

	/* Another type asked in between, then the first again. */
	ASSERT_STR(last_finished_str(ro, "BACKUP"), "a:2026-01-02T00:00:00:ERROR:a2");
	ASSERT_STR(last_finished_str(ro, "VERIFY"), "a:2026-01-02T01:00:00:ERROR:av2");

	/* Another process's commit (a Running row: counted nowhere), then its finish. */
	assert_int_equal(insert_in_child(f->db), 0);
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1");
	tb_catalog_exec(f->db, "UPDATE stats SET status = 'OK' WHERE status = 'Running'");
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 child/BACKUP/OK=1");

	/* An update through the catalog: cleanup marking a backup CLEAN. */
	put_logged(other, "c", "2026-01-03T00:00:00", "OK", "BACKUP", "c1");
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 c/BACKUP/OK=1 child/BACKUP/OK=1");
	assert_int_equal(catalog_insert_running(other, "c", "h", "", "2026-01-04T00:00:00",
	                                        "BACKUP", NULL, &id, &err),
	                 0);
	assert_int_equal(catalog_set_type(other, id, "CLEAN", &err), 0);
	tb_catalog_exec(f->db, "UPDATE stats SET status = 'ERROR' WHERE backup_name = 'c' AND "
	                       "status = 'Running'");
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 c/BACKUP/OK=1 c/CLEAN/ERROR=1 "
	                               "child/BACKUP/OK=1");
	/* A verify that starts, then ends. */
	assert_int_equal(catalog_insert_running(other, "c", "h", "", "2026-01-04T00:00:00",
	                                        "VERIFY", NULL, &id, &err),
	                 0);
	ASSERT_STR(last_finished_str(ro, "VERIFY"), "a:2026-01-02T01:00:00:ERROR:av2");
	tb_catalog_exec(f->db, "UPDATE stats SET status = 'OK', log = 'cv1' WHERE backup_name = "
	                       "'c' AND status = 'Running'");
	ASSERT_STR(last_finished_str(ro, "VERIFY"),
	           "a:2026-01-02T01:00:00:ERROR:av2 c:2026-01-04T00:00:00:OK:cv1");

	/* The handle's own write, then its own rows inside a transaction, gone with the
	 * rollback. */
	ASSERT_STR(run_counts_str(rw), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 c/BACKUP/OK=1 c/CLEAN/ERROR=1 c/VERIFY/OK=1 "
	                               "child/BACKUP/OK=1");
	put_logged(rw, "d", "2026-01-05T00:00:00", "OK", "VERIFY", "dv1");
	ASSERT_STR(last_finished_str(rw, "VERIFY"), "a:2026-01-02T01:00:00:ERROR:av2 "
	                                            "c:2026-01-04T00:00:00:OK:cv1 "
	                                            "d:2026-01-05T00:00:00:OK:dv1");
	assert_int_equal(catalog_begin(rw, &err), 0);
	put_logged(rw, "e", "2026-01-06T00:00:00", "OK", "VERIFY", "ev1");
	ASSERT_STR(last_finished_str(rw, "VERIFY"), "a:2026-01-02T01:00:00:ERROR:av2 "
	                                            "c:2026-01-04T00:00:00:OK:cv1 "
	                                            "d:2026-01-05T00:00:00:OK:dv1 "
	                                            "e:2026-01-06T00:00:00:OK:ev1");
	ASSERT_STR(run_counts_str(rw), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 c/BACKUP/OK=1 c/CLEAN/ERROR=1 c/VERIFY/OK=1 "
	                               "child/BACKUP/OK=1 d/VERIFY/OK=1 e/VERIFY/OK=1");
	catalog_rollback(rw);
	ASSERT_STR(last_finished_str(rw, "VERIFY"), "a:2026-01-02T01:00:00:ERROR:av2 "
	                                            "c:2026-01-04T00:00:00:OK:cv1 "
	                                            "d:2026-01-05T00:00:00:OK:dv1");
	ASSERT_STR(run_counts_str(rw), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 c/BACKUP/OK=1 c/CLEAN/ERROR=1 c/VERIFY/OK=1 "
	                               "child/BACKUP/OK=1 d/VERIFY/OK=1");
	ASSERT_STR(run_counts_str(ro), "a/BACKUP/ERROR=1 a/BACKUP/OK=1 a/VERIFY/ERROR=1 "
	                               "a/VERIFY/OK=1 c/BACKUP/OK=1 c/CLEAN/ERROR=1 c/VERIFY/OK=1 "
	                               "child/BACKUP/OK=1 d/VERIFY/OK=1");
	catalog_close(other);
	catalog_close(ro);
	catalog_close(rw);
}

/*
 * catalog_version(): reads, on this handle or another, leave it; a commit
 * by another connection, another process, or this handle's own write
 * changes it; a write's rollback may too, but then it stays.
 */
static void
test_version(void **state)
{
	struct fixture *f = *state;
	struct catalog *rw, *ro, *other;
	struct catalog_row *rows;
	struct err err;
	uint64_t a, b;
	size_t n;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &rw, &err), 0);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &other, &err), 0);
	put_row(rw, "a", "2026-01-01T00:00:00", "OK", "BACKUP", "/b/a/1", NULL);
	a = version_of(ro);
	assert_int_equal(version_of(ro), a);

	/* Reads change nothing, on this handle or another. */
	assert_int_equal(catalog_last_rows(ro, "a", NULL, "backup_start", 5, &rows, &n, &err), 0);
	catalog_rows_free(rows, n);
	assert_int_equal(catalog_last_rows(other, NULL, NULL, "backup_start", -1, &rows, &n, &err),
	                 0);
	catalog_rows_free(rows, n);
	assert_int_equal(version_of(ro), a);

	/* Another connection's commit. */
	put_row(other, "a", "2026-01-02T00:00:00", "OK", "BACKUP", "/b/a/2", NULL);
	b = version_of(ro);
	assert_true(b != a);
	assert_int_equal(version_of(ro), b);

	/* Another process's commit. */
	assert_int_equal(insert_in_child(f->db), 0);
	a = version_of(ro);
	assert_true(a != b);
	assert_int_equal(version_of(ro), a);

	/* A handle's own writes: a row, an update, a transaction of two. */
	a = version_of(rw);
	assert_int_equal(catalog_insert_running(rw, "a", "h", "", "2026-01-03T00:00:00", "BACKUP",
	                                        NULL, &id, &err),
	                 0);
	b = version_of(rw);
	assert_true(b != a);
	assert_int_equal(catalog_set_type(rw, id, "CLEAN", &err), 0);
	a = version_of(rw);
	assert_true(a != b);
	assert_int_equal(catalog_begin(rw, &err), 0);
	put_row(rw, "b", "2026-01-04T00:00:00", "OK", "BACKUP", "/b/b/1", NULL);
	put_row(rw, "b", "2026-01-05T00:00:00", "OK", "BACKUP", "/b/b/2", NULL);
	assert_int_equal(catalog_commit(rw, &err), 0);
	b = version_of(rw);
	assert_true(b != a);
	assert_int_equal(version_of(rw), b);
	/* ... which the other handles see as commits. */
	a = version_of(ro);
	assert_int_equal(version_of(ro), a);
	assert_int_equal(catalog_repair_running(rw, "a", "interrupted", NULL, &err), 0);
	assert_true(version_of(ro) != a);

	/*
	 * A rolled-back write leaves the others' versions alone in SQLite; in
	 * PostgreSQL (the snapshot) it may move them (a spurious change, as
	 * the contract allows), but then they stay.
	 */
	a = version_of(ro);
	assert_int_equal(catalog_begin(rw, &err), 0);
	put_row(rw, "c", "2026-01-06T00:00:00", "OK", "BACKUP", "/b/c/1", NULL);
	catalog_rollback(rw);
	if (tb_catalog_pg_url() == NULL)
		assert_int_equal(version_of(ro), a);
	a = version_of(ro);
	assert_int_equal(version_of(ro), a);
	b = version_of(rw);
	assert_int_equal(version_of(rw), b);

	catalog_close(other);
	catalog_close(ro);
	catalog_close(rw);
}

/* The alert table's writes move the version too (the web UI shows alert state). */
static void
test_version_alerts(void **state)
{
	struct fixture *f = *state;
	struct catalog *rw, *ro;
	struct err err;
	uint64_t a;
	int swapped;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &rw, &err), 0);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	a = version_of(ro);
	assert_int_equal(catalog_alert_swap(rw, "a", NULL, 0, "failed", 10, &swapped, &err), 0);
	assert_int_equal(swapped, 1);
	assert_true(version_of(ro) != a);
	catalog_close(ro);
	catalog_close(rw);
}

/* The same file through a plain path and both URI forms, percent-escapes decoded. */
static void
test_uri_sqlite(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	char *dir = xasprintf("%s/a b%%", f->dir);
	char *path = xasprintf("%s/cat.sqlite", dir);
	char *uris[4];

	err_clear(&err);
	assert_int_equal(mkdir(dir, 0700), 0);
	uris[0] = xasprintf("sqlite:%s/a%%20b%%25/cat.sqlite", f->dir);
	uris[1] = xasprintf("sqlite://%s/a%%20b%%25/cat.sqlite", f->dir);
	uris[2] = xasprintf("SQLite:%s/a b%%25/cat.sqlite", f->dir);
	uris[3] = xstrdup(path);

	assert_int_equal(catalog_open(uris[0], CATALOG_RW, &cat, &err), 0);
	put_row(cat, "u", "2026-02-01T00:00:00", "OK", "BACKUP", "/b/u/1", NULL);
	catalog_close(cat);
	assert_int_equal(access(path, F_OK), 0);
	for (size_t i = 0; i < 4; i++) {
		if (catalog_open(uris[i], CATALOG_RO, &cat, &err) == -1)
			fail_msg("%s: %s", uris[i], err.msg);
		assert_int_equal(count_rows(cat), 1);
		catalog_close(cat);
		free(uris[i]);
	}

	/* A read-only open of a missing file through a URI: ENOENT, nothing made. */
	uris[0] = xasprintf("sqlite://%s/none.sqlite", f->dir);
	assert_int_equal(catalog_open(uris[0], CATALOG_RO, &cat, &err), -1);
	assert_int_equal(err.code, ENOENT);
	free(uris[0]);
	free(path);
	free(dir);
}

/* Addresses that open nothing: each error says why, and no secret is repeated. */
static void
test_uri_errors(void **state)
{
	static const struct {
		const char *address, *want;
	} cases[] = {
		{ "postgresql://backup:s3cr3t@db.example/tisbackup", "holds a password" },
		{ "postgres://backup@db.example/tisbackup?password=s3cr3t", "holds a password" },
		{ "postgresql://backup@/tisbackup?password_file=/nonexistent/pw",
		  "password_file /nonexistent/pw" },
		{ "postgresql://backup@/tisbackup?password_file=%zz", "bad %-escape" },
		{ "mysql:s3cr3t",
		  "unknown scheme \"mysql:\" (known: sqlite, postgresql, postgres" },
		{ "sqlite://s3cr3t/x.sqlite", "names no host" },
		{ "sqlite:", "an empty path" },
		{ "sqlite:///", "" },
		{ "sqlite:///tmp/x.sqlite?s3cr3t=1", "a query or fragment" },
		{ "sqlite:/tmp/x.sqlite#s3cr3t", "a query or fragment" },
		{ "sqlite:/tmp/x%zz.sqlite", "bad %-escape" },
		{ "sqlite:/tmp/x%00.sqlite", "bad %-escape" },
		{ "sqlite:/tmp/x%4", "bad %-escape" },
	};
	struct catalog *cat;
	struct err err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cat = (struct catalog *)1;
		err_clear(&err);
		if (catalog_open(cases[i].address, CATALOG_RW, &cat, &err) != -1)
			fail_msg("%s opened", cases[i].address);
		assert_null(cat);
		if (strstr(err.msg, cases[i].want) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].address, err.msg,
			         cases[i].want);
		if (strstr(err.msg, "s3cr3t") != NULL)
			fail_msg("%s: the error repeats the address: %s", cases[i].address,
			         err.msg);
	}
}

/* Which hosts get the PostgreSQL backend's loopback defaults (no TLS, no GSSAPI probe). */
static void
test_pg_hosts_loopback(void **state)
{
	(void)state;
	assert_true(catalog_pg_hosts_loopback("localhost"));
	assert_true(catalog_pg_hosts_loopback("127.0.0.1"));
	assert_true(catalog_pg_hosts_loopback("127.1.2.3,::1,localhost"));
	assert_false(catalog_pg_hosts_loopback(NULL));
	assert_false(catalog_pg_hosts_loopback(""));
	assert_false(catalog_pg_hosts_loopback("/run/postgresql")); /* a socket: libpq skips both */
	assert_false(catalog_pg_hosts_loopback("db.example"));
	assert_false(catalog_pg_hosts_loopback("127.0.0.1,db.example")); /* one remote is enough */
	assert_false(catalog_pg_hosts_loopback("localhost.example.org"));
	assert_false(catalog_pg_hosts_loopback("127.0.0.1.example.org"));
	assert_false(catalog_pg_hosts_loopback("127.evil"));
	assert_false(catalog_pg_hosts_loopback("10.0.0.1"));
	assert_false(catalog_pg_hosts_loopback("::10"));
	assert_false(catalog_pg_hosts_loopback("127.0.0.1,"));
}

/* catalog_address(): the default file, a URL as given, password_file escaped into it. */
static void
test_catalog_address(void **state)
{
	char *a;

	(void)state;
	a = catalog_address("/backup", NULL, "/ignored");
	assert_string_equal(a, "/backup/log/tisbackup.sqlite");
	free(a);
	a = catalog_address("/backup", "postgresql://u@h/db", NULL);
	assert_string_equal(a, "postgresql://u@h/db");
	free(a);
	a = catalog_address("/backup", "postgresql://u@h/db", "/etc/tis backup/pw&1");
	assert_string_equal(a, "postgresql://u@h/db?password_file=/etc/tis%20backup/pw%261");
	free(a);
	a = catalog_address("/backup", "postgresql://u@/db?host=/run/pg", "/pw");
	assert_string_equal(a, "postgresql://u@/db?host=/run/pg&password_file=/pw");
	free(a);
}

/*
 * run_host: absent from a new catalog (stats alone, as the original
 * makes it); a read-only handle reads it as empty and creates nothing; the
 * first put migrates (schema_versions part run_host) and the rows read
 * back by stats rowid, in any order, missing ones zeroed; a put replaces.
 */
static void
test_run_host(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat = NULL, *ro = NULL;
	struct catalog_run_host h[4];
	struct catalog_run_host put = { 0 };
	int64_t id1 = 0, id2 = 0, ids[4];
	struct err err;
	char *s;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "a", "srv", "", "2026-01-01 00:00:00",
	                                        "BACKUP", NULL, &id1, &err),
	                 0);
	assert_int_equal(catalog_insert_running(cat, "b", "srv", "", "2026-01-01 00:00:01",
	                                        "BACKUP", NULL, &id2, &err),
	                 0);
	if (tb_catalog_pg_url() == NULL)
		assert_schema(f->db); /* stats alone so far (PostgreSQL: run_host made at open) */

	ids[0] = id2;
	ids[1] = id1;
	ids[2] = 999;
	ids[3] = id1;
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &ro, &err), 0);
	assert_int_equal(catalog_run_hosts(ro, ids, 4, h, &err), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(h[i].stats_id, 0);
		assert_null(h[i].host);
	}
	put.stats_id = id1;
	put.host = "h1";
	assert_int_equal(catalog_run_host_put(ro, &put, &err), -1);
	assert_non_null(strstr(err.msg, "read-only"));
	err_clear(&err);
	if (tb_catalog_pg_url() == NULL)
		assert_schema(f->db); /* the read-only handle created nothing */

	put.host = "h1";
	put.config = "/etc/tis/a.ini";
	assert_int_equal(catalog_run_host_put(cat, &put, &err), 0);
	put.stats_id = id2;
	put.host = "h2";
	put.worker = "h2:42/0";
	put.pool = "site-b";
	put.config = NULL;
	assert_int_equal(catalog_run_host_put(cat, &put, &err), 0);
	s = tb_catalog_query(f->db, "SELECT part || ':' || version FROM schema_versions "
	                            "WHERE part = 'run_host'");
	assert_string_equal(s, "run_host:1");
	free(s);

	/* The read-only handle sees the table once it exists. */
	assert_int_equal(catalog_run_hosts(ro, ids, 4, h, &err), 0);
	assert_int_equal(h[0].stats_id, id2);
	assert_string_equal(h[0].host, "h2");
	assert_string_equal(h[0].worker, "h2:42/0");
	assert_string_equal(h[0].pool, "site-b");
	assert_null(h[0].config);
	assert_int_equal(h[1].stats_id, id1);
	assert_string_equal(h[1].host, "h1");
	assert_null(h[1].worker);
	assert_null(h[1].pool);
	assert_string_equal(h[1].config, "/etc/tis/a.ini");
	assert_int_equal(h[2].stats_id, 0);
	assert_null(h[2].host);
	assert_int_equal(h[3].stats_id, id1);
	assert_string_equal(h[3].host, "h1");
	catalog_run_hosts_clear(h, 4);
	assert_null(h[0].host);

	/* A second put for the same row replaces it. */
	put.stats_id = id1;
	put.host = "h3";
	put.worker = NULL;
	put.pool = NULL;
	assert_int_equal(catalog_run_host_put(cat, &put, &err), 0);
	assert_int_equal(catalog_run_hosts(cat, &id1, 1, h, &err), 0);
	assert_string_equal(h[0].host, "h3");
	assert_null(h[0].config);
	catalog_run_hosts_clear(h, 1);
	s = tb_catalog_query(f->db, "SELECT count(*) FROM run_host");
	assert_string_equal(s, "2");
	free(s);

	put.stats_id = 0;
	assert_int_equal(catalog_run_host_put(cat, &put, &err), -1);
	catalog_close(ro);
	catalog_close(cat);
}

/*
 * PostgreSQL's counterparts of the SQLite-only cases above (run by
 * unit_pg_catalog only): the schema a RW open makes (stats with the
 * original's columns, rowid an identity column, the same index names, the
 * side tables and their versions), a read-only open of a database without
 * a catalog, and the index that serves checknagios' reads at 100k rows.
 */
static void
test_pg_schema(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	char *s;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	/* Opening again changes nothing. */
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	s = tb_catalog_query(f->db, "SELECT string_agg(column_name || ':' || data_type, ',' "
	                            "ORDER BY ordinal_position) FROM information_schema.columns "
	                            "WHERE table_schema = 'public' AND table_name = 'stats'");
	assert_string_equal(s, "rowid:bigint,backup_name:text,server_name:text,description:text,"
	                       "backup_start:text,backup_end:text,backup_duration:double precision,"
	                       "total_files_count:bigint,written_files_count:bigint,"
	                       "total_bytes:bigint,written_bytes:bigint,status:text,log:text,"
	                       "backup_location:text,type:text");
	free(s);
	s = tb_catalog_query(f->db, "SELECT indexname FROM pg_indexes WHERE tablename = 'stats' "
	                            "AND indexname LIKE 'idx%' ORDER BY indexname");
	/*
	 * stats_indexes 1 dropped idx_stats_backup_name (a prefix of _start),
	 * 2 made the indexes of the lists across jobs.
	 */
	assert_string_equal(s, "idx_stats_backup_location|idx_stats_backup_name_start|"
	                       "idx_stats_type_start|idx_stats_type_status_start");
	free(s);
	s = tb_catalog_query(f->db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
	                            "ORDER BY tablename");
	assert_string_equal(s, "alerts|disk_samples|disk_usage|run_host|schema_versions|stats");
	free(s);
	s = tb_catalog_query(f->db, "SELECT part || ':' || version FROM schema_versions "
	                            "ORDER BY part");
	assert_string_equal(s, "catalog:1|run_host:1|stats_indexes:2");
	free(s);
}

/*
 * A catalog made before part 'stats_indexes' (with the redundant
 * idx_stats_backup_name): a read-only open reads it as it is and changes
 * nothing; the next read-write open drops the index, rows kept.
 */
static void
test_pg_stats_indexes_upgrade(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct catalog_row *rows;
	struct err err;
	size_t n;
	int64_t id;
	char *s;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_insert_running(cat, "alpha", "srv", "d", "2025-01-01T03:00:00",
	                                        "BACKUP", "/b/alpha", &id, &err),
	                 0);
	catalog_close(cat);
	/* Back to what a tisbackup before stats_indexes made. */
	tb_catalog_exec(f->db, "CREATE INDEX idx_stats_backup_name ON stats (backup_name); "
	                       "DELETE FROM schema_versions WHERE part = 'stats_indexes'");

	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	assert_int_equal(
	    catalog_last_rows(cat, "alpha", "BACKUP", "backup_start", 2, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].status, "Running");
	catalog_rows_free(rows, n);
	catalog_close(cat);
	s = tb_catalog_query(f->db, "SELECT (SELECT count(*) FROM schema_versions WHERE part = "
	                            "'stats_indexes') || ':' || (SELECT count(*) FROM pg_indexes "
	                            "WHERE indexname = 'idx_stats_backup_name')");
	assert_string_equal(s, "0:1"); /* the read-only open wrote nothing */
	free(s);

	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	s = tb_catalog_query(f->db,
	                     "SELECT (SELECT version FROM schema_versions WHERE part = "
	                     "'stats_indexes') || ':' || (SELECT count(*) FROM pg_indexes "
	                     "WHERE indexname = 'idx_stats_backup_name') || ':' || "
	                     "(SELECT count(*) FROM stats WHERE backup_name = 'alpha') || ':' "
	                     "|| (SELECT version FROM schema_versions WHERE part = "
	                     "'catalog') || ':' || (SELECT count(*) FROM pg_indexes WHERE "
	                     "indexname IN ('idx_stats_type_start', "
	                     "'idx_stats_type_status_start'))");
	assert_string_equal(s, "2:0:1:1:2");
	free(s);

	/* A catalog newer than this binary knows is refused, not downgraded. */
	tb_catalog_exec(f->db, "UPDATE schema_versions SET version = 99 WHERE part = 'catalog'");
	cat = (struct catalog *)1;
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), -1);
	assert_null(cat);
	assert_non_null(strstr(err.msg, "schema version 99 is newer"));
}

static void
test_pg_ro_no_catalog(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat = (struct catalog *)1;
	struct err err;
	char *s;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), -1);
	assert_null(cat);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "no table stats"));
	if (strstr(err.msg, f->name) == NULL)
		fail_msg("\"%s\" does not name %s", err.msg, f->name);
	/* Nothing was created. */
	s = tb_catalog_query(f->db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
	assert_string_equal(s, "0");
	free(s);
}

static void
test_pg_last_rows_plan(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct catalog_row *rows;
	struct timespec a, b;
	struct err err;
	size_t n;
	double ms;
	char name[32], *plan;

	err_clear(&err);
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	/* 500 days of 200 jobs, as in test_last_rows_speed. */
	tb_catalog_exec(f->db, "INSERT INTO stats (backup_name, backup_start, backup_end, status, "
	                       "log, type) SELECT format('job%s', lpad(j::text, 3, '0')), "
	                       "to_char(timestamp '2025-01-01 03:00' + d * interval '1 day' + "
	                       "j * interval '1 minute', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
	                       "to_char(timestamp '2025-01-01 03:00' + d * interval '1 day' + "
	                       "j * interval '1 minute', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'OK', "
	                       "'log', 'BACKUP' FROM generate_series(0, 499) d, "
	                       "generate_series(0, 199) j; ANALYZE stats");

	assert_int_equal(catalog_open(f->db, CATALOG_RO, &cat, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int j = 0; j < 200; j++) {
		snprintf(name, sizeof name, "job%03d", j);
		assert_int_equal(
		    catalog_last_rows(cat, name, "BACKUP", "backup_start", 30, &rows, &n, &err), 0);
		assert_int_equal(n, 30);
		assert_string_equal(rows[0].backup_name, name);
		catalog_rows_free(rows, n);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	catalog_close(cat);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	print_message("# 200 x last 30 rows over 100000: %.2f ms\n", ms);
	/*
	 * Printed, never asserted. The planner's own choice is printed too: at
	 * 500 rows a job it may prefer idx_stats_backup_name and a top-N sort.
	 * Asserted: the backend's order is the (backup_name, backup_start)
	 * index's own (collation and NULLS LAST included), so that index can
	 * serve the query without a sort, which a mismatch would make
	 * impossible.
	 */
	plan = tb_catalog_query(f->db, "EXPLAIN SELECT * FROM stats WHERE backup_name = 'job001' "
	                               "AND type = 'BACKUP' ORDER BY backup_start DESC NULLS "
	                               "LAST, rowid DESC LIMIT 30");
	print_message("# plan: %s\n", plan);
	free(plan);
	plan = tb_catalog_query(f->db, "SET enable_sort = off; "
	                               "EXPLAIN SELECT * FROM stats WHERE backup_name = 'job001' "
	                               "AND type = 'BACKUP' ORDER BY backup_start DESC NULLS "
	                               "LAST, rowid DESC LIMIT 30");
	print_message("# plan without sorts: %s\n", plan);
	assert_non_null(strstr(plan, "idx_stats_backup_name_start"));
	assert_null(strstr(plan, "Sort"));
	free(plan);
}

/*
 * With TISBACKUP_TEST_CATALOG_URL set (the meson test unit_pg_catalog),
 * the cases that only use the catalog's interface run against a
 * PostgreSQL server instead, each on a database of its own. SQLite only:
 *   test_create_schema, test_upgrade_old_db: SQLite's schema text
 *     (sqlite_master), WAL mode, the in-place upgrade of pre-TYPE files;
 *   test_last_rows_speed: 100k rows written with sqlite3 and SQLite's
 *     query plan;
 *   test_ro_missing, test_rw_error_names_path, test_ro_not_a_catalog:
 *     missing, unreachable and damaged files;
 *   test_ro_wal_closed, test_ro_wal_live, test_ro_unwritable_dir: WAL
 *     side files and a log folder the reader cannot write;
 *   test_uri_sqlite: sqlite: URI forms of a file path;
 *   test_uri_errors, test_catalog_address: no server is reached (address
 *     parsing, both schemes), so once is enough.
 * test_last_rows_each skips its pre-TYPE part and test_run_host its
 * sqlite_master checks on PostgreSQL (its schema is made whole at open).
 * test_pg_*, PostgreSQL's counterparts of the schema, read-only and
 * index cases, run on PostgreSQL only.
 */
int
main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		cmocka_unit_test_setup_teardown(test_create_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_count_set_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_keyset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_old_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ordering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_rows_speed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_error_names_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_wal_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_wal_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_unwritable_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_not_a_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uri_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_rows_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_rows_each_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_job_memo, setup, teardown),
		cmocka_unit_test(test_uri_errors),
		cmocka_unit_test(test_catalog_address),
		cmocka_unit_test(test_pg_hosts_loopback),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_find_count_set_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_keyset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ordering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_rows_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_rows_each_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_job_memo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_stats_indexes_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_ro_no_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_last_rows_plan, setup, teardown),
	};

	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("catalog_pg", pg_tests, NULL, NULL);
	return cmocka_run_group_tests(sqlite_tests, NULL, NULL);
}
