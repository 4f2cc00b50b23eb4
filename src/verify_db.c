/*
 * Database dumps of `tisbackup verify` (verify.h, docs/restore.md):
 * each "*.sql.gz" of the backup is streamed by restore_stream.c's writer
 * thread (zlib checks the CRC and the length at the end; a damaged dump
 * cuts the client off before it reads a clean end of file) into the
 * stdin of a local client, psql or mysql, connected to a scratch
 * database of the [verify] server; then the tables are counted row by
 * row (exact COUNT(*)) and the objects, and the scratch database is
 * dropped whatever happened. The password reaches the client through a
 * 0600 file in a private mkdtemp() folder (PGPASSFILE, mysql's
 * --defaults-extra-file), removed before returning: never in argv or in
 * the environment.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/restore.h"
#include "log.h"
#include "spawn.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "verify.h"

/* A private folder holding one secret file, removed by secret_remove(). */
struct secret {
	char *dir;  /* NULL: none made */
	char *path; /* NULL: no secret */
};

/* Remove the file and the folder of secret_write(), if any. */
static void
secret_remove(struct secret *sc)
{
	if (sc->path != NULL) {
		unlink(sc->path);
		free(sc->path);
		sc->path = NULL;
	}
	if (sc->dir != NULL)
		rmdir(sc->dir);
	free(sc->dir);
	sc->dir = NULL;
}

/*
 * Create a private folder (mode 0700) in the folder for temporary files
 * (fs_tmp_path()) and in it file name (mode 0600) holding len bytes of
 * text. 0 or -1 + err (nothing left behind).
 */
static int
secret_write(struct secret *sc, const char *name, const char *text, size_t len, struct err *err)
{
	int fd;

	sc->dir = fs_tmp_path("tisbackup-verify-XXXXXX");
	sc->path = NULL;
	if (mkdtemp(sc->dir) == NULL) {
		err_sys(err, errno, "creating a private folder for the verify password (%s)",
		        sc->dir);
		free(sc->dir);
		sc->dir = NULL;
		return -1;
	}
	sc->path = xasprintf("%s/%s", sc->dir, name);
	fd = open(sc->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len || close(fd) != 0) {
		err_sys(err, errno, "writing %s", sc->path);
		if (fd != -1)
			close(fd);
		secret_remove(sc);
		return -1;
	}
	return 0;
}

/* One client of a run: how to start it, and the job it runs for. */
struct client {
	const struct job *job;
	const char *tool; /* "psql", "mysql" */
	int is_mysql;
	const struct verify_srv *s;
	struct secret sc;
	struct strv env;
	/* mysql: the option file's path */
};

/*
 * Run the client against database db (NULL: the server's default) with
 * sql then (when gz is set) the inflated dump gz on its stdin, through
 * restore_stream_run(). Its stdout lines into out (may be NULL). 0 or -1
 * + err.
 */
static int
client_run(struct client *c, const char *db, const char *sql, const char *gz, const char *what,
           struct strv *out, struct err *err)
{
	struct drv_restore r = { .job = c->job };
	struct restore_stream rs = { .tool = c->tool,
		                     .what = what,
		                     .preamble = sql,
		                     .preamble_len = sql != NULL ? strlen(sql) : 0,
		                     .gz_path = gz,
		                     .lines = out };
	struct strv argv, env;
	int rc;

	strv_init(&argv);
	strv_init(&env);
	if (c->is_mysql) {
		strv_push(&argv, "mysql");
		if (c->sc.path != NULL)
			strv_pushf(&argv, "--defaults-extra-file=%s", c->sc.path);
		strv_push(&argv, "--batch");
		strv_push(&argv, "--skip-column-names");
		strv_push(&argv, "--default-character-set=utf8mb4");
		strv_push(&argv, "--connect-timeout=30");
		if (db != NULL && gz != NULL) {
			/*
			 * The dump: statements after a USE of another database
			 * are skipped (--one-database takes the database as the
			 * operand, not as --database, in MariaDB 10.11).
			 */
			strv_push(&argv, "--one-database");
			strv_push(&argv, "--");
			strv_push(&argv, db);
		} else if (db != NULL)
			strv_pushf(&argv, "--database=%s", db);
	} else {
		for (size_t i = 0; i < c->env.n; i++)
			strv_push(&env, c->env.v[i]);
		strv_pushf(&env, "PGDATABASE=%s", db != NULL ? db : "postgres");
		strv_push(&argv, "psql");
		strv_push(&argv, "--no-psqlrc");
		strv_push(&argv, "--quiet");
		strv_push(&argv, "--no-align");
		strv_push(&argv, "--tuples-only");
		strv_push(&argv, "--field-separator=\t");
		strv_push(&argv, "--set=ON_ERROR_STOP=1");
		strv_push(&argv, "--no-password");
		strv_pushf(&argv, "--dbname=%s", c->s->pgsql_url);
		strv_push(&argv, "--file=-");
		rs.local_envp = (const char *const *)strv_argv(&env);
	}
	rs.local_argv = (const char *const *)strv_argv(&argv);
	rc = restore_stream_run(&r, NULL, &rs, err);
	strv_free(&argv);
	strv_free(&env);
	return rc;
}

