/*
 * The commands that are not backup actions: the web server, the
 * standalone queue worker and user management. main.c parses the command
 * line into struct cli and calls one of these; each returns the exit
 * code (EXIT_* of actions.h).
 */
#ifndef TB_COMMANDS_H
#define TB_COMMANDS_H

#include "log.h"

struct cli {
	const char *config;     /* -c; the default when not given */
	int config_given;       /* -c was on the command line */
	const char *gui_config; /* --gui-config, default GUICONF_DEFAULT_PATH */
	const char *backupdir;  /* -b or NULL */
	int jobs;               /* -j, 0 = default */
	const char *role;       /* --role or NULL */
	int verbose;
	enum log_level level;
	char **args; /* words after the command (user add NAME ...) */
	int nargs;
	const char *from; /* --from (catalog migrate) or NULL */
	const char *to;   /* --to (catalog migrate) or NULL */
	char **pools;     /* --pool values, as given (worker; comma lists allowed) */
	size_t npools;
};

/* tisbackup serve (web/serve.c): the web UI, API, scheduler and embedded worker. */
int cmd_serve(const struct cli *c);
/* tisbackup worker (worker.c): run queued runs until SIGTERM. */
int cmd_worker(const struct cli *c);
/* tisbackup user add|passwd|del NAME (usercmd.c). */
int cmd_user(const struct cli *c);
/* tisbackup catalog migrate --from ADDRESS --to ADDRESS (catalog_migrate.c). */
int cmd_catalog(const struct cli *c);

#endif
