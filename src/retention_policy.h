/*
 * Retention as a pure policy: given a job's backups (start time, state),
 * a policy and the time now, decide which to keep and which to delete,
 * each with a reason. No I/O: the executor (retention.c) reads the
 * catalog, lists the job folder, checks paths and calls the driver's
 * expire hook; tests call retention_select() on tables of cases.
 *
 * A policy is a kind plus its parameters. RETENTION_AGE is SPEC §6 (the
 * original's cleanup); RETENTION_GFS adds grandfather-father-son buckets
 * (keep_daily, keep_weekly, keep_monthly, keep_yearly) and keep_min_days
 * to the same age window (docs/retention.md states every rule). Another
 * kind is one more enum value, one more select function in
 * retention_policy.c and its fields here.
 */
#ifndef TB_RETENTION_POLICY_H
#define TB_RETENTION_POLICY_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum retention_kind {
	/*
	 * Backups started before midnight today (local time) minus days
	 * expire, but only while the newest good backup started since then
	 * exists: cleanup never leaves a job with nothing, and a partial
	 * transfer never counts as that backup.
	 */
	RETENTION_AGE = 0,
	/*
	 * A backup is kept when ANY rule keeps it: the age window above
	 * (without its guard), keep_min_days, the newest good backup of any
	 * age, one backup per bucket of the newest keep_daily days,
	 * keep_weekly ISO weeks, keep_monthly months and keep_yearly years
	 * that hold a backup (local time; a bucket's backup is its newest
	 * good one, a partial transfer only when the bucket has no good one;
	 * failed and Running rows and orphans never stand for a bucket).
	 * Without any good backup nothing is deleted.
	 */
	RETENTION_GFS,
};

struct retention_policy {
	enum retention_kind kind;
	int days; /* backup_retention_time */
	/*
	 * At most this many finished backups (good, partial or failed rows
	 * with a location; not Running rows, not orphans) are kept, the
	 * newest ones, the newest good backup always among them; 0: no
	 * limit. Not a configuration key yet (the original has it only as
	 * copy-vm-xcp's own key): cleanup passes 0.
	 */
	int max_copies;
	/* RETENTION_GFS only (0: the rule is off; max_copies is ignored). */
	int keep_daily;    /* newest backup of each of the newest N days with one */
	int keep_weekly;   /* ... of N ISO weeks (Monday to Sunday) */
	int keep_monthly;  /* ... of N calendar months */
	int keep_yearly;   /* ... of N calendar years */
	int keep_min_days; /* everything started since now minus N days (same local time) */
};

/* What a backup is, as far as retention cares. */
enum retention_state {
	RETENTION_GOOD,    /* OK and complete: may be the one kept */
	RETENTION_PARTIAL, /* OK but a partial transfer: never the one kept */
	RETENTION_FAILED,  /* any other finished status (ERROR, Warning...) */
	RETENTION_RUNNING, /* a Running row (the executor tells live from dead) */
	RETENTION_ORPHAN,  /* unfinished work no row records (a staging name) */
};

/* One backup of the job, in any order. */
struct retention_row {
	time_t start;
	int start_ok; /* 0: the start could not be read: always kept */
	enum retention_state state;
	int in_use; /* being exported (or read otherwise): always kept */
};

enum retention_reason {
	RETENTION_KEEP_UNREADABLE,  /* its start could not be read */
	RETENTION_KEEP_RECENT,      /* started at or after the cutoff */
	RETENTION_KEEP_NEWEST_GOOD, /* the newest good backup since the cutoff */
	RETENTION_KEEP_NO_GOOD,     /* expired, but no good backup since the cutoff */
	RETENTION_DELETE_EXPIRED,   /* started before the cutoff */
	RETENTION_DELETE_EXTRA,     /* recent, but beyond max_copies */
	RETENTION_KEEP_IN_USE,      /* in_use: an export reads it */
	RETENTION_KEEP_MIN_DAYS,    /* started within keep_min_days */
	RETENTION_KEEP_DAILY,       /* the backup of one of the keep_daily days */
	RETENTION_KEEP_WEEKLY,      /* ... of one of the keep_weekly ISO weeks */
	RETENTION_KEEP_MONTHLY,     /* ... of one of the keep_monthly months */
	RETENTION_KEEP_YEARLY,      /* ... of one of the keep_yearly years */
	RETENTION_DELETE_UNKEPT,    /* RETENTION_GFS: no rule keeps it */
};

/* The last enum retention_reason (for tables and loops). */
#define RETENTION_REASON_LAST RETENTION_DELETE_UNKEPT

/* Bit of a reason in retention_decision.rules. */
#define RETENTION_RULE(reason) (1u << (unsigned)(reason))

struct retention_decision {
	int del;                      /* 1: delete, 0: keep */
	enum retention_reason reason; /* the deciding one (first keeping rule, see docs) */
	unsigned rules;               /* RETENTION_GFS: every keeping rule's RETENTION_RULE() */
};

/* What the executor reports about the whole job. */
struct retention_summary {
	time_t cutoff;
	ssize_t keeper;         /* index of the newest good backup since the cutoff, or -1 */
	size_t expired;         /* rows (not orphans) started before the cutoff */
	size_t orphans_expired; /* orphans started before the cutoff */
	size_t extra;           /* recent rows beyond max_copies */
	int partial_only;       /* no keeper, but OK partial transfers since the cutoff */
};

/*
 * The cutoff of policy's age window at time now: midnight today, local
 * time, minus days.
 */
time_t retention_cutoff(const struct retention_policy *policy, time_t now);

/*
 * Decide for each of the n rows: out[i] (n entries, caller's) gets keep
 * or delete and why; *sum (may be NULL) the job's summary. Pure.
 * Without a keeper (no good backup since the cutoff) nothing is deleted.
 */
void retention_select(const struct retention_row *rows, size_t n,
                      const struct retention_policy *policy, time_t now,
                      struct retention_decision *out, struct retention_summary *sum);

/* A few words for reason ("expired", "newest good backup"...), static. */
const char *retention_reason_text(enum retention_reason reason);

/*
 * The short name of the rule behind reason, for tables and JSON
 * ("age", "newest", "daily", "unkept"...), static.
 */
const char *retention_rule_name(enum retention_reason reason);

/*
 * Bucket keys of a local time, as integers that grow with time: the day
 * (YYYYMMDD), the ISO 8601 week (ISOYEAR*100 + WEEK, weeks from Monday,
 * week 1 holding the year's first Thursday) and the month (YYYYMM). t is
 * read with localtime_r(), so a day is the local calendar day whatever
 * its length (23 or 25 hours across a DST change).
 */
long retention_day_key(time_t t);
long retention_week_key(time_t t);
long retention_month_key(time_t t);

#endif
