/*
 * The JSON writer (see json.h).
 */
#include "web/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "util/timefmt.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static int
utf8_len(const unsigned char *s)
{
	int n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && s[0] == 0xe0 && s[1] < 0xa0)
		return 0;
	if (n == 3 && s[0] == 0xed && s[1] >= 0xa0)
		return 0; /* surrogates */
	if (n == 4 && s[0] == 0xf0 && s[1] < 0x90)
		return 0;
	if (n == 4 && s[0] == 0xf4 && s[1] >= 0x90)
		return 0;
	return n;
}

void
json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run;

	if (s == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	run = p;
	while (*p != '\0') {
		int n;

		if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\' && *p != '<' && *p != '>' &&
		    *p != '&') {
			p++;
			continue;
		}
		buf_append(b, run, (size_t)(p - run));
		n = utf8_len(p);
		if (*p == '"' || *p == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)*p);
		} else if (*p == '\n') {
			buf_puts(b, "\\n");
		} else if (*p == '\t') {
			buf_puts(b, "\\t");
		} else if (*p == '\r') {
			buf_puts(b, "\\r");
		} else if (*p < 0x80) {
			buf_printf(b, "\\u%04x", *p);
		} else if (n == 0) {
			buf_puts(b, "\\ufffd");
			n = 1;
		} else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
		           (p[2] == 0xa8 || p[2] == 0xa9)) {
			buf_printf(b, "\\u%04x", p[2] == 0xa8 ? 0x2028 : 0x2029);
		} else {
			buf_append(b, p, (size_t)n);
		}
		p += n > 0 ? n : 1;
		run = p;
	}
	buf_append(b, run, (size_t)(p - run));
	buf_putc(b, '"');
}

void
json_str_array(struct buf *b, char *const *v, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ',');
		json_str(b, v[i]);
	}
	buf_putc(b, ']');
}

void
json_int(struct buf *b, int64_t v)
{
	if (v == INT64_MIN)
		buf_puts(b, "null");
	else
		buf_printf(b, "%lld", (long long)v);
}

void
json_num(struct buf *b, double v)
{
	if (isnan(v) || isinf(v))
		buf_puts(b, "null");
	else {
		char s[40];

		/* The shortest of %.15g and %.17g that reads back as v. */
		snprintf(s, sizeof s, "%.15g", v);
		if (strtod(s, NULL) != v)
			snprintf(s, sizeof s, "%.17g", v);
		buf_puts(b, s);
	}
}

void
json_key(struct buf *b, const char *key)
{
	json_str(b, key);
	buf_putc(b, ':');
}

/*
 * tm as "YYYY-MM-DDTHH:MM:SS", then ".ffffff" when usec > 0, then its UTC
 * offset "+01:00", into s (at least 40 bytes).
 */
static void
iso_offset(const struct tm *tm, long usec, char *s, size_t sz)
{
	char off[8];
	size_t n = strftime(s, sz, "%Y-%m-%dT%H:%M:%S", tm);

	if (usec > 0)
		n += (size_t)snprintf(s + n, sz - n, ".%06ld", usec);
	if (strftime(off, sizeof off, "%z", tm) == 5) /* +0100 -> +01:00 */
		snprintf(s + n, sz - n, "%.3s:%.2s", off, off + 3);
}

void
json_time(struct buf *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[48];

	if (t <= 0 || localtime_r(&tt, &tm) == NULL) {
		buf_puts(b, "null");
		return;
	}
	iso_offset(&tm, 0, s, sizeof s);
	json_str(b, s);
}

void
json_catalog_time(struct buf *b, const char *iso)
{
	struct timeval tv;
	struct tm tm;
	char s[48];

	if (iso == NULL) {
		buf_puts(b, "null");
		return;
	}
	if (time_parse_iso(iso, &tv) == -1 || localtime_r(&tv.tv_sec, &tm) == NULL) {
		json_str(b, iso); /* not ours to fix: shown as stored */
		return;
	}
	iso_offset(&tm, (long)tv.tv_usec, s, sizeof s);
	json_str(b, s);
}
