/*
 * HTML escaping and the common parts of server-rendered pages (see html.h).
 */
#include "web/html.h"

#include <stdio.h>
#include <string.h>

#include "util/markup.h"

void
html_escape(struct buf *b, const char *s)
{
	const char *run = s;

	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		const char *rep = markup_entity(*s);

		if (rep == NULL)
			continue;
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, rep);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

void
html_url_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL) {
			buf_putc(b, (char)*p);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 15]);
		}
	}
}

void
html_head(struct buf *b, const char *title)
{
	buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	            "<title>");
	html_escape(b, title);
	buf_puts(b, "</title>\n<link rel=\"stylesheet\" href=\"/static/app.css\">\n"
	            "</head>\n<body>\n");
}

void
html_tail(struct buf *b)
{
	buf_puts(b, "</body>\n</html>\n");
}

void
html_error_page(struct buf *b, int status, const char *msg)
{
	char title[32];

	snprintf(title, sizeof title, "Error %d", status);
	html_head(b, title);
	buf_printf(b, "<h1>%s</h1>\n<p class=\"error\">", title);
	html_escape(b, msg);
	buf_puts(b, "</p>\n<p><a href=\"/\">Back</a></p>\n");
	html_tail(b);
}
