/*
 * redis:// URLs, parsed the way redis-cli reads its -u argument:
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]     HOST may be [IPv6]
 *
 * USER and PASSWORD are percent-decoded (%40 is '@', %2F is '/'). The
 * user information ends at the last '@', so a password may also hold a
 * raw '@' or '/'. An empty USER means the default user (one-argument AUTH).
 * Unlike redis-cli, a port or database number that is not a number in range
 * is an error, not atoi()'s guess. Kept apart from queue_redis.c so the
 * configuration validator and the unit tests reach it without a server.
 */
#ifndef TB_REDIS_URL_H
#define TB_REDIS_URL_H

#include "util/err.h"

struct redis_url {
	char *host;     /* owned; never empty */
	int port;       /* 1..65535, default 6379 */
	int db;         /* >= 0, default 0 */
	char *user;     /* owned; NULL: the default user (AUTH PASSWORD) */
	char *password; /* owned; NULL: no AUTH */
};

/* Parse url into *u (fields owned by u, release with redis_url_free()).
 * Returns 0, or -1 with err set to a reason such as "bad port 'x'" that
 * never contains the password; on -1 *u holds nothing to free. */
int redis_url_parse(const char *url, struct redis_url *u, struct err *err);

/* Free the fields of u (not u itself); safe on a zeroed struct. */
void redis_url_free(struct redis_url *u);

/* url for messages, its password (if any) replaced by "***". Caller frees. */
char *redis_url_redact(const char *url);

#endif
