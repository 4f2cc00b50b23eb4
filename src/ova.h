/*
 * An OVA (a ustar archive: the OVF descriptor first, then the manifest,
 * then the disks) written in one pass as the disks arrive, with no
 * temporary copy: the disks are streamed into the archive after a region
 * reserved at its start, each member's header written once its size is
 * known; the descriptor and manifest, known only at the end (they carry
 * the disks' sizes and digests), then fill the reserved region, the
 * descriptor padded with trailing blanks (insignificant after XML's root
 * element) so the manifest ends exactly where the first disk's header
 * starts. Sizes of 8 GiB and more use the base-256 size field (GNU tar,
 * libarchive and Python's tarfile read it).
 */
#ifndef TB_OVA_H
#define TB_OVA_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* What ova_open() reserves for the descriptor and the manifest. */
#define OVA_RESERVE (1u << 20)

struct ova;

/* Create path (0640, must not exist) for writing. *out or -1 + err. */
int ova_open(const char *path, struct ova **out, struct err *err);
/* Start a member called name (at most 99 bytes). 0 or -1 + err. */
int ova_member_begin(struct ova *o, const char *name, struct err *err);
/* Append to the current member. 0 or -1 + err. */
int ova_write(struct ova *o, const void *data, size_t len, struct err *err);
/* End the current member (its header written, padded to 512). 0 or -1 + err. */
int ova_member_end(struct ova *o, struct err *err);
/*
 * Write the descriptor (ovf_name, ovf, exactly ova_ovf_size() bytes: the
 * caller pads it with blanks and hashes the padded bytes into the
 * manifest) and the manifest (mf_name, mf) into the reserved region, then
 * the end-of-archive blocks, and fsync. 0 or -1 + err.
 */
int ova_finish(struct ova *o, const char *ovf_name, const char *ovf, size_t ovf_len,
               const char *mf_name, const char *mf, size_t mf_len, struct err *err);
/*
 * The size the descriptor member must have so that, followed by a
 * manifest of mf_len bytes, it fills the reserved region; -1 when they do
 * not fit. The caller pads the descriptor to that size with blanks
 * before hashing it into the manifest.
 */
int64_t ova_ovf_size(size_t ovf_len, size_t mf_len);
/* Close (and remove, when not finished) the archive; NULL is a no-op. */
void ova_close(struct ova *o);

#endif
