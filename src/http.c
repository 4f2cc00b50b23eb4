/*
 * The HTTP(S) client (see http.h). One libcurl easy handle per client,
 * so its connection and cookies persist: the client's options are set
 * once, and each request sets every per-request option (its neutral value
 * when unused), so nothing carries over from one request to the next.
 *
 * The header callback follows the status lines: each new one (a redirect
 * followed, a "100 Continue") starts a new header set, so what is kept at
 * the end is the final response's. The write callback sends the body to
 * the sink only while that status is below 400; an error body is
 * collected (bounded) for the message instead.
 *
 * libcurl's transfer-info callback runs about once a second even when
 * nothing moves: it feeds the progress object with the bytes moved since
 * the last call and returns non-zero (libcurl then aborts) when the
 * object says stop or a terminating signal has arrived.
 */
#include "http.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curlload.h"
#include "progress.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT 30L
#define HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20)
#define HTTP_ERROR_BODY_MAX 4096
#define HTTP_MAX_REDIRECTS 5L
#define HTTP_SECRET_MAX 1024
#define HTTP_RECV_DEFAULT 16384L   /* libcurl's CURL_MAX_WRITE_SIZE */
#define HTTP_RECV_MIN 1024L        /* libcurl's lower bound */
#define HTTP_RECV_MAX (512L << 10) /* CURL_MAX_READ_SIZE */

struct http_client {
	const struct curl_api *cu;
	CURL *h;
	char *ca_file;
	char *pin; /* curl's "sha256//..." form */
	int insecure;
	char *username;
	char *password;
	int cookies;
	int no_proxy;
	long connect_timeout;
};

/* One request's state, shared by the callbacks. */
struct http_xfer {
	struct http_client *c;
	const struct http_request *rq;
	struct http_response *resp;
	struct buf body; /* collected body (no sink, or an error status) */
	size_t body_limit;
	int too_big;
	char reason[128]; /* the final status line's reason phrase */
	/* upload from memory */
	const unsigned char *mem;
	size_t mem_left;
	/* progress */
	curl_off_t seen; /* dlnow + ulnow at the last call */
	unsigned long signals_at_start;
	enum progress_state stopped;
	int signalled;
	int sink_failed;
	struct err cb_err; /* the sink's or source's error */
};

static void client_options(struct http_client *c);

int
http_check_available(struct err *err)
{
	return curlload_get(err) == NULL ? -1 : 0;
}

/* --- credentials ---------------------------------------------------------------- */

/* Strip one trailing '\r'. */
static void
chop_cr(char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '\r')
		s[n - 1] = '\0';
}

/*
 * Read path (0600, ours): two lines user, password; or, want_user == 0,
 * one line, the password. 0 or -1 + err naming the file (never its content).
 */
