/*
 * Error objects: a fallible function returns -1 and fills a struct err;
 * each caller prepends what it knows with err_wrap(), so the final message
 * reads outermost context first, like a backtrace. The job boundary logs
 * it once and stores it in the catalog.
 */
#ifndef TB_ERR_H
#define TB_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 4096

struct err {
	char msg[ERR_MSG_MAX];
	int code; /* optional machine-readable cause; 0 when unset */
};

/* Reset to "no error". */
void err_clear(struct err *e);
/* Replace the message. Safe with e == NULL (the message is dropped). */
void err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replace the message, appending ": strerror(errnum)". */
void err_sys(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepend context: "context: previous message". */
void err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append a line (used by validators that report several problems at once). */
void err_append_line(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True once a message has been set. */
int err_isset(const struct err *e);

#endif
