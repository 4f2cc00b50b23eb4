/*
 * checknagios (see nagios.h and SPEC §7): the original's per-job verdicts,
 * word for word ("disapeared" included, monitoring rules match on them),
 * and its summary line, with two changes. Each job is judged against its
 * own maximum_backup_age (the original applied the first job's to all),
 * and Monitoring-Plugins performance data follows the summary: the age of
 * each job's newest OK backup ('U' without one), with the job's
 * maximum_backup_age_warning (else its maximum age) as warning and its
 * maximum age as critical threshold, and its size. Two opt-in WARNINGs
 * refine an OK (eval_refine()): a failed newest attempt, an aging backup.
 *
 * One catalog read of every job's two newest rows (catalog_last_rows_each():
 * one query, one read transaction), a second of 30 rows for the few jobs
 * those do not settle (judge_all()); nothing here touches the disk: whether the newest good backup is still
 * there is the driver's check hook (by default one stat(2) of its
 * location, driver_check()). The backup filesystem adds one statvfs(2):
 * its free bytes and inodes as performance data, and, with [global]
 * disk_warn_percent / disk_crit_percent, a verdict of its own.
 */
#include "nagios.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "catalog.h"
#include "config.h"
#include "diskspace.h"
#include "diskusage.h"
#include "drivers/driver.h"
#include "util/err.h"
#include "util/fmt.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#ifndef TB_VERSION
#define TB_VERSION "0.0.0"
#endif

#define NAGIOS_ROWS 30
/* The rows read first: enough for a job whose newest backup is good and recent. */
#define NAGIOS_FIRST_ROWS 2

/*
 * time_parse_iso() of a value of the rows of the job being judged,
 * remembered by the value's address for the job's other loops: each
 * parse is a timegm() and four localtime_r(), and one backup_end is read up to five times.
 * row_times_forget() starts each job (a freed row's address may come
 * back with another value).
 */
static _Thread_local struct {
	const char *s;
	struct timeval tv;
	int rc;
} row_times[4];
static _Thread_local size_t row_times_n;

static void
row_times_forget(void)
{
	row_times_n = 0;
}

static int
row_time(const char *s, struct timeval *tv)
{
	size_t i;
	int rc;

	for (i = 0; i < row_times_n; i++)
		if (row_times[i].s == s) {
			*tv = row_times[i].tv;
			return row_times[i].rc;
		}
	if (s == NULL)
		return -1;
	rc = time_parse_iso(s, tv);
	i = row_times_n < 4 ? row_times_n++ : 3;
	row_times[i].s = s;
	row_times[i].tv = rc == 0 ? *tv : (struct timeval){ 0, 0 };
	row_times[i].rc = rc;
	return rc;
}

/*
 * Append the decimal digits of v: buf_printf("%lld") without the format
 * parse, for the two numbers of each job in the performance data.
 */
static void
put_ll(struct buf *b, long long v)
{
	char d[24];
	size_t i = sizeof d;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		d[--i] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		d[--i] = '-';
	buf_append(b, d + i, sizeof d - i);
}

/* "OK Backup NAME (END), LOG": the OK message, without a format parse. */
static char *
ok_message(const char *name, const char *end, const char *log)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	buf_puts(&b, "OK Backup ");
	buf_puts(&b, name);
	buf_puts(&b, " (");
	buf_puts(&b, end);
	buf_puts(&b, "), ");
	buf_puts(&b, log);
	return buf_steal(&b);
}

/*
 * 1 if the ISO timestamp s is at or after mindate. A value that does not
 * parse is compared as a string, like the original compared every value,
 * with mindate as text (mindate_iso, written on first need: "" until then).
 */
static int
at_or_after(const char *s, time_t mindate, char *mindate_iso)
{
	struct timeval tv;

	if (s == NULL)
		return 0;
	if (row_time(s, &tv) == 0)
		return tv.tv_sec >= mindate;
	if (mindate_iso[0] == '\0') {
		tv.tv_sec = mindate;
		tv.tv_usec = 0;
		time_iso(&tv, mindate_iso);
	}
	return strcmp(s, mindate_iso) >= 0;
}

