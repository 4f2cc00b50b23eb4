/*
 * Schedule parsing and next-run computation (see schedule.h).
 *
 * The search walks "civil" time -- the local calendar fields encoded as
 * if they were UTC, so timegm()/gmtime_r() do the calendar arithmetic
 * without any DST in the way -- skipping whole months, days and hours
 * that cannot match. Only a matching civil minute is turned into a real
 * time, with mktime() tried as standard and as summer time and kept only
 * when localtime_r() gives the same fields back: two answers mean the
 * minute exists twice (the first is taken), none means it falls in a DST
 * gap (the first existing minute after it is taken).
 */
#include "schedule.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEARCH_YEARS 8 /* Feb 29 on a given weekday can be that far away */
#define GAP_MAX_MIN (26 * 60)

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
	                                   "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const wday_full[] = { "sunday",   "monday", "tuesday", "wednesday",
	                                 "thursday", "friday", "saturday" };

struct field {
	const char *name; /* "minute", ... */
	int min, max;
	const char *const *names; /* 3-letter names for min..., or NULL */
	int nnames;
	int names_base; /* value of names[0] */
};

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL, 0, 0 },           { "hour", 0, 23, NULL, 0, 0 },
	{ "day-of-month", 1, 31, NULL, 0, 0 },     { "month", 1, 12, month_names, 12, 1 },
	{ "day-of-week", 0, 7, wday_names, 7, 0 },
};

/* --- parsing -------------------------------------------------------- */

