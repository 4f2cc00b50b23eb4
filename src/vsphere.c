/*
 * The vSphere SOAP client of vsphere.h: request envelopes built with
 * xml_escape(), responses parsed with xml.h, the session cookie carried by
 * hand on two http.h clients (SOAP calls, NFC downloads), tasks and
 * leases polled through the PropertyCollector, SHA-1/SHA-256 through
 * libnettle loaded on first use by nettleload.c (like libcurl and
 * libxml2, so commands that never export a VM do not map it).
 */
#include "vsphere.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nettleload.h"
#include "progress.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/suggest.h"
#include "util/xmalloc.h"
#include "xml.h"

#define VS_SECRET_MAX 1024
#define VS_BODY_MAX (16u << 20) /* a response: the inventory of a large vCenter */
#define VS_REQ_MAX (1u << 20)   /* a request */
#define VS_CLEANUP_WAIT 900     /* seconds a cleanup task may take */
#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

struct vs_session {
	struct http_client *soap, *nfc;
	char *sdk_url;   /* https://host:port/sdk */
	char *host_port; /* what replaces "*" in NFC URLs */
	char *cookie;    /* "Cookie: vmware_soap_session=..." (secret) */
	char *action;    /* "SOAPAction: urn:vim25/6.5" */
	char *api_version, *full_name;
	char *root_folder, *property_collector, *session_manager, *view_manager, *ovf_manager;
	char fault[128];
	struct progress *progress;
	int cleanup;
	unsigned long signals_at_cleanup;
	const char *host;
};

/* --- secrets ---------------------------------------------------------------------------- */

void
vs_secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void
chop_cr(char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '\r')
		s[n - 1] = '\0';
}

int
vs_read_password_file(const char *path, char **user, char **password, struct err *err)
{
	char buf[VS_SECRET_MAX + 2], *nl, *second;
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

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
		err_set(err,
		        "password_file %s: must be a regular file of ours with mode 0600 "
		        "(chmod 600 %s)",
		        path, path);
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
		err_set(err, "password_file %s: larger than %d bytes", path, VS_SECRET_MAX);
		goto out;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n) != NULL) {
		err_set(err, "password_file %s: contains a NUL byte", path);
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	nl = strchr(buf, '\n');
	if (nl == NULL || strchr(nl + 1, '\n') != NULL) {
		err_set(err, "password_file %s: expected 2 lines (user, password)", path);
		goto out;
	}
	*nl = '\0';
	second = nl + 1;
	chop_cr(buf);
	chop_cr(second);
	if (buf[0] == '\0' || second[0] == '\0') {
		err_set(err, "password_file %s: expected 2 lines (user, password); the %s is empty",
		        path, buf[0] == '\0' ? "user" : "password");
		goto out;
	}
	*user = xstrdup(buf);
	*password = xstrdup(second);
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return rc;
}

/* --- XML helpers ------------------------------------------------------------------------ */

const char *
vs_attr_plain(const xmlNode *node, const char *name)
{
	for (const xmlAttr *a = node != NULL ? node->properties : NULL; a != NULL; a = a->next) {
		if (a->ns != NULL || strcmp((const char *)a->name, name) != 0)
			continue;
		if (a->children != NULL && a->children->type == XML_TEXT_NODE &&
		    a->children->next == NULL)
			return (const char *)a->children->content;
		return NULL;
	}
	return NULL;
}

const char *
vs_xsi_type(const xmlNode *node)
{
	for (const xmlAttr *a = node != NULL ? node->properties : NULL; a != NULL; a = a->next) {
		if (a->ns == NULL || a->ns->href == NULL ||
		    strcmp((const char *)a->ns->href, XSI_NS) != 0 ||
		    strcmp((const char *)a->name, "type") != 0)
			continue;
		if (a->children != NULL && a->children->type == XML_TEXT_NODE &&
		    a->children->next == NULL) {
			const char *v = (const char *)a->children->content, *colon = strchr(v, ':');
			return colon != NULL ? colon + 1 : v; /* "vim25:TaskInfo" -> "TaskInfo" */
		}
		return NULL;
	}
	return NULL;
}

char *
vs_text(const xmlNode *node)
{
	struct buf b;

	if (node == NULL)
		return NULL;
	buf_init(&b, VS_BODY_MAX);
	xml_text(node, &b);
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}

/* The text of the child of node called name, or NULL. */
static char *
child_text(const xmlNode *node, const char *name)
{
	return node != NULL ? vs_text(xml_child(node, name)) : NULL;
}

/* --- requests --------------------------------------------------------------------------- */

