/*
 * Tests for diskusage.c and diskusage_forecast.c: the least-squares
 * forecast over synthetic histories (an exact line, a noisy one with known
 * coefficients, the window leaving old samples out, a week across the
 * spring DST change, flat and shrinking use, too few samples, already
 * full); the catalog's disk-usage operations (migration, upsert, delete,
 * a read-only catalog without the tables reading as empty); and one walk
 * of a tree with links inside and outside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "catalog_fixture.h"
#include "diskusage.h"
#include "fixture.h"

/* Noon, local time, on y-m-d (the tests run with TZ=Europe/Paris). */
static time_t
noon(int y, int m, int d)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12, .tm_isdst = -1
	};

	return mktime(&tm);
}

/* The local date k days before t into day. */
static void
day_before(time_t t, int k, char *day)
{
	time_t x = t - (time_t)k * 86400;
	struct tm tm;

	localtime_r(&x, &tm);
	strftime(day, 11, "%Y-%m-%d", &tm);
}

static void
test_forecast_line(void **state)
{
	struct catalog_du_sample s[10];
	struct diskusage_forecast f;
	time_t now = noon(2026, 4, 2); /* the window holds the DST change of 2026-03-29 */

	(void)state;
	for (int k = 0; k < 10; k++) {
		day_before(now, 9 - k, s[k].day);
		s[k].used_bytes = 1000 + 100 * k;
		s[k].capacity_bytes = 2000;
	}
	diskusage_forecast(s, 10, now, 30, &f);
	assert_int_equal(f.nsamples, 10);
	assert_true(f.fitted);
	assert_true(f.slope > 99.999 && f.slope < 100.001);
	assert_true(f.used_today > 1899.99 && f.used_today < 1900.01);
	assert_true(f.full);
	assert_true(f.days_left > 0.999 && f.days_left < 1.001);
	assert_string_equal(f.full_day, "2026-04-03");
	assert_int_equal(f.capacity, 2000);
}

static void
test_forecast_noisy(void **state)
{
	/* (x, y) = (-2, 1), (-1, 3), (0, 2): slope 0.5, 2.5 today; capacity 10: 15 days. */
	struct catalog_du_sample s[3] = { { "2026-12-01", 1, 10 },
		                          { "2026-12-02", 3, 10 },
		                          { "2026-12-03", 2, 10 } };
	struct diskusage_forecast f;

	(void)state;
	diskusage_forecast(s, 3, noon(2026, 12, 3), 30, &f);
	assert_true(f.fitted && f.full);
	assert_true(f.slope > 0.4999 && f.slope < 0.5001);
	assert_true(f.used_today > 2.4999 && f.used_today < 2.5001);
	assert_true(f.days_left > 14.999 && f.days_left < 15.001);
	assert_string_equal(f.full_day, "2026-12-18");
}

static void
test_forecast_window(void **state)
{
	/* Old samples outside the 7-day window would make it shrink: they are left out. */
	struct catalog_du_sample s[6] = {
		{ "2026-01-01", 900, 1000 }, { "2026-01-20", 800, 1000 },
		{ "2026-02-20", 100, 1000 }, { "2026-02-25", 200, 1000 },
		{ "2026-02-26", 210, 1000 }, { "2026-03-01", 240, 1000 },
	};
	struct diskusage_forecast f;

	(void)state;
	diskusage_forecast(s, 6, noon(2026, 3, 1), 7, &f);
	/* 2026-02-23 .. 2026-03-01: three samples, 10 a day. */
	assert_int_equal(f.nsamples, 3);
	assert_true(f.slope > 9.999 && f.slope < 10.001);
	assert_true(f.full);
	assert_string_equal(f.full_day, "2026-05-16"); /* 240 + 76 * 10 = 1000 */
	/* A sample dated after today is ignored too. */
	snprintf(s[5].day, sizeof s[5].day, "%s", "2026-03-02");
	diskusage_forecast(s, 6, noon(2026, 3, 1), 7, &f);
	assert_int_equal(f.nsamples, 2);
}

