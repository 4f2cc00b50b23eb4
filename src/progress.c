/*
 * The run's progress object (see progress.h): a few atomics read by the
 * thread that waits on a command or a transfer and written by whoever
 * sees bytes move or wants the run to stop. No lock is needed: each field
 * is one word, and a slightly stale read only delays a verdict by one poll.
 */
#include "progress.h"

#include <stdio.h>
#include <time.h>

#define NSEC_PER_SEC INT64_C(1000000000)

int64_t
progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void
progress_init(struct progress *p, long stall_sec, long max_runtime_sec)
{
	int64_t now = progress_now();

	p->start_ns = now;
	p->stall_ns = stall_sec > 0 ? (int64_t)stall_sec * NSEC_PER_SEC : 0;
	p->deadline_ns = max_runtime_sec > 0 ? now + (int64_t)max_runtime_sec * NSEC_PER_SEC : 0;
	atomic_store(&p->last_ns, now);
	atomic_store(&p->bytes, 0);
	atomic_store(&p->interrupted, 0);
	p->xfer = NULL;
}

void
progress_feed(struct progress *p, uint64_t n)
{
	if (n > 0)
		atomic_fetch_add(&p->bytes, n);
	atomic_store(&p->last_ns, progress_now());
}

void
progress_interrupt(struct progress *p)
{
	atomic_store(&p->interrupted, 1);
}

enum progress_state
progress_check(const struct progress *p, int64_t now)
{
	if (atomic_load(&p->interrupted))
		return PROGRESS_INTERRUPTED;
	if (p->deadline_ns != 0 && now >= p->deadline_ns)
		return PROGRESS_DEADLINE;
	if (p->stall_ns != 0 && now - atomic_load(&p->last_ns) >= p->stall_ns)
		return PROGRESS_STALLED;
	return PROGRESS_OK;
}

long
progress_seconds_left(const struct progress *p)
{
	int64_t left;

	if (p->deadline_ns == 0)
		return 0;
	left = (p->deadline_ns - progress_now() + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
	return left < 1 ? 1 : (long)left;
}

uint64_t
progress_bytes(const struct progress *p)
{
	return atomic_load(&p->bytes);
}

void
progress_describe(const struct progress *p, enum progress_state st, char *out, size_t outsz)
{
	switch (st) {
	case PROGRESS_INTERRUPTED:
		snprintf(out, outsz, "interrupted");
		break;
	case PROGRESS_DEADLINE:
		snprintf(out, outsz, "max_runtime (%lld s) exceeded",
		         (long long)((p->deadline_ns - p->start_ns) / NSEC_PER_SEC));
		break;
	case PROGRESS_STALLED:
		snprintf(out, outsz, "stalled: nothing moved for %lld s",
		         (long long)(p->stall_ns / NSEC_PER_SEC));
		break;
	default:
		snprintf(out, outsz, "running");
		break;
	}
}
