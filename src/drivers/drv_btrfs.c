/*
 * The two btrfs drivers, thin descriptors over the rsync drivers' code:
 *  - rsync+btrfs+ssh pulls remote_user@server:remote_dir/ over ssh;
 *  - rsync+btrfs pulls remote_user@server::module/remote_dir/ from an
 *    rsync daemon.
 * Both update one working copy, the subvolume {job}/last_backup, in place
 * (no --link-dest: unchanged files cost nothing, not even a hardlink),
 * then take a read-only snapshot of it named {job}/STAMP in one atomic
 * step (btrfs commits the snapshot's data before the name appears), so a
 * STAMP name always means a complete backup and a crash during rsync
 * leaves only the working copy changed. Cleanup deletes a snapshot as a
 * subvolume, O(1) for user space, and commits once per cleanup run.
 *
 * The argv, the --stats parser, the run of rsync and the exit-code policy
 * are the rsync drivers' (rsync.h); what is here is btrfs: the preflight
 * (job folder on btrfs, last_backup a subvolume or absent), the snapshot,
 * and the layout, expire and register hooks. Every btrfs operation goes
 * through libbtrfsutil with descriptors of the folders (openat-relative:
 * no path race, no nested snapshot), never through the btrfs command.
 * docs/btrfs.md has the layout on disk and how to convert a job folder.
 */
#include "drivers/driver.h"
#include "drivers/rsync.h"
#include "drivers/snapdir.h"
#include "drivers/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "btrfsload.h"
#include "config.h"
#include "log.h"
#include "util/fsutil.h"
#include "util/rmtree.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

/* The working copy rsync updates; never a backup, never swept. */
#define WORKING_COPY "last_backup"
/* The inode number of every subvolume's root directory on btrfs. */
#define BTRFS_SUBVOL_ROOT_INO 256

/* What differs between the two drivers. */
struct btrfs_flavour {
	enum rsync_transport transport;
	const char *other_type; /* the hardlink driver to suggest off btrfs */
};

static const struct btrfs_flavour flavour_ssh = { RSYNC_OVER_SSH, "rsync+ssh" };
static const struct btrfs_flavour flavour_daemon = { RSYNC_DAEMON, "rsync" };

/* Both drivers' catalog log line starts with these words (SPEC-drivers §1.6). */
#define LOG_WORDS "ssh+rsync+btrfs"

