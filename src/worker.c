/*
 * The queue worker (see worker.h): gc->workers threads, each with its own
 * queue connection, claiming one run at a time and running it as a child
 * tisbackup process through spawn.c. While the child runs, spawn's tick
 * (every WORKER_TICK_MS, in the thread that owns the connection) flushes
 * the batched output into the run's log, renews the lease every
 * lease_seconds / 3, and ends the child when a cancel arrives or a stop's
 * grace period is over. The child ignores the worker's own SIGTERM
 * (spawn's ignore_signals): a stop lets it finish first. Ending the child
 * is SIGTERM to its group, then SIGKILL WORKER_END_GRACE_S later: the
 * child records its run as interrupted in between. When it had to be
 * killed all the same, the worker itself ends the Running catalog rows of
 * the run's jobs whose lock is free (repair_rows()).
 *
 * Also cmd_worker(): `tisbackup worker`, the same threads in a process of
 * their own, until SIGTERM or SIGINT.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "actions.h"
#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "guiconf.h"
#include "lock.h"
#include "log.h"
#include "queue.h"
#include "restore.h"
#include "runrec.h"
#include "spawn.h"
#include "usb.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define WORKER_TICK_MS 250
#define WORKER_FLUSH_MS 1000          /* output reaches the run's log this often */
#define WORKER_BATCH_MAX (256 * 1024) /* or sooner, when this much is waiting */
#define WORKER_CLAIM_WAIT_MS 1000     /* how soon a stop is noticed while idle */
#define WORKER_RETRY_MS 2000          /* after a queue error */
#define WORKER_SETTLE_S 60            /* how long recording a run's end is retried */
#define WORKER_BEAT_MS 5000           /* "this worker is alive" for its pools ... */
#define WORKER_BEAT_TTL_S 20          /* ... counted as live this long after the last */
/* SIGTERM to SIGKILL when a run is ended (cancel, lease lost, stop's grace over) */
#define WORKER_END_GRACE_S 30

struct worker;

struct slot {
	struct worker *w;
	pthread_t thread;
	char *id; /* "PREFIX/N" */
	int started;
	int64_t last_beat; /* monotonic ms of this slot's last worker heartbeat */
};

struct worker {
	const struct worker_conf *wc;
	char *exe;
	int grace_sec;
	int nslots;
	struct slot *slots;
	atomic_int stopping;
	_Atomic int64_t stop_at; /* monotonic ms of the stop */
	char *name;              /* "HOST:PID" or wc->name: who beats for the pools */
	const char *const *pools;
	size_t npools;
	struct queue_pool_limit *limits; /* pools with [queue] pool_max_parallel */
};

/* One run being executed. */
struct exec {
	struct worker *w;
	struct slot *slot;
	struct queue *q;
	const struct queue_run *run;
	const char *wid;
	struct buf batch;
	int64_t last_flush, last_beat;
	int cancelled, lost, handed_back;
	const char *phase; /* "preexec", "the transfer", "postexec", from the child's log lines */
	char last_error[1024];
	char by[128];     /* who cancelled the run ("" when unknown) */
	char *note;       /* the child's RUNREC_ENV_CANCEL_NOTE file */
	int note_written; /* ... which this worker wrote (and removes) */
};

static atomic_int note_seq;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms, or less when the worker is stopping. */
static void
nap(struct worker *w, int ms)
{
	for (int64_t until = mono_ms() + ms; !atomic_load(&w->stopping) && mono_ms() < until;) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
	}
}

/*
 * Tell the queue this worker serves its pools, at most every
 * WORKER_BEAT_MS per slot (every slot beats: one busy in a long run must
 * not make the pools look abandoned).
 */
static void
beat(struct worker *w, struct slot *s, struct queue *q)
{
	struct err err;

	if (s->last_beat != 0 && mono_ms() - s->last_beat < WORKER_BEAT_MS)
		return;
	s->last_beat = mono_ms();
	if (queue_worker_beat(q, w->name, w->pools, w->npools, WORKER_BEAT_TTL_S, &err) == -1)
		log_warning(NULL, "worker %s: %s", s->id, err.msg);
}

static void
flush_log(struct exec *x)
{
	struct err err;

	x->last_flush = mono_ms();
	if (x->batch.len == 0)
		return;
	if (queue_append_log(x->q, x->run->id, buf_str(&x->batch), &err) == -1)
		log_warning(NULL, "worker %s: run %s: %s", x->wid, x->run->id, err.msg);
	buf_reset(&x->batch);
}

