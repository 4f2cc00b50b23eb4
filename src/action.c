/*
 * The action table (action.h) and what the CLI does around an action
 * according to its flags: the run log, the catalog and [alerts]. Each
 * action's own logic lives in its own file.
 */
#include "action.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "drivers/driver.h"
#include "guiconf.h"
#include "http.h"
#include "log.h"
#include "perm.h"
#include "util/fsutil.h"
#include "util/suggest.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define HELP_COL 17 /* width of the name column of --help */

static int
action_listdrivers(const struct action_ctx *a)
{
	(void)a;
	driver_print_list(stdout);
	return 0;
}

const struct action_entry action_table[] = {
	{ "backup", NULL, "run every selected job, in config order", "backup", "schedule",
	  ACTION_CONFIG | ACTION_WRITES | ACTION_FILES | ACTION_ALERTS, backup_run, NULL },
	{ "cleanup", NULL, "delete expired backups (backup_retention_time, keep_*)", "cleanup",
	  "cleanup_schedule", ACTION_CONFIG | ACTION_WRITES | ACTION_DISKFULL_OK, cleanup_run,
	  NULL },
	{ "checknagios", NULL, "monitoring check; prints the verdict, exits 0/1/2/3", NULL, NULL,
	  ACTION_CONFIG | ACTION_MONITOR, action_checknagios, NULL },
	{ "dumpstat", NULL, "print the last N catalog rows of each selected job", NULL, NULL,
	  ACTION_CONFIG, action_dumpstat, NULL },
	{ "retryfailed", NULL, "re-run the jobs without an OK backup in the last 30 hours", NULL,
	  NULL, ACTION_CONFIG | ACTION_WRITES | ACTION_FILES | ACTION_ALERTS | ACTION_DRYRUN_READS,
	  action_retryfailed, NULL },
	{ "listdrivers", NULL, "list backup types and their configuration keys", NULL, NULL, 0,
	  action_listdrivers, NULL },
	{ "exportbackup", NULL,
	  "copy each job's latest good backup to -x DIR, or with\n"
	  "--usb to the USB disk labelled tisbackup (mounted\n"
	  "for the run, then unmounted)",
	  "export", NULL,
	  ACTION_CONFIG | ACTION_WRITES | ACTION_FILES | ACTION_EXPORTDIR | ACTION_ONE_ACTIVE,
	  action_exportbackup, NULL },
	{ "restore", "restore -s JOB",
	  "put one backup back (docs/restore.md): [--at STAMP|\n"
	  "DATE|latest]; files: [--path P]... --to [HOST:]DIR\n"
	  "or --in-place [--yes]; dumps: --db NAME [--to-db T]\n"
	  "[--to-server [USER@]HOST]; xen-xva: --to DIR or\n"
	  "--import-to SR (a new VM); --replace overwrites\n"
	  "what exists; -d lists changes",
	  "restore", NULL, ACTION_CONFIG | ACTION_WRITES | ACTION_FILES | ACTION_DRYRUN_READS,
	  action_restore, NULL },
	{ "verify", NULL,
	  "prove the newest good backup of each job with\n"
	  "verify = yes restores (docs/restore.md); a VERIFY row",
	  "verify", "verify_schedule", ACTION_CONFIG | ACTION_WRITES | ACTION_FILES, action_verify,
	  NULL },
	{ "register_existing", NULL, "add catalog rows for backups found on disk", NULL, NULL,
	  ACTION_CONFIG | ACTION_WRITES, register_run, NULL },
	{ "serve", NULL, "web UI, REST API, scheduler and queue worker", NULL, NULL, ACTION_WORDS,
	  NULL, cmd_serve },
	{ "worker", NULL, "run queued runs (for other hosts); stops on SIGTERM", NULL, NULL,
	  ACTION_WORDS, NULL, cmd_worker },
	{ "user", "user list | add|passwd|del NAME [--role admin|viewer]",
	  "manage the web users (password read from stdin\n"
	  "when it is not a terminal); list shows names and roles",
	  NULL, NULL, ACTION_WORDS, NULL, cmd_user },
	{ "catalog", "catalog migrate --from sqlite:PATH --to URL",
	  "copy a catalog's rows into another (PostgreSQL);\n"
	  "run again, it copies only what is missing",
	  NULL, NULL, ACTION_WORDS, NULL, cmd_catalog },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL },
};

