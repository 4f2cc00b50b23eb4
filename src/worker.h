/*
 * The queue worker: threads that claim runs from the queue and execute
 * each as a child `tisbackup --gui-config GUI -c CONFIG -s SECTIONS ACTION` (the binary
 * itself), so job locks, the catalog and the parallel and per-server
 * limits apply exactly as on the command line. Embedded in `serve`, and
 * on its own as `tisbackup worker` (cmd_worker(), commands.h).
 */
#ifndef TB_WORKER_H
#define TB_WORKER_H

#include "util/err.h"

struct guiconf;

struct worker_conf {
	const struct guiconf *gc; /* [queue] keys, the configs runs may use */
	const char *catalog_dir;  /* {backup_base_dir}/log: where the SQLite queue lives */
	const char *name;         /* worker id prefix; NULL = "HOSTNAME:PID" */
	const char *exe;          /* the tisbackup binary to run; NULL = /proc/self/exe */
	int jobs;                 /* -j handed to each run; 0 = the config's max_parallel */
	const char *base_dir;     /* -b handed to each run, or NULL */
	const char *const *pools; /* the pools it claims from; NULL = gc->pools */
	size_t npools;
};

struct worker;

/*
 * Start gc->workers threads, each with its own queue connection, each
 * running one run at a time. The queue is opened once first so a bad
 * backend address fails here (-1 + err) rather than in the threads. wc
 * and what it points to must outlive the worker. *out is ended with
 * worker_stop().
 */
int worker_start(const struct worker_conf *wc, struct worker **out, struct err *err);

/*
 * Stop claiming, let current runs finish for up to gc->stop_grace seconds, then end
 * them (TERM to their process group) and hand them back to the queue
 * (queue_release) for another worker. Blocks until every thread ended;
 * frees w. NULL is ignored.
 */
void worker_stop(struct worker *w);

#endif
