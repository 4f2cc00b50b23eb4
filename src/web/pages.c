/*
 * The HTML routes: the UI pages from the embedded assets (/, /login),
 * login and logout, /static/, and the two pages the server renders itself
 * like the original did (/last_backups, /export_backup). Every catalog
 * value goes through html_escape().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "guiconf.h"
#include "log.h"
#include "queue.h"
#include "util/xmalloc.h"
#include "web/html.h"
#include "web/routes.h"
#include "web/server.h"
#include "web/static.h"

#define STATE_MARK "{{login_state}}"

static void
serve_file(struct reply *out, const struct static_file *f, const char *cache)
{
	out->status = 200;
	out->content_type = f->content_type;
	out->static_data = f->data;
	out->static_len = f->len;
	out->etag = f->etag;
	out->cache_control = cache;
}

void
page_index(struct req *r, struct reply *out)
{
	const struct static_file *f = static_find("index.html");

	if (f == NULL) {
		reply_error(r, out, 404, NULL, "index.html is not in this build");
		return;
	}
	serve_file(out, f, "no-cache");
}

void
page_static(struct req *r, struct reply *out)
{
	const char *name = r->url + strlen("/static/");
	const struct static_file *f = static_find(name);
	const char *inm = req_header(r, "If-None-Match");

	if (f == NULL) {
		reply_error(r, out, 404, NULL, "not found");
		return;
	}
	serve_file(out, f, "public, max-age=3600, must-revalidate");
	if (inm != NULL && strstr(inm, f->etag) != NULL) {
		out->status = 304;
		out->static_len = 0;
	}
}

/*
 * login.html with its {{login_state}} placeholder replaced by state
 * ("invalid", "rate", "nousers" or ""), which login.js turns into the
 * message (docs/web-ui.md).
 */
static void
login_page(struct req *r, struct reply *out, int status, const char *state)
{
	const struct static_file *f = static_find("login.html");
	const char *text, *mark;

	if (f == NULL) {
		reply_error(r, out, status == 200 ? 404 : status, NULL,
		            "login.html is not in this build");
		return;
	}
	text = (const char *)f->data;
	mark = strstr(text, STATE_MARK);
	out->status = status;
	out->content_type = f->content_type;
	out->cache_control = "no-store";
	if (mark == NULL) {
		buf_append(&out->body, text, f->len);
		return;
	}
	buf_append(&out->body, text, (size_t)(mark - text));
	html_escape(&out->body, state);
	mark += strlen(STATE_MARK);
	buf_append(&out->body, mark, f->len - (size_t)(mark - text));
}

/* "nousers" when nobody can log in yet, else "". */
static const char *
no_users_state(struct req *r)
{
	const struct guiconf *gc = req_opts(r)->gc;
	struct err err;

	err_clear(&err);
	if (!(gc->providers & (GUICONF_AUTH_LOCAL | GUICONF_AUTH_BASIC)))
		return "";
	if (auth_user_count(gc->users_file, &err) == 0)
		return "nousers";
	return "";
}

void
page_login(struct req *r, struct reply *out)
{
	login_page(r, out, 200, no_users_state(r));
}

/* A redirect target: a same-origin path only, else "/". */
static const char *
safe_next(const char *next)
{
	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return "/";
	for (const char *p = next; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == '\\' || (unsigned char)*p == 0x7f)
			return "/";
	return next;
}

void
page_login_post(struct req *r, struct reply *out)
{
	const struct server_opts *o = req_opts(r);
	char *user = req_form(r, "username");
	char *pass = req_form(r, "password");
	char *next = req_form(r, "next");
	char sid[AUTH_ID_LEN + 1];
	struct auth_identity id;

	if (!(o->gc->providers & GUICONF_AUTH_LOCAL)) {
		reply_error(r, out, 404, NULL, "login form disabled ([auth] providers)");
		goto out;
	}
	if (user == NULL || pass == NULL) {
		login_page(r, out, 400, "invalid");
		goto out;
	}
	switch (auth_login(o->auth, r->ip, user, pass, time(NULL), sid, &id)) {
	case AUTH_OK:
		out->set_cookie = xasprintf("tb_session=%s; Path=/; HttpOnly; SameSite=Strict%s",
		                            sid, req_tls(r) ? "; Secure" : "");
		reply_redirect(out, safe_next(next));
		log_info(NULL, "serve: %s logged in from %s", id.user, r->ip);
		break;
	case AUTH_LIMITED:
		login_page(r, out, 429, "rate");
		break;
	case AUTH_DENIED:
		login_page(r, out, 401, "invalid");
		break;
	}
out:
	if (pass != NULL)
		explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
	free(next);
}