/* Remember the line when it reports an error (tisbackup's log format or its own errors). */
static void
note_error(struct exec *x, const char *line, size_t len)
{
	static const char *const marks[] = { " ERROR ", " CRITICAL " };
	const char *msg = NULL;

	for (size_t i = 0; i < sizeof marks / sizeof marks[0] && msg == NULL; i++) {
		const char *p = strstr(line, marks[i]);

		if (p != NULL)
			msg = p + strlen(marks[i]);
	}
	if (msg == NULL && strncmp(line, "tisbackup: ", 11) == 0)
		msg = line + 11;
	if (msg == NULL)
		return;
	len -= (size_t)(msg - line);
	if (len >= sizeof x->last_error)
		len = sizeof x->last_error - 1;
	memcpy(x->last_error, msg, len);
	x->last_error[len] = '\0';
}

static void
on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct exec *x = ctx;

	(void)stream;
	note_error(x, line, len);
	/* ssh.c logs "[JOB] running preexec on HOST" and "[JOB] preexec done on HOST". */
	if (strstr(line, "] running preexec on ") != NULL)
		x->phase = "preexec";
	else if (strstr(line, "] preexec done on ") != NULL)
		x->phase = "the transfer";
	else if (strstr(line, "] running postexec on ") != NULL)
		x->phase = "postexec";
	else if (strstr(line, "] postexec done on ") != NULL)
		x->phase = NULL;
	if (x->batch.len + len + 1 > WORKER_BATCH_MAX)
		flush_log(x);
	if (len + 1 > WORKER_BATCH_MAX)
		len = WORKER_BATCH_MAX - 1;
	buf_append(&x->batch, line, len);
	buf_putc(&x->batch, '\n');
}

/* The run is gone from us when it is no longer running under our id. */
static int
run_lost(struct exec *x)
{
	struct queue_run *r = NULL;
	struct err err;
	int lost;

	if (queue_get(x->q, x->run->id, &r, &err) == -1)
		return 0; /* the queue is unreachable: keep going, try again later */
	lost = r == NULL || r->state != QUEUE_RUNNING || r->worker == NULL ||
	       strcmp(r->worker, x->wid) != 0;
	queue_run_free(r);
	return lost;
}

/*
 * A cancel arrived: learn who asked (the run's cancelled_by), say it in
 * the run's log and leave it in the child's note file, so the catalog
 * row the child records on its SIGTERM names them too.
 */
static void
note_cancel(struct exec *x)
{
	struct queue_run *r = NULL;
	struct err err;
	char line[256];
	int fd, n;

	if (queue_get(x->q, x->run->id, &r, &err) == 0 && r != NULL && r->cancelled_by != NULL)
		snprintf(x->by, sizeof x->by, "%s", r->cancelled_by);
	queue_run_free(r);
	log_info(NULL, "worker %s: run %s: cancel requested%s%s, ending it", x->wid, x->run->id,
	         x->by[0] != '\0' ? " by " : "", x->by);
	n = snprintf(line, sizeof line - 1, "cancelled%s%s", x->by[0] != '\0' ? " by " : "", x->by);
	if (n < 0 || (size_t)n >= sizeof line - 1)
		n = (int)strlen(line);
	buf_printf(&x->batch, "worker %s: %s: ending the run\n", x->wid, line);
	fd = open(x->note, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warning(NULL, "worker %s: run %s: %s: %s", x->wid, x->run->id, x->note,
		            strerror(errno));
		return;
	}
	x->note_written = 1;
	line[n] = '\n';
	if (write(fd, line, (size_t)n + 1) != n + 1)
		log_warning(NULL, "worker %s: run %s: %s: short write", x->wid, x->run->id,
		            x->note);
	close(fd);
}

