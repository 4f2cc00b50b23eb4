/*
 * The libmicrohttpd daemon of `serve` (see server.h): listening, limits,
 * the access handler (body collection, authentication, CSRF, roles,
 * dispatch), security headers, and the pools of catalog and queue
 * connections the handler threads share.
 */
#include "web/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "guiconf.h"
#include "log.h"
#include "mhdload.h" /* libmicrohttpd loaded on first use: MHD_... are its table */
#include "queue.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"
#include "web/form.h"
#include "web/html.h"
#include "web/json.h"
#include "web/routes.h"
#include "zload.h"

#define POOL_MAX 16
#define CHOICES_MAX 4096
#define CONN_TIMEOUT_S 15
#define CONN_MAX 512         /* MHD refuses connections beyond this */
#define CONN_PER_ADDRESS 128 /* ... and beyond this from one address */
#define CONN_SOFT_MAX 384    /* above this, a new connection evicts a slow one */
#define CONN_BUSY_ADDRESS 16 /* ... unless its address holds this many: refused */
#define HEAD_DEADLINE_S 10   /* the request line and headers, whole */
#define BODY_DEADLINE_S 20   /* the body, whole, once the headers are in */
#define CONN_MEMORY (32 * 1024)
#define ADDR_BUCKETS 1024 /* the table of open connections per peer address */
#define POOL_THREADS 4
#define CACHE_ENTRIES 32
#define CACHE_BYTES ((size_t)96 << 20)
#define GZIP_MIN 1024   /* smaller cached bodies are sent as they are */
#define CACHE_WAIT_S 10 /* a request waits this long for another's build of its answer */

static const char csp[] = "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                          "script-src 'self'; frame-ancestors 'none'";

struct pooled_cat {
	char *path;
	struct catalog *cat;
};

/*
 * The handle the response cache asks for a catalog's version: one per
 * catalog, used for nothing else, because versions compare only between
 * calls on one handle. gen names the handle in the cache's state.
 */
struct version_probe {
	char *path;
	struct catalog *cat; /* NULL until the catalog can be opened */
	uint64_t gen;
	uint64_t id;       /* which catalog the slot holds now (slots are reused) */
	uint64_t started;  /* probes started on this slot */
	uint64_t answered; /* the start number of the newest finished probe */
	int busy;          /* a probe's I/O runs (outside vmu): cat, gen are its own */
	char state[REQ_CACHE_STATE_MAX]; /* that probe's answer */
};

/*
 * An answer being built (see req_cache_get()): the requests that miss the
 * same key at the same catalog state wait for it and share its body.
 * Linked in s->flights while the build runs; freed by the last of the
 * builder and the waiters (refs, under mu).
 */
struct cache_flight {
	struct cache_flight *next;
	char *key;
	char state[REQ_CACHE_STATE_MAX];
	int done;          /* 0 building, 1 built (blob set), -1 failed */
	struct blob *blob; /* a reference, once built */
	const char *content_type;
	int refs;
};

/* The kinds of cached answers the counters are kept for (the key's first word). */
static const char *const cache_kinds[] = { "backups.json", "backups", "jobs",
	                                   "metrics",      "storage", "other" };
#define CACHE_KINDS (sizeof cache_kinds / sizeof cache_kinds[0])

/* Which config a session (or Basic/proxy user) looks at. */
struct choice {
	char key[80];
	size_t cfg;
	time_t used;
};

/* A response body shared by the cache and the responses being sent. */
struct blob {
	int refs; /* atomic */
	size_t len;
	char data[];
};

struct cache_entry {
	char *key; /* config index, handler key */
	char state[REQ_CACHE_STATE_MAX];
	time_t made;
	const char *content_type;
	struct blob *blob;
	struct blob *gz;    /* blob gzipped, made at the first hit that accepts it, or NULL */
	unsigned long used; /* LRU clock */
};

/* A peer address and how many connections it holds open (the table s->addrs). */
struct addr_slot {
	struct addr_slot *next;
	unsigned char addr[16];
	size_t alen;
	size_t n;       /* open */
	size_t waiting; /* of them, holding a slot without their request in (conn_sync) */
};

/*
 * One open connection, for the deadlines and the eviction (see
 * conn_track_*): its socket, its peer address and until when its current
 * request must have arrived (0: no deadline, the request is in).
 */
struct conn_track {
	struct conn_track *prev, *next;
	int fd;
	unsigned char addr[16];
	size_t alen;
	struct addr_slot *slot; /* its address's count */
	int waiting;            /* counted in slot->waiting */
	int64_t since;          /* when the current request's head started, ms */
	int64_t deadline;       /* ms, 0 once the request is in */
	int shut;               /* shutdown() sent */
};

struct server {
	const struct server_opts *o;
	struct MHD_Daemon *d;

	pthread_mutex_t tmu; /* guards the connection list and the address table */
	struct conn_track *conns;
	size_t nconns;
	struct addr_slot *addrs[ADDR_BUCKETS];
	unsigned long evicted, expired, refused; /* counters, for the log */
	pthread_t reaper;
	int reaper_started;
	volatile int stopping;
	char *tls_cert, *tls_key;
	char *metrics_token; /* [web] metrics_token_file's token, or NULL */

	pthread_mutex_t mu; /* guards everything below */
	struct pooled_cat cats[POOL_MAX];
	size_t ncats;
	struct queue *queues[POOL_MAX];
	size_t nqueues;
	struct choice *choices;
	size_t nchoices;
	struct cache_entry cache[CACHE_ENTRIES];
	size_t cache_bytes;
	unsigned long cache_clock;
	struct cache_flight *flights; /* builds running */
	pthread_cond_t fcond;         /* a build ended (with mu) */
	struct cache_counters counts[CACHE_KINDS];

	pthread_mutex_t vmu;  /* guards the probes, apart: asking a version is I/O */
	pthread_cond_t vcond; /* a probe finished */
	struct version_probe probes[POOL_MAX];
	size_t nprobes;
	uint64_t probe_ids; /* last slot id given out (vmu) */
	uint64_t probe_gen; /* last handle or failure number given out (atomic) */
};

/* Per-request state between the calls of the access handler. */
struct ctx {
	struct buf body;
	int too_large;
	int closing; /* the client asked to close after this request */
};

/* --- slow clients -------------------------------------------------------- */

