/*
 * Tests for lock.c: the lock excludes other processes (forked here), says
 * who holds it, survives its holder's SIGKILL only as a file (the kernel
 * drops the flock), and refuses a symlink in its place.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "lock.h"
#include "util/xmalloc.h"

#define STAMP "20261126-03h20m57"

static char dir[TB_TMPDIR_MAX];
static char lockpath[sizeof dir + 8];

static char *
slurp(const char *path)
{
	char *data = xmalloc(4096);
	ssize_t n;
	int fd;

	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	n = read(fd, data, 4095);
	close(fd);
	assert_true(n >= 0);
	data[n] = '\0';
	return data;
}

static void
put(const char *path, const char *content)
{
	int fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) != -1);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void
assert_content(pid_t pid, const char *stamp)
{
	char *want = xasprintf("pid=%ld\nbackup_time=%s\n", (long)pid, stamp);
	char *got = slurp(lockpath);

	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* What lock_acquire() says in another process, while we may hold the lock. */
struct attempt {
	int rc;
	int code;
	char msg[ERR_MSG_MAX];
};

static void
attempt_elsewhere(struct attempt *a, int release)
{
	struct job_lock l;
	struct err err;
	pid_t pid;
	int p[2], status;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		memset(a, 0, sizeof *a);
		err_clear(&err);
		a->rc = lock_acquire(dir, "child", &l, &err);
		a->code = err.code;
		memcpy(a->msg, err.msg, sizeof a->msg);
		if (a->rc == 0 && release)
			lock_release(&l);
		_exit(write(p[1], a, sizeof *a) == (ssize_t)sizeof *a ? 0 : 1);
	}
	close(p[1]);
	assert_int_equal(read(p[0], a, sizeof *a), (ssize_t)sizeof *a);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_acquire_release(void **state)
{
	struct job_lock l;
	struct err err;
	struct stat st;
	char *slashed;

	(void)state;
	err_clear(&err);
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), 0);
	assert_true(l.fd >= 0);
	assert_string_equal(l.path, lockpath);
	assert_int_equal(fcntl(l.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(stat(lockpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_content(getpid(), STAMP);

	lock_release(&l);
	assert_int_equal(l.fd, -1);
	assert_null(l.path);
	assert_int_equal(access(lockpath, F_OK), -1);
	lock_release(&l); /* again: harmless */

	/* a trailing slash on the folder changes nothing */
	slashed = xasprintf("%s/", dir);
	assert_int_equal(lock_acquire(slashed, STAMP, &l, &err), 0);
	assert_string_equal(l.path, lockpath);
	lock_release(&l);
	free(slashed);
}

static void
test_busy_in_other_process(void **state)
{
	struct job_lock l;
	struct attempt a;
	struct err err;
	char *want;

	(void)state;
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), 0);
	attempt_elsewhere(&a, 1);
	assert_int_equal(a.rc, -1);
	assert_int_equal(a.code, LOCK_BUSY);
	want = xasprintf("already running (pid %ld, backup %s)", (long)getpid(), STAMP);
	assert_string_equal(a.msg, want);
	free(want);
	/* the failed attempt left the holder's file alone */
	assert_content(getpid(), STAMP);

	/* once released, another process gets it (and cleans up after itself) */
	lock_release(&l);
	attempt_elsewhere(&a, 1);
	assert_int_equal(a.rc, 0);
	assert_int_equal(access(lockpath, F_OK), -1);
}

static void
test_busy_in_same_process(void **state)
{
	struct job_lock l, l2;
	struct err err;

	(void)state;
	/* flock belongs to the open file: a second open in one process conflicts too */
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), 0);
	err_clear(&err);
	assert_int_equal(lock_acquire(dir, "other", &l2, &err), -1);
	assert_int_equal(err.code, LOCK_BUSY);
	assert_int_equal(l2.fd, -1);
	assert_null(l2.path);
	lock_release(&l2); /* a lock never taken: harmless */
	lock_release(&l);
}

static void
test_holder_killed(void **state)
{
	struct job_lock l;
	struct err err;
	pid_t pid;
	char c, *want;
	int p[2], status;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (lock_acquire(dir, "crashed-run", &l, NULL) == -1)
			_exit(1);
		if (write(p[1], "k", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);

	err_clear(&err);
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), -1);
	assert_int_equal(err.code, LOCK_BUSY);
	want = xasprintf("already running (pid %ld, backup crashed-run)", (long)pid);
	assert_string_equal(err.msg, want);
	free(want);

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* the file outlives its holder, the lock does not */
	assert_content(pid, "crashed-run");
	err_clear(&err);
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), 0);
	assert_content(getpid(), STAMP);
	lock_release(&l);
}

/*
 * A holder of this executable whose parent died (a queue worker killed
 * with -9: its run got SIGTERM and is recording its end) is waited for,
 * not reported busy. The holder here is a grandchild whose parent exits
 * at once; it keeps the lock for 2 s.
 */
