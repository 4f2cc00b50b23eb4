/*
 * Tests for util/fsutil.c's password-file reader: the first line without
 * its line end (LF, CRLF, none), later lines ignored; an empty first line,
 * an over-long one and a missing file refused with a message naming the
 * key and the file, never the content. fs_sync_tree() from many threads
 * at once: every call returns 0, a path that is not a folder is refused.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fsutil.h"
#include "util/xmalloc.h"

static char dir[] = "/tmp/tb-test-fsutil.XXXXXX";

/* dir/secret holding exactly len bytes of data; its path (static). */
static const char *
secret_file(const char *data, size_t len)
{
	static char path[sizeof dir + 16];
	FILE *f;

	snprintf(path, sizeof path, "%s/secret", dir);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char path[sizeof dir + 16];

	(void)state;
	snprintf(path, sizeof path, "%s/secret", dir);
	unlink(path);
	return rmdir(dir);
}

static void
expect_line(const char *data, const char *want)
{
	struct err err;
	char *got = NULL;

	err_clear(&err);
	assert_int_equal(fs_read_secret_line(secret_file(data, strlen(data)), "k", &got, &err), 0);
	assert_string_equal(got, want);
	fs_secret_free(got);
}

static void
test_first_line(void **state)
{
	(void)state;
	expect_line("s3cret\n", "s3cret");
	expect_line("s3cret\r\nsecond line\n", "s3cret");
	expect_line("no newline", "no newline");
	expect_line(" spaces kept \n", " spaces kept ");
}

/* A refusal: -1, *out NULL, err names key and file, never the content. */
static void
expect_refused(const char *path, const char *why)
{
	struct err err;
	char *got = (char *)"x";

	err_clear(&err);
	assert_int_equal(fs_read_secret_line(path, "[catalog] password_file", &got, &err), -1);
	assert_null(got);
	assert_non_null(strstr(err.msg, "[catalog] password_file"));
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, why));
	assert_null(strstr(err.msg, "hunter2"));
}

static void
test_refused(void **state)
{
	char big[1100];

	(void)state;
	expect_refused(secret_file("\nhunter2\n", 9), "empty");
	memset(big, 'a', sizeof big);
	memcpy(big, "hunter2", 7);
	expect_refused(secret_file(big, sizeof big), "longer than 1023 bytes");
	expect_refused("/nonexistent/tb-secret", "No such file");
}

static void
test_free_null(void **state)
{
	(void)state;
	fs_secret_free(NULL);
	fs_secret_free(xstrdup("wiped"));
}

#define SYNC_THREADS 8
#define SYNC_ROUNDS 5

static void *
sync_worker(void *arg)
{
	intptr_t failures = 0;
	struct err err;

	(void)arg;
	for (int i = 0; i < SYNC_ROUNDS; i++) {
		err_clear(&err);
		failures += fs_sync_tree(dir, &err) != 0;
	}
	return (void *)failures;
}

/* Callers on one filesystem share syncfs calls; each still gets its own answer. */
static void
test_sync_tree_threads(void **state)
{
	pthread_t t[SYNC_THREADS];
	struct err err;
	void *failures;

	(void)state;
	for (int i = 0; i < SYNC_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sync_worker, NULL), 0);
	for (int i = 0; i < SYNC_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &failures), 0);
		assert_int_equal((intptr_t)failures, 0);
	}
	err_clear(&err);
	assert_int_equal(fs_sync_tree(secret_file("x", 1), &err), -1);
	assert_non_null(strstr(err.msg, "secret"));
	err_clear(&err);
	assert_int_equal(fs_sync_tree("/nonexistent/tb-sync", &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/tb-sync"));
}

/* fs_tmp_path(): $TMPDIR when absolute, else /tmp, as mktemp(1). */
static void
test_tmp_path(void **state)
{
	char *p;

	(void)state;
	setenv("TMPDIR", "/var/tmp/x/", 1);
	p = fs_tmp_path("tb-XXXXXX");
	assert_string_equal(p, "/var/tmp/x/tb-XXXXXX");
	free(p);
	setenv("TMPDIR", "relative", 1);
	p = fs_tmp_path("tb-XXXXXX");
	assert_string_equal(p, "/tmp/tb-XXXXXX");
	free(p);
	unsetenv("TMPDIR");
	p = fs_tmp_path("tb-XXXXXX");
	assert_string_equal(p, "/tmp/tb-XXXXXX");
	free(p);
}

/* 1 MiB through a pipe (64 KiB a write at most): every byte, in order; a bad descriptor is -1 + errno. */
static void
test_write_all(void **state)
{
	size_t n = 1 << 20, got = 0;
	char *data = xmalloc(n), *back = xmalloc(n);
	int p[2], st;
	pid_t pid;

	(void)state;
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 7 + i / 251);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(fs_write_all(p[1], data, n) == 0 ? 0 : 1);
	}
	close(p[1]);
	while (got < n) {
		ssize_t r = read(p[0], back + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_memory_equal(back, data, n);
	errno = 0;
	assert_int_equal(fs_write_all(-1, data, 1), -1);
	assert_int_equal(errno, EBADF);
	free(data);
	free(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_line), cmocka_unit_test(test_refused),
		cmocka_unit_test(test_free_null),  cmocka_unit_test(test_sync_tree_threads),
		cmocka_unit_test(test_tmp_path),   cmocka_unit_test(test_write_all),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