static int
read_credentials(const char *path, int want_user, char **user, char **password, struct err *err)
{
	char buf[HTTP_SECRET_MAX + 2], *nl, *second;
	struct stat st;
	ssize_t n;
	int fd, rc = -1, lines;

	*user = *password = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		err_sys(err, errno, "password_file %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err_sys(err, errno, "password_file %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		err_set(err, "password_file %s: must be a regular file of ours with mode 0600",
		        path);
		goto out;
	}
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		err_sys(err, errno, "password_file %s", path);
		goto out;
	}
	if ((size_t)n == sizeof buf - 1) {
		err_set(err, "password_file %s: larger than %d bytes", path, HTTP_SECRET_MAX);
		goto out;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	lines = 1;
	for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	if (want_user && lines != 2) {
		err_set(err, "password_file %s: expected 2 lines (user, password)", path);
		goto out;
	}
	if (!want_user && lines != 1) {
		err_set(err, "password_file %s: expected 1 line (the password)", path);
		goto out;
	}
	if (want_user) {
		nl = strchr(buf, '\n');
		*nl = '\0';
		second = nl + 1;
		chop_cr(buf);
		chop_cr(second);
		if (buf[0] == '\0') {
			err_set(err, "password_file %s: the user (line 1) is empty", path);
			goto out;
		}
		*user = xstrdup(buf);
		*password = xstrdup(second);
	} else {
		chop_cr(buf);
		*password = xstrdup(buf);
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return rc;
}

int
http_read_credentials(const char *path, char **user, char **password, struct err *err)
{
	return read_credentials(path, 1, user, password, err);
}

/* --- TLS pin -------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 32 bytes to base64 (44 characters + NUL). */
static void
base64_32(const unsigned char in[32], char out[45])
{
	size_t o = 0, i;

	for (i = 0; i + 3 <= 32; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	/* 32 = 30 + 2: two bytes left, one '=' of padding. */
	unsigned v = (unsigned)in[30] << 16 | (unsigned)in[31] << 8;

	out[o++] = b64[v >> 18 & 63];
	out[o++] = b64[v >> 12 & 63];
	out[o++] = b64[v >> 6 & 63];
	out[o++] = '=';
	out[o] = '\0';
}

/*
 * The pin in curl's form: "sha256//..." kept as is, 64 hex digits (':'
 * allowed between them) converted. NULL + err for anything else.
 */
static char *
pin_to_curl(const char *pin, struct err *err)
{
	unsigned char digest[32];
	char enc[45];
	size_t nd = 0;
	int hi = -1;

	if (strncmp(pin, "sha256//", 8) == 0)
		return xstrdup(pin);
	for (const char *p = pin; *p != '\0'; p++) {
		int v;

		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || nd == sizeof digest)
			goto bad;
		v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
		if (hi == -1)
			hi = v;
		else {
			digest[nd++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (nd != sizeof digest || hi != -1)
		goto bad;
	base64_32(digest, enc);
	return xasprintf("sha256//%s", enc);
bad:
	err_set(err,
	        "TLS pin '%s': expected the SHA-256 of the server's public key, as 64 hex "
	        "digits or sha256//BASE64",
	        pin);
	return NULL;
}

/* --- client --------------------------------------------------------------------- */

int
http_client_new(const struct http_opts *o, struct http_client **out, struct err *err)
{
	struct http_client *c = xcalloc(1, sizeof *c);

	*out = NULL;
	if ((c->cu = curlload_get(err)) == NULL)
		goto fail;
	if (o->ca_file != NULL) {
		if (access(o->ca_file, R_OK) == -1) {
			err_sys(err, errno, "CA file %s", o->ca_file);
			goto fail;
		}
		c->ca_file = xstrdup(o->ca_file);
	}
	if (o->pin != NULL && (c->pin = pin_to_curl(o->pin, err)) == NULL)
		goto fail;
	if (o->password_file != NULL) {
		char *user = NULL;

		if (read_credentials(o->password_file, o->username == NULL, &user, &c->password,
		                     err) == -1)
			goto fail;
		c->username = user != NULL ? user : xstrdup(o->username);
	} else if (o->username != NULL)
		c->username = xstrdup(o->username);
	c->insecure = o->insecure;
	c->cookies = o->cookies;
	c->no_proxy = o->no_proxy;
	c->connect_timeout =
	    o->connect_timeout_sec > 0 ? o->connect_timeout_sec : HTTP_DEFAULT_CONNECT_TIMEOUT;
	if ((c->h = c->cu->easy_init()) == NULL) {
		err_set(err, "cannot start libcurl");
		goto fail;
	}
	client_options(c);
	*out = c;
	return 0;
fail:
	http_client_free(c);
	return -1;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->h != NULL)
		c->cu->easy_cleanup(c->h);
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->username);
	free(c->ca_file);
	free(c->pin);
	free(c);
}

/* --- URL masking ---------------------------------------------------------------- */

char *
http_mask_url(const char *url)
{
	const char *p = url, *scheme_end, *auth, *auth_end, *at, *q;
	struct buf b;

	buf_init(&b, strlen(url) * 4 + 16);
	scheme_end = strstr(url, "://");
	if (scheme_end != NULL) {
		auth = scheme_end + 3;
		auth_end = auth + strcspn(auth, "/?#");
		buf_append(&b, url, (size_t)(auth - url));
		/* user info: up to the last '@' of the authority */
		at = NULL;
		for (const char *s = auth; s < auth_end; s++)
			if (*s == '@')
				at = s;
		p = at != NULL ? at + 1 : auth;
	}
	q = p + strcspn(p, "?#");
	buf_append(&b, p, (size_t)(q - p));
	if (*q == '?') {
		const char *end = q + 1 + strcspn(q + 1, "#");

		buf_putc(&b, '?');
		for (const char *s = q + 1; s < end;) {
			const char *amp = memchr(s, '&', (size_t)(end - s));
			const char *pe = amp != NULL ? amp : end;
			const char *eq = memchr(s, '=', (size_t)(pe - s));

			buf_append(&b, s, (size_t)((eq != NULL ? eq : pe) - s));
			if (eq != NULL)
				buf_puts(&b, "=…");
			if (amp == NULL)
				break;
			buf_putc(&b, '&');
			s = amp + 1;
		}
	}
	return buf_steal(&b);
}

/* --- callbacks ------------------------------------------------------------------ */

static void
header_clear(struct http_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i]);
	free(resp->headers);
	resp->headers = NULL;
	resp->nheaders = 0;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * n, nl, vl;
	const char *colon, *v;
	char *pair;
	int code;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response: a redirect followed, or "100 Continue". */
		const char *sp = memchr(data, ' ', len);

		header_clear(x->resp);
		x->resp->content_length = -1;
		x->reason[0] = '\0';
		if (sp != NULL && sscanf(sp, " %3d", &code) == 1) {
			const char *r = sp + 4, *e = data + len;

			x->resp->status = code;
			while (r < e && *r == ' ')
				r++;
			while (e > r && (e[-1] == '\r' || e[-1] == '\n'))
				e--;
			snprintf(x->reason, sizeof x->reason, "%.*s", (int)(e - r), r);
		}
		return len;
	}
	if ((colon = memchr(data, ':', len)) == NULL)
		return len; /* the blank line ending the headers */
	nl = (size_t)(colon - data);
	v = colon + 1;
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	vl = (size_t)(data + len - v);
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	pair = xmalloc(nl + vl + 2);
	memcpy(pair, data, nl);
	pair[nl] = '\0';
	memcpy(pair + nl + 1, v, vl);
	pair[nl + 1 + vl] = '\0';
	x->resp->headers = xrealloc(x->resp->headers, (x->resp->nheaders + 1) * sizeof(char *));
	x->resp->headers[x->resp->nheaders++] = pair;
	if (strcasecmp(pair, "content-length") == 0)
		x->resp->content_length = strtoll(pair + nl + 1, NULL, 10);
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * n;

	if (x->rq->sink != NULL && x->resp->status < 400) {
		if (x->rq->sink(x->rq->sink_ctx, data, len, &x->cb_err) == -1) {
			x->sink_failed = 1;
			return 0; /* libcurl: CURLE_WRITE_ERROR */
		}
		x->resp->bytes += len;
		return len;
	}
	if (x->resp->status >= 400) {
		/* Keep the start of an error body for the message; drop the rest. */
		size_t room =
		    x->body.len < HTTP_ERROR_BODY_MAX ? HTTP_ERROR_BODY_MAX - x->body.len : 0;

		buf_append(&x->body, data, len < room ? len : room);
		x->resp->bytes += len;
		return len;
	}
	if (x->body.len + len > x->body_limit) {
		x->too_big = 1;
		return 0;
	}
	buf_append(&x->body, data, len);
	x->resp->bytes += len;
	return len;
}

