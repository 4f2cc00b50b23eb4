/*
 * The original GUI's JSON endpoints, same paths and shapes (SPEC §11):
 * /json, /all_json, /config_number/<n>, /backups.json, /status.json.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "drivers/driver.h"
#include "drivers/gui_compat.h"
#include "guiconf.h"
#include "log.h"
#include "queue.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"
#include "web/jobview.h"
#include "web/json.h"
#include "web/routes.h"
#include "web/server.h"

/*
 * [[server_name, backup_name, type, target], ...] of the jobs of cfgs,
 * with the brackets, as the original lists them: grouped by driver
 * family in its order, types it does not know left out, "*" for a
 * database dump of every database (drivers/gui_compat.h). Within a
 * family, config order (first config first).
 */
static void
jobs_list(struct buf *b, struct config *const *cfgs, size_t ncfgs)
{
	int first = 1;

	buf_putc(b, '[');
	for (int rank = 1;; rank++) {
		int more = 0;

		for (size_t c = 0; c < ncfgs; c++) {
			for (size_t i = 0; i < cfgs[c]->njobs; i++) {
				const struct job *j = &cfgs[c]->jobs[i];
				const char *empty = "", *target;
				int jr = driver_gui_rank(j->drv, &empty);

				more |= jr > rank;
				if (jr != rank)
					continue;
				target = jobview_target(j);
				if (target[0] == '\0')
					target = empty;
				if (!first)
					buf_putc(b, ',');
				first = 0;
				buf_putc(b, '[');
				json_str(b, j->server_name);
				buf_putc(b, ',');
				json_str(b, j->name);
				buf_putc(b, ',');
				json_str(b, j->drv->name);
				buf_putc(b, ',');
				json_str(b, target);
				buf_putc(b, ']');
			}
		}
		if (!more)
			break;
	}
	buf_puts(b, "]\n");
}

void
compat_json(struct req *r, struct reply *out)
{
	struct config *cfg = (struct config *)req_config(r, NULL);
	struct buf b;

	if (cfg == NULL) {
		reply_error(r, out, 500, NULL, "the current configuration did not load");
		return;
	}
	buf_init(&b, (size_t)1 << 26);
	jobs_list(&b, &cfg, 1);
	reply_json(out, 200, &b);
}

/*
 * 1 if the file at path is a configuration: a regular file whose first
 * line is "[global]", allowing what the loader allows (a UTF-8 byte
 * order mark, white space around it, CRLF).
 */
static int
starts_with_global(const char *path)
{
	char line[256] = "";
	const char *p = line;
	size_t len;
	struct stat sb;
	FILE *f;

	if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
		return 0;
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	if (memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	return len == 8 && memcmp(p, "[global]", 8) == 0;
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
	struct config **cfgs = NULL;
	size_t ncfgs = 0;
	struct dirent *de;
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
	cfgs = xcalloc(n > 0 ? n : 1, sizeof *cfgs);
	for (size_t i = 0; i < n; i++) {
		struct err err;

		err_clear(&err);
		if (starts_with_global(names[i])) {
			if (config_load(names[i], NULL, &cfgs[ncfgs], &err) == 0)
				ncfgs++;
			else
				log_warning(NULL, "serve: /all_json: %s", err.msg);
		}
		free(names[i]);
	}
	free(names);
	buf_init(&b, (size_t)1 << 28);
	jobs_list(&b, cfgs, ncfgs);
	for (size_t i = 0; i < ncfgs; i++)
		config_free(cfgs[i]);
	free(cfgs);
	reply_json(out, 200, &b);
}

void
compat_config_number(struct req *r, struct reply *out)
{
	const char *s = r->url + strlen("/config_number/");
	const struct server_opts *o = req_opts(r);
	char *end = NULL;
	unsigned long n = 0;
	size_t cur = 0;
	struct buf b;

	if (*s == '\0') {
		/* The original's page calls it bare: the current config, unchanged. */
		req_config(r, &cur);
		n = cur;
	} else {
		n = strtoul(s, &end, 10);
		if (!isdigit((unsigned char)*s) || *end != '\0' || n >= o->ncfgs) {
			reply_error(r, out, 400, "config_number",
			            "config_number: an integer from 0 to %zu", o->ncfgs - 1);
			return;
		}
		req_set_config(r, n);
	}
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
