/*
 * libzstd's stream decoder, loaded on first use. Only the XVA checker
 * (xva_verify.c) meets zstd, in a zstd-compressed export; every other
 * process starts without mapping libzstd.
 *
 * xva_verify.c calls libzstd by its own names: below the table each name
 * is a macro for the table's pointer, type-checked against <zstd.h>.
 * Call zstdload() before the first one.
 */
#ifndef TB_ZSTDLOAD_H
#define TB_ZSTDLOAD_H

#include <zstd.h>

#include "util/err.h"

/* The functions of libzstd xva_verify.c calls, with libzstd's own types. */
struct zstd_api {
	__typeof__(&ZSTD_createDStream) create_dstream;
	__typeof__(&ZSTD_decompressStream) decompress_stream;
	__typeof__(&ZSTD_freeDStream) free_dstream;
	__typeof__(&ZSTD_getErrorName) get_error_name;
	__typeof__(&ZSTD_initDStream) init_dstream;
	__typeof__(&ZSTD_isError) is_error;
};

/* Filled by zstdload(); read only after it returned 0. */
extern struct zstd_api zstd_api;

/*
 * Open libzstd once per process (thread-safe). 0, or -1 + err naming the
 * library and the package to install (the same message on every call).
 */
int zstdload(struct err *err);

#define ZSTD_createDStream (zstd_api.create_dstream)
#define ZSTD_decompressStream (zstd_api.decompress_stream)
#define ZSTD_freeDStream (zstd_api.free_dstream)
#define ZSTD_getErrorName (zstd_api.get_error_name)
#define ZSTD_initDStream (zstd_api.init_dstream)
#define ZSTD_isError (zstd_api.is_error)

#endif
