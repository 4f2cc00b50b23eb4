/*
 * The durable run queue: what the web UI, the API and the scheduler ask
 * for, and what workers (embedded in serve, or `tisbackup worker` on
 * other hosts) execute. Two backends behind this one interface, chosen by
 * [queue] backend in tisbackup_gui.ini: SQLite (default; a database next
 * to the catalog, {backup_base_dir}/log/tisbackup-queue.sqlite) and Redis
 * (hiredis). A run is one action on a list of job sections.
 *
 * Lifecycle: queued -> running (claimed with a lease, renewed by
 * heartbeats) -> done | failed | cancelled. A running run whose lease
 * expires goes back to queued (its worker died) until max_attempts, then
 * failed. At most one active (queued or running) run per action and
 * section set: enqueueing the same request again returns the active one.
 *
 * A struct queue is used by one thread at a time; threads open their own.
 */
#ifndef TB_QUEUE_H
#define TB_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "util/err.h"

struct buf;

struct guiconf;

enum queue_state {
	QUEUE_QUEUED,
	QUEUE_RUNNING,
	QUEUE_DONE,
	QUEUE_FAILED,
	QUEUE_CANCELLED,
};

/* "queued", "running", "done", "failed", "cancelled". */
const char *queue_state_name(enum queue_state s);
/* The state named name (as queue_state_name() writes it): 0, or -1 when unknown. */
int queue_state_parse(const char *name, enum queue_state *out);

struct queue_request {
	const char *action;          /* "backup", "cleanup" or "export" */
	const char *const *sections; /* job section names, nsections >= 1 */
	size_t nsections;
	const char *exportdir;    /* export only; NULL = the USB disk */
	const char *config;       /* the tisbackup config file the run uses */
	const char *requested_by; /* user name, "scheduler", ... */
	const char *pool;         /* the jobs' worker pool; NULL = QUEUE_POOL_DEFAULT */
	/*
	 * Extra command-line words of the action, each one self-contained
	 * ("--to=/srv/x", "--dry-run"); NULL/0 = none. Only restore takes
	 * any (restore_queue_check()); the worker checks them again.
	 */
	const char *const *options;
	size_t noptions;
};

/* One run as stored. Every string is owned by the run. */
struct queue_run {
	char *id; /* printable, unique, never reused */
	char *action;
	char **sections; /* NULL-terminated */
	size_t nsections;
	char *exportdir; /* NULL = USB disk (export only) */
	char *config;
	char *requested_by;
	enum queue_state state;
	int attempts;        /* claims so far */
	int64_t created;     /* epoch seconds */
	int64_t started;     /* of the current/last attempt, 0 = never */
	int64_t finished;    /* 0 while active */
	int64_t lease_until; /* running only */
	char *worker;        /* the claiming worker's id, or NULL */
	int exit_code;       /* the run's exit code, -1 while unknown */
	char *error;         /* why it failed or was cancelled, or NULL */
	char *log;           /* the run's output so far (bounded, tail kept), "" when none */
	int cancel_requested;
	char *cancelled_by; /* who cancelled it (a web user, "cli:USER"), or NULL */
	char *pool;         /* the worker pool that may claim it (never NULL) */
	char **options;     /* the request's extra words, NULL-terminated; NULL when none */
	size_t noptions;    /* unreadable stored options read as one word that no check accepts */
};

/* The pool of a job without a pool key, and of runs queued before pools existed. */
#define QUEUE_POOL_DEFAULT POOL_DEFAULT
/* The most pools one worker claims from. */
#define QUEUE_POOLS_MAX POOL_MAX_PER_WORKER

/* 1 when name is a valid pool name: [A-Za-z0-9_.-]{1,64}; else 0 (pool_name_valid()). */
int queue_pool_valid(const char *name);

void queue_run_free(struct queue_run *r);
/* The most extra words a run carries, and the longest one (bytes). */
#define QUEUE_OPTIONS_MAX 64
#define QUEUE_OPTION_LEN_MAX 4096
void queue_runs_free(struct queue_run *runs, size_t n);

struct queue;

/*
 * Open the backend gc says. catalog_dir is {backup_base_dir}/log (where
 * the SQLite backend keeps its database). Errors name the backend and
 * its address ("redis://127.0.0.1:6379/0: Connection refused").
 */
int queue_open(const struct guiconf *gc, const char *catalog_dir, struct queue **out,
               struct err *err);
void queue_close(struct queue *q);
/* Append the names of the backends ([queue] backend values), separated by sep, to out. */
void queue_backend_names(struct buf *out, const char *sep);

