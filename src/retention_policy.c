/*
 * Retention policies (see retention_policy.h): pure functions over a
 * table of backups. One select function per policy kind: select_age (the
 * original's cleanup) and select_gfs (the age window plus
 * grandfather-father-son buckets in local time, docs/retention.md).
 */
#include "retention_policy.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

typedef void (*select_fn)(const struct retention_row *rows, size_t n,
                          const struct retention_policy *policy, time_t now,
                          struct retention_decision *out, struct retention_summary *sum);

time_t
retention_cutoff(const struct retention_policy *policy, time_t now)
{
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday -= policy->days;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void
decide(struct retention_decision *d, int del, enum retention_reason reason)
{
	d->del = del;
	d->reason = reason;
}

/* A row index with its start, to sort newest first (ties: table order). */
struct ranked {
	time_t start;
	size_t i;
};

static int
cmp_newest(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->start != y->start)
		return x->start > y->start ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * max_copies: of the recent finished rows, keep the newest max_copies
 * (the keeper counts first), delete the others.
 */
static void
limit_copies(const struct retention_row *rows, size_t n, int max_copies, ssize_t keeper,
             struct retention_decision *out, struct retention_summary *sum)
{
	struct ranked *order = xcalloc(n + 1, sizeof *order);
	size_t m = 0;
	int kept = keeper >= 0 ? 1 : 0;

	for (size_t i = 0; i < n; i++) {
		if (out[i].reason == RETENTION_KEEP_RECENT && rows[i].state != RETENTION_RUNNING &&
		    rows[i].state != RETENTION_ORPHAN) {
			order[m].start = rows[i].start;
			order[m++].i = i;
		}
	}
	qsort(order, m, sizeof *order, cmp_newest);
	for (size_t k = 0; k < m; k++) {
		if (kept < max_copies) {
			kept++;
			continue;
		}
		decide(&out[order[k].i], 1, RETENTION_DELETE_EXTRA);
		sum->extra++;
	}
	free(order);
}

static void
select_age(const struct retention_row *rows, size_t n, const struct retention_policy *policy,
           time_t now, struct retention_decision *out, struct retention_summary *sum)
{
	time_t cutoff = retention_cutoff(policy, now), good_t = 0;
	ssize_t keeper = -1;
	int partial = 0;

	sum->cutoff = cutoff;
	for (size_t i = 0; i < n; i++) {
		const struct retention_row *r = &rows[i];

		if (!r->start_ok) {
			decide(&out[i], 0, RETENTION_KEEP_UNREADABLE);
			continue;
		}
		if (r->start < cutoff) {
			decide(&out[i], 1, RETENTION_DELETE_EXPIRED);
			if (r->state == RETENTION_ORPHAN)
				sum->orphans_expired++;
			else
				sum->expired++;
			continue;
		}
		decide(&out[i], 0, RETENTION_KEEP_RECENT);
		if (r->state == RETENTION_GOOD && (keeper == -1 || r->start > good_t)) {
			keeper = (ssize_t)i;
			good_t = r->start;
		} else if (r->state == RETENTION_PARTIAL) {
			partial = 1;
		}
	}
	sum->keeper = keeper;
	for (size_t i = 0; i < n; i++)
		if (rows[i].in_use && out[i].del)
			decide(&out[i], 0, RETENTION_KEEP_IN_USE);
	if (keeper == -1) {
		/* Nothing goes while no good backup since the cutoff would remain. */
		sum->partial_only = partial;
		for (size_t i = 0; i < n; i++)
			if (out[i].del)
				decide(&out[i], 0, RETENTION_KEEP_NO_GOOD);
		return;
	}
	decide(&out[keeper], 0, RETENTION_KEEP_NEWEST_GOOD);
	if (policy->max_copies > 0)
		limit_copies(rows, n, policy->max_copies, keeper, out, sum);
}

long
retention_day_key(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (tm.tm_year + 1900L) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

long
retention_month_key(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (tm.tm_year + 1900L) * 100 + tm.tm_mon + 1;
}

static int
days_in_year(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 366 : 365;
}

long
retention_week_key(time_t t)
{
	struct tm tm;
	long year;
	int thursday;

	localtime_r(&t, &tm);
	year = tm.tm_year + 1900L;
	/* The week is the one of its Thursday (ISO 8601), Monday first. */
	thursday = tm.tm_yday - (tm.tm_wday + 6) % 7 + 3;
	if (thursday < 0) {
		year--;
		thursday += days_in_year(year);
	} else if (thursday >= days_in_year(year)) {
		thursday -= days_in_year(year);
		year++;
	}
	return year * 100 + thursday / 7 + 1;
}

static long
year_key(time_t t)
{
	return retention_month_key(t) / 100;
}

/* now minus days, the same local wall-clock time (mktime settles DST). */
static time_t
min_days_cutoff(int days, time_t now)
{
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_mday -= days;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* Keep row i for rule reason (the first keeping rule is the deciding one). */
static void
keep_for(struct retention_decision *d, enum retention_reason reason)
{
	if (d->del) {
		d->del = 0;
		d->reason = reason;
	}
	d->rules |= RETENTION_RULE(reason);
}

/*
 * One bucket rule: over order (the m candidate rows, newest first), each
 * run of equal key(start) is a bucket; the first count buckets keep their
 * newest good row, or their newest partial one when none is good.
 */
static void
keep_buckets(const struct retention_row *rows, const struct ranked *order, size_t m, int count,
             long (*key)(time_t), enum retention_reason reason, struct retention_decision *out)
{
	size_t k = 0;

	for (int b = 0; b < count && k < m; b++) {
		long kb = key(rows[order[k].i].start);
		ssize_t pick = -1;

		for (; k < m && key(rows[order[k].i].start) == kb; k++) {
			size_t i = order[k].i;

			if (pick == -1 ||
			    (rows[i].state == RETENTION_GOOD && rows[pick].state != RETENTION_GOOD))
				pick = (ssize_t)i;
		}
		keep_for(&out[pick], reason);
	}
}

static void
select_gfs(const struct retention_row *rows, size_t n, const struct retention_policy *policy,
           time_t now, struct retention_decision *out, struct retention_summary *sum)
{
	static const struct {
		enum retention_reason reason;
		long (*key)(time_t);
	} rules[] = {
		{ RETENTION_KEEP_DAILY, retention_day_key },
		{ RETENTION_KEEP_WEEKLY, retention_week_key },
		{ RETENTION_KEEP_MONTHLY, retention_month_key },
		{ RETENTION_KEEP_YEARLY, year_key },
	};
	const int counts[] = { policy->keep_daily, policy->keep_weekly, policy->keep_monthly,
		               policy->keep_yearly };
	time_t cutoff = retention_cutoff(policy, now);
	time_t min_cut =
	    policy->keep_min_days > 0 ? min_days_cutoff(policy->keep_min_days, now) : now + 1;
	struct ranked *order = xcalloc(n + 1, sizeof *order);
	ssize_t keeper = -1;
	size_t m = 0;
	int partial = 0;

	sum->cutoff = cutoff;
	for (size_t i = 0; i < n; i++) {
		const struct retention_row *r = &rows[i];

		decide(&out[i], 1, RETENTION_DELETE_UNKEPT);
		out[i].rules = 0;
		if (r->in_use)
			keep_for(&out[i], RETENTION_KEEP_IN_USE);
		if (!r->start_ok) {
			keep_for(&out[i], RETENTION_KEEP_UNREADABLE);
			continue;
		}
		if (r->state == RETENTION_GOOD && (keeper == -1 || r->start > rows[keeper].start))
			keeper = (ssize_t)i;
		if (r->state == RETENTION_PARTIAL)
			partial = 1;
		if (r->state == RETENTION_GOOD || r->state == RETENTION_PARTIAL) {
			order[m].start = r->start;
			order[m++].i = i;
		}
	}
	if (keeper >= 0)
		keep_for(&out[keeper], RETENTION_KEEP_NEWEST_GOOD);
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].start_ok)
			continue;
		if (rows[i].start >= cutoff)
			keep_for(&out[i], RETENTION_KEEP_RECENT);
		if (rows[i].start >= min_cut)
			keep_for(&out[i], RETENTION_KEEP_MIN_DAYS);
	}
	qsort(order, m, sizeof *order, cmp_newest);
	for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++)
		if (counts[k] > 0)
			keep_buckets(rows, order, m, counts[k], rules[k].key, rules[k].reason, out);
	free(order);

	sum->keeper = keeper;
	for (size_t i = 0; i < n; i++) {
		if (!out[i].del)
			continue;
		if (keeper == -1) {
			/* No good backup anywhere: nothing goes. */
			decide(&out[i], 0, RETENTION_KEEP_NO_GOOD);
			continue;
		}
		if (rows[i].state == RETENTION_ORPHAN)
			sum->orphans_expired++;
		else
			sum->expired++;
	}
	if (keeper == -1)
		sum->partial_only = partial;
}

