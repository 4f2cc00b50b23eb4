/*
 * Authentication primitives of serve (see auth.h): the users file and its
 * atomic rewrites, argon2id hashing, the session store, login rate
 * limiting, HTTP Basic decoding and the trusted-proxy check.
 *
 * One mutex guards the whole struct auth; argon2 runs outside it, at most
 * HASHING_MAX at once (each verification takes AUTH_ARGON2_M_KIB of
 * memory). Sessions live in a hash table plus a least-recently-used list,
 * so expiry and eviction (SESSIONS_MAX) look only at the list's tail.
 * Failed logins are counted per client address and per user name in a
 * bounded table (LIMITS_MAX entries; when full, an expired or the oldest
 * entry is reused). Basic credentials that verified are remembered for
 * BASIC_CACHE_TTL seconds as a keyed cheap argon2id tag of the password,
 * so a script does not pay a full argon2 verification per request.
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "argon2load.h" /* libargon2 loaded on first use: argon2... are its table */
#include "guiconf.h"
#include "log.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"
#include "web/auth.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define HASH_MAX 512              /* longest accepted encoded hash */
#define PASSWORD_MAX 4096         /* longer passwords are refused */
#define USERS_MAX_BYTES (4 << 20) /* a larger users file is refused */
#define SESSIONS_MAX 10000        /* the least recently used is evicted */
#define SESSION_BUCKETS 4096      /* power of two */
#define LIMITS_MAX 4096           /* rate limit counters kept at once */
#define HASHING_MAX 2             /* argon2 computations at once */
#define BASIC_CACHE_MAX 64        /* remembered Basic credentials */
#define BASIC_CACHE_TTL 300       /* seconds */
#define NAME_MAX_LEN 64

static uint32_t hash_t_cost = AUTH_ARGON2_T;
static uint32_t hash_m_kib = AUTH_ARGON2_M_KIB;

void
auth_set_hash_cost(uint32_t t_cost, uint32_t m_kib)
{
	hash_t_cost = t_cost;
	hash_m_kib = m_kib;
}

/* ------------------------------------------------------------ small helpers */

const char *
auth_role_name(enum auth_role r)
{
	switch (r) {
	case AUTH_ROLE_ADMIN:
		return "admin";
	case AUTH_ROLE_VIEWER:
		return "viewer";
	default:
		return "none";
	}
}

int
auth_role_parse(const char *s, enum auth_role *out)
{
	if (s != NULL && strcmp(s, "admin") == 0)
		*out = AUTH_ROLE_ADMIN;
	else if (s != NULL && strcmp(s, "viewer") == 0)
		*out = AUTH_ROLE_VIEWER;
	else
		return -1;
	return 0;
}

static int
name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '@' || c == '-';
}

/* Name check on a counted string. */
static int
name_ok_n(const char *s, size_t n)
{
	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok((unsigned char)s[i]))
			return 0;
	return 1;
}

int
auth_user_name_ok(const char *name)
{
	return name != NULL && name_ok_n(name, strnlen(name, NAME_MAX_LEN + 1));
}

/* Fill p with n random bytes from the kernel. 0 or -1 (errno set). */
static int
fill_random(void *p, size_t n)
{
	unsigned char *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A fresh random id: base64url of 32 random bytes, AUTH_ID_LEN chars. 0 or -1. */
static int
random_id(char out[AUTH_ID_LEN + 1])
{
	unsigned char r[33]; /* 32 random bytes + one zero byte to finish the last group */
	size_t o = 0;

	if (fill_random(r, 32) == -1)
		return -1;
	r[32] = 0;
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];

		for (int k = 18; k >= 0 && o < AUTH_ID_LEN; k -= 6)
			out[o++] = b64url[(v >> k) & 63];
	}
	out[AUTH_ID_LEN] = '\0';
	return 0;
}

static int
id_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < AUTH_ID_LEN; i++)
		if (s[i] == '\0' || strchr(b64url, s[i]) == NULL)
			return 0;
	return s[i] == '\0';
}

/* Constant-time comparison of n bytes. */
static int
ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a;
	const volatile unsigned char *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* Value of a standard base64 character, -1 for anything else. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict standard base64 (padding optional, none inside) of in[0..n) into
 * out (room for outsize bytes). Decoded length or -1.
 */
static long
b64_decode(const char *in, size_t n, unsigned char *out, size_t outsize)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outsize)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

