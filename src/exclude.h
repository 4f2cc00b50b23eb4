/*
 * exclude_list values, parsed as data (the original eval()s them as Python).
 * Two accepted spellings:
 *   "/proc/..","/sys/.."        a comma list of quoted patterns ('' or "")
 *   --exclude /proc --exclude=/sys  the legacy rsync-option form
 */
#ifndef TB_EXCLUDE_H
#define TB_EXCLUDE_H

#include "util/err.h"
#include "util/strv.h"

/*
 * Append each pattern of value to out. An empty or blank value gives no
 * pattern. Malformed input (unterminated quote, missing comma, text
 * outside quotes, empty legacy option) returns -1 with err saying what
 * and at which character; out is then left unchanged.
 */
int exclude_parse(const char *value, struct strv *out, struct err *err);

#endif
