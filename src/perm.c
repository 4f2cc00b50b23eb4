/*
 * [global] group (see perm.h): chown(-1, gid) and a few mode bits, on the
 * folders and files checknagios reads. Called by the writing actions
 * before and after their run, so folders and files made by the run get
 * the group too.
 */
#include "perm.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "jobconf.h"
#include "log.h"
#include "util/fsutil.h"

int
perm_group(const struct config *cfg, gid_t *gid, struct err *err)
{
	const char *name = config_global_get(cfg, "group");
	struct group *gr;
	char *end;
	long n;

	if (name == NULL || name[0] == '\0')
		return 0;
	errno = 0;
	n = strtol(name, &end, 10);
	if (*end == '\0' && n >= 0 && errno == 0) {
		*gid = (gid_t)n;
		return 1;
	}
	gr = getgrnam(name);
	if (gr == NULL) {
		err_set(err,
		        "%s: [global] group: no group '%s' on this system: create it (groupadd %s) "
		        "or fix the name",
		        cfg->path, name, name);
		return -1;
	}
	*gid = gr->gr_gid;
	return 1;
}

/* Give path to gid with mode bits add (on top of its own); 0, or -1 (logged). */
static int
give(const char *path, gid_t gid, mode_t add)
{
	struct stat sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warning(NULL, "[global] group: %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
		return 0; /* never follow or change a link */
	if (sb.st_gid != gid && lchown(path, (uid_t)-1, gid) == -1) {
		log_warning(NULL, "[global] group: cannot give %s to group %u: %s", path,
		            (unsigned)gid, strerror(errno));
		return -1;
	}
	if ((sb.st_mode & add) != add && chmod(path, (sb.st_mode & 07777) | add) == -1) {
		log_warning(NULL, "[global] group: cannot make %s readable by its group: %s", path,
		            strerror(errno));
		return -1;
	}
	return 0;
}

int
perm_apply(const struct config *cfg, gid_t gid)
{
	const mode_t dir_bits = S_ISGID | S_IRGRP | S_IXGRP;
	char *logdir = fs_join(cfg->backup_base_dir, "log");
	struct dirent *de;
	DIR *d;
	int bad = 0;

	bad += give(cfg->backup_base_dir, gid, S_IRGRP | S_IXGRP) == -1;
	bad += give(logdir, gid, dir_bits) == -1;
	if ((d = opendir(logdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *p;

			if (de->d_name[0] == '.')
				continue;
			p = fs_join(logdir, de->d_name);
			/* The catalog, its -wal/-shm, the run logs: read, never write. */
			if (de->d_type == DT_REG || de->d_type == DT_UNKNOWN)
				bad += give(p, gid, S_IRGRP) == -1;
			free(p);
		}
		closedir(d);
	}
	for (size_t i = 0; i < cfg->njobs; i++)
		bad += give(cfg->jobs[i].dir, gid, dir_bits) == -1;
	free(logdir);
	return bad;
}
