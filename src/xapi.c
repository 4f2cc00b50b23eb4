/*
 * The XAPI client (xapi.h): XML-RPC requests built as text (strings
 * escaped with xml_escape), responses parsed with libxml2 into struct xv
 * trees, sessions with HOST_IS_SLAVE and SESSION_INVALID handled, and
 * Async.* tasks polled under the run's watchdog.
 *
 * Each call gets its own progress object (call_timeout for both the stall
 * and the deadline), so a cleanup call (task.cancel, VM.destroy,
 * session.logout) still runs after the run's watchdog fired or a SIGTERM
 * came; only a further signal stops it.
 */
#include "xapi.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "progress.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/xmalloc.h"
#include "xml.h"

#define XAPI_MAX_RESPONSE (64u << 20) /* VM.get_all_records of a large pool */
#define XAPI_MAX_REQUEST (1u << 20)
#define XAPI_MAX_DEPTH 32
#define XAPI_MAX_TEXT (16u << 20)
#define XAPI_ORIGINATOR "tisbackup"

struct xapi {
	struct http_client *http;
	char *host; /* where requests go: the master after HOST_IS_SLAVE */
	char *url;  /* scheme://host/ */
	char *user;
	char *password; /* wiped on close */
	char *session;
	int owns_session; /* 0 for a clone: no logout */
	int plain_http;
	long call_timeout;
	char *ca_file, *pin;
	int insecure, no_proxy;
	const char *section;
	struct xv *fail; /* ErrorDescription of the last failed call */
};

/* --- values ---------------------------------------------------------------------- */

static void
xv_clear(struct xv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		xv_clear(&v->items[i]);
		if (v->names != NULL)
			free(v->names[i]);
	}
	free(v->items);
	free(v->names);
	free(v->s);
	memset(v, 0, sizeof *v);
}

void
xv_free(struct xv *v)
{
	if (v == NULL)
		return;
	xv_clear(v);
	free(v);
}

const struct xv *
xv_get(const struct xv *v, const char *name)
{
	if (v == NULL || v->type != XV_STRUCT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->names[i], name) == 0)
			return &v->items[i];
	return NULL;
}

const char *
xv_str(const struct xv *v)
{
	if (v == NULL || (v->type != XV_STR && v->type != XV_BOOL))
		return NULL;
	return v->s;
}

const char *
xv_member_str(const struct xv *v, const char *name)
{
	const char *s = xv_str(xv_get(v, name));

	return s != NULL ? s : "";
}

int
xv_true(const struct xv *v)
{
	const char *s = xv_str(v);

	return s != NULL && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0);
}

/* --- parsing --------------------------------------------------------------------- */

static int
node_text(const xmlNode *n, char **out, struct err *err)
{
	struct buf b;

	buf_init(&b, XAPI_MAX_TEXT);
	if (xml_text(n, &b) == -1) {
		buf_free(&b);
		err_set(err, "a value is larger than %u bytes", XAPI_MAX_TEXT);
		return -1;
	}
	*out = buf_steal(&b);
	if (*out == NULL)
		*out = xstrdup("");
	return 0;
}

static int parse_value(const xmlNode *value, struct xv *out, int depth, struct err *err);

/* Append one parsed <value> to an array or struct being built. */
static struct xv *
grow(struct xv *v, size_t *cap)
{
	if (v->n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		v->items = xrealloc(v->items, *cap * sizeof *v->items);
		if (v->type == XV_STRUCT)
			v->names = xrealloc(v->names, *cap * sizeof *v->names);
	}
	memset(&v->items[v->n], 0, sizeof v->items[0]);
	if (v->type == XV_STRUCT)
		v->names[v->n] = NULL;
	return &v->items[v->n++];
}

