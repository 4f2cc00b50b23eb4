/*
 * The USB export disk: which block devices are candidates (sysfs), what
 * they hold (libblkid), which one to use (the original's four errors),
 * and mounting it (mount(2)). Nothing here runs a process: the original
 * shelled out to udevadm, dumpe2fs and mount; sysfs and libblkid give
 * the same answers without parsing another tool's output.
 */
#include "usb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "blkidload.h"
#include "log.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define USB_UMOUNT_TRIES 50 /* EBUSY retries, 100 ms apart */

/* One entry of class/block as sysfs describes it. */
struct blockdev {
	char *name;
	char *parent; /* partitions: the disk's name; disks: NULL */
	unsigned long long size;
	char devnum[32]; /* "major:minor" */
	int usb;         /* the resolved path goes through a USB bus */
	int held;        /* holders/ is not empty */
	int part;
};

/* Owned by the caller; freed by mounts_free(). */
struct mount_entry {
	char devnum[32];
	char *path;
};

void
usb_scan_free(struct usb_scan *s)
{
	for (size_t i = 0; i < s->ndisks; i++)
		free(s->disks[i]);
	free(s->disks);
	for (size_t i = 0; i < s->nvols; i++) {
		free(s->vols[i].name);
		free(s->vols[i].devnode);
		free(s->vols[i].disk);
		free(s->vols[i].fstype);
		free(s->vols[i].label);
		free(s->vols[i].mountpoint);
	}
	free(s->vols);
	memset(s, 0, sizeof *s);
}

/* The first line of a sysfs file without its '\n', into out; -1 if unreadable. */
static int
read_line(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "re");
	int rc = -1;

	if (f == NULL)
		return -1;
	if (fgets(out, (int)outsz, f) != NULL) {
		out[strcspn(out, "\n")] = '\0';
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* 1 if path is a folder holding at least one entry. */
static int
dir_nonempty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL)
		found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return found;
}

/* 1 if a component of path is a USB bus ("usb" followed by digits only). */
static int
path_through_usb(const char *path)
{
	const char *p = path;

	while ((p = strstr(p, "/usb")) != NULL) {
		const char *q = p + 4;

		if (*q >= '0' && *q <= '9') {
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q == '/' || *q == '\0')
				return 1;
		}
		p += 4;
	}
	return 0;
}

static int
blockdev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct blockdev *)a)->name, ((const struct blockdev *)b)->name);
}

static void
blockdevs_free(struct blockdev *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].parent);
	}
	free(d);
}

/*
 * Every entry of {root}/class/block, sorted by name. Entries that vanish
 * while we look (a disk being unplugged) are skipped.
 */