void
page_logout(struct req *r, struct reply *out)
{
	if (r->by_session)
		auth_logout(req_opts(r)->auth, r->sid);
	out->set_cookie = xasprintf("tb_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
	                            req_tls(r) ? "; Secure" : "");
	reply_redirect(out, "/login?error=logout");
}

static void
cell(struct buf *b, const char *s)
{
	buf_puts(b, "<td>");
	html_escape(b, s);
	buf_puts(b, "</td>");
}

static void
cell_int(struct buf *b, int64_t v)
{
	if (v == CATALOG_NULL)
		buf_puts(b, "<td></td>");
	else
		buf_printf(b, "<td>%lld</td>", (long long)v);
}

/*
 * A duration in hours as the UI writes it, "45 s", "3 min 12 s",
 * "2 h 05 min", "3 d 4 h", into out.
 */
static void
human_duration(double hours, char *out, size_t outsz)
{
	long long s = (long long)(hours * 3600.0 + 0.5);

	if (s < 60)
		snprintf(out, outsz, "%lld s", s);
	else if (s < 3600)
		snprintf(out, outsz, "%lld min %02lld s", s / 60, s % 60);
	else if (s < 48 * 3600)
		snprintf(out, outsz, "%lld h %02lld min", s / 3600, s / 60 % 60);
	else
		snprintf(out, outsz, "%lld d %lld h", s / 86400, s / 3600 % 24);
}

void
page_last_backups(struct req *r, struct reply *out)
{
	static const char *const cols[] = { "backup_name",
		                            "server_name",
		                            "description",
		                            "backup_start",
		                            "backup_end",
		                            "backup_duration",
		                            "total_files_count",
		                            "written_files_count",
		                            "total_bytes",
		                            "written_bytes",
		                            "status",
		                            "log",
		                            "backup_location",
		                            "TYPE" };
	struct catalog_row *rows = NULL;
	struct catalog *cat = NULL;
	struct buf *b = &out->body;
	double hours = 0;
	long long written = 0;
	size_t n = 0;
	struct err err;

	err_clear(&err);
	if (req_catalog(r, &cat, &err) == -1 ||
	    (cat != NULL &&
	     catalog_last_rows(cat, NULL, "BACKUP", "backup_start", 20, &rows, &n, &err) == -1)) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	out->content_type = "text/html; charset=utf-8";
	html_head(b, "TISBackup - last backups");
	buf_puts(b, "<h1>Last backups</h1>\n<table id=\"last_backups\">\n<thead><tr>");
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		buf_printf(b, "<th>%s</th>", cols[i]);
	buf_puts(b, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *w = &rows[i];

		buf_puts(b, "<tr>");
		cell(b, w->backup_name);
		cell(b, w->server_name);
		cell(b, w->description);
		cell(b, w->backup_start);
		cell(b, w->backup_end);
		if (w->backup_duration == w->backup_duration) {
			char human[48];

			/* Readable, the catalog's hours kept in the title. */
			human_duration(w->backup_duration, human, sizeof human);
			buf_printf(b, "<td title=\"%.4f h\">%s</td>", w->backup_duration, human);
			hours += w->backup_duration;
		} else {
			buf_puts(b, "<td></td>");
		}
		cell_int(b, w->total_files_count);
		cell_int(b, w->written_files_count);
		cell_int(b, w->total_bytes);
		cell_int(b, w->written_bytes);
		if (w->written_bytes != CATALOG_NULL)
			written += w->written_bytes;
		cell(b, w->status);
		cell(b, w->log);
		cell(b, w->backup_location);
		cell(b, w->type);
		buf_puts(b, "</tr>\n");
	}
	{
		char human[48];

		human_duration(hours, human, sizeof human);
		buf_printf(b,
		           "</tbody>\n</table>\n<p id=\"totals\">Total duration: %s (%.4f h), "
		           "written: %lld bytes</p>\n",
		           human, hours, written);
	}
	html_tail(b);
out:
	catalog_rows_free(rows, n);
	req_catalog_put(r, cat);
}

