/*
 * Disk usage per snapshot and per job (see diskusage.h and
 * docs/disk-space.md): one walk of a tree (util/du.c's walker, which
 * hands every lstat here) counts, per inode with several links, how many
 * of its links lie inside the tree; the inode is unique to the tree when
 * that is all of them. So a snapshot's unique bytes need a walk of that
 * snapshot alone, and the job's total (each inode once) moves by exactly
 * the new snapshot's unique bytes after a backup and by what a removal
 * frees after cleanup. Only the snapshots whose unique bytes can change
 * are walked again: after a backup, the older ones holding the other
 * links of the new snapshot's shared inodes (from their folder listings
 * alone, see older_links()); after cleanup, the remaining snapshots next
 * to each removed entry.
 *
 * A btrfs subvolume (inode 256 on btrfs) shares extents, not inodes: a
 * walk would count every snapshot whole, so such snapshots are never
 * walked; their figures come from the btrfs qgroups when quotas are
 * enabled and consistent (btrfs_qgroup.c), else they are left out.
 */
#include "diskusage.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btrfs_qgroup.h"
#include "btrfsload.h"
#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "log.h"
#include "util/du.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define BTRFS_MAGIC 0x9123683EL
#define BTRFS_SUBVOL_INO 256
#define MAP_MIN 1024

/* One inode with several links, as met by the walks. */
struct du_ino {
	dev_t dev;
	ino_t ino;
	uint32_t seen;  /* links met inside the walked tree(s) */
	uint32_t nlink; /* st_nlink */
	uint32_t cur;   /* links met in the older snapshot being listed */
	int64_t size, blocks;
	unsigned char used; /* the slot holds an inode */
	unsigned char mark; /* caller's flag */
};

/* An open-addressing hash map of inodes by (dev, ino). */
struct du_map {
	struct du_ino *slots;
	size_t cap, n; /* cap: a power of two */
};

static size_t
map_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;

	return (size_t)(h ^ (h >> 29));
}

static struct du_ino *
map_find(const struct du_map *m, dev_t dev, ino_t ino)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = map_hash(dev, ino) & (m->cap - 1); m->slots[i].used; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].ino == ino && m->slots[i].dev == dev)
			return &m->slots[i];
	return NULL;
}

/* The slot of st's inode, added (seen = 0) when new; *added says which. */
static struct du_ino *
map_get(struct du_map *m, const struct stat *st, int *added)
{
	struct du_ino *e;
	size_t i;

	*added = 0;
	if ((e = map_find(m, st->st_dev, st->st_ino)) != NULL)
		return e;
	if ((m->n + 1) * 2 > m->cap) {
		struct du_map big = { .cap = m->cap != 0 ? m->cap * 2 : MAP_MIN };

		big.slots = xcalloc(big.cap, sizeof *big.slots);
		for (i = 0; i < m->cap; i++) {
			size_t j;

			if (!m->slots[i].used)
				continue;
			for (j = map_hash(m->slots[i].dev, m->slots[i].ino) & (big.cap - 1);
			     big.slots[j].used; j = (j + 1) & (big.cap - 1))
				;
			big.slots[j] = m->slots[i];
		}
		big.n = m->n;
		free(m->slots);
		*m = big;
	}
	for (i = map_hash(st->st_dev, st->st_ino) & (m->cap - 1); m->slots[i].used;
	     i = (i + 1) & (m->cap - 1))
		;
	e = &m->slots[i];
	e->used = 1;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->nlink = (uint32_t)st->st_nlink;
	e->size = st->st_size > 0 ? st->st_size : 0;
	e->blocks = (int64_t)st->st_blocks * 512;
	m->n++;
	*added = 1;
	return e;
}

/* Size m for about n inodes up front (no rehash while a walk fills it). */
static void
map_reserve(struct du_map *m, int64_t n)
{
	size_t cap = MAP_MIN;

	if (m->cap != 0 || n <= 0)
		return;
	while ((size_t)n * 2 > cap && cap < ((size_t)1 << 30))
		cap *= 2;
	m->slots = xcalloc(cap, sizeof *m->slots);
	m->cap = cap;
}

