/*
 * Tests for the restore helpers of the driver layer (drivers/restore.h):
 * which file of a snapshot holds a database's dump (a database "a" never
 * takes "a-b"'s dump, the original's names and plain names), and the
 * generic one-file restore (restore_file_copy): an exact copy with the
 * backup's mode and times, nothing overwritten without overwrite, the
 * file options refused, no .partial left.
 */
#include <sys/stat.h>

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

#include "drivers/restore.h"
#include "jobconf.h"
#include "progress.h"
#include "util/err.h"
#include "util/xmalloc.h"

#include "fixture.h"

static char base[TB_TMPDIR_MAX];

static int
setup(void **state)
{
	(void)state;
	return tb_tmpdir_make(base, sizeof base, "restore");
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(base);
}

/* Write content into base/name. */
static void
put(const char *name, const char *content)
{
	char *p = xasprintf("%s/%s", base, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(p);
}

static void
test_dump_find(void **state)
{
	struct err err;
	char *p, *want;

	(void)state;
	put("a-b-20261126-03h20m57.sql.gz", "x");
	put("a-20261126-03h20m57.sql.gz", "x");
	put("plain.sql.gz", "x");
	err_clear(&err);
	p = restore_dump_find(base, "a", &err);
	want = xasprintf("%s/a-20261126-03h20m57.sql.gz", base);
	assert_string_equal(p, want);
	free(p);
	free(want);
	p = restore_dump_find(base, "a-b", &err);
	want = xasprintf("%s/a-b-20261126-03h20m57.sql.gz", base);
	assert_string_equal(p, want);
	free(p);
	free(want);
	p = restore_dump_find(base, "plain", &err);
	want = xasprintf("%s/plain.sql.gz", base);
	assert_string_equal(p, want);
	free(p);
	free(want);
	assert_null(restore_dump_find(base, "nope", &err));
	assert_non_null(strstr(err.msg, "no dump of database 'nope'"));
	assert_non_null(strstr(err.msg, "a-20261126-03h20m57.sql.gz"));
	err_clear(&err);
	assert_null(restore_dump_find(base, "../a", &err));
	assert_non_null(strstr(err.msg, "not a database name"));
}

static void
test_file_copy(void **state)
{
	struct job job = { .name = "unit" };
	struct progress pg;
	struct drv_restore r = { .job = &job, .progress = &pg };
	struct drv_stats st = { 0 };
	struct stat a, b;
	struct err err;
	char *src = xasprintf("%s/SERVER-20261126-03h20m57.dump.gz", base);
	char *to = xasprintf("%s/out/deeper", base);
	char *dst = xasprintf("%s/SERVER-20261126-03h20m57.dump.gz", to);
	const char *paths[] = { "x" };
	struct timespec t[2] = { { 1000000000, 0 }, { 1234567890, 5 } };

	(void)state;
	progress_init(&pg, 0, 0);
	err_clear(&err);
	put("SERVER-20261126-03h20m57.dump.gz", "the dump\n");
	chmod(src, 0604);
	utimensat(AT_FDCWD, src, t, 0);
	r.location = src;

	/* File options and a missing target are refused. */
	r.target = to;
	r.paths = paths;
	r.npaths = 1;
	assert_int_equal(restore_file_copy(&r, &st, &err), -1);
	assert_non_null(strstr(err.msg, "--path"));
	r.paths = NULL;
	r.npaths = 0;
	r.target = NULL;
	assert_int_equal(restore_file_copy(&r, &st, &err), -1);
	assert_non_null(strstr(err.msg, "--to DIR"));

	r.target = to;
	assert_int_equal(restore_file_copy(&r, &st, &err), 0);
	assert_int_equal(stat(src, &a), 0);
	assert_int_equal(stat(dst, &b), 0);
	assert_int_equal(b.st_size, a.st_size);
	assert_int_equal(b.st_mode & 07777, 0604);
	assert_int_equal(b.st_mtim.tv_sec, 1234567890);
	assert_int_equal(st.total_files, 1);
	assert_int_equal(st.total_bytes, 9);
	free(st.location);
	free(st.log);
	memset(&st, 0, sizeof st);

	/* Not again without overwrite; with it, yes; never a .partial left. */
	assert_int_equal(restore_file_copy(&r, &st, &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));
	r.overwrite = 1;
	assert_int_equal(restore_file_copy(&r, &st, &err), 0);
	free(st.location);
	free(st.log);
	{
		char *partial = xasprintf("%s.partial", dst);

		assert_int_equal(access(partial, F_OK), -1);
		free(partial);
	}
	free(src);
	free(to);
	free(dst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dump_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_copy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
