/*
 * A folder of a snapshot as a tar (or tar.gz) stream, produced while it
 * is sent (browse.c hands browse_tar_read to the server as a reply
 * stream). libarchive writes the format (pax: long names, big sizes,
 * times to the nanosecond) and the gzip filter; this file walks the
 * folder and feeds it one step at a time, so memory stays bounded whatever the
 * size: one directory handle per level, one 64 KiB read buffer and what
 * libarchive holds for a block.
 *
 * The walk never leaves the folder: every directory is opened relative
 * to its parent with O_NOFOLLOW, symlinks are stored as symlinks (their
 * targets never read), devices, FIFOs and sockets as what they are (no
 * content), files opened with O_NOFOLLOW | O_NONBLOCK and checked to be
 * the regular file that was listed.
 */
#include "web/browse.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiveload.h" /* libarchive loaded on first use: archive_... are its table */
#include "log.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define TAR_DEPTH 256
#define TAR_CHUNK (64 * 1024)
#define TAR_OUT_MAX ((size_t)16 << 20)

struct tar_dir {
	DIR *d;
	char *prefix; /* the folder's path inside the archive */
};

struct browse_tar {
	struct archive *a;
	struct buf out; /* written by libarchive, not yet sent */
	size_t out_off;
	struct tar_dir stack[TAR_DEPTH];
	int depth;
	int fd;       /* the file being copied, or -1 */
	int64_t left; /* bytes of it still to store */
	int closed;   /* the archive's end is written */
	char *label;  /* for the log: "JOB STAMP:PATH" */
	char chunk[TAR_CHUNK];
};

static la_ssize_t
tar_write(struct archive *a, void *cls, const void *p, size_t n)
{
	struct browse_tar *t = cls;

	(void)a;
	if (buf_append(&t->out, p, n) == -1)
		return -1;
	return (la_ssize_t)n;
}

/* Write entry's header; 0 or -1 (logged). */
static int
tar_header(struct browse_tar *t, struct archive_entry *e)
{
	int rc = archive_write_header(t->a, e);

	archive_entry_free(e);
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		log_msg(LOG_ERROR, NULL, "web: tar of %s: %s", t->label,
		        archive_error_string(t->a));
		return -1;
	}
	return 0;
}

/* An entry named path for st (no size: set by the caller for files). */
static struct archive_entry *
tar_entry(const char *path, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	archive_entry_set_size(e, 0);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		archive_entry_set_rdev(e, st->st_rdev);
	return e;
}

/* Push the folder open as fd (taken) named prefix; 0 or -1. */
static int
tar_push(struct browse_tar *t, int fd, const char *prefix)
{
	DIR *d;

	if (t->depth == TAR_DEPTH) {
		close(fd);
		log_msg(LOG_ERROR, NULL, "web: tar of %s: folders nested deeper than %d", t->label,
		        TAR_DEPTH);
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	t->stack[t->depth].d = d;
	t->stack[t->depth].prefix = xstrdup(prefix);
	t->depth++;
	return 0;
}

/* Copy the next chunk of the current file. */
static int
tar_file_step(struct browse_tar *t)
{
	size_t want = t->left < TAR_CHUNK ? (size_t)t->left : TAR_CHUNK;
	ssize_t n = read(t->fd, t->chunk, want);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		log_msg(LOG_ERROR, NULL, "web: tar of %s: reading a file: %s", t->label,
		        strerror(errno));
		return -1;
	}
	if (n > 0 && archive_write_data(t->a, t->chunk, (size_t)n) < 0) {
		log_msg(LOG_ERROR, NULL, "web: tar of %s: %s", t->label,
		        archive_error_string(t->a));
		return -1;
	}
	t->left -= n;
	/* Shrunk while read: libarchive pads the entry with zeros. */
	if (n == 0 || t->left == 0) {
		close(t->fd);
		t->fd = -1;
	}
	return 0;
}

