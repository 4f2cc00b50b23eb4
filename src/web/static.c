/*
 * Lookup in the embedded asset table. Names are compared whole, so no
 * path (with "..", "%2e%2e", a slash or anything else) can reach a file
 * that was not in src/web/static/ at build time.
 */
#include "web/static.h"

#include <stdlib.h>
#include <string.h>

static int
cmp(const void *key, const void *elt)
{
	return strcmp(key, ((const struct static_file *)elt)->path);
}

const struct static_file *
static_find(const char *path)
{
	if (static_nfiles == 0)
		return NULL;
	return bsearch(path, static_files, static_nfiles, sizeof static_files[0], cmp);
}
