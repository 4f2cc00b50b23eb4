/*
 * The driver contract. A driver is a const descriptor plus a table of
 * hooks (curl's protocol handlers are the model): its name and
 * description (what listdrivers prints), its configuration keys with
 * their types (what the validator enforces), capability bits (what the
 * core may assume about its backups), and hooks: backup (mandatory), then
 * optional layout, expire, check, register_existing and restore, each
 * documented below where it is declared, each with a core default when
 * NULL. The core allocates the driver's private state (priv_size bytes,
 * zeroed) and never tests a driver's name. Adding a driver = one file +
 * one line in drivers.c + its tests. See docs/driver-api.md.
 */
#ifndef TB_DRIVER_H
#define TB_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "util/err.h"

struct job;
struct progress;

enum drv_key_type {
	KEY_STR,            /* any string */
	KEY_INT,            /* integer >= 0 */
	KEY_PORT,           /* 1..65535 */
	KEY_BOOL,           /* yes/no, true/false, 1/0, on/off, y/n */
	KEY_BOOL_LOOSE,     /* also t, y, oui (copy-vm-xcp) */
	KEY_FILE,           /* a local file that must be readable when the job runs */
	KEY_EXCLUDE,        /* an exclude_list (see exclude.h) */
	KEY_HOSTKEY_POLICY, /* accept-new | strict */
	KEY_SCHEDULE,       /* a schedule for serve (see schedule.h) */
	KEY_POOL,           /* a worker pool name: [A-Za-z0-9_.-]{1,64} (see queue.h) */
	KEY_PERCENT,        /* a percentage above 0, at most 100: "1", "0.5", "2.5%" */
};

struct drv_key {
	const char *name;
	enum drv_key_type type;
	const char *def; /* default value, or NULL */
};

/*
 * Capability bits: what the core may assume about a driver's backups
 * without knowing the driver. A new driver states them; the core never
 * tests a driver's name.
 */
#define DRV_CAP_NO_BACKUP 0x1 /* records a server that needs none: no data (null) */
#define DRV_CAP_SSH 0x2       /* talks to server_name over ssh */
/* The original's `username` key is the ssh login (used when remote_user is unset). */
#define DRV_CAP_USERNAME_IS_LOGIN 0x4
/*
 * The backup lives elsewhere (a VM copy on a remote pool, an object in a
 * bucket): backup_location names a remote object, not a local path. The
 * default check then calls a backup with no local path present (it
 * cannot tell); cleanup expires such a backup only through the driver's
 * own expire hook, never with the local removal.
 */
#define DRV_CAP_REMOTE 0x8
/*
 * Each backup is a subvolume (btrfs): another st_dev than the job folder.
 * The default expire refuses to empty what looks like a mount point, so
 * a driver with this bit brings its own expire.
 */
#define DRV_CAP_SUBVOLUME 0x10
/* Each backup is one regular file in the job folder (else a folder). */
#define DRV_CAP_FILE 0x20
/*
 * Backups are database dumps restored with --db/--to-db into a database
 * server reached over ssh: the restore hook may be handed, for
 * `restore --to-server`, a copy of the job whose server_name (and
 * remote_user) name another server (struct drv_restore).
 */
#define DRV_CAP_DB_DUMP 0x40

/* What a backup produced; strings are owned by the core (free()d). */
struct drv_stats {
	int64_t total_files;
	int64_t written_files;
	int64_t total_bytes;
	int64_t written_bytes;
	char *location; /* snapshot folder or file */
	char *log;      /* one line for the catalog */
	int warnings;   /* finished, but with warnings already logged */
	/*
	 * Finished, but incomplete (rsync exit 23): recorded OK, yet never
	 * the one good backup cleanup keeps. The core writes it into the
	 * catalog (the schema has no column: CATALOG_LOG_PARTIAL in the log);
	 * drivers only set the flag.
	 */
	int partial;
	/*
	 * A driver that compares versions (switch): the previous version's
	 * path when this backup's content differs from it; NULL when
	 * identical, when there is no previous version, or not compared.
	 * The core then fires the "changed" alert of jobs with
	 * alert_on_change = yes.
	 */
	char *changed_from;
};

