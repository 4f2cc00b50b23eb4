/*
 * The read side of the REST API (/api/v1/): health, session, configs,
 * jobs and backups (api.md). Runs are in api_runs.c. Every parameter is
 * validated and a bad one answers 400 naming it.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "guiconf.h"
#include "queue.h"
#include "util/xmalloc.h"
#include "web/form.h"
#include "web/jobview.h"
#include "web/json.h"
#include "web/routes.h"
#include "web/server.h"

#define HISTORY_ROWS 100
/* Seconds a cached job list may be old (its ages and health depend on the time). */
#define VIEW_MAX_AGE 5

void
api_health(struct req *r, struct reply *out)
{
	struct buf b;
	struct err err;
	struct queue *q;

	buf_init(&b, 4096);
	if (!r->authed) {
		buf_puts(&b, "{\"status\":\"ok\"}\n");
		reply_json(out, 200, &b);
		return;
	}
	err_clear(&err);
	q = req_queue(r, NULL, &err);
	buf_puts(&b, "{\"status\":\"ok\",\"version\":\"" TB_VERSION "\",\"queue\":");
	if (q != NULL) {
		json_str(&b, "ok");
	} else {
		char msg[ERR_MSG_MAX + 64];

		snprintf(msg, sizeof msg, "unavailable: %s: %s", req_opts(r)->queue_addr, err.msg);
		json_str(&b, msg);
	}
	buf_puts(&b, "}\n");
	req_queue_put(r, q);
	reply_json(out, 200, &b);
}

void
api_session(struct req *r, struct reply *out)
{
	struct buf b;

	buf_init(&b, 4096);
	buf_puts(&b, "{\"user\":");
	json_str(&b, r->id.user);
	buf_puts(&b, ",\"role\":");
	json_str(&b, auth_role_name(r->id.role));
	buf_puts(&b, ",\"csrf\":");
	json_str(&b, r->id.csrf);
	buf_puts(&b, "}\n");
	reply_json(out, 200, &b);
}

void
api_configs(struct req *r, struct reply *out)
{
	const struct server_opts *o = req_opts(r);
	size_t cur;
	struct buf b;

	req_config(r, &cur);
	buf_init(&b, 1 << 20);
	buf_puts(&b, "{\"configs\":");
	json_str_array(&b, o->gc->configs, o->ncfgs);
	buf_printf(&b, ",\"current\":%zu}\n", cur);
	reply_json(out, 200, &b);
}

void
api_configs_current(struct req *r, struct reply *out)
{
	json_error_t jerr;
	json_t *root = json_loadb(r->body, r->body_len, 0, &jerr);
	json_t *v = root != NULL ? json_object_get(root, "config_number") : NULL;
	json_int_t n;

	if (root == NULL || !json_is_object(root)) {
		reply_error(r, out, 400, NULL, "malformed JSON body: %s",
		            root == NULL ? jerr.text : "not an object");
		goto out;
	}
	if (!json_is_integer(v) || (n = json_integer_value(v)) < 0 ||
	    (size_t)n >= req_opts(r)->ncfgs) {
		reply_error(r, out, 400, "config_number", "config_number: an integer from 0 to %zu",
		            req_opts(r)->ncfgs - 1);
		goto out;
	}
	req_set_config(r, (size_t)n);
	api_configs(r, out);
out:
	json_decref(root);
}

void
api_jobs(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	struct catalog *cat = NULL;
	time_t now = time(NULL);
	struct err err;
	struct buf b;

	err_clear(&err);
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	if (req_cache_get(r, "jobs", VIEW_MAX_AGE, out))
		return;
	if (req_catalog(r, &cat, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		return;
	}
	buf_init(&b, (size_t)1 << 28);
	buf_puts(&b, "{\"items\":[");
	for (size_t i = 0; i < cfg->njobs; i++) {
		struct job_view jv;

		if (jobview_load(cat, &cfg->jobs[i], now, &jv, &err) == -1) {
			jobview_free(&jv);
			buf_free(&b);
			reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
			goto out;
		}
		if (i > 0)
			buf_putc(&b, ',');
		jobview_json(&b, &jv);
		jobview_free(&jv);
	}
	buf_puts(&b, "]}\n");
	reply_json(out, 200, &b);
	req_cache_put(r, "jobs", out);
out:
	req_catalog_put(r, cat);
}

void
api_job(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	const char *name = r->url + strlen("/api/v1/jobs/");
	const struct job *job = cfg != NULL ? config_find_job(cfg, name) : NULL;
	struct catalog_row *hist = NULL;
	struct catalog *cat = NULL;
	struct job_view jv = { 0 };
	size_t nh = 0;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (job == NULL) {
		reply_error(r, out, 404, NULL, "no job called %s in the current configuration",
		            name);
		return;
	}
	if (req_catalog(r, &cat, &err) == -1 ||
	    jobview_load(cat, job, time(NULL), &jv, &err) == -1 ||
	    (cat != NULL && catalog_last_rows(cat, job->name, "BACKUP", "backup_start",
	                                      HISTORY_ROWS, &hist, &nh, &err) == -1)) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	buf_init(&b, (size_t)1 << 28);
	jobview_json(&b, &jv);
	b.len--; /* reopen the object */
	buf_puts(&b, ",\"history\":[");
	for (size_t i = nh; i-- > 0;) {
		const struct catalog_row *h = &hist[i];

		buf_puts(&b, "{\"start\":");
		json_str(&b, h->backup_start);
		buf_puts(&b, ",\"end\":");
		json_str(&b, h->backup_end);
		buf_puts(&b, ",\"duration_s\":");
		json_num(&b, h->backup_duration * 3600.0);
		buf_puts(&b, ",\"status\":");
		json_str(&b, h->status);
		buf_puts(&b, ",\"written_bytes\":");
		json_int(&b, h->written_bytes);
		buf_puts(&b, ",\"total_bytes\":");
		json_int(&b, h->total_bytes);
		buf_puts(&b, ",\"written_files\":");
		json_int(&b, h->written_files_count);
		buf_puts(&b, ",\"total_files\":");
		json_int(&b, h->total_files_count);
		buf_putc(&b, '}');
		if (i > 0)
			buf_putc(&b, ',');
	}
	buf_puts(&b, "],\"last_log\":");
	json_str(&b, nh > 0 ? hist[0].log : NULL);
	buf_puts(&b, "}\n");
	reply_json(out, 200, &b);
out:
	jobview_free(&jv);
	catalog_rows_free(hist, nh);
	req_catalog_put(r, cat);
}

/* A non-negative integer parameter within [min, max]; 0, or -1 with 400 set. */
static int
int_param(struct req *r, struct reply *out, const char *name, int min, int max, int *v)
{
	const char *s = req_arg(r, name);
	char *end;
	long n;

	if (s == NULL)
		return 0;
	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || !isdigit((unsigned char)*s) || *end != '\0' || errno != 0 || n < min ||
	    n > max) {
		reply_error(r, out, 400, name, "%s: an integer from %d to %d", name, min, max);
		return -1;
	}
	*v = (int)n;
	return 0;
}