const struct action_entry *
action_find(const char *name)
{
	for (const struct action_entry *e = action_table; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

const char *
action_suggest(const char *name)
{
	const char *words[64];
	size_t n = 0;

	for (const struct action_entry *e = action_table; e->name != NULL && n < 64; e++)
		words[n++] = e->name;
	return suggest_pick(name, words, n, 2);
}

const struct action_entry *
action_find_queued(const char *qname)
{
	for (const struct action_entry *e = action_table; e->name != NULL; e++)
		if (e->queue_name != NULL && strcmp(e->queue_name, qname) == 0)
			return e;
	return NULL;
}

void
action_list_names(struct buf *b, int queued, const char *last_sep)
{
	size_t n = 0, i = 0;

	for (const struct action_entry *e = action_table; e->name != NULL; e++)
		n += (queued ? e->queue_name : e->name) != NULL;
	for (const struct action_entry *e = action_table; e->name != NULL; e++) {
		const char *name = queued ? e->queue_name : e->name;

		if (name == NULL)
			continue;
		if (i > 0)
			buf_puts(b, i + 1 == n ? last_sep : ", ");
		buf_puts(b, name);
		i++;
	}
}

void
action_print_help(FILE *out)
{
	for (const struct action_entry *e = action_table; e->name != NULL; e++) {
		const char *u = e->usage != NULL ? e->usage : e->name;
		const char *p = e->help;

		if (strlen(u) > HELP_COL)
			fprintf(out, "  %s\n%*s", u, HELP_COL + 4, "");
		else
			fprintf(out, "  %-*s  ", HELP_COL, u);
		for (;;) {
			const char *nl = strchr(p, '\n');

			if (nl == NULL) {
				fprintf(out, "%s\n", p);
				break;
			}
			fprintf(out, "%.*s\n%*s", (int)(nl - p), p, HELP_COL + 4, "");
			p = nl + 1;
		}
	}
}

void
action_print_warnings(const struct strv *w)
{
	for (size_t i = 0; w != NULL && i < w->n; i++)
		fprintf(stderr, "tisbackup: warning: %s\n", w->v[i]);
}

void
action_print_err(const char *msg)
{
	const char *p = msg;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "tisbackup: %.*s\n", n, p);
		p += n + (nl != NULL);
	}
}

/* Create {base}/log and start the run log there. */
static int
open_run_log(const struct config *cfg, struct err *err)
{
	char stamp[TIME_STAMP_LEN + 1];
	char *dir = fs_join(cfg->backup_base_dir, "log");
	char *path = NULL;
	int rc = -1;

	if (fs_mkdir_p(dir, 0750, err) == -1)
		goto out;
	time_stamp(time(NULL), stamp);
	path = xasprintf("%s/tisbackup_%s.log", dir, stamp);
	if (log_open_file(path, err) == -1)
		goto out;
	rc = 0;
out:
	free(dir);
	free(path);
	return rc;
}

/* What select_jobs() allocated for a run, freed by its caller. */
struct selection {
	const struct job **valid;   /* a->jobs minus the jobs whose files fail */
	const struct job **invalid; /* a->invalid */
	struct job *copies;         /* jobs whose files fail, with job->invalid set */
	size_t ncopies;
};

/*
 * Split the selection: the config's invalid jobs the -s value names, and
 * (files: every file a job names must be usable before anything is
 * written) the jobs whose files are unusable, go to a->invalid; the
 * others stay in a->jobs. Each invalid job is reported on stderr unless
 * quiet (a monitoring check reports them itself): the selected ones as
 * errors, the others as warnings.
 */
static void
select_jobs(struct action_ctx *a, int files, int quiet, struct selection *s)
{
	const struct job **cfg_bad;
	struct config_files_memo memo = { 0 };
	size_t ncfg_bad, nvalid = 0;

	config_select_invalid(a->cfg, a->select, &cfg_bad, &ncfg_bad);
	s->valid = xcalloc(a->njobs + 1, sizeof *s->valid);
	s->invalid = xcalloc(a->njobs + ncfg_bad + 1, sizeof *s->invalid);
	s->copies = xcalloc(a->njobs + 1, sizeof *s->copies);
	for (size_t i = 0; i < ncfg_bad; i++)
		s->invalid[a->ninvalid++] = cfg_bad[i];
	free(cfg_bad);
	for (size_t i = 0; i < a->njobs; i++) {
		struct err ferr;

		err_clear(&ferr);
		if (files && config_check_files_memo(a->jobs[i], &memo, &ferr) == -1) {
			s->copies[s->ncopies] = *a->jobs[i]; /* dir stays the config's */
			s->copies[s->ncopies].invalid = xstrdup(ferr.msg);
			s->invalid[a->ninvalid++] = &s->copies[s->ncopies++];
		} else {
			s->valid[nvalid++] = a->jobs[i];
		}
	}
	config_files_memo_free(&memo);
	for (size_t i = 0; i < a->ninvalid && !quiet; i++)
		action_print_err(s->invalid[i]->invalid);
	/* The invalid jobs not selected: still said, as warnings. */
	for (size_t i = 0; i < a->cfg->ninvalid && !quiet; i++) {
		const struct job *bad = &a->cfg->invalid[i];
		size_t j;

		for (j = 0; j < a->ninvalid && s->invalid[j] != bad; j++)
			;
		if (j == a->ninvalid)
			for (const char *p = bad->invalid; *p != '\0';) {
				size_t len = strcspn(p, "\n");

				fprintf(stderr, "tisbackup: warning: %.*s (not selected)\n",
				        (int)len, p);
				p += len + (p[len] == '\n');
			}
	}
	a->jobs = s->valid;
	a->njobs = nvalid;
	a->invalid = s->invalid;
}

