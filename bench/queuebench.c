/*
 * tb_queuebench: queue throughput and claim latency, without running
 * anything. Enqueues N runs (distinct sections, so no dedupe), then W
 * threads, each with its own queue connection like the worker's slots,
 * claim and finish them as fast as they can. Prints one line:
 *
 *   backend=sqlite runs=10000 workers=4 enqueue_per_s=... runs_per_s=...
 *   claim_p50_ms=... claim_p99_ms=... claim_max_ms=...
 *
 * With POOLS > 0, the runs are spread round-robin over that many worker
 * pools (pool0, pool1, ...) and worker thread i claims pool i % POOLS
 * only (queue_claim_pools), as `tisbackup worker --pool` does; each
 * thread stops when its pool is drained.
 *
 * Usage: tb_queuebench GUI_INI CATALOG_DIR N W [POOLS]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guiconf.h"
#include "queue.h"
#include "util/xmalloc.h"

struct bench {
	const struct guiconf *gc;
	const char *dir;
	int n;
	atomic_int done;
	double *lat; /* claim latency (ms) of each run, in completion order */
	atomic_int nlat;
	atomic_int errors;
	int npools;                  /* 0: every run in the default pool */
	int pool_n[QUEUE_POOLS_MAX]; /* runs enqueued per pool */
	atomic_int pool_done[QUEUE_POOLS_MAX];
	atomic_int next_thread;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *
bench_worker(void *arg)
{
	struct bench *b = arg;
	struct queue *q;
	struct err err;
	char name[64], pool[16];
	int me = atomic_fetch_add(&b->next_thread, 1);
	int p = b->npools > 0 ? me % b->npools : 0;
	struct queue_pool_limit lim = { pool, 0 };

	snprintf(name, sizeof name, "bench/%lu", (unsigned long)pthread_self());
	snprintf(pool, sizeof pool, "pool%d", p);
	if (queue_open(b->gc, b->dir, &q, &err) == -1) {
		fprintf(stderr, "tb_queuebench: %s\n", err.msg);
		atomic_fetch_add(&b->errors, 1);
		return NULL;
	}
	while (b->npools > 0 ? atomic_load(&b->pool_done[p]) < b->pool_n[p]
	                     : atomic_load(&b->done) < b->n) {
		struct queue_run *r;
		double t0 = now_ms(), t1;
		int rc = b->npools > 0 ? queue_claim_pools(q, name, &lim, 1, 60, 200, &r, &err)
		                       : queue_claim(q, name, 60, 200, &r, &err);

		if (rc == -1) {
			fprintf(stderr, "tb_queuebench: %s\n", err.msg);
			atomic_fetch_add(&b->errors, 1);
			break;
		}
		t1 = now_ms();
		if (r == NULL)
			continue;
		b->lat[atomic_fetch_add(&b->nlat, 1)] = t1 - t0;
		if (queue_finish(q, r->id, name, QUEUE_DONE, 0, NULL, &err) == -1) {
			fprintf(stderr, "tb_queuebench: %s\n", err.msg);
			atomic_fetch_add(&b->errors, 1);
		}
		queue_run_free(r);
		atomic_fetch_add(&b->done, 1);
		atomic_fetch_add(&b->pool_done[p], 1);
	}
	queue_close(q);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct guiconf *gc = NULL;
	struct queue *q = NULL;
	struct bench b = { 0 };
	pthread_t *th;
	struct err err;
	double t0, t1, t2;
	int w, nl;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: tb_queuebench GUI_INI CATALOG_DIR N WORKERS [POOLS]\n");
		return 2;
	}
	if (guiconf_load(argv[1], 0, &gc, &err) == -1 || queue_open(gc, argv[2], &q, &err) == -1) {
		fprintf(stderr, "tb_queuebench: %s\n", err.msg);
		guiconf_free(gc);
		return 1;
	}
	b.gc = gc;
	b.dir = argv[2];
	b.n = (int)strtol(argv[3], NULL, 10);
	w = (int)strtol(argv[4], NULL, 10);
	b.npools = argc == 6 ? (int)strtol(argv[5], NULL, 10) : 0;
	if (b.n < 1 || w < 1 || b.npools < 0 || b.npools > QUEUE_POOLS_MAX ||
	    (b.npools > 0 && w < b.npools)) {
		fprintf(stderr, "tb_queuebench: N and WORKERS must be positive, POOLS from 0 to "
		                "16 and at most WORKERS\n");
		return 2;
	}
	b.lat = xcalloc((size_t)b.n, sizeof *b.lat);
	th = xcalloc((size_t)w, sizeof *th);

	t0 = now_ms();
	for (int i = 0; i < b.n; i++) {
		char sec[32], pool[16];
		const char *secs[] = { sec };
		struct queue_request req = { .action = "backup",
			                     .sections = secs,
			                     .nsections = 1,
			                     .config = "/etc/tis/tisbackup-config.ini",
			                     .requested_by = "bench",
			                     .pool = b.npools > 0 ? pool : NULL };
		char *id;

		snprintf(sec, sizeof sec, "run%d", i);
		if (b.npools > 0) {
			snprintf(pool, sizeof pool, "pool%d", i % b.npools);
			b.pool_n[i % b.npools]++;
		}
		if (queue_enqueue(q, &req, &id, NULL, &err) == -1) {
			fprintf(stderr, "tb_queuebench: %s\n", err.msg);
			return 1;
		}
		free(id);
	}
	t1 = now_ms();
	for (int i = 0; i < w; i++)
		pthread_create(&th[i], NULL, bench_worker, &b);
	for (int i = 0; i < w; i++)
		pthread_join(th[i], NULL);
	t2 = now_ms();

	nl = atomic_load(&b.nlat);
	qsort(b.lat, (size_t)nl, sizeof *b.lat, cmp_double);
	printf("backend=%s runs=%d workers=%d pools=%d enqueue_per_s=%.0f runs_per_s=%.0f "
	       "claim_p50_ms=%.2f claim_p99_ms=%.2f claim_max_ms=%.2f errors=%d\n",
	       gc->queue_backend == GUICONF_QUEUE_REDIS ? "redis" : "sqlite", nl, w, b.npools,
	       b.n / ((t1 - t0) / 1e3), nl / ((t2 - t1) / 1e3), nl ? b.lat[nl / 2] : 0.0,
	       nl ? b.lat[(size_t)(nl * 0.99)] : 0.0, nl ? b.lat[nl - 1] : 0.0,
	       atomic_load(&b.errors));
	free(b.lat);
	free(th);
	queue_close(q);
	guiconf_free(gc);
	return nl == b.n && atomic_load(&b.errors) == 0 ? 0 : 1;
}
