/*
 * The progress of one run: when it started, when it last moved, and the
 * limits that end it (stall_timeout, max_runtime, an interrupt). One
 * object per run, shared by every command the run spawns (spawn.c feeds it
 * with the command's output and its progress probe) and every in-process
 * transfer it makes (http.c feeds it with the bytes moved), so the
 * watchdog's limits apply to both the same way, and max_runtime counts
 * from the start of the run whatever thread does the work.
 *
 * All functions are thread-safe: a worker thread may call
 * progress_interrupt() while another thread transfers.
 */
#ifndef TB_PROGRESS_H
#define TB_PROGRESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum progress_state {
	PROGRESS_OK = 0,
	PROGRESS_STALLED,     /* nothing moved for stall_sec */
	PROGRESS_DEADLINE,    /* max_runtime_sec passed since progress_init() */
	PROGRESS_INTERRUPTED, /* progress_interrupt() was called */
};

struct xfer_report;

struct progress {
	int64_t start_ns;    /* CLOCK_MONOTONIC at progress_init() */
	int64_t stall_ns;    /* 0: no stall limit */
	int64_t deadline_ns; /* CLOCK_MONOTONIC; 0: no deadline */
	_Atomic int64_t last_ns;
	_Atomic uint64_t bytes;
	atomic_int interrupted;
	/*
	 * The run's transfer progress display (progress_xfer.h), fed by the
	 * driver's transfer tool output; NULL (progress_init()) when nobody
	 * shows it. Not owned.
	 */
	struct xfer_report *xfer;
};

/*
 * Start a run now: stall_sec (0 or less: none) is how long nothing may
 * move, max_runtime_sec (0 or less: none) how long the whole run may take.
 */
void progress_init(struct progress *p, long stall_sec, long max_runtime_sec);

/* Now, on CLOCK_MONOTONIC, in nanoseconds (the clock of every field). */
int64_t progress_now(void);

/*
 * Something moved: n bytes (0 for progress that is not bytes: a line of
 * output, a task's percentage changing). Resets the stall clock.
 */
void progress_feed(struct progress *p, uint64_t n);

/* Ask every transfer and command watching p to end (idempotent). */
void progress_interrupt(struct progress *p);

/*
 * Where p stands at now (progress_now()): PROGRESS_INTERRUPTED first, then
 * PROGRESS_DEADLINE, then PROGRESS_STALLED, else PROGRESS_OK.
 */
enum progress_state progress_check(const struct progress *p, int64_t now);

/*
 * Whole seconds left before the deadline, at least 1; 0 when p has no
 * deadline. For a spawn timeout or a libcurl one.
 */
long progress_seconds_left(const struct progress *p);

/* Total bytes fed so far. */
uint64_t progress_bytes(const struct progress *p);

/*
 * Words for a log line, e.g. "stalled: nothing moved for 30 s" or
 * "max_runtime (3600 s) exceeded", written into out (always terminated).
 */
void progress_describe(const struct progress *p, enum progress_state st, char *out, size_t outsz);

#endif