/*
 * END as the original printed it: str() of a datetime parsed without its
 * fraction, "YYYY-MM-DD HH:MM:SS"; left as stored if it does not parse.
 */
static void
end_text(const char *end, char *out, size_t outsz)
{
	struct timeval tv;

	if (end == NULL)
		snprintf(out, outsz, "None");
	else if (row_time(end, &tv) == 0 && outsz > 19) {
		/* It parsed, so it starts "YYYY-MM-DDTHH:MM:SS": no format parse needed. */
		memcpy(out, end, 10);
		out[10] = ' ';
		memcpy(out + 11, end + 11, 8);
		out[19] = '\0';
	} else
		snprintf(out, outsz, "%s", end);
}

static void
verdict(struct nagios_verdict *v, enum nagios_state state, char *message)
{
	v->state = state;
	v->message = message;
}

/* The verdict on the newest recent OK row b. */
static void
eval_ok_row(const struct job *job, const struct catalog_row *b, struct nagios_verdict *v)
{
	const char *name = job->name;
	struct timeval start;
	struct drv_check chk;
	struct err err;
	char end[64];
	const char *log = b->log != NULL ? b->log : "";

	end_text(b->backup_end, end, sizeof end);
	if (b->total_bytes == 0) {
		verdict(v, NAGIOS_WARNING,
		        xasprintf("WARNING : No data to backup was found for %s", name));
		return;
	}
	if (b->backup_location == NULL || b->backup_location[0] == '\0') {
		verdict(v, NAGIOS_WARNING,
		        xasprintf("WARNING : No Backup location found for %s finished on (%s) %s",
		                  name, end, log));
		return;
	}
	err_clear(&err);
	if (driver_check(job, b->backup_location, &chk, &err) == -1) {
		verdict(v, NAGIOS_UNKNOWN,
		        xasprintf("UNKNOWN : cannot check the backup of %s at %s: %s", name,
		                  b->backup_location, err.msg));
		return;
	}
	switch (chk.presence) {
	case DRV_FILE: {
		double ctime_sec = (double)chk.ctime.tv_sec + (double)chk.ctime.tv_nsec / 1e9;

		/* The original drops the start's fraction before comparing. */
		if (row_time(b->backup_start, &start) == -1 ||
		    ctime_sec + 3600.0 > (double)start.tv_sec)
			verdict(v, NAGIOS_OK, ok_message(name, end, log));
		else
			verdict(v, NAGIOS_CRITICAL,
			        xasprintf("CRITICAL Backup %s (%s), %s seems older than start of "
			                  "backup",
			                  name, end, log));
		return;
	}
	case DRV_FOLDER:
	case DRV_ELSEWHERE:
		verdict(v, NAGIOS_OK, ok_message(name, end, log));
		return;
	case DRV_GONE:
		break;
	}
	verdict(v, NAGIOS_CRITICAL,
	        xasprintf("CRITICAL Backup %s (%s), %s has disapeared from backup location %s",
	                  name, end, log, b->backup_location));
}

/* The original's verdict (nagios_eval() refines it). */
static void
eval_original(const struct job *job, const struct catalog_row *rows, size_t n, time_t now,
              struct nagios_verdict *v)
{
	const char *name = job->name;
	struct timeval tv;
	time_t mindate;
	char mindate_iso[TIME_ISO_LEN + 1];

	v->state = NAGIOS_UNKNOWN;
	v->message = NULL;
	v->age_sec = -1;
	v->bytes = -1;

	if (job->drv->caps & DRV_CAP_NO_BACKUP) {
		verdict(v, NAGIOS_OK, xstrdup("No backups needs to be performed"));
		return;
	}
	if (n == 0) {
		verdict(v, NAGIOS_CRITICAL,
		        xasprintf("CRITICAL : No backup found for %s in database", name));
		return;
	}