static int
parse_array(const xmlNode *t, struct xv *out, int depth, struct err *err)
{
	const xmlNode *data = xml_child(t, "data");
	size_t cap = 0;

	out->type = XV_ARRAY;
	if (data == NULL)
		return 0;
	for (const xmlNode *v = xml_child(data, "value"); v != NULL; v = xml_next(v, "value"))
		if (parse_value(v, grow(out, &cap), depth + 1, err) == -1)
			return -1;
	return 0;
}

static int
parse_struct(const xmlNode *t, struct xv *out, int depth, struct err *err)
{
	size_t cap = 0;

	out->type = XV_STRUCT;
	for (const xmlNode *m = xml_child(t, "member"); m != NULL; m = xml_next(m, "member")) {
		const xmlNode *name = xml_child(m, "name"), *value = xml_child(m, "value");
		struct xv *item;

		if (name == NULL || value == NULL) {
			err_set(err, "a struct member without a name or a value");
			return -1;
		}
		item = grow(out, &cap);
		if (node_text(name, &out->names[out->n - 1], err) == -1 ||
		    parse_value(value, item, depth + 1, err) == -1)
			return -1;
	}
	return 0;
}

static int
parse_value(const xmlNode *value, struct xv *out, int depth, struct err *err)
{
	const xmlNode *t = xml_child(value, NULL);
	const char *name;

	if (depth > XAPI_MAX_DEPTH) {
		err_set(err, "values nested deeper than %d", XAPI_MAX_DEPTH);
		return -1;
	}
	out->type = XV_STR;
	if (t == NULL) /* xapi's untyped string */
		return node_text(value, &out->s, err);
	name = (const char *)t->name;
	if (strcmp(name, "array") == 0)
		return parse_array(t, out, depth, err);
	if (strcmp(name, "struct") == 0)
		return parse_struct(t, out, depth, err);
	if (strcmp(name, "nil") == 0) {
		out->type = XV_NIL;
		return 0;
	}
	if (node_text(t, &out->s, err) == -1)
		return -1;
	if (strcmp(name, "boolean") == 0) {
		if (strcmp(out->s, "0") != 0 && strcmp(out->s, "1") != 0) {
			err_set(err, "a boolean that is neither 0 nor 1");
			return -1;
		}
		out->type = XV_BOOL;
		return 0;
	}
	if (strcmp(name, "string") == 0 || strcmp(name, "int") == 0 || strcmp(name, "i4") == 0 ||
	    strcmp(name, "i8") == 0 || strcmp(name, "double") == 0 ||
	    strcmp(name, "dateTime.iso8601") == 0 || strcmp(name, "base64") == 0)
		return 0;
	err_set(err, "an unknown value type <%.40s>", name);
	return -1;
}

/* "CODE a, b, c" of an ErrorDescription array (bounded). */
static void
describe_failure(const struct xv *desc, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; desc != NULL && desc->type == XV_ARRAY && i < desc->n && i < 8; i++) {
		const char *s = xv_str(&desc->items[i]);
		int w = snprintf(out + o, outsz - o, "%s%.200s",
		                 i == 0   ? ""
		                 : i == 1 ? " "
		                          : ", ",
		                 s != NULL ? s : "?");

		if (w < 0 || (size_t)w >= outsz - o)
			break;
		o += (size_t)w;
	}
	if (out[0] == '\0')
		snprintf(out, outsz, "(no error description)");
}

