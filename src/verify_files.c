/*
 * File snapshots of `tisbackup verify` (verify.h, docs/restore.md): a
 * seeded random sample of the regular files of the snapshot
 * (verify_sample %, at least one file) is compared with the source
 * without transferring it: the backup's own rsync command line (its
 * transport, ssh options, daemon password file: rsync_build_argv_to()),
 * less its deletions, plus --dry-run --checksum --files-from, pulling the
 * listed files from the source into the snapshot. rsync names every file
 * whose content differs, with the source's mtime: newer than the backup's
 * start, the file changed at the source since ("changed since", not an
 * error); older, the snapshot's copy is damaged (the verify fails). A
 * file gone from the source is reported, not an error.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/rsync.h"
#include "jobconf.h"
#include "log.h"
#include "spawn.h"
#include "util/fmt.h"
#include "util/xmalloc.h"
#include "verify.h"

#define NAMES_SHOWN 10 /* file names listed in the row's log per category */

/* What rsync said. */
struct files_out {
	struct strv lines; /* stdout: "%i|%M|%n" */
	struct strv gone;  /* names of link_stat failures (gone from the source) */
	struct buf errs;   /* stderr's last lines */
};

static void
files_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct files_out *o = ctx;
	const char *q;

	(void)len;
	if (stream == SPAWN_STDOUT) {
		if (o->lines.n < 1000000)
			strv_push(&o->lines, line);
		return;
	}
	if (strstr(line, "link_stat \"") != NULL && (q = strstr(line, "\" failed")) != NULL) {
		const char *s = strstr(line, "link_stat \"") + 11;

		strv_push(&o->gone, "");
		free(o->gone.v[o->gone.n - 1]);
		o->gone.v[o->gone.n - 1] = xstrndup(s, (size_t)(q - s));
		return;
	}
	if (o->errs.len > 2000)
		buf_consume(&o->errs, o->errs.len - 1000);
	buf_puts(&o->errs, line);
	buf_putc(&o->errs, '\n');
}

/* The sample: NUL-separated relative names, their count and bytes. */
struct sample {
	struct buf list;
	long long n, bytes, total;
	unsigned short xsubi[3];
	long per100k; /* files kept per 100000 */
	char *spare;  /* one file kept in case the draw kept none */
	long long spare_size;
};

static int
sample_walk(const char *loc, struct sample *sm, struct err *err)
{
	char *const paths[] = { (char *)loc, NULL };
	size_t root = strlen(loc);
	FTSENT *e;
	FTS *fts;
	int rc = 0;

	fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
	if (fts == NULL) {
		err_sys(err, errno, "reading %s", loc);
		return -1;
	}
	while ((e = fts_read(fts)) != NULL) {
		const char *rel;

		if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR) {
			err_sys(err, e->fts_errno, "reading %s", e->fts_path);
			rc = -1;
			break;
		}
		if (e->fts_info != FTS_F || !S_ISREG(e->fts_statp->st_mode))
			continue;
		rel = e->fts_path + root + (e->fts_path[root] == '/');
		sm->total++;
		if (nrand48(sm->xsubi) % 100000 < sm->per100k) {
			buf_append(&sm->list, rel, strlen(rel) + 1);
			sm->n++;
			sm->bytes += e->fts_statp->st_size;
		} else if (sm->n == 0 && nrand48(sm->xsubi) % sm->total == 0) {
			/* one file drawn uniformly, in case the sample stays empty */
			free(sm->spare);
			sm->spare = xstrdup(rel);
			sm->spare_size = e->fts_statp->st_size;
		}
	}
	fts_close(fts);
	if (rc == 0 && sm->n == 0 && sm->spare != NULL) {
		buf_append(&sm->list, sm->spare, strlen(sm->spare) + 1);
		sm->n = 1;
		sm->bytes = sm->spare_size;
	}
	return rc;
}

/* Append up to NAMES_SHOWN names of v to b, comma-separated. */
static void
put_names(struct buf *b, const struct strv *v)
{
	for (size_t i = 0; i < v->n && i < NAMES_SHOWN; i++)
		buf_printf(b, "%s%s", i > 0 ? ", " : "", v->v[i]);
	if (v->n > NAMES_SHOWN)
		buf_printf(b, " and %zu more", v->n - NAMES_SHOWN);
}

/*
 * The rsync argv of the comparison: the backup's, without what deletes,
 * keeps partial files or reports progress, with the dry-run checksum
 * options before "--". 0 or -1 + err.
 */
static int
files_argv(const struct job *job, enum rsync_transport t, const char *loc, struct strv *out,
           struct err *err)
{
	struct strv av;
	size_t dd;

	strv_init(&av);
	if (rsync_build_argv_to(job, t, "", loc, 0, 0, &av, err) == -1) {
		strv_free(&av);
		return -1;
	}
	assert(av.n >= 3 && strcmp(av.v[av.n - 3], "--") == 0);
	dd = av.n - 3;
	for (size_t i = 0; i < dd; i++) {
		const char *a = av.v[i];

		if (strncmp(a, "--delete", 8) == 0 || strcmp(a, "--partial") == 0 ||
		    strncmp(a, "--info=", 7) == 0 || strcmp(a, "--stats") == 0)
			continue;
		strv_push(out, a);
	}
	strv_push(out, "--dry-run");
	strv_push(out, "--checksum");
	strv_push(out, "--from0");
	strv_push(out, "--files-from=-");
	strv_push(out, "--out-format=%i|%M|%n");
	for (size_t i = dd; i < av.n; i++)
		strv_push(out, av.v[i]);
	strv_free(&av);
	return 0;
}

