/*
 * The read side of the REST API (/api/v1/): health, session, configs,
 * jobs and backups (api.md). Runs are in api_runs.c. Every parameter is
 * validated and a bad one answers 400 naming it.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "diskspace.h"
#include "guiconf.h"
#include "queue.h"
#include "retention.h"
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

	buf_init(&b,
	         4096 + req_opts(r)->ncfgs * (6 * ERR_MSG_MAX + 6 * PATH_MAX)); /* escaped errors */
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
	/* Configs whose last (re)load failed: the dashboard's banner. */
	buf_puts(&b, ",\"config_errors\":[");
	for (size_t i = 0, n = 0; i < req_opts(r)->ncfgs; i++) {
		const char *e = __atomic_load_n(&req_opts(r)->cfg_errors[i], __ATOMIC_ACQUIRE);

		if (e == NULL)
			continue;
		buf_puts(&b, n++ > 0 ? ",{\"config\":" : "{\"config\":");
		json_str(&b, req_opts(r)->gc->configs[i]);
		buf_puts(&b, ",\"previous_kept\":");
		buf_puts(&b, __atomic_load_n(&req_opts(r)->cfgs[i], __ATOMIC_ACQUIRE) != NULL
		                 ? "true"
		                 : "false");
		buf_puts(&b, ",\"error\":");
		json_str(&b, e);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]");
	/* Successful reloads since serve started: the dashboard's "reloaded" notice. */
	buf_printf(&b, ",\"config_reloads\":%lu}\n",
	           __atomic_load_n(&req_opts(r)->config_reloads, __ATOMIC_ACQUIRE));
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

/*
 * ,"filesystem":{...} for the backup filesystem of cfg (diskspace.h), with
 * the checknagios limits (null when unset); nothing when it does not read.
 */
static void
filesystem_json(struct buf *b, const struct config *cfg)
{
	struct disk_space ds;
	struct err err;
	int warn, crit;

	err_clear(&err);
	if (cfg->backup_base_dir == NULL || disk_space_read(cfg->backup_base_dir, &ds, &err) == -1)
		return;
	disk_space_limits(cfg, &warn, &crit);
	buf_puts(b, ",\"filesystem\":{\"path\":");
	json_str(b, cfg->backup_base_dir);
	buf_printf(b,
	           ",\"size_bytes\":%llu,\"used_bytes\":%llu,\"free_bytes\":%llu,\"inodes\":%llu,"
	           "\"free_inodes\":%llu,\"used_percent\":%.1f,\"inodes_used_percent\":%.1f",
	           ds.size_bytes, ds.used_bytes, ds.free_bytes, ds.inodes, ds.free_inodes,
	           ds.used_percent, ds.inodes_used_percent);
	buf_puts(b, ",\"warn_percent\":");
	if (warn >= 0)
		buf_printf(b, "%d", warn);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"crit_percent\":");
	if (crit >= 0)
		buf_printf(b, "%d", crit);
	else
		buf_puts(b, "null");
	buf_putc(b, '}');
}

/*
 * Reopen the job object just written into b (its closing brace dropped)
 * and add "last_verify": v, the newest finished VERIFY row of the job, as
 * {end, result ("ok", "warning" when it passed with warnings, "failed"),
 * age_hours (since end, at now)}, or null when v is NULL (api.md).
 */
static void
last_verify_json(struct buf *b, const struct catalog_row *v, time_t now)
{
	if (b->len > 0 && b->data[b->len - 1] == '}')
		b->len--;
	buf_puts(b, ",\"last_verify\":");
	if (v == NULL) {
		buf_puts(b, "null}");
	} else {
		double end = jobview_epoch(v->backup_end);
		int ok = strcmp(v->status, "OK") == 0;

		buf_putc(b, '{');
		json_key(b, "end");
		json_str(b, v->backup_end);
		buf_putc(b, ',');
		json_key(b, "result");
		if (!ok)
			json_str(b, "failed");
		else if (v->log != NULL && strncmp(v->log, "WARNING", 7) == 0)
			json_str(b, "warning");
		else
			json_str(b, "ok");
		buf_putc(b, ',');
		json_key(b, "age_hours");
		json_num(b, end >= 0 ? ((double)now - end) / 3600.0 : NAN);
		buf_puts(b, "}}");
	}
}