int
auth_basic_decode(const char *header, char *user, size_t usize, char *pass, size_t psize)
{
	unsigned char dec[AUTH_BASIC_MAX];
	const char *p = header;
	const unsigned char *colon;
	size_t n, ulen, plen;
	long len;

	if (header == NULL || usize == 0 || psize == 0)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return -1;
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strnlen(p, AUTH_BASIC_MAX + 1);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n > AUTH_BASIC_MAX)
		return -1;
	len = b64_decode(p, n, dec, sizeof dec);
	if (len <= 0 || memchr(dec, '\0', (size_t)len) != NULL)
		return -1;
	colon = memchr(dec, ':', (size_t)len);
	if (colon == NULL)
		return -1;
	ulen = (size_t)(colon - dec);
	plen = (size_t)len - ulen - 1;
	if (ulen >= usize || plen >= psize)
		return -1;
	memcpy(user, dec, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, plen);
	pass[plen] = '\0';
	explicit_bzero(dec, sizeof dec);
	return 0;
}

/* ------------------------------------------------------------ users file */

void
auth_users_free(struct auth_users *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].name);
		free(u->v[i].hash);
	}
	free(u->v);
	u->v = NULL;
	u->n = 0;
}

const struct auth_user *
auth_users_find(const struct auth_users *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i].name, name) == 0)
			return &u->v[i];
	return NULL;
}

/* The shape of an encoded argon2id hash: prefix, [A-Za-z0-9$=,+/], five '$'. */
static int
hash_ok_n(const char *s, size_t n)
{
	static const char prefix[] = "$argon2id$";
	int dollars = 0;

	if (n < sizeof prefix - 1 || n > HASH_MAX || memcmp(s, prefix, sizeof prefix - 1) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] != '\0' && strchr("$=,+/", s[i]) != NULL)))
			return 0;
		dollars += s[i] == '$';
	}
	return dollars == 5;
}

/* Parse one line (without its newline); 0, or -1 with a reason in *why. */
static int
parse_line(const char *s, size_t n, struct auth_user *u, const char **why)
{
	const char *c1 = memchr(s, ':', n);
	const char *c2;
	char role[8];
	size_t rlen;

	if (c1 == NULL) {
		*why = "expected NAME:ROLE:HASH";
		return -1;
	}
	c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s));
	if (c2 == NULL) {
		*why = "expected NAME:ROLE:HASH";
		return -1;
	}
	if (!name_ok_n(s, (size_t)(c1 - s))) {
		*why = "bad user name (1 to 64 of A-Z a-z 0-9 _ . @ -)";
		return -1;
	}
	rlen = (size_t)(c2 - c1 - 1);
	if (rlen >= sizeof role) {
		*why = "bad role (expected admin or viewer)";
		return -1;
	}
	memcpy(role, c1 + 1, rlen);
	role[rlen] = '\0';
	if (auth_role_parse(role, &u->role) == -1) {
		*why = "bad role (expected admin or viewer)";
		return -1;
	}
	if (!hash_ok_n(c2 + 1, n - (size_t)(c2 + 1 - s))) {
		*why = "bad password hash (expected $argon2id$v=19$m=...,t=...,p=...$SALT$HASH)";
		return -1;
	}
	u->name = xstrndup(s, (size_t)(c1 - s));
	u->hash = xstrndup(c2 + 1, n - (size_t)(c2 + 1 - s));
	return 0;
}

/*
 * Walk the lines of data: calls fn for each line (without "\n" or a
 * trailing "\r"), with its 1-based number. Stops early when fn returns -1.
 */
static void
each_line(const char *data, size_t len, int (*fn)(void *, const char *, size_t, int), void *arg)
{
	size_t pos = 0;
	int line = 0;

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
		size_t m = n;

		line++;
		if (m > 0 && data[pos + m - 1] == '\r')
			m--;
		if (fn(arg, data + pos, m, line) == -1)
			return;
		pos += n + 1;
	}
}

struct parse_ctx {
	const char *file;
	struct auth_users *out;
	struct err *err;
	int bad;
};

static int
blank_or_comment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == n || s[i] == '#';
}

static int
parse_one(void *arg, const char *s, size_t n, int line)
{
	struct parse_ctx *c = arg;
	struct auth_user u = { .line = line };
	const char *why = NULL;

	if (memchr(s, '\0', n) != NULL)
		why = "NUL byte";
	else if (blank_or_comment(s, n))
		return 0;
	else if (parse_line(s, n, &u, &why) == 0 && auth_users_find(c->out, u.name) != NULL) {
		why = "user listed twice";
		free(u.name);
		free(u.hash);
	}
	if (why != NULL) {
		if (c->bad++ < 20)
			err_append_line(c->err, "%s:%d: %s", c->file, line, why);
		return 0;
	}
	c->out->v = xrealloc(c->out->v, (c->out->n + 1) * sizeof *c->out->v);
	c->out->v[c->out->n++] = u;
	return 0;
}

int
auth_users_parse(const char *file, const char *data, size_t len, struct auth_users *out,
                 struct err *err)
{
	struct err e;
	struct parse_ctx c = { .file = file, .out = out, .err = &e };

