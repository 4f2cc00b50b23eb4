/*
 * Tests for retention_policy.c, over tables of cases: the age cutoff
 * (local midnight minus days, at and around the boundary, across a
 * daylight-saving change), keeping the newest good backup, a partial
 * transfer never being the one kept, nothing deleted without a good
 * backup since the cutoff, orphans, Running rows, unreadable starts, and
 * max_copies. Then the grandfather-father-son policy over series of
 * dates: month ends, a leap day, ISO weeks across a new year, the DST
 * days, gaps, partial and failed backups, keep_min_days, backups in use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "retention_policy.h"

#define MAXROWS 8

/* A local time. */
static time_t
local(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900,
		         .tm_mon = mo - 1,
		         .tm_mday = d,
		         .tm_hour = h,
		         .tm_min = mi,
		         .tm_isdst = -1 };

	return mktime(&tm);
}

/* Keep/delete shorthands for the tables. */
/* clang-format off */
#define K_UNREAD { .del = 0, .reason = RETENTION_KEEP_UNREADABLE }
#define K_RECENT { .del = 0, .reason = RETENTION_KEEP_RECENT }
#define K_NEWEST { .del = 0, .reason = RETENTION_KEEP_NEWEST_GOOD }
#define K_NOGOOD { .del = 0, .reason = RETENTION_KEEP_NO_GOOD }
#define D_EXPIRED { .del = 1, .reason = RETENTION_DELETE_EXPIRED }
#define D_EXTRA { .del = 1, .reason = RETENTION_DELETE_EXTRA }

/* clang-format on */

/* A row started h hours after the cutoff (negative: before it). */
struct in_row {
	long hours;
	enum retention_state state;
	int unreadable;
};

struct pcase {
	const char *name;
	int max_copies;
	size_t n;
	struct in_row rows[MAXROWS];
	struct retention_decision want[MAXROWS];
	ssize_t keeper;
	size_t expired, orphans, extra;
	int partial_only;
};

#define G RETENTION_GOOD
#define P RETENTION_PARTIAL
#define F RETENTION_FAILED
#define R RETENTION_RUNNING
#define O RETENTION_ORPHAN