/* The row of job name in rows[0..n-1] (sorted by name, one per job), or NULL. */
static const struct catalog_row *
row_of_job(const struct catalog_row *rows, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rows[mid].backup_name, name);

		if (c == 0)
			return &rows[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * last_verify_json() of one job: the newest finished of its last 5 VERIFY
 * rows (one index range), or when those 5 are all still running, its row
 * among every job's (catalog_last_finished()). On a catalog error the
 * field is null (the view is still shown).
 */
static void
last_verify_json_of(struct buf *b, struct catalog *cat, const struct job *job, time_t now)
{
	struct catalog_row *rows = NULL, *all = NULL;
	const struct catalog_row *v = NULL;
	size_t n = 0, nall = 0;
	struct err err;

	err_clear(&err);
	if (cat != NULL &&
	    catalog_last_rows(cat, job->name, "VERIFY", "backup_start", 5, &rows, &n, &err) == 0) {
		for (size_t i = 0; i < n && v == NULL; i++)
			if (rows[i].status != NULL && strcmp(rows[i].status, "Running") != 0)
				v = &rows[i];
		if (v == NULL && n == 5 &&
		    catalog_last_finished(cat, "VERIFY", &all, &nall, &err) == 0)
			v = row_of_job(all, nall, job->name);
	}
	last_verify_json(b, v, now);
	catalog_rows_free(rows, n);
	catalog_rows_free(all, nall);
}

void
api_jobs(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	struct catalog_row *verifies = NULL;
	struct catalog *cat = NULL;
	size_t nverifies = 0;
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
	/*
	 * Every job's last verify in one read, remembered until the next
	 * commit; on a catalog error the fields are null (the views are still
	 * shown).
	 */
	if (cat != NULL && catalog_last_finished(cat, "VERIFY", &verifies, &nverifies, &err) == -1)
		err_clear(&err);
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
		last_verify_json(&b, row_of_job(verifies, nverifies, cfg->jobs[i].name), now);
		jobview_free(&jv);
	}
	buf_puts(&b, "]");
	filesystem_json(&b, cfg);
	buf_puts(&b, "}\n");
	reply_json(out, 200, &b);
	req_cache_put(r, "jobs", out);
out:
	catalog_rows_free(verifies, nverifies);
	req_catalog_put(r, cat);
}

#define RETENTION_SUFFIX "/retention"

/*
 * GET /api/v1/jobs/NAME/retention: what cleanup would keep and delete
 * now, per backup with the deciding rule (the same decision as
 * `cleanup --explain`, retention.h).
 */
