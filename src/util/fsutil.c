/*
 * Filesystem helpers (see fsutil.h).
 */
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
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

int
fs_sync_tree(const char *path, struct err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1) {
		err_sys(err, errno, "opening %s", path);
		return -1;
	}
	if (syncfs(fd) == -1) {
		err_sys(err, errno, "syncfs %s", path);
		close(fd);
		return -1;
	}
	close(fd);
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
