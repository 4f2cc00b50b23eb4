/*
 * One-file backups of `tisbackup verify` (verify.h, docs/restore.md):
 * xen-xva, switch, xcp-dump-metadata (one file), samba4 and esx-vmdk (a
 * folder of files). Every file of the backup is read again to its end,
 * with the check its kind carries:
 *  - .xva: xva_verify.c, the stream verifier of the backup itself (tar
 *    structure, every disk chunk against its xxhash or SHA-1);
 *  - .gz: inflated by zlib (its CRC-32 and length checked at the end);
 *  - .bz2, .tar, .tgz, .ova, .xz, .zst: read through by libarchive (tar
 *    header checksums, the compressor's own checks);
 *  - a "*.mf" manifest (esx-vmdk: "SHA256(NAME)= HEX" lines): each file
 *    named hashed again and compared;
 *  - any other file: read fully.
 * A one-file backup's size is compared with the catalog's (total_bytes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "archiveload.h"
#include "nettleload.h"
#include "util/fmt.h"
#include "util/xmalloc.h"
#include "verify.h"
#include "xva_verify.h"

#define READ_CHUNK (1024 * 1024)

static int
ends_with(const char *s, const char *sfx)
{
	size_t n = strlen(s), k = strlen(sfx);

	return n >= k && strcmp(s + n - k, sfx) == 0;
}

/* Read path to its end, feeding an XVA verifier when xva. 0 or -1 + err. */
static int
check_plain(const char *path, int xva, struct err *err)
{
	struct xva_verify *v = xva ? xva_verify_new(1) : NULL;
	char *chunk = xmalloc(READ_CHUNK);
	int fd, rc = -1;
	ssize_t n;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "opening %s", path);
		goto out;
	}
	while ((n = read(fd, chunk, READ_CHUNK)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "reading %s", path);
			goto out;
		}
		if (v != NULL && xva_verify_feed(v, chunk, (size_t)n, err) == -1)
			goto bad;
	}
	if (v != NULL && xva_verify_finish(v, NULL, (size_t)-1, err) == -1)
		goto bad;
	rc = 0;
	goto out;
bad:
	err_wrap(err, "%s is damaged", path);
out:
	if (fd != -1)
		close(fd);
	xva_verify_free(v);
	free(chunk);
	return rc;
}

/* Inflate the gzip file path to its end (CRC and length). 0 or -1 + err. */
static int
check_gzip(const char *path, struct err *err)
{
	char *chunk = xmalloc(READ_CHUNK);
	gzFile gz = gzopen(path, "rb");
	int n = 0, zerr, rc = -1;

	if (gz == NULL) {
		err_sys(err, errno, "opening %s", path);
		goto out;
	}
	while ((n = gzread(gz, chunk, READ_CHUNK)) > 0)
		if (gzdirect(gz)) {
			err_set(err, "%s is damaged: not a gzip file", path);
			goto out;
		}
	if (n < 0) {
		err_set(err, "%s is damaged: %s", path, gzerror(gz, &zerr));
		goto out;
	}
	rc = 0;
out:
	if (gz != NULL && gzclose(gz) != Z_OK && rc == 0) {
		err_set(err, "%s is damaged: its gzip check failed", path);
		rc = -1;
	}
	free(chunk);
	return rc;
}

/* Read the archive path through libarchive, every member's data. 0 or -1 + err. */
static int
check_archive(const char *path, struct err *err)
{
	struct archive *a;
	struct archive_entry *e;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r, rc = -1;

	if (archiveload(err) == -1)
		return -1;
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, path, READ_CHUNK) != ARCHIVE_OK)
		goto bad;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
			;
		if (r != ARCHIVE_EOF)
			goto bad;
	}
	if (r != ARCHIVE_EOF)
		goto bad;
	rc = 0;
	goto out;
bad:
	err_set(err, "%s is damaged: %s", path,
	        archive_error_string(a) != NULL ? archive_error_string(a) : "unreadable");
out:
	archive_read_free(a);
	return rc;
}

/* The lowercase hex of n bytes of d into out[2n + 1]. */
static void
hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Hash dir/name with SHA-256 (sha256 1) or SHA-1 into hexout. 0 or -1 + err. */
static int
hash_file(const char *dir, const char *name, int sha256, char *hexout, struct err *err)
{
	char *path = xasprintf("%s/%s", dir, name), *chunk = xmalloc(READ_CHUNK);
	struct sha256_ctx s2;
	struct sha1_ctx s1;
	uint8_t dg[SHA256_DIGEST_SIZE];
	int fd, rc = -1;
	ssize_t n;

	if (nettleload(err) == -1)
		goto out;
	sha256_init(&s2);
	sha1_init(&s1);
	if (strchr(name, '/') != NULL || name[0] == '.') {
		err_set(err, "the manifest names '%s', not a file of the backup", name);
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "%s (named in the manifest)", path);
		goto out;
	}
	while ((n = read(fd, chunk, READ_CHUNK)) > 0) {
		if (sha256)
			sha256_update(&s2, (size_t)n, (const uint8_t *)chunk);
		else
			sha1_update(&s1, (size_t)n, (const uint8_t *)chunk);
	}
	if (n == -1)
		err_sys(err, errno, "reading %s", path);
	close(fd);
	if (n == -1)
		goto out;
	if (sha256) {
		sha256_digest(&s2, SHA256_DIGEST_SIZE, dg);
		hex(dg, SHA256_DIGEST_SIZE, hexout);
	} else {
		sha1_digest(&s1, SHA1_DIGEST_SIZE, dg);
		hex(dg, SHA1_DIGEST_SIZE, hexout);
	}
	rc = 0;