/*
 * libmicrohttpd's timeout is an idle one: a client sending a byte every
 * few seconds keeps its connection forever. Each connection is tracked
 * from MHD_OPTION_NOTIFY_CONNECTION: its request head must be complete
 * HEAD_DEADLINE_S after it started (the connection opened, or the previous
 * request was answered), its body BODY_DEADLINE_S after the head. A
 * reaper thread shuts down the socket of a connection past its deadline;
 * libmicrohttpd then sees the end of it and closes it. The CLOSED
 * notification comes before libmicrohttpd closes the socket and takes the
 * entry out under the same lock, so the reaper never touches a descriptor
 * that was closed (and maybe reused).
 *
 * Fairness: past CONN_SOFT_MAX connections, each new one evicts a
 * connection whose request has not arrived yet, from the address that
 * holds the most connections, the oldest first. Attackers holding slots
 * open lose them to newcomers; a client that sends its request at once
 * (health checks, logged-in users) always finds a slot and is answered.
 *
 * An attack from many addresses turns that into a churn (each evicted
 * attacker reconnects at once and evicts another: thousands a second), so
 * everything done under tmu per connection is O(1) or one pass over the
 * list: each address's count is kept in a hash table (addr_*), never
 * counted again. Counting it per candidate (a pass inside a pass) made
 * each eviction cost ~150k comparisons under the lock, and a normal
 * client's p99 ~1 s under 1000 slow connections from 1000 addresses
 * (bench/bench_slowclients.sh). "Busiest" counts the connections still
 * waiting for their request: a client's finished ones (a closing
 * keep-alive, the request before) must not make its new one the victim
 * when every attacker holds a single connection.
 */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
addr_hash(const unsigned char *addr, size_t alen)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < alen; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h & (ADDR_BUCKETS - 1);
}

/* The slot of addr, or NULL when it holds no connection. Called with tmu held. */
static struct addr_slot *
addr_find(struct server *s, const unsigned char *addr, size_t alen)
{
	for (struct addr_slot *a = s->addrs[addr_hash(addr, alen)]; a != NULL; a = a->next)
		if (a->alen == alen && memcmp(a->addr, addr, alen) == 0)
			return a;
	return NULL;
}

/* Count t's connection for its address (t->slot). Called with tmu held. */
static void
addr_ref(struct server *s, struct conn_track *t)
{
	struct addr_slot *a = addr_find(s, t->addr, t->alen);

	if (a == NULL) {
		size_t h = addr_hash(t->addr, t->alen);

		a = xcalloc(1, sizeof *a);
		memcpy(a->addr, t->addr, sizeof a->addr);
		a->alen = t->alen;
		a->next = s->addrs[h];
		s->addrs[h] = a;
	}
	a->n++;
	t->slot = a;
}

/* Uncount t's connection; the slot goes with its last one. Called with tmu held. */
static void
addr_unref(struct server *s, struct conn_track *t)
{
	struct addr_slot **pp = &s->addrs[addr_hash(t->addr, t->alen)];

	assert(t->slot != NULL && t->slot->n > 0);
	if (--t->slot->n > 0)
		return;
	while (*pp != t->slot)
		pp = &(*pp)->next;
	*pp = t->slot->next;
	free(t->slot);
	t->slot = NULL;
}

/* Keep t's address's count of waiting connections in step with t. Called with tmu held. */
static void
conn_sync(struct conn_track *t)
{
	int w = t->deadline != 0 && !t->shut;

	if (w == t->waiting)
		return;
	if (w)
		t->slot->waiting++;
	else
		t->slot->waiting--;
	t->waiting = w;
}

/* Shut down one waiting connection of the busiest address. Called with tmu held. */
static void
conn_evict_one(struct server *s)
{
	struct conn_track *victim = NULL;
	size_t best = 0;

	for (struct conn_track *t = s->conns; t != NULL; t = t->next) {
		size_t n = t->slot->waiting;

		if (t->deadline == 0 || t->shut)
			continue;
		if (victim == NULL || n > best || (n == best && t->since < victim->since)) {
			victim = t;
			best = n;
		}
	}
	if (victim != NULL) {
		shutdown(victim->fd, SHUT_RDWR);
		victim->shut = 1;
		conn_sync(victim);
		s->evicted++;
	}
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	struct server *s = cls;
	struct conn_track *t = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ai =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		t = xcalloc(1, sizeof *t);
		t->fd = fd != NULL ? fd->connect_fd : -1;
		if (ai != NULL && ai->client_addr != NULL) {
			const struct sockaddr *sa = ai->client_addr;

			if (sa->sa_family == AF_INET) {
				t->alen = 4;
				memcpy(t->addr,
				       &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				       4);
			} else if (sa->sa_family == AF_INET6) {
				t->alen = 16;
				memcpy(t->addr,
				       &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
				       16);
			}
		}
		t->since = now_ms();
		t->deadline = t->since + HEAD_DEADLINE_S * 1000;
		*socket_context = t;
		pthread_mutex_lock(&s->tmu);
		t->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = t;
		s->conns = t;
		addr_ref(s, t);
		conn_sync(t);
		if (++s->nconns > CONN_SOFT_MAX)
			conn_evict_one(s);
		pthread_mutex_unlock(&s->tmu);
		return;
	}
	if (t == NULL)
		return;
	pthread_mutex_lock(&s->tmu);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		s->conns = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->shut = 1;
	conn_sync(t);
	addr_unref(s, t);
	s->nconns--;
	pthread_mutex_unlock(&s->tmu);
	free(t);
	*socket_context = NULL;
}

