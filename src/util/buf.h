/*
 * Growable byte buffers with a hard limit (like curl's dynbuf): appending
 * past the limit fails instead of growing without bound. Contents are
 * always NUL-terminated.
 */
#ifndef TB_BUF_H
#define TB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t limit; /* maximum len; appends beyond it return -1 */
};

/* Start empty with the given hard limit in bytes. */
void buf_init(struct buf *b, size_t limit);
/* Release the storage; the buffer may be reused after buf_init(). */
void buf_free(struct buf *b);
/* Empty the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/* Append n bytes; returns -1 (and appends nothing) if limit would be passed. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Contents as a C string ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);
/* Hand the storage to the caller (who frees it) and leave b empty. */
char *buf_steal(struct buf *b);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);

#endif
