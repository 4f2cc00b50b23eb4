/*
 * Fuzz the stamp and ISO timestamp parsers: they read catalog rows and
 * folder names written by anyone, so any input must be accepted or
 * rejected cleanly, and what is accepted must format back sensibly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char out[TIME_ISO_LEN + 1];
	struct timeval tv;
	time_t t;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (time_parse_iso(s, &tv) == 0) {
		if (tv.tv_usec < 0 || tv.tv_usec > 999999)
			abort();
		time_iso(&tv, out);
		if (strlen(out) != TIME_ISO_LEN)
			abort();
	}
	if (time_parse_stamp(s, &t) == 0) {
		time_stamp(t, out);
		if (strlen(out) != TIME_STAMP_LEN)
			abort();
	}
	free(s);
	return 0;
}
