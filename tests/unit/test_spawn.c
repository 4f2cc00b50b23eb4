/*
 * Tests for spawn.c: output splitting, descriptors, environment, exit
 * status, timeouts and interruption that end the whole process group,
 * error messages for programs that cannot run. Children are real programs
 * (printf, cat, env, sh -c to script a behaviour: tests may use a shell,
 * src/ may not). Time limits are generous and only used as upper bounds,
 * so a loaded machine makes the tests slower, not red.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "spawn.h"
#include "util/xmalloc.h"

#define SH "/bin/sh"

struct cap_line {
	enum spawn_stream stream;
	char *data; /* NUL-terminated copy */
	size_t len;
};

struct capture {
	struct cap_line *v;
	size_t n, cap;
	sem_t *first; /* posted after the first line when set */
	pthread_mutex_t mu;
};

static char tmpdir[TB_TMPDIR_MAX];

static void
cap_init(struct capture *c)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
}

static void
cap_free(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].data);
	free(c->v);
	pthread_mutex_destroy(&c->mu);
}

static void
cap_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct capture *c = ctx;
	struct cap_line *l;

	assert_int_equal(line[len], '\0');
	pthread_mutex_lock(&c->mu);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	l = &c->v[c->n++];
	l->stream = stream;
	l->data = xmalloc(len + 1);
	memcpy(l->data, line, len + 1);
	l->len = len;
	if (c->n == 1 && c->first != NULL)
		sem_post(c->first);
	pthread_mutex_unlock(&c->mu);
}

/* The lines of one stream, as a single string joined with '|'. */
static char *
cap_join(const struct capture *c, enum spawn_stream stream)
{
	size_t total = 1;
	char *s, *p;

	for (size_t i = 0; i < c->n; i++)
		total += c->v[i].len + 1;
	p = s = xmalloc(total);
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].stream != stream)
			continue;
		if (p != s)
			*p++ = '|';
		memcpy(p, c->v[i].data, c->v[i].len);
		p += c->v[i].len;
	}
	*p = '\0';
	return s;
}

static void
assert_stream(const struct capture *c, enum spawn_stream stream, const char *want)
{
	char *got = cap_join(c, stream);

	assert_string_equal(got, want);
	free(got);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run argv with o (or defaults) and capture, asserting it started. */
static void
run(const char *const *argv, struct spawn_opts *o, struct capture *c, struct spawn_result *res)
{
	struct spawn_opts def;
	struct err err;
	int r;

	if (o == NULL) {
		spawn_opts_init(&def);
		o = &def;
	}
	o->argv = argv;
	if (c != NULL) {
		o->on_line = cap_line;
		o->ctx = c;
	}
	err_clear(&err);
	r = spawn_run(o, res, &err);
	if (r != 0)
		fail_msg("spawn_run: %s", err.msg);
}

static pid_t
parse_pid(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	assert_true(errno == 0 && end != s && *end == '\0' && v > 1 && v < INT_MAX);
	return (pid_t)v;
}

/* State and process group of pid from /proc; -1 if it is gone. */
static int
proc_stat(pid_t pid, char *state, pid_t *pgrp)
{
	char path[64], text[1024], *p;
	ssize_t n;
	long g;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	if ((p = strrchr(text, ')')) == NULL)
		return -1;
	/* ") S ppid pgrp ..." */
	if (sscanf(p + 1, " %c %*d %ld", state, &g) != 2)
		return -1;
	*pgrp = (pid_t)g;
	return 0;
}

/* Processes of group pgid that are still alive (zombies do not count). */
static int
group_alive(pid_t pgid)
{
	struct dirent *de;
	DIR *d;
	int count = 0;
	char state;
	pid_t g;

	assert_non_null(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (proc_stat((pid_t)strtol(de->d_name, NULL, 10), &state, &g) == 0 && g == pgid &&
		    state != 'Z' && state != 'X')
			count++;
	}
	closedir(d);
	return count;
}

/* Wait (up to 15 s) until no live process is left in group pgid. */
static void
assert_group_gone(pid_t pgid)
{
	for (int i = 0; i < 150; i++) {
		if (group_alive(pgid) == 0)
			return;
		usleep(100000);
	}
	fail_msg("process group %ld still has live processes", (long)pgid);
}

/* Open descriptors of this process, to check spawn_run() leaks none. */
static int
count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static char *
write_tmp(const char *name, const char *content, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	int fd;

	unlink(path);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) != -1);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static char *
read_file(const char *path, size_t *len)
{
	char *data = xmalloc(65536);
	ssize_t n;
	int fd;

	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	n = read(fd, data, 65535);
	close(fd);
	assert_true(n >= 0);
	data[n] = '\0';
	*len = (size_t)n;
	return data;
}

/* ---- output ---- */

static void
test_lines_split_on_nl_and_cr(void **state)
{
	const char *argv[] = { "printf", "a\\nb\\rc\\r\\nd\\n\\ne", NULL };
	struct spawn_result res;
	struct capture c;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(c.n, 6);
	assert_stream(&c, SPAWN_STDOUT, "a|b|c|d||e");
	assert_stream(&c, SPAWN_STDERR, "");
	cap_free(&c);
}

