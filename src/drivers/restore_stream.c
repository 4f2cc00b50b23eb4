/*
 * A dump streamed into a command on the job's server (restore.h): the
 * restore side of remote_cmd.c. The gzip file is inflated here by a
 * writer thread into a pipe that is ssh's stdin, after a preamble (an
 * option file, SQL); the command's output is logged and its last lines
 * kept for the error. Nothing is staged on the server. When the dump does
 * not inflate cleanly the writer stops without closing the pipe and the
 * spawn's tick ends ssh, so the remote tool is cut off mid-stream (its
 * transaction rolled back) instead of reading a clean end of file after
 * half a script.
 */
#include "drivers/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "drivers/mysql_unescape.h"
#include "log.h"
#include "progress.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "util/buf.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "watchdog.h"
#include "zload.h"
#include "util/fsutil.h"

#define STREAM_CHUNK (256 * 1024)
#define STREAM_TAIL 5
#define STREAM_MAX_LINES 10000

struct stream_ctx {
	const struct restore_stream *s;
	struct progress *progress;
	int wfd;
	int gzfd;
	_Atomic long long sent;
	atomic_int failed; /* the writer could not read the dump */
	struct err werr;
	/* the command's output */
	const char *name;
	struct strv *lines;
	char *tail[STREAM_TAIL];
	size_t next;
};

static void *
stream_writer(void *arg)
{
	struct stream_ctx *x = arg;
	const struct restore_stream *s = x->s;
	gzFile gz = NULL;
	char *chunk = NULL;
	int rc = 0;

	if (s->preamble_len > 0 && fs_write_all(x->wfd, s->preamble, s->preamble_len) == -1)
		goto out; /* the command is gone: its own exit says why */
	if (x->gzfd == -1)
		goto out;
	gz = gzdopen(x->gzfd, "rb");
	if (gz == NULL) {
		err_set(&x->werr, "%s: cannot read it as gzip", s->gz_path);
		rc = -1;
		goto out;
	}
	x->gzfd = -1; /* gzclose() closes it */
	gzbuffer(gz, STREAM_CHUNK);
	chunk = xmalloc(STREAM_CHUNK);
	for (;;) {
		int n = gzread(gz, chunk, STREAM_CHUNK);
		int zerr;

		if (n < 0) {
			err_set(&x->werr, "%s is damaged: %s", s->gz_path, gzerror(gz, &zerr));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (gzdirect(gz)) {
			err_set(&x->werr, "%s is not a gzip file", s->gz_path);
			rc = -1;
			break;
		}
		if (fs_write_all(x->wfd, chunk, (size_t)n) == -1)
			break; /* EPIPE: the command ended; its exit says why */
		atomic_fetch_add(&x->sent, n);
		if (x->progress != NULL)
			progress_feed(x->progress, (uint64_t)n);
	}
out:
	if (gz != NULL)
		gzclose(gz);
	free(chunk);
	if (rc == -1)
		atomic_store(&x->failed, 1); /* the tick ends ssh; wfd stays open until then */
	else {
		close(x->wfd);
		x->wfd = -1;
	}
	return NULL;
}

static int
stream_tick(void *ctx, pid_t pid)
{
	struct stream_ctx *x = ctx;

	(void)pid;
	return atomic_load(&x->failed);
}

static void
stream_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct stream_ctx *x = ctx;
	char *copy = xstrndup(line, len);

	if (stream == SPAWN_STDOUT && x->lines != NULL) {
		if (x->lines->n <= STREAM_MAX_LINES)
			strv_push(x->lines, copy);
		free(copy);
		return;
	}
	if (len == 0) {
		free(copy);
		return;
	}
	log_info(x->name, "%s: %s", x->s->tool, copy);
	free(x->tail[x->next]);
	x->tail[x->next] = copy;
	x->next = (x->next + 1) % STREAM_TAIL;
}

int
restore_stream_run(const struct drv_restore *r, const char *const *remote, struct restore_stream *s,
                   struct err *err)
{
	const struct job *job = r->job;
	struct stream_ctx x = { .s = s,
		                .progress = r->progress,
		                .wfd = -1,
		                .gzfd = -1,
		                .name = job->name,
		                .lines = s->lines };
	char *dest = ssh_destination(job);
	char *quoted = s->local_argv == NULL ? quote_sh_argv(remote) : NULL;
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av;
	pthread_t th;
	int p[2] = { -1, -1 }, started = 0, rc = -1;
	char desc[128];

