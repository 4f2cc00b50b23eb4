/*
 * tisbackup: argument parsing and action dispatch, nothing else.
 *
 * Exit codes (also in the man page and README):
 *   0  success
 *   1  one or more jobs failed or were already running
 *   2  usage error: unknown option, action or section, bad option value,
 *      missing -x, or an action this version does not implement yet
 *   3  configuration error: config file missing, unreadable or invalid,
 *      or a file it names (private_key) unreadable
 *   4  runtime error: the catalog or the log folder cannot be used
 * checknagios exits with the monitoring state instead: 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN (a usage error of checknagios too).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "commands.h"
#include "config.h"
#include "guiconf.h"
#include "log.h"
#include "restore.h"
#include "spawn.h"
#include "util/buf.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/tis/tisbackup-config.ini"
#define DEFAULT_PARALLEL 4 /* jobs at once, when neither -j nor max_parallel says */

struct options {
	const char *config;
	const char *sections;
	const char *backupdir;
	const char *exportdir;
	int usb; /* --usb: exportbackup to the USB disk */
	int dry_run;
	int verbose;
	int len;
	int jobs; /* -j; 0 = [global] max_parallel, else DEFAULT_PARALLEL */
	enum log_level level;
	enum log_format log_format; /* --log-format, AUTO by default */
	const char *action;
	const struct action_entry *entry; /* action's table entry; NULL = unknown */
	int config_given;
	const char *gui_config; /* --gui-config */
	const char *role;       /* --role (user add) */
	char **args;            /* words after a command that takes them */
	int nargs;
	int explain;                 /* --explain: cleanup prints every backup's decision */
	struct restore_opts restore; /* restore's options (--at, --path, --to, ...) */
	const char *from;            /* catalog migrate --from (its --to is restore.to) */
	struct strv pools;           /* worker --pool, repeatable */
};

static void
usage(FILE *out)
{
	fprintf(out, "Usage: tisbackup [OPTIONS] ACTION [OPTIONS]\n"
	             "\n"
	             "Server-side backup orchestrator, a drop-in replacement for TISBackup: it\n"
	             "reads the same /etc/tis/tisbackup-config.ini, writes the same backup tree\n"
	             "and the same catalog ({backup_base_dir}/log/tisbackup.sqlite).\n"
	             "\n"
	             "Actions:\n");
	action_print_help(out);
	fprintf(out,
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE      configuration file (default " DEFAULT_CONFIG ")\n"
	        "  -s, --sections A,B     only these jobs (config section names)\n"
	        "  -d, --dry-run          print what would be done, change nothing\n"
	        "  -v, --verbose          echo transfer output and progress\n"
	        "  -l, --loglevel LEVEL   debug, info (default), warning, error, critical\n"
	        "  -n, --len N            rows per job for dumpstat (default 30)\n"
	        "  -j, --jobs N           run up to N jobs at once (default: [global]\n"
	        "                         max_parallel, else 4); one job per server at a\n"
	        "                         time unless max_per_server says more\n"
	        "  -b, --backupdir DIR    use DIR instead of [global] backup_base_dir\n"
	        "  -x, --exportdir DIR    target folder of exportbackup (or --usb)\n"
	        "      --usb              exportbackup: to the USB disk; [export] in the\n"
	        "                         --gui-config file chooses the disks and mount folder\n"
	        "      --explain          cleanup: print every backup, keep or delete, and the\n"
	        "                         rule that decided (with -d nothing is removed)\n"
	        "      --gui-config FILE  web/queue/alerts settings (default " GUICONF_DEFAULT_PATH
	        ")\n"
	        "      --role ROLE        user add: admin or viewer (default viewer)\n"
	        "      --pool NAME        worker: claim runs of pool NAME only (repeatable or\n"
	        "                         comma separated; default [queue] pools, else default)\n"
	        "  -h, --help             this help\n"
	        "      --log-format FMT   stderr lines: text, json (one object a line),\n"
	        "                         journal (no timestamp, <N> priorities) or auto\n"
	        "      --version          print the version and the features of this build\n"
	        "\n"
	        "Exit codes: 0 success, 1 a job failed, 2 usage error, 3 configuration\n"
	        "error, 4 catalog or log folder unusable; checknagios: 0 OK, 1 WARNING,\n"
	        "2 CRITICAL, 3 UNKNOWN.\n"
	        "\n"
	        "Examples:\n"
	        "  tisbackup backup                       back up every job\n"
	        "  tisbackup -s web1,db1 -v backup        two jobs, showing rsync progress\n"
	        "  tisbackup -d backup                    show the commands without running them\n"
	        "  tisbackup checknagios                  for Nagios/Icinga (NRPE)\n"
	        "  tisbackup -s web1 -n 5 dumpstat        the last five runs of web1\n"
	        "\n"
	        "See tisbackup(1) for the configuration keys of each type.\n");
}