	/* Performance data: the newest OK backup, recent or not. */
	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *b = &rows[i];

		if (b->status == NULL || strcmp(b->status, "OK") != 0 ||
		    row_time(b->backup_end, &tv) == -1)
			continue;
		v->age_sec = now > tv.tv_sec ? (long)(now - tv.tv_sec) : 0;
		v->bytes = b->total_bytes != CATALOG_NULL && b->total_bytes >= 0
		               ? (long long)b->total_bytes
		               : -1;
		break;
	}

	mindate = now - (time_t)job->max_age_hours * 3600;
	mindate_iso[0] = '\0'; /* at_or_after() writes it if a value needs it */

	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *b = &rows[i];

		if (b->status != NULL && strcmp(b->status, "OK") == 0 &&
		    at_or_after(b->backup_end, mindate, mindate_iso)) {
			eval_ok_row(job, b, v);
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct catalog_row *b = &rows[i];
		int recent;

		if (b->status == NULL ||
		    (strcmp(b->status, "Warning") != 0 && strcmp(b->status, "Running") != 0))
			continue;
		/* A Running row written by another tool may have no end yet. */
		if (b->backup_end != NULL)
			recent = at_or_after(b->backup_end, mindate, mindate_iso);
		else
			recent = at_or_after(b->backup_start, mindate, mindate_iso);
		if (recent) {
			verdict(v, NAGIOS_WARNING,
			        xasprintf("WARNING : Backup %s still running or warning. %s", name,
			                  b->log != NULL ? b->log : ""));
			return;
		}
	}
	verdict(v, NAGIOS_CRITICAL, xasprintf("CRITICAL : No recent backup for %s", name));
}

const struct catalog_row *
nagios_failed_attempt(const struct catalog_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *st = rows[i].status;

		if (st == NULL || strcmp(st, "Running") == 0)
			continue;
		if (strcmp(st, "OK") == 0 || strcmp(st, "Warning") == 0)
			return NULL;
		return &rows[i];
	}
	return NULL;
}

long
nagios_warn_age_sec(const struct job *job)
{
	long w = job->cfg != NULL ? job_get_long(job, "maximum_backup_age_warning", 0) : 0;

	if (w <= 0 || w >= job->max_age_hours)
		return -1;
	return w * 3600;
}

/* The first line of a catalog log, at most 300 bytes, for a one-line message. */
static char *
first_line(const char *log)
{
	size_t len;

	if (log == NULL)
		return xstrdup("");
	len = strcspn(log, "\n");
	return xstrndup(log, len > 300 ? 300 : len);
}

/*
 * What the original does not say about an OK verdict: the good backup is
 * getting old (maximum_backup_age_warning), or the newest attempt since
 * failed (nagios_warn_on_failed_attempt = yes). Both turn OK into WARNING.
 */
static void
eval_refine(const struct job *job, const struct catalog_row *rows, size_t n,
            struct nagios_verdict *v)
{
	const struct catalog_row *bad;
	long warn = nagios_warn_age_sec(job);

	if (v->state != NAGIOS_OK || (job->drv->caps & DRV_CAP_NO_BACKUP))
		return;
	if (job->cfg != NULL && job_get_bool(job, "nagios_warn_on_failed_attempt", 0) &&
	    (bad = nagios_failed_attempt(rows, n)) != NULL) {
		char *why = first_line(bad->log);

		free(v->message);
		v->state = NAGIOS_WARNING;
		v->message =
		    xasprintf("WARNING : the last attempt of %s failed (%s, %s): %s; the "
		              "last good backup is %.1f h old",
		              job->name, bad->backup_start != NULL ? bad->backup_start : "?",
		              bad->status, why, (double)v->age_sec / 3600.0);
		free(why);
		return;
	}
	if (warn > 0 && v->age_sec > warn) {
		free(v->message);
		v->state = NAGIOS_WARNING;
		v->message = xasprintf(
		    "WARNING : the last good backup of %s is %.1f h old (warning "
		    "after %ld h, critical after %d h)",
		    job->name, (double)v->age_sec / 3600.0, warn / 3600, job->max_age_hours);
	}
}