static void
api_job_retention(struct req *r, struct reply *out, const struct job *job)
{
	struct retention_explain x = { 0 };
	struct catalog *cat = NULL;
	char pol[256];
	struct err err;
	struct buf b;

	err_clear(&err);
	if (req_catalog(r, &cat, &err) == -1 ||
	    retention_explain_job(cat, job, time(NULL), &x, &err) == -1) {
		reply_error(r, out, 500, NULL, "%s", err.msg);
		goto out;
	}
	retention_policy_text(&x.pol, pol, sizeof pol);
	buf_init(&b, (size_t)1 << 28);
	buf_puts(&b, "{\"job\":");
	json_str(&b, job->name);
	buf_puts(&b, ",\"policy\":{\"kind\":");
	json_str(&b, x.pol.kind == RETENTION_AGE ? "age" : "gfs");
	buf_printf(&b,
	           ",\"backup_retention_time\":%d,\"keep_min_days\":%d,\"keep_daily\":%d,"
	           "\"keep_weekly\":%d,\"keep_monthly\":%d,\"keep_yearly\":%d,\"text\":",
	           x.pol.days, x.pol.keep_min_days, x.pol.keep_daily, x.pol.keep_weekly,
	           x.pol.keep_monthly, x.pol.keep_yearly);
	json_str(&b, pol);
	buf_puts(&b, "},\"cutoff\":");
	json_str(&b, x.cutoff);
	buf_puts(&b, ",\"items\":[");
	for (size_t i = 0; i < x.n; i++) {
		const struct retention_item *it = &x.items[i];
		int first = 1;

		buf_puts(&b, i > 0 ? ",{\"rowid\":" : "{\"rowid\":");
		if (it->rowid >= 0)
			json_int(&b, it->rowid);
		else
			buf_puts(&b, "null");
		buf_puts(&b, ",\"start\":");
		json_str(&b, it->start);
		buf_puts(&b, ",\"status\":");
		json_str(&b, it->status);
		buf_printf(&b, ",\"partial\":%s,\"in_use\":%s,\"action\":\"%s\",\"rule\":",
		           it->partial ? "true" : "false", it->in_use ? "true" : "false",
		           it->del ? "delete" : "keep");
		json_str(&b, retention_rule_name(it->reason));
		buf_puts(&b, ",\"reason\":");
		json_str(&b, retention_reason_text(it->reason));
		buf_puts(&b, ",\"rules\":[");
		for (int k = 0; k <= RETENTION_REASON_LAST; k++) {
			if (!(it->rules & RETENTION_RULE(k)))
				continue;
			if (!first)
				buf_putc(&b, ',');
			json_str(&b, retention_rule_name((enum retention_reason)k));
			first = 0;
		}
		buf_puts(&b, "],\"location\":");
		json_str(&b, it->location);
		buf_putc(&b, '}');
	}
	buf_printf(&b, "],\"keep\":%zu,\"delete\":%zu}\n",
	           x.n - x.sum.expired - x.sum.orphans_expired - x.sum.extra,
	           x.sum.expired + x.sum.orphans_expired + x.sum.extra);
	reply_json(out, 200, &b);
out:
	retention_explain_free(&x);
	req_catalog_put(r, cat);
}

