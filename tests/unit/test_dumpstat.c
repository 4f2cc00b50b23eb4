/*
 * Unit tests for dumpstat.c: the exact table text for a fixed set of rows
 * (the expected text was produced by the original's pp()/fcb code on the
 * same rows), NULL cells and multi-line logs, an empty table, and
 * dumpstat_run over a real catalog (newest start first, limit, all TYPEs,
 * a blank line between jobs).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixture.h"
#include "catalog.h"
#include "catalog_fixture.h"
#include "config.h"
#include "dumpstat.h"
#include "util/buf.h"
#include "util/xmalloc.h"

static struct catalog_row
row(const char *name, const char *server, const char *desc, const char *start, const char *end,
    double dur, int64_t tfc, int64_t wfc, int64_t tb, int64_t wb, const char *status,
    const char *log, const char *loc, const char *type)
{
	struct catalog_row r = {
		.backup_name = (char *)name,
		.server_name = (char *)server,
		.description = (char *)desc,
		.backup_start = (char *)start,
		.backup_end = (char *)end,
		.backup_duration = dur,
		.total_files_count = tfc,
		.written_files_count = wfc,
		.total_bytes = tb,
		.written_bytes = wb,
		.status = (char *)status,
		.log = (char *)log,
		.backup_location = (char *)loc,
		.type = (char *)type,
	};

	return r;
}

static void
test_format_like_original(void **state)
{
	struct catalog_row rows[3];
	struct buf b;

	(void)state;
	rows[0] = row("web", "web.lan", "Serveur d'été", "2026-11-26T03:20:57.123456",
	              "2026-11-26T04:50:57", 1.5, 1234567, 0, 20457472, 512, "OK",
	              "rsync: 1234567 files", "/backup/web/20261126-03h20m57", "BACKUP");
	rows[1] = row("web", "web.lan", "", "2026-11-25T03:00:00", "2026-11-25T03:01:00.5", 0.0166,
	              -1234, 12, 3 * 1099511627776LL, 1024, "ERROR",
	              "ssh: connect to host web.lan port 22: Connection refused", "", "BACKUP");
	rows[2] = row("web", "web.lan", "x", "2026-11-24T03:00:00", "2026-11-24T03:00:00", 0, 0, 0,
	              0, 0, "OK", "", "/b", "CLEAN");
	buf_init(&b, 1 << 20);
	dumpstat_format(rows, 3, &b);
	assert_string_equal(
	    buf_str(&b),
	    "backup_name  server_name  description   backup_start     backup_end       backup_duration total_files_count written_files_count total_bytes  written_bytes status       log                                                      backup_location               TYPE        \n"
	    "------------ ------------ ------------- ---------------- ---------------- --------------- ----------------- ------------------- ------------ ------------- ------------ -------------------------------------------------------- ----------------------------- ------------\n"
	    "web          web.lan      Serveur d'été 2026-11-26 03:20 2026-11-26 04:50 01:30           1 234 567         0                   19.51M       512.00b       OK           rsync: 1234567 files                                     /backup/web/20261126-03h20m57 BACKUP      \n"
	    "web          web.lan                    2026-11-25 03:00 2026-11-25 03:01 00:00           -1 234            12                  3.00T        1.00K         ERROR        ssh: connect to host web.lan port 22: Connection refused                               BACKUP      \n"
	    "web          web.lan      x             2026-11-24 03:00 2026-11-24 03:00 00:00           0                 0                   0.00b        0.00b         OK                                                                    /b                            CLEAN       \n");
	buf_free(&b);
}

static void
test_format_nulls_and_newlines(void **state)
{
	struct catalog_row rows[1];
	struct buf b;

	(void)state;
	rows[0] =
	    row("db", NULL, NULL, "2026-01-02T03:04:05", NULL, NAN, CATALOG_NULL, CATALOG_NULL,
	        CATALOG_NULL, CATALOG_NULL, "Running", "line one\nline two\r\n", NULL, NULL);
	buf_init(&b, 1 << 20);
	dumpstat_format(rows, 1, &b);
	assert_string_equal(
	    buf_str(&b),
	    "backup_name  server_name  description  backup_start     backup_end   backup_duration total_files_count written_files_count total_bytes  written_bytes status       log                 backup_location TYPE        \n"
	    "------------ ------------ ------------ ---------------- ------------ --------------- ----------------- ------------------- ------------ ------------- ------------ ------------------- --------------- ------------\n"
	    "db                                     2026-01-02 03:04                                                                                               Running      line one line two                               \n");
	buf_free(&b);

	/* No rows: the header and the rule only. */
	buf_init(&b, 1 << 20);
	dumpstat_format(NULL, 0, &b);
	assert_string_equal(
	    buf_str(&b),
	    "backup_name  server_name  description  backup_start backup_end   backup_duration total_files_count written_files_count total_bytes  written_bytes status       log          backup_location TYPE        \n"
	    "------------ ------------ ------------ ------------ ------------ --------------- ----------------- ------------------- ------------ ------------- ------------ ------------ --------------- ------------\n");
	buf_free(&b);

	/* A timestamp that does not parse is printed as stored. */
	rows[0] = row("db", "h", "", "yesterday", "2026-01-02 03:04:05", 25.99, 1, 1, 1023, 1048576,
	              "OK", "", "/x", "BACKUP");
	buf_init(&b, 1 << 20);
	dumpstat_format(rows, 1, &b);
	assert_string_equal(
	    buf_str(&b),
	    "backup_name  server_name  description  backup_start backup_end       backup_duration total_files_count written_files_count total_bytes  written_bytes status       log          backup_location TYPE        \n"
	    "------------ ------------ ------------ ------------ ---------------- --------------- ----------------- ------------------- ------------ ------------- ------------ ------------ --------------- ------------\n"
	    "db           h                         yesterday    2026-01-02 03:04 25:59           1                 1                   1023.00b     1.00M         OK                        /x              BACKUP      \n");
	buf_free(&b);
}

