/*
 * The catalog's façade (see catalog.h): picks a backend by the address
 * given to catalog_open() and dispatches every call to its operations
 * table (catalog_backend.h). What does not depend on the backend is done
 * here once: the choice of backend, the read-only check before a write,
 * the order column, the current time of a repair. No SQL here; adding a
 * backend is one file and one line of the table below.
 */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "catalog_backend.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

/* Every backend; the first also opens plain paths. */
static const struct catalog_ops *const backends[] = {
	&catalog_sqlite_ops,
	&catalog_pg_ops,
	&catalog_postgres_ops,
};

#define NBACKENDS (sizeof backends / sizeof backends[0])

void
catalog_backend_names(struct buf *out, const char *sep)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		buf_printf(out, "%s%s", i > 0 ? sep : "", backends[i]->scheme);
}

/*
 * The last answers of catalog_run_counts() and catalog_last_finished(),
 * each valid while catalog_version() still answers the version read
 * before its query.
 */
struct catalog_memo {
	int counts_valid;
	uint64_t counts_version;
	struct catalog_run_count *counts;
	size_t ncounts;
	int finished_valid;
	uint64_t finished_version;
	char *finished_type;
	struct catalog_row *finished;
	size_t nfinished;
};

struct catalog {
	const struct catalog_ops *ops;
	enum catalog_mode mode;
	void *priv; /* ops->priv_size bytes, zeroed at open */
	int in_txn; /* between a catalog_begin() and its commit or rollback: no memo */
	struct catalog_memo memo;
};

/*
 * The length of the scheme of "scheme:..." (a letter, then letters,
 * digits, '+', '-' or '.', as RFC 3986 spells it), 0 when s has none.
 */
static size_t
scheme_len(const char *s)
{
	size_t n = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
	       (s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return s[n] == ':' ? n : 0;
}

/*
 * The backend for address, filling a; NULL + err for an unknown scheme
 * (named with the known ones; the rest of the address, which may hold a
 * password, is not repeated).
 */
static const struct catalog_ops *
backend_for(const char *address, struct catalog_address *a, struct err *err)
{
	size_t n = scheme_len(address);
	struct buf known;

	a->text = address;
	a->rest = NULL;
	a->scheme = backends[0]->scheme;
	if (n == 0)
		return backends[0];
	for (size_t i = 0; i < NBACKENDS; i++) {
		if (strlen(backends[i]->scheme) == n &&
		    strncasecmp(address, backends[i]->scheme, n) == 0) {
			a->scheme = backends[i]->scheme;
			a->rest = address + n + 1;
			return backends[i];
		}
	}
	buf_init(&known, 1024);
	for (size_t i = 0; i < NBACKENDS; i++)
		buf_printf(&known, "%s%s", i > 0 ? ", " : "", backends[i]->scheme);
	err_set(err,
	        "catalog: unknown scheme \"%.*s:\" (known: %s; a plain path is an SQLite file)",
	        n > 40 ? 40 : (int)n, address, buf_str(&known));
	buf_free(&known);
	return NULL;
}

int
catalog_open(const char *address, enum catalog_mode mode, struct catalog **out, struct err *err)
{
	const struct catalog_ops *ops;
	struct catalog_address a;
	struct catalog *cat;

	*out = NULL;
	ops = backend_for(address, &a, err);
	if (ops == NULL)
		return -1;
	cat = xcalloc(1, sizeof *cat);
	cat->ops = ops;
	cat->mode = mode;
	cat->priv = xcalloc(1, ops->priv_size);
	if (ops->open(cat->priv, &a, mode, err) == -1) {
		catalog_close(cat);
		return -1;
	}
	*out = cat;
	return 0;
}

void
catalog_single_threaded(void)
{
	catalog_sqlite_single_threaded();
}

static void memo_clear(struct catalog_memo *m);

void
catalog_close(struct catalog *cat)
{
	if (cat == NULL)
		return;
	memo_clear(&cat->memo);
	cat->ops->close(cat->priv);
	free(cat->priv);
	free(cat);
}

/* -1 + err when cat was opened read-only (before any write reaches the backend). */
static int
check_rw(const struct catalog *cat, struct err *err)
{
	if (cat->mode != CATALOG_RW) {
		err_set(err, "catalog %s: opened read-only", cat->ops->label(cat->priv));
		return -1;
	}
	return 0;
}

int
catalog_insert_running(struct catalog *cat, const char *backup_name, const char *server_name,
                       const char *description, const char *backup_start, const char *type,
                       const char *backup_location, int64_t *rowid, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->insert_running(cat->priv, backup_name, server_name, description,
	                                backup_start, type, backup_location, rowid, err);
}

int
catalog_finish(struct catalog *cat, int64_t rowid, const struct catalog_result *res,
               struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->finish(cat->priv, rowid, res, err);
}

int
catalog_repair_running(struct catalog *cat, const char *backup_name, const char *log, int *count,
                       struct err *err)
{
	struct timeval tv;
	char now[TIME_ISO_LEN + 1];
	int n = 0, rc;

	if (count != NULL)
		*count = 0;
	if (check_rw(cat, err) == -1)
		return -1;
	gettimeofday(&tv, NULL);
	time_iso(&tv, now);
	rc = cat->ops->repair_running(cat->priv, backup_name, log, now, &n, err);
	if (rc == 0 && count != NULL)
		*count = n;
	return rc;
}

int
catalog_last_rows(struct catalog *cat, const char *backup_name, const char *type,
                  const char *order_col, int limit, struct catalog_row **rows, size_t *n,
                  struct err *err)
{
	enum catalog_order order;

	*rows = NULL;
	*n = 0;
	if (order_col == NULL || strcmp(order_col, "backup_start") == 0)
		order = CATALOG_ORDER_START;
	else if (strcmp(order_col, "backup_end") == 0)
		order = CATALOG_ORDER_END;
	else {
		err_set(err, "catalog %s: cannot order rows by \"%s\"", cat->ops->label(cat->priv),
		        order_col);
		return -1;
	}
	return cat->ops->last_rows(cat->priv, backup_name, type, order, limit, rows, n, err);
}

void
catalog_rows_free(struct catalog_row *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].backup_name);
		free(rows[i].server_name);
		free(rows[i].description);
		free(rows[i].backup_start);
		free(rows[i].backup_end);
		free(rows[i].status);
		free(rows[i].log);
		free(rows[i].backup_location);
		free(rows[i].type);
	}
	free(rows);
}

