/*
 * Unit tests for runrec.c, on a real catalog in a temporary folder: the
 * Running row and the finished row (counts, bytes, location, log, status,
 * end, duration), the partial mark, the repair of rows left by dead runs,
 * and the rule that a run's own outcome survives when recording it fails
 * (the row vanished; the database refuses the write), whatever the length
 * of the run's error.
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
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "catalog_fixture.h"
#include "config.h"
#include "drivers/driver.h"
#include "fixture.h"
#include "runrec.h"
#include "util/xmalloc.h"

struct fixture {
	char dir[TB_TMPDIR_MAX];
	char *db;
	struct catalog *cat;
	struct job job;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err;

	if (tb_tmpdir_make(f->dir, sizeof f->dir, "runrec") == -1)
		return -1;
	f->db = tb_catalog_new(f->dir, "tisbackup");
	err_clear(&err);
	if (catalog_open(f->db, CATALOG_RW, &f->cat, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	f->job.name = "web1";
	f->job.server_name = "web1.example.lan";
	f->job.description = "the web server";
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	catalog_close(f->cat);
	rc = tb_catalog_drop(f->db);
	if (tb_tmpdir_remove(f->dir) == -1)
		rc = -1;
	free(f);
	return rc;
}

/* Run sql on a raw connection to the database: what an outsider does to it. */
static void
raw_exec(const struct fixture *f, const char *sql)
{
	tb_catalog_exec(f->db, sql);
}