/* Store the next entry of the innermost folder, or leave it. */
static int
tar_dir_step(struct browse_tar *t)
{
	struct tar_dir *top = &t->stack[t->depth - 1];
	struct dirent *de;
	struct archive_entry *e;
	struct stat st;
	char *path;
	int dfd = dirfd(top->d), rc = 0;

	errno = 0;
	if ((de = readdir(top->d)) == NULL) {
		if (errno != 0)
			log_msg(LOG_WARNING, NULL, "web: tar of %s: reading %s: %s", t->label,
			        top->prefix, strerror(errno));
		closedir(top->d);
		free(top->prefix);
		t->depth--;
		return 0;
	}
	if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
		return 0;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0; /* gone meanwhile */
	if (S_ISSOCK(st.st_mode))
		return 0; /* tar has no sockets */
	path = xasprintf("%s/%s", top->prefix, de->d_name);
	e = tar_entry(path, &st);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, de->d_name, target, sizeof target - 1);

		if (n < 0) {
			archive_entry_free(e);
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
		rc = tar_header(t, e);
	} else if (S_ISDIR(st.st_mode)) {
		int fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		rc = tar_header(t, e);
		if (rc == 0 && fd != -1)
			rc = tar_push(t, fd, path);
		else if (fd != -1)
			close(fd);
	} else if (S_ISREG(st.st_mode)) {
		int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat fst;

		if (fd == -1 || fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode) ||
		    fst.st_ino != st.st_ino || fst.st_dev != st.st_dev) {
			archive_entry_free(e);
			if (fd != -1)
				close(fd);
			goto out; /* replaced meanwhile: left out */
		}
		archive_entry_set_size(e, st.st_size);
		rc = tar_header(t, e);
		if (rc == 0 && st.st_size > 0) {
			t->fd = fd;
			t->left = st.st_size;
		} else {
			close(fd);
		}
	} else {
		rc = tar_header(t, e); /* FIFO, device: the entry alone */
	}
out:
	free(path);
	return rc;
}

/* One step of the walk: some output, or the end. 0 or -1. */
static int
tar_step(struct browse_tar *t)
{
	if (t->fd != -1)
		return tar_file_step(t);
	if (t->depth > 0)
		return tar_dir_step(t);
	if (archive_write_close(t->a) != ARCHIVE_OK) {
		log_msg(LOG_ERROR, NULL, "web: tar of %s: %s", t->label,
		        archive_error_string(t->a));
		return -1;
	}
	t->closed = 1;
	return 0;
}

int
browse_tar_new(int dirfd, const char *top, const struct stat *st, int gzip, const char *label,
               struct browse_tar **out, struct err *err)
{
	struct browse_tar *t;

	if (archiveload(err) == -1) {
		err_wrap(err, "tar");
		close(dirfd);
		return -1;
	}
	t = xcalloc(1, sizeof *t);
	t->fd = -1;
	t->label = xstrdup(label);
	buf_init(&t->out, TAR_OUT_MAX);
	t->a = archive_write_new();
	if (archive_write_set_format_pax(t->a) != ARCHIVE_OK ||
	    (gzip && archive_write_add_filter_gzip(t->a) != ARCHIVE_OK) ||
	    archive_write_open(t->a, t, NULL, tar_write, NULL) != ARCHIVE_OK) {
		err_set(err, "tar: %s", archive_error_string(t->a));
		close(dirfd);
		browse_tar_free(t);
		return -1;
	}
	if (tar_header(t, tar_entry(top, st)) == -1 || tar_push(t, dirfd, top) == -1) {
		err_set(err, "tar: cannot start the archive of %s", label);
		browse_tar_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

long
browse_tar_read(void *cls, char *p, size_t max)
{
	struct browse_tar *t = cls;
	size_t n;

	while (t->out.len == t->out_off) {
		if (t->closed)
			return 0;
		buf_reset(&t->out);
		t->out_off = 0;
		if (tar_step(t) == -1)
			return -1;
	}
	n = t->out.len - t->out_off;
	if (n > max)
		n = max;
	memcpy(p, t->out.data + t->out_off, n);
	t->out_off += n;
	return (long)n;
}

void
browse_tar_free(void *cls)
{
	struct browse_tar *t = cls;

	if (t == NULL)
		return;
	if (t->fd != -1)
		close(t->fd);
	while (t->depth > 0) {
		t->depth--;
		closedir(t->stack[t->depth].d);
		free(t->stack[t->depth].prefix);
	}
	archive_write_free(t->a);
	buf_free(&t->out);
	free(t->label);
	free(t);
}
