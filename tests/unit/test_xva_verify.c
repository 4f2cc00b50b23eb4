/*
 * The streaming XVA verifier (xva_verify.c) on exports made by the XAPI
 * simulator (tests/fuzz/corpus/xva_verify/, a VM with disks of 5000 and
 * 1536 bytes; the first byte of each file is the fuzz harness's and is
 * skipped): plain, gzip and zstd with .xxhash, plain with .checksum pass
 * fed in any piece size; a corrupt chunk, a stream cut at a member
 * boundary or inside a gzip stream, a wrong disk list fail, naming why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xva_verify.h"

static const uint64_t sizes[] = { 5000, 1536 };

/* The bytes of corpus file name, without its first byte. */
static unsigned char *
load(const char *name, size_t *len)
{
	char path[512];
	unsigned char *data;
	FILE *f;
	long n;

	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/xva_verify/%s", getenv("TB_SOURCE_ROOT"),
	         name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 1, SEEK_SET);
	data = malloc((size_t)n);
	assert_int_equal(fread(data, 1, (size_t)n - 1, f), (size_t)n - 1);
	fclose(f);
	*len = (size_t)n - 1;
	return data;
}

/* Verify name fed in pieces of piece bytes; 0 or -1 with err. */
static int
verify(const char *name, size_t piece, const uint64_t *sz, size_t n, struct err *err,
       struct xva_stats *st)
{
	size_t len;
	unsigned char *data = load(name, &len);
	struct xva_verify *v = xva_verify_new(1);
	int rc = 0;

	for (size_t off = 0; off < len && rc == 0; off += piece)
		rc = xva_verify_feed(v, data + off, len - off < piece ? len - off : piece, err);
	if (rc == 0)
		rc = xva_verify_finish(v, sz, n, err);
	if (st != NULL)
		*st = *xva_verify_stats(v);
	xva_verify_free(v);
	free(data);
	return rc;
}

static void
test_good(void **state)
{
	static const char *const good[] = { "plain_xxhash.bin", "gzip_xxhash.bin",
		                            "zstd_xxhash.bin", "plain_sha1.bin" };
	static const char *const comp[] = { "none", "gzip", "zstd", "none" };
	static const size_t pieces[] = { 1, 7, 512, 1 << 20 };
	struct err err = { 0 };
	struct xva_stats st;

	(void)state;
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++) {
			if (verify(good[i], pieces[j], sizes, 2, &err, &st) != 0)
				fail_msg("%s in pieces of %zu: %s", good[i], pieces[j], err.msg);
			assert_string_equal(st.compression, comp[i]);
			assert_string_equal(st.checksum, i == 3 ? "checksum" : "xxhash");
			assert_int_equal(st.chunks, 2);
			assert_int_equal(st.disk_bytes, 5000 + 1536);
		}
}

static void
test_bad(void **state)
{
	struct err err = { 0 };
	static const uint64_t wrong[] = { 5000, 4096 };

	(void)state;
	assert_int_equal(verify("corrupt_chunk.bin", 4096, sizes, 2, &err, NULL), -1);
	assert_non_null(strstr(err.msg, "does not match its .xxhash"));
	assert_int_equal(verify("truncated_at_member.bin", 4096, sizes, 2, &err, NULL), -1);
	assert_non_null(strstr(err.msg, "no end-of-archive blocks"));
	assert_int_equal(verify("gzip_truncated_inside.bin", 3, sizes, 2, &err, NULL), -1);
	assert_non_null(strstr(err.msg, "gzip stream is truncated"));
	assert_int_equal(verify("plain_xxhash.bin", 4096, wrong, 2, &err, NULL), -1);
	assert_non_null(strstr(err.msg, "incomplete"));
	assert_int_equal(verify("plain_xxhash.bin", 4096, sizes, 1, &err, NULL), -1);
	assert_non_null(strstr(err.msg, "2 disks in the export, 1 expected"));
}

/* A plain XVA cut anywhere (but inside the final zero blocks) never passes. */
static void
test_cut_anywhere(void **state)
{
	size_t len;
	unsigned char *data = load("plain_xxhash.bin", &len);
	struct err err = { 0 };

	(void)state;
	for (size_t cut = 0; cut + 1024 <= len; cut += 97) {
		struct xva_verify *v = xva_verify_new(1);
		int rc = xva_verify_feed(v, data, cut, &err);

		if (rc == 0)
			rc = xva_verify_finish(v, sizes, 2, &err);
		if (rc != -1)
			fail_msg("a cut at %zu of %zu passed", cut, len);
		xva_verify_free(v);
	}
	free(data);
}

/* A flipped byte anywhere in a chunk's data fails, naming the chunk. */
static void
test_flip(void **state)
{
	size_t len, checked = 0;
	unsigned char *data = load("plain_xxhash.bin", &len);
	struct err err = { 0 };

	(void)state;
	for (size_t h = 0; h + 512 <= len; h += 512) {
		size_t nl = strnlen((const char *)data + h, 100), size;

		/* a chunk member's header: "Ref:N/00000000" */
		if (nl < 9 || memcmp(data + h, "Ref:", 4) != 0 ||
		    memcmp(data + h + nl - 9, "/00000000", 9) != 0)
			continue;
		size = strtoul((const char *)data + h + 124, NULL, 8);
		for (size_t off = h + 512; off < h + 512 + size; off += 333) {
			struct xva_verify *v = xva_verify_new(1);
			int rc;

			data[off] ^= 0x40;
			rc = xva_verify_feed(v, data, len, &err);
			if (rc == 0)
				rc = xva_verify_finish(v, sizes, 2, &err);
			data[off] ^= 0x40;
			xva_verify_free(v);
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err.msg, "/00000000 does not match"));
			checked++;
		}
	}
	assert_true(checked > 10);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_cut_anywhere),
		cmocka_unit_test(test_flip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
