/*
 * The SQLite queue backend: {catalog_dir}/tisbackup-queue.sqlite, its SQL
 * in catalog.c (the queue store section). What lives here is the part
 * that is not SQL: ids as text, the lease arithmetic, and waiting.
 *
 * Waiting for a run without busy polling: the worker watches the catalog
 * folder with inotify and wakes when the queue's WAL file is written (any
 * commit by any process on this host), then checks with a read whether a
 * run is queued or a lease expired before taking the write lock to claim.
 * It also wakes at least once a second (QUEUE_SQLITE_IDLE_MS), because
 * lease expiry writes nothing and inotify sees no writes from other hosts
 * (a network filesystem): one small read per second per waiting thread,
 * far below 0.1% of a core. Without inotify the same 1 s poll is all.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "guiconf.h"
#include "queue_backend.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define QUEUE_SQLITE_FILE "tisbackup-queue.sqlite"
#define QUEUE_SQLITE_IDLE_MS 1000

struct sq {
	struct catalog *cat;
	char *path;
	int max_attempts;
	int ifd;            /* inotify on the folder, or -1 */
	int64_t last_prune; /* when this connection last deleted old runs */
};

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The id text as a rowid; -1 + err when it is not one of ours. */
static int
parse_id(const struct sq *s, const char *id, int64_t *out, struct err *err)
{
	char *end;
	long long v;

	errno = 0;
	v = id != NULL ? strtoll(id, &end, 10) : 0;
	if (id == NULL || errno != 0 || end == id || *end != '\0' || v <= 0) {
		err_set(err, "queue %s: no run '%s'", s->path, id != NULL ? id : "");
		return -1;
	}
	*out = v;
	return 0;
}

int
queue_sqlite_open(const struct guiconf *gc, const char *catalog_dir, void **be, struct err *err)
{
	struct sq *s = xcalloc(1, sizeof *s);

	*be = NULL;
	s->ifd = -1;
	s->max_attempts = gc->max_attempts;
	s->path = fs_join(catalog_dir, QUEUE_SQLITE_FILE);
	if (fs_mkdir_p(catalog_dir, 0750, err) == -1 ||
	    catalog_queue_open(s->path, &s->cat, err) == -1) {
		err_wrap(err, "queue (sqlite)");
		free(s->path);
		free(s);
		return -1;
	}
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd != -1 &&
	    inotify_add_watch(s->ifd, catalog_dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) == -1) {
		close(s->ifd);
		s->ifd = -1;
	}
	*be = s;
	return 0;
}

static void
sq_close(void *be)
{
	struct sq *s = be;

	catalog_close(s->cat);
	if (s->ifd != -1)
		close(s->ifd);
	free(s->path);
	free(s);
}

static int
sq_enqueue(void *be, const struct queue_request *req, const char *key, char **id, int *existed,
           struct err *err)
{
	struct sq *s = be;
	int64_t v;

	if (catalog_queue_enqueue(s->cat, req, key, now_s(), &v, existed, err) == -1)
		return -1;
	*id = xasprintf("%lld", (long long)v);
	return 0;
}

/* 1 when the queue database was written since the last call (events drained). */
static int
drain_events(struct sq *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	static const char wal[] = QUEUE_SQLITE_FILE "-wal";
	int hit = 0;
	ssize_t n;

	while ((n = read(s->ifd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len > 0 && (strcmp(ev->name, wal) == 0 ||
			                    strcmp(ev->name, QUEUE_SQLITE_FILE) == 0))
				hit = 1;
			p += sizeof *ev + ev->len;
		}
	}
	return hit;
}

/* Sleep until the queue database changes or ms pass. */
static void
wait_change(struct sq *s, int ms)
{
	int64_t until = now_ms() + ms;

	if (s->ifd == -1) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return;
	}
	for (;;) {
		struct pollfd pfd = { .fd = s->ifd, .events = POLLIN };
		int64_t left = until - now_ms();

		if (left <= 0)
			return;
		if (poll(&pfd, 1, (int)left) <= 0)
			return; /* timeout or a signal: let the caller look */
		if (drain_events(s))
			return;
	}
}

