/*
 * The cleanup action (SPEC §6): the executor of retention. What to keep
 * and what to delete is the pure policy of retention_policy.c (backups
 * started before midnight today minus backup_retention_time days expire,
 * but only while the newest good backup, OK and not a partial transfer,
 * started since that cutoff is still there, so cleanup never leaves a job
 * with nothing; with keep_* keys the grandfather-father-son policy of
 * docs/retention.md). The backup a running export reads is never
 * removed. `cleanup --explain` and the web's retention view
 * (retention.h) print the same decision. Here: read the job's rows, find its unfinished work that
 * no row records (runs killed before writing a location: the staging
 * names of the driver's layout, e.g. STAMP.rsync, STAMP.partial,
 * SERVER-STAMP.dump.gz.partial), which expires under the same rule, check
 * every path, remove, and record.
 *
 * A location is removed only when it lies strictly inside the job's own
 * folder once symlinks and ".." in its parent are resolved; the removal
 * itself then goes through a descriptor of that resolved parent and never
 * follows the last component (a symlink is unlinked, not followed).
 * Anything else is warned about and its row left as it is. The removal is
 * the driver's expire hook when it has one (a subvolume, a remote copy),
 * else the local removal below, which also refuses a folder on another
 * filesystem than the job folder (a mount point).
 *
 * Work happens in three passes so every expired tree of every job is
 * removed by one pool of threads (rmtree_many): plan each job (catalog
 * queries, path checks), remove everything, then record the outcome in
 * the catalog and log each job's summary in config order. A crash between
 * removal and record leaves rows naming nothing, which the next cleanup
 * marks CLEAN ("already gone").
 *
 * A local removal first renames the entry to NAME.deleting (DRV_DELETING,
 * renameat2 without replacing) in its folder, then removes that: rmtree
 * takes time, and a crash in the middle must not leave half a snapshot
 * under the name of a backup (register, restore, disk usage and the
 * orphan scan would take it for one). Each cleanup first finishes the
 * NAME.deleting entries whose NAME the layout calls FINAL or STAGING,
 * whatever their age, and never counts them as backups. Removals by a
 * driver's expire hook (a subvolume, a remote copy) are atomic in their
 * own way and are not renamed.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "catalog.h"
#include "config.h"
#include "diskusage.h"
#include "drivers/driver.h"
#include "lock.h"
#include "log.h"
#include "logprune.h"
#include "retention.h"
#include "retention_policy.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/rmtree.h"
#include "util/strv.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define THREADS_MAX 8             /* removals at once, whatever -j says */
#define LOG_SPACE_MIN (64 * 1024) /* below this, a disk counts as full for the run log */

enum victim_state {
	VICTIM_REMOVE, /* on disk, inside the job folder: remove it */
	VICTIM_GONE,   /* nothing on disk any more: only mark the row */
	VICTIM_SAME,   /* the same path as an earlier victim */
	VICTIM_FAILED, /* could not be renamed for removal; errmsg says why */
};

/* One expired location (a catalog row's, or an orphan folder). */
struct victim {
	size_t job;       /* index into the plans */
	int64_t rowid;    /* -1 for an orphan folder */
	char *location;   /* as recorded (or the orphan's path), for messages */
	char *path;       /* resolved: realpath(parent) + "/" + name */
	const char *name; /* last component, points into path */
	int dirfd;        /* realpath(parent), open while VICTIM_REMOVE */
	int own_fd;       /* dirfd is this victim's to close (else shared) */
	int is_link;      /* a symlink: only the link goes */
	int other_fs;     /* a folder on another filesystem (for the expire hook) */
	int hook;         /* removed by the driver's expire hook */
	int leftover;     /* a NAME.deleting an earlier cleanup did not finish */
	char *tmpname;    /* renamed to this (NAME.deleting) before removal */
	char *errmsg;     /* VICTIM_FAILED: why */
	enum victim_state state;
	size_t task;    /* VICTIM_REMOVE: index into the tasks */
	size_t same_as; /* VICTIM_SAME: index of the earlier victim */
};

/* What cleanup decided and did for one job. */
struct plan {
	const struct job *job;
	char cutoff[11]; /* YYYY-MM-DD */
	int skipped;     /* null type */
	int failed;
	int kept;        /* BACKUP rows with a location left as BACKUP */
	int removed;     /* rows whose location went (or was gone) */
	int orphans;     /* unrecorded unfinished work removed */
	int finished;    /* NAME.deleting leftovers of an interrupted cleanup removed */
	int not_removed; /* removals that failed */
	int committed;   /* the driver's expire_commit ran */
};

/*
 * The last parent folder locate() resolved and its realpath: a job's
 * expired locations mostly share one folder, and resolving it again for
 * each (one readlink per component) was most of a large cleanup's time.
 * What is opened is still checked against real (locate()); the checked
 * descriptor is kept too (fd, its device in dev), so the next location in
 * the same folder costs one fstatat() instead of open, readlink, fstatat
 * and close.
 */
struct parent_cache {
	char *parent;
	char *real;
	int fd; /* real, opened and checked, when have_fd */
	int have_fd;
	dev_t dev; /* st_dev of fd */
	/*
	 * The names in fd, read once and sorted (have_names): a location whose
	 * name is not there is gone without a system call. Expired rows mostly
	 * name folders removed long ago (a GFS policy first applied to years
	 * of snapshots: tens of thousands).
	 */
	struct strv names;
	int have_names;
};