static void
selection_free(struct selection *s)
{
	for (size_t i = 0; i < s->ncopies; i++)
		free(s->copies[i].invalid);
	free(s->copies);
	free(s->valid);
	free(s->invalid);
}

int
action_exec(const struct action_entry *e, struct action_ctx *a)
{
	const struct job *const *jobs = a->jobs;
	size_t njobs = a->njobs;
	struct selection sel = { 0 };
	struct guiconf *gui = NULL;
	char *catalog_path = NULL;
	struct catalog *cat = NULL;
	struct err err;
	gid_t group = 0;
	int rc, has_group = 0;

	err_clear(&err);
	/*
	 * checknagios as root reports a job whose private_key is unreadable;
	 * as an unprivileged user (NRPE) it must not need root's keys.
	 */
	select_jobs(a,
	            (e->flags & ACTION_FILES) != 0 ||
	                ((e->flags & ACTION_MONITOR) != 0 && geteuid() == 0),
	            (e->flags & ACTION_MONITOR) != 0, &sel);
	if (!(e->flags & ACTION_WRITES)) {
		rc = e->run(a);
		goto out;
	}
	if (!a->dry_run && (e->flags & ACTION_ALERTS)) {
		/* [alerts] of the gui ini; a missing file means no alerts. */
		if (guiconf_load(a->gui_config, 1, &gui, &err) == -1) {
			log_warning(NULL, "alerts disabled: %s", err.msg);
			err_clear(&err);
		} else {
			action_print_warnings(&gui->warnings);
		}
		/*
		 * Mail and webhooks go through libcurl, loaded on first use: a
		 * missing library is a configuration error now, before any run
		 * starts, not a lost alert after one.
		 */
		if (gui != NULL && (gui->smtp_url != NULL || gui->webhook_url != NULL) &&
		    http_check_available(&err) == -1) {
			err_wrap(&err, "%s: [alerts] sends %s", gui->path,
			         gui->smtp_url != NULL ? "mail" : "webhooks");
			action_print_err(err.msg);
			rc = EXIT_CONFIG;
			goto out;
		}
		a->gui = gui;
	}
	if (!a->dry_run && (has_group = perm_group(a->cfg, &group, &err)) == -1) {
		action_print_err(err.msg);
		rc = EXIT_CONFIG;
		goto out;
	}
	if (has_group)
		perm_apply(a->cfg, group);
	catalog_path = config_catalog_address(a->cfg);
	a->catalog_path = catalog_path;
	if (!a->dry_run && open_run_log(a->cfg, &err) == -1) {
		if (!(e->flags & ACTION_DISKFULL_OK)) {
			action_print_err(err.msg);
			rc = EXIT_RUNTIME;
			goto out;
		}
		/* SPEC §1: a full disk must not stop the cleanup that frees it. */
		log_warning(NULL, "%s: logging to stderr only, no run log file: %s", e->name,
		            err.msg);
		err_clear(&err);
	}
	if (!a->dry_run || (e->flags & ACTION_DRYRUN_READS)) {
		if (catalog_open(catalog_path, a->dry_run ? CATALOG_RO : CATALOG_RW, &cat, &err) ==
		        -1 &&
		    !(a->dry_run && err.code == ENOENT)) {
			if (!(e->flags & ACTION_DISKFULL_OK)) {
				action_print_err(err.msg);
				rc = EXIT_RUNTIME;
				goto out;
			}
			/* cleanup_run() plans read-only and retries after the removals. */
			log_warning(NULL, "%s: %s", e->name, err.msg);
		}
	}
	a->cat = a->dry_run ? NULL : cat;
	a->rcat = cat;
	rc = e->run(a);
	if (has_group) /* what the run made: job folders, the catalog, this run's log */
		perm_apply(a->cfg, group);
	if (a->dry_run)
		log_info(NULL, "dry run: nothing was done");
out:
	/* A selected job that cannot run is a configuration problem (exit 3). */
	if (a->ninvalid > 0 && !(e->flags & ACTION_MONITOR) && rc != EXIT_USAGE && rc < EXIT_CONFIG)
		rc = EXIT_CONFIG;
	a->jobs = jobs;
	a->njobs = njobs;
	a->invalid = NULL;
	a->ninvalid = 0;
	selection_free(&sel);
	if (cat != NULL)
		catalog_close(cat);
	guiconf_free(gui);
	free(catalog_path);
	a->cat = a->rcat = NULL;
	a->gui = NULL;
	a->catalog_path = NULL;
	return rc;
}