/* clang-format off */
static const struct pcase cases[] = {
	{ "no rows", 0, 0, { { 0 } }, { { 0 } }, -1, 0, 0, 0, 0 },
	{ "one recent good, one expired good: the expired goes",
	  0, 2,
	  { { 24, G, 0 }, { -24, G, 0 } },
	  { K_NEWEST, D_EXPIRED },
	  0, 1, 0, 0, 0 },
	{ "only expired backups: nothing goes",
	  0, 2,
	  { { -1, G, 0 }, { -48, G, 0 } },
	  { K_NOGOOD, K_NOGOOD },
	  -1, 2, 0, 0, 0 },
	{ "only a partial transfer since the cutoff: nothing goes",
	  0, 3,
	  { { 30, P, 0 }, { -24, G, 0 }, { -48, G, 0 } },
	  { K_RECENT, K_NOGOOD, K_NOGOOD },
	  -1, 2, 0, 0, 1 },
	{ "a failed row since the cutoff is no good backup either",
	  0, 2,
	  { { 30, F, 0 }, { -24, G, 0 } },
	  { K_RECENT, K_NOGOOD },
	  -1, 1, 0, 0, 0 },
	{ "a newer partial does not replace the good one kept",
	  0, 4,
	  { { 40, P, 0 }, { 20, G, 0 }, { 10, G, 0 }, { -5, P, 0 } },
	  { K_RECENT, K_NEWEST, K_RECENT, D_EXPIRED },
	  1, 1, 0, 0, 0 },
	{ "the cutoff itself is recent, one second before is expired",
	  0, 3,
	  { { 0, G, 0 }, { -1, F, 0 }, { -1000, G, 0 } },
	  { K_NEWEST, D_EXPIRED, D_EXPIRED },
	  0, 2, 0, 0, 0 },
	{ "an unreadable start is kept and not counted",
	  0, 3,
	  { { 5, G, 0 }, { -30, G, 1 }, { -40, F, 0 } },
	  { K_NEWEST, K_UNREAD, D_EXPIRED },
	  0, 1, 0, 0, 0 },
	{ "expired orphans go with a keeper",
	  0, 3,
	  { { 5, G, 0 }, { -30, O, 0 }, { 3, O, 0 } },
	  { K_NEWEST, D_EXPIRED, K_RECENT },
	  0, 0, 1, 0, 0 },
	{ "expired orphans stay without a keeper",
	  0, 2,
	  { { 5, P, 0 }, { -30, O, 0 } },
	  { K_RECENT, K_NOGOOD },
	  -1, 0, 1, 0, 1 },
	{ "an expired Running row is the executor's to judge: marked expired",
	  0, 2,
	  { { 5, G, 0 }, { -30, R, 0 } },
	  { K_NEWEST, D_EXPIRED },
	  0, 1, 0, 0, 0 },
	{ "two good backups of the same second: the first listed is kept",
	  0, 2,
	  { { 5, G, 0 }, { 5, G, 0 } },
	  { K_NEWEST, K_RECENT },
	  0, 0, 0, 0, 0 },
	{ "the newest good wins whatever the table order",
	  0, 3,
	  { { 5, G, 0 }, { 50, G, 0 }, { 20, G, 0 } },
	  { K_RECENT, K_NEWEST, K_RECENT },
	  1, 0, 0, 0, 0 },
	{ "max_copies 2: the two newest stay, older recent ones go",
	  2, 5,
	  { { 10, G, 0 }, { 40, G, 0 }, { 30, G, 0 }, { 20, G, 0 }, { -10, G, 0 } },
	  { D_EXTRA, K_NEWEST, K_RECENT, D_EXTRA, D_EXPIRED },
	  1, 1, 0, 2, 0 },
	{ "max_copies 1: a newer partial goes, the good one is the copy kept",
	  1, 3,
	  { { 40, P, 0 }, { 20, G, 0 }, { 10, F, 0 } },
	  { D_EXTRA, K_NEWEST, D_EXTRA },
	  1, 0, 0, 2, 0 },
	{ "max_copies counts neither Running rows nor orphans",
	  1, 4,
	  { { 40, R, 0 }, { 30, O, 0 }, { 20, G, 0 }, { 10, G, 0 } },
	  { K_RECENT, K_RECENT, K_NEWEST, D_EXTRA },
	  2, 0, 0, 1, 0 },
	{ "max_copies without a keeper deletes nothing",
	  1, 3,
	  { { 40, P, 0 }, { 20, P, 0 }, { -10, G, 0 } },
	  { K_RECENT, K_RECENT, K_NOGOOD },
	  -1, 1, 0, 0, 1 },
	{ "max_copies above the count changes nothing",
	  9, 2,
	  { { 40, G, 0 }, { 20, G, 0 } },
	  { K_NEWEST, K_RECENT },
	  0, 0, 0, 0, 0 },
};
/* clang-format on */

