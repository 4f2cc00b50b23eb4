/*
 * Tests for util/rmtree.c: nested trees, symlinks (never followed, their
 * targets untouched), hardlinks (the other links survive), plain files,
 * a missing path, read-only and unreadable directories (as an unprivileged
 * user in a forked child, since root ignores permissions), an entry that
 * cannot be removed (the rest still is), a 2,000-level tree under a low
 * descriptor limit, a mount point inside the tree, several trees at once
 * and cancellation.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/rmtree.h"
#include "util/xmalloc.h"

#define NOBODY 65534

static char base[] = "/tmp/tb-test-rmtree.XXXXXX";

/* base/rel as a new string. */
static char *at(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));

static char *
at(const char *fmt, ...)
{
	char rel[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	return xasprintf("%s/%s", base, rel);
}

static void
put(const char *path, const char *content)
{
	int fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) != -1);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A small tree at path: files, nested folders, an empty folder. */
static void
make_tree(const char *path)
{
	char *p;

	assert_int_equal(mkdir(path, 0755), 0);
	for (int i = 0; i < 3; i++) {
		p = xasprintf("%s/d%d", path, i);
		assert_int_equal(mkdir(p, 0755), 0);
		free(p);
		for (int j = 0; j < 4; j++) {
			p = xasprintf("%s/d%d/f%d", path, i, j);
			put(p, "data\n");
			free(p);
		}
		p = xasprintf("%s/d%d/sub", path, i);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
		p = xasprintf("%s/d%d/sub/deep file", path, i);
		put(p, "deep\n");
		free(p);
	}
	p = xasprintf("%s/empty", path);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/top", path);
	put(p, "top\n");
	free(p);
}

static void
test_nested_tree(void **state)
{
	char *t = at("nested");
	struct err err;

	(void)state;
	make_tree(t);
	err_clear(&err);
	assert_int_equal(rmtree(t, &err), 0);
	assert_false(err_isset(&err));
	assert_false(exists(t));
	free(t);
}