	out->v = NULL;
	out->n = 0;
	err_clear(&e);
	each_line(data, len, parse_one, &c);
	if (c.bad > 0) {
		if (c.bad > 20)
			err_append_line(&e, "%s: %d more bad lines", file, c.bad - 20);
		err_set(err, "%s", e.msg);
		if (err != NULL)
			err->code = EINVAL;
		auth_users_free(out);
		return -1;
	}
	return 0;
}

/* Read a whole file (at most USERS_MAX_BYTES); ENOENT in err->code when missing. */
static int
read_file(const char *path, char **data, size_t *len, struct stat *st, struct err *err)
{
	struct buf b;
	char chunk[8192];
	ssize_t n;
	int fd;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		err_sys(err, errno, "%s", path);
		if (err != NULL)
			err->code = errno;
		return -1;
	}
	if (st != NULL && fstat(fd, st) == -1) {
		err_sys(err, errno, "%s", path);
		close(fd);
		return -1;
	}
	buf_init(&b, USERS_MAX_BYTES);
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "%s: read", path);
			goto fail;
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) == -1) {
			err_set(err, "%s: larger than %d bytes", path, USERS_MAX_BYTES);
			goto fail;
		}
	}
	close(fd);
	*len = b.len;
	*data = b.data != NULL ? buf_steal(&b) : xstrdup("");
	return 0;
fail:
	close(fd);
	buf_free(&b);
	return -1;
}

/* Write data to path atomically: temp file (0600), fsync, rename, fsync dir. */
static int
write_file_atomic(const char *path, const char *data, size_t len, struct err *err)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd, rc = -1;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		err_sys(err, errno, "creating a temporary file next to %s", path);
		goto out;
	}
	if (fchmod(fd, 0600) == -1) {
		err_sys(err, errno, "%s: chmod", tmp);
		goto fail;
	}
	if (fs_write_all(fd, data, len) == -1) {
		err_sys(err, errno, "%s: write", tmp);
		goto fail;
	}
	if (fsync(fd) == -1) {
		err_sys(err, errno, "%s: fsync", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		err_sys(err, errno, "%s: close", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		err_sys(err, errno, "renaming %s to %s", tmp, path);
		goto fail;
	}
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	rc = fs_fsync_dir(dir, err);
	goto out;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(dir);
	return rc;
}

/* Hash password into a fresh encoded string (caller frees). NULL + err on failure. */
static char *
hash_password(const char *password, struct err *err)
{
	unsigned char salt[SALT_LEN];
	size_t elen;
	char *enc;
	int r;

	if (argon2load(err) == -1)
		return NULL;
	elen = argon2_encodedlen(hash_t_cost, hash_m_kib, AUTH_ARGON2_P, SALT_LEN, HASH_LEN,
	                         Argon2_id);
	enc = xmalloc(elen);
	if (fill_random(salt, sizeof salt) == -1) {
		err_sys(err, errno, "getrandom");
		free(enc);
		return NULL;
	}
	r = argon2id_hash_encoded(hash_t_cost, hash_m_kib, AUTH_ARGON2_P, password,
	                          strlen(password), salt, sizeof salt, HASH_LEN, enc, elen);
	if (r != ARGON2_OK) {
		err_set(err, "argon2id: %s", argon2_error_message(r));
		free(enc);
		return NULL;
	}
	return enc;
}

/* Take the users file's lock (PATH.lock), serializing read-modify-write. fd or -1. */
static int
lock_users(const char *path, struct err *err)
{
	char *lp = xasprintf("%s.lock", path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd == -1) {
		err_sys(err, errno, "%s", lp);
		free(lp);
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			err_sys(err, errno, "%s: flock", lp);
			close(fd);
			free(lp);
			return -1;
		}
	}
	free(lp);
	return fd;
}

