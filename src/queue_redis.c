/*
 * The Redis queue backend (hiredis). Keys, all under "tb:":
 *
 *   tb:seq          INCR counter: run ids (never reused)
 *   tb:run:ID       hash: the run's fields (a missing field is NULL)
 *   tb:queued       list of the queued ids of pool "default"; enqueue
 *                   LPUSHes, claims pop the right end (FIFO); a run handed
 *                   back or re-queued is pushed on the right, so it goes
 *                   next
 *   tb:queued:POOL  the same for each other pool
 *   tb:running      sorted set: running ids scored by lease deadline
 *   tb:poolrun:POOL set of the running ids of a pool (its max_running)
 *   tb:pools        set of every pool name seen (runs or workers)
 *   tb:workers:POOL sorted set: live workers scored by when they expire
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

#include "hiredisload.h" /* libhiredis loaded on first use: redis... are its table */
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
/* The pending list of a pool (runs queued before pools existed have none: default). */
#define LUA_QKEY                                                                                   \
	"local function qkey(p)\n"                                                                 \
	"  if not p or p == 'default' then return 'tb:queued' end\n"                               \
	"  return 'tb:queued:' .. p\n"                                                             \
	"end\n"

static const char lua_enqueue[] = LUA_NOW LUA_QKEY
    "local id = redis.call('HGET', 'tb:active', ARGV[1])\n"
    "if id then return {id, 1} end\n"
    "id = tostring(redis.call('INCR', 'tb:seq'))\n"
    "local k = 'tb:run:' .. id\n"
    "redis.call('HSET', k, 'id', id, 'key', ARGV[1], 'action', ARGV[2], "
    "'sections', ARGV[3], 'config', ARGV[4], 'state', 'queued', 'attempts', 0, "
    "'created', now, 'started', 0, 'finished', 0, 'lease_until', 0, 'exit_code', -1, "
    "'log', '', 'cancel_requested', 0, 'pool', ARGV[9])\n"
    "if ARGV[5] == '1' then redis.call('HSET', k, 'exportdir', ARGV[6]) end\n"
    "if ARGV[7] == '1' then redis.call('HSET', k, 'requested_by', ARGV[8]) end\n"
    "if ARGV[10] == '1' then redis.call('HSET', k, 'options', ARGV[11]) end\n"
    "redis.call('HSET', 'tb:active', ARGV[1], id)\n"
    "redis.call('ZADD', 'tb:all', tonumber(id), id)\n"
    "redis.call('LPUSH', qkey(ARGV[9]), id)\n"
    "redis.call('SADD', 'tb:pools', ARGV[9])\n"
    "return {id, 0}\n";

/*
 * ARGV[1] = max_attempts; then ARGV[2] = worker, ARGV[3] = lease, then
 * pairs of pool name and its max_running (0 = no limit). Returns the run,
 * false when none is queued, 1 when runs are queued but their pools are
 * at their limit.
 */
