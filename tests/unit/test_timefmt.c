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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_roundtrip),
		cmocka_unit_test(test_stamp_rejects),
		cmocka_unit_test(test_iso_forms),
		cmocka_unit_test(test_iso_rejects),
		cmocka_unit_test(test_iso_sorts_as_strings),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