static void
test_trailing_slash_and_at(void **state)
{
	char *t = at("slash"), *withslash = at("slash//");
	struct err err;
	int dfd;

	(void)state;
	make_tree(t);
	err_clear(&err);
	assert_int_equal(rmtree(withslash, &err), 0);
	assert_false(exists(t));

	make_tree(t);
	assert_true((dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1);
	assert_int_equal(rmtree_at(dfd, "slash", &err), 0);
	close(dfd);
	assert_false(exists(t));
	free(t);
	free(withslash);
}

static void
test_symlinks_not_followed(void **state)
{
	char *out = at("outside"), *outf = at("outside/keep"), *outfile = at("outside.txt");
	char *t = at("links"), *p;
	struct err err;
	struct stat sb;

	(void)state;
	assert_int_equal(mkdir(out, 0755), 0);
	put(outf, "keep me\n");
	put(outfile, "me too\n");
	make_tree(t);
	p = xasprintf("%s/to_dir", t);
	assert_int_equal(symlink(out, p), 0);
	free(p);
	p = xasprintf("%s/d1/to_file", t);
	assert_int_equal(symlink(outfile, p), 0);
	free(p);
	p = xasprintf("%s/d2/dangling", t);
	assert_int_equal(symlink("no/such/thing", p), 0);
	free(p);
	p = xasprintf("%s/d0/to_parent", t);
	assert_int_equal(symlink("..", p), 0);
	free(p);

	err_clear(&err);
	assert_int_equal(rmtree(t, &err), 0);
	assert_false(exists(t));
	assert_int_equal(stat(outf, &sb), 0);
	assert_int_equal(sb.st_size, 8);
	assert_true(exists(outfile));

	/* The path itself a symlink (with or without a trailing slash): the link goes. */
	p = at("link_to_outside");
	assert_int_equal(symlink(out, p), 0);
	assert_int_equal(rmtree(p, &err), 0);
	assert_false(exists(p));
	assert_int_equal(symlink(out, p), 0);
	free(p);
	p = at("link_to_outside/");
	assert_int_equal(rmtree(p, &err), 0);
	free(p);
	p = at("link_to_outside");
	assert_false(exists(p));
	assert_true(exists(outf));
	free(p);
	free(out);
	free(outf);
	free(outfile);
	free(t);
}

static void
test_hardlinks(void **state)
{
	char *orig = at("hl_orig"), *t = at("hl_tree"), *p;
	struct err err;
	struct stat sb;

	(void)state;
	put(orig, "shared content\n");
	make_tree(t);
	p = xasprintf("%s/h1", t);
	assert_int_equal(link(orig, p), 0);
	free(p);
	p = xasprintf("%s/d2/sub/h2", t);
	assert_int_equal(link(orig, p), 0);
	free(p);
	assert_int_equal(stat(orig, &sb), 0);
	assert_int_equal(sb.st_nlink, 3);

	err_clear(&err);
	assert_int_equal(rmtree(t, &err), 0);
	assert_false(exists(t));
	assert_int_equal(stat(orig, &sb), 0);
	assert_int_equal(sb.st_nlink, 1);
	assert_int_equal(sb.st_size, 15);
	assert_int_equal(unlink(orig), 0);
	free(orig);
	free(t);
}

static void
test_plain_file(void **state)
{
	char *f = at("plain.xva");
	struct err err;

	(void)state;
	put(f, "a file backup\n");
	err_clear(&err);
	assert_int_equal(rmtree(f, &err), 0);
	assert_false(exists(f));
	free(f);
}

static void
test_missing_path(void **state)
{
	char *m = at("no-such-snapshot"), *m2 = at("no-such-dir/snap");
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(rmtree(m, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "no-such-snapshot"));
	assert_non_null(strstr(err.msg, "No such file or directory"));

	err_clear(&err);
	assert_int_equal(rmtree(m2, &err), -1);
	assert_int_equal(err.code, ENOENT);

	err_clear(&err);
	assert_int_equal(rmtree("/", &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(rmtree(".", &err), -1);
	assert_int_equal(err.code, EINVAL);
	free(m);
	free(m2);
}

/* Read-only directories as root: permissions do not apply, still removed. */
static void
test_readonly_dirs_root(void **state)
{
	char *t = at("ro_root"), *p;
	struct err err;

	(void)state;
	make_tree(t);
	p = xasprintf("%s/d0", t);
	assert_int_equal(chmod(p, 0555), 0);
	free(p);
	p = xasprintf("%s/d1/sub", t);
	assert_int_equal(chmod(p, 0), 0);
	free(p);
	assert_int_equal(chmod(t, 0500), 0);
	err_clear(&err);
	assert_int_equal(rmtree(t, &err), 0);
	assert_false(exists(t));
	free(t);
}

/* What a child process reports back. */
struct child_result {
	int rc;
	int code;
	char msg[ERR_MSG_MAX];
};

/*
 * Run rmtree(path) as NOBODY in a child; *res gets its outcome. Returns
 * -1 when the child could not switch users.
 */
static int
rmtree_as_nobody(const char *path, struct child_result *res)
{
	struct child_result *shared;
	int status;
	pid_t pid;

	shared =
	    mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED);
	memset(shared, 0, sizeof *shared);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct err err;

		if (setgroups(0, NULL) == -1 || setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
		    setresuid(NOBODY, NOBODY, NOBODY) == -1)
			_exit(99);
		err_clear(&err);
		shared->rc = rmtree(path, &err);
		shared->code = err.code;
		memcpy(shared->msg, err.msg, sizeof shared->msg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	memcpy(res, shared, sizeof *res);
	munmap(shared, sizeof *shared);
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void
chown_tree(const char *path)
{
	DIR *d;
	struct dirent *de;

	assert_int_equal(lchown(path, NOBODY, NOBODY), 0);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", path, de->d_name);
		chown_tree(p);
		free(p);
	}
	closedir(d);
}

/*
 * As an ordinary user: a read-only folder (unlink gets EACCES), an
 * unreadable one (open gets EACCES), a read-only root: each is made u+rwx
 * once and the removal goes through.
 */
static void
test_readonly_dirs_user(void **state)
{
	char *parent = at("ro_user"), *t = at("ro_user/tree"), *p;
	struct child_result res;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(base, 0755), 0);
	assert_int_equal(mkdir(parent, 0755), 0);
	make_tree(t);
	chown_tree(parent);
	p = xasprintf("%s/d0", t);
	assert_int_equal(chmod(p, 0555), 0);
	free(p);
	p = xasprintf("%s/d1", t);
	assert_int_equal(chmod(p, 0), 0);
	free(p);
	p = xasprintf("%s/d2/sub", t);
	assert_int_equal(chmod(p, 0500), 0);
	free(p);
	assert_int_equal(chmod(t, 0555), 0);
	if (rmtree_as_nobody(t, &res) == -1)
		skip();
	if (res.rc != 0)
		print_error("rmtree: %s\n", res.msg);
	assert_int_equal(res.rc, 0);
	assert_false(exists(t));
	assert_true(exists(parent));
	free(parent);
	free(t);
}

/*
 * An entry the user cannot remove (a root-owned read-only folder with a
 * file in it): the first error names it, everything else is removed.
 */
static void
test_first_error_rest_removed(void **state)
{
	char *t = at("partial"), *stuck = at("partial/d1/locked");
	char *stuck_file = at("partial/d1/locked/file"), *p;
	struct child_result res;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(base, 0755), 0);
	make_tree(t);
	chown_tree(t);
	assert_int_equal(mkdir(stuck, 0755), 0);
	put(stuck_file, "root's\n");
	assert_int_equal(chmod(stuck, 0555), 0);
	if (rmtree_as_nobody(t, &res) == -1)
		skip();
	assert_int_equal(res.rc, -1);
	assert_int_equal(res.code, EACCES);
	assert_non_null(strstr(res.msg, "partial/d1/locked/file"));
	assert_non_null(strstr(res.msg, "Permission denied"));
	/* Only the stuck branch is left. */
	assert_true(exists(stuck_file));
	p = xasprintf("%s/d0", t);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/d2", t);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/top", t);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/d1/f0", t);
	assert_false(exists(p));
	free(p);
	/* Root can finish the job. */
	assert_int_equal(rmtree(t, &(struct err){ 0 }), 0);
	assert_false(exists(t));
	free(t);
	free(stuck);
	free(stuck_file);
}