static void
run_case(const struct pcase *c, time_t now, time_t cutoff, int days)
{
	struct retention_policy pol = { .kind = RETENTION_AGE,
		                        .days = days,
		                        .max_copies = c->max_copies };
	struct retention_row rows[MAXROWS];
	struct retention_decision out[MAXROWS];
	struct retention_summary sum;

	memset(rows, 0, sizeof rows);
	memset(out, 0x5a, sizeof out);
	for (size_t i = 0; i < c->n; i++) {
		/* Hours, but "-1" and "0" at the boundary mean seconds from it. */
		long off = c->rows[i].hours;

		rows[i].start = cutoff + (off == -1 ? -1 : off * 3600);
		rows[i].start_ok = !c->rows[i].unreadable;
		rows[i].state = c->rows[i].state;
	}
	retention_select(rows, c->n, &pol, now, out, &sum);
	print_message("# %s\n", c->name);
	assert_int_equal(sum.cutoff, cutoff);
	for (size_t i = 0; i < c->n; i++) {
		if (out[i].del != c->want[i].del || out[i].reason != c->want[i].reason)
			fail_msg("%s: row %zu: got %s (%s), want %s (%s)", c->name, i,
			         out[i].del ? "delete" : "keep",
			         retention_reason_text(out[i].reason),
			         c->want[i].del ? "delete" : "keep",
			         retention_reason_text(c->want[i].reason));
	}
	assert_int_equal(sum.keeper, c->keeper);
	assert_int_equal(sum.expired, c->expired);
	assert_int_equal(sum.orphans_expired, c->orphans);
	assert_int_equal(sum.extra, c->extra);
	assert_int_equal(sum.partial_only, c->partial_only);
	/* A partial transfer is never the one kept. */
	if (sum.keeper >= 0)
		assert_int_equal(rows[sum.keeper].state, RETENTION_GOOD);
}

static void
test_cases(void **state)
{
	/* Thursday 2026-11-26 15:00 local; 5 days: cutoff 2026-11-21 00:00. */
	time_t now = local(2026, 11, 26, 15, 0), cutoff = local(2026, 11, 21, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i], now, cutoff, 5);
}

static void
test_cutoff(void **state)
{
	struct retention_policy pol = { .kind = RETENTION_AGE };
	static const struct {
		int now[5], days, want[5];
	} tab[] = {
		{ { 2026, 11, 26, 15, 0 }, 0, { 2026, 11, 26, 0, 0 } },
		{ { 2026, 11, 26, 0, 0 }, 1, { 2026, 11, 25, 0, 0 } },
		{ { 2026, 11, 26, 23, 59 }, 30, { 2026, 10, 27, 0, 0 } },
		{ { 2026, 3, 2, 8, 0 }, 2, { 2026, 2, 28, 0, 0 } },
		/* Across the end of summer time (Europe/Paris, 2026-10-25). */
		{ { 2026, 10, 27, 12, 0 }, 3, { 2026, 10, 24, 0, 0 } },
		/* Across its start (2026-03-29). */
		{ { 2026, 3, 30, 1, 30 }, 2, { 2026, 3, 28, 0, 0 } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		time_t now = local(tab[i].now[0], tab[i].now[1], tab[i].now[2], tab[i].now[3],
		                   tab[i].now[4]);
		time_t want = local(tab[i].want[0], tab[i].want[1], tab[i].want[2], 0, 0);
		struct tm tm;

		pol.days = tab[i].days;
		assert_int_equal(retention_cutoff(&pol, now), want);
		localtime_r(&want, &tm);
		assert_int_equal(tm.tm_hour, 0);
	}
}

/* A keeper found across the DST change: the policy uses the same cutoff. */
static void
test_cases_across_dst(void **state)
{
	time_t now = local(2026, 10, 27, 12, 0), cutoff = local(2026, 10, 24, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i], now, cutoff, 3);
}

/* --- grandfather-father-son ---------------------------------------- */

