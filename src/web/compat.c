/*
 * The original GUI's JSON endpoints, same paths and shapes (SPEC §11):
 * /json, /all_json, /config_number/<n>, /backups.json, /status.json.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "guiconf.h"
#include "log.h"
#include "queue.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"
#include "web/jobview.h"
#include "web/json.h"
#include "web/routes.h"

/* [[server_name, backup_name, type, target], ...] of cfg, without the brackets. */
static void
jobs_list(struct buf *b, const struct config *cfg, int *first)
{
	for (size_t i = 0; i < cfg->njobs; i++) {
		const struct job *j = &cfg->jobs[i];

		if (!*first)
			buf_putc(b, ',');
		*first = 0;
		buf_putc(b, '[');
		json_str(b, j->server_name);
		buf_putc(b, ',');
		json_str(b, j->name);
		buf_putc(b, ',');
		json_str(b, j->drv->name);
		buf_putc(b, ',');
		json_str(b, jobview_target(j));
		buf_putc(b, ']');
	}
}

void
compat_json(struct req *r, struct reply *out)
{
	const struct config *cfg = req_config(r, NULL);
	int first = 1;
	struct buf b;

	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	buf_init(&b, (size_t)1 << 26);
	buf_putc(&b, '[');
	jobs_list(&b, cfg, &first);
	buf_puts(&b, "]\n");
	reply_json(out, 200, &b);
}

/* 1 if the file at path starts with the line "[global]". */
static int
starts_with_global(const char *path)
{
	char line[64] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "[global]") == 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
compat_all_json(struct req *r, struct reply *out)
{
	const char *dir = req_opts(r)->gc->base_config_dir;
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int first = 1;
	struct buf b;
	DIR *d;

	d = opendir(dir);
	if (d == NULL) {
		reply_error(r, out, 500, NULL, "cannot read base_config_dir %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = fs_join(dir, de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, by_name);
	buf_init(&b, (size_t)1 << 28);
	buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		struct config *cfg = NULL;
		struct err err;

		err_clear(&err);
		if (starts_with_global(names[i])) {
			if (config_load(names[i], NULL, &cfg, &err) == 0)
				jobs_list(&b, cfg, &first);
			else
				log_warning(NULL, "serve: /all_json: %s", err.msg);
			config_free(cfg);
		}
		free(names[i]);
	}
	free(names);
	buf_puts(&b, "]\n");
	reply_json(out, 200, &b);
}

void
compat_config_number(struct req *r, struct reply *out)
{
	const char *s = r->url + strlen("/config_number/");
	const struct server_opts *o = req_opts(r);
	char *end;
	unsigned long n;
	struct buf b;

	n = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || n >= o->ncfgs) {
		reply_error(r, out, 400, "config_number", "config_number: an integer from 0 to %zu",
		            o->ncfgs - 1);
		return;
	}
	req_set_config(r, n);
	buf_init(&b, 1 << 20);
	buf_puts(&b, "{\"configs\":");
	json_str_array(&b, o->gc->configs, o->ncfgs);
	buf_printf(&b, ",\"config_number\":%lu}\n", n);
	reply_json(out, 200, &b);
}

void
compat_backups_json(struct req *r, struct reply *out)
{
	struct catalog_filter f = { .type = "BACKUP" };
	struct catalog_row *rows = NULL;
	struct catalog *cat = NULL;
	size_t n = 0;
	struct err err;
	struct buf b;

	err_clear(&err);
	if (req_cache_get(r, "backups.json", 0, out))
		return;
	if (req_catalog(r, &cat, &err) == -1 ||
	    (cat != NULL && catalog_find(cat, &f, &rows, &n, &err) == -1)) {
		reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
		goto out;
	}
	buf_init(&b, (size_t)1 << 31);
	buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		jobview_row_json(&b, &rows[i]);
	}
	buf_puts(&b, "]\n");
	reply_json(out, 200, &b);
	req_cache_put(r, "backups.json", out);
out:
	catalog_rows_free(rows, n);
	req_catalog_put(r, cat);
}

void
compat_status_json(struct req *r, struct reply *out)
{
	struct catalog_row *rows = NULL;
	struct queue_run *runs = NULL, *exp = NULL;
	struct catalog *cat = NULL;
	struct queue *q;
	size_t nruns = 0, n = 0;
	char since[32] = "";
	struct err err;
	struct buf b;
	int finish = 1;

	err_clear(&err);
	q = req_queue(r, out, &err);
	if (q == NULL)
		return;
	if (queue_list(q, 0, 50, &runs, &nruns, &err) == -1) {
		reply_error(r, out, 503, NULL, "queue (%s): %s", req_opts(r)->queue_addr, err.msg);
		goto out;
	}
	for (size_t i = 0; i < nruns && exp == NULL; i++)
		if (strcmp(runs[i].action, "export") == 0)
			exp = &runs[i];
	if (exp != NULL) {
		time_t t = (time_t)(exp->started > 0 ? exp->started : exp->created);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S", &tm);
		finish = exp->state != QUEUE_QUEUED && exp->state != QUEUE_RUNNING;
		if (req_catalog(r, &cat, &err) == -1 ||
		    (cat != NULL && catalog_find(cat,
		                                 &(struct catalog_filter){ .type = "EXPORT",
		                                                           .start_since = since,
		                                                           .oldest_first = 1,
		                                                           .limit = 10000 },
		                                 &rows, &n, &err) == -1)) {
			reply_error(r, out, 500, NULL, "catalog: %s", err.msg);
			goto out;
		}
	}
	buf_init(&b, (size_t)1 << 28);
	buf_puts(&b, "{\"data\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		jobview_row_json(&b, &rows[i]);
	}
	buf_printf(&b, "],\"finish\":%s,\"error\":", finish ? "true" : "false");
	json_str(&b, exp != NULL && exp->error != NULL ? exp->error : "");
	buf_puts(&b, "}\n");
	reply_json(out, 200, &b);
out:
	catalog_rows_free(rows, n);
	req_catalog_put(r, cat);
	queue_runs_free(runs, nruns);
	req_queue_put(r, q);
}
