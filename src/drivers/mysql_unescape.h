/*
 * The text the mysql client prints with --batch (-B): a backslash escapes
 * a newline (\n), a tab (\t), a NUL (\0) and itself (\\); a dump
 * snapshot's manifest (dumpname.c) escapes its names the same way. Kept
 * apart from drv_mysql.c so the unit tests reach them without a server.
 */
#ifndef TB_DRIVERS_MYSQL_UNESCAPE_H
#define TB_DRIVERS_MYSQL_UNESCAPE_H

/* Undo mysql --batch escaping in s, in place (the result is never longer).
 * \n and \t become the character, \0 ends the string there (a name stops
 * at a NUL), a backslash before any other character is dropped, and a
 * trailing lone backslash is kept. */
void mysql_unescape(char *s);

/*
 * Append db to b for a manifest line, escaped as mysql --batch does
 * (\\, \t, \n; mysql_unescape() reads it back). 0 or -1 (b full).
 */
struct buf;
int mysql_escape(struct buf *b, const char *db);

#endif
