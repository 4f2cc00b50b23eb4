/*
 * Percent-encoding (RFC 3986 %XX), shared by the address parsers (the
 * catalog's sqlite: URIs, redis:// URLs) and the web form decoder.
 */
#ifndef TB_PCT_H
#define TB_PCT_H

#include <stddef.h>

/* The value of hex digit c (either case), or -1. */
int pct_hexval(int c);

/*
 * s[0..len) with every %XX decoded, in a new string (caller frees); NULL
 * when an escape is malformed or is %00 (which would cut the string).
 * Other bytes are copied as they are.
 */
char *pct_decode_strict(const char *s, size_t len);

#endif
