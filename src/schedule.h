/*
 * Schedules: when `serve` starts a job's backup or cleanup on its own.
 * A schedule is a 5-field cron expression ("30 22 * * 1-5") or one of
 * the short forms "daily HH:MM", "weekly DAY HH:MM", "hourly [:MM]",
 * "@hourly", "@daily", "@weekly", "@monthly", "@yearly", or "never" / an
 * empty value (no runs). Times are local time (TZ honoured).
 *
 * Daylight saving time (docs/scheduler.md): a matching local time that
 * does not exist that day (spring forward, e.g. 02:30 in Europe/Paris on
 * the last Sunday of March) fires once, at the first existing minute
 * after it (03:00); a local time that exists twice (fall back) fires
 * once, at its first occurrence.
 */
#ifndef TB_SCHEDULE_H
#define TB_SCHEDULE_H

#include <stdint.h>
#include <time.h>

#include "util/err.h"

struct schedule {
	int never;        /* "never" or empty: schedule_next() finds nothing */
	uint64_t minutes; /* bit m: minute m (0-59) */
	uint32_t hours;   /* bit h: hour h (0-23) */
	uint32_t mdays;   /* bit d: day of month d (1-31) */
	uint16_t months;  /* bit m: month m (1-12) */
	uint8_t wdays;    /* bit w: day of week w (0 = Sunday .. 6) */
	int mday_star;    /* the day-of-month field was '*' (or a '*' step) */
	int wday_star;    /* the day-of-week field was '*' (or a '*' step) */
};

/*
 * Parse text into *out. Returns 0, or -1 with err saying what is wrong
 * and where, without a file/section/key prefix (the caller adds it), e.g.
 * "minute field '61': 61 is out of range 0-59". A cron expression that
 * can never match (day 31 in February only) is an error too.
 */
int schedule_parse(const char *text, struct schedule *out, struct err *err);

/*
 * The first time strictly after `after` that s fires, in local time with
 * the DST rule above, into *next. Returns 0, or -1 when s never fires
 * (a "never" schedule, or nothing within the next 8 years).
 */
int schedule_next(const struct schedule *s, time_t after, time_t *next);

#endif
