/*
 * Lazy loading of libpq (see pqload.h): opened by dynlib_lazy_load() the
 * first time a caller asks.
 */
#include <stddef.h>

#include "pqload.h"
#include "util/dynlib.h"

struct pq_api pq_api;

static const char *const names[] = { "libpq.so.5", NULL };
static const struct dynsym syms[] = {
	{ "PQclear", &pq_api.clear },
	{ "PQcmdTuples", &pq_api.cmd_tuples },
	{ "PQconnectdbParams", &pq_api.connectdb_params },
	{ "PQconninfoFree", &pq_api.conninfo_free },
	{ "PQconninfoParse", &pq_api.conninfo_parse },
	{ "PQerrorMessage", &pq_api.error_message },
	{ "PQexec", &pq_api.exec },
	{ "PQexecParams", &pq_api.exec_params },
	{ "PQfinish", &pq_api.finish },
	{ "PQfreemem", &pq_api.freemem },
	{ "PQgetisnull", &pq_api.getisnull },
	{ "PQgetvalue", &pq_api.getvalue },
	{ "PQntuples", &pq_api.ntuples },
	{ "PQresultStatus", &pq_api.result_status },
	{ "PQsetNoticeProcessor", &pq_api.set_notice_processor },
	{ "PQstatus", &pq_api.status },
	{ NULL, NULL },
};

static struct dynlib_lazy lib = DYNLIB_LAZY_INIT("libpq", "the package libpq5", names, syms, NULL);

int
pqload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
