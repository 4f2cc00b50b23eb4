/*
 * Error objects with context chaining (see err.h). Messages are truncated,
 * never overflowed, at ERR_MSG_MAX.
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
err_clear(struct err *e)
{
	if (e == NULL)
		return;
	e->msg[0] = '\0';
	e->code = 0;
}

void
err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

void
err_sys(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
}

void
err_wrap(struct err *e, const char *fmt, ...)
{
	char old[ERR_MSG_MAX];
	va_list ap;
	size_t n;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (old[0] == '\0')
		return;
	n = strlen(e->msg);
	if (n + 2 < sizeof e->msg) {
		memcpy(e->msg + n, ": ", 3);
		n += 2;
	}
	/* Copy what fits of the previous message, always terminated. */
	size_t room = sizeof e->msg - n - 1, len = strlen(old);

	if (len > room)
		len = room;
	memcpy(e->msg + n, old, len);
	e->msg[n + len] = '\0';
}

void
err_append_line(struct err *e, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (e == NULL)
		return;
	n = strlen(e->msg);
	if (n > 0 && n + 1 < sizeof e->msg)
		e->msg[n++] = '\n';
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
	va_end(ap);
}

int
err_isset(const struct err *e)
{
	return e != NULL && e->msg[0] != '\0';
}
