/*
 * Tests for diskspace.c: the level a filesystem reaches against the
 * warning and critical limits (space or inodes, whichever is fuller; a
 * limit of -1 is off), and statvfs() of a real folder read into sane
 * figures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "diskspace.h"

static void
test_level(void **state)
{
	static const struct {
		double space, inodes;
		int warn, crit, want;
	} tab[] = {
		{ 10, 0, -1, -1, 0 },  { 100, 100, -1, -1, 0 }, { 79.9, 0, 80, 90, 0 },
		{ 80, 0, 80, 90, 1 },  { 89.9, 0, 80, 90, 1 },  { 90, 0, 80, 90, 2 },
		{ 10, 95, 80, 90, 2 }, { 10, 85, 80, 90, 1 },   { 95, 0, -1, 90, 2 },
		{ 95, 0, 80, -1, 1 },  { 0, 0, 0, -1, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		struct disk_space ds = { .used_percent = tab[i].space,
			                 .inodes_used_percent = tab[i].inodes };

		assert_int_equal(disk_space_level(&ds, tab[i].warn, tab[i].crit), tab[i].want);
	}
}

static void
test_read(void **state)
{
	struct disk_space ds;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(disk_space_read("/", &ds, &err), 0);
	assert_true(ds.size_bytes > 0);
	assert_true(ds.used_bytes <= ds.size_bytes);
	assert_true(ds.free_bytes <= ds.size_bytes);
	assert_true(ds.used_percent >= 0 && ds.used_percent <= 100);
	assert_int_equal(disk_space_read("/nonexistent/folder", &ds, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/folder"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
