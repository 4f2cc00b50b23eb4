/*
 * register_existing (SPEC §9): give a catalog row to every finished backup
 * found in a job's folder that no row references, e.g. after the catalog
 * was lost or snapshots were copied in from another server. Which entries
 * are backups is the driver's call (driver.h, the register_existing hook;
 * by default the FINAL names of its layout in the job folder). A
 * registered row is an OK BACKUP
 * whose start comes from the name, whose end is the entry's mtime when
 * later, and whose size is the tree's apparent size (du.h) — the original
 * runs `du -sb` per entry through a shell. written_files_count and
 * written_bytes stay NULL, as the original leaves them: what a snapshot
 * wrote relative to its predecessor is not knowable afterwards, and NULL
 * says "unknown" where a copy of the totals would inflate the web page's
 * written-bytes total.
 *
 * A job is scanned while holding its lock, so a backup finishing at the
 * same moment cannot be registered twice (once by its own run). Sizes of
 * several entries are computed by a few threads at once: on a cold cache
 * the walk waits on the disk for each inode, and parallel walks keep more
 * requests in flight. Each thread remembers the hard-linked files it
 * measured (du_tree_cached()), so the files snapshots share are stat(2)ed
 * about once per thread, not once per snapshot.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "actions.h"
#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "lock.h"
#include "log.h"
#include "util/du.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define REGISTER_LOG "registered by register_existing (found on disk)"
#define REGISTER_THREADS 4

/* One entry of a job folder that is a backup nobody registered. */
struct reg_entry {
	char *path; /* its location: job->dir + "/" + name for local backups */
	char stamp[TIME_STAMP_LEN + 1];
	struct timespec mtime;
	int measure; /* the size is unknown: walk the local tree */
	/* Filled by the driver, or by the size walk. */
	int64_t bytes, files;
	int du_rc; /* du_tree()'s return */
	struct err du_err;
};

struct reg_list {
	struct reg_entry *v;
	size_t n, cap;
};

/* The size walks shared by the worker threads. */
struct reg_work {
	struct reg_list *list;
	size_t next;
	pthread_mutex_t mtx;
};

static int
cmp_entry(const void *a, const void *b)
{
	const struct reg_entry *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	return c != 0 ? c : strcmp(x->path, y->path);
}

static void
list_free(struct reg_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* What list_unregistered's callback needs. */
struct reg_scan {
	const struct job *job;
	struct catalog *cat; /* NULL: nothing is registered */
	struct reg_list *list;
	int known;
};

/* drv_found_fn: keep one backup the driver found unless a row references it. */
static int
reg_found(void *arg, const struct drv_found *f, struct err *err)
{
	struct reg_scan *s = arg;
	struct reg_list *l = s->list;
	struct reg_entry *e;
	int is_known = 0;

	if (s->cat != NULL && catalog_location_known(s->cat, f->location, &is_known, err) == -1)
		return -1;
	if (is_known) {
		log_debug(s->job->name, "%s: already registered", f->location);
		s->known++;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof *e);
	e->path = xstrdup(f->location);
	memcpy(e->stamp, f->stamp, TIME_STAMP_LEN);
	e->stamp[TIME_STAMP_LEN] = '\0';
	e->mtime = f->mtime;
	e->bytes = f->bytes;
	e->files = f->files;
	e->measure = f->bytes < 0;
	return 0;
}

/*
 * The finished backups of job that the driver finds (driver.h,
 * register_existing; by default its layout's names in job->dir) and that
 * no catalog row references (cat may be NULL: none does), oldest first.
 * *known counts the ones already registered. 0 or -1 + err.
 */
static int
list_unregistered(const struct job *job, struct catalog *cat, struct reg_list *l, int *known,
                  struct err *err)
{
	struct reg_scan s = { .job = job, .cat = cat, .list = l };

	*known = 0;
	if (driver_register_existing(job, reg_found, &s, err) == -1)
		return -1;
	*known = s.known;
	if (l->n > 0)
		qsort(l->v, l->n, sizeof *l->v, cmp_entry);
	return 0;
}

static void *
size_worker(void *arg)
{
	struct reg_work *w = arg;
	/* Each thread remembers the hard-linked files it measured (du.h). */
	struct du_cache *cache = du_cache_new();

	for (;;) {
		struct reg_entry *e;

		pthread_mutex_lock(&w->mtx);
		e = w->next < w->list->n ? &w->list->v[w->next++] : NULL;
		pthread_mutex_unlock(&w->mtx);
		if (e == NULL)
			break;
		err_clear(&e->du_err);
		if (e->measure)
			e->du_rc = du_tree_cached(e->path, cache, &e->bytes, &e->files, &e->du_err);
	}
	du_cache_free(cache);
	return NULL;
}

/* The size of every entry, a few at a time. */
static void
compute_sizes(struct reg_list *l)
{
	struct reg_work w = { .list = l };
	pthread_t th[REGISTER_THREADS];
	size_t nth = 0, want = l->n < REGISTER_THREADS ? l->n : REGISTER_THREADS;

	pthread_mutex_init(&w.mtx, NULL);
	/* The calling thread is one of the workers. */
	for (size_t i = 1; i < want; i++)
		if (pthread_create(&th[nth], NULL, size_worker, &w) == 0)
			nth++;
	size_worker(&w);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&w.mtx);
}

