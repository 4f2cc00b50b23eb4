/*
 * du_tree (see du.h): a walk that holds one folder open at a time, so its
 * descriptor use does not grow with depth. Each folder is read whole (its
 * entries stat'ed with fstatat(AT_SYMLINK_NOFOLLOW), its subfolders' names
 * kept), then the walk opens one subfolder with O_NOFOLLOW and checks it
 * is the folder it stat'ed, and climbs back through ".." checking it finds
 * the parent it left. Hard-linked files are remembered by device and inode
 * in an open-addressing hash set, as du does within one invocation.
 * du_tree_links() walks the same way but stats only folders (and entries
 * of unknown type): the others are reported by their listing's d_ino.
 */
#include "util/du.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/xmalloc.h"

#define DU_SET_MIN 1024
#define DU_PATH_MAX 8192 /* error messages only */

struct du_id {
	dev_t dev;
	ino_t ino;
};

/* (dev, ino) pairs of files with several links; used[i] marks a slot. */
struct du_set {
	struct du_id *slots;
	unsigned char *used;
	size_t cap; /* a power of two */
	size_t n;
};

/* One folder on the way down: its identity and the subfolders left to visit. */
struct du_frame {
	struct du_id id;
	char *name; /* as its parent lists it; NULL for the root */
	char **sub;
	struct du_id *sub_id;
	size_t nsub, cap, next;
};

struct du_walk {
	const char *root;
	struct du_set links;
	struct du_frame *stack;
	size_t depth, cap;
	int64_t bytes, files;
	unsigned problems;
	struct err *err;
	struct du_cache *cache; /* may be NULL */
	du_visit_fn visit;      /* du_tree_visit()'s callback, or NULL */
	du_link_fn link;        /* du_tree_links()'s callback, or NULL */
	void *arg;
	unsigned dino_off; /* non-folders whose d_ino or device was not their lstat's */
};

/*
 * The sizes of hard-linked regular files met by earlier walks (see
 * du_tree_cached()): an open-addressing map from (device, inode) to
 * st_size.
 */
struct du_cache_slot {
	struct du_id id;
	int64_t size;
};

struct du_cache {
	struct du_cache_slot *slots;
	unsigned char *used;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

static size_t
du_hash(const struct du_id *id)
{
	uint64_t x = (uint64_t)id->ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)id->dev;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return (size_t)x;
}

/* The slot holding id, or the empty slot where it belongs. */
static size_t
du_set_slot(const struct du_set *s, const struct du_id *id)
{
	size_t i;

	for (i = du_hash(id) & (s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (s->slots[i].ino == id->ino && s->slots[i].dev == id->dev)
			break;
	return i;
}

/* Insert id if absent. Returns 1 when it was added, 0 when already there. */
static int
du_set_add(struct du_set *s, const struct du_id *id)
{
	size_t i;

	if ((s->n + 1) * 4 > s->cap * 3) {
		struct du_set old = *s;

		s->cap = old.cap ? old.cap * 2 : DU_SET_MIN;
		s->slots = xcalloc(s->cap, sizeof *s->slots);
		s->used = xcalloc(s->cap, 1);
		for (size_t j = 0; j < old.cap; j++) {
			if (old.used[j]) {
				i = du_set_slot(s, &old.slots[j]);
				s->used[i] = 1;
				s->slots[i] = old.slots[j];
			}
		}
		free(old.slots);
		free(old.used);
	}
	i = du_set_slot(s, id);
	if (s->used[i])
		return 0;
	s->used[i] = 1;
	s->slots[i] = *id;
	s->n++;
	return 1;
}

/* The path of name inside the current folder, for messages. */
struct du_cache *
du_cache_new(void)
{
	return xcalloc(1, sizeof(struct du_cache));
}

void
du_cache_free(struct du_cache *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c->used);
	free(c);
}

static size_t
du_cache_slot(const struct du_cache *c, const struct du_id *id)
{
	size_t i;

	for (i = du_hash(id) & (c->cap - 1); c->used[i]; i = (i + 1) & (c->cap - 1))
		if (c->slots[i].id.ino == id->ino && c->slots[i].id.dev == id->dev)
			break;
	return i;
}

/* 1 and *size when id is known. */
static int
du_cache_get(const struct du_cache *c, const struct du_id *id, int64_t *size)
{
	size_t i;

	if (c->cap == 0)
		return 0;
	i = du_cache_slot(c, id);
	if (!c->used[i])
		return 0;
	*size = c->slots[i].size;
	return 1;
}

static void
du_cache_put(struct du_cache *c, const struct du_id *id, int64_t size)
{
	size_t i;

	if ((c->n + 1) * 4 > c->cap * 3) {
		struct du_cache old = *c;

		c->cap = old.cap ? old.cap * 2 : DU_SET_MIN;
		c->slots = xcalloc(c->cap, sizeof *c->slots);
		c->used = xcalloc(c->cap, 1);
		for (size_t j = 0; j < old.cap; j++) {
			if (old.used[j]) {
				i = du_cache_slot(c, &old.slots[j].id);
				c->used[i] = 1;
				c->slots[i] = old.slots[j];
			}
		}
		free(old.slots);
		free(old.used);
	}
	i = du_cache_slot(c, id);
	if (!c->used[i]) {
		c->used[i] = 1;
		c->n++;
	}
	c->slots[i].id = *id;
	c->slots[i].size = size;
}

static void
du_path(const struct du_walk *w, const char *name, struct buf *b)
{
	buf_puts(b, w->root);
	for (size_t i = 1; i < w->depth; i++)
		buf_printf(b, "/%s", w->stack[i].name);
	if (name != NULL)
		buf_printf(b, "/%s", name);
}

/* Record a problem with name (NULL = the current folder); keeps the first. */
static void
du_problem(struct du_walk *w, int errnum, const char *what, const char *name)
{
	struct buf b;

	if (w->problems++ > 0)
		return;
	buf_init(&b, DU_PATH_MAX);
	du_path(w, name, &b);
	if (errnum != 0) {
		err_sys(w->err, errnum, "%s %s", what, buf_str(&b));
		w->err->code = errnum;
	} else {
		err_set(w->err, "%s %s", what, buf_str(&b));
	}
	buf_free(&b);
}

/* Add one entry's size, as du does. */
static void
du_count(struct du_walk *w, const struct stat *st)
{
	struct du_id id = { st->st_dev, st->st_ino };

	if (S_ISREG(st->st_mode))
		w->files++;
	if (w->visit != NULL)
		w->visit(w->arg, st); /* the visitor counts links its own way */
	else if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 && !du_set_add(&w->links, &id))
		return;
	if (st->st_size > 0)
		w->bytes += st->st_size;
}