/* Bucket keys over a table of local times (ISO years, leap days, DST). */
static void
test_bucket_keys(void **state)
{
	static const struct {
		int t[5];
		long day, week, month;
	} tab[] = {
		{ { 2026, 12, 31, 12, 0 }, 20261231, 202653, 202612 },
		{ { 2027, 1, 1, 0, 0 }, 20270101, 202653, 202701 },
		{ { 2027, 1, 3, 23, 59 }, 20270103, 202653, 202701 },
		{ { 2027, 1, 4, 0, 0 }, 20270104, 202701, 202701 },
		{ { 2024, 12, 30, 8, 0 }, 20241230, 202501, 202412 },
		{ { 2021, 1, 3, 8, 0 }, 20210103, 202053, 202101 },
		{ { 2020, 12, 31, 8, 0 }, 20201231, 202053, 202012 },
		{ { 2028, 2, 29, 23, 59 }, 20280229, 202809, 202802 },
		{ { 2027, 12, 31, 8, 0 }, 20271231, 202752, 202712 },
		{ { 2028, 1, 1, 8, 0 }, 20280101, 202752, 202801 },
		/* The 25-hour day (end of summer time) and the 23-hour one. */
		{ { 2026, 10, 25, 2, 30 }, 20261025, 202643, 202610 },
		{ { 2026, 10, 25, 23, 30 }, 20261025, 202643, 202610 },
		{ { 2026, 10, 26, 0, 0 }, 20261026, 202644, 202610 },
		{ { 2026, 3, 29, 3, 30 }, 20260329, 202613, 202603 },
		{ { 2026, 3, 29, 23, 59 }, 20260329, 202613, 202603 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		time_t t = local(tab[i].t[0], tab[i].t[1], tab[i].t[2], tab[i].t[3], tab[i].t[4]);

		assert_int_equal(retention_day_key(t), tab[i].day);
		assert_int_equal(retention_week_key(t), tab[i].week);
		assert_int_equal(retention_month_key(t), tab[i].month);
	}
}

#define GMAX 512

/* A row of a series whose state differs from good. */
struct gstate {
	const char *when; /* "YYYY-MM-DD HH:MM" */
	enum retention_state state;
	int in_use;
};

/*
 * A series: one backup a day at each of the times hm[] from from[] to to[]
 * (local, inclusive), skipping the days in gaps[] ("YYYY-MM-DD"); keep[]
 * lists exactly the rows kept, "YYYY-MM-DD HH:MM rule" (the deciding
 * rule's retention_rule_name()), the others must be deleted.
 */
struct gcase {
	const char *name;
	struct retention_policy pol;
	int now[5];
	int from[3], to[3];
	int hm[4][2];
	size_t nhm;
	const char *gaps[8];
	struct gstate states[6];
	const char *keep[16];
	int keeper_none; /* no good backup: nothing deleted */
};

#define GFS(d, w, m, y, mind, age)                                                                 \
	{                                                                                          \
		.kind = RETENTION_GFS, .days = (age), .keep_daily = (d), .keep_weekly = (w),       \
		.keep_monthly = (m), .keep_yearly = (y), .keep_min_days = (mind)                   \
	}

/* clang-format off */
static const struct gcase gcases[] = {
	{ "monthly across month ends: the last day of each month",
	  GFS(0, 0, 3, 0, 0, 0), { 2026, 4, 5, 23, 45 },
	  { 2026, 1, 25 }, { 2026, 4, 5 }, { { 23, 30 } }, 1, { NULL }, { { NULL, 0, 0 } },
	  { "2026-04-05 23:30 newest", "2026-03-31 23:30 monthly", "2026-02-28 23:30 monthly" },
	  0 },
	{ "a leap day is February's backup",
	  GFS(0, 0, 2, 0, 0, 0), { 2028, 3, 2, 12, 0 },
	  { 2028, 2, 27 }, { 2028, 3, 2 }, { { 0, 30 } }, 1, { NULL }, { { NULL, 0, 0 } },
	  { "2028-03-02 00:30 newest", "2028-02-29 00:30 monthly" },
	  0 },
	{ "daily counts days that have a backup (gaps cost nothing)",
	  GFS(3, 0, 0, 0, 0, 0), { 2026, 11, 9, 12, 0 },
	  { 2026, 11, 1 }, { 2026, 11, 9 }, { { 1, 0 } }, 1,
	  { "2026-11-03", "2026-11-04", "2026-11-06", "2026-11-07", "2026-11-08" },
	  { { NULL, 0, 0 } },
	  { "2026-11-09 01:00 newest", "2026-11-05 01:00 daily", "2026-11-02 01:00 daily" },
	  0 },
	{ "ISO weeks across the new year, years by the calendar",
	  GFS(0, 3, 0, 2, 0, 0), { 2027, 1, 6, 12, 0 },
	  { 2026, 12, 24 }, { 2027, 1, 6 }, { { 1, 0 } }, 1, { NULL }, { { NULL, 0, 0 } },
	  { "2027-01-06 01:00 newest", "2027-01-03 01:00 weekly", "2026-12-27 01:00 weekly",
	    "2026-12-31 01:00 yearly" },
	  0 },
	{ "DST weeks: the 25-hour day is one day, Sunday ends the ISO week",
	  GFS(3, 2, 0, 0, 0, 0), { 2026, 10, 27, 1, 0 },
	  { 2026, 10, 22 }, { 2026, 10, 27 }, { { 0, 0 }, { 2, 30 }, { 12, 0 }, { 23, 30 } }, 4,
	  { NULL }, { { "2026-10-27 02:30", RETENTION_RUNNING, 0 },
	              { "2026-10-27 12:00", RETENTION_RUNNING, 0 },
	              { "2026-10-27 23:30", RETENTION_RUNNING, 0 } },
	  { "2026-10-27 00:00 newest", "2026-10-26 23:30 daily", "2026-10-25 23:30 daily",
	    "2026-10-27 02:30 age", "2026-10-27 12:00 age", "2026-10-27 23:30 age" },
	  0 },
	{ "the spring-forward day is one day too",
	  GFS(2, 0, 0, 0, 0, 0), { 2026, 3, 30, 5, 0 },
	  { 2026, 3, 27 }, { 2026, 3, 30 }, { { 3, 30 } }, 1, { NULL }, { { NULL, 0, 0 } },
	  { "2026-03-30 03:30 newest", "2026-03-29 03:30 daily" },
	  0 },
	{ "a partial transfer stands for its day only when no good one exists",
	  GFS(3, 0, 0, 0, 0, 0), { 2026, 11, 5, 12, 0 },
	  { 2026, 11, 1 }, { 2026, 11, 4 }, { { 1, 0 }, { 23, 0 } }, 2, { NULL },
	  { { "2026-11-04 23:00", RETENTION_PARTIAL, 0 },
	    { "2026-11-03 23:00", RETENTION_PARTIAL, 0 },
	    { "2026-11-03 01:00", RETENTION_PARTIAL, 0 },
	    { "2026-11-02 23:00", RETENTION_FAILED, 0 },
	    { "2026-11-02 01:00", RETENTION_FAILED, 0 } },
	  { "2026-11-04 01:00 newest", "2026-11-03 23:00 daily", "2026-11-01 23:00 daily" },
	  0 },
	{ "keep_min_days: the same local time N days back is the boundary",
	  GFS(0, 0, 0, 0, 2, 0), { 2026, 11, 26, 15, 0 },
	  { 2026, 11, 23 }, { 2026, 11, 25 }, { { 14, 59 }, { 15, 0 } }, 2, { NULL },
	  { { NULL, 0, 0 } },
	  { "2026-11-25 15:00 newest", "2026-11-25 14:59 min_days", "2026-11-24 15:00 min_days" },
	  0 },
	{ "backup_retention_time and buckets combine: any rule keeps",
	  GFS(0, 2, 0, 0, 0, 2), { 2026, 11, 26, 15, 0 },
	  { 2026, 11, 18 }, { 2026, 11, 25 }, { { 1, 0 } }, 1, { NULL }, { { NULL, 0, 0 } },
	  { "2026-11-25 01:00 newest", "2026-11-24 01:00 age", "2026-11-22 01:00 weekly" },
	  0 },
	{ "a backup being exported is never removed",
	  GFS(1, 0, 0, 0, 0, 0), { 2026, 11, 26, 15, 0 },
	  { 2026, 11, 20 }, { 2026, 11, 25 }, { { 1, 0 } }, 1, { NULL },
	  { { "2026-11-22 01:00", RETENTION_GOOD, 1 } },
	  { "2026-11-25 01:00 newest", "2026-11-22 01:00 in_use" },
	  0 },
	{ "the newest good backup stays however old, a newer failure does not count",
	  GFS(1, 0, 0, 0, 0, 0), { 2026, 11, 26, 15, 0 },
	  { 2026, 11, 20 }, { 2026, 11, 23 }, { { 1, 0 } }, 1, { NULL },
	  { { "2026-11-23 01:00", RETENTION_FAILED, 0 } },
	  { "2026-11-22 01:00 newest" },
	  0 },
	{ "no good backup at all: nothing goes",
	  GFS(1, 0, 0, 0, 0, 0), { 2026, 11, 26, 15, 0 },
	  { 2026, 11, 23 }, { 2026, 11, 24 }, { { 1, 0 } }, 1, { NULL },
	  { { "2026-11-24 01:00", RETENTION_PARTIAL, 0 },
	    { "2026-11-23 01:00", RETENTION_FAILED, 0 } },
	  { "2026-11-24 01:00 daily", "2026-11-23 01:00 no_good" },
	  1 },
};
/* clang-format on */

static void
fmt_local(time_t t, char *out, size_t sz)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, sz, "%Y-%m-%d %H:%M", &tm);
}

