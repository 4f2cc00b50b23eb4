/*
 * The catalog the catalog unit tests run against: SQLite by default, or
 * PostgreSQL when TISBACKUP_TEST_CATALOG_URL names a server (a
 * postgresql:// URL whose role may create databases; the meson tests
 * unit_pg_* set it through tests/integration/run_with_pg.sh, which starts
 * a server for them). Each test case gets a fresh catalog address: a new
 * SQLite file in its temporary folder, or a new database on the server,
 * dropped by tb_catalog_drop(). The tests read and write behind the
 * catalog's back with tb_catalog_exec() / tb_catalog_query(), whose SQL
 * must then be what both engines accept.
 */
#ifndef TB_TEST_CATALOG_FIXTURE_H
#define TB_TEST_CATALOG_FIXTURE_H

/* The server's URL when the tests run against PostgreSQL, else NULL. */
const char *tb_catalog_pg_url(void);

/*
 * A fresh, empty catalog address for one test case: dir/name.sqlite
 * (nothing created) for SQLite, or for PostgreSQL the URL of a new empty
 * database created now. Fails the test when it cannot. Caller passes it
 * to tb_catalog_drop(), which frees it.
 */
char *tb_catalog_new(const char *dir, const char *name);

/*
 * Drop the database of a PostgreSQL address made by tb_catalog_new()
 * (every handle on it closed first), then free address; for SQLite only
 * the free (the file goes with its folder). NULL is a no-op. 0 or -1.
 */
int tb_catalog_drop(char *address);

/* Run sql (one or more statements) on a connection of its own to address; fails the test on error. */
void tb_catalog_exec(const char *address, const char *sql);

/*
 * The first column of the rows sql returns on address, joined with '|'
 * ("NULL" for a NULL). Caller frees.
 */
char *tb_catalog_query(const char *address, const char *sql);

#endif
