/*
 * The action table: every word the CLI accepts after its options
 * (backup, cleanup, ..., serve, worker, user), with its usage line, what
 * it needs (flags) and the function that runs it. main.c, the queue, the
 * worker, the REST API and the scheduler read this table instead of
 * keeping their own lists of action names (tmux's cmd_table is the
 * model). Adding an action = one line in action.c's table + its own file.
 */
#ifndef TB_ACTION_H
#define TB_ACTION_H

#include <stdio.h>

#include "actions.h"
#include "util/buf.h"
#include "util/strv.h"

struct cli;

/* What an action needs; the CLI does the common work these flags name. */
enum action_flag {
	ACTION_CONFIG = 1 << 0,       /* loads -c and the -s selection */
	ACTION_WRITES = 1 << 1,       /* opens the run log and the catalog read-write (not in -d) */
	ACTION_FILES = 1 << 2,        /* every file a job names must be readable first */
	ACTION_EXPORTDIR = 1 << 3,    /* needs -x DIR or --usb */
	ACTION_ALERTS = 1 << 4,       /* loads [alerts] of the gui config (not in -d) */
	ACTION_DRYRUN_READS = 1 << 5, /* -d still reads the catalog (read-only) */
	ACTION_DISKFULL_OK = 1 << 6,  /* run log or catalog unusable: warn and go on */
	ACTION_MONITOR = 1 << 7,      /* errors are a monitoring verdict (UNKNOWN, exit 3) */
	ACTION_WORDS = 1 << 8,        /* a command: takes words after it, runs with struct cli */
	ACTION_ONE_ACTIVE = 1 << 9,   /* queue: one active run at a time, whatever its sections */
};

struct action_entry {
	const char *name;  /* the CLI word */
	const char *usage; /* usage column of --help; NULL = name */
	const char *help;  /* --help text; '\n' separates its lines */
	/* Name in the queue, the REST API and the scheduler; NULL = cannot be queued. */
	const char *queue_name;
	/* Job key holding its schedule for serve's scheduler; NULL = not scheduled. */
	const char *schedule_key;
	unsigned flags; /* enum action_flag */
	/* An action: returns its exit code (EXIT_* of actions.h). */
	int (*run)(const struct action_ctx *a);
	/* A command (ACTION_WORDS): returns its exit code. */
	int (*command)(const struct cli *c);
};

/* The table, in --help order, ended by an entry whose name is NULL. */
extern const struct action_entry action_table[];

/* The entry whose CLI word is name, or NULL. */
const struct action_entry *action_find(const char *name);

/*
 * The CLI word closest to a mistyped name (at most two edits away, e.g.
 * "backup" for "bakup"), or NULL.
 */
const char *action_suggest(const char *name);

/* The queueable entry whose queue name is qname, or NULL. */
const struct action_entry *action_find_queued(const char *qname);

/*
 * Append the names to b, separated by ", " (the last two by last_sep):
 * CLI words when queued is 0, else the queue names of queueable actions.
 */
void action_list_names(struct buf *b, int queued, const char *last_sep);

/* Print the "Actions:" lines of --help (name column, then help) to out. */
void action_print_help(FILE *out);

/*
 * Run an action (not a command) for the CLI: open what its flags ask
 * (run log, catalog, [alerts] of a->gui_config), fill a->cat, a->rcat and
 * a->gui, call e->run and close them. Errors are printed to stderr
 * (prefixed "tisbackup: "). Returns the exit code.
 */
int action_exec(const struct action_entry *e, struct action_ctx *a);

/* Print a multi-line error message to stderr, each line prefixed "tisbackup: ". */
void action_print_err(const char *msg);

/*
 * Print the warnings a load returned (struct config, struct guiconf) to
 * stderr, each line prefixed "tisbackup: warning: ": how the CLI reports
 * them (serve logs them instead). NULL-safe.
 */
void action_print_warnings(const struct strv *w);

#endif
