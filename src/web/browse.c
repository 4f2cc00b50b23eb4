/*
 * The snapshot browser (docs/web-api.md "Snapshot browser"): for a job
 * whose backups are folders on this server,
 *   GET /api/v1/jobs/NAME/browse?at=STAMP&path=P   one folder's entries
 *   GET /api/v1/jobs/NAME/search?at=STAMP&q=TEXT[&path=P]   names containing TEXT
 *   GET /api/v1/jobs/NAME/file?at=STAMP&path=P     one file (Range, Content-Disposition)
 *   GET /api/v1/jobs/NAME/tar?at=STAMP&path=P[&format=tar.gz]   a folder, streamed
 *   GET /api/v1/jobs/NAME/databases?at=STAMP   the databases of a dump backup
 * Admins always; viewers only with [web] viewers_download = yes.
 *
 * Paths never leave the snapshot: the backup is found by the driver's
 * layout (never from the request), then P is resolved one component at a
 * time with openat(O_NOFOLLOW) from the snapshot's own descriptor: "."
 * and ".." are refused (400), a symlink anywhere is not followed (404),
 * and what is finally opened is checked to be what was looked at.
 * Symlinks are listed with their target, never read through. Every
 * download is logged with the user and the client address.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "drivers/driver.h"
#include "drivers/restore.h"
#include "guiconf.h"
#include "log.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "web/browse.h"
#include "web/json.h"
#include "web/routes.h"
#include "web/server.h"

#define BROWSE_MAX_ENTRIES 100000 /* one listing */
#define SEARCH_MAX_RESULTS 1000   /* one search's answers */
#define SEARCH_MAX_VISITS 1000000 /* entries one search may look at */
#define SEARCH_MAX_DEPTH 256
#define BROWSE_MAX_BODY ((size_t)64 << 20)

/* What a request names: the job, the snapshot, the resolved path. */
struct snap {
	const struct job *job;
	const char *stamp;
	int root;         /* the snapshot folder */
	char *path;       /* normalized: "" or "a/b" */
	const char *base; /* last component of path ("" for the root) */
};

static void
snap_free(struct snap *s)
{
	if (s->root != -1)
		close(s->root);
	free(s->path);
}

static const char *
type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "dir";
	if (S_ISREG(m))
		return "file";
	if (S_ISLNK(m))
		return "symlink";
	return "other";
}

/* The job name between prefix and suffix of r->url (a new string). */
static char *
url_job(const struct req *r, const char *suffix)
{
	static const char prefix[] = "/api/v1/jobs/";
	size_t ul = strlen(r->url), sl = strlen(suffix);

	return xstrndup(r->url + sizeof prefix - 1, ul - (sizeof prefix - 1) - sl);
}

/* The snapshot folder of job at stamp, opened; -1 when there is none. */
static int
snap_open_root(const struct job *job, const char *stamp)
{
	const struct drv_layout *l = driver_layout(job->drv);
	char s[TIME_STAMP_LEN + 1];
	int jfd, fd = -1;
	struct dirent *e;
	DIR *dir;

	jfd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jfd == -1 || (dir = fdopendir(jfd)) == NULL) {
		if (jfd != -1)
			close(jfd);
		return -1;
	}
	while (fd == -1 && (e = readdir(dir)) != NULL)
		if (l->classify(e->d_name, s) == DRV_ENTRY_FINAL && strcmp(s, stamp) == 0)
			fd = openat(dirfd(dir), e->d_name,
			            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	closedir(dir);
	return fd;
}

/*
 * Everything the handlers share: the job from the URL, the caller's
 * right, the snapshot (at=), the path argument normalized. 0, or -1 with
 * the error reply set.
 */
