/*
 * Tree removal (see rmtree.h).
 *
 * The walk is iterative and depth-first, with its stack of frames on the
 * heap, so a tree 100,000 levels deep costs memory, not C stack. Each
 * directory is read once: non-directories are unlinked while it is read
 * (d_type says which is which; fstatat() only when the filesystem does
 * not fill it), subdirectory names are kept in the frame and visited
 * afterwards, and the directory is removed from its parent when its last
 * subdirectory is gone. Everything is relative to an open descriptor
 * (openat with O_NOFOLLOW, unlinkat), so a symlink is never followed and
 * a rename elsewhere cannot redirect the walk.
 *
 * Descriptors are bounded: only the FD_WINDOW deepest frames keep their
 * directory open. When the walk climbs back to a frame whose directory
 * was closed, it reopens it as ".." of its child and checks st_dev and
 * st_ino are still those it recorded; if not (the tree was moved under
 * us) the walk stops rather than guess.
 *
 * Several trees are removed by a small pool of threads pulling tasks from
 * a shared counter. On a hardlinked snapshot the work is metadata only
 * (one unlink per name, no data freed until the last link), and two or
 * three trees in flight keep the disk and the journal busier than one;
 * see bench/bench_cleanup.sh for the figures behind the default.
 */
#include "util/rmtree.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define FD_WINDOW 64      /* directories kept open along the current path */
#define RESCANS_MAX 2     /* re-reads of a directory rmdir finds not empty */
#define THREADS_DEFAULT 4 /* see bench/bench_cleanup.sh */

struct frame {
	DIR *dir; /* NULL while closed to save descriptors */
	dev_t dev;
	ino_t ino;
	mode_t mode;
	int writable;        /* already made u+rwx */
	int rescans;         /* times read again after ENOTEMPTY */
	unsigned long nerrs; /* walk errors when the frame was opened */
	char *name;          /* in its parent; owned */
	struct strv subdirs; /* subdirectories still to remove */
	size_t next;         /* index of the next one in subdirs */
};

struct walk {
	int topfd; /* the caller's directory: never changed */
	dev_t rootdev;
	struct frame *st;
	size_t depth, cap;
	int (*cancelled)(void);
	struct err *err;
	unsigned long nerrs;
	int stop; /* read-only filesystem, tree moved, interrupted */
};

/* Record an error on entry name of the deepest frame (NULL: the frame). */
static void
walk_error(struct walk *w, int errnum, const char *what, const char *name)
{
	struct buf path;

	if (w->nerrs++ > 0)
		return;
	buf_init(&path, ERR_MSG_MAX);
	for (size_t i = 0; i < w->depth; i++)
		buf_printf(&path, "%s%s", i > 0 ? "/" : "", w->st[i].name);
	if (name != NULL)
		buf_printf(&path, "/%s", name);
	err_sys(w->err, errnum, "%s %s", what, buf_str(&path));
	w->err->code = errnum;
	buf_free(&path);
	if (errnum == EROFS)
		w->stop = 1;
}

static int
frame_fd(const struct frame *f)
{
	return dirfd(f->dir);
}

/* chmod u+rwx the frame's directory, once. 0 if it changed something. */
static int
make_writable(struct frame *f)
{
	if (f->writable)
		return -1;
	f->writable = 1;
	return fchmod(frame_fd(f), (f->mode | S_IRWXU) & 07777);
}

/*
 * unlinkat(2) in the frame's directory, retried once after making it
 * writable on EACCES. An entry already gone counts as removed. 0 or -1
 * with errno set.
 */
static int
unlink_in(struct frame *f, const char *name, int flags)
{
	if (unlinkat(frame_fd(f), name, flags) == 0 || errno == ENOENT)
		return 0;
	if (errno != EACCES)
		return -1;
	if (make_writable(f) == -1) {
		errno = EACCES;
		return -1;
	}
	return unlinkat(frame_fd(f), name, flags) == 0 || errno == ENOENT ? 0 : -1;
}

/*
 * Open directory name of dirfd without following a symlink; on EACCES
 * make it u+rwx (never through a symlink) and retry once. fd or -1.
 */
static int
open_dir(int dirfd, const char *name)
{
	struct stat sb;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -1 || errno != EACCES)
		return fd;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(sb.st_mode) ||
	    fchmodat(dirfd, name, (sb.st_mode | S_IRWXU) & 07777, AT_SYMLINK_NOFOLLOW) == -1) {
		errno = EACCES;
		return -1;
	}
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * Push a frame for the directory open as fd, called name. Closes the
 * directory of the frame that leaves the descriptor window. 0, or -1
 * (fd closed) when it is on another filesystem.
 */