int
vs_parse_response(const char *body, size_t len, const char *method, xmlDoc **doc, xmlNode **ret,
                  char *fault_type, size_t fsz, struct err *err)
{
	xmlNode *bodyn, *n;
	char want[128];

	*doc = NULL;
	*ret = NULL;
	if (fault_type != NULL && fsz > 0)
		fault_type[0] = '\0';
	if ((*doc = xml_parse(body, len, "vSphere response", err)) == NULL)
		return -1;
	bodyn = xml_child(xml_root(*doc), "Body");
	if (bodyn == NULL) {
		err_set(err, "%s: the response has no SOAP Body", method);
		goto bad;
	}
	if ((n = xml_child(bodyn, "Fault")) != NULL) {
		xmlNode *detail = xml_child(n, "detail"),
		        *d = detail ? xml_child(detail, NULL) : NULL;
		const char *type = d != NULL ? vs_xsi_type(d) : NULL;
		char *msg = child_text(n, "faultstring");
		char dname[128] = "";

		if (type == NULL && d != NULL) {
			/* <InvalidPowerStateFault> without xsi:type: the element name. */
			snprintf(dname, sizeof dname, "%s", (const char *)d->name);
			if (strlen(dname) > 5 && strcmp(dname + strlen(dname) - 5, "Fault") == 0)
				dname[strlen(dname) - 5] = '\0';
			type = dname;
		}
		if (fault_type != NULL && fsz > 0)
			snprintf(fault_type, fsz, "%s", type != NULL ? type : "");
		err_set(err, "%s: %s%s%s%s", method, msg != NULL && msg[0] ? msg : "SOAP fault",
		        type != NULL && type[0] ? " (" : "", type != NULL ? type : "",
		        type != NULL && type[0] ? ")" : "");
		err->code = VS_ERR_FAULT;
		free(msg);
		goto bad;
	}
	snprintf(want, sizeof want, "%sResponse", method);
	if ((*ret = xml_child(bodyn, want)) == NULL) {
		err_set(err, "%s: the response has no %s element", method, want);
		goto bad;
	}
	return 0;
bad:
	xml_free(*doc);
	*doc = NULL;
	*ret = NULL;
	return -1;
}

static int
escape_into(struct buf *b, const char *s, struct err *err)
{
	return xml_escape(b, s, err);
}

int
vs_call(struct vs_session *s, const char *method, const char *this_type, const char *this_ref,
        const char *args, xmlDoc **doc, xmlNode **ret, struct err *err)
{
	const char *headers[4];
	struct http_response resp = { 0 };
	struct http_request rq = { 0 };
	struct buf req;
	int rc = -1, nh = 0;

	*doc = NULL;
	*ret = NULL;
	buf_init(&req, VS_REQ_MAX);
	buf_printf(&req,
	           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	           "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	           "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"" XSI_NS "\">"
	           "<soapenv:Body><%s xmlns=\"urn:vim25\"><_this type=\"",
	           method);
	if (escape_into(&req, this_type, err) == -1 || buf_puts(&req, "\">") == -1 ||
	    escape_into(&req, this_ref, err) == -1 || buf_puts(&req, "</_this>") == -1 ||
	    (args != NULL && buf_puts(&req, args) == -1) ||
	    buf_printf(&req, "</%s></soapenv:Body></soapenv:Envelope>", method) == -1) {
		if (!err_isset(err))
			err_set(err, "%s: the request is larger than %u bytes", method, VS_REQ_MAX);
		goto out;
	}
	headers[nh++] = "Content-Type: text/xml; charset=utf-8";
	headers[nh++] = s->action;
	if (s->cookie != NULL)
		headers[nh++] = s->cookie;
	headers[nh] = NULL;
	rq.method = "POST";
	rq.url = s->sdk_url;
	rq.headers = headers;
	rq.body = req.data;
	rq.body_len = req.len;
	rq.max_body = VS_BODY_MAX;
	rq.progress = s->cleanup ? NULL : s->progress;
	s->fault[0] = '\0';
	if (http_request(s->soap, &rq, &resp, err) == -1) {
		/* A SOAP fault comes with status 500: its body says more than the status. */
		if (err->code == HTTP_ERR_STATUS && resp.body != NULL && resp.body_len > 0) {
			struct err e2 = { 0 };

			if (vs_parse_response(resp.body, resp.body_len, method, doc, ret, s->fault,
			                      sizeof s->fault, &e2) == -1 &&
			    e2.code == VS_ERR_FAULT) {
				*err = e2;
				goto out;
			}
			xml_free(*doc);
			*doc = NULL;
		}
		err_wrap(err, "%s", method);
		goto out;
	}
	if (resp.body == NULL) {
		err_set(err, "%s: empty response", method);
		goto out;
	}
	rc = vs_parse_response(resp.body, resp.body_len, method, doc, ret, s->fault,
	                       sizeof s->fault, err);
out:
	http_response_free(&resp);
	if (req.data != NULL)
		explicit_bzero(req.data, req.len); /* Login's password */
	buf_free(&req);
	return rc;
}

