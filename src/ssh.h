/*
 * The OpenSSH client as our transport, always through the spawn module.
 * Options every connection gets: BatchMode (never prompt), the job's key
 * with IdentitiesOnly, its port, connect and keep-alive timeouts, and host
 * key checking against a known_hosts file (`known_hosts_file`, policy
 * `host_key_policy` = accept-new (default: record on first use, refuse a
 * changed key) or strict (the host must already be listed)).
 */
#ifndef TB_SSH_H
#define TB_SSH_H

#include "util/err.h"
#include "util/strv.h"

struct job;
struct progress;

/* Append "ssh" and its options for job (not the destination) to out. */
void ssh_base_argv(const struct job *job, struct strv *out);
/*
 * Check that server_name and remote_user are safe words for ssh and rsync
 * (a leading '-' would be taken as an option): a host name without
 * spaces, '@', ':' or '/'; a user name of letters, digits and . _ - $ \;
 * and that private_key and known_hosts_file hold no "${" (ssh expands it,
 * with no escape; a '%' is escaped instead). Called by the config loader
 * for every driver with DRV_CAP_SSH. 0 or -1 + err ("server_name: ..." /
 * "remote_user: ..." / "private_key: ...").
 */
int ssh_check_target(const struct job *job, struct err *err);

/* "user@server" for job, into a string the caller frees. */
char *ssh_destination(const struct job *job);

/*
 * Run `command`, a shell command line written by the admin (preexec,
 * postexec), on the job's host, under the run's watchdog pg
 * (watchdog_spawn(); NULL: only timeout_sec). Its output is logged at INFO
 * under the job's name.
 * Returns 0 on exit status 0; else -1 and err holds the exit status and
 * the last lines of output. `what` names the step in messages.
 */
int ssh_run_command(const struct job *job, struct progress *pg, const char *what,
                    const char *command, int timeout_sec, struct err *err);

#endif
