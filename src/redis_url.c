/*
 * The redis:// URL parser (see redis_url.h for the grammar). Pure: no
 * network, no globals; the queue's Redis backend and the [queue] redis_url
 * validator in guiconf.c both call it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redis_url.h"
#include "util/pct.h"
#include "util/xmalloc.h"

#define REDIS_URL_SCHEME "redis://"
#define REDIS_URL_DEFAULT_PORT 6379

/* A decimal number s[0..len) within [min, max]; 0, or -1. */
static int
parse_num(const char *s, size_t len, long min, long max, int *out)
{
	char buf[16], *end;
	long n;

	if (len == 0 || len >= sizeof buf || s[0] < '0' || s[0] > '9')
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	n = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* The user information s[0..len) (before the last '@'): USER:PASSWORD or
 * PASSWORD alone, as redis-cli splits it at the first ':'. */
static int
parse_userinfo(const char *s, size_t len, struct redis_url *u, struct err *err)
{
	const char *colon = memchr(s, ':', len);
	const char *pw = s;

	if (colon != NULL) {
		if (colon > s && (u->user = pct_decode_strict(s, (size_t)(colon - s))) == NULL) {
			err_set(err, "bad percent-encoding in the user name");
			return -1;
		}
		pw = colon + 1;
	}
	len -= (size_t)(pw - s);
	if (len > 0 && (u->password = pct_decode_strict(pw, len)) == NULL) {
		err_set(err, "bad percent-encoding in the password");
		return -1;
	}
	if (u->user != NULL && u->password == NULL) {
		err_set(err, "user '%s' without a password", u->user);
		return -1;
	}
	return 0;
}

/* HOST[:PORT] or [IPV6][:PORT] in s[0..len). */
static int
parse_hostport(const char *s, size_t len, struct redis_url *u, struct err *err)
{
	const char *host = s, *port = NULL, *end = s + len;
	size_t hostlen;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL) {
			err_set(err, "expected ']' after the IPv6 address");
			return -1;
		}
		host = s + 1;
		hostlen = (size_t)(close - host);
		if (close + 1 < end) {
			if (close[1] != ':') {
				err_set(err, "expected ':PORT' after ']'");
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		hostlen = colon != NULL ? (size_t)(colon - s) : len;
		if (colon != NULL)
			port = colon + 1;
	}
	if (hostlen == 0) {
		err_set(err, "no host");
		return -1;
	}
	if (port != NULL && parse_num(port, (size_t)(end - port), 1, 65535, &u->port) == -1) {
		err_set(err, "bad port '%.*s' (expected 1 to 65535)", (int)(end - port), port);
		return -1;
	}
	u->host = xstrndup(host, hostlen);
	return 0;
}

int
redis_url_parse(const char *url, struct redis_url *u, struct err *err)
{
	const char *p, *at, *slash, *end;

	memset(u, 0, sizeof *u);
	u->port = REDIS_URL_DEFAULT_PORT;
	if (strncasecmp(url, REDIS_URL_SCHEME, strlen(REDIS_URL_SCHEME)) != 0) {
		err_set(err, "expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]");
		return -1;
	}
	p = url + strlen(REDIS_URL_SCHEME);
	at = strrchr(p, '@');
	if (at != NULL) {
		if (parse_userinfo(p, (size_t)(at - p), u, err) == -1)
			goto fail;
		p = at + 1;
	}
	slash = strchr(p, '/');
	end = slash != NULL ? slash : p + strlen(p);
	if (parse_hostport(p, (size_t)(end - p), u, err) == -1)
		goto fail;
	if (slash != NULL && slash[1] != '\0' &&
	    parse_num(slash + 1, strlen(slash + 1), 0, INT_MAX, &u->db) == -1) {
		err_set(err, "bad database number '%s' (expected 0 or more)", slash + 1);
		goto fail;
	}
	return 0;
fail:
	redis_url_free(u);
	return -1;
}

void
redis_url_free(struct redis_url *u)
{
	free(u->host);
	free(u->user);
	if (u->password != NULL)
		explicit_bzero(u->password, strlen(u->password));
	free(u->password);
	u->host = u->user = u->password = NULL;
}

char *
redis_url_redact(const char *url)
{
	size_t n = strlen(REDIS_URL_SCHEME);
	const char *p = strncasecmp(url, REDIS_URL_SCHEME, n) == 0 ? url + n : url;
	const char *at = strrchr(p, '@'), *colon;

	if (at == NULL)
		return xstrdup(url);
	colon = memchr(p, ':', (size_t)(at - p));
	if (colon == NULL) /* redis://PASSWORD@HOST */
		return xasprintf("%.*s***%s", (int)(p - url), url, at);
	return xasprintf("%.*s***%s", (int)(colon + 1 - url), url, at);
}
