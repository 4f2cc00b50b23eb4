/*
 * Tests for du.c: on trees built here, du_tree() must print what GNU
 * `du -sb` prints (the test runs du through popen to compare; src/ never
 * does), count hard-linked files once, never follow symlinks, walk deeper
 * than any descriptor budget, and report missing or unreadable paths.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "util/du.h"
#include "util/xmalloc.h"

static char root[TB_TMPDIR_MAX];

/*
 * What `du -sb path` prints as the total (path has no shell metacharacters),
 * or -1. No cmocka assertion: a forked child calls it too.
 */
static int64_t
du_sb_raw(const char *path)
{
	char *cmd = xasprintf("du -sb '%s' 2>/dev/null", path);
	long long v = -1;
	FILE *p = popen(cmd, "r");

	if (p != NULL) {
		if (fscanf(p, "%lld", &v) != 1)
			v = -1;
		pclose(p);
	}
	free(cmd);
	return v;
}

static int64_t
du_sb(const char *path)
{
	int64_t v = du_sb_raw(path);

	assert_true(v >= 0);
	return v;
}

static char *
at(const char *rel)
{
	return xasprintf("%s/%s", root, rel);
}

static void
put(const char *rel, size_t size)
{
	char *path = at(rel);
	char buf[4096];
	int fd;

	memset(buf, 'x', sizeof buf);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) != -1);
	while (size > 0) {
		size_t n = size < sizeof buf ? size : sizeof buf;

		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		size -= n;
	}
	close(fd);
	free(path);
}

static void
dir(const char *rel)
{
	char *path = at(rel);

	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
}

static void
slink(const char *target, const char *rel)
{
	char *path = at(rel);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static void
hlink(const char *rel_from, const char *rel_to)
{
	char *a = at(rel_from), *b = at(rel_to);

	assert_int_equal(link(a, b), 0);
	free(a);
	free(b);
}

/* du_tree() on root/rel must succeed and agree with du -sb; returns the files count. */
static int64_t
check_like_du(const char *rel)
{
	char *path = at(rel);
	int64_t bytes = -1, files = -1;
	struct err err;

	err_clear(&err);
	assert_int_equal(du_tree(path, &bytes, &files, &err), 0);
	assert_string_equal(err.msg, "");
	assert_int_equal(bytes, du_sb(path));
	free(path);
	return files;
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(tb_tmpdir_make(root, sizeof root, "du"), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(tb_tmpdir_remove(root), 0);
	return 0;
}

static void
test_generated_tree(void **state)
{
	char name[64];

	(void)state;
	dir("t");
	dir("t/a");
	dir("t/a/b");
	dir("t/a/b/c");
	dir("t/dir with space");
	dir("t/many");
	put("t/one", 1);
	put("t/empty", 0);
	put("t/a/mid", 12345);
	put("t/a/b/c/big", 3 * 1024 * 1024 + 7);
	put("t/dir with space/name with \"quotes\" and 'single'", 77);
	put("t/bad\xff\xfeutf8", 10);
	put("t/new\nline", 11);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof name, "t/many/f%03d", i);
		put(name, (size_t)i * 3);
	}
	{
		char *fifo = at("t/fifo");

		assert_int_equal(mkfifo(fifo, 0644), 0);
		free(fifo);
	}
	/* 507 regular files: the fifo and the folders are not files. */
	assert_int_equal(check_like_du("t"), 507);
	assert_int_equal(check_like_du("t/many"), 500);
}

static void
test_hardlinks_once(void **state)
{
	char *path = at("h");
	int64_t bytes, files;
	struct err err;

	(void)state;
	dir("h");
	dir("h/sub");
	dir("outside");
	put("h/f", 100000);
	hlink("h/f", "h/g");
	hlink("h/f", "h/sub/f2");
	/* A link whose twin lies outside the tree: still counted once. */
	put("outside/o", 5000);
	hlink("outside/o", "h/o");
	put("h/single", 10);

	err_clear(&err);
	assert_int_equal(du_tree(path, &bytes, &files, &err), 0);
	assert_int_equal(bytes, du_sb(path));
	{
		struct stat st;

		assert_int_equal(lstat(path, &st), 0);
		/* The folders' own sizes, then each inode once. */
		int64_t dirs = st.st_size;
		char *sub = at("h/sub");

		assert_int_equal(lstat(sub, &st), 0);
		dirs += st.st_size;
		free(sub);
		assert_int_equal(bytes, dirs + 100000 + 5000 + 10);
	}
	/* Each name is a file, as in rsync's statistics. */
	assert_int_equal(files, 5);
	free(path);
}