static const struct drv_key btrfs_ssh_required[] = {
	{ "remote_user", KEY_STR, "root" },
	{ "remote_dir", KEY_STR, NULL },
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key btrfs_ssh_optional[] = {
	{ "compression", KEY_BOOL, "no" },
	{ "compressionlevel", KEY_INT, NULL },
	{ "bwlimit", KEY_INT, NULL },
	{ "ssh_port", KEY_PORT, "22" },
	{ "exclude_list", KEY_EXCLUDE, NULL },
	{ "protect_args", KEY_BOOL, "yes" },
	{ "overload_args", KEY_STR, NULL },
	{ "cipher_spec", KEY_STR, NULL },
	{ "snapshot_readonly", KEY_BOOL, "yes" }, /* no: the original's writable snapshots */
	/* additions (docs/restore.md): -H, -A, -X; off by default, like the original */
	{ "preserve_hardlinks", KEY_BOOL, "no" },
	{ "preserve_acls", KEY_BOOL, "no" },
	{ "preserve_xattrs", KEY_BOOL, "no" },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key btrfs_daemon_required[] = {
	{ "remote_user", KEY_STR, "root" },
	{ "remote_dir", KEY_STR, NULL },
	{ "rsync_module", KEY_STR, NULL },
	{ "password_file", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key btrfs_daemon_optional[] = {
	{ "compression", KEY_BOOL, "no" },
	{ "compressionlevel", KEY_INT, NULL },
	{ "bwlimit", KEY_INT, NULL },
	{ "exclude_list", KEY_EXCLUDE, NULL },
	{ "protect_args", KEY_BOOL, "yes" },
	{ "overload_args", KEY_STR, NULL },
	{ "rsync_port", KEY_PORT, "873" },
	{ "snapshot_readonly", KEY_BOOL, "yes" },
	/* additions (docs/restore.md): -H, -A, -X; off by default, like the original */
	{ "preserve_hardlinks", KEY_BOOL, "no" },
	{ "preserve_acls", KEY_BOOL, "no" },
	{ "preserve_xattrs", KEY_BOOL, "no" },
	{ NULL, KEY_STR, NULL },
};

/*
 * libbtrfsutil's words for a failure, and errno's (saved by the caller
 * right after the call) when it set one, into buf.
 */
static const char *
btrfs_why(enum btrfs_util_error e, int errnum, char *buf, size_t n)
{
	if (errnum != 0)
		snprintf(buf, n, "%s: %s", btrfs_util_strerror(e), strerror(errnum));
	else
		snprintf(buf, n, "%s", btrfs_util_strerror(e));
	return buf;
}

/*
 * 0 if the folder open as fd is on btrfs, else -1 + err saying what to
 * do. path and type only make the message.
 */
static int
check_on_btrfs(int fd, const char *path, const char *type, const char *other_type, struct err *err)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) == -1) {
		err_sys(err, errno, "examining the filesystem of %s", path);
		return -1;
	}
	if ((unsigned long)sf.f_type != (unsigned long)BTRFS_SUPER_MAGIC) {
		err_set(err,
		        "%s is not on a btrfs filesystem: type %s keeps each backup as a btrfs "
		        "snapshot. Put backup_base_dir on btrfs (see docs/btrfs.md), or use type "
		        "= %s",
		        path, type, other_type);
		return -1;
	}
	return 0;
}

/*
 * The working copy of the job folder open as jobfd, checked: *lbfd is
 * it, open, or -1 when it does not exist yet. A plain folder, anything
 * not a folder or a read-only subvolume is an error with the remedy.
 */
static int
open_working_copy(int jobfd, const struct job *job, int *lbfd, struct err *err)
{
	enum btrfs_util_error e;
	struct stat sb;
	char why[256];
	bool ro = false;
	int fd, errnum;

	*lbfd = -1;
	if (fstatat(jobfd, WORKING_COPY, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		err_sys(err, errno, "examining %s/" WORKING_COPY, job->dir);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		err_set(err,
		        "%s/" WORKING_COPY " is not a folder: move it away, and the next run "
		        "creates the btrfs subvolume it needs",
		        job->dir);
		return -1;
	}
	fd = openat(jobfd, WORKING_COPY, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "opening %s/" WORKING_COPY, job->dir);
		return -1;
	}
	errno = 0;
	e = btrfs_util_is_subvolume_fd(fd);
	errnum = errno;
	if (e == BTRFS_UTIL_ERROR_NOT_SUBVOLUME) {
		err_set(err,
		        "%s/" WORKING_COPY " is a plain folder, not a btrfs subvolume (a job "
		        "converted from another type?): move it away (mv %s/" WORKING_COPY
		        " %s/" WORKING_COPY ".old) and the next run creates the subvolume and "
		        "copies everything again; docs/btrfs.md shows how to keep its data",
		        job->dir, job->dir, job->dir);
		goto fail;
	}
	if (e != BTRFS_UTIL_OK) {
		err_set(err, "checking %s/" WORKING_COPY ": %s", job->dir,
		        btrfs_why(e, errnum, why, sizeof why));
		goto fail;
	}
	errno = 0;
	e = btrfs_util_get_subvolume_read_only_fd(fd, &ro);
	errnum = errno;
	if (e != BTRFS_UTIL_OK) {
		err_set(err, "checking %s/" WORKING_COPY ": %s", job->dir,
		        btrfs_why(e, errnum, why, sizeof why));
		goto fail;
	}
	if (ro) {
		err_set(err,
		        "%s/" WORKING_COPY " is a read-only subvolume, which rsync cannot update: "
		        "btrfs property set -ts %s/" WORKING_COPY " ro false",
		        job->dir, job->dir);
		goto fail;
	}
	*lbfd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Create the working copy as an empty subvolume of jobfd and open it into *lbfd. */
static int
create_working_copy(int jobfd, const struct job *job, int *lbfd, struct err *err)
{
	enum btrfs_util_error e;
	char why[256];
	int errnum;

	errno = 0;
	e = btrfs_util_create_subvolume_fd(jobfd, WORKING_COPY, 0, NULL, NULL);
	errnum = errno;
	if (e != BTRFS_UTIL_OK) {
		err_set(err, "creating the subvolume %s/" WORKING_COPY ": %s", job->dir,
		        btrfs_why(e, errnum, why, sizeof why));
		return -1;
	}
	log_info(job->name, "created the btrfs subvolume %s/" WORKING_COPY, job->dir);
	*lbfd = openat(jobfd, WORKING_COPY, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*lbfd == -1) {
		err_sys(err, errno, "opening %s/" WORKING_COPY, job->dir);
		return -1;
	}
	return 0;
}

/*
 * Snapshot the working copy lbfd as jobfd/stamp, read-only unless
 * snapshot_readonly = no. The working copy's root gets the current time
 * first: the snapshot inherits it, so its mtime is the end of the run.
 * An existing stamp is an error, never a snapshot nested inside it.
 */
static int
take_snapshot(int jobfd, int lbfd, const struct job *job, const char *stamp, struct err *err)
{
	int ro = job_get_bool(job, "snapshot_readonly", 1), errnum;
	enum btrfs_util_error e;
	char why[256];

	if (futimens(lbfd, NULL) == -1) {
		err_sys(err, errno, "setting the time of %s/" WORKING_COPY, job->dir);
		return -1;
	}
	errno = 0;
	e = btrfs_util_create_snapshot_fd2(
	    lbfd, jobfd, stamp, ro ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0, NULL, NULL);
	errnum = errno;
	if (e == BTRFS_UTIL_OK)
		return 0;
	if (errnum == EEXIST)
		err_set(err,
		        "snapshot %s/%s already exists (something else made it): not replaced; "
		        "this run's data stays in %s/" WORKING_COPY " and the next run snapshots "
		        "it",
		        job->dir, stamp, job->dir);
	else
		err_set(err, "snapshotting %s/" WORKING_COPY " as %s/%s: %s", job->dir, job->dir,
		        stamp, btrfs_why(e, errnum, why, sizeof why));
	return -1;
}

/* The backup of both drivers; fl says which. */
static int
btrfs_backup(struct drv_run *run, const struct btrfs_flavour *fl, struct drv_stats *st,
             struct err *err)
{
	const struct job *job = run->job;
	const char *type = job->drv->name;
	int ro = job_get_bool(job, "snapshot_readonly", 1);
	struct rsync_pull p = { .transport = fl->transport, .link_dest = 0 };
	struct rsync_stats rs;
	char *work = fs_join(job->dir, WORKING_COPY), *source = rsync_source(job, fl->transport);
	int jobfd = -1, lbfd = -1, rc = -1, partial = 0, warned = 0;

	p.dest = work;
	if (rsync_check_transport(job, fl->transport, err) == -1 || btrfsload(err) == -1)
		goto out;
	/* The preflight: before any transfer, whatever it would cost. */
	jobfd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jobfd == -1 && !(run->dry_run && errno == ENOENT)) {
		err_sys(err, errno, "opening the job folder %s", job->dir);
		goto out;
	}
	if (jobfd != -1 && (check_on_btrfs(jobfd, job->dir, type, fl->other_type, err) == -1 ||
	                    open_working_copy(jobfd, job, &lbfd, err) == -1))
		goto out;

	if (run->dry_run) {
		if (lbfd == -1)
			log_info(job->name, "dry run: would create the btrfs subvolume %s", work);
		if (rsync_pull(run, &p, &rs, &partial, &warned, err) == -1)
			goto out;
		log_info(job->name, "dry run: then snapshot %s as %s/%s (%s)", work, job->dir,
		         run->stamp, ro ? "read-only" : "writable");
		rc = 0;
		goto out;
	}

	if (lbfd == -1 && create_working_copy(jobfd, job, &lbfd, err) == -1)
		goto out;
	/*
	 * A failed transfer leaves only the working copy changed: no
	 * snapshot, no location (the row must not point at last_backup).
	 * rsync_pull() fails exit 23 without a single source file too, so
	 * the previous run's data is never snapshotted as a new backup.
	 */
	if (rsync_pull(run, &p, &rs, &partial, &warned, err) == -1)
		goto out;
	if (warned)
		st->warnings = 1;
	if (take_snapshot(jobfd, lbfd, job, run->stamp, err) == -1)
		goto out;
	st->location = fs_join(job->dir, run->stamp);
	st->total_files = rs.total_files;
	st->written_files = rs.written_files;
	st->total_bytes = rs.total_bytes;
	st->written_bytes = rs.written_bytes;
	st->partial = partial;
	st->log = rsync_log_line(LOG_WORDS, source, &rs);
	rc = 0;
out:
	if (lbfd != -1)
		close(lbfd);
	if (jobfd != -1)
		close(jobfd);
	free(work);
	free(source);
	return rc;
}

static int
btrfs_ssh_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	return btrfs_backup(run, &flavour_ssh, st, err);
}

