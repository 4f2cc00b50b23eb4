/*
 * Per-job lock: {job_dir}/lock held with flock(2), so a crashed run never
 * leaves a stale lock (the kernel drops it with the process). The file
 * holds "pid=N\nbackup_time=STAMP" like the original's, for humans and for
 * the message a second run prints.
 *
 * The original TISBackup takes no flock: it writes the same file and
 * trusts its pid. So a file we could lock that names a live process of
 * the original (not this executable, "tisbackup" in its command line) is
 * held too, and left as it is.
 *
 * A holder that is a run of this executable whose parent died (ppid 1: a
 * queue worker killed with -9, whose run got SIGTERM from the kernel and
 * is recording its end) is waited for, up to 60 s, before the lock counts
 * as busy: the worker that claimed the run again then takes over instead
 * of failing it as "already running".
 */
#ifndef TB_LOCK_H
#define TB_LOCK_H

#include "util/err.h"

struct job_lock {
	int fd;     /* -1 when not held */
	char *path; /* owned */
};

#define LOCK_BUSY 1 /* err->code when another process holds the lock */

/*
 * Take the lock of the job folder dir without waiting. On success fills l
 * and returns 0. When held elsewhere (by flock, or by a live run of the
 * original) returns -1, err->code = LOCK_BUSY and the message says
 * "already running (pid N, backup STAMP)".
 */
int lock_acquire(const char *dir, const char *stamp, struct job_lock *l, struct err *err);
/* Remove the lock file and release the lock. Safe on a lock not held. */
void lock_release(struct job_lock *l);

#endif
