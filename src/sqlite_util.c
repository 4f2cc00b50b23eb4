/*
 * Helpers shared by the SQLite backends (see sqlite_util.h).
 */
#include "sqlite_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "util/xmalloc.h"

void
sqlu_init(struct sqlu_db *c, const char *kind, const char *path)
{
	c->db = NULL;
	c->kind = kind;
	c->path = xstrdup(path);
}

int
sqlu_open_rw(struct sqlu_db *c, struct err *err)
{
	int rc;

	rc = sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		sqlu_error(c, rc, err, "opening");
		return -1;
	}
	sqlite3_busy_timeout(c->db, SQLU_BUSY_MS);
	return 0;
}

void
sqlu_close(struct sqlu_db *c)
{
	sqlite3_close_v2(c->db);
	c->db = NULL;
	free(c->path);
	c->path = NULL;
}

/*
 * Whether rc comes from a full disk: SQLITE_FULL, or an I/O error whose
 * system errno is ENOSPC/EDQUOT (growing the -shm or -wal), or an I/O
 * error on a filesystem without a free block left, even for root.
 */
static int
disk_full(const struct sqlu_db *c, int rc, const char *dir)
{
	struct statvfs sv;
	int e = c->db != NULL ? sqlite3_system_errno(c->db) : 0;

	if ((rc & 0xff) == SQLITE_FULL || e == ENOSPC || e == EDQUOT)
		return 1;
	return (rc & 0xff) == SQLITE_IOERR && statvfs(dir, &sv) == 0 && sv.f_bfree == 0;
}

void
sqlu_error(const struct sqlu_db *c, int rc, struct err *err, const char *what)
{
	const char *slash = c->path != NULL ? strrchr(c->path, '/') : NULL;
	char *dir = slash == NULL      ? xstrdup(".")
	            : slash == c->path ? xstrdup("/")
	                               : xstrndup(c->path, (size_t)(slash - c->path));
	int full = c->path != NULL && disk_full(c, rc, dir);

	if (full)
		err_set(err,
		        "%s %s: %s: the disk is full (no space left in %s): free space there, "
		        "then run again",
		        c->kind, c->path, what, dir);
	free(dir);
	if (full)
		return;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		err_set(err, "%s %s: %s: database is locked (still busy after %d s)", c->kind,
		        c->path, what, SQLU_BUSY_MS / 1000);
		return;
	}
	err_set(err, "%s %s: %s: %s", c->kind, c->path, what,
	        c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
}

int
sqlu_exec(const struct sqlu_db *c, const char *sql, struct err *err, const char *what)
{
	int rc;

	rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlu_error(c, rc, err, what);
		return -1;
	}
	return 0;
}

int
sqlu_prepare(const struct sqlu_db *c, sqlite3_stmt **stmt, const char *sql, struct err *err)
{
	int rc;

	if (*stmt != NULL) {
		sqlite3_reset(*stmt);
		sqlite3_clear_bindings(*stmt);
		return 0;
	}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
	if (rc != SQLITE_OK) {
		sqlu_error(c, rc, err, "preparing a statement");
		*stmt = NULL;
		return -1;
	}
	return 0;
}

int
sqlu_step_done(const struct sqlu_db *c, sqlite3_stmt *st, struct err *err, const char *what)
{
	int rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		sqlu_error(c, rc, err, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

void
sqlu_rollback(const struct sqlu_db *c)
{
	if (c->db != NULL && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

void
sqlu_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

char *
sqlu_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	s = sqlite3_column_text(st, i);
	return xstrndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
}