static int
btrfs_daemon_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	return btrfs_backup(run, &flavour_daemon, st, err);
}

/*
 * A run of stamp creates the snapshot STAMP and nothing else: the
 * snapshot appears whole, so there is no staging name. The classify is
 * the snapshot folders' (drivers/snapdir.h): STAMP is a backup, and the
 * STAMP.rsync and STAMP.partial a job converted from another type left
 * are still swept; last_backup is nobody's backup.
 */
static size_t
btrfs_names(const struct job *job, const char *stamp, char **names)
{
	(void)job;
	names[0] = xstrdup(stamp);
	return 1;
}

static const struct drv_layout btrfs_layout = {
	.classify = snapdir_classify,
	.names = btrfs_names,
};

/*
 * The expire hook: a snapshot is deleted as a subvolume (nested ones
 * too, which the original's writable snapshots could get by accident);
 * a plain folder in the job folder (a converted job's old snapshots, a
 * leftover STAMP.rsync) goes like the local removal does; a folder on
 * another filesystem that is no subvolume is a mount point, left alone.
 */
static int
btrfs_expire(const struct drv_expire *x, struct err *err)
{
	enum btrfs_util_error e;
	char why[256];
	int fd, errnum;

	if (!x->other_fs)
		return rmtree_at(x->dirfd, x->name, err);
	if (btrfsload(err) == -1)
		return -1;
	fd = openat(x->dirfd, x->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "opening %s", x->location);
		return -1;
	}
	e = btrfs_util_is_subvolume_fd(fd);
	close(fd);
	if (e == BTRFS_UTIL_ERROR_NOT_SUBVOLUME || e == BTRFS_UTIL_ERROR_NOT_BTRFS) {
		err_set(err,
		        "a mount point (another filesystem), not a btrfs subvolume: left alone");
		return -1;
	}
	errno = 0;
	e = btrfs_util_delete_subvolume_fd(x->dirfd, x->name, 0);
	errnum = errno;
	if (e != BTRFS_UTIL_OK && errnum == ENOTEMPTY) {
		/* Subvolumes inside it: delete them first. */
		errno = 0;
		e = btrfs_util_delete_subvolume_fd(x->dirfd, x->name,
		                                   BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
		errnum = errno;
	}
	if (e == BTRFS_UTIL_OK)
		return 0;
	if (errnum == EPERM || errnum == EACCES)
		err_set(err,
		        "deleting the btrfs subvolume: %s: deleting a subvolume needs "
		        "CAP_SYS_ADMIN (run cleanup as root), or the filesystem mounted with the "
		        "user_subvol_rm_allowed option",
		        btrfs_why(e, errnum, why, sizeof why));
	else
		err_set(err, "deleting the btrfs subvolume: %s",
		        btrfs_why(e, errnum, why, sizeof why));
	return -1;
}