/*
 * Accept policy: past CONN_SOFT_MAX connections, an address that already
 * holds CONN_BUSY_ADDRESS of them gets no more (refused at once, before
 * any eviction): an attacker's reconnections do not churn the others',
 * and a newcomer from another address still gets in.
 */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct server *s = cls;
	struct conn_track probe;
	struct addr_slot *a;
	enum MHD_Result ok = MHD_YES;

	(void)len;
	memset(&probe, 0, sizeof probe);
	if (sa->sa_family == AF_INET) {
		probe.alen = 4;
		memcpy(probe.addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		probe.alen = 16;
		memcpy(probe.addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
	pthread_mutex_lock(&s->tmu);
	if (s->nconns >= CONN_SOFT_MAX) {
		a = addr_find(s, probe.addr, probe.alen);
		if (a != NULL && a->n >= CONN_BUSY_ADDRESS) {
			ok = MHD_NO;
			s->refused++;
		}
	}
	pthread_mutex_unlock(&s->tmu);
	return ok;
}

/* The tracked state of c's connection, or NULL. */
static struct conn_track *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i != NULL ? i->socket_context : NULL;
}

/* Set the deadline of c's current request (0: none). */
static void
conn_set_deadline(struct server *s, struct MHD_Connection *c, int seconds, int restart)
{
	struct conn_track *t = conn_of(c);

	if (t == NULL)
		return;
	pthread_mutex_lock(&s->tmu);
	if (restart)
		t->since = now_ms();
	t->deadline = seconds > 0 ? now_ms() + (int64_t)seconds * 1000 : 0;
	conn_sync(t);
	pthread_mutex_unlock(&s->tmu);
}

static void *
conn_reaper(void *arg)
{
	struct server *s = arg;
	struct timespec step = { 0, 250 * 1000 * 1000 };

	while (!s->stopping) {
		int64_t now = now_ms();

		pthread_mutex_lock(&s->tmu);
		for (struct conn_track *t = s->conns; t != NULL; t = t->next) {
			if (t->deadline != 0 && now >= t->deadline && !t->shut && t->fd != -1) {
				shutdown(t->fd, SHUT_RDWR);
				t->shut = 1;
				conn_sync(t);
				s->expired++;
			}
		}
		pthread_mutex_unlock(&s->tmu);
		nanosleep(&step, NULL);
	}
	return NULL;
}

/* --- request helpers --------------------------------------------------- */

const char *
req_arg(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
req_header(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

char *
req_form(const struct req *r, const char *name)
{
	return form_get(r->body, r->body_len, name);
}

const struct server_opts *
req_opts(const struct req *r)
{
	return r->srv->o;
}

/* The key under which this request's config choice is kept, or "" (none). */
static void
choice_key(const struct req *r, char *key, size_t sz)
{
	if (r->by_session)
		snprintf(key, sz, "s:%s", r->sid);
	else if (r->authed)
		snprintf(key, sz, "u:%s", r->id.user);
	else
		key[0] = '\0';
}

const struct config *
req_config(struct req *r, size_t *index)
{
	struct server *s = r->srv;
	char key[sizeof s->choices[0].key];
	size_t n = 0;

	choice_key(r, key, sizeof key);
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; key[0] != '\0' && i < s->nchoices; i++) {
		if (strcmp(s->choices[i].key, key) == 0) {
			n = s->choices[i].cfg;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (n >= s->o->ncfgs)
		n = 0;
	if (index != NULL)
		*index = n;
	return __atomic_load_n(&s->o->cfgs[n], __ATOMIC_ACQUIRE); /* serve.c reloads swap it */
}

int
req_set_config(struct req *r, size_t n)
{
	struct server *s = r->srv;
	struct choice *c = NULL;
	char key[sizeof s->choices[0].key];

	if (n >= s->o->ncfgs)
		return -1;
	choice_key(r, key, sizeof key);
	if (key[0] == '\0')
		return 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nchoices && c == NULL; i++)
		if (strcmp(s->choices[i].key, key) == 0)
			c = &s->choices[i];
	if (c == NULL && s->nchoices < CHOICES_MAX) {
		s->choices = xrealloc(s->choices, (s->nchoices + 1) * sizeof *s->choices);
		c = &s->choices[s->nchoices++];
	} else if (c == NULL) {
		/* Full: forget the least recently used choice. */
		c = &s->choices[0];
		for (size_t i = 1; i < s->nchoices; i++)
			if (s->choices[i].used < c->used)
				c = &s->choices[i];
	}
	snprintf(c->key, sizeof c->key, "%s", key);
	c->cfg = n;
	c->used = time(NULL);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

char *
server_catalog_path(const struct config *cfg)
{
	return config_catalog_address(cfg);
}

int
req_catalog(struct req *r, struct catalog **cat, struct err *err)
{
	struct server *s = r->srv;
	const struct config *cfg = req_config(r, NULL);
	char *path;

	*cat = NULL;
	if (cfg == NULL)
		return 0;
	path = server_catalog_path(cfg);
	pthread_mutex_lock(&s->mu);
	for (size_t i = s->ncats; i-- > 0;) {
		if (strcmp(s->cats[i].path, path) == 0) {
			*cat = s->cats[i].cat;
			free(s->cats[i].path);
			s->cats[i] = s->cats[--s->ncats];
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (*cat == NULL && catalog_open(path, CATALOG_RO, cat, err) == -1) {
		*cat = NULL;
		if (err->code == ENOENT) {
			free(path);
			err_clear(err);
			return 0;
		}
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

void
req_catalog_put(struct req *r, struct catalog *cat)
{
	struct server *s = r->srv;
	const struct config *cfg = req_config(r, NULL);

	if (cat == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->ncats < POOL_MAX && cfg != NULL) {
		s->cats[s->ncats].path = server_catalog_path(cfg);
		s->cats[s->ncats++].cat = cat;
		cat = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	if (cat != NULL)
		catalog_close(cat);
}

/* The {backup_base_dir}/log of the first config: where the SQLite queue lives. */
static char *
queue_dir(const struct server_opts *o)
{
	for (size_t i = 0; i < o->ncfgs; i++)
		if (o->cfgs[i] != NULL)
			return fs_join(o->cfgs[i]->backup_base_dir, "log");
	return NULL;
}

struct queue *
req_queue(struct req *r, struct reply *out, struct err *err)
{
	struct server *s = r->srv;
	struct queue *q = NULL;
	char *dir;

	pthread_mutex_lock(&s->mu);
	if (s->nqueues > 0)
		q = s->queues[--s->nqueues];
	pthread_mutex_unlock(&s->mu);
	if (q != NULL)
		return q;
	dir = queue_dir(s->o);
	if (dir == NULL) {
		err_set(err, "no valid configuration");
	} else if (queue_open(s->o->gc, dir, &q, err) == -1) {
		log_warning(NULL, "serve: queue %s: %s", s->o->queue_addr, err->msg);
		q = NULL;
	}
	if (q == NULL && out != NULL)
		reply_error(r, out, 503, NULL, "queue unavailable (%s): %s", s->o->queue_addr,
		            err->msg);
	free(dir);
	return q;
}

void
req_queue_put(struct req *r, struct queue *q)
{
	struct server *s = r->srv;

	if (q == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->nqueues < POOL_MAX) {
		s->queues[s->nqueues++] = q;
		q = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	if (q != NULL)
		queue_close(q);
}

/* --- response cache ----------------------------------------------------- */

static void
blob_unref(void *p)
{
	struct blob *b = p;

	if (b != NULL && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(b);
}

/*
 * The probe slot of path, made (without a handle yet) when missing; vmu is
 * held. Slots stay where they are (a waiter keeps its pointer): with every
 * slot taken, a free one is reused for path, never one whose probe runs;
 * NULL when all of them run (more catalogs than slots: never with sane
 * configs).
 */
static struct version_probe *
probe_for(struct server *s, const char *path)
{
	struct version_probe *p = NULL;

	for (size_t i = 0; i < s->nprobes; i++)
		if (strcmp(s->probes[i].path, path) == 0)
			return &s->probes[i];
	if (s->nprobes < POOL_MAX) {
		p = &s->probes[s->nprobes++];
	} else {
		for (size_t i = 0; i < s->nprobes && p == NULL; i++)
			if (!s->probes[i].busy)
				p = &s->probes[i];
		if (p == NULL)
			return NULL;
		catalog_close(p->cat);
		free(p->path);
	}
	memset(p, 0, sizeof *p);
	p->path = xstrdup(path);
	p->id = ++s->probe_ids;
	return p;
}

/* One probe of p's catalog into out (vmu is not held; p is busy, so ours). */
static void
probe_run(struct server *s, struct version_probe *p, char *out, size_t sz)
{
	struct err err;
	uint64_t v;

	out[0] = '\0';
	err_clear(&err);
	if (p->cat == NULL) {
		if (catalog_open(p->path, CATALOG_RO, &p->cat, &err) == -1) {
			p->cat = NULL;
			if (err.code != ENOENT)
				snprintf(out, sz, "!%llu",
				         (unsigned long long)__atomic_add_fetch(&s->probe_gen, 1,
				                                                __ATOMIC_RELAXED));
			return;
		}
		p->gen = __atomic_add_fetch(&s->probe_gen, 1, __ATOMIC_RELAXED);
	}
	if (catalog_version(p->cat, &v, &err) == -1) {
		catalog_close(p->cat);
		p->cat = NULL;
		snprintf(
		    out, sz, "!%llu",
		    (unsigned long long)__atomic_add_fetch(&s->probe_gen, 1, __ATOMIC_RELAXED));
		return;
	}
	snprintf(out, sz, "%llu:%llu", (unsigned long long)p->gen, (unsigned long long)v);
}

/*
 * The state of the current config's catalog, which a cached answer must
 * match: "GEN:VERSION", its catalog_version() on the probe handle GEN;
 * "" when the config has no catalog yet; "!N" when the catalog cannot be
 * read, a number no later probe gives again (only the requests that
 * waited on that probe share it).
 *
 * Requests share probes: any probe that *started* after this request
 * arrived saw every commit made before it, so its answer is good for this
 * request. One runs at a time per catalog, outside vmu; a request that
 * finds one running waits for it to end, then takes the next one's answer
 * (or starts it), so under N concurrent requests a catalog gets about one
 * round trip per batch instead of N in a row (PostgreSQL: one per request
 * held every other request behind it).
 */
static void
catalog_state(struct req *r, char *out, size_t sz)
{
	struct server *s = r->srv;
	const struct config *cfg = req_config(r, NULL);
	struct version_probe *p;
	char state[REQ_CACHE_STATE_MAX];
	uint64_t id = 0, need = 0, mine;
	char *path;

	out[0] = '\0';
	if (cfg == NULL)
		return;
	path = server_catalog_path(cfg);
	pthread_mutex_lock(&s->vmu);
	for (;;) {
		p = probe_for(s, path);
		if (p == NULL) {
			snprintf(out, sz, "!%llu",
			         (unsigned long long)__atomic_add_fetch(&s->probe_gen, 1,
			                                                __ATOMIC_RELAXED));
			break;
		}
		if (p->id != id) { /* first look, or the slot was reused meanwhile */
			id = p->id;
			need = p->started + 1;
		}
		if (p->answered >= need) {
			snprintf(out, sz, "%s", p->state);
			break;
		}
		if (p->busy) {
			pthread_cond_wait(&s->vcond, &s->vmu);
			continue;
		}
		mine = ++p->started;
		p->busy = 1;
		pthread_mutex_unlock(&s->vmu);
		probe_run(s, p, state, sizeof state);
		pthread_mutex_lock(&s->vmu);
		p->busy = 0;
		p->answered = mine;
		memcpy(p->state, state, sizeof p->state);
		pthread_cond_broadcast(&s->vcond);
	}
	pthread_mutex_unlock(&s->vmu);
	free(path);
}

/* b gzipped (level 1) as a new blob with one reference, or NULL. */
static struct blob *
blob_gzip(const struct blob *b)
{
	z_stream z = { 0 };
	struct blob *g;
	size_t cap;

	/* Without zlib (zload() failed) the answer goes uncompressed. */
	if (zload(NULL) == -1 ||
	    deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, b->len) + 32;
	g = xmalloc(sizeof *g + cap);
	z.next_in = (Bytef *)b->data;
	z.avail_in = (uInt)b->len;
	z.next_out = (Bytef *)g->data;
	z.avail_out = (uInt)cap;
	if (b->len > UINT32_MAX / 2 || deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(g);
		return NULL;
	}
	g->len = z.total_out;
	g->refs = 1;
	deflateEnd(&z);
	return g;
}

/* 1 if the request's Accept-Encoding takes gzip. */
static int
accepts_gzip(const struct req *r)
{
	const char *ae = req_header(r, "Accept-Encoding");
	const char *g = ae != NULL ? strstr(ae, "gzip") : NULL;

	return g != NULL && strncmp(g, "gzip;q=0", 8) != 0;
}

/* Replace out's cached body by its gzipped form (made once per entry). */
static void
cache_gzip(struct req *r, struct reply *out)
{
	struct server *s = r->srv;
	struct blob *plain = out->shared, *gz = NULL;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < CACHE_ENTRIES && gz == NULL; i++)
		if (s->cache[i].key != NULL && s->cache[i].blob == plain &&
		    s->cache[i].gz != NULL) {
			gz = s->cache[i].gz;
			__atomic_add_fetch(&gz->refs, 1, __ATOMIC_ACQ_REL);
		}
	pthread_mutex_unlock(&s->mu);
	if (gz == NULL) {
		gz = blob_gzip(plain); /* outside the lock: 38 MB take a while */
		if (gz == NULL)
			return;
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < CACHE_ENTRIES; i++) {
			if (s->cache[i].key != NULL && s->cache[i].blob == plain &&
			    s->cache[i].gz == NULL) {
				s->cache[i].gz = gz;
				s->cache_bytes += gz->len;
				__atomic_add_fetch(&gz->refs, 1, __ATOMIC_ACQ_REL);
				break;
			}
		}
		pthread_mutex_unlock(&s->mu);
	}
	blob_unref(plain);
	out->shared = gz;
	out->content_encoding = "gzip";
}

/* Drop a cache entry's blobs and key (the lock is held). */
static void
cache_drop(struct server *s, struct cache_entry *e)
{
	s->cache_bytes -= e->blob->len;
	blob_unref(e->blob);
	if (e->gz != NULL) {
		s->cache_bytes -= e->gz->len;
		blob_unref(e->gz);
	}
	free(e->key);
	e->key = NULL;
	e->blob = e->gz = NULL;
}

static char *
cache_key(struct req *r, const char *key)
{
	size_t n;
	/* Its address too: a reloaded config is a new one (old ones live until stop). */
	const struct config *cfg = req_config(r, &n);

	return xasprintf("%zu %p %s", n, (const void *)cfg, key);
}

/* The index in cache_kinds of a handler key. */
static size_t
cache_kind(const char *key)
{
	size_t n = strcspn(key, " ");

	for (size_t i = 0; i + 1 < CACHE_KINDS; i++)
		if (strlen(cache_kinds[i]) == n && strncmp(key, cache_kinds[i], n) == 0)
			return i;
	return CACHE_KINDS - 1;
}

/* Drop a reference to f (mu is held); the last one frees it. */
static void
flight_unref(struct cache_flight *f)
{
	if (--f->refs > 0)
		return;
	blob_unref(f->blob);
	free(f->key);
	free(f);
}

/*
 * End r's build (mu is held): b (not NULL) is its body, which the waiters
 * take a reference to; NULL: it failed, they build their own.
 */
static void
flight_end(struct server *s, struct req *r, struct blob *b, const char *content_type)
{
	struct cache_flight *f = r->flight, **pp;

	if (f == NULL)
		return;
	r->flight = NULL;
	for (pp = &s->flights; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->done = b != NULL ? 1 : -1;
	if (b != NULL) {
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
		f->blob = b;
		f->content_type = content_type;
	}
	pthread_cond_broadcast(&s->fcond);
	flight_unref(f);
}

/* A handler returned: a build it started and did not give the cache failed. */
static void
cache_flight_abandon(struct req *r)
{
	struct server *s = r->srv;

	if (r->flight == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	flight_end(s, r, NULL, NULL);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Wait (mu is held) for f's build, at most CACHE_WAIT_S: 1 and out set to
 * its body, or 0 when it failed or took too long.
 */
static int
flight_wait(struct server *s, struct cache_flight *f, struct reply *out)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += CACHE_WAIT_S;
	f->refs++;
	while (f->done == 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->fcond, &s->mu, &until);
	if (f->done == 1) {
		__atomic_add_fetch(&f->blob->refs, 1, __ATOMIC_ACQ_REL);
		out->shared = f->blob;
		out->status = 200;
		out->content_type = f->content_type;
	}
	rc = f->done == 1;
	flight_unref(f);
	return rc;
}

int
req_cache_get(struct req *r, const char *key, int max_age, struct reply *out)
{
	struct server *s = r->srv;
	char *k = cache_key(r, key);
	struct cache_counters *c = &s->counts[cache_kind(key)];
	struct cache_flight *f;
	time_t now = time(NULL);
	int hit = 0;

	/*
	 * Taken before the handler reads the catalog, and kept for
	 * req_cache_put(): a commit while the answer is built then makes it
	 * miss next time, never stay as if current.
	 */
	catalog_state(r, r->cache_state, sizeof r->cache_state);
	r->cache_state_set = 1;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < CACHE_ENTRIES; i++) {
		struct cache_entry *e = &s->cache[i];

		if (e->key == NULL || strcmp(e->key, k) != 0)
			continue;
		if (strcmp(e->state, r->cache_state) == 0 &&
		    (max_age == 0 || now - e->made < max_age)) {
			__atomic_add_fetch(&e->blob->refs, 1, __ATOMIC_ACQ_REL);
			out->shared = e->blob;
			out->status = 200;
			out->content_type = e->content_type;
			e->used = ++s->cache_clock;
			hit = 1;
		}
		break;
	}
	if (hit) {
		c->hit++;
		goto out;
	}
	c->miss++;
	/*
	 * Single flight: a build of this key at this state running, its
	 * body answers this request too (its state was taken after this
	 * request arrived, and the build reads the catalog after that).
	 * An unreadable catalog ("!N") is never shared.
	 */
	for (f = s->flights; f != NULL; f = f->next)
		if (strcmp(f->key, k) == 0 && strcmp(f->state, r->cache_state) == 0)
			break;
	if (f != NULL && flight_wait(s, f, out)) {
		c->shared++;
		hit = 1;
		goto out;
	}
	c->build++;
	if (f == NULL && r->cache_state[0] != '!' && r->flight == NULL) {
		f = xcalloc(1, sizeof *f);
		f->key = xstrdup(k);
		memcpy(f->state, r->cache_state, sizeof f->state);
		f->refs = 1; /* the builder's */
		f->next = s->flights;
		s->flights = f;
		r->flight = f;
	}
out:
	pthread_mutex_unlock(&s->mu);
	free(k);
	if (hit && out->shared->len >= GZIP_MIN && accepts_gzip(r))
		cache_gzip(r, out);
	return hit;
}

size_t
req_cache_counters(struct req *r, struct cache_counters *out, size_t max)
{
	struct server *s = r->srv;
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < CACHE_KINDS && n < max; i++) {
		out[n] = s->counts[i];
		out[n++].kind = cache_kinds[i];
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

void
req_cache_put(struct req *r, const char *key, struct reply *out)
{
	struct server *s = r->srv;
	struct cache_entry *e = NULL;
	char state[REQ_CACHE_STATE_MAX];
	struct blob *b;
	char *k;

	if (out->status != 200 || out->shared != NULL || out->static_data != NULL ||
	    out->body.len > CACHE_BYTES / 2) {
		cache_flight_abandon(r);
		return;
	}
	b = xmalloc(sizeof *b + out->body.len + 1);
	b->refs = 2; /* the cache and this reply */
	b->len = out->body.len;
	memcpy(b->data, buf_str(&out->body), out->body.len + 1);
	buf_free(&out->body);
	buf_init(&out->body, 1);
	out->shared = b;
	k = cache_key(r, key);
	if (r->cache_state_set)
		memcpy(state, r->cache_state, sizeof state);
	else
		catalog_state(r, state, sizeof state); /* before the lock: it takes vmu */
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < CACHE_ENTRIES && e == NULL; i++)
		if (s->cache[i].key != NULL && strcmp(s->cache[i].key, k) == 0)
			e = &s->cache[i];
	for (size_t i = 0; i < CACHE_ENTRIES && e == NULL; i++)
		if (s->cache[i].key == NULL)
			e = &s->cache[i];
	if (e == NULL) {
		e = &s->cache[0];
		for (size_t i = 1; i < CACHE_ENTRIES; i++)
			if (s->cache[i].used < e->used)
				e = &s->cache[i];
	}
	if (e->key != NULL)
		cache_drop(s, e);
	e->key = k;
	e->blob = b;
	e->made = time(NULL);
	e->content_type = out->content_type;
	e->used = ++s->cache_clock;
	memcpy(e->state, state, sizeof state);
	s->cache_bytes += b->len;
	/* In the same critical section: a request that misses from now on finds the entry. */
	flight_end(s, r, b, out->content_type);
	/* Over budget: drop the least recently used others. */
	while (s->cache_bytes > CACHE_BYTES) {
		struct cache_entry *old = NULL;

		for (size_t i = 0; i < CACHE_ENTRIES; i++)
			if (s->cache[i].key != NULL && &s->cache[i] != e &&
			    (old == NULL || s->cache[i].used < old->used))
				old = &s->cache[i];
		if (old == NULL)
			break;
		cache_drop(s, old);
	}
	pthread_mutex_unlock(&s->mu);
}

/* --- replies ------------------------------------------------------------- */

void
reply_json(struct reply *out, int status, struct buf *body)
{
	out->status = status;
	out->content_type = "application/json";
	buf_free(&out->body);
	out->body = *body;
	buf_init(body, body->limit);
}

void
reply_error(const struct req *r, struct reply *out, int status, const char *field, const char *fmt,
            ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	buf_reset(&out->body);
	blob_unref(out->shared);
	out->shared = NULL;
	out->content_encoding = NULL;
	out->status = status;
	out->static_data = NULL;
	if (r != NULL && r->html) {
		out->content_type = "text/html; charset=utf-8";
		html_error_page(&out->body, status, msg);
		return;
	}
	out->content_type = "application/json";
	buf_puts(&out->body, "{\"error\":");
	json_str(&out->body, msg);
	buf_puts(&out->body, ",\"field\":");
	json_str(&out->body, field);
	buf_puts(&out->body, "}\n");
}

void
reply_redirect(struct reply *out, const char *location)
{
	out->status = 303;
	free(out->location);
	out->location = xstrdup(location);
}

/* --- authentication gate ------------------------------------------------- */

static int
is_safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/*
 * Who is calling: fills r->id; 429 or 401 replies for bad Basic
 * credentials, except on routes open to anonymous callers (anon), which
 * are then answered as for an anonymous caller (a browser with stale
 * Basic credentials still reaches the login page).
 */
static int
identify(struct req *r, struct reply *out, int anon)
{
	struct server *s = r->srv;
	const struct guiconf *gc = s->o->gc;
	const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "tb_session");
	const char *authz = req_header(r, "Authorization");
	time_t now = time(NULL);

	if ((gc->providers & GUICONF_AUTH_LOCAL) && cookie != NULL &&
	    strlen(cookie) == AUTH_ID_LEN && auth_session(s->o->auth, cookie, now, &r->id) == 1) {
		r->authed = 1;
		r->by_session = 1;
		memcpy(r->sid, cookie, AUTH_ID_LEN + 1);
		return 0;
	}
	if ((gc->providers & GUICONF_AUTH_BASIC) && authz != NULL &&
	    strncasecmp(authz, "Basic ", 6) == 0) {
		switch (auth_basic(s->o->auth, r->ip, authz, now, &r->id)) {
		case AUTH_OK:
			r->authed = 1;
			return 0;
		case AUTH_LIMITED:
			memset(&r->id, 0, sizeof r->id);
			if (anon)
				return 0;
			reply_error(r, out, 429, NULL, "too many failed logins: try again later");
			return -1;
		case AUTH_DENIED:
			memset(&r->id, 0, sizeof r->id);
			if (anon)
				return 0;
			reply_error(r, out, 401, NULL, "wrong user name or password");
			return -1;
		}
	}
	if ((gc->providers & GUICONF_AUTH_PROXY) && gc->proxy_header != NULL) {
		const char *u = req_header(r, gc->proxy_header);

		if (u != NULL && auth_proxy(s->o->auth, r->ip, u, &r->id) == AUTH_OK) {
			r->authed = 1;
			return 0;
		}
	}
	return 0;
}

/* The CSRF rule of api.md for a state-changing request; 0 or -1 with 403 set. */
static int
check_csrf(struct req *r, struct reply *out, int query_token)
{
	const char *tok;
	char *form = NULL;
	int ok;

	if (!r->by_session) {
		const char *xrw = req_header(r, "X-Requested-With");
		const char *ct = req_header(r, "Content-Type");

		if ((xrw != NULL && strcmp(xrw, "tisbackup") == 0) ||
		    (ct != NULL && strncasecmp(ct, "application/json", 16) == 0))
			ok = 1;
		else
			ok = 0;
		if (!ok)
			reply_error(r, out, 403, NULL,
			            "send X-Requested-With: tisbackup or a JSON body");
		return ok ? 0 : -1;
	}
	tok = req_header(r, "X-CSRF-Token");
	if (tok == NULL && query_token)
		tok = req_arg(r, "csrf_token");
	if (tok == NULL)
		tok = form = req_form(r, "csrf_token");
	ok = tok != NULL && auth_csrf_ok(&r->id, tok);
	free(form);
	if (!ok)
		reply_error(r, out, 403, "csrf_token", "missing or wrong CSRF token");
	return ok ? 0 : -1;
}

int
req_check_state(struct req *r, struct reply *out)
{
	if (r->id.role != AUTH_ROLE_ADMIN) {
		reply_error(r, out, 403, NULL, "admin role required");
		return -1;
	}
	return check_csrf(r, out, 1);
}

int
req_tls(const struct req *r)
{
	return r->srv->tls_cert != NULL;
}

/* 1 if r carries "Authorization: Bearer T" with T the metrics token (compared in constant time). */
static int
metrics_bearer_ok(struct req *r)
{
	const char *tok = r->srv->metrics_token, *authz = req_header(r, "Authorization");
	size_t n, want;
	unsigned char diff = 0;

	if (tok == NULL || authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
		return 0;
	authz += 7;
	n = strlen(authz);
	want = strlen(tok);
	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)(tok[i] ^ (i < n ? authz[i] : 0));
	return diff == 0 && n == want;
}

/*
 * The answer to a caller who is not logged in: a redirect to the login
 * page for pages, 401 for the rest.
 */
static void
deny_anonymous(struct req *r, struct reply *out)
{
	char *loc = NULL;
	struct buf b;

	if (!r->html) {
		reply_error(r, out, 401, NULL, "authentication required");
		return;
	}
	buf_init(&b, 8192);
	buf_puts(&b, "/login?next=");
	html_url_encode(&b, r->url);
	loc = buf_steal(&b);
	reply_redirect(out, loc);
	free(loc);
	buf_free(&b);
}

/* 1 for the paths anybody may reach: the login page, static assets, health. */
static int
public_path(const char *url)
{
	return strcmp(url, "/login") == 0 || strncmp(url, "/static/", 8) == 0 ||
	       strcmp(url, "/api/v1/health") == 0;
}

/* Route r and run its handler into out. */
static void
dispatch(struct req *r, struct reply *out)
{
	const struct guiconf *gc = r->srv->o->gc;
	const struct route *rt;
	int allowed, anon;

	rt = route_find(r->method, r->url, &allowed);
	if (rt == NULL) {
		r->html = strncmp(r->url, "/api/", 5) != 0 && strcmp(r->url, "/metrics") != 0 &&
		          strstr(r->url, ".json") == NULL;
		if (identify(r, out, 0) == -1)
			return;
		/*
		 * Nothing about the server's paths leaks to anonymous callers:
		 * an unknown path or a wrong method gets what any protected
		 * route gets (only public paths say 404 or 405).
		 */
		if (!r->authed && !public_path(r->url)) {
			deny_anonymous(r, out);
			return;
		}
		if (allowed)
			reply_error(r, out, 405, NULL, "method %s not allowed on %s", r->method,
			            r->url);
		else
			reply_error(r, out, 404, NULL, "not found");
		return;
	}
	r->html = (rt->flags & ROUTE_HTML) != 0;
	anon = (rt->flags & ROUTE_ANON) ||
	       ((rt->flags & ROUTE_METRICS) && (gc->metrics_public || metrics_bearer_ok(r)));
	if (identify(r, out, anon) == -1)
		return;
	if (!r->authed && !anon) {
		deny_anonymous(r, out);
		return;
	}
	if (r->authed && (!is_safe_method(r->method) || (rt->flags & ROUTE_STATE)) &&
	    !(rt->flags & ROUTE_NOCSRF)) {
		if (check_csrf(r, out, (rt->flags & ROUTE_STATE) != 0) == -1)
			return;
	}
	if ((rt->flags & ROUTE_ADMIN) && r->id.role != AUTH_ROLE_ADMIN) {
		reply_error(r, out, 403, NULL, "admin role required");
		return;
	}
	rt->fn(r, out);
}

/* --- libmicrohttpd glue -------------------------------------------------- */

static void
client_ip(struct MHD_Connection *c, char *ip, size_t sz)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	socklen_t len = 0;

	snprintf(ip, sz, "?");
	if (sa == NULL)
		return;
	len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, ip, (socklen_t)sz, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(ip, sz, "?");
	/* IPv4-mapped addresses read as plain IPv4. */
	if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
		memmove(ip, ip + 7, strlen(ip + 7) + 1);
}

static void
add_common_headers(struct MHD_Response *resp, const struct server *s)
{
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	if (s->tls_cert != NULL)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
}

/* A reply's stream, for libmicrohttpd's content reader. */
struct reply_stream {
	long (*fn)(void *cls, char *buf, size_t max);
	void (*free_fn)(void *cls);
	void *cls;
};

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reply_stream *st = cls;
	long n;

	(void)pos;
	n = st->fn(st->cls, buf, max);
	if (n > 0)
		return (ssize_t)n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
stream_done(void *cls)
{
	struct reply_stream *st = cls;

	if (st->free_fn != NULL)
		st->free_fn(st->cls);
	free(st);
}

/* The response of a streamed reply (fd or stream), or NULL. Takes what out holds. */
static struct MHD_Response *
stream_response(struct reply *out)
{
	struct MHD_Response *resp;

	if (out->fd_valid) {
		resp = MHD_create_response_from_fd_at_offset64(out->fd_len, out->fd, out->fd_off);
		if (resp != NULL)
			out->fd_valid = 0;
		return resp;
	} else {
		struct reply_stream *st = xcalloc(1, sizeof *st);

		st->fn = out->stream;
		st->free_fn = out->stream_free;
		st->cls = out->stream_cls;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read,
		                                         st, stream_done);
		if (resp == NULL) {
			free(st);
			return NULL;
		}
		out->stream = NULL;
		out->stream_free = NULL;
		out->stream_cls = NULL;
		return resp;
	}
}

static enum MHD_Result
send_reply(struct server *s, struct MHD_Connection *c, struct reply *out)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (out->fd_valid || out->stream != NULL) {
		resp = stream_response(out);
	} else if (out->static_data != NULL) {
		resp = MHD_create_response_from_buffer(out->static_len, (void *)out->static_data,
		                                       MHD_RESPMEM_PERSISTENT);
	} else if (out->shared != NULL) {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    out->shared->len, out->shared->data, blob_unref, out->shared);
		if (resp != NULL)
			out->shared = NULL; /* the response holds the reference now */
	} else {
		size_t len = out->body.len;
		char *data = buf_steal(&out->body);

		resp = MHD_create_response_from_buffer(len, data != NULL ? data : xstrdup(""),
		                                       MHD_RESPMEM_MUST_FREE);
	}
	if (resp == NULL)
		return MHD_NO;
	add_common_headers(resp, s);
	if (out->content_type != NULL)
		MHD_add_response_header(resp, "Content-Type", out->content_type);
	MHD_add_response_header(resp, "Cache-Control",
	                        out->cache_control != NULL ? out->cache_control : "no-store");
	if (out->etag != NULL)
		MHD_add_response_header(resp, "ETag", out->etag);
	if (out->location != NULL)
		MHD_add_response_header(resp, "Location", out->location);
	if (out->set_cookie != NULL)
		MHD_add_response_header(resp, "Set-Cookie", out->set_cookie);
	if (out->content_encoding != NULL)
		MHD_add_response_header(resp, "Content-Encoding", out->content_encoding);
	if (out->disposition != NULL)
		MHD_add_response_header(resp, "Content-Disposition", out->disposition);
	if (out->content_range != NULL)
		MHD_add_response_header(resp, "Content-Range", out->content_range);
	if (out->accept_ranges)
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (out->shared != NULL || out->content_encoding != NULL)
		MHD_add_response_header(resp, "Vary", "Accept-Encoding");
	if (out->status == 401 && (s->o->gc->providers & GUICONF_AUTH_BASIC) &&
	    out->content_type != NULL && strncmp(out->content_type, "application/json", 16) == 0)
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"tisbackup\"");
	ret = MHD_queue_response(c, (unsigned)out->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
reply_init(struct reply *out)
{
	memset(out, 0, sizeof *out);
	out->status = 200;
	buf_init(&out->body, (size_t)1 << 30);
}

static void
reply_free(struct reply *out)
{
	blob_unref(out->shared);
	buf_free(&out->body);
	free(out->location);
	free(out->set_cookie);
	free(out->disposition);
	free(out->content_range);
	if (out->fd_valid)
		close(out->fd);
	if (out->stream_free != NULL)
		out->stream_free(out->stream_cls);
}

/* An error response outside any route (body too large). */
static enum MHD_Result
send_plain_error(struct server *s, struct MHD_Connection *c, int status, const char *msg)
{
	struct reply out;
	enum MHD_Result ret;

	reply_init(&out);
	reply_error(NULL, &out, status, NULL, "%s", msg);
	ret = send_reply(s, c, &out);
	reply_free(&out);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct ctx *x = *con_cls;
	struct reply out;
	struct req r;
	enum MHD_Result ret;

	if (x == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		const char *cn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection");

		if (cl != NULL && strtoull(cl, NULL, 10) > SERVER_MAX_BODY)
			return send_plain_error(s, c, 413, "request body too large (limit 64 KiB)");
		x = xcalloc(1, sizeof *x);
		buf_init(&x->body, SERVER_MAX_BODY);
		x->closing = cn != NULL ? strcasestr(cn, "close") != NULL
		                        : strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
		*con_cls = x;
		/* The head is in: now the body has its own deadline. */
		conn_set_deadline(s, c, BODY_DEADLINE_S, 0);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!x->too_large && buf_append(&x->body, upload, *upload_size) == -1)
			x->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	conn_set_deadline(s, c, 0, 0); /* the whole request is in */
	if (x->too_large)
		return send_plain_error(s, c, 413, "request body too large (limit 64 KiB)");

	memset(&r, 0, sizeof r);
	r.srv = s;
	r.conn = c;
	r.method = method;
	r.url = url;
	r.body = x->body.data != NULL ? x->body.data : "";
	r.body_len = x->body.len;
	client_ip(c, r.ip, sizeof r.ip);
	reply_init(&out);
	dispatch(&r, &out);
	cache_flight_abandon(&r);
	ret = send_reply(s, c, &out);
	reply_free(&out);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct ctx *x = *con_cls;

	/*
	 * Kept alive: the next request's head has its deadline from now. A
	 * connection about to close waits for nothing: counted as waiting, it
	 * would make its address look busy, and the same client's next
	 * connection the one evicted.
	 */
	if (x != NULL && (x->closing || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK))
		conn_set_deadline(cls, c, 0, 0);
	else
		conn_set_deadline(cls, c, HEAD_DEADLINE_S, 1);
	if (x == NULL)
		return;
	buf_free(&x->body);
	free(x);
	*con_cls = NULL;
}

/* Percent-decoding of the path and query: form_unescape() keeps "%00". */
static size_t
on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return form_unescape(s);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug(NULL, "serve: libmicrohttpd: %s", msg);
}

/* Read a PEM file whole (caller frees). */
static char *
read_pem(const char *path, struct err *err)
{
	FILE *f = fopen(path, "r");
	struct buf b;
	char chunk[4096];
	size_t got;

	if (f == NULL) {
		err_sys(err, errno, "%s", path);
		return NULL;
	}
	buf_init(&b, 1 << 20);
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (buf_append(&b, chunk, got) == -1) {
			err_set(err, "%s: larger than 1 MiB", path);
			fclose(f);
			buf_free(&b);
			return NULL;
		}
	}
	fclose(f);
	return buf_steal(&b);
}

/*
 * The token in the file at path: its first line without surrounding white
 * space, at least 16 characters; a file others may read is refused. NULL
 * + err otherwise.
 */
static char *
read_token(const char *path, struct err *err)
{
	struct stat sb;
	char *text, *p, *end;

	if (stat(path, &sb) == -1) {
		err_sys(err, errno, "%s", path);
		return NULL;
	}
	if (sb.st_mode & S_IROTH) {
		err_set(err, "%s: readable by every user: chmod o-r it", path);
		return NULL;
	}
	if ((text = read_pem(path, err)) == NULL)
		return NULL;
	p = text + strspn(text, " \t\r\n");
	end = p + strcspn(p, "\r\n");
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (strlen(p) < 16) {
		err_set(err, "%s: the token must be at least 16 characters", path);
		free(text);
		return NULL;
	}
	memmove(text, p, strlen(p) + 1);
	return text;
}

int
server_start(const struct server_opts *o, struct server **out, struct err *err)
{
	const struct guiconf *gc = o->gc;
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct server *s;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	char port[16];
	int rc;

	if (mhdload(err) == -1) {
		err_wrap(err, "serve");
		return -1;
	}
	s = xcalloc(1, sizeof *s);
	s->o = o;
	pthread_mutex_init(&s->tmu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->vmu, NULL);
	pthread_cond_init(&s->vcond, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->fcond, &ca);
		pthread_condattr_destroy(&ca);
	}
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", gc->listen_port);
	rc = getaddrinfo(gc->listen_host, port, &hints, &ai);
	if (rc != 0) {
		err_set(err, "[web] listen %s: %s", gc->listen_host, gai_strerror(rc));
		goto fail;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (gc->tls_cert != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			err_set(err, "[web] tls_cert: this libmicrohttpd has no TLS support");
			goto fail;
		}
		s->tls_cert = read_pem(gc->tls_cert, err);
		s->tls_key = s->tls_cert != NULL ? read_pem(gc->tls_key, err) : NULL;
		if (s->tls_key == NULL) {
			err_wrap(err, "[web] TLS");
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	if (gc->metrics_token_file != NULL &&
	    (s->metrics_token = read_token(gc->metrics_token_file, err)) == NULL) {
		err_wrap(err, "[web] metrics_token_file");
		goto fail;
	}
	if (s->tls_cert != NULL)
		s->d = MHD_start_daemon(
		    flags, 0, on_accept, s, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_MAX,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONN_PER_ADDRESS,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
		    on_connection, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
		    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_UNESCAPE_CALLBACK,
		    on_unescape, s, MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert,
		    MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(
		    flags, 0, on_accept, s, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_MAX,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONN_PER_ADDRESS,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
		    on_connection, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
		    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_UNESCAPE_CALLBACK,
		    on_unescape, s, MHD_OPTION_END);
	if (s->d != NULL && pthread_create(&s->reaper, NULL, conn_reaper, s) == 0)
		s->reaper_started = 1;
	if (s->d == NULL) {
		err_set(err, "cannot listen on %s%s%s:%d (address in use, or not local?)",
		        ai->ai_family == AF_INET6 ? "[" : "", gc->listen_host,
		        ai->ai_family == AF_INET6 ? "]" : "", gc->listen_port);
		goto fail;
	}
	freeaddrinfo(ai);
	*out = s;
	return 0;
fail:
	if (ai != NULL)
		freeaddrinfo(ai);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->metrics_token);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->vmu);
	pthread_cond_destroy(&s->vcond);
	pthread_cond_destroy(&s->fcond);
	pthread_mutex_destroy(&s->tmu);
	free(s);
	return -1;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	s->stopping = 1;
	if (s->reaper_started)
		pthread_join(s->reaper, NULL);
	MHD_stop_daemon(s->d);
	if (s->evicted > 0 || s->expired > 0 || s->refused > 0)
		log_info(NULL,
		         "web: %lu connections past their request deadline, %lu evicted for "
		         "newcomers, %lu refused (their address held too many)",
		         s->expired, s->evicted, s->refused);
	for (size_t i = 0; i < s->ncats; i++) {
		catalog_close(s->cats[i].cat);
		free(s->cats[i].path);
	}
	for (size_t i = 0; i < s->nqueues; i++)
		queue_close(s->queues[i]);
	for (size_t i = 0; i < s->nprobes; i++) {
		catalog_close(s->probes[i].cat);
		free(s->probes[i].path);
	}
	for (size_t i = 0; i < CACHE_ENTRIES; i++)
		if (s->cache[i].key != NULL)
			cache_drop(s, &s->cache[i]);
	free(s->choices);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->metrics_token);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->vmu);
	pthread_cond_destroy(&s->vcond);
	pthread_cond_destroy(&s->fcond);
	pthread_mutex_destroy(&s->tmu);
	free(s);
}
