/*
 * Unit tests for drivers/dumpname.c: database names as dump file names
 * (safe, reversible), and the manifest written beside the dumps, read
 * back by restore_dump_dbs() into the databases' own names, for
 * mysql+ssh's "FILE.sql.gz" and pgsql+ssh's "FILE-STAMP.sql.gz" alike.
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

#include "drivers/dumpname.h"
#include "drivers/restore.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/pct.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "fixture.h"

/* Database names as file names: safe, and read back by percent-decoding. */
static void
test_file_name(void **state)
{
	static const char *const cases[][2] = {
		{ "plain", "plain" },
		{ "we're db", "we're db" },
		{ "../x", "%2E.%2Fx" },
		{ ".", "%2E" },
		{ "..", "%2E." },
		{ ".hidden", "%2Ehidden" },
		{ "a.b", "a.b" },
		{ "100%", "100%25" },
		{ "a/b/c", "a%2Fb%2Fc" },
		{ "a/b%c", "a%2Fb%25c" },
		{ "tab\there\n", "tab%09here%0A" },
		{ "back\\slash \"q\"", "back\\slash \"q\"" },
		{ "UTF-8 é 日本", "UTF-8 é 日本" },
		{ "données", "données" },
		{ "del\x7f", "del%7F" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *f = dumpname_file(cases[i][0]);
		char *back = pct_decode_strict(f, strlen(f));

		if (strcmp(f, cases[i][1]) != 0)
			fail_msg("'%s': expected '%s', got '%s'", cases[i][0], cases[i][1], f);
		assert_non_null(back);
		assert_string_equal(back, cases[i][0]);
		assert_null(strchr(f, '/'));
		free(back);
		free(f);
	}
}

/* Create an empty file dir/name. */
static void
touch(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	close(fd);
	free(p);
}

/*
 * A snapshot as each driver writes it: the files under dumpname_file()'s
 * names, the manifest mapping them back; restore_dump_dbs() lists the
 * databases by their own names, whatever bytes they hold. A second
 * manifest in the same folder is refused, the first left alone.
 */
static void
test_manifest_round_trip(void **state)
{
	static const char *const dbs[] = { "a/b%c", "..", "new\nline\t'q' \\ x=y", "données",
		                           "plain" };
	const char *const stamps[] = { NULL, "20261206-09h07m33" }; /* mysql, pgsql */
	const char *dir = ((struct tb_tmpdir *)*state)->path;

	for (size_t s = 0; s < 2; s++) {
		char *sub = xasprintf("%s/%zu", dir, s);
		struct strv got, files;
		struct buf man;
		struct err err;
		int fd;

		assert_int_equal(mkdir(sub, 0700), 0);
		dumpname_manifest_init(&man);
		err_clear(&err);
		for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
			char *f = dumpname_file(dbs[i]);
			char *name = stamps[s] != NULL ? xasprintf("%s-%s.sql.gz", f, stamps[s])
			                               : xasprintf("%s.sql.gz", f);

			touch(sub, name);
			assert_int_equal(dumpname_manifest_add(&man, name, dbs[i], &err), 0);
			free(f);
			free(name);
		}
		touch(sub, RESTORE_DUMP_GLOBALS);
		assert_int_equal(dumpname_manifest_write(sub, &man, &err), 0);
		assert_int_equal(dumpname_manifest_write(sub, &man, &err), -1);
		assert_non_null(strstr(err.msg, RESTORE_DUMP_MANIFEST));

		strv_init(&got);
		strv_init(&files);
		fd = open(sub, O_RDONLY | O_DIRECTORY);
		assert_true(fd >= 0);
		assert_int_equal(restore_dump_dbs(fd, &got, &files, &err), 0);
		close(fd);
		assert_int_equal(got.n, sizeof dbs / sizeof dbs[0]);
		for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
			if (!strv_contains(&got, dbs[i]))
				fail_msg("'%s' not listed back (stamp %s)", dbs[i],
				         stamps[s] != NULL ? stamps[s] : "none");
		for (size_t i = 0; i < files.n; i++)
			assert_null(strchr(files.v[i], '\n'));
		strv_free(&got);
		strv_free(&files);
		buf_free(&man);
		free(sub);
	}
}

/* A manifest stops growing at RESTORE_DUMP_MANIFEST_MAX, with an error. */
static void
test_manifest_full(void **state)
{
	struct buf man;
	struct err err;
	char *name = xmalloc(60001);
	int rc = 0;

	(void)state;
	memset(name, 'n', 60000);
	name[60000] = '\0';
	err_clear(&err);
	dumpname_manifest_init(&man);
	for (int i = 0; i < 1000 && rc == 0; i++)
		rc = dumpname_manifest_add(&man, "f.sql.gz", name, &err);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "the manifest is over"));
	assert_true(man.len <= RESTORE_DUMP_MANIFEST_MAX);
	assert_int_equal(man.data[man.len - 1], '\n'); /* no half line left */
	buf_free(&man);
	free(name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_name),
		cmocka_unit_test_setup_teardown(test_manifest_round_trip, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test(test_manifest_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