int
verify_files(const struct job *job, const char *loc, time_t started, struct buf *log,
             struct drv_stats *st, struct err *err)
{
	enum rsync_transport t = (job->drv->caps & DRV_CAP_SSH) ? RSYNC_OVER_SSH : RSYNC_DAEMON;
	const char *pv = job_get(job, "verify_sample"), *sv = job_get(job, "verify_seed");
	struct sample sm;
	struct files_out o;
	struct strv argv, bad, since;
	struct spawn_opts so;
	struct spawn_result res;
	unsigned long seed;
	long per;
	char size[32];
	int fd = -1, rc = -1;

	memset(&sm, 0, sizeof sm);
	buf_init(&sm.list, (size_t)-1);
	memset(&o, 0, sizeof o);
	strv_init(&o.lines);
	strv_init(&o.gone);
	buf_init(&o.errs, (size_t)-1);
	strv_init(&argv);
	strv_init(&bad);
	strv_init(&since);
	if (config_parse_percent(pv != NULL && pv[0] != '\0' ? pv : "1", &per) == -1) {
		err_set(err, "verify_sample '%s' is not a percentage", pv);
		goto out;
	}
	if (sv != NULL && sv[0] != '\0')
		seed = strtoul(sv, NULL, 10);
	else
		seed = ((unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16)) % 1000000000UL;
	sm.per100k = per;
	sm.xsubi[0] = 0x330e;
	sm.xsubi[1] = (unsigned short)(seed & 0xffff);
	sm.xsubi[2] = (unsigned short)((seed >> 16) & 0xffff);
	if (sample_walk(loc, &sm, err) == -1)
		goto out;
	if (sm.n == 0) {
		err_set(err, "%s holds no regular file to compare", loc);
		goto out;
	}
	log_info(job->name,
	         "verify: comparing %lld of the %lld files of %s with the source "
	         "(verify_sample %ld.%03ld %%, seed %lu)",
	         sm.n, sm.total, loc, per / 1000, per % 1000, seed);
	if (rsync_check_transport(job, t, err) == -1 || files_argv(job, t, loc, &argv, err) == -1)
		goto out;
	/* The list in memory, rsync's stdin: no temporary file anywhere. */
	fd = memfd_create("tisbackup-verify-sample", MFD_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "creating a memory file for the sample's list");
		goto out;
	}
	if (write(fd, sm.list.data, sm.list.len) != (ssize_t)sm.list.len ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		err_sys(err, errno, "writing the sample's list");
		goto out;
	}
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&argv);
	so.stdin_fd = fd;
	so.on_line = files_line;
	so.ctx = &o;
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "comparing the sample with the source");
		goto out;
	}
	if (!res.exited || (res.code != 0 && !(res.code == 23 && o.gone.n > 0))) {
		char how[128];

		spawn_describe(&res, how, sizeof how);
		err_set(err, "comparing the sample with the source: rsync %s: %s", how,
		        o.errs.len > 0 ? buf_str(&o.errs) : "no message");
		goto out;
	}
	for (size_t i = 0; i < o.lines.n; i++) {
		char *l = o.lines.v[i], *m, *name;
		struct tm tm;
		time_t mt;

		m = strchr(l, '|');
		name = m != NULL ? strchr(m + 1, '|') : NULL;
		if (name == NULL || strlen(l) < 4 || l[1] != 'f')
			continue;
		/* ">fcst...": content (c) or size (s) differs, or "+++": new */
		if (l[2] != 'c' && l[3] != 's' && l[2] != '+')
			continue;
		memset(&tm, 0, sizeof tm);
		tm.tm_isdst = -1;
		mt = strptime(m + 1, "%Y/%m/%d-%H:%M:%S", &tm) != NULL ? mktime(&tm) : 0;
		strv_push(mt >= started ? &since : &bad, name + 1);
	}
	fmt_bytes(sm.bytes, size, sizeof size);
	buf_printf(log, "%lld of %lld files (%s, verify_sample %ld.%03ld %%, seed %lu) of %s", sm.n,
	           sm.total, size, per / 1000, per % 1000, seed, loc);
	st->total_files = sm.n;
	st->total_bytes = sm.bytes;
	if (bad.n > 0) {
		buf_printf(log,
		           ": %zu file(s) differ from the source, whose copy is older than the "
		           "backup (damaged in the backup): ",
		           bad.n);
		put_names(log, &bad);
		err_set(err, "%s", buf_str(log));
		goto out;
	}
	buf_printf(log, " match the source");
	if (since.n > 0) {
		buf_printf(
		    log, "; %zu changed at the source since the backup (not compared): ", since.n);
		put_names(log, &since);
	}
	if (o.gone.n > 0) {
		buf_printf(log, "; %zu gone from the source: ", o.gone.n);
		put_names(log, &o.gone);
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	buf_free(&sm.list);
	free(sm.spare);
	strv_free(&o.lines);
	strv_free(&o.gone);
	buf_free(&o.errs);
	strv_free(&argv);
	strv_free(&bad);
	strv_free(&since);
	return rc;
}
