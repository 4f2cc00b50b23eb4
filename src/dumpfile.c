/*
 * A gzip file written through zlib's deflate (with a gzip header, so the
 * result is what `gzip -c` would give and `zcat` reads), into
 * "PATH.partial" until dumpfile_commit() renames it. We use deflate on our
 * own descriptor rather than gzdopen() so every write error is ours to
 * report with its errno, and fsync() is possible before the rename.
 *
 * A ".partial" that already exists is left over from a crashed run of the
 * same job (the job lock excludes a live one): it is unlinked, then the
 * file is created with O_EXCL, so we never write through a symlink or into
 * a file someone else holds open.
 *
 * dumpfile_open_raw() stores the bytes as they come (an XVA export, a
 * switch's configuration): the same .partial, fsync and rename, no zlib.
 *
 * dumpfile_open_gzip() turns the z_stream around: it inflates what it is
 * given into a scratch buffer that is thrown away, only so that zlib
 * checks every member's header, CRC-32 and length (ISIZE), while the bytes
 * themselves go to the file unchanged. When a member ends and more bytes
 * follow, inflateReset() starts on the next member; bytes that do not
 * start one (trailing garbage) fail like any corrupt data.
 */
#include "dumpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/xmalloc.h"
#include "zload.h"

#define DUMPFILE_OUT_SIZE 65536
#define DUMPFILE_DEFAULT_LEVEL 6

struct dumpfile {
	char *path;    /* final name */
	char *partial; /* path + ".partial" */
	int fd;
	int created; /* we made the .partial file (so we may remove it) */
	int committed;
	int verify;     /* dumpfile_open_gzip(): zs inflates, to check */
	int raw;        /* dumpfile_open_raw(): bytes stored as given */
	int64_t expect; /* raw: the size commit requires; -1: any */
	int at_end;     /* verify: the last byte given ended a member */
	z_stream zs;
	int zs_live;
	uint64_t in;
	uint64_t out;
	unsigned char buf[DUMPFILE_OUT_SIZE];
};

