/*
 * Unit tests for nagios.c: every branch of nagios_eval() against real
 * files and folders (a file's ctime is its creation, now, so the backup
 * start is placed before or after it), then nagios_run() over a real
 * catalog: summary line, performance data, line order, exit codes, the
 * catalog error path, and its speed over 200 jobs of 500 rows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "catalog.h"
#include "catalog_fixture.h"
#include "config.h"
#include "drivers/driver.h"
#include "fixture.h"
#include "nagios.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#ifndef TB_VERSION
#define TB_VERSION "0.0.0"
#endif

static const struct driver drv_rsync = { .name = "rsync+ssh" };
static const struct driver drv_mysql = { .name = "mysql+ssh" };
/* A driver whose backups live elsewhere (copy-vm-xcp): only its capability counts. */
static const struct driver drv_xcp = { .name = "copy-vm-xcp", .caps = DRV_CAP_REMOTE };
static const struct driver drv_null = { .name = "null", .caps = DRV_CAP_NO_BACKUP };

/* nagios_eval() on a job called name whose driver is the test driver called drv. */
static void
eval(const char *name, const char *drv, const struct catalog_row *rows, size_t n, time_t now,
     struct nagios_verdict *v)
{
	static const struct driver *const all[] = { &drv_rsync, &drv_mysql, &drv_xcp, &drv_null };
	struct job job = { .name = name, .max_age_hours = 30 };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(all[i]->name, drv) == 0)
			job.drv = all[i];
	assert_non_null(job.drv);
	nagios_eval(&job, rows, n, now, v);
}

struct fixture {
	char dir[TB_TMPDIR_MAX];
	char *file;    /* a regular file created by setup (ctime = now) */
	char *folder;  /* a folder */
	char *missing; /* a path that does not exist */
	time_t now;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	FILE *fp;

	if (tb_tmpdir_make(f->dir, sizeof f->dir, "nagios") == -1)
		return -1;
	f->file = xasprintf("%s/web-20261126-03h20m57.sql.gz", f->dir);
	f->folder = xasprintf("%s/20261126-03h20m57", f->dir);
	f->missing = xasprintf("%s/gone", f->dir);
	if ((fp = fopen(f->file, "w")) == NULL)
		return -1;
	fputs("dump\n", fp);
	fclose(fp);
	if (mkdir(f->folder, 0755) == -1)
		return -1;
	f->now = time(NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tb_tmpdir_remove(f->dir);
	free(f->file);
	free(f->folder);
	free(f->missing);
	free(f);
	return 0;
}

/* ISO timestamp of now + delta seconds; usec 0 gives Python's short form. */
static char *
iso_at(time_t now, long delta, long usec)
{
	struct timeval tv = { .tv_sec = now + delta, .tv_usec = usec };
	char buf[TIME_ISO_LEN + 1];

	time_iso(&tv, buf);
	if (usec == 0)
		buf[19] = '\0';
	return xstrdup(buf);
}

/* "YYYY-MM-DD HH:MM:SS" of now + delta, as the messages print END. */
static char *
end_at(time_t now, long delta)
{
	char *s = iso_at(now, delta, 0);

	s[10] = ' ';
	return s;
}

/* A row owning its strings (freed by catalog_rows_free). */
static void
mkrow(struct catalog_row *r, const char *status, char *start, char *end, int64_t total_bytes,
      const char *location, const char *log)
{
	memset(r, 0, sizeof *r);
	r->backup_name = xstrdup("web");
	r->status = xstrdup(status);
	r->backup_start = start;
	r->backup_end = end;
	r->total_bytes = total_bytes;
	r->backup_location = location != NULL ? xstrdup(location) : NULL;
	r->log = log != NULL ? xstrdup(log) : NULL;
	r->type = xstrdup("BACKUP");
}

static void
expect(const char *name, const char *drv, struct catalog_row *rows, size_t n, time_t now,
       enum nagios_state state, const char *message)
{
	struct nagios_verdict v;

