/*
 * tisbackup catalog migrate --from ADDRESS --to ADDRESS: copy the stats
 * rows of one catalog into another through the catalog API (catalog.h),
 * so any backend pair works and no SQL lives here.
 *
 * Idempotent: a row is identified by its content (backup_name,
 * backup_start, backup_end, status, TYPE, backup_location); for each such
 * key the destination gets as many copies as the source has, minus those
 * it already holds, all in one transaction. Afterwards the destination is
 * read again and every source key must be there as many times: the
 * verified row counts the command prints.
 *
 * Where each run ran (run_host, keyed by the stats row's rowid) follows
 * its row: each source row is paired with the destination row holding
 * it (the one inserted now, or one already there with the same key), and
 * the source's run_host row, if any, is written for that destination
 * rowid, in the same transaction, then read back to verify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "catalog.h"
#include "commands.h"
#include "util/buf.h"
#include "util/xmalloc.h"

/* One row's identity and its index in the row array. */
struct key {
	char *text;
	size_t row;
};

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key *)a)->text, ((const struct key *)b)->text);
}

/* The identity of r: its fields joined by \x1f, NULL as \x02. */
static char *
row_key(const struct catalog_row *r)
{
	const char *f[] = { r->backup_name, r->backup_start,    r->backup_end,
		            r->status,      r->backup_location, r->type };
	struct buf b;

	buf_init(&b, (size_t)1 << 24);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		buf_printf(&b, "%s%s", i > 0 ? "\x1f" : "", f[i] != NULL ? f[i] : "\x02");
	return buf_steal(&b);
}

/* The sorted keys of rows[0..n-1]. */
static struct key *
keys_of(const struct catalog_row *rows, size_t n)
{
	struct key *k = xcalloc(n + 1, sizeof *k);

	for (size_t i = 0; i < n; i++) {
		k[i].text = row_key(&rows[i]);
		k[i].row = i;
	}
	qsort(k, n, sizeof *k, key_cmp);
	return k;
}

static void
keys_free(struct key *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].text);
	free(k);
}

/* Every row of cat, oldest first. 0 or -1 + err. */
static int
all_rows(struct catalog *cat, struct catalog_row **rows, size_t *n, struct err *err)
{
	struct catalog_filter f = { .oldest_first = 1 };

	return catalog_find(cat, &f, rows, n, err);
}

/*
 * Walk the sorted keys of src (s, ns) and dst (d, nd) together: for each
 * key, *missing += how many more the source has. With insert set, insert
 * those rows of srows into dst. With map (ns entries), map[i] gets the
 * rowid of the destination row paired with source row i (one already
 * there with its key, or the one inserted). 0 or -1 + err.
 */
static int
merge(const struct key *s, size_t ns, const struct key *d, size_t nd,
      const struct catalog_row *srows, const struct catalog_row *drows, struct catalog *dst,
      int insert, int64_t *map, size_t *missing, struct err *err)
{
	size_t i = 0, j = 0;

	*missing = 0;
	while (i < ns) {
		size_t i2 = i, j2;

		while (i2 < ns && strcmp(s[i2].text, s[i].text) == 0)
			i2++;
		while (j < nd && strcmp(d[j].text, s[i].text) < 0)
			j++;
		j2 = j;
		while (j2 < nd && strcmp(d[j2].text, s[i].text) == 0)
			j2++;
		for (size_t k = i; map != NULL && k < i2 && k - i < j2 - j; k++)
			map[s[k].row] = drows[d[j + (k - i)].row].rowid;
		for (size_t k = i + (j2 - j); k < i2; k++) {
			int64_t id = 0;

			(*missing)++;
			if (insert && catalog_insert_row(dst, &srows[s[k].row], &id, err) == -1)
				return -1;
			if (map != NULL)
				map[s[k].row] = id;
		}
		i = i2;
		j = j2;
	}
	return 0;
}

/*
 * Write the source's run_host rows (sh, one per source row, stats_id 0
 * when none) into dst for the paired rowids map; *n = how many. 0 or -1 +
 * err.
 */
