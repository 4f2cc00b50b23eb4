/*
 * The usage btrfs quota groups record, read from the filesystem's quota
 * tree with the BTRFS_IOC_TREE_SEARCH ioctl (libbtrfsutil has no call
 * for it): the quota status (on, rescan running, inconsistent, simple
 * mode) and, per level-0 qgroup 0/ID (one per subvolume ID), its
 * referenced and exclusive bytes. docs/btrfs.md says what they mean.
 */
#ifndef TB_BTRFS_QGROUP_H
#define TB_BTRFS_QGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Whether the figures can be used. */
enum btrfs_qg_state {
	BTRFS_QG_OFF,          /* quotas are not enabled (no quota tree or status item) */
	BTRFS_QG_OK,           /* enabled and consistent */
	BTRFS_QG_RESCAN,       /* a rescan is running: the figures are incomplete */
	BTRFS_QG_INCONSISTENT, /* marked out of date until `btrfs quota rescan` */
	BTRFS_QG_SIMPLE        /* simple quotas: extents charged to their writer, not shared */
};

/* One level-0 qgroup: the subvolume subvol_id's usage. */
struct btrfs_qg {
	uint64_t subvol_id;
	int64_t rfer; /* referenced: every extent the subvolume uses, on disk */
	int64_t excl; /* exclusive: the extents no other subvolume uses */
};

struct btrfs_qgroups {
	enum btrfs_qg_state state;
	int has_status;     /* a status item was met */
	uint64_t flags;     /* its flags (BTRFS_QGROUP_STATUS_FLAG_*) */
	struct btrfs_qg *v; /* owned; level-0 qgroups in key order (by subvolume ID) */
	size_t n, cap;
};

/*
 * Add the items of one TREE_SEARCH result to q: buf holds len bytes of
 * nr_items (search header, item) pairs. Status items set q->flags, info
 * items of level-0 qgroups are appended; other items are skipped.
 * *last (objectid, type, offset) is set to the last item's key. Pure.
 * 0, or -1 + err when an item runs past len.
 */
int btrfs_qgroup_parse(struct btrfs_qgroups *q, const void *buf, size_t len, uint32_t nr_items,
                       uint64_t last[3], struct err *err);

/*
 * Set q->state from q->has_status and q->flags (the rules above). Pure.
 */
void btrfs_qgroup_judge(struct btrfs_qgroups *q);

/*
 * Sync the btrfs filesystem holding path (so the figures include every
 * write so far), then read its quota status and level-0 qgroups into *q
 * (zeroed first; free with btrfs_qgroup_free). Quotas off is not an
 * error: q->state is BTRFS_QG_OFF. Needs CAP_SYS_ADMIN. Loads
 * libbtrfsutil (btrfsload()) first: after a 0, its functions may be
 * called. 0, or -1 + err.
 */
int btrfs_qgroup_read(const char *path, struct btrfs_qgroups *q, struct err *err);

/* The qgroup 0/subvol_id of q, or NULL. */
const struct btrfs_qg *btrfs_qgroup_find(const struct btrfs_qgroups *q, uint64_t subvol_id);

/* Why q's figures cannot be used, in words (static), or NULL when they can. */
const char *btrfs_qgroup_why(const struct btrfs_qgroups *q);

/* Free q's qgroups (q itself is the caller's). */
void btrfs_qgroup_free(struct btrfs_qgroups *q);

#endif
