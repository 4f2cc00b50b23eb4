/*
 * The two time formats the original writes: snapshot stamps
 * ("20261126-03h20m57", local time) and catalog timestamps
 * ("2026-11-26T03:20:57.123456", local ISO, string-sortable).
 */
#ifndef TB_TIMEFMT_H
#define TB_TIMEFMT_H

#include <stddef.h>
#include <sys/time.h>
#include <time.h>

#define TIME_STAMP_LEN 17 /* strlen("20261126-03h20m57") */
#define TIME_ISO_LEN 26   /* strlen("2026-11-26T03:20:57.123456") */

/* Format t (local time) as a snapshot stamp into out[TIME_STAMP_LEN + 1]. */
void time_stamp(time_t t, char *out);
/* Format tv (local time) as an ISO catalog timestamp into out[TIME_ISO_LEN + 1]. */
void time_iso(const struct timeval *tv, char *out);
/*
 * Parse a snapshot stamp at the start of s (exactly 17 characters of the
 * stamp shape, rest ignored). Returns 0 and sets *t (local time), or -1.
 */
int time_parse_stamp(const char *s, time_t *t);
/*
 * Parse an ISO timestamp as the original stores them: "YYYY-MM-DDTHH:MM:SS"
 * with an optional ".ffffff" (Python omits it when microseconds are 0) and
 * an optional space instead of 'T'. Returns 0 and fills *tv, or -1.
 */
int time_parse_iso(const char *s, struct timeval *tv);
/* Seconds between two timevals as a double (b - a). */
double time_diff(const struct timeval *a, const struct timeval *b);

#endif
