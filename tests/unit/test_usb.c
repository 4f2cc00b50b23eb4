/*
 * Tests for usb.c without devices: a fake sysfs tree (class/block links
 * into devices/, as the kernel lays it out) checks which disks each
 * device filter accepts and what counts as a volume; synthetic scans
 * check usb_choose()'s four errors and its one success.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "usb.h"
#include "util/xmalloc.h"

static char root[TB_TMPDIR_MAX];

static void
put(const char *dir, const char *file, const char *text)
{
	char *p = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
mkdirs(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s != '\0'; s++)
		if (*s == '/') {
			*s = '\0';
			(void)mkdir(p, 0755);
			*s = '/';
		}
	(void)mkdir(p, 0755);
	free(p);
}

/*
 * A block device at {root}/devices/{devpath}/{name} with its size (in
 * sectors) and device number, linked from class/block/{name} the way
 * sysfs does (relative link). part: it is a partition.
 */
static void
mkdev(const char *devpath, const char *name, const char *size, const char *devnum, int part)
{
	char *dir = xasprintf("%s/devices/%s/%s", root, devpath, name);
	char *cls = xasprintf("%s/class/block", root);
	char *link = xasprintf("%s/%s", cls, name);
	char *target = xasprintf("../../devices/%s/%s", devpath, name);
	char *holders = xasprintf("%s/holders", dir);

	mkdirs(dir);
	mkdirs(cls);
	mkdirs(holders);
	put(dir, "size", size);
	put(dir, "dev", devnum);
	if (part)
		put(dir, "partition", "1\n");
	assert_int_equal(symlink(target, link), 0);
	free(dir);
	free(cls);
	free(link);
	free(target);
	free(holders);
}

#define USB_PATH "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block"
#define USB2_PATH "pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/host7/target7:0:0/7:0:0:0/block"
#define SATA_PATH "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block"
/* A component that only starts with "usb" is not a USB bus. */
#define FAKE_PATH "pci0000:00/usbish/usb2x/host9/target9:0:0/9:0:0:0/block"

