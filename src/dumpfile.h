/*
 * Writing a gzip file safely, for drivers that stream a dump (mysqldump,
 * pg_dump) into the backup folder. The data goes into "PATH.partial";
 * only dumpfile_commit() gives the file its final name, after the gzip
 * trailer is written and the file and its folder are fsync()ed, so a name
 * without ".partial" is always a complete gzip stream. A stale
 * "PATH.partial" (left by a crash) is unlinked and created again.
 *
 * Three ways in: dumpfile_open() compresses what it is given;
 * dumpfile_open_gzip() is given a gzip stream already made (pg_dump -Z on
 * the server) and stores it as it comes, inflating it on the way only to
 * check it, so a truncated or corrupt stream never gets the final name;
 * dumpfile_open_raw() stores any bytes unchanged (an XVA, a switch config).
 */
#ifndef TB_DUMPFILE_H
#define TB_DUMPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct dumpfile;

/*
 * Create path + ".partial" (mode 0640, O_EXCL after removing a stale one)
 * and start a gzip stream at zlib level (1..9; 0 or out of range means 6).
 * Returns 0 and *out (release it with dumpfile_abort()), or -1 + err
 * naming the file.
 */
int dumpfile_open(const char *path, int level, struct dumpfile **out, struct err *err);

/*
 * Create path + ".partial" like dumpfile_open(), for bytes that are
 * already a gzip stream (one or more members, as `cat a.gz b.gz` makes):
 * dumpfile_write() stores them unchanged and inflates them to check each
 * member's header, CRC-32 and length; the first invalid byte makes it fail
 * (zlib's reason in err), and dumpfile_commit() refuses a stream that is
 * empty or stops inside a member. 0 and *out, or -1 + err.
 */
int dumpfile_open_gzip(const char *path, struct dumpfile **out, struct err *err);

/*
 * Create path + ".partial" like dumpfile_open(), for bytes stored as they
 * are (no compression, no check of their format). expect >= 0 is the size
 * the stream announced (an HTTP Content-Length): dumpfile_commit() then
 * refuses a file of any other size, so a transfer cut short never gets the
 * final name; -1 accepts any size (the caller must then know the stream
 * ended properly before committing). 0 and *out, or -1 + err.
 */
int dumpfile_open_raw(const char *path, int64_t expect, struct dumpfile **out, struct err *err);

/*
 * Compress and write len bytes (dumpfile_open_gzip(): check and write
 * them; dumpfile_open_raw(): write them). 0 or -1 + err (call dumpfile_abort() then).
 */
int dumpfile_write(struct dumpfile *df, const void *data, size_t len, struct err *err);

/*
 * Finish the stream, fsync the file, rename it to its final path and fsync
 * the folder. 0, or -1 + err (the file keeps its .partial name, which
 * dumpfile_abort() removes). df stays valid for the byte counters.
 */
int dumpfile_commit(struct dumpfile *df, struct err *err);

/*
 * Release df: close the file and, unless dumpfile_commit() succeeded,
 * unlink the .partial file. NULL is a no-op.
 */
void dumpfile_abort(struct dumpfile *df);

/*
 * Uncompressed bytes so far: given to dumpfile_write(), or, for
 * dumpfile_open_gzip(), inflated from what it was given.
 */
uint64_t dumpfile_bytes_in(const struct dumpfile *df);
/* Compressed bytes written to the file so far (all of them after commit). */
uint64_t dumpfile_bytes_out(const struct dumpfile *df);

#endif