/* From now on the database refuses every update of stats with "disk on fire". */
static void
refuse_updates(const struct fixture *f)
{
	if (tb_catalog_pg_url() == NULL) {
		raw_exec(f, "CREATE TRIGGER refuse BEFORE UPDATE ON stats "
		            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
		return;
	}
	raw_exec(f, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
	            "$$BEGIN RAISE EXCEPTION 'disk on fire'; END$$;"
	            "CREATE TRIGGER refuse BEFORE UPDATE ON stats "
	            "FOR EACH ROW EXECUTE FUNCTION refuse()");
}

/* The newest row of name (must exist). Free with catalog_rows_free(row, 1). */
static struct catalog_row *
last_row(const struct fixture *f, const char *name)
{
	struct catalog_row *rows = NULL;
	size_t n = 0;
	struct err err;

	err_clear(&err);
	assert_int_equal(catalog_last_rows(f->cat, name, NULL, "backup_start", 1, &rows, &n, &err),
	                 0);
	assert_int_equal(n, 1);
	return rows;
}

static void
begin(struct fixture *f, struct runrec *rr, const char *type)
{
	struct err err;

	err_clear(&err);
	if (runrec_begin(rr, f->cat, &f->job, type, NULL, NULL, &err) == -1)
		fail_msg("runrec_begin: %s", err.msg);
}

static void
test_running_then_ok(void **state)
{
	struct fixture *f = *state;
	struct timeval start = { .tv_sec = 1764000000, .tv_usec = 250000 };
	struct drv_stats st = {
		.total_files = 12,
		.written_files = 3,
		.total_bytes = 4096,
		.written_bytes = 100,
		.location = "/b/web1/STAMP",
		.log = "rsync+ssh backup from web1:/srv/ OK, 100 bytes written for 3 changed files",
	};
	struct catalog_row *r;
	struct runrec rr;
	struct err err;

	err_clear(&err);
	assert_int_equal(runrec_begin(&rr, f->cat, &f->job, "BACKUP", &start, NULL, &err), 0);
	assert_string_equal(rr.what, "backup");
	r = last_row(f, "web1");
	assert_string_equal(r->status, "Running");
	assert_string_equal(r->type, "BACKUP");
	assert_string_equal(r->server_name, "web1.example.lan");
	assert_string_equal(r->description, "the web server");
	assert_string_equal(r->backup_start, rr.start_iso);
	assert_int_equal(r->rowid, rr.rowid);
	catalog_rows_free(r, 1);

	assert_int_equal(runrec_finish(&rr, &st, NULL, &err), 0);
	assert_string_equal(rr.status, "OK");
	assert_string_equal(rr.log, st.log);
	r = last_row(f, "web1");
	assert_string_equal(r->status, "OK");
	assert_string_equal(r->log, st.log);
	assert_string_equal(r->backup_location, "/b/web1/STAMP");
	assert_string_equal(r->backup_end, rr.end_iso);
	assert_int_equal(r->total_files_count, 12);
	assert_int_equal(r->written_files_count, 3);
	assert_int_equal(r->total_bytes, 4096);
	assert_int_equal(r->written_bytes, 100);
	/* Started in 2025: the duration is the whole time since, in hours. */
	assert_true(fabs(r->backup_duration - runrec_seconds(&rr) / 3600.0) < 1e-6);
	assert_true(r->backup_duration > 24.0);
	catalog_rows_free(r, 1);
	runrec_free(&rr);
	runrec_free(&rr);
}

static void
test_partial_mark(void **state)
{
	struct fixture *f = *state;
	struct drv_stats st = { .log = "export of /a to /b OK, 1 bytes written for 1 changed files",
		                .partial = 1 };
	struct catalog_row *r;
	struct runrec rr;
	struct err err, run_err;

	err_clear(&err);
	begin(f, &rr, "EXPORT");
	assert_int_equal(runrec_finish(&rr, &st, NULL, &err), 0);
	r = last_row(f, "web1");
	assert_string_equal(r->type, "EXPORT");
	assert_string_equal(r->status, "OK");
	assert_string_equal(r->log, "export of /a to /b OK, 1 bytes written for 1 changed files "
	                            "(partial transfer)");
	catalog_rows_free(r, 1);
	runrec_free(&rr);

	/* No log at all: the mark alone (after a space, as the backups always had it). */
	st.log = NULL;
	begin(f, &rr, "BACKUP");
	assert_int_equal(runrec_finish(&rr, &st, NULL, &err), 0);
	r = last_row(f, "web1");
	assert_string_equal(r->log, " " CATALOG_LOG_PARTIAL);
	catalog_rows_free(r, 1);
	runrec_free(&rr);

	/* A failed run is an error, partial or not. */
	err_clear(&run_err);
	err_set(&run_err, "syncfs failed");
	begin(f, &rr, "BACKUP");
	assert_int_equal(runrec_finish(&rr, &st, &run_err, &err), 0);
	r = last_row(f, "web1");
	assert_string_equal(r->status, "ERROR");
	assert_string_equal(r->log, "syncfs failed");
	catalog_rows_free(r, 1);
	runrec_free(&rr);
}

static void
test_failed_run_recorded(void **state)
{
	struct fixture *f = *state;
	struct drv_stats st = { .total_files = 5,
		                .written_files = 1,
		                .location = "/b/web1/S.rsync" };
	struct catalog_row *r;
	struct runrec rr;
	struct err err;

	begin(f, &rr, "BACKUP");
	err_clear(&err);
	err_set(&err, "rsync from web1:/srv/ failed (exit code 12)");
	/* err is both the run's error and the output: it stays the run's error. */
	assert_int_equal(runrec_finish(&rr, &st, &err, &err), 0);
	assert_string_equal(err.msg, "rsync from web1:/srv/ failed (exit code 12)");
	assert_string_equal(rr.status, "ERROR");
	r = last_row(f, "web1");
	assert_string_equal(r->status, "ERROR");
	assert_string_equal(r->log, "rsync from web1:/srv/ failed (exit code 12)");
	assert_string_equal(r->backup_location, "/b/web1/S.rsync");
	assert_int_equal(r->total_files_count, 5);
	catalog_rows_free(r, 1);
	runrec_free(&rr);

	/* No stats at all: NULL counts and location. */
	begin(f, &rr, "BACKUP");
	assert_int_equal(runrec_finish(&rr, NULL, &err, &err), 0);
	r = last_row(f, "web1");
	assert_int_equal(r->total_files_count, CATALOG_NULL);
	assert_int_equal(r->written_bytes, CATALOG_NULL);
	assert_null(r->backup_location);
	catalog_rows_free(r, 1);
	runrec_free(&rr);
}

/* The row vanished under a failed run: both failures are told. */
static void
test_run_error_survives_vanished_row(void **state)
{
	struct fixture *f = *state;
	struct drv_stats st = { 0 };
	struct runrec rr;
	struct err run_err, err;
	char *sql;

	begin(f, &rr, "BACKUP");
	sql = xasprintf("DELETE FROM stats WHERE rowid = %lld", (long long)rr.rowid);
	raw_exec(f, sql);
	free(sql);
	err_clear(&run_err);
	err_set(&run_err, "rsync from web1:/srv/ failed (exit code 12)");
	run_err.code = 42;
	err_clear(&err);
	assert_int_equal(runrec_finish(&rr, &st, &run_err, &err), -1);
	assert_non_null(strstr(err.msg, "recording the backup's result failed: "));
	assert_non_null(strstr(err.msg, "no row"));
	assert_non_null(strstr(err.msg, "the backup itself failed: rsync from web1:/srv/ failed "
	                                "(exit code 12)"));
	assert_int_equal(err.code, 42);
	assert_string_equal(rr.status, "ERROR");
	runrec_free(&rr);

	/* The same with err aliasing the run's error, as the callers may pass it. */
	begin(f, &rr, "EXPORT");
	sql = xasprintf("DELETE FROM stats WHERE rowid = %lld", (long long)rr.rowid);
	raw_exec(f, sql);
	free(sql);
	assert_int_equal(runrec_finish(&rr, &st, &run_err, &run_err), -1);
	assert_non_null(strstr(run_err.msg, "recording the export's result failed: "));
	assert_non_null(strstr(run_err.msg, "the export itself failed: rsync from web1:/srv/ "
	                                    "failed (exit code 12)"));
	runrec_free(&rr);
}

/* The database refuses the write after a successful run: the success is told too. */
static void
test_success_survives_refused_write(void **state)
{
	struct fixture *f = *state;
	struct drv_stats st = { .log = "export of /a to /b OK, 7 bytes written for 1 changed files",
		                .partial = 1 };
	struct runrec rr;
	struct err err;

	begin(f, &rr, "EXPORT");
	refuse_updates(f);
	err_clear(&err);
	assert_int_equal(runrec_finish(&rr, &st, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "recording the export's result failed: "));
	assert_non_null(strstr(err.msg, "disk on fire"));
	assert_non_null(strstr(err.msg, "the export itself succeeded: export of /a to /b OK, 7 "
	                                "bytes written for 1 changed files (partial transfer)"));
	assert_int_equal(err.code, 0);
	assert_string_equal(rr.status, "OK");
	runrec_free(&rr);
}

/* A run error as long as an error gets: the recording failure still shows. */
static void
test_long_run_error(void **state)
{
	struct fixture *f = *state;
	struct runrec rr;
	struct err run_err, err;

	begin(f, &rr, "BACKUP");
	refuse_updates(f);
	err_clear(&run_err);
	err_set(&run_err, "rsync failed");
	while (strlen(run_err.msg) < ERR_MSG_MAX - 2)
		err_append_line(&run_err, "rsync: some complaint about a file we could not read");
	err_clear(&err);
	assert_int_equal(runrec_finish(&rr, NULL, &run_err, &err), -1);
	assert_non_null(strstr(err.msg, "recording the backup's result failed: "));
	assert_non_null(strstr(err.msg, "disk on fire"));
	assert_non_null(strstr(err.msg, "the backup itself failed: rsync failed"));
	runrec_free(&rr);
}

static void
test_repair_dead(void **state)
{
	struct fixture *f = *state;
	struct job other = { .name = "db1", .server_name = "db1", .description = "" };
	struct catalog_row *rows = NULL;
	struct runrec a, b, c;
	size_t n = 0;
	struct err err;

	begin(f, &a, "BACKUP");
	begin(f, &b, "BACKUP");
	err_clear(&err);
	assert_int_equal(runrec_begin(&c, f->cat, &other, "BACKUP", NULL, NULL, &err), 0);
	assert_int_equal(runrec_repair_dead(f->cat, &f->job, &err), 0);
	assert_int_equal(
	    catalog_last_rows(f->cat, "web1", NULL, "backup_start", -1, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(rows[i].status, "ERROR");
		assert_non_null(strstr(rows[i].log, "ended without recording a result"));
		assert_false(isnan(rows[i].backup_duration));
	}
	catalog_rows_free(rows, n);
	rows = last_row(f, "db1");
	assert_string_equal(rows[0].status, "Running");
	catalog_rows_free(rows, 1);
	/* Nothing left to repair: still fine. */
	assert_int_equal(runrec_repair_dead(f->cat, &f->job, &err), 0);
}

/*
 * runrec_begin() records where the run runs: this host, the worker and
 * pool a queue worker passes in the environment (none from cron), the
 * configuration file by its real path (none without one).
 */
static void
test_run_host(void **state)
{
	struct fixture *f = *state;
	struct config cfg = { 0 };
	struct catalog_run_host h[2];
	struct runrec rr;
	char host[256], *ini, *link, *real;
	int64_t ids[2];
	struct err err;
	FILE *fp;

	err_clear(&err);
	assert_int_equal(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	ini = xasprintf("%s/tisbackup.ini", f->dir);
	fp = fopen(ini, "w");
	assert_non_null(fp);
	fclose(fp);
	link = xasprintf("%s/./tisbackup.ini", f->dir);
	real = realpath(ini, NULL);
	assert_non_null(real);
	cfg.path = link;
	f->job.cfg = &cfg;

	setenv(RUNREC_ENV_WORKER, "w1:42/0", 1);
	setenv(RUNREC_ENV_POOL, "site-a", 1);
	begin(f, &rr, "BACKUP");
	ids[0] = rr.rowid;
	assert_int_equal(runrec_finish(&rr, NULL, NULL, &err), 0);
	runrec_free(&rr);
	unsetenv(RUNREC_ENV_WORKER);
	unsetenv(RUNREC_ENV_POOL);
	f->job.cfg = NULL;
	begin(f, &rr, "BACKUP");
	ids[1] = rr.rowid;

	assert_int_equal(catalog_run_hosts(f->cat, ids, 2, h, &err), 0);
	assert_int_equal(h[0].stats_id, ids[0]);
	assert_string_equal(h[0].host, host);
	assert_string_equal(h[0].worker, "w1:42/0");
	assert_string_equal(h[0].pool, "site-a");
	assert_string_equal(h[0].config, real);
	/* The Running row already shows where it runs. */
	assert_int_equal(h[1].stats_id, ids[1]);
	assert_string_equal(h[1].host, host);
	assert_null(h[1].worker);
	assert_null(h[1].pool);
	assert_null(h[1].config);
	catalog_run_hosts_clear(h, 2);
	assert_int_equal(runrec_finish(&rr, NULL, NULL, &err), 0);
	runrec_free(&rr);
	free(ini);
	free(link);
	free(real);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running_then_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_run_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_error_survives_vanished_row, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_success_survives_refused_write, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_long_run_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_host, setup, teardown),
	};

	/* Every case uses the catalog only: unit_pg_runrec runs them all on PostgreSQL. */
	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("runrec_pg", tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
