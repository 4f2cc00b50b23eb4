/*
 * Edit distance and "did you mean" (see suggest.h).
 */
#include <stdint.h>
#include <string.h>

#include "util/suggest.h"

#define SUGGEST_MAX 64

size_t
suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[SUGGEST_MAX + 1], cur[SUGGEST_MAX + 1];

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof *prev);
	}
	return prev[lb];
}

const char *
suggest_pick(const char *word, const char *const *cands, size_t n, size_t maxdist)
{
	const char *best = NULL;
	size_t bestd = maxdist + 1;

	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (cands[i] == NULL)
			continue;
		d = suggest_distance(word, cands[i]);
		if (d > 0 && d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return best;
}