static size_t
on_read(char *out, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * n;
	ssize_t got;

	if (x->rq->source == NULL) {
		if (len > x->mem_left)
			len = x->mem_left;
		memcpy(out, x->mem, len);
		x->mem += len;
		x->mem_left -= len;
		return len;
	}
	got = x->rq->source(x->rq->source_ctx, out, len, &x->cb_err);
	if (got < 0) {
		x->sink_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_xfer *x = arg;
	struct progress *p = x->rq->progress;
	enum progress_state st;

	(void)dltotal;
	(void)ultotal;
	if (spawn_signal_count() != x->signals_at_start) {
		x->signalled = 1;
		return 1;
	}
	if (p == NULL)
		return 0;
	if (dlnow + ulnow > x->seen) {
		progress_feed(p, (uint64_t)(dlnow + ulnow - x->seen));
		x->seen = dlnow + ulnow;
	}
	if ((st = progress_check(p, progress_now())) != PROGRESS_OK) {
		x->stopped = st;
		return 1;
	}
	return 0;
}

/* --- request -------------------------------------------------------------------- */

/* Up to max bytes of an error body, on one line, printable. */
static void
body_excerpt(const char *body, size_t len, char *out, size_t outsz)
{
	size_t o = 0;
	int space = 0;

	for (size_t i = 0; i < len && o + 1 < outsz; i++) {
		unsigned char ch = (unsigned char)body[i];

		if (isspace(ch) || ch < 0x20 || ch == 0x7f) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < outsz)
			out[o++] = ' ';
		space = 0;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	if (o > 300)
		snprintf(out + 297, outsz - 297, "...");
}

/* Replace any copy of secret in e's message (it should never be there). */
static void
scrub(struct err *e, const char *secret)
{
	char *hit;
	size_t n;

	if (secret == NULL || (n = strlen(secret)) < 3)
		return;
	while ((hit = strstr(e->msg, secret)) != NULL) {
		memset(hit, '*', n);
	}
}

/*
 * The options that stay for the client's life: TLS, credentials, proxy,
 * the cookie engine, the callbacks. Set once, on a fresh handle (we never
 * curl_easy_reset(): libcurl 7.88 leaks the cookie engine's file list
 * there).
 */
static void
client_options(struct http_client *c)
{
	const struct curl_api *cu = c->cu;
	CURL *h = c->h;

	cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cu->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	cu->easy_setopt(h, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRECTS);
	cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
	cu->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	cu->easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	cu->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	cu->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (c->cookies)
		cu->easy_setopt(h, CURLOPT_COOKIEFILE, ""); /* the engine on, in memory */
	if (c->no_proxy)
		cu->easy_setopt(h, CURLOPT_NOPROXY, "*");
	/*
	 * Only the trust that is asked for: with a CA file, that file alone
	 * (not also the system's CA directory, which libcurl-gnutls would
	 * otherwise parse on each connection, ~7 MiB each); with a pin or
	 * insecure, no CA at all.
	 */
	if (c->insecure) {
		cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		cu->easy_setopt(h, CURLOPT_CAINFO, (char *)NULL);
		cu->easy_setopt(h, CURLOPT_CAPATH, (char *)NULL);
	} else if (c->pin != NULL) {
		/* The key pin is the identity check; libcurl still enforces it. */
		cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		cu->easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
		cu->easy_setopt(h, CURLOPT_CAINFO, (char *)NULL);
		cu->easy_setopt(h, CURLOPT_CAPATH, (char *)NULL);
	} else {
		cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		if (c->ca_file != NULL) {
			cu->easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
			cu->easy_setopt(h, CURLOPT_CAPATH, (char *)NULL);
		}
	}
	if (c->username != NULL) {
		cu->easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		cu->easy_setopt(h, CURLOPT_USERNAME, c->username);
		cu->easy_setopt(h, CURLOPT_PASSWORD, c->password != NULL ? c->password : "");
	}
}

/* CURLOPT_BUFFERSIZE for a request's recv_buffer (0: libcurl's default). */
static long
http_recv_buffer(size_t want)
{
	if (want == 0)
		return HTTP_RECV_DEFAULT;
	if (want < HTTP_RECV_MIN)
		return HTTP_RECV_MIN;
	return want > HTTP_RECV_MAX ? HTTP_RECV_MAX : (long)want;
}

/*
 * The options of one request, every one of them given each time (with
 * its neutral value when unused) so nothing carries over from the last.
 */
static void
request_options(struct http_client *c, const struct http_request *rq, struct http_xfer *x,
                struct curl_slist *hdrs, char *errbuf)
{
	const struct curl_api *cu = c->cu;
	CURL *h = c->h;
	const char *method = rq->method != NULL ? rq->method : "GET";
	int https = strncasecmp(rq->url, "https:", 6) == 0;
	curl_off_t size = (curl_off_t)(rq->source != NULL ? rq->source_len : (int64_t)rq->body_len);

	cu->easy_setopt(h, CURLOPT_URL, rq->url);
	cu->easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	cu->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
	cu->easy_setopt(h, CURLOPT_HEADERDATA, x);
	cu->easy_setopt(h, CURLOPT_WRITEDATA, x);
	cu->easy_setopt(h, CURLOPT_READDATA, x);
	cu->easy_setopt(h, CURLOPT_XFERINFODATA, x);
	cu->easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	cu->easy_setopt(h, CURLOPT_BUFFERSIZE, http_recv_buffer(rq->recv_buffer));

	cu->easy_setopt(h, CURLOPT_UPLOAD, 0L);
	cu->easy_setopt(h, CURLOPT_CUSTOMREQUEST, (char *)NULL);
	cu->easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
	cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	cu->easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (strcmp(method, "PUT") == 0) {
		cu->easy_setopt(h, CURLOPT_UPLOAD, 1L);
		cu->easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
	} else if (strcmp(method, "POST") == 0) {
		cu->easy_setopt(h, CURLOPT_POST, 1L);
		cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
	} else if (strcmp(method, "GET") != 0) {
		cu->easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
}

int
http_request(struct http_client *c, const struct http_request *rq, struct http_response *resp,
             struct err *err)
{
	const struct curl_api *cu = c->cu;
	const char *method = rq->method != NULL ? rq->method : "GET";
	struct curl_slist *hdrs = NULL;
	struct http_xfer x;
	char errbuf[CURL_ERROR_SIZE], why[160], excerpt[HTTP_ERROR_BODY_MAX];
	char *masked = http_mask_url(rq->url);
	CURLcode rc;
	int ret = -1;

	memset(resp, 0, sizeof *resp);
	resp->content_length = -1;
	memset(&x, 0, sizeof x);
	x.c = c;
	x.rq = rq;
	x.resp = resp;
	x.mem = rq->body;
	x.mem_left = rq->body != NULL ? rq->body_len : 0;
	x.body_limit = rq->max_body > 0 ? rq->max_body : HTTP_DEFAULT_MAX_BODY;
	buf_init(&x.body, x.body_limit + HTTP_ERROR_BODY_MAX);
	err_clear(&x.cb_err);
	errbuf[0] = '\0';
	x.signals_at_start = spawn_signal_count();

	if (strncasecmp(rq->url, "http://", 7) != 0 && strncasecmp(rq->url, "https://", 8) != 0) {
		err_set(err, "%s %s: only http:// and https:// URLs are supported", method, masked);
		err->code = HTTP_ERR_TRANSPORT;
		goto out;
	}
	for (const char *const *hl = rq->headers; hl != NULL && *hl != NULL; hl++)
		hdrs = cu->slist_append(hdrs, *hl);
	request_options(c, rq, &x, hdrs, errbuf);
	if (rq->progress != NULL)
		progress_feed(rq->progress, 0); /* a transfer starting is progress */
	rc = cu->easy_perform(c->h);

	if (x.body.len > 0 || resp->status >= 400 || rq->sink == NULL) {
		resp->body_len = x.body.len;
		resp->body = buf_steal(&x.body);
		if (resp->body == NULL)
			resp->body = xstrdup("");
	}
	if (x.signalled) {
		err_set(err, "%s %s: interrupted", method, masked);
		err->code = HTTP_ERR_ABORTED;
	} else if (x.stopped != PROGRESS_OK) {
		progress_describe(rq->progress, x.stopped, why, sizeof why);
		err_set(err, "%s %s: %s", method, masked, why);
		err->code = HTTP_ERR_ABORTED;
	} else if (x.sink_failed) {
		err_set(err, "%s %s: %s", method, masked, x.cb_err.msg);
		err->code = HTTP_ERR_SINK;
	} else if (x.too_big) {
		err_set(err, "%s %s: the response is larger than %zu bytes", method, masked,
		        x.body_limit);
		err->code = HTTP_ERR_TOO_BIG;
	} else if (rc == CURLE_UNSUPPORTED_PROTOCOL && resp->status >= 300 && resp->status < 400) {
		err_set(err,
		        "%s %s: redirect refused (HTTP %ld to another scheme; https is never "
		        "followed to http)",
		        method, masked, resp->status);
		err->code = HTTP_ERR_TRANSPORT;
	} else if (rc != CURLE_OK) {
		err_set(err, "%s %s: %s", method, masked,
		        errbuf[0] != '\0' ? errbuf : cu->easy_strerror(rc));
		err->code = HTTP_ERR_TRANSPORT;
	} else if (resp->status >= 400) {
		body_excerpt(resp->body != NULL ? resp->body : "", resp->body_len, excerpt,
		             sizeof excerpt);
		err_set(err, "%s %s: HTTP %ld%s%s%s%s", method, masked, resp->status,
		        x.reason[0] != '\0' ? " " : "", x.reason, excerpt[0] != '\0' ? ": " : "",
		        excerpt);
		err->code = HTTP_ERR_STATUS;
	} else
		ret = 0;
	if (ret == -1) {
		scrub(err, c->password);
	}
out:
	if (hdrs != NULL)
		cu->slist_free_all(hdrs);
	buf_free(&x.body);
	free(masked);
	return ret;
}

const char *
http_response_header(const struct http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i], name) == 0)
			return resp->headers[i] + strlen(resp->headers[i]) + 1;
	return NULL;
}

void
http_response_free(struct http_response *resp)
{
	header_clear(resp);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}
