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

/*
 * 1 if host can be given to ssh and rsync as a server_name: not empty, no
 * leading '-' (it would be read as an option), no blank, control
 * character, '@', ':' or '/'. The check ssh_check_target() applies.
 */
int ssh_host_ok(const char *host);
/* 1 if user is a remote_user ssh_check_target() accepts (letters, digits, . _ - $ \, no leading '-'). */
int ssh_user_ok(const char *user);

/* "user@server" for job, into a string the caller frees. */
char *ssh_destination(const struct job *job);

/*
 * Run `command`, a shell command line written by the admin (preexec,
 * postexec), on the job's host (on a terminal, so it gets SIGHUP when its
 * session ends early; its input /dev/null, read by a POSIX-like login
 * shell), under the run's watchdog pg
 * (watchdog_spawn(); NULL: only timeout_sec). Its output is logged at INFO
 * under the job's name.
 * Returns 0 on exit status 0; else -1 and err holds the exit status and
 * the last lines of output. `what` names the step in messages.
 */
int ssh_run_command(const struct job *job, struct progress *pg, const char *what,
                    const char *command, int timeout_sec, struct err *err);

/*
 * Why ssh itself failed, read from its own stderr lines (every driver and
 * hook that runs a command through ssh feeds them here, so the catalog
 * row, the run log and the alert carry ssh's words and the next step
 * instead of a bare "exit code 255").
 */
enum ssh_fault {
	SSH_FAULT_NONE,
	SSH_FAULT_HOSTKEY,         /* "Host key verification failed." without more */
	SSH_FAULT_CLOSED,          /* the server closed or reset before the login */
	SSH_FAULT_LOST,            /* the connection dropped after the login */
	SSH_FAULT_AUTH,            /* "user@host: Permission denied (publickey)." */
	SSH_FAULT_REFUSED,         /* "connect to host H port P: Connection refused" */
	SSH_FAULT_TIMEOUT,         /* connecting, or the banner exchange, timed out */
	SSH_FAULT_UNREACHABLE,     /* no route to the host, network unreachable */
	SSH_FAULT_DNS,             /* "Could not resolve hostname" */
	SSH_FAULT_KEY_FILE,        /* the key file is missing, unreadable or too open */
	SSH_FAULT_HOST_UNKNOWN,    /* host_key_policy = strict and the host is not listed */
	SSH_FAULT_HOSTKEY_CHANGED, /* "REMOTE HOST IDENTIFICATION HAS CHANGED" */
};

#define SSH_DIAG_LINE 256

/* What ssh said so far; zero-initialise, feed with ssh_diag_feed(). */
struct ssh_diag {
	enum ssh_fault fault;            /* the most telling fault seen */
	char cause[SSH_DIAG_LINE];       /* ssh's line that named it */
	char last[SSH_DIAG_LINE];        /* ssh's last error line, when another one */
	char known_hosts[SSH_DIAG_LINE]; /* from "Offending ... key in FILE:N" */
	int in_banner;                   /* inside the "HOST IDENTIFICATION HAS CHANGED" box */
};

/*
 * The fault one output line of ssh names (SSH_FAULT_NONE for any other
 * line). Matches ssh's own wording only ("Permission denied (" with its
 * list of methods, "ssh: connect to host ...", ...), so a remote tool's
 * "Permission denied" on a file is not taken for a refused login.
 */
enum ssh_fault ssh_classify_line(const char *line, size_t len);

/*
 * Feed one output line of a command run through ssh. Returns 1 when the
 * line is ssh's own error text (remembered in d, or part of its host key
 * warning box): callers may leave it out of their own "last lines", since
 * ssh_diag_explain() quotes it; 0 for any other line.
 */
int ssh_diag_feed(struct ssh_diag *d, const char *line, size_t len);

/*
 * When d holds a fault: append to err ssh's words ("ssh: LINE", and its
 * last error line when another) and the next step for job ("add the
 * public key ... to ~USER/.ssh/authorized_keys on HOST", "the host key of
 * HOST changed: check why, then `ssh-keygen -f FILE -R HOST`", ...).
 * Returns 1 then, 0 (err untouched) when d holds nothing.
 */
int ssh_diag_explain(const struct ssh_diag *d, const struct job *job, struct err *err);

/*
 * The one reading of a failed command run through ssh, for every driver.
 * Exit code 255 (ssh's own): ssh_diag_explain(), else the generic "(exit
 * code 255 is ssh's own: connection or authentication failed)". Another
 * exit (the remote command's): the lines d kept, as they came, since the
 * caller left them out of its tail. exited and code as in struct
 * spawn_result.
 */
void ssh_diag_exit(const struct ssh_diag *d, const struct job *job, int exited, int code,
                   struct err *err);

/* One line naming fault, for logs and tests ("the login was refused", ...). */
const char *ssh_fault_name(enum ssh_fault fault);

#endif