/* One run of a driver. */
struct drv_run {
	const struct job *job;
	const char *stamp; /* YYYYMMDD-HHhMMmSS of the run's start */
	int dry_run;       /* print what would be done, change nothing */
	int verbose;       /* echo transfer output */
	void *priv;        /* priv_size zeroed bytes owned by the core */
	/*
	 * The run's watchdog (watchdog.h), armed by the core before the
	 * driver's backup hook: hand it to every command with
	 * watchdog_spawn(run->progress, &so) and to every in-process transfer
	 * (http_request_opts.progress). Never NULL during backup.
	 */
	struct progress *progress;
};

/* What an entry of a job folder is to the driver that owns the folder. */
enum drv_entry {
	DRV_ENTRY_OTHER = 0, /* not the driver's: never touched, never registered */
	DRV_ENTRY_FINAL,     /* a finished backup (register_existing may record it) */
	DRV_ENTRY_STAGING,   /* unfinished work of a run (cleanup sweeps it once expired) */
};

/*
 * The core's name for a backup being removed: cleanup renames NAME to
 * NAME DRV_DELETING (in the same folder, atomically) before removing the
 * tree, so a crash never leaves half a backup under a name the layout
 * calls FINAL; the next cleanup finishes such leftovers. No layout's
 * classify may call a name ending in it DRV_ENTRY_FINAL.
 */
#define DRV_DELETING ".deleting"

/* The most names one run may create in the job folder (final + staging). */
#define DRV_LAYOUT_NAMES 4

/*
 * How a driver's backups are named in the job folder {backup_base_dir}/{job}.
 * Both functions are pure (no I/O), so the core can call them per entry of
 * a large folder, and unit tests can call them on plain strings.
 */
struct drv_layout {
	/*
	 * Classify name, one entry of the job folder (a single component).
	 * For DRV_ENTRY_FINAL and DRV_ENTRY_STAGING, copy the stamp of the
	 * run that made it ("20261126-03h20m57", TIME_STAMP_LEN + 1 bytes,
	 * util/timefmt.h) into stamp_out; the stamp must parse with
	 * time_parse_stamp(). Anything else is DRV_ENTRY_OTHER.
	 * Folders or files: DRV_CAP_FILE says which the core expects.
	 */
	enum drv_entry (*classify)(const char *name, char *stamp_out);
	/*
	 * The entry names (single components, not paths) a run of job started
	 * at stamp creates in the job folder, into names[] (each malloc()ed,
	 * the caller frees them): the final name first, then every staging
	 * name. Returns how many (1..DRV_LAYOUT_NAMES). The core calls a
	 * stamp taken when any of them exists (two runs in one second must
	 * not rename over each other).
	 */
	size_t (*names)(const struct job *job, const char *stamp, char **names);
};

/* Arguments of the expire hook: one expired backup of a job. */
struct drv_expire {
	const struct job *job;
	const char *location; /* backup_location as recorded (or an orphan's path) */
	/*
	 * Local backups only (no DRV_CAP_REMOTE): the location resolved by the
	 * core, already checked to lie strictly inside the job folder after
	 * resolving symlinks and "..". dirfd is its parent folder, open; name
	 * its last component, never followed. other_fs is 1 when name is a
	 * folder on another st_dev than dirfd (a mount point, or a subvolume).
	 * For DRV_CAP_REMOTE: dirfd -1, name NULL, other_fs 0.
	 */
	int dirfd;
	const char *name;
	int other_fs;
};

/* What the check hook found at a backup's location. */
enum drv_presence {
	DRV_GONE = 0,  /* nothing there: the backup disappeared */
	DRV_FILE,      /* a regular file; ctime is set */
	DRV_FOLDER,    /* a folder */
	DRV_ELSEWHERE, /* present somewhere the core cannot look (remote) */
};

struct drv_check {
	enum drv_presence presence;
	struct timespec ctime; /* DRV_FILE: the file's status change time */
};

/* One backup found by the register hook. */
struct drv_found {
	const char *location;  /* what backup_location will hold */
	const char *stamp;     /* the stamp of its run ("20261126-03h20m57") */
	struct timespec mtime; /* when it was last written; becomes backup_end when later */
	int64_t bytes, files;  /* -1, -1: unknown, the core measures a local tree */
};

/*
 * Called by the register hook for each finished backup it finds; returns
 * 0 to go on, -1 + err to stop (the hook then returns -1 with that err).
 */
typedef int (*drv_found_fn)(void *arg, const struct drv_found *f, struct err *err);