/* Forget the cached descriptor and its names. */
static void
pc_drop_fd(struct parent_cache *pc)
{
	if (pc->have_fd)
		close(pc->fd);
	pc->have_fd = 0;
	pc->fd = -1;
	if (pc->have_names)
		strv_free(&pc->names);
	pc->have_names = 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the names of pc->fd (sorted); on any error there are none (every lookup then stats). */
static void
pc_read_names(struct parent_cache *pc)
{
	struct dirent *de;
	DIR *d;
	int fd = fcntl(pc->fd, F_DUPFD_CLOEXEC, 0);

	if (fd == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	strv_init(&pc->names);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		strv_push(&pc->names, de->d_name);
	}
	if (errno != 0) {
		strv_free(&pc->names);
		closedir(d);
		return;
	}
	closedir(d);
	if (pc->names.n > 0)
		qsort(pc->names.v, pc->names.n, sizeof *pc->names.v, cmp_name);
	pc->have_names = 1;
}

/* 0 when the cached listing says name is not in the folder, else 1 (there, or unknown). */
static int
pc_may_hold(const struct parent_cache *pc, const char *name)
{
	if (!pc->have_names)
		return 1;
	return pc->names.n > 0 &&
	       bsearch(&name, pc->names.v, pc->names.n, sizeof *pc->names.v, cmp_name) != NULL;
}

struct cleanup {
	const struct action_ctx *a;
	struct catalog *cat;
	struct parent_cache pc;
	struct plan *plans;
	struct victim *v;
	size_t nv, capv;
};

static int
is_backup(const struct catalog_row *r)
{
	return r->type != NULL && strcmp(r->type, "BACKUP") == 0;
}

static int
has_location(const struct catalog_row *r)
{
	return r->backup_location != NULL && r->backup_location[0] != '\0';
}

/* What a BACKUP row is to the retention policy. */
static enum retention_state
row_state(const struct catalog_row *r)
{
	if (r->status == NULL)
		return RETENTION_FAILED;
	if (strcmp(r->status, "Running") == 0)
		return RETENTION_RUNNING;
	if (strcmp(r->status, "OK") != 0)
		return RETENTION_FAILED;
	if (r->log != NULL && strstr(r->log, CATALOG_LOG_PARTIAL) != NULL)
		return RETENTION_PARTIAL;
	return RETENTION_GOOD;
}

/* path without trailing slashes (a lone "/" stays), in a new string. */
static char *
strip_slashes(const char *path)
{
	char *p = xstrdup(path);
	size_t len = strlen(p);

	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	return p;
}

/* 1 if path is dir or below it, comparing the strings only. */
static int
under(const char *path, const char *dir, int strictly)
{
	size_t len = strlen(dir);

	if (strncmp(path, dir, len) != 0)
		return 0;
	if (path[len] == '\0')
		return !strictly;
	return path[len] == '/' || (len > 0 && dir[len - 1] == '/');
}

/* 1 if path has a "." or ".." component. */
static int
has_dot_component(const char *path)
{
	for (const char *p = path; (p = strstr(p, "/.")) != NULL; p++)
		if (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
			return 1;
	return 0;
}

enum where {
	WHERE_INSIDE,  /* on disk inside the job folder; *dirfd and *path set */
	WHERE_GONE,    /* would be inside the job folder, but nothing is there */
	WHERE_OUTSIDE, /* not inside the job folder: never touched; err says why */
	WHERE_REFUSED, /* inside, but not to be removed; err says why */
	WHERE_ERROR,   /* could not tell; err says why */
};

/*
 * Where location lies relative to the job folder, whose realpath is
 * jobreal (NULL when the folder does not exist). The parent of location
 * is resolved (symlinks, "..") and must be jobreal or below it; the last
 * component is taken as it is, never followed, and must be a real name;
 * a folder on another filesystem than its parent (a mount point, or a
 * subvolume) is WHERE_REFUSED unless allow_other_fs (the driver's own
 * expire decides), then *other_fs says so.
 * On WHERE_INSIDE, *path is realpath(parent)/name (caller frees), *dirfd
 * that parent, open (caller closes), and *is_link 1 if name is a symlink.
 */
static enum where
locate(struct parent_cache *pc, const struct job *job, const char *jobreal, const char *location,
       int allow_other_fs, char **path, int *dirfd, int *is_link, int *other_fs, struct err *err)
{
	char *loc = strip_slashes(location), *parent = NULL, *real = NULL, *slash, *name;
	char proc[64], back[PATH_MAX];
	enum where w = WHERE_ERROR;
	struct stat sb, psb;
	dev_t pdev;
	ssize_t n;
	int fd = -1, pfd;

	*path = NULL;
	*dirfd = -1;
	*other_fs = 0;
	if (loc[0] != '/') {
		err_set(err, "not an absolute path");
		w = WHERE_OUTSIDE;
		goto out;
	}
	slash = strrchr(loc, '/');
	name = slash + 1;
	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		err_set(err, "does not name an entry of a folder");
		w = WHERE_OUTSIDE;
		goto out;
	}
	parent = slash == loc ? xstrdup("/") : xstrndup(loc, (size_t)(slash - loc));
	if (pc->parent != NULL && strcmp(pc->parent, parent) == 0) {
		real = xstrdup(pc->real);
	} else if ((real = realpath(parent, NULL)) != NULL) {
		free(pc->parent);
		free(pc->real);
		pc_drop_fd(pc);
		pc->parent = xstrdup(parent);
		pc->real = xstrdup(real);
	}
	if (real == NULL) {
		if (errno != ENOENT && errno != ENOTDIR) {
			err_sys(err, errno, "resolving %s", parent);
			goto out;
		}
		/* Its folder is gone: judge by the name alone. */
		if (!has_dot_component(loc) &&
		    (under(loc, job->dir, 1) || (jobreal != NULL && under(loc, jobreal, 1)))) {
			w = WHERE_GONE;
		} else {
			err_set(err, "its folder %s does not exist", parent);
			w = WHERE_OUTSIDE;
		}
		goto out;
	}
	if (jobreal == NULL || !under(real, jobreal, 0)) {
		char *full = strcmp(real, "/") == 0 ? xasprintf("/%s", name)
		                                    : xasprintf("%s/%s", real, name);

		if (jobreal != NULL && strcmp(full, jobreal) == 0)
			err_set(err, "it is the job folder itself");
		else
			err_set(err, "it resolves to %s", full);
		free(full);
		w = WHERE_OUTSIDE;
		goto out;
	}
	if (!pc->have_fd || strcmp(pc->real, real) != 0) {
		pc_drop_fd(pc);
		fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1) {
			err_sys(err, errno, "opening %s", real);
			goto out;
		}
		/* The folder opened is the one checked (nothing swapped meanwhile). */
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		n = readlink(proc, back, sizeof back - 1);
		if (n != -1) {
			back[n] = '\0';
			if (strcmp(back, real) != 0) {
				err_set(err, "%s changed while it was being checked", real);
				goto out;
			}
		}
		if (fstat(fd, &psb) == -1) {
			err_sys(err, errno, "checking %s", real);
			goto out;
		}
		if (strcmp(pc->real, real) == 0) {
			/* Keep it (and its names) for the next location in this folder. */
			pc->fd = fd;
			pc->have_fd = 1;
			pc->dev = psb.st_dev;
			fd = -1;
			pc_read_names(pc);
		}
	}
	pfd = fd != -1 ? fd : pc->fd;
	pdev = fd != -1 ? psb.st_dev : pc->dev;
	if (fd == -1 && !pc_may_hold(pc, name)) {
		w = WHERE_GONE;
		goto out;
	}
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT) {
			err_sys(err, errno, "checking %s/%s", real, name);
			goto out;
		}
		w = WHERE_GONE;
		goto out;
	}
	if (S_ISDIR(sb.st_mode) && pdev != sb.st_dev) {
		if (!allow_other_fs) {
			/* Emptying a mounted filesystem is never what expiring means. */
			err_set(err, "a mount point (another filesystem)");
			w = WHERE_REFUSED;
			goto out;
		}
		*other_fs = 1;
	}
	if (fd == -1 && (fd = fcntl(pc->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		err_sys(err, errno, "opening %s", real);
		goto out;
	}
	*path = strcmp(real, "/") == 0 ? xasprintf("/%s", name) : xasprintf("%s/%s", real, name);
	*is_link = S_ISLNK(sb.st_mode);
	*dirfd = fd;
	fd = -1;
	w = WHERE_INSIDE;
out:
	if (fd != -1)
		close(fd);
	free(loc);
	free(parent);
	free(real);
	return w;
}

static struct victim *
victim_add(struct cleanup *c, size_t job, int64_t rowid, const char *location)
{
	struct victim *v;

	if (c->nv == c->capv) {
		c->capv = c->capv == 0 ? 16 : c->capv * 2;
		c->v = xrealloc(c->v, c->capv * sizeof *c->v);
	}
	v = &c->v[c->nv++];
	memset(v, 0, sizeof *v);
	v->job = job;
	v->rowid = rowid;
	v->location = xstrdup(location);
	v->dirfd = -1;
	return v;
}

/*
 * Open pc->real and keep it with its names when it is the folder the path
 * names (the check locate() makes); nothing is cached otherwise.
 */
static void
pc_open_checked(struct parent_cache *pc)
{
	char proc[64], back[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd = open(pc->real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1)
		return;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	n = readlink(proc, back, sizeof back - 1);
	if (n != -1)
		back[n] = '\0';
	if ((n != -1 && strcmp(back, pc->real) != 0) || fstat(fd, &st) == -1) {
		close(fd);
		return;
	}
	pc->fd = fd;
	pc->have_fd = 1;
	pc->dev = st.st_dev;
	pc_read_names(pc);
}

/*
 * realpath(location) for a kept backup, through the parent cache: the
 * parent resolved once per folder, then one lstat of the name (a symlink
 * or a "." name takes the full realpath()). NULL when it does not
 * resolve. Caller frees.
 */
static char *
resolve_kept(struct parent_cache *pc, const char *location)
{
	char *loc = strip_slashes(location), *slash = strrchr(loc, '/'), *full = NULL;
	const char *name;
	struct stat sb;

	if (slash == NULL || slash == loc || slash[1] == '\0' || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0)
		goto slow;
	*slash = '\0';
	name = slash + 1;
	if (pc->parent == NULL || strcmp(pc->parent, loc) != 0) {
		char *real = realpath(loc, NULL);

		if (real == NULL) {
			free(loc);
			return NULL;
		}
		free(pc->parent);
		free(pc->real);
		pc_drop_fd(pc);
		pc->parent = xstrdup(loc);
		pc->real = real;
	}
	if (!pc->have_fd)
		pc_open_checked(pc);
	if (!pc_may_hold(pc, name)) {
		free(loc);
		return NULL; /* gone: protects nothing */
	}
	full = strcmp(pc->real, "/") == 0 ? xasprintf("/%s", name)
	                                  : xasprintf("%s/%s", pc->real, name);
	if ((pc->have_fd ? fstatat(pc->fd, name, &sb, AT_SYMLINK_NOFOLLOW) : lstat(full, &sb)) ==
	    -1) {
		free(full);
		full = NULL;
	} else if (S_ISLNK(sb.st_mode)) {
		free(full);
		goto slow;
	}
	free(loc);
	return full;
slow:
	free(loc);
	return realpath(location, NULL);
}

/*
 * Resolve one expired location and queue it. protect holds the resolved
 * locations of the job's backups inside the window: a location that is
 * one of them, holds one or lies inside one is left alone. Returns -1 when the job
 * should count as failed.
 */
static int
plan_location(struct cleanup *c, size_t ji, const char *jobreal, int64_t rowid,
              const char *location, const struct strv *protect)
{
	const struct job *job = c->plans[ji].job;
	int hook = job->drv->expire != NULL;
	struct victim *v;
	struct err err;
	char *path;
	int dirfd, is_link = 0, other_fs = 0;

	err_clear(&err);
	if (job->drv->caps & DRV_CAP_REMOTE) {
		/* Not a local path: only the driver knows how it goes. */
		if (!hook) {
			log_warning(job->name,
			            "%s is a remote backup and its driver cannot expire it: left "
			            "alone, its row is kept",
			            location);
			return 0;
		}
		v = victim_add(c, ji, rowid, location);
		v->hook = 1;
		v->state = VICTIM_REMOVE;
		return 0;
	}
	switch (locate(&c->pc, job, jobreal, location, hook, &path, &dirfd, &is_link, &other_fs,
	               &err)) {
	case WHERE_OUTSIDE:
		log_warning(job->name,
		            "%s is not inside the job folder %s (%s): left alone, its row "
		            "is kept",
		            location, job->dir, err.msg);
		return 0;
	case WHERE_REFUSED:
		log_warning(job->name, "%s is %s: left alone, its row is kept", location, err.msg);
		return 0;
	case WHERE_ERROR:
		log_error(job->name, "cannot check %s: %s", location, err.msg);
		return -1;
	case WHERE_GONE:
		v = victim_add(c, ji, rowid, location);
		v->state = VICTIM_GONE;
		return 0;
	case WHERE_INSIDE:
		break;
	}
	for (size_t i = 0; i < protect->n; i++) {
		if (under(protect->v[i], path, 0) || under(path, protect->v[i], 0)) {
			log_warning(job->name,
			            "%s overlaps a backup newer than the cutoff (%s): left alone, "
			            "its row is kept",
			            location, protect->v[i]);
			free(path);
			close(dirfd);
			return 0;
		}
	}
	v = victim_add(c, ji, rowid, location);
	v->path = path;
	v->name = strrchr(path, '/') + 1;
	v->dirfd = dirfd;
	v->own_fd = 1;
	v->is_link = is_link;
	v->other_fs = other_fs;
	v->hook = hook;
	v->state = VICTIM_REMOVE;
	for (size_t i = 0; i + 1 < c->nv; i++) {
		const struct victim *o = &c->v[i];

		if (o->state == VICTIM_REMOVE && o->path != NULL && strcmp(o->path, path) == 0) {
			/* Two rows naming one folder: remove it once. */
			close(v->dirfd);
			v->dirfd = -1;
			v->own_fd = 0;
			v->state = VICTIM_SAME;
			v->same_as = i;
			return 0;
		}
	}
	for (size_t i = 0; i + 1 < c->nv; i++) {
		const struct victim *o = &c->v[i];
		size_t plen = (size_t)(v->name - v->path);

		if (o->own_fd && (size_t)(o->name - o->path) == plen &&
		    strncmp(o->path, path, plen) == 0) {
			/* One descriptor per folder, however many expired entries. */
			close(v->dirfd);
			v->dirfd = o->dirfd;
			v->own_fd = 0;
			return 0;
		}
	}
	return 0;
}

/* 1 if some row of the job records a location whose last component is name. */
static int
name_recorded(const struct catalog_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		char *loc;
		const char *base;
		int same;

		if (!has_location(&rows[i]))
			continue;
		loc = strip_slashes(rows[i].backup_location);
		base = strrchr(loc, '/') != NULL ? strrchr(loc, '/') + 1 : loc;
		same = strcmp(base, name) == 0;
		free(loc);
		if (same)
			return 1;
	}
	return 0;
}

/* 1 if name is NAME.deleting (DRV_DELETING) of a NAME the layout calls FINAL or STAGING. */
static int
is_leftover(enum drv_entry (*classify)(const char *, char *), const char *name)
{
	size_t len = strlen(name), sl = sizeof DRV_DELETING - 1;
	char stamp[TIME_STAMP_LEN + 1], *base;
	int yes;

	if (len <= sl || strcmp(name + len - sl, DRV_DELETING) != 0)
		return 0;
	base = xstrndup(name, len - sl);
	yes = classify(base, stamp) != DRV_ENTRY_OTHER;
	free(base);
	return yes;
}

/*
 * The unfinished work in the job folder started before cutoff that no row
 * records: entries the driver's layout calls DRV_ENTRY_STAGING, folders
 * (or regular files for DRV_CAP_FILE drivers), never symlinks; their
 * names into *names. The removals an interrupted cleanup left
 * (is_leftover(), any age, any kind of entry) into *leftovers. 0 or -1 +
 * err.
 */
static int
find_orphans(struct catalog *cat, const struct job *job, const char *jobreal, time_t cutoff,
             const struct catalog_row *rows, size_t n, struct strv *names, struct strv *leftovers,
             struct err *err)
{
	enum drv_entry (*classify)(const char *, char *) = driver_layout(job->drv)->classify;
	int files = (job->drv->caps & DRV_CAP_FILE) != 0;
	struct dirent *de;
	DIR *d;
	int rc = -1;

	if ((d = opendir(jobreal)) == NULL) {
		err_sys(err, errno, "reading %s", jobreal);
		return -1;
	}
	for (;;) {
		char stamp[TIME_STAMP_LEN + 1];
		const char *name;
		struct stat sb;
		char *full;
		time_t t;
		int known = 0;

		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		name = de->d_name;
		if (is_leftover(classify, name)) {
			strv_push(leftovers, name);
			continue;
		}
		if (classify(name, stamp) != DRV_ENTRY_STAGING ||
		    time_parse_stamp(stamp, &t) == -1 || t >= cutoff)
			continue;
		if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !(files ? S_ISREG(sb.st_mode) : S_ISDIR(sb.st_mode)))
			continue;
		if (name_recorded(rows, n, name))
			continue;
		full = xasprintf("%s/%s", jobreal, name);
		if (cat != NULL && catalog_location_known(cat, full, &known, err) == -1) {
			free(full);
			goto out;
		}
		free(full);
		if (!known)
			strv_push(names, name);
	}
	if (errno != 0) {
		err_sys(err, errno, "reading %s", jobreal);
		goto out;
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

/*
 * 1 if a backup of the job is running right now (its lock is held). The
 * probe takes the lock for an instant when it is free; a backup starting
 * in that instant would write a new, in-window stamp anyway.
 */
static int
backup_running(const struct job *job)
{
	struct job_lock lk = { .fd = -1 };
	char stamp[TIME_STAMP_LEN + 1];
	struct err err;

	err_clear(&err);
	time_stamp(time(NULL), stamp);
	if (lock_acquire(job->dir, stamp, &lk, &err) == -1)
		return err.code == LOCK_BUSY;
	lock_release(&lk);
	return 0;
}

/*
 * The policy's table for job ji: one entry per BACKUP row with a location
 * (*map gets the index of its catalog row), then one per orphan, in the
 * order of orphans (map entry (size_t)-1). Unreadable starts are warned
 * about here.
 */
static struct retention_row *
policy_rows(const struct job *job, const struct catalog_row *rows, size_t n,
            const struct strv *orphans, int quiet, size_t **map, size_t *nr)
{
	struct retention_row *rr = xcalloc(n + orphans->n + 1, sizeof *rr);
	size_t *m = xcalloc(n + orphans->n + 1, sizeof *m), k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *r = &rows[i];
		struct timeval tv;

		if (!is_backup(r) || !has_location(r))
			continue;
		m[k] = i;
		rr[k].state = row_state(r);
		if (time_parse_iso(r->backup_start, &tv) == -1) {
			if (!quiet)
				log_warning(job->name,
				            "row %lld: unreadable backup_start '%s': %s left alone",
				            (long long)r->rowid,
				            r->backup_start ? r->backup_start : "",
				            r->backup_location);
		} else {
			rr[k].start = tv.tv_sec;
			rr[k].start_ok = 1;
		}
		k++;
	}
	for (size_t i = 0; i < orphans->n; i++) {
		char stamp[TIME_STAMP_LEN + 1];

		/* An orphan's start is the stamp in its name. */
		m[k] = (size_t)-1;
		rr[k].state = RETENTION_ORPHAN;
		rr[k].start_ok =
		    driver_layout(job->drv)->classify(orphans->v[i], stamp) == DRV_ENTRY_STAGING &&
		    time_parse_stamp(stamp, &rr[k].start) == 0;
		k++;
	}
	*map = m;
	*nr = k;
	return rr;
}

/* What job_select() keeps for the executor (retention_explain.priv). */
struct sel {
	struct catalog_row *rows; /* every row of the job */
	size_t n;
	struct strv orphans;      /* names of unrecorded unfinished work */
	struct strv leftovers;    /* NAME.deleting an interrupted cleanup left */
	struct retention_row *rr; /* the policy's table */
	size_t *map;              /* rr index -> rows index, (size_t)-1: an orphan */
	size_t nr;
	struct retention_decision *dec;
	char *jobreal; /* realpath of the job folder, NULL when it does not exist */
	char **paths;  /* the orphans' full paths */
};

void
retention_job_policy(const struct job *job, struct retention_policy *pol)
{
	memset(pol, 0, sizeof *pol);
	pol->kind = RETENTION_AGE;
	pol->days = job->retention_days;
	if (job->cfg == NULL)
		return; /* a job made up without a configuration: its days only */
	pol->keep_daily = (int)job_get_long(job, "keep_daily", 0);
	pol->keep_weekly = (int)job_get_long(job, "keep_weekly", 0);
	pol->keep_monthly = (int)job_get_long(job, "keep_monthly", 0);
	pol->keep_yearly = (int)job_get_long(job, "keep_yearly", 0);
	pol->keep_min_days = (int)job_get_long(job, "keep_min_days", 0);
	if (pol->keep_daily > 0 || pol->keep_weekly > 0 || pol->keep_monthly > 0 ||
	    pol->keep_yearly > 0 || pol->keep_min_days > 0)
		pol->kind = RETENTION_GFS;
}

void
retention_policy_text(const struct retention_policy *pol, char *out, size_t size)
{
	if (pol->kind == RETENTION_AGE) {
		snprintf(out, size, "backup_retention_time %d", pol->days);
		return;
	}
	snprintf(out, size,
	         "backup_retention_time %d, keep_min_days %d, keep_daily %d, keep_weekly %d, "
	         "keep_monthly %d, keep_yearly %d",
	         pol->days, pol->keep_min_days, pol->keep_daily, pol->keep_weekly,
	         pol->keep_monthly, pol->keep_yearly);
}

/*
 * Backups a running export reads: for each Running EXPORT row, the newest
 * good backup started before the export did (the one export_job() took).
 */
static void
mark_in_use(const struct catalog_row *rows, const size_t *map, struct retention_row *rr, size_t nr,
            size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *r = &rows[i];
		struct timeval tv;
		ssize_t pick = -1;

		if (r->type == NULL || strcmp(r->type, "EXPORT") != 0 || r->status == NULL ||
		    strcmp(r->status, "Running") != 0 || time_parse_iso(r->backup_start, &tv) == -1)
			continue;
		for (size_t k = 0; k < nr; k++) {
			if (map[k] == (size_t)-1 || rr[k].state != RETENTION_GOOD ||
			    !rr[k].start_ok || rr[k].start > tv.tv_sec)
				continue;
			if (pick == -1 || rr[k].start > rr[pick].start)
				pick = (ssize_t)k;
		}
		if (pick >= 0)
			rr[pick].in_use = 1;
	}
}

