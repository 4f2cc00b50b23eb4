/*
 * What the CLI hands every action, and the actions' entry points. Each
 * action lives in its own file (backup.c, retention.c, register.c,
 * export.c, action_*.c) and has one line in the action table (action.c);
 * main.c only parses options and loads the config, action_exec() opens
 * the run log and the catalog, and calls one of these.
 */
#ifndef TB_ACTIONS_H
#define TB_ACTIONS_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

struct catalog;
struct config;
struct restore_opts;
struct guiconf;
struct job;

/* Exit codes shared by every action (see main.c and the man page). */
#define EXIT_JOBS 1    /* one or more jobs failed or were already running */
#define EXIT_USAGE 2   /* bad command line */
#define EXIT_CONFIG 3  /* bad configuration */
#define EXIT_RUNTIME 4 /* catalog or log folder unusable */

struct action_ctx {
	const struct config *cfg;
	const struct job *const *jobs; /* the -s selection, in config order */
	size_t njobs;
	struct catalog *cat; /* read-write catalog; NULL in a dry run */
	/* Catalog to read from: cat, or read-only in a dry run (ACTION_DRYRUN_READS); NULL = none yet. */
	struct catalog *rcat;
	const char *catalog_path; /* for threads that open their own connection */
	int dry_run;
	int verbose;
	int max_parallel;          /* jobs at once: -j, else [global] max_parallel */
	const char *exportdir;     /* -x */
	const struct guiconf *gui; /* --gui-config, for [alerts]; NULL = no alerts */
	const char *gui_config;    /* --gui-config path (never NULL from the CLI) */
	int usb;                   /* exportbackup --usb */
	int explain;               /* cleanup --explain: print every backup's decision */
	int len;                   /* -n: rows per job for dumpstat */
	const char *select;        /* -s as given (NULL: every job) */
	/*
	 * The selected jobs that cannot run (job->invalid says why): invalid
	 * sections, and for ACTION_FILES/ACTION_MONITOR actions the jobs whose
	 * files are unusable. Never in jobs. Set by action_exec().
	 */
	const struct job *const *invalid;
	size_t ninvalid;
	const struct restore_opts
	    *restore; /* restore's options (restore.h); never NULL from the CLI */
};

/* backup: every job of a->jobs. 0 if all succeeded, else EXIT_JOBS. */
int backup_run(const struct action_ctx *a);

/* cleanup (retention.c): SPEC §6 for every job. 0, EXIT_JOBS or EXIT_RUNTIME. */
int cleanup_run(const struct action_ctx *a);

/* register_existing (register.c): SPEC §9 for every job. 0, EXIT_JOBS or EXIT_RUNTIME. */
int register_run(const struct action_ctx *a);

/* exportbackup (export.c): SPEC §8 into a->exportdir. 0, EXIT_JOBS, EXIT_USAGE or EXIT_RUNTIME. */
int export_run(const struct action_ctx *a);

/*
 * exportbackup --usb (export_usb.c): export_run() into the partition
 * labelled tisbackup (usb.h; any: [export] device_filter = any), mounted
 * under {mount_base}/TISBACKUP-<epoch> for the run and unmounted, mount
 * point removed, whatever its outcome. a->exportdir is ignored. A dry run
 * only looks for the disk. 0, EXIT_JOBS (no usable disk, mounting or
 * unmounting failed, or a job failed), EXIT_USAGE or EXIT_RUNTIME.
 */
int export_usb_run(const struct action_ctx *a, int any, const char *mount_base);

/*
 * restore (action_restore.c): one backup of the one job of a->jobs back,
 * per a->restore (docs/restore.md); a RESTORE row. 0, EXIT_JOBS (failed,
 * or no such backup), EXIT_USAGE or EXIT_CONFIG.
 */
int action_restore(const struct action_ctx *a);

/*
 * verify (action_verify.c): the newest good backup of each selected job
 * with verify = yes loaded into a scratch database on the [verify]
 * server and counted; a VERIFY row each. 0, EXIT_JOBS, EXIT_USAGE or
 * EXIT_CONFIG.
 */
int action_verify(const struct action_ctx *a);

/* checknagios (action_checknagios.c): prints the verdict; exits 0/1/2/3. */
int action_checknagios(const struct action_ctx *a);

/* dumpstat (action_dumpstat.c): a->len rows per job. 0 or EXIT_RUNTIME. */
int action_dumpstat(const struct action_ctx *a);

/* retryfailed (action_retryfailed.c): backup_run() of retry_select(). 0, EXIT_JOBS or EXIT_RUNTIME. */
int action_retryfailed(const struct action_ctx *a);

/* exportbackup (action_exportbackup.c): export_run(), or export_usb_run() with --usb. */
int action_exportbackup(const struct action_ctx *a);

/*
 * retryfailed (retry.c): the jobs of a->jobs, except type null, with no OK
 * BACKUP row started in the 30 hours before now, in config order, into
 * *out (caller frees the array). 0 or -1 + err.
 */
int retry_select(const struct action_ctx *a, time_t now, const struct job ***out, size_t *n,
                 struct err *err);

#endif
