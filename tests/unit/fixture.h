/*
 * Shared fixtures for the unit tests: a private temporary directory per
 * test or per group, removed with everything below it. Use it instead of
 * copying mkdtemp + nftw into each test file:
 *
 *   static char dir[TB_TMPDIR_MAX];           one directory for the file
 *   tb_tmpdir_make(dir, sizeof dir, "lock")   in a group setup
 *   tb_tmpdir_remove(dir)                     in its teardown
 *
 * or cmocka_unit_test_setup_teardown(test, tb_tmpdir_setup,
 * tb_tmpdir_teardown): a fresh directory per test, its path in
 * ((struct tb_tmpdir *)*state)->path.
 */
#ifndef TB_TEST_FIXTURE_H
#define TB_TEST_FIXTURE_H

#include <stddef.h>

#define TB_TMPDIR_MAX 256

struct tb_tmpdir {
	char path[TB_TMPDIR_MAX];
};

/* Create /tmp/tb-test-NAME.XXXXXX (mode 0700) and put its path in dir
 * (size bytes). Returns 0, or -1 (errno set) when it cannot. */
int tb_tmpdir_make(char *dir, size_t size, const char *name);

/* Remove dir and everything below it, symlinks not followed; files a test
 * made read-only or unsearchable are made writable first. Returns 0, or
 * -1 when something is left. A NULL or empty dir is a no-op. */
int tb_tmpdir_remove(const char *dir);

/* cmocka setup/teardown: *state becomes a new struct tb_tmpdir holding a
 * fresh directory; the teardown removes it and frees the struct. */
int tb_tmpdir_setup(void **state);
int tb_tmpdir_teardown(void **state);

#endif