/* text with each of the characters in esc preceded by a backslash, into b. */
static void
put_escaped(struct buf *b, const char *text, const char *esc)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (strchr(esc, *p) != NULL)
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
}

/*
 * mysql://USER@HOST[:PORT][?socket=PATH] into an option file's [client]
 * group (values quoted) in b. 0 or -1 + err.
 */
static int
mysql_options(const char *url, const char *password, struct buf *b, struct err *err)
{
	const char *p = url + strlen("mysql://"), *at, *end, *q;
	char *user, *host, *port = NULL, *sock = NULL;

	if (strncmp(url, "mysql://", 8) != 0 || (at = strchr(p, '@')) == NULL || at == p) {
		err_set(err, "[verify] mysql_url '%s': expected mysql://USER@HOST:PORT", url);
		return -1;
	}
	user = xstrndup(p, (size_t)(at - p));
	q = strchr(at + 1, '?');
	end = q != NULL ? q : at + 1 + strlen(at + 1);
	host = xstrndup(at + 1, (size_t)(end - at - 1));
	if (strrchr(host, ':') != NULL) {
		port = xstrdup(strrchr(host, ':') + 1);
		*strrchr(host, ':') = '\0';
	}
	if (q != NULL && strncmp(q, "?socket=", 8) == 0)
		sock = xstrdup(q + 8);
	buf_puts(b, "[client]\nuser=\"");
	put_escaped(b, user, "\\\"");
	buf_puts(b, "\"\n");
	if (host[0] != '\0')
		buf_printf(b, "host=%s\n", host);
	if (port != NULL)
		buf_printf(b, "port=%s\n", port);
	if (sock != NULL)
		buf_printf(b, "socket=%s\n", sock);
	if (password != NULL) {
		buf_puts(b, "password=\"");
		put_escaped(b, password, "\\\"");
		buf_puts(b, "\"\n");
	}
	free(user);
	free(host);
	free(port);
	free(sock);
	return 0;
}

static int
client_open(struct client *c, const struct job *job, const char *kind, const struct verify_srv *s,
            struct err *err)
{
	struct buf b;
	int rc = 0;

	memset(c, 0, sizeof *c);
	c->job = job;
	c->s = s;
	c->is_mysql = strcmp(kind, "mysql") == 0;
	c->tool = c->is_mysql ? "mysql" : "psql";
	strv_init(&c->env);
	buf_init(&b, (size_t)-1);
	if (c->is_mysql) {
		if (s->mysql_url == NULL) {
			err_set(
			    err,
			    "no verify server: set [verify] mysql_url (docs/restore.md, Verify)");
			rc = -1;
		} else if (mysql_options(s->mysql_url, s->mysql_password, &b, err) == -1 ||
		           secret_write(&c->sc, "my.cnf", b.data, b.len, err) == -1)
			rc = -1;
	} else {
		const char *const *denv = spawn_default_env();

		if (s->pgsql_url == NULL) {
			err_set(
			    err,
			    "no verify server: set [verify] pgsql_url (docs/restore.md, Verify)");
			rc = -1;
		}
		for (; rc == 0 && *denv != NULL; denv++)
			if (strncmp(*denv, "PG", 2) != 0)
				strv_push(&c->env, *denv);
		strv_push(&c->env, "PGCONNECT_TIMEOUT=30");
		strv_push(&c->env, "PGOPTIONS=-c client_min_messages=warning");
		if (rc == 0 && s->pgsql_password != NULL) {
			/* host:port:database:user:password, every field matching */
			buf_puts(&b, "*:*:*:*:");
			put_escaped(&b, s->pgsql_password, "\\:");
			buf_putc(&b, '\n');
			if (secret_write(&c->sc, "pgpass", b.data, b.len, err) == -1)
				rc = -1;
			else
				strv_pushf(&c->env, "PGPASSFILE=%s", c->sc.path);
		}
	}
	if (b.data != NULL)
		memset(b.data, 0, b.len);
	buf_free(&b);
	return rc;
}

