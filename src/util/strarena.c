/*
 * The string arena (strarena.h): a chain of blocks, each filled from the
 * start; only the newest block takes new strings.
 */
#include "util/strarena.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define STRARENA_MIN 4096 /* the smallest block: one page */

struct strarena_block {
	struct strarena_block *prev;
	size_t size, used;
	char data[];
};

void
strarena_init(struct strarena *a, size_t first)
{
	a->head = NULL;
	a->next_size = first < STRARENA_MIN ? STRARENA_MIN : first;
	a->last = NULL;
}

void
strarena_free(struct strarena *a)
{
	while (a->head != NULL) {
		struct strarena_block *b = a->head;

		a->head = b->prev;
		free(b);
	}
	a->last = NULL;
}

/* n bytes at the end of the newest block, a new block when it lacks them. */
static char *
take(struct strarena *a, size_t n)
{
	struct strarena_block *b = a->head;

	if (b == NULL || b->size - b->used < n) {
		size_t size = a->next_size > n ? a->next_size : n;

		b = xmalloc(sizeof *b + size);
		b->prev = a->head;
		b->size = size;
		b->used = 0;
		a->head = b;
		a->next_size = 2 * size; /* a few blocks however much is asked */
	}
	b->used += n;
	return b->data + b->used - n;
}

char *
strarena_ndup(struct strarena *a, const char *s, size_t n)
{
	char *p = take(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	a->last = p;
	return p;
}

char *
strarena_grow(struct strarena *a, char *str, size_t len, size_t more)
{
	struct strarena_block *b = a->head;
	char *p;

	assert(str != NULL && str == a->last);
	/* str + len + 1 is the block's end: the NUL goes, more + 1 come. */
	if (str + len + 1 == b->data + b->used && b->size - b->used >= more) {
		b->used += more;
		return str;
	}
	p = take(a, len + more + 1);
	memcpy(p, str, len);
	a->last = p;
	return p;
}