static void
test_orphan_holder_waited(void **state)
{
	struct job_lock l;
	struct err err;
	pid_t mid;
	char c;
	int p[2], status, fd, was_busy;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	assert_true(mid != -1);
	if (mid == 0) {
		if (fork() != 0)
			_exit(0); /* the "worker" dies: its child is orphaned */
		if (lock_acquire(dir, "orphaned-run", &l, NULL) == -1)
			_exit(1);
		if (write(p[1], "k", 1) != 1)
			_exit(1);
		while (getppid() != 1)
			usleep(10000);
		sleep(2);
		lock_release(&l);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(waitpid(mid, &status, 0), mid);
	fd = open(lockpath, O_RDWR | O_CLOEXEC);
	was_busy = fd != -1 && flock(fd, LOCK_EX | LOCK_NB) == -1;
	if (fd != -1)
		close(fd);
	err_clear(&err);
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), 0);
	if (!was_busy)
		print_message("# the holder let go before we asked: the wait was not exercised\n");
	assert_content(getpid(), STAMP);
	lock_release(&l);
}

/*
 * Several processes take and release the lock as fast as they can; two
 * holders at once would mean one locked an inode that was already
 * unlinked (the race the inode check in lock_acquire() closes).
 */
static void
test_exclusion_under_contention(void **state)
{
	enum { PROCS = 4, WINS = 100 };
	struct job_lock l;
	struct err err;
	int *shared, status, inside, wins;
	pid_t pids[PROCS];

	(void)state;
	shared = mmap(NULL, 3 * sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	              -1, 0);
	assert_true(shared != MAP_FAILED);
	shared[0] = shared[1] = shared[2] = 0; /* inside, violations, acquisitions */
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] != -1);
		if (pids[i] != 0)
			continue;
		wins = 0;
		for (long tries = 0; wins < WINS; tries++) {
			if (tries > 10000000)
				_exit(3);
			if (lock_acquire(dir, "race", &l, &err) == -1) {
				if (err.code != LOCK_BUSY)
					_exit(2);
				continue;
			}
			inside = __atomic_add_fetch(&shared[0], 1, __ATOMIC_SEQ_CST);
			if (inside != 1)
				__atomic_add_fetch(&shared[1], 1, __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&shared[2], 1, __ATOMIC_SEQ_CST);
			sched_yield();
			__atomic_sub_fetch(&shared[0], 1, __ATOMIC_SEQ_CST);
			lock_release(&l);
			wins++;
			sched_yield();
		}
		_exit(0);
	}
	for (int i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(shared[1], 0);
	assert_int_equal(shared[2], PROCS * WINS);
	assert_int_equal(access(lockpath, F_OK), -1);
	munmap(shared, 3 * sizeof *shared);
}

static void
test_stale_file_rewritten(void **state)
{
	struct job_lock l;
	struct err err;

	(void)state;
	put(lockpath, "pid=999999\nbackup_time=a-much-longer-stamp-than-ours-0123456789\n");
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), 0);
	assert_content(getpid(), STAMP);
	lock_release(&l);
}

static void
check_message(const char *content, const char *want)
{
	struct job_lock l;
	struct err err;
	int fd;

	put(lockpath, content);
	assert_true((fd = open(lockpath, O_RDONLY | O_CLOEXEC)) != -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	err_clear(&err);
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), -1);
	assert_int_equal(err.code, LOCK_BUSY);
	assert_string_equal(err.msg, want);
	close(fd);
	unlink(lockpath);
}

static void
test_message_tolerates_garbage(void **state)
{
	(void)state;
	check_message("", "already running (pid ?, backup ?)");
	check_message("\xff\xfe garbage\n\n", "already running (pid ?, backup ?)");
	check_message("pid=12x\nbackup_time=\x1b[31m\n", "already running (pid ?, backup ?)");
	check_message("pid=\nbackup_time=\n", "already running (pid ?, backup ?)");
	check_message("pid=42", "already running (pid 42, backup ?)");
	check_message("backup_time=" STAMP "\npid=7\n",
	              "already running (pid 7, backup " STAMP ")");
	check_message("xpid=5\nbackup_time=s p a c e\n", "already running (pid ?, backup ?)");
	check_message(
	    "pid=1234567890123456789012345678901234567890123456789012345678901234567890\n",
	    "already running (pid ?, backup ?)");
}

static void
test_symlink_refused(void **state)
{
	struct job_lock l;
	struct err err;
	char *target, *want;

	(void)state;
	target = xasprintf("%s/target", dir);
	assert_int_equal(symlink(target, lockpath), 0);
	err_clear(&err);
	assert_int_equal(lock_acquire(dir, STAMP, &l, &err), -1);
	assert_int_not_equal(err.code, LOCK_BUSY);
	want = xasprintf("cannot open lock file %s: %s", lockpath, strerror(ELOOP));
	assert_string_equal(err.msg, want);
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(l.fd, -1);
	unlink(lockpath);
	free(want);
	free(target);
}

static void
test_missing_folder(void **state)
{
	struct job_lock l;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(lock_acquire("/nonexistent-tb-dir", STAMP, &l, &err), -1);
	assert_int_equal(err.code, 0);
	assert_string_equal(
	    err.msg, "cannot open lock file /nonexistent-tb-dir/lock: No such file or directory");
	assert_int_equal(l.fd, -1);
	assert_null(l.path);
}

static int
setup(void **state)
{
	(void)state;
	umask(022);
	if (tb_tmpdir_make(dir, sizeof dir, "lock") == -1)
		return -1;
	snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acquire_release),
		cmocka_unit_test(test_busy_in_other_process),
		cmocka_unit_test(test_busy_in_same_process),
		cmocka_unit_test(test_holder_killed),
		cmocka_unit_test(test_orphan_holder_waited),
		cmocka_unit_test(test_exclusion_under_contention),
		cmocka_unit_test(test_stale_file_rewritten),
		cmocka_unit_test(test_message_tolerates_garbage),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_missing_folder),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
