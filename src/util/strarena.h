/*
 * A string arena: many small strings that live and die together (a
 * configuration's section names, keys and values) carved one after the
 * other out of a few large blocks, freed at once. Beside one malloc per
 * string it saves the allocator's per-chunk header and rounding (a
 * 12-byte key takes 32 bytes of heap) and keeps the strings on as few
 * memory pages as their bytes need: each fresh page is a page fault.
 */
#ifndef TB_STRARENA_H
#define TB_STRARENA_H

#include <stddef.h>

struct strarena_block;

struct strarena {
	struct strarena_block *head; /* the block allocations come from; owned, chained */
	size_t next_size;            /* the size of the next block */
	char *last;                  /* the last string returned, or NULL */
};

/*
 * Start empty; the first block holds `first` bytes (strings and their
 * NULs; a hint, it is taken when the first string is). Later blocks are
 * at least as large. Nothing is allocated yet.
 */
void strarena_init(struct strarena *a, size_t first);

/* Free every string of a; a is empty again (strarena_init's hint kept). */
void strarena_free(struct strarena *a);

/* A NUL-terminated copy of s[0..n-1] (s may hold no NUL there), owned by a. */
char *strarena_ndup(struct strarena *a, const char *s, size_t n);

/*
 * Room for `more` bytes after the len bytes of str, a string this arena
 * returned last (strarena_ndup() or strarena_grow(), nothing since):
 * str itself when its block has room, else a copy of its len bytes in a
 * new string (str is then unused). The caller writes the new bytes and
 * the NUL at len + more. Owned by a.
 */
char *strarena_grow(struct strarena *a, char *str, size_t len, size_t more);

#endif