static const char lua_claim[] = LUA_NOW LUA_QKEY
    "local max = tonumber(ARGV[1])\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'tb:running', '-inf', '(' .. now)) do\n"
    "  local k = 'tb:run:' .. id\n"
    "  local h = redis.call('HMGET', k, 'attempts', 'cancel_requested', 'key', 'pool', "
    "'cancelled_by')\n"
    "  local att = tonumber(h[1]) or 0\n"
    "  redis.call('ZREM', 'tb:running', id)\n"
    "  redis.call('SREM', 'tb:poolrun:' .. (h[4] or 'default'), id)\n"
    "  redis.call('HDEL', k, 'worker')\n"
    "  redis.call('HSET', k, 'lease_until', 0)\n"
    "  if h[2] == '1' then\n"
    "    local by = h[5] and (' by ' .. h[5]) or ''\n"
    "    redis.call('HSET', k, 'state', 'cancelled', 'finished', now, "
    "'error', 'cancelled' .. by .. ' (its worker was lost)')\n"
    "    redis.call('HDEL', 'tb:active', h[3])\n"
    "    redis.call('ZADD', 'tb:finished', now, id)\n"
    "  elseif att >= max then\n"
    "    redis.call('HSET', k, 'state', 'failed', 'finished', now, "
    "'error', 'worker lost ' .. att .. ' times')\n"
    "    redis.call('HDEL', 'tb:active', h[3])\n"
    "    redis.call('ZADD', 'tb:finished', now, id)\n"
    "  else\n"
    "    redis.call('HSET', k, 'state', 'queued')\n"
    "    redis.call('RPUSH', qkey(h[4]), id)\n"
    "  end\n"
    "end\n"
    "local id, pool, full = nil, nil, false\n"
    "for i = 4, #ARGV - 1, 2 do\n"
    "  local lim = tonumber(ARGV[i + 1]) or 0\n"
    "  if lim > 0 and redis.call('SCARD', 'tb:poolrun:' .. ARGV[i]) >= lim then\n"
    "    if redis.call('LLEN', qkey(ARGV[i])) > 0 then full = true end\n"
    "  else\n"
    "    id = redis.call('RPOP', qkey(ARGV[i]))\n"
    "    if id then pool = ARGV[i]; break end\n"
    "  end\n"
    "end\n"
    "if not id then if full then return 1 end return false end\n"
    "local k = 'tb:run:' .. id\n"
    "redis.call('SADD', 'tb:poolrun:' .. pool, id)\n"
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
            "local h = redis.call('HMGET', k, 'state', 'worker', 'key', 'pool')\n"
            "if h[1] ~= 'running' or h[2] ~= ARGV[2] then return 0 end\n"
            "redis.call('SREM', 'tb:poolrun:' .. (h[4] or 'default'), ARGV[1])\n"
            "redis.call('HSET', k, 'state', ARGV[3], 'exit_code', ARGV[4], 'finished', now, "
            "'lease_until', 0)\n"
            "if ARGV[5] == '1' then redis.call('HSET', k, 'error', ARGV[6]) "
            "else redis.call('HDEL', k, 'error') end\n"
            "redis.call('ZREM', 'tb:running', ARGV[1])\n"
            "redis.call('HDEL', 'tb:active', h[3])\n"
            "redis.call('ZADD', 'tb:finished', now, ARGV[1])\n"
            "return 1\n";

static const char lua_release[] = LUA_NOW LUA_QKEY
    "local k = 'tb:run:' .. ARGV[1]\n"
    "local h = redis.call('HMGET', k, 'state', 'worker', 'key', 'cancel_requested', "
    "'attempts', 'pool', 'cancelled_by')\n"
    "if h[1] ~= 'running' or h[2] ~= ARGV[2] then return 0 end\n"
    "redis.call('SREM', 'tb:poolrun:' .. (h[6] or 'default'), ARGV[1])\n"
    "redis.call('ZREM', 'tb:running', ARGV[1])\n"
    "redis.call('HDEL', k, 'worker')\n"
    "local att = (tonumber(h[5]) or 1) - 1\n"
    "if att < 0 then att = 0 end\n"
    "redis.call('HSET', k, 'lease_until', 0, 'attempts', att)\n"
    "if h[4] == '1' then\n"
    "  local by = h[7] and (' by ' .. h[7]) or ''\n"
    "  redis.call('HSET', k, 'state', 'cancelled', 'finished', now, 'error', "
    "'cancelled' .. by)\n"
    "  redis.call('HDEL', 'tb:active', h[3])\n"
    "  redis.call('ZADD', 'tb:finished', now, ARGV[1])\n"
    "else\n"
    "  redis.call('HSET', k, 'state', 'queued')\n"
    "  redis.call('RPUSH', qkey(h[6]), ARGV[1])\n"
    "end\n"
    "return 1\n";

