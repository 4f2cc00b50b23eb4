/*
 * Lazy loading of libargon2 (see argon2load.h): opened by
 * dynlib_lazy_load() the first time a password is hashed or checked.
 */
#include <stddef.h>

#include "argon2load.h"
#include "util/dynlib.h"

struct argon2_api argon2_api;

static const char *const names[] = { "libargon2.so.1", NULL };
static const struct dynsym syms[] = {
	{ "argon2_encodedlen", &argon2_api.encodedlen },
	{ "argon2_error_message", &argon2_api.error_message },
	{ "argon2id_hash_encoded", &argon2_api.id_hash_encoded },
	{ "argon2id_hash_raw", &argon2_api.id_hash_raw },
	{ "argon2id_verify", &argon2_api.id_verify },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libargon2", "the package libargon2-1", names, syms, NULL);

int
argon2load(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
