/*
 * The HTTP server of `tisbackup serve` on libmicrohttpd: one daemon with
 * a small thread pool (event-driven, so slow clients only hold their own
 * socket), per-connection memory and time limits, a 64 KiB request body
 * cap, and one access handler that authenticates, checks CSRF and roles,
 * dispatches through the route table (routes.c) and adds the security
 * headers to every response. Handlers live in api_*.c, metrics.c and
 * html.c; they fill a struct reply and never touch libmicrohttpd.
 */
#ifndef TB_WEB_SERVER_H
#define TB_WEB_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "web/auth.h"

struct catalog;
struct config;
struct guiconf;
struct queue;

#define SERVER_MAX_BODY (64 * 1024)

/* What serve.c hands the server; owned by the caller, outlives the server. */
struct server_opts {
	const struct guiconf *gc;
	/*
	 * One per gc->configs entry; NULL where it failed to load. serve.c's
	 * reload swaps entries: read them with __atomic_load_n (req_config()).
	 */
	struct config **cfgs;
	char **cfg_errors; /* why the last (re)load of cfgs[i] failed, or NULL; atomic too */
	size_t ncfgs;
	struct auth *auth;
	int queue_ok;     /* the queue opened at start */
	char *queue_addr; /* "sqlite:PATH" or the redis URL, for 503 messages */
	/* successful config reloads so far (atomic): the UI's notice */
	unsigned long config_reloads;
};

struct server;
struct req;
struct blob;
struct cache_flight;

/* A response being built by a handler. */
struct reply {
	int status;
	const char *content_type; /* static string */
	struct buf body;
	const unsigned char *static_data; /* instead of body: embedded data */
	size_t static_len;
	char *location;               /* Location header (303), owned */
	char *set_cookie;             /* owned */
	const char *etag;             /* static */
	const char *cache_control;    /* static; default no-store */
	struct blob *shared;          /* instead of body: a cached body (a reference) */
	const char *content_encoding; /* "gzip" when shared is compressed */
	/*
	 * Streamed answers (browse.c), instead of body. fd_valid: fd_len
	 * bytes of the open file fd from fd_off (sendfile where it can; the
	 * response closes fd). stream: a body produced while it is sent
	 * (chunked): stream(stream_cls, buf, max) fills buf with 1..max
	 * bytes, returns 0 at the end, -1 on an error (the connection is
	 * then closed: the client sees a truncated answer); stream_free
	 * (stream_cls) is called once the response is done, sent or not.
	 */
	int fd_valid;
	int fd;
	uint64_t fd_off, fd_len;
	long (*stream)(void *cls, char *buf, size_t max);
	void (*stream_free)(void *cls);
	void *stream_cls;
	char *disposition;   /* Content-Disposition, owned */
	char *content_range; /* Content-Range, owned */
	int accept_ranges;   /* "Accept-Ranges: bytes" */
};

/*
 * Response cache. Answers that only depend on the catalog (and the
 * request) are kept, keyed by the request's config, a key the handler
 * builds from its validated parameters, and the catalog's version
 * (catalog_version(), probed after the request arrived: SQLite's
 * data_version, PostgreSQL's snapshot): any commit by any process changes
 * it, so nothing older than the catalog is served.
 * max_age (seconds, 0 = no limit) bounds answers that also depend on the
 * time (ages, health).
 */
/*
 * 1 and out set from the cache, or 0: the caller builds the answer and
 * gives it to req_cache_put(). Single flight: the first request that
 * misses a key (at one catalog state) builds it; the others that miss it
 * meanwhile wait for that build (at most CACHE_WAIT_S) and are answered
 * with its body, shared by reference (1). When the build fails (no
 * req_cache_put() of a 200 before the handler returns) or the wait ends,
 * they get 0 and build their own answer.
 */
int req_cache_get(struct req *r, const char *key, int max_age, struct reply *out);
/* Keep out's body (a 200 reply) under key; out then refers to the cached copy. */
void req_cache_put(struct req *r, const char *key, struct reply *out);