static void
test_no_empty_line_after_final_newline(void **state)
{
	const char *argv[] = { "printf", "x\\n", NULL };
	struct spawn_result res;
	struct capture c;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].len, 1);
	assert_string_equal(c.v[0].data, "x");
	cap_free(&c);
}

static void
test_long_lines_cut_at_max_line(void **state)
{
	const char *argv[] = { "printf", "abcdefghij\\nwxyz\\nABCD\\rEFGH\\r\\n12345", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;

	(void)state;
	spawn_opts_init(&o);
	o.max_line = 4;
	cap_init(&c);
	run(argv, &o, &c, &res);
	/* A line of exactly max_line is one piece, not a piece plus "". */
	assert_stream(&c, SPAWN_STDOUT, "abcd|efgh|ij|wxyz|ABCD|EFGH|1234|5");
	cap_free(&c);
}

static void
test_nul_bytes_and_argv0(void **state)
{
	const char *argv[] = { "cat", "/proc/self/cmdline", NULL };
	static const char want[] = "cat\0/proc/self/cmdline"; /* + final NUL */
	struct spawn_result res;
	struct capture c;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(c.n, 1);
	/* argv[0] reaches the child as given, not as the resolved path */
	assert_int_equal(c.v[0].len, sizeof want);
	assert_memory_equal(c.v[0].data, want, sizeof want);
	cap_free(&c);
}

static void
test_large_output(void **state)
{
	const char *argv[] = { "seq", "1", "200000", NULL };
	struct spawn_result res;
	struct capture c;
	char want[32];

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(c.n, 200000);
	for (size_t i = 0; i < c.n; i++) {
		snprintf(want, sizeof want, "%zu", i + 1);
		assert_string_equal(c.v[i].data, want);
		assert_int_equal(c.v[i].stream, SPAWN_STDOUT);
	}
	cap_free(&c);
}

static void
test_output_discarded_without_callback(void **state)
{
	const char *argv[] = { "seq", "1", "300000", NULL };
	struct spawn_result res;

	(void)state;
	run(argv, NULL, NULL, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
}

static void
test_separate_streams(void **state)
{
	const char *argv[] = { SH, "-c", "echo 1; echo 2 >&2; echo 3; echo 4 >&2", NULL };
	struct spawn_result res;
	struct capture c;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, "1|3");
	assert_stream(&c, SPAWN_STDERR, "2|4");
	cap_free(&c);
}

static void
test_merge_stderr_keeps_order(void **state)
{
	const char *argv[] = { SH, "-c",
		               "for i in 1 2 3 4 5 6 7 8; do echo o$i; echo e$i >&2; done", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;

	(void)state;
	spawn_opts_init(&o);
	o.merge_stderr = 1;
	cap_init(&c);
	run(argv, &o, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, "o1|e1|o2|e2|o3|e3|o4|e4|o5|e5|o6|e6|o7|e7|o8|e8");
	assert_stream(&c, SPAWN_STDERR, "");
	cap_free(&c);
}

/* ---- descriptors ---- */

static void
test_stdin_default_is_dev_null(void **state)
{
	const char *argv[] = { SH, "-c", "cat; readlink /proc/self/fd/0", NULL };
	struct spawn_result res;
	struct capture c;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(res.code, 0);
	assert_stream(&c, SPAWN_STDOUT, "/dev/null");
	cap_free(&c);
}

static void
test_stdin_from_file_and_pipe(void **state)
{
	const char *argv[] = { "cat", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char *path;
	int fd, p[2];

	(void)state;
	path = write_tmp("stdin.txt", "one\ntwo\n", 0644);
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	spawn_opts_init(&o);
	o.stdin_fd = fd;
	cap_init(&c);
	run(argv, &o, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, "one|two");
	cap_free(&c);
	close(fd);
	free(path);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "through a pipe\n", 15), 15);
	close(p[1]);
	spawn_opts_init(&o);
	o.stdin_fd = p[0];
	cap_init(&c);
	run(argv, &o, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, "through a pipe");
	cap_free(&c);
	close(p[0]);
}

static void
test_stdout_fd(void **state)
{
	const char *argv[] = { SH, "-c", "echo out; echo err >&2; echo out2", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char *path, *data;
	size_t len;
	int fd;

	(void)state;
	path = xasprintf("%s/stdout.txt", tmpdir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) != -1);
	spawn_opts_init(&o);
	o.stdout_fd = fd;
	cap_init(&c);
	run(argv, &o, &c, &res);
	close(fd);
	assert_int_equal(res.code, 0);
	assert_int_equal(c.n, 1);
	assert_stream(&c, SPAWN_STDERR, "err");
	data = read_file(path, &len);
	assert_string_equal(data, "out\nout2\n");
	free(data);
	cap_free(&c);

	/* merged: stderr goes to the file too */
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) != -1);
	spawn_opts_init(&o);
	o.stdout_fd = fd;
	o.merge_stderr = 1;
	cap_init(&c);
	run(argv, &o, &c, &res);
	close(fd);
	assert_int_equal(c.n, 0);
	data = read_file(path, &len);
	assert_string_equal(data, "out\nerr\nout2\n");
	free(data);
	cap_free(&c);
	free(path);
}