/* 2,000 levels under a 100-descriptor limit: no recursion, bounded fds. */
static void
test_deep_tree(void **state)
{
	char *t = at("deep");
	struct rlimit old, low;
	struct err err;
	int fd, before;

	(void)state;
	assert_int_equal(mkdir(t, 0755), 0);
	assert_true((fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1);
	for (int i = 0; i < 2000; i++) {
		int nfd;

		if (i % 100 == 0) {
			int ffd = openat(fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			assert_true(ffd != -1);
			close(ffd);
			assert_int_equal(symlinkat("..", fd, "up"), 0);
			assert_int_equal(mkdirat(fd, "side", 0755), 0);
		}
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(nfd != -1);
		close(fd);
		fd = nfd;
	}
	close(fd);

	before = count_fds();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 100;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	err_clear(&err);
	fd = rmtree(t, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (fd != 0)
		print_error("rmtree: %s\n", err.msg);
	assert_int_equal(fd, 0);
	assert_false(exists(t));
	assert_int_equal(count_fds(), before);
	free(t);
}

/* A filesystem mounted inside the tree is not entered. */
static void
test_mount_point_not_crossed(void **state)
{
	char *t = at("mnt"), *m = at("mnt/d0/m"), *inside = at("mnt/d0/m/precious");
	struct err err;

	(void)state;
	make_tree(t);
	assert_int_equal(mkdir(m, 0755), 0);
	if (mount("tb-test", m, "tmpfs", 0, "size=1m") == -1)
		skip();
	put(inside, "on another filesystem\n");
	err_clear(&err);
	assert_int_equal(rmtree(t, &err), -1);
	assert_int_equal(err.code, EXDEV);
	assert_non_null(strstr(err.msg, "mnt/d0/m"));
	assert_true(exists(inside));
	assert_int_equal(umount(m), 0);
	assert_int_equal(rmtree(t, &err), 0);
	assert_false(exists(t));
	free(t);
	free(m);
	free(inside);
}

static void
test_many(void **state)
{
	struct rmtree_task tasks[7];
	char *names[7];
	int dfd;

	(void)state;
	assert_true((dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1);
	for (int i = 0; i < 7; i++) {
		char *p = at("many%d", i);

		names[i] = xasprintf("many%d", i);
		if (i != 4)
			make_tree(p);
		free(p);
		memset(&tasks[i], 0, sizeof tasks[i]);
		tasks[i].dirfd = dfd;
		tasks[i].name = names[i];
	}
	assert_int_equal(rmtree_many(tasks, 7, 3, NULL), 1);
	for (int i = 0; i < 7; i++) {
		char *p = at("many%d", i);

		assert_false(exists(p));
		if (i == 4) {
			assert_int_equal(tasks[i].rc, -1);
			assert_int_equal(tasks[i].err.code, ENOENT);
		} else {
			assert_int_equal(tasks[i].rc, 0);
		}
		free(p);
		free(names[i]);
	}
	/* The default thread count, and an empty list. */
	assert_int_equal(rmtree_many(tasks, 0, 0, NULL), 0);
	close(dfd);
}

static int
always_cancelled(void)
{
	return 1;
}

static void
test_cancelled(void **state)
{
	struct rmtree_task task = { .dirfd = AT_FDCWD };
	char *t = at("cancel");

	(void)state;
	make_tree(t);
	task.name = t;
	assert_int_equal(rmtree_many(&task, 1, 1, always_cancelled), 1);
	assert_int_equal(task.rc, -1);
	assert_int_equal(task.err.code, EINTR);
	assert_true(exists(t));
	assert_int_equal(rmtree(t, &task.err), 0);
	free(t);
}

static int
nftw_remove(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	umask(022);
	return mkdtemp(base) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	nftw(base, nftw_remove, 32, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_tree),
		cmocka_unit_test(test_trailing_slash_and_at),
		cmocka_unit_test(test_symlinks_not_followed),
		cmocka_unit_test(test_hardlinks),
		cmocka_unit_test(test_plain_file),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test(test_readonly_dirs_root),
		cmocka_unit_test(test_readonly_dirs_user),
		cmocka_unit_test(test_first_error_rest_removed),
		cmocka_unit_test(test_deep_tree),
		cmocka_unit_test(test_mount_point_not_crossed),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_cancelled),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
