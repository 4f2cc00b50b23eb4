/*
 * Removing snapshot trees: `rm -rf` without a process, without following
 * symlinks, without leaving the tree's filesystem, with bounded stack and
 * descriptors however deep the tree, and with several trees removed at
 * once. Removing hardlinked snapshots is what cleanup spends its time on.
 */
#ifndef TB_RMTREE_H
#define TB_RMTREE_H

#include <stddef.h>

#include "util/err.h"

/*
 * Remove path: a directory and everything below it, or a single file,
 * symlink (the link, never its target) or other non-directory. The parent
 * components of path are resolved normally; only the last one is never
 * followed. Returns 0, or -1 with err holding the first error (the
 * relative path of the entry that could not be removed) and err->code
 * its errno; everything that could be removed is removed anyway.
 *
 * Inside the tree: symlinks are unlinked, never followed; a directory on
 * another filesystem (a mount point) is left alone and reported (EXDEV);
 * a directory that refuses an unlink or an open with EACCES is made u+rwx
 * once and the operation retried; an entry that disappears meanwhile
 * counts as removed; a read-only filesystem (EROFS) stops the walk at the
 * first failure. A missing path is an error (ENOENT).
 */
int rmtree(const char *path, struct err *err);

/*
 * rmtree() of the entry name of the directory open as dirfd (or
 * AT_FDCWD). name should be a single component: it is what gets
 * unlinked from dirfd. dirfd itself is never modified (no chmod).
 */
int rmtree_at(int dirfd, const char *name, struct err *err);

/* One tree for rmtree_many(). */
struct rmtree_task {
	int dirfd;        /* as rmtree_at(); the caller opens and closes it */
	const char *name; /* as rmtree_at() */
	int rc;           /* out: 0 or -1 */
	struct err err;   /* out: set when rc == -1 */
};

/*
 * Remove n trees with up to nthreads threads (<= 0: the default, min(4,
 * n)); each thread takes the next task from the list, so big and small
 * trees balance out. The calling thread works too. cancelled (may be
 * NULL) is polled before each task and each directory: once it returns
 * non-zero, the remaining work ends with err "interrupted" (code EINTR).
 * Returns how many tasks failed.
 */
size_t rmtree_many(struct rmtree_task *tasks, size_t n, int nthreads, int (*cancelled)(void));

#endif