static void
test_descriptors_closed_in_child(void **state)
{
	const char *argv[] = { "ls", "-1", "/proc/self/fd", NULL };
	struct spawn_result res;
	struct capture c;
	int leak[4], p[2];

	(void)state;
	/* deliberately inheritable descriptors */
	for (int i = 0; i < 4; i++)
		assert_true((leak[i] = open("/dev/null", O_RDONLY)) != -1);
	assert_int_equal(pipe(p), 0);
	cap_init(&c);
	run(argv, NULL, &c, &res);
	/* 0, 1, 2 and the directory ls itself opened */
	assert_stream(&c, SPAWN_STDOUT, "0|1|2|3");
	cap_free(&c);
	for (int i = 0; i < 4; i++)
		close(leak[i]);
	close(p[0]);
	close(p[1]);
}

/* ---- environment, signals, group ---- */

static void
test_explicit_env(void **state)
{
	const char *argv[] = { "env", NULL };
	const char *envp[] = { "FOO=bar baz", "PATH=/usr/bin:/bin", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;

	(void)state;
	spawn_opts_init(&o);
	o.envp = envp;
	cap_init(&c);
	run(argv, &o, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, "FOO=bar baz|PATH=/usr/bin:/bin");
	cap_free(&c);
}

static void
test_default_env(void **state)
{
	const char *argv[] = { "env", NULL };
	const char *const *env;
	struct spawn_result res;
	struct capture c;
	char *got;

	(void)state;
	/* group setup set HOME..TMPDIR and TB_TEST_SECRET, which must not leak */
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_stream(
	    &c, SPAWN_STDOUT,
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|LC_ALL=C|"
	    "HOME=/home/tbtest|USER=tbuser|LOGNAME=tblog|TZ=Europe/Paris|TMPDIR=/tmp/tbtmp");
	got = cap_join(&c, SPAWN_STDOUT);
	assert_null(strstr(got, "SECRET"));
	free(got);
	cap_free(&c);

	env = spawn_default_env();
	assert_ptr_equal(env, spawn_default_env());
	assert_string_equal(env[1], "LC_ALL=C");
	assert_null(env[7]);
}

static void
test_signals_reset_in_child(void **state)
{
	const char *argv[] = { "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", NULL };
	struct sigaction sa, old_sa;
	struct spawn_result res;
	struct capture c;
	sigset_t set, old, now;

	(void)state;
	/* the handlers (group setup) ignore SIGPIPE; add a blocked and an ignored signal */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGUSR2, &sa, &old_sa), 0);

	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, "SigBlk:\t0000000000000000|SigIgn:\t0000000000000000");
	cap_free(&c);

	/* our own mask and dispositions are as they were */
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
	assert_int_equal(sigismember(&now, SIGUSR1), 1);
	assert_int_equal(sigismember(&now, SIGTERM), 0);
	assert_int_equal(sigaction(SIGUSR2, &old_sa, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}

static void
test_child_leads_new_group(void **state)
{
	const char *argv[] = { "cat", "/proc/self/stat", NULL };
	struct spawn_result res;
	struct capture c;
	long pid, pgrp;
	char *p;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(c.n, 1);
	pid = strtol(c.v[0].data, NULL, 10);
	assert_non_null(p = strrchr(c.v[0].data, ')'));
	assert_int_equal(sscanf(p + 1, " %*c %*d %ld", &pgrp), 1);
	assert_int_equal(pgrp, pid);
	assert_int_not_equal(pgrp, getpgrp());
	cap_free(&c);
}

static void
test_cwd(void **state)
{
	const char *argv[] = { "pwd", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char real[PATH_MAX], *dir;

	(void)state;
	dir = xasprintf("%s/cwd", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_non_null(realpath(dir, real));
	spawn_opts_init(&o);
	o.cwd = dir;
	cap_init(&c);
	run(argv, &o, &c, &res);
	assert_stream(&c, SPAWN_STDOUT, real);
	cap_free(&c);
	rmdir(dir);
	free(dir);
}

/* ---- exit status ---- */

static void
test_exit_code(void **state)
{
	const char *argv[] = { SH, "-c", "exit 23", NULL };
	const char *ok[] = { "true", NULL };
	struct spawn_result res;
	char desc[64];

	(void)state;
	run(argv, NULL, NULL, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 23);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.interrupted, 0);
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "exit code 23");

	run(ok, NULL, NULL, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "exit code 0");
}

static void
test_signal_death(void **state)
{
	const char *argv[] = { SH, "-c", "kill -9 $$", NULL };
	struct spawn_result res;
	char desc[64];

	(void)state;
	run(argv, NULL, NULL, &res);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGKILL);
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "killed by signal 9 (SIGKILL)");
}

static void
test_describe(void **state)
{
	struct spawn_result res;
	char desc[64], tiny[5];

	(void)state;
	memset(&res, 0, sizeof res);
	res.signal = SIGTERM;
	res.timed_out = 1;
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "timed out");
	res.interrupted = 1;
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "interrupted");
	memset(&res, 0, sizeof res);
	res.signal = SIGSEGV;
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "killed by signal 11 (SIGSEGV)");
	spawn_describe(&res, tiny, sizeof tiny);
	assert_string_equal(tiny, "kill");
}

