/*
 * An in-process HTTP(S) client on libcurl (loaded through curlload.c), for
 * drivers that talk to an API or download a disk image: XAPI's /export,
 * vSphere's SOAP and NFC, a switch's web form.
 *
 * - Bodies stream: a response goes to a sink callback as it arrives (or,
 *   without one, into a bounded buffer); an upload comes from a source
 *   callback (or a buffer).
 * - Each transfer feeds the run's progress object (progress.h): bytes
 *   moved reset its stall clock, and its stall limit, deadline and
 *   interrupt abort the transfer, as do SIGINT/SIGTERM (spawn.h).
 * - TLS is verified by default: against the system's CAs, or a CA file
 *   (a CA, or the server's own self-signed certificate), or a pinned
 *   public key. Verification is off only when asked for explicitly.
 * - Credentials come from a file, go to libcurl as options (Basic auth,
 *   never in the URL) and never into an error message: URLs in messages
 *   are masked (no user info, query values replaced by "…").
 * - Redirects are followed (up to 5) only to the same scheme, or from
 *   http to https; never from https to http. Credentials are not sent to
 *   another host.
 * - A status of 400 or more is an error carrying the server's own words
 *   (its reason phrase and the start of its body).
 * - The response headers of the final response are kept (a task id, the
 *   Content-Length).
 * - One client is one libcurl handle: its connection and (when asked)
 *   its cookies persist from one request to the next (a SOAP session).
 *   A client is used by one thread at a time.
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct progress;
struct http_client;

/* err->code of http_request() failures, for callers that branch on them. */
enum http_err {
	HTTP_ERR_TRANSPORT = 1, /* connection, TLS, protocol, redirect refused */
	HTTP_ERR_STATUS,        /* the server answered with status >= 400 */
	HTTP_ERR_SINK,          /* the sink or source callback failed */
	HTTP_ERR_ABORTED,       /* stall, deadline, interrupt or signal */
	HTTP_ERR_TOO_BIG,       /* a collected body passed max_body */
};

struct http_opts {
	/* PEM file of the CAs to trust, or the server's self-signed certificate. */
	const char *ca_file;
	/*
	 * Pin of the server's public key: SHA-256 of its SubjectPublicKeyInfo,
	 * as 64 hex digits (':' separators allowed) or in curl's form
	 * "sha256//BASE64" (several joined by ';'). When set, the pin replaces
	 * the CA check (a self-signed certificate passes if its key matches)
	 * and any other key is refused before a byte of the request is sent.
	 */
	const char *pin;
	int insecure; /* 1: no verification at all (an explicit ssl_verify = no) */
	/*
	 * Credentials file (0600, owned by us): "USER\nPASSWORD" (a final
	 * newline and a trailing '\r' on each line are allowed) or, when
	 * username is set, the password alone on its first line. NULL: none.
	 */
	const char *password_file;
	const char *username;
	int cookies;              /* 1: keep cookies across this client's requests */
	int no_proxy;             /* 1: ignore the proxy environment variables */
	long connect_timeout_sec; /* 0 means 30 */
};

/* A response body chunk: 0, or -1 + err to abort the transfer. */
typedef int (*http_sink_fn)(void *ctx, const void *data, size_t len, struct err *err);
/* Fill up to len bytes of an upload: bytes given, 0 at the end, -1 + err. */
typedef ssize_t (*http_source_fn)(void *ctx, void *buf, size_t len, struct err *err);

struct http_request {
	const char *method;         /* "GET" (or NULL), "POST", "PUT", "DELETE" */
	const char *url;            /* http:// or https:// only; no credentials in it */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const void *body;           /* upload from memory (body_len bytes), or */
	size_t body_len;
	http_source_fn source; /* upload from a callback (with source_ctx) */
	void *source_ctx;
	int64_t source_len; /* source's size, -1 unknown (chunked) */
	http_sink_fn sink;  /* NULL: the body is collected in resp->body */
	void *sink_ctx;
	size_t max_body;           /* collected body limit; 0 means 1 MiB */
	struct progress *progress; /* the run's; may be NULL */
	/*
	 * libcurl's receive buffer for this request in bytes, clamped to
	 * 1 KiB .. 512 KiB: a large one hands a fast stream to the sink in
	 * fewer, larger pieces (fewer recv(2) and poll(2) calls). 0: libcurl's
	 * default, 16 KiB. It costs that much memory while the client lives.
	 */
	size_t recv_buffer;
};

struct http_response {
	long status;            /* of the final response; 0 if none came */
	int64_t content_length; /* announced by the final response; -1 unknown */
	char *body;             /* collected body (no sink), NUL-terminated; else NULL */
	size_t body_len;
	uint64_t bytes; /* body bytes received (to the sink or collected) */
	char **headers; /* "name\0value" pairs of the final response */
	size_t nheaders;
};

/*
 * Make a client. Reads the credentials file now (its errors name the
 * file), and loads libcurl (a clear error when it is missing). 0 and *out
 * (free with http_client_free()), or -1 + err.
 */
int http_client_new(const struct http_opts *o, struct http_client **out, struct err *err);

/* Release c and wipe the password it held. NULL is a no-op. */
void http_client_free(struct http_client *c);

/*
 * Perform one request. 0 when a response with status < 400 was received
 * whole (the sink saw all of it); -1 + err (err->code an enum http_err)
 * otherwise: the message starts with the method and the masked URL and
 * says why ("HTTP 404 Not Found: no such VM", "stalled: nothing moved for
 * 30 s", curl's reason). resp is filled in both cases (release it with
 * http_response_free()); a failing status's body goes to resp->body,
 * never to the sink.
 */
int http_request(struct http_client *c, const struct http_request *rq, struct http_response *resp,
                 struct err *err);

/* The value of response header name (any case), or NULL. Owned by resp. */
const char *http_response_header(const struct http_response *resp, const char *name);

/* Release what resp holds (not resp itself). */
void http_response_free(struct http_response *resp);

/*
 * url without what must not be logged: user info dropped, every query
 * value replaced by "…", the fragment dropped. A new string.
 */
char *http_mask_url(const char *url);

/*
 * Read a credentials file as http_opts.password_file does with no username
 * (0600, ours; "USER\nPASSWORD", a final newline and a trailing '\r' per
 * line allowed; anything else: "expected 2 lines (user, password)"), for a
 * protocol that sends the password in its body (XAPI's login). 0 with
 * *user and *password (the caller wipes and frees them), or -1 + err naming
 * the file, never its content.
 */
int http_read_credentials(const char *path, char **user, char **password, struct err *err);

/*
 * Is libcurl there? 0, or -1 + err saying which package to install. For a
 * driver's validate, so a run does not start without it.
 */
int http_check_available(struct err *err);

#endif
