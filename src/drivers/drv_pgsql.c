/*
 * pgsql+ssh: pg_dump run on the server over ssh as the postgres system
 * user, one gzip file per database in {job}/STAMP/DB-STAMP.sql.gz, and
 * the server's roles (pg_dumpall --globals-only) in {job}/STAMP/globals.sql.gz.
 *
 * The original ran `su - postgres -c "pg_dump ..."`, a second shell and a
 * second round of quoting; we run `runuser -u postgres -- pg_dump ...`
 * (util-linux, on every Debian), so the remote command is one argv quoted
 * once by quote_sh_argv(). remote_user must therefore be root, as with the
 * original. Authentication is the server's peer authentication of the
 * postgres user: there is no password to carry.
 *
 * The dump comes back on ssh's stdout and goes straight into the file, so
 * tmp_dir, where the original staged the dump on the server, is accepted
 * and unused. By default (compress_on = server) pg_dump compresses it
 * itself (`--compress=N`, a gzip stream in plain format) and the bytes
 * are stored as they arrive, inflated on the way only to check every CRC
 * and length (dumpfile_open_gzip()): the server's CPU does the deflate
 * and the link carries compressed bytes, as in the original, but nothing
 * is staged. compress_on = local sends the plain dump and compresses it
 * here (for a pg_dump built without zlib, or a server short of CPU).
 * compression_level (default 1) is the gzip level either way: on
 * pg_dump's output level 1 is within a few per cent of level 9's size in
 * a quarter to 60 % of its time (bench/README.md). Files go into {job}/STAMP.partial/,
 * renamed {job}/STAMP when every database is dumped. An empty db_name
 * means every database that is not a template and accepts connections,
 * listed hex-encoded so that a name survives whatever bytes it holds
 * (a newline, a backslash). A database's file is named after it,
 * percent-encoded where the name is not a safe file name (dumpname_file():
 * '%', '/', control bytes, a leading '.'), and STAMP/manifest.tsv maps each
 * file back to its database, as for mysql+ssh. When some databases fail
 * the others (and the roles) are still dumped: the job fails naming the
 * ones that did not, and the dumps made stay in the .partial folder (swept
 * by cleanup like any staging folder); any other failure removes it.
 */
#include "drivers/driver.h"
#include "drivers/dumpname.h"
#include "drivers/snapdir.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "drivers/remote_cmd.h"
#include "drivers/restore.h"
#include "dumpfile.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/buf.h"
#include "util/pct.h"
#include "util/strv.h"
#include "util/xmalloc.h"

/*
 * Run from "/": runuser keeps the working folder, and the postgres user
 * may not enter remote_user's home.
 */
#define PGSQL_PREFIX "cd / && "

