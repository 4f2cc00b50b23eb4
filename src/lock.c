/*
 * The per-job lock file, held with flock(2).
 *
 * The lock lives on the open file, not on the name, so a run that crashes
 * leaves at worst a stale file that the next run locks again. The holder
 * unlinks the file before letting go; a process that opened the old file
 * just before that may then win flock() on an inode nobody can see any
 * more, so after locking we check that the path still names our inode and
 * start again if not.
 */
#include "lock.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/xmalloc.h"

#define LOCK_ATTEMPTS 10
#define LOCK_FIELD_MAX 64
#define LOCK_ENDING_WAIT_MS 60000 /* for a run whose worker died to record its end */

/*
 * Copy the value of "key=" at the start of a line of text into out: digits
 * only, or printable ASCII without spaces; "?" when absent, empty, garbled
 * or too long.
 */
static void
lock_field(const char *text, const char *key, int digits, char *out, size_t outsz)
{
	size_t klen = strlen(key), n;
	const char *line = text;
	unsigned char c;

	snprintf(out, outsz, "?");
	while (strncmp(line, key, klen) != 0) {
		if ((line = strchr(line, '\n')) == NULL)
			return;
		line++;
	}
	line += klen;
	n = strcspn(line, "\n");
	if (n == 0 || n >= outsz)
		return;
	for (size_t i = 0; i < n; i++) {
		c = (unsigned char)line[i];
		if (digits ? (c < '0' || c > '9') : (c < 0x21 || c > 0x7e))
			return; /* garbage: say "?" rather than print it */
	}
	memcpy(out, line, n);
	out[n] = '\0';
}

/* What a lock file says of its holder: "?" for a field absent or garbled. */
struct holder {
	char pid[LOCK_FIELD_MAX];
	char stamp[LOCK_FIELD_MAX];
};

static void
read_holder(int fd, struct holder *h)
{
	char text[512];
	ssize_t n;

	n = pread(fd, text, sizeof text - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	lock_field(text, "pid=", 1, h->pid, sizeof h->pid);
	lock_field(text, "backup_time=", 0, h->stamp, sizeof h->stamp);
}

/* The "already running" message from the holder's file content. */
static void
lock_busy(int fd, struct err *err)
{
	struct holder h;

	read_holder(fd, &h);
	err_set(err, "already running (pid %s, backup %s)", h.pid, h.stamp);
	if (err != NULL)
		err->code = LOCK_BUSY;
}

/* 1 if /proc/PID/exe is this executable. */
static int
same_executable(long pid)
{
	char path[64];
	struct stat self, other;

	snprintf(path, sizeof path, "/proc/%ld/exe", pid);
	return stat(path, &other) == 0 && stat("/proc/self/exe", &self) == 0 &&
	       other.st_dev == self.st_dev && other.st_ino == self.st_ino;
}

/*
 * 1 when the holder named by the lock file is a run of ours that lost its
 * parent: a queue worker that died (kill -9, a crash). Such a run got
 * SIGTERM from the kernel (PR_SET_PDEATHSIG, spawn.c) and is recording its
 * interrupted row; the worker that claimed the run again waits for it
 * instead of failing the retry as "already running".
 */
static int
holder_is_ending(int fd)
{
	char path[64 + LOCK_FIELD_MAX], stat_line[512];
	struct holder h;
	const char *p;
	ssize_t n;
	long ppid;
	int sfd;

	read_holder(fd, &h);
	if (strcmp(h.pid, "?") == 0 || !same_executable(strtol(h.pid, NULL, 10)))
		return 0;
	snprintf(path, sizeof path, "/proc/%s/stat", h.pid);
	sfd = open(path, O_RDONLY | O_CLOEXEC);
	if (sfd == -1)
		return 0;
	n = read(sfd, stat_line, sizeof stat_line - 1);
	close(sfd);
	if (n <= 0)
		return 0;
	stat_line[n] = '\0';
	/* "PID (comm) S PPID ...": comm may hold spaces and parentheses. */
	if ((p = strrchr(stat_line, ')')) == NULL || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return 0;
	return ppid == 1;
}

/* Wait up to LOCK_ENDING_WAIT_MS for the holder of fd's lock to let go. */
static void
wait_for_lock(int fd)
{
	struct timespec step = { 0, 100 * 1000 * 1000 };

	for (int waited = 0; waited < LOCK_ENDING_WAIT_MS; waited += 100) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			flock(fd, LOCK_UN); /* taken for real by the caller */
			return;
		}
		nanosleep(&step, NULL);
	}
}

