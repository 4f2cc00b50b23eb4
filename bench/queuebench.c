/*
 * tb_queuebench: queue throughput and claim latency, without running
 * anything. Enqueues N runs (distinct sections, so no dedupe), then W
 * threads, each with its own queue connection like the worker's slots,
 * claim and finish them as fast as they can. Prints one line:
 *
 *   backend=sqlite runs=10000 workers=4 enqueue_per_s=... runs_per_s=...
 *   claim_p50_ms=... claim_p99_ms=... claim_max_ms=...
 *
 * Usage: tb_queuebench GUI_INI CATALOG_DIR N W
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
	char name[64];

	snprintf(name, sizeof name, "bench/%lu", (unsigned long)pthread_self());
	if (queue_open(b->gc, b->dir, &q, &err) == -1) {
		fprintf(stderr, "tb_queuebench: %s\n", err.msg);
		atomic_fetch_add(&b->errors, 1);
		return NULL;
	}
	while (atomic_load(&b->done) < b->n) {
		struct queue_run *r;
		double t0 = now_ms(), t1;

		if (queue_claim(q, name, 60, 200, &r, &err) == -1) {
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

	if (argc != 5) {
		fprintf(stderr, "usage: tb_queuebench GUI_INI CATALOG_DIR N WORKERS\n");
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
	if (b.n < 1 || w < 1) {
		fprintf(stderr, "tb_queuebench: N and WORKERS must be positive\n");
		return 2;
	}
	b.lat = xcalloc((size_t)b.n, sizeof *b.lat);
	th = xcalloc((size_t)w, sizeof *th);

	t0 = now_ms();
	for (int i = 0; i < b.n; i++) {
		char sec[32];
		const char *secs[] = { sec };
		struct queue_request req = { .action = "backup",
			                     .sections = secs,
			                     .nsections = 1,
			                     .config = "/etc/tis/tisbackup-config.ini",
			                     .requested_by = "bench" };
		char *id;

		snprintf(sec, sizeof sec, "run%d", i);
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
	printf("backend=%s runs=%d workers=%d enqueue_per_s=%.0f runs_per_s=%.0f "
	       "claim_p50_ms=%.2f claim_p99_ms=%.2f claim_max_ms=%.2f errors=%d\n",
	       gc->queue_backend == GUICONF_QUEUE_REDIS ? "redis" : "sqlite", nl, w,
	       b.n / ((t1 - t0) / 1e3), nl / ((t2 - t1) / 1e3), nl ? b.lat[nl / 2] : 0.0,
	       nl ? b.lat[(size_t)(nl * 0.99)] : 0.0, nl ? b.lat[nl - 1] : 0.0,
	       atomic_load(&b.errors));
	free(b.lat);
	free(th);
	queue_close(q);
	guiconf_free(gc);
	return nl == b.n && atomic_load(&b.errors) == 0 ? 0 : 1;
}