	eval(name, drv, rows, n, now, &v);
	assert_string_equal(v.message, message);
	assert_int_equal(v.state, state);
	nagios_verdict_free(&v);
	assert_null(v.message);
}

static void
test_eval_null_and_empty(void **state)
{
	struct fixture *f = *state;
	struct nagios_verdict v;
	struct catalog_row *rows = xcalloc(1, sizeof *rows);

	eval("srv", "null", NULL, 0, f->now, &v);
	assert_int_equal(v.state, NAGIOS_OK);
	assert_string_equal(v.message, "No backups needs to be performed");
	assert_int_equal(v.age_sec, -1);
	assert_int_equal(v.bytes, -1);
	nagios_verdict_free(&v);

	/* A null job is OK whatever the catalog holds. */
	mkrow(&rows[0], "ERROR", iso_at(f->now, -60, 0), iso_at(f->now, -30, 0), 0, NULL, "x");
	expect("srv", "null", rows, 1, f->now, NAGIOS_OK, "No backups needs to be performed");
	catalog_rows_free(rows, 1);

	eval("web", "rsync+ssh", NULL, 0, f->now, &v);
	assert_int_equal(v.state, NAGIOS_CRITICAL);
	assert_string_equal(v.message, "CRITICAL : No backup found for web in database");
	assert_int_equal(v.age_sec, -1);
	nagios_verdict_free(&v);
}

static void
test_eval_no_data_and_no_location(void **state)
{
	struct fixture *f = *state;
	struct catalog_row *rows = xcalloc(1, sizeof *rows);
	char *msg, *end = end_at(f->now, -3600);

	mkrow(&rows[0], "OK", iso_at(f->now, -7200, 0), iso_at(f->now, -3600, 0), 0, f->folder,
	      "nothing");
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_WARNING,
	       "WARNING : No data to backup was found for web");

	/* NULL bytes is not 0: the location decides. */
	rows[0].total_bytes = CATALOG_NULL;
	msg = xasprintf("OK Backup web (%s), nothing", end);
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_OK, msg);
	free(msg);

	rows[0].total_bytes = 10;
	free(rows[0].backup_location);
	rows[0].backup_location = NULL;
	msg = xasprintf("WARNING : No Backup location found for web finished on (%s) nothing", end);
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_WARNING, msg);
	rows[0].backup_location = xstrdup("");
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_WARNING, msg);
	free(msg);
	/* NULL log prints as empty. */
	free(rows[0].log);
	rows[0].log = NULL;
	msg = xasprintf("WARNING : No Backup location found for web finished on (%s) ", end);
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_WARNING, msg);
	free(msg);
	free(end);
	catalog_rows_free(rows, 1);
}

static void
test_eval_file(void **state)
{
	struct fixture *f = *state;
	struct catalog_row *rows = xcalloc(1, sizeof *rows);
	struct nagios_verdict v;
	char *msg, *end;

	/* The file was written after the start: OK, with the fraction dropped from END. */
	mkrow(&rows[0], "OK", iso_at(f->now, -600, 250000), iso_at(f->now, -60, 123456), 20457472,
	      f->file, "dump ok");
	end = end_at(f->now, -60);
	msg = xasprintf("OK Backup web (%s), dump ok", end);
	eval("web", "mysql+ssh", rows, 1, f->now, &v);
	assert_int_equal(v.state, NAGIOS_OK);
	assert_string_equal(v.message, msg);
	assert_int_equal(v.age_sec, 60);
	assert_int_equal(v.bytes, 20457472);
	nagios_verdict_free(&v);
	free(msg);

	/* Up to an hour before the start still counts as this backup's file. */
	free(rows[0].backup_start);
	rows[0].backup_start = iso_at(f->now, 3000, 0);
	msg = xasprintf("OK Backup web (%s), dump ok", end);
	expect("web", "mysql+ssh", rows, 1, f->now, NAGIOS_OK, msg);
	free(msg);

	/* A file more than an hour older than the start is a stale one. */
	free(rows[0].backup_start);
	rows[0].backup_start = iso_at(f->now, 3700, 0);
	msg = xasprintf("CRITICAL Backup web (%s), dump ok seems older than start of backup", end);
	expect("web", "mysql+ssh", rows, 1, f->now, NAGIOS_CRITICAL, msg);
	free(msg);
	free(end);
	catalog_rows_free(rows, 1);
}