static void
run_gcase(const struct gcase *c)
{
	static struct retention_row rows[GMAX];
	static struct retention_decision out[GMAX];
	struct retention_summary sum;
	time_t now = local(c->now[0], c->now[1], c->now[2], c->now[3], c->now[4]);
	time_t last = local(c->to[0], c->to[1], c->to[2], 12, 0);
	size_t n = 0, nkeep = 0, matched = 0;

	print_message("# %s\n", c->name);
	memset(rows, 0, sizeof rows);
	for (int d = 0;; d++) {
		time_t noon = local(c->from[0], c->from[1], c->from[2] + d, 12, 0);
		char day[11];
		int skip = 0;
		struct tm tm;

		if (noon > last)
			break;
		localtime_r(&noon, &tm);
		strftime(day, sizeof day, "%Y-%m-%d", &tm);
		for (size_t g = 0; g < 8 && c->gaps[g] != NULL; g++)
			skip |= strcmp(c->gaps[g], day) == 0;
		for (size_t h = 0; h < c->nhm && !skip; h++) {
			char when[32];

			assert_true(n < GMAX);
			rows[n].start = local(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			                      c->hm[h][0], c->hm[h][1]);
			rows[n].start_ok = 1;
			rows[n].state = RETENTION_GOOD;
			fmt_local(rows[n].start, when, sizeof when);
			for (size_t k = 0; k < 6 && c->states[k].when != NULL; k++) {
				if (strcmp(c->states[k].when, when) == 0) {
					rows[n].state = c->states[k].state;
					rows[n].in_use = c->states[k].in_use;
				}
			}
			n++;
		}
	}
	retention_select(rows, n, &c->pol, now, out, &sum);
	for (size_t k = 0; k < 16 && c->keep[k] != NULL; k++)
		nkeep++;
	for (size_t i = 0; i < n; i++) {
		char got[64], when[32];
		int want = 0;

		fmt_local(rows[i].start, when, sizeof when);
		snprintf(got, sizeof got, "%s %s", when, retention_rule_name(out[i].reason));
		for (size_t k = 0; k < nkeep; k++)
			if (strncmp(c->keep[k], when, strlen(when)) == 0)
				want = 1;
		if (want != !out[i].del)
			fail_msg("%s: %s: got %s (%s)", c->name, when,
			         out[i].del ? "delete" : "keep",
			         retention_reason_text(out[i].reason));
		if (!out[i].del) {
			int found = 0;

			for (size_t k = 0; k < nkeep; k++)
				found |= strcmp(c->keep[k], got) == 0;
			if (!found)
				fail_msg("%s: %s kept by an unexpected rule", c->name, got);
			matched++;
			/* Every keeping rule is in the mask, the deciding one included. */
			assert_true(out[i].rules & RETENTION_RULE(out[i].reason));
		} else {
			assert_int_equal(out[i].reason, RETENTION_DELETE_UNKEPT);
			assert_int_equal(out[i].rules, 0);
		}
	}
	assert_int_equal(matched, nkeep);
	if (c->keeper_none) {
		assert_int_equal(sum.keeper, -1);
		assert_int_equal(sum.expired, 0);
	} else {
		assert_true(sum.keeper >= 0);
		assert_int_equal(rows[sum.keeper].state, RETENTION_GOOD);
		assert_int_equal(sum.expired, n - nkeep);
	}
}

