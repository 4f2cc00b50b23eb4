/*
 * The options of `tisbackup restore` (action_restore.c), parsed by main.c
 * and handed to the action in struct action_ctx. See docs/restore.md.
 */
#ifndef TB_RESTORE_OPTS_H
#define TB_RESTORE_OPTS_H

#include "util/strv.h"

struct restore_opts {
	const char *at;    /* --at STAMP|DATE|latest; NULL = the newest good backup */
	struct strv paths; /* --path P, repeatable (file backups) */
	const char *to;    /* --to DIR | HOST:DIR; NULL = see in_place */
	int in_place;      /* --in-place: back onto the job's own server and folder */
	int yes;           /* --yes: no confirmation question for --in-place */
	const char *db;    /* --db NAME (database dumps) */
	const char *to_db; /* --to-db TARGET; NULL = the same name */
	int replace;       /* --replace: overwrite what exists at the target */
	int given;         /* any of these options was on the command line */
};

#endif
