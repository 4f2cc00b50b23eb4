/*
 * What the parts of `tisbackup verify` share (docs/restore.md, "Verify"):
 *  - action_verify.c: the action, one VERIFY row per job, the counts
 *    compared with the previous verify;
 *  - verify_db.c: database dumps (pgsql+ssh, mysql+ssh) streamed into a
 *    scratch database of the [verify] server and counted;
 *  - verify_files.c: file snapshots, a sample compared with the source;
 *  - verify_onefile.c: one-file backups re-read and checked.
 */
#ifndef TB_VERIFY_H
#define TB_VERIFY_H

#include <time.h>

#include "drivers/driver.h"
#include "jobconf.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/strv.h"

/* The verify servers of one run (the [verify] section of the gui config). */
struct verify_srv {
	const char *pgsql_url; /* postgresql://USER@HOST:PORT (no database, no password) */
	char *pgsql_password;  /* NULL = none (peer or ~/.pgpass) */
	const char *mysql_url; /* mysql://USER@HOST:PORT[?socket=PATH] */
	char *mysql_password;  /* NULL = none */
};

/*
 * Load every database dump ("*.sql.gz" but globals.sql.gz) of the backup
 * folder loc of job into a scratch database of the verify server of kind
 * ("pgsql" or "mysql"), streamed from the gzip file into the local
 * client's stdin (nothing staged), and append its counts to counts:
 * "DB/TABLE\tROWS" (exact counts) and "DB/#objects\tN". The scratch
 * database is dropped in every outcome; the password reaches the client
 * only through a 0600 file in a private folder removed before returning.
 * DB is the database as restore_dump_dbs() names it (what `restore --db`
 * takes: a mysql+ssh dump's name decoded by its manifest), bytes below
 * 0x20 shown as '?'. When renames is not NULL, one "OLD\tDB" line per
 * dump is appended to it, OLD being the key earlier versions of tisbackup
 * gave that dump (its file name without ".sql.gz" and "-STAMP", the
 * manifest ignored), to read the counts they wrote. *ndumps is the number
 * of dumps loaded. 0 or -1 + err.
 */
int verify_dumps(const struct job *job, const char *kind, const struct verify_srv *s,
                 const char *loc, struct strv *counts, struct strv *renames, int *ndumps,
                 struct err *err);

/*
 * Compare a sample of the regular files of the snapshot folder loc (a
 * backup of job, an rsync-based driver, started at started) with the
 * source, over the backup's own transport, without transferring them:
 * verify_sample % of the files (at least one), drawn with verify_seed
 * (else a new seed; both are in the log). The summary goes to log,
 * the files compared and their bytes to st. 0 when every sampled file
 * matches, or changed at the source since started, or is gone from it
 * (these are named in log); -1 + err naming the files whose content
 * differs while the source's copy is older than the backup (damaged),
 * or why the comparison could not run.
 */
int verify_files(const struct job *job, const char *loc, time_t started, struct buf *log,
                 struct drv_stats *st, struct err *err);

/*
 * Read every file of the one-file backup loc (a file, or a folder of
 * files) to its end with the check its kind carries (verify_onefile.c:
 * the XVA stream verifier, gzip's CRC, libarchive, a SHA manifest); a
 * single file's size is compared with catalog_bytes when above 0. The
 * summary goes to log, the files and bytes read to st. 0, or -1 + err
 * naming the damaged file and what is wrong.
 */
int verify_onefile(const char *loc, long long catalog_bytes, struct buf *log, struct drv_stats *st,
                   struct err *err);

#endif
