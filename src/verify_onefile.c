/*
 * One-file backups of `tisbackup verify` (verify.h, docs/restore.md):
 * xen-xva, switch, xcp-dump-metadata (one file), samba4 and esx-vmdk (a
 * folder of files). Every file of the backup is read again to its end,
 * with the check its kind carries:
 *  - .xva: xva_verify.c, the stream verifier of the backup itself (tar
 *    structure, every disk chunk against its xxhash or SHA-1);
 *  - .gz: inflated by zlib (its CRC-32 and length checked at the end);
 *  - .bz2, .tar, .tgz, .ova, .xz, .zst: read through by libarchive (tar
 *    header checksums, the compressor's own checks); an .ova's members
 *    are also hashed and compared with the manifest (*.mf) it holds, since
 *    an uncompressed tar carries no checksum of its data;
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

#include "archiveload.h"
#include "nettleload.h"
#include "util/fmt.h"
#include "util/xmalloc.h"
#include "verify.h"
#include "xva_verify.h"
#include "zload.h"

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
	char *chunk;
	gzFile gz;
	int n = 0, zerr, rc = -1;

	if (zload(err) == -1)
		return -1;
	chunk = xmalloc(READ_CHUNK);
	gz = gzopen(path, "rb");

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

/* The lowercase hex of n bytes of d into out[2n + 1]. */
static void
hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/*
 * Split a manifest line "SHA256(NAME)= HEX" or "SHA1(NAME)= HEX" in
 * place: *name and *want point into line, *sha256 says which. 1 for such
 * a line, 0 for any other.
 */
static int
mf_parse(char *line, int *sha256, char **name, char **want)
{
	char *end = strstr(line, ")= ");

	*sha256 = strncmp(line, "SHA256(", 7) == 0;
	if ((!*sha256 && strncmp(line, "SHA1(", 5) != 0) || end == NULL)
		return 0;
	*name = line + (*sha256 ? 7 : 5);
	*end = '\0';
	*want = end + 3;
	(*want)[strcspn(*want, "\r\n")] = '\0';
	return 1;
}

/* A member of an .ova and its digests ("" where not computed). */
struct ova_member {
	char *name;
	char sha256[2 * SHA256_DIGEST_SIZE + 1];
	char sha1[2 * SHA1_DIGEST_SIZE + 1];
};

/* The manifest of an .ova, read from its member, and the members hashed. */
struct ova_check {
	struct buf mf; /* the manifest's text, NUL-terminated once read */
	char *mf_name; /* NULL until the manifest member was read */
	struct ova_member *m;
	size_t n, cap;
};

#define OVA_MF_MAX (1024 * 1024)

/* Does the manifest ask for algorithm sha256 (1) or SHA-1 (0) of name? */
static int
ova_wants(const struct ova_check *oc, const char *name, int sha256)
{
	const char *p = oc->mf.data != NULL ? oc->mf.data : "";

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		char line[4096], *nm, *want;
		int s2;

		if (len < sizeof line) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (mf_parse(line, &s2, &nm, &want) && s2 == sha256 &&
			    strcmp(nm, name) == 0)
				return 1;
		}
		p += len + (p[len] == '\n');
	}
	return 0;
}

/*
 * Compare every line of the .ova's manifest with the digests of the
 * members read. *n counts the members checked. 0 or -1 + err.
 */
