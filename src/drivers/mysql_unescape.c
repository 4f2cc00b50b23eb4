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