static void
test_snapshot_chain(void **state)
{
	/* Two snapshots sharing every inode: each alone has its full size. */
	char *cmd = xasprintf("cp -al '%s/s1' '%s/s2'", root, root);

	(void)state;
	dir("s1");
	dir("s1/d");
	put("s1/a", 1000);
	put("s1/d/b", 2000);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(check_like_du("s1"), 2);
	assert_int_equal(check_like_du("s2"), 2);
	free(cmd);
}

/*
 * du_tree_cached() over a chain of hard-linked snapshots (the second
 * replaces a file, adds one, links one twice inside itself, and holds a
 * symlink and a folder) answers what du_tree() and `du -sb` answer for
 * each, whether the cache is fresh or already knows the files.
 */
static void
test_cached_chain(void **state)
{
	static const char *const snaps[] = { "c1", "c2", "c3", "c1" };
	char *cp1 = xasprintf("cp -al '%s/c1' '%s/c2'", root, root);
	char *cp2 = xasprintf("cp -al '%s/c2' '%s/c3'", root, root);
	struct du_cache *cache = du_cache_new();
	struct err err;

	(void)state;
	dir("c1");
	dir("c1/d");
	put("c1/a", 1000);
	put("c1/d/b", 2000);
	put("c1/d/c", 3000);
	assert_int_equal(system(cp1), 0);
	{
		char *p = at("c2/d/b");

		assert_int_equal(unlink(p), 0);
		free(p);
	}
	put("c2/d/b", 2500);
	put("c2/new", 700);
	hlink("c2/a", "c2/a2");
	assert_int_equal(system(cp2), 0);
	for (size_t i = 0; i < sizeof snaps / sizeof snaps[0]; i++) {
		char *path = at(snaps[i]);
		int64_t bytes, files, cbytes, cfiles;

		err_clear(&err);
		assert_int_equal(du_tree(path, &bytes, &files, &err), 0);
		assert_int_equal(du_tree_cached(path, cache, &cbytes, &cfiles, &err), 0);
		assert_int_equal(cbytes, bytes);
		assert_int_equal(cfiles, files);
		assert_int_equal(cbytes, du_sb(path));
		free(path);
	}
	du_cache_free(cache);
	free(cp1);
	free(cp2);
}

static void
test_symlinks_not_followed(void **state)
{
	char *path = at("l");
	char *outside = at("big_outside");
	int64_t bytes, files, lbytes, lfiles;
	struct err err;

	(void)state;
	dir("l");
	put("big_outside", 1 << 20);
	slink(outside, "l/to_file");
	slink(root, "l/to_dir");
	slink("does/not/exist", "l/dangling");
	assert_int_equal(check_like_du("l"), 0);

	err_clear(&err);
	assert_int_equal(du_tree(path, &bytes, &files, &err), 0);
	assert_true(bytes < 1 << 20);
	{
		struct stat st;

		assert_int_equal(lstat(path, &st), 0);
		assert_int_equal(bytes, st.st_size + (int64_t)strlen(outside) +
		                            (int64_t)strlen(root) +
		                            (int64_t)strlen("does/not/exist"));
	}
	/* A symlink given as the path is its own size, like du without -L. */
	free(path);
	path = at("l/to_dir");
	assert_int_equal(du_tree(path, &lbytes, &lfiles, &err), 0);
	assert_int_equal(lbytes, (int64_t)strlen(root));
	assert_int_equal(lfiles, 0);
	assert_int_equal(lbytes, du_sb(path));
	free(path);
	free(outside);
}

static void
test_empty_dir(void **state)
{
	(void)state;
	dir("e");
	assert_int_equal(check_like_du("e"), 0);
}

static void
test_file_path(void **state)
{
	char *path = at("lone");
	int64_t bytes, files;
	struct err err;

	(void)state;
	put("lone", 4321);
	err_clear(&err);
	assert_int_equal(du_tree(path, &bytes, &files, &err), 0);
	assert_int_equal(bytes, 4321);
	assert_int_equal(files, 1);
	assert_int_equal(bytes, du_sb(path));
	free(path);
}

static void
test_sparse_file_apparent(void **state)
{
	char *path = at("sparse");
	int64_t bytes, files;
	struct err err;
	int fd;

	(void)state;
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) != -1);
	assert_int_equal(ftruncate(fd, 100 * 1024 * 1024), 0);
	close(fd);
	err_clear(&err);
	assert_int_equal(du_tree(path, &bytes, &files, &err), 0);
	assert_int_equal(bytes, 100 * 1024 * 1024);
	assert_int_equal(bytes, du_sb(path));
	free(path);
}

