/*
 * tisbackup serve: load tisbackup_gui.ini and the backup configs it
 * names, open the users file, check the queue, start the embedded queue
 * worker (worker.h), the scheduler thread ([scheduler] enabled) and the
 * HTTP server (server.c), then wait for SIGTERM/SIGINT and stop gracefully: the
 * requests in progress finish, new connections are refused.
 *
 * A queue that cannot be reached at start (Redis down) does not stop the
 * server: read-only pages keep working and the run endpoints answer 503
 * until it comes back (each request tries again; the embedded worker is
 * started then, tried every 10 s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "commands.h"
#include "config.h"
#include "guiconf.h"
#include "log.h"
#include "queue.h"
#include "scheduler.h"
#include "worker.h"
#include "spawn.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"
#include "web/auth.h"
#include "web/server.h"

static void
free_configs(struct server_opts *o)
{
	for (size_t i = 0; i < o->ncfgs; i++) {
		config_free(o->cfgs[i]);
		free(o->cfg_errors[i]);
	}
	free(o->cfgs);
	free(o->cfg_errors);
}

/* Load every config gc names (or -c's alone). 0, or -1 when the first fails. */
static int
load_configs(const struct cli *c, struct guiconf *gc, struct server_opts *o)
{
	struct err err;

	if (c->config_given) {
		/* -c replaces [general] config_tisbackup. */
		for (size_t i = 0; i < gc->nconfigs; i++)
			free(gc->configs[i]);
		gc->configs[0] = xstrdup(c->config);
		gc->configs[1] = NULL;
		gc->nconfigs = 1;
	}
	o->ncfgs = gc->nconfigs;
	o->cfgs = xcalloc(o->ncfgs, sizeof *o->cfgs);
	o->cfg_errors = xcalloc(o->ncfgs, sizeof *o->cfg_errors);
	for (size_t i = 0; i < o->ncfgs; i++) {
		err_clear(&err);
		if (config_load(gc->configs[i], c->backupdir, &o->cfgs[i], &err) == -1) {
			o->cfgs[i] = NULL;
			o->cfg_errors[i] = xstrdup(err.msg);
			if (i == 0) {
				fprintf(stderr, "tisbackup: serve: %s\n", err.msg);
				return -1;
			}
			log_warning(NULL, "serve: config %zu is unusable: %s", i, err.msg);
			continue;
		}
		for (size_t j = 0; j < o->cfgs[i]->warnings.n; j++)
			log_warning(NULL, "%s", o->cfgs[i]->warnings.v[j]);
		for (size_t j = 0; j < o->cfgs[i]->ninvalid; j++)
			log_warning(o->cfgs[i]->invalid[j].name, "cannot run: %s",
			            o->cfgs[i]->invalid[j].invalid);
	}
	return 0;
}

/* Start the embedded worker into *w; a failure is logged when loud (else at debug level). */
static void
start_worker(const struct worker_conf *wc, struct worker **w, int loud)
{
	struct err err;

	err_clear(&err);
	if (worker_start(wc, w, &err) == 0) {
		if (!loud)
			log_info(NULL, "serve: the queue is back: embedded worker started");
		return;
	}
	*w = NULL;
	log_msg(loud ? LOG_WARNING : LOG_DEBUG, NULL,
	        "serve: no embedded worker (runs wait for `tisbackup worker` or the queue): %s",
	        err.msg);
}

