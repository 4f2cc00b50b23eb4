/*
 * exportbackup --usb (SPEC §8, the GUI's USB export, also usable from
 * cron): find the one partition labelled tisbackup (usb.c), mount it
 * under {mount_base}/TISBACKUP-<epoch>, run the ordinary export into it
 * (export.c), and unmount it and remove the mount point whatever the
 * export's outcome, an interruption by SIGINT/SIGTERM included.
 */
#include <stdlib.h>

#include "actions.h"
#include "log.h"
#include "usb.h"

int
export_usb_run(const struct action_ctx *a, int any, const char *mount_base)
{
	struct action_ctx b = *a;
	char *devnode = NULL, *fstype = NULL, *mp = NULL;
	struct err err;
	int rc;

	err_clear(&err);
	if (a->dry_run) {
		if (usb_find(any, &devnode, &fstype, &err) == -1) {
			log_error(NULL, "exportbackup --usb: %s", err.msg);
			rc = EXIT_JOBS;
			goto out;
		}
		log_info(NULL,
		         "dry run: would mount %s (%s) at %s/" USB_MOUNT_PREFIX
		         "<epoch>, export into it and unmount it",
		         devnode, fstype, mount_base);
		rc = 0;
		goto out;
	}
	if (usb_attach(any, mount_base, &devnode, &mp, &err) == -1) {
		log_error(NULL, "exportbackup --usb: %s", err.msg);
		rc = EXIT_JOBS;
		goto out;
	}
	log_info(NULL, "mounted %s at %s", devnode, mp);
	b.exportdir = mp;
	rc = export_run(&b);
	if (usb_unmount(mp, &err) == -1) {
		log_error(NULL, "exportbackup --usb: %s", err.msg);
		if (rc == 0)
			rc = EXIT_JOBS;
	} else {
		log_info(NULL, "unmounted %s and removed %s: the disk can be unplugged", devnode,
		         mp);
	}
out:
	free(devnode);
	free(fstype);
	free(mp);
	return rc;
}
