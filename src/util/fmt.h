/*
 * Human formatting shared by dumpstat and the web pages, matching the
 * original's output: "19.51M" sizes, "12 345" counts, "HH:MM" durations,
 * "YYYY-MM-DD HH:MM" times.
 */
#ifndef TB_FMT_H
#define TB_FMT_H

#include <stdint.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes in b/K/M/G/T units, base 1024, two decimals ("19.51M", "512.00b"). */
void fmt_bytes(double bytes, char *out, size_t outsz);
/*
 * A number with optional ',' or '.' digit grouping ("1,234,567", rsync's
 * --stats and --info=progress2 output) at *p, ending at the first
 * character that is neither a digit nor a separator followed by a digit;
 * *p advanced past it. 0 and *v, or -1 (*p untouched) when *p starts no
 * number or it exceeds INT64_MAX.
 */
int fmt_parse_grouped(const char **p, int64_t *v);
/* Integer with a space as thousands separator ("-1 234 567"). */
void fmt_thousands(int64_t v, char *out, size_t outsz);
/* Hours as "HH:MM" (truncated minutes, like the original). */
void fmt_hours_minutes(double hours, char *out, size_t outsz);
/* An ISO catalog timestamp as "YYYY-MM-DD HH:MM"; copies the input if it does not parse. */
void fmt_iso_short(const char *iso, char *out, size_t outsz);

#endif
