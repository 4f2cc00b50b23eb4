/*
 * What a catalog backend provides (catalog.c dispatches to it, the way
 * curl's scheme handlers or SQLite's VFS do): a const table of operations
 * over the backend's private state, which catalog.c allocates (priv_size
 * bytes, zeroed) and frees. Private to catalog*.c; everyone else uses
 * catalog.h. docs/catalog.md tells how to add a backend.
 *
 * Unless said otherwise each op has the contract of the catalog_*
 * function of the same name, minus what catalog.c already did: it picked
 * the backend from the address, checks the arguments that do not depend
 * on the backend (the order column, a swap from nothing to nothing) and
 * computes the current time where one is stored. Every op is required.
 */
#ifndef TB_CATALOG_BACKEND_H
#define TB_CATALOG_BACKEND_H

#include "catalog.h"

/* How catalog_open() split the address it was given. */
struct catalog_address {
	const char *text;   /* the whole address, as given (may hold a password: never log it) */
	const char *scheme; /* the backend's scheme ("sqlite") */
	/*
	 * What follows "scheme:" ("///var/x.sqlite", "//user@host/db"), or
	 * NULL when text is a plain path (the default backend only).
	 */
	const char *rest;
};

/* catalog_last_rows()'s order column, checked by catalog.c. */
enum catalog_order {
	CATALOG_ORDER_START, /* backup_start */
	CATALOG_ORDER_END,   /* backup_end */
	CATALOG_ORDER_MAX
};

/*
 * The index ranges of a keyset page (catalog_filter.after_rowid > 0) in
 * the order a backend reads them, $S/$R the cursor's start and rowid.
 */
enum catalog_keyset {
	CATALOG_KS_NONE,        /* no keyset: the filter's offset */
	CATALOG_KS_BEFORE,      /* (backup_start, rowid) < ($S, $R) */
	CATALOG_KS_AFTER,       /* (backup_start, rowid) > ($S, $R) */
	CATALOG_KS_NULL,        /* backup_start IS NULL */
	CATALOG_KS_NULL_BEFORE, /* backup_start IS NULL AND rowid < $R */
	CATALOG_KS_NULL_AFTER,  /* backup_start IS NULL AND rowid > $R */
	CATALOG_KS_NOT_NULL,    /* backup_start IS NOT NULL */
};

/*
 * The ranges f's page is read from: *first, then *second (CATALOG_KS_NONE
 * when there is none) while the page is not full. NULL starts come last
 * newest first and first oldest first, so a cursor on a non-NULL start
 * continues into them, and one on a NULL start out of them.
 */
static inline void
catalog_keyset_ranges(const struct catalog_filter *f, enum catalog_keyset *first,
                      enum catalog_keyset *second)
{
	*first = *second = CATALOG_KS_NONE;
	if (f->after_rowid <= 0)
		return;
	if (!f->oldest_first) {
		*first = f->after_start != NULL ? CATALOG_KS_BEFORE : CATALOG_KS_NULL_BEFORE;
		*second = f->after_start != NULL ? CATALOG_KS_NULL : CATALOG_KS_NONE;
	} else {
		*first = f->after_start != NULL ? CATALOG_KS_AFTER : CATALOG_KS_NULL_AFTER;
		*second = f->after_start != NULL ? CATALOG_KS_NONE : CATALOG_KS_NOT_NULL;
	}
}

struct catalog_ops {
	const char *scheme; /* the URI scheme naming the backend */
	size_t priv_size;   /* bytes of private state catalog.c allocates, zeroed */

	/*
	 * Open the catalog at a into priv: in CATALOG_RW mode create the
	 * schema when missing and upgrade an old one; in CATALOG_RO mode never
	 * write, and fail with err->code = ENOENT when there is no catalog at
	 * all (callers treat that as "no backups yet"). On failure close() is
	 * still called on priv, so it must cope with a half-open state.
	 */
	int (*open)(void *priv, const struct catalog_address *a, enum catalog_mode mode,
	            struct err *err);
	/* Release what open() acquired (not priv itself). */
	void (*close)(void *priv);
	/* How messages name this catalog: a path, or an address without its secrets. */
	const char *(*label)(const void *priv);

