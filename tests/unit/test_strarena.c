/*
 * Unit tests for util/strarena.c: copies are NUL-terminated and stay put
 * when later strings need new blocks; the last string grows in place while
 * its block has room, and moves (its bytes copied) when it has not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/strarena.h"

static void
test_ndup_many_blocks(void **state)
{
	struct strarena a;
	char *first, *big, *s[1000];
	char word[16];

	(void)state;
	strarena_init(&a, 0); /* the smallest block */
	first = strarena_ndup(&a, "key = value", 3);
	assert_string_equal(first, "key");
	for (int i = 0; i < 1000; i++) { /* ~10 KB: several blocks */
		int n = snprintf(word, sizeof word, "w%d", i);

		s[i] = strarena_ndup(&a, word, (size_t)n);
	}
	big = strarena_ndup(&a, "", 0);
	assert_string_equal(big, "");
	assert_string_equal(first, "key");
	for (int i = 0; i < 1000; i++) {
		snprintf(word, sizeof word, "w%d", i);
		assert_string_equal(s[i], word);
	}
	strarena_free(&a);
	/* Usable again after a free. */
	assert_string_equal(strarena_ndup(&a, "again", 5), "again");
	strarena_free(&a);
}

static void
test_grow(void **state)
{
	struct strarena a;
	char *v, *w, *moved;
	size_t len;

	(void)state;
	strarena_init(&a, 64); /* a block of one page, the smallest */
	(void)strarena_ndup(&a, "k", 1);
	v = strarena_ndup(&a, "a", 1);
	w = strarena_grow(&a, v, 1, 2);
	assert_ptr_equal(w, v); /* room in the block: in place */
	memcpy(w + 1, "\nb", 2);
	w[3] = '\0';
	assert_string_equal(v, "a\nb");
	/* Past the block's end: a copy in a new block, the bytes kept. */
	len = strlen(w);
	moved = strarena_grow(&a, w, len, 5000);
	assert_ptr_not_equal(moved, w);
	memset(moved + len, 'x', 5000);
	moved[len + 5000] = '\0';
	assert_int_equal(strlen(moved), len + 5000);
	assert_memory_equal(moved, "a\nbxxx", 6);
	/* The moved string is the last one: it grows in place in its block. */
	assert_ptr_equal(strarena_grow(&a, moved, len + 5000, 1), moved);
	strarena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndup_many_blocks),
		cmocka_unit_test(test_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