void
retention_explain_free(struct retention_explain *x)
{
	struct sel *s = x->priv;

	if (s != NULL) {
		catalog_rows_free(s->rows, s->n);
		for (size_t i = 0; i < s->orphans.n; i++)
			free(s->paths[i]);
		free(s->paths);
		strv_free(&s->orphans);
		strv_free(&s->leftovers);
		free(s->rr);
		free(s->map);
		free(s->dec);
		free(s->jobreal);
		free(s);
	}
	free(x->items);
	memset(x, 0, sizeof *x);
}

/*
 * The policy's decision for job: rows, orphans, table and decisions into
 * x (x->priv a struct sel). quiet: no warning about unreadable starts
 * (the web asks often). 0 or -1 + err.
 */
static int
job_select(struct catalog *cat, const struct job *job, time_t now, int quiet,
           struct retention_explain *x, struct err *err)
{
	struct catalog_filter f = { .backup_name = job->name };
	struct sel *s = xcalloc(1, sizeof *s);
	time_t cutoff;
	struct tm tm;

	memset(x, 0, sizeof *x);
	x->priv = s;
	strv_init(&s->orphans);
	strv_init(&s->leftovers);
	retention_job_policy(job, &x->pol);
	cutoff = retention_cutoff(&x->pol, now);
	localtime_r(&cutoff, &tm);
	strftime(x->cutoff, sizeof x->cutoff, "%Y-%m-%d", &tm);
	if (cat != NULL && catalog_find(cat, &f, &s->rows, &s->n, err) == -1)
		return -1;
	if ((s->jobreal = realpath(job->dir, NULL)) == NULL && errno != ENOENT) {
		err_sys(err, errno, "resolving the job folder %s", job->dir);
		return -1;
	}
	if (s->jobreal != NULL && find_orphans(cat, job, s->jobreal, cutoff, s->rows, s->n,
	                                       &s->orphans, &s->leftovers, err) == -1)
		return -1;
	s->paths = xcalloc(s->orphans.n + 1, sizeof *s->paths);
	for (size_t i = 0; i < s->orphans.n; i++)
		s->paths[i] = xasprintf("%s/%s", s->jobreal, s->orphans.v[i]);

