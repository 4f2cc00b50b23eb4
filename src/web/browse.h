/*
 * The snapshot browser of `serve` (browse.c, browse_tar.c): listings,
 * search by name, downloads of one file (ranges) and of a folder as a
 * streamed tar or tar.gz. See docs/web-api.md "Snapshot browser".
 */
#ifndef TB_WEB_BROWSE_H
#define TB_WEB_BROWSE_H

#include <sys/stat.h>

#include "util/err.h"

struct browse_tar;

/*
 * A tar (gzip: tar.gz) of the folder open as dirfd (taken: closed with
 * the stream), its entries named under top; st is the folder's own stat.
 * label names it in the log. 0 and *out (free with browse_tar_free), or
 * -1 + err.
 */
int browse_tar_new(int dirfd, const char *top, const struct stat *st, int gzip, const char *label,
                   struct browse_tar **out, struct err *err);
/*
 * The next bytes of the stream (struct reply's stream contract): 1..max
 * bytes into p, 0 at the end, -1 on an error (logged).
 */
long browse_tar_read(void *cls, char *p, size_t max);
/* Free a stream (a struct browse_tar *); NULL is ignored. */
void browse_tar_free(void *cls);

#endif
