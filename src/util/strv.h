/*
 * NULL-terminated string vectors: the argv builder every spawned command is
 * made with, so no command line is ever assembled as one string.
 */
#ifndef TB_STRV_H
#define TB_STRV_H

#include <stddef.h>

struct strv {
	char **v; /* owned, NULL-terminated (v[n] == NULL once non-empty) */
	size_t n;
	size_t cap;
};

void strv_init(struct strv *s);
void strv_free(struct strv *s);
/* Append a copy of str. */
void strv_push(struct strv *s, const char *str);
/* Append a formatted string. */
void strv_pushf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append every element of a NULL-terminated array. */
void strv_pushv(struct strv *s, const char *const *v);
/* The NULL-terminated array (never NULL itself); owned by s. */
char *const *strv_argv(struct strv *s);
/* 1 if an element equals str. */
int strv_contains(const struct strv *s, const char *str);

#endif