static int
push(struct walk *w, int fd, const char *name)
{
	struct frame *f;
	struct stat sb;
	DIR *d;

	if (fstat(fd, &sb) == -1) {
		walk_error(w, errno, "reading", name);
		close(fd);
		return -1;
	}
	if (w->depth > 0 && sb.st_dev != w->rootdev) {
		walk_error(w, EXDEV, "not crossing into another filesystem at", name);
		close(fd);
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		walk_error(w, errno, "reading", name);
		close(fd);
		return -1;
	}
	if (w->depth == w->cap) {
		w->cap = w->cap == 0 ? 16 : w->cap * 2;
		w->st = xrealloc(w->st, w->cap * sizeof *w->st);
	}
	f = &w->st[w->depth++];
	memset(f, 0, sizeof *f);
	f->dir = d;
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	f->mode = sb.st_mode;
	f->nerrs = w->nerrs;
	f->name = xstrdup(name);
	strv_init(&f->subdirs);
	if (w->depth > FD_WINDOW) {
		struct frame *old = &w->st[w->depth - 1 - FD_WINDOW];

		if (old->dir != NULL) {
			closedir(old->dir);
			old->dir = NULL;
		}
	}
	return 0;
}

static void
pop(struct walk *w)
{
	struct frame *f = &w->st[--w->depth];

	if (f->dir != NULL)
		closedir(f->dir);
	free(f->name);
	strv_free(&f->subdirs);
}

/*
 * Read the deepest frame's directory: unlink every non-directory, queue
 * every subdirectory.
 */
static void
scan(struct walk *w)
{
	struct frame *f = &w->st[w->depth - 1];
	struct dirent *de;

	rewinddir(f->dir);
	strv_free(&f->subdirs);
	f->next = 0;
	for (;;) {
		const char *name;
		int isdir;

		errno = 0;
		if ((de = readdir(f->dir)) == NULL)
			break;
		name = de->d_name;
		if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat sb;

			if (fstatat(frame_fd(f), name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
				if (errno != ENOENT)
					walk_error(w, errno, "reading", name);
				continue;
			}
			isdir = S_ISDIR(sb.st_mode);
		}
		if (!isdir && unlink_in(f, name, 0) == -1) {
			if (errno != EISDIR) {
				walk_error(w, errno, "removing", name);
				if (w->stop)
					return;
				continue;
			}
			isdir = 1;
		}
		if (isdir)
			strv_push(&f->subdirs, name);
	}
	if (errno != 0)
		walk_error(w, errno, "reading", NULL);
}

/*
 * The descriptor of the parent of the deepest frame, reopening it as ".."
 * when it left the window. -1 after recording an error.
 */
static int
parent_fd(struct walk *w)
{
	struct frame *f, *p;
	struct stat sb;
	int fd;

	if (w->depth == 1)
		return w->topfd;
	f = &w->st[w->depth - 1];
	p = &w->st[w->depth - 2];
	if (p->dir != NULL)
		return frame_fd(p);
	fd = openat(frame_fd(f), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		walk_error(w, errno, "climbing back from", NULL);
		w->stop = 1;
		return -1;
	}
	if (fstat(fd, &sb) == -1 || sb.st_dev != p->dev || sb.st_ino != p->ino ||
	    (p->dir = fdopendir(fd)) == NULL) {
		close(fd);
		walk_error(w, ESTALE, "the tree moved while removing", NULL);
		w->stop = 1;
		return -1;
	}
	return fd;
}

/*
 * The deepest frame is empty (or as empty as it gets): remove it from its
 * parent. Returns 1 when the directory had to be read again instead.
 */
static int
remove_frame(struct walk *w)
{
	struct frame *f = &w->st[w->depth - 1];
	int pfd, rc, e;

	if ((pfd = parent_fd(w)) == -1)
		return 0;
	rc = unlinkat(pfd, f->name, AT_REMOVEDIR);
	if (rc == -1 && errno == EACCES && w->depth > 1 && make_writable(&w->st[w->depth - 2]) == 0)
		rc = unlinkat(pfd, f->name, AT_REMOVEDIR);
	e = errno;
	if (rc == 0 || e == ENOENT)
		return 0;
	if (e == ENOTEMPTY || e == EEXIST) {
		if (f->nerrs != w->nerrs)
			return 0; /* what stayed below was reported already */
		/* Nothing failed below: an entry was added, or missed by readdir. */
		if (f->rescans++ < RESCANS_MAX) {
			scan(w);
			return 1;
		}
	}
	walk_error(w, e, "removing", NULL);
	return 0;
}