static int
snap_begin(struct req *r, struct reply *out, const char *suffix, struct snap *s)
{
	const struct config *cfg = req_config(r, NULL);
	char *name = url_job(r, suffix);
	const char *at = req_arg(r, "at"), *path = req_arg(r, "path");
	struct buf norm;
	time_t t;
	int rc = -1;

	memset(s, 0, sizeof *s);
	s->root = -1;
	buf_init(&norm, PATH_MAX);
	s->job = cfg != NULL ? config_find_job(cfg, name) : NULL;
	if (r->id.role != AUTH_ROLE_ADMIN && !req_opts(r)->gc->viewers_download) {
		reply_error(r, out, 403, NULL,
		            "browsing and downloading backups is for admins ([web] "
		            "viewers_download = no)");
		goto out;
	}
	if (s->job == NULL) {
		reply_error(r, out, 404, NULL, "no job called %s in the current configuration",
		            name);
		goto out;
	}
	if (s->job->drv->caps & (DRV_CAP_FILE | DRV_CAP_REMOTE | DRV_CAP_NO_BACKUP)) {
		reply_error(r, out, 400, NULL,
		            "the backups of %s (%s) are not folders on this server: nothing to "
		            "browse (tisbackup restore --to DIR writes them out)",
		            name, s->job->drv->name);
		goto out;
	}
	if (at == NULL || strlen(at) != TIME_STAMP_LEN || time_parse_stamp(at, &t) == -1) {
		reply_error(r, out, 400, "at", "at: a backup stamp (YYYYMMDD-HHhMMmSS) is needed");
		goto out;
	}
	s->stamp = at;
	/* Components: empty ones and slashes collapse; "." and ".." are refused. */
	for (const char *p = path != NULL ? path : ""; *p != '\0';) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			reply_error(r, out, 400, "path",
			            "path: \".\" and \"..\" are not allowed (a path inside the "
			            "snapshot, like etc/hosts)");
			goto out;
		}
		if (n > NAME_MAX || memchr(p, '\0', n) != NULL ||
		    (n > 0 && ((norm.len > 0 && buf_putc(&norm, '/') == -1) ||
		               buf_append(&norm, p, n) == -1))) {
			reply_error(r, out, 400, "path", "path: too long");
			goto out;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	s->path = xstrdup(buf_str(&norm));
	s->base = strrchr(s->path, '/') != NULL ? strrchr(s->path, '/') + 1 : s->path;
	if ((s->root = snap_open_root(s->job, at)) == -1) {
		reply_error(r, out, 404, "at", "no backup of %s at %s", name, at);
		goto out;
	}
	rc = 0;
out:
	buf_free(&norm);
	free(name);
	return rc;
}

/*
 * Open s->path inside the snapshot, never through a symlink: *fd (a
 * folder or a regular file, opened O_NOFOLLOW; the caller closes) and
 * *st. 0, or -1 with a 404 reply (absent, or a symlink / special file on
 * the way).
 */
static int
snap_resolve(struct req *r, struct reply *out, const struct snap *s, int *fd, struct stat *st)
{
	char *copy = xstrdup(s->path), *comp = copy, *slash;
	int cur = dup(s->root), nfd, rc = -1;

	*fd = -1;
	if (cur == -1)
		goto missing;
	while (*comp != '\0' && (slash = strchr(comp, '/')) != NULL) {
		*slash = '\0';
		nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		cur = nfd;
		if (cur == -1)
			goto missing;
		comp = slash + 1;
	}
	if (*comp == '\0') { /* the snapshot itself */
		if (fstat(cur, st) == -1)
			goto missing;
		*fd = cur;
		cur = -1;
		rc = 0;
		goto out;
	}
	if (fstatat(cur, comp, st, AT_SYMLINK_NOFOLLOW) == -1)
		goto missing;
	if (S_ISLNK(st->st_mode)) {
		reply_error(r, out, 404, "path",
		            "%s is a symlink: symlinks are listed, not followed", s->path);
		goto out;
	}
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode)) {
		reply_error(r, out, 404, "path", "%s is neither a file nor a folder", s->path);
		goto out;
	}
	{
		struct stat fst;
		int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

		nfd = openat(cur, comp, S_ISDIR(st->st_mode) ? flags | O_DIRECTORY : flags);
		if (nfd == -1 || fstat(nfd, &fst) == -1 || fst.st_ino != st->st_ino ||
		    fst.st_dev != st->st_dev) {
			if (nfd != -1)
				close(nfd);
			goto missing;
		}
		*st = fst;
		*fd = nfd;
	}
	rc = 0;
	goto out;
missing:
	reply_error(r, out, 404, "path",
	            "%s: not in the backup of %s at %s (or behind a symlink, which is not "
	            "followed)",
	            s->path, s->job->name, s->stamp);
out:
	if (cur != -1)
		close(cur);
	free(copy);
	return rc;
}

