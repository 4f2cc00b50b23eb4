/*
 * Quoting words for the two command-line parsers we must feed strings to:
 *  - the remote POSIX shell that ssh runs a command through;
 *  - rsync's own splitter for the -e (remote shell) option.
 * Everything else is an argv array and needs no quoting.
 */
#ifndef TB_QUOTE_H
#define TB_QUOTE_H

#include "util/buf.h"

/*
 * Append word to b quoted for a POSIX shell: 'single quotes', a quote
 * inside as '\''. Safe for every byte string (newlines, $, `, non-UTF-8).
 * Returns 0, or -1 if b's limit would be passed (b is then left as it was).
 */
int quote_sh_word(struct buf *b, const char *word);
/* The words of argv (NULL-terminated), each quoted, joined by spaces. Caller frees. */
char *quote_sh_argv(const char *const *argv);

/*
 * Append word to b quoted for rsync's -e splitter (words split on spaces;
 * '...' or "..." quote, a doubled quote character inside stands for
 * itself). Every word is wrapped in '...' with each ' doubled ("a'b" gives
 * 'a''b'). Returns 0, or -1 on limit (b is then left as it was).
 */
int quote_rsh_word(struct buf *b, const char *word);
/* The words of argv quoted for rsync -e, joined by spaces. Caller frees. */
char *quote_rsh_argv(const char *const *argv);

#endif