/* A moref argument: <name type="T">V</name>. */
static int
put_moref(struct buf *b, const char *name, const char *type, const char *value, struct err *err)
{
	if (buf_printf(b, "<%s type=\"", name) == -1 || xml_escape(b, type, err) == -1 ||
	    buf_puts(b, "\">") == -1 || xml_escape(b, value, err) == -1 ||
	    buf_printf(b, "</%s>", name) == -1)
		return -1;
	return 0;
}

/* A text argument: <name>V</name>. */
static int
put_text(struct buf *b, const char *name, const char *value, struct err *err)
{
	if (buf_printf(b, "<%s>", name) == -1 || xml_escape(b, value, err) == -1 ||
	    buf_printf(b, "</%s>", name) == -1)
		return -1;
	return 0;
}

/* --- session ---------------------------------------------------------------------------- */

static int
read_content(struct vs_session *s, xmlNode *ret, struct err *err)
{
	xmlNode *rv = xml_child(ret, "returnval"), *about = xml_child(rv, "about");

	s->root_folder = child_text(rv, "rootFolder");
	s->property_collector = child_text(rv, "propertyCollector");
	s->session_manager = child_text(rv, "sessionManager");
	s->view_manager = child_text(rv, "viewManager");
	s->ovf_manager = child_text(rv, "ovfManager");
	s->api_version = child_text(about, "apiVersion");
	s->full_name = child_text(about, "fullName");
	if (s->root_folder == NULL || s->property_collector == NULL || s->session_manager == NULL ||
	    s->api_version == NULL) {
		err_set(err,
		        "RetrieveServiceContent: no rootFolder, propertyCollector, "
		        "sessionManager or about.apiVersion in the answer: not a vSphere server?");
		return -1;
	}
	if (s->view_manager == NULL) {
		err_set(err, "RetrieveServiceContent: no viewManager (vSphere API %s is too old)",
		        s->api_version);
		return -1;
	}
	return 0;
}

/* The vmware_soap_session cookie of Login's answer, as a Cookie header. */
static char *
session_cookie(struct http_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		const char *name = resp->headers[i], *v = name + strlen(name) + 1;
		size_t n;

		if (strcasecmp(name, "set-cookie") != 0)
			continue;
		while (*v == ' ')
			v++;
		if (strncmp(v, "vmware_soap_session=", 20) != 0)
			continue;
		n = strcspn(v, ";\r\n");
		return xasprintf("Cookie: %.*s", (int)n, v);
	}
	return NULL;
}

static int
login(struct vs_session *s, const char *user, const char *password, struct err *err)
{
	const char *headers[3] = { "Content-Type: text/xml; charset=utf-8", s->action, NULL };
	struct http_response resp = { 0 };
	struct http_request rq = { 0 };
	xmlDoc *doc = NULL;
	xmlNode *ret;
	struct buf req;
	int rc = -1;

	buf_init(&req, VS_REQ_MAX);
	buf_puts(&req,
	         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	         "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
	         "<soapenv:Body><Login xmlns=\"urn:vim25\">");
	if (put_moref(&req, "_this", "SessionManager", s->session_manager, err) == -1 ||
	    put_text(&req, "userName", user, err) == -1 ||
	    put_text(&req, "password", password, err) == -1 ||
	    buf_puts(&req, "</Login></soapenv:Body></soapenv:Envelope>") == -1) {
		/* xml_escape names the bad bytes' position, never the bytes. */
		err_wrap(err, "Login: the user or password of password_file cannot be sent");
		goto out;
	}
	rq.method = "POST";
	rq.url = s->sdk_url;
	rq.headers = headers;
	rq.body = req.data;
	rq.body_len = req.len;
	rq.max_body = VS_BODY_MAX;
	rq.progress = s->progress;
	if (http_request(s->soap, &rq, &resp, err) == -1) {
		if (err->code == HTTP_ERR_STATUS && resp.body != NULL) {
			struct err e2 = { 0 };

			if (vs_parse_response(resp.body, resp.body_len, "Login", &doc, &ret,
			                      s->fault, sizeof s->fault, &e2) == -1 &&
			    e2.code == VS_ERR_FAULT) {
				*err = e2;
				if (strcmp(s->fault, "InvalidLogin") == 0)
					err_wrap(err, "wrong user or password in password_file");
				goto out;
			}
		}
		err_wrap(err, "Login");
		goto out;
	}
	if (vs_parse_response(resp.body != NULL ? resp.body : "", resp.body_len, "Login", &doc,
	                      &ret, s->fault, sizeof s->fault, err) == -1)
		goto out;
	if ((s->cookie = session_cookie(&resp)) == NULL) {
		err_set(err, "Login: no vmware_soap_session cookie in the answer");
		goto out;
	}
	rc = 0;
out:
	xml_free(doc);
	http_response_free(&resp);
	if (req.data != NULL)
		explicit_bzero(req.data, req.len);
	buf_free(&req);
	return rc;
}