static void
test_eval_folder_xcp_missing(void **state)
{
	struct fixture *f = *state;
	struct catalog_row *rows = xcalloc(1, sizeof *rows);
	char *msg, *end = end_at(f->now, -100);

	mkrow(&rows[0], "OK", iso_at(f->now, -200, 0), iso_at(f->now, -100, 0), 1, f->folder,
	      "rsync: 3 files");
	msg = xasprintf("OK Backup web (%s), rsync: 3 files", end);
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_OK, msg);
	free(msg);

	free(rows[0].backup_location);
	rows[0].backup_location = xstrdup(f->missing);
	msg = xasprintf("CRITICAL Backup web (%s), rsync: 3 files has disapeared from backup "
	                "location %s",
	                end, f->missing);
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_CRITICAL, msg);
	free(msg);

	/* copy-vm-xcp's location lives on another host. */
	msg = xasprintf("OK Backup web (%s), rsync: 3 files", end);
	expect("web", "copy-vm-xcp", rows, 1, f->now, NAGIOS_OK, msg);
	free(msg);
	free(end);
	catalog_rows_free(rows, 1);
}

static void
test_eval_running_warning_old(void **state)
{
	struct fixture *f = *state;
	struct catalog_row *rows = xcalloc(3, sizeof *rows);
	struct nagios_verdict v;
	long max_age = 30 * 3600;
	char *end, *msg;

	/* Newest first: a Running row, an ERROR, an OK that is too old. */
	mkrow(&rows[0], "Running", iso_at(f->now, -60, 5), iso_at(f->now, -60, 5), CATALOG_NULL,
	      NULL, "");
	mkrow(&rows[1], "ERROR", iso_at(f->now, -7200, 0), iso_at(f->now, -7100, 0), 0, NULL,
	      "ssh failed");
	mkrow(&rows[2], "OK", iso_at(f->now, -max_age - 100, 0), iso_at(f->now, -max_age - 1, 0),
	      4096, f->folder, "old");
	expect("web", "rsync+ssh", rows, 3, f->now, NAGIOS_WARNING,
	       "WARNING : Backup web still running or warning. ");

	/* A Warning row carries its log. */
	free(rows[0].status);
	rows[0].status = xstrdup("Warning");
	free(rows[0].log);
	rows[0].log = xstrdup("3 files vanished");
	expect("web", "rsync+ssh", rows, 3, f->now, NAGIOS_WARNING,
	       "WARNING : Backup web still running or warning. 3 files vanished");

	/* Running with no end (written by another tool): its start decides. */
	free(rows[0].status);
	rows[0].status = xstrdup("Running");
	free(rows[0].backup_end);
	rows[0].backup_end = NULL;
	free(rows[0].log);
	rows[0].log = NULL;
	expect("web", "rsync+ssh", rows, 3, f->now, NAGIOS_WARNING,
	       "WARNING : Backup web still running or warning. ");

	/* A stale Running row does not count: no recent backup, but the old OK gives perf data. */
	free(rows[0].backup_start);
	rows[0].backup_start = iso_at(f->now, -max_age - 10, 0);
	eval("web", "rsync+ssh", rows, 3, f->now, &v);
	assert_int_equal(v.state, NAGIOS_CRITICAL);
	assert_string_equal(v.message, "CRITICAL : No recent backup for web");
	assert_int_equal(v.age_sec, max_age + 1);
	assert_int_equal(v.bytes, 4096);
	nagios_verdict_free(&v);

	/* Exactly at the limit is still recent. */
	free(rows[2].backup_end);
	rows[2].backup_end = iso_at(f->now, -max_age, 0);
	end = end_at(f->now, -max_age);
	msg = xasprintf("OK Backup web (%s), old", end);
	expect("web", "rsync+ssh", rows, 3, f->now, NAGIOS_OK, msg);

	/* A recent OK row wins over a newer Running one. */
	free(rows[0].backup_start);
	rows[0].backup_start = iso_at(f->now, -5, 0);
	rows[0].backup_end = iso_at(f->now, -5, 0);
	expect("web", "rsync+ssh", rows, 3, f->now, NAGIOS_OK, msg);
	free(msg);
	free(end);
	catalog_rows_free(rows, 3);
}

