/*
 * The catalog tests' backend (see catalog_fixture.h): SQLite files, or
 * databases made and dropped on the PostgreSQL server named by
 * TISBACKUP_TEST_CATALOG_URL, reached through the libpq the catalog loads
 * (pqload.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "catalog_fixture.h"
#include "pqload.h"
#include "util/xmalloc.h"

const char *
tb_catalog_pg_url(void)
{
	const char *url = getenv("TISBACKUP_TEST_CATALOG_URL");

	return url != NULL && url[0] != '\0' ? url : NULL;
}

/* Server notices ("database does not exist, skipping") are noise here. */
static void
notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A connection to url, with dbname replacing its database when not NULL; fails the test. */
static PGconn *
pg_connect_to(const char *url, const char *dbname)
{
	const char *kw[] = { "dbname", "dbname", NULL };
	const char *val[] = { url, dbname, NULL };
	struct err err;
	PGconn *conn;

	err_clear(&err);
	if (pqload(&err) == -1)
		fail_msg("%s", err.msg);
	if (dbname == NULL)
		kw[1] = NULL;
	conn = PQconnectdbParams(kw, val, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		fail_msg("connecting to %s (database %s): %s", url, dbname != NULL ? dbname : "-",
		         conn != NULL ? PQerrorMessage(conn) : "out of memory");
	PQsetNoticeProcessor(conn, notice_ignore, NULL);
	return conn;
}

/* The database name of a postgresql://authority/DB?query URL, at *start for *len bytes. */
static void
url_dbname(const char *url, size_t *start, size_t *len)
{
	const char *p = strstr(url, "://");

	assert_non_null(p);
	p += 3;
	p += strcspn(p, "/?");
	if (*p == '/')
		p++;
	*start = (size_t)(p - url);
	*len = strcspn(p, "?#");
}

/* Run sql on conn; fails the test on error. */
static void
pg_exec_or_fail(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char *msg = xstrdup(PQerrorMessage(conn));

		PQclear(res);
		fail_msg("%s: %s", sql, msg);
	}
	PQclear(res);
}

char *
tb_catalog_new(const char *dir, const char *name)
{
	static unsigned counter;
	const char *url = tb_catalog_pg_url();
	char db[64], *sql, *address;
	size_t start, len;
	PGconn *conn;

	if (url == NULL)
		return xasprintf("%s/%s.sqlite", dir, name);
	snprintf(db, sizeof db, "tbunit_%ld_%u", (long)getpid(), counter++);
	conn = pg_connect_to(url, NULL);
	/* One statement each: CREATE DATABASE refuses to run inside a transaction. */
	sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	pg_exec_or_fail(conn, sql);
	free(sql);
	sql = xasprintf("CREATE DATABASE %s", db);
	pg_exec_or_fail(conn, sql);
	free(sql);
	PQfinish(conn);
	url_dbname(url, &start, &len);
	address = xasprintf("%.*s%s%s", (int)start, url, db, url + start + len);
	return address;
}

int
tb_catalog_drop(char *address)
{
	const char *url = tb_catalog_pg_url();
	PGconn *conn;
	PGresult *res;
	size_t start, len;
	char *sql;
	int rc = 0;

	if (address == NULL)
		return 0;
	if (url != NULL) {
		url_dbname(address, &start, &len);
		sql = xasprintf("DROP DATABASE IF EXISTS %.*s WITH (FORCE)", (int)len,
		                address + start);
		conn = pg_connect_to(url, NULL);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "# %s: %s", sql, PQerrorMessage(conn));
			rc = -1;
		}
		PQclear(res);
		PQfinish(conn);
		free(sql);
	}
	free(address);
	return rc;
}

/* A connection to the database of a tb_catalog_new() address. */
static PGconn *
pg_connect_address(const char *address)
{
	size_t start, len;
	char *db;
	PGconn *conn;

	url_dbname(address, &start, &len);
	db = xasprintf("%.*s", (int)len, address + start);
	conn = pg_connect_to(tb_catalog_pg_url(), db);
	free(db);
	return conn;
}

void
tb_catalog_exec(const char *address, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	PGconn *conn;

	if (tb_catalog_pg_url() != NULL) {
		conn = pg_connect_address(address);
		pg_exec_or_fail(conn, sql);
		PQfinish(conn);
		return;
	}
	assert_int_equal(sqlite3_open(address, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Append v to *res, '|' before all but the first. */
static void
join(char **res, int *first, const char *v)
{
	char *tmp = xasprintf("%s%s%s", *res, *first ? "" : "|", v != NULL ? v : "NULL");

	free(*res);
	*res = tmp;
	*first = 0;
}

char *
tb_catalog_query(const char *address, const char *sql)
{
	char *res = xstrdup("");
	int first = 1;
	sqlite3 *db;
	sqlite3_stmt *st;

	if (tb_catalog_pg_url() != NULL) {
		PGconn *conn = pg_connect_address(address);
		PGresult *r = PQexec(conn, sql);

		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			char *msg = xstrdup(PQerrorMessage(conn));

			PQclear(r);
			fail_msg("%s: %s", sql, msg);
		}
		for (int i = 0; i < PQntuples(r); i++)
			join(&res, &first, PQgetisnull(r, i, 0) ? NULL : PQgetvalue(r, i, 0));
		PQclear(r);
		PQfinish(conn);
		return res;
	}
	assert_int_equal(sqlite3_open(address, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW)
		join(&res, &first, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return res;
}
