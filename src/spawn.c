/*
 * Running programs: the only file in tisbackup that creates processes.
 *
 * A child is made with clone(CLONE_VM | CLONE_VFORK) and execve() of an
 * argv array, never through a shell: the child borrows our memory (no page
 * tables are copied, which fork() of a process with many threads and a big
 * catalog cache paid on every command) and this thread waits until it has
 * exec'd or exited. Because the child shares our memory, it only makes
 * system calls (libc's async-signal-safe wrappers) on data prepared before
 * the clone: the resolved program path, /dev/null, the pipes. It runs on a
 * stack of its own, never returns into our frames, and writes to our
 * memory only its failure report. Every descriptor we create is
 * close-on-exec and the child closes all but 0-2 anyway, so no job's pipe
 * ends up in another job's child.
 *
 * The child leads a new process group and gets SIGTERM if the thread that
 * made it dies, even by SIGKILL (PR_SET_PDEATHSIG); a guardian process
 * (below) then ends the whole group, what the child started itself
 * included: SIGTERM, and SIGKILL a second later. Ending a child always
 * means the whole group: SIGTERM, a grace period, then SIGKILL.
 * The child is reaped only at the very end, so its pid (and so the group
 * id) cannot be recycled while we may still send signals to the group.
 *
 * Exec failures come back as a stage and an errno that the child stores in
 * the shared struct spawn_child before it exits (we run again only then),
 * so the caller gets "cannot run 'x': Permission denied" rather than an
 * unexplained exit status 127.
 */
#include "spawn.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "util/procgrp.h"
#include "util/xmalloc.h"

#define SPAWN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SPAWN_DEFAULT_GRACE 5
#define SPAWN_DEFAULT_MAX_LINE 8192
#define SPAWN_POLL_MAX_MS 1000   /* how late a signal in another thread is noticed */
#define SPAWN_POLL_NOPIDFD_MS 20 /* exit polling on kernels without pidfd_open() */
#define SPAWN_READ_SIZE 16384
#define SPAWN_GROUP_CHECK_MS 100 /* how often an ended child's group is looked for */
#define SPAWN_DRAIN_READS 64     /* reads of what is left before pipes are abandoned */

#define NSEC_PER_SEC INT64_C(1000000000)
#define SPAWN_PROBE_MAX (5 * NSEC_PER_SEC) /* longest gap between progress() calls */
#define NSEC_PER_MSEC INT64_C(1000000)

/* Where the child was when it failed, stored in struct spawn_child. */
enum spawn_stage {
	SPAWN_STAGE_NONE, /* it did not fail (it exec'd, or was killed first) */
	SPAWN_STAGE_EXEC,
	SPAWN_STAGE_SETPGID,
	SPAWN_STAGE_PDEATHSIG,
	SPAWN_STAGE_FDS,
	SPAWN_STAGE_CHDIR,
};

struct spawn_failure {
	int stage;
	int errnum;
};

/*
 * What the child needs, all prepared by the parent before the clone, and
 * the one thing the child writes back (fail).
 */
struct spawn_child {
	const char *path;
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int in_fd;
	int out_fd;
	int err_fd;
	long max_fd; /* for the close() loop when close_range() is missing */
	pid_t parent;
	int pty; /* in/out/err are a pty's slave: a new session, its controlling tty */
	struct spawn_failure fail; /* stage SPAWN_STAGE_NONE until the child fails */
};

/* One pipe from the child, with the line being assembled. */
struct spawn_pipe {
	int fd; /* -1 once closed */
	enum spawn_stream stream;
	char *line; /* max_line + 1 bytes */
	size_t len;
	int after_cr;
	int raw; /* chunks go to on_data, not split into lines */
};

/* Bumped by the signal handler; spawn_run() compares it with its start value. */
static volatile sig_atomic_t spawn_signals;

static pthread_once_t spawn_env_once = PTHREAD_ONCE_INIT;
static const char *spawn_env[8];

