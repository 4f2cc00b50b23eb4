/*
 * The scheduler thread (see scheduler.h): one pass per wake -- re-read
 * the config files that changed, enqueue what is due, save the state
 * file if it changed -- then one wait on a condition variable until the
 * next due time (capped at SAFETY_S).
 *
 * Everything but the stop/poke flags and the counters belongs to the
 * thread; the mutex guards only those.
 */
#include "scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "action.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "schedule.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

#define SAFETY_S 60 /* longest wait: notices clock jumps and config edits */
#define GRACE_S 300 /* a slot this late is on time, whatever catch_up says */
#define STATE_FILE "tisbackup-scheduler.state"
#define LOG_SEC NULL /* scheduler-wide messages carry no [section] */

/* One scheduled (config, job, action). */
struct entry {
	char *config;
	char *job;
	const char *action; /* queue name of a scheduled action_table entry */
	char *text;         /* the schedule as written, NULL while only known from the state */
	struct schedule sched;
	time_t last; /* last slot handled (run or skipped); 0 = not seen yet */
	time_t due;  /* schedule_next(last), 0 = to compute */
	int seen;    /* found in the latest read of its config */
	char *pool;  /* the job's pool key (queued there), NULL until read */
};

/* One config file and what it looked like when last read. */
struct cfgfile {
	char *path;
	struct stat st;
	int have_st; /* st describes the version read (or the one that failed) */
};

struct scheduler {
	struct scheduler_conf conf; /* strings below are our copies */
	char *queue_dir;
	char *base_dir; /* NULL = none */
	char *state_path;
	struct cfgfile *files;
	size_t nfiles;
	struct entry *entries;
	size_t nentries, cap;
	struct queue *q;
	int queue_failing; /* a warning was logged; say when it recovers */
	int state_failing;
	int dirty; /* the state file needs writing */

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poked;
	unsigned long passes, enqueued;
};

/*
 * The wall clock: the injected one, else CLOCK_REALTIME -- the clock the
 * wait is computed from (time() may lag it by a tick, which would make
 * the thread wake just before a slot and loop until time() caught up).
 */
