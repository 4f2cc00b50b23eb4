/*
 * null: records that a server needs no backup, so it still shows up in
 * checknagios (always OK) and in the web UI. A backup run of it does
 * nothing and records nothing, like the original.
 */
#include "drivers/driver.h"

static const struct drv_key null_keys[] = {
	{ NULL, KEY_STR, NULL },
};

static int
null_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	(void)run;
	(void)st;
	(void)err;
	return 0;
}

const struct driver drv_null = {
	.name = "null",
	.description = "Declares a server that needs no backup; checknagios always reports it OK.",
	.required = null_keys,
	.optional = null_keys,
	.caps = DRV_CAP_NO_BACKUP,
	.backup = null_backup,
};
