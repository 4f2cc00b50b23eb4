/*
 * The files of a database-dump snapshot (mysql+ssh, pgsql+ssh): each
 * database's dump under a name that is a safe file name whatever the
 * database is called, and STAMP/manifest.tsv (RESTORE_DUMP_MANIFEST)
 * mapping each file back to its database, which restore_dump_dbs() reads
 * for restore, verify and the web's database list. Kept apart from the
 * drivers so both share one implementation and the unit tests reach it
 * without a server.
 */
#ifndef TB_DRIVERS_DUMPNAME_H
#define TB_DRIVERS_DUMPNAME_H

struct buf;
struct err;

/*
 * The file name part (without any "-STAMP" or ".sql.gz") of database db:
 * db itself, except that '%', '/', control bytes and a leading '.' become
 * %XX (upper-case hex). Reversible (percent-decoding gives db back); for a
 * non-empty db never "." or "..", never a '/'. Returns a string the caller
 * frees.
 */
char *dumpname_file(const char *db);

/*
 * Start a manifest in man: buf_init() with RESTORE_DUMP_MANIFEST_MAX and
 * its header line. The caller frees it with buf_free().
 */
void dumpname_manifest_init(struct buf *man);

/*
 * Append the line "FILE<TAB>DB" to man, db escaped as mysql --batch
 * prints a name (\\, \t, \n; mysql_unescape() reads it back). 0, or -1 +
 * err when the manifest would exceed RESTORE_DUMP_MANIFEST_MAX (then man
 * is left as it was).
 */
int dumpname_manifest_add(struct buf *man, const char *file, const char *db, struct err *err);

/*
 * Write man into dir/manifest.tsv (created, never replaced; mode 0640) and
 * fsync it. 0 or -1 + err naming the file.
 */
int dumpname_manifest_write(const char *dir, const struct buf *man, struct err *err);

#endif
