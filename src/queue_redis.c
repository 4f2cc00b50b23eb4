/*
 * The Redis queue backend (hiredis). Keys, all under "tb:":
 *
 *   tb:seq          INCR counter: run ids (never reused)
 *   tb:run:ID       hash: the run's fields (a missing field is NULL)
 *   tb:queued       list of queued ids; enqueue LPUSHes, claims pop the
 *                   right end (FIFO); a run handed back or re-queued is
 *                   pushed on the right, so it goes next
 *   tb:running      sorted set: running ids scored by lease deadline
 *   tb:active       hash: dedupe key -> id of the active run
 *   tb:all          sorted set of every id (listing, newest first)
 *   tb:finished     sorted set: ended ids scored by end time (pruning)
 *
 * Every step that touches more than one key is one Lua script (EVAL), so
 * it is atomic: enqueue with dedupe, claim (re-queue expired leases, then
 * pop), heartbeat, finish, release, cancel. Lease times come from the
 * Redis server's clock (TIME), so workers on several hosts agree.
 *
 * Waiting without polling: BLMOVE tb:queued tb:queued RIGHT RIGHT blocks
 * until the list is not empty and leaves it as it was (it moves the last
 * element onto itself), then the claim script pops; a worker killed while
 * blocked loses nothing. The block lasts at most a second at a time, so
 * expired leases are looked at once a second while idle.
 *
 * A lost connection fails the call with the address and the cause; the
 * next call reconnects. Durability is the server's (appendonly, see
 * docs/queue.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "guiconf.h"
#include "queue_backend.h"
#include "redis_url.h"
#include "util/xmalloc.h"

#define RD_CONNECT_TIMEOUT_S 5
#define RD_COMMAND_TIMEOUT_S 30
#define RD_IDLE_MS 1000

struct rd {
	char *url;             /* redacted: for messages */
	struct redis_url addr; /* host, port, db, user, password */
	int max_attempts;
	int64_t last_prune; /* monotonic s of this connection's last prune */
	redisContext *c;
};

/* Script fragments. */
#define LUA_NOW "local now = tonumber(redis.call('TIME')[1])\n"

static const char lua_enqueue[] =
    LUA_NOW "local id = redis.call('HGET', 'tb:active', ARGV[1])\n"
            "if id then return {id, 1} end\n"
            "id = tostring(redis.call('INCR', 'tb:seq'))\n"
            "local k = 'tb:run:' .. id\n"
            "redis.call('HSET', k, 'id', id, 'key', ARGV[1], 'action', ARGV[2], "
            "'sections', ARGV[3], 'config', ARGV[4], 'state', 'queued', 'attempts', 0, "
            "'created', now, 'started', 0, 'finished', 0, 'lease_until', 0, 'exit_code', -1, "
            "'log', '', 'cancel_requested', 0)\n"
            "if ARGV[5] == '1' then redis.call('HSET', k, 'exportdir', ARGV[6]) end\n"
            "if ARGV[7] == '1' then redis.call('HSET', k, 'requested_by', ARGV[8]) end\n"
            "if ARGV[9] == '1' then redis.call('HSET', k, 'options', ARGV[10]) end\n"
            "redis.call('HSET', 'tb:active', ARGV[1], id)\n"
            "redis.call('ZADD', 'tb:all', tonumber(id), id)\n"
            "redis.call('LPUSH', 'tb:queued', id)\n"
            "return {id, 0}\n";

