/*
 * The loaded configuration's model (sections, entries, jobs) and the
 * lookups a run makes on it: a job's effective value for a key (its
 * section, else [global], else the driver's default), as a string, a
 * boolean or an integer. config.c builds the model and validates it;
 * the transports (ssh.c), the watchdog and the drivers only read it,
 * through here, without depending on the loader.
 */
#ifndef TB_JOBCONF_H
#define TB_JOBCONF_H

#include <stddef.h>

#include "util/strarena.h"
#include "util/strv.h"

struct driver;

struct cfg_entry {
	char *key;   /* lower-cased */
	char *value; /* trimmed; continuation lines joined with '\n' */
	int line;    /* 1-based line of the key */
};

struct cfg_section {
	char *name;
	int line;
	struct cfg_entry *entries;
	size_t n;
};

/* One backup job: a non-[global] section, resolved and validated. */
struct job {
	const struct config *cfg;
	const struct cfg_section *sec;
	const char *name; /* == sec->name */
	const struct driver *drv;
	char *dir; /* {backup_base_dir}/{name}, owned */
	const char *server_name;
	const char *description; /* "" when unset */
	const char *preexec;     /* NULL when unset or empty */
	const char *postexec;
	const char *private_key;
	const char *remote_user; /* "root" by default */
	int ssh_port;            /* 22 by default */
	int retention_days;      /* from the section or [global] */
	int max_age_hours;
	/*
	 * NULL for the jobs of config.jobs. For those of config.invalid: why
	 * the job cannot run, one "FILE:LINE: [section] key: problem" line
	 * each (owned); drv may then be NULL (an unknown type).
	 */
	char *invalid;
};

struct config {
	char *path;
	struct cfg_section *sections; /* every section in file order, [global] included */
	size_t nsections;
	const struct cfg_section *global;
	char *backup_base_dir; /* owned; -b overrides the file */
	struct job *jobs;      /* every valid job section in file order */
	size_t njobs;
	/*
	 * The job sections that failed validation, in file order: they never
	 * run; a run that selects one records it as an ERROR (job->invalid).
	 */
	struct job *invalid;
	size_t ninvalid;
	/*
	 * What loading accepted but the admin should know ("FILE:LINE:
	 * [section] key: ..." per line, in file order). The loader prints
	 * nothing: the CLI writes them to stderr, serve to its log.
	 */
	struct strv warnings;
	/* [catalog] (docs/catalog.md): not a job; NULL when absent. */
	const struct cfg_section *catalog;
	/* Owns the sections' names and the entries' keys and values. */
	struct strarena strings;
};

/* The job called name, or NULL. */
const struct job *config_find_job(const struct config *cfg, const char *name);

/*
 * A job's value for key: the section's, else [global]'s, else the driver
 * key table's default, else NULL. Empty values count as unset.
 */
const char *job_get(const struct job *job, const char *key);
/* The job's worker pool: its pool key (or [global]'s), else POOL_DEFAULT. Never NULL. */
const char *job_pool(const struct job *job);
/* The entry (for its line number) in the section or [global], or NULL. */
const struct cfg_entry *job_entry(const struct job *job, const char *key);
/*
 * job_get() as a boolean (yes/no, true/false, on/off, 1/0, any case, and
 * the loose words of config_parse_bool(): the loader refused them where
 * they are not allowed); def when unset.
 */
int job_get_bool(const struct job *job, const char *key, int def);
/* job_get() as an integer; def when unset. Values were validated at load. */
long job_get_long(const struct job *job, const char *key, long def);

/*
 * Parse a boolean as the original accepts it. loose adds copy-vm-xcp's
 * "t", "y" and "oui". Returns 1, 0, or -1 when it is not a boolean.
 */
int config_parse_bool(const char *s, int loose);

/*
 * Parse a percentage (KEY_PERCENT): digits, an optional '.' and up to
 * three decimals, an optional '%'; above 0, at most 100. Into *out in
 * thousandths of a percent (1 % = 1000). 0, or -1 when it is not one.
 */
int config_parse_percent(const char *s, long *out);

#endif