int
xapi_response_parse(const char *data, size_t len, struct xv **value, struct err *err)
{
	xmlDoc *doc;
	const xmlNode *root, *v, *fault;
	struct xv *top = NULL, *out = NULL;
	const char *status;
	char what[600];
	int rc = -1;

	*value = NULL;
	if ((doc = xml_parse(data, len, "XAPI response", err)) == NULL)
		return -1;
	err->code = 0;
	root = xml_root(doc);
	if (root == NULL || strcmp((const char *)root->name, "methodResponse") != 0) {
		err_set(err, "XAPI response: not an XML-RPC methodResponse");
		goto out;
	}
	if ((fault = xml_child(root, "fault")) != NULL) {
		top = xcalloc(1, sizeof *top);
		if ((v = xml_child(fault, "value")) == NULL || parse_value(v, top, 0, err) == -1) {
			err_wrap(err, "XAPI response: a malformed fault");
			goto out;
		}
		err_set(err, "XML-RPC fault %.20s: %.300s", xv_member_str(top, "faultCode"),
		        xv_member_str(top, "faultString"));
		goto out;
	}
	if ((v = xml_path(root, "params/param/value")) == NULL) {
		err_set(err, "XAPI response: no params/param/value");
		goto out;
	}
	top = xcalloc(1, sizeof *top);
	if (parse_value(v, top, 0, err) == -1) {
		err_wrap(err, "XAPI response");
		goto out;
	}
	status = xv_str(xv_get(top, "Status"));
	if (status != NULL && strcmp(status, "Success") == 0 && xv_get(top, "Value") != NULL) {
		const struct xv *val = xv_get(top, "Value");

		out = xcalloc(1, sizeof *out);
		*out = *val;
		memset((struct xv *)val, 0, sizeof *val); /* moved out of top */
		*value = out;
		rc = 0;
	} else if (status != NULL && strcmp(status, "Failure") == 0) {
		const struct xv *d = xv_get(top, "ErrorDescription");

		describe_failure(d, what, sizeof what);
		err_set(err, "%s", what);
		err->code = XAPI_ERR_FAILURE;
		if (d != NULL && d->type == XV_ARRAY) {
			out = xcalloc(1, sizeof *out);
			*out = *d;
			memset((struct xv *)d, 0, sizeof *d);
			*value = out;
		}
	} else {
		err_set(err, "XAPI response: no Status Success with a Value, nor Failure");
	}
out:
	xv_free(top);
	xml_free(doc);
	return rc;
}

/* --- requests -------------------------------------------------------------------- */

int
xapi_url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
			if (buf_putc(out, (char)c) == -1)
				return -1;
		} else if (buf_putc(out, '%') == -1 || buf_putc(out, hex[c >> 4]) == -1 ||
		           buf_putc(out, hex[c & 15]) == -1)
			return -1;
	}
	return 0;
}

static int put_value(struct buf *b, const struct xv *v, struct err *err);

static int
put_string(struct buf *b, const char *s, struct err *err)
{
	if (buf_puts(b, "<value><string>") == -1 || xml_escape(b, s, err) == -1 ||
	    buf_puts(b, "</string></value>") == -1)
		return -1;
	return 0;
}

static int
put_value(struct buf *b, const struct xv *v, struct err *err)
{
	switch (v->type) {
	case XV_STR:
		return put_string(b, v->s != NULL ? v->s : "", err);
	case XV_BOOL:
		return buf_printf(b, "<value><boolean>%d</boolean></value>", xv_true(v));
	case XV_NIL:
		return buf_puts(b, "<value><nil/></value>");
	case XV_ARRAY:
		if (buf_puts(b, "<value><array><data>") == -1)
			return -1;
		for (size_t i = 0; i < v->n; i++)
			if (put_value(b, &v->items[i], err) == -1)
				return -1;
		return buf_puts(b, "</data></array></value>");
	case XV_STRUCT:
		if (buf_puts(b, "<value><struct>") == -1)
			return -1;
		for (size_t i = 0; i < v->n; i++)
			if (buf_puts(b, "<member><name>") == -1 ||
			    xml_escape(b, v->names[i], err) == -1 || buf_puts(b, "</name>") == -1 ||
			    put_value(b, &v->items[i], err) == -1 || buf_puts(b, "</member>") == -1)
				return -1;
		return buf_puts(b, "</struct></value>");
	}
	return -1;
}

/*
 * Build the methodCall of method with the session (when not NULL) then the
 * arguments of fmt. 0, or -1 + err (a value XML cannot carry, too large).
 */
