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
 *
 * Reload: SIGHUP (systemd's ExecReload), or a change of a backup config
 * file (inotify on its folder, 300 ms after the last event), re-reads the
 * backup configs. Each one is swapped whole for its new version only when
 * that loads; a broken file keeps the previous version serving, and its
 * errors go to the log and to /api/v1/health (the dashboard's banner).
 * Requests in progress keep the version they started with: replaced
 * versions are freed when serve stops. tisbackup_gui.ini itself is read
 * at start only. The scheduler and the worker read the configs per pass
 * and per run, so they need nothing here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
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

/* Milliseconds of quiet after the last change of a config file before it is read. */
#define RELOAD_DEBOUNCE_MS 300

/*
 * Versions of the configs and error strings a reload replaced: requests
 * that started before may still use them, so they live until serve stops.
 */
struct retired {
	struct config **cfgs;
	size_t ncfgs;
	char **strs;
	size_t nstrs;
};

static void
retire_config(struct retired *r, struct config *cfg)
{
	if (cfg == NULL)
		return;
	r->cfgs = xrealloc(r->cfgs, (r->ncfgs + 1) * sizeof *r->cfgs);
	r->cfgs[r->ncfgs++] = cfg;
}

static void
retire_str(struct retired *r, char *s)
{
	if (s == NULL)
		return;
	r->strs = xrealloc(r->strs, (r->nstrs + 1) * sizeof *r->strs);
	r->strs[r->nstrs++] = s;
}

static void
free_configs(struct server_opts *o, struct retired *r)
{
	for (size_t i = 0; i < o->ncfgs; i++) {
		config_free(o->cfgs[i]);
		free(o->cfg_errors[i]);
	}
	free(o->cfgs);
	free(o->cfg_errors);
	for (size_t i = 0; i < r->ncfgs; i++)
		config_free(r->cfgs[i]);
	for (size_t i = 0; i < r->nstrs; i++)
		free(r->strs[i]);
	free(r->cfgs);
	free(r->strs);
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

/*
 * Re-read every backup config (why: "SIGHUP" or "file changed"). Each
 * that loads replaces its previous version (readers load the pointer
 * atomically); each that fails keeps it, and its error is what
 * /api/v1/health reports until a later load succeeds.
 */
static void
reload_configs(const struct cli *c, struct server_opts *o, struct retired *r, const char *why)
{
	for (size_t i = 0; i < o->ncfgs; i++) {
		const char *path = o->gc->configs[i];
		struct config *cfg = NULL, *old;
		char *olderr;
		struct err err;

		err_clear(&err);
		if (config_load(path, c->backupdir, &cfg, &err) == -1) {
			log_error(NULL, "serve: reload (%s): %s is unusable, %s:\n%s", why, path,
			          o->cfgs[i] != NULL ? "its previous version stays in use"
			                             : "it stays unavailable",
			          err.msg);
			olderr = __atomic_exchange_n(&o->cfg_errors[i], xstrdup(err.msg),
			                             __ATOMIC_ACQ_REL);
			retire_str(r, olderr);
			continue;
		}
		old = __atomic_exchange_n(&o->cfgs[i], cfg, __ATOMIC_ACQ_REL);
		retire_config(r, old);
		olderr = __atomic_exchange_n(&o->cfg_errors[i], NULL, __ATOMIC_ACQ_REL);
		retire_str(r, olderr);
		__atomic_add_fetch(&o->config_reloads, 1, __ATOMIC_ACQ_REL);
		log_info(NULL, "serve: reload (%s): %s: %zu job%s", why, path, cfg->njobs,
		         cfg->njobs == 1 ? "" : "s");
	}
}

/* SIGHUP's handler writes a byte here; the main loop reads it. */
static int hup_pipe[2] = { -1, -1 };

static void
on_hup(int sig)
{
	int saved = errno;
	char b = 'h';

	(void)sig;
	if (write(hup_pipe[1], &b, 1) == -1) {
		/* full: a reload is pending anyway */
	}
	errno = saved;
}

/* SIGHUP reloads instead of stopping (main.c's handler counts it as an interrupt). */
static int
hup_install(struct err *err)
{
	struct sigaction sa;

	if (pipe2(hup_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		err_sys(err, errno, "serve: SIGHUP pipe");
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

/* The inotify watches of the folders of the configs. */
struct watch {
	int fd;      /* -1 when inotify is unavailable */
	int *wd;     /* per config, the watch of its folder */
	char **base; /* per config, its file name */
	size_t n;
};

/*
 * Watch the folder of every config for the changes that replace a file
 * whole or finish writing it (editors that rename over it, cp, >).
 * A failure only costs the automatic reload (logged); SIGHUP still works.
 */
static void
watch_start(const struct server_opts *o, struct watch *w)
{
	w->n = o->ncfgs;
	w->wd = xcalloc(w->n, sizeof *w->wd);
	w->base = xcalloc(w->n, sizeof *w->base);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd == -1) {
		log_warning(NULL, "serve: no reload on file changes (use SIGHUP): inotify: %s",
		            strerror(errno));
		return;
	}
	for (size_t i = 0; i < w->n; i++) {
		const char *path = o->gc->configs[i], *slash = strrchr(path, '/');
		char *dir = slash == NULL   ? xstrdup(".")
		            : slash == path ? xstrdup("/")
		                            : xstrndup(path, (size_t)(slash - path));

		w->base[i] = xstrdup(slash == NULL ? path : slash + 1);
		w->wd[i] = inotify_add_watch(w->fd, dir,
		                             IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
		                                 IN_CREATE | IN_DELETE);
		if (w->wd[i] == -1)
			log_warning(
			    NULL,
			    "serve: changes of %s are not watched (reload with SIGHUP): %s: %s",
			    path, dir, strerror(errno));
		free(dir);
	}
}

/* Read the pending events: 1 when one names a config file, else 0. */
static int
watch_read(struct watch *w)
{
	char ev[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t n;

	while ((n = read(w->fd, ev, sizeof ev)) > 0) {
		for (char *p = ev; p < ev + n;) {
			const struct inotify_event *e = (const struct inotify_event *)(void *)p;

			for (size_t i = 0; i < w->n && e->len > 0; i++)
				if (e->wd == w->wd[i] && strcmp(e->name, w->base[i]) == 0)
					hit = 1;
			p += sizeof *e + e->len;
		}
	}
	return hit;
}

static void
watch_stop(struct watch *w)
{
	if (w->fd != -1)
		close(w->fd);
	for (size_t i = 0; i < w->n; i++)
		free(w->base[i]);
	free(w->base);
	free(w->wd);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	struct retired retired = { 0 };
	struct watch watch = { .fd = -1 };
	long long pending = 0, retry_at;
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
	if (hup_install(&err) == -1) {
		log_warning(NULL, "%s: reload with SIGHUP unavailable", err.msg);
		err_clear(&err);
	}
	watch_start(&o, &watch);
	/*
	 * Idle until a signal: SIGTERM/SIGINT end the poll at once when they
	 * land on this thread, on another within the second; SIGHUP and the
	 * config files' changes wake it through their descriptors.
	 */
	retry_at = now_ms() + 10000;
	while (!spawn_interrupted()) {
		struct pollfd pfd[2] = { { .fd = hup_pipe[0], .events = POLLIN },
			                 { .fd = watch.fd, .events = POLLIN } };
		long long now = now_ms();
		int timeout = 1000;
		char drain[64];

		if (pending != 0)
			timeout = pending > now ? (int)(pending - now) : 0;
		if (poll(pfd, 2, timeout) > 0) {
			if (pfd[0].revents & POLLIN) {
				while (read(hup_pipe[0], drain, sizeof drain) > 0)
					;
				reload_configs(c, &o, &retired, "SIGHUP");
				pending = 0; /* read just now */
			}
			if ((pfd[1].revents & POLLIN) && watch_read(&watch))
				pending = now_ms() + RELOAD_DEBOUNCE_MS;
		}
		now = now_ms();
		if (pending != 0 && now >= pending) {
			pending = 0;
			reload_configs(c, &o, &retired, "file changed");
		}
		/* The queue was down at start: try again every 10 s. */
		if (now >= retry_at) {
			retry_at = now + 10000;
			if (gc->embedded_worker && wrk == NULL)
				start_worker(&wc, &wrk, 0);
		}
	}
	log_info(NULL, "serve: stopping");
	server_stop(srv);
	rc = 0;
out:
	worker_stop(wrk);
	scheduler_stop(sched);
	auth_free(auth);
	watch_stop(&watch);
	free_configs(&o, &retired);
	free(o.queue_addr);
	free(qdir);
	guiconf_free(gc);
	if (hup_pipe[0] != -1) {
		signal(SIGHUP, SIG_IGN); /* stopping: a late reload request is moot */
		close(hup_pipe[0]);
		close(hup_pipe[1]);
		hup_pipe[0] = hup_pipe[1] = -1;
	}
	return rc;
}