int
vs_open(const struct vs_opts *o, struct vs_session **out, struct err *err)
{
	struct http_opts ho = { 0 };
	struct vs_session *s = xcalloc(1, sizeof *s);
	char *user = NULL, *password = NULL;
	const char *ipv6 = strchr(o->host, ':') != NULL ? "[" : "";
	xmlDoc *doc = NULL;
	xmlNode *ret;
	int rc = -1;

	*out = NULL;
	s->host = o->host;
	s->progress = o->progress;
	s->host_port = xasprintf("%s%s%s:%d", ipv6, o->host, ipv6[0] ? "]" : "", o->port);
	s->sdk_url = xasprintf("https://%s/sdk", s->host_port);
	s->action = xstrdup("SOAPAction: urn:vim25");
	ho.ca_file = o->ca_file;
	ho.pin = o->pin;
	ho.insecure = o->insecure;
	if (vs_read_password_file(o->password_file, &user, &password, err) == -1)
		goto out;
	if (http_client_new(&ho, &s->soap, err) == -1 || http_client_new(&ho, &s->nfc, err) == -1)
		goto out;
	if (vs_call(s, "RetrieveServiceContent", "ServiceInstance", "ServiceInstance", NULL, &doc,
	            &ret, err) == -1 ||
	    read_content(s, ret, err) == -1)
		goto out;
	free(s->action);
	s->action = xasprintf("SOAPAction: urn:vim25/%s", s->api_version);
	if (login(s, user, password, err) == -1)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (rc == -1)
		err_wrap(err, "%s", o->host);
	xml_free(doc);
	free(user);
	vs_secret_free(password);
	vs_close(s);
	return rc;
}

void
vs_close(struct vs_session *s)
{
	xmlDoc *doc = NULL;
	xmlNode *ret;
	struct err e = { 0 };

	if (s == NULL)
		return;
	if (s->cookie != NULL) {
		s->cleanup = 1;
		s->signals_at_cleanup = spawn_signal_count();
		if (vs_call(s, "Logout", "SessionManager", s->session_manager, NULL, &doc, &ret,
		            &e) == 0)
			xml_free(doc);
		vs_secret_free(s->cookie);
	}
	http_client_free(s->soap);
	http_client_free(s->nfc);
	free(s->sdk_url);
	free(s->host_port);
	free(s->action);
	free(s->api_version);
	free(s->full_name);
	free(s->root_folder);
	free(s->property_collector);
	free(s->session_manager);
	free(s->view_manager);
	free(s->ovf_manager);
	free(s);
}

void
vs_set_cleanup(struct vs_session *s, int on)
{
	s->cleanup = on;
	s->signals_at_cleanup = spawn_signal_count();
}

const char *
vs_api_version(const struct vs_session *s)
{
	return s->api_version;
}

const char *
vs_full_name(const struct vs_session *s)
{
	return s->full_name != NULL ? s->full_name : s->api_version;
}

int
vs_api_at_least(const struct vs_session *s, int major, int minor)
{
	char *end;
	long ma = strtol(s->api_version, &end, 10), mi = 0;

	if (*end == '.')
		mi = strtol(end + 1, NULL, 10);
	return ma > major || (ma == major && mi >= minor);
}

char *
vs_ovf_manager(const struct vs_session *s)
{
	return s->ovf_manager;
}

const char *
vs_session_fault(const struct vs_session *s)
{
	return s->fault;
}

/* --- properties ------------------------------------------------------------------------- */