/* Start an export of the sections csv; writes the outcome into the page. */
static void
export_start(struct req *r, struct reply *out, const struct config *cfg, const char *csv)
{
	const struct job **jobs = NULL;
	const char **names = NULL;
	char *id = NULL;
	size_t n = 0;
	int existed = 0;
	struct err err;

	err_clear(&err);
	if (config_select(cfg, csv, &jobs, &n, &err) == -1) {
		reply_error(r, out, 400, "sections", "%s", err.msg);
		return;
	}
	if (n == 0) {
		reply_error(r, out, 400, "sections", "no section to export");
		free(jobs);
		return;
	}
	names = xcalloc(n, sizeof *names);
	for (size_t i = 0; i < n; i++)
		names[i] = jobs[i]->name;
	if (runs_submit(r, out, "export", names, n, NULL, &id, &existed) == 0) {
		html_head(&out->body, "TISBackup - export");
		buf_puts(&out->body, "<h1>Export</h1>\n<p id=\"export_started\">Export ");
		html_escape(&out->body, existed ? "already queued" : "queued");
		buf_puts(&out->body, ": run <code>");
		html_escape(&out->body, id);
		buf_puts(&out->body, "</code>. Progress: <a href=\"/status.json\">/status.json</a>"
		                     "</p>\n");
		html_tail(&out->body);
		out->status = 202;
		out->content_type = "text/html; charset=utf-8";
		log_info(NULL, "serve: %s queued export run %s", r->id.user, id);
	}
	free(id);
	free(names);
	free(jobs);
}

void
page_export_backup(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	const char *start = req_arg(r, "start");
	struct buf *b = &out->body;

	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	if (start != NULL && strcmp(start, "true") == 0) {
		const char *sections = req_arg(r, "sections");

		if (req_check_state(r, out) == -1)
			return;
		export_start(r, out, cfg, sections != NULL ? sections : "");
		return;
	}
	out->content_type = "text/html; charset=utf-8";
	html_head(b, "TISBackup - export");
	buf_puts(b,
	         "<h1>Export to a USB disk</h1>\n<form method=\"get\" action=\"/export_backup\">\n"
	         "<input type=\"hidden\" name=\"start\" value=\"true\">\n"
	         "<input type=\"hidden\" name=\"csrf_token\" value=\"");
	html_escape(b, r->id.csrf);
	buf_puts(b, "\">\n<ul>\n");
	for (size_t i = 0; i < cfg->njobs; i++) {
		buf_puts(b, "<li><label><input type=\"checkbox\" name=\"section\" value=\"");
		html_escape(b, cfg->jobs[i].name);
		buf_puts(b, "\" checked> ");
		html_escape(b, cfg->jobs[i].name);
		buf_puts(b, " (");
		html_escape(b, cfg->jobs[i].server_name);
		buf_puts(b, ")</label></li>\n");
	}
	buf_puts(b, "</ul>\n<input type=\"hidden\" name=\"sections\" value=\"");
	for (size_t i = 0; i < cfg->njobs; i++) {
		if (i > 0)
			buf_putc(b, ',');
		html_escape(b, cfg->jobs[i].name);
	}
	buf_puts(b, "\">\n");
	if (r->id.role == AUTH_ROLE_ADMIN)
		buf_puts(b, "<button type=\"submit\">Start the export</button>\n");
	buf_puts(b, "</form>\n");
	html_tail(b);
}
