/*
 * Runs through the queue (src/queue.h): POST /api/v1/runs queues a
 * backup, cleanup, export, verify of sections of the current config, or a
 * restore of one job with its options (checked here by
 * restore_queue_check(), and again by the worker); GET lists
 * them or shows one with its log; DELETE cancels. The export of the
 * compatible /export_backup page goes through runs_submit() too. When the
 * queue cannot be reached these answer 503 naming its address, while the
 * read-only pages keep working.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "config.h"
#include "drivers/driver.h"
#include "log.h"
#include "queue.h"
#include "restore.h"
#include "util/strv.h"
#include "util/xmalloc.h"
#include "web/json.h"
#include "web/jobview.h"
#include "web/routes.h"
#include "web/server.h"

/* 1 if the two section lists hold the same names (order ignored). */
static int
same_sections(char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		size_t j;

		for (j = 0; j < nb && strcmp(a[i], b[j]) != 0; j++)
			;
		if (j == nb)
			return 0;
	}
	return 1;
}

/*
 * The pool every one of sections is in (their pool key): one run goes to
 * one pool, so sections of several pools are refused (400, naming two of
 * them); unknown sections are left to the run. 0, or -1 with the reply
 * sent.
 */
static int
runs_pool(struct req *r, struct reply *out, const struct config *cfg, const char *const *sections,
          size_t n, const char **pool)
{
	const char *first = NULL;

	*pool = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct job *job = config_find_job(cfg, sections[i]);
		const char *p;

		if (job == NULL)
			continue;
		p = job_pool(job);
		if (*pool == NULL) {
			*pool = p;
			first = sections[i];
		} else if (strcmp(*pool, p) != 0) {
			reply_error(r, out, 400, "sections",
			            "sections of several worker pools (%s: %s, %s: %s): queue one "
			            "run per pool",
			            first, *pool, sections[i], p);
			return -1;
		}
	}
	return 0;
}

/* runs_submit() with the run's extra words (options, nopts; restore only). */
static int
runs_submit_opts(struct req *r, struct reply *out, const char *action, const char *const *sections,
                 size_t n, const char *exportdir, const char *const *options, size_t nopts,
                 char **id, int *existed)
{
	const struct config *cfg = req_config(r, NULL);
	const struct action_entry *e = action_find_queued(action);
	struct queue_run *runs = NULL;
	size_t nruns = 0;
	struct queue *q;
	struct err err;
	const char *pool = NULL;
	int ret = -1;

	err_clear(&err);
	*id = NULL;
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return -1;
	}
	if (runs_pool(r, out, cfg, sections, n, &pool) == -1)
		return -1;
	q = req_queue(r, out, &err);
	if (q == NULL)
		return -1;
	if (e != NULL && (e->flags & ACTION_ONE_ACTIVE)) {
		if (queue_list(q, 1, 1000, &runs, &nruns, &err) == -1)
			goto qfail;
		for (size_t i = 0; i < nruns; i++) {
			if (strcmp(runs[i].action, action) == 0 &&
			    !same_sections(runs[i].sections, runs[i].nsections, sections, n)) {
				reply_error(r, out, 409, "sections",
				            "another %s (run %s) is in progress", action,
				            runs[i].id);
				goto out;
			}
		}
	}
	if (queue_enqueue(q,
	                  &(struct queue_request){ .action = action,
	                                           .sections = sections,
	                                           .nsections = n,
	                                           .exportdir = exportdir,
	                                           .config = cfg->path,
	                                           .requested_by = r->id.user,
	                                           .pool = pool,
	                                           .options = options,
	                                           .noptions = nopts },
	                  id, existed, &err) == -1)
		goto qfail;
	log_info(NULL, "serve: %s queued %s of %zu section(s): run %s%s", r->id.user, action, n,
	         *id, *existed ? " (already queued)" : "");
	ret = 0;
	goto out;
qfail:
	reply_error(r, out, 503, NULL, "queue (%s): %s", req_opts(r)->queue_addr, err.msg);
out:
	queue_runs_free(runs, nruns);
	req_queue_put(r, q);
	return ret;
}

