/*
 * dumpfile: what is written comes back from zlib's gzip reader byte for
 * byte, the final name appears only at commit, abort leaves nothing, a
 * stale .partial is replaced (and a symlink in its place is not followed),
 * and a failed commit leaves neither the final name nor the .partial.
 * dumpfile_open_gzip(): a gzip stream (several members too) is stored byte
 * for byte and counted inflated; a truncated, corrupt (CRC, length, data),
 * non-gzip or empty stream, or garbage after a member, is refused and
 * leaves nothing. dumpfile_open_raw(): bytes stored unchanged; a stream
 * shorter or longer than announced never gets the final name.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "dumpfile.h"
#include "fixture.h"
#include "util/rmtree.h"
#include "util/xmalloc.h"

static char dir[TB_TMPDIR_MAX];

static int
setup(void **state)
{
	(void)state;
	return tb_tmpdir_make(dir, sizeof dir, "dumpfile");
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(dir);
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Decompress path with zlib's gz reader into a new buffer; *len its size. */
static unsigned char *
gunzip(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	unsigned char *data = NULL;
	size_t cap = 0;
	int n;

	assert_non_null(gz);
	*len = 0;
	for (;;) {
		if (cap - *len < 65536) {
			cap = cap * 2 + 65536;
			data = xrealloc(data, cap);
		}
		n = gzread(gz, data + *len, 65536);
		assert_true(n >= 0);
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	assert_int_equal(gzclose(gz), Z_OK);
	return data;
}

static void
test_roundtrip(void **state)
{
	char *path = xasprintf("%s/db.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	size_t total = 3 * 1024 * 1024 + 17, len, off = 0;
	unsigned char *src = xmalloc(total), *back;
	struct dumpfile *df;
	struct stat st;
	struct err err;
	uint32_t x = 12345;

	(void)state;
	/* Half pseudo-random (incompressible), half text, NULs included. */
	for (size_t i = 0; i < total; i++) {
		x = x * 1103515245 + 12345;
		src[i] =
		    i < total / 2 ? (unsigned char)(x >> 16) : (unsigned char)("ab\0c\n"[i % 5]);
	}
	err_clear(&err);
	assert_int_equal(dumpfile_open(path, 6, &df, &err), 0);
	assert_true(exists(partial));
	assert_false(exists(path));
	while (off < total) {
		size_t n = (x = x * 1103515245 + 12345) % 100000;

		if (n > total - off)
			n = total - off;
		assert_int_equal(dumpfile_write(df, src + off, n, &err), 0);
		off += n;
	}
	assert_int_equal(dumpfile_write(df, src, 0, &err), 0);
	assert_false(exists(path));
	assert_int_equal(dumpfile_commit(df, &err), 0);
	assert_true(exists(path));
	assert_false(exists(partial));
	assert_int_equal(dumpfile_bytes_in(df), total);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, dumpfile_bytes_out(df));
	assert_int_equal(st.st_mode & 07777, 0640);
	dumpfile_abort(df); /* after commit: only frees */
	assert_true(exists(path));

	back = gunzip(path, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, src, total);
	free(back);
	free(src);
	unlink(path);
	free(path);
	free(partial);
}

static void
test_empty_stream(void **state)
{
	char *path = xasprintf("%s/empty.sql.gz", dir);
	unsigned char *back;
	struct dumpfile *df;
	struct err err;
	size_t len;

	(void)state;
	assert_int_equal(dumpfile_open(path, 0, &df, &err), 0);
	assert_int_equal(dumpfile_commit(df, &err), 0);
	dumpfile_abort(df);
	back = gunzip(path, &len);
	assert_int_equal(len, 0);
	free(back);
	unlink(path);
	free(path);
}

static void
test_abort_leaves_nothing(void **state)
{
	char *path = xasprintf("%s/aborted.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	struct dumpfile *df;
	struct err err;

	(void)state;
	assert_int_equal(dumpfile_open(path, 1, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "CREATE TABLE t;\n", 16, &err), 0);
	assert_true(exists(partial));
	dumpfile_abort(df);
	assert_false(exists(partial));
	assert_false(exists(path));
	dumpfile_abort(NULL);
	free(path);
	free(partial);
}

static void
test_stale_partial_replaced(void **state)
{
	char *path = xasprintf("%s/stale.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	char *victim = xasprintf("%s/victim", dir);
	unsigned char *back;
	struct dumpfile *df;
	struct err err;
	size_t len;
	int fd;

	(void)state;
	/* A regular leftover with old content. */
	fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "old junk", 8), 8);
	close(fd);
	assert_int_equal(dumpfile_open(path, 6, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "new", 3, &err), 0);
	assert_int_equal(dumpfile_commit(df, &err), 0);
	dumpfile_abort(df);
	back = gunzip(path, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(back, "new", 3);
	free(back);
	unlink(path);

	/* A symlink in its place: removed, never written through. */
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(symlink(victim, partial), 0);
	assert_int_equal(dumpfile_open(path, 6, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "data", 4, &err), 0);
	dumpfile_abort(df);
	assert_false(exists(partial));
	back = gunzip(victim, &len); /* gzread passes plain files through */
	assert_int_equal(len, 4);
	assert_memory_equal(back, "keep", 4);
	free(back);
	unlink(victim);
	free(path);
	free(partial);
	free(victim);
}

static void
test_open_failure(void **state)
{
	char *path = xasprintf("%s/no/such/dir/x.sql.gz", dir);
	struct dumpfile *df = (struct dumpfile *)1;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(dumpfile_open(path, 6, &df, &err), -1);
	assert_null(df);
	assert_non_null(strstr(err.msg, "x.sql.gz.partial"));
	free(path);
}

/*
 * Commit fails when the final name cannot be taken (here a non-empty
 * folder holds it): -1 with the reason, the .partial removed by abort,
 * and what held the name untouched.
 */
static void
test_commit_failure(void **state)
{
	char *path = xasprintf("%s/taken.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	char *inside = xasprintf("%s/file", path);
	struct dumpfile *df;
	struct err err;
	int fd;

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	fd = open(inside, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	close(fd);
	assert_int_equal(dumpfile_open(path, 6, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "x", 1, &err), 0);
	err_clear(&err);
	assert_int_equal(dumpfile_commit(df, &err), -1);
	assert_non_null(strstr(err.msg, "renaming"));
	assert_true(exists(partial));
	dumpfile_abort(df);
	assert_false(exists(partial));
	assert_true(exists(inside));
	unlink(inside);
	rmdir(path);
	free(path);
	free(partial);
	free(inside);
}

/*
 * A write error is reported with its errno and leaves nothing: the file
 * size limit (SIGXFSZ ignored) makes write() fail with EFBIG, as a full
 * disk would with ENOSPC.
 */
static void
test_write_failure(void **state)
{
	char *path = xasprintf("%s/big.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	size_t total = 1024 * 1024;
	unsigned char *src = xmalloc(total);
	struct rlimit old, lim;
	struct dumpfile *df;
	struct err err;
	uint32_t x = 7;
	int rc;

	(void)state;
	for (size_t i = 0; i < total; i++) {
		x = x * 1103515245 + 12345;
		src[i] = (unsigned char)(x >> 16);
	}
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(dumpfile_open(path, 6, &df, &err), 0);
	err_clear(&err);
	rc = dumpfile_write(df, src, total, &err);
	if (rc == 0)
		rc = dumpfile_commit(df, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "big.sql.gz.partial"));
	assert_non_null(strstr(err.msg, strerror(EFBIG)));
	dumpfile_abort(df);
	assert_false(exists(partial));
	assert_false(exists(path));
	free(src);
	free(path);
	free(partial);
}

/* A gzip member of len bytes of src at level, appended to *out (*out_len). */
static void
gzip_member(const unsigned char *src, size_t len, int level, unsigned char **out, size_t *out_len)
{
	z_stream zs;
	size_t cap = *out_len + len + len / 100 + 1024;

	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
	                 Z_OK);
	*out = xrealloc(*out, cap);
	zs.next_in = (Bytef *)(uintptr_t)src;
	zs.avail_in = (uInt)len;
	zs.next_out = *out + *out_len;
	zs.avail_out = (uInt)(cap - *out_len);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
}

/* Text and noise, as a dump has (NULs included). */
static unsigned char *
sample(size_t total)
{
	unsigned char *src = xmalloc(total);
	uint32_t x = 99;

	for (size_t i = 0; i < total; i++) {
		x = x * 1103515245 + 12345;
		src[i] = i % 3 == 0 ? (unsigned char)(x >> 16) : (unsigned char)("ab\0c\n"[i % 5]);
	}
	return src;
}

/* Store gz (gz_len bytes) through dumpfile_open_gzip() in chunks of step. */
static int
store_gzip(const char *path, const unsigned char *gz, size_t gz_len, size_t step,
           struct dumpfile **df, struct err *err)
{
	err_clear(err);
	assert_int_equal(dumpfile_open_gzip(path, df, err), 0);
	for (size_t off = 0; off < gz_len; off += step)
		if (dumpfile_write(*df, gz + off, off + step > gz_len ? gz_len - off : step, err) ==
		    -1)
			return -1;
	return dumpfile_commit(*df, err);
}

/*
 * Three members (levels 1, 9, 1; the last empty) given in odd chunk
 * sizes, one byte at a time included: the file holds exactly those bytes,
 * zlib's reader gives the concatenated data back, bytes_in is its length.
 */
static void
test_gzip_passthrough(void **state)
{
	char *path = xasprintf("%s/server.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	size_t total = 2 * 1024 * 1024 + 5, gz_len = 0, len;
	unsigned char *src = sample(total), *gz = NULL, *back;
	const size_t steps[] = { 1, 7, 4096, 65536 + 3, 1 << 22 };
	struct dumpfile *df;
	struct stat st;
	struct err err;

	(void)state;
	gzip_member(src, total / 3, 1, &gz, &gz_len);
	gzip_member(src + total / 3, total - total / 3, 9, &gz, &gz_len);
	gzip_member(src, 0, 1, &gz, &gz_len);
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		/* One byte at a time only over the first 100 KiB: enough, and quick. */
		size_t n = steps[i] == 1 ? 100 * 1024 : gz_len;

		if (steps[i] == 1) {
			assert_int_equal(dumpfile_open_gzip(path, &df, &err), 0);
			for (size_t off = 0; off < n; off++)
				assert_int_equal(dumpfile_write(df, gz + off, 1, &err), 0);
			assert_int_equal(dumpfile_write(df, gz + n, gz_len - n, &err), 0);
			assert_int_equal(dumpfile_commit(df, &err), 0);
		} else {
			assert_int_equal(store_gzip(path, gz, gz_len, steps[i], &df, &err), 0);
		}
		assert_false(exists(partial));
		assert_int_equal(dumpfile_bytes_in(df), total);
		assert_int_equal(dumpfile_bytes_out(df), gz_len);
		dumpfile_abort(df);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal((uint64_t)st.st_size, gz_len);
		assert_int_equal(st.st_mode & 07777, 0640);
		back = gunzip(path, &len);
		assert_int_equal(len, total);
		assert_memory_equal(back, src, total);
		free(back);
		unlink(path);
	}
	free(gz);
	free(src);
	free(path);
	free(partial);
}

/* A refused stream: -1 with want in the message, nothing left behind. */
static void
expect_refused(const unsigned char *gz, size_t gz_len, const char *want)
{
	char *path = xasprintf("%s/bad.sql.gz", dir), *partial = xasprintf("%s.partial", path);
	struct dumpfile *df;
	struct err err;

	assert_int_equal(store_gzip(path, gz, gz_len, 10000, &df, &err), -1);
	if (strstr(err.msg, want) == NULL)
		fail_msg("'%s' does not say '%s'", err.msg, want);
	assert_non_null(strstr(err.msg, "bad.sql.gz.partial"));
	assert_false(exists(path));
	dumpfile_abort(df);
	assert_false(exists(partial));
	assert_false(exists(path));
	free(path);
	free(partial);
}

static void
test_gzip_refused(void **state)
{
	size_t total = 300000, gz_len = 0, one;
	unsigned char *src = sample(total), *gz = NULL, *bad = xmalloc(total * 2);

	(void)state;
	gzip_member(src, total / 2, 1, &gz, &gz_len);
	one = gz_len;
	gzip_member(src + total / 2, total - total / 2, 1, &gz, &gz_len);

	/* Truncated: in the last member's data, in its trailer, after one member's header. */
	expect_refused(gz, gz_len - 1000, "truncated");
	expect_refused(gz, gz_len - 3, "truncated");
	expect_refused(gz, one + 10, "truncated");
	/* The CRC-32, then the length (ISIZE) of the first member altered. */
	memcpy(bad, gz, gz_len);
	bad[one - 8] ^= 0x01;
	expect_refused(bad, gz_len, "incorrect data check");
	memcpy(bad, gz, gz_len);
	bad[one - 4] ^= 0x01;
	expect_refused(bad, gz_len, "incorrect length check");
	/* A byte of compressed data altered. */
	memcpy(bad, gz, gz_len);
	bad[one / 2] ^= 0xff;
	expect_refused(bad, gz_len, "not valid");
	/* Garbage after a complete stream; plain text; nothing at all. */
	memcpy(bad, gz, gz_len);
	memcpy(bad + gz_len, "trailing\n", 9);
	expect_refused(bad, gz_len + 9, "not valid");
	expect_refused((const unsigned char *)"CREATE TABLE t (i int);\n", 24, "not valid");
	expect_refused(gz, 0, "no data");
	free(bad);
	free(gz);
	free(src);
}

/* Read path whole into a new buffer; *len its size. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = xmalloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

/* Raw: bytes (NUL and all) stored unchanged, final name only at commit. */
static void
test_raw_roundtrip(void **state)
{
	char *path = xasprintf("%s/vm.xva", dir), *partial = xasprintf("%s.partial", path);
	size_t total = 3 * 100000 + 17, len;
	unsigned char *src = xmalloc(total), *back;
	struct dumpfile *df;
	struct err err;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < total; i++)
		src[i] = (unsigned char)(i * 7 + i / 251);
	assert_int_equal(dumpfile_open_raw(path, (int64_t)total, &df, &err), 0);
	assert_true(exists(partial));
	for (size_t off = 0; off < total; off += 100000)
		assert_int_equal(dumpfile_write(df, src + off,
		                                total - off < 100000 ? total - off : 100000, &err),
		                 0);
	assert_false(exists(path));
	assert_int_equal(dumpfile_commit(df, &err), 0);
	assert_false(exists(partial));
	assert_int_equal(dumpfile_bytes_in(df), total);
	assert_int_equal(dumpfile_bytes_out(df), total);
	dumpfile_abort(df);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	back = slurp(path, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, src, total);
	free(back);
	free(src);
	unlink(path);
	free(path);
	free(partial);
}

/*
 * Raw, truncated: fewer bytes than announced are refused at commit and
 * leave nothing (neither name) once aborted; more bytes too; with no size
 * announced, an aborted transfer leaves nothing either.
 */
static void
test_raw_truncated(void **state)
{
	char *path = xasprintf("%s/cut.xva", dir), *partial = xasprintf("%s.partial", path);
	struct dumpfile *df;
	struct err err;

	(void)state;
	assert_int_equal(dumpfile_open_raw(path, 1000, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "0123456789", 10, &err), 0);
	assert_int_equal(dumpfile_commit(df, &err), -1);
	assert_non_null(strstr(err.msg, "truncated (10 bytes of the 1000 announced)"));
	assert_false(exists(path));
	dumpfile_abort(df);
	assert_false(exists(partial));
	assert_false(exists(path));

	assert_int_equal(dumpfile_open_raw(path, 4, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "0123456789", 10, &err), 0);
	assert_int_equal(dumpfile_commit(df, &err), -1);
	dumpfile_abort(df);
	assert_false(exists(path));

	assert_int_equal(dumpfile_open_raw(path, -1, &df, &err), 0);
	assert_int_equal(dumpfile_write(df, "01234", 5, &err), 0);
	dumpfile_abort(df);
	assert_false(exists(partial));
	assert_false(exists(path));

	/* Any size, including none, when none was announced. */
	assert_int_equal(dumpfile_open_raw(path, -1, &df, &err), 0);
	assert_int_equal(dumpfile_commit(df, &err), 0);
	dumpfile_abort(df);
	assert_true(exists(path));
	unlink(path);
	free(path);
	free(partial);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_empty_stream),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_stale_partial_replaced),
		cmocka_unit_test(test_open_failure),
		cmocka_unit_test(test_commit_failure),
		cmocka_unit_test(test_write_failure),
		cmocka_unit_test(test_gzip_passthrough),
		cmocka_unit_test(test_gzip_refused),
		cmocka_unit_test(test_raw_roundtrip),
		cmocka_unit_test(test_raw_truncated),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
