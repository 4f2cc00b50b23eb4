/*
 * Unit-test fixtures (see fixture.h). Linked into every unit test.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

int
tb_tmpdir_make(char *dir, size_t size, const char *name)
{
	int n = snprintf(dir, size, "/tmp/tb-test-%s.XXXXXX", name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* Give directories back their permissions before nftw descends. */
static int
unlock_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | S_IRWXU);
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP || type == FTW_D || type == FTW_DNR)
		return rmdir(path) == -1 ? -1 : 0;
	return unlink(path) == -1 ? -1 : 0;
}

int
tb_tmpdir_remove(const char *dir)
{
	struct stat st;

	if (dir == NULL || dir[0] == '\0' || lstat(dir, &st) == -1)
		return 0;
	/* Twice: a chmod'ed-away folder is only visible after its parent is. */
	nftw(dir, unlock_one, 16, FTW_PHYS);
	nftw(dir, unlock_one, 16, FTW_PHYS);
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
tb_tmpdir_setup(void **state)
{
	struct tb_tmpdir *t = calloc(1, sizeof *t);

	if (t == NULL || tb_tmpdir_make(t->path, sizeof t->path, "unit") == -1) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int
tb_tmpdir_teardown(void **state)
{
	struct tb_tmpdir *t = *state;
	int rc = tb_tmpdir_remove(t->path);

	free(t);
	*state = NULL;
	return rc;
}
