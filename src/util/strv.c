/*
 * String vectors (see strv.h).
 */
#include "util/strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

void
strv_init(struct strv *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
}

void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	strv_init(s);
}

static void
strv_take(struct strv *s, char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void
strv_push(struct strv *s, const char *str)
{
	strv_take(s, xstrdup(str));
}

void
strv_pushf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		p = NULL;
	va_end(ap);
	if (p == NULL) {
		fprintf(stderr, "tisbackup: out of memory\n");
		abort();
	}
	strv_take(s, p);
}

void
strv_pushv(struct strv *s, const char *const *v)
{
	for (; v != NULL && *v != NULL; v++)
		strv_push(s, *v);
}

char *const *
strv_argv(struct strv *s)
{
	static char *empty[1] = { NULL };

	return s->v != NULL ? s->v : empty;
}

int
strv_contains(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return 1;
	return 0;
}
