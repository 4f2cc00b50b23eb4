/*
 * The streaming XVA verifier (xva_verify.h): decompression (zlib, libzstd)
 * → a push-model ustar parser → per-chunk XXH64 (xxhash.h, inlined: no
 * library to load) or SHA-1 (nettle, already mapped by the TLS stack) →
 * the per-disk completeness table. State machine fed by whatever pieces
 * libcurl hands over; memory is a few fixed buffers.
 */
#include "xva_verify.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "nettleload.h"
#include "util/xmalloc.h"
#include "zload.h"
#include "zstdload.h"

#define XVA_OUT_BUF (256u << 10)
#define XVA_MAX_DISKS 1024
#define XVA_MAX_SUM 64

enum comp { COMP_UNKNOWN, COMP_NONE, COMP_GZIP, COMP_ZSTD };
enum tstate { T_HEADER, T_DATA, T_PAD, T_END };
enum mtype { M_OTHER, M_CHUNK, M_SUM };
enum sum_mode { SUM_UNKNOWN, SUM_XXH, SUM_SHA1 };

struct disk {
	char *prefix;
	int have_first;
	uint64_t last;     /* highest chunk number seen with data */
	uint64_t last_len; /* its length */
	int any;           /* a chunk with data was seen */
	uint64_t next_min; /* chunk numbers never go back */
};

struct xva_verify {
	int hash;
	int failed;
	char failmsg[ERR_MSG_MAX];
	struct xva_stats st;
	/* compression */
	enum comp comp;
	unsigned char magic[4];
	size_t nmagic;
	z_stream z;
	int z_init, z_end;
	ZSTD_DStream *zs;
	size_t zs_ret; /* 0 once a frame is complete */
	unsigned char *out;
	/* tar */
	enum tstate ts;
	unsigned char hdr[512];
	size_t nhdr;
	int zero_blocks;
	uint64_t left; /* data bytes left in the member */
	size_t pad;    /* padding bytes left */
	char name[256 + 2];
	enum mtype mt;
	/* the current chunk or checksum member */
	int disk;       /* index into disks */
	uint64_t index; /* its chunk number */
	uint64_t mlen;  /* its length */
	char sum[XVA_MAX_SUM + 1];
	size_t nsum;
	enum sum_mode sum_kind; /* of the checksum member being read */
	XXH64_state_t xxh;
	struct sha1_ctx sha1;
	/* the chunk waiting for its checksum member */
	int pending;
	int pend_disk;
	uint64_t pend_index, pend_len;
	char pend_xxh[17], pend_sha1[41];
	enum sum_mode mode;
	struct disk *disks;
	size_t ndisks;
};

struct xva_verify *
xva_verify_new(int hash)
{
	struct xva_verify *v = xcalloc(1, sizeof *v);

	v->hash = hash;
	v->st.compression = "?";
	v->st.checksum = "?";
	v->out = xmalloc(XVA_OUT_BUF);
	return v;
}

void
xva_verify_free(struct xva_verify *v)
{
	if (v == NULL)
		return;
	if (v->z_init)
		inflateEnd(&v->z);
	if (v->zs != NULL)
		ZSTD_freeDStream(v->zs);
	for (size_t i = 0; i < v->ndisks; i++)
		free(v->disks[i].prefix);
	free(v->disks);
	free(v->out);
	free(v);
}

const struct xva_stats *
xva_verify_stats(const struct xva_verify *v)
{
	return &v->st;
}

/* Record the first problem; every later call reports it again. */
static int fail(struct xva_verify *v, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct xva_verify *v, struct err *err, const char *fmt, ...)
{
	va_list ap;

	if (!v->failed) {
		int n = snprintf(v->failmsg, sizeof v->failmsg, "XVA: ");

		va_start(ap, fmt);
		vsnprintf(v->failmsg + n, sizeof v->failmsg - (size_t)n, fmt, ap);
		va_end(ap);
		v->failed = 1;
	}
	err_set(err, "%s", v->failmsg);
	return -1;
}

/* --- ustar ----------------------------------------------------------------------- */

