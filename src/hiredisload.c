/*
 * Lazy loading of libhiredis (see hiredisload.h): opened by
 * dynlib_lazy_load() the first time the Redis queue asks.
 */
#include <stddef.h>

#include "hiredisload.h"
#include "util/dynlib.h"

struct hiredis_api hiredis_api;

/* The soname of the headers built against: hiredis changes its ABI with its minor version. */
#define STR2(x) #x
#define STR(x) STR2(x)
static const char *const names[] = { "libhiredis.so." STR(HIREDIS_SONAME), NULL };
static const struct dynsym syms[] = {
	{ "freeReplyObject", &hiredis_api.free_reply_object },
	{ "redisAppendCommand", &hiredis_api.append_command },
	{ "redisCommandArgv", &hiredis_api.command_argv },
	{ "redisConnectWithTimeout", &hiredis_api.connect_with_timeout },
	{ "redisFree", &hiredis_api.free },
	{ "redisGetReply", &hiredis_api.get_reply },
	{ "redisSetTimeout", &hiredis_api.set_timeout },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libhiredis", "the package libhiredis" STR(HIREDIS_SONAME), names, syms, NULL);

int
hiredisload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
