/*
 * Unit tests for util/fmt.c. The expected strings are what the original's
 * convert_bytes, splitThousands(v, ' ', '.'), hours_minutes and
 * time2display print for the same values (checked against Python).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/fmt.h"

static void
check_bytes(double v, const char *want)
{
	char out[32];

	fmt_bytes(v, out, sizeof out);
	assert_string_equal(out, want);
}

static void
test_bytes(void **state)
{
	char small[4];

	(void)state;
	check_bytes(20457472, "19.51M");
	check_bytes(512, "512.00b");
	check_bytes(0, "0.00b");
	check_bytes(1023, "1023.00b");
	check_bytes(1024, "1.00K");
	check_bytes(1535, "1.50K");
	check_bytes(1536, "1.50K");
	check_bytes(1048575, "1024.00K");
	check_bytes(1048576, "1.00M");
	check_bytes(1073741824.0, "1.00G");
	check_bytes(2.5 * 1073741824.0, "2.50G");
	check_bytes(5000000000.0, "4.66G");
	check_bytes(1099511627775.0, "1024.00G");
	check_bytes(1099511627776.0, "1.00T");
	check_bytes(3298534883328.0, "3.00T");
	check_bytes(1125899906842624.0, "1024.00T");
	check_bytes(-5, "-5.00b");

	/* Truncated, never overflowed. */
	fmt_bytes(20457472, small, sizeof small);
	assert_string_equal(small, "19.");
}

static void
check_thousands(int64_t v, const char *want)
{
	char out[40];

	fmt_thousands(v, out, sizeof out);
	assert_string_equal(out, want);
}

static void
test_thousands(void **state)
{
	char small[5];

	(void)state;
	check_thousands(1234567, "1 234 567");
	check_thousands(-1234, "-1 234");
	check_thousands(0, "0");
	check_thousands(7, "7");
	check_thousands(999, "999");
	check_thousands(-999, "-999");
	check_thousands(1000, "1 000");
	check_thousands(100000, "100 000");
	check_thousands(INT64_MAX, "9 223 372 036 854 775 807");
	check_thousands(INT64_MIN, "-9 223 372 036 854 775 808");

	fmt_thousands(1234567, small, sizeof small);
	assert_string_equal(small, "1 23");
}

static void
check_hm(double h, const char *want)
{
	char out[32];

	fmt_hours_minutes(h, out, sizeof out);
	assert_string_equal(out, want);
}

static void
test_hours_minutes(void **state)
{
	(void)state;
	check_hm(1.5, "01:30");
	check_hm(0.0166, "00:00"); /* 59.76 s: minutes are truncated */
	check_hm(1.0 / 60.0, "00:01");
	check_hm(0.05, "00:03");
	check_hm(0, "00:00");
	check_hm(0.999999, "00:59");
	check_hm(25.99, "25:59");
	check_hm(100.25, "100:15");
	check_hm(-1.5, "-1:-30"); /* Python's int() truncates toward zero too */
	check_hm(NAN, "");
	check_hm(INFINITY, "");
}

static void
check_iso(const char *iso, const char *want)
{
	char out[64];

	fmt_iso_short(iso, out, sizeof out);
	assert_string_equal(out, want);
}

static void
test_iso_short(void **state)
{
	char small[11];

	(void)state;
	check_iso("2026-11-26T03:20:57.123456", "2026-11-26 03:20");
	check_iso("2026-11-26T03:20:57", "2026-11-26 03:20");
	check_iso("2026-11-26 03:20:57", "2026-11-26 03:20");
	/* A local time that falls in the spring DST gap is printed as written. */
	check_iso("2026-03-29T02:30:00", "2026-03-29 02:30");
	check_iso("garbage", "garbage");
	check_iso("2026-11-26", "2026-11-26");
	check_iso("", "");
	check_iso(NULL, "");

	fmt_iso_short("2026-11-26T03:20:57", small, sizeof small);
	assert_string_equal(small, "2026-11-26");
}

/* s parsed by fmt_parse_grouped(): want, and the rest after it. */
static void
grouped(const char *s, int64_t want, const char *rest)
{
	const char *p = s;
	int64_t v = -7;

	assert_int_equal(fmt_parse_grouped(&p, &v), 0);
	assert_int_equal(v, want);
	assert_string_equal(p, rest);
}

static void
test_parse_grouped(void **state)
{
	const char *p;
	int64_t v = -7;

	(void)state;
	grouped("1,234,567 bytes", 1234567, " bytes");
	grouped("12.345%", 12345, "%");
	grouped("7, next", 7, ", next");
	grouped("9223372036854775807", INT64_MAX, "");
	/* not a number, a leading separator, past INT64_MAX: refused, *p kept */
	for (const char *const *bad =
	         (const char *const[]){ "x1", ",12", " 1", "9223372036854775808", NULL };
	     *bad != NULL; bad++) {
		p = *bad;
		assert_int_equal(fmt_parse_grouped(&p, &v), -1);
		assert_ptr_equal(p, *bad);
		assert_int_equal(v, -7);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),         cmocka_unit_test(test_thousands),
		cmocka_unit_test(test_hours_minutes), cmocka_unit_test(test_iso_short),
		cmocka_unit_test(test_parse_grouped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
