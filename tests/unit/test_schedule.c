/*
 * Schedules: parsing (every form, every error with its field and a
 * hint) and next-run computation in local time -- steps, lists, names,
 * cron's day-of-month/day-of-week OR rule, month ends, leap years, and
 * the DST rule (a missing time runs at the first minute after the gap,
 * a repeated time runs at its first occurrence) in Europe/Paris and in
 * America/New_York.
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

#include "config.h"
#include "schedule.h"
#include "util/err.h"

/* Local time of "YYYY-MM-DD HH:MM[:SS]" (an unambiguous one). */
static time_t
lt(const char *s)
{
	struct tm t;
	int sec = 0;

	memset(&t, 0, sizeof t);
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min,
	           &sec) < 5)
		fail_msg("bad time %s", s);
	t.tm_year -= 1900;
	t.tm_mon -= 1;
	t.tm_sec = sec;
	t.tm_isdst = -1;
	return mktime(&t);
}

/* UTC time of "YYYY-MM-DD HH:MM". */
static time_t
utc(const char *s)
{
	struct tm t;

	memset(&t, 0, sizeof t);
	if (sscanf(s, "%d-%d-%d %d:%d", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min) !=
	    5)
		fail_msg("bad time %s", s);
	t.tm_year -= 1900;
	t.tm_mon -= 1;
	return timegm(&t);
}

static const char *
show(time_t t)
{
	static char b[64];
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S %Z", &tm);
	return b;
}

/* The next run of expr after `after`, which must parse. */
static time_t
next_of(const char *expr, time_t after)
{
	struct schedule s;
	struct err e;
	time_t t = 0;

	err_clear(&e);
	if (schedule_parse(expr, &s, &e) == -1)
		fail_msg("'%s' does not parse: %s", expr, e.msg);
	if (schedule_next(&s, after, &t) == -1)
		fail_msg("'%s' has no next run after %s", expr, show(after));
	return t;
}

#define EXPECT_NEXT(expr, after, want)                                                             \
	do {                                                                                       \
		time_t got_ = next_of(expr, after), want_ = (want);                                \
		if (got_ != want_) {                                                               \
			char g_[64];                                                               \
			snprintf(g_, sizeof g_, "%s", show(got_));                                 \
			fail_msg("'%s' after %s: got %s, want %s", expr, show(after), g_,          \
			         show(want_));                                                     \
		}                                                                                  \
	} while (0)