static int64_t
spawn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void
spawn_close(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * The child runs on our memory, on a stack of its own: no sanitizer
 * instrumentation there (it would write the shared shadow memory from a
 * stack the runtime does not know).
 */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define SPAWN_CHILD_CODE __attribute__((no_sanitize("address", "undefined"), noinline))
#else
#define SPAWN_CHILD_CODE __attribute__((noinline))
#endif

/*
 * In the child: store why we could not get to the program and leave. The
 * parent reads c->fail once we are gone.
 */
SPAWN_CHILD_CODE static _Noreturn void
spawn_child_fail(struct spawn_child *c, enum spawn_stage stage, int errnum)
{
	c->fail.errnum = errnum;
	c->fail.stage = stage;
	_exit(127);
}

/* In the child: close every descriptor from 3 up. */
SPAWN_CHILD_CODE static void
spawn_child_close_from3(long max_fd)
{
	if (close_range(3, ~0U, 0) == 0)
		return;
	for (long fd = 3; fd < max_fd; fd++)
		close((int)fd);
}

/*
 * In the child: become the program. Signals are all blocked on entry (see
 * spawn_clone()), so no handler of ours can run here: one would run on
 * our memory. Only system calls, on what the parent prepared.
 */
SPAWN_CHILD_CODE static int
spawn_child_exec(void *arg)
{
	struct spawn_child *c = arg;
	struct sigaction sa;
	sigset_t none;
	int in, out, errout;

	/*
	 * Our handlers must go before signals are let in, and what we ignore
	 * (SIGPIPE) must not stay ignored in the program.
	 */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* fails harmlessly on reserved ones */
	}

	/*
	 * A new session also makes a new process group (pgid == pid), so
	 * ending the group works the same; it is needed to take the pty as
	 * controlling terminal (ssh asks for passwords on /dev/tty).
	 */
	if (c->pty) {
		if (setsid() == -1 || ioctl(c->in_fd, TIOCSCTTY, 0) == -1)
			spawn_child_fail(c, SPAWN_STAGE_SETPGID, errno);
	} else if (setpgid(0, 0) == -1)
		spawn_child_fail(c, SPAWN_STAGE_SETPGID, errno);
	/*
	 * SIGTERM rather than SIGKILL: a child that can still run its handler
	 * takes its own children down with it (rsync kills its receiver, and
	 * ssh loses its pipes), where SIGKILL would orphan them mid-transfer.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		spawn_child_fail(c, SPAWN_STAGE_PDEATHSIG, errno);
	if (getppid() != c->parent)
		_exit(127); /* the parent died before PDEATHSIG was armed */

	/*
	 * Move everything above 2 first: a source may itself be 0, 1 or 2
	 * (when tisbackup was started with those closed), and dup2() onto a
	 * different number is what clears close-on-exec.
	 */
	if ((in = fcntl(c->in_fd, F_DUPFD_CLOEXEC, 3)) == -1)
		spawn_child_fail(c, SPAWN_STAGE_FDS, errno);
	if ((out = fcntl(c->out_fd, F_DUPFD_CLOEXEC, 3)) == -1)
		spawn_child_fail(c, SPAWN_STAGE_FDS, errno);
	errout = out;
	if (c->err_fd != c->out_fd && (errout = fcntl(c->err_fd, F_DUPFD_CLOEXEC, 3)) == -1)
		spawn_child_fail(c, SPAWN_STAGE_FDS, errno);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(errout, 2) == -1)
		spawn_child_fail(c, SPAWN_STAGE_FDS, errno);
	spawn_child_close_from3(c->max_fd);

	if (c->cwd != NULL && chdir(c->cwd) == -1)
		spawn_child_fail(c, SPAWN_STAGE_CHDIR, errno);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->path, c->argv, c->envp);
	spawn_child_fail(c, SPAWN_STAGE_EXEC, errno);
}

/*
 * The guardian: a process forked once (at the first spawn) that outlives
 * tisbackup by a second when tisbackup dies, even by SIGKILL, and ends
 * the process groups of the children still running then. PR_SET_PDEATHSIG
 * reaches only the direct child; the group also holds what the child
 * started itself (rsync's own ssh, a shell's commands). tisbackup tells
 * it each group as it starts and before it is reaped, over a socket whose
 * end of file is tisbackup's death. A group gets SIGTERM, and SIGKILL
 * after SPAWN_GUARD_GRACE_MS if any of it is still there.
 *
 * It is a fork of a possibly multi-threaded process: it only makes system
 * calls, on memory of its own (a fixed table of groups).
 */
#define SPAWN_GUARD_MAX 4096
#define SPAWN_GUARD_GRACE_MS 1000

struct spawn_guard_msg {
	int add; /* 1: a group started, 0: about to be reaped */
	pid_t pgid;
};

static pthread_mutex_t spawn_guard_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t spawn_guard_owner; /* the process whose guardian spawn_guard_fd talks to */
static int spawn_guard_fd = -1;
static pid_t spawn_guard_table[SPAWN_GUARD_MAX];

