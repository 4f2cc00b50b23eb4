/*
 * http.c against real servers started in this process with libmicrohttpd,
 * one plain and one HTTPS (a self-signed certificate made by `openssl` at
 * start-up): a 64 MiB body streamed to a sink without growing memory,
 * uploads from a source and from memory, response headers, cookies kept
 * by one client, a stall, a deadline and an interrupt aborting a transfer,
 * a failing sink, a collected body over its limit, redirects followed
 * (same scheme, http to https) and refused (https to http), the key pin
 * right (both forms) and wrong, the CA file right and wrong, credentials
 * from a password file and never in a message, a URL's secrets masked,
 * 4xx/5xx with the server's words. Time limits only bound the waits.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "fixture.h"
#include "http.h"
#include "progress.h"
#include "spawn.h"
#include "util/xmalloc.h"

#define BIG ((uint64_t)64 << 20)
#define USER "backup-op"
#define PASSWORD "s3cr3t-Pa55word"

static char dir[TB_TMPDIR_MAX];
static struct MHD_Daemon *plain, *tls;
static unsigned plain_port, tls_port;
static char *cert_pem, *key_pem;
static char cert_file[TB_TMPDIR_MAX + 32], other_cert_file[TB_TMPDIR_MAX + 32],
    pwfile[TB_TMPDIR_MAX + 32], pin_hex[65], pin_b64[300];
static char other_pin_hex[65];

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int released;

/* --- the server ------------------------------------------------------------------ */

/* Wait until released or ms passed; 1 if released. */
static int
wait_release(long ms)
{
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (!released && pthread_cond_timedwait(&cv, &mu, &ts) == 0)
		;
	r = released;
	pthread_mutex_unlock(&mu);
	return r;
}

static ssize_t
big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= BIG)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > BIG - pos)
		max = (size_t)(BIG - pos);
	for (size_t i = 0; i < max; i++)
		buf[i] = (char)((pos + i) % 251);
	return (ssize_t)max;
}

/* 1000 bytes, then nothing until released (a stalled peer). */
static ssize_t
stall_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos < 1000) {
		size_t n = max < 1000 - pos ? max : (size_t)(1000 - pos);

		memset(buf, 'x', n);
		return (ssize_t)n;
	}
	wait_release(60000);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* One byte every 100 ms until released: alive, never done. */
static ssize_t
drip_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)max;
	if (pos > 0 && wait_release(100))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (pos > 6000)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	buf[0] = '.';
	return 1;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body, const char *hname,
      const char *hvalue)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (hname != NULL)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
stream(struct MHD_Connection *conn, uint64_t size, MHD_ContentReaderCallback fn)
{
	struct MHD_Response *r = MHD_create_response_from_callback(size, 16384, fn, NULL, NULL);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	char msg[64];

	(void)cls;
	(void)version;
	(void)method;
	(void)upload;
	if (*con_cls == NULL) {
		*con_cls = xcalloc(1, sizeof(uint64_t));
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*(uint64_t *)*con_cls += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/small") == 0)
		return reply(conn, 200, "hello world", "X-Task-Id", "OpaqueRef:task-1");
	if (strcmp(url, "/big") == 0)
		return stream(conn, BIG, big_reader);
	if (strcmp(url, "/stall") == 0)
		return stream(conn, MHD_SIZE_UNKNOWN, stall_reader);
	if (strcmp(url, "/drip") == 0)
		return stream(conn, MHD_SIZE_UNKNOWN, drip_reader);
	if (strcmp(url, "/notfound") == 0)
		return reply(conn, 404, "no such VM: vm-42\n", NULL, NULL);
	if (strcmp(url, "/boom") == 0)
		return reply(conn, 500, "<html>internal\n   boom</html>", NULL, NULL);
	if (strcmp(url, "/redirect") == 0) {
		const char *to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");

		return reply(conn, 302, "moved", "Location", to != NULL ? to : "/small");
	}
	if (strcmp(url, "/auth") == 0) {
		char *pw = NULL, *user = MHD_basic_auth_get_username_password(conn, &pw);
		int ok = user != NULL && pw != NULL && strcmp(user, USER) == 0 &&
		         strcmp(pw, PASSWORD) == 0;

		MHD_free(user);
		MHD_free(pw);
		return ok ? reply(conn, 200, "welcome", NULL, NULL)
		          : reply(conn, 401, "login refused", NULL, NULL);
	}
	if (strcmp(url, "/upload") == 0) {
		snprintf(msg, sizeof msg, "got %llu", (unsigned long long)*(uint64_t *)*con_cls);
		return reply(conn, 200, msg, NULL, NULL);
	}
	if (strcmp(url, "/setcookie") == 0)
		return reply(conn, 200, "ok", "Set-Cookie", "sess=abc123; Path=/");
	if (strcmp(url, "/needcookie") == 0) {
		const char *ck = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "sess");

		return ck != NULL && strcmp(ck, "abc123") == 0
		           ? reply(conn, 200, "session ok", NULL, NULL)
		           : reply(conn, 403, "no session", NULL, NULL);
	}
	return reply(conn, 404, "unknown", NULL, NULL);
}