void
nagios_eval(const struct job *job, const struct catalog_row *rows, size_t n, time_t now,
            struct nagios_verdict *v)
{
	row_times_forget();
	eval_original(job, rows, n, now, v);
	eval_refine(job, rows, n, v);
}

/*
 * Performance data of one job's age: seconds since its last good backup,
 * 'U' (undetermined, Monitoring Plugins) when it has none, with the
 * warning (maximum_backup_age_warning, else maximum_backup_age) and
 * critical (maximum_backup_age) thresholds.
 */
static void
perf_age(struct buf *perf, const struct job *job, const struct nagios_verdict *v)
{
	long long limit = (long long)job->max_age_hours * 3600;
	long warn = job->drv != NULL ? nagios_warn_age_sec(job) : -1;

	if (job->drv != NULL && (job->drv->caps & DRV_CAP_NO_BACKUP))
		return;
	if (perf->len > 0)
		buf_putc(perf, ' ');
	buf_putc(perf, '\'');
	buf_puts(perf, job->name);
	buf_puts(perf, "_age'=");
	if (v->age_sec >= 0) {
		put_ll(perf, v->age_sec);
		buf_putc(perf, 's');
	} else
		buf_putc(perf, 'U');
	buf_putc(perf, ';');
	put_ll(perf, warn > 0 ? (long long)warn : limit);
	buf_putc(perf, ';');
	put_ll(perf, limit);
	buf_puts(perf, ";0");
}

void
nagios_verdict_free(struct nagios_verdict *v)
{
	if (v == NULL)
		return;
	free(v->message);
	v->message = NULL;
}

/* Append the job names in state st, comma separated. */
static void
names_in(struct buf *b, const struct job *const *jobs, const struct nagios_verdict *v, size_t n,
         enum nagios_state st)
{
	int first = 1;

	for (size_t i = 0; i < n; i++) {
		if (v[i].state != st)
			continue;
		if (!first)
			buf_putc(b, ',');
		buf_puts(b, jobs[i]->name);
		first = 0;
	}
}

/*
 * The backup filesystem of jobs' configuration: *ds read, *state its
 * verdict against [global] disk_warn_percent / disk_crit_percent (OK when
 * neither is set), *message the line after "[backup filesystem]:"
 * (owned). 0, or -1 when there is nothing to report (no configuration,
 * or no limit and the filesystem could not be read).
 */
static int
disk_verdict(const struct job *const *jobs, size_t n, struct disk_space *ds, int *warn, int *crit,
             enum nagios_state *state, char **message)
{
	const struct config *cfg = n > 0 ? jobs[0]->cfg : NULL;
	static const char *const words[] = { "OK", "WARNING", "CRITICAL" };
	struct err err;
	int level;

	*message = NULL;
	if (cfg == NULL || cfg->backup_base_dir == NULL)
		return -1;
	disk_space_limits(cfg, warn, crit);
	err_clear(&err);
	if (disk_space_read(cfg->backup_base_dir, ds, &err) == -1) {
		if (*warn < 0 && *crit < 0)
			return -1;
		*state = NAGIOS_UNKNOWN;
		*message = xasprintf("UNKNOWN : %s", err.msg);
		return 0;
	}
	level = disk_space_level(ds, *warn, *crit);
	*state = (enum nagios_state)level;
	*message = xasprintf("%s : %s is %.1f %% full, %.1f %% of its inodes used (warning at "
	                     "%d %%, critical at %d %%)",
	                     words[level], cfg->backup_base_dir, ds->used_percent,
	                     ds->inodes_used_percent, *warn, *crit);
	return 0;
}

