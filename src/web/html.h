/*
 * HTML output of the server: escaping of every value that goes into a
 * page, the error page, and URL encoding for Location headers. Pages are
 * built in pages.c with these; no unescaped data ever reaches HTML.
 */
#ifndef TB_WEB_HTML_H
#define TB_WEB_HTML_H

#include "util/buf.h"

/* Append s with & < > " ' escaped (NULL appends nothing). */
void html_escape(struct buf *b, const char *s);
/* Append s percent-encoded for a URL query value (unreserved bytes kept). */
void html_url_encode(struct buf *b, const char *s);
/* A minimal page for an error status with msg escaped. */
void html_error_page(struct buf *b, int status, const char *msg);
/* The page head every server-rendered page starts with (title escaped). */
void html_head(struct buf *b, const char *title);
/* The page end. */
void html_tail(struct buf *b);

#endif