/* ARGV[1] = max_attempts; then ARGV[2] = worker, ARGV[3] = lease (claim). */
static const char lua_claim[] = LUA_NOW
    "local max = tonumber(ARGV[1])\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'tb:running', '-inf', '(' .. now)) do\n"
    "  local k = 'tb:run:' .. id\n"
    "  local h = redis.call('HMGET', k, 'attempts', 'cancel_requested', 'key')\n"
    "  local att = tonumber(h[1]) or 0\n"
    "  redis.call('ZREM', 'tb:running', id)\n"
    "  redis.call('HDEL', k, 'worker')\n"
    "  redis.call('HSET', k, 'lease_until', 0)\n"
    "  if h[2] == '1' then\n"
    "    redis.call('HSET', k, 'state', 'cancelled', 'finished', now, "
    "'error', 'cancelled (its worker was lost)')\n"
    "    redis.call('HDEL', 'tb:active', h[3])\n"
    "    redis.call('ZADD', 'tb:finished', now, id)\n"
    "  elseif att >= max then\n"
    "    redis.call('HSET', k, 'state', 'failed', 'finished', now, "
    "'error', 'worker lost ' .. att .. ' times')\n"
    "    redis.call('HDEL', 'tb:active', h[3])\n"
    "    redis.call('ZADD', 'tb:finished', now, id)\n"
    "  else\n"
    "    redis.call('HSET', k, 'state', 'queued')\n"
    "    redis.call('RPUSH', 'tb:queued', id)\n"
    "  end\n"
    "end\n"
    "local id = redis.call('RPOP', 'tb:queued')\n"
    "if not id then return false end\n"
    "local k = 'tb:run:' .. id\n"
    "local lease = now + tonumber(ARGV[3])\n"
    "redis.call('HINCRBY', k, 'attempts', 1)\n"
    "redis.call('HSET', k, 'state', 'running', 'started', now, 'lease_until', lease, "
    "'worker', ARGV[2], 'exit_code', -1, 'cancel_requested', 0)\n"
    "redis.call('HDEL', k, 'error')\n"
    "redis.call('ZADD', 'tb:running', lease, id)\n"
    "return redis.call('HGETALL', k)\n";

/* -1: not held; else cancel_requested. */
static const char lua_heartbeat[] =
    LUA_NOW "local k = 'tb:run:' .. ARGV[1]\n"
            "local h = redis.call('HMGET', k, 'state', 'worker', 'cancel_requested')\n"
            "if h[1] ~= 'running' or h[2] ~= ARGV[2] then return -1 end\n"
            "local lease = now + tonumber(ARGV[3])\n"
            "redis.call('HSET', k, 'lease_until', lease)\n"
            "redis.call('ZADD', 'tb:running', lease, ARGV[1])\n"
            "return tonumber(h[3]) or 0\n";

static const char lua_append[] = "local k = 'tb:run:' .. ARGV[1]\n"
                                 "if redis.call('EXISTS', k) == 0 then return 0 end\n"
                                 "local max = tonumber(ARGV[3])\n"
                                 "local log = (redis.call('HGET', k, 'log') or '') .. ARGV[2]\n"
                                 "if #log > max then log = string.sub(log, -max) end\n"
                                 "redis.call('HSET', k, 'log', log)\n"
                                 "return 1\n";

/* ARGV: id, worker, state, exit_code, has_error, error. 0: not held. */
static const char lua_finish[] =
    LUA_NOW "local k = 'tb:run:' .. ARGV[1]\n"
            "local h = redis.call('HMGET', k, 'state', 'worker', 'key')\n"
            "if h[1] ~= 'running' or h[2] ~= ARGV[2] then return 0 end\n"
            "redis.call('HSET', k, 'state', ARGV[3], 'exit_code', ARGV[4], 'finished', now, "
            "'lease_until', 0)\n"
            "if ARGV[5] == '1' then redis.call('HSET', k, 'error', ARGV[6]) "
            "else redis.call('HDEL', k, 'error') end\n"
            "redis.call('ZREM', 'tb:running', ARGV[1])\n"
            "redis.call('HDEL', 'tb:active', h[3])\n"
            "redis.call('ZADD', 'tb:finished', now, ARGV[1])\n"
            "return 1\n";

static const char lua_release[] =
    LUA_NOW "local k = 'tb:run:' .. ARGV[1]\n"
            "local h = redis.call('HMGET', k, 'state', 'worker', 'key', 'cancel_requested', "
            "'attempts')\n"
            "if h[1] ~= 'running' or h[2] ~= ARGV[2] then return 0 end\n"
            "redis.call('ZREM', 'tb:running', ARGV[1])\n"
            "redis.call('HDEL', k, 'worker')\n"
            "local att = (tonumber(h[5]) or 1) - 1\n"
            "if att < 0 then att = 0 end\n"
            "redis.call('HSET', k, 'lease_until', 0, 'attempts', att)\n"
            "if h[4] == '1' then\n"
            "  redis.call('HSET', k, 'state', 'cancelled', 'finished', now, 'error', 'cancelled')\n"
            "  redis.call('HDEL', 'tb:active', h[3])\n"
            "  redis.call('ZADD', 'tb:finished', now, ARGV[1])\n"
            "else\n"
            "  redis.call('HSET', k, 'state', 'queued')\n"
            "  redis.call('RPUSH', 'tb:queued', ARGV[1])\n"
            "end\n"
            "return 1\n";

