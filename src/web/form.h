/*
 * The small parsers of request input, independent of the HTTP library so
 * they can be unit-tested and fuzzed: form fields of an
 * application/x-www-form-urlencoded body, percent-decoding of paths and
 * query values, and the dates the API takes.
 */
#ifndef TB_WEB_FORM_H
#define TB_WEB_FORM_H

#include <stddef.h>

/*
 * The decoded value of the first field called name in the len bytes of a
 * form body ("a=1&b=x+y%21"), as a new string the caller frees, or NULL
 * when there is none. '+' is a space; a bad %-escape is kept as is.
 */
char *form_get(const char *body, size_t len, const char *name);

/*
 * Percent-decode s in place and return its new length. "%00" is kept
 * as it is, so the result holds no NUL byte and is never cut short.
 */
size_t form_unescape(char *s);

/*
 * Parse a date "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (or with 'T') into
 * the catalog's form "YYYY-MM-DDTHH:MM:SS" in iso (sz >= 20). With
 * end_of_day, a bare date becomes the next day's midnight (an inclusive
 * "until"). Years 0001-9999, zero-padded ("0026-..."), so the catalog's
 * text comparison stays time order; the day after 9999-12-31 is written
 * "9999-12-31T24:00:00", which sorts after every time of that day. 0, or
 * -1 for anything else (including 2026-02-30, or sz too small).
 */
int form_date(const char *s, int end_of_day, char *iso, size_t sz);

#endif