static void
test_opts_init(void **state)
{
	struct spawn_opts o;

	(void)state;
	memset(&o, 0x5a, sizeof o);
	spawn_opts_init(&o);
	assert_null(o.argv);
	assert_null(o.envp);
	assert_null(o.cwd);
	assert_int_equal(o.stdin_fd, -1);
	assert_int_equal(o.stdout_fd, -1);
	assert_int_equal(o.merge_stderr, 0);
	assert_int_equal(o.timeout_sec, 0);
	assert_int_equal(o.idle_timeout_sec, 0);
	assert_int_equal(o.kill_grace_sec, 0);
	assert_int_equal(o.max_line, 0);
	assert_null(o.on_line);
}

/* ---- programs that cannot run ---- */

static void
assert_cannot_run(const char *const *argv, struct spawn_opts *o, const char *want)
{
	struct spawn_opts def;
	struct spawn_result res;
	struct err err;
	int fds = count_fds();

	if (o == NULL) {
		spawn_opts_init(&def);
		o = &def;
	}
	o->argv = argv;
	err_clear(&err);
	assert_int_equal(spawn_run(o, &res, &err), -1);
	assert_int_equal(count_fds(), fds);
	assert_string_equal(err.msg, want);
	/* the failed child was reaped (the guardian, alive, is no zombie) */
	assert_true(waitpid(-1, NULL, WNOHANG) <= 0);
}

static void
test_not_found_in_path(void **state)
{
	const char *argv[] = { "tb-no-such-program", "x", NULL };
	const char *shell[] = { "sh", "-c", "true", NULL };
	const char *envp[] = { "PATH=/nonexistent", NULL };
	struct spawn_opts o;

	(void)state;
	assert_cannot_run(argv, NULL, "cannot run 'tb-no-such-program': not found in PATH");
	/* the PATH of envp is the one searched */
	spawn_opts_init(&o);
	o.envp = envp;
	assert_cannot_run(shell, &o, "cannot run 'sh': not found in PATH");
}

static void
test_exec_failures_reported(void **state)
{
	const char *noent[] = { "/nonexistent/tb-prog", NULL };
	const char *noexec[2] = { NULL, NULL }, *badfmt[2] = { NULL, NULL };
	const char *pwd[] = { "pwd", NULL };
	struct spawn_opts o;
	char *a, *b, *want;

	(void)state;
	assert_cannot_run(noent, NULL,
	                  "cannot run '/nonexistent/tb-prog': No such file or directory");

	a = write_tmp("noexec", "#!/bin/sh\necho hi\n", 0644);
	noexec[0] = a;
	want = xasprintf("cannot run '%s': Permission denied", a);
	assert_cannot_run(noexec, NULL, want);
	free(want);

	b = write_tmp("badfmt", "this is not a program\n", 0755);
	badfmt[0] = b;
	want = xasprintf("cannot run '%s': Exec format error", b);
	assert_cannot_run(badfmt, NULL, want);
	free(want);

	spawn_opts_init(&o);
	o.cwd = "/nonexistent-tb-dir";
	assert_cannot_run(pwd, &o,
	                  "cannot run 'pwd': cannot change directory to "
	                  "'/nonexistent-tb-dir': No such file or directory");
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}

static void
test_path_lookup_uses_envp(void **state)
{
	const char *argv[] = { "tb-hello", "arg", NULL };
	const char *envp[4];
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char *script, *dir, *pathvar, *want;

	(void)state;
	dir = xasprintf("%s/bin", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	free(dir);
	script = write_tmp("bin/tb-hello", "#!/bin/sh\necho \"hello $0 $1\"\n", 0755);
	/* the non-executable copy earlier in PATH is skipped, so is a relative entry */
	dir = xasprintf("%s/other", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	free(write_tmp("other/tb-hello", "#!/bin/sh\necho wrong\n", 0644));
	pathvar = xasprintf("PATH=/nonexistent:bin:%s:%s/bin", dir, tmpdir);
	envp[0] = pathvar;
	envp[1] = NULL;
	spawn_opts_init(&o);
	o.envp = envp;
	o.cwd = tmpdir; /* "bin" relative to it would find the script: it must not */
	cap_init(&c);
	run(argv, &o, &c, &res);
	want = xasprintf("hello %s arg", script);
	assert_stream(&c, SPAWN_STDOUT, want);
	cap_free(&c);
	free(want);
	free(pathvar);
	free(dir);
	free(script);
}

/* ---- ending children ---- */

static void
test_timeout_kills_group(void **state)
{
	const char *argv[] = { SH, "-c", "echo $$; sleep 100 & sleep 100", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char desc[64];
	double t0;
	int fds;

	(void)state;
	fds = count_fds();
	spawn_opts_init(&o);
	o.timeout_sec = 1;
	o.kill_grace_sec = 2;
	cap_init(&c);
	t0 = now_sec();
	run(argv, &o, &c, &res);
	assert_int_equal(count_fds(), fds);
	assert_true(now_sec() - t0 < 30);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.interrupted, 0);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGTERM);
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "timed out");
	assert_true(c.n >= 1);
	assert_group_gone(parse_pid(c.v[0].data));
	cap_free(&c);
}

