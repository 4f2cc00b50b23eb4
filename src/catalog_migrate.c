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
 * those rows of srows into dst. 0 or -1 + err.
 */
static int
merge(const struct key *s, size_t ns, const struct key *d, size_t nd,
      const struct catalog_row *srows, struct catalog *dst, int insert, size_t *missing,
      struct err *err)
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
		for (size_t k = i + (j2 - j); k < i2; k++) {
			(*missing)++;
			if (insert && catalog_insert_row(dst, &srows[s[k].row], NULL, err) == -1)
				return -1;
		}
		i = i2;
		j = j2;
	}
	return 0;
}

int
catalog_migrate(const char *from, const char *to, size_t *nsource, size_t *copied, struct err *err)
{
	struct catalog *src = NULL, *dst = NULL;
	struct catalog_row *srows = NULL, *drows = NULL;
	struct key *sk = NULL, *dk = NULL;
	size_t ns = 0, nd = 0, missing = 0;
	int ret = -1;

	*nsource = *copied = 0;
	if (catalog_open(from, CATALOG_RO, &src, err) == -1 ||
	    catalog_open(to, CATALOG_RW, &dst, err) == -1 || all_rows(src, &srows, &ns, err) == -1)
		goto out;
	sk = keys_of(srows, ns);
	if (catalog_begin(dst, err) == -1)
		goto out;
	if (all_rows(dst, &drows, &nd, err) == -1) {
		catalog_rollback(dst);
		goto out;
	}
	dk = keys_of(drows, nd);
	if (merge(sk, ns, dk, nd, srows, dst, 1, copied, err) == -1 ||
	    catalog_commit(dst, err) == -1) {
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
	if (merge(sk, ns, dk, nd, srows, NULL, 0, &missing, err) == -1)
		goto out;
	if (missing > 0) {
		err_set(err,
		        "catalog migrate: %zu of the %zu source rows are not in the destination "
		        "after the copy; nothing else was changed, run it again",
		        missing, ns);
		goto out;
	}
	*nsource = ns;
	ret = 0;
out:
	keys_free(sk, sk != NULL ? ns : 0);
	keys_free(dk, dk != NULL ? nd : 0);
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
	size_t ns, copied;
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
	if (catalog_migrate(c->from, c->to, &ns, &copied, &err) == -1) {
		fprintf(stderr, "tisbackup: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	printf("catalog migrate: %zu source rows, %zu copied, %zu already there; verified: every "
	       "source row is in the destination\n",
	       ns, copied, ns - copied);
	return 0;
}