	s->rr = policy_rows(job, s->rows, s->n, &s->orphans, quiet, &s->map, &s->nr);
	mark_in_use(s->rows, s->map, s->rr, s->nr, s->n);
	s->dec = xcalloc(s->nr + 1, sizeof *s->dec);
	retention_select(s->rr, s->nr, &x->pol, now, s->dec, &x->sum);

	x->items = xcalloc(s->nr + 1, sizeof *x->items);
	x->n = s->nr;
	for (size_t k = 0; k < s->nr; k++) {
		struct retention_item *it = &x->items[k];
		const struct catalog_row *r = s->map[k] != (size_t)-1 ? &s->rows[s->map[k]] : NULL;

		if (r != NULL) {
			it->rowid = r->rowid;
			it->location = r->backup_location;
			it->start = r->backup_start != NULL ? r->backup_start : "";
			it->status = r->status != NULL ? r->status : "";
		} else {
			it->rowid = -1;
			it->location = s->paths[k - (s->nr - s->orphans.n)];
			it->start = "";
			it->status = "unrecorded";
		}
		it->t = s->rr[k].start_ok ? s->rr[k].start : 0;
		it->partial = s->rr[k].state == RETENTION_PARTIAL;
		it->in_use = s->rr[k].in_use;
		it->del = s->dec[k].del;
		it->reason = s->dec[k].reason;
		it->rules = s->dec[k].rules;
	}
	return 0;
}