int
catalog_last_rows_each(struct catalog *cat, const char *const *names, size_t n, const char *type,
                       int limit, catalog_rows_fn fn, void *arg, struct err *err)
{
	if (n == 0)
		return 0;
	if (limit <= 0) {
		err_set(err, "catalog %s: asked for %d rows per job", cat->ops->label(cat->priv),
		        limit);
		return -1;
	}
	return cat->ops->last_rows_each(cat->priv, names, n, type, limit, fn, arg, err);
}

int
catalog_find(struct catalog *cat, const struct catalog_filter *f, struct catalog_row **rows,
             size_t *n, struct err *err)
{
	*rows = NULL;
	*n = 0;
	return cat->ops->find(cat->priv, f, rows, n, err);
}

int
catalog_count(struct catalog *cat, const struct catalog_filter *f, int64_t *count, struct err *err)
{
	return cat->ops->count(cat->priv, f, count, err);
}

int
catalog_insert_row(struct catalog *cat, const struct catalog_row *r, int64_t *rowid,
                   struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->insert_row(cat->priv, r, rowid, err);
}

int
catalog_begin(struct catalog *cat, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	if (cat->ops->begin(cat->priv, err) == -1)
		return -1;
	cat->in_txn = 1;
	return 0;
}

/* A failed commit leaves the memo off until the caller's rollback. */
int
catalog_commit(struct catalog *cat, struct err *err)
{
	if (cat->ops->commit(cat->priv, err) == -1)
		return -1;
	cat->in_txn = 0;
	return 0;
}

void
catalog_rollback(struct catalog *cat)
{
	cat->ops->rollback(cat->priv);
	cat->in_txn = 0;
}

/* ---- The answers about every job, remembered per version ---- */

static void
memo_clear(struct catalog_memo *m)
{
	catalog_run_counts_free(m->counts, m->ncounts);
	catalog_rows_free(m->finished, m->nfinished);
	free(m->finished_type);
	memset(m, 0, sizeof *m);
}

/* strcmp() with NULL first. */
static int
strcmp_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int
run_count_cmp(const void *pa, const void *pb)
{
	const struct catalog_run_count *a = pa, *b = pb;
	int c = strcmp_null(a->backup_name, b->backup_name);

	if (c == 0)
		c = strcmp_null(a->type, b->type);
	return c != 0 ? c : strcmp_null(a->status, b->status);
}

static int
row_name_cmp(const void *pa, const void *pb)
{
	const struct catalog_row *a = pa, *b = pb;

	return strcmp_null(a->backup_name, b->backup_name);
}

