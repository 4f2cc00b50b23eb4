/*
 * The queue's front (see queue.h): checks every request, computes the
 * key that makes active runs unique, and dispatches to the backend
 * gc->queue_backend names through its const ops table (queue_sqlite.c,
 * queue_redis.c). Also the helpers both backends share.
 */
#include "queue.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "guiconf.h"
#include "queue_backend.h"
#include "util/buf.h"
#include "util/xmalloc.h"

struct queue {
	const struct queue_ops *ops;
	void *be;
};

/* Every backend, indexed by enum guiconf_queue_backend. */
static const struct queue_ops *const backends[] = {
	[GUICONF_QUEUE_SQLITE] = &queue_sqlite_ops,
	[GUICONF_QUEUE_REDIS] = &queue_redis_ops,
};

void
queue_backend_names(struct buf *out, const char *sep)
{
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		buf_printf(out, "%s%s", i > 0 ? sep : "", backends[i]->name);
}

static const char *const state_names[] = {
	[QUEUE_QUEUED] = "queued", [QUEUE_RUNNING] = "running",     [QUEUE_DONE] = "done",
	[QUEUE_FAILED] = "failed", [QUEUE_CANCELLED] = "cancelled",
};

const char *
queue_state_name(enum queue_state s)
{
	if ((size_t)s >= sizeof state_names / sizeof state_names[0])
		return "unknown";
	return state_names[s];
}

int
queue_state_parse(const char *name, enum queue_state *out)
{
	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
		if (name != NULL && strcmp(name, state_names[i]) == 0) {
			*out = (enum queue_state)i;
			return 0;
		}
	return -1;
}

void
queue_run_set_sections(struct queue_run *r, const char *csv)
{
	size_t n = 1, i = 0;
	const char *p;

	for (p = csv; *p != '\0'; p++)
		n += *p == ',';
	r->sections = xcalloc(n + 1, sizeof *r->sections);
	for (p = csv;; i++) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

		r->sections[i] = xstrndup(p, len);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	r->nsections = i + 1;
}

char *
queue_options_encode(const struct queue_request *req)
{
	json_t *a;
	char *out, *copy;

	if (req->noptions == 0)
		return NULL;
	a = json_array();
	for (size_t i = 0; i < req->noptions; i++) {
		json_t *w = json_string(req->options[i]);

		assert(w != NULL); /* request_check() took only UTF-8 words */
		json_array_append_new(a, w);
	}
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (out == NULL)
		abort(); /* out of memory */
	copy = xstrdup(out);
	free(out);
	return copy;
}

void
queue_run_set_options(struct queue_run *r, const char *json)
{
	json_t *a;
	size_t i, n = 0;

	r->options = NULL;
	r->noptions = 0;
	if (json == NULL || *json == '\0')
		return;
	a = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	if (a != NULL && json_is_array(a)) {
		n = json_array_size(a);
		for (i = 0; i < n && json_is_string(json_array_get(a, i)); i++)
			;
		if (i == n) {
			r->options = xcalloc(n + 1, sizeof *r->options);
			for (i = 0; i < n; i++)
				r->options[i] = xstrdup(json_string_value(json_array_get(a, i)));
			r->noptions = n;
			json_decref(a);
			return;
		}
	}
	json_decref(a);
	r->options = xcalloc(2, sizeof *r->options);
	r->options[0] = xasprintf("(unreadable options: %.200s)", json);
	r->noptions = 1;
}

/* Free what r owns (not r itself). */
static void
run_clear(struct queue_run *r)
{
	free(r->id);
	free(r->action);
	for (size_t k = 0; r->sections != NULL && r->sections[k] != NULL; k++)
		free(r->sections[k]);
	free(r->sections);
	free(r->exportdir);
	free(r->config);
	free(r->requested_by);
	free(r->cancelled_by);
	free(r->worker);
	free(r->error);
	free(r->log);
	free(r->pool);
	for (size_t k = 0; k < r->noptions; k++)
		free(r->options[k]);
	free(r->options);
}

void
queue_run_free(struct queue_run *r)
{
	if (r == NULL)
		return;
	run_clear(r);
	free(r);
}