/*
 * 1 if pid is a live process of the original TISBackup: not us, not a
 * process of this executable (ours hold the flock instead), and its
 * command line names tisbackup (the original runs as "python3
 * .../tisbackup.py" or "tisbackup.py"). A stale file of ours whose pid
 * the kernel gave to an unrelated process is not held.
 */
static int
legacy_holder_alive(long pid)
{
	char path[64], cmd[4096];
	ssize_t n;
	int fd;

	if (pid <= 0 || pid == (long)getpid() || pid > (long)INT32_MAX)
		return 0;
	if (kill((pid_t)pid, 0) == -1 && errno != EPERM)
		return 0;
	if (same_executable(pid))
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, cmd, sizeof cmd - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		cmd[i] = cmd[i] == '\0' ? ' ' : (char)tolower((unsigned char)cmd[i]);
	cmd[n] = '\0';
	return strstr(cmd, "tisbackup") != NULL;
}

/*
 * After flock() succeeded: -1 + LOCK_BUSY when the file was written by a
 * live run of the original TISBackup, which takes no flock.
 */
static int
legacy_lock_check(int fd, struct err *err)
{
	struct holder h;

	read_holder(fd, &h);
	if (strcmp(h.pid, "?") == 0 || !legacy_holder_alive(strtol(h.pid, NULL, 10)))
		return 0;
	err_set(err,
	        "already running (pid %s, backup %s): a lock file written by another program, "
	        "the original TISBackup? It is left alone; this job runs once pid %s ends",
	        h.pid, h.stamp, h.pid);
	if (err != NULL)
		err->code = LOCK_BUSY;
	return -1;
}

static int
lock_write(int fd, const char *stamp)
{
	char *text;
	size_t len, done = 0;
	ssize_t n;
	int rv = -1, saved;

	text = xasprintf("pid=%ld\nbackup_time=%s\n", (long)getpid(), stamp);
	len = strlen(text);
	if (ftruncate(fd, 0) == -1)
		goto out;
	while (done < len) {
		n = pwrite(fd, text + done, len - done, (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	rv = 0;
out:
	saved = errno;
	free(text);
	errno = saved;
	return rv;
}

int
lock_acquire(const char *dir, const char *stamp, struct job_lock *l, struct err *err)
{
	struct stat fst, pst;
	int fd = -1, rv = -1;
	char *path;

	l->fd = -1;
	l->path = NULL;
	path = fs_join(dir, "lock");
	if (stamp == NULL)
		stamp = "";

	for (int attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd == -1) {
			err_sys(err, errno, "cannot open lock file %s", path);
			goto out;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK &&
		    holder_is_ending(fd))
			wait_for_lock(fd);
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				lock_busy(fd, err);
			else
				err_sys(err, errno, "cannot lock %s", path);
			goto out;
		}
		if (fstat(fd, &fst) == -1) {
			err_sys(err, errno, "cannot stat lock file %s", path);
			goto out;
		}
		if (lstat(path, &pst) == 0 && pst.st_ino == fst.st_ino &&
		    pst.st_dev == fst.st_dev) {
			/* Ours now, unless the original (no flock) is using it. */
			if (legacy_lock_check(fd, err) == -1)
				goto out;
			break;
		}
		/* The file we locked was removed (or replaced) meanwhile. */
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		err_set(err, "cannot lock %s: the file keeps being replaced", path);
		goto out;
	}
	if (lock_write(fd, stamp) == -1) {
		err_sys(err, errno, "cannot write lock file %s", path);
		unlink(path);
		goto out;
	}
	l->fd = fd;
	l->path = path;
	fd = -1;
	path = NULL;
	rv = 0;
out:
	if (fd != -1)
		close(fd);
	free(path);
	return rv;
}

void
lock_release(struct job_lock *l)
{
	if (l->fd != -1) {
		/* Unlink first: nobody may lock this inode once we let go. */
		if (l->path != NULL)
			unlink(l->path);
		close(l->fd);
		l->fd = -1;
	}
	free(l->path);
	l->path = NULL;
}
