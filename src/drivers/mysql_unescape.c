/*
 * Undoing the mysql client's --batch escaping (see mysql_unescape.h).
 */
#include "drivers/mysql_unescape.h"

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