/*
 * After the deletions of a cleanup run: commit the filesystem once, as
 * btrbk's "btrfs_commit_delete after" does, so the deleted snapshots are
 * gone on disk and df shows the space the cleaner thread gives back.
 */
static int
btrfs_expire_commit(const struct job *job, struct err *err)
{
	enum btrfs_util_error e;
	uint64_t transid = 0;
	char why[256];
	int fd, errnum;

	if (btrfsload(err) == -1)
		return -1;
	fd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "opening %s", job->dir);
		return -1;
	}
	errno = 0;
	e = btrfs_util_start_sync_fd(fd, &transid);
	if (e == BTRFS_UTIL_OK)
		e = btrfs_util_wait_sync_fd(fd, transid);
	errnum = errno;
	close(fd);
	if (e != BTRFS_UTIL_OK) {
		err_set(err, "committing the deletions on %s: %s", job->dir,
		        btrfs_why(e, errnum, why, sizeof why));
		return -1;
	}
	return 0;
}

/*
 * register_existing: the STAMP entries of the job folder that are btrfs
 * subvolumes (a subvolume's root is inode 256 on btrfs). A plain folder
 * named STAMP is no snapshot of this driver (a converted job's, already
 * registered under its old type): it is skipped, with a note.
 */
static int
accept_snapshot(const struct job *job, const char *name, const struct stat *st)
{
	if (S_ISDIR(st->st_mode) && st->st_ino == BTRFS_SUBVOL_ROOT_INO)
		return 1;
	log_info(job->name, "%s/%s: named like a backup, but not a btrfs snapshot: not registered",
	         job->dir, name);
	return 0;
}