static int
build_call(struct buf *b, const char *method, const char *session, const char *fmt, va_list ap,
           struct err *err)
{
	if (buf_puts(b, "<?xml version=\"1.0\"?><methodCall><methodName>") == -1 ||
	    xml_escape(b, method, err) == -1 || buf_puts(b, "</methodName><params>") == -1)
		goto big;
	if (session != NULL && (buf_puts(b, "<param>") == -1 || put_string(b, session, err) == -1 ||
	                        buf_puts(b, "</param>") == -1))
		goto big;
	for (const char *f = fmt; *f != '\0'; f++) {
		int rc;

		if (buf_puts(b, "<param>") == -1)
			goto big;
		if (*f == 's') {
			const char *s = va_arg(ap, const char *);

			rc = put_string(b, s != NULL ? s : "", err);
		} else if (*f == 'b') {
			rc = buf_printf(b, "<value><boolean>%d</boolean></value>",
			                va_arg(ap, int) != 0);
		} else {
			assert(*f == 'v'); /* a caller's bug: see xapi_call's contract */
			rc = put_value(b, va_arg(ap, const struct xv *), err);
		}
		if (rc == -1 || buf_puts(b, "</param>") == -1)
			goto big;
	}
	if (buf_puts(b, "</params></methodCall>") == -1)
		goto big;
	return 0;
big:
	if (!err_isset(err))
		err_set(err, "the request is larger than %u bytes", XAPI_MAX_REQUEST);
	return -1;
}

/* POST body to x's URL and parse the answer (see xapi_response_parse). */
static int
post(struct xapi *x, const struct buf *body, struct xv **value, struct err *err)
{
	static const char *const headers[] = { "Content-Type: text/xml", NULL };
	struct http_response resp;
	struct progress p;
	struct http_request rq = {
		.method = "POST",
		.url = x->url,
		.headers = headers,
		.body = body->data,
		.body_len = body->len,
		.max_body = XAPI_MAX_RESPONSE,
		.progress = &p,
	};
	int rc;

	*value = NULL;
	progress_init(&p, x->call_timeout, x->call_timeout);
	if (http_request(x->http, &rq, &resp, err) == -1) {
		http_response_free(&resp);
		return -1;
	}
	rc = xapi_response_parse(resp.body, resp.body_len, value, err);
	http_response_free(&resp);
	return rc;
}

static void
set_url(struct xapi *x, const char *host)
{
	free(x->host);
	free(x->url);
	x->host = xstrdup(host);
	x->url = xasprintf("%s://%s/", x->plain_http ? "http" : "https", host);
}

static int
call_va(struct xapi *x, struct xv **result, struct err *err, const char *method,
        const char *session, const char *fmt, va_list ap)
{
	struct buf body;
	struct xv *v = NULL;
	int rc;

	xv_free(x->fail);
	x->fail = NULL;
	buf_init(&body, XAPI_MAX_REQUEST);
	rc = build_call(&body, method, session, fmt, ap, err);
	if (rc == 0)
		rc = post(x, &body, &v, err);
	explicit_bzero(body.data, body.len); /* the login's password */
	buf_free(&body);
	if (rc == -1 && err->code == XAPI_ERR_FAILURE) {
		x->fail = v;
		v = NULL;
	}
	if (rc == -1)
		err_wrap(err, "%s", method);
	if (result != NULL)
		*result = v;
	else
		xv_free(v);
	return rc;
}

static int
call_raw(struct xapi *x, struct xv **result, struct err *err, const char *method,
         const char *session, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = call_va(x, result, err, method, session, fmt, ap);
	va_end(ap);
	return rc;
}

int
xapi_failed(const struct xapi *x, const char *code)
{
	const char *s;

	if (x->fail == NULL || x->fail->type != XV_ARRAY || x->fail->n == 0)
		return 0;
	s = xv_str(&x->fail->items[0]);
	return s != NULL && strcmp(s, code) == 0;
}

