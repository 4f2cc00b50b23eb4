/*
 * A streaming verifier of XVA exports (XCP-ng / XenServer /export): it
 * is fed the bytes as they arrive, and says at the end whether they were a
 * complete and intact XVA. No second pass, no copy, a bounded amount of
 * memory whatever the size.
 *
 * - The compression is told by the first bytes: gzip (zlib), zstd
 *   (libzstd) or a plain tar; the compressed stream must end properly.
 * - A push-model ustar parser (512-byte headers, their checksums, sizes,
 *   padding) reads the tar: "ova.xml" must be the first member, the
 *   archive must end with its zero blocks.
 * - Each disk chunk "Ref:N/%08d" must be followed by its checksum member:
 *   ".xxhash" (XXH64, seed 0, 16 hex digits; xapi >= 1.170) or
 *   ".checksum" (SHA-1, 40 hex digits; older), and match it. Empty
 *   chunks (xapi's keep-alive members while it skips zeros) are accepted,
 *   as are repeated chunk numbers; numbers never go back.
 * - Completeness: xva_verify_finish() is given the virtual sizes of the
 *   disks the export must hold; each must appear as one "Ref:N" with its
 *   chunk 0 and its last chunk ((size - 1) / 1 MiB), of the right length.
 */
#ifndef TB_XVA_VERIFY_H
#define TB_XVA_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define XVA_CHUNK (1u << 20)

struct xva_verify;

/* What the verifier saw so far. */
struct xva_stats {
	uint64_t tar_bytes;      /* uncompressed bytes */
	uint64_t members;        /* tar members */
	uint64_t chunks;         /* non-empty disk chunks checked */
	uint64_t keepalives;     /* empty disk chunks */
	uint64_t disk_bytes;     /* bytes of the chunks */
	const char *compression; /* "gzip", "zstd", "none", or "?" before the first bytes */
	const char *checksum;    /* "xxhash", "checksum" (SHA-1) or "?" */
};

/*
 * A new verifier. hash 0 skips the hash computations (the structure and
 * completeness are still checked). Free with xva_verify_free().
 */
struct xva_verify *xva_verify_new(int hash);
void xva_verify_free(struct xva_verify *v);

/*
 * Feed the next len bytes of the export. 0, or -1 + err at the first
 * problem ("XVA: chunk Ref:12/00000003 does not match its .xxhash
 * (...)"); after an error every further call fails the same way.
 */
int xva_verify_feed(struct xva_verify *v, const void *data, size_t len, struct err *err);

/*
 * The stream ended: check that it ended properly (compression, end of
 * archive, no chunk without its checksum) and that it holds exactly
 * ndisks disks of the given virtual sizes (any order), each complete.
 * ndisks == (size_t)-1 skips that last check. 0, or -1 + err.
 */
int xva_verify_finish(struct xva_verify *v, const uint64_t *sizes, size_t ndisks, struct err *err);

/* The counters so far (valid until xva_verify_free). */
const struct xva_stats *xva_verify_stats(const struct xva_verify *v);

#endif