void
queue_runs_free(struct queue_run *runs, size_t n)
{
	if (runs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		run_clear(&runs[i]);
	free(runs);
}

int
queue_open(const struct guiconf *gc, const char *catalog_dir, struct queue **out, struct err *err)
{
	struct queue *q = xcalloc(1, sizeof *q);
	int rc;

	*out = NULL;
	switch (gc->queue_backend) {
	case GUICONF_QUEUE_SQLITE:
		q->ops = backends[GUICONF_QUEUE_SQLITE];
		rc = queue_sqlite_open(gc, catalog_dir, &q->be, err);
		break;
	case GUICONF_QUEUE_REDIS:
		q->ops = backends[GUICONF_QUEUE_REDIS];
		rc = queue_redis_open(gc, &q->be, err);
		break;
	default:
		err_set(err, "queue: unknown backend %d", (int)gc->queue_backend);
		rc = -1;
		break;
	}
	if (rc == -1) {
		free(q);
		return -1;
	}
	*out = q;
	return 0;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	q->ops->close(q->be);
	free(q);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if s is valid UTF-8 (what a JSON string may hold). */
static int
utf8_valid(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Check req; 0 or -1 + err naming what is wrong. */
static int
request_check(const struct queue_request *req, struct err *err)
{
	const struct action_entry *e = req->action != NULL ? action_find_queued(req->action) : NULL;

	if (e == NULL) {
		struct buf names;

		buf_init(&names, (size_t)-1);
		action_list_names(&names, 1, " or ");
		err_set(err, "queue: unknown action '%s' (expected %s)",
		        req->action != NULL ? req->action : "", buf_str(&names));
		buf_free(&names);
		return -1;
	}
	if (req->nsections == 0 || req->sections == NULL) {
		err_set(err, "queue: a run needs at least one job section");
		return -1;
	}
	for (size_t i = 0; i < req->nsections; i++) {
		const char *s = req->sections[i];

		if (s == NULL || *s == '\0' || strpbrk(s, ",\n\r\x1f") != NULL) {
			err_set(err, "queue: invalid section name '%s'", s != NULL ? s : "");
			return -1;
		}
	}
	if (req->config == NULL || *req->config == '\0') {
		err_set(err, "queue: a run needs its tisbackup config file");
		return -1;
	}
	if (req->exportdir != NULL && !(e->flags & ACTION_EXPORTDIR)) {
		err_set(err, "queue: only an export takes an export folder");
		return -1;
	}
	if (req->pool != NULL && !queue_pool_valid(req->pool)) {
		err_set(err,
		        "queue: invalid pool name '%s' (expected 1 to 64 of A-Z a-z 0-9 _ . -)",
		        req->pool);
		return -1;
	}
	if (req->noptions > QUEUE_OPTIONS_MAX) {
		err_set(err, "queue: at most %d options", QUEUE_OPTIONS_MAX);
		return -1;
	}
	for (size_t i = 0; i < req->noptions; i++) {
		const char *o = req->options[i];
		size_t len = o != NULL ? strlen(o) : 0;
		int ctl = 0;

		for (size_t k = 0; k < len; k++)
			ctl |= (unsigned char)o[k] < 0x20 || o[k] == 0x7f;
		if (len < 3 || strncmp(o, "--", 2) != 0 || len > QUEUE_OPTION_LEN_MAX || ctl ||
		    !utf8_valid(o)) {
			err_set(
			    err,
			    "queue: option %zu is not one --NAME[=VALUE] word (UTF-8, no control "
			    "characters, at most %d bytes)",
			    i + 1, QUEUE_OPTION_LEN_MAX);
			return -1;
		}
	}
	return 0;
}

/*
 * The dedupe key: action, config and the sorted set of sections
 * ("backup\x1f/etc/tis/tisbackup-config.ini\x1fa,b"). Caller frees.
 */
static char *
request_key(const struct queue_request *req)
{
	const char **v = xcalloc(req->nsections, sizeof *v);
	struct buf b;

	memcpy(v, req->sections, req->nsections * sizeof *v);
	qsort(v, req->nsections, sizeof *v, cmp_str);
	buf_init(&b, (size_t)-1);
	buf_printf(&b, "%s\x1f%s\x1f", req->action, req->config);
	for (size_t i = 0; i < req->nsections; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (i > 0)
			buf_putc(&b, ',');
		buf_puts(&b, v[i]);
	}
	free(v);
	/* Options are part of what is asked: another restore target is another run. */
	if (req->noptions > 0) {
		char *o = queue_options_encode(req);

		buf_printf(&b, "\x1f%s", o);
		free(o);
	}
	return buf_steal(&b);
}

int
queue_enqueue(struct queue *q, const struct queue_request *req, char **id, int *existed,
              struct err *err)
{
	char *key;
	int rc, ex = 0;

	*id = NULL;
	if (request_check(req, err) == -1)
		return -1;
	key = request_key(req);
	rc = q->ops->enqueue(q->be, req, key, id, &ex, err);
	free(key);
	if (existed != NULL)
		*existed = ex;
	return rc;
}

int
queue_pool_valid(const char *name)
{
	return pool_name_valid(name);
}

/* Check a worker's pool list; 0 or -1 + err. */
static int
pools_check(const char *const *names, size_t n, struct err *err)
{
	if (n == 0 || n > QUEUE_POOLS_MAX) {
		err_set(err, "queue: a worker serves 1 to %d pools, not %zu", QUEUE_POOLS_MAX, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!queue_pool_valid(names[i])) {
			err_set(
			    err,
			    "queue: invalid pool name '%s' (expected 1 to 64 of A-Z a-z 0-9 _ . -)",
			    names[i] != NULL ? names[i] : "");
			return -1;
		}
	return 0;
}

int
queue_claim(struct queue *q, const char *worker, int lease_s, int wait_ms, struct queue_run **out,
            struct err *err)
{
	const struct queue_pool_limit def = { QUEUE_POOL_DEFAULT, 0 };

	return queue_claim_pools(q, worker, &def, 1, lease_s, wait_ms, out, err);
}

int
queue_claim_pools(struct queue *q, const char *worker, const struct queue_pool_limit *pools,
                  size_t npools, int lease_s, int wait_ms, struct queue_run **out, struct err *err)
{
	const char *names[QUEUE_POOLS_MAX];

	*out = NULL;
	for (size_t i = 0; i < npools && i < QUEUE_POOLS_MAX; i++)
		names[i] = pools[i].name;
	if (pools_check(names, npools, err) == -1)
		return -1;
	return q->ops->claim(q->be, worker, pools, npools, lease_s, wait_ms, out, err);
}

int
queue_worker_beat(struct queue *q, const char *worker, const char *const *pools, size_t npools,
                  int ttl_s, struct err *err)
{
	if (pools_check(pools, npools, err) == -1)
		return -1;
	return q->ops->worker_beat(q->be, worker, pools, npools, ttl_s < 0 ? 0 : ttl_s, err);
}

int
queue_pools(struct queue *q, struct queue_pool_stat **out, size_t *n, struct err *err)
{
	*out = NULL;
	*n = 0;
	return q->ops->pools(q->be, out, n, err);
}

void
queue_pool_stats_free(struct queue_pool_stat *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

int
queue_heartbeat(struct queue *q, const char *id, const char *worker, int lease_s, int *cancel,
                struct err *err)
{
	*cancel = 0;
	return q->ops->heartbeat(q->be, id, worker, lease_s, cancel, err);
}

int
queue_append_log(struct queue *q, const char *id, const char *text, struct err *err)
{
	if (text == NULL || *text == '\0')
		return 0;
	return q->ops->append_log(q->be, id, text, err);
}

int
queue_finish(struct queue *q, const char *id, const char *worker, enum queue_state state,
             int exit_code, const char *error, struct err *err)
{
	if (state != QUEUE_DONE && state != QUEUE_FAILED && state != QUEUE_CANCELLED) {
		err_set(err, "queue: run %s: cannot finish as %s", id, queue_state_name(state));
		return -1;
	}
	return q->ops->finish(q->be, id, worker, state, exit_code, error, err);
}

int
queue_release(struct queue *q, const char *id, const char *worker, struct err *err)
{
	return q->ops->release(q->be, id, worker, err);
}

int
queue_cancel(struct queue *q, const char *id, const char *by, int *found, enum queue_state *state,
             struct err *err)
{
	*found = 0;
	return q->ops->cancel(q->be, id, by, found, state, err);
}

int
queue_get(struct queue *q, const char *id, struct queue_run **out, struct err *err)
{
	*out = NULL;
	return q->ops->get(q->be, id, out, err);
}

int
queue_list(struct queue *q, int active_only, int limit, struct queue_run **runs, size_t *n,
           struct err *err)
{
	*runs = NULL;
	*n = 0;
	if (limit <= 0) {
		err_set(err, "queue: list limit must be positive");
		return -1;
	}
	return q->ops->list(q->be, active_only, limit, runs, n, err);
}
