/*
 * The route table of `serve` (routes.c): every path the server answers,
 * the methods it takes, who may call it, and its handler. server.c looks
 * a request up here, enforces the flags, then calls the handler.
 */
#ifndef TB_WEB_ROUTES_H
#define TB_WEB_ROUTES_H

#include <stddef.h>

struct req;
struct reply;

enum route_flag {
	ROUTE_ANON = 1 << 0,    /* no authentication needed */
	ROUTE_HTML = 1 << 1,    /* answers HTML: anonymous -> 303 /login, errors as pages */
	ROUTE_ADMIN = 1 << 2,   /* admin role only */
	ROUTE_STATE = 1 << 3,   /* changes state although GET (CSRF token in the query) */
	ROUTE_NOCSRF = 1 << 4,  /* a POST that needs no CSRF token (POST /login) */
	ROUTE_METRICS = 1 << 5, /* anonymous when [web] metrics_public = yes */
	ROUTE_PREFIX = 1 << 6,  /* path is a prefix ("/static/") */
};

typedef void route_fn(struct req *r, struct reply *out);

struct route {
	const char *method; /* GET (also answers HEAD), POST, DELETE */
	const char *path;
	unsigned flags;
	route_fn *fn;
};

/*
 * The route for method and path: *allowed = 1 when path exists but not
 * for this method (-> 405). NULL when none matches.
 */
const struct route *route_find(const char *method, const char *path, int *allowed);

/*
 * Queue a run for the current config (api_runs.c): refuses (409) an
 * export while another export of other sections is active. *id (caller
 * frees) and *existed as queue_enqueue() says. 0, or -1 with the error
 * reply set.
 */
int runs_submit(struct req *r, struct reply *out, const char *action, const char *const *sections,
                size_t n, const char *exportdir, char **id, int *existed);

/* Handlers (one file per group). */
route_fn page_index, page_login, page_login_post, page_logout, page_static;
route_fn page_last_backups, page_export_backup;
route_fn compat_json, compat_all_json, compat_config_number, compat_backups_json,
    compat_status_json;
route_fn api_health, api_session, api_configs, api_configs_current, api_jobs, api_job, api_backups;
route_fn api_runs_post, api_runs_list, api_run_get, api_run_delete;
route_fn metrics_get;
route_fn api_pools;    /* api_v1.c: GET /api/v1/pools */
route_fn api_fleet;    /* api_v1.c: GET /api/v1/fleet */
route_fn api_job_diff; /* api_diff.c: GET /api/v1/jobs/NAME/diff */
/* api_storage.c: GET /api/v1/storage[/NAME] */
route_fn api_storage, api_storage_job;
/* browse.c: GET /api/v1/jobs/NAME/{browse,search,file,tar,databases} (the snapshot browser) */
route_fn api_snap_browse, api_snap_search, api_snap_file, api_snap_tar, api_snap_databases;

#endif
