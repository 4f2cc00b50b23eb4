/*
 * Fuzz the users-file parser (auth_users_parse): any bytes are accepted
 * or refused with a message naming a line, never crash or leak, and what
 * is accepted holds only valid names, roles and argon2id-shaped hashes,
 * once each.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_users u;
	struct err err;

	err_clear(&err);
	if (auth_users_parse("fuzz", (const char *)data, size, &u, &err) == -1) {
		if (!err_isset(&err) || u.n != 0 || u.v != NULL ||
		    strncmp(err.msg, "fuzz:", 5) != 0)
			abort(); /* a failure always says where */
		return 0;
	}
	for (size_t i = 0; i < u.n; i++) {
		const struct auth_user *x = &u.v[i];

		if (!auth_user_name_ok(x->name) || strncmp(x->hash, "$argon2id$", 10) != 0 ||
		    (x->role != AUTH_ROLE_ADMIN && x->role != AUTH_ROLE_VIEWER) || x->line < 1 ||
		    strchr(x->hash, '\n') != NULL || strchr(x->hash, ':') != NULL)
			abort();
		if (auth_users_find(&u, x->name) != x)
			abort(); /* names are unique */
	}
	auth_users_free(&u);
	return 0;
}