/* spawn's tick: log, lease, cancel, stop. 1 ends the child. */
static int
on_tick(void *ctx, pid_t pid)
{
	struct exec *x = ctx;
	struct worker *w = x->w;
	int64_t now = mono_ms();
	int lease = w->wc->gc->lease_seconds;

	(void)pid;
	if (now - x->last_flush >= WORKER_FLUSH_MS)
		flush_log(x);
	beat(w, x->slot, x->q);
	if (now - x->last_beat >= (int64_t)lease * 1000 / 3) {
		struct err err;
		int cancel = 0;

		x->last_beat = now;
		if (queue_heartbeat(x->q, x->run->id, x->wid, lease, &cancel, &err) == -1) {
			log_warning(NULL, "worker %s: run %s: %s", x->wid, x->run->id, err.msg);
			if (run_lost(x)) {
				x->lost = 1;
				return 1;
			}
		} else if (cancel) {
			note_cancel(x);
			x->cancelled = 1;
			return 1;
		}
	}
	if (atomic_load(&w->stopping) &&
	    now >= atomic_load(&w->stop_at) + (int64_t)w->grace_sec * 1000) {
		log_info(NULL,
		         "worker %s: run %s: still running %d s after the stop, handing it back",
		         x->wid, x->run->id, w->grace_sec);
		x->handed_back = 1;
		return 1;
	}
	return 0;
}

/*
 * NULL when the run may go ahead, else why not (in why, or a static
 * string). The options are checked again here, whoever wrote them into
 * the queue.
 */
static const char *
run_refused(const struct worker *w, const struct queue_run *run, struct err *why)
{
	const struct guiconf *gc = w->wc->gc;
	int listed = 0;

	for (size_t i = 0; i < gc->nconfigs; i++)
		listed |= strcmp(gc->configs[i], run->config) == 0;
	if (!listed)
		return "its config file is not listed in tisbackup_gui.ini (config_tisbackup)";
	if (action_find_queued(run->action) == NULL)
		return "unknown action";
	if (restore_queue_check(run->action, (const char *const *)run->options, run->noptions, NULL,
	                        why) == -1) {
		err_wrap(why, "refused");
		return why->msg;
	}
	return NULL;
}

/* The child's command line; exportdir is where an export writes. */
static void
run_argv(const struct worker *w, const struct queue_run *run, const char *exportdir,
         struct strv *av)
{
	const struct action_entry *e = action_find_queued(run->action); /* run_refused() checked */

	strv_push(av, w->exe);
	/* The child reads [alerts] from the same gui ini as this worker. */
	if (w->wc->gc->path != NULL) {
		strv_push(av, "--gui-config");
		strv_push(av, w->wc->gc->path);
	}
	strv_push(av, "-c");
	strv_push(av, run->config);
	strv_push(av, "-s");
	strv_pushf(av, "%s", run->sections[0]);
	for (size_t i = 1; i < run->nsections; i++) {
		char *joined = xasprintf("%s,%s", av->v[av->n - 1], run->sections[i]);

		free(av->v[av->n - 1]);
		av->v[av->n - 1] = joined;
	}
	if (w->wc->jobs > 0)
		strv_pushf(av, "-j%d", w->wc->jobs);
	if (w->wc->base_dir != NULL) {
		strv_push(av, "-b");
		strv_push(av, w->wc->base_dir);
	}
	if (e->flags & ACTION_EXPORTDIR) {
		strv_push(av, "-x");
		strv_push(av, exportdir);
	}
	/* Checked by run_refused(): self-contained --NAME[=VALUE] words of the allow-list. */
	for (size_t i = 0; i < run->noptions; i++)
		strv_push(av, run->options[i]);
	strv_push(av, e->name);
}

/*
 * Record the run's end: finished in state, or handed back (release).
 * While the queue is unreachable (a Redis restart) it retries every
 * second for up to WORKER_SETTLE_S, so a run that ended is not run again
 * once its lease expires; it stops at once when the run is no longer
 * ours. 0 when recorded.
 */
static int
settle(struct exec *x, int release, enum queue_state state, int code, const char *error)
{
	int64_t until = mono_ms() + (int64_t)WORKER_SETTLE_S * 1000;
	struct err err;

	for (;;) {
		struct timespec ts = { 1, 0 };
		int rc = release ? queue_release(x->q, x->run->id, x->wid, &err)
		                 : queue_finish(x->q, x->run->id, x->wid, state, code, error, &err);

		if (rc == 0)
			return 0;
		if (mono_ms() >= until || run_lost(x)) {
			log_error(NULL, "worker %s: %s", x->wid, err.msg);
			return -1;
		}
		log_warning(NULL, "worker %s: %s; trying again", x->wid, err.msg);
		nanosleep(&ts, NULL);
	}
}

static void
end_run(struct exec *x, enum queue_state state, int code, const char *error)
{
	if (settle(x, 0, state, code, error) == 0)
		log_info(NULL, "worker %s: run %s (%s) %s%s%s", x->wid, x->run->id, x->run->action,
		         queue_state_name(state), error != NULL ? ": " : "",
		         error != NULL ? error : "");
}