/*
 * 1 when a job's newest rows (newest first) settle its verdict whatever
 * older rows say: the first OK row with a readable end is recent. Every
 * loop of nagios_eval() then stops at that row or before it (the
 * performance data's row, the recent good backup, the failed-attempt
 * scan), and the Warning/Running scan is not reached.
 */
static int
prefix_decides(const struct job *job, const struct catalog_row *rows, size_t n, time_t now)
{
	time_t mindate = now - (time_t)job->max_age_hours * 3600;
	struct timeval tv;

	for (size_t i = 0; i < n; i++) {
		if (rows[i].status == NULL || strcmp(rows[i].status, "OK") != 0 ||
		    row_time(rows[i].backup_end, &tv) == -1)
			continue;
		return tv.tv_sec >= mindate;
	}
	return 0;
}

/*
 * A job with verify = yes (tisbackup verify, docs/restore.md): CRITICAL
 * when its newest finished VERIFY row failed, WARNING when no OK one
 * started within verify_max_age hours (default 168). Applied to an OK or
 * WARNING verdict; one catalog read per such job.
 */
static void
eval_verify(struct catalog *cat, const struct job *job, time_t now, struct nagios_verdict *v)
{
	struct catalog_filter f = { .backup_name = job->name, .type = "VERIFY", .limit = 20 };
	struct catalog_row *rows = NULL;
	const struct catalog_row *last = NULL, *good = NULL;
	long max_h;
	struct timeval tv;
	struct err err;
	size_t n = 0;

	if (cat == NULL || job->cfg == NULL || !job_get_bool(job, "verify", 0) ||
	    (v->state != NAGIOS_OK && v->state != NAGIOS_WARNING))
		return;
	max_h = job_get_long(job, "verify_max_age", 168);
	err_clear(&err);
	if (catalog_find(cat, &f, &rows, &n, &err) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].status == NULL || strcmp(rows[i].status, "Running") == 0)
			continue;
		if (last == NULL)
			last = &rows[i];
		if (good == NULL && strcmp(rows[i].status, "OK") == 0)
			good = &rows[i];
	}
	if (last != NULL && strcmp(last->status, "OK") != 0) {
		char *why = first_line(last->log);

		free(v->message);
		v->state = NAGIOS_CRITICAL;
		v->message =
		    xasprintf("CRITICAL : the last verify of %s failed (%s): %s", job->name,
		              last->backup_start != NULL ? last->backup_start : "?", why);
		free(why);
	} else if (v->state == NAGIOS_OK && (good == NULL || good->backup_start == NULL ||
	                                     time_parse_iso(good->backup_start, &tv) == -1 ||
	                                     (double)(now - tv.tv_sec) > (double)max_h * 3600.0)) {
		free(v->message);
		v->state = NAGIOS_WARNING;
		v->message = xasprintf("WARNING : %s has no successful verify in the last %ld h "
		                       "(verify_max_age)",
		                       job->name, max_h);
	}
	catalog_rows_free(rows, n);
}

/* What judge_rows() needs: the jobs read, and where their verdicts go. */
struct judge_ctx {
	const struct job *const *jobs; /* the jobs read, in the order read */
	size_t *at;                    /* at[k]: the index in v of jobs[k] */
	struct nagios_verdict *v;
	time_t now;
	int limit;     /* rows asked per job */
	size_t *again; /* first pass: the k whose few rows did not settle it */
	size_t nagain;
};

