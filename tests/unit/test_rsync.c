/*
 * The rsync pieces the drivers share: --stats parsing in its variants
 * (rsync 2.x and 3.x wording, ',' and '.' grouping) and the choice of
 * --link-dest snapshots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/rsync.h"

static void
test_stats_rsync3(void **state)
{
	static const char *const out[] = {
		"",
		"Number of files: 50,123 (reg: 50,000, dir: 123)",
		"Number of created files: 12 (reg: 12)",
		"Number of deleted files: 3 (reg: 3)",
		"Number of regular files transferred: 1,234",
		"Total file size: 1,234,567,890 bytes",
		"Total transferred file size: 9,876,543 bytes",
		"Literal data: 9,876,543 bytes",
		"Matched data: 0 bytes",
		"File list size: 65,519",
		"Total bytes sent: 55,224",
		"Total bytes received: 9,931,250",
		"sent 55,224 bytes  received 9,931,250 bytes  1,997,294.80 bytes/sec",
		"total size is 1,234,567,890  speedup is 123.62",
		NULL,
	};
	struct rsync_stats st = { 0 };
	int recognised = 0;

	(void)state;
	for (const char *const *l = out; *l != NULL; l++)
		recognised += rsync_stats_feed(&st, *l);
	assert_int_equal(recognised, 4);
	assert_int_equal(st.total_files, 50123);
	assert_int_equal(st.written_files, 1234);
	assert_int_equal(st.total_bytes, 1234567890LL);
	assert_int_equal(st.written_bytes, 9876543);
}

static void
test_stats_old_wording_and_dots(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	/* rsync 2.6 says "files transferred"; some locales group with '.'. */
	assert_int_equal(rsync_stats_feed(&st, "Number of files: 1.234"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Number of files transferred: 17"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Total file size: 2.000.000 bytes"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Total transferred file size: 999 bytes"), 1);
	assert_int_equal(st.total_files, 1234);
	assert_int_equal(st.written_files, 17);
	assert_int_equal(st.total_bytes, 2000000);
	assert_int_equal(st.written_bytes, 999);
}

static void
test_stats_ignores_lookalikes(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	assert_int_equal(rsync_stats_feed(&st, "Number of deleted files: 5"), 0);
	assert_int_equal(rsync_stats_feed(&st, "Number of files: lots"), 0);
	assert_int_equal(rsync_stats_feed(&st, "Total file size:"), 0);
	assert_int_equal(rsync_stats_feed(&st, "rsync: Number of files: 3"), 0);
	assert_int_equal(rsync_stats_feed(&st, "Total file size: 99999999999999999999999 bytes"),
	                 0);
	assert_int_equal(st.total_files, 0);
	assert_int_equal(st.total_bytes, 0);
}

static void
test_stats_trailing_separator(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	/* A '.' that ends a sentence is not a digit group. */
	assert_int_equal(rsync_stats_feed(&st, "Total transferred file size: 12. bytes"), 1);
	assert_int_equal(st.written_bytes, 12);
}

static char *
mkjob(void)
{
	char tmpl[] = "/tmp/tb_rsync_XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void
mk(const char *dir, const char *name)
{
	char p[512];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
rmjob(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

static void
test_link_dests(void **state)
{
	char *d = mkjob();
	struct strv out;
	struct err err;

	(void)state;
	mk(d, "20261120-03h00m00");
	mk(d, "20261121-03h00m00");
	mk(d, "20261122-03h00m00.rsync"); /* crashed after the last good one */
	mk(d, "20261123-03h00m00.rsync");
	mk(d, "20261124-03h00m00"); /* newer than current: ignored */
	mk(d, "lock-not-a-snapshot");
	mk(d, "20261121-03h00m00.old"); /* not the shape */
	strv_init(&out);
	assert_int_equal(rsync_link_dests(d, "20261123-22h00m00", &out, &err), 0);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.v[0], "20261123-03h00m00.rsync");
	assert_string_equal(out.v[1], "20261122-03h00m00.rsync");
	assert_string_equal(out.v[2], "20261121-03h00m00");
	strv_free(&out);
	rmjob(d);
}

static void
test_link_dests_empty_and_cap(void **state)
{
	char *d = mkjob();
	struct strv out;
	struct err err;
	char name[64];

	(void)state;
	strv_init(&out);
	assert_int_equal(rsync_link_dests(d, "20261123-22h00m00", &out, &err), 0);
	assert_int_equal(out.n, 0);
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof name, "202611%02d-03h00m00.rsync", i + 1);
		mk(d, name);
	}
	assert_int_equal(rsync_link_dests(d, "20261201-00h00m00", &out, &err), 0);
	assert_int_equal(out.n, 20); /* rsync accepts at most 20 --link-dest */
	assert_string_equal(out.v[0], "20261130-03h00m00.rsync");
	strv_free(&out);
	rmjob(d);
}

static void
test_link_dests_missing_dir(void **state)
{
	struct strv out;
	struct err err;

	(void)state;
	strv_init(&out);
	err_clear(&err);
	assert_int_equal(rsync_link_dests("/nonexistent/tb", "20261123-22h00m00", &out, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/tb"));
	strv_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_rsync3),
		cmocka_unit_test(test_stats_old_wording_and_dots),
		cmocka_unit_test(test_stats_ignores_lookalikes),
		cmocka_unit_test(test_stats_trailing_separator),
		cmocka_unit_test(test_link_dests),
		cmocka_unit_test(test_link_dests_empty_and_cap),
		cmocka_unit_test(test_link_dests_missing_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