static void
spawn_guard_main(int fd, long max_fd)
{
	struct spawn_guard_msg m;
	struct sigaction sa;
	struct timespec step = { 0, 50 * 1000 * 1000 };
	size_t n = 0;
	ssize_t r;

	/*
	 * A group of its own: a worker ending tisbackup's group (TERM, then
	 * KILL) must not end the guardian with it. Ctrl-C or a TERM to
	 * tisbackup alone must not end it first either.
	 */
	setpgid(0, 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	/* Hold no other descriptor: a job's pipe must see its end of file. */
	for (long i = 0; i < max_fd; i++)
		if (i != fd)
			close((int)i);
	for (;;) {
		r = recv(fd, &m, sizeof m, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof m)
			break; /* end of file: tisbackup is gone (or an error) */
		if (m.add && n < SPAWN_GUARD_MAX) {
			spawn_guard_table[n++] = m.pgid;
		} else if (!m.add) {
			for (size_t i = 0; i < n; i++) {
				if (spawn_guard_table[i] == m.pgid) {
					spawn_guard_table[i] = spawn_guard_table[--n];
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		kill(-spawn_guard_table[i], SIGTERM);
	for (int t = 0; t < SPAWN_GUARD_GRACE_MS / 50; t++) {
		size_t alive = 0;

		for (size_t i = 0; i < n; i++)
			alive += kill(-spawn_guard_table[i], 0) == 0;
		if (alive == 0)
			_exit(0);
		nanosleep(&step, NULL);
	}
	for (size_t i = 0; i < n; i++)
		kill(-spawn_guard_table[i], SIGKILL);
	_exit(0);
}

/*
 * Start this process's guardian unless it has one. A forked copy of a
 * process that had one (a test's stand-in for tisbackup) gets its own.
 */
static void
spawn_guard_start(void)
{
	sigset_t all, old;
	int sv[2];
	long max_fd = sysconf(_SC_OPEN_MAX);
	pid_t pid;

	pthread_mutex_lock(&spawn_guard_lock);
	if (spawn_guard_owner == getpid()) {
		pthread_mutex_unlock(&spawn_guard_lock);
		return;
	}
	if (spawn_guard_fd != -1)
		close(spawn_guard_fd); /* the parent's: its guardian watches the parent */
	spawn_guard_fd = -1;
	spawn_guard_owner = getpid();
	pthread_mutex_unlock(&spawn_guard_lock);
	if (max_fd <= 0 || max_fd > 65536)
		max_fd = 65536;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return; /* children still get PR_SET_PDEATHSIG */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(sv[1]);
		spawn_guard_main(sv[0], max_fd);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sv[0]);
	if (pid == -1) {
		close(sv[1]);
		return;
	}
	spawn_guard_fd = sv[1];
}

/* Tell the guardian that group pgid started (add 1) or is about to be reaped (0). */
static void
spawn_guard_tell(pid_t pgid, int add)
{
	struct spawn_guard_msg m = { .add = add, .pgid = pgid };

	if (spawn_guard_fd != -1)
		(void)send(spawn_guard_fd, &m, sizeof m, MSG_NOSIGNAL);
}

/* waitpid() for pid, after telling the guardian its group is done. */
static pid_t
spawn_reap(pid_t pid, int *status)
{
	pid_t w;

	spawn_guard_tell(pid, 0);
	do
		w = waitpid(pid, status, 0);
	while (w == -1 && errno == EINTR);
	return w;
}

/*
 * The child's stack: enough for the child's few frames and libc's system
 * call wrappers (a sanitizer's interceptors included), on the stack of the
 * thread that waits for it.
 */
#define SPAWN_CHILD_STACK (64 * 1024)

/*
 * Start c's program: clone(CLONE_VM | CLONE_VFORK) with every signal
 * blocked (the child must not run our handlers before
 * spawn_child_exec() resets them), returning once the child has exec'd or
 * exited; c->fail then says whether it got to the program. The parent's
 * mask is restored. The child's pid, or -1 with errno.
 */
static pid_t
spawn_clone(struct spawn_child *c)
{
	_Alignas(16) char stack[SPAWN_CHILD_STACK];
	sigset_t all, old;
	pid_t pid;
	int saved;

	spawn_guard_start();
	c->fail.stage = SPAWN_STAGE_NONE;
	c->fail.errnum = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The stack grows down on every architecture Linux runs us on. */
	pid = clone(spawn_child_exec, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0)
		spawn_guard_tell(pid, 1);
	errno = saved;
	return pid;
}

/*
 * The program to execve(): name itself when it holds a '/', else the first
 * executable regular file named name in a directory of envp's PATH (the
 * default PATH if envp has none). Relative PATH entries are skipped. Returns
 * a string the caller frees, or NULL when not found.
 */
static char *
spawn_resolve(const char *name, const char *const *envp)
{
	const char *pathvar = SPAWN_DEFAULT_PATH, *p, *end;
	struct stat st;
	char *cand;

	if (strchr(name, '/') != NULL)
		return xstrdup(name);
	if (*name == '\0')
		return NULL;
	for (const char *const *e = envp; *e != NULL; e++) {
		if (strncmp(*e, "PATH=", 5) == 0) {
			pathvar = *e + 5;
			break;
		}
	}
	for (p = pathvar;; p = end + 1) {
		end = strchrnul(p, ':');
		if (*p == '/') {
			cand = xasprintf("%.*s/%s", (int)(end - p), p, name);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		if (*end == '\0')
			return NULL;
	}
}

static void
spawn_deliver(const struct spawn_opts *o, struct spawn_pipe *p)
{
	p->line[p->len] = '\0';
	if (o->on_line != NULL)
		o->on_line(o->ctx, p->stream, p->line, p->len);
	p->len = 0;
}

/* Split n bytes of output into lines: '\n', '\r' and "\r\n" end one. */
static void
spawn_feed(const struct spawn_opts *o, struct spawn_pipe *p, size_t max_line, const char *data,
           size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (p->after_cr) {
			p->after_cr = 0;
			if (c == '\n')
				continue;
		}
		if (c == '\n' || c == '\r') {
			spawn_deliver(o, p);
			p->after_cr = (c == '\r');
			continue;
		}
		if (p->len == max_line)
			spawn_deliver(o, p);
		p->line[p->len++] = c;
	}
}

/* Deliver what is left of an unterminated last line and close the pipe. */
static void
spawn_pipe_end(const struct spawn_opts *o, struct spawn_pipe *p)
{
	if (p->fd == -1)
		return;
	if (p->len > 0)
		spawn_deliver(o, p);
	spawn_close(&p->fd);
}

/* Read what is available; 1 if bytes arrived, 0 if not, -1 at EOF/error. */
static int
spawn_pipe_read(const struct spawn_opts *o, struct spawn_pipe *p, size_t max_line)
{
	char chunk[SPAWN_READ_SIZE];
	ssize_t n;

	n = read(p->fd, chunk, sizeof chunk);
	if (n > 0) {
		if (p->raw)
			o->on_data(o->ctx, chunk, (size_t)n);
		else
			spawn_feed(o, p, max_line, chunk, (size_t)n);
		return 1;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	spawn_pipe_end(o, p);
	return -1;
}

static void
spawn_group_kill(pid_t pgid, int sig)
{
	kill(-pgid, sig);
}

/* procgrp_each() callback: stop at a live process other than *ctx. */
static int
spawn_group_member_alive(pid_t pid, char state, const char *comm, void *ctx)
{
	(void)comm;
	return pid != *(pid_t *)ctx && state != 'Z' && state != 'X';
}

/*
 * 1 when a process other than except (the child, exited but not reaped)
 * is still in process group pgid; zombies do not count (they hold no
 * descriptor). 1 too when /proc cannot be read: then nothing is concluded.
 */
static int
spawn_group_alive(pid_t pgid, pid_t except)
{
	return procgrp_each(pgid, spawn_group_member_alive, &except) != 0;
}

/* Read what is left in the pipes without waiting, then close them. */
static void
spawn_pipes_abandon(const struct spawn_opts *o, struct spawn_pipe *pipes, size_t npipes,
                    size_t max_line)
{
	for (size_t i = 0; i < npipes; i++) {
		for (int r = 0; r < SPAWN_DRAIN_READS && pipes[i].fd != -1; r++)
			if (spawn_pipe_read(o, &pipes[i], max_line) != 1)
				break;
		spawn_pipe_end(o, &pipes[i]);
	}
}

static int64_t
spawn_earlier(int64_t a, int64_t b)
{
	return b < a ? b : a;
}

/*
 * Read the child's output until its pipes close and it has exited, ending
 * its group when a timeout passes, when we are interrupted, or when the
 * child exited but others in its group keep the pipes open.
 */
static void
spawn_watch(const struct spawn_opts *o, pid_t pid, struct spawn_pipe *pipes, size_t npipes,
            size_t max_line, sig_atomic_t signals_at_start, struct spawn_result *res)
{
	struct pollfd pfd[3];
	struct spawn_pipe *slot[3];
	siginfo_t si;
	int64_t now, start, last_out, grace, exit_at = 0, kill_at = 0, abandon_at = 0;
	int64_t next, wait_ns, limit = 0, idle = 0, cap, probe_every = 0, next_probe = 0;
	int64_t tick_every = 0, next_tick = 0, next_group_check = 0;
	long long progress = 0;
	int64_t deadline = 0;
	enum progress_state wst;
	int pidfd = -1, exited = 0, term_sent = 0, kill_sent = 0;
	size_t nfds, open_pipes;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec by itself */
#endif
	grace = o->kill_grace_sec > 0 ? o->kill_grace_sec : SPAWN_DEFAULT_GRACE;
	grace *= NSEC_PER_SEC;
	if (o->timeout_sec > 0)
		limit = (int64_t)o->timeout_sec * NSEC_PER_SEC;
	if (o->idle_timeout_sec > 0 && (npipes > 0 || o->progress != NULL))
		idle = (int64_t)o->idle_timeout_sec * NSEC_PER_SEC;
	else if (o->watch != NULL && o->watch->stall_ns > 0 && (npipes > 0 || o->progress != NULL))
		idle = o->watch->stall_ns;
	if (o->watch != NULL) {
		deadline = o->watch->deadline_ns;
		progress_feed(o->watch, 0); /* a command starting is progress */
	}
	start = last_out = spawn_now();
	if (idle > 0 && o->progress != NULL) {
		/* Probe often enough to notice progress well within the limit. */
		probe_every = idle / 4 < SPAWN_PROBE_MAX ? idle / 4 : SPAWN_PROBE_MAX;
		if (probe_every < NSEC_PER_SEC / 4)
			probe_every = NSEC_PER_SEC / 4;
		/*
		 * The baseline is 0, not a probe: the child has read next to
		 * nothing yet, and a command shorter than one probe interval
		 * (most small transfers) costs no walk of /proc at all.
		 */
		progress = 0;
		next_probe = start + probe_every;
	}

	if (o->tick != NULL) {
		tick_every = (int64_t)(o->tick_ms > 0 ? o->tick_ms : 1000) * NSEC_PER_MSEC;
		next_tick = start + tick_every;
	}

	for (;;) {
		if (!exited) {
			memset(&si, 0, sizeof si);
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
				if (errno != EINTR)
					exited = 1; /* reaped elsewhere; waitpid() will say */
			} else if (si.si_pid == pid)
				exited = 1;
			if (exited) {
				exit_at = spawn_now();
				spawn_close(&pidfd);
			}
		}
		open_pipes = 0;
		for (size_t i = 0; i < npipes; i++)
			open_pipes += pipes[i].fd != -1;
		if (open_pipes == 0 && exited)
			break;

		now = spawn_now();
		if (probe_every > 0 && !term_sent && now >= next_probe) {
			long long p = o->progress(o->progress_ctx, pid);

			if (p != progress) {
				progress = p;
				last_out = now;
				if (o->watch != NULL)
					progress_feed(o->watch, 0);
			}
			next_probe = now + probe_every;
		}
		if (tick_every > 0 && !term_sent && !exited && now >= next_tick) {
			if (o->tick(o->tick_ctx, pid) == 1)
				res->stopped = 1;
			next_tick = spawn_now() + tick_every;
		}
		if (!term_sent) {
			wst = o->watch != NULL ? progress_check(o->watch, now) : PROGRESS_OK;
			if (spawn_signals != signals_at_start && !o->ignore_signals)
				res->interrupted = 1;
			else if (wst == PROGRESS_INTERRUPTED)
				res->stopped = 1;
			else if ((limit > 0 && now - start >= limit) || wst == PROGRESS_DEADLINE)
				res->timed_out = 1;
			else if (idle > 0 && now - last_out >= idle)
				res->timed_out = res->stalled = 1;
			if (res->interrupted || res->timed_out || res->stopped ||
			    (exited && open_pipes > 0 && now - exit_at >= grace)) {
				spawn_group_kill(pid, SIGTERM);
				term_sent = 1;
				kill_at = now + grace;
			}
		}
		if (term_sent && !kill_sent && now >= kill_at) {
			spawn_group_kill(pid, SIGKILL);
			kill_sent = 1;
			abandon_at = now + grace;
		}
		if (kill_sent && open_pipes > 0 && now >= abandon_at) {
			/* Whoever holds them left the group: stop reading. */
			for (size_t i = 0; i < npipes; i++)
				spawn_pipe_end(o, &pipes[i]);
			continue;
		}
		/*
		 * The child exited and is being ended (or its grace for the
		 * pipes is over), yet a pipe is open and nobody is left in its
		 * group: the holder is outside it (ssh's shared master
		 * connection keeps a session's stderr until the remote command
		 * ends), so waiting cannot help. Stop reading now.
		 */
		if (exited && open_pipes > 0 && (term_sent || now - exit_at >= grace) &&
		    now >= next_group_check) {
			next_group_check = now + SPAWN_GROUP_CHECK_MS * NSEC_PER_MSEC;
			if (!spawn_group_alive(pid, pid)) {
				spawn_pipes_abandon(o, pipes, npipes, max_line);
				continue;
			}
		}

		/*
		 * Without a pidfd, the exit that follows the end of output is
		 * only seen by asking again: do so soon.
		 */
		cap = SPAWN_POLL_MAX_MS;
		if (pidfd == -1 && open_pipes == 0)
			cap = SPAWN_POLL_NOPIDFD_MS;
		next = now + cap * NSEC_PER_MSEC;
		if (!term_sent) {
			if (limit > 0)
				next = spawn_earlier(next, start + limit);
			if (deadline > 0)
				next = spawn_earlier(next, deadline);
			if (idle > 0)
				next = spawn_earlier(next, last_out + idle);
			if (probe_every > 0)
				next = spawn_earlier(next, next_probe);
			if (tick_every > 0 && !exited)
				next = spawn_earlier(next, next_tick);
			if (exited && open_pipes > 0)
				next = spawn_earlier(next, exit_at + grace);
		} else if (!kill_sent)
			next = spawn_earlier(next, kill_at);
		else if (open_pipes > 0)
			next = spawn_earlier(next, abandon_at);
		if (term_sent && exited && open_pipes > 0)
			next = spawn_earlier(next, next_group_check);
		wait_ns = next > now ? next - now : 0;

		nfds = 0;
		for (size_t i = 0; i < npipes; i++) {
			if (pipes[i].fd == -1)
				continue;
			pfd[nfds].fd = pipes[i].fd;
			pfd[nfds].events = POLLIN;
			slot[nfds++] = &pipes[i];
		}
		if (pidfd != -1) {
			pfd[nfds].fd = pidfd;
			pfd[nfds].events = POLLIN;
			slot[nfds++] = NULL;
		}
		if (poll(pfd, nfds, (int)((wait_ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC)) <= 0)
			continue; /* timeout, or EINTR: re-check everything */
		for (size_t i = 0; i < nfds; i++) {
			if (slot[i] == NULL || pfd[i].revents == 0)
				continue;
			if (spawn_pipe_read(o, slot[i], max_line) == 1) {
				last_out = spawn_now();
				if (o->watch != NULL)
					progress_feed(o->watch, 0);
			}
		}
	}
	spawn_close(&pidfd);
}

static const char *
spawn_stage_name(int stage)
{
	switch (stage) {
	case SPAWN_STAGE_SETPGID:
		return "setpgid";
	case SPAWN_STAGE_PDEATHSIG:
		return "prctl";
	case SPAWN_STAGE_FDS:
		return "setting up descriptors";
	default:
		return "exec";
	}
}

/* The parent's half of a child started with spawn_start_pty(). */
struct spawn_proc {
	pid_t pid;
	int master;
	int grace;
	char *name;
};

void
spawn_opts_init(struct spawn_opts *o)
{
	memset(o, 0, sizeof *o);
	o->stdin_fd = -1;
	o->stdout_fd = -1;
}

int
spawn_run(const struct spawn_opts *o, struct spawn_result *res, struct err *err)
{
	const char *const *envp;
	const char *name;
	struct spawn_child c;
	struct spawn_pipe pipes[2];
	size_t npipes = 0, max_line;
	pid_t pid = -1, w;
	sig_atomic_t signals_at_start;
	int devnull = -1, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int status, rv = -1;
	char *path = NULL;

	assert(o->argv != NULL && o->argv[0] != NULL);
	memset(res, 0, sizeof *res);
	memset(pipes, 0, sizeof pipes);
	pipes[0].fd = pipes[1].fd = -1;
	name = o->argv[0];
	envp = o->envp != NULL ? o->envp : spawn_default_env();
	max_line = o->max_line > 0 ? o->max_line : SPAWN_DEFAULT_MAX_LINE;

	if ((path = spawn_resolve(name, envp)) == NULL) {
		err_set(err, "cannot run '%s': not found in PATH", name);
		goto out;
	}
	if (o->stdin_fd == -1 && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		err_sys(err, errno, "cannot run '%s': /dev/null", name);
		goto out;
	}
	if ((o->stdout_fd == -1 && pipe2(outp, O_CLOEXEC) == -1) ||
	    (!o->merge_stderr && pipe2(errp, O_CLOEXEC) == -1)) {
		err_sys(err, errno, "cannot run '%s': pipe", name);
		goto out;
	}

	c.path = path;
	c.argv = (char *const *)o->argv;
	c.envp = (char *const *)envp;
	c.cwd = o->cwd;
	c.in_fd = o->stdin_fd != -1 ? o->stdin_fd : devnull;
	c.out_fd = o->stdout_fd != -1 ? o->stdout_fd : outp[1];
	c.err_fd = o->merge_stderr ? c.out_fd : errp[1];
	c.max_fd = sysconf(_SC_OPEN_MAX);
	if (c.max_fd <= 0 || c.max_fd > 65536)
		c.max_fd = 65536;
	c.parent = getpid();
	c.pty = 0;

	signals_at_start = spawn_signals;
	pid = spawn_clone(&c);
	if (pid == -1) {
		err_sys(err, errno, "cannot run '%s': clone", name);
		goto out;
	}
	/* The child has exec'd (its group exists) or has failed and exited. */
	spawn_close(&devnull);
	spawn_close(&outp[1]);
	spawn_close(&errp[1]);

	if (c.fail.stage != SPAWN_STAGE_NONE) {
		if (c.fail.stage == SPAWN_STAGE_EXEC)
			err_sys(err, c.fail.errnum, "cannot run '%s'", name);
		else if (c.fail.stage == SPAWN_STAGE_CHDIR)
			err_sys(err, c.fail.errnum,
			        "cannot run '%s': cannot change directory to '%s'", name, o->cwd);
		else
			err_sys(err, c.fail.errnum, "cannot run '%s': %s", name,
			        spawn_stage_name(c.fail.stage));
		goto reap;
	}

	if (outp[0] != -1) {
		pipes[npipes].fd = outp[0];
		pipes[npipes].raw = o->on_data != NULL && !o->merge_stderr;
		pipes[npipes++].stream = SPAWN_STDOUT;
		outp[0] = -1;
	}
	if (errp[0] != -1) {
		pipes[npipes].fd = errp[0];
		pipes[npipes++].stream = SPAWN_STDERR;
		errp[0] = -1;
	}
	for (size_t i = 0; i < npipes; i++) {
		fcntl(pipes[i].fd, F_SETFL, O_NONBLOCK);
		pipes[i].line = xmalloc(max_line + 1);
	}
	spawn_watch(o, pid, pipes, npipes, max_line, signals_at_start, res);
	rv = 0;

reap:
	w = spawn_reap(pid, &status);
	if (w == -1) {
		err_sys(err, errno, "waiting for '%s'", name);
		rv = -1;
	} else if (rv == 0) {
		if (WIFEXITED(status)) {
			res->exited = 1;
			res->code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status))
			res->signal = WTERMSIG(status);
	}

out:
	for (size_t i = 0; i < 2; i++) {
		spawn_close(&pipes[i].fd);
		free(pipes[i].line);
	}
	spawn_close(&devnull);
	spawn_close(&outp[0]);
	spawn_close(&outp[1]);
	spawn_close(&errp[0]);
	spawn_close(&errp[1]);
	free(path);
	return rv;
}

int
spawn_start_pty(const struct spawn_opts *o, struct spawn_proc **out, int *master_fd,
                struct err *err)
{
	const char *const *envp = o->envp != NULL ? o->envp : spawn_default_env();
	const char *name;
	struct winsize ws = { .ws_row = 48, .ws_col = 200 };
	struct spawn_child c;
	struct spawn_proc *p;
	char slave_name[128], *path = NULL;
	int master = -1, slave = -1, status;
	pid_t pid;

	assert(o->argv != NULL && o->argv[0] != NULL);
	name = o->argv[0];
	*out = NULL;
	*master_fd = -1;
	if ((path = spawn_resolve(name, envp)) == NULL) {
		err_set(err, "cannot run '%s': not found in PATH", name);
		return -1;
	}
	if ((master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 || grantpt(master) == -1 ||
	    unlockpt(master) == -1 || ptsname_r(master, slave_name, sizeof slave_name) != 0 ||
	    (slave = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		err_sys(err, errno, "cannot run '%s': pseudo-terminal", name);
		goto fail;
	}
	ioctl(master, TIOCSWINSZ, &ws);
	memset(&c, 0, sizeof c);
	c.path = path;
	c.argv = (char *const *)o->argv;
	c.envp = (char *const *)envp;
	c.cwd = o->cwd;
	c.in_fd = c.out_fd = c.err_fd = slave;
	c.max_fd = sysconf(_SC_OPEN_MAX);
	if (c.max_fd <= 0 || c.max_fd > 65536)
		c.max_fd = 65536;
	c.parent = getpid();
	c.pty = 1;

	pid = spawn_clone(&c);
	if (pid == -1) {
		err_sys(err, errno, "cannot run '%s': clone", name);
		goto fail;
	}
	spawn_close(&slave);
	if (c.fail.stage != SPAWN_STAGE_NONE) {
		err_sys(err, c.fail.errnum, "cannot run '%s'%s%s", name,
		        c.fail.stage == SPAWN_STAGE_EXEC ? "" : ": ",
		        c.fail.stage == SPAWN_STAGE_EXEC ? "" : spawn_stage_name(c.fail.stage));
		spawn_reap(pid, &status);
		goto fail;
	}
	p = xcalloc(1, sizeof *p);
	p->pid = pid;
	p->master = master;
	p->grace = o->kill_grace_sec > 0 ? o->kill_grace_sec : SPAWN_DEFAULT_GRACE;
	p->name = xstrdup(name);
	free(path);
	*out = p;
	*master_fd = master;
	return 0;
fail:
	spawn_close(&master);
	spawn_close(&slave);
	free(path);
	return -1;
}

/* Wait up to ns for pid to exit (without reaping it); 1 if it did. */
static int
spawn_wait_exit(pid_t pid, int64_t ns)
{
	int64_t until = spawn_now() + ns;
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
			return errno != EINTR;
		if (si.si_pid == pid)
			return 1;
		if (spawn_now() >= until)
			return 0;
		poll(NULL, 0, SPAWN_POLL_NOPIDFD_MS);
	}
}

int
spawn_finish(struct spawn_proc *p, struct spawn_result *res, struct err *err)
{
	int64_t grace = (int64_t)p->grace * NSEC_PER_SEC;
	int status, rv = 0;
	pid_t w;

	memset(res, 0, sizeof *res);
	spawn_close(&p->master); /* the child sees a hangup */
	if (!spawn_wait_exit(p->pid, grace)) {
		spawn_group_kill(p->pid, SIGTERM);
		res->timed_out = 1;
		if (!spawn_wait_exit(p->pid, grace))
			spawn_group_kill(p->pid, SIGKILL);
	}
	w = spawn_reap(p->pid, &status);
	if (w == -1) {
		err_sys(err, errno, "waiting for '%s'", p->name);
		rv = -1;
	} else if (WIFEXITED(status)) {
		res->exited = 1;
		res->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
	free(p->name);
	free(p);
	return rv;
}

static void
spawn_env_build(void)
{
	static const char *const pass[] = { "HOME", "USER", "LOGNAME", "TZ", "TMPDIR" };
	size_t n = 0;
	const char *v;

	spawn_env[n++] = "PATH=" SPAWN_DEFAULT_PATH;
	spawn_env[n++] = "LC_ALL=C";
	for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
		if ((v = getenv(pass[i])) != NULL)
			spawn_env[n++] = xasprintf("%s=%s", pass[i], v);
	}
	spawn_env[n] = NULL;
}

const char *const *
spawn_default_env(void)
{
	pthread_once(&spawn_env_once, spawn_env_build);
	return spawn_env;
}

void
spawn_describe(const struct spawn_result *res, char *out, size_t outsz)
{
	const char *abbrev;

	if (res->interrupted)
		snprintf(out, outsz, "interrupted");
	else if (res->stopped)
		snprintf(out, outsz, "stopped");
	else if (res->stalled)
		snprintf(out, outsz, "stalled: no output and no progress for its stall timeout");
	else if (res->timed_out)
		snprintf(out, outsz, "timed out");
	else if (res->exited)
		snprintf(out, outsz, "exit code %d", res->code);
	else if ((abbrev = sigabbrev_np(res->signal)) != NULL)
		snprintf(out, outsz, "killed by signal %d (SIG%s)", res->signal, abbrev);
	else
		snprintf(out, outsz, "killed by signal %d", res->signal);
}

static void
spawn_on_signal(int sig)
{
	(void)sig;
	if (spawn_signals < SIG_ATOMIC_MAX)
		spawn_signals = spawn_signals + 1;
}

void
spawn_install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = spawn_on_signal; /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

unsigned long
spawn_signal_count(void)
{
	return (unsigned long)spawn_signals;
}

int
spawn_interrupted(void)
{
	return spawn_signals != 0;
}
