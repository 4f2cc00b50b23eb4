/*
 * exclude_list parsing: both spellings give the same patterns, escapes
 * and whitespace behave as documented, and every malformed value is
 * rejected with its position while leaving the output untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "exclude.h"
#include "util/err.h"
#include "util/strv.h"

/* Parse value and expect exactly the NULL-terminated patterns in want. */
static void
expect_patterns(const char *value, const char *const *want)
{
	struct strv out;
	struct err err;
	size_t n = 0;

	strv_init(&out);
	err_clear(&err);
	if (exclude_parse(value, &out, &err) != 0)
		fail_msg("exclude_parse(%s) failed: %s", value, err.msg);
	assert_false(err_isset(&err));
	for (; want[n] != NULL; n++) {
		assert_true(n < out.n);
		assert_string_equal(out.v[n], want[n]);
	}
	assert_int_equal(out.n, n);
	strv_free(&out);
}

/* Parse value, expect failure with a message containing want, out untouched. */
static void
expect_error(const char *value, const char *want)
{
	struct strv out;
	struct err err;

	strv_init(&out);
	strv_push(&out, "keep");
	err_clear(&err);
	assert_int_equal(exclude_parse(value, &out, &err), -1);
	if (strstr(err.msg, want) == NULL)
		fail_msg("exclude_parse(%s): '%s' does not contain '%s'", value, err.msg, want);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0], "keep");
	strv_free(&out);
}

static void
test_quoted_list(void **state)
{
	(void)state;
	expect_patterns("\"/proc/**\",\"/sys/**\",\"/dev/**\"",
	                (const char *const[]){ "/proc/**", "/sys/**", "/dev/**", NULL });
	expect_patterns("'/a', \"/b\"", (const char *const[]){ "/a", "/b", NULL });
	expect_patterns("  \"/a\"  ,\n\t\"/b\"\n", (const char *const[]){ "/a", "/b", NULL });
	/* Python allows a trailing comma. */
	expect_patterns("\"/a\",\"/b\",", (const char *const[]){ "/a", "/b", NULL });
	expect_patterns("\"/a\" , \n", (const char *const[]){ "/a", NULL });
	/* Quotes of the other kind, commas and spaces are data inside quotes. */
	expect_patterns("\"it's\",'say \"hi\"','a,b c'",
	                (const char *const[]){ "it's", "say \"hi\"", "a,b c", NULL });
}

static void
test_escapes(void **state)
{
	(void)state;
	expect_patterns("\"a\\\\b\"", (const char *const[]){ "a\\b", NULL });
	expect_patterns("\"a\\\"b\"", (const char *const[]){ "a\"b", NULL });
	expect_patterns("'a\\'b'", (const char *const[]){ "a'b", NULL });
	expect_patterns("\"a\\'b\"", (const char *const[]){ "a'b", NULL });
	/* Any other escape is kept as written, backslash included. */
	expect_patterns("\"*\\.bak\",\"\\n\"", (const char *const[]){ "*\\.bak", "\\n", NULL });
}

static void
test_empty(void **state)
{
	(void)state;
	expect_patterns("", (const char *const[]){ NULL });
	expect_patterns("   \n\t ", (const char *const[]){ NULL });
	/* An empty item adds nothing: exclude_list = "" means no exclusion. */
	expect_patterns("\"\"", (const char *const[]){ NULL });
	expect_patterns("\"/a\",'',\"/b\"", (const char *const[]){ "/a", "/b", NULL });
}

static void
test_null_value(void **state)
{
	struct strv out;
	struct err err;

	(void)state;
	strv_init(&out);
	err_clear(&err);
	assert_int_equal(exclude_parse(NULL, &out, &err), 0);
	assert_int_equal(out.n, 0);
}

static void
test_appends(void **state)
{
	struct strv out;
	struct err err;

	(void)state;
	strv_init(&out);
	strv_push(&out, "--first");
	err_clear(&err);
	assert_int_equal(exclude_parse("\"/x\"", &out, &err), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0], "--first");
	assert_string_equal(out.v[1], "/x");
	assert_null(out.v[2]);
	strv_free(&out);
}

static void
test_quoted_errors(void **state)
{
	(void)state;
	expect_error("\"/a", "unterminated double quote starting at character 1");
	expect_error("\"/a\",'/b", "unterminated single quote starting at character 6");
	expect_error("\"/a\\\"", "unterminated double quote starting at character 1");
	expect_error("\"/a\" \"/b\"", "expected ',' at character 6, found '\"'");
	expect_error("\"/a\"x", "expected ',' at character 5, found 'x'");
	expect_error("/proc/**", "unexpected '/' at character 1: patterns must be quoted");
	expect_error("\"/a\",/b", "unexpected '/' at character 6");
	expect_error(",\"/a\"", "unexpected ',' at character 1");
	expect_error("\"/a\",,\"/b\"", "unexpected ',' at character 6");
	expect_error("[\"/a\"]", "unexpected '[' at character 1");
	/* Python code is data, not code. */
	expect_error("__import__('os').system('id')", "unexpected '_' at character 1");
	expect_error("\"/a\"\x01", "found byte 0x01");
}

static void
test_legacy(void **state)
{
	(void)state;
	expect_patterns("--exclude /proc --exclude=/sys",
	                (const char *const[]){ "/proc", "/sys", NULL });
	expect_patterns("  --exclude=\"/a*\"  --exclude '/c'\n--exclude \"/d\"",
	                (const char *const[]){ "/a*", "/c", "/d", NULL });
	/* A quote inside the pattern is kept. */
	expect_patterns("--exclude=a\"b", (const char *const[]){ "a\"b", NULL });
	expect_patterns("--exclude=*.tmp --exclude\t*~",
	                (const char *const[]){ "*.tmp", "*~", NULL });
}

static void
test_legacy_errors(void **state)
{
	(void)state;
	expect_error("--exclude", "'--exclude' at character 1 has no pattern");
	expect_error("--exclude /a --exclude   ", "'--exclude' at character 14 has no pattern");
	expect_error("--exclude --exclude=/a", "'--exclude' at character 1 has no pattern");
	expect_error("--exclude=", "empty pattern at character 1");
	expect_error("--exclude=\"\"", "empty pattern at character 1");
	expect_error("--exclude /a /b", "unexpected '/b' at character 14");
	expect_error("-v --exclude /a", "unexpected '-v' at character 1");
	expect_error("--excludes=/a --exclude /b", "unexpected '--excludes=/a' at character 1");
	expect_error("--exclude=\"/a", "unbalanced quote in the pattern at character 1");
	expect_error("--exclude /a'", "unbalanced quote in the pattern at character 11");
	/* Words split on whitespace, so a quoted pattern cannot hold a space. */
	expect_error("--exclude=\"/a b\"", "unbalanced quote in the pattern at character 1");
}

static void
test_form_detection(void **state)
{
	(void)state;
	/* A quoted list stays a quoted list even if a pattern mentions --exclude. */
	expect_patterns("\"/data/--exclude\"", (const char *const[]){ "/data/--exclude", NULL });
	expect_error("\"/a\" --exclude /b", "expected ',' at character 6");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_list),    cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_empty),          cmocka_unit_test(test_null_value),
		cmocka_unit_test(test_appends),        cmocka_unit_test(test_quoted_errors),
		cmocka_unit_test(test_legacy),         cmocka_unit_test(test_legacy_errors),
		cmocka_unit_test(test_form_detection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
