/*
 * The driver API. A driver is data plus a function table: its name and
 * description (what listdrivers prints), its configuration keys with
 * their types (what the validator enforces), capability bits, and ops.
 * The core allocates its private state (priv_size bytes, zeroed). Adding
 * a driver = one file + one line in drivers.c + its tests. See
 * docs/driver-api.md.
 */
#ifndef TB_DRIVER_H
#define TB_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

struct job;

enum drv_key_type {
	KEY_STR,            /* any string */
	KEY_INT,            /* integer >= 0 */
	KEY_PORT,           /* 1..65535 */
	KEY_BOOL,           /* yes/no, true/false, 1/0 */
	KEY_BOOL_LOOSE,     /* also t, y, oui (copy-vm-xcp) */
	KEY_FILE,           /* a local file that must be readable when the job runs */
	KEY_EXCLUDE,        /* an exclude_list (see exclude.h) */
	KEY_HOSTKEY_POLICY, /* accept-new | strict */
	KEY_SCHEDULE,       /* a schedule for serve (see schedule.h) */
};

struct drv_key {
	const char *name;
	enum drv_key_type type;
	const char *def; /* default value, or NULL */
};

/* Capability bits. */
#define DRV_CAP_NO_BACKUP 0x1 /* records a server that needs none (null) */
#define DRV_CAP_SSH 0x2       /* talks to server_name over ssh */
/* The original's `username` key is the ssh login (used when remote_user is unset). */
#define DRV_CAP_USERNAME_IS_LOGIN 0x4

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
};

/* One run of a driver. */
struct drv_run {
	const struct job *job;
	const char *stamp; /* YYYYMMDD-HHhMMmSS of the run's start */
	int dry_run;       /* print what would be done, change nothing */
	int verbose;       /* echo transfer output */
	void *priv;        /* priv_size zeroed bytes owned by the core */
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
	 * backup when failing.
	 */
	int (*backup)(struct drv_run *run, struct drv_stats *st, struct err *err);
	/*
	 * register_existing (register.c): 1 if name, an entry of the job's
	 * folder, is one of this driver's finished backups, with the stamp
	 * of its start ("20261126-03h20m57") copied into stamp_out, which
	 * has room for TIME_STAMP_LEN + 1 bytes (util/timefmt.h); else 0.
	 * Only the name is judged: the core offers entries that are folders
	 * or regular files, never symlinks. A driver writing files such as
	 * "VM-STAMP.xva" or "DB-STAMP.sql.gz" sets its own matcher (check the
	 * suffix, then time_parse_stamp() on the 17 characters before it);
	 * names of unfinished work (".rsync", ".part") must not match.
	 * NULL means the rsync layout: a folder whose whole name is a STAMP.
	 */
	int (*backup_name_match)(const char *name, char *stamp_out);
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
 * NULL. *required (may be NULL) tells whether the job must have it.
 */
const struct drv_key *driver_key(const struct driver *drv, const char *name, int *required);

/*
 * listdrivers: for each driver "type : description", then
 * " Required params : a,b,..." and " Optional params : ...", then a blank line.
 */
void driver_print_list(FILE *out);

#endif
