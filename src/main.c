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
 * 2 CRITICAL, 3 UNKNOWN.
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

#include "actions.h"
#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "drivers/driver.h"
#include "guiconf.h"
#include "dumpstat.h"
#include "job.h"
#include "log.h"
#include "nagios.h"
#include "spawn.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

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
	const char *action;
	int config_given;
	const char *gui_config; /* --gui-config */
	const char *role;       /* --role (user add) */
	char **args;            /* words after a command that takes them */
	int nargs;
};

/* Commands that are not backup actions (commands.h); they take words after them. */
static const char *const commands[] = { "serve", "worker", "user", NULL };

static const char *const actions[] = {
	"backup",      "cleanup",     "checknagios",  "dumpstat",
	"retryfailed", "listdrivers", "exportbackup", "register_existing",
	"serve",       "worker",      "user",         NULL,
};

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: tisbackup [OPTIONS] ACTION [OPTIONS]\n"
	        "\n"
	        "Server-side backup orchestrator, a drop-in replacement for TISBackup: it\n"
	        "reads the same /etc/tis/tisbackup-config.ini, writes the same backup tree\n"
	        "and the same catalog ({backup_base_dir}/log/tisbackup.sqlite).\n"
	        "\n"
	        "Actions:\n"
	        "  backup             run every selected job, in config order\n"
	        "  cleanup            delete backups older than backup_retention_time days\n"
	        "  checknagios        monitoring check; prints the verdict, exits 0/1/2/3\n"
	        "  dumpstat           print the last N catalog rows of each selected job\n"
	        "  retryfailed        re-run the jobs without an OK backup in the last 30 hours\n"
	        "  listdrivers        list backup types and their configuration keys\n"
	        "  exportbackup       copy each job's latest good backup to -x DIR, or with\n"
	        "                     --usb to the USB disk labelled tisbackup (mounted\n"
	        "                     for the run, then unmounted)\n"
	        "  register_existing  add catalog rows for backups found on disk\n"
	        "  serve              web UI, REST API, scheduler and queue worker\n"
	        "  worker             run queued runs (for other hosts); stops on SIGTERM\n"
	        "  user add|passwd|del NAME [--role admin|viewer]\n"
	        "                     manage the web users (password read from stdin\n"
	        "                     when it is not a terminal)\n"
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
	        "      --gui-config FILE  web/queue/alerts settings (default " GUICONF_DEFAULT_PATH
	        ")\n"
	        "      --role ROLE        user add: admin or viewer (default viewer)\n"
	        "  -h, --help             this help\n"
	        "      --version          print the version\n"
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
			printf("tisbackup %s (tisbackup-c)\n", TB_VERSION);
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
	for (const char *const *a = commands; *a != NULL; a++)
		if (strcmp(*a, o->action) == 0) {
			o->args = argv + optind + 1;
			o->nargs = argc - optind - 1;
			return 0;
		}
	if (optind + 1 < argc) {
		fprintf(stderr, "tisbackup: one action at a time (got '%s' and '%s')\n",
		        argv[optind], argv[optind + 1]);
		return -1;
	}
	for (const char *const *a = actions; *a != NULL; a++)
		if (strcmp(*a, o->action) == 0)
			return 0;
	fprintf(stderr,
	        "tisbackup: unknown action '%s' (expected one of: backup, cleanup, "
	        "checknagios, dumpstat, retryfailed, listdrivers, exportbackup, "
	        "register_existing, serve, worker, user)\n",
	        o->action);
	return -1;
}

/* Print a multi-line error, each line prefixed with "tisbackup: ". */
static void
print_err(const struct err *err)
{
	const char *p = err->msg;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "tisbackup: %.*s\n", n, p);
		p += n + (nl != NULL);
	}
}

/* Create {base}/log and start the run log there. */
static int
open_run_log(const struct config *cfg, struct err *err)
{
	char stamp[TIME_STAMP_LEN + 1];
	char *dir = fs_join(cfg->backup_base_dir, "log");
	char *path = NULL;
	int rc = -1;

	if (fs_mkdir_p(dir, 0750, err) == -1)
		goto out;
	time_stamp(time(NULL), stamp);
	path = xasprintf("%s/tisbackup_%s.log", dir, stamp);
	if (log_open_file(path, err) == -1)
		goto out;
	rc = 0;
out:
	free(dir);
	free(path);
	return rc;
}

static int
open_catalog(const struct config *cfg, enum catalog_mode mode, struct catalog **cat,
             struct err *err)
{
	char *path = fs_join(cfg->backup_base_dir, "log/tisbackup.sqlite");
	int rc = catalog_open(path, mode, cat, err);

	free(path);
	return rc;
}