static void
map_free(struct du_map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

/* Whether st (not a folder) may share its inode with another tree. */
static int
linked(const struct stat *st)
{
	return !S_ISDIR(st->st_mode) && st->st_nlink > 1;
}

/*
 * One walk's state: the tree's own inode map and figures, and optionally
 * a job-wide set (for the total, each inode once) and the new snapshot's
 * map whose shared inodes an older walk looks for.
 */
struct walk {
	struct du_map own;
	struct diskusage_fig fig;
	struct du_map *global; /* NULL, or every inode met by any walk */
	int64_t global_bytes, global_disk;
	struct du_map *wanted; /* NULL, or inodes to mark when met */
	size_t *wanted_left;   /* unmarked shared inodes of wanted */
	int counted;           /* 0: a staging tree (links counted, sizes not) */
};

static void
visit(void *arg, const struct stat *st)
{
	struct walk *w = arg;
	int64_t size = st->st_size > 0 ? st->st_size : 0;
	int64_t blocks = (int64_t)st->st_blocks * 512;
	struct du_ino *e;
	int added;

	if (w->counted) {
		w->fig.bytes += size;
		w->fig.disk_bytes += blocks;
		if (S_ISREG(st->st_mode))
			w->fig.files++;
	}
	if (!linked(st)) {
		/* A folder or a single-link file: this tree's alone. */
		if (w->counted) {
			w->fig.unique_bytes += size;
			w->fig.unique_disk_bytes += blocks;
			w->global_bytes += size;
			w->global_disk += blocks;
		}
		return;
	}
	e = map_get(&w->own, st, &added);
	e->seen++;
	if (w->counted)
		e->mark = 1; /* met in a counted tree */
	if (w->global != NULL && w->counted) {
		e = map_get(w->global, st, &added);
		if (added) {
			w->global_bytes += size;
			w->global_disk += blocks;
		}
	}
	if (w->wanted != NULL && (e = map_find(w->wanted, st->st_dev, st->st_ino)) != NULL &&
	    e->seen < e->nlink && !e->mark) {
		e->mark = 1;
		(*w->wanted_left)--;
	}
}

/* Add the unique part of w->own (inodes whose links were all met, in a counted tree). */
static void
walk_unique(struct walk *w)
{
	for (size_t i = 0; i < w->own.cap; i++) {
		const struct du_ino *e = &w->own.slots[i];

		if (e->used && e->mark && e->seen >= e->nlink) {
			w->fig.unique_bytes += e->size;
			w->fig.unique_disk_bytes += e->blocks;
		}
	}
}

/*
 * Walk path into w; a problem inside the tree is a warning. *dino_exact
 * (unless NULL) says whether its listings' inode numbers were its stats'
 * (du_tree_visit_dino()). 0 or -1 + err.
 */
static int
walk_tree(struct walk *w, const char *section, const char *path, int *dino_exact, struct err *err)
{
	int64_t bytes, files;
	int exact;
	int rc = du_tree_visit_dino(path, visit, w, &bytes, &files, &exact, err);

	if (dino_exact != NULL)
		*dino_exact = exact;

	if (rc == -1)
		return -1;
	if (rc == 1)
		log_warning(section, "disk usage of %s counts what could be read: %s", path,
		            err->msg);
	return 0;
}

int
diskusage_walk(const char *path, struct diskusage_fig *fig, struct err *err)
{
	struct walk w = { .counted = 1 };
	int64_t bytes, files;
	int rc = du_tree_visit(path, visit, &w, &bytes, &files, err);

	if (rc != -1)
		walk_unique(&w);
	*fig = w.fig;
	map_free(&w.own);
	return rc;
}

/* ---------------------------------------------------------------- snapshots */

struct snap {
	char *name; /* in the job folder */
	char *path;
	char stamp[TIME_STAMP_LEN + 1];
	struct catalog_du *row; /* its recorded figures, or NULL */
};

struct snaps {
	struct snap *v;
	size_t n, cap;
};

static int
accept_any(const struct job *job, const char *name, const struct stat *st)
{
	(void)job;
	(void)name;
	(void)st;
	return 1;
}

static int
snap_found(void *arg, const struct drv_found *f, struct err *err)
{
	struct snaps *s = arg;
	const char *slash = strrchr(f->location, '/');
	struct snap *x;

	(void)err;
	if (s->n == s->cap) {
		s->cap = s->cap != 0 ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	x = &s->v[s->n++];
	memset(x, 0, sizeof *x);
	x->path = xstrdup(f->location);
	x->name = xstrdup(slash != NULL ? slash + 1 : f->location);
	snprintf(x->stamp, sizeof x->stamp, "%s", f->stamp);
	return 0;
}

static int
snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	return c != 0 ? c : strcmp(x->name, y->name);
}

static void
snaps_free(struct snaps *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].path);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* Whether path is a btrfs subvolume (whose sharing no walk sees). */
static int
is_subvolume(const char *path)
{
	struct statfs sf;
	struct stat st;

	return lstat(path, &st) == 0 && st.st_ino == BTRFS_SUBVOL_INO && statfs(path, &sf) == 0 &&
	       (unsigned long)sf.f_type == (unsigned long)BTRFS_MAGIC;
}