static int
hosts_copy(struct catalog *dst, const struct catalog_run_host *sh, const int64_t *map, size_t ns,
           size_t *n, struct err *err)
{
	*n = 0;
	for (size_t i = 0; i < ns; i++) {
		struct catalog_run_host h;

		if (sh[i].stats_id == 0 || map[i] <= 0)
			continue;
		h = sh[i];
		h.stats_id = map[i];
		if (catalog_run_host_put(dst, &h, err) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

/* How many of the source's run_host rows sh the destination lacks at map. 0 or -1 + err. */
static int
hosts_missing(struct catalog *dst, const struct catalog_run_host *sh, const int64_t *map, size_t ns,
              size_t *missing, struct err *err)
{
	struct catalog_run_host *dh = xcalloc(ns + 1, sizeof *dh);
	int ret = -1;

	*missing = 0;
	if (catalog_run_hosts(dst, map, ns, dh, err) == -1)
		goto out;
	for (size_t i = 0; i < ns; i++)
		*missing += sh[i].stats_id != 0 && map[i] > 0 && dh[i].stats_id == 0;
	ret = 0;
out:
	catalog_run_hosts_clear(dh, ns);
	free(dh);
	return ret;
}

int
catalog_migrate(const char *from, const char *to, size_t *nsource, size_t *copied, size_t *nhosts,
                struct err *err)
{
	struct catalog *src = NULL, *dst = NULL;
	struct catalog_row *srows = NULL, *drows = NULL;
	struct catalog_run_host *sh = NULL;
	struct key *sk = NULL, *dk = NULL;
	int64_t *ids = NULL, *map = NULL;
	size_t ns = 0, nd = 0, missing = 0;
	int ret = -1;

	*nsource = *copied = *nhosts = 0;
	if (catalog_open(from, CATALOG_RO, &src, err) == -1 ||
	    catalog_open(to, CATALOG_RW, &dst, err) == -1 || all_rows(src, &srows, &ns, err) == -1)
		goto out;
	sk = keys_of(srows, ns);
	ids = xcalloc(ns + 1, sizeof *ids);
	map = xcalloc(ns + 1, sizeof *map);
	sh = xcalloc(ns + 1, sizeof *sh);
	for (size_t i = 0; i < ns; i++)
		ids[i] = srows[i].rowid;
	if (catalog_run_hosts(src, ids, ns, sh, err) == -1)
		goto out;
	if (catalog_begin(dst, err) == -1)
		goto out;
	if (all_rows(dst, &drows, &nd, err) == -1) {
		catalog_rollback(dst);
		goto out;
	}
	dk = keys_of(drows, nd);
	if (merge(sk, ns, dk, nd, srows, drows, dst, 1, map, copied, err) == -1 ||
	    hosts_copy(dst, sh, map, ns, nhosts, err) == -1 || catalog_commit(dst, err) == -1) {
		catalog_rollback(dst);
		goto out;
	}
	/* Verify: read the destination again; nothing of the source may be missing. */
	keys_free(dk, nd);
	catalog_rows_free(drows, nd);
	drows = NULL;
	dk = NULL;
	nd = 0;
	if (all_rows(dst, &drows, &nd, err) == -1)
		goto out;
	dk = keys_of(drows, nd);
	if (merge(sk, ns, dk, nd, srows, drows, NULL, 0, NULL, &missing, err) == -1)
		goto out;
	if (missing > 0) {
		err_set(err,
		        "catalog migrate: %zu of the %zu source rows are not in the destination "
		        "after the copy; nothing else was changed, run it again",
		        missing, ns);
		goto out;
	}
	if (hosts_missing(dst, sh, map, ns, &missing, err) == -1)
		goto out;
	if (missing > 0) {
		err_set(err,
		        "catalog migrate: %zu of the source's %zu run_host rows are not in the "
		        "destination after the copy; run it again",
		        missing, *nhosts);
		goto out;
	}
	/* Planner statistics for the rows just loaded (PostgreSQL), not when autovacuum wakes. */
	if (*copied > 0 && catalog_analyze(dst, err) == -1)
		goto out;
	*nsource = ns;
	ret = 0;
out:
	keys_free(sk, sk != NULL ? ns : 0);
	keys_free(dk, dk != NULL ? nd : 0);
	catalog_run_hosts_clear(sh, sh != NULL ? ns : 0);
	free(sh);
	free(ids);
	free(map);
	catalog_rows_free(srows, ns);
	catalog_rows_free(drows, nd);
	catalog_close(src);
	catalog_close(dst);
	return ret;
}

static void
catalog_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: tisbackup catalog migrate --from sqlite:PATH --to postgresql://USER@HOST/DB\n"
	    "  (the password from ~/.pgpass, or --to "
	    "'postgresql://USER@HOST/DB?password_file=PATH')\n");
}

int
cmd_catalog(const struct cli *c)
{
	size_t ns, copied, hosts;
	struct err err;

	err_clear(&err);
	if (c->nargs != 1 || strcmp(c->args[0], "migrate") != 0) {
		fprintf(stderr, "tisbackup: catalog: %s\n",
		        c->nargs == 0 ? "missing subcommand (migrate)" : "unknown subcommand");
		catalog_usage(stderr);
		return EXIT_USAGE;
	}
	if (c->from == NULL || c->to == NULL) {
		fprintf(stderr, "tisbackup: catalog migrate: --from and --to are required\n");
		catalog_usage(stderr);
		return EXIT_USAGE;
	}
	if (catalog_migrate(c->from, c->to, &ns, &copied, &hosts, &err) == -1) {
		fprintf(stderr, "tisbackup: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	printf("catalog migrate: %zu source rows, %zu copied, %zu already there; %zu run hosts; "
	       "verified: every source row is in the destination\n",
	       ns, copied, ns - copied, hosts);
	return 0;
}
