/*
 * Tests for web/auth.c: argon2id hashing and verification, the users
 * file (round trip, comments kept, mode 0600, malformed lines named by
 * file:line), sessions (idle expiry with an injected clock, logout,
 * deleted users, the cap), CSRF tokens, the login rate limit, Basic
 * header decoding and the trusted-proxy check. Hashes use a tiny argon2
 * cost so the suite stays fast.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "guiconf.h"
#include "log.h"
#include "util/xmalloc.h"
#include "web/auth.h"

static char dir[TB_TMPDIR_MAX];
static char users[sizeof dir + 16];
static char ini[sizeof dir + 16];

static void
put(const char *path, const char *content)
{
	int fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static char *
slurp(const char *path)
{
	char *data = xcalloc(1, 65536);
	ssize_t n;
	int fd;

	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	n = read(fd, data, 65535);
	close(fd);
	assert_true(n >= 0);
	return data;
}

/* A struct auth over the test's users file; extra is appended to [auth]. */
static struct auth *
new_auth(const char *extra)
{
	struct guiconf *gc;
	struct auth *a;
	struct err err;
	char *text = xasprintf("[web]\nsession_timeout = 600\n[auth]\nusers_file = %s\n"
	                       "login_max_failures = 3\nlogin_window = 60\n%s",
	                       users, extra != NULL ? extra : "");

	put(ini, text);
	free(text);
	err_clear(&err);
	if (guiconf_load(ini, 0, &gc, &err) == -1)
		fail_msg("guiconf: %s", err.msg);
	if (auth_new(gc, &a, &err) == -1)
		fail_msg("auth_new: %s", err.msg);
	guiconf_free(gc);
	return a;
}

static void
add(const char *name, const char *pw, enum auth_role role)
{
	struct err err;

	err_clear(&err);
	if (auth_user_set(users, name, pw, role, 1, &err) == -1)
		fail_msg("add %s: %s", name, err.msg);
}

