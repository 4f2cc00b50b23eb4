/*
 * Filesystem helpers used by the core and the drivers.
 */
#ifndef TB_FSUTIL_H
#define TB_FSUTIL_H

#include <stddef.h>

#include "util/err.h"

/* mkdir -p with the given mode for created components. 0 or -1 + err. */
int fs_mkdir_p(const char *path, unsigned mode, struct err *err);
/* fsync(2) a directory by path. 0 or -1 + err. */
int fs_fsync_dir(const char *path, struct err *err);
/*
 * syncfs(2) the filesystem holding path: every file and directory of a tree
 * just written (by rsync, which does not fsync) reaches the disk, so a crash
 * after a later rename never exposes a snapshot whose contents are not
 * there. One call instead of one fsync per file. Threads of one process
 * share the calls on one filesystem: a caller returns once a syncfs that
 * started after its own call began has ended (it starts one when none is
 * running, else waits for the running one and then for the next, which
 * serves every caller that came meanwhile). Thread-safe. 0 or -1 + err
 * (that syncfs's error).
 */
int fs_sync_tree(const char *path, struct err *err);
/*
 * write(2) all n bytes of p to fd, again after a short write or EINTR.
 * 0, or -1 with errno set (nothing says how much was written).
 */
int fs_write_all(int fd, const void *p, size_t n);
/* 1 if path is an existing directory, 0 otherwise. */
int fs_is_dir(const char *path);
/* 1 if path exists (lstat), 0 otherwise. */
int fs_exists(const char *path);
/* Join a and b with exactly one '/', into a new string the caller frees. */
char *fs_join(const char *a, const char *b);
/*
 * name in the folder for temporary files: $TMPDIR when it is an absolute
 * path, else /tmp (as mktemp(1) does). A new string the caller frees, e.g.
 * a mkdtemp() template.
 */
char *fs_tmp_path(const char *name);
/*
 * The first line of the password file at path, without its "\n" or
 * "\r\n", into *out (the caller wipes it with fs_secret_free()). what
 * names the key in messages ("[catalog] password_file"). -1 + err naming
 * what and path, never the content: the file cannot be read, its first
 * line is empty, or longer than 1023 bytes. The read buffer is wiped.
 */
int fs_read_secret_line(const char *path, const char *what, char **out, struct err *err);
/* Overwrite s with zeros, then free it; NULL is fine. */
void fs_secret_free(char *s);

#endif
