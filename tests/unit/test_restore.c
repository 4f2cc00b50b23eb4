/*
 * Tests for the restore helpers of the driver layer (drivers/restore.h):
 * which file of a snapshot holds a database's dump (a database "a" never
 * takes "a-b"'s dump, the original's names and plain names), and the
 * generic one-file restore (restore_file_copy): an exact copy with the
 * backup's mode and times, nothing overwritten without overwrite, the
 * file options refused, no .partial left; and the allow-list of a queued
 * restore's options (restore_queue_check).
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
#include "jobconf.h"
#include "progress.h"
#include "restore.h"
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
	assert_non_null(strstr(err.msg, "(it holds: 'a', 'a-b', 'plain')"));
	err_clear(&err);
	/* A name is only compared with the listing's, never used as a path. */
	assert_null(restore_dump_find(base, "../a", &err));
	assert_non_null(strstr(err.msg, "no dump of database '../a'"));
	err_clear(&err);
	/* A database's file name is not its name when the manifest says otherwise. */
	put("manifest.tsv", "100%25.sql.gz\t100%\n");
	put("100%25.sql.gz", "x");
	p = restore_dump_find(base, "100%", &err);
	want = xasprintf("%s/100%%25.sql.gz", base);
	assert_string_equal(p, want);
	free(p);
	free(want);
	assert_null(restore_dump_find(base, "100%25", &err));
	assert_non_null(strstr(err.msg, "no dump of database '100%25'"));
}

/*
 * The databases a snapshot holds, by the names restore --db takes: a
 * mysql+ssh snapshot's percent-encoded files decoded by its manifest
 * (the web form once offered "a%2Fb" for database "a/b"), other files by
 * their name without "-STAMP", globals.sql.gz left out.
 */
