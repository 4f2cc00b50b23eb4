/*
 * dumpstat: the last a->len catalog rows of each selected job
 * (dumpstat.c formats them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "action.h"
#include "catalog.h"
#include "config.h"
#include "dumpstat.h"
#include "util/fsutil.h"

int
action_dumpstat(const struct action_ctx *a)
{
	char *path = config_catalog_address(a->cfg);
	struct catalog *cat = NULL;
	struct err err;
	int rc = 0;

	err_clear(&err);
	if (catalog_open(path, CATALOG_RO, &cat, &err) == -1) {
		free(path);
		if (err.code == ENOENT) {
			printf("No catalog yet in %s/log: no backup has run.\n",
			       a->cfg->backup_base_dir);
			return 0;
		}
		action_print_err(err.msg);
		return EXIT_RUNTIME;
	}
	free(path);
	if (dumpstat_run(cat, a->jobs, a->njobs, a->len, stdout, &err) == -1) {
		action_print_err(err.msg);
		rc = EXIT_RUNTIME;
	}
	catalog_close(cat);
	return rc;
}
