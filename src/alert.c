/*
 * Alerts (see alert.h and docs/alerts.md): the decision table, the mail
 * and JSON formatting, and the two senders (libcurl SMTP and HTTP POST).
 *
 * The sequence after a run is: read the state, decide, claim the new
 * state with a compare-and-swap in the catalog (so a second process
 * deciding at the same moment finds the state changed and sends nothing),
 * send, and swap the old state back if nothing could be sent, so the next
 * run tries again. The job's lock is held throughout, which already keeps
 * two runs of one job apart; the swap also covers tools that run outside
 * it. Secrets (the SMTP password, a token in the webhook URL) are never
 * logged: URLs are logged as scheme://host only.
 */
#include "alert.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "catalog.h"
#include "curlload.h"
#include "guiconf.h"
#include "log.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define LINE_MAX_BYTES 998 /* RFC 5322 §2.1.1, without the CRLF */
#define BODY_LIMIT (64 * 1024)

/* One refused recipient does not stop the mail to the others (curl >= 7.69; renamed in 8.2). */
#if LIBCURL_VERSION_NUM >= 0x080200
#define RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLOWFAILS
#else
#define RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

enum alert_event
alert_decide(int failed, const char *prev_status, const struct alert_state *st, time_t now,
             int interval, int *reminder)
{
	*reminder = 0;
	if (!failed)
		return st->last == ALERT_FAILED ? ALERT_RECOVERED : ALERT_NONE;
	if (st->last_sent > 0 && now - st->last_sent < interval)
		return ALERT_NONE;
	*reminder =
	    st->last == ALERT_FAILED && prev_status != NULL && strcmp(prev_status, "ERROR") == 0;
	return ALERT_FAILED;
}

const char *
alert_event_name(enum alert_event ev)
{
	switch (ev) {
	case ALERT_FAILED:
		return "failed";
	case ALERT_RECOVERED:
		return "recovered";
	case ALERT_CHANGED:
		return "changed";
	default:
		return "none";
	}
}

static enum alert_event
event_parse(const char *s)
{
	if (s == NULL)
		return ALERT_NONE;
	if (strcmp(s, "failed") == 0)
		return ALERT_FAILED;
	if (strcmp(s, "recovered") == 0)
		return ALERT_RECOVERED;
	return ALERT_NONE;
}

/* ---------------------------------------------------------------- text helpers */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * A copy of s (NULL reads as "") that is valid UTF-8: invalid bytes become
 * '?'. With oneline, control characters (CR and LF included) become
 * spaces; otherwise CR and control characters other than LF and TAB are
 * dropped. Caller frees.
 */
static char *
text_clean(const char *s, int oneline)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strlen((const char *)p), k = 0;
	char *out = xmalloc(n + 1);

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i);

		if (len == 0) {
			out[k++] = '?';
			i++;
			continue;
		}
		if (len == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			if (oneline)
				out[k++] = ' ';
			else if (p[i] == '\n' || p[i] == '\t')
				out[k++] = (char)p[i];
			i++;
			continue;
		}
		memcpy(out + k, p + i, len);
		k += len;
		i += len;
	}
	out[k] = '\0';
	return out;
}

/* The last ALERT_LOG_TAIL bytes of log, starting on a character boundary. */
static const char *
log_tail(const char *log, int *cut)
{
	size_t n;
	const char *p;

	*cut = 0;
	if (log == NULL)
		return "";
	n = strlen(log);
	if (n <= ALERT_LOG_TAIL)
		return log;
	p = log + n - ALERT_LOG_TAIL;
	while (((unsigned char)*p & 0xc0) == 0x80)
		p++;
	*cut = 1;
	return p;
}

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Append s as RFC 2047 "B" encoded words (UTF-8), split on character boundaries. */
static void
put_encoded_words(struct buf *b, const char *s)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t chunk = 0;

		/* 45 bytes -> 60 base64 characters: the word stays under 75. */
		while (i + chunk < n) {
			size_t len = utf8_seq(p + i + chunk, n - i - chunk);

			if (len == 0)
				len = 1;
			if (chunk + len > 45)
				break;
			chunk += len;
		}
		buf_puts(b, i == 0 ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
		for (size_t j = 0; j < chunk; j += 3) {
			unsigned v = (unsigned)p[i + j] << 16;
			size_t left = chunk - j;

			if (left > 1)
				v |= (unsigned)p[i + j + 1] << 8;
			if (left > 2)
				v |= p[i + j + 2];
			buf_putc(b, b64[(v >> 18) & 63]);
			buf_putc(b, b64[(v >> 12) & 63]);
			buf_putc(b, left > 1 ? b64[(v >> 6) & 63] : '=');
			buf_putc(b, left > 2 ? b64[v & 63] : '=');
		}
		buf_puts(b, "?=");
		i += chunk;
	}
}

