/*
 * The only place that creates processes. A command is an argv array (never
 * a shell string) run with an explicit environment, stdin from /dev/null
 * unless a descriptor is given, in a new process group, every other
 * descriptor closed. The child gets SIGTERM when the thread that started it
 * dies (PR_SET_PDEATHSIG), even by SIGKILL: TERM, so that rsync and the like
 * still end their own children; a child that ignores TERM would survive. Output is read line by
 * line into a callback with a bounded line length; a timeout TERMs then
 * KILLs the whole group; SIGINT/SIGTERM received by tisbackup end the
 * group too (see spawn_install_signal_handlers()).
 */
#ifndef TB_SPAWN_H
#define TB_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct progress;

enum spawn_stream { SPAWN_STDOUT = 1, SPAWN_STDERR = 2 };

/*
 * Called for each line (without its '\n'; a '\r' also ends a line, and
 * "\r\n" counts as one end). line[len] is '\0' for convenience, but the
 * line may itself hold NUL bytes: len is what counts. A line longer than
 * max_line comes in pieces of max_line bytes; an unterminated last line is
 * delivered at end of output. line is only valid during the call.
 */
typedef void (*spawn_line_fn)(void *ctx, enum spawn_stream stream, const char *line, size_t len);

struct spawn_opts {
	/* argv[0] without '/' is looked up in the PATH of envp (absolute entries only) */
	const char *const *argv;
	const char *const *envp; /* NULL: spawn_default_env() */
	const char *cwd;         /* NULL: unchanged (a relative argv[0] is taken from here) */
	int stdin_fd;            /* -1: /dev/null */
	int stdout_fd;           /* -1: piped to on_line; else the child writes there */
	/* stderr lines reported as SPAWN_STDOUT, in order (or into stdout_fd) */
	int merge_stderr;
	int timeout_sec; /* 0: none. Whole-run limit */
	/*
	 * 0: none. Ended as stalled when, for this long, no output arrives
	 * and progress() (when set) returns the same value. Only piped output
	 * counts: with stdout_fd only stderr is watched, and with stdout_fd
	 * plus merge_stderr only progress() is (ignored without it).
	 */
	int idle_timeout_sec;
	/*
	 * May be NULL. A number that changes while the child makes progress
	 * other than by printing (bytes its processes read, a file's size);
	 * called from the waiting thread every few seconds with progress_ctx
	 * and the child's pid (which is also its process group id).
	 */
	long long (*progress)(void *progress_ctx, pid_t pid);
	void *progress_ctx;
	int kill_grace_sec;    /* TERM -> KILL delay; 0 means 5 */
	size_t max_line;       /* longer lines are cut into pieces; 0 means 8192 */
	spawn_line_fn on_line; /* may be NULL: output is discarded */
	void *ctx;
	/*
	 * May be NULL. When set (with stdout_fd == -1 and merge_stderr == 0),
	 * the child's stdout is not split into lines: each chunk read is
	 * passed as is (any bytes, NUL included, in order) to on_data with
	 * ctx, and it counts as activity for idle_timeout_sec. stderr still
	 * goes line by line to on_line. data is only valid during the call.
	 */
	void (*on_data)(void *ctx, const char *data, size_t len);
	/*
	 * May be NULL. Called from the waiting thread about every tick_ms
	 * (0 means 1000) with tick_ctx and the child's pid (its process
	 * group id) until the group is being ended; returning 1 ends the
	 * group like a timeout does (TERM, KILL after kill_grace_sec) and
	 * sets res->stopped. The queue worker's heartbeats and cancels.
	 */
	int (*tick)(void *tick_ctx, pid_t pid);
	void *tick_ctx;
	int tick_ms;
	/*
	 * 1: a SIGINT/SIGTERM received by tisbackup does not end this child;
	 * the caller decides when (through tick). The worker's graceful stop.
	 */
	int ignore_signals;
	/*
	 * May be NULL. The run's progress object (progress.h): the child's
	 * output and progress() changes feed it; its interrupt ends the group
	 * like tick() does (res->stopped); its deadline ends the group like
	 * timeout_sec (res->timed_out); its stall limit applies like
	 * idle_timeout_sec when that is 0. Not owned; must outlive the call.
	 */
	struct progress *watch;
};