/* catalog_rows_fn: judge the k-th job read on its rows. */
static void
judge_rows(void *arg, size_t k, const struct catalog_row *rows, size_t n)
{
	struct judge_ctx *ctx = arg;

	row_times_forget();
	if (ctx->again != NULL && n == (size_t)ctx->limit &&
	    !prefix_decides(ctx->jobs[k], rows, n, ctx->now)) {
		ctx->again[ctx->nagain++] = k;
		return;
	}
	/* nagios_eval(), with the times prefix_decides() read */
	eval_original(ctx->jobs[k], rows, n, ctx->now, &ctx->v[ctx->at[k]]);
	eval_refine(ctx->jobs[k], rows, n, &ctx->v[ctx->at[k]]);
}

/*
 * One catalog read of the newest `limit` BACKUP rows of jobs[0..m-1]
 * (their verdicts at v[at[k]]); with again, the jobs these rows do not
 * settle are listed there instead of judged. On a failed read all m are
 * UNKNOWN, with the reason.
 */
static void
judge_read(struct catalog *cat, const struct job **jobs, const char **names, size_t *at, size_t m,
           int limit, size_t *again, size_t *nagain, time_t now, struct nagios_verdict *v)
{
	struct judge_ctx ctx = {
		.jobs = jobs, .at = at, .v = v, .now = now, .limit = limit, .again = again
	};
	struct err err;

	err_clear(&err);
	if (catalog_last_rows_each(cat, names, m, "BACKUP", limit, judge_rows, &ctx, &err) == -1) {
		ctx.nagain = 0;
		for (size_t k = 0; k < m; k++) {
			struct nagios_verdict *vk = &v[at[k]];

			nagios_verdict_free(vk);
			vk->state = NAGIOS_UNKNOWN;
			vk->message = xasprintf("UNKNOWN : Unexpected error during Nagios check "
			                        "of %s : %s",
			                        jobs[k]->name, err.msg);
			vk->age_sec = -1;
			vk->bytes = -1;
		}
	}
	if (nagain != NULL)
		*nagain = ctx.nagain;
}

/*
 * Judge every job that has backups to judge (neither invalid nor
 * DRV_CAP_NO_BACKUP) on its newest NAGIOS_ROWS BACKUP rows; judged[i] = 1
 * for those. Most jobs are settled by their newest NAGIOS_FIRST_ROWS
 * (prefix_decides()): all are read so first, in one read, and only the
 * others again with NAGIOS_ROWS, in a second (each job's rows still come
 * from one read). On a failed read they are UNKNOWN, with the reason.
 */
static void
judge_all(struct catalog *cat, const struct job *const *jobs, size_t n, time_t now,
          struct nagios_verdict *v, int *judged)
{
	const struct job **read = xcalloc(n, sizeof *read);
	const char **names = xcalloc(n, sizeof *names);
	size_t *at = xcalloc(n, sizeof *at), *again = xcalloc(n, sizeof *again), m = 0, na = 0;

	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->invalid != NULL || (jobs[i]->drv->caps & DRV_CAP_NO_BACKUP))
			continue;
		judged[i] = 1;
		at[m] = i;
		read[m] = jobs[i];
		names[m++] = jobs[i]->name;
	}
	judge_read(cat, read, names, at, m, NAGIOS_FIRST_ROWS, again, &na, now, v);
	if (na > 0) {
		/* Compact the unsettled ones in place: again[k] >= k. */
		for (size_t k = 0; k < na; k++) {
			at[k] = at[again[k]];
			read[k] = read[again[k]];
			names[k] = names[again[k]];
		}
		judge_read(cat, read, names, at, na, NAGIOS_ROWS, NULL, NULL, now, v);
	}
	free(again);
	for (size_t i = 0; i < n; i++) /* at/read were compacted: go by judged[] */
		if (judged[i])
			eval_verify(cat, jobs[i], now, &v[i]);
	free(at);
	free(names);
	free(read);
}

/*
 * The fill-up forecast of the backup filesystem (diskusage.h): *fc read
 * from the catalog's daily samples, *state WARNING when the fitted line
 * reaches the capacity within [global] disk_forecast_warn_days (default
 * 14), else OK; *message the line after "[backup filesystem forecast]:"
 * (owned) when WARNING. 0, or -1 when there is nothing to report (no
 * catalog or configuration, no line fitted yet).
 */
