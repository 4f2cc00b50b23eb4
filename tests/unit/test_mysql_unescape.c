/*
 * Unit tests for drivers/mysql_unescape.c: what `mysql -N -B -e 'SHOW
 * DATABASES'` prints for awkward database names, and the name each must
 * give back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/mysql_unescape.h"
#include "util/buf.h"
#include "util/xmalloc.h"

static void
test_table(void **state)
{
	static const char *const cases[][2] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "we're db", "we're db" },
		{ "multi\\nline", "multi\nline" },
		{ "tab\\there", "tab\there" },
		{ "back\\\\slash", "back\\slash" },
		{ "\\\\n is not a newline", "\\n is not a newline" },
		{ "nul\\0cut here", "nul" },
		{ "\\0", "" },
		{ "other \\x escape", "other x escape" },
		{ "trailing\\", "trailing\\" },
		{ "UTF-8: é \\t 日本", "UTF-8: é \t 日本" },
		{ "\\n\\t\\\\", "\n\t\\" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = xstrdup(cases[i][0]);

		mysql_unescape(s);
		if (strcmp(s, cases[i][1]) != 0)
			fail_msg("'%s': expected '%s', got '%s'", cases[i][0], cases[i][1], s);
		free(s);
	}
}

/* Manifest lines: escaped the way mysql_unescape() reads back. */
static void
test_escape(void **state)
{
	const char *name = "a\tb\nc\\d";
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(mysql_escape(&b, name), 0);
	assert_string_equal(buf_str(&b), "a\\tb\\nc\\\\d");
	mysql_unescape(b.data);
	assert_string_equal(b.data, name);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
