/*
 * checknagios: the monitoring verdict of the selected jobs (nagios.c),
 * read from the catalog. A missing catalog is not an error here: every
 * job is then reported as never backed up.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "catalog.h"
#include "config.h"
#include "nagios.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

/*
 * When the catalog cannot be read for lack of permission (NRPE runs
 * checknagios as an unprivileged user): what to do, else "".
 */
static const char *
permission_hint(const char *path, const char *base)
{
	static char hint[2 * PATH_MAX + 320];
	char dir[PATH_MAX];
	size_t blen = strlen(base);

	if (access(path, R_OK) == 0 || (errno != EACCES && errno != EPERM))
		return "";
	while (blen > 1 && base[blen - 1] == '/')
		blen--;
	/*
	 * A folder above backup_base_dir that this user cannot enter: the
	 * group key does not reach it (a /backup made 0750 by the first run).
	 */
	snprintf(dir, sizeof dir, "%s", path);
	for (char *s = strchr(dir + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		size_t n = (size_t)(s - dir);

		*s = '\0';
		if (n < blen && strncmp(dir, base, n) == 0 && base[n] == '/' &&
		    access(dir, X_OK) == -1 && errno == EACCES) {
			snprintf(
			    hint, sizeof hint,
			    " (a permission problem: this user cannot enter %s, a folder above "
			    "backup_base_dir, which [global] group does not change: make it "
			    "searchable, chmod o+x %s, or give it to the group)",
			    dir, dir);
			return hint;
		}
		*s = '/';
	}
	return " (a permission problem: give checknagios's user read access with [global] "
	       "group = GROUP in the configuration and add the user to that group; the next "
	       "backup applies it)";
}

int
action_checknagios(const struct action_ctx *a)
{
	char *path = config_catalog_address(a->cfg);
	struct catalog *cat = NULL;
	const struct job **all;
	struct err err;
	int rc;

	/*
	 * Without TZ, glibc's mktime() stats /etc/localtime on every call to
	 * see whether it changed: hundreds of stats per check. Naming the same
	 * file in TZ reads it once; this process lives for one check.
	 */
	if (getenv("TZ") == NULL && access("/etc/localtime", R_OK) == 0)
		setenv("TZ", ":/etc/localtime", 0);
	catalog_single_threaded(); /* one thread, one read */
	err_clear(&err);
	if (catalog_open(path, CATALOG_RO, &cat, &err) == -1 && err.code != ENOENT) {
		printf("UNKNOWN : cannot read the catalog: %s%s\n", err.msg,
		       permission_hint(path, a->cfg->backup_base_dir));
		free(path);
		return 3;
	}
	free(path);
	/* The selected jobs that cannot run are CRITICAL, with the reason. */
	all = xcalloc(a->njobs + a->ninvalid + 1, sizeof *all);
	memcpy(all, a->jobs, a->njobs * sizeof *all);
	if (a->ninvalid > 0)
		memcpy(all + a->njobs, a->invalid, a->ninvalid * sizeof *all);
	rc = nagios_run(cat, all, a->njobs + a->ninvalid, time(NULL), stdout);
	free(all);
	if (cat != NULL)
		catalog_close(cat);
	return rc;
}