int
runs_submit(struct req *r, struct reply *out, const char *action, const char *const *sections,
            size_t n, const char *exportdir, char **id, int *existed)
{
	return runs_submit_opts(r, out, action, sections, n, exportdir, NULL, 0, id, existed);
}

/*
 * ,"progress":{SECTION: object or null...} of a running backup (see
 * jobview_progress_json()), null for any other run.
 */
static void
run_progress_json(struct buf *b, const struct config *cfg, const struct queue_run *run)
{
	buf_puts(b, ",\"progress\":");
	if (cfg == NULL || run->state != QUEUE_RUNNING || strcmp(run->action, "backup") != 0) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '{');
	for (size_t i = 0; i < run->nsections; i++) {
		const struct job *job = config_find_job(cfg, run->sections[i]);

		if (i > 0)
			buf_putc(b, ',');
		json_key(b, run->sections[i]);
		if (job != NULL)
			jobview_progress_json(b, job);
		else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

static void
run_json(struct buf *b, const struct config *cfg, const struct queue_run *run, int with_log)
{
	buf_puts(b, "{\"id\":");
	json_str(b, run->id);
	buf_puts(b, ",\"action\":");
	json_str(b, run->action);
	buf_puts(b, ",\"sections\":");
	json_str_array(b, run->sections, run->nsections);
	buf_puts(b, ",\"exportdir\":");
	json_str(b, run->exportdir);
	buf_puts(b, ",\"state\":");
	json_str(b, queue_state_name(run->state));
	buf_printf(b, ",\"attempts\":%d,\"created\":", run->attempts);
	json_time(b, run->created);
	buf_puts(b, ",\"started\":");
	json_time(b, run->started);
	buf_puts(b, ",\"finished\":");
	json_time(b, run->finished);
	buf_puts(b, ",\"exit_code\":");
	json_int(b, run->exit_code < 0 ? INT64_MIN : run->exit_code);
	buf_puts(b, ",\"error\":");
	json_str(b, run->error);
	buf_puts(b, ",\"requested_by\":");
	json_str(b, run->requested_by);
	buf_printf(b, ",\"cancel_requested\":%s", run->cancel_requested ? "true" : "false");
	buf_puts(b, ",\"cancelled_by\":"); /* who cancelled it, or null */
	json_str(b, run->cancelled_by);
	buf_puts(b, ",\"worker\":"); /* HOST:PID/SLOT of the worker holding or last holding it */
	json_str(b, run->worker);
	buf_puts(b, ",\"pool\":");
	json_str(b, run->pool);
	buf_puts(b, ",\"options\":");
	json_str_array(b, run->options, run->noptions);
	run_progress_json(b, cfg, run);
	if (with_log) {
		buf_puts(b, ",\"log\":");
		json_str(b, run->log != NULL ? run->log : "");
	}
	buf_putc(b, '}');
}

/* The sections of a POST body: every job when missing or empty. 0, or -1 with 400 set. */
static int
body_sections(struct req *r, struct reply *out, json_t *v, const char ***names, size_t *n)
{
	const struct config *cfg = req_config(r, NULL);
	size_t i;
	json_t *e;

	*names = NULL;
	*n = 0;
	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return -1;
	}
	if (v == NULL || (json_is_array(v) && json_array_size(v) == 0)) {
		*names = xcalloc(cfg->njobs + 1, sizeof **names);
		for (i = 0; i < cfg->njobs; i++)
			(*names)[i] = cfg->jobs[i].name;
		*n = cfg->njobs;
		if (*n == 0) {
			reply_error(r, out, 400, "sections", "the configuration has no job");
			free(*names);
			*names = NULL;
			return -1;
		}
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) > 10000) {
		reply_error(r, out, 400, "sections", "sections: a list of job names");
		return -1;
	}
	*names = xcalloc(json_array_size(v) + 1, sizeof **names);
	json_array_foreach(v, i, e)
	{
		const struct job *job;

		if (!json_is_string(e)) {
			reply_error(r, out, 400, "sections", "sections: a list of job names");
			goto bad;
		}
		job = config_find_job(cfg, json_string_value(e));
		if (job == NULL) {
			reply_error(r, out, 400, "sections", "unknown section: %s",
			            json_string_value(e));
			goto bad;
		}
		for (size_t k = 0; k < *n; k++)
			if (strcmp((*names)[k], job->name) == 0)
				goto next;
		(*names)[(*n)++] = job->name;
	next:;
	}
	return 0;