static int
ova_compare(const char *path, const struct ova_check *oc, long *n, struct err *err)
{
	const char *p = oc->mf.data != NULL ? oc->mf.data : "";

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		char line[4096], *name, *want;
		const char *got = NULL;
		int sha256;

		if (len >= sizeof line) {
			err_set(err, "%s: a line of its manifest %s is longer than %zu bytes", path,
			        oc->mf_name, sizeof line - 1);
			return -1;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		if (!mf_parse(line, &sha256, &name, &want))
			continue;
		for (size_t i = 0; i < oc->n && got == NULL; i++)
			if (strcmp(oc->m[i].name, name) == 0)
				got = sha256 ? oc->m[i].sha256 : oc->m[i].sha1;
		if (got == NULL || got[0] == '\0') {
			err_set(
			    err,
			    "%s is damaged: its manifest %s lists %s, which the OVA does not hold",
			    path, oc->mf_name, name);
			return -1;
		}
		if (strcasecmp(got, want) != 0) {
			err_set(
			    err,
			    "%s is damaged: its member %s has the %s %s, its manifest %s says %s",
			    path, name, sha256 ? "SHA-256" : "SHA-1", got, oc->mf_name, want);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

/*
 * Read the archive path through libarchive, every member's data. With oc
 * (an .ova), hash each member and keep its manifest's text (the first
 * *.mf member): members before the manifest with SHA-256 and SHA-1 both,
 * later ones with what the manifest asks for. 0 or -1 + err.
 */
static int
check_archive(const char *path, struct ova_check *oc, struct err *err)
{
	struct archive *a;
	struct archive_entry *e;
	const void *data;
	size_t len;
	la_int64_t off;
	int r, rc = -1;

	if (archiveload(err) == -1 || nettleload(err) == -1)
		return -1;
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, path, READ_CHUNK) != ARCHIVE_OK)
		goto bad;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name =
		    archive_entry_pathname(e) != NULL ? archive_entry_pathname(e) : "";
		int is_mf = oc != NULL && oc->mf_name == NULL && ends_with(name, ".mf");
		int h256 = 0, h1 = 0;
		struct sha256_ctx s2;
		struct sha1_ctx s1;
		uint64_t pos = 0;

		if (oc != NULL && !is_mf) {
			h256 = oc->mf_name == NULL || ova_wants(oc, name, 1);
			h1 = oc->mf_name == NULL || ova_wants(oc, name, 0);
		}
		sha256_init(&s2);
		sha1_init(&s1);
		while ((r = archive_read_data_block(a, &data, &len, &off)) == ARCHIVE_OK) {
			static const uint8_t zero[4096];

			/* A hole of a sparse member reads as zeros. */
			while ((h256 || h1) && off >= 0 && pos < (uint64_t)off) {
				size_t z = (uint64_t)off - pos < sizeof zero
				               ? (size_t)((uint64_t)off - pos)
				               : sizeof zero;

				if (h256)
					sha256_update(&s2, z, zero);
				if (h1)
					sha1_update(&s1, z, zero);
				pos += z;
			}
			if (h256)
				sha256_update(&s2, len, data);
			if (h1)
				sha1_update(&s1, len, data);
			pos += len;
			if (is_mf) {
				if (buf_append(&oc->mf, data, len) == -1) {
					err_set(err, "%s: its manifest %s is larger than %d bytes",
					        path, name, OVA_MF_MAX);
					goto out;
				}
			}
		}
		if (r != ARCHIVE_EOF)
			goto bad;
		if (is_mf) {
			(void)buf_putc(&oc->mf, '\0'); /* the limit keeps room for it */
			oc->mf_name = xstrdup(name);
		} else if (oc != NULL) {
			struct ova_member *m;
			uint8_t dg[SHA256_DIGEST_SIZE];

			if (oc->n == oc->cap) {
				oc->cap = oc->cap != 0 ? 2 * oc->cap : 8;
				oc->m = xrealloc(oc->m, oc->cap * sizeof *oc->m);
			}
			m = &oc->m[oc->n++];
			memset(m, 0, sizeof *m);
			m->name = xstrdup(name);
			if (h256) {
				sha256_digest(&s2, SHA256_DIGEST_SIZE, dg);
				hex(dg, SHA256_DIGEST_SIZE, m->sha256);
			}
			if (h1) {
				sha1_digest(&s1, SHA1_DIGEST_SIZE, dg);
				hex(dg, SHA1_DIGEST_SIZE, m->sha1);
			}
		}
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

/* Read the .ova path and check its members against its manifest. 0 or -1 + err. */
static int
check_ova(const char *path, long *hashed, struct err *err)
{
	struct ova_check oc;
	int rc;

	memset(&oc, 0, sizeof oc);
	buf_init(&oc.mf, OVA_MF_MAX + 1);
	rc = check_archive(path, &oc, err);
	if (rc == 0 && oc.mf_name != NULL)
		rc = ova_compare(path, &oc, hashed, err);
	for (size_t i = 0; i < oc.n; i++)
		free(oc.m[i].name);
	free(oc.m);
	free(oc.mf_name);
	buf_free(&oc.mf);
	return rc;
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
		char *name, *want;
		int sha256;

		if (!mf_parse(line, &sha256, &name, &want))
			continue;
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

/* Check one file by its name; *hashed counts the manifest lines checked. 0 or -1 + err. */
static int
check_file(const char *path, long *hashed, struct err *err)
{
	if (ends_with(path, ".ova"))
		return check_ova(path, hashed, err);
	if (ends_with(path, ".xva"))
		return check_plain(path, 1, err);
	if (ends_with(path, ".gz") && !ends_with(path, ".tar.gz"))
		return check_gzip(path, err);
	if (ends_with(path, ".bz2") || ends_with(path, ".tar") || ends_with(path, ".tgz") ||
	    ends_with(path, ".tar.gz") || ends_with(path, ".xz") || ends_with(path, ".zst"))
		return check_archive(path, NULL, err);
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
		if (check_file(loc, &hashed, err) == -1)
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
				rc = check_file(p, &hashed, err);
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