/* Write all of len bytes to df's file. 0 or -1 + err. */
static int
dumpfile_put(struct dumpfile *df, const unsigned char *p, size_t len, struct err *err)
{
	ssize_t n;

	while (len > 0) {
		n = write(df->fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err_sys(err, errno, "writing %s", df->partial);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		df->out += (uint64_t)n;
	}
	return 0;
}

/* Run deflate with flush over the pending input, writing what it makes. */
static int
dumpfile_deflate(struct dumpfile *df, int flush, struct err *err)
{
	int zr;

	do {
		df->zs.next_out = df->buf;
		df->zs.avail_out = sizeof df->buf;
		zr = deflate(&df->zs, flush);
		if (zr == Z_STREAM_ERROR) {
			err_set(err, "compressing %s: zlib stream error", df->partial);
			return -1;
		}
		if (dumpfile_put(df, df->buf, sizeof df->buf - df->zs.avail_out, err) == -1)
			return -1;
	} while (df->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

/* Create df's .partial file (a stale one is removed first). 0 or -1 + err. */
static struct dumpfile *
dumpfile_create(const char *path, struct err *err)
{
	struct dumpfile *df = xcalloc(1, sizeof *df);

	df->fd = -1;
	df->path = xstrdup(path);
	df->partial = xasprintf("%s.partial", path);
	if (unlink(df->partial) == -1 && errno != ENOENT) {
		err_sys(err, errno, "removing the stale %s", df->partial);
		goto fail;
	}
	df->fd = open(df->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (df->fd == -1) {
		err_sys(err, errno, "creating %s", df->partial);
		goto fail;
	}
	df->created = 1;
	return df;
fail:
	dumpfile_abort(df);
	return NULL;
}

int
dumpfile_open(const char *path, int level, struct dumpfile **out, struct err *err)
{
	struct dumpfile *df;

	*out = NULL;
	if (level < 1 || level > 9)
		level = DUMPFILE_DEFAULT_LEVEL;
	if (zload(err) == -1 || (df = dumpfile_create(path, err)) == NULL)
		return -1;
	/* 15 + 16: the largest window, with a gzip header and trailer. */
	if (deflateInit2(&df->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		err_set(err, "compressing %s: cannot initialise zlib", df->partial);
		dumpfile_abort(df);
		return -1;
	}
	df->zs_live = 1;
	*out = df;
	return 0;
}

int
dumpfile_open_gzip(const char *path, struct dumpfile **out, struct err *err)
{
	struct dumpfile *df;

	*out = NULL;
	if (zload(err) == -1 || (df = dumpfile_create(path, err)) == NULL)
		return -1;
	df->verify = 1;
	/* 15 + 16: any window size, gzip wrapper only (no zlib or raw deflate). */
	if (inflateInit2(&df->zs, 15 + 16) != Z_OK) {
		err_set(err, "checking %s: cannot initialise zlib", df->partial);
		dumpfile_abort(df);
		return -1;
	}
	df->zs_live = 1;
	*out = df;
	return 0;
}

int
dumpfile_open_raw(const char *path, int64_t expect, struct dumpfile **out, struct err *err)
{
	struct dumpfile *df;

	*out = NULL;
	if ((df = dumpfile_create(path, err)) == NULL)
		return -1;
	df->raw = 1;
	df->expect = expect < 0 ? -1 : expect;
	*out = df;
	return 0;
}

/*
 * Inflate len bytes of df's gzip stream into the scratch buffer, counting
 * what comes out: 0, or -1 + err when they are not valid gzip.
 */
static int
dumpfile_check(struct dumpfile *df, const unsigned char *p, size_t len, struct err *err)
{
	int zr;

	df->zs.next_in = (Bytef *)(uintptr_t)p;
	df->zs.avail_in = (uInt)len;
	while (df->zs.avail_in > 0) {
		if (df->at_end) {
			/* Another member follows the one that ended. */
			if (inflateReset(&df->zs) != Z_OK) {
				err_set(err, "checking %s: zlib stream error", df->partial);
				return -1;
			}
			df->at_end = 0;
		}
		df->zs.next_out = df->buf;
		df->zs.avail_out = sizeof df->buf;
		zr = inflate(&df->zs, Z_NO_FLUSH);
		df->in += sizeof df->buf - df->zs.avail_out;
		if (zr == Z_STREAM_END) {
			df->at_end = 1;
		} else if (zr == Z_BUF_ERROR && df->zs.avail_in == 0) {
			break; /* wants more input */
		} else if (zr != Z_OK) {
			err_set(err, "%s: the gzip stream received is not valid (%s)", df->partial,
			        df->zs.msg != NULL ? df->zs.msg : "zlib error");
			return -1;
		}
	}
	return 0;
}

int
dumpfile_write(struct dumpfile *df, const void *data, size_t len, struct err *err)
{
	const unsigned char *p = data;

	if (df->raw) {
		if (dumpfile_put(df, p, len, err) == -1)
			return -1;
		df->in += len;
		return 0;
	}
	if (df->verify) {
		while (len > 0) {
			size_t chunk = len > (size_t)UINT32_MAX / 2 ? UINT32_MAX / 2 : len;

			if (dumpfile_check(df, p, chunk, err) == -1 ||
			    dumpfile_put(df, p, chunk, err) == -1)
				return -1;
			p += chunk;
			len -= chunk;
		}
		return 0;
	}
	while (len > 0) {
		uInt chunk = len > (size_t)UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)len;

		df->zs.next_in = (Bytef *)(uintptr_t)p;
		df->zs.avail_in = chunk;
		if (dumpfile_deflate(df, Z_NO_FLUSH, err) == -1)
			return -1;
		df->in += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int
dumpfile_commit(struct dumpfile *df, struct err *err)
{
	char *dir = NULL, *slash;
	int rc = -1;

	if (df->raw) {
		if (df->expect >= 0 && df->out != (uint64_t)df->expect) {
			err_set(err,
			        "%s: the data received is truncated (%llu bytes of the %lld "
			        "announced)",
			        df->partial, (unsigned long long)df->out, (long long)df->expect);
			goto out;
		}
	} else if (df->verify) {
		if (df->out == 0) {
			err_set(err, "%s: no data was received", df->partial);
			goto out;
		}
		if (!df->at_end) {
			err_set(err,
			        "%s: the gzip stream received is truncated (it stops inside a "
			        "member, after %llu bytes)",
			        df->partial, (unsigned long long)df->out);
			goto out;
		}
	} else {
		df->zs.next_in = NULL;
		df->zs.avail_in = 0;
		if (dumpfile_deflate(df, Z_FINISH, err) == -1)
			goto out;
	}
	if (fsync(df->fd) == -1) {
		err_sys(err, errno, "syncing %s", df->partial);
		goto out;
	}
	if (close(df->fd) == -1) {
		df->fd = -1;
		err_sys(err, errno, "closing %s", df->partial);
		goto out;
	}
	df->fd = -1;
	if (rename(df->partial, df->path) == -1) {
		err_sys(err, errno, "renaming %s to %s", df->partial, df->path);
		goto out;
	}
	df->committed = 1;
	dir = xstrdup(df->path);
	if ((slash = strrchr(dir, '/')) == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (fs_fsync_dir(dir, err) == -1)
		goto out;
	rc = 0;
out:
	free(dir);
	return rc;
}

void
dumpfile_abort(struct dumpfile *df)
{
	if (df == NULL)
		return;
	if (df->zs_live && df->verify)
		inflateEnd(&df->zs);
	else if (df->zs_live)
		deflateEnd(&df->zs);
	if (df->fd != -1)
		close(df->fd);
	if (df->created && !df->committed)
		unlink(df->partial);
	free(df->path);
	free(df->partial);
	free(df);
}

uint64_t
dumpfile_bytes_in(const struct dumpfile *df)
{
	return df->in;
}

uint64_t
dumpfile_bytes_out(const struct dumpfile *df)
{
	return df->out;
}