/* Append text with LF line ends as CRLF lines of at most LINE_MAX_BYTES. */
static void
put_crlf_lines(struct buf *b, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		while (len > LINE_MAX_BYTES) {
			size_t cut = LINE_MAX_BYTES;

			while (cut > 0 && ((unsigned char)p[cut] & 0xc0) == 0x80)
				cut--;
			buf_append(b, p, cut);
			buf_puts(b, "\r\n");
			p += cut;
			len -= cut;
		}
		buf_append(b, p, len);
		buf_puts(b, "\r\n");
		p += len;
		if (*p == '\n')
			p++;
	}
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The human-readable body, LF line ends, valid UTF-8. Caller frees. */
static char *
mail_body(const struct alert_run *r, enum alert_event ev)
{
	struct buf b;
	int cut;
	const char *tail = log_tail(r->log, &cut);
	char *log = text_clean(tail, 0);
	char *raw, *clean;

	buf_init(&b, BODY_LIMIT);
	if (ev == ALERT_CHANGED)
		buf_printf(&b,
		           "The backup job %s on %s saved a configuration that differs from the "
		           "previous one (%s).\n\n",
		           str_or_empty(r->job), str_or_empty(r->server),
		           str_or_empty(r->previous));
	else if (ev == ALERT_RECOVERED)
		buf_printf(&b, "The backup job %s on %s is OK again.\n\n", str_or_empty(r->job),
		           str_or_empty(r->server));
	else if (r->reminder)
		buf_printf(&b, "The backup job %s on %s is still failing (reminder).\n\n",
		           str_or_empty(r->job), str_or_empty(r->server));
	else
		buf_printf(&b, "The backup job %s on %s failed.\n\n", str_or_empty(r->job),
		           str_or_empty(r->server));
	buf_printf(&b, "Job:       %s\n", str_or_empty(r->job));
	buf_printf(&b, "Server:    %s\n", str_or_empty(r->server));
	buf_printf(&b, "Type:      %s\n", str_or_empty(r->type));
	buf_printf(&b, "Status:    %s\n", str_or_empty(r->status));
	buf_printf(&b, "Previous:  %s\n", r->prev_status != NULL ? r->prev_status : "(first run)");
	buf_printf(&b, "Started:   %s\n", str_or_empty(r->start));
	buf_printf(&b, "Ended:     %s\n", str_or_empty(r->end));
	buf_printf(&b, "Duration:  %.1f s\n", r->duration_s);
	buf_printf(&b, "Host:      %s\n", str_or_empty(r->host));
	if (ev == ALERT_CHANGED) {
		char *diff = text_clean(r->detail != NULL ? r->detail : "", 0);

		buf_printf(&b, "\nChanges%s:\n", r->cut ? " (cut short)" : "");
		buf_puts(&b, diff);
		free(diff);
	} else {
		buf_printf(&b, "\nLog%s:\n", cut ? " (last 4 KiB)" : "");
		buf_puts(&b, log);
	}
	buf_puts(&b, "\n\n-- \ntisbackup " TB_VERSION " (tisbackup-c)\n");
	free(log);
	raw = buf_steal(&b);
	clean = text_clean(raw, 0);
	free(raw);
	return clean;
}

/* "Name: value" with value made one line of valid UTF-8. */
static void
put_header(struct buf *b, const char *name, const char *value)
{
	char *v = text_clean(value, 1);

	buf_printf(b, "%s: %s\r\n", name, v);
	free(v);
}

