/*
 * Lazy loading of libzstd (see zstdload.h): opened by dynlib_lazy_load()
 * the first time a caller asks.
 */
#include <stddef.h>

#include "util/dynlib.h"
#include "zstdload.h"

struct zstd_api zstd_api;

static const char *const names[] = { "libzstd.so.1", NULL };
static const struct dynsym syms[] = {
	{ "ZSTD_createDStream", &zstd_api.create_dstream },
	{ "ZSTD_decompressStream", &zstd_api.decompress_stream },
	{ "ZSTD_freeDStream", &zstd_api.free_dstream },
	{ "ZSTD_getErrorName", &zstd_api.get_error_name },
	{ "ZSTD_initDStream", &zstd_api.init_dstream },
	{ "ZSTD_isError", &zstd_api.is_error },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libzstd", "the package libzstd1", names, syms, NULL);

int
zstdload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
