/*
 * Unit tests for util/suggest.c: edit distances over a table of pairs, and
 * the pick ("did you mean") with its limits: nothing further than maxdist,
 * never the word itself, the first of equals, NULL candidates skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/suggest.h"

static void
test_distance_table(void **state)
{
	static const struct {
		const char *a, *b;
		size_t d;
	} cases[] = {
		{ "", "", 0 },
		{ "backup", "backup", 0 },
		{ "bakup", "backup", 1 },
		{ "backup", "bakup", 1 },
		{ "bwlimt", "bwlimit", 1 },
		{ "kitten", "sitting", 3 },
		{ "", "abc", 3 },
		{ "abc", "", 3 },
		{ "ab", "ba", 2 },
		{ "cleanpu", "cleanup", 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t d = suggest_distance(cases[i].a, cases[i].b);

		if (d != cases[i].d)
			fail_msg("'%s' -> '%s': expected %zu, got %zu", cases[i].a, cases[i].b,
			         cases[i].d, d);
	}
}

static void
test_distance_long_words(void **state)
{
	char longw[80];

	(void)state;
	memset(longw, 'a', sizeof longw - 1);
	longw[sizeof longw - 1] = '\0';
	assert_int_equal(suggest_distance(longw, "a"), SIZE_MAX);
	assert_int_equal(suggest_distance("a", longw), SIZE_MAX);
	longw[64] = '\0'; /* exactly 64 bytes: still compared */
	assert_int_equal(suggest_distance(longw, longw), 0);
}

static void
test_pick(void **state)
{
	static const char *const actions[] = { "backup", "cleanup", "checknagios", NULL,
		                               "dumpstat" };

	(void)state;
	assert_string_equal(suggest_pick("bakup", actions, 5, 2), "backup");
	assert_string_equal(suggest_pick("cleanpu", actions, 5, 2), "cleanup");
	assert_string_equal(suggest_pick("dumpstats", actions, 5, 2), "dumpstat");
	/* too far, the word itself, an empty list */
	assert_null(suggest_pick("frobnicate", actions, 5, 2));
	assert_null(suggest_pick("backup", actions, 5, 2));
	assert_null(suggest_pick("bakup", actions, 0, 2));
	/* maxdist 0 never suggests */
	assert_null(suggest_pick("bakup", actions, 5, 0));
}

static void
test_pick_first_of_equals(void **state)
{
	static const char *const words[] = { "add", "del" };

	(void)state;
	/* "ad" is one edit from "add" and two from "del" */
	assert_string_equal(suggest_pick("ad", words, 2, 2), "add");
	/* "dd" is one edit from both: the first listed wins */
	assert_string_equal(suggest_pick("dd", words, 2, 2), "add");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance_table),
		cmocka_unit_test(test_distance_long_words),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_pick_first_of_equals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