static void
du_push(struct du_walk *w, const struct du_id *id, const char *name)
{
	struct du_frame *f;

	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->stack = xrealloc(w->stack, w->cap * sizeof *w->stack);
	}
	f = &w->stack[w->depth++];
	memset(f, 0, sizeof *f);
	f->id = *id;
	f->name = name ? xstrdup(name) : NULL;
}

static void
du_pop(struct du_walk *w)
{
	struct du_frame *f = &w->stack[--w->depth];

	for (size_t i = f->next; i < f->nsub; i++)
		free(f->sub[i]);
	free(f->sub);
	free(f->sub_id);
	free(f->name);
}

/* Read the folder open on fd (the top frame): count entries, list subfolders. */
static void
du_scan(struct du_walk *w, int fd)
{
	struct du_frame *f = &w->stack[w->depth - 1];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd;

	/* The copy shares fd's offset, which nothing else reads. */
	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1 || (d = fdopendir(dfd)) == NULL) {
		du_problem(w, errno, "cannot read directory", NULL);
		if (dfd != -1)
			close(dfd);
		return;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (w->link != NULL && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) {
			/* Listing only: the entry is known by its folder's device and d_ino. */
			w->link(w->arg, f->id.dev, (ino_t)de->d_ino);
			continue;
		}
		if (w->cache != NULL && de->d_type == DT_REG) {
			struct du_id seen = { f->id.dev, (ino_t)de->d_ino };
			int64_t size;

			if (du_cache_get(w->cache, &seen, &size)) {
				/* What the stat would say of a hard-linked regular file. */
				memset(&st, 0, sizeof st);
				st.st_dev = seen.dev;
				st.st_ino = seen.ino;
				st.st_mode = S_IFREG;
				st.st_nlink = 2;
				st.st_size = (off_t)size;
				du_count(w, &st);
				continue;
			}
		}
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			du_problem(w, errno, "cannot access", de->d_name);
			continue;
		}
		if (!S_ISDIR(st.st_mode) &&
		    (st.st_ino != (ino_t)de->d_ino || st.st_dev != f->id.dev))
			w->dino_off++;
		if (w->link != NULL) {
			if (!S_ISDIR(st.st_mode))
				w->link(w->arg, st.st_dev, st.st_ino);
		} else {
			du_count(w, &st);
		}
		/*
		 * Remembered only where the listing's inode number is the stat's
		 * and the file is on its folder's device, so that a later listing
		 * finds it by (folder device, d_ino) without a stat.
		 */
		if (w->cache != NULL && S_ISREG(st.st_mode) && st.st_nlink > 1 &&
		    st.st_ino == (ino_t)de->d_ino && st.st_dev == f->id.dev) {
			struct du_id id = { st.st_dev, st.st_ino };

			du_cache_put(w->cache, &id, (int64_t)st.st_size);
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if (f->nsub == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 8;
			f->sub = xrealloc(f->sub, f->cap * sizeof *f->sub);
			f->sub_id = xrealloc(f->sub_id, f->cap * sizeof *f->sub_id);
		}
		f->sub_id[f->nsub].dev = st.st_dev;
		f->sub_id[f->nsub].ino = st.st_ino;
		f->sub[f->nsub++] = xstrdup(de->d_name);
	}
	if (errno != 0)
		du_problem(w, errno, "cannot read directory", NULL);
	closedir(d);
}

