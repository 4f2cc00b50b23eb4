/*
 * register_existing (SPEC §9): give a catalog row to every finished backup
 * found in a job's folder that no row references, e.g. after the catalog
 * was lost or snapshots were copied in from another server. Which names
 * are backups is the driver's call (driver.h, backup_name_match); by
 * default a folder named exactly STAMP. A registered row is an OK BACKUP
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
 * requests in flight.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
	char *name;
	char *path; /* job->dir + "/" + name */
	char stamp[TIME_STAMP_LEN + 1];
	struct timespec mtime;
	/* Filled by the size walk. */
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

/*
 * The default naming (struct driver's backup_name_match == NULL): the
 * whole name is a stamp, "20261126-03h20m57". "STAMP.rsync" (unfinished)
 * and anything longer never match.
 */
static int
register_match_stamp(const char *name, char *stamp_out)
{
	time_t t;

	if (strlen(name) != TIME_STAMP_LEN || time_parse_stamp(name, &t) == -1)
		return 0;
	memcpy(stamp_out, name, TIME_STAMP_LEN + 1);
	return 1;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct reg_entry *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	return c != 0 ? c : strcmp(x->name, y->name);
}

static void
list_free(struct reg_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].path);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/*
 * The entries of job->dir that the driver calls finished backups and that
 * no catalog row references (cat may be NULL: none does), oldest first.
 * *known counts the ones already registered. 0 or -1 + err.
 */
static int
list_unregistered(const struct job *job, struct catalog *cat, struct reg_list *l, int *known,
                  struct err *err)
{
	int (*match)(const char *, char *) = job->drv->backup_name_match;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = -1;

	*known = 0;
	if ((d = opendir(job->dir)) == NULL) {
		err_sys(err, errno, "reading %s", job->dir);
		return -1;
	}
	for (;;) {
		char stamp[TIME_STAMP_LEN + 1];
		struct reg_entry *e;
		char *path;
		int is_known = 0;

		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (!(match ? match(de->d_name, stamp) : register_match_stamp(de->d_name, stamp)))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue; /* removed since it was listed */
			err_sys(err, errno, "examining %s/%s", job->dir, de->d_name);
			goto out;
		}
		/* Symlinks, devices and fifos are never backups. */
		if (!S_ISDIR(st.st_mode) && (match == NULL || !S_ISREG(st.st_mode))) {
			log_debug(job->name, "%s/%s: named like a backup, but not a %s: skipped",
			          job->dir, de->d_name,
			          match == NULL ? "folder" : "folder or file");
			continue;
		}
		path = fs_join(job->dir, de->d_name);
		if (cat != NULL && catalog_location_known(cat, path, &is_known, err) == -1) {
			free(path);
			goto out;
		}
		if (is_known) {
			log_debug(job->name, "%s: already registered", path);
			(*known)++;
			free(path);
			continue;
		}
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 16;
			l->v = xrealloc(l->v, l->cap * sizeof *l->v);
		}
		e = &l->v[l->n++];
		memset(e, 0, sizeof *e);
		e->name = xstrdup(de->d_name);
		e->path = path;
		memcpy(e->stamp, stamp, sizeof e->stamp);
		e->mtime = st.st_mtim;
	}
	if (errno != 0) {
		err_sys(err, errno, "reading %s", job->dir);
		goto out;
	}
	if (l->n > 0)
		qsort(l->v, l->n, sizeof *l->v, cmp_entry);
	rc = 0;
out:
	closedir(d);
	return rc;
}

static void *
size_worker(void *arg)
{
	struct reg_work *w = arg;

	for (;;) {
		struct reg_entry *e;

		pthread_mutex_lock(&w->mtx);
		e = w->next < w->list->n ? &w->list->v[w->next++] : NULL;
		pthread_mutex_unlock(&w->mtx);
		if (e == NULL)
			return NULL;
		err_clear(&e->du_err);
		e->du_rc = du_tree(e->path, &e->bytes, &e->files, &e->du_err);
	}
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
