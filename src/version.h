/*
 * What `tisbackup --version` prints: the version, then the features this
 * build has, each list read from its table (drivers, queue and catalog
 * backends) and whether libcurl, loaded on first use, can be loaded here.
 */
#ifndef TB_VERSION_H
#define TB_VERSION_H

#include <stdio.h>

/* Print the version and the features to f. */
void version_print(FILE *f);

#endif
