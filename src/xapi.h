/*
 * A XAPI client (XCP-ng / XenServer): XML-RPC over the project's HTTP
 * client (http.h, libcurl loaded on first use), parsed with libxml2
 * (xml.h, loaded on first use), for the xen-xva and copy-vm-xcp drivers.
 *
 * - Login with session.login_with_password(user, password, "1.0",
 *   "tisbackup"); the password comes from a password_file (two lines, read
 *   strictly, 0600) and travels only in the body of that request (over TLS
 *   by default): never in an argv, a URL or a message.
 * - HOST_IS_SLAVE [master]: every later request, RPC and /export, goes to
 *   the master (once only).
 * - SESSION_INVALID: one new login, then the call is retried once.
 * - Each call has its own timeout (call_timeout); long operations go
 *   through Async.* and a task polled until it ends (xapi_task_wait), with
 *   the run's watchdog (stall, max_runtime, signals) and task.cancel when
 *   it fires.
 * - xapi_close() logs out (in every outcome: call it on every path).
 *
 * Values of responses are trees of struct xv: xapi sends strings untyped
 * (<value>text</value>), int64 values as strings, booleans as <boolean>.
 */
#ifndef TB_XAPI_H
#define TB_XAPI_H

#include <stddef.h>

#include "util/err.h"

struct progress;
struct http_client;

/* err->code of a XAPI Failure (the server refused the call). */
#define XAPI_ERR_FAILURE 100

enum xv_type {
	XV_STR,    /* string, int, double, dateTime, base64: the text */
	XV_BOOL,   /* s is "0" or "1" */
	XV_ARRAY,  /* items[0..n) */
	XV_STRUCT, /* names[i] -> items[i] */
	XV_NIL,
};

/* One XML-RPC value. Everything below it is owned by it (xv_free). */
struct xv {
	enum xv_type type;
	char *s; /* scalars: the text ("" when empty) */
	size_t n;
	struct xv *items;
	char **names;
};

/* Release v's contents and v itself (from xapi_response_parse or a call). NULL is a no-op. */
void xv_free(struct xv *v);
/* The member name of a struct, or NULL (also when v is NULL or not a struct). */
const struct xv *xv_get(const struct xv *v, const char *name);
/* The text of a scalar, or NULL (v NULL or not a scalar). */
const char *xv_str(const struct xv *v);
/* The text of member name of a struct, or "" when absent or not a scalar. */
const char *xv_member_str(const struct xv *v, const char *name);
/* A boolean scalar ("1"/"true") as 1, else 0. */
int xv_true(const struct xv *v);

/*
 * Parse an XML-RPC methodResponse as xapi sends it: a struct with Status
 * "Success" and Value, or Status "Failure" and ErrorDescription (an array
 * of strings). Returns 0 with *value (the Value; free with xv_free), or -1:
 * a Failure (err->code XAPI_ERR_FAILURE, the message "CODE arg, arg...",
 * *value the ErrorDescription array) or a malformed response (err->code 0,
 * *value NULL). Depth and size are bounded. libxml2 is loaded on first use.
 */
int xapi_response_parse(const char *data, size_t len, struct xv **value, struct err *err);

struct xapi_opts {
	const char *host;          /* "host" or "host:port" (xcphost / server_name) */
	const char *password_file; /* "USER\nPASSWORD", 0600 */
	const char *ca_file;       /* PEM CA or self-signed certificate; NULL: system CAs */
	const char *pin;           /* SHA-256 of the server's key (http_opts.pin); NULL: none */
	int insecure;              /* 1: no TLS verification (ssl_verify = no) */
	int plain_http;            /* 1: XML-RPC over http:// (tests, port 80 pools) */
	int no_proxy;              /* 1: ignore the proxy environment */
	long call_timeout;         /* seconds per call; 0 means 300 */
	const char *log_section;   /* the job name for log lines */
};

struct xapi;

/*
 * Read the password file, make the HTTP client and log in (following one
 * HOST_IS_SLAVE). 0 and *out (close with xapi_close()), or -1 + err:
 * "XAPI login as USER refused (SESSION_AUTHENTICATION_FAILED)", the
 * password file's problem, the transport's. Nothing to close on failure.
 */
int xapi_open(const struct xapi_opts *o, struct xapi **out, struct err *err);

/*
 * session.logout (a failure is logged as a warning) and release x, the
 * password wiped. NULL is a no-op.
 */
void xapi_close(struct xapi *x);

/*
 * Call method with the session as first argument, then the arguments
 * described by fmt, one character each: 's' a string (const char *),
 * 'b' a boolean (int), 'v' a value (const struct xv *). 0 with *result
 * (may be NULL when the caller does not want it; free with xv_free), or
 * -1 + err ("METHOD: CODE args" for a Failure, err->code
 * XAPI_ERR_FAILURE, the description kept for xapi_failed()).
 */
int xapi_call(struct xapi *x, struct xv **result, struct err *err, const char *method,
              const char *fmt, ...);

/* 1 if the last failed call's ErrorDescription starts with code. */
int xapi_failed(const struct xapi *x, const char *code);

/*
 * Wait for task to end, polling task.get_record (every 0.1 s at first,
 * then up to every 2 s). A changing task progress feeds run (when not
 * NULL) as progress; run's stall, deadline or interrupt, a terminating
 * signal, or timeout_sec (0: none) cancel the task (task.cancel) and fail.
 * 0 when the task succeeded, with *result (may be NULL) its result's text
 * (a ref for Async.VM.snapshot, the first VM of an /import's set of refs;
 * malloc()ed), or -1 + err (a failed task:
 * "CODE args" of its error_info, err->code XAPI_ERR_FAILURE).
 */
int xapi_task_wait(struct xapi *x, const char *task, struct progress *run, long timeout_sec,
                   char **result, struct err *err);

/*
 * Call "Async." + method (fmt and arguments as xapi_call), wait for its
 * task (xapi_task_wait), destroy the task. 0 with *result (may be NULL,
 * malloc()ed), or -1 + err prefixed with method.
 */
int xapi_async(struct xapi *x, struct progress *run, long timeout_sec, char **result,
               struct err *err, const char *method, const char *fmt, ...);

/*
 * Destroy VM vm (a snapshot, or a copy): VDI.destroy for each VBD's VDI
 * that is not NULL and not a CD (a CD's VDI is a shared ISO), then
 * VM.destroy. VDI_IN_USE or OTHER_OPERATION_IN_PROGRESS is retried once
 * after 10 s. 0, or -1 + err.
 */
int xapi_vm_destroy(struct xapi *x, const char *vm, struct err *err);

/* The session reference (for /export's session_id). Owned by x. */
const char *xapi_session(const struct xapi *x);
/* The host requests go to now ("host" or "host:port", the master after HOST_IS_SLAVE). */
const char *xapi_host(const struct xapi *x);
/* The user name of the password file. */
const char *xapi_user(const struct xapi *x);

/*
 * A new http_client with the TLS and proxy options of x (for the export
 * stream and a poller thread). 0 and *out (http_client_free), or -1 + err.
 */
int xapi_http_client(const struct xapi *x, struct http_client **out, struct err *err);

/*
 * A second XAPI connection on the same session (a poller thread's: a
 * client is used by one thread at a time). Not logged in or out itself.
 * 0 and *out (xapi_close() releases it without logging out), or -1 + err.
 */
int xapi_clone(const struct xapi *x, struct xapi **out, struct err *err);

/* Append s to out percent-encoded for a URL query value. -1 when out's limit is reached. */
struct buf;
int xapi_url_escape(struct buf *out, const char *s);

#endif
