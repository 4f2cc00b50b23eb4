/*
 * Tests for btrfs_qgroup.c without a filesystem: a TREE_SEARCH result
 * buffer written byte by byte (native search headers, little-endian item
 * bodies) parsed into the status flags and the level-0 qgroups (a
 * level-1 qgroup and a limit item skipped), the state judged from the
 * flags, and a buffer whose item runs past its end refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "btrfs_qgroup.h"

/* A search header in native order at p. */
static size_t
put_hdr(unsigned char *p, uint64_t objectid, uint32_t type, uint64_t offset, uint32_t len)
{
	memcpy(p, (uint64_t[]){ 7 }, 8); /* transid */
	memcpy(p + 8, &objectid, 8);
	memcpy(p + 16, &offset, 8);
	memcpy(p + 24, &type, 4);
	memcpy(p + 28, &len, 4);
	return 32;
}

/* v little-endian at p, byte by byte. */
static void
put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* An info item (generation, rfer, rfer_cmpr, excl, excl_cmpr) at p. */
static size_t
put_info(unsigned char *p, uint64_t qgroupid, uint64_t rfer, uint64_t excl)
{
	size_t n = put_hdr(p, 0, 242, qgroupid, 40);

	put_le64(p + n, 9);
	put_le64(p + n + 8, rfer);
	put_le64(p + n + 16, rfer);
	put_le64(p + n + 24, excl);
	put_le64(p + n + 32, excl);
	return n + 40;
}

static size_t
build(unsigned char *buf, uint64_t flags)
{
	size_t off = put_hdr(buf, 0, 240, 0, 32); /* status: version, generation, flags, rescan */

	put_le64(buf + off, 1);
	put_le64(buf + off + 8, 9);
	put_le64(buf + off + 16, flags);
	put_le64(buf + off + 24, 0);
	off += 32;
	off += put_info(buf + off, 5, 16384, 16384);
	off += put_info(buf + off, 257, 4210688, 4210688);
	off += put_info(buf + off, 258, 0x123456789aull, 16384);
	off += put_info(buf + off, (1ull << 48) | 100, 99, 99); /* level 1: skipped */
	return off;
}

static void
test_parse(void **state)
{
	unsigned char buf[512];
	struct btrfs_qgroups q;
	struct err err;
	uint64_t last[3];
	size_t len;

	(void)state;
	memset(&q, 0, sizeof q);
	len = build(buf, 1);
	assert_int_equal(btrfs_qgroup_parse(&q, buf, len, 5, last, &err), 0);
	assert_true(q.has_status);
	assert_int_equal(q.flags, 1);
	assert_int_equal(q.n, 3);
	assert_int_equal(q.v[1].subvol_id, 257);
	assert_int_equal(q.v[1].rfer, 4210688);
	assert_int_equal(q.v[1].excl, 4210688);
	assert_int_equal(btrfs_qgroup_find(&q, 258)->rfer, 0x123456789a);
	assert_int_equal(btrfs_qgroup_find(&q, 258)->excl, 16384);
	assert_null(btrfs_qgroup_find(&q, 100));
	assert_int_equal(last[0], 0);
	assert_int_equal(last[1], 242);
	assert_int_equal(last[2], (1ull << 48) | 100);
	btrfs_qgroup_judge(&q);
	assert_int_equal(q.state, BTRFS_QG_OK);
	assert_null(btrfs_qgroup_why(&q));
	btrfs_qgroup_free(&q);
}

static void
test_judge(void **state)
{
	static const struct {
		int has_status;
		uint64_t flags;
		enum btrfs_qg_state want;
	} t[] = {
		{ 0, 0, BTRFS_QG_OFF },
		{ 1, 0, BTRFS_QG_OFF },
		{ 1, 1, BTRFS_QG_OK },
		{ 1, 1 | 2, BTRFS_QG_RESCAN },
		{ 1, 1 | 4, BTRFS_QG_INCONSISTENT },
		{ 1, 1 | 2 | 4, BTRFS_QG_RESCAN },
		{ 1, 1 | 8, BTRFS_QG_SIMPLE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct btrfs_qgroups q = { .has_status = t[i].has_status, .flags = t[i].flags };

		btrfs_qgroup_judge(&q);
		assert_int_equal(q.state, t[i].want);
		if (t[i].want != BTRFS_QG_OK)
			assert_non_null(btrfs_qgroup_why(&q));
	}
}

static void
test_truncated(void **state)
{
	unsigned char buf[512];
	struct btrfs_qgroups q;
	struct err err;
	uint64_t last[3];
	size_t len;

	(void)state;
	memset(&q, 0, sizeof q);
	len = build(buf, 1 | 4);
	/* The last item cut short, then a count beyond the items. */
	assert_int_equal(btrfs_qgroup_parse(&q, buf, len - 1, 5, last, &err), -1);
	assert_non_null(strstr(err.msg, "past the buffer"));
	btrfs_qgroup_free(&q);
	memset(&q, 0, sizeof q);
	assert_int_equal(btrfs_qgroup_parse(&q, buf, len, 6, last, &err), -1);
	btrfs_qgroup_free(&q);
	memset(&q, 0, sizeof q);
	assert_int_equal(btrfs_qgroup_parse(&q, buf, len, 5, last, &err), 0);
	btrfs_qgroup_judge(&q);
	assert_int_equal(q.state, BTRFS_QG_INCONSISTENT);
	btrfs_qgroup_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