void
api_job(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	const char *name = r->url + strlen("/api/v1/jobs/");
	size_t len = strlen(name), slen = strlen(RETENTION_SUFFIX);
	int retention = len > slen && strcmp(name + len - slen, RETENTION_SUFFIX) == 0;
	char *jname = xstrndup(name, retention ? len - slen : len);
	const struct job *job = cfg != NULL ? config_find_job(cfg, jname) : NULL;
	struct catalog_row *hist = NULL;
	struct catalog *cat = NULL;
	struct job_view jv = { 0 };
	size_t nh = 0;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (job == NULL) {
		reply_error(r, out, 404, NULL, "no job called %s in the current configuration",
		            jname);
		free(jname);
		return;
	}
	free(jname);
	if (retention) {
		api_job_retention(r, out, job);
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
	last_verify_json_of(&b, cat, job, time(NULL));
	b.len--; /* reopen the object */
	buf_puts(&b, ",\"history\":[");
	for (size_t i = nh; i-- > 0;) {
		const struct catalog_row *h = &hist[i];

		buf_puts(&b, "{\"start\":");
		json_catalog_time(&b, h->backup_start);
		buf_puts(&b, ",\"end\":");
		json_catalog_time(&b, h->backup_end);
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

/* The longest after= value taken (a cursor of a 2 KiB backup_start). */
#define CURSOR_MAX 4120

/*
 * The cursor of the page after row: "ROWID.HEX" (HEX the bytes of its
 * backup_start), or "ROWID" when its backup_start is NULL. Opaque to
 * clients; only URL-safe characters. Appended to b as a JSON string.
 */
static void
cursor_json(struct buf *b, const struct catalog_row *row)
{
	static const char hex[] = "0123456789abcdef";

	buf_printf(b, "\"%lld", (long long)row->rowid);
	if (row->backup_start != NULL) {
		buf_putc(b, '.');
		for (const unsigned char *p = (const unsigned char *)row->backup_start; *p != '\0';
		     p++) {
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 15]);
		}
	}
	buf_putc(b, '"');
}

/*
 * The after= parameter (a cursor_json() string) into f's keyset; its
 * start is decoded into *start (owned by the caller, freed with free()).
 * 0, or -1 with 400 naming after set.
 */
static int
cursor_param(struct req *r, struct reply *out, struct catalog_filter *f, char **start)
{
	const char *s = req_arg(r, "after"), *dot;
	char *end;
	long long id;
	size_t nhex;

	*start = NULL;
	if (s == NULL)
		return 0;
	errno = 0;
	id = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)*s) || errno != 0 || id <= 0 || (*end != '\0' && *end != '.') ||
	    strlen(s) > CURSOR_MAX)
		goto bad;
	dot = *end == '.' ? end + 1 : NULL;
	if (dot != NULL) {
		nhex = strlen(dot);
		if (nhex % 2 != 0)
			goto bad;
		*start = xmalloc(nhex / 2 + 1);
		for (size_t i = 0; i < nhex; i += 2) {
			char two[3] = { dot[i], dot[i + 1], '\0' };

			if (!isxdigit((unsigned char)two[0]) || !isxdigit((unsigned char)two[1]) ||
			    ((*start)[i / 2] = (char)strtol(two, NULL, 16)) == '\0')
				goto bad;
		}
		(*start)[nhex / 2] = '\0';
	}
	f->after_rowid = id;
	f->after_start = *start;
	return 0;
bad:
	free(*start);
	*start = NULL;
	reply_error(r, out, 400, "after", "after: the next cursor of an earlier answer");
	return -1;
}

void
api_backups(struct req *r, struct reply *out)
{
	struct catalog_filter f = { .type = "BACKUP", .limit = 100 };
	struct catalog_row *rows = NULL;
	struct catalog *cat = NULL;
	char since[32], until[32];
	char *key = NULL, *start = NULL;
	int limit;
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
	    int_param(r, out, "offset", 0, 1000000000, &f.offset) == -1 ||
	    cursor_param(r, out, &f, &start) == -1)
		return;
	if (f.after_rowid > 0 && f.offset > 0) {
		reply_error(r, out, 400, "offset",
		            "offset: not with after (the cursor is the position)");
		goto out;
	}
	if (f.type == NULL) {
		f.type = "BACKUP";
	} else if (strcmp(f.type, "BACKUP") != 0 && strcmp(f.type, "EXPORT") != 0 &&
	           strcmp(f.type, "CLEAN") != 0 && strcmp(f.type, "RESTORE") != 0) {
		reply_error(r, out, 400, "type", "type: BACKUP, EXPORT, CLEAN or RESTORE");
		goto out;
	}
	f.start_since = since[0] != '\0' ? since : NULL;
	f.start_before = until[0] != '\0' ? until : NULL;
	key =
	    xasprintf("backups %s|%s|%s|%s|%s|%d|%d|%s", f.backup_name != NULL ? f.backup_name : "",
	              f.status != NULL ? f.status : "", f.type, since, until, f.limit, f.offset,
	              req_arg(r, "after") != NULL ? req_arg(r, "after") : "");
	if (req_cache_get(r, key, 0, out))
		goto out;
	/* One row more than asked: whether there is a next page. */
	limit = f.limit++;
	if (req_catalog(r, &cat, &err) == -1 ||
	    (cat != NULL && (catalog_count(cat, &f, &total, &err) == -1 ||
	                     catalog_find(cat, &f, &rows, &n, &err) == -1))) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	buf_init(&b, (size_t)1 << 30);
	buf_puts(&b, "{\"items\":[");
	for (size_t i = 0; i < n && i < (size_t)limit; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		jobview_api_row_json(&b, &rows[i]);
	}
	buf_printf(&b, "],\"total\":%lld,\"limit\":%d,\"offset\":%d,\"next\":", (long long)total,
	           limit, f.offset);
	if (n > (size_t)limit) {
		cursor_json(&b, &rows[limit - 1]);
	} else {
		buf_puts(&b, "null");
	}
	buf_puts(&b, "}\n");
	reply_json(out, 200, &b);
	req_cache_put(r, key, out);