static time_t
now_of(const struct scheduler *s)
{
	struct timespec ts;

	if (s->conf.clock != NULL)
		return s->conf.clock(s->conf.hook_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static struct entry *
entry_find(struct scheduler *s, const char *config, const char *job, const char *action)
{
	for (size_t i = 0; i < s->nentries; i++) {
		struct entry *e = &s->entries[i];

		if (strcmp(e->config, config) == 0 && strcmp(e->job, job) == 0 &&
		    strcmp(e->action, action) == 0)
			return e;
	}
	return NULL;
}

static struct entry *
entry_add(struct scheduler *s, const char *config, const char *job, const char *action)
{
	struct entry *e;

	if (s->nentries == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->entries = xrealloc(s->entries, s->cap * sizeof *s->entries);
	}
	e = &s->entries[s->nentries++];
	memset(e, 0, sizeof *e);
	e->config = xstrdup(config);
	e->job = xstrdup(job);
	e->action = action_find_queued(action)->queue_name; /* a static string */
	e->sched.never = 1;
	return e;
}

static void
entry_remove(struct scheduler *s, size_t i)
{
	free(s->entries[i].config);
	free(s->entries[i].job);
	free(s->entries[i].text);
	free(s->entries[i].pool);
	s->entries[i] = s->entries[--s->nentries];
}

/* --- state file ----------------------------------------------------- */

/* True when name is the queue name of an action the scheduler runs. */
static int
scheduled_action(const char *name)
{
	const struct action_entry *a = action_find_queued(name);

	return a != NULL && a->schedule_key != NULL;
}

/* Read the state file: entries for the configs we were given. 0 or -1 + err. */
static int
state_load(struct scheduler *s, struct err *err)
{
	FILE *f = fopen(s->state_path, "re");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;

	if (f == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* nothing handled yet (or no queue folder yet) */
		err_sys(err, errno, "cannot read %s", s->state_path);
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		char *p = line, *end, *action, *job, *config;
		long long last;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		errno = 0;
		last = strtoll(p, &end, 10);
		action = end + (*end == ' ');
		job = strchr(action, ' ');
		config = job != NULL ? strchr(job + 1, ' ') : NULL;
		if (errno != 0 || end == p || *end != ' ' || last <= 0 || config == NULL) {
			log_warning(LOG_SEC, "scheduler: %s:%d: malformed line ignored",
			            s->state_path, lineno);
			continue;
		}
		*job++ = '\0';
		*config++ = '\0';
		if (!scheduled_action(action)) {
			log_warning(LOG_SEC, "scheduler: %s:%d: malformed line ignored",
			            s->state_path, lineno);
			continue;
		}
		for (size_t i = 0; i < s->nfiles; i++) {
			if (strcmp(s->files[i].path, config) == 0 &&
			    entry_find(s, config, job, action) == NULL) {
				entry_add(s, config, job, action)->last = (time_t)last;
				break;
			}
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* Write the state file atomically (temporary file, fsync, rename). 0 or -1 + err. */
static int
state_save(struct scheduler *s, struct err *err)
{
	size_t len = strlen(s->state_path) + 8;
	char *tmp = xmalloc(len);
	FILE *f = NULL;
	int fd, rc = -1;

	snprintf(tmp, len, "%s.tmp", s->state_path);
	if (fs_mkdir_p(s->queue_dir, 0750, err) == -1)
		goto out;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		err_sys(err, errno, "cannot write %s", tmp);
		if (fd != -1)
			close(fd);
		goto out;
	}
	fprintf(f, "# tisbackup serve: last scheduled slot handled (epoch seconds), "
	           "action, job, config file\n");
	for (size_t i = 0; i < s->nentries; i++) {
		const struct entry *e = &s->entries[i];

		if (e->last > 0)
			fprintf(f, "%lld %s %s %s\n", (long long)e->last, e->action, e->job,
			        e->config);
	}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		err_sys(err, errno, "cannot write %s", tmp);
		fclose(f);
		goto out;
	}
	if (fclose(f) == EOF || rename(tmp, s->state_path) == -1) {
		err_sys(err, errno, "cannot write %s", s->state_path);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* --- configs -------------------------------------------------------- */

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Take the schedules of every job of a config just loaded. */
static void
take_schedules(struct scheduler *s, const struct config *cfg, const char *path, time_t now)
{
	for (size_t i = 0; i < s->nentries; i++)
		if (strcmp(s->entries[i].config, path) == 0)
			s->entries[i].seen = 0;
	for (size_t j = 0; j < cfg->njobs; j++) {
		const struct job *job = &cfg->jobs[j];

		for (const struct action_entry *a = action_table; a->name != NULL; a++) {
			const char *text =
			    a->schedule_key != NULL ? job_get(job, a->schedule_key) : NULL;
			struct schedule sched;
			struct entry *e;
			struct err perr;

			err_clear(&perr);
			if (text == NULL)
				continue;
			if (schedule_parse(text, &sched, &perr) == -1) {
				/* config_load() validated it; never happens */
				log_warning(job->name, "%s: %s", a->schedule_key, perr.msg);
				continue;
			}
			if (sched.never)
				continue;
			e = entry_find(s, path, job->name, a->queue_name);
			if (e == NULL)
				e = entry_add(s, path, job->name, a->queue_name);
			if (e->text != NULL && strcmp(e->text, text) != 0 && e->last < now) {
				/* A new schedule counts from now: no catch-up of the old one. */
				e->last = now;
				s->dirty = 1;
			}
			if (e->text == NULL || strcmp(e->text, text) != 0) {
				free(e->text);
				e->text = xstrdup(text);
				log_debug(job->name, "scheduled %s: %s", a->queue_name, text);
			}
			e->sched = sched;
			e->due = 0;
			e->seen = 1;
			free(e->pool);
			e->pool = xstrdup(job_pool(job));
		}
	}
	for (size_t i = s->nentries; i > 0; i--) {
		if (strcmp(s->entries[i - 1].config, path) == 0 && !s->entries[i - 1].seen) {
			entry_remove(s, i - 1);
			s->dirty = 1;
		}
	}
}

/* How many schedules of config path are in force. */
static size_t
count_of(const struct scheduler *s, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nentries; i++)
		n += strcmp(s->entries[i].config, path) == 0 && !s->entries[i].sched.never;
	return n;
}

/* Re-read each config file that changed since the last pass. */
static void
reload_configs(struct scheduler *s, time_t now)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		struct cfgfile *cf = &s->files[i];
		struct config *cfg = NULL;
		struct stat st;
		struct err e;

		if (stat(cf->path, &st) == -1) {
			if (cf->have_st || errno != ENOENT)
				log_warning(LOG_SEC, "scheduler: %s: %s (its schedules are kept)",
				            cf->path, strerror(errno));
			memset(&cf->st, 0, sizeof cf->st);
			cf->have_st = 0;
			continue;
		}
		if (cf->have_st && same_file(&st, &cf->st))
			continue;
		cf->st = st;
		cf->have_st = 1;
		err_clear(&e);
		if (config_load(cf->path, s->base_dir, &cfg, &e) == -1) {
			log_warning(LOG_SEC,
			            "scheduler: %s does not load, its schedules are unchanged:\n%s",
			            cf->path, e.msg);
			continue;
		}
		for (size_t j = 0; j < cfg->warnings.n; j++)
			log_warning(LOG_SEC, "%s", cfg->warnings.v[j]);
		for (size_t j = 0; j < cfg->ninvalid; j++)
			log_warning(cfg->invalid[j].name, "cannot run, not scheduled: %s",
			            cfg->invalid[j].invalid);
		take_schedules(s, cfg, cf->path, now);
		config_free(cfg);
		log_info(LOG_SEC, "scheduler: %s: %zu schedules", cf->path, count_of(s, cf->path));
	}
}

/* --- a pass --------------------------------------------------------- */

/* Enqueue action of e's job. 0 or -1 (logged). */
static int
fire(struct scheduler *s, const struct entry *e, time_t slot, time_t now)
{
	const char *sections[1] = { e->job };
	struct queue_request req = {
		.action = e->action,
		.sections = sections,
		.nsections = 1,
		.exportdir = NULL,
		.config = e->config,
		.requested_by = "scheduler",
		.pool = e->pool,
	};
	char *id = NULL;
	int existed = 0;
	struct err err;

	err_clear(&err);
	if (s->q == NULL && queue_open(s->conf.gc, s->queue_dir, &s->q, &err) == -1) {
		s->q = NULL;
		goto fail;
	}
	if (queue_enqueue(s->q, &req, &id, &existed, &err) == -1) {
		queue_close(s->q);
		s->q = NULL; /* reopened at the next wake */
		goto fail;
	}
	if (s->queue_failing)
		log_info(LOG_SEC, "scheduler: the queue works again");
	s->queue_failing = 0;
	if (existed)
		log_info(e->job, "scheduled %s: run %s is already queued or running", e->action,
		         id);
	else if (now - slot > 60)
		log_info(e->job,
		         "scheduled %s: queued run %s (catching up a slot missed %lld s ago)",
		         e->action, id, (long long)(now - slot));
	else
		log_info(e->job, "scheduled %s: queued run %s", e->action, id);
	free(id);
	pthread_mutex_lock(&s->mu);
	s->enqueued++;
	pthread_mutex_unlock(&s->mu);
	return 0;
fail:
	log_warning(e->job, "scheduled %s: cannot enqueue, retrying at the next wake: %s",
	            e->action, err.msg);
	s->queue_failing = 1;
	return -1;
}

/*
 * Handle e at now (see the catch-up rule in scheduler.h). Returns its
 * next due time, or 0 when it has none.
 */
static time_t
consider(struct scheduler *s, struct entry *e, time_t now)
{
	time_t window = s->conf.catch_up > GRACE_S ? s->conf.catch_up : GRACE_S;
	time_t from, slot, t;

	if (e->sched.never)
		return 0;
	if (e->last == 0) {
		e->last = now; /* first seen: count from now */
		e->due = 0;
		s->dirty = 1;
	}
	if (e->due == 0 && schedule_next(&e->sched, e->last, &e->due) == -1) {
		e->due = 0;
		return 0;
	}
	if (e->due > now)
		return e->due;
	/* Missed or due: the latest slot <= now within the window, if any. */
	from = now - window - 1 > e->last ? now - window - 1 : e->last;
	if (schedule_next(&e->sched, from, &slot) == -1 || slot > now) {
		log_warning(e->job,
		            "scheduled %s: slot missed more than %lld s ago, skipped "
		            "([scheduler] catch_up)",
		            e->action, (long long)window);
		e->last = now;
	} else {
		while (schedule_next(&e->sched, slot, &t) == 0 && t <= now)
			slot = t;
		if (fire(s, e, slot, now) == -1)
			return e->due; /* still due: retried at the next wake */
		e->last = slot;
	}
	s->dirty = 1;
	if (schedule_next(&e->sched, e->last, &e->due) == -1)
		e->due = 0;
	return e->due;
}

/* One pass at now: returns the earliest due time, or 0 when nothing is scheduled. */
static time_t
pass(struct scheduler *s, time_t now)
{
	time_t next = 0;
	struct err err;

	reload_configs(s, now);
	for (size_t i = 0; i < s->nentries; i++) {
		time_t t = consider(s, &s->entries[i], now);

		if (t != 0 && (next == 0 || t < next))
			next = t;
	}
	if (s->dirty) {
		err_clear(&err);
		if (state_save(s, &err) == -1) {
			if (!s->state_failing)
				log_warning(LOG_SEC,
				            "scheduler: %s (catch-up after a restart may "
				            "repeat or miss a run)",
				            err.msg);
			s->state_failing = 1;
		} else {
			s->dirty = 0;
			s->state_failing = 0;
		}
	}
	return next;
}

/* --- thread --------------------------------------------------------- */

static void *
run(void *arg)
{
	struct scheduler *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec mono, rt, deadline;
		time_t now, next, until;
		int64_t wait_ns;

		pthread_mutex_unlock(&s->mu);
		now = now_of(s);
		next = pass(s, now);
		/* Wait until next (to the nanosecond with the real clock), at most SAFETY_S. */
		if (next == 0 || next <= now || next - now > SAFETY_S)
			until = now + SAFETY_S;
		else
			until = next;
		if (s->conf.clock == NULL) {
			clock_gettime(CLOCK_REALTIME, &rt);
			wait_ns = ((int64_t)until - rt.tv_sec) * 1000000000 - rt.tv_nsec;
		} else
			wait_ns = ((int64_t)until - now) * 1000000000;
		if (wait_ns < 0)
			wait_ns = 0;
		if (s->conf.on_sleep != NULL)
			s->conf.on_sleep(s->conf.hook_arg, until);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		deadline.tv_sec = mono.tv_sec + (time_t)(wait_ns / 1000000000);
		deadline.tv_nsec = mono.tv_nsec + (long)(wait_ns % 1000000000);
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&s->mu);
		s->passes++;
		while (!s->stop && !s->poked) {
			if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT)
				break;
		}
		s->poked = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
free_scheduler(struct scheduler *s)
{
	for (size_t i = 0; i < s->nentries; i++) {
		free(s->entries[i].config);
		free(s->entries[i].job);
		free(s->entries[i].text);
		free(s->entries[i].pool);
	}
	free(s->entries);
	for (size_t i = 0; i < s->nfiles; i++)
		free(s->files[i].path);
	free(s->files);
	if (s->q != NULL)
		queue_close(s->q);
	free(s->queue_dir);
	free(s->base_dir);
	free(s->state_path);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
scheduler_start(const struct scheduler_conf *conf, struct scheduler **out, struct err *err)
{
	struct scheduler *s = xcalloc(1, sizeof *s);
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	s->conf = *conf;
	s->queue_dir = xstrdup(conf->queue_dir);
	s->conf.queue_dir = s->queue_dir;
	s->conf.configs = NULL;
	s->base_dir = conf->base_dir != NULL ? xstrdup(conf->base_dir) : NULL;
	s->conf.base_dir = s->base_dir;
	s->state_path = fs_join(conf->queue_dir, STATE_FILE);
	s->files = xcalloc(conf->nconfigs + 1, sizeof *s->files);
	for (size_t i = 0; i < conf->nconfigs; i++)
		s->files[s->nfiles++].path = xstrdup(conf->configs[i]);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (state_load(s, err) == -1) {
		err_wrap(err, "scheduler");
		free_scheduler(s);
		return -1;
	}
	if ((rc = pthread_create(&s->thread, NULL, run, s)) != 0) {
		err_sys(err, rc, "scheduler: cannot start its thread");
		free_scheduler(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
scheduler_stop(struct scheduler *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	free_scheduler(s);
}

void
scheduler_poke(struct scheduler *s)
{
	pthread_mutex_lock(&s->mu);
	s->poked = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
scheduler_stats(struct scheduler *s, unsigned long *passes, unsigned long *enqueued)
{
	pthread_mutex_lock(&s->mu);
	if (passes != NULL)
		*passes = s->passes;
	if (enqueued != NULL)
		*enqueued = s->enqueued;
	pthread_mutex_unlock(&s->mu);
}