/* The response cache's counters since serve started, for one kind of answer. */
struct cache_counters {
	const char *kind;          /* static: "backups.json", "backups", "jobs", "metrics"... */
	unsigned long long hit;    /* answered from a cached body */
	unsigned long long miss;   /* not cached (or stale): built or shared */
	unsigned long long build;  /* built from the catalog by the request */
	unsigned long long shared; /* waited for another request's build and sent its body */
};
/*
 * The cache's counters per kind of answer (the handler key's first word)
 * into out (at most max); returns how many.
 */
size_t req_cache_counters(struct req *r, struct cache_counters *out, size_t max);

/* Room for the catalog state a cached answer is keyed on ("GEN:VERSION"). */
#define REQ_CACHE_STATE_MAX 48

/* One request as the handlers see it. */
struct req {
	struct server *srv;
	void *conn; /* struct MHD_Connection */
	const char *method;
	const char *url; /* the path, percent-decoded by libmicrohttpd */
	const char *body;
	size_t body_len;
	char ip[64];
	int authed;     /* id is valid */
	int by_session; /* authenticated by the session cookie */
	char sid[AUTH_ID_LEN + 1];
	struct auth_identity id;
	int html; /* the route answers HTML (errors too) */
	/* The catalog's state when req_cache_get() looked, for req_cache_put(). */
	char cache_state[REQ_CACHE_STATE_MAX];
	int cache_state_set;
	struct cache_flight *flight; /* the build this request owes the others, or NULL */
};

/* --- for the handlers ---------------------------------------------------- */

/* A query argument of the request, or NULL. */
const char *req_arg(const struct req *r, const char *name);
/* A request header, or NULL. */
const char *req_header(const struct req *r, const char *name);
/* A form field of an application/x-www-form-urlencoded body (decoded, caller frees), or NULL. */
char *req_form(const struct req *r, const char *name);

/* The configuration shown to this request (its session's choice), its index, or NULL. */
const struct config *req_config(struct req *r, size_t *index);
/* Switch this request's session to config n; -1 when n is out of range. */
int req_set_config(struct req *r, size_t n);
/* The options the server was started with. */
const struct server_opts *req_opts(const struct req *r);

/*
 * A read-only catalog handle for the current config's catalog, from the
 * server's pool; give it back with req_catalog_put(). *cat = NULL (and 0)
 * when the catalog does not exist yet. 0 or -1 + err.
 */
int req_catalog(struct req *r, struct catalog **cat, struct err *err);
void req_catalog_put(struct req *r, struct catalog *cat);
/* Catalog path of a config (caller frees). */
char *server_catalog_path(const struct config *cfg);

/*
 * A queue connection from the server's pool, or NULL with err set and,
 * when out is not NULL, a 503 reply naming the queue address. Give it
 * back with req_queue_put().
 */
struct queue *req_queue(struct req *r, struct reply *out, struct err *err);
void req_queue_put(struct req *r, struct queue *q);

/*
 * For a GET that changes state (/export_backup?start=...): the admin role
 * and the CSRF token (csrf_token query field for session users). 0, or
 * -1 with 403 set.
 */
int req_check_state(struct req *r, struct reply *out);
/* 1 when the server listens with TLS. */
int req_tls(const struct req *r);

/* Set a JSON reply of status with body text (takes the buffer's content). */
void reply_json(struct reply *out, int status, struct buf *body);
/* Set a JSON error {"error": msg, "field": field-or-null} (or an HTML page for HTML routes). */
void reply_error(const struct req *r, struct reply *out, int status, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 303 to location. */
void reply_redirect(struct reply *out, const char *location);

/* --- lifecycle (serve.c) --------------------------------------------------- */

/* Start listening as gc says ([web] listen, TLS). 0 or -1 + err. */
int server_start(const struct server_opts *o, struct server **out, struct err *err);
/* Stop accepting, finish the requests in progress, free everything. */
void server_stop(struct server *s);

#endif