char *
alert_format_mail(const struct alert_run *r, enum alert_event ev, const char *from, char *const *to,
                  time_t now, const char *message_id)
{
	struct buf b;
	struct tm tm;
	char date[64];
	char *subject, *body;

	buf_init(&b, BODY_LIMIT + 8192);
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	put_header(&b, "Date", date);
	put_header(&b, "From", from);
	buf_puts(&b, "To: ");
	for (size_t i = 0; to != NULL && to[i] != NULL; i++) {
		char *t = text_clean(to[i], 1);

		buf_printf(&b, "%s%s", i > 0 ? ",\r\n " : "", t);
		free(t);
	}
	buf_puts(&b, "\r\n");
	subject =
	    xasprintf("[tisbackup] %s on %s: %s", str_or_empty(r->job), str_or_empty(r->server),
	              ev == ALERT_RECOVERED ? "RECOVERED"
	              : ev == ALERT_CHANGED ? "CHANGED"
	                                    : "FAILED");
	{
		char *s = text_clean(subject, 1);

		if (is_ascii(s)) {
			put_header(&b, "Subject", s);
		} else {
			buf_puts(&b, "Subject: ");
			put_encoded_words(&b, s);
			buf_puts(&b, "\r\n");
		}
		free(s);
	}
	free(subject);
	buf_printf(&b, "Message-ID: <%s>\r\n", message_id);
	buf_puts(&b, "MIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 8bit\r\n"
	             "Auto-Submitted: auto-generated\r\n");
	buf_printf(&b, "X-Tisbackup-Event: %s%s\r\n", alert_event_name(ev),
	           r->reminder ? " (reminder)" : "");
	buf_puts(&b, "\r\n");
	body = mail_body(r, ev);
	put_crlf_lines(&b, body);
	free(body);
	return buf_steal(&b);
}

char *
alert_format_json(const struct alert_run *r, enum alert_event ev)
{
	const char *const keys[] = { "job", "server", "type", "status", "start", "end", "host" };
	const char *const vals[] = { r->job,   r->server, r->type, r->status,
		                     r->start, r->end,    r->host };
	json_t *o = json_object();
	int cut;
	char *s;

	json_object_set_new(o, "event", json_string(alert_event_name(ev)));
	json_object_set_new(o, "reminder", json_boolean(r->reminder));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		s = text_clean(vals[i], 1);
		json_object_set_new(o, keys[i], json_string(s));
		free(s);
	}
	if (r->prev_status != NULL) {
		s = text_clean(r->prev_status, 1);
		json_object_set_new(o, "previous_status", json_string(s));
		free(s);
	} else {
		json_object_set_new(o, "previous_status", json_null());
	}
	json_object_set_new(o, "duration_s", json_real(r->duration_s));
	s = text_clean(log_tail(r->log, &cut), 0);
	json_object_set_new(o, "log_tail", json_string(s));
	free(s);
	if (ev == ALERT_CHANGED) {
		s = text_clean(r->previous, 1);
		json_object_set_new(o, "previous", json_string(s));
		free(s);
		s = text_clean(r->detail != NULL ? r->detail : "", 0);
		json_object_set_new(o, "diff", json_string(s));
		free(s);
		json_object_set_new(o, "diff_cut", json_boolean(r->cut));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL)
		abort(); /* only on out of memory: every string above is valid UTF-8 */
	{
		char *copy = xstrdup(s);

		free(s);
		return copy;
	}
}

/* ---------------------------------------------------------------- senders */

/* "scheme://host[:port]" of url, without user info, path or query. Caller frees. */
static char *
url_redacted(const char *url)
{
	const char *p = strstr(url, "://");
	const char *host, *end, *at;

	if (p == NULL)
		return xstrdup("(url)");
	host = p + 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at != NULL)
		host = at + 1;
	return xasprintf("%.*s%.*s", (int)(p + 3 - url), url, (int)(end - host), host);
}

struct reader {
	const char *data;
	size_t len, pos;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *rd = arg;
	size_t n = size * nmemb;

	if (n > rd->len - rd->pos)
		n = rd->len - rd->pos;
	memcpy(dst, rd->data + rd->pos, n);
	rd->pos += n;
	return n;
}

static size_t
discard_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

static void
curl_common(const struct curl_api *cu, CURL *c, char *errbuf)
{
	cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)ALERT_CONNECT_TIMEOUT);
	cu->easy_setopt(c, CURLOPT_TIMEOUT, (long)ALERT_TOTAL_TIMEOUT);
	cu->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
}