/*
 * What ended the child x ran, which did not exit (desc: spawn_describe()),
 * for the log of the Running rows it left: the cancel and who asked, the
 * worker's stop, the lost lease, else desc. The caller frees it.
 */
static char *
kill_cause(const struct exec *x, const char *desc)
{
	const char *id = x->run->id;

	if (x->cancelled)
		return xasprintf("cancelled%s%s%s%s (queue run %s), and it did not end within %d s "
		                 "of its SIGTERM: killed by queue worker %s",
		                 x->by[0] != '\0' ? " by " : "", x->by,
		                 x->phase != NULL ? " during " : "",
		                 x->phase != NULL ? x->phase : "", id, WORKER_END_GRACE_S, x->wid);
	if (x->handed_back)
		return xasprintf(
		    "queue worker %s stopped, and the run (queue run %s) was still going "
		    "%d s later (stop_grace): killed, and handed back to the queue",
		    x->wid, id, x->w->grace_sec);
	if (x->lost)
		return xasprintf("queue worker %s lost the lease of queue run %s: killed", x->wid,
		                 id);
	return xasprintf("the run's process (queue run %s, worker %s) ended: %s", id, x->wid, desc);
}

/*
 * The child was killed (it did not exit): the Running catalog rows it
 * may have left for the run's jobs are ended now rather than at the
 * job's next run. Only for jobs whose lock is free (a live run holds
 * it; the killed child's went with it). Failures are logged and
 * otherwise ignored: the next run of the job repairs its rows anyway.
 */
static void
repair_rows(const struct exec *x, const char *cause)
{
	const struct queue_run *run = x->run;
	struct config *cfg = NULL;
	struct catalog *cat = NULL;
	char *address = NULL;
	struct err err;

	err_clear(&err);
	if (config_load(run->config, x->w->wc->base_dir, &cfg, &err) == -1)
		goto fail;
	address = config_catalog_address(cfg);
	if (catalog_open(address, CATALOG_RW, &cat, &err) == -1)
		goto fail;
	for (size_t i = 0; i < cfg->njobs; i++) {
		const struct job *job = &cfg->jobs[i];
		struct job_lock lk = { .fd = -1 };
		int selected = run->nsections == 0;

		for (size_t k = 0; k < run->nsections && !selected; k++)
			selected = strcmp(run->sections[k], job->name) == 0;
		if (!selected || !fs_exists(job->dir))
			continue;
		if (lock_acquire(job->dir, "repair", &lk, &err) == -1)
			continue; /* busy: its run is alive and records its own row */
		if (runrec_repair_killed(cat, job, cause, &err) == -1)
			log_warning(NULL, "worker %s: run %s: [%s] %s", x->wid, run->id, job->name,
			            err.msg);
		lock_release(&lk);
	}
	goto out;
fail:
	log_warning(NULL, "worker %s: run %s: ending its Running rows: %s", x->wid, run->id,
	            err.msg);
out:
	catalog_close(cat);
	free(address);
	config_free(cfg);
}