static void
test_dump_dbs(void **state)
{
	const char *const want_db[] = { "a/b", "my db%x", "plain", "tab\tx" };
	const char *const want_file[] = { "a%2Fb.sql.gz", "my db%25x.sql.gz", "plain.sql.gz",
		                          "tab%09x.sql.gz" };
	struct strv dbs, files;
	struct err err;
	int fd;

	(void)state;
	put("my db%25x.sql.gz", "x");
	put("a%2Fb.sql.gz", "x");
	put("tab%09x.sql.gz", "x");
	put("plain.sql.gz", "x");
	put("globals.sql.gz", "x");
	put("manifest.tsv", "a%2Fb.sql.gz\ta/b\nmy db%25x.sql.gz\tmy db%x\n"
	                    "tab%09x.sql.gz\ttab\\tx\n");
	strv_init(&dbs);
	strv_init(&files);
	err_clear(&err);
	fd = open(base, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(restore_dump_dbs(fd, &dbs, &files, &err), 0);
	assert_int_equal(dbs.n, 4);
	for (size_t i = 0; i < dbs.n; i++) {
		char *enc = dumpname_file(dbs.v[i]), *name = xasprintf("%s.sql.gz", enc);

		assert_string_equal(files.v[i], want_file[i]);
		assert_string_equal(dbs.v[i], want_db[i]);
		/* what the mysql restore hook looks for is the file listed */
		assert_string_equal(name, files.v[i]);
		free(enc);
		free(name);
	}
	close(fd);
	strv_free(&dbs);
	strv_free(&files);

	/* No manifest (pgsql+ssh, the original's snapshots): the name before -STAMP. */
	{
		char *man = xasprintf("%s/manifest.tsv", base);

		assert_int_equal(unlink(man), 0);
		free(man);
	}
	put("a-b-20261126-03h20m57.sql.gz", "x");
	strv_init(&dbs);
	strv_init(&files);
	fd = open(base, O_RDONLY | O_DIRECTORY);
	assert_int_equal(restore_dump_dbs(fd, &dbs, &files, &err), 0);
	assert_int_equal(dbs.n, 5);
	assert_string_equal(dbs.v[0], "a%2Fb");
	assert_string_equal(dbs.v[1], "a-b");
	assert_string_equal(files.v[1], "a-b-20261126-03h20m57.sql.gz");
	close(fd);
	strv_free(&dbs);
	strv_free(&files);
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

/* ok: the words pass; else they are refused naming field. */
static void
check_words(const char *action, const char *const *w, size_t n, const char *field,
            const char *msg_part)
{
	const char *got = NULL;
	struct err err;
	int rc;

	err_clear(&err);
	rc = restore_queue_check(action, w, n, &got, &err);
	if (field == NULL) {
		if (rc != 0)
			fail_msg("refused: %s", err.msg);
		return;
	}
	if (rc != -1)
		fail_msg("accepted, expected a refusal naming %s", field);
	assert_string_equal(got, field);
	if (msg_part != NULL && strstr(err.msg, msg_part) == NULL)
		fail_msg("\"%s\" does not hold \"%s\"", err.msg, msg_part);
}

static void
test_queue_check(void **state)
{
	const char *good[] = { "--at=20261126-03h20m57",
		               "--path=etc/nginx",
		               "--path=/var/www",
		               "--to=root@web2.example:/srv/restored",
		               "--replace",
		               "--dry-run" };
	const char *good2[] = { "--at=2026-11-26 18:00", "--in-place", "--yes" };
	const char *good3[] = { "--db=shop", "--to-db=shop_2026", "--at=latest" };
	const char *good4[] = { "--to=/srv/x y" };
	const char *good5[] = { "--import-to=Local storage", "--at=latest", "--dry-run" };
	const char *good6[] = { "--db=shop", "--to-server=db2.example.org", "--replace" };
	const char *good7[] = { "--to-server=admin@10.0.0.12" };
	const char *awkward[] = { "--db=my db%x", "--to-db=my_db" };
	const char *one[1];

	(void)state;
	check_words("restore", good, 6, NULL, NULL);
	check_words("restore", good2, 3, NULL, NULL);
	check_words("restore", good3, 3, NULL, NULL);
	check_words("restore", good4, 1, NULL, NULL);
	check_words("restore", good5, 3, NULL, NULL);
	check_words("restore", good6, 3, NULL, NULL);
	check_words("restore", good7, 1, NULL, NULL);
	check_words("restore", NULL, 0, NULL, NULL);
	check_words("backup", NULL, 0, NULL, NULL);
	/* Options of another action, or outside the list. */
	check_words("backup", good4, 1, "options", "only a restore takes options");
#define ONE(word, field, part)                                                                     \
	do {                                                                                       \
		one[0] = (word);                                                                   \
		check_words("restore", one, 1, field, part);                                       \
	} while (0)
	ONE("--config=/etc/other.ini", "options", "not allowed");
	ONE("--to", "options", "not allowed");    /* a value word without its value */
	ONE("--yes=1", "options", "not allowed"); /* a flag with a value */
	ONE("--rsh=sh", "options", "not allowed");
	ONE("--yes", "confirm", "--in-place");
	ONE("--at=yesterday", "at", "expected latest");
	ONE("--path=etc/../../root", "paths", "'..'");
	ONE("--path=..", "paths", "'..'");
	ONE("--path=", "paths", NULL);
	ONE("--to=relative/dir", "to", "HOST:/DIR");
	ONE("--to=/srv/../etc", "to", "'..'");
	ONE("--to=-oProxyCommand=x:/tmp", "to", "host name");
	ONE("--to=a@-oX:/tmp", "to", "host name");
	ONE("--to=-l:/tmp", "to", "host name");
	ONE("--to=web2:relative", "to", "HOST:/DIR");
	ONE("--to=we b2:/x", "to", "host name");
	ONE("--db=-x", "db", "not starting with");
	ONE("--to-db=a;drop", "to_db", "database name");
	/* a database of the backup may have any name, then the target must be given plainly */
	ONE("--db=a/b", "to_db", "not a plain name");
	check_words("restore", awkward, 2, NULL, NULL);
	ONE("--path=a\nb", "paths", "control characters");
	ONE("--to=/srv/a\tb", "to", "control characters");
	ONE("--import-to=", "import_to", "SR's name label or UUID");
	ONE("--import-to=-x", "import_to", "not starting with '-'");
	ONE("--import-to", "options", "not allowed");
	ONE("--to-server=-oProxyCommand=x", "to_server", "'-'");
	ONE("--to-server=", "to_server", "empty");
	ONE("--to-server=a b", "to_server", "as server_name");
	ONE("--to-server=db2:2222", "to_server", "ssh_port");
	ONE("--to-server=u@-x", "to_server", "as server_name");
	ONE("--to-server=u@h@x", "to_server", "as server_name");
	ONE("--to-server=-l@h", "to_server", "'-'");
	ONE("--to-server=u v@h", "to_server", "as remote_user");
	ONE("--to-server=h/x", "to_server", "as server_name");
	ONE("--to-server=a\nb", "to_server", "control characters");
	ONE("--to-server", "options", "not allowed");
#undef ONE
	{
		const char *twice[] = { "--to=/a", "--to=/b" };
		const char *both[] = { "--to=/a", "--in-place", "--yes" };
		const char *todb[] = { "--to=/a", "--to-db=x" };

		check_words("restore", twice, 2, "to", "twice");
		check_words("restore", both, 3, "to", "not both");
		check_words("restore", todb, 2, "to_db", NULL);
		{
			const char *imp[] = { "--import-to=sr1", "--to=/a" };

			check_words("restore", imp, 2, "import_to", "goes alone");
		}
		{
			const char *srv_to[] = { "--to=/a", "--to-server=h" };
			const char *srv_path[] = { "--path=x", "--to-server=h" };
			const char *srv_twice[] = { "--to-server=h", "--to-server=i" };

			check_words("restore", srv_to, 2, "to_server", "database dumps");
			check_words("restore", srv_path, 2, "to_server", "database dumps");
			check_words("restore", srv_twice, 2, "to_server", "twice");
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dump_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_dbs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_copy, setup, teardown),
		cmocka_unit_test(test_queue_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
