/*
 * Fuzz the exclude_list parser: the original eval()ed this value as
 * Python, so it is the one configuration value most worth hammering. Any
 * input is accepted or rejected cleanly, a rejection leaves the output
 * alone, and accepted patterns survive a round trip through the quoted
 * form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exclude.h"
#include "util/buf.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Quote the patterns back into the list form. */
static char *
requote(const struct strv *pats)
{
	struct buf b;

	buf_init(&b, 1 << 24);
	for (size_t i = 0; i < pats->n; i++) {
		buf_puts(&b, i ? ",\"" : "\"");
		for (const char *p = pats->v[i]; *p != '\0'; p++) {
			if (*p == '\\' || *p == '"')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '\0');
	return buf_steal(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strv out, again;
	struct err err;
	char *s, *q;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	strv_init(&out);
	strv_push(&out, "sentinel");
	err_clear(&err);
	if (exclude_parse(s, &out, &err) == -1) {
		if (!err_isset(&err) || out.n != 1 || strcmp(out.v[0], "sentinel") != 0)
			abort();
		goto out;
	}
	if (err_isset(&err))
		abort();
	for (size_t i = 1; i < out.n; i++)
		if (out.v[i][0] == '\0')
			abort(); /* empty patterns are never produced */

	/* Round trip (without the sentinel). */
	free(out.v[0]);
	memmove(out.v, out.v + 1, out.n * sizeof *out.v);
	out.n--;
	q = requote(&out);
	strv_init(&again);
	if (exclude_parse(q, &again, &err) != 0 || again.n != out.n)
		abort();
	for (size_t i = 0; i < out.n; i++)
		if (strcmp(again.v[i], out.v[i]) != 0)
			abort();
	strv_free(&again);
	free(q);
out:
	strv_free(&out);
	free(s);
	return 0;
}