/* One entry as JSON (name is relative to what the caller lists). */
static void
entry_json(struct buf *b, int dfd, const char *dname, const char *shown, const struct stat *st)
{
	buf_putc(b, '{');
	json_key(b, "name");
	json_str(b, shown);
	buf_putc(b, ',');
	json_key(b, "type");
	json_str(b, type_name(st->st_mode));
	buf_putc(b, ',');
	json_key(b, "size");
	json_int(b, S_ISREG(st->st_mode) ? (int64_t)st->st_size : 0);
	buf_putc(b, ',');
	json_key(b, "mtime");
	json_time(b, (int64_t)st->st_mtim.tv_sec);
	buf_putc(b, ',');
	json_key(b, "mode");
	json_int(b, (int64_t)(st->st_mode & 07777));
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, dname, target, sizeof target - 1);

		target[n > 0 ? n : 0] = '\0';
		buf_putc(b, ',');
		json_key(b, "target");
		json_str(b, target);
	}
	buf_putc(b, '}');
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The head of every answer: {"job":...,"at":...,"path":..., */
static void
head_json(struct buf *b, const struct snap *s)
{
	buf_putc(b, '{');
	json_key(b, "job");
	json_str(b, s->job->name);
	buf_putc(b, ',');
	json_key(b, "at");
	json_str(b, s->stamp);
	buf_putc(b, ',');
	json_key(b, "path");
	json_str(b, s->path);
	buf_putc(b, ',');
}

void
api_snap_browse(struct req *r, struct reply *out)
{
	struct snap s;
	struct stat st;
	struct strv names;
	struct buf b;
	DIR *d = NULL;
	struct dirent *e;
	int fd = -1, truncated = 0;

	strv_init(&names);
	buf_init(&b, BROWSE_MAX_BODY);
	if (snap_begin(r, out, "/browse", &s) == -1 || snap_resolve(r, out, &s, &fd, &st) == -1)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		reply_error(r, out, 400, "path",
		            "%s is a file, not a folder (download it with /file)", s.path);
		goto out;
	}
	if ((d = fdopendir(fd)) == NULL) {
		reply_error(r, out, 500, NULL, "reading %s: %s", s.path, strerror(errno));
		goto out;
	}
	fd = -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (names.n == BROWSE_MAX_ENTRIES) {
			truncated = 1;
			break;
		}
		strv_push(&names, e->d_name);
	}
	qsort(names.v, names.n, sizeof names.v[0], name_cmp);
	head_json(&b, &s);
	json_key(&b, "entries");
	buf_putc(&b, '[');
	for (size_t i = 0, k = 0; i < names.n; i++) {
		struct stat est;

		if (fstatat(dirfd(d), names.v[i], &est, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (k++ > 0)
			buf_putc(&b, ',');
		entry_json(&b, dirfd(d), names.v[i], names.v[i], &est);
	}
	buf_puts(&b, "],");
	json_key(&b, "truncated");
	buf_puts(&b, truncated ? "true}" : "false}");
	reply_json(out, 200, &b);
out:
	if (d != NULL)
		closedir(d);
	if (fd != -1)
		close(fd);
	strv_free(&names);
	buf_free(&b);
	snap_free(&s);
}

/* A search in progress. */
struct search {
	const char *q;
	struct buf *b;
	size_t found, visited;
	int truncated;
};

/* Look for s->q in the names under the folder dfd (taken), shown as prefix. */
static void
search_dir(struct search *s, int dfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (d == NULL) {
		close(dfd);
		return;
	}
	while (!s->truncated && (e = readdir(d)) != NULL) {
		struct stat st;
		char *path;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (++s->visited > SEARCH_MAX_VISITS) {
			s->truncated = 1;
			break;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		path =
		    prefix[0] != '\0' ? xasprintf("%s/%s", prefix, e->d_name) : xstrdup(e->d_name);
		if (strcasestr(e->d_name, s->q) != NULL) {
			if (s->found == SEARCH_MAX_RESULTS) {
				s->truncated = 1;
			} else {
				if (s->found++ > 0)
					buf_putc(s->b, ',');
				entry_json(s->b, dirfd(d), e->d_name, path, &st);
			}
		}
		if (S_ISDIR(st.st_mode) && depth < SEARCH_MAX_DEPTH) {
			int sub = openat(dirfd(d), e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub != -1)
				search_dir(s, sub, path, depth + 1);
		}
		free(path);
	}
	closedir(d);
}

void
api_snap_search(struct req *r, struct reply *out)
{
	struct snap s;
	struct stat st;
	struct search se = { 0 };
	struct buf b;
	const char *q = req_arg(r, "q");
	int fd = -1;

	buf_init(&b, BROWSE_MAX_BODY);
	if (snap_begin(r, out, "/search", &s) == -1)
		goto out;
	if (q == NULL || q[0] == '\0' || strlen(q) > NAME_MAX || strchr(q, '/') != NULL) {
		reply_error(r, out, 400, "q", "q: part of a name to look for (no slash)");
		goto out;
	}
	if (snap_resolve(r, out, &s, &fd, &st) == -1)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		reply_error(r, out, 400, "path", "%s is a file, not a folder", s.path);
		goto out;
	}
	se.q = q;
	se.b = &b;
	head_json(&b, &s);
	json_key(&b, "q");
	json_str(&b, q);
	buf_putc(&b, ',');
	json_key(&b, "results");
	buf_putc(&b, '[');
	search_dir(&se, fd, s.path, 0);
	fd = -1;
	buf_puts(&b, "],");
	json_key(&b, "truncated");
	buf_puts(&b, se.truncated ? "true}" : "false}");
	reply_json(out, 200, &b);
out:
	if (fd != -1)
		close(fd);
	buf_free(&b);
	snap_free(&s);
}

/*
 * GET /api/v1/jobs/NAME/databases?at=STAMP: the databases a backup of
 * database dumps holds, by the names `restore --db` (and the "db" field
 * of a queued restore) takes, with their files: decoded from the
 * snapshot's manifest where the file names are percent-encoded
 * (restore_dump_dbs()). Same rights as browsing.
 */
void
api_snap_databases(struct req *r, struct reply *out)
{
	struct strv dbs, files;
	struct snap s;
	struct err err;
	struct buf b;

	strv_init(&dbs);
	strv_init(&files);
	buf_init(&b, BROWSE_MAX_BODY);
	if (snap_begin(r, out, "/databases", &s) == -1)
		goto out;
	if (!(s.job->drv->caps & DRV_CAP_DB_DUMP)) {
		reply_error(r, out, 400, NULL,
		            "the backups of %s (%s) are not database dumps: browse them instead",
		            s.job->name, s.job->drv->name);
		goto out;
	}
	err_clear(&err);
	if (restore_dump_dbs(s.root, &dbs, &files, &err) == -1) {
		reply_error(r, out, 500, NULL, "the backup of %s at %s: %s", s.job->name, s.stamp,
		            err.msg);
		goto out;
	}
	head_json(&b, &s);
	json_key(&b, "databases");
	buf_putc(&b, '[');
	for (size_t i = 0; i < dbs.n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		buf_putc(&b, '{');
		json_key(&b, "name");
		json_str(&b, dbs.v[i]);
		buf_putc(&b, ',');
		json_key(&b, "file");
		json_str(&b, files.v[i]);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}");
	reply_json(out, 200, &b);
out:
	strv_free(&dbs);
	strv_free(&files);
	buf_free(&b);
	snap_free(&s);
}

/* Content-Disposition for name: an ASCII fallback plus RFC 5987's UTF-8 form. */
static char *
disposition(const char *name)
{
	struct buf b;

	buf_init(&b, 4 * PATH_MAX);
	buf_puts(&b, "attachment; filename=\"");
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		buf_putc(&b, *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' ? (char)*p : '_');
	buf_puts(&b, "\"; filename*=UTF-8''");
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p) != NULL)
			buf_putc(&b, (char)*p);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	return buf_steal(&b);
}