static void
done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static struct MHD_Daemon *
start(int use_tls, unsigned *port)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	struct MHD_Daemon *d;

	if (use_tls)
		d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, NULL,
		                     MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
		                     MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT,
		                     cert_pem, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL,
		                     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	assert_non_null(d);
	*port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return d;
}

/* --- set-up ---------------------------------------------------------------------- */

static char last_line[256];

static void
keep_line(void *ctx, enum spawn_stream s, const char *line, size_t len)
{
	(void)ctx;
	if (s == SPAWN_STDOUT)
		snprintf(last_line, sizeof last_line, "%.*s", (int)len, line);
}

/* Run a command that must succeed; its last stdout line in last_line. */
static void
run(const char *const *argv)
{
	struct spawn_opts so;
	struct spawn_result res;
	struct err err;

	spawn_opts_init(&so);
	so.argv = argv;
	so.on_line = keep_line;
	so.timeout_sec = 120;
	last_line[0] = '\0';
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_true(res.exited);
	assert_int_equal(res.code, 0);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = xcalloc(1, 65536);

	assert_non_null(f);
	assert_true(fread(s, 1, 65535, f) > 0);
	fclose(f);
	return s;
}

/* Make a self-signed certificate name.pem/name.key; *pin its key's SHA-256 in hex. */
static void
make_cert(const char *name, char *pin)
{
	char *key = xasprintf("%s/%s.key", dir, name), *crt = xasprintf("%s/%s.pem", dir, name);
	char *der = xasprintf("%s/%s.der", dir, name);
	const char *req[] = { "openssl",
		              "req",
		              "-x509",
		              "-newkey",
		              "ec",
		              "-pkeyopt",
		              "ec_paramgen_curve:prime256v1",
		              "-nodes",
		              "-keyout",
		              key,
		              "-out",
		              crt,
		              "-days",
		              "2",
		              "-subj",
		              "/CN=localhost",
		              "-addext",
		              "subjectAltName=DNS:localhost,IP:127.0.0.1",
		              NULL };
	const char *pub[] = { "openssl",  "pkey", "-in",  key, "-pubout",
		              "-outform", "der",  "-out", der, NULL };
	const char *dgst[] = { "openssl", "dgst", "-sha256", "-r", der, NULL };

	run(req);
	run(pub);
	run(dgst);
	assert_true(strlen(last_line) >= 64);
	memcpy(pin, last_line, 64);
	pin[64] = '\0';
	free(key);
	free(crt);
	free(der);
}