static void
test_eval_time_forms(void **state)
{
	struct fixture *f = *state;
	struct catalog_row *rows = xcalloc(1, sizeof *rows);
	char *end, *msg;

	/* A space instead of 'T' still parses. */
	end = iso_at(f->now, -60, 0);
	end[10] = ' ';
	mkrow(&rows[0], "OK", iso_at(f->now, -120, 0), end, 5, f->folder, "l");
	msg = xasprintf("OK Backup web (%s), l", end);
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_OK, msg);
	free(msg);

	/* Unparsable ends compare as strings, like the original, and print as stored. */
	free(rows[0].backup_end);
	rows[0].backup_end = xstrdup("9999-garbage");
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_OK, "OK Backup web (9999-garbage), l");
	free(rows[0].backup_end);
	rows[0].backup_end = xstrdup("1999-garbage");
	expect("web", "rsync+ssh", rows, 1, f->now, NAGIOS_CRITICAL,
	       "CRITICAL : No recent backup for web");
	catalog_rows_free(rows, 1);
}

/* ---- nagios_run over a real catalog ---- */

struct runfix {
	struct fixture *f;
	char *db;
	struct catalog *cat;
};

static void
add_row(struct catalog *cat, const char *name, const char *status, const char *start,
        const char *end, int64_t bytes, const char *location, const char *log)
{
	struct catalog_result res;
	struct err err;
	int64_t id;

	err_clear(&err);
	assert_int_equal(
	    catalog_insert_running(cat, name, "h", "", start, "BACKUP", NULL, &id, &err), 0);
	if (strcmp(status, "Running") == 0)
		return;
	memset(&res, 0, sizeof res);
	res.status = status;
	res.backup_end = end;
	res.duration_hours = 0.5;
	res.total_files_count = 1;
	res.written_files_count = 1;
	res.total_bytes = bytes;
	res.written_bytes = bytes;
	res.log = log;
	res.backup_location = location;
	assert_int_equal(catalog_finish(cat, id, &res, &err), 0);
}

static char *
run_capture(struct catalog *cat, const struct job *const *jobs, size_t n, time_t now, int *code)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	*code = nagios_run(cat, jobs, n, now, out);
	fclose(out);
	return text;
}

