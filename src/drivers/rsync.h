/*
 * What the rsync-based drivers share: the rsync command line (options,
 * excludes, link-dest history, the transport: ssh or an rsync daemon), its
 * --stats parser, the run of one transfer (rsync_pull) and the exit-code
 * policy. rsync+ssh and rsync are two descriptors over this one
 * implementation (drv_rsync.c), and so are rsync+btrfs+ssh and rsync+btrfs
 * (drv_btrfs.c, into a btrfs working copy instead of a dated folder); the
 * exit-code policy (rsync_policy.c) is exportbackup's too.
 */
#ifndef TB_RSYNC_H
#define TB_RSYNC_H

#include <stdint.h>

#include "drivers/driver.h"
#include "util/err.h"
#include "spawn.h"
#include "ssh.h"
#include "util/strv.h"

struct job;

/* How rsync reaches the server. */
enum rsync_transport {
	RSYNC_OVER_SSH, /* user@server:remote_dir/ through ssh (rsync -e) */
	RSYNC_DAEMON,   /* user@server::module/remote_dir/ from an rsync daemon */
};

struct rsync_stats {
	int64_t total_files;
	int64_t written_files;
	int64_t total_bytes;
	int64_t written_bytes;
};

#define RSYNC_TAIL_LINES 8 /* output lines kept for an error message */

/* The last RSYNC_TAIL_LINES lines of something, oldest overwritten first. */
struct rsync_line_ring {
	char *v[RSYNC_TAIL_LINES];
	size_t next;
};

/*
 * What one rsync run told us: its statistics, and its words for an error
 * message. Filled by rsync_output_line(), used by every caller of rsync
 * (the rsync drivers, exportbackup). Zero-initialise, set name and verbose.
 */
struct rsync_output {
	const char *name; /* the job, for log lines */
	int verbose;      /* transfer lines at INFO (else DEBUG) */
	int over_ssh;     /* rsync runs ssh: its error lines go to ssh (below) */
	struct rsync_stats st;
	struct ssh_diag ssh;             /* ssh's own error lines, explained by rsync_judge() */
	struct rsync_line_ring problems; /* rsync's complaints */
	struct rsync_line_ring tail;     /* any last lines */
	struct progress *pg; /* the run's, whose xfer report shows progress; may be NULL */
};

/*
 * A spawn line callback (ctx is a struct rsync_output): feeds the stats
 * parser, logs the line (rsync's complaints and ssh's errors at WARNING,
 * --info=progress2 lines handed to ro->pg's xfer report and logged at
 * DEBUG when there is one, else at INFO when verbose) and remembers it
 * for rsync_output_explain(), or ssh's own error lines in ro->ssh
 * (over_ssh).
 */
void rsync_output_line(void *ctx, enum spawn_stream stream, const char *line, size_t len);
/* Append rsync's own words to err: its last complaints, else its last lines. */
void rsync_output_explain(const struct rsync_output *ro, struct err *err);
void rsync_output_free(struct rsync_output *ro);

/*
 * Feed one output line of `rsync --stats`; recognised lines add to st:
 * "Number of files: N", "Number of [regular ]files transferred: N",
 * "Total file size: N bytes", "Total transferred file size: N bytes",
 * with ',' or '.' digit grouping. Returns 1 if the line was a stats line.
 */
int rsync_stats_feed(struct rsync_stats *st, const char *line);

/*
 * The snapshots to hardlink against, as the original picks them: every
 * unfinished STAMP.rsync newer than the newest finished STAMP, then that
 * finished one; only names before `current`. At most 20 (rsync's limit),
 * newest first, as bare names appended to out. -1 + err if job_dir cannot
 * be listed.
 */
int rsync_link_dests(const char *job_dir, const char *current, struct strv *out, struct err *err);

/*
 * The source rsync pulls, always ending in '/': "user@server:remote_dir/"
 * over ssh, "user@server::module/remote_dir/" from a daemon (one '/'
 * between module and remote_dir, whether remote_dir starts with one or
 * not). The caller frees it.
 */
char *rsync_source(const struct job *job, enum rsync_transport t);

/*
 * The whole rsync argv for one run of job (a validated rsync or rsync+ssh
 * job) into {job->dir}/{stamp}.rsync/, appended to av (SPEC §10):
 *   rsync -rt --stats --delete-excluded --numeric-ids --delete-after
 *   --partial, then overload_args split on white space or -lpgoD (not for
 *   a remote_dir containing "cygdrive"), --hard-links, --acls and
 *   --xattrs when preserve_hardlinks, preserve_acls and preserve_xattrs
 *   are yes, --protect-args unless
 *   protect_args = no, -z, --compress-level=N and --bwlimit=N when above
 *   0 (falling back to [global] compression_level and bw_limit),
 *   --timeout=stall_timeout unless 0, --info=progress2 (always: the
 *   run's progress report reads it; verbose is kept for callers),
 *   --exclude=P per exclude_list pattern, --link-dest=DIR/ per
 *   rsync_link_dests() (none while job->dir does not exist);
 *   over ssh: -e and the ssh command of ssh_base_argv() quoted for rsync;
 *   from a daemon: --port=rsync_port, --contimeout=30 and
 *   --password-file=password_file (the path: rsync reads the password
 *   itself, it never appears in an argv or the environment);
 *   then "--", the source and the destination.
 * 0, or -1 + err (a malformed exclude_list, an unreadable job folder).
 */
int rsync_build_argv(const struct job *job, enum rsync_transport t, const char *stamp, int verbose,
                     struct strv *av, struct err *err);

