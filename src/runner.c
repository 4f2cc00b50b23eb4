/*
 * The parallel job runner (see runner.h). One mutex and one condition
 * variable guard the whole schedule: it is tiny (jobs are minutes long),
 * so simplicity beats cleverness. With max_parallel == 1 the jobs run in
 * the calling thread, exactly like the original's sequential loop.
 */
#include "runner.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "config.h"
#include "log.h"
#include "spawn.h"
#include "util/xmalloc.h"

enum slot_state { SLOT_PENDING, SLOT_RUNNING, SLOT_DONE };

struct runner {
	const struct job *const *jobs;
	size_t n;
	const struct runner_opts *o;
	runner_fn fn;
	void *ctx;
	int *results;
	enum slot_state *state;
	int *server_limit; /* per job: the limit of its server */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int running;
};

int
runner_server_limit(const struct job *const *jobs, size_t n, size_t i)
{
	long limit = job_get_long(jobs[i], "max_per_server", 1);

	for (size_t k = 0; k < n; k++) {
		long l;

		if (strcasecmp(jobs[k]->server_name, jobs[i]->server_name) != 0)
			continue;
		l = job_get_long(jobs[k], "max_per_server", 1);
		if (l < limit)
			limit = l;
	}
	return limit < 1 ? 1 : (int)limit;
}

/* Jobs of job i's server running now. Called with the lock held. */
static int
running_on_server(const struct runner *r, size_t i)
{
	int count = 0;

	for (size_t k = 0; k < r->n; k++)
		if (r->state[k] == SLOT_RUNNING &&
		    strcasecmp(r->jobs[k]->server_name, r->jobs[i]->server_name) == 0)
			count++;
	return count;
}

/*
 * The first pending job (config order) that may start now, or -1. *left
 * gets whether any job is still pending. Called with the lock held.
 */
static long
pick(const struct runner *r, int *left)
{
	*left = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (r->state[i] != SLOT_PENDING)
			continue;
		*left = 1;
		if (r->running < r->o->max_parallel && running_on_server(r, i) < r->server_limit[i])
			return (long)i;
	}
	return -1;
}

static void *
worker(void *arg)
{
	struct runner *r = arg;
	struct catalog *cat = NULL;
	struct err err;
	long i;
	int left;

	err_clear(&err);
	if (r->o->catalog_path != NULL &&
	    catalog_open(r->o->catalog_path, CATALOG_RW, &cat, &err) == -1) {
		log_error(NULL, "worker: %s", err.msg);
		cat = NULL;
	}
	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (spawn_interrupted()) {
			for (size_t k = 0; k < r->n; k++) {
				if (r->state[k] == SLOT_PENDING) {
					r->state[k] = SLOT_DONE;
					r->results[k] = -1;
					log_warning(NULL, "interrupted: not starting [%s]",
					            r->jobs[k]->name);
				}
			}
			pthread_cond_broadcast(&r->changed);
		}
		i = pick(r, &left);
		if (i == -1) {
			if (!left)
				break;
			pthread_cond_wait(&r->changed, &r->lock);
			continue;
		}
		r->state[i] = SLOT_RUNNING;
		r->running++;
		pthread_mutex_unlock(&r->lock);

		err_clear(&err);
		if (r->o->catalog_path != NULL && cat == NULL) {
			log_error(r->jobs[i]->name, "not run: the catalog could not be opened");
			r->results[i] = -1;
		} else {
			r->results[i] = r->fn(r->ctx, cat, r->jobs[i], &err) == 0 ? 0 : -1;
		}

		pthread_mutex_lock(&r->lock);
		r->state[i] = SLOT_DONE;
		r->running--;
		pthread_cond_broadcast(&r->changed);
	}
	pthread_mutex_unlock(&r->lock);
	if (cat != NULL)
		catalog_close(cat);
	return NULL;
}

void
runner_run(const struct job *const *jobs, size_t n, const struct runner_opts *o, runner_fn fn,
           void *ctx, int *results)
{
	struct runner r = {
		.jobs = jobs,
		.n = n,
		.o = o,
		.fn = fn,
		.ctx = ctx,
		.results = results,
	};
	size_t nthreads = (size_t)(o->max_parallel > 0 ? o->max_parallel : 1);
	pthread_t *threads;
	size_t started = 0;

	if (n == 0)
		return;
	if (nthreads > n)
		nthreads = n;
	r.state = xcalloc(n, sizeof *r.state);
	r.server_limit = xcalloc(n, sizeof *r.server_limit);
	for (size_t i = 0; i < n; i++) {
		r.server_limit[i] = runner_server_limit(jobs, n, i);
		results[i] = -1;
	}
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.changed, NULL);
	if (nthreads == 1) {
		worker(&r);
		started = 1;
	} else {
		threads = xcalloc(nthreads, sizeof *threads);
		for (size_t t = 0; t < nthreads; t++) {
			if (pthread_create(&threads[t], NULL, worker, &r) != 0)
				break;
			started++;
		}
		if (started == 0)
			worker(&r); /* no thread at all: run them here */
		for (size_t t = 0; t < started; t++)
			pthread_join(threads[t], NULL);
		free(threads);
	}
	pthread_cond_destroy(&r.changed);
	pthread_mutex_destroy(&r.lock);
	free(r.state);
	free(r.server_limit);
}