/*
 * A "Range: bytes=..." header against size: 1 and [*off, *off + *len)
 * for one satisfiable range, 0 to send everything (no header, several
 * ranges, or a form we do not take), -1 when unsatisfiable (416).
 */
static int
parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a = 0, z;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if (*h == '-') { /* the last N bytes */
		if (h[1] < '0' || h[1] > '9')
			return 0;
		z = strtoull(h + 1, &end, 10);
		if (*end != '\0')
			return 0;
		if (z == 0 || size == 0)
			return -1;
		*len = z < size ? z : size;
		*off = size - *len;
		return 1;
	}
	if (*h < '0' || *h > '9')
		return 0;
	a = strtoull(h, &end, 10);
	if (*end != '-')
		return 0;
	h = end + 1;
	if (*h == '\0') {
		z = size - 1;
	} else {
		if (*h < '0' || *h > '9')
			return 0;
		z = strtoull(h, &end, 10);
		if (*end != '\0' || z < a)
			return 0;
		if (z >= size)
			z = size - 1;
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = z - a + 1;
	return 1;
}

static void
log_download(const struct req *r, const struct snap *s, const char *what, const char *extra)
{
	log_msg(LOG_INFO, s->job->name, "web: %s (%s, from %s) downloads %s %s:/%s%s", r->id.user,
	        r->id.role == AUTH_ROLE_ADMIN ? "admin" : "viewer", r->ip, what, s->stamp, s->path,
	        extra);
}

