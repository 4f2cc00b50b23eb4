/*
 * Stamp and ISO timestamp formatting and parsing (see timefmt.h).
 */
#include "util/timefmt.h"

#include <ctype.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

void
time_stamp(time_t t, char *out)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, TIME_STAMP_LEN + 1, "%Y%m%d-%Hh%Mm%S", &tm);
}

void
time_iso(const struct timeval *tv, char *out)
{
	struct tm tm;
	char base[20];

	localtime_r(&tv->tv_sec, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, TIME_ISO_LEN + 1, "%s.%06ld", base, (long)tv->tv_usec);
}

/* Read exactly n digits; -1 if any is not a digit. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * Reload the time zone (TZ, else /etc/localtime) at most once a second.
 * localtime_r() uses the zone loaded last and never looks again; mktime()
 * reloads it on every call. local_epoch() does without mktime(), so this
 * keeps a long-running process (serve, the scheduler) following a changed
 * zone within a second, as it did when every parse called mktime().
 */
static void
tz_refresh(void)
{
	static _Atomic long long last = -1;
	long long now = (long long)time(NULL);

	if (atomic_exchange(&last, now) != now)
		tzset();
}

/* The UTC offset in force at t, in seconds; LONG_MIN when t cannot be converted. */
static long
gmtoff_at(time_t t)
{
	struct tm tm;

	return localtime_r(&t, &tm) != NULL ? tm.tm_gmtoff : LONG_MIN;
}

/*
 * *tm (local time, tm_isdst = -1) as seconds since the epoch, what
 * mktime() returns. mktime() costs a stat() of /etc/localtime per call when
 * TZ is unset (glibc): 3-12 us in this VM, and a page of /api/v1/backups
 * converts 200 times. Here: the fields read as UTC (timegm(), arithmetic
 * only) minus the offset in force then (localtime_r(), the zone already
 * loaded). That is the only answer, and mktime()'s, when the offset is the
 * same for 27 hours either side (more than any two offsets differ); near a
 * change (a DST switch, a time that does not exist or exists twice) the
 * answer is mktime()'s own.
 */
static time_t
local_epoch(struct tm *tm)
{
	struct tm u = *tm;
	time_t t0, t1;
	long off;

	tz_refresh();
	t0 = timegm(&u);
	if (t0 != (time_t)-1 && (off = gmtoff_at(t0)) != LONG_MIN) {
		t1 = t0 - off;
		if (gmtoff_at(t1) == off && gmtoff_at(t1 - 27 * 3600) == off &&
		    gmtoff_at(t1 + 27 * 3600) == off)
			return t1;
	}
	return mktime(tm);
}

static int
make_time(int y, int mo, int d, int h, int mi, int sec, time_t *out)
{
	struct tm tm;

	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	*out = local_epoch(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

int
time_parse_stamp(const char *s, time_t *t)
{
	int y, mo, d, h, mi, sec;

	if (strnlen(s, TIME_STAMP_LEN) < TIME_STAMP_LEN)
		return -1;
	if (s[8] != '-' || s[11] != 'h' || s[14] != 'm')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 4, 2);
	d = digits(s + 6, 2);
	h = digits(s + 9, 2);
	mi = digits(s + 12, 2);
	sec = digits(s + 15, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0)
		return -1;
	return make_time(y, mo, d, h, mi, sec, t);
}

int
time_parse_iso(const char *s, struct timeval *tv)
{
	int y, mo, d, h, mi, sec;
	long usec = 0;
	time_t t;

	if (s == NULL || strnlen(s, 19) < 19)
		return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0)
		return -1;
	if (s[19] == '.') {
		int n = 0;

		for (const char *p = s + 20; isdigit((unsigned char)*p) && n < 6; p++, n++)
			usec = usec * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			usec *= 10;
	}
	if (make_time(y, mo, d, h, mi, sec, &t) == -1)
		return -1;
	tv->tv_sec = t;
	tv->tv_usec = usec;
	return 0;
}

double
time_diff(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_usec - a->tv_usec) / 1e6;
}
