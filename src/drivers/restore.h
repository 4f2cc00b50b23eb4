/*
 * What the drivers' restore hooks share (docs/restore.md):
 *  - restore_rsync.c: a snapshot folder (rsync, btrfs drivers) pushed back
 *    with rsync, to the job's own server and folder, to host:DIR over the
 *    job's ssh, or to a local folder;
 *  - restore_stream.c: a gzip dump inflated here and streamed into a
 *    command on the job's server over ssh (psql, mysql), after a few
 *    bytes of preamble (an option file, SQL) on the same stdin;
 *  - restore_file.c: the generic hook of one-file backups (samba4,
 *    xcp-dump-metadata, switch, ...): the backup's file(s) copied to a
 *    local folder, each verified and staged under a .partial name.
 * The hook contract is struct drv_restore in driver.h.
 */
#ifndef TB_RESTORE_H
#define TB_RESTORE_H

#include <stddef.h>

#include "drivers/driver.h"
#include "drivers/rsync.h"
#include "util/err.h"
#include "util/strv.h"

/* The staging folder rsync uses in each target folder (--delay-updates). */
#define RESTORE_PARTIAL_DIR ".tisbackup-restore.partial"
/* Added to a missing or empty target folder's name: the sibling a restore stages into. */
#define RESTORE_STAGE_SUFFIX ".tisbackup-partial"

/*
 * Restore the snapshot folder r->location of an rsync-based job (transport
 * t: how the job reaches its server) with rsync: every path of r->paths
 * (relative to the snapshot, kept relative under the target; none = the
 * whole snapshot) to r->target ("host:DIR" over the job's ssh options,
 * "DIR" a local folder) or, with r->in_place, to the job's own
 * remote_dir (over ssh, or into the daemon's module). Ownership (numeric
 * ids), modes, times, symlinks, hardlinks, devices and sparse files are
 * restored; ACLs and xattrs when the job keeps them (preserve_acls,
 * preserve_xattrs). Nothing is deleted at the target; a file already
 * there is kept unless r->overwrite. Into a target folder that is
 * missing or empty (--to, local or over ssh), rsync writes the sibling
 * DIR RESTORE_STAGE_SUFFIX (a leftover one is removed first), renamed to
 * DIR at the end: an interrupted restore leaves no DIR (or the empty
 * one) plus that folder. Otherwise (content there, r->in_place) updated
 * files are staged in RESTORE_PARTIAL_DIR and renamed at the end
 * (--delay-updates): an interrupted restore leaves the old files plus
 * that folder. r->dry_run
 * prints on stdout what would change ("rsync --itemize-changes" lines)
 * and changes nothing. 0, or -1 + err (rsync's own words).
 */
int restore_rsync_push(struct drv_restore *r, enum rsync_transport t, struct drv_stats *st,
                       struct err *err);

/* One stream into a command on the job's server (restore_stream_run()). */
struct restore_stream {
	const char *tool;      /* "psql", "mysql": in messages */
	const char *what;      /* the step, in messages: "loading 'db' into 'x' on host" */
	const char *sh_prefix; /* remote shell text before the command ("cd / && "), or NULL */
	/*
	 * Bytes written before the dump (an option file, SQL), wiped from
	 * memory afterwards; may be NULL.
	 */
	const char *preamble;
	size_t preamble_len;
	const char *gz_path; /* the gzip dump inflated after the preamble; NULL: none */
	struct strv *lines;  /* the command's stdout lines when set (bounded), else logged */
	long long bytes;     /* out: bytes of dump sent (inflated) */
	/*
	 * When set, this command runs here (tisbackup verify: a local psql or
	 * mysql client), with local_envp (NULL: spawn's default), instead of
	 * remote over ssh; remote and sh_prefix are then unused.
	 */
	const char *const *local_argv;
	const char *const *local_envp;
};

/*
 * Run remote (an argv quoted once by quote_sh_argv(), after sh_prefix) on
 * r->job's server over ssh, its stdin the preamble then the inflated dump,
 * written by a thread of ours (nothing is staged on the server, no secret
 * in any argv). The run's watchdog applies, with the bytes sent as
 * progress. A dump that does not inflate cleanly (a corrupt or cut gzip
 * file) ends the remote command before its stdin reaches end of file, so
 * the tool never sees a silently truncated script. 0 when the command
 * exited 0 and the whole dump was sent, else -1 + err: what failed, why,
 * and the tool's last lines.
 */
int restore_stream_run(const struct drv_restore *r, const char *const *remote,
                       struct restore_stream *s, struct err *err);

/*
 * The file of the dump of database db in the snapshot folder dir, db
 * named as restore_dump_dbs() lists the databases (a mysql+ssh or
 * pgsql+ssh dump's own name, decoded by the manifest; else the file name
 * without ".sql.gz" and its "-STAMP"). The caller frees it. NULL + err
 * (listing the databases the snapshot holds) when there is none.
 */
char *restore_dump_find(const char *dir, const char *db, struct err *err);

/* The manifest of a mysql+ssh or pgsql+ssh snapshot: "FILE<TAB>DATABASE" lines (dumpname.c). */
#define RESTORE_DUMP_MANIFEST "manifest.tsv"
/* A pgsql+ssh snapshot's dump of the server's roles (pg_dumpall --globals-only): no database. */
#define RESTORE_DUMP_GLOBALS "globals.sql.gz"
/* The largest manifest dumpname.c writes and restore_dump_dbs() reads. */
#define RESTORE_DUMP_MANIFEST_MAX (16 << 20)

/*
 * The databases whose dumps the snapshot folder open as dirfd holds, by
 * the names `restore --db` takes: for a file listed in its manifest
 * (RESTORE_DUMP_MANIFEST, a mysql+ssh or pgsql+ssh snapshot whose file
 * names may be percent-encoded) the database the manifest names, else the
 * file name without ".sql.gz" and without a trailing "-STAMP".
 * globals.sql.gz (the
 * server's roles) is not a database. Pushes the names into dbs and the
 * files' names into files, both sorted by name (the same order); dirfd
 * stays open. 0, or -1 + err (the folder or the manifest unreadable).
 */
int restore_dump_dbs(int dirfd, struct strv *dbs, struct strv *files, struct err *err);

/* The longest target database name (PostgreSQL's 63 bytes, less a staging suffix). */
#define RESTORE_DB_NAME_MAX 54

/*
 * The database to restore, *db (r->db, else the job's db_name), and the
 * name to load it as, *target (r->target, else *db): a name of 1 to
 * RESTORE_DB_NAME_MAX bytes without control characters. Refuses
 * r->paths and r->in_place (file options). 0 or -1 + err.
 */
int restore_db_names(const struct drv_restore *r, const char **db, const char **target,
                     struct err *err);

/* restore_file_copy(), the generic hook of one-file backups: declared in driver.h. */

#endif
