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
#include "util/xmalloc.h"

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

/*
 * The folders above backup_base_dir are not ours to change, but a member
 * of the group must be able to enter them: say which one stops it (a
 * /backup the first run made 0750 root:root, say), once. 1 if one does.
 */
static int
warn_blocked_parent(const char *base, gid_t gid)
{
	static int warned; /* once per process: perm_apply runs before and after a run */
	char *dir = xstrdup(base);
	char *s = dir + strlen(dir);
	struct stat sb;
	int blocked = 0;

	while (s > dir + 1 && s[-1] == '/')
		*--s = '\0';
	while ((s = strrchr(dir, '/')) != NULL && s != dir) {
		*s = '\0';
		if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode))
			break;
		if ((sb.st_mode & S_IXOTH) || (sb.st_gid == gid && (sb.st_mode & S_IXGRP)))
			continue;
		if (!warned++)
			log_warning(
			    NULL,
			    "[global] group: %s (mode %04o, group %u) is above backup_base_dir and "
			    "its group's members cannot enter it, so checknagios run by them "
			    "cannot reach the catalog: chmod o+x %s, or give it to the group",
			    dir, (unsigned)(sb.st_mode & 07777), (unsigned)sb.st_gid, dir);
		blocked = 1;
		break;
	}
	free(dir);
	return blocked;
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
	bad += warn_blocked_parent(cfg->backup_base_dir, gid);
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