static int
walk_tree(int dirfd, const char *name, int (*cancelled)(void), struct err *err)
{
	struct walk w;
	struct stat sb;
	int fd;

	memset(&w, 0, sizeof w);
	w.topfd = dirfd;
	w.cancelled = cancelled;
	w.err = err;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		err_sys(err, errno, "removing %s", name);
		err->code = errno;
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		if (unlinkat(dirfd, name, 0) == -1) {
			err_sys(err, errno, "removing %s", name);
			err->code = errno;
			return -1;
		}
		return 0;
	}
	w.rootdev = sb.st_dev;
	if ((fd = open_dir(dirfd, name)) == -1) {
		walk_error(&w, errno, "opening", name);
		return -1;
	}
	if (push(&w, fd, name) == -1)
		return -1;
	scan(&w);
	while (w.depth > 0 && !w.stop) {
		struct frame *f = &w.st[w.depth - 1];

		if (f->next < f->subdirs.n) {
			const char *sub = f->subdirs.v[f->next++];

			if (w.cancelled != NULL && w.cancelled()) {
				walk_error(&w, EINTR, "interrupted while removing", NULL);
				w.stop = 1;
				break;
			}
			if ((fd = open_dir(frame_fd(f), sub)) == -1) {
				if ((errno == ENOTDIR || errno == ELOOP) &&
				    unlink_in(f, sub, 0) == 0)
					continue;
				if (errno != ENOENT)
					walk_error(&w, errno, "opening", sub);
				continue;
			}
			if (push(&w, fd, sub) == 0)
				scan(&w);
			continue;
		}
		if (remove_frame(&w) == 0)
			pop(&w);
	}
	while (w.depth > 0)
		pop(&w);
	free(w.st);
	return w.nerrs > 0 ? -1 : 0;
}

int
rmtree_at(int dirfd, const char *name, struct err *err)
{
	return walk_tree(dirfd, name, NULL, err);
}

int
rmtree(const char *path, struct err *err)
{
	char *copy = xstrdup(path), *slash;
	const char *name = copy;
	int dirfd = AT_FDCWD, rc = -1;
	size_t len = strlen(copy);

	/* "a/b/" names b: drop trailing slashes, keep a lone "/". */
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	if ((slash = strrchr(copy, '/')) != NULL && slash[1] != '\0') {
		name = slash + 1;
		*slash = '\0';
		dirfd = open(slash == copy ? "/" : copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd == -1) {
			err_sys(err, errno, "removing %s", path);
			err->code = errno;
			goto out;
		}
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "/") == 0) {
		/* (name is ".", ".." or "/": not repeated, which also calms gcc -O2.) */
		err_set(err, "removing %s: refusing to remove '.', '..' or '/'", path);
		err->code = EINVAL;
		goto out;
	}
	rc = walk_tree(dirfd, name, NULL, err);
out:
	if (dirfd != AT_FDCWD)
		close(dirfd);
	free(copy);
	return rc;
}

struct pool {
	struct rmtree_task *tasks;
	size_t n;
	atomic_size_t next;
	atomic_size_t failed;
	int (*cancelled)(void);
};

static void *
pool_worker(void *arg)
{
	struct pool *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		struct rmtree_task *t = &p->tasks[i];

		err_clear(&t->err);
		if (p->cancelled != NULL && p->cancelled()) {
			err_set(&t->err, "interrupted before removing %s", t->name);
			t->err.code = EINTR;
			t->rc = -1;
		} else {
			t->rc = walk_tree(t->dirfd, t->name, p->cancelled, &t->err);
		}
		if (t->rc == -1)
			atomic_fetch_add(&p->failed, 1);
	}
	return NULL;
}

size_t
rmtree_many(struct rmtree_task *tasks, size_t n, int nthreads, int (*cancelled)(void))
{
	struct pool p = { .tasks = tasks, .n = n, .cancelled = cancelled };
	pthread_t *tids;
	size_t want, started = 0;

	atomic_init(&p.next, 0);
	atomic_init(&p.failed, 0);
	want = nthreads > 0 ? (size_t)nthreads : THREADS_DEFAULT;
	if (want > n)
		want = n;
	if (want <= 1) {
		pool_worker(&p);
		return atomic_load(&p.failed);
	}
	tids = xcalloc(want - 1, sizeof *tids);
	for (size_t i = 0; i + 1 < want; i++) {
		if (pthread_create(&tids[i], NULL, pool_worker, &p) != 0)
			break;
		started++;
	}
	pool_worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return atomic_load(&p.failed);
}