static void
test_names_and_roles(void **state)
{
	enum auth_role r;

	(void)state;
	assert_true(auth_user_name_ok("alice"));
	assert_true(auth_user_name_ok("a.b-c_d@example.org"));
	assert_true(
	    auth_user_name_ok("0123456789012345678901234567890123456789012345678901234567890123"));
	assert_false(
	    auth_user_name_ok("01234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(auth_user_name_ok(""));
	assert_false(auth_user_name_ok(NULL));
	assert_false(auth_user_name_ok("a:b"));
	assert_false(auth_user_name_ok("a b"));
	assert_false(auth_user_name_ok("é"));
	assert_int_equal(auth_role_parse("admin", &r), 0);
	assert_int_equal(r, AUTH_ROLE_ADMIN);
	assert_int_equal(auth_role_parse("viewer", &r), 0);
	assert_int_equal(r, AUTH_ROLE_VIEWER);
	assert_int_equal(auth_role_parse("root", &r), -1);
	assert_int_equal(auth_role_parse("none", &r), -1);
	assert_string_equal(auth_role_name(AUTH_ROLE_ADMIN), "admin");
	assert_string_equal(auth_role_name(AUTH_ROLE_VIEWER), "viewer");
	assert_string_equal(auth_role_name(AUTH_ROLE_NONE), "none");
}

static void
test_hash_and_verify(void **state)
{
	char sid[AUTH_ID_LEN + 1];
	struct auth_identity id;
	struct auth *a;
	char *data;

	(void)state;
	add("alice", "correct horse", AUTH_ROLE_ADMIN);
	data = slurp(users);
	assert_non_null(strstr(data, "alice:admin:$argon2id$v=19$m=8,t=1,p=1$"));
	assert_null(strstr(data, "correct horse"));
	free(data);
	a = new_auth(NULL);
	assert_int_equal(auth_nusers(a), 1);
	assert_int_equal(auth_login(a, "127.0.0.1", "alice", "correct horse", 1000, sid, &id),
	                 AUTH_OK);
	assert_string_equal(id.user, "alice");
	assert_int_equal(id.role, AUTH_ROLE_ADMIN);
	assert_int_equal(strlen(sid), AUTH_ID_LEN);
	assert_int_equal(strlen(id.csrf), AUTH_ID_LEN);
	assert_string_not_equal(sid, id.csrf);
	assert_int_equal(auth_login(a, "127.0.0.1", "alice", "correct horsf", 1000, sid, &id),
	                 AUTH_DENIED);
	assert_string_equal(sid, "");
	assert_string_equal(id.user, "");
	assert_int_equal(auth_login(a, "127.0.0.2", "nobody", "correct horse", 1000, sid, &id),
	                 AUTH_DENIED);
	assert_int_equal(auth_login(a, "127.0.0.3", "bad name", "x", 1000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "127.0.0.4", NULL, NULL, 1000, sid, &id), AUTH_DENIED);
	auth_free(a);
}

static void
test_users_file_round_trip(void **state)
{
	struct stat st;
	struct err err;
	char *data;
	struct auth_users u;

	(void)state;
	put(users, "# web users\n\n");
	add("alice", "password1", AUTH_ROLE_ADMIN);
	add("bob", "password2", AUTH_ROLE_NONE); /* add's default: viewer */
	assert_int_equal(stat(users, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	err_clear(&err);
	/* passwd keeps the role when given none, changes it when given one */
	assert_int_equal(auth_user_set(users, "bob", "password3", AUTH_ROLE_NONE, 0, &err), 0);
	assert_int_equal(auth_user_count(users, &err), 2);
	data = slurp(users);
	assert_int_equal(strncmp(data, "# web users\n\nalice:admin:$argon2id$", 35), 0);
	assert_non_null(strstr(data, "\nbob:viewer:$argon2id$"));
	assert_int_equal(auth_users_parse("u", data, strlen(data), &u, &err), 0);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.v[1].line, 4);
	auth_users_free(&u);
	free(data);
	assert_int_equal(auth_user_set(users, "bob", "password3", AUTH_ROLE_ADMIN, 0, &err), 0);
	data = slurp(users);
	assert_non_null(strstr(data, "\nbob:admin:$argon2id$"));
	free(data);
	assert_int_equal(auth_user_del(users, "alice", &err), 0);
	data = slurp(users);
	assert_int_equal(strncmp(data, "# web users\n\nbob:admin:", 23), 0);
	assert_null(strstr(data, "alice"));
	free(data);
	assert_int_equal(stat(users, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* no temporary file left behind */
	data = xasprintf("%s.tmp", users);
	assert_int_equal(access(data, F_OK), -1);
	free(data);
}

static void
test_add_twice_del_missing(void **state)
{
	struct err err;

	(void)state;
	unlink(users);
	err_clear(&err);
	assert_int_equal(auth_user_count(users, &err), 0);
	add("carol", "password1", AUTH_ROLE_VIEWER);
	assert_int_equal(auth_user_set(users, "carol", "password2", AUTH_ROLE_ADMIN, 1, &err), -1);
	assert_int_equal(err.code, EEXIST);
	assert_non_null(strstr(err.msg, "carol"));
	assert_non_null(strstr(err.msg, users));
	assert_int_equal(auth_user_del(users, "dave", &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "dave"));
	assert_int_equal(auth_user_set(users, "dave", "password2", AUTH_ROLE_NONE, 0, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_int_equal(auth_user_set(users, "bad:name", "password2", AUTH_ROLE_NONE, 1, &err),
	                 -1);
	assert_int_equal(auth_user_count(users, &err), 1);
}

static void
test_malformed_lines(void **state)
{
	static const char bad[] =
	    "ok:admin:$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA\n" /* 1 */
	    "nocolon\n"                                                     /* 2 */
	    "bad name:admin:$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA\n"     /* 3 */
	    "x:root:$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA\n"             /* 4 */
	    "y:viewer:plaintext-password\n"                                 /* 5 */
	    "  # indented comment\n"                                        /* 6 */
	    "ok:viewer:$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA\n"          /* 7 */
	    "z:viewer:$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA\n"            /* 8 */
	    "w:viewer\n";                                                   /* 9 */
	static const char crlf[] = "a:admin:$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA\r\n"
	                           "b:viewer:$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA";
	struct auth_users u;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(auth_users_parse("users", bad, sizeof bad - 1, &u, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(u.n, 0);
	assert_null(strstr(err.msg, "users:1:"));
	assert_non_null(strstr(err.msg, "users:2: expected NAME:ROLE:HASH"));
	assert_non_null(strstr(err.msg, "users:3: bad user name"));
	assert_non_null(strstr(err.msg, "users:4: bad role"));
	assert_non_null(strstr(err.msg, "users:5: bad password hash"));
	assert_null(strstr(err.msg, "plaintext-password")); /* a line is never quoted */
	assert_null(strstr(err.msg, "users:6:"));
	assert_non_null(strstr(err.msg, "users:7: user listed twice"));
	assert_non_null(strstr(err.msg, "users:8: bad password hash"));
	assert_non_null(strstr(err.msg, "users:9: expected NAME:ROLE:HASH"));
	/* NUL byte, CRLF endings, no final newline */
	assert_int_equal(auth_users_parse("u", "a:admin:x\0y\n", 12, &u, &err), -1);
	assert_non_null(strstr(err.msg, "u:1: NUL byte"));
	assert_int_equal(auth_users_parse("u", crlf, sizeof crlf - 1, &u, &err), 0);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.v[0].hash, "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA");
	assert_string_equal(u.v[1].name, "b");
	assert_int_equal(u.v[1].role, AUTH_ROLE_VIEWER);
	assert_ptr_equal(auth_users_find(&u, "b"), &u.v[1]);
	assert_null(auth_users_find(&u, "c"));
	auth_users_free(&u);
	/* the commands refuse to rewrite a bad file, and auth_new refuses to start */
	put(users, bad);
	assert_int_equal(auth_user_set(users, "new", "password1", AUTH_ROLE_VIEWER, 1, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(auth_user_count(users, &err), -1);
	{
		char *data = slurp(users);

		assert_string_equal(data, bad);
		free(data);
	}
	unlink(users);
}

static void
test_sessions_expire(void **state)
{
	char sid[AUTH_ID_LEN + 1], sid2[AUTH_ID_LEN + 1];
	struct auth_identity id;
	struct err err;
	struct auth *a;

	(void)state;
	unlink(users);
	add("erin", "password1", AUTH_ROLE_VIEWER);
	add("frank", "password2", AUTH_ROLE_ADMIN);
	a = new_auth(NULL);
	assert_int_equal(auth_login(a, "::1", "erin", "password1", 1000, sid, &id), AUTH_OK);
	assert_int_equal(auth_login(a, "::1", "frank", "password2", 1000, sid2, &id), AUTH_OK);
	memset(&id, 0, sizeof id);
	assert_int_equal(auth_session(a, sid, 1600, &id), 1); /* idle 600 = timeout: still ok */
	assert_string_equal(id.user, "erin");
	assert_int_equal(id.role, AUTH_ROLE_VIEWER);
	assert_int_equal(strlen(id.csrf), AUTH_ID_LEN);
	assert_int_equal(auth_session(a, sid, 2200, &id), 1); /* refreshed at 1600 */
	assert_int_equal(auth_session(a, sid, 2801, &id), 0); /* idle 601 */
	assert_string_equal(id.user, "");
	assert_int_equal(auth_session(a, sid, 2801, &id), 0); /* and it is gone */
	/* frank: logout ends it */
	assert_int_equal(auth_session(a, sid2, 1500, &id), 1);
	auth_logout(a, sid2);
	auth_logout(a, sid2);
	auth_logout(a, "garbage");
	auth_logout(a, NULL);
	assert_int_equal(auth_session(a, sid2, 1500, &id), 0);
	/* malformed ids */
	assert_int_equal(auth_session(a, NULL, 1500, &id), 0);
	assert_int_equal(auth_session(a, "", 1500, &id), 0);
	assert_int_equal(auth_session(a, "short", 1500, &id), 0);
	/* a role change applies to a live session; deleting the user ends it */
	assert_int_equal(auth_login(a, "::1", "erin", "password1", 3000, sid, &id), AUTH_OK);
	err_clear(&err);
	assert_int_equal(auth_user_set(users, "erin", "password1", AUTH_ROLE_ADMIN, 0, &err), 0);
	assert_int_equal(auth_session(a, sid, 3001, &id), 1);
	assert_int_equal(id.role, AUTH_ROLE_ADMIN);
	assert_int_equal(auth_user_del(users, "erin", &err), 0);
	assert_int_equal(auth_nusers(a), 1);
	assert_int_equal(auth_session(a, sid, 3002, &id), 0);
	/* a user added while serving can log in */
	add("gina", "password3", AUTH_ROLE_VIEWER);
	assert_int_equal(auth_login(a, "::1", "gina", "password3", 3003, sid, &id), AUTH_OK);
	auth_free(a);
}

static void
test_session_cap(void **state)
{
	char first[AUTH_ID_LEN + 1], sid[AUTH_ID_LEN + 1];
	struct auth_identity id;
	struct auth *a;

	(void)state;
	unlink(users);
	add("hank", "password1", AUTH_ROLE_VIEWER);
	a = new_auth(NULL);
	assert_int_equal(auth_login(a, "::1", "hank", "password1", 1000, first, &id), AUTH_OK);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(auth_login(a, "::1", "hank", "password1", 1001, sid, &id),
		                 AUTH_OK);
	assert_int_equal(auth_session(a, first, 1002, &id), 0); /* the oldest was evicted */
	assert_int_equal(auth_session(a, sid, 1002, &id), 1);
	auth_free(a);
}

static void
test_csrf(void **state)
{
	struct auth_identity id;
	char token[AUTH_ID_LEN + 1];
	char sid[AUTH_ID_LEN + 1];
	struct auth *a;

	(void)state;
	unlink(users);
	add("ivan", "password1", AUTH_ROLE_ADMIN);
	a = new_auth(NULL);
	assert_int_equal(auth_login(a, "::1", "ivan", "password1", 1000, sid, &id), AUTH_OK);
	memcpy(token, id.csrf, sizeof token);
	assert_true(auth_csrf_ok(&id, token));
	token[5] = token[5] == 'A' ? 'B' : 'A';
	assert_false(auth_csrf_ok(&id, token));
	assert_false(auth_csrf_ok(&id, ""));
	assert_false(auth_csrf_ok(&id, NULL));
	memcpy(token, id.csrf, sizeof token);
	token[AUTH_ID_LEN - 1] = '\0';
	assert_false(auth_csrf_ok(&id, token));
	/* the session gives back the same token */
	memcpy(token, id.csrf, sizeof token);
	assert_int_equal(auth_session(a, sid, 1001, &id), 1);
	assert_string_equal(id.csrf, token);
	/* Basic/proxy identities have no token: nothing matches */
	id.csrf[0] = '\0';
	assert_false(auth_csrf_ok(&id, ""));
	assert_false(auth_csrf_ok(&id, token));
	auth_free(a);
}

static void
test_rate_limit(void **state)
{
	char sid[AUTH_ID_LEN + 1];
	struct auth_identity id;
	struct auth *a;

	(void)state;
	unlink(users);
	add("judy", "password1", AUTH_ROLE_VIEWER);
	add("kim", "password2", AUTH_ROLE_VIEWER);
	a = new_auth(NULL); /* 3 failures within 60 s */
	/* per user, from different addresses */
	assert_int_equal(auth_login(a, "10.0.0.1", "judy", "wrong", 1000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.0.0.2", "judy", "wrong", 1001, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.0.0.3", "judy", "wrong", 1002, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.0.0.4", "judy", "password1", 1003, sid, &id),
	                 AUTH_LIMITED);
	assert_string_equal(sid, "");
	assert_int_equal(auth_login(a, "10.0.0.4", "kim", "password2", 1003, sid, &id), AUTH_OK);
	/* the window passes (counted from the first failure) */
	assert_int_equal(auth_login(a, "10.0.0.4", "judy", "password1", 1059, sid, &id),
	                 AUTH_LIMITED);
	assert_int_equal(auth_login(a, "10.0.0.4", "judy", "password1", 1060, sid, &id), AUTH_OK);
	/* per address, whatever the user names */
	assert_int_equal(auth_login(a, "192.0.2.9", "u1", "x", 2000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "192.0.2.9", "u2", "x", 2000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "192.0.2.9", "not valid", "x", 2000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "192.0.2.9", "kim", "password2", 2000, sid, &id),
	                 AUTH_LIMITED);
	/* the same address written as IPv4-mapped IPv6 is the same client */
	assert_int_equal(auth_login(a, "::ffff:192.0.2.9", "kim", "password2", 2000, sid, &id),
	                 AUTH_LIMITED);
	assert_int_equal(auth_login(a, "192.0.2.10", "kim", "password2", 2000, sid, &id), AUTH_OK);
	/* a success resets the user's counter */
	assert_int_equal(auth_login(a, "10.1.0.1", "kim", "wrong", 3000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.1.0.2", "kim", "wrong", 3000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.1.0.3", "kim", "password2", 3000, sid, &id), AUTH_OK);
	assert_int_equal(auth_login(a, "10.1.0.4", "kim", "wrong", 3001, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.1.0.5", "kim", "wrong", 3001, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.1.0.6", "kim", "password2", 3001, sid, &id), AUTH_OK);
	/* Basic counts too */
	assert_int_equal(auth_basic(a, "10.2.0.1", "Basic anVkeTp3cm9uZw==", 4000, &id),
	                 AUTH_DENIED); /* judy:wrong */
	assert_int_equal(auth_basic(a, "10.2.0.1", "Basic anVkeTp3cm9uZw==", 4000, &id),
	                 AUTH_DENIED);
	assert_int_equal(auth_basic(a, "10.2.0.1", "Basic anVkeTp3cm9uZw==", 4000, &id),
	                 AUTH_DENIED);
	assert_int_equal(auth_basic(a, "10.2.0.2", "Basic anVkeTpwYXNzd29yZDE=", 4000, &id),
	                 AUTH_LIMITED);
	/* many distinct addresses: memory stays bounded and nothing breaks */
	for (int i = 0; i < 5000; i++) {
		char ip[32], name[32];

		snprintf(ip, sizeof ip, "10.%d.%d.1", 100 + i / 256, i % 256);
		snprintf(name, sizeof name, "n%d", i);
		assert_int_equal(auth_login(a, ip, name, "x", 5000, sid, &id), AUTH_DENIED);
	}
	/* the table was recycled, yet a client still trips the limit */
	assert_int_equal(auth_login(a, "10.3.0.1", "kim", "x", 5000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.3.0.1", "kim", "x", 5000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.3.0.1", "kim", "x", 5000, sid, &id), AUTH_DENIED);
	assert_int_equal(auth_login(a, "10.3.0.1", "kim", "password2", 5000, sid, &id),
	                 AUTH_LIMITED);
	auth_free(a);
}

static void
test_basic_decode(void **state)
{
	char user[65], pass[AUTH_BASIC_MAX];
	char huge[AUTH_BASIC_MAX + 64];

	(void)state;
	/* alice:s3cr:et (the password may hold colons) */
	assert_int_equal(
	    auth_basic_decode("Basic YWxpY2U6czNjcjpldA==", user, sizeof user, pass, sizeof pass),
	    0);
	assert_string_equal(user, "alice");
	assert_string_equal(pass, "s3cr:et");
	assert_int_equal(auth_basic_decode("  basic \tYWxpY2U6czNjcjpldA  ", user, sizeof user,
	                                   pass, sizeof pass),
	                 0); /* case, spaces, padding optional */
	assert_string_equal(pass, "s3cr:et");
	assert_int_equal(auth_basic_decode("Basic YWxpY2U6", user, sizeof user, pass, sizeof pass),
	                 0);
	assert_string_equal(user, "alice");
	assert_string_equal(pass, "");
	/* malformed */
	assert_int_equal(auth_basic_decode("Bearer YWxpY2U6eA==", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("BasicYWxpY2U6eA==", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic ", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic !!!!", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic YWxp=Y2U6eA==", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic YWxpY2U6eA==x", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic Y", user, 65, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic YWxpY2U=", user, 65, pass, 64), -1); /* alice */
	assert_int_equal(auth_basic_decode("Basic YQBiOmM=", user, 65, pass, 64), -1); /* a\0b:c */
	assert_int_equal(auth_basic_decode(NULL, user, 65, pass, 64), -1);
	/* user longer than its buffer */
	assert_int_equal(auth_basic_decode("Basic YWxpY2U6eA==", user, 5, pass, 64), -1);
	assert_int_equal(auth_basic_decode("Basic YWxpY2U6eA==", user, 6, pass, 64), 0);
	assert_int_equal(auth_basic_decode("Basic YWxpY2U6eA==", user, 6, pass, 1), -1);
	/* a huge header is refused, not decoded */
	memcpy(huge, "Basic ", 6);
	memset(huge + 6, 'Q', sizeof huge - 7);
	huge[sizeof huge - 1] = '\0';
	assert_int_equal(auth_basic_decode(huge, user, sizeof user, pass, sizeof pass), -1);
}

static void
test_basic_auth(void **state)
{
	struct auth_identity id;
	struct auth *a;

	(void)state;
	unlink(users);
	add("alice", "password1", AUTH_ROLE_ADMIN);
	a = new_auth(NULL);
	/* alice:password1 */
	assert_int_equal(auth_basic(a, "127.0.0.1", "Basic YWxpY2U6cGFzc3dvcmQx", 1000, &id),
	                 AUTH_OK);
	assert_string_equal(id.user, "alice");
	assert_int_equal(id.role, AUTH_ROLE_ADMIN);
	assert_string_equal(id.csrf, "");
	/* again (from the cache) */
	assert_int_equal(auth_basic(a, "127.0.0.1", "Basic YWxpY2U6cGFzc3dvcmQx", 1001, &id),
	                 AUTH_OK);
	/* alice:password2 */
	assert_int_equal(auth_basic(a, "127.0.0.1", "Basic YWxpY2U6cGFzc3dvcmQy", 1001, &id),
	                 AUTH_DENIED);
	assert_int_equal(auth_basic(a, "127.0.0.1", "Basic !!", 1001, &id), AUTH_DENIED);
	/* a password change invalidates what was remembered */
	{
		struct err err;

		err_clear(&err);
		assert_int_equal(
		    auth_user_set(users, "alice", "password2", AUTH_ROLE_NONE, 0, &err), 0);
	}
	assert_int_equal(auth_basic(a, "127.0.0.1", "Basic YWxpY2U6cGFzc3dvcmQx", 1002, &id),
	                 AUTH_DENIED);
	assert_int_equal(auth_basic(a, "127.0.0.1", "Basic YWxpY2U6cGFzc3dvcmQy", 1002, &id),
	                 AUTH_OK);
	auth_free(a);
}

static void
test_proxy(void **state)
{
	struct auth_identity id;
	struct auth *a;
	struct guiconf *gc;
	struct err err;

	(void)state;
	unlink(users);
	add("admin1", "password1", AUTH_ROLE_ADMIN);
	a = new_auth(
	    "providers = proxy\ntrusted_proxies = 127.0.0.1, 2001:db8::1 ::ffff:10.9.9.9\n");
	assert_int_equal(auth_proxy(a, "127.0.0.1", "admin1", &id), AUTH_OK);
	assert_string_equal(id.user, "admin1");
	assert_int_equal(id.role, AUTH_ROLE_ADMIN);
	assert_string_equal(id.csrf, "");
	assert_int_equal(auth_proxy(a, "127.0.0.1", "someone", &id), AUTH_OK);
	assert_int_equal(id.role, AUTH_ROLE_VIEWER); /* proxy_default_role */
	/* textual forms are normalized */
	assert_int_equal(auth_proxy(a, "::ffff:127.0.0.1", "someone", &id), AUTH_OK);
	assert_int_equal(auth_proxy(a, "2001:0DB8:0000:0::0001", "someone", &id), AUTH_OK);
	assert_int_equal(auth_proxy(a, "10.9.9.9", "someone", &id), AUTH_OK);
	/* untrusted or unparsable addresses */
	assert_int_equal(auth_proxy(a, "127.0.0.2", "admin1", &id), AUTH_DENIED);
	assert_string_equal(id.user, "");
	assert_int_equal(auth_proxy(a, "2001:db8::2", "admin1", &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, "::1", "admin1", &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, "127.0.0.1 ", "admin1", &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, "localhost", "admin1", &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, NULL, "admin1", &id), AUTH_DENIED);
	/* bad user names */
	assert_int_equal(auth_proxy(a, "127.0.0.1", "", &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, "127.0.0.1", NULL, &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, "127.0.0.1", "a\nb", &id), AUTH_DENIED);
	auth_free(a);
	/* proxy_default_role = none: only users of the file */
	a = new_auth("trusted_proxies = 127.0.0.1\nproxy_default_role = none\n");
	assert_int_equal(auth_proxy(a, "127.0.0.1", "someone", &id), AUTH_DENIED);
	assert_int_equal(auth_proxy(a, "127.0.0.1", "admin1", &id), AUTH_OK);
	auth_free(a);
	/* no trusted proxies: nobody */
	a = new_auth(NULL);
	assert_int_equal(auth_proxy(a, "127.0.0.1", "admin1", &id), AUTH_DENIED);
	auth_free(a);
	/* a bad trusted_proxies entry stops auth_new */
	put(ini, "[auth]\ntrusted_proxies = 127.0.0.1, proxy.example.org\n");
	err_clear(&err);
	assert_int_equal(guiconf_load(ini, 0, &gc, &err), 0);
	assert_int_equal(auth_new(gc, &a, &err), -1);
	assert_non_null(strstr(err.msg, "trusted_proxies"));
	assert_non_null(strstr(err.msg, "proxy.example.org"));
	guiconf_free(gc);
}

static void
test_reload_bad_file_keeps_users(void **state)
{
	char sid[AUTH_ID_LEN + 1];
	struct auth_identity id;
	struct auth *a;

	(void)state;
	unlink(users);
	add("lena", "password1", AUTH_ROLE_ADMIN);
	a = new_auth(NULL);
	assert_int_equal(auth_login(a, "::1", "lena", "password1", 1000, sid, &id), AUTH_OK);
	/* a hand edit breaks the file while serving: the previous users stay */
	put(users, "lena:admin:not-a-hash\n");
	assert_int_equal(auth_nusers(a), 1);
	assert_int_equal(auth_session(a, sid, 1001, &id), 1);
	assert_int_equal(auth_login(a, "::1", "lena", "password1", 1002, sid, &id), AUTH_OK);
	/* the file removed: nobody */
	unlink(users);
	assert_int_equal(auth_nusers(a), 0);
	assert_int_equal(auth_session(a, sid, 1003, &id), 0);
	assert_int_equal(auth_login(a, "::2", "lena", "password1", 1004, sid, &id), AUTH_DENIED);
	auth_free(a);
}

static int
setup(void **state)
{
	(void)state;
	if (tb_tmpdir_make(dir, sizeof dir, "auth") == -1)
		return -1;
	snprintf(users, sizeof users, "%s/users", dir);
	snprintf(ini, sizeof ini, "%s/gui.ini", dir);
	auth_set_hash_cost(1, 8);
	log_set_level(LOG_ERROR);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_roles),
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_users_file_round_trip),
		cmocka_unit_test(test_add_twice_del_missing),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_sessions_expire),
		cmocka_unit_test(test_session_cap),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_basic_decode),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_reload_bad_file_keeps_users),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