/* An octal (or base-256) numeric field. -1 when malformed. */
static int
tar_number(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t val = 0;
	size_t i = 0;

	if (f[0] & 0x80) { /* GNU base-256 */
		if (f[0] != 0x80)
			return -1;
		for (i = 1; i < n; i++) {
			if (val >> 56)
				return -1;
			val = val << 8 | f[i];
		}
		*out = val;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	if (i == n || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (val >> 60)
			return -1;
		val = val * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = val;
	return 0;
}

/* Find or add the disk of prefix. -1 when there are too many. */
static int
disk_of(struct xva_verify *v, const char *prefix, size_t plen)
{
	for (size_t i = 0; i < v->ndisks; i++)
		if (strlen(v->disks[i].prefix) == plen &&
		    memcmp(v->disks[i].prefix, prefix, plen) == 0)
			return (int)i;
	if (v->ndisks == XVA_MAX_DISKS)
		return -1;
	v->disks = xrealloc(v->disks, (v->ndisks + 1) * sizeof *v->disks);
	memset(&v->disks[v->ndisks], 0, sizeof *v->disks);
	v->disks[v->ndisks].prefix = xstrndup(prefix, plen);
	return (int)v->ndisks++;
}

/*
 * Classify the member name: "Ref:N/%08d" (M_CHUNK), the same + ".xxhash"
 * or ".checksum" (M_SUM), anything else M_OTHER. Sets disk and index.
 */
static int
classify(struct xva_verify *v, struct err *err)
{
	const char *slash = strrchr(v->name, '/'), *base, *ext;
	uint64_t idx = 0;

	v->mt = M_OTHER;
	if (slash == NULL || strncmp(v->name, "Ref:", 4) != 0)
		return 0;
	base = slash + 1;
	for (int i = 0; i < 8; i++) {
		if (!isdigit((unsigned char)base[i]))
			return 0;
		idx = idx * 10 + (uint64_t)(base[i] - '0');
	}
	ext = base + 8;
	if (*ext == '\0') {
		v->mt = M_CHUNK;
	} else if (strcmp(ext, ".xxhash") == 0) {
		v->mt = M_SUM;
		v->sum_kind = SUM_XXH;
	} else if (strcmp(ext, ".checksum") == 0) {
		v->mt = M_SUM;
		v->sum_kind = SUM_SHA1;
	} else {
		return 0;
	}
	if ((v->disk = disk_of(v, v->name, (size_t)(slash - v->name))) == -1)
		return fail(v, err, "more than %d disks", XVA_MAX_DISKS);
	v->index = idx;
	return 0;
}

static int tar_member_end(struct xva_verify *v, struct err *err);

/* A header block is complete: check it and start its member. */
static int
tar_header(struct xva_verify *v, struct err *err)
{
	const unsigned char *h = v->hdr;
	uint64_t size, want;
	unsigned long sum = 0;
	size_t nl, pl;
	int zero = 1;

	for (int i = 0; i < 512; i++)
		if (h[i] != 0) {
			zero = 0;
			break;
		}
	if (zero) {
		if (v->pending)
			return fail(v, err, "chunk %s/%08llu has no checksum member",
			            v->disks[v->pend_disk].prefix,
			            (unsigned long long)v->pend_index);
		if (v->st.members == 0)
			return fail(v, err, "the archive is empty");
		if (++v->zero_blocks == 2)
			v->ts = T_END;
		return 0;
	}
	if (v->zero_blocks > 0)
		return fail(v, err, "a member after a zero block (member %llu)",
		            (unsigned long long)v->st.members + 1);
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	if (tar_number(h + 148, 8, &want) == -1 || want != sum)
		return fail(v, err, "a tar header with a bad checksum (member %llu)",
		            (unsigned long long)v->st.members + 1);
	if (tar_number(h + 124, 12, &size) == -1)
		return fail(v, err, "a tar header with a bad size (member %llu)",
		            (unsigned long long)v->st.members + 1);
	nl = strnlen((const char *)h, 100);
	pl = memcmp(h + 257, "ustar", 5) == 0 ? strnlen((const char *)h + 345, 155) : 0;
	if (pl > 0) {
		memcpy(v->name, h + 345, pl);
		v->name[pl] = '/';
		memcpy(v->name + pl + 1, h, nl);
		v->name[pl + 1 + nl] = '\0';
	} else {
		memcpy(v->name, h, nl);
		v->name[nl] = '\0';
	}
	for (char *p = v->name; *p != '\0'; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	v->st.members++;
	if (v->st.members == 1 && strcmp(v->name, "ova.xml") != 0)
		return fail(v, err, "the first member is '%.100s', not ova.xml", v->name);
	v->mt = M_OTHER;
	if ((h[156] == '0' || h[156] == '\0') && classify(v, err) == -1)
		return -1;
	if (v->pending && !(v->mt == M_SUM && v->disk == v->pend_disk && v->index == v->pend_index))
		return fail(v, err, "chunk %s/%08llu has no checksum member (next: %.100s)",
		            v->disks[v->pend_disk].prefix, (unsigned long long)v->pend_index,
		            v->name);
	if (v->mt == M_CHUNK) {
		struct disk *d = &v->disks[v->disk];

		if (size > XVA_CHUNK)
			return fail(v, err, "chunk %.100s is larger than 1 MiB", v->name);
		if (v->index < d->next_min)
			return fail(v, err, "chunk %.100s comes after chunk %08llu", v->name,
			            (unsigned long long)d->next_min);
		d->next_min = v->index;
		v->mlen = size;
		if (v->hash) {
			XXH64_reset(&v->xxh, 0);
			if (v->mode != SUM_XXH) {
				struct err lerr;

				err_clear(&lerr);
				if (nettleload(&lerr) == -1)
					return fail(v, err, "%s", lerr.msg);
				sha1_init(&v->sha1);
			}
		}
	} else if (v->mt == M_SUM) {
		if (!v->pending)
			return fail(v, err, "checksum member %.100s without its chunk", v->name);
		if (size > XVA_MAX_SUM)
			return fail(v, err, "checksum member %.100s is too large", v->name);
		if (v->mode != SUM_UNKNOWN && v->mode != v->sum_kind)
			return fail(v, err, "checksum member %.100s: .xxhash and .checksum mixed",
			            v->name);
		v->nsum = 0;
	}
	v->left = size;
	v->pad = (size_t)((512 - size % 512) % 512);
	if (size > 0) {
		v->ts = T_DATA;
		return 0;
	}
	v->ts = T_HEADER; /* an empty member (a keep-alive chunk) ends here */
	return tar_member_end(v, err);
}

/* A member's data ended. */
static int
tar_member_end(struct xva_verify *v, struct err *err)
{
	if (v->mt == M_CHUNK) {
		struct disk *d = &v->disks[v->disk];

		v->pending = 1;
		v->pend_disk = v->disk;
		v->pend_index = v->index;
		v->pend_len = v->mlen;
		if (v->hash) {
			snprintf(v->pend_xxh, sizeof v->pend_xxh, "%016llX",
			         (unsigned long long)XXH64_digest(&v->xxh));
			if (v->mode != SUM_XXH) {
				uint8_t dg[SHA1_DIGEST_SIZE];

				sha1_digest(&v->sha1, sizeof dg, dg);
				for (int i = 0; i < SHA1_DIGEST_SIZE; i++)
					snprintf(v->pend_sha1 + 2 * i, 3, "%02x", dg[i]);
			}
		}
		if (v->mlen == 0) {
			v->st.keepalives++;
		} else {
			v->st.chunks++;
			v->st.disk_bytes += v->mlen;
			if (v->index == 0)
				d->have_first = 1;
			if (!d->any || v->index >= d->last) {
				d->last = v->index;
				d->last_len = v->mlen;
			}
			d->any = 1;
		}
	} else if (v->mt == M_SUM) {
		const char *want = v->sum_kind == SUM_XXH ? v->pend_xxh : v->pend_sha1;
		size_t n = v->nsum;

		while (n > 0 && isspace((unsigned char)v->sum[n - 1]))
			n--;
		v->sum[n] = '\0';
		v->mode = v->sum_kind;
		v->st.checksum = v->mode == SUM_XXH ? "xxhash" : "checksum";
		if (v->hash && (strlen(want) != n || strncasecmp(v->sum, want, n) != 0))
			return fail(
			    v, err, "chunk %s/%08llu does not match its %s (%s, computed %s)",
			    v->disks[v->pend_disk].prefix, (unsigned long long)v->pend_index,
			    v->sum_kind == SUM_XXH ? ".xxhash" : ".checksum", v->sum, want);
		v->pending = 0;
	}
	return 0;
}

/* Uncompressed tar bytes. */
static int
tar_feed(struct xva_verify *v, const unsigned char *p, size_t len, struct err *err)
{
	v->st.tar_bytes += len;
	while (len > 0) {
		size_t n;

		switch (v->ts) {
		case T_HEADER:
			n = 512 - v->nhdr < len ? 512 - v->nhdr : len;
			memcpy(v->hdr + v->nhdr, p, n);
			v->nhdr += n;
			p += n;
			len -= n;
			if (v->nhdr == 512) {
				v->nhdr = 0;
				if (tar_header(v, err) == -1)
					return -1;
			}
			break;
		case T_DATA:
			n = v->left < len ? (size_t)v->left : len;
			if (v->mt == M_CHUNK && v->hash) {
				XXH64_update(&v->xxh, p, n);
				if (v->mode != SUM_XXH)
					sha1_update(&v->sha1, n, p);
			} else if (v->mt == M_SUM) {
				memcpy(v->sum + v->nsum, p, n); /* size <= XVA_MAX_SUM checked */
				v->nsum += n;
			}
			p += n;
			len -= n;
			v->left -= n;
			if (v->left == 0) {
				if (tar_member_end(v, err) == -1)
					return -1;
				v->ts = v->pad > 0 ? T_PAD : T_HEADER;
			}
			break;
		case T_PAD:
			n = v->pad < len ? v->pad : len;
			p += n;
			len -= n;
			v->pad -= n;
			if (v->pad == 0)
				v->ts = T_HEADER;
			break;
		case T_END:
			for (size_t i = 0; i < len; i++)
				if (p[i] != 0)
					return fail(v, err, "data after the end of the archive");
			return 0;
		}
	}
	return 0;
}

/* --- decompression --------------------------------------------------------------- */

static int
gzip_feed(struct xva_verify *v, const unsigned char *p, size_t len, struct err *err)
{
	v->z.next_in = (unsigned char *)p;
	v->z.avail_in = (uInt)len;
	for (;;) {
		int rc;

		if (v->z_end) {
			if (v->z.avail_in > 0)
				return fail(v, err, "data after the end of the gzip stream");
			return 0;
		}
		v->z.next_out = v->out;
		v->z.avail_out = XVA_OUT_BUF;
		rc = inflate(&v->z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return fail(v, err, "gzip: %s",
			            v->z.msg != NULL ? v->z.msg : "corrupt data");
		if (tar_feed(v, v->out, XVA_OUT_BUF - v->z.avail_out, err) == -1)
			return -1;
		if (rc == Z_STREAM_END)
			v->z_end = 1;
		else if (v->z.avail_in == 0 && v->z.avail_out != 0)
			return 0; /* all input used, all output out */
		else if (rc == Z_BUF_ERROR && v->z.avail_out != 0)
			return 0;
	}
}

static int
zstd_feed(struct xva_verify *v, const unsigned char *p, size_t len, struct err *err)
{
	ZSTD_inBuffer in = { p, len, 0 };
	int full = 0;

	/* until the input is used and the decoder had room for all it holds */
	while (in.pos < in.size || full) {
		ZSTD_outBuffer out = { v->out, XVA_OUT_BUF, 0 };
		size_t rc = ZSTD_decompressStream(v->zs, &out, &in);

		if (ZSTD_isError(rc))
			return fail(v, err, "zstd: %s", ZSTD_getErrorName(rc));
		v->zs_ret = rc;
		full = out.pos == out.size;
		if (tar_feed(v, v->out, out.pos, err) == -1)
			return -1;
	}
	return 0;
}

static int
start(struct xva_verify *v, struct err *err)
{
	struct err lerr;

	if (v->nmagic >= 2 && v->magic[0] == 0x1f && v->magic[1] == 0x8b) {
		v->comp = COMP_GZIP;
		v->st.compression = "gzip";
		err_clear(&lerr);
		if (zload(&lerr) == -1)
			return fail(v, err, "gzip: %s", lerr.msg);
		if (inflateInit2(&v->z, 15 + 16) != Z_OK)
			return fail(v, err, "gzip: cannot start zlib");
		v->z_init = 1;
	} else if (v->nmagic == 4 && memcmp(v->magic, "\x28\xb5\x2f\xfd", 4) == 0) {
		v->comp = COMP_ZSTD;
		v->st.compression = "zstd";
		err_clear(&lerr);
		if (zstdload(&lerr) == -1)
			return fail(v, err, "zstd: %s", lerr.msg);
		if ((v->zs = ZSTD_createDStream()) == NULL || ZSTD_isError(ZSTD_initDStream(v->zs)))
			return fail(v, err, "zstd: cannot start the decoder");
		v->zs_ret = 1;
	} else {
		v->comp = COMP_NONE;
		v->st.compression = "none";
	}
	return 0;
}

static int
decode(struct xva_verify *v, const unsigned char *p, size_t len, struct err *err)
{
	switch (v->comp) {
	case COMP_GZIP:
		return gzip_feed(v, p, len, err);
	case COMP_ZSTD:
		return zstd_feed(v, p, len, err);
	default:
		return tar_feed(v, p, len, err);
	}
}

int
xva_verify_feed(struct xva_verify *v, const void *data, size_t len, struct err *err)
{
	const unsigned char *p = data;

	if (v->failed)
		return fail(v, err, "(already failed)");
	if (v->comp == COMP_UNKNOWN) {
		size_t n = sizeof v->magic - v->nmagic < len ? sizeof v->magic - v->nmagic : len;

		memcpy(v->magic + v->nmagic, p, n);
		v->nmagic += n;
		p += n;
		len -= n;
		if (v->nmagic < sizeof v->magic)
			return 0;
		if (start(v, err) == -1 || decode(v, v->magic, v->nmagic, err) == -1)
			return -1;
	}
	return len > 0 ? decode(v, p, len, err) : 0;
}

/* --- the end --------------------------------------------------------------------- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
xva_verify_finish(struct xva_verify *v, const uint64_t *sizes, size_t ndisks, struct err *err)
{
	uint64_t *want = NULL, *got = NULL;
	int rc = -1;

	if (v->failed)
		return fail(v, err, "(already failed)");
	if (v->comp == COMP_UNKNOWN) {
		if (v->nmagic == 0)
			return fail(v, err, "the export is empty");
		if (start(v, err) == -1 || decode(v, v->magic, v->nmagic, err) == -1)
			return -1;
	}
	if (v->comp == COMP_GZIP && !v->z_end)
		return fail(v, err, "the gzip stream is truncated");
	if (v->comp == COMP_ZSTD && v->zs_ret != 0)
		return fail(v, err, "the zstd stream is truncated");
	if (v->ts != T_END) {
		if (v->ts == T_DATA || v->ts == T_PAD || v->nhdr != 0)
			return fail(v, err, "truncated inside member %llu (%.100s)",
			            (unsigned long long)v->st.members, v->name);
		return fail(v, err,
		            "truncated after member %llu (%.100s): no end-of-archive blocks",
		            (unsigned long long)v->st.members, v->name);
	}
	if (ndisks == (size_t)-1)
		return 0;
	if (v->ndisks != ndisks)
		return fail(v, err, "%zu disks in the export, %zu expected", v->ndisks, ndisks);
	want = xcalloc(ndisks + 1, sizeof *want);
	got = xcalloc(ndisks + 1, sizeof *got);
	for (size_t i = 0; i < ndisks; i++) {
		const struct disk *d = &v->disks[i];

		if (!d->have_first || !d->any) {
			fail(v, err, "disk %s has no chunk 00000000", d->prefix);
			goto out;
		}
		got[i] = d->last * XVA_CHUNK + d->last_len;
		want[i] = sizes[i];
	}
	qsort(want, ndisks, sizeof *want, cmp_u64);
	qsort(got, ndisks, sizeof *got, cmp_u64);
	for (size_t i = 0; i < ndisks; i++)
		if (want[i] != got[i]) {
			fail(v, err,
			     "a disk is incomplete: it ends at byte %llu, the disks are %llu bytes "
			     "(sorted, #%zu)",
			     (unsigned long long)got[i], (unsigned long long)want[i], i + 1);
			goto out;
		}
	rc = 0;
out:
	free(want);
	free(got);
	return rc;
}