/*
 * Arguments of the restore hook (`tisbackup restore`, src/action_restore.c;
 * docs/restore.md). Restore puts the backup recorded at
 * location (a FINAL entry of the driver's layout, or a remote object) back
 * onto target: a folder on the server (rsync drivers), a database name
 * (dump drivers) or a remote object. Contract:
 * - Nothing that exists on target is overwritten unless overwrite is 1.
 * - dry_run: say what would be done, change nothing.
 * - The hook streams through spawn.c / the transport layer and applies
 *   the job's watchdog like a backup does; secrets as for backups.
 * - Fill st with what was restored (files, bytes; location = target).
 * - Return 0, or -1 + err with the tool's own words; the core records the
 *   run (a RESTORE row) and logs the error once.
 */
struct drv_restore {
	/*
	 * The job; with `restore --to-server` (DRV_CAP_DB_DUMP drivers only)
	 * a copy whose server_name and remote_user name the target server,
	 * everything else (key, port, host-key policy, credentials) the
	 * job's: the hook reaches "the job's server" and so the target.
	 */
	const struct job *job;
	const char *location; /* the backup to restore, as recorded in the catalog */
	const char *target;   /* where to; NULL: where it was taken from */
	int overwrite;
	int dry_run;
	int verbose;
	void *priv; /* priv_size zeroed bytes owned by the core */
	/*
	 * Files (rsync drivers): the paths inside the backup to restore
	 * (relative to the snapshot's root; none = all of it). target is
	 * "host:DIR" (over the job's ssh), "DIR" (a local folder), or NULL
	 * for the job's own server and folder (in place).
	 */
	const char *const *paths;
	size_t npaths;
	int in_place; /* target NULL: back onto the job's own server and folder (confirmed) */
	/* Dumps: the database of the backup to restore; target is the name to load it as. */
	const char *db;
	/*
	 * xen-xva: the storage repository (name label or UUID) to import the
	 * XVA into over XAPI's /import, instead of copying it to target.
	 * The core refuses it for any other type of job.
	 */
	const char *import_sr;
	/* The run's watchdog (watchdog.h), armed by the core; never NULL in a restore. */
	struct progress *progress;
};

struct driver {
	const char *name;
	const char *description;
	const struct drv_key *required; /* driver-specific, name == NULL terminated */
	const struct drv_key *optional;
	unsigned caps;
	size_t priv_size;
	/*
	 * Extra checks across keys after each key's type was validated; may
	 * be NULL. The message starts with the key ("server_name: ..."):
	 * the loader prefixes "FILE:LINE: [section] ".
	 */
	int (*validate)(const struct job *job, struct err *err);
	/*
	 * Do the backup. Fill st; 0 on success, -1 + err on failure (the
	 * core records it). Must leave nothing that looks like a good
	 * backup when failing: write under a staging name of the layout and
	 * rename to the final name at the end.
	 */
	int (*backup)(struct drv_run *run, struct drv_stats *st, struct err *err);

	/* Optional hooks: NULL means the core's default, described at each. */

	/*
	 * The names of the driver's backups in the job folder. NULL: the
	 * snapshot-folder layout of the dump drivers, final "STAMP", staging
	 * "STAMP.partial" (driver_layout_snapdir, in drivers/snapdir.c).
	 */
	const struct drv_layout *layout;
	/*
	 * Remove one expired backup (cleanup). 0, or -1 + err (logged by the
	 * core, the row stays BACKUP). Called only for backups the retention
	 * policy deleted, after the core checked the location (struct
	 * drv_expire); in a dry run it is not called. NULL: the local
	 * removal: the tree or file at dirfd/name is removed without following
	 * symlinks (several at once, util/rmtree.h), and a folder on another
	 * filesystem (other_fs) is refused as a mount point. A driver whose
	 * backups are subvolumes or remote objects brings its own.
	 */
	int (*expire)(const struct drv_expire *x, struct err *err);
	/*
	 * After a cleanup run's expire calls for job (at least one done, not
	 * in a dry run), once: finish what the removals started (btrfs
	 * commits its subvolume deletions). 0, or -1 + err (the core logs a
	 * warning; the rows stay CLEAN, the backups are gone). NULL: nothing.
	 */
	int (*expire_commit)(const struct job *job, struct err *err);
	/*
	 * Whether the backup recorded at location is still there
	 * (checknagios and the web job view on the newest recent good backup,
	 * cleanup on the one it keeps). Fills out; 0, or -1 + err when it
	 * cannot tell (checknagios: UNKNOWN; cleanup: removes nothing). Must be cheap: it is called once per job per check.
	 * NULL: one stat(2) of location (a regular file or a folder), and for
	 * DRV_CAP_REMOTE an absent local path counts as DRV_ELSEWHERE.
	 */
	int (*check)(const struct job *job, const char *location, struct drv_check *out,
	             struct err *err);
	/*
	 * register_existing: call found() for every finished backup of job,
	 * recorded or not (the core skips the ones the catalog knows). 0, or
	 * -1 + err. NULL: scan the job folder with the layout's classify,
	 * taking DRV_ENTRY_FINAL entries that are folders (or regular files
	 * with DRV_CAP_FILE), never symlinks.
	 */
	int (*register_existing)(const struct job *job, drv_found_fn found, void *arg,
	                         struct err *err);
	/* Restore one backup (struct drv_restore). NULL: the driver cannot restore. */
	int (*restore)(struct drv_restore *r, struct drv_stats *st, struct err *err);
	/*
	 * What `tisbackup verify` does with its backups (action_verify.c):
	 * "pgsql", "mysql" = load each DB-STAMP.sql.gz into a scratch database
	 * on the [verify] server (verify_db.c); "files" = compare a sample
	 * of the snapshot's files with the source (verify_files.c); "file" =
	 * every file of the backup read back with its own check
	 * (verify_onefile.c). NULL: "file" for DRV_CAP_FILE drivers, else
	 * the driver's backups cannot be verified yet.
	 */
	const char *verify_kind;
};