static void
execute(struct worker *w, struct slot *slot, struct queue *q, const struct queue_run *run)
{
	const char *wid = slot->id;
	struct exec x = { .w = w, .slot = slot, .q = q, .run = run, .wid = wid };
	struct spawn_opts o;
	struct spawn_result res;
	struct strv av, env;
	struct err err, werr;
	const char *why;
	char *devnode = NULL, *mountpoint = NULL;
	char desc[128], why_cancel[256];

	log_info(NULL, "worker %s: run %s: %s of %zu section(s), pool %s, attempt %d", wid, run->id,
	         run->action, run->nsections, run->pool, run->attempts);
	err_clear(&werr);
	if ((why = run_refused(w, run, &werr)) != NULL) {
		end_run(&x, QUEUE_FAILED, -1, why);
		return;
	}
	strv_init(&av);
	strv_init(&env);
	buf_init(&x.batch, WORKER_BATCH_MAX);
	/* An export without a folder goes to the USB disk, mounted for this run only. */
	if ((action_find_queued(run->action)->flags & ACTION_EXPORTDIR) && run->exportdir == NULL) {
		const struct guiconf *gc = w->wc->gc;

		if (usb_attach(gc->device_filter_any, gc->mount_base, &devnode, &mountpoint,
		               &err) == -1) {
			end_run(&x, QUEUE_FAILED, -1, err.msg);
			goto out;
		}
		log_info(NULL, "worker %s: run %s: %s mounted at %s", wid, run->id, devnode,
		         mountpoint);
	}
	run_argv(w, run, mountpoint != NULL ? mountpoint : run->exportdir, &av);
	/* Who asked and which run: a restore records them in its RESTORE row. */
	for (const char *const *e = spawn_default_env(); *e != NULL; e++)
		strv_push(&env, *e);
	if (run->requested_by != NULL)
		strv_pushf(&env, "TISBACKUP_REQUESTED_BY=%s", run->requested_by);
	strv_pushf(&env, "TISBACKUP_RUN_ID=%s", run->id);
	/* Where it runs, for its catalog rows (run_host). */
	strv_pushf(&env, "%s=%s", RUNREC_ENV_WORKER, wid);
	if (run->pool != NULL)
		strv_pushf(&env, "%s=%s", RUNREC_ENV_POOL, run->pool);
	/* Where a cancel's note goes, written only when one comes (note_cancel()). */
	{
		char *name = xasprintf("tisbackup-cancel-%ld-%d", (long)getpid(),
		                       atomic_fetch_add(&note_seq, 1));

		x.note = fs_tmp_path(name);
		free(name);
		unlink(x.note); /* a leftover of an earlier worker with our pid */
		strv_pushf(&env, "%s=%s", RUNREC_ENV_CANCEL_NOTE, x.note);
	}
	x.last_flush = x.last_beat = mono_ms();

	spawn_opts_init(&o);
	o.argv = (const char *const *)strv_argv(&av);
	o.envp = (const char *const *)strv_argv(&env);
	o.merge_stderr = 1;
	o.on_line = on_line;
	o.ctx = &x;
	o.tick = on_tick;
	o.tick_ctx = &x;
	o.tick_ms = WORKER_TICK_MS;
	o.kill_grace_sec = WORKER_END_GRACE_S;
	o.ignore_signals = 1;
	if (spawn_run(&o, &res, &err) == -1) {
		flush_log(&x);
		end_run(&x, QUEUE_FAILED, -1, err.msg);
		goto out;
	}
	flush_log(&x);
	if (!res.exited) {
		char *cause;

		spawn_describe(&res, desc, sizeof desc);
		log_warning(NULL, "worker %s: run %s: the child did not exit (%s): ending its rows",
		            wid, run->id, desc);
		cause = kill_cause(&x, desc);
		repair_rows(&x, cause);
		free(cause);
	}
	if (mountpoint != NULL && usb_unmount(mountpoint, &err) == -1) {
		/* The export may be incomplete: say so, whatever the child said. */
		log_error(NULL, "worker %s: run %s: %s", wid, run->id, err.msg);
		free(mountpoint);
		mountpoint = NULL;
		if (!x.lost && !x.handed_back && !x.cancelled) {
			end_run(&x, QUEUE_FAILED, res.exited ? res.code : -1, err.msg);
			goto out;
		}
	}
	if (x.lost) {
		log_warning(NULL, "worker %s: run %s was taken from this worker (lease lost)", wid,
		            run->id);
	} else if (x.handed_back) {
		if (settle(&x, 1, QUEUE_QUEUED, -1, NULL) == 0)
			log_info(NULL, "worker %s: run %s handed back to the queue", wid, run->id);
	} else if (x.cancelled) {
		snprintf(why_cancel, sizeof why_cancel, "cancelled%s%s%s%s",
		         x.by[0] != '\0' ? " by " : "", x.by, x.phase != NULL ? " during " : "",
		         x.phase != NULL ? x.phase : "");
		if (!res.exited) {
			size_t n = strlen(why_cancel);

			snprintf(why_cancel + n, sizeof why_cancel - n,
			         " (killed: it did not end within %d s of its SIGTERM)",
			         WORKER_END_GRACE_S);
		}
		end_run(&x, QUEUE_CANCELLED, res.exited ? res.code : -1, why_cancel);
	} else if (res.exited && res.code == 0) {
		end_run(&x, QUEUE_DONE, 0, NULL);
	} else {
		spawn_describe(&res, desc, sizeof desc);
		end_run(&x, QUEUE_FAILED, res.exited ? res.code : -1,
		        x.last_error[0] != '\0' ? x.last_error : desc);
	}
out:
	if (mountpoint != NULL && fs_exists(mountpoint) && usb_unmount(mountpoint, &err) == -1)
		log_error(NULL, "worker %s: run %s: %s", wid, run->id, err.msg);
	if (x.note_written)
		unlink(x.note);
	free(x.note);
	free(devnode);
	free(mountpoint);
	buf_free(&x.batch);
	strv_free(&av);
	strv_free(&env);
}