/*
 * Add a run. *id (caller frees) is the new run's id, or the id of the
 * active run with the same action and section set, in which case
 * *existed = 1 (may be NULL). 0 or -1 + err.
 */
int queue_enqueue(struct queue *q, const struct queue_request *req, char **id, int *existed,
                  struct err *err);

/*
 * Take the oldest queued run for worker, with a lease of lease_s
 * seconds; first re-queue (or fail, after max_attempts) runs whose lease
 * expired. Waits up to wait_ms for one to arrive without busy polling;
 * *out = NULL when none came. 0 or -1 + err.
 */
int queue_claim(struct queue *q, const char *worker, int lease_s, int wait_ms,
                struct queue_run **out, struct err *err);

/* A pool a worker claims from, and its limit. */
struct queue_pool_limit {
	const char *name; /* a valid pool name */
	int max_running;  /* runs of the pool running at once over all workers; 0 = no limit */
};

/*
 * queue_claim() restricted to the runs of npools pools (1 to
 * QUEUE_POOLS_MAX): the oldest queued run of any of them whose pool has
 * fewer than max_running runs running (counted over every worker at the
 * time of the claim). queue_claim() is this with the one pool
 * QUEUE_POOL_DEFAULT, unlimited. A run whose lease expired goes back to
 * its own pool. 0 or -1 + err (also for a bad pool name).
 */
int queue_claim_pools(struct queue *q, const char *worker, const struct queue_pool_limit *pools,
                      size_t npools, int lease_s, int wait_ms, struct queue_run **out,
                      struct err *err);

/*
 * Say that worker (a process: "HOST:PID" or its --name) serves pools and
 * is alive for ttl_s more seconds; ttl_s = 0 says it stopped. Workers call
 * it every few seconds; queue_pools() counts the live ones. 0 or -1 + err.
 */
int queue_worker_beat(struct queue *q, const char *worker, const char *const *pools, size_t npools,
                      int ttl_s, struct err *err);

/* One pool as the queue sees it. */
struct queue_pool_stat {
	char *name;
	int workers; /* live workers serving it (queue_worker_beat) */
	int queued;
	int running;
};

/*
 * Every pool the queue knows (with an active run, or a worker that beat
 * in the last day), sorted by name. *out is freed with
 * queue_pool_stats_free(). 0 or -1 + err.
 */
int queue_pools(struct queue *q, struct queue_pool_stat **out, size_t *n, struct err *err);
void queue_pool_stats_free(struct queue_pool_stat *v, size_t n);

/*
 * Renew the lease of a run worker holds. *cancel = 1 when a cancel was
 * requested (the worker stops the run and calls queue_finish with
 * QUEUE_CANCELLED). -1 + err also when the run is no longer worker's.
 */
int queue_heartbeat(struct queue *q, const char *id, const char *worker, int lease_s, int *cancel,
                    struct err *err);

/* Append output to the run's log (the backend keeps the last 1 MiB). */
int queue_append_log(struct queue *q, const char *id, const char *text, struct err *err);

/*
 * End a run worker holds: state is QUEUE_DONE, QUEUE_FAILED or
 * QUEUE_CANCELLED; error may be NULL.
 */
int queue_finish(struct queue *q, const char *id, const char *worker, enum queue_state state,
                 int exit_code, const char *error, struct err *err);

/* Hand a running run back to the queue (worker shutting down); no attempt is counted. */
int queue_release(struct queue *q, const char *id, const char *worker, struct err *err);

/*
 * Cancel: a queued run becomes cancelled at once ("cancelled by BY before
 * it started"); a running one gets cancel_requested for its worker. by
 * (who asks: the web user's name, "cli:USER"; NULL: unknown) is kept as
 * the run's cancelled_by, for its error and the worker's messages. A run
 * that already ended keeps its own. *found = 0 for an unknown id, *state
 * the state afterwards. 0 or -1 + err.
 */
int queue_cancel(struct queue *q, const char *id, const char *by, int *found,
                 enum queue_state *state, struct err *err);

/* The run with id, or *out = NULL. 0 or -1 + err. */
int queue_get(struct queue *q, const char *id, struct queue_run **out, struct err *err);

/*
 * Runs newest first: only the active ones when active_only; at most
 * limit (> 0). *runs is freed with queue_runs_free(). 0 or -1 + err.
 */
int queue_list(struct queue *q, int active_only, int limit, struct queue_run **runs, size_t *n,
               struct err *err);

#endif