static void
test_timeout_kill_after_ignored_term(void **state)
{
	const char *argv[] = { SH, "-c", "trap '' TERM; echo $$; sleep 100 & sleep 100", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	double t0;

	(void)state;
	spawn_opts_init(&o);
	o.timeout_sec = 1;
	o.kill_grace_sec = 1;
	cap_init(&c);
	t0 = now_sec();
	run(argv, &o, &c, &res);
	assert_true(now_sec() - t0 < 30);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGKILL);
	assert_group_gone(parse_pid(c.v[0].data));
	cap_free(&c);
}

static void
test_idle_timeout(void **state)
{
	const char *argv[] = { SH, "-c", "echo $$; sleep 100", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	double t0;

	(void)state;
	spawn_opts_init(&o);
	o.idle_timeout_sec = 1;
	o.kill_grace_sec = 1;
	cap_init(&c);
	t0 = now_sec();
	run(argv, &o, &c, &res);
	assert_true(now_sec() - t0 < 30);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.exited, 0);
	assert_group_gone(parse_pid(c.v[0].data));
	cap_free(&c);
}

static void
test_idle_timeout_reset_by_output(void **state)
{
	/* 3 s of output every 0.3 s, idle limit 2 s */
	const char *argv[] = { SH, "-c",
		               "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.3; done", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;

	(void)state;
	spawn_opts_init(&o);
	o.idle_timeout_sec = 2;
	cap_init(&c);
	run(argv, &o, &c, &res);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	assert_stream(&c, SPAWN_STDOUT, "1|2|3|4|5|6|7|8|9|10");
	cap_free(&c);
}

static void
test_idle_timeout_with_stdout_fd(void **state)
{
	/* output to stdout_fd is not watched: only stderr counts ... */
	const char *busy[] = { SH, "-c", "while :; do echo x; sleep 0.1; done", NULL };
	/* ... and with stderr merged there too, nothing is watched */
	const char *slow[] = { SH, "-c", "sleep 2; echo done", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	double t0;
	int fd;

	(void)state;
	assert_true((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1);
	spawn_opts_init(&o);
	o.stdout_fd = fd;
	o.idle_timeout_sec = 1;
	o.timeout_sec = 60;
	o.kill_grace_sec = 1;
	t0 = now_sec();
	run(busy, &o, NULL, &res);
	assert_true(now_sec() - t0 < 30);
	assert_int_equal(res.timed_out, 1);

	spawn_opts_init(&o);
	o.stdout_fd = fd;
	o.merge_stderr = 1;
	o.idle_timeout_sec = 1;
	run(slow, &o, NULL, &res);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	close(fd);
}

static void
test_leftover_holding_pipe_is_killed(void **state)
{
	const char *argv[] = { SH, "-c", "echo $$; sleep 100 & exit 3", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	double t0;

	(void)state;
	spawn_opts_init(&o);
	o.kill_grace_sec = 1;
	cap_init(&c);
	t0 = now_sec();
	run(argv, &o, &c, &res);
	assert_true(now_sec() - t0 < 30);
	/* the child's own status is reported, not the cleanup */
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 3);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.interrupted, 0);
	assert_group_gone(parse_pid(c.v[0].data));
	cap_free(&c);
}

static void
test_background_not_holding_pipe_left_alone(void **state)
{
	const char *argv[] = { SH, "-c", "echo $$; sleep 100 >/dev/null 2>&1 & exit 0", NULL };
	struct spawn_result res;
	struct capture c;
	pid_t pgid;

	(void)state;
	cap_init(&c);
	run(argv, NULL, &c, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	pgid = parse_pid(c.v[0].data);
	assert_int_equal(group_alive(pgid), 1);
	kill(-pgid, SIGKILL);
	assert_group_gone(pgid);
	cap_free(&c);
}

struct interrupter {
	sem_t ready;
	int process_wide; /* kill(getpid()) instead of raise() in this thread */
	int sig;
};

static void *
interrupter_main(void *arg)
{
	struct interrupter *in = arg;
	sigset_t set;

	while (sem_wait(&in->ready) == -1 && errno == EINTR)
		;
	if (in->process_wide) {
		/* block it here so the kernel delivers it to the thread in spawn_run() */
		sigemptyset(&set);
		sigaddset(&set, in->sig);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		kill(getpid(), in->sig);
	} else
		raise(in->sig);
	return NULL;
}

static void
run_interrupted(int process_wide, int sig)
{
	const char *argv[] = { SH, "-c", "echo $$; sleep 100 & sleep 100", NULL };
	const char *after[] = { SH, "-c", "sleep 1; exit 7", NULL };
	struct interrupter in;
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	pthread_t th;
	char desc[64];
	double t0;

	assert_int_equal(sem_init(&in.ready, 0, 0), 0);
	in.process_wide = process_wide;
	in.sig = sig;
	assert_int_equal(pthread_create(&th, NULL, interrupter_main, &in), 0);
	spawn_opts_init(&o);
	o.kill_grace_sec = 2;
	o.timeout_sec = 60;
	cap_init(&c);
	c.first = &in.ready;
	t0 = now_sec();
	run(argv, &o, &c, &res);
	assert_true(now_sec() - t0 < 30);
	pthread_join(th, NULL);
	assert_int_equal(res.interrupted, 1);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.exited, 0);
	assert_int_equal(spawn_interrupted(), 1);
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "interrupted");
	assert_group_gone(parse_pid(c.v[0].data));
	cap_free(&c);
	sem_destroy(&in.ready);

	/* a child started after the signal runs normally (cleanup commands) */
	run(after, NULL, NULL, &res);
	assert_int_equal(res.interrupted, 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 7);
}

struct ticker {
	int calls;
	int raise_at; /* raise SIGTERM at this call (0 = never) */
	int stop_at;  /* return 1 at this call */
};

static int
tick_cb(void *ctx, pid_t pid)
{
	struct ticker *t = ctx;

	assert_true(pid > 0);
	t->calls++;
	if (t->calls == t->raise_at)
		raise(SIGTERM);
	return t->calls >= t->stop_at;
}

/* tick() is called about every tick_ms and ends the group when it says so. */
static void
run_ticked(int raise_at)
{
	const char *argv[] = { SH, "-c", "echo $$; sleep 100 & sleep 100", NULL };
	struct ticker t = { .raise_at = raise_at, .stop_at = 4 };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char desc[64];
	double t0, dt;

	spawn_opts_init(&o);
	o.kill_grace_sec = 2;
	o.tick = tick_cb;
	o.tick_ctx = &t;
	o.tick_ms = 100;
	o.ignore_signals = 1;
	cap_init(&c);
	t0 = now_sec();
	run(argv, &o, &c, &res);
	dt = now_sec() - t0;
	assert_int_equal(t.calls, 4);
	assert_true(dt >= 0.35 && dt < 5);
	assert_int_equal(res.stopped, 1);
	assert_int_equal(res.interrupted, 0);
	assert_int_equal(res.timed_out, 0);
	assert_int_equal(res.signal, SIGTERM);
	spawn_describe(&res, desc, sizeof desc);
	assert_string_equal(desc, "stopped");
	assert_group_gone(parse_pid(c.v[0].data));
	cap_free(&c);
}

static void
test_tick_stops_group(void **state)
{
	(void)state;
	run_ticked(0);
}

/* With ignore_signals, our SIGTERM leaves the child to tick(). */
static void
test_tick_ignore_signals(void **state)
{
	(void)state;
	run_ticked(1);
}

static void
test_interrupt_thread_directed(void **state)
{
	(void)state;
	run_interrupted(0, SIGTERM);
}

static void
test_interrupt_process_directed(void **state)
{
	(void)state;
	run_interrupted(1, SIGINT);
}

/* ---- threads and parent death ---- */

struct job {
	const char *const *argv;
	int stdin_fd;
	int timeout_sec;
	struct capture c;
	struct spawn_result res;
	int rc;
	volatile int done;
	char msg[ERR_MSG_MAX];
};

static void *
job_main(void *arg)
{
	struct job *j = arg;
	struct spawn_opts o;
	struct err err;

	spawn_opts_init(&o);
	o.argv = j->argv;
	o.stdin_fd = j->stdin_fd;
	o.timeout_sec = j->timeout_sec;
	o.on_line = cap_line;
	o.ctx = &j->c;
	err_clear(&err);
	j->rc = spawn_run(&o, &j->res, &err);
	memcpy(j->msg, err.msg, sizeof j->msg);
	__atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
job_init(struct job *j, const char *const *argv)
{
	memset(j, 0, sizeof *j);
	j->argv = argv;
	j->stdin_fd = -1;
	cap_init(&j->c);
}

static void
test_no_pipe_leaks_between_threads(void **state)
{
	const char *cat[] = { "cat", NULL };
	const char *sleeper[] = { SH, "-c", "echo $$; exec sleep 100", NULL };
	struct job a, b;
	sem_t a_ready, b_ready;
	pthread_t ta, tb;
	int in[2];

	(void)state;
	/* B: cat reading a pipe we hold, so B's output pipe is open meanwhile */
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(sem_init(&b_ready, 0, 0), 0);
	job_init(&b, cat);
	b.stdin_fd = in[0];
	b.c.first = &b_ready;
	assert_int_equal(pthread_create(&tb, NULL, job_main, &b), 0);
	assert_int_equal(write(in[1], "b running\n", 10), 10);
	while (sem_wait(&b_ready) == -1)
		;

	/* A starts while B's pipes exist; it must not inherit them */
	assert_int_equal(sem_init(&a_ready, 0, 0), 0);
	job_init(&a, sleeper);
	a.timeout_sec = 60;
	a.c.first = &a_ready;
	assert_int_equal(pthread_create(&ta, NULL, job_main, &a), 0);
	while (sem_wait(&a_ready) == -1)
		;

	close(in[1]);
	pthread_join(tb, NULL);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.res.code, 0);
	assert_stream(&b.c, SPAWN_STDOUT, "b running");
	/* B ended while A's child is still alive */
	assert_int_equal(__atomic_load_n(&a.done, __ATOMIC_SEQ_CST), 0);

	kill(parse_pid(a.c.v[0].data), SIGKILL);
	pthread_join(ta, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.res.exited, 0);
	assert_int_equal(a.res.signal, SIGKILL);
	close(in[0]);
	cap_free(&a.c);
	cap_free(&b.c);
	sem_destroy(&a_ready);
	sem_destroy(&b_ready);
}

static void
test_concurrent_runs(void **state)
{
	const char *argv[] = { "seq", "1", "5000", NULL };
	const char *fail[] = { SH, "-c", "seq 1 5000; exit 9", NULL };
	struct job jobs[6];
	pthread_t th[6];
	char want[16];
	int fds = count_fds();

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 6; i++) {
			job_init(&jobs[i], i % 2 ? fail : argv);
			assert_int_equal(pthread_create(&th[i], NULL, job_main, &jobs[i]), 0);
		}
		for (int i = 0; i < 6; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(jobs[i].rc, 0);
			assert_int_equal(jobs[i].res.exited, 1);
			assert_int_equal(jobs[i].res.code, i % 2 ? 9 : 0);
			assert_int_equal(jobs[i].c.n, 5000);
			for (size_t k = 0; k < 5000; k++) {
				snprintf(want, sizeof want, "%zu", k + 1);
				assert_string_equal(jobs[i].c.v[k].data, want);
			}
			cap_free(&jobs[i].c);
		}
	}
	assert_int_equal(count_fds(), fds);
}

