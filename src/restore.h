/*
 * The options of `tisbackup restore` (action_restore.c), parsed by main.c
 * and handed to the action in struct action_ctx. See docs/restore.md.
 */
#ifndef TB_RESTORE_OPTS_H
#define TB_RESTORE_OPTS_H

#include <stddef.h>

#include "util/err.h"
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

	/* --import-to SR (xen-xva): import the XVA into this SR over XAPI; NULL: none */
	const char *import_to;
	/* --to-server [USER@]HOST: load a dump on this server, not the job's (dumps) */
	const char *to_server;
};

/*
 * Check the extra words of a queued run of action (the queue name) before
 * it is queued (REST API) and again before a worker runs it: only restore
 * takes any, and only these self-contained words: --at=STAMP|DATE|latest,
 * --path=P (repeatable; relative, no ".." component), --to=/DIR or
 * --to=[USER@]HOST:/DIR (no ".." component, a host name that cannot be
 * read as an option), --db=NAME (a database of the backup: 1 to 255
 * bytes, no leading '-'), --to-db=NAME (letters, digits, _ . $ -; needed
 * when --db's NAME is not such a plain name, as "a/b" or "my db"),
 * --to-server=[USER@]HOST (restore_server_bad()), --import-to=SR (an
 * SR's name label or UUID: no leading '-', at most 255 bytes), --replace,
 * --dry-run, --in-place and --yes (only with --in-place);
 * each at most once but --path; no control characters, at most 4000
 * bytes a word. 0, or -1 + err naming the word; *field
 * (may be NULL) is then the REST API's name for it ("at", "paths", "to",
 * "db", "to_db", "to_server", "import_to", "replace", "dry_run", "in_place",
 * "confirm", or
 * "options" for a word that is none of these).
 */
/*
 * Why v cannot be the value of --to-server, or NULL when it can: HOST or
 * USER@HOST, the host checked as the configuration checks server_name
 * and the user as remote_user (ssh_host_ok(), ssh_user_ok(): nothing
 * ssh could read as an option), no ':' (the job's ssh_port is used).
 * The reason is a static string.
 */
const char *restore_server_bad(const char *v);

int restore_queue_check(const char *action, const char *const *words, size_t n, const char **field,
                        struct err *err);

#endif