static int
setup(void **state)
{
	char *path;
	int fd;

	(void)state;
	if (tb_tmpdir_make(dir, sizeof dir, "http") == -1)
		return -1;
	make_cert("server", pin_hex);
	make_cert("other", other_pin_hex);
	snprintf(cert_file, sizeof cert_file, "%s/server.pem", dir);
	snprintf(other_cert_file, sizeof other_cert_file, "%s/other.pem", dir);
	cert_pem = slurp(cert_file);
	path = xasprintf("%s/server.key", dir);
	key_pem = slurp(path);
	free(path);
	{
		/* The same pin in curl's form: base64 of the raw digest. */
		char *bin = xasprintf("%s/pin.bin", dir), *der = xasprintf("%s/server.der", dir);
		const char *dg[] = {
			"openssl", "dgst", "-sha256", "-binary", "-out", bin, der, NULL
		};
		const char *b64[] = { "openssl", "base64", "-A", "-in", bin, NULL };

		run(dg);
		run(b64);
		snprintf(pin_b64, sizeof pin_b64, "sha256//%s", last_line);
		free(bin);
		free(der);
	}
	snprintf(pwfile, sizeof pwfile, "%s/pw", dir);
	fd = open(pwfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, USER "\n" PASSWORD "\n", strlen(USER) + strlen(PASSWORD) + 2),
	                 (ssize_t)(strlen(USER) + strlen(PASSWORD) + 2));
	close(fd);
	plain = start(0, &plain_port);
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES)
		tls = start(1, &tls_port);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pthread_mutex_lock(&mu);
	released = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	MHD_stop_daemon(plain);
	if (tls != NULL)
		MHD_stop_daemon(tls);
	free(cert_pem);
	free(key_pem);
	return tb_tmpdir_remove(dir);
}

/* --- helpers --------------------------------------------------------------------- */

static char *
url(int https, const char *path)
{
	return xasprintf("%s://127.0.0.1:%u%s", https ? "https" : "http",
	                 https ? tls_port : plain_port, path);
}

static struct http_client *
client(const struct http_opts *o)
{
	struct http_client *c;
	struct err err;

	if (http_client_new(o, &c, &err) == -1)
		fail_msg("http_client_new: %s", err.msg);
	return c;
}

/* GET u with client options o; the body collected; returns http_request()'s value. */
static int
get(const struct http_opts *o, const char *u, struct http_response *resp, struct err *err)
{
	struct http_client *c = client(o);
	struct http_request rq = { .url = u };
	int rc = http_request(c, &rq, resp, err);

	http_client_free(c);
	return rc;
}

struct sink {
	uint64_t n;
	size_t max_chunk;
	int bad;
	struct progress *interrupt; /* interrupted after the first chunk when set */
	int fail;                   /* the sink fails at the first chunk */
};

static int
check_sink(void *ctx, const void *data, size_t len, struct err *err)
{
	struct sink *s = ctx;
	const unsigned char *p = data;

	if (s->fail) {
		err_set(err, "writing vm.xva.partial: No space left on device");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)((s->n + i) % 251))
			s->bad = 1;
	s->n += len;
	if (len > s->max_chunk)
		s->max_chunk = len;
	if (s->interrupt != NULL)
		progress_interrupt(s->interrupt);
	return 0;
}

static int
count_sink(void *ctx, const void *data, size_t len, struct err *err)
{
	(void)data;
	(void)err;
	((struct sink *)ctx)->n += len;
	return 0;
}

/* --- tests ----------------------------------------------------------------------- */

static void
test_stream_big(void **state)
{
	struct http_opts o = { 0 };
	struct http_client *c = client(&o);
	char *u = url(0, "/big");
	struct sink s = { 0 };
	struct http_request rq = { .url = u, .sink = check_sink, .sink_ctx = &s };
	struct http_response resp;
	struct progress p;
	struct rusage before, after;
	struct err err;

	(void)state;
	progress_init(&p, 30, 600);
	rq.progress = &p;
	getrusage(RUSAGE_SELF, &before);
	assert_int_equal(http_request(c, &rq, &resp, &err), 0);
	getrusage(RUSAGE_SELF, &after);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.content_length, (int64_t)BIG);
	assert_int_equal(s.n, BIG);
	assert_int_equal(resp.bytes, BIG);
	assert_false(s.bad);
	assert_null(resp.body);
	assert_true(s.max_chunk <= (1u << 20));
	/* Nothing near the body's 64 MiB was held: peak RSS grew by < 16 MiB. */
	assert_true(after.ru_maxrss - before.ru_maxrss < 16 * 1024);
	assert_true(progress_bytes(&p) >= BIG);
	http_response_free(&resp);
	http_client_free(c);
	free(u);
}