static void
test_gfs_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof gcases / sizeof gcases[0]; i++)
		run_gcase(&gcases[i]);
}

/* A backup kept by several rules reports each of them. */
static void
test_gfs_rules_mask(void **state)
{
	struct retention_policy pol = GFS(7, 4, 12, 1, 0, 0);
	struct retention_row rows[2] = {
		{ .start = local(2026, 11, 29, 1, 0), .start_ok = 1, .state = RETENTION_GOOD },
		{ .start = local(2026, 11, 30, 1, 0), .start_ok = 1, .state = RETENTION_FAILED },
	};
	struct retention_decision out[2];

	(void)state;
	retention_select(rows, 2, &pol, local(2026, 11, 30, 12, 0), out, NULL);
	assert_int_equal(out[0].reason, RETENTION_KEEP_NEWEST_GOOD);
	assert_int_equal(out[0].rules, RETENTION_RULE(RETENTION_KEEP_NEWEST_GOOD) |
	                                   RETENTION_RULE(RETENTION_KEEP_DAILY) |
	                                   RETENTION_RULE(RETENTION_KEEP_WEEKLY) |
	                                   RETENTION_RULE(RETENTION_KEEP_MONTHLY) |
	                                   RETENTION_RULE(RETENTION_KEEP_YEARLY));
	/* The failed row is within backup_retention_time 0 (today): age keeps it. */
	assert_int_equal(out[1].del, 0);
	assert_int_equal(out[1].reason, RETENTION_KEEP_RECENT);
}