/* Read and parse path; a missing file is an empty one. */
static int
load_users(const char *path, char **data, size_t *len, struct auth_users *u, struct err *err)
{
	struct err e;

	err_clear(&e);
	u->v = NULL;
	u->n = 0;
	if (read_file(path, data, len, NULL, &e) == -1) {
		if (e.code != ENOENT) {
			err_set(err, "%s", e.msg);
			if (err != NULL)
				err->code = e.code == 0 ? EIO : e.code;
			return -1;
		}
		*data = xstrdup("");
		*len = 0;
	}
	if (auth_users_parse(path, *data, *len, u, err) == -1) {
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

struct rewrite_ctx {
	struct buf *out;
	int skip_line;         /* line to replace or drop, 0 for none */
	const char *new_entry; /* replacement line (with "\n"), or NULL to drop */
};

static int
rewrite_one(void *arg, const char *s, size_t n, int line)
{
	struct rewrite_ctx *c = arg;

	if (line == c->skip_line) {
		if (c->new_entry != NULL)
			buf_puts(c->out, c->new_entry);
		return 0;
	}
	buf_append(c->out, s, n);
	buf_putc(c->out, '\n');
	return 0;
}

/* Write data with line `line` replaced by entry (or dropped), entry appended if line is 0. */
static int
rewrite(const char *path, const char *data, size_t len, int line, const char *entry,
        struct err *err)
{
	struct buf out;
	struct rewrite_ctx c = { .out = &out, .skip_line = line, .new_entry = entry };
	int rc;

	buf_init(&out, (size_t)USERS_MAX_BYTES + 1024);
	each_line(data, len, rewrite_one, &c);
	if (line == 0 && entry != NULL)
		buf_puts(&out, entry);
	rc = write_file_atomic(path, buf_str(&out), out.len, err);
	buf_free(&out);
	return rc;
}

int
auth_user_set(const char *path, const char *name, const char *password, enum auth_role role,
              int create, struct err *err)
{
	struct auth_users u;
	const struct auth_user *cur;
	char *data = NULL, *hash = NULL, *entry = NULL;
	size_t len;
	int lockfd, rc = -1;

	if (!auth_user_name_ok(name)) {
		err_set(err, "'%s': bad user name (1 to 64 of A-Z a-z 0-9 _ . @ -)", name);
		if (err != NULL)
			err->code = EINVAL;
		return -1;
	}
	if (create && role == AUTH_ROLE_NONE)
		role = AUTH_ROLE_VIEWER;
	if ((lockfd = lock_users(path, err)) == -1)
		return -1;
	if (load_users(path, &data, &len, &u, err) == -1)
		goto out;
	cur = auth_users_find(&u, name);
	if (create && cur != NULL) {
		err_set(err, "%s: user %s already exists", path, name);
		if (err != NULL)
			err->code = EEXIST;
		goto out;
	}
	if (!create && cur == NULL) {
		err_set(err, "%s: no user %s", path, name);
		if (err != NULL)
			err->code = ENOENT;
		goto out;
	}
	if (role == AUTH_ROLE_NONE)
		role = cur->role;
	if ((hash = hash_password(password, err)) == NULL) {
		err_wrap(err, "%s: user %s", path, name);
		goto out;
	}
	entry = xasprintf("%s:%s:%s\n", name, auth_role_name(role), hash);
	if (rewrite(path, data, len, cur != NULL ? cur->line : 0, entry, err) == -1)
		goto out;
	rc = 0;
out:
	auth_users_free(&u);
	free(data);
	free(hash);
	free(entry);
	close(lockfd);
	return rc;
}

int
auth_user_del(const char *path, const char *name, struct err *err)
{
	struct auth_users u;
	const struct auth_user *cur;
	char *data = NULL;
	size_t len;
	int lockfd, rc = -1;

	if ((lockfd = lock_users(path, err)) == -1)
		return -1;
	if (load_users(path, &data, &len, &u, err) == -1)
		goto out;
	if ((cur = auth_users_find(&u, name)) == NULL) {
		err_set(err, "%s: no user %s", path, name);
		if (err != NULL)
			err->code = ENOENT;
		goto out;
	}
	if (rewrite(path, data, len, cur->line, NULL, err) == -1)
		goto out;
	rc = 0;
out:
	auth_users_free(&u);
	free(data);
	close(lockfd);
	return rc;
}

int
auth_user_count(const char *path, struct err *err)
{
	struct auth_users u;
	char *data = NULL;
	size_t len;
	int n;

	if (load_users(path, &data, &len, &u, err) == -1)
		return -1;
	n = (int)u.n;
	auth_users_free(&u);
	free(data);
	return n;
}

int
auth_user_list(const char *path, struct auth_users *out, struct err *err)
{
	char *data = NULL;
	size_t len;

	if (load_users(path, &data, &len, out, err) == -1)
		return -1;
	free(data);
	return 0;
}

/* ------------------------------------------------------------ server state */

struct session {
	char id[AUTH_ID_LEN + 1];
	char csrf[AUTH_ID_LEN + 1];
	char user[NAME_MAX_LEN + 1];
	time_t last;           /* last use */
	struct session *hnext; /* hash chain */
	struct session *newer; /* LRU list: towards the most recent */
	struct session *older;
};

struct limit {
	char key[80]; /* "ip " + address or "user " + name */
	time_t start; /* first failure of the current window */
	int count;
};

struct basic_cache {
	char user[NAME_MAX_LEN + 1]; /* "" = free slot */
	unsigned char tag[32];       /* keyed cheap argon2id of the password */
	char *hash;                  /* the user's hash it was checked against */
	time_t expires;
};

struct auth {
	pthread_mutex_t mu;
	pthread_cond_t hash_cv;
	int hashing;

	char *users_path;
	struct auth_users users;
	int have_stat; /* the file existed at the last look */
	struct stat st;
	char *dummy_hash; /* verified against when the user does not exist */

	int session_timeout;
	int max_failures;
	int window;
	unsigned char (*proxies)[16];
	size_t nproxies;
	enum auth_role proxy_role;

	struct session *buckets[SESSION_BUCKETS];
	struct session *newest, *oldest;
	size_t nsessions;

	struct limit *limits;
	size_t nlimits;
	size_t evict_next; /* round robin over a full table: first in, first out */

	unsigned char cache_salt[16];
	struct basic_cache cache[BASIC_CACHE_MAX];
};

/* An address as 16 bytes (IPv4 and IPv4-mapped IPv6 alike as ::ffff:a.b.c.d). 0 or -1. */
static int
addr_parse(const char *s, unsigned char out[16])
{
	struct in_addr v4;

	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

/* Canonical text of an address (IPv4-mapped shown as IPv4), else s truncated. */
static void
addr_text(const char *s, char *out, size_t size)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char a[16];

	if (addr_parse(s, a) == 0) {
		if (memcmp(a, mapped, 12) == 0 && inet_ntop(AF_INET, a + 12, out, (socklen_t)size))
			return;
		if (inet_ntop(AF_INET6, a, out, (socklen_t)size) != NULL)
			return;
	}
	snprintf(out, size, "%s", s != NULL ? s : "");
}

/* Re-read the users file if its inode, size or mtime changed. Called locked. */
static void
users_refresh(struct auth *a)
{
	struct auth_users u;
	struct stat st;
	struct err err;
	char *data;
	size_t len;

	if (stat(a->users_path, &st) == -1) {
		if (a->have_stat || a->users.n > 0)
			log_warning(NULL, "%s: %s: no web users now", a->users_path,
			            strerror(errno));
		a->have_stat = 0;
		auth_users_free(&a->users);
		return;
	}
	if (a->have_stat && st.st_ino == a->st.st_ino && st.st_dev == a->st.st_dev &&
	    st.st_size == a->st.st_size && st.st_mtim.tv_sec == a->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->st.st_mtim.tv_nsec)
		return;
	err_clear(&err);
	/* Remember this version even if it cannot be used: one message per change. */
	a->have_stat = 1;
	a->st = st;
	if (read_file(a->users_path, &data, &len, NULL, &err) == -1) {
		log_warning(NULL, "%s: keeping the previous users: %s", a->users_path, err.msg);
		return;
	}
	if (auth_users_parse(a->users_path, data, len, &u, &err) == -1) {
		log_error(NULL, "users file changed but is invalid, keeping the previous users: %s",
		          err.msg);
	} else {
		auth_users_free(&a->users);
		a->users = u;
		log_info(NULL, "%s: %zu web user(s)", a->users_path, u.n);
	}
	free(data);
}

int
auth_new(const struct guiconf *gc, struct auth **out, struct err *err)
{
	struct auth *a = xcalloc(1, sizeof *a);
	char *data = NULL;
	size_t len;
	struct err e;
	unsigned char pw[16];

	*out = NULL;
	err_clear(&e);
	if (argon2load(err) == -1) { /* every login checks a password */
		free(a);
		return -1;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->hash_cv, NULL);
	a->users_path = xstrdup(gc->users_file);
	a->session_timeout = gc->session_timeout;
	a->max_failures = gc->login_max_failures;
	a->window = gc->login_window;
	a->proxies = xcalloc(gc->ntrusted_proxies + 1, sizeof *a->proxies);
	for (size_t i = 0; i < gc->ntrusted_proxies; i++) {
		if (addr_parse(gc->trusted_proxies[i], a->proxies[i]) == -1) {
			err_set(err, "%s: [auth] trusted_proxies: '%s' is not an IP address",
			        gc->path != NULL ? gc->path : GUICONF_DEFAULT_PATH,
			        gc->trusted_proxies[i]);
			goto fail;
		}
	}
	a->nproxies = gc->ntrusted_proxies;
	if (auth_role_parse(gc->proxy_default_role, &a->proxy_role) == -1)
		a->proxy_role = AUTH_ROLE_NONE;
	a->limits = xcalloc(LIMITS_MAX, sizeof *a->limits);
	if (fill_random(a->cache_salt, sizeof a->cache_salt) == -1 ||
	    fill_random(pw, sizeof pw) == -1) {
		err_sys(err, errno, "getrandom");
		goto fail;
	}
	/* The dummy's password is random bytes: nothing can match it. */
	{
		char pwtext[2 * sizeof pw + 1];

		for (size_t i = 0; i < sizeof pw; i++)
			snprintf(pwtext + 2 * i, 3, "%02x", pw[i]);
		if ((a->dummy_hash = hash_password(pwtext, err)) == NULL)
			goto fail;
	}
	if (load_users(a->users_path, &data, &len, &a->users, &e) == -1) {
		err_set(err, "%s", e.msg);
		goto fail;
	}
	free(data);
	if (stat(a->users_path, &a->st) == 0)
		a->have_stat = 1;
	*out = a;
	return 0;
fail:
	auth_free(a);
	return -1;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	for (struct session *s = a->newest, *next; s != NULL; s = next) {
		next = s->older;
		explicit_bzero(s, sizeof *s);
		free(s);
	}
	for (size_t i = 0; i < BASIC_CACHE_MAX; i++)
		free(a->cache[i].hash);
	auth_users_free(&a->users);
	free(a->users_path);
	free(a->dummy_hash);
	free(a->proxies);
	free(a->limits);
	pthread_cond_destroy(&a->hash_cv);
	pthread_mutex_destroy(&a->mu);
	explicit_bzero(a, sizeof *a);
	free(a);
}

size_t
auth_nusers(struct auth *a)
{
	size_t n;

	pthread_mutex_lock(&a->mu);
	users_refresh(a);
	n = a->users.n;
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* --- rate limiting (called locked) */

static struct limit *
limit_find(struct auth *a, const char *key)
{
	for (size_t i = 0; i < a->nlimits; i++)
		if (strcmp(a->limits[i].key, key) == 0)
			return &a->limits[i];
	return NULL;
}

static int
limit_tripped(struct auth *a, const char *key, time_t now)
{
	const struct limit *l = limit_find(a, key);

	return l != NULL && now - l->start < a->window && l->count >= a->max_failures;
}

/* Count a failure; 1 when it is the one that trips the limit. */
static int
limit_fail(struct auth *a, const char *key, time_t now)
{
	struct limit *l = limit_find(a, key);

	if (l == NULL) {
		if (a->nlimits < LIMITS_MAX) {
			l = &a->limits[a->nlimits++];
		} else {
			/* Full: reuse an expired entry, else the one created first. */
			for (size_t i = 0; i < a->nlimits && l == NULL; i++)
				if (now - a->limits[i].start >= a->window)
					l = &a->limits[i];
			if (l == NULL)
				l = &a->limits[a->evict_next++ % LIMITS_MAX];
		}
		snprintf(l->key, sizeof l->key, "%s", key);
		l->start = now;
		l->count = 0;
	} else if (now - l->start >= a->window) {
		l->start = now;
		l->count = 0;
	}
	return ++l->count == a->max_failures;
}

static void
limit_reset(struct auth *a, const char *key)
{
	struct limit *l = limit_find(a, key);

	if (l != NULL)
		*l = a->limits[--a->nlimits];
}

/* --- password checks */

/* argon2id_verify with at most HASHING_MAX running at once. 1 on a match. */
static int
verify_throttled(struct auth *a, const char *hash, const char *password, size_t plen)
{
	int r;

	pthread_mutex_lock(&a->mu);
	while (a->hashing >= HASHING_MAX)
		pthread_cond_wait(&a->hash_cv, &a->mu);
	a->hashing++;
	pthread_mutex_unlock(&a->mu);
	r = argon2id_verify(hash, password, plen);
	pthread_mutex_lock(&a->mu);
	a->hashing--;
	pthread_cond_signal(&a->hash_cv);
	pthread_mutex_unlock(&a->mu);
	return r == ARGON2_OK;
}

/* The cheap keyed tag of a password for the Basic cache. 0 or -1. */
static int
basic_tag(const struct auth *a, const char *password, size_t plen, unsigned char tag[32])
{
	return argon2id_hash_raw(1, 8, 1, password, plen, a->cache_salt, sizeof a->cache_salt, tag,
	                         32) == ARGON2_OK
	           ? 0
	           : -1;
}

/* Called locked: 1 if user/tag verified against hash less than BASIC_CACHE_TTL ago. */
static int
basic_cached(struct auth *a, const char *user, const char *hash, const unsigned char tag[32],
             time_t now)
{
	for (size_t i = 0; i < BASIC_CACHE_MAX; i++) {
		const struct basic_cache *c = &a->cache[i];

		if (c->user[0] != '\0' && strcmp(c->user, user) == 0 && now < c->expires &&
		    c->expires - now <= BASIC_CACHE_TTL && strcmp(c->hash, hash) == 0 &&
		    ct_equal(c->tag, tag, 32))
			return 1;
	}
	return 0;
}

/* Called locked: remember a verified Basic credential (replacing the soonest to expire). */
static void
basic_remember(struct auth *a, const char *user, const char *hash, const unsigned char tag[32],
               time_t now)
{
	struct basic_cache *c = &a->cache[0];

	for (size_t i = 0; i < BASIC_CACHE_MAX; i++) {
		if (a->cache[i].user[0] == '\0' || strcmp(a->cache[i].user, user) == 0) {
			c = &a->cache[i];
			break;
		}
		if (a->cache[i].expires < c->expires)
			c = &a->cache[i];
	}
	free(c->hash);
	snprintf(c->user, sizeof c->user, "%s", user);
	memcpy(c->tag, tag, 32);
	c->hash = xstrdup(hash);
	c->expires = now + BASIC_CACHE_TTL;
}

/*
 * The common part of login and Basic: rate limit, then one argon2
 * verification (against the dummy hash when the user is unknown), then
 * the bookkeeping. use_cache: consult and fill the Basic cache.
 */
static enum auth_result
check_password(struct auth *a, const char *ip, const char *user, const char *password, time_t now,
               int use_cache, struct auth_identity *id)
{
	char ipkey[80], userkey[80], addr[INET6_ADDRSTRLEN + 1];
	const struct auth_user *u;
	int valid = auth_user_name_ok(user);
	int known, tripped_ip = 0, tripped_user = 0;
	size_t plen = password != NULL ? strnlen(password, PASSWORD_MAX + 1) : 0;
	unsigned char tag[32];
	int have_tag = 0;
	char *hash;
	enum auth_role role = AUTH_ROLE_NONE;
	int ok;

	if (password == NULL)
		password = "";
	addr_text(ip, addr, sizeof addr);
	snprintf(ipkey, sizeof ipkey, "ip %s", addr);
	snprintf(userkey, sizeof userkey, "user %s", valid ? user : "");
	memset(id, 0, sizeof *id);

	pthread_mutex_lock(&a->mu);
	users_refresh(a);
	/* Refused quietly: the limit was logged when it tripped. */
	if (limit_tripped(a, ipkey, now) || (valid && limit_tripped(a, userkey, now))) {
		pthread_mutex_unlock(&a->mu);
		return AUTH_LIMITED;
	}
	u = valid ? auth_users_find(&a->users, user) : NULL;
	known = u != NULL;
	hash = xstrdup(known ? u->hash : a->dummy_hash);
	if (known)
		role = u->role;
	pthread_mutex_unlock(&a->mu);

	if (use_cache && known && plen <= PASSWORD_MAX && basic_tag(a, password, plen, tag) == 0) {
		have_tag = 1;
		pthread_mutex_lock(&a->mu);
		ok = basic_cached(a, user, hash, tag, now);
		pthread_mutex_unlock(&a->mu);
		if (ok)
			goto done;
	}
	/* Always one full verification, so timing does not tell whether the user exists. */
	ok = verify_throttled(a, hash, password, plen <= PASSWORD_MAX ? plen : 0);
	ok = ok && known && plen <= PASSWORD_MAX;
done:
	pthread_mutex_lock(&a->mu);
	if (!ok) {
		tripped_ip = limit_fail(a, ipkey, now);
		tripped_user = valid && limit_fail(a, userkey, now);
	} else {
		limit_reset(a, userkey);
		if (have_tag)
			basic_remember(a, user, hash, tag, now);
	}
	pthread_mutex_unlock(&a->mu);
	explicit_bzero(tag, sizeof tag);
	free(hash);
	if (!ok) {
		log_info(NULL, "login failed for %s from %s", valid ? user : "(invalid name)",
		         addr);
		if (tripped_ip)
			log_warning(NULL, "%d failed logins from %s: refused for %d s",
			            a->max_failures, addr, a->window);
		if (tripped_user)
			log_warning(NULL, "%d failed logins for %s: refused for %d s",
			            a->max_failures, user, a->window);
		return AUTH_DENIED;
	}
	snprintf(id->user, sizeof id->user, "%s", user);
	id->role = role;
	return AUTH_OK;
}

/* --- sessions (called locked) */

static size_t
bucket_of(const char *sid)
{
	uint32_t h = 2166136261u;

	for (const char *p = sid; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h & (SESSION_BUCKETS - 1);
}

static struct session *
session_find(struct auth *a, const char *sid)
{
	for (struct session *s = a->buckets[bucket_of(sid)]; s != NULL; s = s->hnext)
		if (strcmp(s->id, sid) == 0)
			return s;
	return NULL;
}

static void
lru_unlink(struct auth *a, struct session *s)
{
	if (s->newer != NULL)
		s->newer->older = s->older;
	else
		a->newest = s->older;
	if (s->older != NULL)
		s->older->newer = s->newer;
	else
		a->oldest = s->newer;
	s->newer = s->older = NULL;
}

static void
lru_push(struct auth *a, struct session *s)
{
	s->older = a->newest;
	s->newer = NULL;
	if (a->newest != NULL)
		a->newest->newer = s;
	a->newest = s;
	if (a->oldest == NULL)
		a->oldest = s;
}

static void
session_remove(struct auth *a, struct session *s)
{
	struct session **pp = &a->buckets[bucket_of(s->id)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	lru_unlink(a, s);
	a->nsessions--;
	explicit_bzero(s, sizeof *s);
	free(s);
}

/* Drop expired sessions from the old end, then the oldest while over the cap. */
static void
sessions_trim(struct auth *a, time_t now, size_t room)
{
	while (a->oldest != NULL && now - a->oldest->last > a->session_timeout)
		session_remove(a, a->oldest);
	while (a->oldest != NULL && a->nsessions + room > SESSIONS_MAX)
		session_remove(a, a->oldest);
}

enum auth_result
auth_login(struct auth *a, const char *ip, const char *user, const char *password, time_t now,
           char sid[AUTH_ID_LEN + 1], struct auth_identity *id)
{
	enum auth_result r = check_password(a, ip, user, password, now, 0, id);
	struct session *s;

	sid[0] = '\0';
	if (r != AUTH_OK)
		return r;
	s = xcalloc(1, sizeof *s);
	if (random_id(s->id) == -1 || random_id(s->csrf) == -1) {
		log_error(NULL, "getrandom: %s", strerror(errno));
		free(s);
		memset(id, 0, sizeof *id);
		return AUTH_DENIED;
	}
	snprintf(s->user, sizeof s->user, "%s", id->user);
	s->last = now;
	pthread_mutex_lock(&a->mu);
	sessions_trim(a, now, 1);
	s->hnext = a->buckets[bucket_of(s->id)];
	a->buckets[bucket_of(s->id)] = s;
	lru_push(a, s);
	a->nsessions++;
	pthread_mutex_unlock(&a->mu);
	memcpy(sid, s->id, AUTH_ID_LEN + 1);
	memcpy(id->csrf, s->csrf, AUTH_ID_LEN + 1);
	return AUTH_OK; /* the HTTP layer logs the login */
}

int
auth_session(struct auth *a, const char *sid, time_t now, struct auth_identity *id)
{
	struct session *s;
	const struct auth_user *u;
	int ok = 0;

	memset(id, 0, sizeof *id);
	if (!id_ok(sid))
		return 0;
	pthread_mutex_lock(&a->mu);
	users_refresh(a);
	s = session_find(a, sid);
	if (s == NULL)
		goto out;
	u = auth_users_find(&a->users, s->user);
	if (now - s->last > a->session_timeout || u == NULL) {
		/* Expired, or the user was deleted: the session ends. */
		session_remove(a, s);
		goto out;
	}
	s->last = now;
	lru_unlink(a, s);
	lru_push(a, s);
	snprintf(id->user, sizeof id->user, "%s", s->user);
	id->role = u->role; /* the current role: a change applies at once */
	memcpy(id->csrf, s->csrf, sizeof id->csrf);
	ok = 1;
out:
	pthread_mutex_unlock(&a->mu);
	return ok;
}

void
auth_logout(struct auth *a, const char *sid)
{
	struct session *s;

	if (!id_ok(sid))
		return;
	pthread_mutex_lock(&a->mu);
	if ((s = session_find(a, sid)) != NULL)
		session_remove(a, s);
	pthread_mutex_unlock(&a->mu);
}

int
auth_csrf_ok(const struct auth_identity *id, const char *token)
{
	if (id == NULL || token == NULL || strnlen(id->csrf, sizeof id->csrf) != AUTH_ID_LEN ||
	    strnlen(token, AUTH_ID_LEN + 1) != AUTH_ID_LEN)
		return 0;
	return ct_equal(id->csrf, token, AUTH_ID_LEN);
}

enum auth_result
auth_basic(struct auth *a, const char *ip, const char *header, time_t now, struct auth_identity *id)
{
	char user[NAME_MAX_LEN + 1];
	char pass[AUTH_BASIC_MAX];
	enum auth_result r;

	memset(id, 0, sizeof *id);
	if (auth_basic_decode(header, user, sizeof user, pass, sizeof pass) == -1)
		return AUTH_DENIED;
	r = check_password(a, ip, user, pass, now, 1, id);
	explicit_bzero(pass, sizeof pass);
	return r;
}

enum auth_result
auth_proxy(struct auth *a, const char *ip, const char *user, struct auth_identity *id)
{
	unsigned char addr[16];
	const struct auth_user *u;
	enum auth_role role;
	size_t i;

	memset(id, 0, sizeof *id);
	if (addr_parse(ip, addr) == -1 || !auth_user_name_ok(user))
		return AUTH_DENIED;
	for (i = 0; i < a->nproxies; i++)
		if (memcmp(a->proxies[i], addr, 16) == 0)
			break;
	if (i == a->nproxies)
		return AUTH_DENIED;
	pthread_mutex_lock(&a->mu);
	users_refresh(a);
	u = auth_users_find(&a->users, user);
	role = u != NULL ? u->role : a->proxy_role;
	pthread_mutex_unlock(&a->mu);
	if (role == AUTH_ROLE_NONE)
		return AUTH_DENIED;
	snprintf(id->user, sizeof id->user, "%s", user);
	id->role = role;
	return AUTH_OK;
}