static void *
slot_main(void *arg)
{
	struct slot *s = arg;
	struct worker *w = s->w;
	const struct guiconf *gc = w->wc->gc;
	struct queue *q = NULL;
	struct queue_run *run;
	struct err err;

	while (!atomic_load(&w->stopping)) {
		if (q == NULL && queue_open(gc, w->wc->catalog_dir, &q, &err) == -1) {
			log_error(NULL, "worker %s: %s", s->id, err.msg);
			nap(w, WORKER_RETRY_MS);
			continue;
		}
		beat(w, s, q);
		if (queue_claim_pools(q, s->id, w->limits, w->npools, gc->lease_seconds,
		                      WORKER_CLAIM_WAIT_MS, &run, &err) == -1) {
			log_error(NULL, "worker %s: %s", s->id, err.msg);
			nap(w, WORKER_RETRY_MS);
			continue;
		}
		if (run == NULL)
			continue;
		if (atomic_load(&w->stopping)) {
			/* Claimed while stopping: straight back, no attempt counted. */
			if (queue_release(q, run->id, s->id, &err) == -1)
				log_error(NULL, "worker %s: %s", s->id, err.msg);
			queue_run_free(run);
			break;
		}
		execute(w, s, q, run);
		queue_run_free(run);
	}
	/* The first slot says the worker stopped, so its pools count it out at once. */
	if (q != NULL && s == &w->slots[0] &&
	    queue_worker_beat(q, w->name, w->pools, w->npools, 0, &err) == -1)
		log_warning(NULL, "worker %s: %s", s->id, err.msg);
	queue_close(q);
	return NULL;
}

static void
worker_free(struct worker *w)
{
	for (int i = 0; i < w->nslots; i++)
		free(w->slots[i].id);
	free(w->slots);
	free(w->exe);
	free(w->name);
	free(w->limits);
	free(w);
}

int
worker_start(const struct worker_conf *wc, struct worker **out, struct err *err)
{
	struct worker *w = xcalloc(1, sizeof *w);
	char host[HOST_NAME_MAX + 1] = "localhost";
	char exe[PATH_MAX];
	struct queue *q;
	char *prefix;

	*out = NULL;
	w->wc = wc;
	w->grace_sec = wc->gc->stop_grace;
	w->pools = wc->pools != NULL ? wc->pools : (const char *const *)wc->gc->pools;
	w->npools = wc->pools != NULL ? wc->npools : wc->gc->npools;
	if (w->npools == 0 || w->npools > QUEUE_POOLS_MAX) {
		err_set(err, "worker: it serves 1 to %d pools, not %zu", QUEUE_POOLS_MAX,
		        w->npools);
		free(w);
		return -1;
	}
	w->limits = xcalloc(w->npools, sizeof *w->limits);
	for (size_t i = 0; i < w->npools; i++) {
		if (!queue_pool_valid(w->pools[i])) {
			err_set(err,
			        "worker: --pool %s: invalid pool name (expected 1 to 64 of A-Z a-z "
			        "0-9 _ . -)",
			        w->pools[i]);
			free(w->limits);
			free(w);
			return -1;
		}
		w->limits[i].name = w->pools[i];
		w->limits[i].max_running = guiconf_pool_max(wc->gc, w->pools[i]);
	}
	if (wc->exe != NULL)
		w->exe = xstrdup(wc->exe);
	else {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

		if (n <= 0) {
			err_sys(err, errno,
			        "worker: finding the tisbackup binary (/proc/self/exe)");
			worker_free(w);
			return -1;
		}
		exe[n] = '\0';
		w->exe = xstrdup(exe);
	}
	/* Fail now, clearly, when the queue cannot be reached. */
	if (queue_open(wc->gc, wc->catalog_dir, &q, err) == -1) {
		worker_free(w);
		return -1;
	}
	queue_close(q);

	gethostname(host, sizeof host - 1);
	prefix = wc->name != NULL ? xstrdup(wc->name) : xasprintf("%s:%ld", host, (long)getpid());
	w->name = xstrdup(prefix);
	w->nslots = wc->gc->workers > 0 ? wc->gc->workers : 1;
	w->slots = xcalloc((size_t)w->nslots, sizeof *w->slots);
	for (int i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];

		s->w = w;
		s->id = xasprintf("%s/%d", prefix, i + 1);
		if (pthread_create(&s->thread, NULL, slot_main, s) != 0) {
			err_set(err, "worker: cannot start thread %d", i + 1);
			free(prefix);
			worker_stop(w);
			return -1;
		}
		s->started = 1;
	}
	{
		struct buf names;

		buf_init(&names, (size_t)-1);
		for (size_t i = 0; i < w->npools; i++)
			buf_printf(&names, "%s%s", i > 0 ? "," : "", w->pools[i]);
		log_info(NULL, "worker %s: %d slot(s), %s queue, lease %d s, pool(s) %s", prefix,
		         w->nslots,
		         wc->gc->queue_backend == GUICONF_QUEUE_REDIS ? "redis" : "sqlite",
		         wc->gc->lease_seconds, buf_str(&names));
		buf_free(&names);
	}
	free(prefix);
	*out = w;
	return 0;
}