static void
test_forecast_no_fill(void **state)
{
	struct catalog_du_sample flat[2] = { { "2026-05-01", 500, 1000 },
		                             { "2026-05-02", 500, 1000 } };
	struct catalog_du_sample down[2] = { { "2026-05-01", 600, 1000 },
		                             { "2026-05-02", 500, 1000 } };
	struct catalog_du_sample one[1] = { { "2026-05-02", 500, 1000 } };
	struct catalog_du_sample same_day[2] = { { "2026-05-02", 400, 1000 },
		                                 { "2026-05-02", 500, 1000 } };
	struct catalog_du_sample bad[2] = { { "2026-5-1", 400, 1000 }, { "garbage", 500, 1000 } };
	struct diskusage_forecast f;
	time_t now = noon(2026, 5, 2);

	(void)state;
	diskusage_forecast(flat, 2, now, 30, &f);
	assert_true(f.fitted && !f.full);
	diskusage_forecast(down, 2, now, 30, &f);
	assert_true(f.fitted && !f.full && f.slope < 0);
	diskusage_forecast(one, 1, now, 30, &f);
	assert_false(f.fitted);
	diskusage_forecast(NULL, 0, now, 30, &f);
	assert_false(f.fitted);
	assert_int_equal(f.nsamples, 0);
	diskusage_forecast(same_day, 2, now, 30, &f);
	assert_false(f.fitted);
	diskusage_forecast(bad, 2, now, 30, &f);
	assert_int_equal(f.nsamples, 0);
}

static void
test_forecast_already_full(void **state)
{
	struct catalog_du_sample s[2] = { { "2026-05-01", 900, 1000 },
		                          { "2026-05-02", 1100, 1000 } };
	struct diskusage_forecast f;

	(void)state;
	diskusage_forecast(s, 2, noon(2026, 5, 2), 30, &f);
	assert_true(f.full);
	assert_true(f.days_left == 0);
	assert_string_equal(f.full_day, "2026-05-02");
}