int
retention_explain_job(struct catalog *cat, const struct job *job, time_t now,
                      struct retention_explain *x, struct err *err)
{
	if (job_select(cat, job, now, 1, x, err) == -1) {
		err_wrap(err, "[%s] retention", job->name);
		return -1;
	}
	return 0;
}

void
retention_explain_print(FILE *out, const struct job *job, const struct retention_explain *x)
{
	char pol[256];

	retention_policy_text(&x->pol, pol, sizeof pol);
	fprintf(out, "[%s] %s (age window from %s 00:00)\n", job->name, pol, x->cutoff);
	if (x->n == 0)
		fprintf(out, "  no backup\n");
	for (size_t k = 0; k < x->n; k++) {
		const struct retention_item *it = &x->items[k];
		char when[32] = "?";
		struct buf also;

		buf_init(&also, 4096);
		if (it->t != 0) {
			struct tm tm;

			localtime_r(&it->t, &tm);
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		}
		for (int r = 0; r <= RETENTION_REASON_LAST; r++)
			if (r != (int)it->reason && (it->rules & RETENTION_RULE(r)))
				buf_printf(&also, "%s%s", also.len == 0 ? " (also " : ",",
				           retention_rule_name((enum retention_reason)r));
		if (also.len > 0)
			buf_putc(&also, ')');
		fprintf(out, "  %-19s  %-10s  %-6s  %-10s  %s  [%s%s]\n", when,
		        it->partial ? "OK partial" : it->status, it->del ? "delete" : "keep",
		        retention_rule_name(it->reason), it->location,
		        retention_reason_text(it->reason), buf_str(&also));
		buf_free(&also);
	}
}

/*
 * Queue the NAME.deleting entries an interrupted cleanup left in job ji's
 * folder: they go whatever the policy says (the removal was decided and
 * begun). -1 when one cannot be checked.
 */
static int
plan_leftovers(struct cleanup *c, size_t ji, const char *jobreal, const struct strv *names)
{
	const struct job *job = c->plans[ji].job;
	int rc = 0;

	for (size_t i = 0; i < names->n; i++) {
		char *full = xasprintf("%s/%s", jobreal, names->v[i]), *path;
		int dirfd, is_link = 0, other_fs = 0;
		struct victim *v;
		struct err err;

		err_clear(&err);
		switch (locate(&c->pc, job, jobreal, full, 0, &path, &dirfd, &is_link, &other_fs,
		               &err)) {
		case WHERE_INSIDE:
			if (c->a->dry_run)
				log_info(job->name,
				         "dry run: would finish removing %s (an interrupted "
				         "cleanup's)",
				         full);
			v = victim_add(c, ji, -1, full);
			v->path = path;
			v->name = strrchr(path, '/') + 1;
			v->dirfd = dirfd;
			v->own_fd = 1;
			v->is_link = is_link;
			v->leftover = 1;
			v->state = VICTIM_REMOVE;
			break;
		case WHERE_GONE:
			break;
		case WHERE_ERROR:
			log_error(job->name, "cannot check %s: %s", full, err.msg);
			rc = -1;
			break;
		case WHERE_OUTSIDE:
		case WHERE_REFUSED:
			log_warning(job->name, "%s is %s: left alone", full, err.msg);
			break;
		}
		free(full);
	}
	return rc;
}