/* 1 if fd is the folder id. */
static int
du_same(int fd, const struct du_id *id)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == id->dev &&
	       st.st_ino == id->ino;
}

static int
du_is_ancestor(const struct du_walk *w, const struct du_id *id)
{
	for (size_t i = 0; i < w->depth; i++)
		if (w->stack[i].id.dev == id->dev && w->stack[i].id.ino == id->ino)
			return 1;
	return 0;
}

/*
 * From the folder open on fd (the top frame), go into its next subfolder
 * or back up to its parent. Returns the descriptor of the folder now on
 * top, or -1 when the walk is over (fd is then closed).
 */
static int
du_step(struct du_walk *w, int fd)
{
	struct du_frame *f = &w->stack[w->depth - 1];
	int nfd;

	while (f->next < f->nsub) {
		char *name = f->sub[f->next];
		struct du_id id = f->sub_id[f->next];

		f->sub[f->next++] = NULL;
		if (du_is_ancestor(w, &id)) {
			du_problem(w, 0, "directory cycle at", name);
			free(name);
			continue;
		}
		nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1) {
			/* Its own size was counted when it was listed, like du. */
			du_problem(w, errno, "cannot read directory", name);
			free(name);
			continue;
		}
		if (!du_same(nfd, &id)) {
			du_problem(w, 0, "changed during the walk:", name);
			close(nfd);
			free(name);
			continue;
		}
		du_push(w, &id, name);
		free(name);
		close(fd);
		du_scan(w, nfd);
		return nfd;
	}
	du_pop(w);
	if (w->depth == 0) {
		close(fd);
		return -1;
	}
	nfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfd == -1 || !du_same(nfd, &w->stack[w->depth - 1].id)) {
		/* Cannot find the way back: what is left of the walk is lost. */
		du_problem(w, nfd == -1 ? errno : 0, "moved during the walk:", NULL);
		if (nfd != -1)
			close(nfd);
		close(fd);
		while (w->depth > 0)
			du_pop(w);
		return -1;
	}
	close(fd);
	return nfd;
}

static int du_walk_tree(struct du_walk *w, const char *path, int64_t *bytes, int64_t *files,
                        struct err *err);

int
du_tree(const char *path, int64_t *bytes, int64_t *files, struct err *err)
{
	struct du_walk w = { 0 };

	return du_walk_tree(&w, path, bytes, files, err);
}

int
du_tree_cached(const char *path, struct du_cache *cache, int64_t *bytes, int64_t *files,
               struct err *err)
{
	struct du_walk w = { .cache = cache };

	return du_walk_tree(&w, path, bytes, files, err);
}

int
du_tree_visit(const char *path, du_visit_fn visit, void *arg, int64_t *bytes, int64_t *files,
              struct err *err)
{
	struct du_walk w = { .visit = visit, .arg = arg };

	return du_walk_tree(&w, path, bytes, files, err);
}

int
du_tree_visit_dino(const char *path, du_visit_fn visit, void *arg, int64_t *bytes, int64_t *files,
                   int *dino_exact, struct err *err)
{
	struct du_walk w = { .visit = visit, .arg = arg };
	int rc = du_walk_tree(&w, path, bytes, files, err);

	*dino_exact = rc != -1 && w.dino_off == 0;
	return rc;
}

int
du_tree_links(const char *path, du_link_fn link, void *arg, struct err *err)
{
	struct du_walk w = { .link = link, .arg = arg };
	int64_t bytes, files;

	return du_walk_tree(&w, path, &bytes, &files, err);
}

/* The walk of du_tree() and its variants, as set up in *wp (cache, visit, link, arg). */
static int
du_walk_tree(struct du_walk *wp, const char *path, int64_t *bytes, int64_t *files, struct err *err)
{
	struct du_walk w = *wp;
	struct du_id id;
	struct stat st;
	int fd, rc = -1;

	*bytes = *files = 0;
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		int e = errno;

		err_sys(err, e, "cannot access %s", path);
		err->code = e;
		return -1;
	}
	w.root = path;
	w.err = err;
	if (w.link == NULL)
		du_count(&w, &st);
	else if (!S_ISDIR(st.st_mode))
		w.link(w.arg, st.st_dev, st.st_ino);
	if (!S_ISDIR(st.st_mode)) {
		rc = 0;
		goto out;
	}
	id.dev = st.st_dev;
	id.ino = st.st_ino;
	du_push(&w, &id, NULL);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || !du_same(fd, &id)) {
		du_problem(&w, fd == -1 ? errno : 0, "cannot read directory", NULL);
		if (fd != -1)
			close(fd);
		du_pop(&w);
	} else {
		du_scan(&w, fd);
		while ((fd = du_step(&w, fd)) != -1)
			continue;
	}
	if (w.problems > 1) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof err->msg - n, " (and %u more problems)",
		         w.problems - 1);
	}
	rc = w.problems > 0 ? 1 : 0;
out:
	*bytes = w.bytes;
	*files = w.files;
	wp->dino_off = w.dino_off;
	free(w.links.slots);
	free(w.links.used);
	free(w.stack);
	return rc;
}