/*
 * rsync_build_argv() into any destination: rsync writes into dest (a
 * folder; the argv adds the trailing '/'), and the --link-dest history
 * of rsync_link_dests() before stamp is added only when link_dest is 1
 * (the btrfs drivers update one working copy in place and take none).
 * 0, or -1 + err.
 */
int rsync_build_argv_to(const struct job *job, enum rsync_transport t, const char *stamp,
                        const char *dest, int link_dest, int verbose, struct strv *av,
                        struct err *err);

/*
 * The checks a backup over transport t makes before it writes anything:
 * none over ssh (the loader checked the target), the password file for
 * a daemon (rsync_check_password_file()). 0, or -1 + err.
 */
int rsync_check_transport(const struct job *job, enum rsync_transport t, struct err *err);

/*
 * The rsync drivers' validate hook for a daemon job (rsync, rsync+btrfs):
 * server_name and remote_user as for ssh (ssh_check_target()), and
 * rsync_module a single module name. 0, or -1 + err starting with the key.
 */
int rsync_daemon_validate(const struct job *job, struct err *err);

/*
 * rsync refuses a password file other users may read or write (and, when
 * run as root, one root does not own): check it first, so the message
 * says what to do ("password_file F must not be readable by other users:
 * chmod 600 F"). 0, or -1 + err.
 */
int rsync_check_password_file(const char *path, struct err *err);

/* Why rsync runs: the exit-code policy differs in one place (rsync_verdict()). */
enum rsync_purpose {
	RSYNC_FOR_BACKUP, /* a driver pulls a snapshot from a server */
	RSYNC_FOR_EXPORT, /* exportbackup copies a finished local backup */
};

/* What an rsync exit means for the run. */
enum rsync_verdict {
	RSYNC_DONE,        /* exit 0 */
	RSYNC_VANISHED,    /* exit 24: files vanished on the sender; OK with a warning */
	RSYNC_PARTIAL,     /* exit 23: some files or attributes missing; OK, flagged partial */
	RSYNC_FAILED,      /* anything else, or not exited at all */
	RSYNC_PARTIAL_ERR, /* backup: exit 23 with partial_is_error = yes */
	RSYNC_NO_SOURCE,   /* backup: exit 23 without a single file: the source could not be read */
};

/*
 * The exit-code policy, the one table every caller of rsync uses.
 * exited/code as from waitpid, total_files as parsed from --stats,
 * partial_is_error the job's setting. A backup: 0 done, 24 vanished, 23
 * no source when total_files is 0, else partial (an error with
 * partial_is_error), anything else failed. An export copies a local
 * backup that exists: 23 is always partial, whatever total_files and
 * partial_is_error (a setting of the backup, SPEC §8). Not exited (a
 * signal, the watchdog) is always failed.
 */
enum rsync_verdict rsync_verdict(enum rsync_purpose purpose, int exited, int code,
                                 int64_t total_files, int partial_is_error);

/* One ended rsync, as rsync_judge() needs it. */
struct rsync_call {
	const struct job *job; /* stall_timeout, max_runtime, partial_is_error; log lines */
	enum rsync_purpose purpose;
	enum rsync_transport transport; /* a backup's: which exit-code hints apply */
	const char *what; /* the transfer in messages: "rsync from SRC", "rsync of A to B" */
};

/*
 * Turn an ended rsync (res, its output ro) into the run's outcome with
 * rsync_verdict(). 0 when the result may be kept: 24 and 23 log a
 * warning under the job's name and set *warned, 23 sets *partial too.
 * -1 + err otherwise: "WHAT failed: no data for N s: the transfer
 * stalled" (the watchdog, or a backup's exit 30), "WHAT failed (timed
 * out)" (max_runtime), "WHAT failed (exit code N)" with a hint for some
 * codes of a backup, ...; then ssh's diagnosis when ssh complained
 * (ssh_diag_explain(): the fault, the next step, ssh's lines; no exit-code
 * hint then), and rsync's own last lines (left out when ssh could not log
 * in: they only say the connection closed).
 */
int rsync_judge(const struct rsync_call *c, const struct spawn_result *res,
                const struct rsync_output *ro, int *partial, int *warned, struct err *err);

/* Where one backup's rsync writes. */
struct rsync_pull {
	enum rsync_transport transport;
	const char *dest; /* the folder rsync updates, which must exist */
	int link_dest;    /* 1: hardlink against the job's previous snapshots */
};

/*
 * Run the backup rsync of run's job into p->dest, the one way every
 * rsync driver runs it: the argv of rsync_build_argv_to(), the line
 * "rsync from SRC into DEST", the job's watchdog (stall_timeout,
 * max_runtime), rsync_output_line() on every line, and the exit judged
 * by rsync_judge() for a backup. Callers run rsync_check_transport()
 * first. On 0, *stats holds the --stats figures, *partial and *warned
 * what rsync_judge() set (warnings already logged). A dry run only logs
 * "dry run: would run ARGV" and returns 0. -1 + err (rsync's own words
 * at the end) when the transfer must not be kept.
 */
int rsync_pull(const struct drv_run *run, const struct rsync_pull *p, struct rsync_stats *stats,
               int *partial, int *warned, struct err *err);

/*
 * The catalog log line of a successful rsync backup, as the original
 * writes it: "WORDS backup from SOURCE OK, N bytes written for M changed
 * files". The caller frees it.
 */
char *rsync_log_line(const char *words, const char *source, const struct rsync_stats *st);

#endif