/*
 * job's finished snapshots on disk, oldest first, each with its row of
 * rows (if any); *job_row the job's own row. *subvol = 1 when they are
 * btrfs subvolumes. 0 or -1 + err.
 */
static int
snaps_list(const struct job *job, struct catalog_du *rows, size_t nrows, struct snaps *s,
           struct catalog_du **job_row, int *subvol, struct err *err)
{
	memset(s, 0, sizeof *s);
	*job_row = NULL;
	*subvol = 0;
	if (driver_scan_finished(job, accept_any, snap_found, s, err) == -1)
		return -1;
	if (s->n > 0 && is_subvolume(s->v[s->n - 1].path))
		*subvol = 1;
	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, snap_cmp);
	for (size_t i = 0; i < nrows; i++) {
		if (rows[i].snapshot[0] == '\0') {
			*job_row = &rows[i];
			continue;
		}
		for (size_t j = 0; j < s->n; j++)
			if (strcmp(s->v[j].name, rows[i].snapshot) == 0)
				s->v[j].row = &rows[i];
	}
	return 0;
}

/* Record fig as snapshot's row of job. 0 or -1 + err. */
static int
put_fig(struct catalog *cat, const struct job *job, const char *snapshot,
        const struct diskusage_fig *fig, struct err *err)
{
	struct catalog_du d = {
		.backup_name = (char *)job->name,
		.snapshot = (char *)snapshot,
		.bytes = fig->bytes,
		.disk_bytes = fig->disk_bytes,
		.unique_bytes = fig->unique_bytes,
		.unique_disk_bytes = fig->unique_disk_bytes,
		.files = fig->files,
		.measured = (int64_t)time(NULL),
	};

	return catalog_du_put(cat, &d, err);
}

static void
fig_of_row(const struct catalog_du *r, struct diskusage_fig *f)
{
	f->bytes = r->bytes;
	f->disk_bytes = r->disk_bytes;
	f->unique_bytes = r->unique_bytes;
	f->unique_disk_bytes = r->unique_disk_bytes;
	f->files = r->files;
}

/* Figures walked, to be written together (names borrowed). */
struct pending {
	const char **names;
	struct diskusage_fig *figs;
	size_t n, cap;
};

static void
pending_add(struct pending *p, const char *name, const struct diskusage_fig *fig)
{
	if (p->n == p->cap) {
		p->cap = p->cap != 0 ? p->cap * 2 : 8;
		p->names = xrealloc(p->names, p->cap * sizeof *p->names);
		p->figs = xrealloc(p->figs, p->cap * sizeof *p->figs);
	}
	p->names[p->n] = name;
	p->figs[p->n++] = *fig;
}

static void
pending_free(struct pending *p)
{
	free(p->names);
	free(p->figs);
	memset(p, 0, sizeof *p);
}

