/*
 * The backup configuration: an INI file as the original's Python
 * ConfigParser reads it (sections in file order, case-insensitive keys,
 * "key = value" or "key: value", ';' and '#' comment lines, indented
 * continuation lines), validated against each driver's key table.
 *
 * Loading never touches the disk beyond reading the file: creating job
 * folders is the caller's business, after validation succeeded.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>

#include "jobconf.h"
#include "util/err.h"

/*
 * Read and validate the file at path. base_dir_override (-b) replaces
 * [global] backup_base_dir when not NULL. On success *out is a config the
 * caller frees with config_free(). A job section with problems does not
 * fail the load: it goes to cfg->invalid with its problems (each job is
 * validated on its own, so one job this binary cannot run does not stop
 * the others). A syntax error or a problem in [global] fails it: -1 and
 * err holds one line per problem (the job sections' included), each
 * naming "file:line: [section] key: what is wrong";
 * err->code is ENOENT/EACCES when the file itself could not be read.
 * File-system checks on values (key files) are left to config_check_files().
 */
int config_load(const char *path, const char *base_dir_override, struct config **out,
                struct err *err);
/*
 * config_load() on a configuration already in memory: len bytes of data
 * (not NUL-terminated; a NUL byte is reported as a bad line), with name
 * standing for the file in messages. Same contract otherwise; it is what
 * config_load() calls once the file is read, and what the tests and the
 * fuzzer drive directly.
 */
int config_parse_buffer(const char *name, const char *data, size_t len,
                        const char *base_dir_override, struct config **out, struct err *err);
void config_free(struct config *cfg);

/*
 * Read any INI file with the same syntax rules (comments, continuation
 * lines, duplicate sections and keys refused, errors naming file:line)
 * but no tisbackup validation: only cfg->path and cfg->sections are set.
 * Used for tisbackup_gui.ini. *out is freed with config_free(); err->code
 * is the errno when the file cannot be read.
 */
int config_read_ini(const char *path, struct config **out, struct err *err);
/* The section called name, or NULL. */
const struct cfg_section *config_section(const struct config *cfg, const char *name);

/*
 * Checks the values that name local files for a job that is about to run
 * (private_key readable, ...), for actions that use them. 0 or -1 + err
 * naming file:line, section and key.
 */
int config_check_files(const struct job *job, struct err *err);

/*
 * What config_check_files_memo() learnt of each file in one pass (zero
 * it before the first use; config_files_memo_free() after the last):
 * files are checked once each, however many jobs name them. A pass is
 * short (one selection of jobs): a file that changes during it is not
 * seen again.
 */
struct config_file_state {
	char *path;
	int state; /* 0 usable, -1 not a regular file, else an errno */
};
struct config_files_memo {
	struct config_file_state *ent;
	size_t n, cap;
};
/* config_check_files() with the answers remembered in memo (NULL: none). */
int config_check_files_memo(const struct job *job, struct config_files_memo *memo, struct err *err);
void config_files_memo_free(struct config_files_memo *memo);

/*
 * The invalid jobs (config.invalid) a -s value names (NULL or "" = all of
 * them), in config order, into an array the caller frees (not the jobs).
 * Names that are not invalid jobs are config_select()'s business.
 */
void config_select_invalid(const struct config *cfg, const char *csv, const struct job ***out,
                           size_t *n);

/*
 * Resolve a -s value ("a,b"; NULL or "" = every job) into an array of jobs
 * in config order (caller frees the array, not the jobs). A name of an
 * invalid job (config.invalid) selects nothing here (see
 * config_select_invalid()). An unknown name is an error naming it and
 * listing the known ones.
 */
int config_select(const struct config *cfg, const char *csv, const struct job ***out, size_t *n,
                  struct err *err);

/* The [global] value of key (validated at load), or NULL when unset or empty. */
const char *config_global_get(const struct config *cfg, const char *key);
/* The catalog's address for catalog_open() (catalog_address() of [catalog]). Caller frees. */
char *config_catalog_address(const struct config *cfg);

#endif