static void
test_parse_valid(void **state)
{
	static const char *const ok[] = {
		"* * * * *",
		"*/15 * * * *",
		"0 9 * * 1-5",
		"30 22 * * *",
		"0,30 8-18/2 * * *",
		"0 0 1,15 * *",
		"0 0 * jan-mar,dec *",
		"0 0 * * sun,SAT",
		"0 0 * * 7",
		"5/10 * * * *",
		"0 0 29 2 *",
		"  30  22 * *  * ",
		"daily 22:30",
		"DAILY 3:05",
		"weekly sun 03:00",
		"weekly Friday 23:59",
		"weekly 7 00:00",
		"hourly",
		"hourly :45",
		"@hourly",
		"@daily",
		"@midnight",
		"@weekly",
		"@monthly",
		"@yearly",
		"@annually",
		"never",
		"",
	};
	struct schedule s;
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		err_clear(&e);
		if (schedule_parse(ok[i], &s, &e) != 0)
			fail_msg("'%s' refused: %s", ok[i], e.msg);
	}
	assert_int_equal(schedule_parse("never", &s, NULL), 0);
	assert_true(s.never);
	assert_int_equal(schedule_parse("", &s, NULL), 0);
	assert_true(s.never);
	assert_int_equal(schedule_parse("0 0 * * 7", &s, NULL), 0);
	assert_int_equal(s.wdays, 1); /* 7 is Sunday */
	assert_int_equal(schedule_parse("0,30 8-18/2 * * *", &s, NULL), 0);
	assert_true(s.minutes == ((1ULL << 0) | (1ULL << 30)));
	assert_int_equal(s.hours, (1u << 8) | (1u << 10) | (1u << 12) | (1u << 14) | (1u << 16) |
	                              (1u << 18));
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *in, *want;
	} bad[] = {
		{ "61 * * * *", "minute field '61': 61 is out of range 0-59" },
		{ "* 24 * * *", "hour field '24': 24 is out of range 0-23" },
		{ "* * 0 * *", "day-of-month field '0': 0 is out of range 1-31" },
		{ "* * * 13 *", "month field '13': 13 is out of range 1-12" },
		{ "* * * * 8", "day-of-week field '8': 8 is out of range 0-7" },
		{ "* * * foo *", "month field 'foo': unknown name 'foo' (use jan..dec" },
		{ "* * * * mon-fry", "day-of-week field 'mon-fry': unknown name 'fry'" },
		{ "*/0 * * * *", "minute field '*/0': step 0 is out of range 1-60" },
		{ "*/ * * * *", "minute field '*/': '/' must be followed by a step number" },
		{ "5-2 * * * *", "minute field '5-2': range 5-2 goes backwards" },
		{ "1,,2 * * * *", "minute field '1,,2': a value is missing" },
		{ "1x * * * *", "minute field '1x': unexpected 'x'" },
		{ "* * *", "expected 5 fields (minute hour day-of-month month day-of-week" },
		{ "* * * * * *", "expected 5 fields" },
		{ "0 0 31 2 *", "day-of-month field '31': no such day in month field '2'" },
		{ "0 0 30,31 feb *", "would never run" },
		{ "daily 25:00", "daily '25:00': hour 25 is out of range 0-23" },
		{ "daily 22:61", "daily '22:61': minute 61 is out of range 0-59" },
		{ "daily 22h30", "daily: expected a time HH:MM" },
		{ "daily", "daily: expected 'daily HH:MM'" },
		{ "dayly 22:30", "unknown schedule 'dayly'" },
		{ "weekly funday 03:00", "weekly: unknown day 'funday'" },
		{ "weekly sun", "weekly: expected 'weekly DAY HH:MM'" },
		{ "hourly 15", "hourly: expected 'hourly' or 'hourly :MM'" },
		{ "@often", "unknown schedule '@often'" },
	};
	struct schedule s;
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		if (schedule_parse(bad[i].in, &s, &e) != -1)
			fail_msg("'%s' accepted", bad[i].in);
		if (strstr(e.msg, bad[i].want) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, e.msg, bad[i].want);
	}
}