/*
 * Write job's rows in one transaction, after every walk (the catalog's
 * write lock is never held while walking): all of its rows deleted first
 * when all, else the rows of dels; then p's rows and the job's total.
 * 0 or -1 + err.
 */
static int
write_rows(struct catalog *cat, const struct job *job, int all, char *const *dels, size_t ndel,
           const struct pending *p, const struct diskusage_fig *total, struct err *err)
{
	if (catalog_begin(cat, err) == -1)
		return -1;
	if (all && catalog_du_delete(cat, job->name, NULL, err) == -1)
		goto fail;
	for (size_t i = 0; i < ndel; i++)
		if (catalog_du_delete(cat, job->name, dels[i], err) == -1)
			goto fail;
	for (size_t i = 0; i < p->n; i++)
		if (put_fig(cat, job, p->names[i], &p->figs[i], err) == -1)
			goto fail;
	if (put_fig(cat, job, "", total, err) == -1 || catalog_commit(cat, err) == -1)
		goto fail;
	return 0;
fail:
	catalog_rollback(cat);
	return -1;
}

/* Walk every snapshot of s, then write all of job's rows. */
static int
rescan_snaps(struct catalog *cat, const struct job *job, const struct snaps *s, struct err *err)
{
	struct du_map global = { 0 };
	struct diskusage_fig total = { 0 };
	struct pending p = { 0 };
	int64_t gbytes = 0, gdisk = 0;
	int ret = -1;

	for (size_t i = 0; i < s->n; i++) {
		struct walk w = { .counted = 1, .global = &global };
		int rc = walk_tree(&w, job->name, s->v[i].path, NULL, err);

		walk_unique(&w);
		map_free(&w.own);
		if (rc == -1) {
			if (err->code == ENOENT)
				continue; /* removed meanwhile */
			goto out;
		}
		gbytes += w.global_bytes;
		gdisk += w.global_disk;
		total.bytes += w.fig.bytes;
		total.disk_bytes += w.fig.disk_bytes;
		total.files += w.fig.files;
		pending_add(&p, s->v[i].name, &w.fig);
	}
	total.unique_bytes = gbytes;
	total.unique_disk_bytes = gdisk;
	ret = write_rows(cat, job, 1, NULL, 0, &p, &total, err);
out:
	pending_free(&p);
	map_free(&global);
	return ret;
}

/*
 * job's snapshots s are btrfs subvolumes: write all of its rows from the
 * qgroups 0/ID of their subvolume IDs (docs/btrfs.md): a snapshot's bytes
 * and disk_bytes are its referenced bytes, its unique bytes its
 * exclusive ones; the job's total is the newest snapshot's referenced
 * bytes plus every older one's exclusive bytes. When quotas are off,
 * being rescanned or inconsistent, or a snapshot has no qgroup, the
 * job's rows are dropped (nothing is measured) and, unless quotas are
 * simply off, the reason is logged once. *measured says whether rows
 * were written. 0 or -1 + err.
 */
static int
qgroup_account(struct catalog *cat, const struct job *job, const struct snaps *s, int *measured,
               struct err *err)
{
	struct diskusage_fig total = { 0 };
	struct pending p = { 0 };
	struct btrfs_qgroups q;
	const char *why;
	int ret = -1;

