/*
 * The text the mysql client prints with --batch (-B): a backslash escapes
 * a newline (\n), a tab (\t), a NUL (\0) and itself (\\). Also the safe
 * file name of a database. Kept apart from drv_mysql.c so the unit tests
 * reach them without a server.
 */
#ifndef TB_DRIVERS_MYSQL_UNESCAPE_H
#define TB_DRIVERS_MYSQL_UNESCAPE_H

/* Undo mysql --batch escaping in s, in place (the result is never longer).
 * \n and \t become the character, \0 ends the string there (a name stops
 * at a NUL), a backslash before any other character is dropped, and a
 * trailing lone backslash is kept. */
void mysql_unescape(char *s);

/*
 * The file name (without .sql.gz) of database db in the snapshot folder:
 * db itself, except that '%', '/', control bytes and a leading '.' become
 * %XX (upper-case hex). Reversible (percent-decoding gives db back); for a
 * non-empty db never "." or "..", never a '/'. Returns a string the caller
 * frees.
 */
char *mysql_file_name(const char *db);

/*
 * Append db to b for a manifest line, escaped as mysql --batch does
 * (\\, \t, \n; mysql_unescape() reads it back). 0 or -1 (b full).
 */
struct buf;
int mysql_escape(struct buf *b, const char *db);

#endif
