/*
 * exportbackup: into -x DIR (export.c), or with --usb into the USB disk
 * that [export] of the gui config chooses (export_usb.c).
 */
#include <stdlib.h>

#include "action.h"
#include "guiconf.h"

int
action_exportbackup(const struct action_ctx *a)
{
	struct guiconf *gc = NULL;
	struct err err;
	int rc;

	if (!a->usb)
		return export_run(a);
	err_clear(&err);
	if (guiconf_load(a->gui_config, 1, &gc, &err) == -1) {
		action_print_err(err.msg);
		return EXIT_CONFIG;
	}
	action_print_warnings(&gc->warnings);
	rc = export_usb_run(a, gc->device_filter_any, gc->mount_base);
	guiconf_free(gc);
	return rc;
}