/* A number or a name of f at *p (advanced). 0, or -1 with err. */
static int
parse_value(const struct field *f, const char **p, const char *text, int *out, struct err *err)
{
	const char *s = *p;

	if (isdigit((unsigned char)*s)) {
		long v = 0;

		while (isdigit((unsigned char)*s)) {
			if (v < 1000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (v < f->min || v > f->max) {
			err_set(err, "%s field '%s': %ld is out of range %d-%d", f->name, text, v,
			        f->min, f->max);
			return -1;
		}
		*out = (int)v;
		*p = s;
		return 0;
	}
	if (f->names != NULL && isalpha((unsigned char)*s)) {
		size_t len = 0;

		while (isalpha((unsigned char)s[len]))
			len++;
		for (int i = 0; i < f->nnames; i++) {
			if (len == 3 && strncasecmp(s, f->names[i], 3) == 0) {
				*out = f->names_base + i;
				*p = s + len;
				return 0;
			}
		}
		err_set(err, "%s field '%s': unknown name '%.*s' (use %s..%s or numbers %d-%d)",
		        f->name, text, (int)(len > 16 ? 16 : len), s, f->names[0],
		        f->names[f->nnames - 1], f->min, f->max);
		return -1;
	}
	if (*s == '\0' || *s == ',' || *s == '-' || *s == '/')
		err_set(err, "%s field '%s': a value is missing", f->name, text);
	else
		err_set(err,
		        "%s field '%s': unexpected '%c' (expected a number%s, '*', ',', "
		        "'-' or '/')",
		        f->name, text, *s, f->names != NULL ? " or a name" : "");
	return -1;
}

/* One field "a,b-c,*\/d,e-f/g" into bits. 0, or -1 with err. */
static int
parse_field(const struct field *f, const char *text, uint64_t *bits, int *star, struct err *err)
{
	const char *p = text;

	*bits = 0;
	*star = text[0] == '*';
	for (;;) {
		int lo, hi, step = 1;

		if (*p == '*') {
			lo = f->min;
			hi = f->max;
			p++;
		} else {
			if (parse_value(f, &p, text, &lo, err) == -1)
				return -1;
			hi = lo;
			if (*p == '-') {
				p++;
				if (parse_value(f, &p, text, &hi, err) == -1)
					return -1;
				if (hi < lo) {
					err_set(err,
					        "%s field '%s': range %d-%d goes backwards (write "
					        "it as two ranges, e.g. %d-%d,%d-%d)",
					        f->name, text, lo, hi, lo, f->max, f->min, hi);
					return -1;
				}
			}
		}
		if (*p == '/') {
			long v = 0;

			p++;
			if (!isdigit((unsigned char)*p)) {
				err_set(err, "%s field '%s': '/' must be followed by a step number",
				        f->name, text);
				return -1;
			}
			while (isdigit((unsigned char)*p)) {
				if (v < 1000)
					v = v * 10 + (*p - '0');
				p++;
			}
			if (v < 1 || v > f->max - f->min + 1) {
				err_set(err, "%s field '%s': step %ld is out of range 1-%d",
				        f->name, text, v, f->max - f->min + 1);
				return -1;
			}
			step = (int)v;
			if (hi == lo)
				hi = f->max; /* "5/15": from 5 to the end */
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= 1ULL << v;
		if (*p == '\0')
			break;
		if (*p != ',') {
			err_set(err,
			        "%s field '%s': unexpected '%c' (expected a number%s, '*', ',', "
			        "'-' or '/')",
			        f->name, text, *p, f->names != NULL ? " or a name" : "");
			return -1;
		}
		p++;
	}
	return 0;
}

static int
days_in_month(int month, int year)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return d[month - 1];
}

/* "HH:MM" into s (one minute, one hour). 0, or -1 with err. */
static int
parse_hhmm(const char *t, struct schedule *s, const char *form, struct err *err)
{
	int h = 0, m = 0, i = 0;

	if (!isdigit((unsigned char)t[0]))
		goto bad;
	h = t[i++] - '0';
	if (isdigit((unsigned char)t[i]))
		h = h * 10 + (t[i++] - '0');
	if (t[i++] != ':' || !isdigit((unsigned char)t[i]) || !isdigit((unsigned char)t[i + 1]) ||
	    t[i + 2] != '\0')
		goto bad;
	m = (t[i] - '0') * 10 + (t[i + 1] - '0');
	if (h > 23) {
		err_set(err, "%s '%s': hour %d is out of range 0-23", form, t, h);
		return -1;
	}
	if (m > 59) {
		err_set(err, "%s '%s': minute %d is out of range 0-59", form, t, m);
		return -1;
	}
	s->hours = 1u << h;
	s->minutes = 1ULL << m;
	return 0;
bad:
	err_set(err, "%s: expected a time HH:MM (24-hour, e.g. 22:30), got '%s'", form, t);
	return -1;
}

/* Day name (sun, sunday, any case) or number 0-7. -1 if neither. */
static int
parse_wday(const char *w)
{
	if (isdigit((unsigned char)w[0]) && w[1] == '\0')
		return w[0] - '0' <= 7 ? (w[0] - '0') % 7 : -1;
	for (int i = 0; i < 7; i++)
		if (strcasecmp(w, wday_names[i]) == 0 || strcasecmp(w, wday_full[i]) == 0)
			return i;
	return -1;
}

#define ALL_DAYS(s)                                                                                \
	do {                                                                                       \
		(s)->mdays = 0xfffffffeu;                                                          \
		(s)->months = 0x1ffe;                                                              \
		(s)->wdays = 0x7f;                                                                 \
		(s)->mday_star = (s)->wday_star = 1;                                               \
	} while (0)

/* The short forms; 1 when text is one (parsed or err set: *rc), 0 otherwise. */
static int
parse_short(char **w, int nw, struct schedule *s, int *rc, struct err *err)
{
	static const struct {
		const char *name;
		const char *cron;
	} at[] = {
		{ "@hourly", "0 * * * *" },   { "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" }, { "@weekly", "0 0 * * 0" },
		{ "@monthly", "0 0 1 * *" },  { "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" },
	};
	const char *kw = w[0];

	*rc = 0;
	if (w[0][0] == '@') {
		for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
			if (strcasecmp(kw, at[i].name) == 0 && nw == 1) {
				*rc = schedule_parse(at[i].cron, s, err);
				return 1;
			}
		err_set(err,
		        "unknown schedule '%s' (known: @hourly, @daily, @weekly, @monthly, "
		        "@yearly)",
		        kw);
		*rc = -1;
		return 1;
	}
	if (strcasecmp(kw, "daily") == 0) {
		ALL_DAYS(s);
		if (nw != 2) {
			err_set(err, "daily: expected 'daily HH:MM' (e.g. daily 22:30)");
			*rc = -1;
		} else
			*rc = parse_hhmm(w[1], s, "daily", err);
		return 1;
	}
	if (strcasecmp(kw, "weekly") == 0) {
		int d;

		ALL_DAYS(s);
		if (nw != 3) {
			err_set(err, "weekly: expected 'weekly DAY HH:MM' (e.g. weekly sun 03:00)");
			*rc = -1;
		} else if ((d = parse_wday(w[1])) == -1) {
			err_set(err, "weekly: unknown day '%s' (use sun..sat or 0-7)", w[1]);
			*rc = -1;
		} else {
			s->wdays = (uint8_t)(1u << d);
			s->wday_star = 0;
			*rc = parse_hhmm(w[2], s, "weekly", err);
		}
		return 1;
	}
	if (strcasecmp(kw, "hourly") == 0) {
		ALL_DAYS(s);
		s->hours = 0xffffff;
		s->minutes = 1;
		if (nw == 2 && w[1][0] == ':' && isdigit((unsigned char)w[1][1]) &&
		    isdigit((unsigned char)w[1][2]) && w[1][3] == '\0' && w[1][1] <= '5')
			s->minutes = 1ULL << ((w[1][1] - '0') * 10 + (w[1][2] - '0'));
		else if (nw != 1) {
			err_set(err, "hourly: expected 'hourly' or 'hourly :MM' (e.g. hourly :15)");
			*rc = -1;
		}
		return 1;
	}
	if (isalpha((unsigned char)kw[0])) {
		err_set(err,
		        "unknown schedule '%s': use a cron expression (minute hour day-of-month "
		        "month day-of-week, e.g. 30 22 * * *), daily HH:MM, weekly DAY HH:MM, "
		        "hourly [:MM], @daily... or never",
		        kw);
		*rc = -1;
		return 1;
	}
	return 0;
}

int
schedule_parse(const char *text, struct schedule *out, struct err *err)
{
	char *copy = strdup(text != NULL ? text : "");
	char *w[6], *save = NULL;
	int nw = 0, rc = -1;
	struct schedule s;

	memset(&s, 0, sizeof s);
	if (copy == NULL) {
		err_set(err, "out of memory");
		return -1;
	}
	for (char *t = strtok_r(copy, " \t\n", &save); t != NULL;
	     t = strtok_r(NULL, " \t\n", &save)) {
		if (nw == 6) {
			nw++;
			break;
		}
		w[nw++] = t;
	}
	if (nw == 0 || (nw == 1 && strcasecmp(w[0], "never") == 0)) {
		s.never = 1;
		rc = 0;
		goto out;
	}
	if (parse_short(w, nw, &s, &rc, err))
		goto out;
	rc = -1;
	if (nw != 5) {
		err_set(err,
		        "expected 5 fields (minute hour day-of-month month day-of-week, e.g. "
		        "30 22 * * *), got %d%s; or use daily HH:MM",
		        nw > 6 ? 6 : nw, nw > 6 ? " or more" : "");
		goto out;
	}
	{
		uint64_t b[5];
		int star[5];

		for (int i = 0; i < 5; i++)
			if (parse_field(&fields[i], w[i], &b[i], &star[i], err) == -1)
				goto out;
		s.minutes = b[0];
		s.hours = (uint32_t)b[1];
		s.mdays = (uint32_t)b[2];
		s.months = (uint16_t)b[3];
		s.wdays = (uint8_t)((b[4] | (b[4] >> 7)) & 0x7f); /* 7 is Sunday */
		s.mday_star = star[2];
		s.wday_star = star[4];
	}
	/* With the weekday unrestricted, some chosen day must exist in some chosen month. */
	if (s.wday_star) {
		int ok = 0;

		for (int m = 1; m <= 12 && !ok; m++)
			for (int d = 1; d <= days_in_month(m, 2000) && !ok; d++)
				ok = (s.months >> m & 1) && (s.mdays >> d & 1);
		if (!ok) {
			err_set(err,
			        "day-of-month field '%s': no such day in month field '%s', so "
			        "it would never run",
			        w[2], w[3]);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc == 0)
		*out = s;
	free(copy);
	return rc;
}

/* --- next run ------------------------------------------------------- */

/* Does the civil day f match s (cron's rule: OR when both day fields are restricted)? */
static int
day_matches(const struct schedule *s, const struct tm *f)
{
	int md = (int)(s->mdays >> f->tm_mday & 1), wd = s->wdays >> f->tm_wday & 1;

	if (s->mday_star || s->wday_star)
		return md && wd;
	return md || wd;
}

/* Civil seconds (local fields read as UTC) of the fields in f. */
static time_t
civil_of(int year, int mon, int mday, int hour, int min)
{
	struct tm t;

	memset(&t, 0, sizeof t);
	t.tm_year = year;
	t.tm_mon = mon;
	t.tm_mday = mday;
	t.tm_hour = hour;
	t.tm_min = min;
	return timegm(&t);
}

/*
 * The real time of civil minute c: 0 and *out (the earlier one when the
 * minute exists twice), or -1 when it does not exist (a DST gap).
 */
static int
civil_to_time(time_t c, time_t *out)
{
	static const int isdst[] = { 0, 1, -1 };
	struct tm f;
	int found = 0;

	gmtime_r(&c, &f);
	for (size_t i = 0; i < sizeof isdst / sizeof isdst[0]; i++) {
		struct tm t = f, back;
		time_t r;

		t.tm_isdst = isdst[i];
		r = mktime(&t);
		if (r == (time_t)-1 || localtime_r(&r, &back) == NULL)
			continue;
		if (back.tm_year != f.tm_year || back.tm_mon != f.tm_mon ||
		    back.tm_mday != f.tm_mday || back.tm_hour != f.tm_hour ||
		    back.tm_min != f.tm_min)
			continue;
		if (!found || r < *out)
			*out = r;
		found = 1;
	}
	return found ? 0 : -1;
}

/* The lowest bit >= from in bits (width n), or -1. */
static int
next_bit(uint64_t bits, int from, int n)
{
	for (int i = from; i < n; i++)
		if (bits >> i & 1)
			return i;
	return -1;
}

int
schedule_next(const struct schedule *s, time_t after, time_t *next)
{
	struct tm a;
	time_t c, limit;

	if (s->never || localtime_r(&after, &a) == NULL)
		return -1;
	c = civil_of(a.tm_year, a.tm_mon, a.tm_mday, a.tm_hour, a.tm_min) + 60;
	limit = c + (time_t)SEARCH_YEARS * 366 * 86400;
	while (c < limit) {
		struct tm f;
		time_t t;
		int v;

		gmtime_r(&c, &f);
		if (!(s->months >> (f.tm_mon + 1) & 1)) {
			c = civil_of(f.tm_year, f.tm_mon + 1, 1, 0, 0);
			continue;
		}
		if (!day_matches(s, &f)) {
			c = civil_of(f.tm_year, f.tm_mon, f.tm_mday + 1, 0, 0);
			continue;
		}
		if ((v = next_bit(s->hours, f.tm_hour, 24)) != f.tm_hour) {
			c = v == -1 ? civil_of(f.tm_year, f.tm_mon, f.tm_mday + 1, 0, 0)
			            : civil_of(f.tm_year, f.tm_mon, f.tm_mday, v, 0);
			continue;
		}
		if ((v = next_bit(s->minutes, f.tm_min, 60)) != f.tm_min) {
			c = v == -1 ? civil_of(f.tm_year, f.tm_mon, f.tm_mday, f.tm_hour + 1, 0)
			            : civil_of(f.tm_year, f.tm_mon, f.tm_mday, f.tm_hour, v);
			continue;
		}
		if (civil_to_time(c, &t) == -1) {
			/* In a DST gap: the first minute that exists after it. */
			time_t g = c;
			int i;

			for (i = 0; i < GAP_MAX_MIN; i++) {
				g += 60;
				if (civil_to_time(g, &t) == 0)
					break;
			}
			if (i == GAP_MAX_MIN)
				return -1;
		}
		if (t > after) {
			*next = t;
			return 0;
		}
		c += 60; /* the second pass of a repeated hour: its first one is past */
	}
	return -1;
}