static void
test_next_basic(void **state)
{
	(void)state;
	/* every 15 minutes; strictly after */
	EXPECT_NEXT("*/15 * * * *", lt("2026-01-10 10:07:30"), lt("2026-01-10 10:15"));
	EXPECT_NEXT("*/15 * * * *", lt("2026-01-10 10:45:00"), lt("2026-01-10 11:00"));
	EXPECT_NEXT("*/15 * * * *", lt("2026-01-10 23:59:59"), lt("2026-01-11 00:00"));
	/* weekdays: Friday 2026-01-09 after 09:00 -> Monday */
	EXPECT_NEXT("0 9 * * 1-5", lt("2026-01-09 10:00"), lt("2026-01-12 09:00"));
	EXPECT_NEXT("0 9 * * mon-fri", lt("2026-01-12 08:59:59"), lt("2026-01-12 09:00"));
	/* both day fields restricted: the 13th OR a Friday */
	EXPECT_NEXT("0 0 13 * 5", lt("2026-01-10 00:00"), lt("2026-01-13 00:00"));
	EXPECT_NEXT("0 0 13 * 5", lt("2026-01-13 00:00"), lt("2026-01-16 00:00"));
	/* day-of-month '*': the weekday alone */
	EXPECT_NEXT("0 0 * * 5", lt("2026-01-10 00:00"), lt("2026-01-16 00:00"));
	/* a '*' step counts as '*': odd days AND Mondays (5th, 19th) */
	EXPECT_NEXT("0 0 */2 * 1", lt("2026-01-06 00:00"), lt("2026-01-19 00:00"));
	/* steps up to the end of a range */
	EXPECT_NEXT("0 20-23/2 * * *", lt("2026-01-10 20:00"), lt("2026-01-10 22:00"));
	EXPECT_NEXT("0 20-23/2 * * *", lt("2026-01-10 22:00"), lt("2026-01-11 20:00"));
	EXPECT_NEXT("50-59/5 * * * *", lt("2026-01-10 10:55"), lt("2026-01-10 11:50"));
	EXPECT_NEXT("5/20 * * * *", lt("2026-01-10 10:45"), lt("2026-01-10 11:05"));
	/* month ends */
	EXPECT_NEXT("0 0 1 * *", lt("2026-01-31 12:00"), lt("2026-02-01 00:00"));
	EXPECT_NEXT("0 0 31 * *", lt("2026-01-31 00:00"), lt("2026-03-31 00:00"));
	EXPECT_NEXT("0 0 31 * *", lt("2026-03-31 00:00"), lt("2026-05-31 00:00"));
	EXPECT_NEXT("0 0 1 1 *", lt("2026-06-01 00:00"), lt("2027-01-01 00:00"));
	EXPECT_NEXT("59 23 31 12 *", lt("2026-12-31 23:59"), lt("2027-12-31 23:59"));
	/* leap years */
	EXPECT_NEXT("0 12 29 2 *", lt("2026-03-01 00:00"), lt("2028-02-29 12:00"));
	EXPECT_NEXT("0 12 29 2 *", lt("2096-03-01 00:00"), lt("2104-02-29 12:00"));
	EXPECT_NEXT("0 0 28-31 feb *", lt("2028-02-28 00:00"), lt("2028-02-29 00:00"));
	EXPECT_NEXT("0 0 28-31 feb *", lt("2027-02-28 00:00"), lt("2028-02-28 00:00"));
	/* with the OR rule, February's Mondays match too */
	EXPECT_NEXT("0 0 29 2 1", lt("2026-03-01 00:00"), lt("2027-02-01 00:00"));
	/* names, 7 = Sunday */
	EXPECT_NEXT("30 4 * jan,jul sun", lt("2026-01-10 00:00"), lt("2026-01-11 04:30"));
	EXPECT_NEXT("30 4 * JAN,JUL 7", lt("2026-01-26 00:00"), lt("2026-07-05 04:30"));
	/* short forms */
	EXPECT_NEXT("daily 22:30", lt("2026-01-10 22:29:59"), lt("2026-01-10 22:30"));
	EXPECT_NEXT("daily 22:30", lt("2026-01-10 22:30:00"), lt("2026-01-11 22:30"));
	EXPECT_NEXT("weekly sat 03:00", lt("2026-01-10 03:00"), lt("2026-01-17 03:00"));
	EXPECT_NEXT("hourly :15", lt("2026-01-10 10:15"), lt("2026-01-10 11:15"));
	EXPECT_NEXT("hourly", lt("2026-01-10 10:15"), lt("2026-01-10 11:00"));
	EXPECT_NEXT("@weekly", lt("2026-01-10 10:15"), lt("2026-01-11 00:00"));
	EXPECT_NEXT("@monthly", lt("2026-01-10 10:15"), lt("2026-02-01 00:00"));
}

static void
test_next_never(void **state)
{
	struct schedule s;
	time_t t;

	(void)state;
	assert_int_equal(schedule_parse("never", &s, NULL), 0);
	assert_int_equal(schedule_next(&s, lt("2026-01-10 10:00"), &t), -1);
	/* Feb 30 on a Monday with '*' days of month would be caught by the parser;
	 * an expression that parses but matches nothing within 8 years gives -1. */
	assert_int_equal(schedule_parse("0 0 */31 2 1", &s, NULL), 0);
	assert_int_equal(schedule_next(&s, lt("2026-01-10 10:00"), &t), 0); /* Feb 1 Mondays */
}

