/*
 * Tests for retention_policy.c, over tables of cases: the age cutoff
 * (local midnight minus days, at and around the boundary, across a
 * daylight-saving change), keeping the newest good backup, a partial
 * transfer never being the one kept, nothing deleted without a good
 * backup since the cutoff, orphans, Running rows, unreadable starts, and
 * max_copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
#define K_UNREAD { 0, RETENTION_KEEP_UNREADABLE }
#define K_RECENT { 0, RETENTION_KEEP_RECENT }
#define K_NEWEST { 0, RETENTION_KEEP_NEWEST_GOOD }
#define K_NOGOOD { 0, RETENTION_KEEP_NO_GOOD }
#define D_EXPIRED { 1, RETENTION_DELETE_EXPIRED }
#define D_EXTRA { 1, RETENTION_DELETE_EXTRA }

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

static void
test_reason_texts(void **state)
{
	(void)state;
	for (int r = RETENTION_KEEP_UNREADABLE; r <= RETENTION_DELETE_EXTRA; r++)
		assert_string_not_equal(retention_reason_text((enum retention_reason)r), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_cutoff),
		cmocka_unit_test(test_cases_across_dst),
		cmocka_unit_test(test_reason_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