bad:
	free(*names);
	*names = NULL;
	*n = 0;
	return -1;
}

/* A string field of a restore's options: NULL when absent; -1 with 400 when not a string. */
static int
opt_string(struct req *r, struct reply *out, json_t *o, const char *key, const char **val)
{
	json_t *v = json_object_get(o, key);
	char fld[64];

	*val = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v))) {
		snprintf(fld, sizeof fld, "options.%s", key);
		reply_error(r, out, 400, fld, "%s: a string", fld);
		return -1;
	}
	*val = json_string_value(v);
	return 0;
}

/* A boolean field of a restore's options (absent = false); -1 with 400 when not one. */
static int
opt_bool(struct req *r, struct reply *out, json_t *o, const char *key, int *val)
{
	json_t *v = json_object_get(o, key);
	char fld[64];

	*val = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(fld, sizeof fld, "options.%s", key);
		reply_error(r, out, 400, fld, "%s: true or false", fld);
		return -1;
	}
	*val = json_is_true(v);
	return 0;
}

/*
 * The options object of a restore as the restore's command-line words
 * ("--to=/srv/x"...) into words. 0, or -1 with 400 naming the field
 * ("options.to"). An in-place restore that is not a dry run needs
 * "confirm": true, which becomes --yes.
 */
static int
restore_words(struct req *r, struct reply *out, json_t *o, struct strv *words)
{
	static const char *const keys[] = { "at",      "paths",     "to",       "db",
		                            "to_db",   "replace",   "dry_run",  "in_place",
		                            "confirm", "import_to", "to_server" };
	static const char *const strs[][2] = { { "at", "--at" },
		                               { "to", "--to" },
		                               { "db", "--db" },
		                               { "to_db", "--to-db" },
		                               { "import_to", "--import-to" },
		                               { "to_server", "--to-server" } };
	int replace, dry_run, in_place, confirm;
	const char *key, *field = NULL, *sv;
	json_t *v, *e;
	struct err err;
	size_t i;
	char fld[64];

	if (o == NULL || json_is_null(o))
		return 0;
	if (!json_is_object(o)) {
		reply_error(r, out, 400, "options", "options: an object (at, paths, to, ...)");
		return -1;
	}
	json_object_foreach(o, key, v)
	{
		for (i = 0; i < sizeof keys / sizeof keys[0] && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == sizeof keys / sizeof keys[0]) {
			snprintf(fld, sizeof fld, "options.%.40s", key);
			reply_error(r, out, 400, fld, "unknown field options.%.200s", key);
			return -1;
		}
	}
	for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		if (opt_string(r, out, o, strs[i][0], &sv) == -1)
			return -1;
		if (sv != NULL)
			strv_pushf(words, "%s=%s", strs[i][1], sv);
	}
	v = json_object_get(o, "paths");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) > QUEUE_OPTIONS_MAX - 8) {
			reply_error(r, out, 400, "options.paths",
			            "options.paths: a list of at most %d paths inside the backup",
			            QUEUE_OPTIONS_MAX - 8);
			return -1;
		}
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e) ||
			    json_string_length(e) != strlen(json_string_value(e))) {
				reply_error(r, out, 400, "options.paths",
				            "options.paths: a list of strings");
				return -1;
			}
			strv_pushf(words, "--path=%s", json_string_value(e));
		}
	}
	if (opt_bool(r, out, o, "replace", &replace) == -1 ||
	    opt_bool(r, out, o, "dry_run", &dry_run) == -1 ||
	    opt_bool(r, out, o, "in_place", &in_place) == -1 ||
	    opt_bool(r, out, o, "confirm", &confirm) == -1)
		return -1;
	if (replace)
		strv_push(words, "--replace");
	if (dry_run)
		strv_push(words, "--dry-run");
	if (in_place) {
		if (!dry_run && !confirm) {
			reply_error(
			    r, out, 400, "options.confirm",
			    "options.confirm: an in-place restore overwrites the job's own "
			    "files on its server: confirm it (\"confirm\": true), or ask for "
			    "a dry run first");
			return -1;
		}
		strv_push(words, "--in-place");
		if (!dry_run)
			strv_push(words, "--yes");
	} else if (confirm) {
		reply_error(r, out, 400, "options.confirm",
		            "options.confirm: confirms an in-place restore only");
		return -1;
	}
	err_clear(&err);
	if (restore_queue_check("restore", (const char *const *)words->v, words->n, &field, &err) ==
	    -1) {
		snprintf(fld, sizeof fld, "options.%s", field);
		reply_error(r, out, 400, fld, "%s: %s", fld, err.msg);
		return -1;
	}
	return 0;
}

