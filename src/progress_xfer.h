/*
 * A run's transfer progress, shown while the bytes move: rsync's
 * --info=progress2 lines parsed into samples, turned into bytes, files,
 * rate, percent and ETA (the ETA from the previous good run's size when
 * there is one, else from the tool's own percentage), and shown three
 * ways by one report object per run:
 *  - on a terminal (tisbackup run by hand), one line rewritten in place;
 *  - in the log (the run log, a queued run's log), one INFO line every
 *    progress_interval seconds (30 by default);
 *  - in the job folder, a small state file {job_dir}/progress, replaced
 *    atomically about once a second and removed when the run ends, which
 *    the web server reads for the jobs it sees running (the API, the
 *    dashboard and the runs view), whether the run came from the queue,
 *    cron or a shell.
 * A report is used by the one thread that waits on the transfer.
 */
#ifndef TB_PROGRESS_XFER_H
#define TB_PROGRESS_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* One --info=progress2 line. */
struct xfer_sample {
	uint64_t bytes;   /* moved so far */
	int percent;      /* the tool's own, 0..100; -1 when unknown */
	int64_t files;    /* files moved so far (xfr#N); -1 when unknown */
	int64_t to_check; /* to-chk=A/B: A, files still to look at; -1 when unknown */
	int64_t listed;   /* ... B, files listed so far; -1 when unknown */
};

/*
 * Parse one line of rsync --info=progress2 ("   1,234,567  45%
 * 1.23MB/s  0:00:12 (xfr#3, to-chk=10/20)"; the part in brackets is
 * optional). Returns 1 and fills *out for a progress line, 0 for any
 * other line.
 */
int xfer_parse_rsync(const char *line, struct xfer_sample *out);

/* What a report shows. */
struct xfer_view {
	uint64_t bytes;
	int64_t files;   /* -1 when unknown */
	double rate;     /* bytes per second since the transfer started; 0 when unknown */
	int percent;     /* -1 when unknown */
	long eta;        /* seconds; -1 when unknown */
	uint64_t expect; /* the bytes the ETA counts on; 0 when unknown */
};

/*
 * The view of sample s moving at rate bytes per second (0: unknown),
 * when the previous good run moved expected bytes (0: unknown). With
 * expected, percent and ETA count on it (percent stays below 100 until
 * the transfer ends; past it, the tool's own percentage is used);
 * without, on the tool's percentage.
 */
void xfer_estimate(const struct xfer_sample *s, uint64_t expected, double rate,
                   struct xfer_view *v);

/*
 * The view in words, written into out (always terminated): "12.50M, 3
 * files, 45%, 200.00K/s, ETA 0:00:12"; unknown parts are left out.
 */
void xfer_format(const struct xfer_view *v, char *out, size_t outsz);

struct xfer_report {
	char *name;           /* the job, for log lines (owned) */
	char *state_path;     /* {job_dir}/progress (owned); NULL: no state file */
	int tty_fd;           /* the terminal of the live line; -1: none */
	int64_t interval;     /* ns between log lines */
	uint64_t expected;    /* the previous good run's bytes moved; 0 unknown */
	time_t started;       /* wall clock, when the report was opened */
	int64_t first_ns;     /* CLOCK_MONOTONIC of the first sample; 0: none yet */
	uint64_t first_bytes; /* ... and its bytes: the rate counts from there */
	int64_t last_log_ns, last_tty_ns, last_state_ns;
	int shown;     /* a live line is on the terminal */
	int64_t files; /* the most files the samples named (0 before the first ends) */
	struct xfer_sample cur;
};

/*
 * Start the report of a run of the job name: log lines every
 * interval_sec (at least 1), a live line on tty_fd (-1: none; the caller
 * checks isatty()), the state file in the job folder job_dir (NULL:
 * none). expected: see xfer_estimate().
 */
void xfer_report_open(struct xfer_report *r, const char *name, const char *job_dir,
                      long interval_sec, uint64_t expected, int tty_fd);

/* A new sample at now (CLOCK_MONOTONIC ns, progress_now()): shown as due. */
void xfer_report_feed(struct xfer_report *r, const struct xfer_sample *s, int64_t now);

/*
 * End the report: the live line is wiped, the state file removed. Safe
 * on a report never fed, and twice.
 */
void xfer_report_close(struct xfer_report *r);

/* The state file of a running job, as the web server reads it. */
struct xfer_state {
	pid_t pid;      /* the run's process */
	time_t started; /* the run's start */
	time_t updated; /* the last sample's time */
	struct xfer_view v;
};

/*
 * Read the state file of the job folder job_dir into *out. Returns 1
 * when there is one and the process that wrote it is alive, else 0 (no
 * file, unreadable, malformed, or left by a run that died).
 */
int xfer_state_read(const char *job_dir, struct xfer_state *out);

#endif