static void
add(struct catalog *cat, const char *name, const char *start, const char *type, const char *log)
{
	struct catalog_result res;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(catalog_insert_running(cat, name, "h", "", start, type, NULL, &id, &err),
	                 0);
	memset(&res, 0, sizeof res);
	res.status = "OK";
	res.backup_end = start;
	res.duration_hours = 0.25;
	res.total_files_count = 2000;
	res.written_files_count = 10;
	res.total_bytes = 2048;
	res.written_bytes = 100;
	res.log = log;
	res.backup_location = "/b";
	assert_int_equal(catalog_finish(cat, id, &res, &err), 0);
}

static void
test_run(void **state)
{
	char dir[TB_TMPDIR_MAX];
	struct catalog *cat;
	struct err err;
	char *db, *text = NULL;
	size_t len = 0;
	FILE *out;
	struct job ja = { .name = "alpha", .max_age_hours = 30 };
	struct job jb = { .name = "bravo", .max_age_hours = 30 };
	struct job jc = { .name = "empty", .max_age_hours = 30 };
	const struct job *jobs[] = { &ja, &jc, &jb };

	(void)state;
	assert_int_equal(tb_tmpdir_make(dir, sizeof dir, "dumpstat"), 0);
	db = tb_catalog_new(dir, "tisbackup");
	err_clear(&err);
	assert_int_equal(catalog_open(db, CATALOG_RW, &cat, &err), 0);
	add(cat, "alpha", "2026-01-01T01:00:00", "BACKUP", "a1");
	add(cat, "alpha", "2026-01-03T01:00:00.5", "CLEAN", "a3");
	add(cat, "alpha", "2026-01-02T01:00:00", "EXPORT", "a2");
	add(cat, "bravo", "2026-01-01T02:00:00", "BACKUP", "b1");

	/* Newest start first, every TYPE, at most 2 rows, a blank line between jobs. */
	out = open_memstream(&text, &len);
	assert_int_equal(dumpstat_run(cat, jobs, 3, 2, out, &err), 0);
	fclose(out);
	assert_string_equal(
	    text,
	    "backup_name  server_name  description  backup_start     backup_end       backup_duration total_files_count written_files_count total_bytes  written_bytes status       log          backup_location TYPE        \n"
	    "------------ ------------ ------------ ---------------- ---------------- --------------- ----------------- ------------------- ------------ ------------- ------------ ------------ --------------- ------------\n"
	    "alpha        h                         2026-01-03 01:00 2026-01-03 01:00 00:15           2 000             10                  2.00K        100.00b       OK           a3           /b              CLEAN       \n"
	    "alpha        h                         2026-01-02 01:00 2026-01-02 01:00 00:15           2 000             10                  2.00K        100.00b       OK           a2           /b              EXPORT      \n"
	    "\n"
	    "backup_name  server_name  description  backup_start backup_end   backup_duration total_files_count written_files_count total_bytes  written_bytes status       log          backup_location TYPE        \n"
	    "------------ ------------ ------------ ------------ ------------ --------------- ----------------- ------------------- ------------ ------------- ------------ ------------ --------------- ------------\n"
	    "\n"
	    "backup_name  server_name  description  backup_start     backup_end       backup_duration total_files_count written_files_count total_bytes  written_bytes status       log          backup_location TYPE        \n"
	    "------------ ------------ ------------ ---------------- ---------------- --------------- ----------------- ------------------- ------------ ------------- ------------ ------------ --------------- ------------\n"
	    "bravo        h                         2026-01-01 02:00 2026-01-01 02:00 00:15           2 000             10                  2.00K        100.00b       OK           b1           /b              BACKUP      \n");
	free(text);
	catalog_close(cat);

	/* A catalog error names the job. */
	assert_int_equal(catalog_open(db, CATALOG_RO, &cat, &err), 0);
	tb_catalog_exec(db, "DROP TABLE stats");
	text = NULL;
	out = open_memstream(&text, &len);
	assert_int_equal(dumpstat_run(cat, jobs, 3, 30, out, &err), -1);
	fclose(out);
	assert_string_equal(text, "");
	free(text);
	if (tb_catalog_pg_url() == NULL) {
		char *want = xasprintf("[alpha] dumpstat: catalog %s: reading rows: no such "
		                       "table: stats",
		                       db);

		assert_string_equal(err.msg, want);
		free(want);
	} else {
		/* The server's own words, after the catalog's postgresql://user@host:port/db. */
		assert_non_null(strstr(err.msg, "[alpha] dumpstat: catalog postgresql://"));
		assert_non_null(strstr(err.msg, ": reading rows: "));
		assert_non_null(strstr(err.msg, "relation \"stats\" does not exist"));
	}
	catalog_close(cat);
	assert_int_equal(tb_catalog_drop(db), 0);
	assert_int_equal(tb_tmpdir_remove(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_like_original),
		cmocka_unit_test(test_format_nulls_and_newlines),
		cmocka_unit_test(test_run),
	};
	/* Against PostgreSQL (unit_pg_dumpstat): the case that reads a catalog. */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(test_run),
	};

	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("dumpstat_pg", pg_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