static int
blockdevs_read(const char *root, struct blockdev **out, size_t *n, struct err *err)
{
	char *cls = xasprintf("%s/class/block", root);
	struct blockdev *v = NULL;
	size_t cap = 0, len = 0;
	struct dirent *de;
	DIR *d;
	int rc = -1;

	if ((d = opendir(cls)) == NULL) {
		err_sys(err, errno, "listing block devices in %s", cls);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct blockdev b;
		char *entry, *real, *f;
		char line[64];

		if (de->d_name[0] == '.')
			continue;
		memset(&b, 0, sizeof b);
		entry = xasprintf("%s/%s", cls, de->d_name);
		real = realpath(entry, NULL);
		free(entry);
		if (real == NULL)
			continue;
		f = xasprintf("%s/size", real);
		if (read_line(f, line, sizeof line) == 0)
			b.size = strtoull(line, NULL, 10);
		free(f);
		f = xasprintf("%s/dev", real);
		if (read_line(f, b.devnum, sizeof b.devnum) == -1)
			b.devnum[0] = '\0';
		free(f);
		f = xasprintf("%s/partition", real);
		b.part = access(f, F_OK) == 0;
		free(f);
		f = xasprintf("%s/holders", real);
		b.held = dir_nonempty(f);
		free(f);
		b.usb = path_through_usb(real);
		if (b.part) {
			char *slash = strrchr(real, '/');

			*slash = '\0';
			slash = strrchr(real, '/');
			b.parent = xstrdup(slash != NULL ? slash + 1 : real);
		}
		free(real);
		b.name = xstrdup(de->d_name);
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[len++] = b;
	}
	closedir(d);
	if (len > 1)
		qsort(v, len, sizeof *v, blockdev_cmp);
	*out = v;
	*n = len;
	v = NULL;
	rc = 0;
out:
	free(cls);
	free(v);
	return rc;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void
mounts_free(struct mount_entry *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

/*
 * Block devices in use by the system, by device number: mounted ones
 * (/proc/self/mountinfo, with their first mount point) and active swap
 * (/proc/swaps, path "[swap]"). Unreadable files count as empty.
 */
static void
mounts_read(struct mount_entry **out, size_t *n)
{
	struct mount_entry *v = NULL;
	size_t cap = 0, len = 0;
	char *line = NULL;
	size_t linesz = 0;
	FILE *f;

	if ((f = fopen("/proc/self/mountinfo", "re")) != NULL) {
		while (getline(&line, &linesz, f) != -1) {
			/* id parent major:minor root mountpoint ... */
			char *save = NULL, *tok[5];
			int i;

			tok[0] = strtok_r(line, " \n", &save);
			for (i = 1; i < 5 && tok[i - 1] != NULL; i++)
				tok[i] = strtok_r(NULL, " \n", &save);
			if (i < 5 || tok[4] == NULL || strlen(tok[2]) >= sizeof v->devnum)
				continue;
			if (len == cap) {
				cap = cap ? 2 * cap : 32;
				v = xrealloc(v, cap * sizeof *v);
			}
			snprintf(v[len].devnum, sizeof v->devnum, "%s", tok[2]);
			unescape_octal(tok[4]);
			v[len++].path = xstrdup(tok[4]);
		}
		fclose(f);
	}
	if ((f = fopen("/proc/swaps", "re")) != NULL) {
		while (getline(&line, &linesz, f) != -1) {
			char *sp = strpbrk(line, " \t");
			struct stat sb;

			if (line[0] != '/' || sp == NULL)
				continue;
			*sp = '\0';
			if (stat(line, &sb) == -1 || !S_ISBLK(sb.st_mode))
				continue;
			if (len == cap) {
				cap = cap ? 2 * cap : 32;
				v = xrealloc(v, cap * sizeof *v);
			}
			snprintf(v[len].devnum, sizeof v->devnum, "%u:%u", major(sb.st_rdev),
			         minor(sb.st_rdev));
			v[len++].path = xstrdup("[swap]");
		}
		fclose(f);
	}
	free(line);
	*out = v;
	*n = len;
}

static const char *
mounted_at(const struct mount_entry *m, size_t n, const char *devnum)
{
	if (devnum[0] == '\0')
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].devnum, devnum) == 0)
			return m[i].path;
	return NULL;
}

/* /dev/NAME; sysfs writes '/' in names as '!' (cciss!c0d0). Caller frees. */
static char *
devnode_of(const char *name)
{
	char *s = xasprintf("/dev/%s", name);

	for (char *p = s + 5; *p != '\0'; p++)
		if (*p == '!')
			*p = '/';
	return s;
}

/*
 * TYPE and LABEL of devnode's superblock with libblkid (NULL when there
 * is none, or the device cannot be read: a card reader without card).
 */
static void
probe_volume(const char *devnode, char **fstype, char **label)
{
	blkid_probe pr;
	const char *val;
	struct err err;

	*fstype = NULL;
	*label = NULL;
	err_clear(&err);
	if (blkidload(&err) == -1) {
		log_debug(NULL, "usb: cannot probe %s: %s", devnode, err.msg);
		return;
	}
	if ((pr = blkid_new_probe_from_filename(devnode)) == NULL) {
		log_debug(NULL, "usb: cannot probe %s: %s", devnode, strerror(errno));
		return;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 0);
	if (blkid_do_safeprobe(pr) == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &val, NULL) == 0)
			*fstype = xstrdup(val);
		if (blkid_probe_lookup_value(pr, "LABEL", &val, NULL) == 0)
			*label = xstrdup(val);
	}
	blkid_free_probe(pr);
}