/* ARGV[2]: who cancels, "" when unknown. The state afterwards, or false for no such run. */
static const char lua_cancel[] =
    LUA_NOW LUA_QKEY "local k = 'tb:run:' .. ARGV[1]\n"
                     "local h = redis.call('HMGET', k, 'state', 'key', 'pool')\n"
                     "if not h[1] then return false end\n"
                     "local by = ''\n"
                     "if (h[1] == 'queued' or h[1] == 'running') and ARGV[2] ~= '' then\n"
                     "  redis.call('HSET', k, 'cancelled_by', ARGV[2])\n"
                     "  by = ' by ' .. ARGV[2]\n"
                     "end\n"
                     "if h[1] == 'queued' then\n"
                     "  redis.call('LREM', qkey(h[3]), 0, ARGV[1])\n"
                     "  redis.call('HSET', k, 'state', 'cancelled', 'finished', now, "
                     "'error', 'cancelled' .. by .. ' before it started')\n"
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

/* ARGV[1] = worker, ARGV[2] = ttl (0: stopped), then its pools. */
static const char lua_beat[] =
    LUA_NOW "local ttl = tonumber(ARGV[2])\n"
            "local until_ = now + ttl\n"
            "if ttl <= 0 then until_ = now - 1 end\n"
            "for i = 3, #ARGV do\n"
            "  redis.call('ZADD', 'tb:workers:' .. ARGV[i], until_, ARGV[1])\n"
            "  redis.call('SADD', 'tb:pools', ARGV[i])\n"
            "end\n"
            "return 1\n";

/*
 * Every pool: {name, live workers, queued, running, ...}; workers not
 * seen for a day are forgotten, and so is a pool with nothing left.
 */
static const char lua_pools[] =
    LUA_NOW LUA_QKEY "local out = {}\n"
                     "for _, p in ipairs(redis.call('SMEMBERS', 'tb:pools')) do\n"
                     "  local wk = 'tb:workers:' .. p\n"
                     "  redis.call('ZREMRANGEBYSCORE', wk, '-inf', '(' .. (now - 86400))\n"
                     "  local w = redis.call('ZCOUNT', wk, now, '+inf')\n"
                     "  local q = redis.call('LLEN', qkey(p))\n"
                     "  local r = redis.call('SCARD', 'tb:poolrun:' .. p)\n"
                     "  if redis.call('ZCARD', wk) == 0 and q == 0 and r == 0 then\n"
                     "    redis.call('SREM', 'tb:pools', p)\n"
                     "  else\n"
                     "    table.insert(out, p); table.insert(out, w)\n"
                     "    table.insert(out, q); table.insert(out, r)\n"
                     "  end\n"
                     "end\n"
                     "return out\n";

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
	const char *av[64];
	int n = 0;

	av[n++] = "EVAL";
	av[n++] = script;
	av[n++] = "0";
	for (; *args != NULL && n < 64; args++)
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
	if (hiredisload(err) == -1) {
		free(r);
		return -1;
	}
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
		else if (strcmp(f, "cancelled_by") == 0)
			run->cancelled_by = xstrdup(v);
		else if (strcmp(f, "pool") == 0)
			run->pool = xstrdup(v);
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
	if (run->pool == NULL)
		run->pool = xstrdup(QUEUE_POOL_DEFAULT);
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
			               req->pool != NULL ? req->pool : QUEUE_POOL_DEFAULT,
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

/* The pending list of pool (see LUA_QKEY); caller frees. */
static char *
pool_list_key(const char *pool)
{
	return strcmp(pool, QUEUE_POOL_DEFAULT) == 0 ? xstrdup("tb:queued")
	                                             : xasprintf("tb:queued:%s", pool);
}

static void
nap_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* While waiting with every pool at its limit: look again this often. */
#define RD_FULL_MS 200

