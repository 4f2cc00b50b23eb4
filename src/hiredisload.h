/*
 * libhiredis, loaded on first use. Only the Redis queue ([queue]
 * redis_url) needs it; every other process (checknagios, backup on the
 * SQLite queue...) starts without mapping it.
 *
 * queue_redis.c calls hiredis by its own names: below the table each name
 * is a macro for the table's pointer, type-checked against
 * <hiredis/hiredis.h>. Call hiredisload() before the first one.
 */
#ifndef TB_HIREDISLOAD_H
#define TB_HIREDISLOAD_H

#include <hiredis/hiredis.h>

#include "util/err.h"

/* The functions of hiredis queue_redis.c calls, with hiredis's own types. */
struct hiredis_api {
	__typeof__(&freeReplyObject) free_reply_object;
	__typeof__(&redisAppendCommand) append_command;
	__typeof__(&redisCommandArgv) command_argv;
	__typeof__(&redisConnectWithTimeout) connect_with_timeout;
	__typeof__(&redisFree) free;
	__typeof__(&redisGetReply) get_reply;
	__typeof__(&redisSetTimeout) set_timeout;
};

/* Filled by hiredisload(); read only after it returned 0. */
extern struct hiredis_api hiredis_api;

/*
 * Open libhiredis once per process and resolve hiredis_api. Thread-safe.
 * 0, or -1 + err "cannot load libhiredis (tried ...): install the package
 * libhiredis0.14" (every later call says the same).
 */
int hiredisload(struct err *err);

#define freeReplyObject (hiredis_api.free_reply_object)
#define redisAppendCommand (hiredis_api.append_command)
#define redisCommandArgv (hiredis_api.command_argv)
#define redisConnectWithTimeout (hiredis_api.connect_with_timeout)
#define redisFree (hiredis_api.free)
#define redisGetReply (hiredis_api.get_reply)
#define redisSetTimeout (hiredis_api.set_timeout)

#endif