/* In use under the original's rule too: an expired backup being exported stays. */
static void
test_age_in_use(void **state)
{
	struct retention_policy pol = { .kind = RETENTION_AGE, .days = 1 };
	struct retention_row rows[2] = {
		{ .start = local(2026, 11, 30, 1, 0), .start_ok = 1, .state = RETENTION_GOOD },
		{ .start = local(2026, 11, 20, 1, 0),
		  .start_ok = 1,
		  .state = RETENTION_GOOD,
		  .in_use = 1 },
	};
	struct retention_decision out[2];

	(void)state;
	retention_select(rows, 2, &pol, local(2026, 11, 30, 12, 0), out, NULL);
	assert_int_equal(out[0].reason, RETENTION_KEEP_NEWEST_GOOD);
	assert_int_equal(out[1].del, 0);
	assert_int_equal(out[1].reason, RETENTION_KEEP_IN_USE);
}

static void
test_reason_texts(void **state)
{
	(void)state;
	for (int r = RETENTION_KEEP_UNREADABLE; r <= RETENTION_REASON_LAST; r++) {
		assert_string_not_equal(retention_reason_text((enum retention_reason)r), "?");
		assert_string_not_equal(retention_rule_name((enum retention_reason)r), "?");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_cutoff),
		cmocka_unit_test(test_cases_across_dst),
		cmocka_unit_test(test_reason_texts),
		cmocka_unit_test(test_bucket_keys),
		cmocka_unit_test(test_gfs_cases),
		cmocka_unit_test(test_gfs_rules_mask),
		cmocka_unit_test(test_age_in_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
