/*
 * Lazy loading of libnettle (see nettleload.h): opened by
 * dynlib_lazy_load() the first time a caller asks.
 */
#include <stddef.h>

#include "nettleload.h"
#include "util/dynlib.h"

struct nettle_api nettle_api;

static const char *const names[] = { "libnettle.so.8", NULL };
static const struct dynsym syms[] = {
	{ "nettle_sha1_init", &nettle_api.h_sha1_init },
	{ "nettle_sha1_update", &nettle_api.h_sha1_update },
	{ "nettle_sha1_digest", &nettle_api.h_sha1_digest },
	{ "nettle_sha256_init", &nettle_api.h_sha256_init },
	{ "nettle_sha256_update", &nettle_api.h_sha256_update },
	{ "nettle_sha256_digest", &nettle_api.h_sha256_digest },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libnettle", "the package libnettle8", names, syms, NULL);

int
nettleload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
