/*
 * Fuzz harness for web/form.c, the parsers of request input. The whole
 * input is a form body for form_get() (several names, whose values must
 * hold no NUL and never be longer than the body); as a string it goes
 * through form_unescape() (never longer, no NUL, "%00" kept) and
 * form_date() (any accepted date prints in the catalog's exact shape).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"
#include "web/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void
check_iso(const char *iso)
{
	CHECK(strlen(iso) == 19);
	for (size_t i = 0; i < 19; i++) {
		if (i == 4 || i == 7)
			CHECK(iso[i] == '-');
		else if (i == 10)
			CHECK(iso[i] == 'T');
		else if (i == 13 || i == 16)
			CHECK(iso[i] == ':');
		else
			CHECK(isdigit((unsigned char)iso[i]));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"username", "password", "next", "csrf_token", "a", ""
	};
	char *s = xmalloc(size + 1), iso[32];
	size_t n;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *v = form_get((const char *)data, size, names[i]);

		if (v != NULL)
			CHECK(strlen(v) <= size);
		free(v);
	}
	memcpy(s, data, size);
	s[size] = '\0';
	n = form_unescape(s);
	CHECK(n == strlen(s));
	CHECK(n <= size);
	memcpy(s, data, size);
	s[size] = '\0';
	for (int eod = 0; eod <= 1; eod++)
		if (form_date(s, eod, iso, sizeof iso) == 0)
			check_iso(iso);
	free(s);
	return 0;
}