	int (*insert_running)(void *priv, const char *backup_name, const char *server_name,
	                      const char *description, const char *backup_start, const char *type,
	                      const char *backup_location, int64_t *rowid, struct err *err);
	int (*finish)(void *priv, int64_t rowid, const struct catalog_result *res, struct err *err);
	/* now: the ISO local time written as backup_end (the duration runs up to it). */
	int (*repair_running)(void *priv, const char *backup_name, const char *log, const char *now,
	                      int *count, struct err *err);
	int (*last_rows)(void *priv, const char *backup_name, const char *type,
	                 enum catalog_order order, int limit, struct catalog_row **rows, size_t *n,
	                 struct err *err);
	/* n > 0, limit > 0. */
	int (*last_rows_each)(void *priv, const char *const *names, size_t n, const char *type,
	                      int limit, catalog_rows_fn fn, void *arg, struct err *err);
	int (*find)(void *priv, const struct catalog_filter *f, struct catalog_row **rows,
	            size_t *n, struct err *err);
	int (*count)(void *priv, const struct catalog_filter *f, int64_t *count, struct err *err);
	/*
	 * One query each, no memo (catalog.c remembers the answers per
	 * version); the order of the result is free, catalog.c sorts it.
	 */
	int (*run_counts)(void *priv, struct catalog_run_count **counts, size_t *n,
	                  struct err *err);
	int (*last_finished)(void *priv, const char *type, struct catalog_row **rows, size_t *n,
	                     struct err *err);
	int (*insert_row)(void *priv, const struct catalog_row *r, int64_t *rowid, struct err *err);
	int (*begin)(void *priv, struct err *err);
	int (*commit)(void *priv, struct err *err);
	void (*rollback)(void *priv);
	int (*set_type)(void *priv, int64_t rowid, const char *type, struct err *err);
	int (*location_known)(void *priv, const char *location, int *known, struct err *err);
	int (*alert_get)(void *priv, const char *backup_name, char **state, int64_t *sent,
	                 struct err *err);
	/* Never called with old_state and new_state both NULL. */
	int (*alert_swap)(void *priv, const char *backup_name, const char *old_state,
	                  int64_t old_sent, const char *new_state, int64_t new_sent, int *swapped,
	                  struct err *err);
	int (*version)(void *priv, uint64_t *version, struct err *err);
	/* Disk usage (catalog.h); a backend without the tables reads them as empty. */
	int (*du_put)(void *priv, const struct catalog_du *d, struct err *err);
	int (*du_delete)(void *priv, const char *backup_name, const char *snapshot,
	                 struct err *err);
	int (*du_find)(void *priv, const char *backup_name, struct catalog_du **rows, size_t *n,
	               struct err *err);
	int (*du_sample_put)(void *priv, const struct catalog_du_sample *s, struct err *err);
	int (*du_samples)(void *priv, const char *since_day, struct catalog_du_sample **s,
	                  size_t *n, struct err *err);
	int (*job_names)(void *priv, char ***names, size_t *n, struct err *err);
	/* Where runs ran (catalog.h); a backend without the table reads it as empty. */
	int (*run_host_put)(void *priv, const struct catalog_run_host *h, struct err *err);
	/* n > 0; out zeroed. */
	int (*run_hosts)(void *priv, const int64_t *ids, size_t n, struct catalog_run_host *out,
	                 struct err *err);
	/* catalog_durable(); NULL: every commit is durable, whatever is asked. */
	int (*durable)(void *priv, int on, struct err *err);
	/* catalog_analyze(); NULL: nothing to do. */
	int (*analyze)(void *priv, struct err *err);
};

/* The SQLite backend (catalog_sqlite.c), also the one plain paths open. */
extern const struct catalog_ops catalog_sqlite_ops;
/* catalog_single_threaded() for SQLite (catalog_sqlite.c). */
void catalog_sqlite_single_threaded(void);
/* The PostgreSQL backend (catalog_pg.c): postgresql:// and postgres:// URIs. */
extern const struct catalog_ops catalog_pg_ops;
extern const struct catalog_ops catalog_postgres_ops;
/*
 * 1 if list, a libpq host or hostaddr value (comma-separated), names this
 * machine's loopback only ("localhost", "127.x.x.x", "::1"); 0 for NULL,
 * "", a socket folder or any other host. Where it is 1 the PostgreSQL
 * backend adds sslmode=allow and gssencmode=disable (catalog_pg.c).
 */
int catalog_pg_hosts_loopback(const char *list);

#endif