static int
parse_len(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* Long options without a short letter. */
enum {
	OPT_AT = 256,
	OPT_PATH,
	OPT_TO,
	OPT_IN_PLACE,
	OPT_YES,
	OPT_DB,
	OPT_TO_DB,
	OPT_TO_SERVER,
	OPT_REPLACE,
	OPT_FROM,
	OPT_POOL,
	OPT_IMPORT_TO,
};

/*
 * The exit code of a usage error: EXIT_USAGE, but 3 (UNKNOWN, with a line
 * on stdout) for a monitoring action such as checknagios, whose exit code
 * is read by Nagios/NRPE (2 would mean CRITICAL).
 */
static int
usage_rc(int argc, char **argv)
{
	const struct action_entry *e;

	for (int i = 1; i < argc; i++) {
		if ((e = action_find(argv[i])) != NULL && (e->flags & ACTION_MONITOR)) {
			printf("UNKNOWN : usage error (see stderr and tisbackup --help)\n");
			return 3;
		}
	}
	return EXIT_USAGE;
}

/* Parse argv into o; returns -1 after printing a usage error. */
static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "sections", required_argument, NULL, 's' },
		{ "loglevel", required_argument, NULL, 'l' },
		{ "len", required_argument, NULL, 'n' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "backupdir", required_argument, NULL, 'b' },
		{ "exportdir", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "gui-config", required_argument, NULL, 'G' },
		{ "role", required_argument, NULL, 'R' },
		{ "usb", no_argument, NULL, 'U' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "explain", no_argument, NULL, 'E' },
		{ "at", required_argument, NULL, OPT_AT },
		{ "path", required_argument, NULL, OPT_PATH },
		{ "to", required_argument, NULL, OPT_TO },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "in-place", no_argument, NULL, OPT_IN_PLACE },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "db", required_argument, NULL, OPT_DB },
		{ "to-db", required_argument, NULL, OPT_TO_DB },
		{ "to-server", required_argument, NULL, OPT_TO_SERVER },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "import-to", required_argument, NULL, OPT_IMPORT_TO },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:dvs:l:n:j:b:x:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			o->config_given = 1;
			break;
		case 'G':
			o->gui_config = optarg;
			break;
		case 'R':
			o->role = optarg;
			break;
		case 'U':
			o->usb = 1;
			break;
		case 'E':
			o->explain = 1;
			break;
		case OPT_AT:
			o->restore.at = optarg;
			o->restore.given = 1;
			break;
		case OPT_PATH:
			strv_push(&o->restore.paths, optarg);
			o->restore.given = 1;
			break;
		case OPT_TO:
			o->restore.to = optarg;
			o->restore.given = 1;
			break;
		case OPT_FROM:
			o->from = optarg;
			break;
		case OPT_POOL:
			strv_push(&o->pools, optarg);
			break;
		case OPT_IN_PLACE:
			o->restore.in_place = 1;
			o->restore.given = 1;
			break;
		case OPT_YES:
			o->restore.yes = 1;
			o->restore.given = 1;
			break;
		case OPT_DB:
			o->restore.db = optarg;
			o->restore.given = 1;
			break;
		case OPT_TO_DB:
			o->restore.to_db = optarg;
			o->restore.given = 1;
			break;
		case OPT_TO_SERVER:
			o->restore.to_server = optarg;
			o->restore.given = 1;
			break;
		case OPT_REPLACE:
			o->restore.replace = 1;
			o->restore.given = 1;
			break;
		case OPT_IMPORT_TO:
			o->restore.import_to = optarg;
			o->restore.given = 1;
			break;
		case 'd':
			o->dry_run = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 's':
			o->sections = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &o->level) == -1) {
				fprintf(stderr,
				        "tisbackup: -l %s: unknown log level (use debug, "
				        "info, warning, error or critical)\n",
				        optarg);
				return -1;
			}
			break;
		case 'F':
			if (log_format_parse(optarg, &o->log_format) == -1) {
				fprintf(stderr,
				        "tisbackup: --log-format %s: unknown format (use "
				        "text, json, journal or auto)\n",
				        optarg);
				return -1;
			}
			break;
		case 'n':
			if (parse_len(optarg, &o->len) == -1) {
				fprintf(stderr,
				        "tisbackup: -n %s: expected a positive number of rows\n",
				        optarg);
				return -1;
			}
			break;
		case 'j':
			if (parse_len(optarg, &o->jobs) == -1) {
				fprintf(stderr,
				        "tisbackup: -j %s: expected a positive number of jobs\n",
				        optarg);
				return -1;
			}
			break;
		case 'b':
			o->backupdir = optarg;
			break;
		case 'x':
			o->exportdir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			version_print(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "tisbackup: option %s needs a value\n", argv[optind - 1]);
			return -1;
		default:
			if (optopt != 0)
				fprintf(stderr, "tisbackup: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "tisbackup: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "Try 'tisbackup --help'.\n");
			return -1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "tisbackup: no action given\n");
		fprintf(stderr, "Try 'tisbackup --help'.\n");
		return -1;
	}
	o->action = argv[optind];
	o->entry = action_find(o->action);
	if (o->entry != NULL && (o->entry->flags & ACTION_WORDS)) {
		o->args = argv + optind + 1;
		o->nargs = argc - optind - 1;
		return 0;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "tisbackup: one action at a time (got '%s' and '%s')\n",
		        argv[optind], argv[optind + 1]);
		return -1;
	}
	if (o->entry == NULL) {
		struct buf b;
		const char *near = action_suggest(o->action);

		buf_init(&b, (size_t)-1);
		action_list_names(&b, 0, ", ");
		if (near != NULL)
			fprintf(
			    stderr,
			    "tisbackup: unknown action '%s': did you mean '%s'? (actions: %s)\n",
			    o->action, near, buf_str(&b));
		else
			fprintf(stderr, "tisbackup: unknown action '%s' (expected one of: %s)\n",
			        o->action, buf_str(&b));
		buf_free(&b);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o = { .config = DEFAULT_CONFIG, .len = 30, .level = LOG_INFO };
	const struct action_entry *e;
	struct action_ctx a = { 0 };
	struct config *cfg = NULL;
	const struct job **jobs = NULL;
	size_t n = 0;
	struct err err;
	int rc;

	umask(027);
	spawn_install_signal_handlers();
	if (parse_args(argc, argv, &o) == -1)
		return usage_rc(argc, argv);
	e = o.entry;
	log_set_level(o.level);
	log_set_format(o.log_format);
	err_clear(&err);

	if (o.explain && strcmp(e->name, "cleanup") != 0) {
		fprintf(stderr, "tisbackup: --explain is an option of cleanup only\n");
		return usage_rc(argc, argv);
	}
	if (o.usb && !(e->flags & ACTION_EXPORTDIR)) {
		fprintf(stderr, "tisbackup: --usb is an option of exportbackup only\n");
		return usage_rc(argc, argv);
	}
	if (o.pools.n > 0 && e->command != cmd_worker) {
		fprintf(stderr, "tisbackup: --pool is an option of worker only\n");
		return usage_rc(argc, argv);
	}
	if (o.from != NULL && e->command != cmd_catalog) {
		fprintf(stderr, "tisbackup: --from is an option of catalog migrate only\n");
		return usage_rc(argc, argv);
	}
	if (o.restore.given && e->run != action_restore && e->command != cmd_catalog) {
		fprintf(stderr,
		        "tisbackup: --at, --path, --to, --in-place, --yes, --db, --to-db, "
		        "--to-server, --replace and --import-to are options of restore only\n");
		rc = EXIT_USAGE;
		goto out;
	}

	if (e->flags & ACTION_WORDS) {
		struct cli c = { .config = o.config,
			         .config_given = o.config_given,
			         .gui_config =
			             o.gui_config != NULL ? o.gui_config : GUICONF_DEFAULT_PATH,
			         .backupdir = o.backupdir,
			         .jobs = o.jobs,
			         .role = o.role,
			         .verbose = o.verbose,
			         .level = o.level,
			         .args = o.args,
			         .nargs = o.nargs,
			         .from = o.from,
			         .to = o.restore.to,
			         .pools = o.pools.v,
			         .npools = o.pools.n };

		rc = e->command(&c);
		strv_free(&o.pools);
		return rc;
	}
	if (o.nargs > 0 || o.role != NULL) {
		fprintf(stderr, "tisbackup: %s takes no %s\n", o.action,
		        o.role != NULL ? "--role" : "extra words");
		return usage_rc(argc, argv);
	}
	a.dry_run = o.dry_run;
	a.verbose = o.verbose;
	a.max_parallel = o.jobs;
	a.exportdir = o.exportdir;
	a.usb = o.usb;
	a.explain = o.explain;
	a.restore = &o.restore;
	a.len = o.len;
	a.gui_config = o.gui_config != NULL ? o.gui_config : GUICONF_DEFAULT_PATH;
	if (!(e->flags & ACTION_CONFIG))
		return e->run(&a);
	if (o.usb && o.exportdir != NULL) {
		fprintf(stderr, "tisbackup: %s: -x DIR or --usb, not both\n", e->name);
		return EXIT_USAGE;
	}
	if ((e->flags & ACTION_EXPORTDIR) && o.exportdir == NULL && !o.usb) {
		fprintf(stderr, "tisbackup: %s needs the target folder: -x DIR (or --usb)\n",
		        e->name);
		return EXIT_USAGE;
	}

	if (config_load(o.config, o.backupdir, &cfg, &err) == -1) {
		if (e->flags & ACTION_MONITOR) {
			printf("UNKNOWN : configuration error: %s\n", err.msg);
			return 3;
		}
		action_print_err(err.msg);
		if (access(o.config, F_OK) == -1 && errno == ENOENT)
			fprintf(
			    stderr,
			    "tisbackup: give the configuration with -c FILE (default %s); a "
			    "commented sample of every driver is samples/tisbackup-config.ini in "
			    "the source, /usr/share/doc/tisbackup/examples/ once installed\n",
			    DEFAULT_CONFIG);
		return EXIT_CONFIG;
	}
	action_print_warnings(&cfg->warnings);
	if (config_select(cfg, o.sections, &jobs, &n, &err) == -1) {
		if (e->flags & ACTION_MONITOR) {
			printf("UNKNOWN : %s\n", err.msg);
			rc = 3;
		} else {
			action_print_err(err.msg);
			rc = EXIT_USAGE;
		}
		goto out;
	}
	if (e->flags & ACTION_MONITOR)
		log_set_level(LOG_CRITICAL);
	a.cfg = cfg;
	a.jobs = jobs;
	a.njobs = n;
	a.select = o.sections;
	if (a.max_parallel == 0) {
		const char *mp = config_global_get(cfg, "max_parallel");

		a.max_parallel = mp != NULL ? (int)strtol(mp, NULL, 10) : DEFAULT_PARALLEL;
		if (a.max_parallel < 1)
			a.max_parallel = 1;
	}
	rc = action_exec(e, &a);
out:
	log_close_file();
	strv_free(&o.restore.paths);
	strv_free(&o.pools);
	free(jobs);
	config_free(cfg);
	return rc;
}
