/*
 * Filesystem helpers (see fsutil.h).
 */
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xmalloc.h"

int
fs_mkdir_p(const char *path, unsigned mode, struct err *err)
{
	char *p = xstrdup(path);
	int rc = -1;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST) {
			err_sys(err, errno, "creating directory %s", p);
			goto out;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (!fs_is_dir(path)) {
		err_set(err, "%s exists and is not a directory", path);
		goto out;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

int
fs_fsync_dir(const char *path, struct err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1) {
		err_sys(err, errno, "opening %s", path);
		return -1;
	}
	if (fsync(fd) == -1) {
		err_sys(err, errno, "fsync %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * The syncfs calls of this process on one filesystem (fs_sync_tree()):
 * generations started and ended, whether one runs, the last one's errno.
 * Never freed: one per filesystem a process syncs.
 */
struct fs_syncer {
	dev_t dev;
	int running;
	uint64_t started, done;
	int errnum;
	struct fs_syncer *next;
};

static pthread_mutex_t fs_sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fs_sync_ended = PTHREAD_COND_INITIALIZER;
static struct fs_syncer *fs_syncers;

/* The syncer of dev, made on first use. Called with fs_sync_lock held. */
static struct fs_syncer *
fs_syncer_of(dev_t dev)
{
	struct fs_syncer *s;

	for (s = fs_syncers; s != NULL; s = s->next)
		if (s->dev == dev)
			return s;
	s = xcalloc(1, sizeof *s);
	s->dev = dev;
	s->next = fs_syncers;
	fs_syncers = s;
	return s;
}

int
fs_sync_tree(const char *path, struct err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), errnum;
	struct fs_syncer *s;
	struct stat st;
	uint64_t want, gen;

	if (fd == -1) {
		err_sys(err, errno, "opening %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err_sys(err, errno, "fstat %s", path);
		close(fd);
		return -1;
	}
	pthread_mutex_lock(&fs_sync_lock);
	s = fs_syncer_of(st.st_dev);
	/* A running syncfs may have passed our files already: the next one counts. */
	want = s->started + 1;
	while (s->done < want) {
		if (s->running) {
			pthread_cond_wait(&fs_sync_ended, &fs_sync_lock);
			continue;
		}
		s->running = 1;
		gen = ++s->started;
		pthread_mutex_unlock(&fs_sync_lock);
		errnum = syncfs(fd) == -1 ? errno : 0;
		pthread_mutex_lock(&fs_sync_lock);
		s->running = 0;
		s->done = gen;
		s->errnum = errnum;
		pthread_cond_broadcast(&fs_sync_ended);
	}
	errnum = s->errnum;
	pthread_mutex_unlock(&fs_sync_lock);
	close(fd);
	if (errnum != 0) {
		err_sys(err, errnum, "syncfs %s", path);
		return -1;
	}
	return 0;
}

int
fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

char *
fs_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)la, a, b);
}

char *
fs_tmp_path(const char *name)
{
	const char *t = getenv("TMPDIR");

	return fs_join(t != NULL && t[0] == '/' ? t : "/tmp", name);
}

int
fs_read_secret_line(const char *path, const char *what, char **out, struct err *err)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	size_t n;
	int full;

	*out = NULL;
	if (f == NULL) {
		err_sys(err, errno, "%s %s", what, path);
		return -1;
	}
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	full = line[n] == '\0' && n == sizeof line - 1;
	line[n] = '\0';
	if (n == 0 || full) {
		explicit_bzero(line, sizeof line);
		err_set(err, "%s %s: the first line (the password) is %s", what, path,
		        n == 0 ? "empty" : "longer than 1023 bytes");
		return -1;
	}
	*out = xstrdup(line);
	explicit_bzero(line, sizeof line);
	return 0;
}

void
fs_secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int
fs_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