	*measured = 0;
	if (s->n == 0)
		return catalog_du_delete(cat, job->name, NULL, err);
	if (btrfs_qgroup_read(s->v[s->n - 1].path, &q, err) == -1)
		return -1;
	if ((why = btrfs_qgroup_why(&q)) != NULL) {
		if (q.state != BTRFS_QG_OFF)
			log_info(job->name, "disk usage of its btrfs snapshots not measured: %s",
			         why);
		ret = catalog_du_delete(cat, job->name, NULL, err);
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct btrfs_qg *g;
		struct diskusage_fig fig = { 0 };
		enum btrfs_util_error e;
		uint64_t id = 0;

		errno = 0; /* libbtrfsutil: loaded by btrfs_qgroup_read() */
		e = btrfs_util_subvolume_id(s->v[i].path, &id);
		if (e != BTRFS_UTIL_OK) {
			err_sys(err, errno, "reading the subvolume ID of %s: %s", s->v[i].path,
			        btrfs_util_strerror(e));
			goto out;
		}
		if ((g = btrfs_qgroup_find(&q, id)) == NULL) {
			log_info(job->name,
			         "disk usage of its btrfs snapshots not measured: %s (subvolume "
			         "%llu) has no qgroup 0/%llu",
			         s->v[i].path, (unsigned long long)id, (unsigned long long)id);
			ret = catalog_du_delete(cat, job->name, NULL, err);
			goto out;
		}
		fig.bytes = fig.disk_bytes = g->rfer;
		fig.unique_bytes = fig.unique_disk_bytes = g->excl;
		total.bytes += g->rfer;
		total.disk_bytes += g->rfer;
		total.unique_bytes += i + 1 == s->n ? g->rfer : g->excl;
		pending_add(&p, s->v[i].name, &fig);
	}
	total.unique_disk_bytes = total.unique_bytes;
	ret = write_rows(cat, job, 1, NULL, 0, &p, &total, err);
	if (ret == 0)
		*measured = 1;
out:
	pending_free(&p);
	btrfs_qgroup_free(&q);
	return ret;
}

/* Whether the recorded figures cover exactly the snapshots on disk but skip. */
static int
consistent(const struct snaps *s, const struct catalog_du *job_row, size_t nrows, size_t skip)
{
	size_t with_row = 0;

	if (job_row == NULL)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		if (i == skip)
			continue;
		if (s->v[i].row == NULL)
			return 0;
		with_row++;
	}
	/* Every row but the job's names a snapshot on disk (not the new one). */
	return with_row == nrows - 1 && s->v[skip].row == NULL;
}

/* du_tree_links()'s callback: one more link of m's inode (dev, ino) met. */
static void
count_link(void *arg, dev_t dev, ino_t ino)
{
	struct du_ino *e = map_find(arg, dev, ino);

	if (e != NULL && e->cur < UINT32_MAX)
		e->cur++;
}

/*
 * The older snapshot at path, whose recorded figures are row, after a
 * backup whose new snapshot's linked inodes are m: only its unique bytes
 * can change, and only by the inodes of m it holds links to. Its listings
 * alone (no stat per entry) count those links; an inode met here and in
 * no newer snapshot (not yet marked) was unique to it before the backup
 * when its links outside the new snapshot (st_nlink - seen) are all here,
 * and no longer is. Marks those met, counting them down from *left; fig
 * gets row's figures so updated. 0 or -1 + err.
 */
static int
older_links(struct du_map *m, const char *section, const char *path, const struct catalog_du *row,
            size_t *left, struct diskusage_fig *fig, struct err *err)
{
	int rc = du_tree_links(path, count_link, m, err);

	if (rc == -1)
		return -1;
	if (rc == 1)
		log_warning(section, "disk usage of %s counts what could be read: %s", path,
		            err->msg);
	fig_of_row(row, fig);
	for (size_t i = 0; i < m->cap; i++) {
		struct du_ino *e = &m->slots[i];

		if (!e->used || e->cur == 0)
			continue;
		if (!e->mark && e->seen < e->nlink) {
			e->mark = 1;
			(*left)--;
			if (e->cur == e->nlink - e->seen) {
				fig->unique_bytes -= e->size;
				fig->unique_disk_bytes -= e->blocks;
			}
		}
		e->cur = 0;
	}
	if (fig->unique_bytes < 0)
		fig->unique_bytes = 0;
	if (fig->unique_disk_bytes < 0)
		fig->unique_disk_bytes = 0;
	return 0;
}

