/*
 * Allocation wrappers that abort on out-of-memory, so callers never carry
 * an error path for a condition they cannot recover from.
 */
#ifndef TB_XMALLOC_H
#define TB_XMALLOC_H

#include <stddef.h>

#define XMALLOC_NONNULL __attribute__((returns_nonnull, warn_unused_result))

/* Each returns memory the caller owns and frees with free(3); never NULL. */
void *xmalloc(size_t n) XMALLOC_NONNULL;
void *xcalloc(size_t nmemb, size_t size) XMALLOC_NONNULL;
void *xrealloc(void *p, size_t n) XMALLOC_NONNULL;
char *xstrdup(const char *s) XMALLOC_NONNULL;
char *xstrndup(const char *s, size_t n) XMALLOC_NONNULL;
/* printf into a freshly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))) XMALLOC_NONNULL;

#endif