static int
cmd_checknagios(struct config *cfg, const struct job *const *jobs, size_t n)
{
	struct catalog *cat = NULL;
	struct err err;
	int rc;

	err_clear(&err);
	if (open_catalog(cfg, CATALOG_RO, &cat, &err) == -1 && err.code != ENOENT) {
		printf("UNKNOWN : cannot read the catalog: %s\n", err.msg);
		return 3;
	}
	rc = nagios_run(cat, jobs, n, time(NULL), stdout);
	if (cat != NULL)
		catalog_close(cat);
	return rc;
}

static int
cmd_dumpstat(struct config *cfg, const struct job *const *jobs, size_t n, int len)
{
	struct catalog *cat = NULL;
	struct err err;
	int rc = 0;

	err_clear(&err);
	if (open_catalog(cfg, CATALOG_RO, &cat, &err) == -1) {
		if (err.code == ENOENT) {
			printf("No catalog yet in %s/log: no backup has run.\n",
			       cfg->backup_base_dir);
			return 0;
		}
		print_err(&err);
		return EXIT_RUNTIME;
	}
	if (dumpstat_run(cat, jobs, n, len, stdout, &err) == -1) {
		print_err(&err);
		rc = EXIT_RUNTIME;
	}
	catalog_close(cat);
	return rc;
}

