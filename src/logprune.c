/*
 * Run-log pruning (see logprune.h). One pass over {base}/log with the
 * folder open, so a file is judged and removed by the same name relative
 * to the same folder (fstatat/unlinkat, no symlink followed).
 */
#include "logprune.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util/fsutil.h"

/* [global] log_retention_days (validated at load as a non-negative integer). */
static long
retention_days(const struct config *cfg)
{
	const char *v = config_global_get(cfg, "log_retention_days");

	return v != NULL ? strtol(v, NULL, 10) : LOGPRUNE_DEFAULT_DAYS;
}

int
logprune_run(const struct config *cfg, time_t now, int dry_run)
{
	long days;
	char *dir = NULL;
	time_t cutoff;
	struct dirent *de;
	DIR *d = NULL;
	int n = 0, failed = 0;

	if (cfg == NULL || cfg->backup_base_dir == NULL)
		return 0; /* callers (tests) that drive cleanup without a configuration */
	days = retention_days(cfg);
	if (days == 0)
		return 0;
	dir = fs_join(cfg->backup_base_dir, "log");
	cutoff = now - (time_t)days * 86400;
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warning(NULL, "cleanup: run logs in %s not pruned: %s", dir,
			            strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (fnmatch("tisbackup_*.log", de->d_name, FNM_PERIOD) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
			continue;
		if (dry_run) {
			log_info(NULL, "dry run: would remove run log %s/%s (%ld days old)", dir,
			         de->d_name, (long)((now - st.st_mtime) / 86400));
		} else if (unlinkat(dirfd(d), de->d_name, 0) == -1) {
			log_warning(NULL, "cleanup: cannot remove run log %s/%s: %s", dir,
			            de->d_name, strerror(errno));
			failed++;
			continue;
		}
		n++;
	}
	if (n > 0 && !dry_run)
		log_info(NULL, "cleanup: removed %d run log%s older than %ld days from %s", n,
		         n > 1 ? "s" : "", days, dir);
	if (failed > 0)
		log_warning(NULL, "cleanup: %d run log%s could not be removed", failed,
		            failed > 1 ? "s" : "");
out:
	if (d != NULL)
		closedir(d);
	free(dir);
	return n;
}