static char *
strdup_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* A copy of counts[0..n-1] (NULL when n is 0). */
static struct catalog_run_count *
run_counts_copy(const struct catalog_run_count *counts, size_t n)
{
	struct catalog_run_count *c = n > 0 ? xcalloc(n, sizeof *c) : NULL;

	for (size_t i = 0; i < n; i++) {
		c[i].backup_name = strdup_null(counts[i].backup_name);
		c[i].type = strdup_null(counts[i].type);
		c[i].status = strdup_null(counts[i].status);
		c[i].count = counts[i].count;
	}
	return c;
}

/* A copy of rows[0..n-1] (NULL when n is 0). */
static struct catalog_row *
rows_copy(const struct catalog_row *rows, size_t n)
{
	struct catalog_row *c = n > 0 ? xcalloc(n, sizeof *c) : NULL;

	for (size_t i = 0; i < n; i++) {
		c[i] = rows[i];
		c[i].backup_name = strdup_null(rows[i].backup_name);
		c[i].server_name = strdup_null(rows[i].server_name);
		c[i].description = strdup_null(rows[i].description);
		c[i].backup_start = strdup_null(rows[i].backup_start);
		c[i].backup_end = strdup_null(rows[i].backup_end);
		c[i].status = strdup_null(rows[i].status);
		c[i].log = strdup_null(rows[i].log);
		c[i].backup_location = strdup_null(rows[i].backup_location);
		c[i].type = strdup_null(rows[i].type);
	}
	return c;
}

/*
 * Whether a memo made at the version read now may be used or kept: 1
 * with *version set, 0 inside a transaction (its rows may be rolled back
 * without the version moving back), -1 + err when the version cannot be
 * read.
 */
static int
memo_usable(struct catalog *cat, uint64_t *version, struct err *err)
{
	if (cat->in_txn)
		return 0;
	if (cat->ops->version(cat->priv, version, err) == -1)
		return -1;
	return 1;
}

int
catalog_run_counts(struct catalog *cat, struct catalog_run_count **counts, size_t *n,
                   struct err *err)
{
	struct catalog_memo *m = &cat->memo;
	struct catalog_run_count *c = NULL;
	uint64_t version = 0;
	size_t len = 0;
	int memo;

	*counts = NULL;
	*n = 0;
	if ((memo = memo_usable(cat, &version, err)) == -1)
		return -1;
	if (memo && m->counts_valid && m->counts_version == version) {
		*counts = run_counts_copy(m->counts, m->ncounts);
		*n = m->ncounts;
		return 0;
	}
	if (cat->ops->run_counts(cat->priv, &c, &len, err) == -1)
		return -1;
	if (len > 1)
		qsort(c, len, sizeof *c, run_count_cmp);
	if (memo) {
		catalog_run_counts_free(m->counts, m->ncounts);
		m->counts = run_counts_copy(c, len);
		m->ncounts = len;
		m->counts_version = version;
		m->counts_valid = 1;
	}
	*counts = c;
	*n = len;
	return 0;
}

void
catalog_run_counts_free(struct catalog_run_count *counts, size_t n)
{
	for (size_t i = 0; counts != NULL && i < n; i++) {
		free(counts[i].backup_name);
		free(counts[i].type);
		free(counts[i].status);
	}
	free(counts);
}

int
catalog_last_finished(struct catalog *cat, const char *type, struct catalog_row **rows, size_t *n,
                      struct err *err)
{
	struct catalog_memo *m = &cat->memo;
	struct catalog_row *r = NULL;
	uint64_t version = 0;
	size_t len = 0;
	int memo;

	*rows = NULL;
	*n = 0;
	if ((memo = memo_usable(cat, &version, err)) == -1)
		return -1;
	if (memo && m->finished_valid && m->finished_version == version &&
	    strcmp(m->finished_type, type) == 0) {
		*rows = rows_copy(m->finished, m->nfinished);
		*n = m->nfinished;
		return 0;
	}
	if (cat->ops->last_finished(cat->priv, type, &r, &len, err) == -1)
		return -1;
	if (len > 1)
		qsort(r, len, sizeof *r, row_name_cmp);
	if (memo) {
		catalog_rows_free(m->finished, m->nfinished);
		free(m->finished_type);
		m->finished = rows_copy(r, len);
		m->nfinished = len;
		m->finished_type = xstrdup(type);
		m->finished_version = version;
		m->finished_valid = 1;
	}
	*rows = r;
	*n = len;
	return 0;
}

int
catalog_durable(struct catalog *cat, int on, struct err *err)
{
	if (cat->ops->durable == NULL || check_rw(cat, err) == -1)
		return cat->ops->durable == NULL ? 0 : -1;
	return cat->ops->durable(cat->priv, on, err);
}

