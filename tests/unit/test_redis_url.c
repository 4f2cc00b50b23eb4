/*
 * Unit tests for redis_url.c: a table of URLs and what each must give
 * (host, port, db, the AUTH user and password), the way redis-cli -u reads
 * them, plus the errors (which name the part, never the password).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_url.h"

struct url_case {
	const char *url;
	const char *host;
	int port, db;
	const char *user, *password; /* NULL: none */
};

static void
assert_str_or_null(const char *got, const char *want, const char *url)
{
	if (want == NULL && got != NULL)
		fail_msg("%s: expected nothing, got '%s'", url, got);
	if (want != NULL && (got == NULL || strcmp(got, want) != 0))
		fail_msg("%s: expected '%s', got '%s'", url, want, got != NULL ? got : "(null)");
}

static void
test_good(void **state)
{
	static const struct url_case cases[] = {
		{ "redis://h", "h", 6379, 0, NULL, NULL },
		{ "redis://h/", "h", 6379, 0, NULL, NULL },
		{ "redis://127.0.0.1:6380/3", "127.0.0.1", 6380, 3, NULL, NULL },
		{ "REDIS://h:1/0", "h", 1, 0, NULL, NULL },
		{ "redis://[::1]:6390/2", "::1", 6390, 2, NULL, NULL },
		{ "redis://[::1]", "::1", 6379, 0, NULL, NULL },
		/* the default user: AUTH PASSWORD */
		{ "redis://:secret@h", "h", 6379, 0, NULL, "secret" },
		{ "redis://secret@h:7000", "h", 7000, 0, NULL, "secret" },
		/* an ACL user: AUTH alice secret */
		{ "redis://alice:secret@h", "h", 6379, 0, "alice", "secret" },
		{ "redis://alice:secret@[::1]:7/9", "::1", 7, 9, "alice", "secret" },
		/* '@', '/' and ':' in a password, percent-encoded or raw */
		{ "redis://alice:p%40ss%2Fw%3a@h/1", "h", 6379, 1, "alice", "p@ss/w:" },
		{ "redis://alice:p@ss/w:@h:6380/1", "h", 6380, 1, "alice", "p@ss/w:" },
		{ "redis://:a@b@c/d@h/4", "h", 6379, 4, NULL, "a@b@c/d" },
		{ "redis://al%69ce:x%25y@h", "h", 6379, 0, "alice", "x%y" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct url_case *c = &cases[i];
		struct redis_url u;
		struct err err;

		err_clear(&err);
		if (redis_url_parse(c->url, &u, &err) != 0)
			fail_msg("%s: %s", c->url, err.msg);
		assert_str_or_null(u.host, c->host, c->url);
		assert_int_equal(u.port, c->port);
		assert_int_equal(u.db, c->db);
		assert_str_or_null(u.user, c->user, c->url);
		assert_str_or_null(u.password, c->password, c->url);
		redis_url_free(&u);
		assert_null(u.host);
		assert_null(u.password);
	}
}

static void
test_bad(void **state)
{
	static const struct {
		const char *url, *reason;
	} cases[] = {
		{ "http://h", "expected redis://" },
		{ "redis://", "no host" },
		{ "redis://:6379/0", "no host" },
		{ "redis://h:x", "bad port 'x'" },
		{ "redis://h:", "bad port ''" },
		{ "redis://h:0", "bad port '0'" },
		{ "redis://h:65536", "bad port '65536'" },
		{ "redis://h:80x/0", "bad port '80x'" },
		{ "redis://h:-1", "bad port '-1'" },
		{ "redis://h: 80", "bad port ' 80'" },
		{ "redis://h:99999999999999999999", "bad port" },
		{ "redis://h/x", "bad database number 'x'" },
		{ "redis://h/-1", "bad database number '-1'" },
		{ "redis://h/1x", "bad database number '1x'" },
		{ "redis://h/99999999999", "bad database number" },
		{ "redis://[::1", "expected ']'" },
		{ "redis://[::1]x", "expected ':PORT'" },
		{ "redis://alice:@h", "user 'alice' without a password" },
		{ "redis://:topsecret%4@h", "bad percent-encoding in the password" },
		{ "redis://:topsecret%zz@h", "bad percent-encoding in the password" },
		{ "redis://:topsecret%00@h", "bad percent-encoding in the password" },
		{ "redis://al%g1:topsecret@h", "bad percent-encoding in the user name" },
		{ "redis://alice:topsecret@h:x/0", "bad port 'x'" },
		{ "redis://alice:topsecret@h/db", "bad database number 'db'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct redis_url u;
		struct err err;

		err_clear(&err);
		if (redis_url_parse(cases[i].url, &u, &err) != -1)
			fail_msg("%s: accepted", cases[i].url);
		if (strstr(err.msg, cases[i].reason) == NULL)
			fail_msg("%s: '%s' not in '%s'", cases[i].url, cases[i].reason, err.msg);
		if (strstr(err.msg, "topsecret") != NULL)
			fail_msg("%s: the password is in '%s'", cases[i].url, err.msg);
		assert_null(u.host);
		assert_null(u.user);
		assert_null(u.password);
	}
}

static void
test_redact(void **state)
{
	static const char *const cases[][2] = {
		{ "redis://h:6379/0", "redis://h:6379/0" },
		{ "redis://:secret@h/1", "redis://:***@h/1" },
		{ "redis://secret@h", "redis://***@h" },
		{ "redis://alice:secret@h:7", "redis://alice:***@h:7" },
		{ "redis://alice:p@ss/w@h/2", "redis://alice:***@h/2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *r = redis_url_redact(cases[i][0]);

		assert_string_equal(r, cases[i][1]);
		free(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_redact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