static void
test_missing_path(void **state)
{
	char *path = at("nothing/here");
	int64_t bytes = 99, files = 99;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(du_tree(path, &bytes, &files, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(bytes, 0);
	assert_int_equal(files, 0);
	free(path);
}

static void
test_deep_tree(void **state)
{
	/* Deeper than the default descriptor limit would allow one fd per level. */
	char rel[8192] = "deep";
	size_t len = strlen(rel);

	(void)state;
	dir(rel);
	for (int i = 0; i < 1200; i++) {
		char *f;

		memcpy(rel + len, "/d", 3);
		len += 2;
		dir(rel);
		f = xasprintf("%s/f", rel);
		put(f, (size_t)i);
		free(f);
	}
	assert_int_equal(check_like_du("deep"), 1200);
}

/* What du_tree() and du -sb say in a child without root's right to read everything. */
struct unpriv_result {
	int rc, code, names_locked;
	int64_t bytes, files, du;
};

static void
test_unreadable_dir(void **state)
{
	char *path = at("u");
	char *locked = at("u/locked");
	struct unpriv_result r;
	int fds[2], status;
	pid_t pid;

	(void)state;
	dir("u");
	dir("u/locked");
	put("u/locked/hidden", 1000);
	put("u/visible", 10);
	assert_int_equal(chmod(root, 0755), 0);
	assert_int_equal(chmod(locked, 0), 0);
	assert_int_equal(pipe(fds), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		struct err err;

		memset(&r, 0, sizeof r);
		if (geteuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1))
			_exit(2);
		err_clear(&err);
		r.rc = du_tree(path, &r.bytes, &r.files, &err);
		r.code = err.code;
		r.names_locked = strstr(err.msg, locked) != NULL;
		r.du = du_sb_raw(path);
		_exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 3);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The walk goes on, counts what it can (the folder's own size too) and says what failed. */
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.code, EACCES);
	assert_true(r.names_locked);
	assert_int_equal(r.files, 1);
	assert_int_equal(r.bytes, r.du);
	assert_int_equal(chmod(locked, 0755), 0);
	free(path);
	free(locked);
}

/* The (dev, ino) pairs du_tree_links() reports, in order. */
struct links_seen {
	dev_t dev[16];
	ino_t ino[16];
	size_t n;
};

static void
record_link(void *arg, dev_t dev, ino_t ino)
{
	struct links_seen *ls = arg;

	assert_true(ls->n < 16);
	ls->dev[ls->n] = dev;
	ls->ino[ls->n++] = ino;
}

/* How many times ls holds the inode of root/rel (by lstat). */
static size_t
links_of(const struct links_seen *ls, const char *rel)
{
	char *path = at(rel);
	struct stat st;
	size_t k = 0;

	assert_int_equal(lstat(path, &st), 0);
	for (size_t i = 0; i < ls->n; i++)
		if (ls->dev[i] == st.st_dev && ls->ino[i] == st.st_ino)
			k++;
	free(path);
	return k;
}

static int count_visit_n;

static void
count_visit(void *arg, const struct stat *st)
{
	(void)arg;
	(void)st;
	count_visit_n++;
}

/*
 * du_tree_links() reports every entry but folders, by the inode its lstat
 * gives, each link once, from listings alone; du_tree_visit_dino() finds
 * this filesystem's listings exact; a path that is not a folder is itself.
 */
static void
test_links_listing(void **state)
{
	struct links_seen ls = { .n = 0 };
	int64_t bytes, files;
	struct err err;
	char *path;
	int exact = -1;

	(void)state;
	dir("t");
	dir("t/a");
	dir("t/a/b");
	put("t/f1", 10);
	put("t/a/f2", 20);
	hlink("t/a/f2", "t/a/b/f2bis");
	slink("f1", "t/l");
	err_clear(&err);
	path = at("t");
	assert_int_equal(du_tree_links(path, record_link, &ls, &err), 0);
	assert_int_equal(ls.n, 4);
	assert_int_equal(links_of(&ls, "t/f1"), 1);
	assert_int_equal(links_of(&ls, "t/a/f2"), 2);
	assert_int_equal(links_of(&ls, "t/l"), 1);
	assert_int_equal(links_of(&ls, "t/a"), 0);
	count_visit_n = 0;
	assert_int_equal(du_tree_visit_dino(path, count_visit, NULL, &bytes, &files, &exact, &err),
	                 0);
	assert_int_equal(exact, 1);
	assert_int_equal(count_visit_n, 7); /* t, a, b and four names */
	assert_int_equal(files, 3);
	assert_int_equal(bytes, du_sb(path) + 20); /* every link counted */
	free(path);
	ls.n = 0;
	path = at("t/f1");
	assert_int_equal(du_tree_links(path, record_link, &ls, &err), 0);
	assert_int_equal(ls.n, 1);
	assert_int_equal(links_of(&ls, "t/f1"), 1);
	free(path);
	path = at("t/none");
	assert_int_equal(du_tree_links(path, record_link, &ls, &err), -1);
	assert_int_equal(err.code, ENOENT);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generated_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardlinks_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cached_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_file_apparent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_listing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
