/*
 * The text the mysql client prints with --batch (-B): a backslash escapes
 * a newline (\n), a tab (\t), a NUL (\0) and itself (\\). Kept apart from
 * drv_mysql.c so the unit tests reach it without a server.
 */
#ifndef TB_DRIVERS_MYSQL_UNESCAPE_H
#define TB_DRIVERS_MYSQL_UNESCAPE_H

/* Undo mysql --batch escaping in s, in place (the result is never longer).
 * \n and \t become the character, \0 ends the string there (a name stops
 * at a NUL), a backslash before any other character is dropped, and a
 * trailing lone backslash is kept. */
void mysql_unescape(char *s);

#endif