/* Insert the row of one entry whose size is known. 0 or -1 + err. */
static int
insert_entry(struct catalog *cat, const struct job *job, const struct reg_entry *e, struct err *err)
{
	char start_iso[TIME_ISO_LEN + 1], end_iso[TIME_ISO_LEN + 1];
	struct timeval start = { 0 }, end;
	struct catalog_row r = { 0 };

	if (time_parse_stamp(e->stamp, &start.tv_sec) == -1) {
		err_set(err, "%s: the name's date does not parse", e->path);
		return -1;
	}
	end.tv_sec = e->mtime.tv_sec;
	end.tv_usec = (suseconds_t)(e->mtime.tv_nsec / 1000);
	if (time_diff(&start, &end) <= 0)
		end = start;
	time_iso(&start, start_iso);
	time_iso(&end, end_iso);

	r.backup_name = (char *)job->name;
	r.server_name = (char *)job->server_name;
	r.description = (char *)job->description;
	r.backup_start = start_iso;
	r.backup_end = end_iso;
	r.backup_duration = time_diff(&start, &end) / 3600.0;
	r.total_files_count = e->files;
	r.written_files_count = CATALOG_NULL;
	r.total_bytes = e->bytes;
	r.written_bytes = CATALOG_NULL;
	r.status = (char *)"OK";
	r.log = (char *)REGISTER_LOG;
	r.backup_location = e->path;
	r.type = (char *)"BACKUP";
	if (catalog_insert_row(cat, &r, NULL, err) == -1) {
		err_wrap(err, "registering %s", e->path);
		return -1;
	}
	log_info(job->name, "registered %s (started %s): %lld files, %lld bytes", e->path,
	         start_iso, (long long)e->files, (long long)e->bytes);
	return 0;
}

/* register_existing for one job; *count gets how many rows were (or would be) added. */
static int
register_job(const struct action_ctx *a, struct catalog *cat, const struct job *job, int *count,
             struct err *err)
{
	struct job_lock lk = { .fd = -1 };
	struct reg_list l = { 0 };
	char stamp[TIME_STAMP_LEN + 1];
	int known = 0, rc = -1, in_tx = 0;

	*count = 0;
	if (!fs_is_dir(job->dir)) {
		log_info(job->name, "no folder %s: nothing to register", job->dir);
		return 0;
	}
	if (!a->dry_run) {
		time_stamp(time(NULL), stamp);
		if (lock_acquire(job->dir, stamp, &lk, err) == -1) {
			if (err->code == LOCK_BUSY)
				err_wrap(err, "a backup is running, try again when it is over");
			return -1;
		}
	}
	if (list_unregistered(job, cat, &l, &known, err) == -1)
		goto out;
	if (known > 0)
		log_info(job->name, "%d backup(s) already registered", known);
	if (a->dry_run) {
		for (size_t i = 0; i < l.n; i++)
			log_info(job->name, "dry run: would register %s", l.v[i].path);
		*count = (int)l.n;
		rc = 0;
		goto out;
	}
	compute_sizes(&l);
	/* One transaction for the job's rows: one fsync, and all or nothing. */
	if (l.n > 0 && catalog_begin(cat, err) == -1)
		goto out;
	in_tx = l.n > 0;
	for (size_t i = 0; i < l.n; i++) {
		const struct reg_entry *e = &l.v[i];

		if (e->du_rc == -1 && e->du_err.code == ENOENT) {
			log_warning(job->name, "%s: gone before it could be registered", e->path);
			continue;
		}
		if (e->du_rc != 0)
			log_warning(job->name, "size of %s is incomplete: %s", e->path,
			            e->du_err.msg);
		if (insert_entry(cat, job, e, err) == -1)
			goto out;
		(*count)++;
	}
	if (in_tx && catalog_commit(cat, err) == -1)
		goto out;
	in_tx = 0;
	rc = 0;
out:
	if (in_tx) {
		catalog_rollback(cat);
		*count = 0;
	}
	lock_release(&lk);
	list_free(&l);
	return rc;
}

int
register_run(const struct action_ctx *a)
{
	struct catalog *ro = NULL, *cat = a->cat;
	int rc = 0, total = 0;
	struct err err;

	err_clear(&err);
	if (a->dry_run) {
		/* Read-only, and a missing catalog simply knows nothing. */
		if (catalog_open(a->catalog_path, CATALOG_RO, &ro, &err) == -1) {
			if (err.code != ENOENT) {
				log_error(NULL, "register_existing: %s", err.msg);
				return EXIT_RUNTIME;
			}
			ro = NULL;
		}
		cat = ro;
	}
	for (size_t i = 0; i < a->njobs; i++) {
		const struct job *job = a->jobs[i];
		int count = 0;

		if (job->drv->caps & DRV_CAP_NO_BACKUP)
			continue;
		err_clear(&err);
		if (register_job(a, cat, job, &count, &err) == -1) {
			log_error(job->name, "register_existing: %s", err.msg);
			rc = EXIT_JOBS;
		}
		if (a->dry_run)
			log_info(job->name, "%d backup(s) would be registered", count);
		else
			log_info(job->name, "%d backup(s) registered", count);
		total += count;
	}
	log_info(NULL, "register_existing: %d backup(s) %s in all", total,
	         a->dry_run ? "would be registered" : "registered");
	if (ro != NULL)
		catalog_close(ro);
	return rc;
}
