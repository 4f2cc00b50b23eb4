/*
 * Libraries opened on first use (util/dynlib.c): symbols resolved into
 * their slots, and messages that name what to install when a library or
 * a symbol is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/dynlib.h"

static void
test_resolves(void **state)
{
	static const char *const names[] = { "libnope-tisbackup.so.9", "libc.so.6", NULL };
	size_t (*len)(const char *) = NULL;
	const struct dynsym syms[] = { { "strlen", &len }, { NULL, NULL } };
	struct err err = { 0 };

	(void)state;
	assert_int_equal(dynlib_open("libc", "libc6", names, syms, &err), 0);
	assert_non_null(len);
	assert_int_equal(len("abc"), 3);
}

static void
test_missing_library(void **state)
{
	static const char *const names[] = { "libnope-tisbackup.so.9", "libnope.so.1", NULL };
	void (*f)(void) = NULL;
	const struct dynsym syms[] = { { "f", &f }, { NULL, NULL } };
	struct err err = { 0 };

	(void)state;
	assert_int_equal(dynlib_open("libnope", "the package libnope1", names, syms, &err), -1);
	assert_string_equal(err.msg, "cannot load libnope (tried libnope-tisbackup.so.9, "
	                             "libnope.so.1): install the package libnope1");
	assert_null(f);
}

static void
test_missing_symbol(void **state)
{
	static const char *const names[] = { "libc.so.6", NULL };
	void (*f)(void) = NULL;
	const struct dynsym syms[] = { { "no_such_function_in_libc", &f }, { NULL, NULL } };
	struct err err = { 0 };

	(void)state;
	assert_int_equal(dynlib_open("libc", "libc6", names, syms, &err), -1);
	assert_non_null(strstr(err.msg, "libc lacks no_such_function_in_libc"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolves),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_missing_symbol),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
