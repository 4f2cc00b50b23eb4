/*
 * libnettle's SHA-1 and SHA-256, loaded on first use. Only verify of a
 * one-file backup (verify_onefile.c) and the XVA checker's .checksum
 * members (xva_verify.c) hash with them; every other process (checknagios
 * above all) starts without mapping libnettle and resolving its
 * relocations.
 *
 * The callers use nettle's own names (sha1_init, ... are macros of
 * <nettle/sha1.h> for nettle_sha1_init, ...): below the table each
 * nettle_ name is a macro for the table's pointer, so the calls read as
 * nettle's and are type-checked against its headers. Call nettleload()
 * before the first one.
 */
#ifndef TB_NETTLELOAD_H
#define TB_NETTLELOAD_H

#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "util/err.h"

/*
 * The functions of libnettle the callers use, with nettle's own types
 * (h_ names: sha1_init ... are nettle's macros).
 */
struct nettle_api {
	__typeof__(&nettle_sha1_init) h_sha1_init;
	__typeof__(&nettle_sha1_update) h_sha1_update;
	__typeof__(&nettle_sha1_digest) h_sha1_digest;
	__typeof__(&nettle_sha256_init) h_sha256_init;
	__typeof__(&nettle_sha256_update) h_sha256_update;
	__typeof__(&nettle_sha256_digest) h_sha256_digest;
};

/* Filled by nettleload(); read only after it returned 0. */
extern struct nettle_api nettle_api;

/*
 * Open libnettle once per process (thread-safe). 0, or -1 + err naming
 * the library and the package to install (the same message on every call).
 */
int nettleload(struct err *err);

#define nettle_sha1_init (nettle_api.h_sha1_init)
#define nettle_sha1_update (nettle_api.h_sha1_update)
#define nettle_sha1_digest (nettle_api.h_sha1_digest)
#define nettle_sha256_init (nettle_api.h_sha256_init)
#define nettle_sha256_update (nettle_api.h_sha256_update)
#define nettle_sha256_digest (nettle_api.h_sha256_digest)

#endif
