/*
 * What a dry run (-d) prints: the commands it would run, one argument a
 * line, readable and still valid for a POSIX shell when pasted.
 */
#ifndef TB_DRYRUN_H
#define TB_DRYRUN_H

#include "util/buf.h"

/*
 * Append word to b for display: as is when it holds only characters a
 * shell leaves alone (letters, digits, and _ . / : @ % + = , -), in
 * "double quotes" when it holds a ' but nothing a shell expands inside
 * double quotes ($ ` \ " !), else 'single quoted' (quote_sh_word()).
 */
void dryrun_word(struct buf *b, const char *word);

/*
 * Log at INFO under name "dry run: would run:" then each word of argv
 * (NULL-terminated) on its own line, indented, every line but the last
 * ending in " \" like a shell continuation.
 */
void dryrun_show_argv(const char *name, const char *const *argv);

#endif
