/*
 * Lazy loading of zlib (see zload.h): opened by dynlib_lazy_load() the
 * first time a gzip stream is written or read.
 */
#include <stddef.h>

#include "util/dynlib.h"
#include "zload.h"

struct zlib_api zlib_api;

static const char *const names[] = { "libz.so.1", NULL };
/* The names are spelled out: zload.h made each one a macro. */
static const struct dynsym syms[] = {
	{ "deflate", &zlib_api.deflate_fn },
	{ "deflateBound", &zlib_api.deflate_bound },
	{ "deflateEnd", &zlib_api.deflate_end },
	{ "deflateInit2_", &zlib_api.deflate_init2 },
	{ "gzbuffer", &zlib_api.gz_buffer },
	{ "gzclose", &zlib_api.gz_close },
	{ "gzdirect", &zlib_api.gz_direct },
	{ "gzdopen", &zlib_api.gz_dopen },
	{ "gzerror", &zlib_api.gz_error },
	{ "gzopen64", &zlib_api.gz_open }, /* <zlib.h> renames gzopen with 64-bit offsets */
	{ "gzread", &zlib_api.gz_read },
	{ "inflate", &zlib_api.inflate_fn },
	{ "inflateEnd", &zlib_api.inflate_end },
	{ "inflateInit2_", &zlib_api.inflate_init2 },
	{ "inflateReset", &zlib_api.inflate_reset },
	{ NULL, NULL },
};

static struct dynlib_lazy lib = DYNLIB_LAZY_INIT("zlib", "the package zlib1g", names, syms, NULL);

int
zload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