static int
setup(void **state)
{
	struct stat sb;
	char rootdev[32], *sdc_holder;

	(void)state;
	assert_int_equal(tb_tmpdir_make(root, sizeof root, "usb"), 0);
	/* sda: the system disk, its partition carries the device number of "/". */
	assert_int_equal(stat("/", &sb), 0);
	snprintf(rootdev, sizeof rootdev, "%u:%u\n", major(sb.st_dev), minor(sb.st_dev));
	mkdev(SATA_PATH, "sda", "1000000\n", "8:0\n", 0);
	mkdev(SATA_PATH "/sda", "sda1", "999000\n", rootdev, 1);
	/* sdb: a USB disk with two partitions. */
	mkdev(USB_PATH, "sdb", "2000000\n", "8:16\n", 0);
	mkdev(USB_PATH "/sdb", "sdb1", "1000000\n", "8:17\n", 1);
	mkdev(USB_PATH "/sdb", "sdb2", "1000000\n", "8:18\n", 1);
	/* sdc: a disk whose partition is an LVM physical volume (held by dm-0). */
	mkdev(SATA_PATH, "sdc", "1000000\n", "8:32\n", 0);
	mkdev(SATA_PATH "/sdc", "sdc1", "1000000\n", "8:33\n", 1);
	sdc_holder = xasprintf("%s/devices/" SATA_PATH "/sdc/sdc1/holders", root);
	put(sdc_holder, "dm-0", "");
	free(sdc_holder);
	/* sdd: an empty USB card reader; sde: a disk on a bus named like usb. */
	mkdev(USB2_PATH, "sdd", "0\n", "8:48\n", 0);
	mkdev(FAKE_PATH, "sde", "1000\n", "8:64\n", 0);
	/* Loop devices: loop0 unattached (size 0), loop1 attached. */
	mkdev("virtual/block", "loop0", "0\n", "7:0\n", 0);
	mkdev("virtual/block", "loop1", "32768\n", "7:1\n", 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(root);
}

static void
test_usb_filter(void **state)
{
	struct usb_scan s;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(usb_scan(root, 0, 0, &s, &err), 0);
	/* Only sdb: sdd is empty, sde's "usb2x" is no USB bus. */
	assert_int_equal(s.ndisks, 1);
	assert_string_equal(s.disks[0], "sdb");
	assert_null(s.disks[1]);
	assert_int_equal(s.nvols, 2);
	assert_string_equal(s.vols[0].name, "sdb1");
	assert_string_equal(s.vols[0].devnode, "/dev/sdb1");
	assert_string_equal(s.vols[0].disk, "sdb");
	assert_null(s.vols[0].fstype);
	assert_int_equal(s.vols[0].busy, 0);
	assert_string_equal(s.vols[1].name, "sdb2");
	assert_int_equal(s.any, 0);
	usb_scan_free(&s);
}

static void
test_any_filter(void **state)
{
	struct usb_scan s;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(usb_scan(root, 1, 0, &s, &err), 0);
	/*
	 * Every non-empty disk not in use: not sda (its partition is
	 * mounted as /), not sdc (held by dm-0), not the empty sdd and loop0.
	 */
	assert_int_equal(s.ndisks, 3);
	assert_string_equal(s.disks[0], "loop1");
	assert_string_equal(s.disks[1], "sdb");
	assert_string_equal(s.disks[2], "sde");
	/* A disk without partitions is a volume only with a filesystem (not probed here). */
	assert_int_equal(s.nvols, 2);
	assert_string_equal(s.vols[0].name, "sdb1");
	assert_string_equal(s.vols[1].name, "sdb2");
	assert_int_equal(s.any, 1);
	usb_scan_free(&s);
}

static void
test_missing_sysfs(void **state)
{
	struct usb_scan s;
	struct err err;
	char *bad = xasprintf("%s/nothing", root);

	(void)state;
	err_clear(&err);
	assert_int_equal(usb_scan(bad, 0, 0, &s, &err), -1);
	assert_non_null(strstr(err.msg, "listing block devices in"));
	assert_non_null(strstr(err.msg, "No such file or directory"));
	free(bad);
}

/* A synthetic scan: disks, then volumes as name/fstype/label/mountpoint/busy. */
struct fake_vol {
	const char *name, *fstype, *label, *mountpoint;
	int busy;
};

static void
fake_scan(struct usb_scan *s, int any, const char *const *disks, const struct fake_vol *v,
          size_t nv)
{
	memset(s, 0, sizeof *s);
	s->any = any;
	while (disks != NULL && disks[s->ndisks] != NULL)
		s->ndisks++;
	s->disks = xcalloc(s->ndisks + 1, sizeof *s->disks);
	for (size_t i = 0; i < s->ndisks; i++)
		s->disks[i] = xstrdup(disks[i]);
	s->vols = xcalloc(nv + 1, sizeof *s->vols);
	s->nvols = nv;
	for (size_t i = 0; i < nv; i++) {
		s->vols[i].name = xstrdup(v[i].name);
		s->vols[i].devnode = xasprintf("/dev/%s", v[i].name);
		s->vols[i].disk = xstrdup(s->ndisks ? s->disks[0] : "?");
		s->vols[i].fstype = v[i].fstype ? xstrdup(v[i].fstype) : NULL;
		s->vols[i].label = v[i].label ? xstrdup(v[i].label) : NULL;
		s->vols[i].mountpoint = v[i].mountpoint ? xstrdup(v[i].mountpoint) : NULL;
		s->vols[i].busy = v[i].busy;
	}
}

/* usb_choose() on a synthetic scan; returns its result, err filled. */
static int
choose(int any, const char *const *disks, const struct fake_vol *v, size_t nv, char **chosen,
       struct err *err)
{
	const struct usb_volume *vol = NULL;
	struct usb_scan s;
	int rc;

	fake_scan(&s, any, disks, v, nv);
	err_clear(err);
	rc = usb_choose(&s, &vol, err);
	*chosen = vol != NULL ? xstrdup(vol->devnode) : NULL;
	usb_scan_free(&s);
	return rc;
}

static void
test_choose_no_disk(void **state)
{
	struct err err;
	char *c;

	(void)state;
	assert_int_equal(choose(0, NULL, NULL, 0, &c, &err), -1);
	assert_null(c);
	assert_string_equal(err.msg,
	                    "cannot find any external USB disk: plug the USB disk into the server");
	assert_int_equal(choose(1, NULL, NULL, 0, &c, &err), -1);
	assert_non_null(strstr(err.msg, "device_filter = any"));
}

/* With any, a labelled partition on a disk in use is named in the error. */
static void
test_choose_no_disk_hint(void **state)
{
	const struct fake_vol v[] = {
		{ "loop4", "ext4", "tisbackup", "/media/usb", 1 },
	};
	struct usb_scan s;
	const struct usb_volume *vol = NULL;
	struct err err;

	(void)state;
	fake_scan(&s, 1, NULL, v, 1);
	s.vols[0].other_disk = 1;
	s.vols[0].disk = (free(s.vols[0].disk), xstrdup("loop4"));
	err_clear(&err);
	assert_int_equal(usb_choose(&s, &vol, &err), -1);
	assert_null(vol);
	assert_string_equal(err.msg, "cannot find any external disk: plug the USB disk into the "
	                             "server (device_filter = any: every disk is in use)\n"
	                             "/dev/loop4 is labelled tisbackup but already mounted at "
	                             "/media/usb: unmount it first");
	usb_scan_free(&s);
}

static void
test_choose_no_partition(void **state)
{
	const char *const disks[] = { "sdb", "sdc", NULL };
	struct err err;
	char *c;

	(void)state;
	assert_int_equal(choose(0, disks, NULL, 0, &c, &err), -1);
	assert_non_null(strstr(err.msg, "the USB disk /dev/sdb, /dev/sdc has no partition"));
	assert_non_null(strstr(err.msg, "mkfs.ext4 -L tisbackup"));
}

static void
test_choose_no_label(void **state)
{
	const char *const disks[] = { "sdb", NULL };
	const struct fake_vol v[] = {
		{ "sdb1", "vfat", "PHOTOS", NULL, 0 },
		{ "sdb2", NULL, NULL, NULL, 0 },
		{ "sdb3", "vfat", "TISBACKUP", NULL, 0 },
		{ "sdb4", "ext4", "tisbackup", "/media/x y", 1 },
		{ "sdb5", "ext4", "Tisbackup", NULL, 1 },
		{ "sdb6", "ext4", "tisbackup", "/mnt/TISBACKUP-1795675059", 1 },
	};
	struct err err;
	char *c;

	(void)state;
	assert_int_equal(choose(0, disks, v, 6, &c, &err), -1);
	assert_null(c);
	assert_non_null(
	    strstr(err.msg, "no partition labelled tisbackup on the USB disk /dev/sdb"));
	assert_non_null(strstr(err.msg, "\nfound /dev/sdb1: vfat, label 'PHOTOS'"));
	assert_non_null(strstr(err.msg, "\nfound /dev/sdb2: no filesystem"));
	assert_non_null(
	    strstr(err.msg, "\n/dev/sdb3 is labelled TISBACKUP but holds vfat, not ext4"));
	assert_non_null(
	    strstr(err.msg, "\n/dev/sdb4 is labelled tisbackup but already mounted at /media/x y"));
	assert_non_null(strstr(err.msg, "\n/dev/sdb5 is labelled Tisbackup but in use"));
	assert_non_null(strstr(err.msg,
	                       "\n/dev/sdb6 is labelled tisbackup but already mounted at "
	                       "/mnt/TISBACKUP-1795675059: another USB export is running"));
}

static void
test_choose_many(void **state)
{
	const char *const disks[] = { "loop1", "loop2", NULL };
	const struct fake_vol v[] = {
		{ "loop1", "ext4", "tisbackup", NULL, 0 },
		{ "loop2", "ext3", "TISBACKUP", NULL, 0 },
		{ "loop3", "ext4", "other", NULL, 0 },
	};
	struct err err;
	char *c;

	(void)state;
	assert_int_equal(choose(1, disks, v, 3, &c, &err), -1);
	assert_null(c);
	assert_string_equal(err.msg, "there are 2 partitions labelled tisbackup (/dev/loop1, "
	                             "/dev/loop2): unplug all the disks but one");
}

static void
test_choose_one(void **state)
{
	const char *const disks[] = { "sdb", "sdc", NULL };
	const struct fake_vol v[] = {
		{ "sdb1", "ext4", "data", NULL, 0 },
		{ "sdb2", "ext4", "tisbackup", "/mnt/TISBACKUP-1", 1 },
		{ "sdc1", "ext2", "TisBackup", NULL, 0 },
	};
	struct err err;
	char *c;

	(void)state;
	/* Case-insensitive label, ext2 accepted, the mounted one ignored. */
	assert_int_equal(choose(0, disks, v, 3, &c, &err), 0);
	assert_string_equal(c, "/dev/sdc1");
	free(c);
}

static void
test_mount_relative_base(void **state)
{
	struct err err;
	char *mp = (char *)"unset";

	(void)state;
	err_clear(&err);
	assert_int_equal(usb_mount("/dev/null", "ext4", "mnt", &mp, &err), -1);
	assert_null(mp);
	assert_string_equal(err.msg, "mount_base 'mnt' is not an absolute folder");
}

static void
test_mount_point_exists(void **state)
{
	struct err err;
	char *base = xasprintf("%s/mnt", root), *mp = NULL, *stale;

	(void)state;
	err_clear(&err);
	assert_int_equal(mkdir(base, 0755), 0);
	/* Fill the next few seconds' names: the one usb_mount picks is taken. */
	for (long t = (long)time(NULL); t < (long)time(NULL) + 5; t++) {
		stale = xasprintf("%s/" USB_MOUNT_PREFIX "%ld", base, t);
		(void)mkdir(stale, 0700);
		free(stale);
	}
	assert_int_equal(usb_mount("/dev/null", "ext4", base, &mp, &err), -1);
	assert_null(mp);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_non_null(strstr(err.msg, "not reusing it"));
	free(base);
}

/* A folder that is not a mount point is just removed; a missing one is fine. */
static void
test_unmount_plain_folder(void **state)
{
	struct err err;
	char *dir = xasprintf("%s/" USB_MOUNT_PREFIX "1", root);

	(void)state;
	if (geteuid() != 0) {
		free(dir);
		skip(); /* umount2 says EPERM, not EINVAL, to others */
	}
	err_clear(&err);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(usb_unmount(dir, &err), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(usb_unmount(dir, &err), 0);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usb_filter),
		cmocka_unit_test(test_any_filter),
		cmocka_unit_test(test_missing_sysfs),
		cmocka_unit_test(test_choose_no_disk),
		cmocka_unit_test(test_choose_no_disk_hint),
		cmocka_unit_test(test_choose_no_partition),
		cmocka_unit_test(test_choose_no_label),
		cmocka_unit_test(test_choose_many),
		cmocka_unit_test(test_mount_relative_base),
		cmocka_unit_test(test_mount_point_exists),
		cmocka_unit_test(test_unmount_plain_folder),
		cmocka_unit_test(test_choose_one),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