void
worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop_at, mono_ms());
	atomic_store(&w->stopping, 1);
	for (int i = 0; i < w->nslots; i++)
		if (w->slots[i].started)
			pthread_join(w->slots[i].thread, NULL);
	worker_free(w);
}

int
cmd_worker(const struct cli *c)
{
	struct guiconf *gc = NULL;
	struct config *first = NULL;
	struct worker_conf wc = { 0 };
	struct worker *w = NULL;
	char *catalog_dir = NULL;
	struct strv pools;
	struct err err;
	int rc = EXIT_CONFIG;

	err_clear(&err);
	strv_init(&pools);
	if (c->nargs > 0 || c->role != NULL) {
		fprintf(stderr, "tisbackup: worker takes no %s\n",
		        c->role != NULL ? "--role" : "extra words");
		return EXIT_USAGE;
	}
	/* --pool A --pool B,C: every name, each checked (exit 2 for a bad one). */
	for (size_t i = 0; i < c->npools; i++) {
		const char *p = c->pools[i];

		for (;;) {
			size_t len = strcspn(p, ",");
			char *name = xstrndup(p, len);

			if (!queue_pool_valid(name) || pools.n >= QUEUE_POOLS_MAX) {
				fprintf(stderr, "tisbackup: worker: --pool %s: %s\n", name,
				        pools.n >= QUEUE_POOLS_MAX
				            ? "too many pools (at most 16)"
				            : "invalid pool name (expected 1 to 64 of A-Z a-z "
				              "0-9 _ . -)");
				free(name);
				strv_free(&pools);
				return EXIT_USAGE;
			}
			strv_push(&pools, name);
			free(name);
			if (p[len] == '\0')
				break;
			p += len + 1;
		}
	}
	if (guiconf_load(c->gui_config, 1, &gc, &err) == -1)
		goto fail;
	action_print_warnings(&gc->warnings);
	/* Every config a run may name is checked now, not at its first run. */
	for (size_t i = 0; i < gc->nconfigs; i++) {
		struct config *cfg;

		if (config_load(gc->configs[i], c->backupdir, &cfg, &err) == -1)
			goto fail;
		action_print_warnings(&cfg->warnings);
		if (first == NULL)
			first = cfg;
		else
			config_free(cfg);
	}
	catalog_dir = fs_join(first->backup_base_dir, "log");
	wc.gc = gc;
	wc.catalog_dir = catalog_dir;
	wc.jobs = c->jobs;
	wc.base_dir = c->backupdir;
	if (pools.n > 0) {
		wc.pools = (const char *const *)pools.v;
		wc.npools = pools.n;
	}
	if (worker_start(&wc, &w, &err) == -1) {
		rc = EXIT_RUNTIME;
		goto fail;
	}
	while (!spawn_interrupted()) {
		struct timespec ts = { 0, 200 * 1000000L };

		nanosleep(&ts, NULL);
	}
	log_info(NULL, "worker: stopping (runs still going get up to %d s)", gc->stop_grace);
	worker_stop(w);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "tisbackup: worker: %s\n", err.msg);
out:
	strv_free(&pools);
	free(catalog_dir);
	config_free(first);
	guiconf_free(gc);
	return rc;
}