/* Every file a job names must be usable before anything is written. */
static int
check_job_files(const struct job *const *jobs, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		struct err ferr;

		err_clear(&ferr);
		if (config_check_files(jobs[i], &ferr) == -1) {
			print_err(&ferr);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/*
 * The actions that change things: backup, cleanup, retryfailed,
 * exportbackup, register_existing. Opens the run log and the catalog
 * (not in a dry run) and calls the action.
 */
static int
cmd_action(struct config *cfg, const struct job *const *jobs, size_t n, const struct options *o)
{
	struct action_ctx a = {
		.cfg = cfg,
		.jobs = jobs,
		.njobs = n,
		.dry_run = o->dry_run,
		.verbose = o->verbose,
		.max_parallel = o->jobs,
		.exportdir = o->exportdir,
	};
	const struct job **retry = NULL;
	struct guiconf *gui = NULL;
	char *catalog_path = fs_join(cfg->backup_base_dir, "log/tisbackup.sqlite");
	struct catalog *cat = NULL;
	struct err err;
	int rc;

	err_clear(&err);
	a.catalog_path = catalog_path;
	if (a.max_parallel == 0) {
		const char *mp = config_global_get(cfg, "max_parallel");

		a.max_parallel = mp != NULL ? (int)strtol(mp, NULL, 10) : DEFAULT_PARALLEL;
		if (a.max_parallel < 1)
			a.max_parallel = 1;
	}
	if (strcmp(o->action, "backup") == 0 || strcmp(o->action, "retryfailed") == 0 ||
	    strcmp(o->action, "exportbackup") == 0) {
		if (check_job_files(jobs, n) == -1) {
			rc = EXIT_CONFIG;
			goto out;
		}
	}
	if (!o->dry_run && open_run_log(cfg, &err) == -1) {
		if (strcmp(o->action, "cleanup") != 0) {
			print_err(&err);
			rc = EXIT_RUNTIME;
			goto out;
		}
		/* SPEC §1: a full disk must not stop the cleanup that frees it. */
		log_warning(NULL, "cleanup: logging to stderr only, no run log file: %s", err.msg);
		err_clear(&err);
	}
	if (!o->dry_run || strcmp(o->action, "retryfailed") == 0) {
		if (catalog_open(catalog_path, o->dry_run ? CATALOG_RO : CATALOG_RW, &cat, &err) ==
		        -1 &&
		    !(o->dry_run && err.code == ENOENT)) {
			if (strcmp(o->action, "cleanup") != 0) {
				print_err(&err);
				rc = EXIT_RUNTIME;
				goto out;
			}
			/* cleanup_run() plans read-only and retries after the removals. */
			log_warning(NULL, "cleanup: %s", err.msg);
		}
	}
	a.cat = o->dry_run ? NULL : cat;
	if (!o->dry_run &&
	    (strcmp(o->action, "backup") == 0 || strcmp(o->action, "retryfailed") == 0)) {
		/* [alerts] of the gui ini; a missing file means no alerts. */
		const char *gp = o->gui_config != NULL ? o->gui_config : GUICONF_DEFAULT_PATH;

		if (guiconf_load(gp, 1, &gui, &err) == -1) {
			log_warning(NULL, "alerts disabled: %s", err.msg);
			err_clear(&err);
		}
		a.gui = gui;
	}
	if (strcmp(o->action, "backup") == 0) {
		rc = backup_run(&a);
	} else if (strcmp(o->action, "retryfailed") == 0) {
		size_t nretry = 0;

		if (cat == NULL) {
			/* No catalog yet: every job counts as failed. */
			a.cat = NULL;
			rc = backup_run(&a);
			goto out;
		}
		if (retry_select(
		        &(struct action_ctx){ .cfg = cfg, .jobs = jobs, .njobs = n, .cat = cat },
		        time(NULL), &retry, &nretry, &err) == -1) {
			print_err(&err);
			rc = EXIT_RUNTIME;
			goto out;
		}
		if (nretry == 0) {
			log_info(NULL,
			         "retryfailed: every job has a good backup from the last 30 hours");
			rc = 0;
			goto out;
		}
		a.jobs = retry;
		a.njobs = nretry;
		rc = backup_run(&a);
	} else if (strcmp(o->action, "cleanup") == 0) {
		rc = cleanup_run(&a);
	} else if (strcmp(o->action, "exportbackup") == 0 && o->usb) {
		struct guiconf *gc = NULL;

		if (guiconf_load(o->gui_config != NULL ? o->gui_config : GUICONF_DEFAULT_PATH, 1,
		                 &gc, &err) == -1) {
			print_err(&err);
			rc = EXIT_CONFIG;
			goto out;
		}
		rc = export_usb_run(&a, gc->device_filter_any, gc->mount_base);
		guiconf_free(gc);
	} else if (strcmp(o->action, "exportbackup") == 0) {
		rc = export_run(&a);
	} else {
		rc = register_run(&a);
	}
out:
	if (cat != NULL)
		catalog_close(cat);
	guiconf_free(gui);
	free(retry);
	free(catalog_path);
	return rc;
}

int
main(int argc, char **argv)
{
	struct options o = { .config = DEFAULT_CONFIG, .len = 30, .level = LOG_INFO };
	struct config *cfg = NULL;
	const struct job **jobs = NULL;
	size_t n = 0;
	struct err err;
	int rc;

	umask(027);
	spawn_install_signal_handlers();
	if (parse_args(argc, argv, &o) == -1)
		return EXIT_USAGE;
	log_set_level(o.level);
	err_clear(&err);

	if (o.usb && strcmp(o.action, "exportbackup") != 0) {
		fprintf(stderr, "tisbackup: --usb is an option of exportbackup only\n");
		return EXIT_USAGE;
	}

	if (strcmp(o.action, "serve") == 0 || strcmp(o.action, "worker") == 0 ||
	    strcmp(o.action, "user") == 0) {
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
			         .nargs = o.nargs };

		if (strcmp(o.action, "serve") == 0)
			return cmd_serve(&c);
		if (strcmp(o.action, "worker") == 0)
			return cmd_worker(&c);
		return cmd_user(&c);
	}
	if (o.nargs > 0 || o.role != NULL) {
		fprintf(stderr, "tisbackup: %s takes no %s\n", o.action,
		        o.role != NULL ? "--role" : "extra words");
		return EXIT_USAGE;
	}
	if (strcmp(o.action, "listdrivers") == 0) {
		driver_print_list(stdout);
		return 0;
	}
	if (o.usb && o.exportdir != NULL) {
		fprintf(stderr, "tisbackup: exportbackup: -x DIR or --usb, not both\n");
		return EXIT_USAGE;
	}
	if (strcmp(o.action, "exportbackup") == 0 && o.exportdir == NULL && !o.usb) {
		fprintf(stderr,
		        "tisbackup: exportbackup needs the target folder: -x DIR (or --usb)\n");
		return EXIT_USAGE;
	}

	if (config_load(o.config, o.backupdir, &cfg, &err) == -1) {
		if (strcmp(o.action, "checknagios") == 0) {
			printf("UNKNOWN : configuration error: %s\n", err.msg);
			return 3;
		}
		print_err(&err);
		return EXIT_CONFIG;
	}
	if (config_select(cfg, o.sections, &jobs, &n, &err) == -1) {
		if (strcmp(o.action, "checknagios") == 0) {
			printf("UNKNOWN : %s\n", err.msg);
			rc = 3;
		} else {
			print_err(&err);
			rc = EXIT_USAGE;
		}
		goto out;
	}

	if (strcmp(o.action, "checknagios") == 0) {
		log_set_level(LOG_CRITICAL);
		rc = cmd_checknagios(cfg, jobs, n);
	} else if (strcmp(o.action, "dumpstat") == 0) {
		rc = cmd_dumpstat(cfg, jobs, n, o.len);
	} else {
		rc = cmd_action(cfg, jobs, n, &o);
	}
out:
	log_close_file();
	free(jobs);
	config_free(cfg);
	return rc;
}