out:
	free(path);
	free(chunk);
	return rc;
}

/*
 * Check each "SHA256(NAME)= HEX" / "SHA1(NAME)= HEX" line of the
 * manifest mf in dir. *n counts the files checked. 0 or -1 + err.
 */
static int
check_manifest(const char *dir, const char *mf, long *n, struct err *err)
{
	char *path = xasprintf("%s/%s", dir, mf);
	FILE *f = fopen(path, "r");
	char line[4096], got[2 * SHA256_DIGEST_SIZE + 1];
	int rc = 0;

	if (f == NULL) {
		err_sys(err, errno, "opening %s", path);
		free(path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
		int sha256 = strncmp(line, "SHA256(", 7) == 0;
		char *name = line + (sha256 ? 7 : 5), *end = strstr(line, ")= "), *want;

		if ((!sha256 && strncmp(line, "SHA1(", 5) != 0) || end == NULL)
			continue;
		*end = '\0';
		want = end + 3;
		want[strcspn(want, "\r\n")] = '\0';
		if (hash_file(dir, name, sha256, got, err) == -1) {
			rc = -1;
			break;
		}
		if (strcasecmp(got, want) != 0) {
			err_set(err, "%s/%s is damaged: its %s is %s, the manifest %s says %s", dir,
			        name, sha256 ? "SHA-256" : "SHA-1", got, mf, want);
			rc = -1;
		}
		(*n)++;
	}
	fclose(f);
	free(path);
	return rc;
}

/* Check one file by its name. 0 or -1 + err. */
static int
check_file(const char *path, struct err *err)
{
	if (ends_with(path, ".xva"))
		return check_plain(path, 1, err);
	if (ends_with(path, ".gz") && !ends_with(path, ".tar.gz"))
		return check_gzip(path, err);
	if (ends_with(path, ".bz2") || ends_with(path, ".tar") || ends_with(path, ".tgz") ||
	    ends_with(path, ".tar.gz") || ends_with(path, ".ova") || ends_with(path, ".xz") ||
	    ends_with(path, ".zst"))
		return check_archive(path, err);
	return check_plain(path, 0, err);
}

int
verify_onefile(const char *loc, long long catalog_bytes, struct buf *log, struct drv_stats *st,
               struct err *err)
{
	struct stat sb;
	struct dirent *de;
	long nfiles = 0, hashed = 0;
	long long bytes = 0;
	char size[32];
	DIR *d;
	int rc = 0;

	if (lstat(loc, &sb) == -1) {
		err_sys(err, errno, "%s", loc);
		return -1;
	}
	if (S_ISREG(sb.st_mode)) {
		if (catalog_bytes > 0 && sb.st_size != catalog_bytes) {
			err_set(err, "%s is %lld bytes, the catalog recorded %lld", loc,
			        (long long)sb.st_size, catalog_bytes);
			return -1;
		}
		if (check_file(loc, err) == -1)
			return -1;
		nfiles = 1;
		bytes = sb.st_size;
	} else {
		d = opendir(loc);
		if (d == NULL) {
			err_sys(err, errno, "reading %s", loc);
			return -1;
		}
		while (rc == 0 && (de = readdir(d)) != NULL) {
			char *p = xasprintf("%s/%s", loc, de->d_name);

			if (de->d_name[0] != '.' && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
				rc = check_file(p, err);
				if (rc == 0 && ends_with(de->d_name, ".mf"))
					rc = check_manifest(loc, de->d_name, &hashed, err);
				nfiles++;
				bytes += sb.st_size;
			}
			free(p);
		}
		closedir(d);
		if (rc == -1)
			return -1;
		if (nfiles == 0) {
			err_set(err, "%s holds no file", loc);
			return -1;
		}
	}
	fmt_bytes((double)bytes, size, sizeof size);
	buf_printf(log, "%ld file(s) of %s (%s) read back intact", nfiles, loc, size);
	if (hashed > 0)
		buf_printf(log, ", %ld checked against the manifest", hashed);
	st->total_files = nfiles;
	st->total_bytes = bytes;
	return 0;
}