/*
 * A date parameter (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, also with T) as the
 * catalog's ISO form; end_of_day moves a bare date to the next midnight
 * (an inclusive "until"). 0, or -1 with 400 set.
 */
static int
date_param(struct req *r, struct reply *out, const char *name, int end_of_day, char *iso, size_t sz)
{
	const char *s = req_arg(r, name);

	iso[0] = '\0';
	if (s == NULL || form_date(s, end_of_day, iso, sz) == 0)
		return 0;
	reply_error(r, out, 400, name, "%s: a date YYYY-MM-DD or YYYY-MM-DD HH:MM:SS", name);
	return -1;
}

/* A text filter made of letters, digits and _.@+- only. */
static int
word_param(struct req *r, struct reply *out, const char *name, const char **v)
{
	const char *s = req_arg(r, name);

	*v = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	if (strlen(s) > 255)
		goto bad;
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_.@+-", *p) == NULL)
			goto bad;
	*v = s;
	return 0;
bad:
	reply_error(r, out, 400, name, "%s: letters, digits and _.@+- only", name);
	return -1;
}

void
api_backups(struct req *r, struct reply *out)
{
	struct catalog_filter f = { .type = "BACKUP", .limit = 100 };
	struct catalog_row *rows = NULL;
	struct catalog *cat = NULL;
	char since[32], until[32];
	char *key = NULL;
	int64_t total = 0;
	size_t n = 0;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (word_param(r, out, "job", &f.backup_name) == -1 ||
	    word_param(r, out, "status", &f.status) == -1 ||
	    word_param(r, out, "type", &f.type) == -1 ||
	    date_param(r, out, "since", 0, since, sizeof since) == -1 ||
	    date_param(r, out, "until", 1, until, sizeof until) == -1 ||
	    int_param(r, out, "limit", 1, 1000, &f.limit) == -1 ||
	    int_param(r, out, "offset", 0, 1000000000, &f.offset) == -1)
		return;
	if (f.type == NULL) {
		f.type = "BACKUP";
	} else if (strcmp(f.type, "BACKUP") != 0 && strcmp(f.type, "EXPORT") != 0 &&
	           strcmp(f.type, "CLEAN") != 0) {
		reply_error(r, out, 400, "type", "type: BACKUP, EXPORT or CLEAN");
		return;
	}
	f.start_since = since[0] != '\0' ? since : NULL;
	f.start_before = until[0] != '\0' ? until : NULL;
	key = xasprintf("backups %s|%s|%s|%s|%s|%d|%d", f.backup_name != NULL ? f.backup_name : "",
	                f.status != NULL ? f.status : "", f.type, since, until, f.limit, f.offset);
	if (req_cache_get(r, key, 0, out))
		goto out;
	if (req_catalog(r, &cat, &err) == -1 ||
	    (cat != NULL && (catalog_count(cat, &f, &total, &err) == -1 ||
	                     catalog_find(cat, &f, &rows, &n, &err) == -1))) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	buf_init(&b, (size_t)1 << 30);
	buf_puts(&b, "{\"items\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		jobview_row_json(&b, &rows[i]);
	}
	buf_printf(&b, "],\"total\":%lld,\"limit\":%d,\"offset\":%d}\n", (long long)total, f.limit,
	           f.offset);
	reply_json(out, 200, &b);
	req_cache_put(r, key, out);
out:
	free(key);
	catalog_rows_free(rows, n);
	req_catalog_put(r, cat);
}
