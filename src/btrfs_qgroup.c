/*
 * Reading btrfs quota groups (see btrfs_qgroup.h). The quota tree
 * (BTRFS_QUOTA_TREE_OBJECTID) holds one status item, key (0,
 * QGROUP_STATUS, 0), and one info item per qgroup, key (0, QGROUP_INFO,
 * qgroupid) with the level in the top 16 bits of qgroupid; level-0
 * qgroup IDs are subvolume IDs. Item bodies are little-endian. The tree
 * is searched in batches of what fits in the ioctl's 4 KiB buffer, each
 * batch starting after the last key of the one before. No quota tree
 * (ENOENT) means quotas were never enabled or were disabled.
 */
#include "btrfs_qgroup.h"

#include <sys/ioctl.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btrfsload.h"
#include "util/xmalloc.h"

/* Newer kernels' simple quotas (not in every linux/btrfs_tree.h). */
#define QG_FLAG_SIMPLE_MODE (1ULL << 3)

static uint64_t
le64_at(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof v);
	return le64toh(v);
}

static int64_t
clamp64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

int
btrfs_qgroup_parse(struct btrfs_qgroups *q, const void *buf, size_t len, uint32_t nr_items,
                   uint64_t last[3], struct err *err)
{
	const unsigned char *p = buf;
	size_t off = 0;

	for (uint32_t i = 0; i < nr_items; i++) {
		struct btrfs_ioctl_search_header h;
		const unsigned char *item;

		if (len - off < sizeof h) {
			err_set(err, "quota tree search: item %u of %u past the buffer", i,
			        nr_items);
			return -1;
		}
		memcpy(&h, p + off, sizeof h);
		off += sizeof h;
		if (len - off < h.len) {
			err_set(err, "quota tree search: item %u (%u bytes) runs past the buffer",
			        i, h.len);
			return -1;
		}
		item = p + off;
		off += h.len;
		last[0] = h.objectid;
		last[1] = h.type;
		last[2] = h.offset;
		if (h.objectid != 0)
			continue;
		if (h.type == BTRFS_QGROUP_STATUS_KEY &&
		    h.len >= offsetof(struct btrfs_qgroup_status_item, rescan)) {
			q->has_status = 1;
			q->flags = le64_at(item, offsetof(struct btrfs_qgroup_status_item, flags));
		} else if (h.type == BTRFS_QGROUP_INFO_KEY &&
		           h.len >= sizeof(struct btrfs_qgroup_info_item) &&
		           (h.offset >> BTRFS_QGROUP_LEVEL_SHIFT) == 0) {
			struct btrfs_qg *g;

			if (q->n == q->cap) {
				q->cap = q->cap != 0 ? q->cap * 2 : 64;
				q->v = xrealloc(q->v, q->cap * sizeof *q->v);
			}
			g = &q->v[q->n++];
			g->subvol_id = h.offset;
			g->rfer =
			    clamp64(le64_at(item, offsetof(struct btrfs_qgroup_info_item, rfer)));
			g->excl =
			    clamp64(le64_at(item, offsetof(struct btrfs_qgroup_info_item, excl)));
		}
	}
	return 0;
}

void
btrfs_qgroup_judge(struct btrfs_qgroups *q)
{
	if (!q->has_status || (q->flags & BTRFS_QGROUP_STATUS_FLAG_ON) == 0)
		q->state = BTRFS_QG_OFF;
	else if (q->flags & QG_FLAG_SIMPLE_MODE)
		q->state = BTRFS_QG_SIMPLE;
	else if (q->flags & BTRFS_QGROUP_STATUS_FLAG_RESCAN)
		q->state = BTRFS_QG_RESCAN;
	else if (q->flags & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT)
		q->state = BTRFS_QG_INCONSISTENT;
	else
		q->state = BTRFS_QG_OK;
}

/* Search fd's quota tree into q, batch after batch. 0, or -1 + err. */
static int
search(int fd, const char *path, struct btrfs_qgroups *q, struct err *err)
{
	struct btrfs_ioctl_search_args args;
	struct btrfs_ioctl_search_key *k = &args.key;
	uint64_t last[3];

	memset(&args, 0, sizeof args);
	k->tree_id = BTRFS_QUOTA_TREE_OBJECTID;
	k->min_objectid = 0;
	k->max_objectid = 0;
	k->min_type = BTRFS_QGROUP_STATUS_KEY;
	k->max_type = BTRFS_QGROUP_INFO_KEY;
	k->min_offset = 0;
	k->max_offset = UINT64_MAX;
	k->min_transid = 0;
	k->max_transid = UINT64_MAX;
	for (;;) {
		k->nr_items = 4096;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) == -1) {
			if (errno == ENOENT)
				return 0; /* no quota tree: quotas off */
			err_sys(err, errno, "searching the quota tree of %s", path);
			return -1;
		}
		if (k->nr_items == 0)
			return 0;
		if (btrfs_qgroup_parse(q, args.buf, sizeof args.buf, k->nr_items, last, err) ==
		    -1) {
			err_wrap(err, "%s", path);
			return -1;
		}
		/* Go on after the last key (objectid, type, offset). */
		k->min_objectid = last[0];
		k->min_type = (uint32_t)last[1];
		if (last[2] == UINT64_MAX) {
			if (last[1] >= BTRFS_QGROUP_INFO_KEY)
				return 0;
			k->min_type++;
			k->min_offset = 0;
		} else {
			k->min_offset = last[2] + 1;
		}
	}
}

int
btrfs_qgroup_read(const char *path, struct btrfs_qgroups *q, struct err *err)
{
	enum btrfs_util_error e;
	int fd, ret = -1;

	memset(q, 0, sizeof *q);
	if (btrfsload(err) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		err_sys(err, errno, "opening %s", path);
		return -1;
	}
	errno = 0;
	e = btrfs_util_sync_fd(fd);
	if (e != BTRFS_UTIL_OK) {
		err_sys(err, errno, "syncing the btrfs filesystem of %s: %s", path,
		        btrfs_util_strerror(e));
		goto out;
	}
	if (search(fd, path, q, err) == -1) {
		btrfs_qgroup_free(q);
		goto out;
	}
	btrfs_qgroup_judge(q);
	ret = 0;
out:
	close(fd);
	return ret;
}

const struct btrfs_qg *
btrfs_qgroup_find(const struct btrfs_qgroups *q, uint64_t subvol_id)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].subvol_id == subvol_id)
			return &q->v[i];
	return NULL;
}

const char *
btrfs_qgroup_why(const struct btrfs_qgroups *q)
{
	switch (q->state) {
	case BTRFS_QG_OK:
		return NULL;
	case BTRFS_QG_OFF:
		return "btrfs quotas are not enabled";
	case BTRFS_QG_RESCAN:
		return "a btrfs quota rescan is running (its figures are incomplete until it ends)";
	case BTRFS_QG_INCONSISTENT:
		return "the btrfs qgroups are marked inconsistent: run `btrfs quota rescan -w` on "
		       "the backup filesystem";
	case BTRFS_QG_SIMPLE:
		return "btrfs simple quotas charge each extent to the subvolume that wrote it, so "
		       "they say nothing of what a snapshot shares";
	}
	return "unknown btrfs quota state";
}

void
btrfs_qgroup_free(struct btrfs_qgroups *q)
{
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}
