/*
 * The dry run's display of a command (dryrun.c): plain words as they are,
 * rsync's -e value in "double quotes", anything a shell would expand in
 * 'single quotes' -- and what a shell reads back is the word itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dryrun.h"

static void
test_words(void **state)
{
	static const struct {
		const char *word, *shown;
	} cases[] = {
		{ "rsync", "rsync" },
		{ "--timeout=1800", "--timeout=1800" },
		{ "root@web1:/srv/data/", "root@web1:/srv/data/" },
		{ "'ssh' '-o' 'BatchMode=yes'", "\"'ssh' '-o' 'BatchMode=yes'\"" },
		{ "--exclude=*", "'--exclude=*'" },
		{ "a b", "'a b'" },
		{ "it's $HOME", "'it'\\''s $HOME'" },
		{ "", "''" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b;

		buf_init(&b, 1 << 16);
		dryrun_word(&b, cases[i].word);
		assert_string_equal(buf_str(&b), cases[i].shown);
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