static int
after_backup(struct catalog *cat, const struct job *job, const struct snaps *s, size_t ni,
             const struct catalog_du *job_row, size_t *walked, struct err *err)
{
	struct walk nw = { .counted = 1 };
	struct diskusage_fig total;
	struct pending p = { 0 };
	size_t left = 0;
	int exact = 0, ret = -1;

	/* The new snapshot is about as big as the one before it. */
	if (ni > 0 && s->v[ni - 1].row != NULL)
		map_reserve(&nw.own, s->v[ni - 1].row->files + s->v[ni - 1].row->files / 8);
	if (walk_tree(&nw, job->name, s->v[ni].path, &exact, err) == -1)
		goto out;
	(*walked)++;
	walk_unique(&nw);
	/* The new snapshot's shared inodes, unmarked: the older walks look for them. */
	for (size_t i = 0; i < nw.own.cap; i++) {
		struct du_ino *e = &nw.own.slots[i];

		if (!e->used)
			continue;
		e->mark = 0;
		if (e->seen < e->nlink)
			left++;
	}
	fig_of_row(job_row, &total);
	total.bytes += nw.fig.bytes;
	total.disk_bytes += nw.fig.disk_bytes;
	total.files += nw.fig.files;
	total.unique_bytes += nw.fig.unique_bytes;
	total.unique_disk_bytes += nw.fig.unique_disk_bytes;

	pending_add(&p, s->v[ni].name, &nw.fig);
	for (size_t k = ni; k-- > 0 && left > 0;) {
		struct walk ow = { .counted = 1, .wanted = &nw.own, .wanted_left = &left };
		int rc;

		if (exact && s->v[k].row != NULL) {
			/* Its listings suffice: see older_links(). */
			if (older_links(&nw.own, job->name, s->v[k].path, s->v[k].row, &left,
			                &ow.fig, err) == -1)
				goto out;
			(*walked)++;
			pending_add(&p, s->v[k].name, &ow.fig);
			continue;
		}
		if (s->v[k].row != NULL)
			map_reserve(&ow.own, s->v[k].row->files + s->v[k].row->files / 8);
		rc = walk_tree(&ow, job->name, s->v[k].path, NULL, err);

		walk_unique(&ow);
		map_free(&ow.own);
		if (rc == -1)
			goto out;
		(*walked)++;
		pending_add(&p, s->v[k].name, &ow.fig);
	}
	ret = write_rows(cat, job, 0, NULL, 0, &p, &total, err);
out:
	pending_free(&p);
	map_free(&nw.own);
	return ret;
}

/* The local date of t as YYYY-MM-DD into day (11 bytes). */
static void
day_of(time_t t, char *day)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(day, 11, "%Y-%m-%d", &tm);
}