/* Send one message through gc->smtp_url. 0 or -1 + err. */
static int
send_mail(const struct guiconf *gc, const char *from, const char *message, struct err *err)
{
	struct reader rd = { .data = message, .len = strlen(message) };
	struct curl_slist *rcpt = NULL;
	char errbuf[CURL_ERROR_SIZE];
	char *mail_from = xasprintf("<%s>", from);
	char *password = NULL;
	const struct curl_api *cu;
	CURL *c = NULL;
	CURLcode rc;
	int ret = -1;

	if (gc->smtp_password_file != NULL &&
	    fs_read_secret_line(gc->smtp_password_file, "smtp_password_file", &password, err) ==
	        -1) {
		free(mail_from);
		return -1;
	}
	if ((cu = curlload_get(err)) == NULL)
		goto out;
	c = cu->easy_init();
	if (c == NULL) {
		err_set(err, "cannot start libcurl");
		goto out;
	}
	for (size_t i = 0; i < gc->nmail_to; i++) {
		char *r = xasprintf("<%s>", gc->mail_to[i]);

		rcpt = cu->slist_append(rcpt, r);
		free(r);
	}
	curl_common(cu, c, errbuf);
	cu->easy_setopt(c, CURLOPT_URL, gc->smtp_url);
	cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	cu->easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	cu->easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
	cu->easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	cu->easy_setopt(c, RCPT_ALLOWFAILS, 1L);
	cu->easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	cu->easy_setopt(c, CURLOPT_READDATA, &rd);
	cu->easy_setopt(c, CURLOPT_UPLOAD, 1L);
	if (gc->smtp_user != NULL)
		cu->easy_setopt(c, CURLOPT_USERNAME, gc->smtp_user);
	if (password != NULL)
		cu->easy_setopt(c, CURLOPT_PASSWORD, password);
	rc = cu->easy_perform(c);
	if (rc != CURLE_OK) {
		char *where = url_redacted(gc->smtp_url);

		err_set(err, "mail through %s: %s", where,
		        errbuf[0] != '\0' ? errbuf : cu->easy_strerror(rc));
		free(where);
		goto out;
	}
	ret = 0;
out:
	if (c != NULL)
		cu->easy_cleanup(c);
	if (rcpt != NULL)
		cu->slist_free_all(rcpt);
	free(mail_from);
	fs_secret_free(password);
	return ret;
}

/* POST json to gc->webhook_url; a non-2xx answer is an error. 0 or -1 + err. */
static int
send_webhook(const struct guiconf *gc, const char *json, struct err *err)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	char *where = url_redacted(gc->webhook_url);
	long code = 0;
	const struct curl_api *cu;
	CURL *c = NULL;
	CURLcode rc;
	int ret = -1;

	if ((cu = curlload_get(err)) == NULL)
		goto out;
	c = cu->easy_init();
	if (c == NULL) {
		err_set(err, "cannot start libcurl");
		goto out;
	}
	headers = cu->slist_append(headers, "Content-Type: application/json");
	curl_common(cu, c, errbuf);
	cu->easy_setopt(c, CURLOPT_URL, gc->webhook_url);
	cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cu->easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	cu->easy_setopt(c, CURLOPT_USERAGENT, "tisbackup/" TB_VERSION);
	cu->easy_setopt(c, CURLOPT_POSTFIELDS, json);
	cu->easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	rc = cu->easy_perform(c);
	if (rc != CURLE_OK) {
		err_set(err, "webhook %s: %s", where,
		        errbuf[0] != '\0' ? errbuf : cu->easy_strerror(rc));
		goto out;
	}
	cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		err_set(err, "webhook %s: answered HTTP %ld", where, code);
		goto out;
	}
	ret = 0;
out:
	if (c != NULL)
		cu->easy_cleanup(c);
	if (headers != NULL)
		cu->slist_free_all(headers);
	free(where);
	return ret;
}

/* ---------------------------------------------------------------- after a run */

/* The status of the newest finished BACKUP row of job other than rowid (copy), or NULL. */
static char *
previous_status(struct catalog *cat, const char *job, int64_t rowid)
{
	struct catalog_row *rows = NULL;
	size_t n = 0;
	char *status = NULL;
	struct err err;

	err_clear(&err);
	if (catalog_last_rows(cat, job, "BACKUP", "backup_start", 8, &rows, &n, &err) == -1) {
		log_warning(job, "alerts: %s", err.msg);
		return NULL;
	}
	for (size_t i = 0; i < n && status == NULL; i++)
		if (rows[i].rowid != rowid && rows[i].status != NULL &&
		    strcmp(rows[i].status, "Running") != 0)
			status = xstrdup(rows[i].status);
	catalog_rows_free(rows, n);
	return status;
}

