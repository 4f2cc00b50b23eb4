/*
 * Fuzz the HTTP Basic header decoder (auth_basic_decode), which reads
 * attacker input: any bytes (as a C string) are decoded or refused,
 * never overrun the buffers, and what is decoded is re-encodable: the
 * user holds no colon and neither part holds a NUL byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"
#include "web/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = xmalloc(size + 1);
	char user[65], pass[AUTH_BASIC_MAX];
	/* small buffers too, so the length checks are exercised */
	char su[4], sp[4];

	memcpy(header, data, size);
	header[size] = '\0';
	if (auth_basic_decode(header, user, sizeof user, pass, sizeof pass) == 0) {
		if (strchr(user, ':') != NULL || strlen(user) >= sizeof user ||
		    strlen(pass) >= sizeof pass)
			abort();
	}
	if (auth_basic_decode(header, su, sizeof su, sp, sizeof sp) == 0) {
		if (strlen(su) > 3 || strlen(sp) > 3)
			abort();
	}
	free(header);
	return 0;
}
