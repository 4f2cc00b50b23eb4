/*
 * The generic restore of one-file backups (restore.h): any driver whose
 * backup is a file, or a folder of files (samba4's dumps, a switch
 * configuration, an XCP metadata dump, later VM images), gets restore
 * with `.restore = restore_file_copy` in its descriptor. The files are
 * copied into a local folder of the backup host; each is written under a
 * staging name, read back and compared with the backup, synced, and only
 * then renamed, so an interrupted or failed restore never leaves a
 * half-written file under its final name.
 */
#include "drivers/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobconf.h"
#include "log.h"
#include "progress.h"
#include "spawn.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define COPY_CHUNK (1 << 20)
#define FILE_STAGING ".partial"

/* Read exactly n bytes (short only at end of file). Returns bytes read or -1. */
static ssize_t
read_full(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Copy the regular file sfd (named src, mode/times from sst) into dirfd
 * as name: name.partial, written, compared, synced, renamed. Adds the
 * bytes to *bytes. 0 or -1 + err.
 */
static int
copy_one(const struct drv_restore *r, int sfd, const char *src, const struct stat *sst, int dirfd,
         const char *name, long long *bytes, struct err *err)
{
	char *tmp = xasprintf("%s" FILE_STAGING, name);
	char *a = xmalloc(COPY_CHUNK), *b = xmalloc(COPY_CHUNK);
	struct timespec times[2] = { sst->st_atim, sst->st_mtim };
	int dfd = -1, rc = -1;
	ssize_t n;

	/* Only a killed restore of ours leaves it: never write through it. */
	if (unlinkat(dirfd, tmp, 0) == -1 && errno != ENOENT) {
		err_sys(err, errno, "removing the stale %s", tmp);
		goto out;
	}
	dfd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd == -1) {
		err_sys(err, errno, "creating %s", tmp);
		goto out;
	}
	while ((n = read_full(sfd, a, COPY_CHUNK)) > 0) {
		if (spawn_interrupted()) {
			err_set(err, "interrupted");
			goto out;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dfd, a + off, (size_t)(n - off));

			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1) {
				err_sys(err, errno, "writing %s", tmp);
				goto out;
			}
			off += w;
		}
		*bytes += n;
		progress_feed(r->progress, (uint64_t)n);
	}
	if (n == -1) {
		err_sys(err, errno, "reading %s", src);
		goto out;
	}
	if (fsync(dfd) == -1) {
		err_sys(err, errno, "syncing %s", tmp);
		goto out;
	}
	/* Verify: the copy, read back, must equal the backup. */
	if (lseek(sfd, 0, SEEK_SET) == -1 || lseek(dfd, 0, SEEK_SET) == -1) {
		err_sys(err, errno, "rewinding %s", src);
		goto out;
	}
	for (;;) {
		ssize_t na = read_full(sfd, a, COPY_CHUNK), nb = read_full(dfd, b, COPY_CHUNK);

		if (na == -1 || nb == -1) {
			err_sys(err, errno, "verifying %s", tmp);
			goto out;
		}
		if (na != nb || memcmp(a, b, (size_t)na) != 0) {
			err_set(err, "verifying %s: the copy differs from the backup %s", tmp, src);
			goto out;
		}
		if (na == 0)
			break;
		progress_feed(r->progress, (uint64_t)na);
	}
	if (fchmod(dfd, sst->st_mode & 07777) == -1 || futimens(dfd, times) == -1) {
		err_sys(err, errno, "setting the mode and times of %s", tmp);
		goto out;
	}
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		err_sys(err, errno, "renaming %s to %s", tmp, name);
		goto out;
	}
	rc = 0;
out:
	if (dfd != -1)
		close(dfd);
	if (rc == -1 && dfd != -1)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	free(a);
	free(b);
	return rc;
}

/* The regular files of the backup (a file, or the files of a folder) into files. */
static int
backup_files(const char *location, struct strv *files, struct err *err)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (lstat(location, &st) == -1) {
		err_sys(err, errno, "the backup %s", location);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		strv_push(files, location);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set(err, "the backup %s is neither a file nor a folder", location);
		return -1;
	}
	d = opendir(location);
	if (d == NULL) {
		err_sys(err, errno, "opening the backup %s", location);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = fs_join(location, de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			strv_push(files, p);
		else
			log_warning(NULL, "restore: %s is not a regular file: skipped", p);
		free(p);
	}
	closedir(d);
	if (files->n == 0) {
		err_set(err, "the backup %s holds no file", location);
		return -1;
	}
	return 0;
}

int
restore_file_copy(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	const struct job *job = r->job;
	struct strv files;
	long long bytes = 0;
	int dirfd = -1, rc = -1;

	strv_init(&files);
	if (r->npaths > 0 || r->db != NULL || r->in_place) {
		err_set(err, "%s: this job's backups are whole files: restore them with --to DIR",
		        r->npaths > 0   ? "--path"
		        : r->db != NULL ? "--db"
		                        : "--in-place");
		goto out;
	}
	if (r->target == NULL || r->target[0] == '\0') {
		err_set(err, "where to? --to DIR: a folder of this host to write the backup's "
		             "file(s) into");
		goto out;
	}
	if (backup_files(r->location, &files, err) == -1)
		goto out;
	if (!r->dry_run && fs_mkdir_p(r->target, 0750, err) == -1)
		goto out;
	if (!r->dry_run) {
		dirfd = open(r->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd == -1) {
			err_sys(err, errno, "opening %s", r->target);
			goto out;
		}
	}
	/* Refuse before writing anything. */
	for (size_t i = 0; i < files.n && !r->overwrite; i++) {
		const char *base = strrchr(files.v[i], '/') + 1;
		char *dst = fs_join(r->target, base);

		if (fs_exists(dst)) {
			err_set(err,
			        "%s already exists: nothing was changed; add --replace to "
			        "overwrite it",
			        dst);
			free(dst);
			goto out;
		}
		free(dst);
	}
	for (size_t i = 0; i < files.n; i++) {
		const char *base = strrchr(files.v[i], '/') + 1;
		struct stat sst;
		int sfd;

		if (r->dry_run) {
			printf("would copy %s to %s/%s\n", files.v[i], r->target, base);
			continue;
		}
		sfd = open(files.v[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd == -1 || fstat(sfd, &sst) == -1) {
			err_sys(err, errno, "opening %s", files.v[i]);
			if (sfd != -1)
				close(sfd);
			goto out;
		}
		log_info(job->name, "copying %s to %s/%s", files.v[i], r->target, base);
		if (copy_one(r, sfd, files.v[i], &sst, dirfd, base, &bytes, err) == -1) {
			close(sfd);
			goto out;
		}
		close(sfd);
	}
	if (!r->dry_run && fsync(dirfd) == -1) {
		err_sys(err, errno, "syncing %s", r->target);
		goto out;
	}
	st->total_files = st->written_files = (int64_t)files.n;
	st->total_bytes = st->written_bytes = bytes;
	st->location = xstrdup(r->target);
	st->log = xasprintf("%srestore of %s to %s OK, %zu file%s, %lld bytes",
	                    r->dry_run ? "dry run: " : "", r->location, r->target, files.n,
	                    files.n == 1 ? "" : "s", bytes);
	rc = 0;
out:
	if (dirfd != -1)
		close(dirfd);
	strv_free(&files);
	return rc;
}