static int
forecast_verdict(struct catalog *cat, const struct job *const *jobs, size_t n, time_t now,
                 struct diskusage_forecast *fc, int *warn_days, enum nagios_state *state,
                 char **message)
{
	const struct config *cfg = n > 0 ? jobs[0]->cfg : NULL;
	char rate[32];
	struct err err;
	int window;

	*message = NULL;
	*state = NAGIOS_OK;
	err_clear(&err);
	if (cat == NULL || cfg == NULL || cfg->backup_base_dir == NULL ||
	    diskusage_forecast_read(cat, cfg, now, fc, &err) == -1 || !fc->fitted)
		return -1;
	diskusage_forecast_limits(cfg, &window, warn_days);
	if (!fc->full || fc->days_left > *warn_days)
		return 0;
	*state = NAGIOS_WARNING;
	fmt_bytes(fc->slope, rate, sizeof rate);
	*message = xasprintf("WARNING : %s will be full in %.1f days (on %s) at %s a day, fitted "
	                     "over the last %d days (warning within %d days)",
	                     cfg->backup_base_dir, fc->days_left, fc->full_day, rate,
	                     fc->window_days, *warn_days);
	return 0;
}

int
nagios_run(struct catalog *cat, const struct job *const *jobs, size_t n, time_t now, FILE *out)
{
	static const enum nagios_state order[] = { NAGIOS_UNKNOWN, NAGIOS_CRITICAL, NAGIOS_WARNING,
		                                   NAGIOS_OK };
	static const char *const summary[] = {
		[NAGIOS_OK] = "ALL backups OK ",
		[NAGIOS_WARNING] = "WARNING backups ",
		[NAGIOS_CRITICAL] = "CRITICAL backups ",
		[NAGIOS_UNKNOWN] = "UNKNOWN status backups ",
	};
	struct nagios_verdict *v;
	int *judged;
	struct buf line, perf;
	enum nagios_state worst = NAGIOS_OK, disk_state = NAGIOS_OK;
	struct disk_space ds;
	char *disk_msg = NULL;
	int have[4] = { 0 }, disk, warn = -1, crit = -1;
	/* The fill-up forecast (forecast_verdict). */
	struct diskusage_forecast fc;
	enum nagios_state fc_state = NAGIOS_OK;
	char *fc_msg = NULL;
	int fc_ok, fc_warn = 0;

	if (n == 0) {
		fprintf(out, "UNKNOWN : no backup section selected (tisbackup V%s)\n", TB_VERSION);
		fflush(out);
		return NAGIOS_UNKNOWN;
	}

	v = xcalloc(n, sizeof *v);
	judged = xcalloc(n, sizeof *judged);
	if (cat != NULL)
		judge_all(cat, jobs, n, now, v, judged);
	for (size_t i = 0; i < n; i++) {
		const struct job *job = jobs[i];

		if (judged[i]) {
			/* done by judge_all() */
		} else if (job->invalid != NULL) {
			/* A job this binary cannot run (config.invalid). */
			char *why = xstrdup(job->invalid);

			for (char *p = why; *p != '\0'; p++)
				if (*p == '\n')
					*p = ' ';
			v[i].state = NAGIOS_CRITICAL;
			v[i].message = xasprintf("CRITICAL : %s cannot run: %s", job->name, why);
			v[i].age_sec = -1;
			v[i].bytes = -1;
			free(why);
		} else
			nagios_eval(job, NULL, 0, now, &v[i]);
		have[v[i].state] = 1;
	}
	free(judged);
	disk = disk_verdict(jobs, n, &ds, &warn, &crit, &disk_state, &disk_msg) == 0;
	if (disk && (warn >= 0 || crit >= 0))
		have[disk_state] = 1;
	fc_ok = forecast_verdict(cat, jobs, n, now, &fc, &fc_warn, &fc_state, &fc_msg) == 0;
	if (fc_ok)
		have[fc_state] = 1;
	for (size_t k = 0; k < 4; k++) {
		if (have[order[k]]) {
			worst = order[k];
			break;
		}
	}

	buf_init(&line, (size_t)1 << 24);
	buf_init(&perf, (size_t)1 << 24);
	buf_puts(&line, summary[worst]);
	names_in(&line, jobs, v, n, worst);
	if (disk && worst != NAGIOS_OK && disk_state == worst)
		buf_puts(&line, line.data[line.len - 1] == ' ' ? "backup filesystem"
		                                               : ",backup filesystem");
	if (fc_ok && worst != NAGIOS_OK && fc_state == worst)
		buf_puts(&line, line.data[line.len - 1] == ' ' ? "backup filesystem forecast"
		                                               : ",backup filesystem forecast");
	buf_printf(&line, " (tisbackup V%s)", TB_VERSION);
	for (size_t i = 0; i < n; i++) {
		perf_age(&perf, jobs[i], &v[i]);
		if (v[i].bytes >= 0) {
			buf_puts(&perf, perf.len > 0 ? " '" : "'");
			buf_puts(&perf, jobs[i]->name);
			buf_puts(&perf, "_bytes'=");
			put_ll(&perf, v[i].bytes);
			buf_puts(&perf, "B;;;0");
		}
	}
	if (disk && disk_state != NAGIOS_UNKNOWN) {
		buf_printf(&perf, "%s'backup_fs_free'=%lluB;;;0;%llu", perf.len > 0 ? " " : "",
		           ds.free_bytes, ds.size_bytes);
		buf_printf(&perf, " 'backup_fs_used'=%.1f%%;", ds.used_percent);
		if (warn >= 0)
			buf_printf(&perf, "%d", warn);
		buf_putc(&perf, ';');
		if (crit >= 0)
			buf_printf(&perf, "%d", crit);
		buf_puts(&perf, ";0;100");
		if (ds.inodes > 0)
			buf_printf(&perf, " 'backup_fs_free_inodes'=%llu;;;0;%llu", ds.free_inodes,
			           ds.inodes);
	}
	if (fc_ok && fc.full)
		buf_printf(&perf, "%s'backup_fs_full_days'=%.1f;%d;;0", perf.len > 0 ? " " : "",
		           fc.days_left, fc_warn);
	if (perf.len > 0) {
		/* Appended, not formatted: buf_printf() would run over it twice. */
		buf_puts(&line, " | ");
		buf_append(&line, perf.data, perf.len);
	}
	fprintf(out, "%s\n", buf_str(&line));

	/* The per-job lines, into one buffer (no limit, as before): one write for all. */
	buf_free(&line);
	buf_init(&line, SIZE_MAX);
	for (size_t k = 0; k < 4; k++) {
		for (size_t i = 0; i < n; i++) {
			if (v[i].state != order[k])
				continue;
			buf_putc(&line, '[');
			buf_puts(&line, jobs[i]->name);
			buf_puts(&line, "]:");
			buf_puts(&line, v[i].message != NULL ? v[i].message : "(null)");
			buf_putc(&line, '\n');
		}
		if (disk_msg != NULL && (warn >= 0 || crit >= 0) && disk_state == order[k])
			buf_printf(&line, "[backup filesystem]:%s\n", disk_msg);
		if (fc_msg != NULL && fc_state == order[k])
			buf_printf(&line, "[backup filesystem forecast]:%s\n", fc_msg);
	}
	if (line.len > 0)
		fwrite(line.data, 1, line.len, out);
	fflush(out);
	free(disk_msg);
	free(fc_msg);

	for (size_t i = 0; i < n; i++)
		nagios_verdict_free(&v[i]);
	free(v);
	buf_free(&line);
	buf_free(&perf);
	return (int)worst;
}
