/*
 * Running one command on a job's server over ssh for the dump drivers
 * (mysql+ssh, pgsql+ssh, ...): its stdout streamed into a dumpfile (or
 * collected as lines, for listings), its stderr logged and its last lines
 * kept, and one error message that says what failed and in the tool's own
 * words.
 */
#ifndef TB_REMOTE_CMD_H
#define TB_REMOTE_CMD_H

#include <stddef.h>

#include "ssh.h"
#include "util/err.h"
#include "util/strv.h"

struct dumpfile;
struct job;
struct progress;

#define REMOTE_CMD_TAIL_LINES 5
#define REMOTE_CMD_MAX_LINES 10000 /* a listing longer than this is refused by the caller */

/* One remote command. Zero-initialise, set the public fields. */
struct remote_cmd {
	const char *name;   /* job name, for the log */
	const char *tool;   /* "mysqldump", "pg_dump", ...: in messages */
	const char *prefix; /* shell text before the command ("cd / && "), or NULL */
	const char
	    *dest;    /* [user@]host to run it on (the job's ssh options); NULL: the job's server */
	int stdin_fd; /* given to the command as stdin (secrets); -1 or 0 = none */
	struct dumpfile *df; /* stdout goes here when set ... */
	struct strv *lines;  /* ... else stdout lines (at most REMOTE_CMD_MAX_LINES + 1) */
	/* private */
	struct err write_err; /* first dumpfile_write() failure */
	int write_failed;
	char *tail[REMOTE_CMD_TAIL_LINES]; /* last stderr lines */
	size_t next;
	struct ssh_diag diag; /* ssh's own error lines (not in tail) */
};

/*
 * Run remote (an argv, quoted once for the remote shell by quote_sh_argv)
 * on the server of job over the job's ssh options, under the
 * watchdog pg (the run's or the restore's progress); with a dumpfile,
 * progress is the bytes received. Returns 0 when it exited 0 and every write
 * succeeded, else -1 + err: `what` failed, why (exit code, stall, time
 * limit, ssh's 255, a missing tool's 127) and the tool's last stderr lines.
 */
int remote_cmd_run(const struct job *job, struct progress *pg, const char *const *remote,
                   const char *what, struct remote_cmd *c, struct err *err);
/*
 * A pipe whose read end (*rfd, for remote_cmd.stdin_fd; caller closes)
 * yields the len bytes of data, then EOF: how a secret (an option file, a
 * parameter file, a password) reaches the remote tool without ever being
 * in a command line or a file. len must stay below the pipe's capacity
 * (64 KiB), since it is written before anyone reads. 0 or -1 + err.
 */
int remote_secret_pipe(const char *data, size_t len, int *rfd, struct err *err);

/* Free what c collected (not df or lines). */
void remote_cmd_free(struct remote_cmd *c);

#endif