/* Decide what to remove for job ji. -1 when the job counts as failed. */
static int
plan_job(struct cleanup *c, size_t ji)
{
	struct plan *p = &c->plans[ji];
	const struct job *job = p->job;
	struct retention_explain x;
	const struct retention_summary *sum = &x.sum;
	struct catalog_row *rows, *good;
	struct retention_row *rr;
	struct retention_decision *dec;
	struct strv protect;
	struct drv_check chk;
	struct sel *s;
	size_t n, nr, first = c->nv, *map;
	char *jobreal, pol[256];
	int running = 0, busy_probe = 0, rc = -1;
	struct err err;

	err_clear(&err);
	strv_init(&protect);
	if (job_select(c->cat, job, time(NULL), 0, &x, &err) == -1) {
		memcpy(p->cutoff, x.cutoff, sizeof p->cutoff);
		log_error(job->name, "cleanup: %s", err.msg);
		s = x.priv;
		n = s->n;
		rows = s->rows;
		goto out;
	}
	s = x.priv;
	rows = s->rows;
	n = s->n;
	rr = s->rr;
	map = s->map;
	nr = s->nr;
	dec = s->dec;
	jobreal = s->jobreal;
	memcpy(p->cutoff, x.cutoff, sizeof p->cutoff);
	if (x.pol.kind == RETENTION_AGE) {
		log_info(job->name, "Processing cleanup: backups started before %s 00:00 expire",
		         p->cutoff);
	} else {
		retention_policy_text(&x.pol, pol, sizeof pol);
		log_info(job->name, "Processing cleanup: %s", pol);
	}
	if (c->a->explain)
		retention_explain_print(stdout, job, &x);
	if (jobreal != NULL && plan_leftovers(c, ji, jobreal, &s->leftovers) == -1)
		p->failed = 1;
	first = c->nv;

	if (sum->expired == 0 && sum->orphans_expired == 0 && sum->extra == 0) {
		log_info(job->name, "nothing older than %s to remove", p->cutoff);
		rc = 0;
		goto out;
	}
	if (sum->keeper < 0) {
		if (x.pol.kind == RETENTION_AGE)
			log_warning(job->name,
			            "nothing removed: no recent good backup exists (%s since %s), "
			            "and cleanup always keeps one",
			            sum->partial_only ? "only partial transfers" : "none OK",
			            p->cutoff);
		else
			log_warning(job->name,
			            "nothing removed: no good backup exists (%s), and cleanup "
			            "always keeps one",
			            sum->partial_only ? "only partial transfers" : "none OK");
		rc = 0;
		goto out;
	}
	good = &rows[map[sum->keeper]];
	if (driver_check(job, good->backup_location, &chk, &err) == -1 ||
	    chk.presence == DRV_GONE) {
		log_warning(job->name,
		            "nothing removed: no recent good backup exists (the newest OK%s%s, "
		            "%s, is missing from disk), and cleanup always keeps one",
		            x.pol.kind == RETENTION_AGE ? " since " : "",
		            x.pol.kind == RETENTION_AGE ? p->cutoff : "", good->backup_location);
		rc = 0;
		goto out;
	}
	log_debug(job->name, "keeping at least %s (started %s)", good->backup_location,
	          good->backup_start);

	/* What is kept protects what it holds or lies in. */
	for (size_t k = 0; k < nr; k++) {
		char *real;

		if (map[k] == (size_t)-1)
			continue;
		if (dec[k].del && rr[k].state == RETENTION_RUNNING)
			running = 1;
		if (dec[k].del || !rr[k].start_ok)
			continue;
		if ((real = resolve_kept(&c->pc, rows[map[k]].backup_location)) != NULL) {
			strv_push(&protect, real);
			free(real);
		}
	}

	/* A live run's rows and folder are not ours to remove. */
	if ((running || s->orphans.n > 0) && !c->a->dry_run && jobreal != NULL &&
	    backup_running(job)) {
		busy_probe = 1;
		if (s->orphans.n > 0)
			log_info(job->name, "a backup is running: unfinished folders are left "
			                    "alone this time");
	}

	rc = 0;
	for (size_t k = nr; k-- > 0;) {
		const struct catalog_row *r;

		if (map[k] == (size_t)-1 || !dec[k].del)
			continue;
		r = &rows[map[k]];
		if (busy_probe && rr[k].state == RETENTION_RUNNING) {
			log_info(job->name, "row %lld is still running: left alone",
			         (long long)r->rowid);
			continue;
		}
		log_debug(job->name, "%s: %s", r->backup_location,
		          retention_reason_text(dec[k].reason));
		if (plan_location(c, ji, jobreal, r->rowid, r->backup_location, &protect) == -1)
			rc = -1;
	}
	for (size_t k = 0; k < nr; k++) {
		if (map[k] != (size_t)-1 || !dec[k].del || busy_probe)
			continue;
		if (plan_location(c, ji, jobreal, -1, s->paths[k - (nr - s->orphans.n)],
		                  &protect) == -1)
			rc = -1;
	}
	for (size_t i = first; i < c->nv; i++) {
		const struct victim *v = &c->v[i];

		if (!c->a->dry_run)
			continue;
		if (v->state == VICTIM_GONE)
			log_info(job->name, "dry run: %s is already gone, would mark its row CLEAN",
			         v->location);
		else
			log_info(job->name, "dry run: would remove %s%s", v->location,
			         v->rowid == -1 ? " (unfinished, unrecorded)" : "");
	}
out:
	/* Rows with a location that stay BACKUP, before this run's removals. */
	for (size_t i = 0; i < n; i++)
		if (is_backup(&rows[i]) && has_location(&rows[i]))
			p->kept++;
	strv_free(&protect);
	retention_explain_free(&x);
	return rc;
}

/* Mark a victim's row CLEAN; counts it. -1 after logging a catalog error. */
static int
record(struct cleanup *c, const struct victim *v)
{
	struct plan *p = &c->plans[v->job];
	struct err err;

	err_clear(&err);
	if (v->leftover) {
		p->finished++;
		return 0;
	}
	if (v->rowid == -1) {
		p->orphans++;
		return 0;
	}
	if (!c->a->dry_run) {
		if (c->cat == NULL) {
			log_error(p->job->name, "%s: cannot mark its row CLEAN without the catalog",
			          v->location);
			return -1;
		}
		if (catalog_set_type(c->cat, v->rowid, "CLEAN", &err) == -1) {
			log_error(p->job->name, "cannot mark the row of %s CLEAN: %s", v->location,
			          err.msg);
			return -1;
		}
	}
	p->removed++;
	p->kept--;
	return 0;
}

/*
 * Removal threads: -j / max_parallel (the load the administrator allows),
 * at most THREADS_MAX; 0 lets rmtree_many() pick.
 */
static int
threads(const struct action_ctx *a)
{
	if (a->max_parallel <= 0)
		return 0;
	return a->max_parallel < THREADS_MAX ? a->max_parallel : THREADS_MAX;
}

/* The driver's expire hook on victim v; the outcome goes into t. */
static void
expire_with_hook(const struct cleanup *c, const struct victim *v, struct rmtree_task *t)
{
	const struct job *job = c->plans[v->job].job;
	struct drv_expire x = {
		.job = job,
		.location = v->location,
		.dirfd = v->dirfd,
		.name = v->name,
		.other_fs = v->other_fs,
	};

	err_clear(&t->err);
	if (spawn_interrupted()) {
		err_set(&t->err, "interrupted");
		t->err.code = EINTR;
		t->rc = -1;
		return;
	}
	t->rc = job->drv->expire(&x, &t->err);
}

/*
 * Once per job whose expire hook removed something: the driver's
 * expire_commit (btrfs commits its deletions). A failure is a warning:
 * the backups are gone, their rows become CLEAN anyway.
 */
static void
commit_all(struct cleanup *c, const struct rmtree_task *tasks)
{
	for (size_t i = 0; i < c->nv; i++) {
		const struct victim *v = &c->v[i];
		struct plan *p = &c->plans[v->job];
		struct err err;

		if (v->state != VICTIM_REMOVE || !v->hook || tasks[v->task].rc != 0 ||
		    p->job->drv->expire_commit == NULL || p->committed)
			continue;
		p->committed = 1;
		err_clear(&err);
		if (p->job->drv->expire_commit(p->job, &err) == -1)
			log_warning(p->job->name, "cleanup: %s", err.msg);
	}
}