static void
test_run_mixed(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	char *db = tb_catalog_new(f->dir, "tisbackup");
	char *s1 = iso_at(f->now, -7200, 0), *e1 = iso_at(f->now, -3600, 123);
	char *s2 = iso_at(f->now, -600, 0), *e3 = iso_at(f->now, -100, 0);
	char *endtxt1 = end_at(f->now, -3600), *endtxt3 = end_at(f->now, -100);
	char *text, *want;
	int code;
	struct job ja = { .name = "alpha", .drv = &drv_rsync, .max_age_hours = 30 };
	struct job jb = { .name = "bravo", .drv = &drv_rsync, .max_age_hours = 30 };
	struct job jc = { .name = "charlie", .drv = &drv_null, .max_age_hours = 30 };
	struct job jd = { .name = "delta", .drv = &drv_rsync, .max_age_hours = 24 };
	struct job je = { .name = "echo", .drv = &drv_xcp, .max_age_hours = 2 };
	struct job jf = { .name = "fox", .drv = &drv_rsync, .max_age_hours = 30 };

	err_clear(&err);
	assert_int_equal(catalog_open(db, CATALOG_RW, &cat, &err), 0);
	add_row(cat, "alpha", "OK", s1, e1, 20457472, f->folder, "alpha ok");
	add_row(cat, "delta", "Running", s2, NULL, 0, NULL, NULL);
	add_row(cat, "echo", "OK", s1, e3, 77, "/nonexistent/vm", "vm copied");
	add_row(cat, "fox", "OK", s1, e1, 5, f->missing, "fox ok");
	/* Another job's and other types' rows do not leak in. */
	add_row(cat, "bravox", "OK", s1, e1, 5, f->folder, "x");

	{
		const struct job *jobs[] = { &ja, &jb, &jc, &jd, &je, &jf };

		text = run_capture(cat, jobs, 6, f->now, &code);
		assert_int_equal(code, 2);
		want = xasprintf(
		    "CRITICAL backups bravo,fox (tisbackup V" TB_VERSION ") | "
		    "'alpha_age'=3600s;108000;108000;0 'alpha_bytes'=20457472B;;;0 "
		    "'bravo_age'=U;108000;108000;0 'delta_age'=U;86400;86400;0 "
		    "'echo_age'=100s;7200;7200;0 'echo_bytes'=77B;;;0 "
		    "'fox_age'=3600s;108000;108000;0 'fox_bytes'=5B;;;0\n"
		    "[bravo]:CRITICAL : No backup found for bravo in database\n"
		    "[fox]:CRITICAL Backup fox (%s), fox ok has disapeared from backup location "
		    "%s\n"
		    "[delta]:WARNING : Backup delta still running or warning. \n"
		    "[alpha]:OK Backup alpha (%s), alpha ok\n"
		    "[charlie]:No backups needs to be performed\n"
		    "[echo]:OK Backup echo (%s), vm copied\n",
		    endtxt1, f->missing, endtxt1, endtxt3);
		assert_string_equal(text, want);
		free(text);
		free(want);
	}
	{
		const struct job *jobs[] = { &jd, &ja };

		text = run_capture(cat, jobs, 2, f->now, &code);
		assert_int_equal(code, 1);
		want = xasprintf("WARNING backups delta (tisbackup V" TB_VERSION ") | "
		                 "'delta_age'=U;86400;86400;0 "
		                 "'alpha_age'=3600s;108000;108000;0 'alpha_bytes'=20457472B;;;0\n"
		                 "[delta]:WARNING : Backup delta still running or warning. \n"
		                 "[alpha]:OK Backup alpha (%s), alpha ok\n",
		                 endtxt1);
		assert_string_equal(text, want);
		free(text);
		free(want);
	}
	{
		const struct job *jobs[] = { &je, &jc, &ja };

		text = run_capture(cat, jobs, 3, f->now, &code);
		assert_int_equal(code, 0);
		want = xasprintf("ALL backups OK echo,charlie,alpha (tisbackup V" TB_VERSION ") | "
		                 "'echo_age'=100s;7200;7200;0 'echo_bytes'=77B;;;0 "
		                 "'alpha_age'=3600s;108000;108000;0 'alpha_bytes'=20457472B;;;0\n"
		                 "[echo]:OK Backup echo (%s), vm copied\n"
		                 "[charlie]:No backups needs to be performed\n"
		                 "[alpha]:OK Backup alpha (%s), alpha ok\n",
		                 endtxt3, endtxt1);
		assert_string_equal(text, want);
		free(text);
		free(want);
	}
	{
		/* Only null jobs: no performance data, no '|'. */
		const struct job *jobs[] = { &jc };

		text = run_capture(cat, jobs, 1, f->now, &code);
		assert_int_equal(code, 0);
		assert_string_equal(text, "ALL backups OK charlie (tisbackup V" TB_VERSION ")\n"
		                          "[charlie]:No backups needs to be performed\n");
		free(text);
	}
	{
		/* Two hours later echo's backup is past its own 2 h limit. */
		const struct job *jobs[] = { &je };

		text = run_capture(cat, jobs, 1, f->now + 7200, &code);
		assert_int_equal(code, 2);
		assert_string_equal(text, "CRITICAL backups echo (tisbackup V" TB_VERSION ") | "
		                          "'echo_age'=7300s;7200;7200;0 'echo_bytes'=77B;;;0\n"
		                          "[echo]:CRITICAL : No recent backup for echo\n");
		free(text);
	}
	catalog_close(cat);

	{
		/* No catalog yet: every job but null ones has no backup. */
		const struct job *jobs[] = { &jc, &ja };

		text = run_capture(NULL, jobs, 2, f->now, &code);
		assert_int_equal(code, 2);
		assert_string_equal(text,
		                    "CRITICAL backups alpha (tisbackup V" TB_VERSION
		                    ") | 'alpha_age'=U;108000;108000;0\n"
		                    "[alpha]:CRITICAL : No backup found for alpha in database\n"
		                    "[charlie]:No backups needs to be performed\n");
		free(text);
	}
	{
		text = run_capture(NULL, NULL, 0, f->now, &code);
		assert_int_equal(code, 3);
		assert_string_equal(
		    text, "UNKNOWN : no backup section selected (tisbackup V" TB_VERSION ")\n");
		free(text);
	}
	assert_int_equal(tb_catalog_drop(db), 0);
	free(s1);
	free(e1);
	free(s2);
	free(e3);
	free(endtxt1);
	free(endtxt3);
}

