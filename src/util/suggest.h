/*
 * "Did you mean ...?": the closest of a list of known words to a word the
 * user typed (a key, an action, a subcommand), by edit distance.
 */
#ifndef TB_SUGGEST_H
#define TB_SUGGEST_H

#include <stddef.h>

/*
 * Levenshtein distance between a and b (insert, delete, substitute one
 * byte). SIZE_MAX when either is longer than 64 bytes: the words compared
 * here are short, and a long one is never a typo of a short one.
 */
size_t suggest_distance(const char *a, const char *b);

/*
 * The word of cands[0..n) closest to word, when it is at most maxdist
 * edits away and differs from word; NULL otherwise. The first of equally
 * close words wins (list the likelier ones first). NULL entries are
 * skipped.
 */
const char *suggest_pick(const char *word, const char *const *cands, size_t n, size_t maxdist);

#endif