/* Europe/Paris 2026: 03-29 02:00 CET -> 03:00 CEST; 10-25 03:00 CEST -> 02:00 CET. */
static void
test_dst_paris(void **state)
{
	time_t t;

	(void)state;
	/* spring forward: 02:30 does not exist; runs once at 03:00 CEST (01:00 UTC) */
	EXPECT_NEXT("daily 02:30", lt("2026-03-28 12:00"), utc("2026-03-29 01:00"));
	EXPECT_NEXT("daily 02:30", utc("2026-03-29 01:00"), utc("2026-03-30 00:30"));
	EXPECT_NEXT("30 2 * * *", lt("2026-03-28 12:00"), utc("2026-03-29 01:00"));
	EXPECT_NEXT("0 2 * * *", lt("2026-03-28 12:00"), utc("2026-03-29 01:00"));
	EXPECT_NEXT("0 2 * * *", utc("2026-03-29 01:00"), utc("2026-03-30 00:00"));
	/* a time just after the gap is not affected */
	EXPECT_NEXT("daily 03:30", lt("2026-03-28 12:00"), utc("2026-03-29 01:30"));
	/* hourly across the gap: 01:00 CET, 03:00 CEST (the 02:00 slot), 04:00 */
	EXPECT_NEXT("0 * * * *", utc("2026-03-28 23:30"), utc("2026-03-29 00:00"));
	EXPECT_NEXT("0 * * * *", utc("2026-03-29 00:00"), utc("2026-03-29 01:00"));
	EXPECT_NEXT("0 * * * *", utc("2026-03-29 01:00"), utc("2026-03-29 02:00"));
	/* 02:00, 02:30 and 03:00 collapse into one run at 03:00 */
	EXPECT_NEXT("*/30 * * * *", utc("2026-03-29 00:45"), utc("2026-03-29 01:00"));
	EXPECT_NEXT("*/30 * * * *", utc("2026-03-29 01:00"), utc("2026-03-29 01:30"));

	/* fall back: 02:30 exists twice; runs at the first (CEST, 00:30 UTC) only */
	EXPECT_NEXT("daily 02:30", lt("2026-10-24 12:00"), utc("2026-10-25 00:30"));
	EXPECT_NEXT("daily 02:30", utc("2026-10-25 00:30"), utc("2026-10-26 01:30"));
	EXPECT_NEXT("0 2 * * *", lt("2026-10-24 12:00"), utc("2026-10-25 00:00"));
	EXPECT_NEXT("0 2 * * *", utc("2026-10-25 00:00"), utc("2026-10-26 01:00"));
	/* asked during the second 02:xx: the first 02:30 is past, the next is tomorrow's */
	EXPECT_NEXT("daily 02:30", utc("2026-10-25 01:15"), utc("2026-10-26 01:30"));
	EXPECT_NEXT("*/15 * * * *", utc("2026-10-25 01:15"), utc("2026-10-25 02:00"));
	/* hourly across the fold: 02:00 CEST, then 03:00 CET (the repeated 02:00 runs once) */
	EXPECT_NEXT("0 * * * *", utc("2026-10-24 23:30"), utc("2026-10-25 00:00"));
	EXPECT_NEXT("0 * * * *", utc("2026-10-25 00:00"), utc("2026-10-25 02:00"));
	EXPECT_NEXT("0 * * * *", utc("2026-10-25 02:00"), utc("2026-10-25 03:00"));
	/* a daily run at 12:00 is 23 h and 25 h apart around the changes */
	t = next_of("daily 12:00", lt("2026-03-28 12:00"));
	assert_int_equal(t - lt("2026-03-28 12:00"), 23 * 3600);
	t = next_of("daily 12:00", lt("2026-10-24 12:00"));
	assert_int_equal(t - lt("2026-10-24 12:00"), 25 * 3600);
}

/* America/New_York 2026: 03-08 02:00 EST -> 03:00 EDT; 11-01 02:00 EDT -> 01:00 EST. */
static void
test_dst_new_york(void **state)
{
	char *old = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;

	(void)state;
	setenv("TZ", "America/New_York", 1);
	tzset();
	EXPECT_NEXT("daily 02:30", lt("2026-03-07 12:00"), utc("2026-03-08 07:00"));
	EXPECT_NEXT("daily 02:30", utc("2026-03-08 07:00"), utc("2026-03-09 06:30"));
	EXPECT_NEXT("0 2 * * *", lt("2026-03-07 12:00"), utc("2026-03-08 07:00"));
	EXPECT_NEXT("daily 01:30", lt("2026-10-31 12:00"), utc("2026-11-01 05:30"));  /* EDT */
	EXPECT_NEXT("daily 01:30", utc("2026-11-01 05:30"), utc("2026-11-02 06:30")); /* EST */
	EXPECT_NEXT("0 * * * *", utc("2026-11-01 05:00"), utc("2026-11-01 07:00")); /* 02:00 EST */
	EXPECT_NEXT("30 22 * * *", lt("2026-07-01 00:00"), utc("2026-07-02 02:30"));
	if (old != NULL) {
		setenv("TZ", old, 1);
		free(old);
	} else
		unsetenv("TZ");
	tzset();
}

