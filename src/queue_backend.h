/*
 * What a queue backend provides (queue.c dispatches to it, like curl's
 * scheme table): a const table of operations over the backend's own
 * state. Private to queue*.c; consumers use queue.h.
 */
#ifndef TB_QUEUE_BACKEND_H
#define TB_QUEUE_BACKEND_H

#include "queue.h"

/* Each op has the contract of the queue_* function of the same name. */
struct queue_ops {
	const char *name;
	int (*enqueue)(void *be, const struct queue_request *req, const char *key, char **id,
	               int *existed, struct err *err);
	int (*claim)(void *be, const char *worker, const struct queue_pool_limit *pools,
	             size_t npools, int lease_s, int wait_ms, struct queue_run **out,
	             struct err *err);
	int (*heartbeat)(void *be, const char *id, const char *worker, int lease_s, int *cancel,
	                 struct err *err);
	int (*append_log)(void *be, const char *id, const char *text, struct err *err);
	int (*finish)(void *be, const char *id, const char *worker, enum queue_state state,
	              int exit_code, const char *error, struct err *err);
	int (*release)(void *be, const char *id, const char *worker, struct err *err);
	int (*cancel)(void *be, const char *id, const char *by, int *found, enum queue_state *state,
	              struct err *err);
	int (*get)(void *be, const char *id, struct queue_run **out, struct err *err);
	int (*list)(void *be, int active_only, int limit, struct queue_run **runs, size_t *n,
	            struct err *err);
	void (*close)(void *be);
	int (*worker_beat)(void *be, const char *worker, const char *const *pools, size_t npools,
	                   int ttl_s, struct err *err);
	int (*pools)(void *be, struct queue_pool_stat **out, size_t *n, struct err *err);
};

/* The most log a run keeps (its tail), in both backends. */
#define QUEUE_LOG_MAX (1024 * 1024)
/*
 * Ended runs are deleted this long after they finished (their history is
 * in the catalog); each connection looks once an hour, when it claims.
 */
#define QUEUE_KEEP_SECONDS (30 * 86400)
#define QUEUE_PRUNE_EVERY 3600

/* Open the SQLite backend: {catalog_dir}/tisbackup-queue.sqlite. */
int queue_sqlite_open(const struct guiconf *gc, const char *catalog_dir, void **be,
                      struct err *err);
extern const struct queue_ops queue_sqlite_ops;

/* Open the Redis backend at gc->redis_url. */
int queue_redis_open(const struct guiconf *gc, void **be, struct err *err);
extern const struct queue_ops queue_redis_ops;

/*
 * Split "a,b" (the stored form of a section list) into r->sections and
 * r->nsections.
 */
void queue_run_set_sections(struct queue_run *r, const char *csv);

/*
 * The stored form of a request's options: a JSON array of strings, or
 * NULL when it has none. Caller frees.
 */
char *queue_options_encode(const struct queue_request *req);

/*
 * Read the stored form (NULL or "" = none) into r->options and
 * r->noptions. Text that is not an array of strings becomes one word
 * "(unreadable options: TEXT)" that the worker's checks refuse, so a
 * damaged row never runs with fewer options than asked.
 */
void queue_run_set_options(struct queue_run *r, const char *json);

#endif
