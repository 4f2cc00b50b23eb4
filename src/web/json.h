/*
 * A small JSON writer on struct buf for the server's responses: rows are
 * streamed straight into the response body (a 100k-row /backups.json
 * builds no tree). Request bodies are parsed with jansson instead.
 * Every function appends to b; strings are escaped for JSON and for safe
 * embedding in HTML (<, >, & and U+2028/9 are \u-escaped), invalid UTF-8
 * bytes become U+FFFD.
 */
#ifndef TB_WEB_JSON_H
#define TB_WEB_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* A JSON string, or null when s is NULL. */
void json_str(struct buf *b, const char *s);
/* A JSON array of the n strings of v. */
void json_str_array(struct buf *b, char *const *v, size_t n);
/* An integer, or null when v is INT64_MIN (CATALOG_NULL). */
void json_int(struct buf *b, int64_t v);
/* A number, or null when v is NaN or infinite. */
void json_num(struct buf *b, double v);
/* "key": (the key is written as a JSON string, with its colon). */
void json_key(struct buf *b, const char *key);
/*
 * Seconds since the epoch as local ISO time with its UTC offset,
 * "YYYY-MM-DDTHH:MM:SS+01:00", or null when t <= 0.
 */
void json_time(struct buf *b, int64_t t);
/*
 * A catalog time (local ISO without an offset, "2026-11-26T03:20:57.123456")
 * with its UTC offset added, "2026-11-26T03:20:57.123456+01:00" (the
 * fraction only when not zero); null when iso is NULL; as stored when it
 * does not parse.
 */
void json_catalog_time(struct buf *b, const char *iso);

#endif