	strv_init(&av);
	err_clear(&x.werr);
	if (s->gz_path != NULL) {
		if (zload(err) == -1) {
			err_wrap(err, "%s", s->what);
			goto out;
		}
		x.gzfd = open(s->gz_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (x.gzfd == -1) {
			err_sys(err, errno, "%s: opening %s", s->what, s->gz_path);
			goto out;
		}
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		err_sys(err, errno, "%s: pipe", s->what);
		goto out;
	}
	x.wfd = p[1];
	p[1] = -1;
	if (pthread_create(&th, NULL, stream_writer, &x) != 0) {
		err_set(err, "%s: cannot start the writer thread", s->what);
		goto out;
	}
	started = 1;
	if (s->local_argv == NULL) {
		ssh_base_argv(job, &av);
		strv_push(&av, "--");
		strv_push(&av, dest);
		strv_pushf(&av, "%s%s", s->sh_prefix != NULL ? s->sh_prefix : "", quoted);
	}
	spawn_opts_init(&so);
	so.argv = s->local_argv != NULL ? s->local_argv : (const char *const *)strv_argv(&av);
	so.envp = s->local_envp;
	so.stdin_fd = p[0];
	so.on_line = stream_line;
	so.ctx = &x;
	so.tick = stream_tick;
	so.tick_ctx = &x;
	so.tick_ms = 200;
	watchdog_spawn(r->progress, &so);
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "%s", s->what);
		goto out;
	}
	close(p[0]); /* a writer still blocked gets EPIPE */
	p[0] = -1;
	pthread_join(th, NULL);
	started = 0;
	s->bytes = atomic_load(&x.sent);
	if (atomic_load(&x.failed)) {
		err_set(err, "%s stopped: %s", s->what, x.werr.msg);
		goto out;
	}
	if (res.exited && res.code == 0) {
		rc = 0;
		goto out;
	}
	if (res.stalled) {
		err_set(err, "%s failed: no data for %ld s: the restore stalled (stall_timeout)",
		        s->what, job_get_long(job, "stall_timeout", 1800));
	} else if (res.timed_out) {
		err_set(err, "%s failed (timed out): max_runtime = %ld s was reached", s->what,
		        job_get_long(job, "max_runtime", 0));
	} else {
		spawn_describe(&res, desc, sizeof desc);
		err_set(err, "%s failed (%s)", s->what, desc);
		if (s->local_argv == NULL && res.exited && res.code == 255)
			err_append_line(err, "(exit code 255 is ssh's own: connection or "
			                     "authentication failed)");
		else if (s->local_argv == NULL && res.exited && res.code == 127)
			err_append_line(err, "(exit code 127: %s was not found on %s)", s->tool,
			                job->server_name);
	}
	for (size_t i = 0; i < STREAM_TAIL; i++) {
		const char *l = x.tail[(x.next + i) % STREAM_TAIL];

		if (l != NULL)
			err_append_line(err, "%s", l);
	}
out:
	if (p[0] != -1)
		close(p[0]);
	if (started)
		pthread_join(th, NULL);
	if (x.wfd != -1)
		close(x.wfd);
	if (x.gzfd != -1)
		close(x.gzfd);
	for (size_t i = 0; i < STREAM_TAIL; i++)
		free(x.tail[i]);
	free(dest);
	free(quoted);
	strv_free(&av);
	return rc;
}

int
restore_db_names(const struct drv_restore *r, const char **db, const char **target, struct err *err)
{
	const char *name = job_get(r->job, "db_name");

	if (r->npaths > 0 || r->in_place) {
		err_set(err,
		        "%s is for file backups; this job's backups are database dumps "
		        "(use --db NAME and --to-db TARGET)",
		        r->npaths > 0 ? "--path" : "--in-place");
		return -1;
	}
	*db = r->db != NULL ? r->db : (name != NULL && name[0] != '\0' ? name : NULL);
	if (*db == NULL) {
		err_set(err, "which database? --db NAME (one database of the backup)");
		return -1;
	}
	*target = r->target != NULL ? r->target : *db;
	for (const char *p = *target; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			err_set(err, "--to-db: '%s' holds a control character", *target);
			return -1;
		}
	if ((*target)[0] == '\0' || strlen(*target) > RESTORE_DB_NAME_MAX) {
		err_set(err, "--to-db: '%s' must be 1 to %d bytes long", *target,
		        RESTORE_DB_NAME_MAX);
		return -1;
	}
	return 0;
}

/* One dump of a snapshot: its database and its file. */
struct dump_entry {
	char *db;
	char *file;
};

static int
dump_entry_cmp(const void *a, const void *b)
{
	const struct dump_entry *x = a, *y = b;
	int c = strcmp(x->db, y->db);

	return c != 0 ? c : strcmp(x->file, y->file);
}