static int
sq_claim(void *be, const char *worker, int lease_s, int wait_ms, struct queue_run **out,
         struct err *err)
{
	struct sq *s = be;
	int64_t deadline = now_ms() + (wait_ms > 0 ? wait_ms : 0);
	int pending = 1;

	if (s->ifd != -1)
		drain_events(s);
	if (now_s() - s->last_prune >= QUEUE_PRUNE_EVERY) {
		int n;

		s->last_prune = now_s();
		if (catalog_queue_prune(s->cat, s->last_prune - QUEUE_KEEP_SECONDS, &n, err) ==
		    -1) {
			err_wrap(err, "queue (sqlite)");
			return -1;
		}
	}
	for (;;) {
		int64_t left;

		if (pending) {
			if (catalog_queue_claim(s->cat, worker, lease_s, s->max_attempts, now_s(),
			                        out, err) == -1) {
				err_wrap(err, "queue (sqlite)");
				return -1;
			}
			if (*out != NULL)
				return 0;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		wait_change(s, left < QUEUE_SQLITE_IDLE_MS ? (int)left : QUEUE_SQLITE_IDLE_MS);
		if (catalog_queue_pending(s->cat, now_s(), &pending, err) == -1) {
			err_wrap(err, "queue (sqlite)");
			return -1;
		}
	}
}

static int
not_held(const struct sq *s, const char *id, const char *worker, struct err *err)
{
	err_set(err, "queue %s: run %s is not running under worker %s", s->path, id, worker);
	return -1;
}

static int
sq_heartbeat(void *be, const char *id, const char *worker, int lease_s, int *cancel,
             struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int held;

	if (parse_id(s, id, &v, err) == -1 ||
	    catalog_queue_heartbeat(s->cat, v, worker, lease_s, now_s(), &held, cancel, err) == -1)
		return -1;
	return held ? 0 : not_held(s, id, worker, err);
}

static int
sq_append_log(void *be, const char *id, const char *text, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int found;

	if (parse_id(s, id, &v, err) == -1 ||
	    catalog_queue_append_log(s->cat, v, text, QUEUE_LOG_MAX, &found, err) == -1)
		return -1;
	if (!found) {
		err_set(err, "queue %s: no run '%s'", s->path, id);
		return -1;
	}
	return 0;
}

static int
sq_finish(void *be, const char *id, const char *worker, enum queue_state state, int exit_code,
          const char *error, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int held;

	if (parse_id(s, id, &v, err) == -1 ||
	    catalog_queue_finish(s->cat, v, worker, state, exit_code, error, now_s(), &held, err) ==
	        -1)
		return -1;
	return held ? 0 : not_held(s, id, worker, err);
}

static int
sq_release(void *be, const char *id, const char *worker, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	int held;

	if (parse_id(s, id, &v, err) == -1 ||
	    catalog_queue_release(s->cat, v, worker, now_s(), &held, err) == -1)
		return -1;
	return held ? 0 : not_held(s, id, worker, err);
}

static int
sq_cancel(void *be, const char *id, int *found, enum queue_state *state, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	struct err ignored;

	if (parse_id(s, id, &v, &ignored) == -1)
		return 0; /* not an id of ours: not found */
	return catalog_queue_cancel(s->cat, v, now_s(), found, state, err);
}

static int
sq_get(void *be, const char *id, struct queue_run **out, struct err *err)
{
	struct sq *s = be;
	int64_t v;
	struct err ignored;

	if (parse_id(s, id, &v, &ignored) == -1)
		return 0;
	return catalog_queue_get(s->cat, v, out, err);
}

static int
sq_list(void *be, int active_only, int limit, struct queue_run **runs, size_t *n, struct err *err)
{
	struct sq *s = be;

	return catalog_queue_list(s->cat, active_only, limit, runs, n, err);
}

const struct queue_ops queue_sqlite_ops = {
	.name = "sqlite",
	.enqueue = sq_enqueue,
	.claim = sq_claim,
	.heartbeat = sq_heartbeat,
	.append_log = sq_append_log,
	.finish = sq_finish,
	.release = sq_release,
	.cancel = sq_cancel,
	.get = sq_get,
	.list = sq_list,
	.close = sq_close,
};