/* The one job of a restore: exactly one section, of a type that restores. */
static int
restore_section(struct req *r, struct reply *out, const char *const *names, size_t n, json_t *given)
{
	const struct config *cfg = req_config(r, NULL);
	const struct job *job;

	if (given == NULL || !json_is_array(given) || n != 1) {
		reply_error(r, out, 400, "sections",
		            "sections: a restore works on exactly one job");
		return -1;
	}
	job = config_find_job(cfg, names[0]);
	if (job == NULL || job->drv->restore == NULL) {
		reply_error(r, out, 400, "sections",
		            "sections: backups of %s (type %s) cannot be restored by tisbackup",
		            names[0], job != NULL ? job->drv->name : "?");
		return -1;
	}
	return 0;
}

void
api_runs_post(struct req *r, struct reply *out)
{
	json_error_t jerr;
	json_t *root = json_loadb(r->body, r->body_len, 0, &jerr);
	const char *action, *exportdir = NULL, *key;
	const struct action_entry *entry;
	const char **names = NULL;
	char *id = NULL;
	size_t n = 0;
	int existed = 0, restore;
	struct strv words;
	json_t *v;
	struct buf b;

	strv_init(&words);
	if (root == NULL || !json_is_object(root)) {
		reply_error(r, out, 400, NULL, "malformed JSON body: %s",
		            root == NULL ? jerr.text : "not an object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "action") != 0 && strcmp(key, "sections") != 0 &&
		    strcmp(key, "exportdir") != 0 && strcmp(key, "options") != 0) {
			reply_error(r, out, 400, key, "unknown field %s", key);
			goto out;
		}
	}
	v = json_object_get(root, "action");
	action = json_is_string(v) ? json_string_value(v) : "";
	entry = action_find_queued(action);
	if (entry == NULL) {
		struct buf list;

		buf_init(&list, (size_t)-1);
		action_list_names(&list, 1, " or ");
		reply_error(r, out, 400, "action", "action: %s", buf_str(&list));
		buf_free(&list);
		goto out;
	}
	v = json_object_get(root, "exportdir");
	if (v != NULL && !json_is_null(v)) {
		exportdir = json_is_string(v) ? json_string_value(v) : "";
		if (!(entry->flags & ACTION_EXPORTDIR) || exportdir[0] != '/' ||
		    strstr(exportdir, "/../") != NULL || strlen(exportdir) > 4000) {
			reply_error(r, out, 400, "exportdir",
			            "exportdir: an absolute folder, for an export only");
			goto out;
		}
	}
	restore = strcmp(entry->name, "restore") == 0;
	v = json_object_get(root, "options");
	if (v != NULL && !json_is_null(v) && !restore) {
		reply_error(r, out, 400, "options", "options: for a restore only");
		goto out;
	}
	if (body_sections(r, out, json_object_get(root, "sections"), &names, &n) == -1)
		goto out;
	if (restore &&
	    (restore_section(r, out, names, n, json_object_get(root, "sections")) == -1 ||
	     restore_words(r, out, v, &words) == -1))
		goto out;
	if (restore && json_object_get(v, "to_server") != NULL &&
	    !json_is_null(json_object_get(v, "to_server"))) {
		const struct job *job = config_find_job(req_config(r, NULL), names[0]);

		if (job != NULL && !(job->drv->caps & DRV_CAP_DB_DUMP)) {
			reply_error(r, out, 400, "options.to_server",
			            "options.to_server: for database dumps only (%s is a %s job); "
			            "files go to another host with options.to (HOST:/DIR)",
			            names[0], job->drv->name);
			goto out;
		}
	}
	if (runs_submit_opts(r, out, action, names, n, exportdir, (const char *const *)words.v,
	                     words.n, &id, &existed) == -1)
		goto out;
	buf_init(&b, 4096);
	buf_puts(&b, "{\"id\":");
	json_str(&b, id);
	buf_printf(&b, ",\"existing\":%s}\n", existed ? "true" : "false");
	reply_json(out, 202, &b);
out:
	strv_free(&words);
	free(id);
	free(names);
	json_decref(root);
}