/* The argument i of the last failure, or NULL. */
static const char *
fail_arg(const struct xapi *x, size_t i)
{
	if (x->fail == NULL || x->fail->type != XV_ARRAY || x->fail->n <= i)
		return NULL;
	return xv_str(&x->fail->items[i]);
}

/*
 * session.login_with_password; on HOST_IS_SLAVE (once) switch to the
 * master (its address, keeping our port unless it names one) and retry.
 */
static int
login(struct xapi *x, struct err *err)
{
	struct xv *v = NULL;
	int switched = 0;

	for (;;) {
		if (call_raw(x, &v, err, "session.login_with_password", NULL, "ssss", x->user,
		             x->password, "1.0", XAPI_ORIGINATOR) == 0)
			break;
		if (xapi_failed(x, "HOST_IS_SLAVE") && !switched && fail_arg(x, 1) != NULL &&
		    fail_arg(x, 1)[0] != '\0') {
			const char *master = fail_arg(x, 1), *port = strrchr(x->host, ':');
			char *host;

			if (strchr(master, ':') == NULL && port != NULL)
				host = xasprintf("%s%s", master, port);
			else
				host = xstrdup(master);
			log_info(x->section, "XAPI: %s is a pool member; the master is %s", x->host,
			         host);
			set_url(x, host);
			free(host);
			switched = 1;
			continue;
		}
		if (xapi_failed(x, "SESSION_AUTHENTICATION_FAILED"))
			err_set(err, "XAPI login as %s refused (SESSION_AUTHENTICATION_FAILED)",
			        x->user);
		else
			err_wrap(err, "XAPI login as %s on %s", x->user, x->host);
		return -1;
	}
	if (xv_str(v) == NULL || strncmp(xv_str(v), "OpaqueRef:", 10) != 0) {
		xv_free(v);
		err_set(err, "XAPI login as %s on %s: the answer is not a session", x->user,
		        x->host);
		return -1;
	}
	free(x->session);
	x->session = xstrdup(xv_str(v));
	xv_free(v);
	return 0;
}

int
xapi_open(const struct xapi_opts *o, struct xapi **out, struct err *err)
{
	struct xapi *x = xcalloc(1, sizeof *x);

	*out = NULL;
	x->owns_session = 1;
	x->plain_http = o->plain_http;
	x->call_timeout = o->call_timeout > 0 ? o->call_timeout : 300;
	x->ca_file = o->ca_file != NULL ? xstrdup(o->ca_file) : NULL;
	x->pin = o->pin != NULL ? xstrdup(o->pin) : NULL;
	x->insecure = o->insecure;
	x->no_proxy = o->no_proxy;
	x->section = o->log_section;
	set_url(x, o->host);
	if (http_read_credentials(o->password_file, &x->user, &x->password, err) == -1)
		goto fail;
	if (xapi_http_client(x, &x->http, err) == -1)
		goto fail;
	if (login(x, err) == -1)
		goto fail;
	*out = x;
	return 0;
fail:
	x->owns_session = 0;
	xapi_close(x);
	return -1;
}

void
xapi_close(struct xapi *x)
{
	struct err err;

	if (x == NULL)
		return;
	err_clear(&err);
	if (x->owns_session && x->session != NULL &&
	    call_raw(x, NULL, &err, "session.logout", x->session, "") == -1)
		log_warning(x->section, "XAPI: %s", err.msg);
	http_client_free(x->http);
	if (x->password != NULL)
		explicit_bzero(x->password, strlen(x->password));
	free(x->password);
	free(x->user);
	free(x->session);
	free(x->host);
	free(x->url);
	free(x->ca_file);
	free(x->pin);
	xv_free(x->fail);
	free(x);
}