int
cmd_serve(const struct cli *c)
{
	struct server_opts o = { 0 };
	struct guiconf *gc = NULL;
	struct server *srv = NULL;
	struct auth *auth = NULL;
	struct queue *q = NULL;
	struct scheduler *sched = NULL;
	struct worker *wrk = NULL;
	struct worker_conf wc; /* must outlive the worker */
	char *qdir = NULL;
	struct err err;
	int rc = EXIT_CONFIG, users;

	err_clear(&err);
	if (c->nargs > 0) {
		fprintf(stderr, "tisbackup: serve takes no extra words\n");
		return EXIT_USAGE;
	}
	if (guiconf_load(c->gui_config, 1, &gc, &err) == -1) {
		fprintf(stderr, "tisbackup: serve: %s\n", err.msg);
		return EXIT_CONFIG;
	}
	for (size_t i = 0; i < gc->warnings.n; i++)
		log_warning(NULL, "%s", gc->warnings.v[i]);
	if (load_configs(c, gc, &o) == -1)
		goto out;
	o.gc = gc;
	if (auth_new(gc, &auth, &err) == -1) {
		fprintf(stderr, "tisbackup: serve: %s\n", err.msg);
		goto out;
	}
	o.auth = auth;
	users = auth_user_count(gc->users_file, &err);
	if (users == 0 && (gc->providers & (GUICONF_AUTH_LOCAL | GUICONF_AUTH_BASIC))) {
		printf("no users yet: create one with: tisbackup user add NAME --role admin\n");
		fflush(stdout);
		log_warning(NULL, "serve: no users in %s yet", gc->users_file);
	} else if (users < 0) {
		log_warning(NULL, "serve: %s", err.msg);
	}
	err_clear(&err);

	qdir = fs_join(o.cfgs[0]->backup_base_dir, "log");
	if (gc->queue_backend == GUICONF_QUEUE_REDIS)
		o.queue_addr = xstrdup(gc->redis_url);
	else
		o.queue_addr = xasprintf("sqlite:%s/tisbackup-queue.sqlite", qdir);
	if (fs_mkdir_p(qdir, 0750, &err) == -1 || queue_open(gc, qdir, &q, &err) == -1) {
		log_warning(NULL,
		            "serve: queue %s unavailable, runs answer 503 until it is back: %s",
		            o.queue_addr, err.msg);
		err_clear(&err);
	} else {
		o.queue_ok = 1;
		queue_close(q);
	}
	wc = (struct worker_conf){
		.gc = gc, .catalog_dir = qdir, .jobs = c->jobs, .base_dir = c->backupdir
	};
	if (!gc->embedded_worker)
		log_info(NULL, "serve: no embedded worker ([queue] embedded_worker = no): runs "
		               "wait for `tisbackup worker`");
	else if (o.queue_ok)
		start_worker(&wc, &wrk, 1);
	if (gc->scheduler_enabled) {
		struct scheduler_conf sc = { .gc = gc,
			                     .queue_dir = qdir,
			                     .configs = (const char *const *)gc->configs,
			                     .nconfigs = gc->nconfigs,
			                     .catch_up = gc->scheduler_catch_up,
			                     .base_dir = c->backupdir };

		if (scheduler_start(&sc, &sched, &err) == -1) {
			fprintf(stderr, "tisbackup: serve: scheduler: %s\n", err.msg);
			rc = EXIT_RUNTIME;
			goto out;
		}
	}
	if (server_start(&o, &srv, &err) == -1) {
		fprintf(stderr, "tisbackup: serve: %s\n", err.msg);
		rc = EXIT_RUNTIME;
		goto out;
	}
	log_info(NULL, "serve: listening on %s://%s%s%s:%d",
	         gc->tls_cert != NULL ? "https" : "http",
	         strchr(gc->listen_host, ':') != NULL ? "[" : "", gc->listen_host,
	         strchr(gc->listen_host, ':') != NULL ? "]" : "", gc->listen_port);
	/*
	 * Idle: one wake a second (a signal ends the sleep at once when it
	 * lands on this thread; on another, within the second).
	 */
	for (unsigned long tick = 1; !spawn_interrupted(); tick++) {
		sleep(1);
		/* The queue was down at start: try again every 10 s. */
		if (gc->embedded_worker && wrk == NULL && tick % 10 == 0)
			start_worker(&wc, &wrk, 0);
	}
	log_info(NULL, "serve: stopping");
	server_stop(srv);
	rc = 0;
out:
	worker_stop(wrk);
	scheduler_stop(sched);
	auth_free(auth);
	free_configs(&o);
	free(o.queue_addr);
	free(qdir);
	guiconf_free(gc);
	return rc;
}
