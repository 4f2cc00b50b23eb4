/*
 * Allocation wrappers that abort on out-of-memory, so callers never carry
 * an error path for a condition they cannot recover from.
 */
#ifndef TB_XMALLOC_H
#define TB_XMALLOC_H

#include <stddef.h>

/* Each returns memory the caller owns and frees with free(3); never NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a freshly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
