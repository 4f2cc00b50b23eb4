/*
 * Bounded buffers, string vectors and error chaining: the limits hold and
 * context reads outermost first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/strv.h"
#include "util/xmalloc.h"

static void
test_buf_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_puts(&b, "abcd"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_putc(&b, 'x'), -1);
	assert_int_equal(buf_printf(&b, "%s", "y"), -1);
	assert_string_equal(buf_str(&b), "abcd1234");
	buf_consume(&b, 4);
	assert_string_equal(buf_str(&b), "1234");
	buf_consume(&b, 99);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* buf_printf() formats in the room left, then grows when it did not fit. */
static void
test_buf_printf_room(void **state)
{
	struct buf b;
	char sixty[61];

	(void)state;
	memset(sixty, 'a', 60);
	sixty[60] = '\0';
	buf_init(&b, 66);
	assert_int_equal(buf_puts(&b, sixty), 0);
	assert_true(b.cap - b.len < 10); /* the next append does not fit the room */
	/* Refused by the limit after a truncated write into the room: unchanged. */
	assert_int_equal(buf_printf(&b, "%s", "0123456789"), -1);
	assert_int_equal(b.len, 60);
	assert_string_equal(buf_str(&b), sixty);
	/* Fits the limit: grown, formatted whole. */
	assert_int_equal(buf_printf(&b, "%d-%s", 12, "xyz"), 0);
	assert_int_equal(b.len, 66);
	assert_string_equal(buf_str(&b) + 60, "12-xyz");
	buf_free(&b);
}

static void
test_buf_grow_and_steal(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(b.len, 10000);
	assert_int_equal(strlen(buf_str(&b)), 10000);
	s = buf_steal(&b);
	assert_int_equal(strlen(s), 10000);
	assert_null(b.data);
	free(s);
}

static void
test_strv(void **state)
{
	struct strv v;

	(void)state;
	strv_init(&v);
	assert_null(strv_argv(&v)[0]);
	strv_push(&v, "rsync");
	strv_pushf(&v, "--bwlimit=%d", 100);
	strv_pushv(&v, (const char *const[]){ "a b", "$(x)", NULL });
	assert_int_equal(v.n, 4);
	assert_string_equal(strv_argv(&v)[1], "--bwlimit=100");
	assert_string_equal(v.v[3], "$(x)");
	assert_null(v.v[4]);
	assert_true(strv_contains(&v, "a b"));
	assert_false(strv_contains(&v, "a"));
	strv_free(&v);
	assert_int_equal(v.n, 0);
}

static void
test_err_chain(void **state)
{
	struct err e;

	(void)state;
	err_clear(&e);
	assert_false(err_isset(&e));
	err_sys(&e, ENOENT, "opening %s", "/x");
	assert_string_equal(e.msg, "opening /x: No such file or directory");
	err_wrap(&e, "[%s] recording result", "job1");
	assert_string_equal(e.msg,
	                    "[job1] recording result: opening /x: No such file or directory");
	err_append_line(&e, "second");
	assert_non_null(strstr(e.msg, "directory\nsecond"));
	err_set(NULL, "ignored");
	err_clear(&e);
	err_wrap(&e, "only context");
	assert_string_equal(e.msg, "only context");
}

static void
test_err_truncates(void **state)
{
	struct err e;
	char big[ERR_MSG_MAX * 2];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	err_set(&e, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	err_wrap(&e, "ctx");
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "ctx: ", 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),     cmocka_unit_test(test_buf_grow_and_steal),
		cmocka_unit_test(test_strv),          cmocka_unit_test(test_err_chain),
		cmocka_unit_test(test_err_truncates), cmocka_unit_test(test_buf_printf_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
