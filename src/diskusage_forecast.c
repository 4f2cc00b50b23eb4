/*
 * The fill-up forecast (see diskusage.h): an ordinary least-squares line
 * through the daily samples of the backup filesystem's used bytes over
 * the last window_days days, x in days (civil day numbers, so DST and
 * sampling hours do not matter), and the day that line reaches the
 * newest sample's capacity (used + available to ordinary users).
 */
#include "diskusage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long
days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The civil date of day number z into out (11 bytes). */
static void
civil_from_days(long z, char *out)
{
	long era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	struct tm tm = { .tm_year = (int)(y + (m <= 2)) - 1900,
		         .tm_mon = (int)m - 1,
		         .tm_mday = (int)d };

	if (strftime(out, 11, "%Y-%m-%d", &tm) == 0)
		out[0] = '\0';
}

/* The day number of "YYYY-MM-DD", or -1 when it is not one. */
static int
parse_day(const char *s, long *z)
{
	int y, m, d, used = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10 || m < 1 || m > 12 ||
	    d < 1 || d > 31)
		return -1;
	*z = days_from_civil(y, m, d);
	return 0;
}

void
diskusage_forecast(const struct catalog_du_sample *s, size_t n, time_t now, int window_days,
                   struct diskusage_forecast *out)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, k = 0, mx, my, var;
	long today, first = 0, last = 0;
	struct tm tm;

	memset(out, 0, sizeof *out);
	out->window_days = window_days;
	localtime_r(&now, &tm);
	today = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	for (size_t i = 0; i < n; i++) {
		long z;
		double x, y;

		if (parse_day(s[i].day, &z) == -1 || z > today || z <= today - window_days)
			continue;
		if (k == 0)
			first = z;
		last = z;
		x = (double)(z - today);
		y = (double)s[i].used_bytes;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		k++;
		out->capacity = s[i].capacity_bytes;
	}
	out->nsamples = (size_t)k;
	if (k < 2 || first == last)
		return;
	mx = sx / k;
	my = sy / k;
	var = sxx / k - mx * mx;
	out->fitted = 1;
	out->slope = (sxy / k - mx * my) / var;
	out->used_today = my - out->slope * mx; /* x = 0 is today */
	if (out->slope <= 0)
		return;
	out->full = 1;
	out->days_left = ((double)out->capacity - out->used_today) / out->slope;
	if (out->days_left < 0)
		out->days_left = 0;
	civil_from_days(today + (long)out->days_left, out->full_day);
}

/* A [global] count of days, def when unset (config.c checked it is an integer). */
static int
days_of(const struct config *cfg, const char *key, int def)
{
	const char *v = cfg != NULL ? config_global_get(cfg, key) : NULL;
	char *end;
	long n;

	if (v == NULL)
		return def;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0)
		return def;
	return n > 36500 ? 36500 : (int)n;
}

void
diskusage_forecast_limits(const struct config *cfg, int *window_days, int *warn_days)
{
	*window_days = days_of(cfg, "disk_forecast_window_days", DISKUSAGE_WINDOW_DAYS);
	if (*window_days < 2)
		*window_days = 2;
	*warn_days = days_of(cfg, "disk_forecast_warn_days", DISKUSAGE_FORECAST_WARN);
}

int
diskusage_forecast_read(struct catalog *cat, const struct config *cfg, time_t now,
                        struct diskusage_forecast *out, struct err *err)
{
	struct catalog_du_sample *s = NULL;
	char since[11];
	size_t n = 0;
	int window, warn;
	struct tm tm;

	diskusage_forecast_limits(cfg, &window, &warn);
	localtime_r(&now, &tm);
	civil_from_days(days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) - window + 1,
	                since);
	if (catalog_du_samples(cat, since, &s, &n, err) == -1)
		return -1;
	diskusage_forecast(s, n, now, window, out);
	free(s);
	return 0;
}