/* One select function per enum retention_kind. */
static const select_fn policies[] = {
	[RETENTION_AGE] = select_age,
	[RETENTION_GFS] = select_gfs,
};

void
retention_select(const struct retention_row *rows, size_t n, const struct retention_policy *policy,
                 time_t now, struct retention_decision *out, struct retention_summary *sum)
{
	struct retention_summary local;

	assert((size_t)policy->kind < sizeof policies / sizeof policies[0]);
	if (sum == NULL)
		sum = &local;
	memset(sum, 0, sizeof *sum);
	sum->keeper = -1;
	for (size_t i = 0; i < n; i++)
		out[i].rules = 0;
	policies[policy->kind](rows, n, policy, now, out, sum);
	for (size_t i = 0; i < n; i++)
		if (!out[i].del && out[i].rules == 0)
			out[i].rules = RETENTION_RULE(out[i].reason);
}

const char *
retention_reason_text(enum retention_reason reason)
{
	switch (reason) {
	case RETENTION_KEEP_UNREADABLE:
		return "start unreadable";
	case RETENTION_KEEP_RECENT:
		return "recent";
	case RETENTION_KEEP_NEWEST_GOOD:
		return "newest good backup";
	case RETENTION_KEEP_NO_GOOD:
		return "expired, but no good backup since the cutoff";
	case RETENTION_DELETE_EXPIRED:
		return "expired";
	case RETENTION_DELETE_EXTRA:
		return "beyond max_copies";
	case RETENTION_KEEP_IN_USE:
		return "in use by an export";
	case RETENTION_KEEP_MIN_DAYS:
		return "within keep_min_days";
	case RETENTION_KEEP_DAILY:
		return "kept for its day (keep_daily)";
	case RETENTION_KEEP_WEEKLY:
		return "kept for its ISO week (keep_weekly)";
	case RETENTION_KEEP_MONTHLY:
		return "kept for its month (keep_monthly)";
	case RETENTION_KEEP_YEARLY:
		return "kept for its year (keep_yearly)";
	case RETENTION_DELETE_UNKEPT:
		return "no rule keeps it";
	}
	return "?";
}

const char *
retention_rule_name(enum retention_reason reason)
{
	static const char *const names[] = {
		[RETENTION_KEEP_UNREADABLE] = "unreadable", [RETENTION_KEEP_RECENT] = "age",
		[RETENTION_KEEP_NEWEST_GOOD] = "newest",    [RETENTION_KEEP_NO_GOOD] = "no_good",
		[RETENTION_DELETE_EXPIRED] = "expired",     [RETENTION_DELETE_EXTRA] = "max_copies",
		[RETENTION_KEEP_IN_USE] = "in_use",         [RETENTION_KEEP_MIN_DAYS] = "min_days",
		[RETENTION_KEEP_DAILY] = "daily",           [RETENTION_KEEP_WEEKLY] = "weekly",
		[RETENTION_KEEP_MONTHLY] = "monthly",       [RETENTION_KEEP_YEARLY] = "yearly",
		[RETENTION_DELETE_UNKEPT] = "unkept",
	};

	if ((size_t)reason >= sizeof names / sizeof names[0] || names[reason] == NULL)
		return "?";
	return names[reason];
}