static int
rd_claim(void *be, const char *worker, const struct queue_pool_limit *pools, size_t npools,
         int lease_s, int wait_ms, struct queue_run **out, struct err *err)
{
	struct rd *r = be;
	int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	char max[16], lease[16], lim[QUEUE_POOLS_MAX][16];
	const char *args[3 + 2 * QUEUE_POOLS_MAX + 1] = { max, worker, lease };
	size_t na = 3;

	snprintf(max, sizeof max, "%d", r->max_attempts);
	snprintf(lease, sizeof lease, "%d", lease_s);
	for (size_t i = 0; i < npools && i < QUEUE_POOLS_MAX; i++) {
		snprintf(lim[i], sizeof lim[i], "%d",
		         pools[i].max_running > 0 ? pools[i].max_running : 0);
		args[na++] = pools[i].name;
		args[na++] = lim[i];
	}
	args[na] = NULL;
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
		int64_t left, slice;
		int full;
		char secs[32];

		if (rep == NULL)
			return -1;
		full = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
		*out = run_from_reply(rep);
		freeReplyObject(rep);
		if (*out != NULL)
			return 0;
		left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		if (left > RD_IDLE_MS)
			left = RD_IDLE_MS;
		if (full) {
			/* Queued, but every such pool is at its limit: no event to block on. */
			nap_ms(left < RD_FULL_MS ? left : RD_FULL_MS);
			continue;
		}
		/*
		 * Block until something is queued in a pool; the list is left as
		 * it was. Several pools: each list gets its share of the second.
		 */
		slice = left / (int64_t)npools;
		if (slice < 1)
			slice = 1;
		snprintf(secs, sizeof secs, "%.3f", (double)slice / 1000.0);
		for (size_t i = 0; i < npools; i++) {
			char *key = pool_list_key(pools[i].name);
			const char *av[] = { "BLMOVE", key, key, "RIGHT", "RIGHT", secs };
			int got;

			rep = rd_cmd(r, 6, av, NULL, err);
			free(key);
			if (rep == NULL)
				return -1;
			got = rep->type == REDIS_REPLY_STRING;
			freeReplyObject(rep);
			if (got)
				break;
		}
	}
}

static int
rd_worker_beat(void *be, const char *worker, const char *const *pools, size_t npools, int ttl_s,
               struct err *err)
{
	struct rd *r = be;
	char ttl[16];
	const char *args[2 + QUEUE_POOLS_MAX + 1] = { worker, ttl };
	redisReply *rep;
	size_t na = 2;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	for (size_t i = 0; i < npools && i < QUEUE_POOLS_MAX; i++)
		args[na++] = pools[i];
	args[na] = NULL;
	if ((rep = rd_eval(r, lua_beat, args, err)) == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

static int
cmp_pool_name(const void *a, const void *b)
{
	return strcmp(((const struct queue_pool_stat *)a)->name,
	              ((const struct queue_pool_stat *)b)->name);
}

static int
rd_pools(void *be, struct queue_pool_stat **out, size_t *n, struct err *err)
{
	struct rd *r = be;
	const char *args[] = { NULL };
	redisReply *rep;
	struct queue_pool_stat *v;
	size_t len = 0;

	if ((rep = rd_eval(r, lua_pools, args, err)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		err_set(err, "queue %s: unexpected reply to the pool count", r->url);
		return -1;
	}
	v = xcalloc(rep->elements / 4 + 1, sizeof *v);
	for (size_t i = 0; i + 3 < rep->elements; i += 4) {
		if (rep->element[i]->str == NULL)
			continue;
		v[len].name = xstrdup(rep->element[i]->str);
		v[len].workers = (int)rep->element[i + 1]->integer;
		v[len].queued = (int)rep->element[i + 2]->integer;
		v[len].running = (int)rep->element[i + 3]->integer;
		len++;
	}
	freeReplyObject(rep);
	qsort(v, len, sizeof *v, cmp_pool_name);
	*out = v;
	*n = len;
	return 0;
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
rd_cancel(void *be, const char *id, const char *by, int *found, enum queue_state *state,
          struct err *err)
{
	struct rd *r = be;
	const char *args[] = { id, by != NULL ? by : "", NULL };
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
	.worker_beat = rd_worker_beat,
	.pools = rd_pools,
};
