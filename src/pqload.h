/*
 * libpq, loaded on first use. Only a PostgreSQL catalog ([catalog] url =
 * postgresql://...) needs it; every other process (checknagios on the
 * SQLite catalog, backup, serve...) starts without mapping libpq and what
 * it pulls in (OpenSSL, Kerberos, LDAP, SASL: about a third of the
 * dynamic linker's work at start when they were linked).
 *
 * catalog_pg.c calls libpq by its own names: below the table, each name is
 * a macro for the table's pointer, so the calls read as libpq's and are
 * type-checked against <libpq-fe.h>. Call pqload() before the first one.
 */
#ifndef TB_PQLOAD_H
#define TB_PQLOAD_H

#include <libpq-fe.h>

#include "util/err.h"

/* The functions of libpq catalog_pg.c calls, with libpq's own types. */
struct pq_api {
	__typeof__(&PQclear) clear;
	__typeof__(&PQcmdTuples) cmd_tuples;
	__typeof__(&PQconnectdbParams) connectdb_params;
	__typeof__(&PQconninfoFree) conninfo_free;
	__typeof__(&PQconninfoParse) conninfo_parse;
	__typeof__(&PQerrorMessage) error_message;
	__typeof__(&PQexec) exec;
	__typeof__(&PQexecParams) exec_params;
	__typeof__(&PQfinish) finish;
	__typeof__(&PQfreemem) freemem;
	__typeof__(&PQgetisnull) getisnull;
	__typeof__(&PQgetvalue) getvalue;
	__typeof__(&PQntuples) ntuples;
	__typeof__(&PQresultStatus) result_status;
	__typeof__(&PQsetNoticeProcessor) set_notice_processor;
	__typeof__(&PQstatus) status;
};

/* Filled by pqload(); read only after it returned 0. */
extern struct pq_api pq_api;

/*
 * Open libpq (libpq.so.5) once per process and resolve pq_api.
 * Thread-safe. 0, or -1 + err "cannot load libpq (tried libpq.so.5):
 * install the package libpq5" (every later call says the same).
 */
int pqload(struct err *err);

#define PQclear (pq_api.clear)
#define PQcmdTuples (pq_api.cmd_tuples)
#define PQconnectdbParams (pq_api.connectdb_params)
#define PQconninfoFree (pq_api.conninfo_free)
#define PQconninfoParse (pq_api.conninfo_parse)
#define PQerrorMessage (pq_api.error_message)
#define PQexec (pq_api.exec)
#define PQexecParams (pq_api.exec_params)
#define PQfinish (pq_api.finish)
#define PQfreemem (pq_api.freemem)
#define PQgetisnull (pq_api.getisnull)
#define PQgetvalue (pq_api.getvalue)
#define PQntuples (pq_api.ntuples)
#define PQresultStatus (pq_api.result_status)
#define PQsetNoticeProcessor (pq_api.set_notice_processor)
#define PQstatus (pq_api.status)

#endif