/* The state afterwards, or false for no such run. */
static const char lua_cancel[] =
    LUA_NOW "local k = 'tb:run:' .. ARGV[1]\n"
            "local h = redis.call('HMGET', k, 'state', 'key')\n"
            "if not h[1] then return false end\n"
            "if h[1] == 'queued' then\n"
            "  redis.call('LREM', 'tb:queued', 0, ARGV[1])\n"
            "  redis.call('HSET', k, 'state', 'cancelled', 'finished', now, "
            "'error', 'cancelled before it started')\n"
            "  redis.call('HDEL', 'tb:active', h[2])\n"
            "  redis.call('ZADD', 'tb:finished', now, ARGV[1])\n"
            "  return 'cancelled'\n"
            "elseif h[1] == 'running' then\n"
            "  redis.call('HSET', k, 'cancel_requested', 1)\n"
            "end\n"
            "return h[1]\n";

/* ARGV[1] = seconds to keep ended runs; deletes at most 1000 at a time. */
static const char lua_prune[] =
    LUA_NOW "local ids = redis.call('ZRANGEBYSCORE', 'tb:finished', '-inf', "
            "'(' .. (now - tonumber(ARGV[1])), 'LIMIT', 0, 1000)\n"
            "for _, id in ipairs(ids) do\n"
            "  redis.call('DEL', 'tb:run:' .. id)\n"
            "  redis.call('ZREM', 'tb:all', id)\n"
            "  redis.call('ZREM', 'tb:finished', id)\n"
            "end\n"
            "return #ids\n";

static void
rd_disconnect(struct rd *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
}

static void rd_close(void *be);

/* Run one command (argv form); the reply (caller frees) or NULL + err. */
static redisReply *rd_cmd(struct rd *r, int argc, const char **argv, const size_t *lens,
                          struct err *err);

static int
rd_connect(struct rd *r, struct err *err)
{
	struct timeval tv = { RD_CONNECT_TIMEOUT_S, 0 };
	redisReply *rep;
	char db[16];

	if (r->c != NULL)
		return 0;
	r->c = redisConnectWithTimeout(r->addr.host, r->addr.port, tv);
	if (r->c == NULL || r->c->err) {
		err_set(err, "queue %s: %s", r->url, r->c != NULL ? r->c->errstr : "out of memory");
		rd_disconnect(r);
		return -1;
	}
	tv.tv_sec = RD_COMMAND_TIMEOUT_S;
	redisSetTimeout(r->c, tv);
	if (r->addr.password != NULL) {
		/* AUTH USER PASSWORD (an ACL user, Redis 6+) or AUTH PASSWORD
		 * (the default user); the reply to a wrong password names
		 * neither. */
		const char *av[] = { "AUTH", r->addr.user != NULL ? r->addr.user : r->addr.password,
			             r->addr.password };

		if ((rep = rd_cmd(r, r->addr.user != NULL ? 3 : 2, av, NULL, err)) == NULL) {
			rd_disconnect(r); /* never keep an unauthenticated connection */
			return -1;
		}
		freeReplyObject(rep);
	}
	if (r->addr.db != 0) {
		const char *av[] = { "SELECT", db };

		snprintf(db, sizeof db, "%d", r->addr.db);
		if ((rep = rd_cmd(r, 2, av, NULL, err)) == NULL) {
			rd_disconnect(r); /* nor one on the wrong database */
			return -1;
		}
		freeReplyObject(rep);
	}
	return 0;
}