out:
	free(key);
	free(start);
	catalog_rows_free(rows, n);
	req_catalog_put(r, cat);
}

/*
 * GET /api/v1/pools: every worker pool the queue knows and every pool of
 * the current config's jobs, with its live workers, queued and running
 * runs and how many of this config's jobs it runs (docs/queue.md). A pool
 * with jobs or queued runs and no live worker is one whose runs wait.
 */
void
api_pools(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	struct queue_pool_stat *ps = NULL;
	size_t nps = 0, nall = 0;
	const char **names = NULL;
	struct queue *q;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	q = req_queue(r, out, &err);
	if (q == NULL)
		return;
	if (queue_pools(q, &ps, &nps, &err) == -1) {
		reply_error(r, out, 503, NULL, "queue (%s): %s", req_opts(r)->queue_addr, err.msg);
		goto out;
	}
	names = jobview_pool_names(ps, nps, cfg, &nall);
	buf_init(&b, (size_t)1 << 24);
	buf_puts(&b, "{\"items\":[");
	for (size_t i = 0; i < nall; i++) {
		size_t jobs = 0;

		for (size_t j = 0; j < cfg->njobs; j++)
			jobs += strcmp(job_pool(&cfg->jobs[j]), names[i]) == 0;
		buf_puts(&b, i > 0 ? ",{\"pool\":" : "{\"pool\":");
		json_str(&b, names[i]);
		buf_printf(&b, ",\"workers\":%d,\"queued\":%d,\"running\":%d,\"jobs\":%zu}",
		           i < nps ? ps[i].workers : 0, i < nps ? ps[i].queued : 0,
		           i < nps ? ps[i].running : 0, jobs);
	}
	buf_puts(&b, "]}\n");
	reply_json(out, 200, &b);
out:
	free(names);
	queue_pool_stats_free(ps, nps);
	req_queue_put(r, q);
}

/* One job of the fleet view. */
struct fleet_job {
	char *name;
	char *status, *server, *start, *end, *location; /* its last BACKUP row, or NULL */
	int64_t rowid;                                  /* that row's, 0 when none */
	const char *worker, *worker_pool;               /* its last run in the queue, or NULL */
};

static void
fleet_take_row(void *arg, size_t i, const struct catalog_row *rows, size_t n)
{
	struct fleet_job *f = (struct fleet_job *)arg + i;

	if (n == 0)
		return;
	f->status = rows[0].status != NULL ? xstrdup(rows[0].status) : NULL;
	f->server = rows[0].server_name != NULL ? xstrdup(rows[0].server_name) : NULL;
	f->start = rows[0].backup_start != NULL ? xstrdup(rows[0].backup_start) : NULL;
	f->end = rows[0].backup_end != NULL ? xstrdup(rows[0].backup_end) : NULL;
	f->location = rows[0].backup_location != NULL ? xstrdup(rows[0].backup_location) : NULL;
	f->rowid = rows[0].rowid;
}

