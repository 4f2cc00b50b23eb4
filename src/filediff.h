/*
 * A unified diff between two versions of a single-file backup (a switch's
 * configuration, a dump), by diff(1) run through spawn.c: the web API's
 * diff view and the "configuration changed" alert use it.
 */
#ifndef TB_FILEDIFF_H
#define TB_FILEDIFF_H

#include "util/buf.h"
#include "util/err.h"

#define FILEDIFF_TIMEOUT_SEC 60

/*
 * Append `diff -u --label la --label lb -- a b` to out (empty when the
 * files are identical). *over is set to 1 when out's limit cut the diff
 * short (what fits is kept, line by line). 0, or -1 + err when diff could
 * not run or failed (exit status above 1: a file is missing or unreadable).
 */
int filediff(const char *a, const char *b, const char *la, const char *lb, struct buf *out,
             int *over, struct err *err);

#endif
