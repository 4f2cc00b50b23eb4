/* The original GUI's grouping of driver types (gui_compat.h). */
#include "drivers/gui_compat.h"

#include <stddef.h>
#include <string.h>

#include "drivers/driver.h"

struct gui_family {
	const char *type;
	const char *empty_target;
};

/* The original's order; its position + 1 is the rank. */
static const struct gui_family families[] = {
	{ "rsync", "" },      { "rsync+btrfs+ssh", "" },   { "rsync+ssh", "" },
	{ "pgsql+ssh", "*" }, { "mysql+ssh", "*" },        { "xen-xva", "" },
	{ "null", "" },       { "xcp-dump-metadata", "" },
};

int
driver_gui_rank(const struct driver *drv, const char **empty_target)
{
	if (empty_target != NULL)
		*empty_target = "";
	if (drv == NULL)
		return 0;
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		if (strcmp(drv->name, families[i].type) == 0) {
			if (empty_target != NULL)
				*empty_target = families[i].empty_target;
			return (int)i + 1;
		}
	}
	return 0;
}