static void
test_run_catalog_error(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	sqlite3 *raw;
	char *db = xasprintf("%s/tisbackup.sqlite", f->dir);
	char *text, *want;
	int code;
	struct job ja = { .name = "alpha", .drv = &drv_rsync, .max_age_hours = 30 };
	struct job jb = { .name = "bravo", .drv = &drv_rsync, .max_age_hours = 30 };
	struct job jc = { .name = "charlie", .drv = &drv_null, .max_age_hours = 30 };
	const struct job *jobs[] = { &ja, &jc, &jb };

	err_clear(&err);
	assert_int_equal(catalog_open(db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	assert_int_equal(catalog_open(db, CATALOG_RO, &cat, &err), 0);
	/* The table vanishes under the reader. */
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "DROP TABLE stats", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);

	text = run_capture(cat, jobs, 3, f->now, &code);
	assert_int_equal(code, 3);
	want = xasprintf("UNKNOWN status backups alpha,bravo (tisbackup V" TB_VERSION
	                 ") | 'alpha_age'=U;108000;108000;0 'bravo_age'=U;108000;108000;0\n"
	                 "[alpha]:UNKNOWN : Unexpected error during Nagios check of alpha : "
	                 "catalog %s: reading the newest rows of each job: no such table: stats\n"
	                 "[bravo]:UNKNOWN : Unexpected error during Nagios check of bravo : "
	                 "catalog %s: reading the newest rows of each job: no such table: stats\n"
	                 "[charlie]:No backups needs to be performed\n",
	                 db, db);
	assert_string_equal(text, want);
	free(text);
	free(want);
	catalog_close(cat);
	free(db);
}

static void
test_run_speed(void **state)
{
	struct fixture *f = *state;
	struct catalog *cat;
	struct err err;
	sqlite3 *raw;
	sqlite3_stmt *st;
	struct job *jobs = xcalloc(200, sizeof *jobs);
	const struct job **jp = xcalloc(200, sizeof *jp);
	char *db = xasprintf("%s/tisbackup.sqlite", f->dir);
	char(*names)[16] = xcalloc(200, sizeof *names);
	struct timespec a, b;
	char *text;
	double ms;
	int code;

	err_clear(&err);
	assert_int_equal(catalog_open(db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	sqlite3_exec(raw, "BEGIN", NULL, NULL, NULL);
	assert_int_equal(
	    sqlite3_prepare_v2(raw,
	                       "INSERT INTO stats (backup_name, backup_start, "
	                       "backup_end, status, log, total_bytes, backup_location, "
	                       "TYPE) VALUES (?, ?, ?, 'OK', 'ok', 1000, ?, 'BACKUP')",
	                       -1, &st, NULL),
	    SQLITE_OK);
	for (int j = 0; j < 200; j++) {
		snprintf(names[j], sizeof names[j], "job%03d", j);
		jobs[j].name = names[j];
		jobs[j].drv = &drv_rsync;
		jobs[j].max_age_hours = 30;
		jp[j] = &jobs[j];
	}
	for (int d = 499; d >= 0; d--) {
		for (int j = 0; j < 200; j++) {
			char *t = iso_at(f->now, -(long)d * 86400 - 60, 500);

			sqlite3_bind_text(st, 1, names[j], -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, t, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, f->folder, -1, SQLITE_STATIC);
			assert_int_equal(sqlite3_step(st), SQLITE_DONE);
			sqlite3_reset(st);
			free(t);
		}
	}
	sqlite3_finalize(st);
	sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(raw);

	assert_int_equal(catalog_open(db, CATALOG_RO, &cat, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	text = run_capture(cat, jp, 200, f->now, &code);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	print_message("# nagios_run 200 jobs x 500 rows: %.2f ms\n", ms);
	assert_int_equal(code, 0);
	assert_true(strncmp(text, "ALL backups OK job000,job001,", 29) == 0);
	assert_non_null(
	    strstr(text, "'job199_age'=60s;108000;108000;0 'job199_bytes'=1000B;;;0\n"));
	free(text);
	/* The time is printed only: test_catalog asserts the index walk behind it. */
	catalog_close(cat);
	free(db);
	free(names);
	free(jp);
	free(jobs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_eval_null_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_no_data_and_no_location, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_folder_xcp_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_running_warning_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_time_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_catalog_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_speed, setup, teardown),
	};
	/*
	 * Against PostgreSQL (unit_pg_nagios): the check over a catalog.
	 * test_run_catalog_error and test_run_speed stay SQLite's (its error
	 * text for a dropped table; 100k rows written with sqlite3); the
	 * test_eval_* cases read no catalog.
	 */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_run_mixed, setup, teardown),
	};

	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("nagios_pg", pg_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
