/*
 * What the two SQLite backends share (catalog_sqlite.c, queue_sqlite.c):
 * one connection with the name its messages use, opened with the same
 * busy timeout, errors worded the same way ("catalog PATH: what: why"),
 * statements prepared once and reused. Private to those two files: no
 * other file includes this header or sqlite3.h.
 */
#ifndef TB_SQLITE_UTIL_H
#define TB_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stdint.h>

#include "util/err.h"

/* How long a statement waits for another connection's lock. */
#define SQLU_BUSY_MS 30000

struct sqlu_db {
	sqlite3 *db;
	const char *kind; /* first word of messages: "catalog", "queue" */
	char *path;
};

/* Set kind and a copy of path; db stays NULL until sqlu_open_rw() or the caller opens it. */
void sqlu_init(struct sqlu_db *c, const char *kind, const char *path);
/*
 * Open c->path read-write, creating the file when missing, with the busy
 * timeout. 0 or -1 + err.
 */
int sqlu_open_rw(struct sqlu_db *c, struct err *err);
/* Close the connection (statements must be finalized) and free the path. */
void sqlu_close(struct sqlu_db *c);

/*
 * Fill err from rc and the connection's last error: "KIND PATH: what:
 * message", or "...: database is locked (still busy after 30 s)", or, when
 * the disk is full (SQLITE_FULL, ENOSPC/EDQUOT behind an I/O error, or no
 * free block left), "...: the disk is full (no space left in DIR): ...".
 */
void sqlu_error(const struct sqlu_db *c, int rc, struct err *err, const char *what);
/* Run sql (one or more statements, no result). 0 or -1 + err naming what. */
int sqlu_exec(const struct sqlu_db *c, const char *sql, struct err *err, const char *what);
/*
 * Prepare sql into *stmt (persistent) unless it is already there, in which
 * case reset it and clear its bindings. 0 or -1 + err (*stmt NULL).
 */
int sqlu_prepare(const struct sqlu_db *c, sqlite3_stmt **stmt, const char *sql, struct err *err);
/* Step a bound write statement to SQLITE_DONE and reset it. 0 or -1 + err. */
int sqlu_step_done(const struct sqlu_db *c, sqlite3_stmt *st, struct err *err, const char *what);
/* ROLLBACK when a transaction is open; nothing otherwise. */
void sqlu_rollback(const struct sqlu_db *c);

/* Bind s, or NULL when s is NULL (the text is not copied: it must outlive the step). */
void sqlu_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column i as a new string, or NULL for SQL NULL. */
char *sqlu_col_text(sqlite3_stmt *st, int i);

#endif