static void
scan_add_volume(struct usb_scan *s, size_t *cap, const struct blockdev *b, const char *disk,
                const char *fstype, const char *label, const char *mp, int other_disk)
{
	struct usb_volume *v;

	if (s->nvols == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		s->vols = xrealloc(s->vols, *cap * sizeof *s->vols);
	}
	v = &s->vols[s->nvols++];
	v->name = xstrdup(b->name);
	v->devnode = devnode_of(b->name);
	v->disk = xstrdup(disk);
	v->fstype = fstype != NULL ? xstrdup(fstype) : NULL;
	v->label = label != NULL ? xstrdup(label) : NULL;
	v->mountpoint = mp != NULL ? xstrdup(mp) : NULL;
	v->busy = mp != NULL || b->held || other_disk;
	v->other_disk = other_disk;
}

static int
has_label_str(const char *label)
{
	return label != NULL && strcasecmp(label, USB_LABEL) == 0;
}

/* 1 if p is a partition of disk d. */
static int
part_of(const struct blockdev *p, const struct blockdev *d)
{
	return p->part && p->parent != NULL && strcmp(p->parent, d->name) == 0;
}

int
usb_scan(const char *sysfs_root, int any, int probe, struct usb_scan *s, struct err *err)
{
	struct blockdev *devs = NULL;
	struct mount_entry *mnt = NULL;
	size_t ndevs = 0, nmnt = 0, dcap = 0, vcap = 0;

	memset(s, 0, sizeof *s);
	if (blockdevs_read(sysfs_root, &devs, &ndevs, err) == -1)
		return -1;
	mounts_read(&mnt, &nmnt);
	for (size_t i = 0; i < ndevs; i++) {
		const struct blockdev *d = &devs[i];
		int busy, nparts = 0;

		if (d->part || d->size == 0)
			continue;
		busy = d->held || mounted_at(mnt, nmnt, d->devnum) != NULL;
		for (size_t j = 0; j < ndevs; j++)
			if (part_of(&devs[j], d)) {
				nparts++;
				busy |=
				    devs[j].held || mounted_at(mnt, nmnt, devs[j].devnum) != NULL;
			}
		if (!any && !d->usb)
			continue;
		if (!busy || !any) {
			if (s->ndisks + 1 >= dcap) {
				dcap = dcap ? 2 * dcap : 8;
				s->disks = xrealloc(s->disks, dcap * sizeof *s->disks);
			}
			s->disks[s->ndisks++] = xstrdup(d->name);
			s->disks[s->ndisks] = NULL;
		}

		for (size_t j = 0; j < ndevs; j++) {
			const struct blockdev *p = &devs[j];
			char *fstype = NULL, *label = NULL, *node;

			if (nparts > 0 ? !part_of(p, d) : p != d)
				continue;
			if (probe) {
				node = devnode_of(p->name);
				probe_volume(node, &fstype, &label);
				free(node);
			}
			/*
			 * A disk without partitions is a volume only if it holds a
			 * filesystem; one on a disk in use is kept only as a hint.
			 */
			if (any && busy ? has_label_str(label) : (nparts > 0 || fstype != NULL))
				scan_add_volume(s, &vcap, p, d->name, fstype, label,
				                mounted_at(mnt, nmnt, p->devnum), any && busy);
			free(fstype);
			free(label);
		}
	}
	s->any = any;
	blockdevs_free(devs, ndevs);
	mounts_free(mnt, nmnt);
	return 0;
}

static int
is_ext(const char *fstype)
{
	return fstype != NULL && (strcmp(fstype, "ext4") == 0 || strcmp(fstype, "ext3") == 0 ||
	                          strcmp(fstype, "ext2") == 0);
}

static int
has_label(const struct usb_volume *v)
{
	return has_label_str(v->label);
}

