/*
 * tisbackup worker: placeholder until the command lands; it answers like
 * any action this version does not implement yet (exit 2).
 */
#include <stdio.h>

#include "actions.h"
#include "commands.h"

int
cmd_worker(const struct cli *c)
{
	(void)c;
	fprintf(stderr, "tisbackup: worker: not implemented in this version yet\n");
	return EXIT_USAGE;
}