static redisReply *
rd_cmd(struct rd *r, int argc, const char **argv, const size_t *lens, struct err *err)
{
	redisReply *rep;

	if (r->c == NULL && rd_connect(r, err) == -1)
		return NULL;
	rep = redisCommandArgv(r->c, argc, argv, lens);
	if (rep == NULL) {
		err_set(err, "queue %s: %s (will reconnect)", r->url,
		        r->c->errstr[0] != '\0' ? r->c->errstr : "connection lost");
		rd_disconnect(r);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		err_set(err, "queue %s: %s: %s", r->url, argv[0], rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* EVAL script with no keys and the given arguments (NULL-terminated text). */
static redisReply *
rd_eval(struct rd *r, const char *script, const char *const *args, struct err *err)
{
	const char *av[16];
	int n = 0;

	av[n++] = "EVAL";
	av[n++] = script;
	av[n++] = "0";
	for (; *args != NULL && n < 16; args++)
		av[n++] = *args;
	return rd_cmd(r, n, av, NULL, err);
}

int
queue_redis_open(const struct guiconf *gc, void **be, struct err *err)
{
	struct rd *r = xcalloc(1, sizeof *r);
	redisReply *rep;
	const char *ping[] = { "PING" };

	*be = NULL;
	r->url = redis_url_redact(gc->redis_url);
	r->max_attempts = gc->max_attempts;
	if (redis_url_parse(gc->redis_url, &r->addr, err) == -1) {
		err_wrap(err, "queue %s: redis_url", r->url);
		rd_close(r);
		return -1;
	}
	if (rd_connect(r, err) == -1 || (rep = rd_cmd(r, 1, ping, NULL, err)) == NULL) {
		rd_close(r);
		return -1;
	}
	freeReplyObject(rep);
	*be = r;
	return 0;
}

static void
rd_close(void *be)
{
	struct rd *r = be;

	rd_disconnect(r);
	free(r->url);
	redis_url_free(&r->addr);
	free(r);
}

static int64_t
num(const char *s)
{
	return s != NULL ? strtoll(s, NULL, 10) : 0;
}

/* A run from HGETALL's flat field/value array; NULL when empty. */
static struct queue_run *
run_from_reply(const redisReply *rep)
{
	struct queue_run *run;
	const char *sections = "", *options = NULL;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2)
		return NULL;
	run = xcalloc(1, sizeof *run);
	run->exit_code = -1;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const char *f = rep->element[i]->str, *v = rep->element[i + 1]->str;

		if (f == NULL || v == NULL)
			continue;
		if (strcmp(f, "id") == 0)
			run->id = xstrdup(v);
		else if (strcmp(f, "action") == 0)
			run->action = xstrdup(v);
		else if (strcmp(f, "sections") == 0)
			sections = v;
		else if (strcmp(f, "exportdir") == 0)
			run->exportdir = xstrdup(v);
		else if (strcmp(f, "config") == 0)
			run->config = xstrdup(v);
		else if (strcmp(f, "requested_by") == 0)
			run->requested_by = xstrdup(v);
		else if (strcmp(f, "state") == 0) {
			if (queue_state_parse(v, &run->state) == -1)
				run->state = QUEUE_FAILED;
		} else if (strcmp(f, "attempts") == 0)
			run->attempts = (int)num(v);
		else if (strcmp(f, "created") == 0)
			run->created = num(v);
		else if (strcmp(f, "started") == 0)
			run->started = num(v);
		else if (strcmp(f, "finished") == 0)
			run->finished = num(v);
		else if (strcmp(f, "lease_until") == 0)
			run->lease_until = num(v);
		else if (strcmp(f, "worker") == 0)
			run->worker = xstrdup(v);
		else if (strcmp(f, "exit_code") == 0)
			run->exit_code = (int)num(v);
		else if (strcmp(f, "error") == 0)
			run->error = xstrndup(v, rep->element[i + 1]->len);
		else if (strcmp(f, "log") == 0)
			run->log = xstrndup(v, rep->element[i + 1]->len);
		else if (strcmp(f, "cancel_requested") == 0)
			run->cancel_requested = (int)num(v);
		else if (strcmp(f, "options") == 0)
			options = v;
	}
	queue_run_set_sections(run, sections);
	queue_run_set_options(run, options);
	if (run->id == NULL)
		run->id = xstrdup("");
	if (run->action == NULL)
		run->action = xstrdup("");
	if (run->config == NULL)
		run->config = xstrdup("");
	if (run->log == NULL)
		run->log = xstrdup("");
	return run;
}

static int
rd_enqueue(void *be, const struct queue_request *req, const char *key, char **id, int *existed,
           struct err *err)
{
	struct rd *r = be;
	char *sections, *options = queue_options_encode(req);
	size_t len = 1;
	redisReply *rep;
	int rc = -1;

	for (size_t i = 0; i < req->nsections; i++)
		len += strlen(req->sections[i]) + 1;
	sections = xcalloc(1, len);
	for (size_t i = 0, at = 0; i < req->nsections; i++) {
		size_t n = strlen(req->sections[i]);

		if (i > 0)
			sections[at++] = ',';
		memcpy(sections + at, req->sections[i], n + 1);
		at += n;
	}
	{
		const char *args[] = { key,
			               req->action,
			               sections,
			               req->config,
			               req->exportdir != NULL ? "1" : "0",
			               req->exportdir != NULL ? req->exportdir : "",
			               req->requested_by != NULL ? "1" : "0",
			               req->requested_by != NULL ? req->requested_by : "",
			               options != NULL ? "1" : "0",
			               options != NULL ? options : "",
			               NULL };

		rep = rd_eval(r, lua_enqueue, args, err);
	}
	if (rep == NULL)
		goto out;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->str == NULL) {
		err_set(err, "queue %s: unexpected reply to enqueue", r->url);
		freeReplyObject(rep);
		goto out;
	}
	*id = xstrdup(rep->element[0]->str);
	*existed = rep->element[1]->integer == 1;
	freeReplyObject(rep);
	rc = 0;
out:
	free(sections);
	free(options);
	return rc;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
rd_claim(void *be, const char *worker, int lease_s, int wait_ms, struct queue_run **out,
         struct err *err)
{
	struct rd *r = be;
	int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	char max[16], lease[16];
	const char *args[] = { max, worker, lease, NULL };

	snprintf(max, sizeof max, "%d", r->max_attempts);
	snprintf(lease, sizeof lease, "%d", lease_s);
	if (r->last_prune == 0 || mono_ms() / 1000 - r->last_prune >= QUEUE_PRUNE_EVERY) {
		char keep[24];
		const char *pargs[] = { keep, NULL };
		redisReply *rep;

		r->last_prune = mono_ms() / 1000;
		snprintf(keep, sizeof keep, "%d", QUEUE_KEEP_SECONDS);
		if ((rep = rd_eval(r, lua_prune, pargs, err)) == NULL)
			return -1;
		freeReplyObject(rep);
	}
	for (;;) {
		redisReply *rep = rd_eval(r, lua_claim, args, err);
		int64_t left;
		char secs[32];

		if (rep == NULL)
			return -1;
		*out = run_from_reply(rep);
		freeReplyObject(rep);
		if (*out != NULL)
			return 0;
		left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		if (left > RD_IDLE_MS)
			left = RD_IDLE_MS;
		/* Block until something is queued; the list is left as it was. */
		snprintf(secs, sizeof secs, "%.3f", (double)left / 1000.0);
		{
			const char *av[] = { "BLMOVE", "tb:queued", "tb:queued",
				             "RIGHT",  "RIGHT",     secs };

			if ((rep = rd_cmd(r, 6, av, NULL, err)) == NULL)
				return -1;
			freeReplyObject(rep);
		}
	}
}

static int
not_held(const struct rd *r, const char *id, const char *worker, struct err *err)
{
	err_set(err, "queue %s: run %s is not running under worker %s", r->url, id, worker);
	return -1;
}

static int
rd_heartbeat(void *be, const char *id, const char *worker, int lease_s, int *cancel,
             struct err *err)
{
	struct rd *r = be;
	char lease[16];
	const char *args[] = { id, worker, lease, NULL };
	redisReply *rep;
	long long v;

	snprintf(lease, sizeof lease, "%d", lease_s);
	if ((rep = rd_eval(r, lua_heartbeat, args, err)) == NULL)
		return -1;
	v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
	freeReplyObject(rep);
	if (v == -1)
		return not_held(r, id, worker, err);
	*cancel = v != 0;
	return 0;
}

static int
rd_append_log(void *be, const char *id, const char *text, struct err *err)
{
	struct rd *r = be;
	char max[24];
	const char *args[] = { id, text, max, NULL };
	redisReply *rep;
	long long v;

	snprintf(max, sizeof max, "%d", QUEUE_LOG_MAX);
	if ((rep = rd_eval(r, lua_append, args, err)) == NULL)
		return -1;
	v = rep->integer;
	freeReplyObject(rep);
	if (v != 1) {
		err_set(err, "queue %s: no run '%s'", r->url, id);
		return -1;
	}
	return 0;
}

static int
rd_finish(void *be, const char *id, const char *worker, enum queue_state state, int exit_code,
          const char *error, struct err *err)
{
	struct rd *r = be;
	char code[16];
	const char *args[] = { id,
		               worker,
		               queue_state_name(state),
		               code,
		               error != NULL ? "1" : "0",
		               error != NULL ? error : "",
		               NULL };
	redisReply *rep;
	long long v;

	snprintf(code, sizeof code, "%d", exit_code);
	if ((rep = rd_eval(r, lua_finish, args, err)) == NULL)
		return -1;
	v = rep->integer;
	freeReplyObject(rep);
	return v == 1 ? 0 : not_held(r, id, worker, err);
}

static int
rd_release(void *be, const char *id, const char *worker, struct err *err)
{
	struct rd *r = be;
	const char *args[] = { id, worker, NULL };
	redisReply *rep;
	long long v;

	if ((rep = rd_eval(r, lua_release, args, err)) == NULL)
		return -1;
	v = rep->integer;
	freeReplyObject(rep);
	return v == 1 ? 0 : not_held(r, id, worker, err);
}

static int
rd_cancel(void *be, const char *id, int *found, enum queue_state *state, struct err *err)
{
	struct rd *r = be;
	const char *args[] = { id, NULL };
	redisReply *rep;

	if ((rep = rd_eval(r, lua_cancel, args, err)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_STRING && queue_state_parse(rep->str, state) == 0)
		*found = 1;
	freeReplyObject(rep);
	return 0;
}

static int
rd_get(void *be, const char *id, struct queue_run **out, struct err *err)
{
	struct rd *r = be;
	char *key = xasprintf("tb:run:%s", id);
	const char *av[] = { "HGETALL", key };
	redisReply *rep = rd_cmd(r, 2, av, NULL, err);

	free(key);
	if (rep == NULL)
		return -1;
	*out = run_from_reply(rep);
	freeReplyObject(rep);
	return 0;
}

static int
cmp_id_desc(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int
rd_list(void *be, int active_only, int limit, struct queue_run **runs, size_t *n, struct err *err)
{
	struct rd *r = be;
	long long *ids = NULL;
	size_t nids = 0, len = 0;
	redisReply *rep;
	char stop[24];
	int rc = -1;

	if (active_only) {
		const char *av[] = { "HVALS", "tb:active" };

		rep = rd_cmd(r, 2, av, NULL, err);
	} else {
		const char *av[] = { "ZREVRANGE", "tb:all", "0", stop };

		snprintf(stop, sizeof stop, "%d", limit - 1);
		rep = rd_cmd(r, 4, av, NULL, err);
	}
	if (rep == NULL)
		return -1;
	ids = xcalloc(rep->elements + 1, sizeof *ids);
	for (size_t i = 0; i < rep->elements; i++)
		if (rep->element[i]->str != NULL)
			ids[nids++] = strtoll(rep->element[i]->str, NULL, 10);
	freeReplyObject(rep);
	qsort(ids, nids, sizeof *ids, cmp_id_desc);
	if (nids > (size_t)limit)
		nids = (size_t)limit;
	*runs = xcalloc(nids + 1, sizeof **runs);
	/* Pipelined: every HGETALL sent, then every reply read. */
	for (size_t i = 0; i < nids; i++)
		if (r->c != NULL)
			redisAppendCommand(r->c, "HGETALL tb:run:%lld", ids[i]);
	for (size_t i = 0; i < nids; i++) {
		struct queue_run *one;
		void *reply = NULL;

		if (r->c == NULL || redisGetReply(r->c, &reply) != REDIS_OK) {
			err_set(err, "queue %s: %s (will reconnect)", r->url,
			        r->c != NULL ? r->c->errstr : "connection lost");
			rd_disconnect(r);
			goto out;
		}
		one = run_from_reply(reply);
		freeReplyObject(reply);
		if (one == NULL)
			continue; /* finished and gone between the two steps: skip */
		(*runs)[len++] = *one;
		free(one);
	}
	rc = 0;
out:
	free(ids);
	if (rc == -1) {
		queue_runs_free(*runs, len);
		*runs = NULL;
		len = 0;
	}
	*n = len;
	return rc;
}

const struct queue_ops queue_redis_ops = {
	.name = "redis",
	.enqueue = rd_enqueue,
	.claim = rd_claim,
	.heartbeat = rd_heartbeat,
	.append_log = rd_append_log,
	.finish = rd_finish,
	.release = rd_release,
	.cancel = rd_cancel,
	.get = rd_get,
	.list = rd_list,
	.close = rd_close,
};