/* One line of err per volume labelled tisbackup that cannot be used, saying why. */
static void
explain_labelled(const struct usb_scan *s, struct err *err)
{
	for (size_t i = 0; i < s->nvols; i++) {
		const struct usb_volume *v = &s->vols[i];

		if (!has_label(v))
			continue;
		if (v->mountpoint != NULL && strstr(v->mountpoint, "/" USB_MOUNT_PREFIX) != NULL)
			err_append_line(err,
			                "%s is labelled %s but already mounted at %s: another USB "
			                "export is running (wait for it to end)",
			                v->devnode, v->label, v->mountpoint);
		else if (v->mountpoint != NULL)
			err_append_line(
			    err, "%s is labelled %s but already mounted at %s: unmount it first",
			    v->devnode, v->label, v->mountpoint);
		else if (v->other_disk)
			err_append_line(
			    err,
			    "%s is labelled %s but its disk %s is in use (another of its "
			    "partitions is mounted)",
			    v->devnode, v->label, v->disk);
		else if (v->busy)
			err_append_line(err,
			                "%s is labelled %s but in use by another device (RAID, LVM "
			                "or device-mapper)",
			                v->devnode, v->label);
		else if (!is_ext(v->fstype))
			err_append_line(err, "%s is labelled %s but holds %s, not ext4", v->devnode,
			                v->label, v->fstype != NULL ? v->fstype : "no filesystem");
	}
}