static void
test_catalog_ops(void **state)
{
	struct tb_tmpdir *t = *state;
	struct catalog_du d = { .backup_name = "job",
		                .snapshot = "20260101-01h00m00",
		                .bytes = 10,
		                .disk_bytes = 4096,
		                .unique_bytes = 5,
		                .unique_disk_bytes = 4096,
		                .files = 2,
		                .measured = 1700000000 };
	struct catalog_du_sample smp = { "2026-01-01", 100, 1000 }, *ss = NULL;
	struct catalog_du *rows = NULL;
	struct catalog *cat = NULL;
	char *db = tb_catalog_new(t->path, "cat");
	size_t n = 0;
	struct err err;

	err_clear(&err);
	/* A catalog that never had the tables reads as empty read-only. */
	assert_int_equal(catalog_open(db, CATALOG_RW, &cat, &err), 0);
	catalog_close(cat);
	assert_int_equal(catalog_open(db, CATALOG_RO, &cat, &err), 0);
	assert_int_equal(catalog_du_find(cat, NULL, &rows, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(catalog_du_samples(cat, NULL, &ss, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(catalog_du_put(cat, &d, &err), -1);
	assert_non_null(strstr(err.msg, "read-only"));
	catalog_close(cat);

	assert_int_equal(catalog_open(db, CATALOG_RW, &cat, &err), 0);
	assert_int_equal(catalog_du_put(cat, &d, &err), 0);
	d.snapshot = "";
	d.unique_bytes = 7;
	assert_int_equal(catalog_du_put(cat, &d, &err), 0);
	d.unique_bytes = 8; /* replaces the job row */
	assert_int_equal(catalog_du_put(cat, &d, &err), 0);
	d.backup_name = "other";
	assert_int_equal(catalog_du_put(cat, &d, &err), 0);
	assert_int_equal(catalog_du_find(cat, "job", &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].snapshot, "");
	assert_int_equal(rows[0].unique_bytes, 8);
	assert_string_equal(rows[1].snapshot, "20260101-01h00m00");
	assert_int_equal(rows[1].bytes, 10);
	assert_int_equal(rows[1].disk_bytes, 4096);
	assert_int_equal(rows[1].files, 2);
	assert_int_equal(rows[1].measured, 1700000000);
	catalog_du_free(rows, n);
	assert_int_equal(catalog_du_delete(cat, "job", "20260101-01h00m00", &err), 0);
	assert_int_equal(catalog_du_find(cat, NULL, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	catalog_du_free(rows, n);
	assert_int_equal(catalog_du_delete(cat, "job", NULL, &err), 0);
	assert_int_equal(catalog_du_find(cat, NULL, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].backup_name, "other");
	catalog_du_free(rows, n);

	assert_int_equal(catalog_du_sample_put(cat, &smp, &err), 0);
	smp.used_bytes = 150; /* the day's last sample wins */
	assert_int_equal(catalog_du_sample_put(cat, &smp, &err), 0);
	snprintf(smp.day, sizeof smp.day, "%s", "2026-01-03");
	assert_int_equal(catalog_du_sample_put(cat, &smp, &err), 0);
	assert_int_equal(catalog_du_samples(cat, NULL, &ss, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ss[0].day, "2026-01-01");
	assert_int_equal(ss[0].used_bytes, 150);
	assert_int_equal(ss[1].capacity_bytes, 1000);
	free(ss);
	assert_int_equal(catalog_du_samples(cat, "2026-01-02", &ss, &n, &err), 0);
	assert_int_equal(n, 1);
	free(ss);
	catalog_close(cat);
	assert_int_equal(tb_catalog_drop(db), 0);
}

static void
write_file(const char *path, size_t size)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	assert_int_equal(fclose(f), 0);
}

static void
test_walk(void **state)
{
	struct tb_tmpdir *t = *state;
	char tree[512], p[600], q[600];
	struct diskusage_fig fig;
	struct stat st_tree, st_sub;
	struct err err;

	err_clear(&err);
	snprintf(tree, sizeof tree, "%s/tree", t->path);
	assert_int_equal(mkdir(tree, 0755), 0);
	snprintf(p, sizeof p, "%s/sub", tree);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/a", tree); /* two links, both inside: unique */
	write_file(p, 1000);
	snprintf(q, sizeof q, "%s/sub/a2", tree);
	assert_int_equal(link(p, q), 0);
	snprintf(p, sizeof p, "%s/b", tree); /* one link outside: shared */
	write_file(p, 300);
	snprintf(q, sizeof q, "%s/b-outside", t->path);
	assert_int_equal(link(p, q), 0);
	snprintf(p, sizeof p, "%s/c", tree); /* a single link */
	write_file(p, 50);
	snprintf(q, sizeof q, "%s/sub", tree);
	assert_int_equal(stat(tree, &st_tree), 0);
	assert_int_equal(stat(q, &st_sub), 0);

	assert_int_equal(diskusage_walk(tree, &fig, &err), 0);
	assert_int_equal(fig.files, 4);
	assert_int_equal(fig.bytes, st_tree.st_size + st_sub.st_size + 1000 * 2 + 300 + 50);
	assert_int_equal(fig.unique_bytes, st_tree.st_size + st_sub.st_size + 1000 + 50);
	assert_true(fig.unique_disk_bytes < fig.disk_bytes);
	/* A single file is its own tree. */
	assert_int_equal(diskusage_walk(p, &fig, &err), 0);
	assert_int_equal(fig.bytes, 50);
	assert_int_equal(fig.unique_bytes, 50);
	snprintf(p, sizeof p, "%s/missing", t->path);
	assert_int_equal(diskusage_walk(p, &fig, &err), -1);
	assert_non_null(strstr(err.msg, "missing"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forecast_line),
		cmocka_unit_test(test_forecast_noisy),
		cmocka_unit_test(test_forecast_window),
		cmocka_unit_test(test_forecast_no_fill),
		cmocka_unit_test(test_forecast_already_full),
		cmocka_unit_test_setup_teardown(test_catalog_ops, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_walk, tb_tmpdir_setup, tb_tmpdir_teardown),
	};
	/* Against PostgreSQL (unit_pg_diskusage): the one case that uses a catalog. */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_catalog_ops, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
	};

	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("diskusage_pg", pg_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