void
api_runs_list(struct req *r, struct reply *out)
{
	const char *active = req_arg(r, "active");
	const char *ls = req_arg(r, "limit");
	struct queue_run *runs = NULL;
	size_t n = 0;
	struct queue *q;
	struct err err;
	struct buf b;
	int limit = 50;

	if (ls != NULL) {
		char *end;
		long l = strtol(ls, &end, 10);

		if (*ls == '\0' || *end != '\0' || l < 1 || l > 1000) {
			reply_error(r, out, 400, "limit", "limit: an integer from 1 to 1000");
			return;
		}
		limit = (int)l;
	}
	if (active != NULL && strcmp(active, "0") != 0 && strcmp(active, "1") != 0) {
		reply_error(r, out, 400, "active", "active: 0 or 1");
		return;
	}
	err_clear(&err);
	q = req_queue(r, out, &err);
	if (q == NULL)
		return;
	if (queue_list(q, active != NULL && strcmp(active, "1") == 0, limit, &runs, &n, &err) ==
	    -1) {
		reply_error(r, out, 503, NULL, "queue (%s): %s", req_opts(r)->queue_addr, err.msg);
		goto out;
	}
	buf_init(&b, (size_t)1 << 26);
	buf_puts(&b, "{\"items\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		run_json(&b, req_config(r, NULL), &runs[i], 0);
	}
	buf_puts(&b, "]}\n");
	reply_json(out, 200, &b);
out:
	queue_runs_free(runs, n);
	req_queue_put(r, q);
}

/* GET (cancel = 0) or DELETE (cancel = 1) of /api/v1/runs/ID. */
static void
run_one(struct req *r, struct reply *out, int cancel)
{
	const char *id = r->url + strlen("/api/v1/runs/");
	struct queue_run *run = NULL;
	enum queue_state st;
	struct queue *q;
	struct err err;
	int found = 1;
	struct buf b;

	err_clear(&err);
	q = req_queue(r, out, &err);
	if (q == NULL)
		return;
	if ((cancel && queue_cancel(q, id, r->id.user, &found, &st, &err) == -1) ||
	    (found && queue_get(q, id, &run, &err) == -1)) {
		reply_error(r, out, 503, NULL, "queue (%s): %s", req_opts(r)->queue_addr, err.msg);
		goto out;
	}
	if (!found || run == NULL) {
		reply_error(r, out, 404, NULL, "no run %s", id);
		goto out;
	}
	if (cancel)
		log_info(NULL, "serve: %s cancelled run %s", r->id.user, id);
	buf_init(&b, (size_t)1 << 24);
	run_json(&b, req_config(r, NULL), run, 1);
	buf_putc(&b, '\n');
	reply_json(out, cancel ? 202 : 200, &b);
out:
	if (run != NULL)
		queue_run_free(run);
	req_queue_put(r, q);
}

void
api_run_get(struct req *r, struct reply *out)
{
	run_one(r, out, 0);
}

void
api_run_delete(struct req *r, struct reply *out)
{
	run_one(r, out, 1);
}
