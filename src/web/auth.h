/*
 * Authentication primitives of `serve`, independent of the HTTP library:
 * the users file (argon2id hashes, one user per line), the session store
 * (random ids, idle expiry, a CSRF token per session), login rate
 * limiting, HTTP Basic and trusted-proxy header checks. The HTTP layer
 * (server.c) decides which provider applies to a request; this module
 * answers who the user is and what role they have.
 *
 * Users file format (mode 0600, rewritten atomically):
 *   # comment
 *   NAME:ROLE:$argon2id$v=19$m=...,t=...,p=...$SALT$HASH
 * NAME is [A-Za-z0-9_.@-]{1,64}; ROLE is admin or viewer.
 *
 * Thread-safe: struct auth may be used from every server thread.
 */
#ifndef TB_WEB_AUTH_H
#define TB_WEB_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

struct guiconf;

enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_VIEWER = 1,
	AUTH_ROLE_ADMIN = 2,
};

/* "viewer", "admin", "none". */
const char *auth_role_name(enum auth_role r);
/* "viewer"/"admin" -> role; -1 otherwise. */
int auth_role_parse(const char *s, enum auth_role *out);

#define AUTH_ID_LEN 43 /* base64url of 32 random bytes, no padding */

/* --- users file (also used by `tisbackup user`) --------------------- */

/* 1 if name is a valid user name. */
int auth_user_name_ok(const char *name);
/*
 * Create (create = 1, error if the user exists) or update (create = 0,
 * error if missing; role AUTH_ROLE_NONE keeps the current role) a user,
 * hashing password with argon2id. Creates the file (0600) when missing.
 * Errors name the file and the user. 0 or -1 + err.
 */
int auth_user_set(const char *path, const char *name, const char *password, enum auth_role role,
                  int create, struct err *err);
/* Remove a user; error if missing. 0 or -1 + err. */
int auth_user_del(const char *path, const char *name, struct err *err);
/* Number of users in the file (0 when it does not exist). -1 + err on a bad file. */
int auth_user_count(const char *path, struct err *err);
/*
 * The users of the file in file order into *out (free with
 * auth_users_free; empty when the file does not exist). 0 or -1 + err on
 * an unreadable or bad file.
 */
struct auth_users;
int auth_user_list(const char *path, struct auth_users *out, struct err *err);

/*
 * argon2id cost of new hashes (verification reads the cost from each
 * hash): AUTH_ARGON2_T passes over AUTH_ARGON2_M_KIB KiB with
 * AUTH_ARGON2_P lane, a 16-byte salt from getrandom(2), a 32-byte hash.
 */
#define AUTH_ARGON2_T 3
#define AUTH_ARGON2_M_KIB (64 * 1024)
#define AUTH_ARGON2_P 1
/* Lower the cost of new hashes (tests only; call before any thread starts). */
void auth_set_hash_cost(uint32_t t_cost, uint32_t m_kib);

/* One parsed users-file line. */
struct auth_user {
	char *name;
	enum auth_role role;
	char *hash; /* "$argon2id$..." */
	int line;   /* 1-based line number in the file */
};

/* A parsed users file; owned arrays, freed with auth_users_free(). */
struct auth_users {
	struct auth_user *v;
	size_t n;
};

/*
 * Parse a users file's contents (len bytes, need not be NUL-terminated);
 * file names the source in errors ("file:line: ..."; a line's content is
 * never quoted, it might hold a secret). Every bad line is reported. On
 * success *out holds the users in file order (free with auth_users_free),
 * on failure it is empty. 0 or -1 + err.
 */
int auth_users_parse(const char *file, const char *data, size_t len, struct auth_users *out,
                     struct err *err);
void auth_users_free(struct auth_users *u);
/* The user called name, or NULL. */
const struct auth_user *auth_users_find(const struct auth_users *u, const char *name);

/*
 * Decode an "Authorization: Basic ..." header value into user (at most
 * usize - 1 bytes) and password (at most psize - 1 bytes), both
 * NUL-terminated. -1 for anything malformed: another scheme, bad or
 * overlong base64 (AUTH_BASIC_MAX characters), no colon, a NUL byte, a
 * part too long for its buffer.
 */
#define AUTH_BASIC_MAX 1024
int auth_basic_decode(const char *header, char *user, size_t usize, char *pass, size_t psize);

/* --- the server's state ----------------------------------------------- */

struct auth;

/* Reads gc's users file (reloaded when it changes). 0 or -1 + err. */
int auth_new(const struct guiconf *gc, struct auth **out, struct err *err);
void auth_free(struct auth *a);
/* Number of users currently in the users file (reloaded if it changed). */
size_t auth_nusers(struct auth *a);

enum auth_result {
	AUTH_OK,
	AUTH_DENIED,  /* wrong user or password */
	AUTH_LIMITED, /* too many failures from this address or for this user: 429 */
};

/* What a successful check yields. */
struct auth_identity {
	char user[65];
	enum auth_role role;
	char csrf[AUTH_ID_LEN + 1]; /* session's CSRF token; "" for Basic/proxy */
};

/*
 * Check a login form at time now from client address ip. On AUTH_OK a
 * session is created: sid receives its id (for the cookie), id the user.
 * Failures count towards the rate limit (per address and per user name).
 */
enum auth_result auth_login(struct auth *a, const char *ip, const char *user, const char *password,
                            time_t now, char sid[AUTH_ID_LEN + 1], struct auth_identity *id);
/* The session sid if it exists and is not expired (refreshing it): 1, else 0. */
int auth_session(struct auth *a, const char *sid, time_t now, struct auth_identity *id);
/* End a session (unknown ids are ignored). */
void auth_logout(struct auth *a, const char *sid);
/* Constant-time check of a request's CSRF token against the session's: 1 if equal. */
int auth_csrf_ok(const struct auth_identity *id, const char *token);
/* An "Authorization: Basic ..." header value; same rate limit as auth_login. */
enum auth_result auth_basic(struct auth *a, const char *ip, const char *header, time_t now,
                            struct auth_identity *id);
/*
 * A trusted-proxy header: AUTH_OK only if ip is one of trusted_proxies
 * and user is a valid name; the role is the user's from the users file,
 * else proxy_default_role.
 */
enum auth_result auth_proxy(struct auth *a, const char *ip, const char *user,
                            struct auth_identity *id);

#endif