/*
 * The manifest of the snapshot open as dirfd into man ("" when it has
 * none), NUL-terminated. 0 or -1 + err.
 */
static int
dump_manifest_read(int dirfd, struct buf *man, struct err *err)
{
	char chunk[8192];
	ssize_t n;
	int fd;

	fd = openat(dirfd, RESTORE_DUMP_MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		err_sys(err, errno, "opening the backup's %s", RESTORE_DUMP_MANIFEST);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || buf_append(man, chunk, (size_t)n) == -1) {
			err_set(err, "reading the backup's %s: %s", RESTORE_DUMP_MANIFEST,
			        n == -1 ? strerror(errno) : "larger than 16 MiB");
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* The database of dump file name: from the manifest man when it lists it, else the name's head. */
static char *
dump_entry_db(const char *name, const char *man)
{
	size_t nl = strlen(name), hl = nl - (sizeof ".sql.gz" - 1);
	const char *dash;

	for (const char *line = man, *next; line != NULL && *line != '\0'; line = next) {
		const char *tab, *end = strchr(line, '\n');

		next = end != NULL ? end + 1 : NULL;
		tab = memchr(line, '\t', end != NULL ? (size_t)(end - line) : strlen(line));
		if (tab != NULL && (size_t)(tab - line) == nl && strncmp(line, name, nl) == 0) {
			char *db = xstrndup(tab + 1, end != NULL ? (size_t)(end - tab - 1)
			                                         : strlen(tab + 1));

			mysql_unescape(db);
			return db;
		}
	}
	/* "DB-STAMP.sql.gz" (the stamp holds one '-') or "DB.sql.gz" */
	dash = hl > TIME_STAMP_LEN + 1 ? name + hl - TIME_STAMP_LEN - 1 : NULL;
	if (dash != NULL && *dash == '-') {
		char stamp[TIME_STAMP_LEN + 1];
		time_t t;

		memcpy(stamp, dash + 1, TIME_STAMP_LEN);
		stamp[TIME_STAMP_LEN] = '\0';
		if (time_parse_stamp(stamp, &t) == 0)
			return xstrndup(name, (size_t)(dash - name));
	}
	return xstrndup(name, hl);
}

int
restore_dump_dbs(int dirfd, struct strv *dbs, struct strv *files, struct err *err)
{
	struct dump_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct buf man;
	DIR *d = NULL;
	int fd, rc = -1;

	buf_init(&man, RESTORE_DUMP_MANIFEST_MAX);
	if (dump_manifest_read(dirfd, &man, err) == -1)
		goto out;
	fd = dup(dirfd);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		err_sys(err, errno, "listing the backup");
		if (fd != -1)
			close(fd);
		goto out;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl <= 7 || strcmp(de->d_name + nl - 7, ".sql.gz") != 0 ||
		    strcmp(de->d_name, RESTORE_DUMP_GLOBALS) == 0)
			continue;
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n].file = xstrdup(de->d_name);
		v[n].db = dump_entry_db(de->d_name, buf_str(&man));
		n++;
	}
	if (n > 0)
		qsort(v, n, sizeof *v, dump_entry_cmp);
	for (size_t i = 0; i < n; i++) {
		strv_push(dbs, v[i].db);
		strv_push(files, v[i].file);
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free(v[i].db);
		free(v[i].file);
	}
	free(v);
	if (d != NULL)
		closedir(d);
	buf_free(&man);
	return rc;
}

char *
restore_dump_find(const char *dir, const char *db, struct err *err)
{
	struct strv dbs, files;
	char *found = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1) {
		err_sys(err, errno, "opening the backup %s", dir);
		return NULL;
	}
	strv_init(&dbs);
	strv_init(&files);
	if (restore_dump_dbs(fd, &dbs, &files, err) == 0) {
		for (size_t i = 0; i < dbs.n && found == NULL; i++)
			if (strcmp(dbs.v[i], db) == 0)
				found = xasprintf("%s/%s", dir, files.v[i]);
		if (found == NULL) {
			struct buf b;

			buf_init(&b, 4096);
			for (size_t i = 0; i < dbs.n; i++)
				buf_printf(&b, "%s'%s'", i > 0 ? ", " : "", dbs.v[i]);
			err_set(err, "the backup %s holds no dump of database '%s' (it holds: %s)",
			        dir, db, dbs.n > 0 ? buf_str(&b) : "no dump at all");
			buf_free(&b);
		}
	}
	close(fd);
	strv_free(&dbs);
	strv_free(&files);
	return found;
}