struct spawn_result {
	int exited; /* 1 if it exited normally, then `code` is its exit status */
	int code;
	int signal;      /* the signal that ended it, when !exited */
	int timed_out;   /* ended by timeout_sec or idle_timeout_sec */
	int stalled;     /* ... by idle_timeout_sec (timed_out is set too) */
	int interrupted; /* ended because tisbackup received SIGINT/SIGTERM */
	int stopped;     /* ended because tick() asked */
};

/* Set opts to defaults (stdin /dev/null, output discarded, no timeouts). */
void spawn_opts_init(struct spawn_opts *o);

/*
 * Run to completion. Returns 0 when the child ran (whatever its exit
 * status: look at *res), -1 with err when it could not be started (the
 * message names argv[0]: "cannot run 'x': not found in PATH", "cannot run
 * 'x': Permission denied") or waiting failed.
 *
 * Ending the child (timeout, interruption) means SIGTERM to its whole
 * process group, then SIGKILL after kill_grace_sec. When the child exits
 * but other members of its group keep the output pipes open, they get the
 * same treatment kill_grace_sec later (res then reports the child's own
 * exit); background processes that do not hold the pipes are left alone.
 * If a pipe is still open kill_grace_sec after the SIGKILL (its holder left
 * the group), it is abandoned; sooner, as soon as the child exited and no
 * live process is left in its group while it is being ended (or
 * kill_grace_sec after its exit otherwise): the holder is then outside the
 * group (ssh's shared master connection), and waiting would not help. Blocks the calling thread throughout (the
 * child gets SIGTERM if that thread dies); safe to call from several
 * threads at once.
 */
int spawn_run(const struct spawn_opts *o, struct spawn_result *res, struct err *err);

struct spawn_proc;

/*
 * Start o->argv (with o's envp and cwd; the other fields are ignored) on a
 * new pseudo-terminal: its stdin, stdout and stderr, and its controlling
 * terminal (so ssh asks for a password there), 200 columns by 48 rows. The
 * child leads a new session (so a new process group), with the same
 * PDEATHSIG as spawn_run(). 0 with *out and *master_fd (the terminal's
 * other side, to read what the child prints and write what it reads: hand
 * it to dialog_fd_transport() without closing it), or -1 + err as
 * spawn_run(). Every *out must go to spawn_finish().
 */
int spawn_start_pty(const struct spawn_opts *o, struct spawn_proc **out, int *master_fd,
                    struct err *err);

/*
 * End a child of spawn_start_pty(): close the terminal (the child gets a
 * hangup), give it kill_grace_sec to exit, then TERM its group, and KILL
 * it kill_grace_sec later (res->timed_out set if it had to be ended).
 * Reaps it, fills res, releases p. 0, or -1 + err when waiting failed.
 */
int spawn_finish(struct spawn_proc *p, struct spawn_result *res, struct err *err);

/*
 * The environment children get by default: a fixed PATH, LC_ALL=C (so
 * tools print numbers and messages we can parse), and HOME, USER,
 * LOGNAME, TZ, TMPDIR passed through. NULL-terminated, static storage,
 * built once (thread-safe) from the environment as it is at the first call.
 */
const char *const *spawn_default_env(void);

/*
 * Describe a result for a log line: "interrupted", "stopped", "timed out",
 * "exit code 23" or "killed by signal 9 (SIGKILL)", in that order of
 * precedence.
 */
void spawn_describe(const struct spawn_result *res, char *out, size_t outsz);

/*
 * Install SIGINT/SIGTERM/SIGHUP handlers that make running spawn_run()
 * calls end their process groups and return with res->interrupted set
 * (noticed within a second in every thread). A child started after the
 * signal is not ended by it, so cleanup commands can still run; a further
 * signal ends those too. SIGPIPE is ignored (children get it back at its
 * default, like every other signal). Call once at start-up.
 */
void spawn_install_signal_handlers(void);
/*
 * How many terminating signals have been received so far. An in-process
 * transfer notes it when it starts and ends itself when it changes, as
 * spawn_run() does for its child.
 */
unsigned long spawn_signal_count(void);
/* 1 once a terminating signal has been received. */
int spawn_interrupted(void);

#endif