static void
pdeath_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	int fd = *(int *)ctx;

	(void)stream;
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		_exit(3);
}

static void
test_child_dies_with_parent(void **state)
{
	const char *argv[] = { SH, "-c", "echo $$; exec sleep 100", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	char line[64], st;
	pid_t mid, child, g;
	ssize_t n;
	size_t len = 0;
	int p[2], status;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	assert_true(mid != -1);
	if (mid == 0) {
		/* a stand-in tisbackup that runs a child, then gets SIGKILLed */
		close(p[0]);
		spawn_opts_init(&o);
		o.argv = argv;
		o.timeout_sec = 60;
		o.on_line = pdeath_line;
		o.ctx = &p[1];
		spawn_run(&o, &res, NULL);
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof line - 1 && (n = read(p[0], line + len, 1)) == 1 && line[len] != '\n')
		len++;
	line[len] = '\0';
	close(p[0]);
	child = parse_pid(line);
	assert_int_equal(kill(mid, SIGKILL), 0);
	assert_int_equal(waitpid(mid, &status, 0), mid);
	for (int i = 0; i < 150; i++) {
		if (proc_stat(child, &st, &g) == -1 || st == 'Z' || st == 'X')
			return;
		usleep(100000);
	}
	fail_msg("child %ld survived its parent", (long)child);
}

/*
 * The child's own children die too, even one that ignores SIGTERM (as
 * PR_SET_PDEATHSIG sends): the guardian ends the group, TERM then KILL.
 */
static void
test_group_dies_with_parent(void **state)
{
	const char *argv[] = { SH, "-c", "trap '' TERM; sleep 100 & echo $!; wait", NULL };
	struct spawn_opts o;
	struct spawn_result res;
	char line[64], st;
	pid_t mid, grandchild, g;
	ssize_t n;
	size_t len = 0;
	int p[2], status;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	assert_true(mid != -1);
	if (mid == 0) {
		close(p[0]);
		spawn_opts_init(&o);
		o.argv = argv;
		o.timeout_sec = 60;
		o.on_line = pdeath_line;
		o.ctx = &p[1];
		spawn_run(&o, &res, NULL);
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof line - 1 && (n = read(p[0], line + len, 1)) == 1 && line[len] != '\n')
		len++;
	line[len] = '\0';
	close(p[0]);
	grandchild = parse_pid(line);
	assert_int_equal(kill(mid, SIGKILL), 0);
	assert_int_equal(waitpid(mid, &status, 0), mid);
	for (int i = 0; i < 150; i++) {
		if (proc_stat(grandchild, &st, &g) == -1 || st == 'Z' || st == 'X')
			return;
		usleep(100000);
	}
	kill(grandchild, SIGKILL);
	fail_msg("grandchild %ld (ignoring SIGTERM) survived tisbackup", (long)grandchild);
}

/*
 * tisbackup started with 0, 1 and 2 closed (some daemons do that): our
 * own /dev/null and pipes then get those numbers, and the child must
 * still see them in the right places.
 */
static void
test_parent_with_std_fds_closed(void **state)
{
	const char *argv[] = { SH, "-c", "cat; echo out; echo err >&2; readlink /proc/self/fd/0",
		               NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct capture c;
	char report[256], *s;
	ssize_t n;
	size_t len = 0;
	pid_t pid;
	int p[2], status;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(0);
		close(1);
		close(2);
		spawn_opts_init(&o);
		o.argv = argv;
		o.on_line = cap_line;
		o.ctx = &c;
		o.timeout_sec = 60;
		cap_init(&c);
		if (spawn_run(&o, &res, NULL) == -1 || !res.exited || res.code != 0)
			_exit(1);
		s = xasprintf("%s/%s", cap_join(&c, SPAWN_STDOUT), cap_join(&c, SPAWN_STDERR));
		_exit(write(p[1], s, strlen(s)) == (ssize_t)strlen(s) ? 0 : 1);
	}
	close(p[1]);
	while ((n = read(p[0], report + len, sizeof report - 1 - len)) > 0)
		len += (size_t)n;
	report[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(report, "out|/dev/null/err");
}

static int
setup(void **state)
{
	(void)state;
	/* what spawn_default_env() passes on, before its first call */
	setenv("HOME", "/home/tbtest", 1);
	setenv("USER", "tbuser", 1);
	setenv("LOGNAME", "tblog", 1);
	setenv("TZ", "Europe/Paris", 1);
	setenv("TMPDIR", "/tmp/tbtmp", 1);
	setenv("TB_TEST_SECRET", "must-not-leak", 1);
	spawn_install_signal_handlers();
	return tb_tmpdir_make(tmpdir, sizeof tmpdir, "spawn");
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(tmpdir);
}

/* on_data: stdout arrives raw (NUL bytes, no line splitting), stderr by line. */
struct raw_capture {
	unsigned char *data;
	size_t len;
	int err_lines;
	int out_lines;
};

static void
raw_on_data(void *ctx, const char *data, size_t len)
{
	struct raw_capture *c = ctx;

	c->data = xrealloc(c->data, c->len + len);
	memcpy(c->data + c->len, data, len);
	c->len += len;
}

static void
raw_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct raw_capture *c = ctx;

	(void)line;
	(void)len;
	if (stream == SPAWN_STDERR)
		c->err_lines++;
	else
		c->out_lines++;
}

static void
test_on_data_raw_stdout(void **state)
{
	/* 256 KiB: every byte value, NULs and newlines included, in a known order. */
	char path[] = "/tmp/tb_test_rawXXXXXX";
	const char *const argv[] = { "/bin/sh", "-c", "echo before >&2; cat \"$1\"; echo after >&2",
		                     "sh",      path, NULL };
	const char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct raw_capture c = { 0 };
	struct spawn_opts so;
	struct spawn_result res;
	struct err err;
	unsigned char pattern[256];
	int fd;

	(void)state;
	for (int b = 0; b < 256; b++)
		pattern[b] = (unsigned char)b;
	fd = mkstemp(path);
	assert_true(fd != -1);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(write(fd, pattern, sizeof pattern), (ssize_t)sizeof pattern);
	close(fd);
	err_clear(&err);
	spawn_opts_init(&so);
	so.argv = argv;
	so.envp = envp;
	so.on_data = raw_on_data;
	so.on_line = raw_on_line;
	so.ctx = &c;
	so.idle_timeout_sec = 30;
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_true(res.exited);
	assert_int_equal(res.code, 0);
	assert_int_equal(c.len, 1024 * 256);
	for (size_t i = 0; i < c.len; i++) {
		if (c.data[i] != (unsigned char)(i % 256))
			fail_msg("byte %zu is %u, expected %zu", i, c.data[i], i % 256);
	}
	assert_int_equal(c.err_lines, 2);
	assert_int_equal(c.out_lines, 0);
	free(c.data);
	unlink(path);

	/* Raw output counts as activity: 2.4 s of a byte every 0.3 s, idle limit 1 s. */
	const char *const slow[] = { "/bin/sh", "-c",
		                     "for i in 1 2 3 4 5 6 7 8; do printf x; sleep 0.3; done",
		                     NULL };
	memset(&c, 0, sizeof c);
	so.argv = slow;
	so.idle_timeout_sec = 1;
	assert_int_equal(spawn_run(&so, &res, &err), 0);
	assert_false(res.stalled);
	assert_true(res.exited);
	assert_int_equal(res.code, 0);
	assert_int_equal(c.len, 8);
	assert_memory_equal(c.data, "xxxxxxxx", 8);
	free(c.data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_split_on_nl_and_cr),
		cmocka_unit_test(test_no_empty_line_after_final_newline),
		cmocka_unit_test(test_long_lines_cut_at_max_line),
		cmocka_unit_test(test_nul_bytes_and_argv0),
		cmocka_unit_test(test_large_output),
		cmocka_unit_test(test_output_discarded_without_callback),
		cmocka_unit_test(test_separate_streams),
		cmocka_unit_test(test_merge_stderr_keeps_order),
		cmocka_unit_test(test_stdin_default_is_dev_null),
		cmocka_unit_test(test_stdin_from_file_and_pipe),
		cmocka_unit_test(test_stdout_fd),
		cmocka_unit_test(test_descriptors_closed_in_child),
		cmocka_unit_test(test_explicit_env),
		cmocka_unit_test(test_default_env),
		cmocka_unit_test(test_signals_reset_in_child),
		cmocka_unit_test(test_child_leads_new_group),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_signal_death),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_opts_init),
		cmocka_unit_test(test_not_found_in_path),
		cmocka_unit_test(test_exec_failures_reported),
		cmocka_unit_test(test_path_lookup_uses_envp),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_kill_after_ignored_term),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_idle_timeout_reset_by_output),
		cmocka_unit_test(test_idle_timeout_with_stdout_fd),
		cmocka_unit_test(test_leftover_holding_pipe_is_killed),
		cmocka_unit_test(test_background_not_holding_pipe_left_alone),
		cmocka_unit_test(test_interrupt_thread_directed),
		cmocka_unit_test(test_interrupt_process_directed),
		cmocka_unit_test(test_tick_stops_group),
		cmocka_unit_test(test_tick_ignore_signals),
		cmocka_unit_test(test_no_pipe_leaks_between_threads),
		cmocka_unit_test(test_concurrent_runs),
		cmocka_unit_test(test_child_dies_with_parent),
		cmocka_unit_test(test_group_dies_with_parent),
		cmocka_unit_test(test_parent_with_std_fds_closed),
		cmocka_unit_test(test_on_data_raw_stdout),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
