/*
 * zlib, loaded on first use. Only the dump files (gzip written and
 * checked), restores and verifies of dumps, XVA checks and the web
 * server's gzipped answers use it; every other process (checknagios above
 * all) starts without mapping it.
 *
 * The callers use zlib by its own names: below the table each name is a
 * macro for the table's pointer, type-checked against <zlib.h> (whose
 * deflateInit2() and inflateInit2() macros call deflateInit2_() and
 * inflateInit2_(), so those go through the table too). Call zload()
 * before the first one.
 */
#ifndef TB_ZLOAD_H
#define TB_ZLOAD_H

#include <zlib.h>

#include "util/err.h"

/* The functions of zlib this program calls, with zlib's own types. */
struct zlib_api {
	__typeof__(&deflate) deflate_fn;
	__typeof__(&deflateBound) deflate_bound;
	__typeof__(&deflateEnd) deflate_end;
	__typeof__(&deflateInit2_) deflate_init2;
	__typeof__(&gzbuffer) gz_buffer;
	__typeof__(&gzclose) gz_close;
	__typeof__(&gzdirect) gz_direct;
	__typeof__(&gzdopen) gz_dopen;
	__typeof__(&gzerror) gz_error;
	__typeof__(&gzopen) gz_open;
	__typeof__(&gzread) gz_read;
	__typeof__(&inflate) inflate_fn;
	__typeof__(&inflateEnd) inflate_end;
	__typeof__(&inflateInit2_) inflate_init2;
	__typeof__(&inflateReset) inflate_reset;
};

/* Filled by zload(); read only after it returned 0. */
extern struct zlib_api zlib_api;

/*
 * Open zlib (libz.so.1) once per process and resolve zlib_api.
 * Thread-safe. 0, or -1 + err "cannot load zlib (tried libz.so.1):
 * install the package zlib1g" (every later call says the same).
 */
int zload(struct err *err);

#define deflate (zlib_api.deflate_fn)
#define deflateBound (zlib_api.deflate_bound)
#define deflateEnd (zlib_api.deflate_end)
#define deflateInit2_ (zlib_api.deflate_init2)
#define gzbuffer (zlib_api.gz_buffer)
#define gzclose (zlib_api.gz_close)
#define gzdirect (zlib_api.gz_direct)
#define gzdopen (zlib_api.gz_dopen)
#define gzerror (zlib_api.gz_error)
#undef gzopen /* <zlib.h>'s rename to gzopen64 (64-bit offsets): the table has it */
#define gzopen (zlib_api.gz_open)
#define gzread (zlib_api.gz_read)
#define inflate (zlib_api.inflate_fn)
#define inflateEnd (zlib_api.inflate_end)
#define inflateInit2_ (zlib_api.inflate_init2)
#define inflateReset (zlib_api.inflate_reset)

#endif
