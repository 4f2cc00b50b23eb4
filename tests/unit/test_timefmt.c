/*
 * Snapshot stamps and catalog timestamps, in the forms the original
 * writes (Python's isoformat() drops ".ffffff" when it is zero). Runs with
 * TZ=Europe/Paris (set by the test harness) so DST is exercised.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/timefmt.h"

static time_t
local(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900,
		         .tm_mon = mo - 1,
		         .tm_mday = d,
		         .tm_hour = h,
		         .tm_min = mi,
		         .tm_sec = s,
		         .tm_isdst = -1 };

	return mktime(&tm);
}

static int
setup(void **state)
{
	(void)state;
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	return 0;
}

static void
test_stamp_roundtrip(void **state)
{
	char s[TIME_STAMP_LEN + 1];
	time_t t = local(2026, 11, 26, 3, 20, 57), back;

	(void)state;
	time_stamp(t, s);
	assert_string_equal(s, "20261126-03h20m57");
	assert_int_equal(time_parse_stamp(s, &back), 0);
	assert_int_equal(back, t);
	/* Trailing text (".rsync", "-x.xva") is ignored. */
	assert_int_equal(time_parse_stamp("20261126-03h20m57.rsync", &back), 0);
	assert_int_equal(back, t);
}

static void
test_stamp_rejects(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(time_parse_stamp("20261126-03h20m5", &t), -1);
	assert_int_equal(time_parse_stamp("20261126_03h20m57", &t), -1);
	assert_int_equal(time_parse_stamp("2026112a-03h20m57", &t), -1);
	assert_int_equal(time_parse_stamp("20261326-03h20m57", &t), -1);
	assert_int_equal(time_parse_stamp("20261126-24h20m57", &t), -1);
	assert_int_equal(time_parse_stamp("", &t), -1);
}

static void
test_iso_forms(void **state)
{
	struct timeval tv;
	char s[TIME_ISO_LEN + 1];

	(void)state;
	assert_int_equal(time_parse_iso("2026-11-26T03:20:57.123456", &tv), 0);
	assert_int_equal(tv.tv_sec, local(2026, 11, 26, 3, 20, 57));
	assert_int_equal(tv.tv_usec, 123456);
	assert_int_equal(time_parse_iso("2026-11-26T03:20:57", &tv), 0);
	assert_int_equal(tv.tv_usec, 0);
	assert_int_equal(time_parse_iso("2026-11-26 03:20:57.5", &tv), 0);
	assert_int_equal(tv.tv_usec, 500000);
	time_iso(&tv, s);
	assert_string_equal(s, "2026-11-26T03:20:57.500000");
	tv.tv_usec = 0;
	time_iso(&tv, s);
	assert_string_equal(s, "2026-11-26T03:20:57.000000");
}

static void
test_iso_rejects(void **state)
{
	struct timeval tv;

	(void)state;
	assert_int_equal(time_parse_iso(NULL, &tv), -1);
	assert_int_equal(time_parse_iso("2026-11-26", &tv), -1);
	assert_int_equal(time_parse_iso("2026-11-26T03:20:57.", &tv), -1);
	assert_int_equal(time_parse_iso("2026/11/26T03:20:57", &tv), -1);
	assert_int_equal(time_parse_iso("garbage garbage garbage", &tv), -1);
}

static void
test_iso_sorts_as_strings(void **state)
{
	char a[TIME_ISO_LEN + 1], b[TIME_ISO_LEN + 1];
	struct timeval ta = { .tv_sec = local(2026, 3, 29, 1, 59, 59), .tv_usec = 999999 };
	struct timeval tb = { .tv_sec = ta.tv_sec + 1, .tv_usec = 0 }; /* DST jump to 03:00 */

	(void)state;
	time_iso(&ta, a);
	time_iso(&tb, b);
	assert_string_equal(b, "2026-03-29T03:00:00.000000");
	assert_true(strcmp(a, b) < 0);
	assert_true(time_diff(&ta, &tb) > 0.0 && time_diff(&ta, &tb) < 1.0);
}

/* s = the local fields of tm as a catalog timestamp; 0 when time_parse_iso() agrees with mktime(). */
static int
differs(struct tm tm)
{
	char s[80];
	struct timeval tv;
	time_t want;

	snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (time_parse_iso(s, &tv) == -1)
		return 1;
	tm.tm_isdst = -1;
	want = mktime(&tm);
	if (tv.tv_sec != want)
		print_error("%s (TZ=%s): %lld, mktime %lld\n", s, getenv("TZ"),
		            (long long)tv.tv_sec, (long long)want);
	return tv.tv_sec != want;
}

/*
 * The parse does without mktime() (a stat() per call) but must give its
 * answer for every local time: existing ones every 7 hours from 2011 to
 * 2027, and every 5 minutes of wall clock across each offset change found
 * (times that do not exist or exist twice included), in zones with DST,
 * half-hour DST (Lord Howe), a skipped day (Apia, 2011-12-30) and none.
 */
static void
test_parse_equals_mktime(void **state)
{
	static const char *const zones[] = { "Europe/Paris",        "America/New_York",
		                             "Australia/Lord_Howe", "Pacific/Apia",
		                             "Asia/Kolkata",        "UTC" };
	size_t bad = 0, n = 0;

	(void)state;
	for (size_t z = 0; z < sizeof zones / sizeof *zones; z++) {
		long prev = 0;

		setenv("TZ", zones[z], 1);
		tzset();
		for (time_t t = 1293840000; t < 1798761600; t += 7 * 3600) { /* 2011 to 2027 */
			struct tm tm;

			localtime_r(&t, &tm);
			bad += (size_t)differs(tm);
			n++;
			if (t != 1293840000 && tm.tm_gmtoff != prev) {
				/* Every 5 minutes of wall clock from 26 h before to 26 h after. */
				time_t from = t - 7 * 3600 - 26 * 3600;
				struct tm w;

				localtime_r(&from, &w);
				for (int i = 0; i < (7 + 52) * 12; i++) {
					struct tm c = w;

					c.tm_min += 5 * i;
					c.tm_isdst = -1;
					timegm(&c); /* normalise the wall clock fields only */
					bad += (size_t)differs(c);
					n++;
				}
			}
			prev = tm.tm_gmtoff;
		}
	}
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	print_message("# %zu local times compared\n", n);
	assert_int_equal(bad, 0);
}

/* A long-running process follows a changed zone within a second (as with mktime()). */
static void
test_parse_follows_zone_change(void **state)
{
	struct timeval tv;
	time_t t0;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(time_parse_iso("2026-07-01T12:00:00", &tv), 0);
	assert_int_equal(tv.tv_sec, 1782907200);
	setenv("TZ", "Asia/Kolkata", 1); /* no tzset(): as when /etc/localtime changes */
	t0 = time(NULL);
	while (time(NULL) == t0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	assert_int_equal(time_parse_iso("2026-07-01T12:00:00", &tv), 0);
	assert_int_equal(tv.tv_sec, 1782907200 - 19800);
	setenv("TZ", "Europe/Paris", 1);
	tzset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_roundtrip),
		cmocka_unit_test(test_stamp_rejects),
		cmocka_unit_test(test_iso_forms),
		cmocka_unit_test(test_iso_rejects),
		cmocka_unit_test(test_iso_sorts_as_strings),
		cmocka_unit_test(test_parse_equals_mktime),
		cmocka_unit_test(test_parse_follows_zone_change),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