static ssize_t
gen_source(void *ctx, void *buf, size_t len, struct err *err)
{
	uint64_t *left = ctx;

	(void)err;
	if (len > *left)
		len = (size_t)*left;
	memset(buf, 'u', len);
	*left -= len;
	return (ssize_t)len;
}

static void
test_upload(void **state)
{
	struct http_opts o = { 0 };
	struct http_client *c = client(&o);
	char *u = url(0, "/upload");
	uint64_t left = 5u << 20;
	struct http_request put = { .method = "PUT",
		                    .url = u,
		                    .source = gen_source,
		                    .source_ctx = &left,
		                    .source_len = 5 << 20 };
	struct http_request post = {
		.method = "POST", .url = u, .body = "<x>12345</x>", .body_len = 12
	};
	static const char *const hdrs[] = { "Content-Type: text/xml", NULL };
	struct http_response resp;
	struct err err;

	(void)state;
	assert_int_equal(http_request(c, &put, &resp, &err), 0);
	assert_string_equal(resp.body, "got 5242880");
	http_response_free(&resp);
	left = 3000;
	put.source_len = -1; /* chunked */
	assert_int_equal(http_request(c, &put, &resp, &err), 0);
	assert_string_equal(resp.body, "got 3000");
	http_response_free(&resp);
	post.headers = hdrs;
	assert_int_equal(http_request(c, &post, &resp, &err), 0);
	assert_string_equal(resp.body, "got 12");
	http_response_free(&resp);
	http_client_free(c);
	free(u);
}