/* renameat2(RENAME_NOREPLACE) in dirfd, or a check and renameat() where it is not supported. */
static int
rename_noreplace(int dirfd, const char *from, const char *to)
{
	struct stat sb;

	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fstatat(dirfd, to, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(dirfd, from, dirfd, to);
}

/*
 * Rename each local removal (not a leftover, not the expire hook's) to
 * NAME.deleting in its folder, never over an existing entry. One that
 * cannot be renamed becomes VICTIM_FAILED: nothing of it is removed and
 * its row stays BACKUP.
 */
static void
rename_all(struct cleanup *c)
{
	for (size_t i = 0; i < c->nv; i++) {
		struct victim *v = &c->v[i];
		struct err err;
		char *tmp;

		if (v->state != VICTIM_REMOVE || v->hook || v->leftover)
			continue;
		err_clear(&err);
		tmp = xasprintf("%s" DRV_DELETING, v->name);
		if (spawn_interrupted()) {
			err_set(&err, "interrupted");
		} else if (rename_noreplace(v->dirfd, v->name, tmp) == 0) {
			v->tmpname = tmp;
			continue;
		} else if (errno == EEXIST || errno == ENOTEMPTY) {
			err_set(&err,
			        "renaming it to %s before removing it: that name is taken (an "
			        "earlier removal that could not be finished)",
			        tmp);
		} else {
			err_sys(&err, errno, "renaming it to %s before removing it", tmp);
		}
		v->errmsg = xstrdup(err.msg);
		v->state = VICTIM_FAILED;
		free(tmp);
	}
}

enum task_kind {
	TASK_LEFTOVER, /* local, an interrupted cleanup's NAME.deleting */
	TASK_LOCAL,    /* local, renamed to NAME.deleting first */
	TASK_HOOK,     /* the driver's expire hook */
};

/* Append the VICTIM_REMOVE victims of kind to tasks (*n of them so far). */
static void
add_tasks(struct cleanup *c, struct rmtree_task *tasks, size_t *n, enum task_kind kind)
{
	for (size_t i = 0; i < c->nv; i++) {
		struct victim *v = &c->v[i];
		enum task_kind k = v->hook ? TASK_HOOK : v->leftover ? TASK_LEFTOVER : TASK_LOCAL;

		if (v->state != VICTIM_REMOVE || k != kind)
			continue;
		v->task = *n;
		tasks[*n].dirfd = v->dirfd;
		tasks[*n].name = v->tmpname != NULL ? v->tmpname : v->name;
		(*n)++;
	}
}

/*
 * Remove every VICTIM_REMOVE: first the leftovers of interrupted cleanups
 * (they may hold the names the renames need), then the local removals,
 * renamed to NAME.deleting and removed all at once (rmtree_many), then
 * the ones the drivers' expire hooks remove, one by one. *tasks receives
 * the outcomes, indexed by each victim's task.
 */
static void
remove_all(struct cleanup *c, struct rmtree_task **tasks)
{
	size_t ntasks = 0, nleft, nlocal, total = 0;

	*tasks = xcalloc(c->nv + 1, sizeof **tasks);
	for (size_t i = 0; i < c->nv; i++)
		if (c->v[i].state == VICTIM_REMOVE)
			total++;
	if (c->a->dry_run || total == 0)
		return;
	log_info(NULL, "cleanup: removing %zu expired backup%s", total, total == 1 ? "" : "s");
	add_tasks(c, *tasks, &ntasks, TASK_LEFTOVER);
	nleft = ntasks;
	if (nleft > 0)
		rmtree_many(*tasks, nleft, threads(c->a), spawn_interrupted);
	rename_all(c);
	add_tasks(c, *tasks, &ntasks, TASK_LOCAL);
	nlocal = ntasks - nleft;
	if (nlocal > 0)
		rmtree_many(*tasks + nleft, nlocal, threads(c->a), spawn_interrupted);
	add_tasks(c, *tasks, &ntasks, TASK_HOOK);
	for (size_t i = 0; i < c->nv; i++)
		if (c->v[i].state == VICTIM_REMOVE && c->v[i].hook)
			expire_with_hook(c, &c->v[i], &(*tasks)[c->v[i].task]);
	commit_all(c, *tasks);
}

/*
 * Disk usage (diskusage.h): before anything is removed, measure what each
 * job's removals free; NULL entries for jobs without figures. The array
 * has one entry per job.
 */
static struct diskusage_cleanup **
usage_prepare(struct cleanup *c)
{
	struct diskusage_cleanup **dc = xcalloc(c->a->njobs + 1, sizeof *dc);
	size_t *count = xcalloc(c->a->njobs + 1, sizeof *count);
	const char ***paths = xcalloc(c->a->njobs + 1, sizeof *paths);

	for (size_t i = 0; i < c->nv; i++)
		if (c->v[i].state == VICTIM_REMOVE)
			count[c->v[i].job]++;
	for (size_t j = 0; j < c->a->njobs; j++) {
		paths[j] = xcalloc(count[j] + 1, sizeof **paths);
		count[j] = 0;
	}
	for (size_t i = 0; i < c->nv; i++)
		if (c->v[i].state == VICTIM_REMOVE)
			paths[c->v[i].job][count[c->v[i].job]++] = c->v[i].path;
	for (size_t j = 0; j < c->a->njobs; j++) {
		if (count[j] > 0 && !c->plans[j].skipped)
			dc[j] =
			    diskusage_cleanup_prepare(c->cat, c->plans[j].job, paths[j], count[j]);
		free(paths[j]);
	}
	free(paths);
	free(count);
	return dc;
}

/* After the removals are recorded: update each job's disk usage, free dc. */
static void
usage_finish(struct cleanup *c, struct diskusage_cleanup **dc)
{
	if (dc == NULL)
		return;
	for (size_t j = 0; j < c->a->njobs; j++)
		diskusage_cleanup_finish(dc[j], c->cat);
	free(dc);
}

/* Log each victim's outcome and mark its row, in plan order. */
static void
record_all(struct cleanup *c, const struct rmtree_task *tasks)
{
	for (size_t i = 0; i < c->nv; i++) {
		const struct victim *v = &c->v[i];
		struct plan *p = &c->plans[v->job];
		const struct rmtree_task *t;
		const struct victim *src;

		switch (v->state) {
		case VICTIM_GONE:
			if (!c->a->dry_run)
				log_info(p->job->name,
				         "%s is already gone from disk: marking it CLEAN",
				         v->location);
			break;
		case VICTIM_FAILED:
			log_error(p->job->name, "cannot remove %s: %s", v->location, v->errmsg);
			p->not_removed++;
			p->failed = 1;
			continue;
		case VICTIM_SAME:
		case VICTIM_REMOVE:
			src = &c->v[v->state == VICTIM_SAME ? v->same_as : i];
			if (src->state == VICTIM_FAILED) {
				log_error(p->job->name, "cannot remove %s: %s", v->location,
				          src->errmsg);
				p->not_removed++;
				p->failed = 1;
				continue;
			}
			t = &tasks[src->task];
			if (t->rc == -1) {
				log_error(p->job->name, "cannot remove %s: %s", v->location,
				          t->err.msg);
				p->not_removed++;
				p->failed = 1;
				continue;
			}
			if (!c->a->dry_run && v->leftover)
				log_info(p->job->name,
				         "finished removing %s (an interrupted cleanup's)",
				         v->location);
			else if (!c->a->dry_run)
				log_info(p->job->name, "removed %s%s", v->location,
				         v->is_link ? " (a symlink: its target is left alone)"
				                    : "");
			break;
		}
		if (record(c, v) == -1)
			p->failed = 1;
	}
}

/* The summary of one job, like the original's last cleanup line. */
static void
summarize(const struct cleanup *c, const struct plan *p)
{
	const char *would = c->a->dry_run ? "would remove" : "removed";
	struct buf b;

	buf_init(&b, 4096);
	buf_printf(&b, "%s %d backup%s", would, p->removed, p->removed == 1 ? "" : "s");
	if (p->orphans > 0)
		buf_printf(&b, " and %d unfinished %s%s", p->orphans,
		           (p->job->drv->caps & DRV_CAP_FILE) ? "file" : "folder",
		           p->orphans == 1 ? "" : "s");
	buf_printf(&b, " older than %s, kept %d", p->cutoff, p->kept);
	if (p->finished > 0)
		buf_printf(&b, "; %s %d removal%s an interrupted cleanup left",
		           c->a->dry_run ? "would finish" : "finished", p->finished,
		           p->finished == 1 ? "" : "s");
	if (p->not_removed > 0)
		buf_printf(&b, ", %d could not be removed", p->not_removed);
	if (p->failed)
		log_error(p->job->name, "cleanup finished with errors: %s", buf_str(&b));
	else
		log_info(p->job->name, "%s", buf_str(&b));
	buf_free(&b);
}

/*
 * SPEC §1: on a full disk the run log is skipped with a warning: writes to
 * it would fail silently, and what room is left (root's reserve) belongs
 * to the catalog. Full is what df(1) says: less than LOG_SPACE_MIN bytes,
 * or no inode, available to ordinary users. The disk checked is the one
 * of the log folder ({backup_base_dir}/log, where action.c opens the run
 * log), whatever the catalog's backend (a PostgreSQL catalog is no path).
 */
static void
check_log_space(const struct config *cfg)
{
	char *dir = fs_join(cfg->backup_base_dir, "log");
	struct statvfs sv;

	if (statvfs(dir, &sv) == 0 &&
	    ((unsigned long long)sv.f_bavail * sv.f_frsize < LOG_SPACE_MIN || sv.f_favail == 0)) {
		log_close_file();
		log_warning(NULL,
		            "cleanup: the disk holding %s is full: file logging skipped, messages "
		            "go to stderr only",
		            dir);
	}
	free(dir);
}

/*
 * The catalog to plan with when main.c could not open it read-write (a
 * full disk: SQLite cannot grow its side files). Read-only works; the
 * read-write open is retried once the removals made room.
 */
static int
open_for_planning(struct cleanup *c, struct catalog **own)
{
	struct err err;

	err_clear(&err);
	if (catalog_open(c->a->catalog_path, CATALOG_RO, own, &err) == 0) {
		c->cat = *own;
		return 0;
	}
	if (err.code == ENOENT) {
		log_info(NULL, "cleanup: no catalog yet (%s): no backup to expire",
		         c->a->catalog_path);
		return 1;
	}
	log_error(NULL, "cleanup: %s", err.msg);
	return -1;
}

int
cleanup_run(const struct action_ctx *a)
{
	struct cleanup c = { .a = a, .cat = a->cat };
	struct rmtree_task *tasks = NULL;
	struct diskusage_cleanup **usage = NULL;
	struct catalog *own = NULL;
	struct buf ok, failed;
	struct err err;
	int rc = 0, reopen;

	err_clear(&err);
	/*
	 * With TZ unset, glibc's mktime() checks /etc/localtime again (a stat)
	 * on every call, and cleanup converts one start time per row: naming
	 * that same file in TZ makes the zone read once (same zone for children).
	 */
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 0);
	buf_init(&ok, 1 << 20);
	buf_init(&failed, 1 << 20);
	if (!a->dry_run && a->cfg != NULL && a->cfg->backup_base_dir != NULL)
		check_log_space(a->cfg);
	logprune_run(a->cfg, time(NULL), a->dry_run);
	/* Not a dry run without a catalog: main.c could not open it read-write. */
	reopen = !a->dry_run && c.cat == NULL;
	if (c.cat == NULL) {
		if (a->catalog_path == NULL) {
			log_error(NULL, "cleanup: no catalog");
			rc = EXIT_RUNTIME;
			goto out;
		}
		switch (open_for_planning(&c, &own)) {
		case -1:
			rc = EXIT_RUNTIME;
			goto out;
		case 1:
			goto out;
		}
	}
	c.plans = xcalloc(a->njobs + 1, sizeof *c.plans);
	for (size_t i = 0; i < a->njobs; i++) {
		c.plans[i].job = a->jobs[i];
		if (a->jobs[i]->drv->caps & DRV_CAP_NO_BACKUP) {
			log_info(a->jobs[i]->name, "type %s: no backups to clean",
			         a->jobs[i]->drv->name);
			c.plans[i].skipped = 1;
			continue;
		}
		if (spawn_interrupted()) {
			log_warning(NULL, "interrupted: not cleaning [%s]", a->jobs[i]->name);
			c.plans[i].failed = 1;
			continue;
		}
		if (plan_job(&c, i) == -1)
			c.plans[i].failed = 1;
	}
	if (!a->dry_run)
		usage = usage_prepare(&c);
	remove_all(&c, &tasks);
	if (reopen) {
		catalog_close(own);
		own = NULL;
		c.cat = NULL;
		if (catalog_open(a->catalog_path, CATALOG_RW, &own, &err) == -1) {
			log_error(
			    NULL,
			    "cleanup: the catalog is still not writable (%s): rows of removed "
			    "backups stay BACKUP until the next cleanup marks them CLEAN",
			    err.msg);
			rc = EXIT_RUNTIME;
		}
		c.cat = own;
	}
	record_all(&c, tasks);
	usage_finish(&c, usage);
	for (size_t i = 0; i < a->njobs; i++) {
		struct plan *p = &c.plans[i];

		if (p->skipped)
			continue;
		summarize(&c, p);
		if (p->failed) {
			buf_printf(&failed, "%s%s", failed.len ? "," : "", p->job->name);
			if (rc == 0)
				rc = EXIT_JOBS;
		} else {
			buf_printf(&ok, "%s%s", ok.len ? "," : "", p->job->name);
		}
	}
	if (ok.len == 0 && failed.len == 0)
		log_warning(NULL, "No cleanup properly finished or processed");
	if (ok.len > 0)
		log_info(NULL, "Cleanup processed : %s", buf_str(&ok));
	if (failed.len > 0)
		log_error(NULL, "Cleanup processed with errors: %s", buf_str(&failed));
out:
	for (size_t i = 0; i < c.nv; i++) {
		if (c.v[i].own_fd)
			close(c.v[i].dirfd);
		free(c.v[i].location);
		free(c.v[i].path);
		free(c.v[i].tmpname);
		free(c.v[i].errmsg);
	}
	free(c.v);
	free(c.plans);
	pc_drop_fd(&c.pc);
	free(c.pc.parent);
	free(c.pc.real);
	free(tasks);
	if (own != NULL)
		catalog_close(own);
	buf_free(&ok);
	buf_free(&failed);
	return rc;
}
