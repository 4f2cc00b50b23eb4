/*
 * Fuzz the redis:// URL parser: it reads [queue] redis_url from an admin's
 * file, and its messages reach logs, so any input must be accepted or
 * rejected cleanly, an accepted URL must give a host and a port in range,
 * and neither a rejection nor the redacted form may show the password.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *red;
	struct redis_url u;
	struct err err;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	err_clear(&err);
	if (redis_url_parse(s, &u, &err) == 0) {
		if (u.host == NULL || u.host[0] == '\0' || u.port < 1 || u.port > 65535 || u.db < 0)
			abort();
		if (u.user != NULL && u.password == NULL)
			abort();
		red = redis_url_redact(s);
		if (u.password != NULL) {
			/* "SCHEME[USER:]***@HOST...": what stood between the user
			 * name and the last '@' (the password) is gone. */
			const char *at = strrchr(s, '@'), *colon = strchr(s + 8, ':');
			size_t tail = strlen(at),
			       keep = colon != NULL && colon < at ? (size_t)(colon + 1 - s) : 8;

			if (strlen(red) != keep + 3 + tail || memcmp(red, s, keep) != 0 ||
			    memcmp(red + keep, "***", 3) != 0 || strcmp(red + keep + 3, at) != 0)
				abort();
		}
		free(red);
		redis_url_free(&u);
	} else if (err.msg[0] == '\0' || u.host != NULL || u.password != NULL) {
		abort();
	}
	free(s);
	return 0;
}