/* Keys every job has (validated by the core, printed by listdrivers). */
extern const struct drv_key drv_common_required[];
extern const struct drv_key drv_common_optional[];

/* The table of drivers, NULL-terminated, in listdrivers order. */
extern const struct driver *const driver_table[];

/* The driver called name, or NULL. */
const struct driver *driver_find(const char *name);
/*
 * The key spec called name among the common and the driver's keys, or
 * NULL. *required (may be NULL) tells whether the job must have it. A
 * binary search in a per-driver index made on first use; thread-safe.
 */
const struct drv_key *driver_key(const struct driver *drv, const char *name, int *required);

/*
 * listdrivers: for each driver "type : description", then
 * "  Required params : a,b,..." and "  Optional params : ..." (indented by
 * two spaces, as the original prints them), then a blank line.
 */
void driver_print_list(FILE *out);

/*
 * The layout of drv: its own, or the snapshot-folder default (final
 * "STAMP", staging "STAMP.partial"). Never NULL.
 */
const struct drv_layout *driver_layout(const struct driver *drv);
/* The default layout: a folder named STAMP, staged as STAMP.partial. */
extern const struct drv_layout driver_layout_snapdir;

/*
 * 1 if a run of job started at stamp would meet an entry of the job
 * folder already there (any name of the layout's names()), else 0. One
 * lstat(2) per name.
 */
int driver_stamp_taken(const struct job *job, const char *stamp);

/*
 * The check hook of job's driver, or the default (see struct driver).
 * 0, or -1 + err.
 */
int driver_check(const struct job *job, const char *location, struct drv_check *out,
                 struct err *err);

/*
 * The register hook of job's driver, or the default scan of the job
 * folder (see struct driver). A missing job folder finds nothing.
 * 0, or -1 + err.
 */
int driver_register_existing(const struct job *job, drv_found_fn found, void *arg, struct err *err);

/*
 * The scan behind the default register hook, for drivers that only judge
 * entries differently: found() for every entry of the job folder that the
 * driver's layout classifies DRV_ENTRY_FINAL and accept() takes (st is its
 * lstat; accept logs why it refuses). A missing folder has no backups.
 * 0, or -1 + err (a read error, or found()'s).
 */
struct stat;
typedef int (*drv_accept_fn)(const struct job *job, const char *name, const struct stat *st);
int driver_scan_finished(const struct job *job, drv_accept_fn accept, drv_found_fn found, void *arg,
                         struct err *err);

/*
 * The generic restore hook of one-file backups (drivers/restore_file.c; one
 * line in a driver's descriptor: `.restore = restore_file_copy`): the
 * backup at r->location,
 * a file or a folder of files (not recursing), copied into the local
 * folder r->target (created when missing). Each file is written as
 * NAME.partial (O_EXCL), compared byte for byte with the backup, fsynced
 * and renamed to NAME; an existing NAME is refused unless r->overwrite.
 * r->paths, r->db and r->in_place are refused: the target is always a
 * folder of the backup host. 0, or -1 + err.
 */
int restore_file_copy(struct drv_restore *r, struct drv_stats *st, struct err *err);

#endif