static void
client_close(struct client *c)
{
	secret_remove(&c->sc);
	strv_free(&c->env);
}

/*
 * The key of database db in the counts (restore_dump_dbs()'s name, so
 * verify and restore call a database the same): its bytes below 0x20
 * shown as '?', as the counts file is "KEY\tN" lines.
 */
static char *
dump_key(const char *db)
{
	char *k = xstrdup(db);

	for (char *p = k; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	return k;
}

/*
 * The key earlier versions gave the dump file "DB-STAMP.sql.gz" (or
 * "DB.sql.gz"): its file name without ".sql.gz" and "-STAMP", the
 * manifest ignored (verify_dumps()'s renames).
 */
static char *
dump_legacy_key(const char *file)
{
	size_t n = strlen(file) - strlen(".sql.gz");
	time_t t;

	if (n > TIME_STAMP_LEN + 1 && file[n - TIME_STAMP_LEN - 1] == '-') {
		char st[TIME_STAMP_LEN + 1];

		memcpy(st, file + n - TIME_STAMP_LEN, TIME_STAMP_LEN);
		st[TIME_STAMP_LEN] = '\0';
		if (time_parse_stamp(st, &t) == 0)
			n -= TIME_STAMP_LEN + 1;
	}
	return xasprintf("%.*s", (int)n, file);
}

static const char pg_count_sql[] =
    "SELECT format('SELECT %L, count(*) FROM %I.%I', schemaname || '.' || tablename, "
    "schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN "
    "('pg_catalog', 'information_schema') ORDER BY 1 \\gexec\n"
    "SELECT '#objects', count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', "
    "'pg_toast') AND n.nspname NOT LIKE 'pg_temp%';\n";

static const char my_tables_sql[] =
    "SELECT HEX(table_name) FROM information_schema.tables WHERE table_schema = DATABASE() "
    "AND table_type = 'BASE TABLE' ORDER BY table_name;\n";

static const char my_objects_sql[] =
    "SELECT (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()) + "
    "(SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE()) + "
    "(SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()) + "
    "(SELECT COUNT(*) FROM information_schema.events WHERE event_schema = DATABASE());\n";

/* The bytes of hex (an even number of hex digits) as a string. */
static char *
unhex(const char *hex)
{
	size_t n = strlen(hex) / 2;
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;

		sscanf(hex + 2 * i, "%2x", &v);
		s[i] = (char)v;
	}
	s[n] = '\0';
	return s;
}

/*
 * The exact row count of every table of the scratch database and its
 * objects (tables, views, routines, triggers, events), appended to counts
 * as "DB/NAME\tN". 0 or -1 + err.
 */
static int
mysql_count(struct client *c, const char *scratch, const char *db, struct strv *counts,
            struct err *err)
{
	struct strv hex, names, n;
	struct buf sql;
	int rc = -1;