/* Parse a config in memory: 0 or -1 with the problems in e. */
static int
load(const char *text, struct config **cfg, struct err *e)
{
	err_clear(e);
	if (config_parse_buffer("/etc/tis/t.ini", text, strlen(text), NULL, cfg, e) == -1)
		return -1;
	if ((*cfg)->ninvalid == 0)
		return 0;
	/* A job with a bad schedule loads as invalid: count it refused here. */
	for (size_t i = 0; i < (*cfg)->ninvalid; i++)
		err_append_line(e, "%s", (*cfg)->invalid[i].invalid);
	config_free(*cfg);
	*cfg = NULL;
	return -1;
}

#define GLOBAL_OK                                                                                  \
	"[global]\nbackup_base_dir = /backup/data\nbackup_retention_time = 30\n"                   \
	"maximum_backup_age = 30\n"

static void
test_config_keys(void **state)
{
	struct config *cfg = NULL;
	struct err e;

	(void)state;
	/* per job, with a [global] default */
	assert_int_equal(load(GLOBAL_OK "schedule = daily 22:30\ncleanup_schedule = 30 12 * * *\n"
	                                "[a]\ntype = null\nserver_name = a\n"
	                                "[b]\ntype = null\nserver_name = b\nschedule = never\n"
	                                "cleanup_schedule = weekly sun 04:00\n",
	                      &cfg, &e),
	                 0);
	assert_string_equal(job_get(config_find_job(cfg, "a"), "schedule"), "daily 22:30");
	assert_string_equal(job_get(config_find_job(cfg, "a"), "cleanup_schedule"), "30 12 * * *");
	assert_string_equal(job_get(config_find_job(cfg, "b"), "schedule"), "never");
	assert_string_equal(job_get(config_find_job(cfg, "b"), "cleanup_schedule"),
	                    "weekly sun 04:00");
	config_free(cfg);

	/* unset everywhere: no schedule */
	assert_int_equal(load(GLOBAL_OK "[a]\ntype = null\nserver_name = a\n", &cfg, &e), 0);
	assert_null(job_get(config_find_job(cfg, "a"), "schedule"));
	config_free(cfg);

	/* malformed: file:line, section, key, reason */
	assert_int_equal(
	    load(GLOBAL_OK "[a]\ntype = null\nserver_name = a\nschedule = 61 * * * *\n", &cfg, &e),
	    -1);
	assert_non_null(strstr(e.msg, "/etc/tis/t.ini:8: [a] schedule: minute field '61': 61 is "
	                              "out of range 0-59"));
	assert_int_equal(load(GLOBAL_OK "cleanup_schedule = dayly 12:30\n"
	                                "[a]\ntype = null\nserver_name = a\n",
	                      &cfg, &e),
	                 -1);
	assert_non_null(strstr(e.msg, "/etc/tis/t.ini:5: [global] cleanup_schedule: unknown "
	                              "schedule 'dayly'"));
	/* a misspelt key gets a suggestion */
	assert_int_equal(
	    load(GLOBAL_OK "[a]\ntype = null\nserver_name = a\nshedule = daily 01:00\n", &cfg, &e),
	    -1);
	assert_non_null(strstr(e.msg, "[a] shedule: unknown key for type null (did you mean "
	                              "'schedule'?)"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid), cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_next_basic),  cmocka_unit_test(test_next_never),
		cmocka_unit_test(test_dst_paris),   cmocka_unit_test(test_dst_new_york),
		cmocka_unit_test(test_config_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