void
api_snap_file(struct req *r, struct reply *out)
{
	struct snap s;
	struct stat st;
	uint64_t off = 0, len;
	int fd = -1, rg;
	char extra[96];

	if (snap_begin(r, out, "/file", &s) == -1 || snap_resolve(r, out, &s, &fd, &st) == -1)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		reply_error(r, out, 400, "path", "%s is a folder: download it with /tar",
		            s.path[0] != '\0' ? s.path : "the snapshot");
		goto out;
	}
	len = (uint64_t)st.st_size;
	rg = parse_range(req_header(r, "Range"), (uint64_t)st.st_size, &off, &len);
	if (rg == -1) {
		reply_error(r, out, 416, "Range", "the file has %jd bytes", (intmax_t)st.st_size);
		out->content_range = xasprintf("bytes */%jd", (intmax_t)st.st_size);
		goto out;
	}
	if (rg == 1) {
		out->status = 206;
		out->content_range = xasprintf("bytes %" PRIu64 "-%" PRIu64 "/%jd", off,
		                               off + len - 1, (intmax_t)st.st_size);
		snprintf(extra, sizeof extra, " (bytes %" PRIu64 "-%" PRIu64 ")", off,
		         off + len - 1);
	} else {
		out->status = 200;
		snprintf(extra, sizeof extra, " (%jd bytes)", (intmax_t)st.st_size);
	}
	/* Back to blocking reads for sendfile. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	log_download(r, &s, "file", extra);
	out->content_type = "application/octet-stream";
	out->disposition = disposition(s.base);
	out->accept_ranges = 1;
	out->cache_control = "private, no-store";
	out->fd_valid = 1;
	out->fd = fd;
	out->fd_off = off;
	out->fd_len = len;
	fd = -1;
out:
	if (fd != -1)
		close(fd);
	snap_free(&s);
}

void
api_snap_tar(struct req *r, struct reply *out)
{
	struct snap s;
	struct stat st;
	struct browse_tar *t = NULL;
	const char *format = req_arg(r, "format");
	int fd = -1, gz;
	char *top = NULL, *label = NULL, *fname = NULL;
	struct err err;

	err_clear(&err);
	if (snap_begin(r, out, "/tar", &s) == -1)
		goto out;
	if (format != NULL && strcmp(format, "tar") != 0 && strcmp(format, "tar.gz") != 0) {
		reply_error(r, out, 400, "format", "format: tar or tar.gz");
		goto out;
	}
	gz = format != NULL && strcmp(format, "tar.gz") == 0;
	if (snap_resolve(r, out, &s, &fd, &st) == -1)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		reply_error(r, out, 400, "path", "%s is a file: download it with /file", s.path);
		goto out;
	}
	top = s.path[0] != '\0' ? xstrdup(s.base) : xasprintf("%s-%s", s.job->name, s.stamp);
	label = xasprintf("%s %s:/%s", s.job->name, s.stamp, s.path);
	if (browse_tar_new(fd, top, &st, gz, label, &t, &err) == -1) {
		fd = -1;
		reply_error(r, out, 500, NULL, "%s", err.msg);
		goto out;
	}
	fd = -1;
	log_download(r, &s, gz ? "folder as tar.gz" : "folder as tar", "");
	fname = xasprintf("%s.%s", top, gz ? "tar.gz" : "tar");
	out->status = 200;
	out->content_type = gz ? "application/gzip" : "application/x-tar";
	out->disposition = disposition(fname);
	out->cache_control = "private, no-store";
	out->stream = browse_tar_read;
	out->stream_free = browse_tar_free;
	out->stream_cls = t;
out:
	if (fd != -1)
		close(fd);
	free(top);
	free(label);
	free(fname);
	snap_free(&s);
}