int
vs_get(struct vs_session *s, const char *type, const char *ref, const char *const *paths,
       xmlDoc **doc, xmlNode **obj, struct err *err)
{
	struct buf a;
	xmlNode *ret;
	int rc = -1;

	*obj = NULL;
	buf_init(&a, VS_REQ_MAX);
	buf_puts(&a, "<specSet><propSet>");
	put_text(&a, "type", type, err);
	for (size_t i = 0; paths[i] != NULL; i++)
		put_text(&a, "pathSet", paths[i], err);
	buf_puts(&a, "</propSet><objectSet>");
	if (put_moref(&a, "obj", type, ref, err) == -1)
		goto out;
	buf_puts(&a, "</objectSet></specSet><options></options>");
	if (vs_call(s, "RetrievePropertiesEx", "PropertyCollector", s->property_collector, a.data,
	            doc, &ret, err) == -1)
		goto out;
	*obj = xml_path(ret, "returnval/objects");
	if (*obj == NULL) {
		err_set(err, "RetrievePropertiesEx: no properties of %s %s", type, ref);
		xml_free(*doc);
		*doc = NULL;
		goto out;
	}
	rc = 0;
out:
	buf_free(&a);
	return rc;
}

xmlNode *
vs_prop(const xmlNode *obj, const char *name)
{
	for (xmlNode *p = xml_child(obj, "propSet"); p != NULL; p = xml_next(p, "propSet")) {
		char *n = child_text(p, "name");
		int hit = n != NULL && strcmp(n, name) == 0;

		free(n);
		if (hit)
			return xml_child(p, "val");
	}
	return NULL;
}

char *
vs_power_state(struct vs_session *s, const char *vm, struct err *err)
{
	static const char *const paths[] = { "runtime.powerState", NULL };
	xmlDoc *doc;
	xmlNode *obj;
	char *v;

	if (vs_get(s, "VirtualMachine", vm, paths, &doc, &obj, err) == -1)
		return NULL;
	v = vs_text(vs_prop(obj, "runtime.powerState"));
	xml_free(doc);
	if (v == NULL)
		err_set(err, "VM %s: no runtime.powerState", vm);
	return v;
}

