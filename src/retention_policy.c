/*
 * Retention policies (see retention_policy.h): pure functions over a
 * table of backups. One select function per policy kind.
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

	assert(policy->kind == RETENTION_AGE);
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

/* One select function per enum retention_kind. */
static const select_fn policies[] = {
	[RETENTION_AGE] = select_age,
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
	policies[policy->kind](rows, n, policy, now, out, sum);
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
	}
	return "?";
}