int
usb_choose(const struct usb_scan *s, const struct usb_volume **vol, struct err *err)
{
	const char *what = s->any ? "disk" : "USB disk";
	const struct usb_volume *found = NULL;
	struct buf b;
	size_t nfound = 0, nvols = 0;
	int rc = -1;

	*vol = NULL;
	buf_init(&b, ERR_MSG_MAX);
	for (size_t i = 0; i < s->nvols; i++)
		nvols += !s->vols[i].other_disk;
	if (s->ndisks == 0) {
		err_set(err, "cannot find any external %s: plug the USB disk into the server%s",
		        what, s->any ? " (device_filter = any: every disk is in use)" : "");
		explain_labelled(s, err);
		goto out;
	}
	for (size_t i = 0; i < s->ndisks; i++)
		buf_printf(&b, "%s/dev/%s", i ? ", " : "", s->disks[i]);
	if (nvols == 0) {
		err_set(err,
		        "the %s %s has no partition: create one ext4 partition labelled "
		        "tisbackup on it (mkfs.ext4 -L tisbackup /dev/...)",
		        what, buf_str(&b));
		explain_labelled(s, err);
		goto out;
	}
	for (size_t i = 0; i < s->nvols; i++) {
		const struct usb_volume *v = &s->vols[i];

		if (has_label(v) && is_ext(v->fstype) && !v->busy) {
			found = v;
			nfound++;
		}
	}
	if (nfound == 0) {
		err_set(err,
		        "no partition labelled tisbackup on the %s %s: format one ext4 partition "
		        "with the label tisbackup (mkfs.ext4 -L tisbackup /dev/...)",
		        what, buf_str(&b));
		explain_labelled(s, err);
		for (size_t i = 0; i < s->nvols; i++) {
			const struct usb_volume *v = &s->vols[i];

			if (!has_label(v))
				err_append_line(err, "found %s: %s%s%s%s", v->devnode,
				                v->fstype != NULL ? v->fstype : "no filesystem",
				                v->label != NULL ? ", label '" : "",
				                v->label != NULL ? v->label : "",
				                v->label != NULL ? "'" : "");
		}
		goto out;
	}
	if (nfound > 1) {
		buf_reset(&b);
		for (size_t i = 0; i < s->nvols; i++) {
			const struct usb_volume *v = &s->vols[i];

			if (has_label(v) && is_ext(v->fstype) && !v->busy)
				buf_printf(&b, "%s%s", b.len ? ", " : "", v->devnode);
		}
		err_set(err,
		        "there are %zu partitions labelled tisbackup (%s): unplug all the "
		        "disks but one",
		        nfound, buf_str(&b));
		goto out;
	}
	*vol = found;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
usb_find(int any, char **devnode, char **fstype, struct err *err)
{
	const char *root = getenv("TB_SYSFS_ROOT");
	const struct usb_volume *v;
	struct usb_scan s;
	int rc = -1;

	*devnode = NULL;
	*fstype = NULL;
	if (root == NULL || root[0] == '\0')
		root = "/sys";
	if (usb_scan(root, any, 1, &s, err) == -1)
		return -1;
	for (size_t i = 0; i < s.nvols; i++)
		log_debug(NULL, "usb: %s on disk %s: type %s, label %s%s%s", s.vols[i].devnode,
		          s.vols[i].disk, s.vols[i].fstype ? s.vols[i].fstype : "-",
		          s.vols[i].label ? s.vols[i].label : "-", s.vols[i].busy ? ", in use" : "",
		          s.vols[i].mountpoint ? s.vols[i].mountpoint : "");
	if (usb_choose(&s, &v, err) == -1)
		goto out;
	*devnode = xstrdup(v->devnode);
	*fstype = xstrdup(v->fstype);
	rc = 0;
out:
	usb_scan_free(&s);
	return rc;
}

int
usb_mount(const char *devnode, const char *fstype, const char *mount_base, char **mountpoint,
          struct err *err)
{
	char *mp;

	*mountpoint = NULL;
	if (mount_base[0] != '/') {
		err_set(err, "mount_base '%s' is not an absolute folder", mount_base);
		return -1;
	}
	mp = xasprintf("%s%s" USB_MOUNT_PREFIX "%lld", mount_base,
	               mount_base[strlen(mount_base) - 1] == '/' ? "" : "/", (long long)time(NULL));
	if (mkdir(mp, 0700) == -1) {
		if (errno == EEXIST)
			err_set(err,
			        "mount point %s already exists (another export started this "
			        "second, or one left it behind): not reusing it",
			        mp);
		else
			err_sys(err, errno, "creating the mount point %s", mp);
		free(mp);
		return -1;
	}
	if (mount(devnode, mp, fstype, MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1) {
		err_sys(err, errno, "mounting %s (%s) at %s", devnode, fstype, mp);
		if (rmdir(mp) == -1)
			err_append_line(err, "and removing %s failed: %s", mp, strerror(errno));
		free(mp);
		return -1;
	}
	*mountpoint = mp;
	return 0;
}

int
usb_unmount(const char *mountpoint, struct err *err)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int fd, tries = 0, rc = 0;

	/* Flush first: a failure here is reported, and umount still flushes. */
	if ((fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		err_sys(err, errno, "opening %s", mountpoint);
		rc = -1;
	} else {
		if (syncfs(fd) == -1) {
			err_sys(err, errno, "flushing %s to the disk", mountpoint);
			rc = -1;
		}
		close(fd);
	}
	while (umount2(mountpoint, UMOUNT_NOFOLLOW) == -1) {
		if (errno == EINVAL)
			break; /* not a mount point (any more) */
		if (errno == EBUSY && ++tries < USB_UMOUNT_TRIES) {
			nanosleep(&pause, NULL);
			continue;
		}
		if (errno == EBUSY) {
			if (umount2(mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) == -1) {
				err_sys(err, errno, "detaching %s", mountpoint);
				return -1;
			}
			log_warning(NULL,
			            "%s stayed busy for %d s: detached; the kernel ends the "
			            "unmount when its last user goes, do not unplug the disk "
			            "before",
			            mountpoint, USB_UMOUNT_TRIES / 10);
			break;
		}
		err_sys(err, errno, "unmounting %s", mountpoint);
		return -1;
	}
	if (rmdir(mountpoint) == -1) {
		err_sys(err, errno, "removing the mount point %s", mountpoint);
		return -1;
	}
	return rc;
}

int
usb_attach(int any, const char *mount_base, char **devnode, char **mountpoint, struct err *err)
{
	char *fstype = NULL;
	int rc = -1;

	*mountpoint = NULL;
	if (usb_find(any, devnode, &fstype, err) == -1)
		return -1;
	if (usb_mount(*devnode, fstype, mount_base, mountpoint, err) == -1) {
		free(*devnode);
		*devnode = NULL;
		goto out;
	}
	rc = 0;
out:
	free(fstype);
	return rc;
}