int
xapi_http_client(const struct xapi *x, struct http_client **out, struct err *err)
{
	struct http_opts ho = {
		.ca_file = x->ca_file,
		.pin = x->pin,
		.insecure = x->insecure,
		.no_proxy = x->no_proxy,
	};

	return http_client_new(&ho, out, err);
}

int
xapi_clone(const struct xapi *x, struct xapi **out, struct err *err)
{
	struct xapi *c = xcalloc(1, sizeof *c);

	*out = NULL;
	c->plain_http = x->plain_http;
	c->call_timeout = x->call_timeout;
	c->ca_file = x->ca_file != NULL ? xstrdup(x->ca_file) : NULL;
	c->pin = x->pin != NULL ? xstrdup(x->pin) : NULL;
	c->insecure = x->insecure;
	c->no_proxy = x->no_proxy;
	c->section = x->section;
	c->user = xstrdup(x->user);
	c->session = xstrdup(x->session);
	set_url(c, x->host);
	if (xapi_http_client(c, &c->http, err) == -1) {
		xapi_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
xapi_call(struct xapi *x, struct xv **result, struct err *err, const char *method, const char *fmt,
          ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = call_va(x, result, err, method, x->session, fmt, ap);
	va_end(ap);
	if (rc == -1 && xapi_failed(x, "SESSION_INVALID") && x->owns_session &&
	    x->password != NULL) {
		log_info(x->section, "XAPI: the session expired; logging in again");
		if (login(x, err) == -1)
			return -1;
		va_start(ap, fmt);
		rc = call_va(x, result, err, method, x->session, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *
xapi_session(const struct xapi *x)
{
	return x->session;
}

const char *
xapi_host(const struct xapi *x)
{
	return x->host;
}

const char *
xapi_user(const struct xapi *x)
{
	return x->user;
}

int
xapi_vm_destroy(struct xapi *x, const char *vm, struct err *err)
{
	struct xv *vbds = NULL, *rec = NULL;
	int rc = -1;

	if (xapi_call(x, &vbds, err, "VM.get_VBDs", "s", vm) == -1)
		goto out;
	for (size_t i = 0; vbds != NULL && vbds->type == XV_ARRAY && i < vbds->n; i++) {
		const char *vbd = xv_str(&vbds->items[i]), *vdi;

		xv_free(rec);
		rec = NULL;
		if (vbd == NULL || xapi_call(x, &rec, err, "VBD.get_record", "s", vbd) == -1)
			goto out;
		vdi = xv_member_str(rec, "VDI");
		if (strcmp(xv_member_str(rec, "type"), "CD") == 0 || vdi[0] == '\0' ||
		    strcmp(vdi, "OpaqueRef:NULL") == 0)
			continue;
		for (int attempt = 0;; attempt++) {
			if (xapi_call(x, NULL, err, "VDI.destroy", "s", vdi) == 0)
				break;
			if (attempt > 0 || !(xapi_failed(x, "VDI_IN_USE") ||
			                     xapi_failed(x, "OTHER_OPERATION_IN_PROGRESS")))
				goto out;
			sleep(10);
		}
	}
	if (xapi_call(x, NULL, err, "VM.destroy", "s", vm) == -1)
		goto out;
	rc = 0;
out:
	xv_free(rec);
	xv_free(vbds);
	return rc;
}

/* --- tasks ----------------------------------------------------------------------- */

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !spawn_interrupted())
		;
}

/*
 * The text of the first scalar inside a task result: "<value>OpaqueRef:...
 * </value>" (Async.VM.snapshot) or a set of refs, "<value><array><data>
 * <value>OpaqueRef:...</value>..." (an /import's new VMs); "" when empty.
 */
static char *
task_result_text(const char *result)
{
	const char *a = strstr(result, "<value>"), *b;

	if (a == NULL)
		return xstrdup(result);
	a += 7;
	while (strncmp(a, "<array>", 7) == 0 || strncmp(a, "<data>", 6) == 0 ||
	       strncmp(a, "<value>", 7) == 0 || strncmp(a, "<string>", 8) == 0)
		a = strchr(a, '>') + 1;
	b = strchr(a, '<');
	return b != NULL ? xstrndup(a, (size_t)(b - a)) : xstrdup(a);
}

int
xapi_task_wait(struct xapi *x, const char *task, struct progress *run, long timeout_sec,
               char **result, struct err *err)
{
	unsigned long sigs = spawn_signal_count();
	int64_t start = progress_now();
	long wait_ms = 100;
	char last_progress[32] = "", why[160];
	struct xv *rec = NULL;
	int rc = -1;

	if (result != NULL)
		*result = NULL;
	for (;;) {
		const char *status, *prog;
		enum progress_state st = PROGRESS_OK;

		xv_free(rec);
		rec = NULL;
		if (xapi_call(x, &rec, err, "task.get_record", "s", task) == -1)
			goto out;
		status = xv_member_str(rec, "status");
		prog = xv_member_str(rec, "progress");
		if (strcmp(status, "success") == 0) {
			if (result != NULL)
				*result = task_result_text(xv_member_str(rec, "result"));
			rc = 0;
			goto out;
		}
		if (strcmp(status, "failure") == 0 || strcmp(status, "cancelled") == 0) {
			char what[600];

			describe_failure(xv_get(rec, "error_info"), what, sizeof what);
			err_set(err, "the task %s: %s",
			        strcmp(status, "failure") == 0 ? "failed" : "was cancelled", what);
			err->code = XAPI_ERR_FAILURE;
			goto out;
		}
		if (run != NULL && strcmp(prog, last_progress) != 0) {
			snprintf(last_progress, sizeof last_progress, "%s", prog);
			progress_feed(run, 0);
		}
		if (spawn_signal_count() != sigs)
			snprintf(why, sizeof why, "interrupted by a signal");
		else if (run != NULL && (st = progress_check(run, progress_now())) != PROGRESS_OK)
			progress_describe(run, st, why, sizeof why);
		else if (timeout_sec > 0 &&
		         progress_now() - start > (int64_t)timeout_sec * 1000000000LL)
			snprintf(why, sizeof why, "no result after %ld s", timeout_sec);
		else
			why[0] = '\0';
		if (why[0] != '\0') {
			struct err cerr;

			err_clear(&cerr);
			if (xapi_call(x, NULL, &cerr, "task.cancel", "s", task) == -1)
				log_warning(x->section, "XAPI: %s", cerr.msg);
			err_set(err, "the task was cancelled: %s", why);
			goto out;
		}
		sleep_ms(wait_ms);
		if (wait_ms < 2000)
			wait_ms = wait_ms * 3 / 2;
	}
out:
	xv_free(rec);
	return rc;
}

int
xapi_async(struct xapi *x, struct progress *run, long timeout_sec, char **result, struct err *err,
           const char *method, const char *fmt, ...)
{
	char *amethod = xasprintf("Async.%s", method);
	struct xv *task = NULL;
	struct err derr;
	va_list ap;
	int rc;

	if (result != NULL)
		*result = NULL;
	va_start(ap, fmt);
	rc = call_va(x, &task, err, amethod, x->session, fmt, ap);
	va_end(ap);
	free(amethod);
	if (rc == -1)
		return -1;
	if (xv_str(task) == NULL) {
		xv_free(task);
		err_set(err, "Async.%s: the answer is not a task", method);
		return -1;
	}
	rc = xapi_task_wait(x, xv_str(task), run, timeout_sec, result, err);
	if (rc == -1)
		err_wrap(err, "%s", method);
	err_clear(&derr);
	if (xapi_call(x, NULL, &derr, "task.destroy", "s", xv_str(task)) == -1)
		log_warning(x->section, "XAPI: %s", derr.msg);
	xv_free(task);
	return rc;
}
