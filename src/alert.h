/*
 * Alerts: a mail (SMTP through libcurl) and/or a webhook POST (JSON) when
 * a backup job starts failing, keeps failing (a reminder) or recovers.
 * Called once per finished BACKUP run, right after its final catalog row
 * is written and while the job's lock is still held. The per-job "last
 * alert" state lives in the catalog (table alerts, see catalog.h), so the
 * rate limit holds across runs, threads and processes. See docs/alerts.md.
 *
 * Sending never changes a job's result: a failed send is a warning in the
 * run log, and the state is rolled back so the next run tries again.
 */
#ifndef TB_ALERT_H
#define TB_ALERT_H

#include <stdint.h>
#include <time.h>

struct catalog;
struct guiconf;

enum alert_event {
	ALERT_NONE = 0,
	ALERT_FAILED,    /* the job failed (new failure or reminder) */
	ALERT_RECOVERED, /* the job is OK again after a "failed" alert */
	ALERT_CHANGED,   /* an OK backup differs from the previous one (alert_on_change) */
};

/* What the alerts table remembers of one job. */
struct alert_state {
	enum alert_event last; /* the last event sent; ALERT_NONE if never */
	int64_t last_sent;     /* its epoch second; 0 if never */
};

/* One finished run, as the message shows it. Strings may be NULL (shown empty). */
struct alert_run {
	const char *job;
	const char *server;
	const char *type;        /* driver name */
	const char *status;      /* "OK" or "ERROR" */
	const char *prev_status; /* previous finished BACKUP row's status; NULL if none */
	const char *start;       /* ISO local times, as in the catalog */
	const char *end;
	double duration_s;
	const char *log; /* the row's log; the message carries its last ALERT_LOG_TAIL bytes */
	const char *host;
	int reminder; /* set by alert_decide(): a "failed" for a job already reported failing */
	/*
	 * Set by the caller for an OK run of a job with alert_on_change =
	 * yes whose backup differs from the previous one: detail is the
	 * unified diff (at most ALERT_DIFF_MAX bytes, whole lines; cut says
	 * it was cut short), previous the previous version's name.
	 */
	int changed;
	const char *detail;
	int cut;
	const char *previous;
};

#define ALERT_DIFF_MAX (32 * 1024)

#define ALERT_LOG_TAIL 4096
#define ALERT_CONNECT_TIMEOUT 10 /* seconds */
#define ALERT_TOTAL_TIMEOUT 30

/*
 * The decision table (docs/alerts.md). failed: this run's outcome;
 * prev_status: the previous finished BACKUP row's status (NULL: first
 * run); st: the stored state; interval: alert_interval in seconds.
 *   OK,    last sent "failed"          -> RECOVERED (never rate limited)
 *   OK,    otherwise                   -> NONE
 *   ERROR, now - last_sent >= interval
 *          or never sent               -> FAILED (*reminder = 1 when the
 *                                         last sent was "failed" and the
 *                                         previous row is ERROR too)
 *   ERROR, within the interval         -> NONE
 * Pure: no clock, no I/O.
 */
enum alert_event alert_decide(int failed, const char *prev_status, const struct alert_state *st,
                              time_t now, int interval, int *reminder);

/* "failed", "recovered", "changed" or "none". */
const char *alert_event_name(enum alert_event ev);

/*
 * The RFC 5322 message (CRLF line ends, lines at most 998 bytes, header
 * values without control characters, a non-ASCII subject RFC 2047
 * encoded, body UTF-8 with invalid bytes replaced by '?'). to is
 * NULL-terminated. Caller frees.
 */
char *alert_format_mail(const struct alert_run *r, enum alert_event ev, const char *from,
                        char *const *to, time_t now, const char *message_id);

/* The webhook's JSON body (docs/alerts.md has the schema). Caller frees. */
char *alert_format_json(const struct alert_run *r, enum alert_event ev);

/*
 * After a run: read the job's previous row and alert state from cat,
 * decide, claim the state (compare-and-swap, so two processes never both
 * send), send through every configured channel, and put the old state
 * back when every channel failed. r->prev_status and r->reminder are
 * filled here; rowid is the run's own row. Then, when r->changed, a
 * "changed" alert through every channel: never rate limited (one per
 * change) and never stored as the job's alert state, so it neither hides
 * nor causes a "failed" or "recovered" one. Does nothing when gc has no
 * channel. Problems are logged as warnings under the job's name.
 */
void alert_after_run(const struct guiconf *gc, struct catalog *cat, int64_t rowid,
                     struct alert_run *r, time_t now);

#endif