static const struct drv_key pgsql_required[] = {
	{ "private_key", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key pgsql_optional[] = {
	{ "db_name", KEY_STR, NULL },
	{ "tmp_dir", KEY_STR, NULL }, /* accepted, unused: the dump is streamed */
	{ "encoding", KEY_STR, "UTF8" },
	/*
	 * additions: the server's socket folder or host name (unset: the
	 * client's default socket), and its port
	 */
	{ "db_host", KEY_STR, NULL },
	{ "db_port", KEY_PORT, "5432" },
	/* where the dump is gzipped: server (pg_dump --compress) or local */
	{ "compress_on", KEY_STR, "server" },
	{ "compression_level", KEY_INT, "1" }, /* 1..9; 0 means the default */
	{ NULL, KEY_STR, NULL },
};

/*
 * The start of a remote argv running tool as the postgres user with the
 * job's db_host and db_port.
 */
static void
pgsql_tool_argv(const struct job *job, const char *tool, struct strv *av)
{
	const char *host = job_get(job, "db_host");

	strv_push(av, "runuser");
	strv_push(av, "-u");
	strv_push(av, "postgres");
	strv_push(av, "--");
	strv_push(av, tool);
	if (host != NULL && host[0] != '\0')
		strv_pushf(av, "--host=%s", host);
	strv_pushf(av, "--port=%ld", job_get_long(job, "db_port", 5432));
}

/*
 * A database name as one line of hexadecimal digits: its bytes as they
 * are stored, whatever they are (decode(..., 'escape') with every
 * backslash doubled gives them back unchanged and checks no encoding).
 */
#define PGSQL_HEX_DATNAME                                                                          \
	"encode(decode(replace(datname::text, chr(92), chr(92) || chr(92)), 'escape'), 'hex')"

/*
 * Decode lines, one PGSQL_HEX_DATNAME each (empty lines skipped), into
 * names. 0, or -1 + err (what, and the line that is no such name).
 */
static int
pgsql_hex_names(const struct strv *lines, struct strv *names, const char *what, struct err *err)
{
	for (size_t i = 0; i < lines->n; i++) {
		const char *h = lines->v[i];
		size_t n = strlen(h);
		char *name = xmalloc(n / 2 + 1);
		int bad = n % 2 != 0;

		for (size_t j = 0; j < n / 2 && !bad; j++) {
			int hi = pct_hexval((unsigned char)h[2 * j]),
			    lo = pct_hexval((unsigned char)h[2 * j + 1]);

			/* not hex, or a NUL: no name holds one */
			bad = hi < 0 || lo < 0 || (hi | lo) == 0;
			if (!bad)
				name[j] = (char)(hi << 4 | lo);
		}
		name[n / 2] = '\0';
		if (bad) {
			err_set(err, "%s: '%.80s' is not a hex-encoded database name", what, h);
			free(name);
			return -1;
		}
		if (n > 0)
			strv_push(names, name);
		free(name);
	}
	return 0;
}

/* The databases to dump: db_name, or what the server lists. 0 or -1 + err. */
static int
pgsql_databases(const struct drv_run *run, struct strv *dbs, struct err *err)
{
	const struct job *job = run->job;
	const char *name = job_get(job, "db_name");
	struct remote_cmd c = { .name = job->name, .tool = "psql", .prefix = PGSQL_PREFIX };
	struct strv lines, remote;
	char *what = NULL;
	int rc = -1;

	if (name != NULL && name[0] != '\0') {
		strv_push(dbs, name);
		return 0;
	}
	strv_init(&lines);
	strv_init(&remote);
	pgsql_tool_argv(job, "psql", &remote);
	strv_push(&remote, "--no-psqlrc");
	strv_push(&remote, "--no-align");
	strv_push(&remote, "--tuples-only");
	strv_push(&remote, "--dbname=postgres");
	strv_push(&remote, "--command=SELECT " PGSQL_HEX_DATNAME " FROM pg_database "
	                   "WHERE NOT datistemplate AND datallowconn ORDER BY datname");
	c.lines = &lines;
	what = xasprintf("listing the databases of %s", job->server_name);
	if (remote_cmd_run(run->job, run->progress, (const char *const *)strv_argv(&remote), what,
	                   &c, err) == -1)
		goto out;
	if (lines.n > REMOTE_CMD_MAX_LINES) {
		err_set(err, "%s: more than %d databases", what, REMOTE_CMD_MAX_LINES);
		goto out;
	}
	if (pgsql_hex_names(&lines, dbs, what, err) == -1)
		goto out;
	if (dbs->n == 0) {
		err_set(err, "%s: the server lists no database to back up", what);
		goto out;
	}
	rc = 0;
out:
	remote_cmd_free(&c);
	strv_free(&lines);
	strv_free(&remote);
	free(what);
	return rc;
}

#define PGSQL_DEFAULT_LEVEL 1

/* The gzip level: compression_level, 0 (a [global] rsync "none") = default. */
static long
pgsql_level(const struct job *job)
{
	long level = job_get_long(job, "compression_level", PGSQL_DEFAULT_LEVEL);

	return level < 1 ? PGSQL_DEFAULT_LEVEL : level;
}

/* Whether pg_dump compresses on the server (compress_on = server). */
static int
pgsql_server_side(const struct job *job)
{
	const char *on = job_get(job, "compress_on");

	return on == NULL || strcmp(on, "server") == 0;
}

/*
 * Run remote (pg_dump or pg_dumpall) on the server into path, a gzip file:
 * compressed by the tool itself when server_gz, else here. Adds the
 * compressed size to *bytes. 0 or -1 + err.
 */
static int
pgsql_dump_to(const struct drv_run *run, const char *tool, struct strv *remote, int server_gz,
              const char *path, const char *what, int64_t *bytes, struct err *err)
{
	const struct job *job = run->job;
	struct remote_cmd c = { .name = job->name, .tool = tool, .prefix = PGSQL_PREFIX };
	int rc = -1;

	if ((server_gz ? dumpfile_open_gzip(path, &c.df, err)
	               : dumpfile_open(path, (int)pgsql_level(job), &c.df, err)) == -1)
		goto out;
	log_info(job->name, "%s into %s (gzip level %ld, on the %s)", what, path, pgsql_level(job),
	         server_gz ? "server" : "backup host");
	if (remote_cmd_run(run->job, run->progress, (const char *const *)strv_argv(remote), what,
	                   &c, err) == -1)
		goto out;
	if (dumpfile_commit(c.df, err) == -1)
		goto out;
	*bytes += (int64_t)dumpfile_bytes_out(c.df);
	log_info(job->name, "%s: %llu bytes, %llu compressed", what,
	         (unsigned long long)dumpfile_bytes_in(c.df),
	         (unsigned long long)dumpfile_bytes_out(c.df));
	rc = 0;
out:
	dumpfile_abort(c.df);
	remote_cmd_free(&c);
	return rc;
}

/* "--dbname=dbname='NAME'": a connection string, so no name is taken for one. */
static char *
pgsql_dbname_arg(const char *db)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_puts(&b, "--dbname=dbname='");
	for (const char *p = db; *p != '\0'; p++) {
		if (*p == '\'' || *p == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	buf_putc(&b, '\'');
	return buf_steal(&b);
}

/*
 * Dump db into dir/FILE-STAMP.sql.gz (FILE: dumpname_file(), db itself
 * for an ordinary name, as the original named it); adds the compressed
 * size to *bytes and a manifest line to man. 0 or -1 + err.
 */
static int
pgsql_dump_one(const struct drv_run *run, const char *dir, const char *stamp, const char *db,
               int64_t *bytes, struct buf *man, struct err *err)
{
	const struct job *job = run->job;
	struct strv remote;
	char *file = dumpname_file(db), *dbarg = pgsql_dbname_arg(db);
	char *name = NULL, *path = NULL, *what = NULL;
	int rc;

	strv_init(&remote);
	pgsql_tool_argv(job, "pg_dump", &remote);
	strv_pushf(&remote, "--encoding=%s", job_get(job, "encoding"));
	if (pgsql_server_side(job))
		strv_pushf(&remote, "--compress=%ld", pgsql_level(job));
	strv_push(&remote, dbarg);
	name = xasprintf("%s-%s.sql.gz", file, stamp);
	path = xasprintf("%s/%s", dir, name);
	what = xasprintf("pg_dump of database '%s' on %s", db, job->server_name);
	rc = pgsql_dump_to(run, "pg_dump", &remote, pgsql_server_side(job), path, what, bytes, err);
	if (rc == 0)
		rc = dumpname_manifest_add(man, name, db, err);
	strv_free(&remote);
	free(file);
	free(dbarg);
	free(name);
	free(path);
	free(what);
	return rc;
}

/*
 * The roles (users, passwords' hashes, memberships) and tablespaces of the
 * server, `pg_dumpall --globals-only`, into dir/globals.sql.gz (compressed
 * here: pg_dumpall has no --compress). For a restore on a new server
 * (docs/restore.md, "Bare metal"). 0 or -1 + err.
 */
static int
pgsql_dump_globals(const struct drv_run *run, const char *dir, int64_t *bytes, struct err *err)
{
	const struct job *job = run->job;
	struct strv remote;
	char *path = xasprintf("%s/" RESTORE_DUMP_GLOBALS, dir);
	char *what = xasprintf("pg_dumpall --globals-only on %s", job->server_name);
	int rc;

	strv_init(&remote);
	pgsql_tool_argv(job, "pg_dumpall", &remote);
	strv_pushf(&remote, "--encoding=%s", job_get(job, "encoding"));
	strv_push(&remote, "--globals-only");
	rc = pgsql_dump_to(run, "pg_dumpall", &remote, 0, path, what, bytes, err);
	strv_free(&remote);
	free(path);
	free(what);
	return rc;
}

static int
pgsql_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct strv dbs;
	struct snapdir sd;
	struct buf man, failed;
	struct err one;
	size_t nfailed = 0;
	int64_t bytes = 0;
	int rc = -1;

	strv_init(&dbs);
	dumpname_manifest_init(&man);
	buf_init(&failed, 1 << 16);
	snapdir_init(&sd, job, run->stamp);
	if (run->dry_run) {
		const char *name = job_get(job, "db_name");

		log_info(job->name,
		         "dry run: would dump %s from %s with pg_dump over ssh into %s "
		         "(gzip level %ld, on the %s), then rename it to %s",
		         name != NULL && name[0] != '\0' ? name : "every database",
		         job->server_name, sd.partial, pgsql_level(job),
		         pgsql_server_side(job) ? "server" : "backup host", sd.final);
		rc = 0;
		goto out;
	}
	if (pgsql_databases(run, &dbs, err) == -1)
		goto out;
	if (snapdir_create(&sd, err) == -1)
		goto out;
	for (size_t i = 0; i < dbs.n; i++) {
		err_clear(&one);
		if (pgsql_dump_one(run, sd.partial, run->stamp, dbs.v[i], &bytes, &man, &one) ==
		    -1) {
			/* Logged here; the others are still dumped. */
			log_error(job->name, "%s", one.msg);
			buf_printf(&failed, "%s'%s'", nfailed > 0 ? ", " : "", dbs.v[i]);
			if (nfailed++ == 0)
				err_set(err, "%s", one.msg);
		}
	}
	if (nfailed == dbs.n) {
		if (nfailed > 1)
			err_wrap(err, "no database could be dumped (%s); the first",
			         buf_str(&failed));
		goto out;
	}
	err_clear(&one);
	if (pgsql_dump_globals(run, sd.partial, &bytes, &one) == -1) {
		if (nfailed == 0) {
			err_set(err, "%s", one.msg);
			goto out;
		}
		log_error(job->name, "%s", one.msg);
	}
	if (nfailed > 0) {
		err_set(err,
		        "%zu of %zu databases could not be dumped: %s (see the lines above); "
		        "the %zu others are in %s",
		        nfailed, dbs.n, buf_str(&failed), dbs.n - nfailed, sd.partial);
		if (one.msg[0] != '\0')
			err_append_line(err, "and the roles were not dumped: %s", one.msg);
		sd.made = 0; /* keep them: cleanup sweeps the staging folder */
		err_clear(&one);
		if (dumpname_manifest_write(sd.partial, &man, &one) == -1)
			log_warning(job->name, "%s", one.msg);
		goto out;
	}
	if (dumpname_manifest_write(sd.partial, &man, err) == -1 ||
	    snapdir_commit(&sd, job, err) == -1)
		goto out;
	st->location = xstrdup(sd.final);
	st->total_files = st->written_files = (int64_t)dbs.n;
	st->total_bytes = st->written_bytes = bytes;
	st->log = xasprintf("pgsql backup of %zu database%s from %s OK, %lld bytes written", dbs.n,
	                    dbs.n == 1 ? "" : "s", job->server_name, (long long)bytes);
	rc = 0;
out:
	snapdir_free(&sd, job);
	strv_free(&dbs);
	buf_free(&man);
	buf_free(&failed);
	return rc;
}

static int
pgsql_validate(const struct job *job, struct err *err)
{
	const char *p;

	p = job_get(job, "compress_on");
	if (p != NULL && strcmp(p, "server") != 0 && strcmp(p, "local") != 0) {
		err_set(err, "compress_on: '%s' is neither 'server' nor 'local'", p);
		return -1;
	}
	if (job_get_long(job, "compression_level", PGSQL_DEFAULT_LEVEL) > 9) {
		err_set(err, "compression_level: %ld is not a gzip level (1 to 9)",
		        job_get_long(job, "compression_level", PGSQL_DEFAULT_LEVEL));
		return -1;
	}
	return 0;
}

/* Append s to b as an SQL identifier: in double quotes, '"' doubled. */
static void
pgsql_ident(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			buf_putc(b, '"');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

/*
 * Run psql as postgres on the job's server against database db with
 * stdin = sql (then the dump gz when set). 0 or -1 + err.
 */
static int
pgsql_restore_psql(const struct drv_restore *r, const char *db, const char *sql, const char *gz,
                   const char *what, struct strv *lines, long long *bytes, struct err *err)
{
	struct restore_stream s = { .tool = "psql",
		                    .what = what,
		                    .sh_prefix = PGSQL_PREFIX,
		                    .preamble = sql,
		                    .preamble_len = sql != NULL ? strlen(sql) : 0,
		                    .gz_path = gz,
		                    .lines = lines };
	struct strv remote;
	char *dbarg = pgsql_dbname_arg(db);
	int rc;

	strv_init(&remote);
	pgsql_tool_argv(r->job, "psql", &remote);
	strv_push(&remote, "--no-psqlrc");
	strv_push(&remote, "--quiet");
	strv_push(&remote, "--set=ON_ERROR_STOP=1");
	if (lines != NULL) {
		strv_push(&remote, "--no-align");
		strv_push(&remote, "--tuples-only");
	} else {
		strv_push(&remote, "--output=/dev/null");
	}
	if (gz != NULL)
		strv_push(&remote, "--single-transaction");
	strv_push(&remote, dbarg);
	strv_push(&remote, "--file=-");
	rc = restore_stream_run(r, (const char *const *)strv_argv(&remote), &s, err);
	if (bytes != NULL)
		*bytes = s.bytes;
	strv_free(&remote);
	free(dbarg);
	return rc;
}

/*
 * Restore hook: the dump of r->db in the snapshot, loaded with psql into
 * the staging database TARGET.partial (dropped first if a killed restore
 * left it), in one transaction, then renamed to TARGET (after dropping
 * the existing TARGET with r->overwrite). An existing TARGET without
 * overwrite is refused before anything is changed. A failed load drops
 * the staging database; TARGET is never half-loaded.
 */
static int
pgsql_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	const struct job *job = r->job;
	const char *db, *target;
	struct strv lines, names;
	struct buf sql;
	char *gz = NULL, *staging = NULL, *what = NULL;
	long long bytes = 0;
	int exists = 0, rc = -1;

	strv_init(&lines);
	strv_init(&names);
	buf_init(&sql, (size_t)-1);
	if (restore_db_names(r, &db, &target, err) == -1)
		goto out;
	gz = restore_dump_find(r->location, db, err);
	if (gz == NULL)
		goto out;
	what = xasprintf("listing the databases of %s", job->server_name);
	if (pgsql_restore_psql(r, "postgres", "SELECT " PGSQL_HEX_DATNAME " FROM pg_database;\n",
	                       NULL, what, &lines, NULL, err) == -1 ||
	    pgsql_hex_names(&lines, &names, what, err) == -1)
		goto out;
	exists = strv_contains(&names, target);
	if (exists && !r->overwrite) {
		err_set(err,
		        "database '%s' already exists on %s: nothing was changed; add --replace "
		        "to overwrite it, or choose another name with --to-db",
		        target, job->server_name);
		goto out;
	}
	staging = xasprintf("%s" SNAPDIR_STAGING, target);
	if (r->dry_run) {
		printf("would load %s into database '%s' on %s%s\n", gz, target, job->server_name,
		       exists ? " (replacing the existing database)" : "");
		st->log = xasprintf("dry run: restore of %s into database '%s' on %s", gz, target,
		                    job->server_name);
		rc = 0;
		goto out;
	}
	/* No "does not exist, skipping" NOTICE in the restore's log. */
	buf_puts(&sql, "SET client_min_messages = warning;\nDROP DATABASE IF EXISTS ");
	pgsql_ident(&sql, staging);
	buf_puts(&sql, ";\nCREATE DATABASE ");
	pgsql_ident(&sql, staging);
	buf_puts(&sql, " TEMPLATE template0;\n");
	free(what);
	what = xasprintf("creating database '%s' on %s", staging, job->server_name);
	if (pgsql_restore_psql(r, "postgres", buf_str(&sql), NULL, what, NULL, NULL, err) == -1)
		goto out;
	free(what);
	what = xasprintf("loading %s into database '%s' on %s", gz, staging, job->server_name);
	log_info(job->name, "%s", what);
	if (pgsql_restore_psql(r, staging, NULL, gz, what, NULL, &bytes, err) == -1)
		goto drop;
	buf_reset(&sql);
	if (r->overwrite) {
		buf_puts(&sql, "DROP DATABASE IF EXISTS ");
		pgsql_ident(&sql, target);
		buf_puts(&sql, ";\n");
	}
	buf_puts(&sql, "ALTER DATABASE ");
	pgsql_ident(&sql, staging);
	buf_puts(&sql, " RENAME TO ");
	pgsql_ident(&sql, target);
	buf_puts(&sql, ";\n");
	free(what);
	what = xasprintf("renaming database '%s' to '%s' on %s", staging, target, job->server_name);
	if (pgsql_restore_psql(r, "postgres", buf_str(&sql), NULL, what, NULL, NULL, err) == -1)
		goto drop;
	st->total_files = st->written_files = 1;
	st->total_bytes = st->written_bytes = bytes;
	st->location = xasprintf("%s:%s", job->server_name, target);
	st->log = xasprintf("restore of %s into database '%s' on %s OK, %lld bytes of SQL loaded",
	                    gz, target, job->server_name, bytes);
	rc = 0;
	goto out;
drop : {
	struct err derr;

	err_clear(&derr);
	buf_reset(&sql);
	buf_puts(&sql, "DROP DATABASE IF EXISTS ");
	pgsql_ident(&sql, staging);
	buf_puts(&sql, ";\n");
	free(what);
	what = xasprintf("dropping database '%s' on %s", staging, job->server_name);
	if (pgsql_restore_psql(r, "postgres", buf_str(&sql), NULL, what, NULL, NULL, &derr) == -1)
		log_warning(job->name, "after the failure: %s", derr.msg);
}
out:
	strv_free(&lines);
	strv_free(&names);
	buf_free(&sql);
	free(gz);
	free(staging);
	free(what);
	return rc;
}

const struct driver drv_pgsql = {
	.name = "pgsql+ssh",
	.description = "Dumps PostgreSQL databases with pg_dump over ssh as the postgres "
	               "user (gzipped by pg_dump on the server by default, nothing staged), "
	               "one gzip file per database in a dated folder.",
	.required = pgsql_required,
	.optional = pgsql_optional,
	.caps = DRV_CAP_SSH | DRV_CAP_DB_DUMP,
	.validate = pgsql_validate,
	.backup = pgsql_backup,
	.restore = pgsql_restore,
	.verify_kind = "pgsql",
};