static char *
message_id(const char *host, time_t now)
{
	static unsigned counter;
	struct timeval tv;
	unsigned k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

	gettimeofday(&tv, NULL);
	return xasprintf("%lld.%06ld.%ld.%u.tisbackup@%s", (long long)now, (long)tv.tv_usec,
	                 (long)getpid(), k, host);
}

/* Send one event through every channel of gc. 1 when at least one took it. */
static int
send_event(const struct guiconf *gc, const struct alert_run *r, enum alert_event ev, time_t now)
{
	const char *name = alert_event_name(ev);
	int sent = 0;
	struct err err;

	if (gc->smtp_url != NULL && gc->nmail_to > 0) {
		char *from = gc->mail_from != NULL
		                 ? xstrdup(gc->mail_from)
		                 : xasprintf("tisbackup@%s", str_or_empty(r->host));
		char *id = message_id(str_or_empty(r->host), now);
		char *msg = alert_format_mail(r, ev, from, gc->mail_to, now, id);

		err_clear(&err);
		if (send_mail(gc, from, msg, &err) == -1) {
			log_warning(r->job, "alerts: %s alert not sent: %s", name, err.msg);
		} else {
			log_info(r->job, "alerts: %s alert mailed to %zu recipient(s)", name,
			         gc->nmail_to);
			sent = 1;
		}
		free(id);
		free(msg);
		free(from);
	}
	if (gc->webhook_url != NULL) {
		char *json = alert_format_json(r, ev);

		err_clear(&err);
		if (send_webhook(gc, json, &err) == -1) {
			log_warning(r->job, "alerts: %s alert not posted: %s", name, err.msg);
		} else {
			log_info(r->job, "alerts: %s alert posted to the webhook", name);
			sent = 1;
		}
		free(json);
	}
	return sent;
}

void
alert_after_run(const struct guiconf *gc, struct catalog *cat, int64_t rowid, struct alert_run *r,
                time_t now)
{
	int mail = gc != NULL && gc->smtp_url != NULL && gc->nmail_to > 0;
	int hook = gc != NULL && gc->webhook_url != NULL;
	struct alert_state st = { 0 };
	char *old_state = NULL, *prev = NULL;
	const char *new_state;
	enum alert_event ev;
	int failed = r->status == NULL || strcmp(r->status, "OK") != 0;
	int swapped = 0;
	struct err err;

	if (gc != NULL && gc->smtp_url != NULL && gc->nmail_to == 0 && failed)
		log_warning(r->job,
		            "alerts: smtp_url is set but no recipient: set [alerts] mail_to "
		            "or [general] ADMIN_EMAIL");
	if ((!mail && !hook) || cat == NULL)
		return;
	err_clear(&err);
	if (catalog_alert_get(cat, r->job, &old_state, &st.last_sent, &err) == -1) {
		log_warning(r->job, "alerts: %s", err.msg);
		return;
	}
	st.last = event_parse(old_state);
	prev = previous_status(cat, r->job, rowid);
	r->prev_status = prev;
	ev = alert_decide(failed, prev, &st, now, gc->alert_interval, &r->reminder);
	if (ev == ALERT_NONE) {
		if (failed)
			log_info(r->job,
			         "alerts: no alert (last one sent %lld s ago, alert_interval "
			         "%d s)",
			         (long long)(now - st.last_sent), gc->alert_interval);
		goto changed;
	}
	new_state = alert_event_name(ev);
	if (catalog_alert_swap(cat, r->job, old_state, st.last_sent, new_state, (int64_t)now,
	                       &swapped, &err) == -1) {
		log_warning(r->job, "alerts: %s", err.msg);
		goto changed;
	}
	if (!swapped) {
		log_info(r->job, "alerts: another process handled this alert");
		goto changed;
	}
	if (!send_event(gc, r, ev, now)) {
		/* Nothing went out: put the old state back so the next run tries again. */
		err_clear(&err);
		if (catalog_alert_swap(cat, r->job, new_state, (int64_t)now, old_state,
		                       st.last_sent, &swapped, &err) == -1)
			log_warning(r->job, "alerts: %s", err.msg);
	}
changed:
	/* Not part of the failed/recovered state: one alert per change. */
	if (r->changed && !failed)
		send_event(gc, r, ALERT_CHANGED, now);
	r->prev_status = NULL;
	free(prev);
	free(old_state);
}