int
diskusage_sample(struct catalog *cat, const char *base_dir, time_t now, struct err *err)
{
	struct catalog_du_sample smp;
	struct statvfs sv;

	if (statvfs(base_dir, &sv) == -1) {
		err_sys(err, errno, "reading the free space of %s", base_dir);
		return -1;
	}
	day_of(now, smp.day);
	smp.used_bytes = (int64_t)((unsigned long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize);
	smp.capacity_bytes =
	    smp.used_bytes + (int64_t)((unsigned long long)sv.f_bavail * sv.f_frsize);
	return catalog_du_sample_put(cat, &smp, err);
}

/* Today's sample, a failure being a warning. */
static void
sample_now(struct catalog *cat, const struct job *job)
{
	struct err err;

	err_clear(&err);
	if (job->cfg != NULL && job->cfg->backup_base_dir != NULL &&
	    diskusage_sample(cat, job->cfg->backup_base_dir, time(NULL), &err) == -1)
		log_warning(job->name, "recording the backup filesystem's daily sample: %s",
		            err.msg);
}

int
diskusage_after_backup(struct catalog *cat, const struct job *job, const char *location,
                       struct err *err)
{
	struct catalog_du *rows = NULL, *job_row;
	struct timespec t0, t1;
	const char *slash;
	struct snaps s;
	size_t n = 0, ni, walked = 0;
	int subvol, ret = -1;

	if (location == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	slash = strrchr(location, '/');
	if (catalog_du_find(cat, job->name, &rows, &n, err) == -1 ||
	    snaps_list(job, rows, n, &s, &job_row, &subvol, err) == -1)
		goto out;
	for (ni = 0; ni < s.n; ni++)
		if (strcmp(s.v[ni].name, slash != NULL ? slash + 1 : location) == 0)
			break;
	if (subvol) {
		int measured;

		ret = qgroup_account(cat, job, &s, &measured, err);
		if (ret == 0 && measured) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			log_info(job->name,
			         "disk usage: %zu snapshot%s read from btrfs qgroups in %.3f s",
			         s.n, s.n == 1 ? "" : "s",
			         (double)(t1.tv_sec - t0.tv_sec) +
			             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
	} else if (ni == s.n) {
		/* Not a local snapshot of the job folder (remote): nothing to count. */
		ret = 0;
	} else if (consistent(&s, job_row, n, ni)) {
		ret = after_backup(cat, job, &s, ni, job_row, &walked, err);
	} else {
		log_info(job->name, "measuring the disk usage of its %zu snapshot%s", s.n,
		         s.n == 1 ? "" : "s");
		ret = rescan_snaps(cat, job, &s, err);
		walked = s.n;
	}
	if (ret == 0)
		sample_now(cat, job);
	if (ret == 0 && walked > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_info(job->name, "disk usage: %zu of %zu snapshot%s walked in %.3f s", walked,
		         s.n, s.n == 1 ? "" : "s",
		         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	snaps_free(&s);
out:
	catalog_du_free(rows, n);
	if (ret == -1)
		err_wrap(err, "disk usage after the backup of %s", location);
	return ret;
}

void
diskusage_account_backup(struct catalog *cat, const struct job *job, const char *location)
{
	struct err err;

	err_clear(&err);
	if (diskusage_after_backup(cat, job, location, &err) == -1)
		log_warning(job->name, "%s", err.msg);
}

/* ---------------------------------------------------------------- cleanup */

struct diskusage_cleanup {
	const struct job *job;
	char **names; /* the removed entries' names in the job folder */
	char **paths;
	char (*stamps)[TIME_STAMP_LEN + 1]; /* their runs' stamps ("" when none) */
	size_t n;
	int unknown;                /* a removed snapshot had no figures: measure the job again */
	struct diskusage_fig freed; /* what removing them frees */
};

static void
cleanup_free(struct diskusage_cleanup *dc)
{
	for (size_t i = 0; i < dc->n; i++) {
		free(dc->names[i]);
		free(dc->paths[i]);
	}
	free(dc->names);
	free(dc->paths);
	free(dc->stamps);
	free(dc);
}

struct diskusage_cleanup *
diskusage_cleanup_prepare(struct catalog *cat, const struct job *job, const char *const *locations,
                          size_t n)
{
	enum drv_entry (*classify)(const char *, char *) = driver_layout(job->drv)->classify;
	struct diskusage_cleanup *dc = NULL;
	struct catalog_du *rows = NULL;
	struct walk w = { 0 };
	size_t nrows = 0;
	struct err err;

	err_clear(&err);
	if (n == 0 || catalog_du_find(cat, job->name, &rows, &nrows, &err) == -1 || nrows == 0)
		goto out;
	dc = xcalloc(1, sizeof *dc);
	dc->job = job;
	for (size_t i = 0; i < n; i++)
		if (is_subvolume(locations[i]))
			goto out; /* btrfs: read from the qgroups afterwards, nothing to walk */
	dc->names = xcalloc(n, sizeof *dc->names);
	dc->paths = xcalloc(n, sizeof *dc->paths);
	dc->stamps = xcalloc(n, sizeof *dc->stamps);
	/* All the removed trees in one map: an inode is freed when all its links are among them. */
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(locations[i], '/');
		const char *name = slash != NULL ? slash + 1 : locations[i];
		enum drv_entry kind = classify(name, dc->stamps[dc->n]);
		int64_t bytes, files;
		size_t r;

		if (kind == DRV_ENTRY_OTHER)
			dc->stamps[dc->n][0] = '\0';
		dc->paths[dc->n] = xstrdup(locations[i]);
		dc->names[dc->n] = xstrdup(name);
		dc->n++;
		w.counted = kind == DRV_ENTRY_FINAL;
		for (r = 0; w.counted && r < nrows && strcmp(rows[r].snapshot, name) != 0; r++)
			;
		if (w.counted && r == nrows)
			dc->unknown = 1;
		if (du_tree_visit(locations[i], visit, &w, &bytes, &files, &err) == -1 &&
		    err.code != ENOENT) {
			log_warning(job->name, "disk usage: %s", err.msg);
			break;
		}
	}
	walk_unique(&w);
	dc->freed = w.fig;
out:
	map_free(&w.own);
	catalog_du_free(rows, nrows);
	return dc;
}

static int
cleanup_update(struct diskusage_cleanup *dc, struct catalog *cat, struct err *err)
{
	const struct job *job = dc->job;
	struct catalog_du *rows = NULL, *job_row;
	struct diskusage_fig total;
	struct pending p = { 0 };
	unsigned char *walk = NULL;
	char **dels = NULL;
	struct snaps s;
	size_t nrows = 0, ndel = 0;
	int subvol, ret = -1;

	if (catalog_du_find(cat, job->name, &rows, &nrows, err) == -1 ||
	    snaps_list(job, rows, nrows, &s, &job_row, &subvol, err) == -1)
		goto out;
	if (subvol) {
		int measured;

		ret = qgroup_account(cat, job, &s, &measured, err);
		goto done;
	}
	if (job_row == NULL) {
		ret = 0;
		goto done;
	}
	if (dc->unknown) {
		ret = catalog_du_delete(cat, job->name, NULL, err);
		goto done;
	}
	for (size_t i = 0; i < dc->n; i++)
		if (fs_exists(dc->paths[i])) {
			/* Not all removed: what was measured is not what was freed. */
			log_warning(job->name,
			            "disk usage: %s was not removed: its figures are "
			            "measured again after the next backup",
			            dc->paths[i]);
			ret = catalog_du_delete(cat, job->name, NULL, err);
			goto done;
		}
	fig_of_row(job_row, &total);
	total.unique_bytes -= dc->freed.unique_bytes;
	total.unique_disk_bytes -= dc->freed.unique_disk_bytes;
	walk = xcalloc(s.n + 1, 1);
	dels = xcalloc(dc->n + 1, sizeof *dels);
	for (size_t i = 0; i < dc->n; i++) {
		size_t k;

		for (size_t r = 0; r < nrows; r++) {
			if (strcmp(rows[r].snapshot, dc->names[i]) != 0)
				continue;
			total.bytes -= rows[r].bytes;
			total.disk_bytes -= rows[r].disk_bytes;
			total.files -= rows[r].files;
			dels[ndel++] = dc->names[i];
		}
		/* The remaining neighbours: the first snapshot after the name and the one before. */
		for (k = 0; k < s.n && strcmp(dc->stamps[i], s.v[k].stamp) > 0; k++)
			;
		if (k < s.n)
			walk[k] = 1;
		if (k > 0)
			walk[k - 1] = 1;
	}
	for (size_t k = 0; k < s.n; k++) {
		struct walk w = { .counted = 1 };
		int rc;

		if (!walk[k])
			continue;
		rc = walk_tree(&w, job->name, s.v[k].path, NULL, err);
		walk_unique(&w);
		map_free(&w.own);
		if (rc == -1)
			goto done;
		pending_add(&p, s.v[k].name, &w.fig);
	}
	if (total.unique_bytes < 0)
		total.unique_bytes = 0;
	if (total.unique_disk_bytes < 0)
		total.unique_disk_bytes = 0;
	ret = write_rows(cat, job, 0, dels, ndel, &p, &total, err);
done:
	snaps_free(&s);
out:
	pending_free(&p);
	free(dels);
	free(walk);
	catalog_du_free(rows, nrows);
	return ret;
}

void
diskusage_cleanup_finish(struct diskusage_cleanup *dc, struct catalog *cat)
{
	struct err err;

	if (dc == NULL)
		return;
	err_clear(&err);
	if (cat == NULL)
		log_warning(dc->job->name, "disk usage: the catalog is not writable: figures are "
		                           "measured again after the next backup");
	else if (cleanup_update(dc, cat, &err) == -1)
		log_warning(dc->job->name, "disk usage after cleanup: %s", err.msg);
	else
		sample_now(cat, dc->job);
	cleanup_free(dc);
}
