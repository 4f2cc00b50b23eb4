/*
 * The USB export disk (SPEC §8): find the one partition labelled
 * tisbackup on a USB disk, mount it under {mount_base}/TISBACKUP-<epoch>,
 * and unmount it again. Devices come from sysfs (/sys/class/block) and
 * are probed with libblkid; mounting is mount(2): no tool is run.
 *
 * The scan is split from the choice so that the four errors of the
 * original (no disk, no partition, no such label, more than one) are a
 * pure function of what was found (usb_choose), testable without
 * devices. The selection rule is in docs/usb-export.md.
 */
#ifndef TB_USB_H
#define TB_USB_H

#include <stddef.h>

#include "util/err.h"

#define USB_LABEL "tisbackup"         /* compared case-insensitively */
#define USB_MOUNT_PREFIX "TISBACKUP-" /* {mount_base}/TISBACKUP-<epoch> */

/*
 * A volume: a partition of a candidate disk, or a candidate disk without
 * partitions that holds a filesystem directly (a "superfloppy", which is
 * also what a loop device with mkfs on it looks like).
 */
struct usb_volume {
	char *name;       /* kernel name: sdb1, loop3 */
	char *devnode;    /* /dev/sdb1 */
	char *disk;       /* the whole disk's kernel name (== name for a superfloppy) */
	char *fstype;     /* blkid TYPE, or NULL when none was found */
	char *label;      /* blkid LABEL, or NULL */
	char *mountpoint; /* where it is mounted now, or NULL */
	int busy;         /* mounted, held by another device (LVM, RAID, dm), or other_disk */
	/*
	 * On a disk that is not a candidate (device_filter = any, and the disk
	 * is in use): never chosen, listed only so that the errors can name a
	 * labelled partition that was passed over. Only labelled ones are kept.
	 */
	int other_disk;
};

/* What a scan found. Owned by the struct; freed with usb_scan_free(). */
struct usb_scan {
	char **disks; /* kernel names of the candidate disks, NULL-terminated */
	size_t ndisks;
	struct usb_volume *vols;
	size_t nvols;
	int any; /* scanned with device_filter = any (worded in the errors) */
};

void usb_scan_free(struct usb_scan *s);

/*
 * Fill s from the block devices under {sysfs_root}/class/block (sysfs_root
 * is normally "/sys"; tests point it at a fake tree). A whole disk is a
 * candidate when it is not empty (size 0: an unattached loop device, a
 * card reader without card) and
 *   - any == 0: its resolved sysfs path goes through a USB bus (a
 *     component named usbN);
 *   - any == 1: always, except a disk whose partitions (or itself) are
 *     mounted or held by another device: the system's own disks.
 * Each volume of a candidate disk (and, with any, each volume of a disk
 * in use, kept only when labelled, as other_disk) is probed with libblkid through
 * /dev/NAME when probe is set (a device that cannot be opened counts as
 * holding nothing), and matched against /proc/self/mountinfo by device
 * number. Returns 0, or -1 + err when sysfs cannot be read.
 */
int usb_scan(const char *sysfs_root, int any, int probe, struct usb_scan *s, struct err *err);

/*
 * Pick the volume to export to from s: exactly one volume, not busy,
 * whose LABEL is "tisbackup" in any case and whose TYPE is ext4, ext3 or
 * ext2. On success *vol points into s. Otherwise -1 and err says which
 * of the four cases it is, what was found, and what to do:
 *   no disk, disk(s) but no volume with a filesystem, volumes but none
 *   usable with the label (a labelled one that is mounted or not ext* is
 *   named as such), more than one (all are listed).
 */
int usb_choose(const struct usb_scan *s, const struct usb_volume **vol, struct err *err);

/*
 * usb_scan + usb_choose on the running system: sysfs is /sys, or the
 * folder in the environment variable TB_SYSFS_ROOT (for tests). On
 * success *devnode ("/dev/sdb1") and *fstype ("ext4") are set (caller
 * frees both). 0 or -1 + err (one of the four cases above, or a scan
 * error).
 */
int usb_find(int any, char **devnode, char **fstype, struct err *err);

/*
 * Create {mount_base}/TISBACKUP-<epoch now> (mode 0700; an existing one
 * is refused, never reused) and mount devnode there with mount(2), type
 * fstype, options nosuid,nodev,noexec. On success *mountpoint (caller
 * frees) is the folder and the caller must call usb_unmount() on it. On
 * failure nothing is left behind (the folder is removed) and -1 + err.
 */
int usb_mount(const char *devnode, const char *fstype, const char *mount_base, char **mountpoint,
              struct err *err);

/*
 * Undo usb_mount: syncfs(2) the filesystem, umount2(2) it, retrying for
 * a few seconds while it is busy (EBUSY), then as a last resort detach
 * it lazily (MNT_DETACH; logged as a warning: the kernel finishes the
 * unmount when the last user goes, and the disk must not be unplugged
 * before), then remove the folder. A folder that is not (or no longer) a
 * mount point is just removed; a missing one is fine. Returns 0 when the
 * folder is gone and the flush succeeded; -1 + err (naming the mount
 * point) when the folder remains or syncfs reported an error (an I/O
 * error: the export may be incomplete). Always tries every step it can.
 */
int usb_unmount(const char *mountpoint, struct err *err);

/*
 * usb_find + usb_mount, for a caller that exports through another
 * process (the queue worker runs `tisbackup -c CFG -s A,B -x MOUNTPOINT
 * exportbackup` and must call usb_unmount(*mountpoint) afterwards, when
 * the child failed or was cancelled too). any is [export] device_filter
 * = any, mount_base [export] mount_base. On success *devnode and
 * *mountpoint are set (caller frees both); on failure both are NULL and
 * err is one of usb_find's or usb_mount's errors (when another USB export
 * holds the disk: "... already mounted at .../TISBACKUP-...: another USB
 * export is running").
 */
int usb_attach(int any, const char *mount_base, char **devnode, char **mountpoint, struct err *err);

#endif
