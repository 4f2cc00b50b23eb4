/*
 * tb_driverkeys: print every configuration key of every driver, read
 * from the driver table (drivers/drivers.c) and the keys every job shares,
 * one line each: DRIVER KEY TYPE REQUIRED, tab-separated, TYPE one of str,
 * int, port, bool, file, exclude, hostkey, schedule, REQUIRED 1 or 0. The
 * injection drill (tests/integration/test_drills_inject.sh) sweeps the
 * string keys of this list, so a new driver or key is covered without
 * editing the test. Exit status 0.
 */
#include <stdio.h>

#include "drivers/driver.h"

static const char *
type_name(enum drv_key_type t)
{
	switch (t) {
	case KEY_STR:
		return "str";
	case KEY_INT:
		return "int";
	case KEY_PORT:
		return "port";
	case KEY_BOOL:
	case KEY_BOOL_LOOSE:
		return "bool";
	case KEY_FILE:
		return "file";
	case KEY_EXCLUDE:
		return "exclude";
	case KEY_HOSTKEY_POLICY:
		return "hostkey";
	case KEY_SCHEDULE:
		return "schedule";
	case KEY_POOL:
		return "pool";
	case KEY_PERCENT:
		return "percent";
	}
	return "?";
}

/* Print the keys of table for drv, skipping those the driver redefines. */
static void
print_keys(const struct driver *drv, const struct drv_key *keys, int required)
{
	for (; keys != NULL && keys->name != NULL; keys++) {
		int req = 0;
		const struct drv_key *k = driver_key(drv, keys->name, &req);

		if (k != keys)
			continue; /* the driver's own spec wins: printed with its table */
		printf("%s\t%s\t%s\t%d\n", drv->name, k->name, type_name(k->type), required || req);
	}
}

int
main(void)
{
	for (const struct driver *const *d = driver_table; *d != NULL; d++) {
		print_keys(*d, (*d)->required, 1);
		print_keys(*d, (*d)->optional, 0);
		print_keys(*d, drv_common_required, 1);
		print_keys(*d, drv_common_optional, 0);
	}
	return 0;
}
