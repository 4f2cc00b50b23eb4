/*
 * Lazy loading of libpq (see pqload.h): dynlib_open() once per process
 * under pthread_once().
 */
#include <pthread.h>
#include <stddef.h>

#include "pqload.h"
#include "util/dynlib.h"

struct pq_api pq_api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static struct err failure;

static void
load(void)
{
	static const char *const names[] = { "libpq.so.5", NULL };
	const struct dynsym syms[] = {
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

	if (dynlib_open("libpq", "the package libpq5", names, syms, &failure) == 0)
		loaded = 1;
}

int
pqload(struct err *err)
{
	pthread_once(&once, load);
	if (!loaded) {
		err_set(err, "%s", failure.msg);
		return -1;
	}
	return 0;
}
