/*
 * The route table (see routes.h): the one place that lists what the
 * server answers. Compatible paths first (the original Flask GUI's), then
 * the REST API under /api/v1/.
 */
#include "web/routes.h"

#include <string.h>

static const struct route routes[] = {
	{ "GET", "/", ROUTE_HTML, page_index },
	{ "GET", "/login", ROUTE_ANON | ROUTE_HTML, page_login },
	{ "POST", "/login", ROUTE_ANON | ROUTE_HTML | ROUTE_NOCSRF, page_login_post },
	{ "POST", "/logout", ROUTE_HTML, page_logout },
	{ "GET", "/static/", ROUTE_ANON | ROUTE_PREFIX, page_static },

	{ "GET", "/json", 0, compat_json },
	{ "GET", "/all_json", 0, compat_all_json },
	{ "GET", "/config_number/", 0, compat_config_number }, /* bare: the current one */
	{ "GET", "/config_number/", ROUTE_PREFIX, compat_config_number },
	{ "GET", "/last_backups", ROUTE_HTML, page_last_backups },
	{ "GET", "/backups.json", 0, compat_backups_json },
	{ "GET", "/export_backup", ROUTE_HTML, page_export_backup },
	{ "GET", "/status.json", 0, compat_status_json },

	{ "GET", "/api/v1/health", ROUTE_ANON, api_health },
	{ "GET", "/api/v1/session", 0, api_session },
	{ "GET", "/api/v1/configs", 0, api_configs },
	{ "POST", "/api/v1/configs/current", 0, api_configs_current },
	{ "GET", "/api/v1/jobs", 0, api_jobs },
	{ "GET", "/api/v1/jobs/*/diff", 0, api_job_diff }, /* api_diff.c */
	/* browse.c: the snapshot browser */
	{ "GET", "/api/v1/jobs/*/browse", 0, api_snap_browse },
	{ "GET", "/api/v1/jobs/*/search", 0, api_snap_search },
	{ "GET", "/api/v1/jobs/*/file", 0, api_snap_file },
	{ "GET", "/api/v1/jobs/*/tar", 0, api_snap_tar },
	{ "GET", "/api/v1/jobs/*/databases", 0, api_snap_databases },
	{ "GET", "/api/v1/jobs/", ROUTE_PREFIX, api_job },
	{ "GET", "/api/v1/backups", 0, api_backups },
	{ "GET", "/api/v1/storage", 0, api_storage },                 /* api_storage.c */
	{ "GET", "/api/v1/storage/", ROUTE_PREFIX, api_storage_job }, /* api_storage.c */
	{ "POST", "/api/v1/runs", ROUTE_ADMIN, api_runs_post },
	{ "GET", "/api/v1/runs", 0, api_runs_list },
	{ "GET", "/api/v1/runs/", ROUTE_PREFIX, api_run_get },
	{ "DELETE", "/api/v1/runs/", ROUTE_PREFIX | ROUTE_ADMIN, api_run_delete },

	{ "GET", "/metrics", ROUTE_METRICS, metrics_get },
	{ "GET", "/api/v1/pools", 0, api_pools }, /* api_v1.c: worker pools */
	{ "GET", "/api/v1/fleet", 0, api_fleet }, /* api_v1.c: every job the catalog knows */
};

static int
path_matches(const struct route *rt, const char *path)
{
	size_t n = strlen(rt->path);
	const char *star = strchr(rt->path, '*');

	if (star != NULL) { /* the star is one path segment: no slash, not empty */
		size_t pre = (size_t)(star - rt->path), seg;

		if (strncmp(path, rt->path, pre) != 0)
			return 0;
		seg = strcspn(path + pre, "/");
		return seg > 0 && strcmp(path + pre + seg, star + 1) == 0;
	}
	if (rt->flags & ROUTE_PREFIX)
		return strncmp(path, rt->path, n) == 0 && path[n] != '\0';
	return strcmp(path, rt->path) == 0;
}

const struct route *
route_find(const char *method, const char *path, int *allowed)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;

	*allowed = 0;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (!path_matches(&routes[i], path))
			continue;
		if (strcmp(routes[i].method, m) == 0)
			return &routes[i];
		*allowed = 1;
	}
	return NULL;
}
