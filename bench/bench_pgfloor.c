/*
 * The floor under a PostgreSQL catalog read (bench/bench_nagios.sh,
 * BENCH_PG=1): what one process pays before it reads a single row. It
 * loads libpq the way tisbackup does (pqload()), connects with the
 * connection string given, runs SELECT 1 and exits. Time it as a whole
 * process (bench_measure); the wall time is the connection's share of a
 * checknagios. The password, if any, comes from ~/.pgpass or PGPASSFILE,
 * as libpq reads them, never from argv.
 *
 * Usage: ninja -C build bench_pgfloor && build/bench_pgfloor CONNINFO
 * Exit 0 when SELECT 1 answered 1, else 1 with libpq's message.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "pqload.h"
#include "util/err.h"

int
main(int argc, char **argv)
{
	/* expand_dbname = 1: dbname holds the whole connection string. */
	const char *const kw[] = { "dbname", NULL };
	const char *vals[] = { NULL, NULL };
	struct err err;
	PGconn *conn;
	PGresult *res;
	int ok;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONNINFO\n", argv[0]);
		return 2;
	}
	err_clear(&err);
	if (pqload(&err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	vals[0] = argv[1];
	conn = PQconnectdbParams(kw, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s",
		        conn != NULL ? PQerrorMessage(conn) : "out of memory\n");
		PQfinish(conn);
		return 1;
	}
	res = PQexec(conn, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	     strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	if (!ok)
		fprintf(stderr, "SELECT 1: %s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return ok ? 0 : 1;
}