/* Close matches of name among names: "; close matches: a, b" or "". */
static char *
close_matches(const char *name, char **names, size_t n)
{
	struct buf b;
	size_t shown = 0, maxd = strlen(name) / 3 + 2;

	buf_init(&b, 4096);
	for (size_t i = 0; i < n && shown < 5; i++) {
		size_t d = suggest_distance(name, names[i]);

		if (d > maxd && strcasestr(names[i], name) == NULL)
			continue;
		buf_printf(&b, "%s\"%s\"", shown++ ? ", " : "; close matches: ", names[i]);
	}
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

int
vs_find_vm(struct vs_session *s, const char *name, char **ref, char **power, struct err *err)
{
	xmlDoc *doc = NULL, *doc2 = NULL;
	xmlNode *ret, *rv;
	char *view = NULL, **names = NULL;
	size_t nnames = 0;
	struct buf a;
	int rc = -1;

	*ref = *power = NULL;
	buf_init(&a, VS_REQ_MAX);
	put_moref(&a, "container", "Folder", s->root_folder, err);
	buf_puts(&a, "<type>VirtualMachine</type><recursive>true</recursive>");
	if (vs_call(s, "CreateContainerView", "ViewManager", s->view_manager, a.data, &doc, &ret,
	            err) == -1)
		goto out;
	view = child_text(ret, "returnval");
	xml_free(doc);
	doc = NULL;
	buf_reset(&a);
	buf_puts(&a, "<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet>"
	             "<pathSet>runtime.powerState</pathSet></propSet><objectSet>");
	put_moref(&a, "obj", "ContainerView", view, err);
	buf_puts(&a, "<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name>"
	             "<type>ContainerView</type><path>view</path><skip>false</skip></selectSet>"
	             "</objectSet></specSet><options></options>");
	if (vs_call(s, "RetrievePropertiesEx", "PropertyCollector", s->property_collector, a.data,
	            &doc, &ret, err) == -1)
		goto out;
	for (;;) {
		char *token;

		rv = xml_child(ret, "returnval");
		for (xmlNode *o = xml_child(rv, "objects"); o != NULL; o = xml_next(o, "objects")) {
			char *n = vs_text(vs_prop(o, "name"));

			if (n == NULL)
				continue;
			if (*ref == NULL && strcmp(n, name) == 0) {
				*ref = child_text(o, "obj");
				*power = vs_text(vs_prop(o, "runtime.powerState"));
			}
			names = xrealloc(names, (nnames + 1) * sizeof *names);
			names[nnames++] = n;
		}
		token = child_text(rv, "token");
		if (token == NULL || *ref != NULL)
			break;
		buf_reset(&a);
		put_text(&a, "token", token, err);
		free(token);
		xml_free(doc2);
		doc2 = doc;
		doc = NULL;
		if (vs_call(s, "ContinueRetrievePropertiesEx", "PropertyCollector",
		            s->property_collector, a.data, &doc, &ret, err) == -1)
			goto out;
	}
	if (*ref == NULL) {
		char *m = close_matches(name, names, nnames);

		err_set(err, "VM \"%s\" not found on %s%s", name, s->host, m);
		err->code = VS_ERR_NOT_FOUND;
		free(m);
		goto out;
	}
	if (*power == NULL)
		*power = xstrdup("unknown");
	rc = 0;
out:
	if (view != NULL) {
		xmlDoc *d3 = NULL;
		xmlNode *r3;
		struct err e = { 0 };

		if (vs_call(s, "DestroyView", "ContainerView", view, NULL, &d3, &r3, &e) == 0)
			xml_free(d3);
	}
	if (rc == -1) {
		free(*ref);
		free(*power);
		*ref = *power = NULL;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(view);
	xml_free(doc);
	xml_free(doc2);
	buf_free(&a);
	return rc;
}

/* --- tasks ------------------------------------------------------------------------------ */

/* Sleep ms milliseconds (the poll interval of a task or lease). */
static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* -1 + err when the wait must end: the watchdog, a signal. */
static int
wait_stopped(struct vs_session *s, const char *what, struct err *err)
{
	enum progress_state st;

	if (s->cleanup) {
		if (spawn_signal_count() != s->signals_at_cleanup) {
			err_set(err, "%s: interrupted", what);
			return -1;
		}
		return 0;
	}
	if (spawn_interrupted()) {
		err_set(err, "%s: interrupted", what);
		return -1;
	}
	if (s->progress != NULL &&
	    (st = progress_check(s->progress, progress_now())) != PROGRESS_OK) {
		char why[256];

		progress_describe(s->progress, st, why, sizeof why);
		err_set(err, "%s: %s", what, why);
		return -1;
	}
	return 0;
}

int
vs_task_wait(struct vs_session *s, const char *task, long timeout_sec, char **result,
             char **fault_type, struct err *err)
{
	static const char *const paths[] = { "info", NULL };
	int64_t end;
	long interval = 100;

	if (result != NULL)
		*result = NULL;
	if (fault_type != NULL)
		*fault_type = NULL;
	if (s->cleanup && timeout_sec > VS_CLEANUP_WAIT)
		timeout_sec = VS_CLEANUP_WAIT;
	end = progress_now() + (int64_t)timeout_sec * 1000000000LL;
	for (;;) {
		xmlDoc *doc;
		xmlNode *obj, *info;
		char *state;

		if (vs_get(s, "Task", task, paths, &doc, &obj, err) == -1)
			return -1;
		info = vs_prop(obj, "info");
		state = child_text(info, "state");
		if (state == NULL) {
			err_set(err, "task %s: no info.state", task);
			xml_free(doc);
			return -1;
		}
		if (strcmp(state, "success") == 0) {
			if (result != NULL)
				*result = child_text(info, "result");
			free(state);
			xml_free(doc);
			return 0;
		}
		if (strcmp(state, "error") == 0) {
			xmlNode *e = xml_child(info, "error");
			char *msg = child_text(e, "localizedMessage");
			const char *ft = vs_xsi_type(xml_child(e, "fault"));

			err_set(err, "%s%s%s%s", msg != NULL && msg[0] ? msg : "the task failed",
			        ft != NULL ? " (" : "", ft != NULL ? ft : "",
			        ft != NULL ? ")" : "");
			err->code = VS_ERR_TASK;
			if (fault_type != NULL && ft != NULL)
				*fault_type = xstrdup(ft);
			free(msg);
			free(state);
			xml_free(doc);
			return -1;
		}
		free(state);
		xml_free(doc);
		if (progress_now() > end) {
			err_set(err, "task %s still running after %ld s", task, timeout_sec);
			err->code = VS_ERR_TIMEOUT;
			return -1;
		}
		if (wait_stopped(s, task, err) == -1)
			return -1;
		nap(interval);
		if (interval < 1000)
			interval *= 2;
	}
}

/* Walk a list of VirtualMachineSnapshotTree siblings for snapshots called name. */
static void
walk_snapshots(const xmlNode *first, const char *name, char ***out, size_t *n, int depth)
{
	const char *elem = first != NULL ? (const char *)first->name : NULL;

	if (depth > 256)
		return;
	for (const xmlNode *t = first; t != NULL; t = xml_next(t, elem)) {
		char *tn = child_text(t, "name");

		if (tn != NULL && strcmp(tn, name) == 0) {
			*out = xrealloc(*out, (*n + 1) * sizeof **out);
			(*out)[(*n)++] = child_text(t, "snapshot");
		}
		free(tn);
		walk_snapshots(xml_child(t, "childSnapshotList"), name, out, n, depth + 1);
	}
}

size_t
vs_find_snapshots(struct vs_session *s, const char *vm, const char *name, char ***out,
                  struct err *err)
{
	static const char *const paths[] = { "snapshot", NULL };
	xmlDoc *doc;
	xmlNode *obj, *val;
	size_t n = 0;

	*out = NULL;
	if (vs_get(s, "VirtualMachine", vm, paths, &doc, &obj, err) == -1)
		return 0;
	val = vs_prop(obj, "snapshot");
	if (val != NULL)
		walk_snapshots(xml_child(val, "rootSnapshotList"), name, out, &n, 0);
	xml_free(doc);
	return n;
}

/* --- leases ----------------------------------------------------------------------------- */

void
vs_lease_free(struct vs_lease *l)
{
	for (size_t i = 0; i < l->ndev; i++) {
		free(l->dev[i].key);
		free(l->dev[i].url);
		free(l->dev[i].target_id);
	}
	free(l->dev);
	free(l->ref);
	memset(l, 0, sizeof *l);
}

int
vs_parse_lease_info(const xmlNode *val, const char *host_port, struct vs_lease *l, struct err *err)
{
	char *t;

	if (val == NULL) {
		err_set(err, "the lease has no info");
		return -1;
	}
	t = child_text(val, "leaseTimeout");
	l->timeout_sec = t != NULL ? strtol(t, NULL, 10) : 0;
	free(t);
	if (l->timeout_sec <= 0)
		l->timeout_sec = 300;
	for (xmlNode *d = xml_child(val, "deviceUrl"); d != NULL; d = xml_next(d, "deviceUrl")) {
		struct vs_device dev = { 0 };
		char *url = child_text(d, "url"), *disk = child_text(d, "disk"),
		     *size = child_text(d, "fileSize"), *star;

		dev.key = child_text(d, "key");
		dev.target_id = child_text(d, "targetId");
		dev.disk = disk != NULL && strcmp(disk, "true") == 0;
		dev.size = size != NULL && size[0] ? strtoll(size, NULL, 10) : -1;
		free(disk);
		free(size);
		if (url == NULL || dev.key == NULL ||
		    (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
			err_set(err, "lease device %s: no usable URL", dev.key ? dev.key : "?");
			free(url);
			free(dev.key);
			free(dev.target_id);
			return -1;
		}
		/* On a standalone ESXi the host is "*": the address we talk to. */
		star = strstr(url, "://*");
		if (star != NULL && (star[4] == '/' || star[4] == ':' || star[4] == '\0')) {
			const char *rest = star + 4;

			if (*rest == ':') /* "*:443/..." : our host:port already has one */
				rest += strcspn(rest, "/");
			dev.url = xasprintf("%.*s://%s%s", (int)(star - url), url, host_port, rest);
			free(url);
		} else {
			dev.url = url;
		}
		if (dev.target_id == NULL || dev.target_id[0] == '\0' ||
		    strchr(dev.target_id, '/') != NULL || strcmp(dev.target_id, "..") == 0 ||
		    dev.target_id[0] == '.') {
			free(dev.target_id);
			dev.target_id = xasprintf("device-%zu", l->ndev);
		}
		l->dev = xrealloc(l->dev, (l->ndev + 1) * sizeof *l->dev);
		l->dev[l->ndev++] = dev;
	}
	return 0;
}

int
vs_lease_wait(struct vs_session *s, const char *lease, long timeout_sec, struct vs_lease *l,
              struct err *err)
{
	static const char *const paths[] = { "state", "info", "error", NULL };
	int64_t end = progress_now() + (int64_t)timeout_sec * 1000000000LL;
	long interval = 100;

	memset(l, 0, sizeof *l);
	for (;;) {
		xmlDoc *doc;
		xmlNode *obj;
		char *state;

		if (vs_get(s, "HttpNfcLease", lease, paths, &doc, &obj, err) == -1)
			return -1;
		state = vs_text(vs_prop(obj, "state"));
		if (state != NULL && strcmp(state, "ready") == 0) {
			int rc = vs_parse_lease_info(vs_prop(obj, "info"), s->host_port, l, err);

			l->ref = xstrdup(lease);
			free(state);
			xml_free(doc);
			if (rc == -1)
				vs_lease_free(l);
			return rc;
		}
		if (state != NULL && strcmp(state, "error") == 0) {
			char *msg = child_text(vs_prop(obj, "error"), "localizedMessage");

			err_set(err, "export lease %s failed: %s", lease,
			        msg != NULL && msg[0] ? msg : "state error");
			free(msg);
			free(state);
			xml_free(doc);
			return -1;
		}
		free(state);
		xml_free(doc);
		if (progress_now() > end) {
			err_set(err, "export lease %s not ready after %ld s", lease, timeout_sec);
			err->code = VS_ERR_TIMEOUT;
			return -1;
		}
		if (wait_stopped(s, lease, err) == -1)
			return -1;
		nap(interval);
		if (interval < 1000)
			interval *= 2;
	}
}

void
vs_manifest_free(struct vs_manifest_entry *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].key);
	free(m);
}

int
vs_lease_manifest(struct vs_session *s, const char *lease, struct vs_manifest_entry **out,
                  size_t *n, struct err *err)
{
	xmlDoc *doc;
	xmlNode *ret;

	*out = NULL;
	*n = 0;
	if (vs_call(s, "HttpNfcLeaseGetManifest", "HttpNfcLease", lease, NULL, &doc, &ret, err) ==
	    -1) {
		if (strcmp(s->fault, "MethodNotFound") == 0 ||
		    strcmp(s->fault, "NotSupported") == 0)
			return 1;
		return -1;
	}
	for (xmlNode *r = xml_child(ret, "returnval"); r != NULL; r = xml_next(r, "returnval")) {
		struct vs_manifest_entry e = { 0 };
		char *sha = child_text(r, "sha1"), *size = child_text(r, "size");

		e.key = child_text(r, "key");
		if (sha != NULL && strlen(sha) == 40) {
			for (int i = 0; i < 40; i++)
				e.sha1[i] =
				    (char)((sha[i] >= 'A' && sha[i] <= 'F') ? sha[i] + 32 : sha[i]);
			e.sha1[40] = '\0';
		}
		e.size = size != NULL ? strtoll(size, NULL, 10) : -1;
		free(sha);
		free(size);
		if (e.key == NULL)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = e;
	}
	xml_free(doc);
	return 0;
}

int
vs_download(struct vs_session *s, const char *url, http_sink_fn sink, void *ctx, int64_t *bytes,
            struct err *err)
{
	const char *headers[3] = { s->cookie, "Accept: application/octet-stream", NULL };
	struct http_response resp = { 0 };
	struct http_request rq = { 0 };
	int rc;

	rq.method = "GET";
	rq.url = url;
	rq.headers = headers;
	rq.sink = sink;
	rq.sink_ctx = ctx;
	rq.progress = s->progress;
	rc = http_request(s->nfc, &rq, &resp, err);
	if (bytes != NULL)
		*bytes = (int64_t)resp.bytes;
	if (rc == 0 && resp.content_length >= 0 && (int64_t)resp.bytes != resp.content_length) {
		err_set(err, "GET %s: %llu bytes of %lld", url, (unsigned long long)resp.bytes,
		        (long long)resp.content_length);
		rc = -1;
	}
	http_response_free(&resp);
	return rc;
}

/* --- hashing (libnettle on first use, nettleload.c) ------------------------------------ */

struct vs_hash {
	struct sha1_ctx sha1;
	struct sha256_ctx sha256;
};

struct vs_hash *
vs_hash_new(struct err *err)
{
	struct vs_hash *h;

	if (nettleload(err) == -1)
		return NULL;
	h = xmalloc(sizeof *h);
	sha1_init(&h->sha1);
	sha256_init(&h->sha256);
	return h;
}

void
vs_hash_update(struct vs_hash *h, const void *data, size_t len)
{
	sha1_update(&h->sha1, len, data);
	sha256_update(&h->sha256, len, data);
}

static void
hex(const uint8_t *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void
vs_hash_final(struct vs_hash *h, char sha1_hex[41], char sha256_hex[65])
{
	uint8_t d1[SHA1_DIGEST_SIZE], d2[SHA256_DIGEST_SIZE];

	sha1_digest(&h->sha1, sizeof d1, d1);
	sha256_digest(&h->sha256, sizeof d2, d2);
	hex(d1, sizeof d1, sha1_hex);
	hex(d2, sizeof d2, sha256_hex);
}

void
vs_hash_free(struct vs_hash *h)
{
	free(h);
}
