/* Placeholder until this action lands; main.c still answers "not implemented yet". */
#include "actions.h"

int
register_run(const struct action_ctx *a)
{
	(void)a;
	return EXIT_USAGE;
}