static void
test_headers_and_cookies(void **state)
{
	struct http_opts o = { .cookies = 1 }, none = { 0 };
	struct http_client *c = client(&o);
	char *u = url(0, "/small"), *set = url(0, "/setcookie"), *need = url(0, "/needcookie");
	struct http_request rq = { .url = u };
	struct http_response resp;
	struct err err;

	(void)state;
	assert_int_equal(http_request(c, &rq, &resp, &err), 0);
	assert_string_equal(resp.body, "hello world");
	assert_int_equal(resp.content_length, 11);
	assert_non_null(http_response_header(&resp, "x-task-id"));
	assert_string_equal(http_response_header(&resp, "X-TASK-ID"), "OpaqueRef:task-1");
	assert_null(http_response_header(&resp, "X-Nothing"));
	http_response_free(&resp);

	rq.url = set;
	assert_int_equal(http_request(c, &rq, &resp, &err), 0);
	http_response_free(&resp);
	rq.url = need;
	assert_int_equal(http_request(c, &rq, &resp, &err), 0);
	assert_string_equal(resp.body, "session ok");
	http_response_free(&resp);
	http_client_free(c);
	/* Another client has no session. */
	assert_int_equal(get(&none, need, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_STATUS);
	http_response_free(&resp);
	free(u);
	free(set);
	free(need);
}

static void
test_stall(void **state)
{
	struct http_opts o = { 0 };
	struct http_client *c = client(&o);
	char *u = url(0, "/stall");
	struct sink s = { 0 };
	struct http_request rq = { .url = u, .sink = count_sink, .sink_ctx = &s };
	struct http_response resp;
	struct progress p;
	struct err err;

	(void)state;
	progress_init(&p, 1, 0);
	rq.progress = &p;
	assert_int_equal(http_request(c, &rq, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_ABORTED);
	assert_non_null(strstr(err.msg, "stalled: nothing moved for 1 s"));
	assert_int_equal(s.n, 1000);
	http_response_free(&resp);
	http_client_free(c);
	free(u);
}

static void
test_deadline(void **state)
{
	struct http_opts o = { 0 };
	struct http_client *c = client(&o);
	char *u = url(0, "/drip");
	struct sink s = { 0 };
	struct http_request rq = { .url = u, .sink = count_sink, .sink_ctx = &s };
	struct http_response resp;
	struct progress p;
	struct err err;

	(void)state;
	progress_init(&p, 60, 2); /* bytes keep coming: only the deadline can end it */
	rq.progress = &p;
	assert_int_equal(http_request(c, &rq, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_ABORTED);
	assert_non_null(strstr(err.msg, "max_runtime (2 s) exceeded"));
	assert_true(s.n > 0);
	http_response_free(&resp);
	http_client_free(c);
	free(u);
}

static void
test_interrupt_and_sink_failure(void **state)
{
	struct http_opts o = { 0 };
	struct http_client *c = client(&o);
	char *u = url(0, "/big");
	struct progress p;
	struct sink s = { .interrupt = &p };
	struct sink f = { .fail = 1 };
	struct http_request rq = { .url = u, .sink = check_sink, .sink_ctx = &s, .progress = &p };
	struct http_response resp;
	struct err err;

	(void)state;
	progress_init(&p, 0, 0);
	assert_int_equal(http_request(c, &rq, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_ABORTED);
	assert_non_null(strstr(err.msg, ": interrupted"));
	assert_true(s.n < BIG);
	http_response_free(&resp);

	rq.sink_ctx = &f;
	rq.progress = NULL;
	assert_int_equal(http_request(c, &rq, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_SINK);
	assert_non_null(strstr(err.msg, "No space left on device"));
	http_response_free(&resp);

	/* Collected without a sink: over max_body is refused. */
	rq.sink = NULL;
	rq.max_body = 100000;
	assert_int_equal(http_request(c, &rq, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_TOO_BIG);
	http_response_free(&resp);
	http_client_free(c);
	free(u);
}

static void
test_status_errors(void **state)
{
	struct http_opts o = { 0 };
	char *nf = url(0, "/notfound?ref=OpaqueRef:1&session_id=OpaqueRef:SECRETSESSION");
	char *boom = url(0, "/boom");
	struct http_response resp;
	struct err err;

	(void)state;
	assert_int_equal(get(&o, nf, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_STATUS);
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(err.msg, "HTTP 404 Not Found: no such VM: vm-42"));
	assert_non_null(strstr(err.msg, "GET http://127.0.0.1:"));
	assert_non_null(strstr(err.msg, "/notfound?ref=…&session_id=…"));
	assert_null(strstr(err.msg, "SECRETSESSION"));
	http_response_free(&resp);
	assert_int_equal(get(&o, boom, &resp, &err), -1);
	assert_int_equal(resp.status, 500);
	assert_non_null(
	    strstr(err.msg, "HTTP 500 Internal Server Error: <html>internal boom</html>"));
	http_response_free(&resp);
	free(nf);
	free(boom);
}

static void
test_credentials(void **state)
{
	struct http_opts o = { .password_file = pwfile }, none = { 0 };
	char *u = url(0, "/auth"), *bad = xasprintf("%s/pw-open", dir);
	struct http_client *c;
	struct http_response resp;
	struct err err;
	int fd;

	(void)state;
	assert_int_equal(get(&o, u, &resp, &err), 0);
	assert_string_equal(resp.body, "welcome");
	http_response_free(&resp);
	assert_int_equal(get(&none, u, &resp, &err), -1);
	assert_non_null(strstr(err.msg, "HTTP 401"));
	http_response_free(&resp);

	/* The wrong password: refused, and the message holds no secret. */
	fd = open(bad, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, USER "\r\nwrong-" PASSWORD, strlen(USER) + strlen(PASSWORD) + 8),
	                 (ssize_t)(strlen(USER) + strlen(PASSWORD) + 8));
	close(fd);
	o.password_file = bad;
	assert_int_equal(get(&o, u, &resp, &err), -1);
	assert_non_null(strstr(err.msg, "HTTP 401 Unauthorized: login refused"));
	assert_null(strstr(err.msg, PASSWORD));
	http_response_free(&resp);

	/* A file others can read is refused, naming the file, not its content. */
	assert_int_equal(chmod(bad, 0644), 0);
	assert_int_equal(http_client_new(&o, &c, &err), -1);
	assert_non_null(strstr(err.msg, "mode 0600"));
	assert_null(strstr(err.msg, PASSWORD));
	/* Three lines are not "user, password". */
	assert_int_equal(chmod(bad, 0600), 0);
	fd = open(bad, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\nthird\n", 7), 7);
	close(fd);
	assert_int_equal(http_client_new(&o, &c, &err), -1);
	assert_non_null(strstr(err.msg, "expected 2 lines (user, password)"));
	/* With the user given, the file is the password alone. */
	o.username = USER;
	o.password_file = pwfile;
	assert_int_equal(http_client_new(&o, &c, &err), -1);
	assert_non_null(strstr(err.msg, "expected 1 line"));
	free(u);
	free(bad);
}

static void
test_mask_url(void **state)
{
	char *m;

	(void)state;
	m = http_mask_url("https://root:pw@xcp1:443/export?ref=R&session_id=S&x#frag");
	assert_string_equal(m, "https://xcp1:443/export?ref=…&session_id=…&x");
	free(m);
	m = http_mask_url("http://host/plain");
	assert_string_equal(m, "http://host/plain");
	free(m);
}

static void
test_redirects(void **state)
{
	struct http_opts o = { 0 }, ca = { .ca_file = cert_file };
	char *to_plain = xasprintf("/redirect?to=http://127.0.0.1:%u/small", plain_port);
	char *to_tls = xasprintf("/redirect?to=https://127.0.0.1:%u/small", tls_port);
	char *same = url(0, to_plain), *up = url(0, to_tls), *down = url(1, to_plain);
	struct http_response resp;
	struct err err;

	(void)state;
	if (tls == NULL)
		skip();
	assert_int_equal(get(&o, same, &resp, &err), 0);
	assert_string_equal(resp.body, "hello world");
	http_response_free(&resp);
	assert_int_equal(get(&ca, up, &resp, &err), 0);
	assert_string_equal(resp.body, "hello world");
	http_response_free(&resp);
	assert_int_equal(get(&ca, down, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_TRANSPORT);
	assert_non_null(strstr(err.msg, "redirect refused"));
	http_response_free(&resp);
	free(to_plain);
	free(to_tls);
	free(same);
	free(up);
	free(down);
}

static void
test_tls(void **state)
{
	char *u = url(1, "/small");
	struct http_opts ca = { .ca_file = cert_file }, wrong_ca = { .ca_file = other_cert_file };
	struct http_opts sys = { 0 }, pin = { .pin = pin_hex }, pin64 = { .pin = pin_b64 };
	struct http_opts wrong_pin = { .pin = other_pin_hex }, insecure = { .insecure = 1 };
	struct http_opts bad_pin = { .pin = "abc" };
	struct http_client *c;
	struct http_response resp;
	struct err err;

	(void)state;
	if (tls == NULL)
		skip();
	assert_int_equal(get(&ca, u, &resp, &err), 0);
	assert_string_equal(resp.body, "hello world");
	http_response_free(&resp);
	assert_int_equal(get(&pin, u, &resp, &err), 0);
	http_response_free(&resp);
	assert_int_equal(get(&pin64, u, &resp, &err), 0);
	http_response_free(&resp);
	assert_int_equal(get(&insecure, u, &resp, &err), 0);
	http_response_free(&resp);

	assert_int_equal(get(&wrong_ca, u, &resp, &err), -1);
	assert_int_equal(err.code, HTTP_ERR_TRANSPORT);
	assert_int_equal(resp.status, 0);
	http_response_free(&resp);
	assert_int_equal(get(&sys, u, &resp, &err), -1);
	assert_int_equal(resp.status, 0);
	http_response_free(&resp);
	assert_int_equal(get(&wrong_pin, u, &resp, &err), -1);
	assert_int_equal(resp.status, 0);
	assert_non_null(strstr(err.msg, "pinned public key"));
	http_response_free(&resp);
	assert_int_equal(http_client_new(&bad_pin, &c, &err), -1);
	assert_non_null(strstr(err.msg, "64 hex digits"));
	free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_big),
		cmocka_unit_test(test_upload),
		cmocka_unit_test(test_headers_and_cookies),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_interrupt_and_sink_failure),
		cmocka_unit_test(test_status_errors),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_mask_url),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_tls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
