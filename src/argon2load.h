/*
 * libargon2, loaded on first use. Only the web server's logins and the
 * web user commands (useradd, passwd) hash passwords; every other process
 * (checknagios, backup...) starts without mapping it.
 *
 * web/auth.c calls libargon2 by its own names: below the table each name
 * is a macro for the table's pointer, type-checked against <argon2.h>.
 * Call argon2load() before the first one.
 */
#ifndef TB_ARGON2LOAD_H
#define TB_ARGON2LOAD_H

#include <argon2.h>

#include "util/err.h"

/* The functions of libargon2 web/auth.c calls, with libargon2's own types. */
struct argon2_api {
	__typeof__(&argon2_encodedlen) encodedlen;
	__typeof__(&argon2_error_message) error_message;
	__typeof__(&argon2id_hash_encoded) id_hash_encoded;
	__typeof__(&argon2id_hash_raw) id_hash_raw;
	__typeof__(&argon2id_verify) id_verify;
};

/* Filled by argon2load(); read only after it returned 0. */
extern struct argon2_api argon2_api;

/*
 * Open libargon2 (libargon2.so.1) once per process and resolve
 * argon2_api. Thread-safe. 0, or -1 + err "cannot load libargon2 (tried
 * libargon2.so.1): install the package libargon2-1" (every later call
 * says the same).
 */
int argon2load(struct err *err);

#define argon2_encodedlen (argon2_api.encodedlen)
#define argon2_error_message (argon2_api.error_message)
#define argon2id_hash_encoded (argon2_api.id_hash_encoded)
#define argon2id_hash_raw (argon2_api.id_hash_raw)
#define argon2id_verify (argon2_api.id_verify)

#endif