int
catalog_analyze(struct catalog *cat, struct err *err)
{
	if (cat->ops->analyze == NULL)
		return 0;
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->analyze(cat->priv, err);
}

int
catalog_set_type(struct catalog *cat, int64_t rowid, const char *type, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->set_type(cat->priv, rowid, type, err);
}

int
catalog_location_known(struct catalog *cat, const char *location, int *known, struct err *err)
{
	return cat->ops->location_known(cat->priv, location, known, err);
}

int
catalog_version(struct catalog *cat, uint64_t *version, struct err *err)
{
	return cat->ops->version(cat->priv, version, err);
}

int
catalog_alert_get(struct catalog *cat, const char *backup_name, char **state, int64_t *sent,
                  struct err *err)
{
	*state = NULL;
	*sent = 0;
	return cat->ops->alert_get(cat->priv, backup_name, state, sent, err);
}

int
catalog_alert_swap(struct catalog *cat, const char *backup_name, const char *old_state,
                   int64_t old_sent, const char *new_state, int64_t new_sent, int *swapped,
                   struct err *err)
{
	*swapped = 0;
	if (old_state == NULL && new_state == NULL)
		return 0;
	return cat->ops->alert_swap(cat->priv, backup_name, old_state, old_sent, new_state,
	                            new_sent, swapped, err);
}

int
catalog_du_put(struct catalog *cat, const struct catalog_du *d, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->du_put(cat->priv, d, err);
}

int
catalog_du_delete(struct catalog *cat, const char *backup_name, const char *snapshot,
                  struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->du_delete(cat->priv, backup_name, snapshot, err);
}

int
catalog_du_find(struct catalog *cat, const char *backup_name, struct catalog_du **rows, size_t *n,
                struct err *err)
{
	*rows = NULL;
	*n = 0;
	return cat->ops->du_find(cat->priv, backup_name, rows, n, err);
}

void
catalog_du_free(struct catalog_du *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].backup_name);
		free(rows[i].snapshot);
	}
	free(rows);
}

int
catalog_du_sample_put(struct catalog *cat, const struct catalog_du_sample *s, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	return cat->ops->du_sample_put(cat->priv, s, err);
}

int
catalog_du_samples(struct catalog *cat, const char *since_day, struct catalog_du_sample **s,
                   size_t *n, struct err *err)
{
	*s = NULL;
	*n = 0;
	return cat->ops->du_samples(cat->priv, since_day, s, n, err);
}

int
catalog_job_names(struct catalog *cat, char ***names, size_t *n, struct err *err)
{
	*names = NULL;
	*n = 0;
	return cat->ops->job_names(cat->priv, names, n, err);
}

void
catalog_names_free(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

int
catalog_run_host_put(struct catalog *cat, const struct catalog_run_host *h, struct err *err)
{
	if (check_rw(cat, err) == -1)
		return -1;
	if (h->stats_id <= 0) {
		err_set(err, "catalog %s: no stats row %lld to record the host of",
		        cat->ops->label(cat->priv), (long long)h->stats_id);
		return -1;
	}
	return cat->ops->run_host_put(cat->priv, h, err);
}

int
catalog_run_hosts(struct catalog *cat, const int64_t *ids, size_t n, struct catalog_run_host *out,
                  struct err *err)
{
	if (n == 0)
		return 0;
	memset(out, 0, n * sizeof *out);
	if (cat->ops->run_hosts(cat->priv, ids, n, out, err) == -1) {
		catalog_run_hosts_clear(out, n);
		return -1;
	}
	return 0;
}

void
catalog_run_hosts_clear(struct catalog_run_host *out, size_t n)
{
	for (size_t i = 0; out != NULL && i < n; i++) {
		free(out[i].host);
		free(out[i].worker);
		free(out[i].pool);
		free(out[i].config);
		memset(&out[i], 0, sizeof out[i]);
	}
}

char *
catalog_address(const char *base_dir, const char *url, const char *password_file)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;

	if (url == NULL || url[0] == '\0')
		return fs_join(base_dir, "log/tisbackup.sqlite");
	if (password_file == NULL || password_file[0] == '\0')
		return xstrdup(url);
	buf_init(&b, (size_t)1 << 16);
	buf_printf(&b, "%s%cpassword_file=", url, strchr(url, '?') != NULL ? '&' : '?');
	for (const unsigned char *p = (const unsigned char *)password_file; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p) != NULL)
			buf_printf(&b, "%c", *p);
		else
			buf_printf(&b, "%%%c%c", hex[*p >> 4], hex[*p & 0xf]);
	}
	return buf_steal(&b);
}
