/*
 * The files of src/web/static/, embedded into the binary at build time by
 * tools/embed.c (the generated static_files.c defines the table, sorted
 * by path). Served under /static/ with their ETag; / and /login are
 * index.html and login.html.
 */
#ifndef TB_WEB_STATIC_H
#define TB_WEB_STATIC_H

#include <stddef.h>

struct static_file {
	const char *path;         /* file name inside src/web/static/ */
	const char *content_type; /* from the extension */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted, "\"0123456789abcdef\"" */
};

extern const struct static_file static_files[];
extern const size_t static_nfiles;

/* The embedded file called path (no leading slash), or NULL. */
const struct static_file *static_find(const char *path);

#endif
