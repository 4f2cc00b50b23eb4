/*
 * Undoing the mysql client's --batch escaping (see mysql_unescape.h).
 */
#include "drivers/mysql_unescape.h"

#include "util/buf.h"

void
mysql_unescape(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			*w++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == '0' ? '\0' : *s;
			if (w[-1] == '\0')
				break; /* a NUL ends the name */
		} else
			*w++ = *s;
	}
	*w = '\0';
}

char *
mysql_file_name(const char *db)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;

	buf_init(&b, 1 << 16);
	for (const unsigned char *p = (const unsigned char *)db; *p != '\0'; p++) {
		if (*p == '%' || *p == '/' || *p < 0x20 || *p == 0x7f ||
		    (*p == '.' && p == (const unsigned char *)db)) {
			buf_putc(&b, '%');
			buf_putc(&b, hex[*p >> 4]);
			buf_putc(&b, hex[*p & 0xf]);
		} else
			buf_putc(&b, (char)*p);
	}
	return buf_steal(&b);
}

int
mysql_escape(struct buf *b, const char *db)
{
	for (; *db != '\0'; db++) {
		const char *esc = *db == '\\'   ? "\\\\"
		                  : *db == '\t' ? "\\t"
		                  : *db == '\n' ? "\\n"
		                                : NULL;

		if (esc != NULL ? buf_puts(b, esc) == -1 : buf_putc(b, *db) == -1)
			return -1;
	}
	return 0;
}