/*
 * GET /api/v1/fleet: every job the catalog knows (every configuration
 * writing to it: with a shared PostgreSQL catalog, every host's), sorted
 * by name, with its last BACKUP row, whether the current configuration
 * has it (and its pool there), and where that row's run ran, as the run
 * recorded it in the catalog (run_host): the host, the configuration file,
 * and when it came from the queue the worker (HOST:PID/SLOT) and pool.
 * For rows older than run_host, the worker and pool of the job's newest
 * run among the queue's last 1000, if any. docs/scale-out.md.
 */
void
api_fleet(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	struct catalog *cat = NULL;
	struct queue *q = NULL;
	struct queue_run *runs = NULL;
	struct fleet_job *v = NULL;
	struct catalog_run_host *hosts = NULL;
	int64_t *ids = NULL;
	char **names = NULL;
	size_t n = 0, nruns = 0;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	if (req_catalog(r, &cat, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		return;
	}
	if (cat != NULL && catalog_job_names(cat, &names, &n, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i].name = names[i];
	if (n > 0 && catalog_last_rows_each(cat, (const char *const *)names, n, "BACKUP", 1,
	                                    fleet_take_row, v, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	hosts = xcalloc(n + 1, sizeof *hosts);
	ids = xcalloc(n + 1, sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = v[i].rowid;
	if (n > 0 && catalog_run_hosts(cat, ids, n, hosts, &err) == -1) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (hosts[i].stats_id != 0) {
			v[i].worker = hosts[i].worker;
			v[i].worker_pool = hosts[i].pool;
		}
	/* The queue is optional here: without it, no worker is known. */
	q = req_queue(r, NULL, &err);
	if (q != NULL && queue_list(q, 0, 1000, &runs, &nruns, &err) == -1)
		nruns = 0;
	for (size_t k = 0; k < nruns; k++) { /* newest first: the first seen wins */
		if (runs[k].worker == NULL)
			continue;
		for (size_t s = 0; s < runs[k].nsections; s++)
			for (size_t i = 0; i < n; i++)
				if (v[i].worker == NULL && hosts[i].stats_id == 0 &&
				    strcmp(v[i].name, runs[k].sections[s]) == 0) {
					v[i].worker = runs[k].worker;
					v[i].worker_pool = runs[k].pool;
				}
	}
	buf_init(&b, (size_t)1 << 28);
	buf_puts(&b, "{\"items\":[");
	for (size_t i = 0; i < n; i++) {
		const struct job *job = config_find_job(cfg, v[i].name);

		buf_puts(&b, i > 0 ? ",{\"name\":" : "{\"name\":");
		json_str(&b, v[i].name);
		buf_printf(&b, ",\"in_config\":%s,\"pool\":", job != NULL ? "true" : "false");
		json_str(&b, job != NULL ? job_pool(job) : NULL);
		buf_puts(&b, ",\"server_name\":");
		json_str(&b, v[i].server);
		buf_puts(&b, ",\"last_status\":");
		json_str(&b, v[i].status);
		buf_puts(&b, ",\"last_backup_start\":");
		json_str(&b, v[i].start);
		buf_puts(&b, ",\"last_backup_end\":");
		json_str(&b, v[i].end);
		buf_puts(&b, ",\"backup_location\":");
		json_str(&b, v[i].location);
		buf_puts(&b, ",\"worker\":");
		json_str(&b, v[i].worker);
		buf_puts(&b, ",\"worker_pool\":");
		json_str(&b, v[i].worker_pool);
		buf_puts(&b, ",\"host\":");
		json_str(&b, hosts[i].host);
		buf_puts(&b, ",\"config\":");
		json_str(&b, hosts[i].config);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}\n");
	reply_json(out, 200, &b);
out:
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].status);
		free(v[i].server);
		free(v[i].start);
		free(v[i].end);
		free(v[i].location);
	}
	free(v);
	catalog_run_hosts_clear(hosts, hosts != NULL ? n : 0);
	free(hosts);
	free(ids);
	catalog_names_free(names, n);
	queue_runs_free(runs, nruns);
	req_queue_put(r, q);
	req_catalog_put(r, cat);
}
