/*
 * Request input parsers (see form.h).
 */
#include "web/form.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/pct.h"
#include "util/xmalloc.h"

/* Decode n bytes of form-urlencoded text into a new string. */
static char *
decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && pct_hexval(s[i + 1]) >= 0 &&
		           pct_hexval(s[i + 2]) >= 0 && (s[i + 1] != '0' || s[i + 2] != '0')) {
			*o++ = (char)(pct_hexval(s[i + 1]) * 16 + pct_hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '\0') {
			break;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

char *
form_get(const char *body, size_t len, const char *name)
{
	const char *p = body, *end = body + len;
	size_t nl = strlen(name);

	while (p != NULL && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(fe - p));

		if (eq != NULL && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0)
			return decode(eq + 1, (size_t)(fe - eq - 1));
		p = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

size_t
form_unescape(char *s)
{
	char *o = s;

	for (const char *p = s; *p != '\0'; p++) {
		if (p[0] == '%' && pct_hexval(p[1]) >= 0 && pct_hexval(p[2]) >= 0 &&
		    (p[1] != '0' || p[2] != '0')) {
			*o++ = (char)(pct_hexval(p[1]) * 16 + pct_hexval(p[2]));
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return (size_t)(o - s);
}

int
form_date(const char *s, int end_of_day, char *iso, size_t sz)
{
	int y, mo, d, h = 0, mi = 0, se = 0, used = 0, n;
	struct tm tm = { 0 }, check;
	size_t len = strlen(s);

	iso[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		int sep = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;

		if (!sep && !isdigit((unsigned char)s[i]))
			return -1;
	}
	if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) == 3 && used == 10) {
		/* a date */
	} else if (len == 19 && (s[10] == ' ' || s[10] == 'T') &&
	           sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &used) ==
	               6 &&
	           used == 19) {
		end_of_day = 0;
	} else {
		return -1;
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	check = tm;
	if (timegm(&check) == (time_t)-1 || check.tm_mday != d)
		return -1; /* 2026-02-30 */
	tm.tm_mday += end_of_day ? 1 : 0;
	timegm(&tm);
	if (tm.tm_year + 1900 > 9999) {
		/*
		 * The day after 9999-12-31: the catalog compares ISO text, and
		 * this bound sorts after every time of that last day.
		 */
		n = snprintf(iso, sz, "9999-12-31T24:00:00");
	} else {
		/* Zero-padded: year 26 is "0026", which sorts before "1000". */
		n = snprintf(iso, sz, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
		             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	if (n < 0 || (size_t)n >= sz) {
		iso[0] = '\0';
		return -1;
	}
	return 0;
}