static int
btrfs_register(const struct job *job, drv_found_fn found, void *arg, struct err *err)
{
	int fd, rc;

	if ((fd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		err_sys(err, errno, "reading %s", job->dir);
		return -1;
	}
	rc = check_on_btrfs(fd, job->dir, job->drv->name,
	                    job->drv->caps & DRV_CAP_SSH ? "rsync+ssh" : "rsync", err);
	close(fd);
	if (rc == -1)
		return -1;
	return driver_scan_finished(job, accept_snapshot, found, arg, err);
}

/*
 * Restore hooks: a snapshot subvolume has the rsync drivers' layout, so it
 * goes back the same way (restore_rsync_push()).
 */
static int
btrfs_ssh_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	return restore_rsync_push(r, RSYNC_OVER_SSH, st, err);
}

static int
btrfs_daemon_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	return restore_rsync_push(r, RSYNC_DAEMON, st, err);
}

const struct driver drv_rsync_btrfs_ssh = {
	.name = "rsync+btrfs+ssh",
	.description = "Pulls a remote folder over ssh with rsync into a btrfs subvolume "
	               "(last_backup), then keeps a read-only btrfs snapshot of it per backup.",
	.required = btrfs_ssh_required,
	.optional = btrfs_ssh_optional,
	.caps = DRV_CAP_SSH | DRV_CAP_SUBVOLUME,
	.backup = btrfs_ssh_backup,
	.layout = &btrfs_layout,
	.expire = btrfs_expire,
	.expire_commit = btrfs_expire_commit,
	.register_existing = btrfs_register,
	.restore = btrfs_ssh_restore,
	.verify_kind = "files",
};

const struct driver drv_rsync_btrfs = {
	.name = "rsync+btrfs",
	.description = "Pulls a folder from an rsync daemon module (password file "
	               "authentication) into a btrfs subvolume (last_backup), then keeps a "
	               "read-only btrfs snapshot of it per backup.",
	.required = btrfs_daemon_required,
	.optional = btrfs_daemon_optional,
	.caps = DRV_CAP_SUBVOLUME,
	.validate = rsync_daemon_validate,
	.backup = btrfs_daemon_backup,
	.layout = &btrfs_layout,
	.expire = btrfs_expire,
	.expire_commit = btrfs_expire_commit,
	.register_existing = btrfs_register,
	.restore = btrfs_daemon_restore,
	.verify_kind = "files",
};
