/*
 * The size of a tree as `du -sb` prints it, without running du: the
 * original shells out to `du -sb` once per snapshot it registers, which
 * costs a process per entry and a shell string built from a path.
 */
#ifndef TB_DU_H
#define TB_DU_H

#include <sys/types.h>

#include <stdint.h>

#include "util/err.h"

/*
 * Walk the tree at path and add up what GNU `du -sb path` (coreutils 9.1,
 * --apparent-size --block-size=1) prints: the st_size of every entry,
 * directories and symlinks included, path itself included; a file with
 * several hard links inside the tree counted once (by device and inode).
 * Symlinks are never followed, path itself included; the walk crosses into
 * other filesystems, like du. A path that is not a folder is its own size.
 * *files gets the number of regular-file names (each link counts, as in
 * rsync's statistics). Opens at most three descriptors at any depth.
 *
 * Returns 0 when every entry was read. Returns 1 when some entry could not
 * be (an unreadable folder, an entry gone between listing and stat, a
 * folder moved during the walk, a directory cycle): the walk goes on where
 * it can, the totals count what was read (an unreadable folder's own size
 * included, like du), and err names the first problem and how many others
 * there were. Returns -1 + err (err->code = errno) when path itself cannot
 * be examined; the totals are then 0.
 */
int du_tree(const char *path, int64_t *bytes, int64_t *files, struct err *err);

/*
 * Sizes remembered across du_tree_cached() calls: snapshots made with
 * hard links (rsync --link-dest, cp -al) share most of their files, and a
 * file already measured in one need not be stat(2)ed again in the next.
 * Only hard-linked regular files are remembered, by device and inode, and
 * found again by their folder's device and the inode number the folder
 * listing gives (d_ino), used only where a stat showed the two agree. The
 * answer is du_tree()'s as long as those files do not change size between
 * the calls, which holds for finished backups. Not thread-safe: one cache
 * per thread. Free with du_cache_free().
 */
struct du_cache;
struct du_cache *du_cache_new(void);
void du_cache_free(struct du_cache *c);
/* du_tree(), using and filling cache (NULL: none). */
int du_tree_cached(const char *path, struct du_cache *cache, int64_t *bytes, int64_t *files,
                   struct err *err);

/*
 * du_tree(), calling visit(arg, st) with the lstat of every entry (path
 * itself first, every link of a hard-linked file), so a caller can do its
 * own accounting in the same single walk; *bytes then counts every link
 * (the walk keeps no set of inodes: the visitor does). visit may be NULL
 * (du_tree() exactly). Same returns as du_tree().
 */
struct stat;
typedef void (*du_visit_fn)(void *arg, const struct stat *st);
int du_tree_visit(const char *path, du_visit_fn visit, void *arg, int64_t *bytes, int64_t *files,
                  struct err *err);

/*
 * du_tree_visit() that also says whether the folder listings' inode
 * numbers can be trusted for this tree: *dino_exact = 1 when every entry
 * but folders had d_ino equal to its lstat's st_ino and lay on its
 * folder's device (true of ext4, xfs, btrfs, tmpfs; not of a file
 * bind-mounted into the tree, nor of some overlayfs setups), else 0. Same
 * returns as du_tree().
 */
int du_tree_visit_dino(const char *path, du_visit_fn visit, void *arg, int64_t *bytes,
                       int64_t *files, int *dino_exact, struct err *err);

/*
 * Walk the tree at path like du_tree(), but from its folder listings
 * alone: link(arg, dev, ino) is called for every entry that is not a
 * folder, with its folder's device and the listing's inode number (d_ino),
 * so most entries cost no stat(2) at all (only folders, and entries whose
 * type the listing does not give, are stat'ed). Meant for trees on a
 * filesystem du_tree_visit_dino() found exact. path itself, when not a
 * folder, is reported from its lstat. Same returns as du_tree().
 */
typedef void (*du_link_fn)(void *arg, dev_t dev, ino_t ino);
int du_tree_links(const char *path, du_link_fn link, void *arg, struct err *err);

#endif
