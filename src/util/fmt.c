/*
 * Human formatting of catalog values (see fmt.h). Each function mirrors one
 * helper of the original's libtisbackup/common.py (convert_bytes,
 * splitThousands, hours_minutes, time2display) so dumpstat and the web
 * pages print the same text as before. Output is always NUL-terminated and
 * truncated, never overflowed, at outsz.
 */
#include "util/fmt.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "util/timefmt.h"

void
fmt_bytes(double bytes, char *out, size_t outsz)
{
	static const struct {
		double min;
		char unit;
	} units[] = {
		{ 1099511627776.0, 'T' },
		{ 1073741824.0, 'G' },
		{ 1048576.0, 'M' },
		{ 1024.0, 'K' },
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (bytes >= units[i].min) {
			snprintf(out, outsz, "%.2f%c", bytes / units[i].min, units[i].unit);
			return;
		}
	}
	snprintf(out, outsz, "%.2fb", bytes);
}

void
fmt_thousands(int64_t v, char *out, size_t outsz)
{
	char digits[24], res[40];
	uint64_t u;
	size_t nd = 0, len = 0;

	if (outsz == 0)
		return;
	/* Magnitude as unsigned, so INT64_MIN works too. */
	u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		digits[nd++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);

	if (v < 0)
		res[len++] = '-';
	while (nd > 0) {
		res[len++] = digits[--nd];
		if (nd > 0 && nd % 3 == 0)
			res[len++] = ' ';
	}
	res[len] = '\0';
	snprintf(out, outsz, "%s", res);
}

void
fmt_hours_minutes(double hours, char *out, size_t outsz)
{
	long long h, m;

	if (outsz == 0)
		return;
	if (!isfinite(hours) || fabs(hours) >= 1e15) {
		out[0] = '\0';
		return;
	}
	/* int() in Python truncates toward zero; so do these casts. */
	h = (long long)hours;
	m = (long long)((hours - (double)h) * 60.0);
	snprintf(out, outsz, "%02lld:%02lld", h, m);
}

void
fmt_iso_short(const char *iso, char *out, size_t outsz)
{
	struct timeval tv;

	if (outsz == 0)
		return;
	if (iso == NULL) {
		out[0] = '\0';
		return;
	}
	/*
	 * A timestamp that parses has "YYYY-MM-DD" and "HH:MM" at fixed
	 * offsets; taking them as written avoids a round trip through
	 * mktime() that would shift times inside a DST gap.
	 */
	if (time_parse_iso(iso, &tv) == 0)
		snprintf(out, outsz, "%.10s %.5s", iso, iso + 11);
	else
		snprintf(out, outsz, "%s", iso);
}

int
fmt_parse_grouped(const char **p, int64_t *v)
{
	const char *s = *p;
	int64_t n = 0;
	int any = 0;

	for (;; s++) {
		if (isdigit((unsigned char)*s)) {
			int d = *s - '0';

			if (n > (INT64_MAX - d) / 10)
				return -1;
			n = n * 10 + d;
			any = 1;
		} else if ((*s == ',' || *s == '.') && any && isdigit((unsigned char)s[1])) {
			continue;
		} else {
			break;
		}
	}
	if (!any)
		return -1;
	*v = n;
	*p = s;
	return 0;
}