	strv_init(&hex);
	strv_init(&names);
	strv_init(&n);
	buf_init(&sql, (size_t)-1);
	if (client_run(c, scratch, my_tables_sql, NULL, "listing the tables", &hex, err) == -1)
		goto out;
	for (size_t i = 0; i < hex.n; i++) {
		char *name = unhex(hex.v[i]);

		if (name[0] == '\0') {
			free(name);
			continue;
		}
		buf_puts(&sql, "SELECT COUNT(*) FROM `");
		for (const char *p = name; *p != '\0'; p++) {
			if (*p == '`')
				buf_putc(&sql, '`');
			buf_putc(&sql, *p);
		}
		buf_puts(&sql, "`;\n");
		for (char *p = name; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				*p = '?';
		strv_push(&names, name);
		free(name);
	}
	buf_puts(&sql, my_objects_sql);
	if (client_run(c, scratch, buf_str(&sql), NULL, "counting the rows", &n, err) == -1)
		goto out;
	if (n.n != names.n + 1) {
		err_set(err, "counting the rows: %zu answers for %zu tables", n.n, names.n);
		goto out;
	}
	for (size_t i = 0; i < names.n; i++)
		strv_pushf(counts, "%s/%s\t%s", db, names.v[i], n.v[i]);
	strv_pushf(counts, "%s/#objects\t%s", db, n.v[names.n]);
	rc = 0;
out:
	strv_free(&hex);
	strv_free(&names);
	strv_free(&n);
	buf_free(&sql);
	return rc;
}

/* Load one dump into a fresh scratch database, count, drop. 0 or -1 + err. */
static int
verify_one(struct client *c, const char *gz, const char *db, struct strv *counts, struct err *err)
{
	const char *job = c->job->name;
	char *scratch = xasprintf("tisbackup_verify_%ld", (long)getpid());
	char *drop, *create,
	    *what = xasprintf("loading %s into scratch database '%s'", gz, scratch);
	struct strv lines;
	struct err derr;
	int rc = -1;

	strv_init(&lines);
	err_clear(&derr);
	if (c->is_mysql) {
		drop = xasprintf("DROP DATABASE IF EXISTS `%s`;\n", scratch);
		create = xasprintf("CREATE DATABASE `%s` CHARACTER SET utf8mb4;\n", scratch);
	} else {
		drop = xasprintf("DROP DATABASE IF EXISTS \"%s\";\n", scratch);
		create = xasprintf("CREATE DATABASE \"%s\" TEMPLATE template0;\n", scratch);
	}
	if (client_run(c, NULL, drop, NULL, "dropping an old scratch database", NULL, err) == -1)
		goto out;
	if (client_run(c, NULL, create, NULL, "creating the scratch database", NULL, err) == -1)
		goto out;
	log_info(job, "verify: %s", what);
	if (client_run(c, scratch, NULL, gz, what, NULL, err) == -1)
		goto drop;
	if (c->is_mysql) {
		if (mysql_count(c, scratch, db, counts, err) == -1) {
			err_wrap(err, "counting the rows of %s", gz);
			goto drop;
		}
	} else {
		if (client_run(c, scratch, pg_count_sql, NULL, "counting the rows", &lines, err) ==
		    -1) {
			err_wrap(err, "counting the rows of %s", gz);
			goto drop;
		}
		for (size_t i = 0; i < lines.n; i++)
			if (lines.v[i][0] != '\0')
				strv_pushf(counts, "%s/%s", db, lines.v[i]);
	}
	rc = 0;
drop:
	if (client_run(c, NULL, drop, NULL, "dropping the scratch database", NULL, &derr) == -1) {
		log_error(job, "verify: %s", derr.msg);
		if (rc == 0)
			err_set(err, "%s", derr.msg);
		rc = -1;
	}
out:
	strv_free(&lines);
	free(drop);
	free(create);
	free(what);
	free(scratch);
	return rc;
}

int
verify_dumps(const struct job *job, const char *kind, const struct verify_srv *s, const char *loc,
             struct strv *counts, struct strv *renames, int *ndumps, struct err *err)
{
	struct client c;
	struct strv dbs, files;
	int fd, rc = -1;

	*ndumps = 0;
	strv_init(&dbs);
	strv_init(&files);
	fd = open(loc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "reading %s", loc);
		return -1;
	}
	rc = restore_dump_dbs(fd, &dbs, &files, err);
	close(fd);
	if (rc == -1) {
		err_wrap(err, "reading %s", loc);
		goto done;
	}
	rc = -1;
	if (files.n == 0) {
		err_set(err, "%s holds no database dump", loc);
		goto done;
	}
	if (client_open(&c, job, kind, s, err) == -1) {
		client_close(&c);
		goto done;
	}
	for (size_t i = 0; i < files.n; i++) {
		char *gz = xasprintf("%s/%s", loc, files.v[i]), *db = dump_key(dbs.v[i]);
		char *legacy = dump_legacy_key(files.v[i]);
		int r;

		if (renames != NULL)
			strv_pushf(renames, "%s\t%s", legacy, db);
		r = verify_one(&c, gz, db, counts, err);
		free(gz);
		free(db);
		free(legacy);
		if (r == -1)
			goto out;
		(*ndumps)++;
	}
	rc = 0;
out:
	client_close(&c);
done:
	strv_free(&dbs);
	strv_free(&files);
	return rc;
}
